//! The counted attack suite (issue 12): forged access tokens, DPoP proofs that must not pass,
//! replays (an authorization code, a rotated refresh token, a one-time code, a `request_uri`),
//! forged forms (CSRF) on every form the sign-in pages show, the security headers of every HTML
//! page, and a scan of the server's logs for every secret the suite handled. Each attack is
//! counted; the suite prints `attacks: N, refused: N, allowed: 0, server errors: 0` and fails if
//! an attack is answered otherwise than with the refusal it must get ("allowed") or with a 5xx.
//!
//! One real server (PostgreSQL when `WEKEZA_TEST_DATABASE_URL` is set, else SQLite), real
//! clients, real tokens. Tokens forged "with our key" are signed with the server's own private
//! key read from its database, so that each claim check (expiry, issue time, audience, issuer,
//! type) is tested alone; a control forged with unchanged claims must pass, or the forgeries
//! would prove nothing. The access matrix (`access_matrix.rs`), object access
//! (`object_access.rs`) and hostile text (`hostile_text.rs`) are the suite's other counted parts.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::RequestBuilder;
use reqwest::header::HeaderMap;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use wekeza_domain::{Clock, Scope};
use wekeza_identity::issuer::{DECISION_PATH, SECOND_FACTOR_PATH, SIGN_IN_PATH};
use wekeza_identity::testing::ClientKey;
use wekeza_store::identity::entity::signing_keys;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::identity::{CapturedLogs, capture_logs};
use crate::identity_browser::{Browser, Page, otp, page_header_faults, pushed};
use crate::identity_flow::{
    READ_ALL, REDIRECT, TestApp, account_access, authorized_code, consent_tokens, create_consent,
    exchange, pkce, refresh, register,
};
use crate::webhook_delivery::endpoint;

/// The count of attacks and how each was answered.
#[derive(Default)]
struct Tally {
    attacks: usize,
    refused: usize,
    allowed: Vec<String>,
    server_errors: Vec<String>,
}

impl Tally {
    /// Counts an attack answered with `status` (0: no request of its own, e.g. a check of a
    /// page's headers); `refused`: whether that answer is the refusal the attack must get.
    fn count(&mut self, what: &str, status: u16, refused: bool, answer: impl std::fmt::Display) {
        self.attacks += 1;
        if status >= 500 {
            self.server_errors
                .push(format!("{what}: {status} {answer}"));
        } else if refused {
            self.refused += 1;
        } else {
            self.allowed.push(format!("{what}: {status} {answer}"));
        }
    }

    /// Counts an attack that must be answered `status` with the problem `reason` (REST) or
    /// the OAuth2 `error`.
    fn expect(&mut self, what: &str, answer: &(u16, Value), status: u16, reason: &str) {
        let got = answer.1["reason"]
            .as_str()
            .or(answer.1["error"].as_str())
            .unwrap_or_default();
        let refused = answer.0 == status && got == reason;
        self.count(what, answer.0, refused, &answer.1);
    }
}

/// Sends `request`: its status and JSON body (the text as a JSON string when it is not JSON).
async fn answer(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The route every token attack calls: an app's own data.
const APP_ROUTE: &str = "/v1/webhook-endpoints";

/// `GET APP_ROUTE` with `authorization` and, when given, a `DPoP` proof.
async fn call(server: &TestServer, authorization: &str, proof: Option<&str>) -> (u16, Value) {
    let mut request = server
        .http
        .get(format!("{}{APP_ROUTE}", server.base_url))
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    answer(request).await
}

/// `header.claims.` in base64url, unsigned.
fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A compact JWS of `header` and `claims` signed by `key` with `algorithm`.
fn signed(header: &Value, claims: &Value, key: &EncodingKey, algorithm: Algorithm) -> String {
    let message = unsigned(header, claims);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, algorithm).unwrap();
    format!("{message}.{signature}")
}

/// The server's newest signing key, from its database: its id and private key.
async fn server_key(server: &TestServer) -> (String, EncodingKey) {
    let row = signing_keys::Entity::find()
        .order_by_desc(signing_keys::Column::CreatedAt)
        .one(server.database.conn())
        .await
        .unwrap()
        .unwrap();
    let der = STANDARD
        .decode(row.private_key.strip_prefix("pkcs8:").unwrap())
        .unwrap();
    (row.kid, EncodingKey::from_ec_der(&der))
}

/// Access tokens that are not the server's, or no longer valid: each is refused 401.
async fn forged_tokens(server: &TestServer, tally: &mut Tally, app: &TestApp) {
    let real = &app.token;
    let bearer = |token: &str| format!("Bearer {token}");
    assert_eq!(call(server, &bearer(real), None).await.0, 200);
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(real).unwrap();
    let (kid, ours) = server_key(server).await;
    assert_eq!(
        jsonwebtoken::decode_header(real).unwrap().kid.as_deref(),
        Some(kid.as_str())
    );
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid });
    let with_ours = |header: &Value, changes: Value| {
        let mut claims = claims.clone();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        signed(header, &claims, &ours, Algorithm::ES256)
    };
    // The control: a token forged with our key and the real claims passes.
    assert_eq!(
        call(server, &bearer(&with_ours(&header, json!({}))), None)
            .await
            .0,
        200
    );

    let (_, jwks) = answer(server.http.get(format!("{}/oauth2/jwks", server.base_url))).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|jwk| jwk["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let point = [vec![4u8], coordinate("x"), coordinate("y")].concat();
    let hs256 = |secret: &[u8]| {
        signed(
            &json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid }),
            &claims,
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
    };
    let foreign = ClientKey::generate();
    let (real_header, real_signature) = {
        let parts: Vec<&str> = real.split('.').collect();
        (parts[0].to_owned(), parts[2].to_owned())
    };
    let mut wider = claims.clone();
    wider["scope"] = json!("accounts.read payments.initiate webhooks.manage openid");
    wider["client_id"] = json!("app_someone_else");
    let now = server.clock.now().timestamp();

    let other_server = TestServer::start().await;
    let elsewhere = register(&other_server, &[Scope::WebhooksManage]).await;

    let forged = [
        (
            "alg none",
            format!(
                "{}.",
                unsigned(
                    &json!({ "alg": "none", "typ": "at+jwt", "kid": kid }),
                    &claims
                )
            ),
        ),
        (
            "HS256 keyed with the public JWK",
            hs256(jwk.to_string().as_bytes()),
        ),
        ("HS256 keyed with the public key's point", hs256(&point)),
        (
            "an unknown kid",
            foreign.sign(
                &json!({ "alg": "ES256", "typ": "at+jwt", "kid": "unknown-kid" }),
                &claims,
            ),
        ),
        (
            "a foreign signature under our kid",
            foreign.sign(&header, &claims),
        ),
        (
            "tampered claims",
            format!(
                "{real_header}.{}.{real_signature}",
                URL_SAFE_NO_PAD.encode(wider.to_string())
            ),
        ),
        (
            "no signature",
            format!("{}.", real.rsplit_once('.').unwrap().0),
        ),
        (
            "our key, expired",
            with_ours(&header, json!({ "iat": now - 600, "exp": now - 300 })),
        ),
        (
            "our key, issued in the future",
            with_ours(&header, json!({ "iat": now + 600, "exp": now + 900 })),
        ),
        (
            "our key, another audience",
            with_ours(&header, json!({ "aud": "https://elsewhere.example" })),
        ),
        (
            "our key, another issuer",
            with_ours(&header, json!({ "iss": "https://elsewhere.example" })),
        ),
        (
            "our key, not an access token (typ JWT)",
            with_ours(
                &json!({ "alg": "ES256", "typ": "JWT", "kid": kid }),
                json!({}),
            ),
        ),
        ("another issuer's real token", elsewhere.token.clone()),
    ];
    for (what, token) in forged {
        let answer = call(server, &bearer(&token), None).await;
        tally.expect(&format!("token: {what}"), &answer, 401, "INVALID_TOKEN");
    }
    other_server.stop().await;

    // A real token once its five minutes are over.
    let issued = server.clock.now();
    server.clock.advance(Duration::minutes(6));
    let answer = call(server, &bearer(real), None).await;
    tally.expect("token: expired", &answer, 401, "INVALID_TOKEN");
    server.clock.set(issued);
}

/// DPoP: proofs replayed, for another method, URL or token, stale, from the future, by another
/// key, or missing; the bound token as a Bearer token; an unbound one under the DPoP scheme.
async fn dpop(server: &TestServer, tally: &mut Tally, app: &TestApp, secrets: &mut Vec<String>) {
    let key = ClientKey::generate();
    let now = server.clock.now();
    let token_url = format!("{}/oauth2/token", server.base_url);
    let target = format!("{}{APP_ROUTE}", server.base_url);
    let token_proof = key.dpop_proof("POST", &token_url, now, None);
    let token_request = |proof: &str| {
        server
            .http
            .post(&token_url)
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .header("dpop", proof)
            .form(&[("grant_type", "client_credentials")])
    };
    let (status, issued) = answer(token_request(&token_proof)).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["token_type"], "DPoP");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    let dpop_auth = format!("DPoP {token}");
    let good = key.dpop_proof("GET", &target, now, Some(&token));
    assert_eq!(call(server, &dpop_auth, Some(&good)).await.0, 200);

    let minutes = Duration::minutes;
    let api_attacks = [
        ("a replayed proof", dpop_auth.clone(), Some(good.clone())),
        (
            "a proof for another method",
            dpop_auth.clone(),
            Some(key.dpop_proof("POST", &target, now, Some(&token))),
        ),
        (
            "a proof for another URL",
            dpop_auth.clone(),
            Some(key.dpop_proof(
                "GET",
                &format!("{}/v1/consents", server.base_url),
                now,
                Some(&token),
            )),
        ),
        (
            "a stale proof",
            dpop_auth.clone(),
            Some(key.dpop_proof("GET", &target, now - minutes(5), Some(&token))),
        ),
        (
            "a proof from the future",
            dpop_auth.clone(),
            Some(key.dpop_proof("GET", &target, now + minutes(5), Some(&token))),
        ),
        (
            "a proof by another key",
            dpop_auth.clone(),
            Some(ClientKey::generate().dpop_proof("GET", &target, now, Some(&token))),
        ),
        (
            "a proof without ath",
            dpop_auth.clone(),
            Some(key.dpop_proof("GET", &target, now, None)),
        ),
        (
            "a proof for another token",
            dpop_auth.clone(),
            Some(key.dpop_proof("GET", &target, now, Some(&app.token))),
        ),
        ("no proof", dpop_auth.clone(), None),
        ("the bound token as Bearer", format!("Bearer {token}"), None),
        (
            "the bound token as Bearer with a proof",
            format!("Bearer {token}"),
            Some(key.dpop_proof("GET", &target, now, Some(&token))),
        ),
        (
            "an unbound token under the DPoP scheme",
            format!("DPoP {}", app.token),
            Some(key.dpop_proof("GET", &target, now, Some(&app.token))),
        ),
    ];
    for (what, authorization, proof) in api_attacks {
        let answer = call(server, &authorization, proof.as_deref()).await;
        tally.expect(&format!("DPoP: {what}"), &answer, 401, "INVALID_TOKEN");
        secrets.extend(proof);
    }
    let token_attacks = [
        (
            "a replayed proof at the token endpoint",
            token_proof.clone(),
        ),
        (
            "a token endpoint proof for another URL",
            key.dpop_proof("POST", &target, now, None),
        ),
    ];
    for (what, proof) in token_attacks {
        let answer = answer(token_request(&proof)).await;
        tally.expect(&format!("DPoP: {what}"), &answer, 400, "invalid_dpop_proof");
    }
    secrets.extend([token_proof, good, token]);
}

/// Replays: an authorization code, a rotated refresh token (and the family it belongs to).
async fn replayed_grants(
    server: &TestServer,
    tally: &mut Tally,
    app: &TestApp,
    secrets: &mut Vec<String>,
) {
    let consent_id = create_consent(server, app, &account_access(&READ_ALL)).await;
    let (code, verifier) = authorized_code(server, app, &consent_id, "user_good", &[]).await;
    let (status, tokens) = exchange(server, app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let replay = exchange(server, app, &code, &verifier, REDIRECT).await;
    tally.expect(
        "replay: an authorization code",
        &replay,
        400,
        "invalid_grant",
    );
    let access = tokens["access_token"].as_str().unwrap();
    let answer = answer(
        server
            .http
            .get(format!("{}/v1/accounts", server.base_url))
            .bearer_auth(access),
    )
    .await;
    tally.expect(
        "replay: the token a replayed code gave",
        &answer,
        401,
        "INVALID_TOKEN",
    );

    let (_, first) = consent_tokens(server, app, &READ_ALL, "user_business", &[]).await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(server, app, first_refresh).await;
    assert_eq!(status, 200, "{second}");
    let replay = refresh(server, app, first_refresh).await;
    tally.expect(
        "replay: a rotated refresh token",
        &replay,
        400,
        "invalid_grant",
    );
    let second_refresh = second["refresh_token"].as_str().unwrap();
    let after = refresh(server, app, second_refresh).await;
    tally.expect(
        "replay: the family of a replayed refresh token",
        &after,
        400,
        "invalid_grant",
    );
    for tokens in [&tokens, &first, &second] {
        for name in ["access_token", "refresh_token"] {
            secrets.push(tokens[name].as_str().unwrap().to_owned());
        }
    }
    secrets.extend([code, verifier]);
}

/// A browser at the sign-in page of a fresh pushed request of `app`: it and the page.
async fn at_sign_in(
    server: &TestServer,
    app: &TestApp,
    secrets: &mut Vec<String>,
) -> (Browser, Page) {
    let consent_id = create_consent(server, app, &account_access(&READ_ALL)).await;
    let uri = pushed(server, app, &consent_id, &pkce().1).await;
    let mut browser = Browser::new(server);
    let page = browser.open(app.client_id(), &uri).await;
    assert_eq!(page.status, 200, "{}", page.html);
    secrets.extend([uri, browser.csrf().to_owned()]);
    (browser, page)
}

/// Replays at the sign-in pages: a one-time code in another session (RFC 6238 §5.2: once per
/// customer and time step, and never an earlier step's once a later one was accepted), and a
/// `request_uri` in a second browser.
async fn replayed_sign_ins(
    server: &TestServer,
    tally: &mut Tally,
    app: &TestApp,
    pages: &mut Vec<(String, HeaderMap)>,
    secrets: &mut Vec<String>,
) {
    // A time step of its own: the forms above used this customer's code.
    server.clock.advance(Duration::seconds(30));
    let mut browsers = Vec::new();
    for _ in 0..2 {
        let (mut browser, page) = at_sign_in(server, app, secrets).await;
        pages.push(("sign-in".into(), page.headers.clone()));
        let page = browser.sign_in("user_good", "pass_good").await;
        assert!(page.html.contains("One-time code"), "{}", page.html);
        pages.push(("second factor".into(), page.headers.clone()));
        browsers.push(browser);
    }
    let code = otp(server, "user_good").await;
    let page = browsers[0].second_factor(&code).await;
    assert!(page.html.contains("Approve"), "{}", page.html);
    pages.push(("consent screen".into(), page.headers.clone()));
    let page = browsers[1].second_factor(&code).await;
    let refused = !page.html.contains("Approve") && page.html.contains("already used");
    tally.count(
        "replay: a one-time code in another session",
        page.status,
        refused,
        &page.html,
    );
    pages.push(("second factor, code used".into(), page.headers.clone()));
    server.clock.advance(Duration::seconds(30));
    let page = browsers[1].second_factor(&code).await;
    let refused = !page.html.contains("Approve");
    tally.count(
        "replay: an earlier step's one-time code",
        page.status,
        refused,
        &page.html,
    );
    let page = browsers[1]
        .second_factor(&otp(server, "user_good").await)
        .await;
    assert!(page.html.contains("Approve"), "{}", page.html);

    let consent_id = create_consent(server, app, &account_access(&READ_ALL)).await;
    let uri = pushed(server, app, &consent_id, &pkce().1).await;
    assert_eq!(
        Browser::new(server)
            .open(app.client_id(), &uri)
            .await
            .status,
        200
    );
    let page = Browser::new(server).open(app.client_id(), &uri).await;
    tally.count(
        "replay: a request_uri in a second browser",
        page.status,
        page.status == 400,
        &page.html,
    );
    pages.push(("spent request_uri".into(), page.headers.clone()));
    secrets.push(uri);
}

/// The `action`s of the forms of `html`.
fn form_actions(html: &str) -> Vec<String> {
    html.split("<form ")
        .skip(1)
        .filter_map(|form| {
            let start = form.find("action=\"")? + 8;
            Some(form[start..start + form[start..].find('"')?].to_owned())
        })
        .collect()
}

/// The value of the first input named `name` in `html`.
fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.split_once(&marker)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.to_owned())
        .unwrap_or_default()
}

/// Forged submissions of every form the flow shows — without the CSRF token, with a forged one,
/// with another session's, and without the session cookie — each refused with a 4xx that does
/// not advance the session; then the genuine submission goes on to the next page.
async fn forged_forms(
    server: &TestServer,
    tally: &mut Tally,
    app: &TestApp,
    pages: &mut Vec<(String, HeaderMap)>,
    secrets: &mut Vec<String>,
) {
    let (mut browser, mut page) = at_sign_in(server, app, secrets).await;
    pages.push(("sign-in".into(), page.headers.clone()));
    // Another session's CSRF token (one per session, for every step).
    let (other, _) = at_sign_in(server, app, secrets).await;
    let others = other.csrf().to_owned();
    let mut forms = 0;
    // Each step shows one form; the flow has three steps.
    while let [action] = form_actions(&page.html).as_slice() {
        let action = action.clone();
        assert!(forms < 3, "the flow shows {action} again: {}", page.html);
        forms += 1;
        let code = otp(server, "user_good").await;
        let account = input_value(&page.html, "account_id");
        let fields: Vec<(&str, &str)> = match action.as_str() {
            SIGN_IN_PATH => vec![("username", "user_good"), ("password", "pass_good")],
            SECOND_FACTOR_PATH => vec![("otp", &code)],
            DECISION_PATH => vec![("decision", "approve"), ("account_id", &account)],
            _ => {
                tally.count(
                    &format!("CSRF: a form this suite cannot fill: {action}"),
                    0,
                    false,
                    "",
                );
                break;
            }
        };
        for (what, csrf) in [
            ("no CSRF token", None),
            ("a forged CSRF token", Some("forged")),
            ("another session's CSRF token", Some(others.as_str())),
        ] {
            let forged = browser.submit_with_csrf(&action, csrf, &fields).await;
            let refused = (400..500).contains(&forged.status);
            tally.count(
                &format!("CSRF: {action} with {what}"),
                forged.status,
                refused,
                &forged.html,
            );
            pages.push((format!("{action} with {what}"), forged.headers.clone()));
        }
        let cookie = browser.forget_cookie();
        let forged = browser.submit(&action, &fields).await;
        let refused = (400..500).contains(&forged.status);
        tally.count(
            &format!("CSRF: {action} without the session cookie"),
            forged.status,
            refused,
            &forged.html,
        );
        pages.push((
            format!("{action} without the cookie"),
            forged.headers.clone(),
        ));
        secrets.extend(cookie.clone());
        browser.restore_cookie(cookie);
        // The genuine submission: the next step (or the redirect back to the app).
        page = browser.submit(&action, &fields).await;
        assert!(
            page.status == 200 || page.status == 303,
            "{action}: {} {}",
            page.status,
            page.html
        );
        pages.push((format!("after {action}"), page.headers.clone()));
    }
    assert_eq!(forms, 3, "sign-in, second factor and consent screen forms");
}

/// Framing, sniffing and referrer leaks on every HTML page seen (and on the API console): each
/// page's headers must forbid them (see [`page_header_faults`]).
async fn page_headers(
    server: &TestServer,
    tally: &mut Tally,
    pages: &mut Vec<(String, HeaderMap)>,
) {
    for path in [
        "/docs",
        "/oauth2/authorize?client_id=app_x&request_uri=urn:x",
    ] {
        let response = server
            .http
            .get(format!("{}{path}", server.base_url))
            .send()
            .await
            .unwrap();
        pages.push((path.to_owned(), response.headers().clone()));
    }
    for (page, headers) in pages.iter() {
        if !headers
            .get("content-type")
            .is_some_and(|value| value.as_bytes().starts_with(b"text/html"))
        {
            continue;
        }
        let faults = page_header_faults(headers);
        tally.count(
            &format!("framing or referrer leak: {page}"),
            0,
            faults.is_empty(),
            format!("{faults:?}"),
        );
    }
}

/// The session cookie over plain HTTP: behind an https issuer it is `Secure`.
async fn cookie_over_plain_http(tally: &mut Tally) {
    let server = TestServer::start_with(
        TestDatabase::new().await,
        "issuer = \"https://bank.example\"\n",
    )
    .await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let uri = pushed(&server, &app, &consent_id, &pkce().1).await;
    let response = server
        .http
        .get(format!("{}/oauth2/authorize", server.base_url))
        .query(&[
            ("client_id", app.client_id()),
            ("request_uri", uri.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let secure = cookie.split("; ").any(|attribute| attribute == "Secure");
    tally.count(
        "the session cookie of an https issuer sent over plain HTTP",
        status,
        status == 200 && secure,
        cookie,
    );
    server.stop().await;
}

/// Every secret handled is looked for in everything the server logged.
fn secrets_in_logs(tally: &mut Tally, logs: &CapturedLogs, secrets: &[String]) {
    let text = logs.text();
    assert!(
        text.contains("issued a client-credentials token"),
        "the capture works"
    );
    for secret in secrets {
        let kind: String = secret.chars().take(6).collect();
        tally.count(
            &format!("a secret in the logs ({kind}…)"),
            0,
            !CapturedLogs::leaks(&text, secret),
            "",
        );
    }
}

#[tokio::test]
async fn every_attack_is_refused() {
    let (logs, _guard) = capture_logs();
    let server = TestServer::start().await;
    let mut tally = Tally::default();
    let mut pages = Vec::new();
    let app = register(&server, &Scope::ALL).await;
    let (_, webhook_secret) = endpoint(
        &server,
        &app.token,
        "https://example.com/hook",
        &["payment.status_changed"],
    )
    .await;
    assert!(webhook_secret.starts_with("whsec_"));
    let mut secrets = vec![
        app.created.client_secret.clone(),
        app.token.clone(),
        webhook_secret,
        "pass_good".to_owned(),
    ];

    forged_tokens(&server, &mut tally, &app).await;
    dpop(&server, &mut tally, &app, &mut secrets).await;
    replayed_grants(&server, &mut tally, &app, &mut secrets).await;
    forged_forms(&server, &mut tally, &app, &mut pages, &mut secrets).await;
    replayed_sign_ins(&server, &mut tally, &app, &mut pages, &mut secrets).await;
    page_headers(&server, &mut tally, &mut pages).await;
    cookie_over_plain_http(&mut tally).await;
    server.stop().await;
    secrets_in_logs(&mut tally, &logs, &secrets);

    println!(
        "attacks: {}, refused: {}, allowed: {}, server errors: {}",
        tally.attacks,
        tally.refused,
        tally.allowed.len(),
        tally.server_errors.len()
    );
    assert!(tally.allowed.is_empty(), "allowed: {:#?}", tally.allowed);
    assert!(
        tally.server_errors.is_empty(),
        "server errors: {:#?}",
        tally.server_errors
    );
}
