//! The `wekeza` binary as an operator uses it: `migrate`, `sandbox seed|reset`, `apps create`,
//! and `serve` starting, answering and stopping gracefully on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use wekeza_domain::Scope;
use wekeza_store::testing::TestDatabase;

fn wekeza(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wekeza"))
        .args(args)
        .args(["--database-url", database_url])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Runs the binary off the async runtime (a server under test keeps serving meanwhile).
pub(crate) async fn wekeza_runs(database_url: &str, args: &[&str]) -> std::process::Output {
    let database_url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        wekeza(&database_url, &args)
    })
    .await
    .unwrap()
}

/// Runs the binary off the async runtime and asserts that it succeeded.
pub(crate) async fn wekeza_succeeds(database_url: &str, args: &[&str]) -> std::process::Output {
    let output = wekeza_runs(database_url, args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn apps_create_prints_credentials_once_and_stores_only_hashes() {
    let database = TestDatabase::new().await;
    let output = wekeza_succeeds(
        database.url(),
        &[
            "apps",
            "create",
            "--name",
            "Budget buddy",
            "--redirect-uri",
            "https://app.example/cb",
            "--scopes",
            "accounts.read, payments.initiate",
            "--json",
        ],
    )
    .await;
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let client_id = printed["clientId"].as_str().unwrap();
    let secret = printed["clientSecret"].as_str().unwrap();
    let api_key = printed["apiKey"].as_str().unwrap();
    assert!(printed["appId"].as_str().unwrap().starts_with("app_"));
    assert!(
        api_key.starts_with("wk_test_"),
        "sandbox environment → sandbox key"
    );
    assert!(secret.len() >= 22, "≥ 128 bits");

    let app = wekeza_store::apps::find_by_client_id(database.conn(), client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.name, "Budget buddy");
    assert_eq!(app.redirect_uris, ["https://app.example/cb"]);
    assert_eq!(
        app.scopes.iter().copied().collect::<Vec<_>>(),
        [Scope::AccountsRead, Scope::PaymentsInitiate]
    );
    assert!(wekeza_store::apps::verify_client_secret(&app, secret));
    assert!(!wekeza_store::apps::verify_client_secret(&app, "wrong"));
    let key = wekeza_store::api_keys::find_by_key(database.conn(), api_key)
        .await
        .unwrap();
    assert!(key.is_some(), "the printed API key is the stored one");

    let url = database.url().to_owned();
    let refused = tokio::task::spawn_blocking(move || {
        wekeza(
            &url,
            &[
                "apps",
                "create",
                "--name",
                "x",
                "--scopes",
                "accounts.write",
            ],
        )
    })
    .await
    .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown scope `accounts.write`"));
}

#[tokio::test]
async fn migrate_seed_and_reset() {
    let database = TestDatabase::new().await;
    let url = database.url().to_owned();
    let outputs = tokio::task::spawn_blocking(move || {
        [
            wekeza(&url, &["migrate"]),
            wekeza(&url, &["migrate"]),
            wekeza(&url, &["sandbox", "seed"]),
            wekeza(&url, &["sandbox", "seed"]),
            wekeza(&url, &["sandbox", "reset"]),
        ]
    })
    .await
    .unwrap();
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let said = |i: usize| String::from_utf8_lossy(&outputs[i].stdout).into_owned();
    assert!(said(2).contains("seeded"));
    assert!(
        said(3).contains("already holds customers"),
        "seed never doubles data"
    );
    assert!(said(4).contains("reset"));
    let customer = wekeza_store::customers::find_by_username(database.conn(), "user_good")
        .await
        .unwrap();
    assert!(customer.is_some());
}

#[tokio::test]
async fn serve_starts_answers_and_stops_on_sigterm() {
    let database = TestDatabase::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wekeza"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(["--database-url", database.url()])
        .env("RUST_LOG", "info")
        .env("WEKEZA_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (public, admin, lines) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if let (Some(public), Some(admin)) = (
                event["fields"]["public"].as_str(),
                event["fields"]["admin"].as_str(),
            ) {
                assert!(
                    event["fields"]["database"].is_string(),
                    "start-up names the database"
                );
                return (public.to_owned(), admin.to_owned(), lines);
            }
        }
        panic!("the server never said where it listens");
    })
    .await
    .unwrap();

    let http = reqwest::Client::new();
    let ready = http.get(format!("{admin}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let anonymous = http
        .get(format!("{public}/v1/accounts"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "a missing token is refused");

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || {
        let drained: Vec<String> = lines.map_while(Result::ok).collect();
        (child.wait().unwrap(), drained)
    });
    let (status, drained) = tokio::time::timeout(Duration::from_secs(20), status)
        .await
        .expect("stops within 20 s")
        .unwrap();
    assert!(status.success(), "graceful exit, got {status}");
    assert!(drained.iter().any(|line| line.contains("wekeza stopped")));
}
