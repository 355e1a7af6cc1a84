//! A real third-party client drives the authorization server: panva's `openid-client` (npm,
//! `tests/oidc-client/flow.mjs`) performs discovery, a client-credentials grant and the whole
//! PAR + PKCE (S256) + DPoP authorization-code flow — playing the customer through the sign-in,
//! one-time-code and consent pages with a cookie-keeping HTTP client, choosing one account —
//! then reads `GET /v1/accounts` with the DPoP-bound token and must see only that account.
//!
//! `make test` installs the client's npm packages (`npm ci --prefix crates/server/tests/oidc-client`);
//! Node comes from `PATH`. Missing either fails the test — it is never skipped.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, SubsecRound, Utc};
use serde_json::{Value, json};
use wekeza_domain::{Clock, Scope};
use wekeza_testkit::TestServer;

use crate::identity_flow::{READ_ALL, REDIRECT, account_ids, create_consent, get, register};

/// How long the client may take before the test gives up on it.
const CLIENT_TIMEOUT: StdDuration = StdDuration::from_secs(60);

/// The directory of the Node client.
fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-client")
}

/// Runs `node flow.mjs` with `vars` off the async runtime (the in-process server keeps serving);
/// answers its exit status, stdout and stderr.
async fn run_flow(vars: Vec<(&'static str, String)>) -> (bool, String, String) {
    let dir = client_dir();
    assert!(
        dir.join("node_modules/openid-client/package.json").exists(),
        "openid-client is not installed in {}: run `make test` (its `node-tools` step runs \
         `npm ci --prefix crates/server/tests/oidc-client`)",
        dir.display()
    );
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("node")
            .arg("flow.mjs")
            .current_dir(&dir)
            .envs(vars)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 20+ must be on PATH): {e}"));
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).unwrap();
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > CLIENT_TIMEOUT {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!(
                    "flow.mjs did not finish within {CLIENT_TIMEOUT:?}; stderr:\n{}",
                    err.join().unwrap()
                );
            }
            std::thread::sleep(StdDuration::from_millis(20));
        };
        (status.success(), out.join().unwrap(), err.join().unwrap())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn openid_client_runs_par_pkce_dpop_and_reads_only_the_consented_account() {
    let server = TestServer::start().await;
    // The client signs DPoP proofs and checks ID tokens against the real time: the server's
    // clock stands at the present for this test.
    server.clock.set(Utc::now().trunc_subsecs(0));
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let consent_id = create_consent(
        &server,
        &app,
        &json!({
            "type": "CONSENT_TYPE_ACCOUNT_ACCESS",
            "permissions": READ_ALL,
            "expirationTime": (server.clock.now() + Duration::days(30)).to_rfc3339(),
        }),
    )
    .await;
    let customer = server.customer("user_good").await;
    let owned: Vec<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(owned.len() >= 2, "user_good holds more than one account");
    // Not the account the consent screen preselects: the choice must travel.
    let chosen = owned[1].clone();
    let otp =
        wekeza_identity::totp::code(&customer_secret(&server).await, server.clock.now()).unwrap();

    let started = Instant::now();
    let (ok, stdout, stderr) = run_flow(vec![
        ("WEKEZA_ISSUER", server.base_url.clone()),
        ("WEKEZA_CLIENT_ID", app.client_id().to_owned()),
        ("WEKEZA_CLIENT_SECRET", app.created.client_secret.clone()),
        ("WEKEZA_REDIRECT_URI", REDIRECT.to_owned()),
        ("WEKEZA_CONSENT_ID", consent_id.clone()),
        ("WEKEZA_USERNAME", "user_good".to_owned()),
        ("WEKEZA_PASSWORD", "pass_good".to_owned()),
        ("WEKEZA_OTP", otp),
        ("WEKEZA_ACCOUNT_ID", chosen.clone()),
    ])
    .await;
    assert!(ok, "flow.mjs failed:\n{stderr}\n{stdout}");
    eprintln!("openid-client flow took {:?}", started.elapsed());

    let result: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("flow.mjs printed no JSON ({e}):\n{stdout}\n{stderr}"));
    // openid-client reports `token_type` lower-cased.
    assert_eq!(
        result["clientCredentials"]["tokenType"], "bearer",
        "{result}"
    );
    assert_eq!(result["chosenAccount"], chosen.as_str());
    assert_eq!(result["tokenType"], "dpop", "{result}");
    assert_eq!(result["consentId"], consent_id.as_str(), "{result}");
    assert_eq!(result["idTokenSubject"], customer.id.as_str(), "{result}");
    assert_eq!(
        account_ids(&result["accounts"]),
        std::collections::BTreeSet::from([chosen.clone()]),
        "{result}"
    );
    // The consent now binds that account alone.
    let (status, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(status, 200, "{consent}");
    assert_eq!(consent["status"], "CONSENT_STATUS_AUTHORISED");
    assert_eq!(consent["accountIds"], json!([chosen]));
    server.stop().await;
}

/// The stored TOTP secret of `user_good`.
async fn customer_secret(server: &TestServer) -> String {
    wekeza_store::customers::find_by_username(server.database.conn(), "user_good")
        .await
        .unwrap()
        .unwrap()
        .totp_secret
}
