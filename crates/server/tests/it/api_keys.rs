//! API keys at the gateway, through real HTTP and gRPC clients: a key identifies its app (the
//! rate limit of the answer is the app's, not the address's) but never authorises; unknown,
//! revoked and other-environment keys are refused with reasons of their own, so is a key of one
//! app beside a token of another; a rotated key works beside its successor until the overlap
//! ends; last use is recorded. And `wekeza api-keys` as an operator uses it.

use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::Value;
use tonic::Code;
use wekeza_domain::Clock;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::sandbox_service_client::SandboxServiceClient;
use wekeza_store::api_keys;
use wekeza_testkit::TestServer;

use crate::cli::wekeza_succeeds;
use crate::identity::{basic_token, sandbox_app, url};
use crate::support::assert_reason;

/// `GET /v1/sandbox/users` (an app's call) with these headers: status, body and headers.
async fn list_users(
    server: &TestServer,
    headers: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = server.http.get(url(server, "/v1/sandbox/users"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap(), headers)
}

#[track_caller]
fn assert_problem(answer: &(u16, Value, reqwest::header::HeaderMap), status: u16, reason: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["reason"], reason, "{}", answer.1);
}

/// The policy the answer's `RateLimit-Policy` names: `app` or `ip`.
fn limited_as(headers: &reqwest::header::HeaderMap) -> String {
    let policy = headers["ratelimit-policy"].to_str().unwrap();
    policy
        .split(';')
        .next()
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

#[tokio::test]
async fn a_key_identifies_its_app_and_never_authorises() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let key = app.api_key.key.clone();
    assert!(
        key.starts_with("wk_test_"),
        "a sandbox platform issues test keys"
    );

    // The key alone is no credential for an app's call…
    let answer = list_users(&server, &[("x-api-key", &key)]).await;
    assert_problem(&answer, 401, "UNAUTHENTICATED");
    // …but it names the app the call is counted against; without it, the address is.
    assert_eq!(limited_as(&answer.2), "app");
    let anonymous = list_users(&server, &[]).await;
    assert_problem(&anonymous, 401, "UNAUTHENTICATED");
    assert_eq!(limited_as(&anonymous.2), "ip");

    // With the app's token the key is welcome, and the call is served.
    let token = basic_token(&server, &app).await;
    let bearer = format!("Bearer {token}");
    let answer = list_users(&server, &[("authorization", &bearer), ("x-api-key", &key)]).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(limited_as(&answer.2), "app");

    // The key's use is recorded (off the request's path).
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    loop {
        let stored = api_keys::find_by_key(server.database.conn(), &key)
            .await
            .unwrap()
            .unwrap();
        if stored.last_used_at == Some(server.clock.now()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key's last use was not recorded: {stored:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn unknown_revoked_and_other_environment_keys_are_refused_each_with_its_reason() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let token = basic_token(&server, &app).await;
    let bearer = format!("Bearer {token}");
    let db = server.database.conn();

    let unknown = format!("wk_test_{}", "0".repeat(40));
    let live = format!("wk_live_{}", "0".repeat(40));
    let cases = [
        (unknown.as_str(), "API_KEY_UNKNOWN"),
        ("not-a-key", "API_KEY_UNKNOWN"),
        (live.as_str(), "API_KEY_WRONG_ENVIRONMENT"),
    ];
    for (key, reason) in cases {
        // Refused whether or not a good token comes with it, and on anonymous endpoints too.
        let answer = list_users(&server, &[("x-api-key", key), ("authorization", &bearer)]).await;
        assert_problem(&answer, 401, reason);
        let answer = server
            .http
            .get(url(&server, "/openapi.json"))
            .header("x-api-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{key} at /openapi.json");
    }

    // Revoked: refused at once, with its own reason.
    let key = &app.api_key;
    assert!(
        api_keys::revoke(db, &app.app.id, &key.record.id, server.clock.now())
            .await
            .unwrap()
    );
    let answer = list_users(
        &server,
        &[("x-api-key", &key.key), ("authorization", &bearer)],
    )
    .await;
    assert_problem(&answer, 401, "API_KEY_REVOKED");

    // Over gRPC: UNAUTHENTICATED with the same reasons.
    let mut client = SandboxServiceClient::new(server.channel());
    for (key, reason) in [
        (unknown.as_str(), "API_KEY_UNKNOWN"),
        (live.as_str(), "API_KEY_WRONG_ENVIRONMENT"),
        (key.key.as_str(), "API_KEY_REVOKED"),
    ] {
        let mut request = server.request(&token, pb::ListTestUsersRequest::default());
        request
            .metadata_mut()
            .insert("x-api-key", key.parse().unwrap());
        let status = client.list_test_users(request).await.unwrap_err();
        assert_reason(&status, Code::Unauthenticated, reason);
    }
}

#[tokio::test]
async fn a_key_and_a_token_of_different_apps_are_refused_together() {
    let server = TestServer::start().await;
    let first = sandbox_app(&server).await;
    let second = sandbox_app(&server).await;
    let token = basic_token(&server, &first).await;
    let bearer = format!("Bearer {token}");

    let answer = list_users(
        &server,
        &[
            ("authorization", &bearer),
            ("x-api-key", &second.api_key.key),
        ],
    )
    .await;
    assert_problem(&answer, 401, "CREDENTIALS_MISMATCH");

    let mut request = server.request(&token, pb::ListTestUsersRequest::default());
    request
        .metadata_mut()
        .insert("x-api-key", second.api_key.key.parse().unwrap());
    let status = SandboxServiceClient::new(server.channel())
        .list_test_users(request)
        .await
        .unwrap_err();
    assert_reason(&status, Code::Unauthenticated, "CREDENTIALS_MISMATCH");

    // Two keys in one request are refused too: which app would count?
    let answer = server
        .http
        .get(url(&server, "/v1/sandbox/users"))
        .header("authorization", &bearer)
        .header("x-api-key", &first.api_key.key)
        .header("x-api-key", &first.api_key.key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
}

#[tokio::test]
async fn a_rotated_key_works_beside_its_successor_until_the_overlap_ends() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let token = basic_token(&server, &app).await;
    let bearer = format!("Bearer {token}");
    let old = &app.api_key;
    let until = server.clock.now() + Duration::hours(1);
    let new = api_keys::rotate(
        server.database.conn(),
        &app.app.id,
        &old.record.id,
        until,
        server.clock.now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap()
    .unwrap();

    for key in [&old.key, &new.key] {
        let answer = list_users(&server, &[("authorization", &bearer), ("x-api-key", key)]).await;
        assert_eq!(answer.0, 200, "{}", answer.1);
    }
    server.clock.set(until);
    let token = basic_token(&server, &app).await;
    let bearer = format!("Bearer {token}");
    let answer = list_users(
        &server,
        &[("authorization", &bearer), ("x-api-key", &old.key)],
    )
    .await;
    assert_problem(&answer, 401, "API_KEY_REVOKED");
    let answer = list_users(
        &server,
        &[("authorization", &bearer), ("x-api-key", &new.key)],
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
}

#[tokio::test]
async fn the_cli_creates_lists_rotates_and_revokes_keys_showing_each_key_once() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let app_id = app.app.id.to_string();
    let database_url = server.database.url().to_owned();
    let json =
        |output: std::process::Output| -> Value { serde_json::from_slice(&output.stdout).unwrap() };

    let created = json(
        wekeza_succeeds(
            &database_url,
            &["api-keys", "create", &app_id, "--name", "CI", "--json"],
        )
        .await,
    );
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("wk_test_"));
    assert_eq!(created["displayName"], "CI");
    let key_id = created["apiKeyId"].as_str().unwrap().to_owned();

    let listed =
        json(wekeza_succeeds(&database_url, &["api-keys", "list", &app_id, "--json"]).await);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "the app's first key and the new one");
    let text = serde_json::to_string(listed).unwrap();
    assert!(
        !text.contains(&key) && !text.contains(&app.api_key.key),
        "keys are shown once"
    );

    let rotated = json(
        wekeza_succeeds(
            &database_url,
            &[
                "api-keys",
                "rotate",
                &app_id,
                &key_id,
                "--overlap-hours",
                "0",
                "--json",
            ],
        )
        .await,
    );
    let successor = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(successor, key);
    assert_eq!(rotated["displayName"], "CI");

    // The CLI acts at the real time: bring the server's clock there, with a fresh token.
    server.clock.set(chrono::Utc::now() + Duration::seconds(1));
    let token = basic_token(&server, &app).await;
    let bearer = format!("Bearer {token}");
    // No overlap: the old key stopped when the command ran.
    let answer = list_users(&server, &[("authorization", &bearer), ("x-api-key", &key)]).await;
    assert_problem(&answer, 401, "API_KEY_REVOKED");
    let answer = list_users(
        &server,
        &[("authorization", &bearer), ("x-api-key", &successor)],
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);

    let successor_id = rotated["apiKeyId"].as_str().unwrap().to_owned();
    wekeza_succeeds(
        &database_url,
        &["api-keys", "revoke", &app_id, &successor_id],
    )
    .await;
    server.clock.set(chrono::Utc::now() + Duration::seconds(1));
    let answer = list_users(
        &server,
        &[("authorization", &bearer), ("x-api-key", &successor)],
    )
    .await;
    assert_problem(&answer, 401, "API_KEY_REVOKED");
}
