//! Decoupled authorisation (OpenID CIBA, poll mode) end to end, as a third-party app drives it:
//! a consent → `POST /oauth2/bc-authorize` naming the customer → polls of `/oauth2/token` with
//! the CIBA grant (`authorization_pending`, `slow_down`) → the customer's simulated phone
//! (`POST /v1/sandbox/decoupled-authorizations/{auth_req_id}:approve`) → tokens that read the
//! consented accounts. Then what must be refused: a denial (`access_denied`, the consent
//! REJECTED), expiry (`expired_token`), reuse (`invalid_grant`), another app approving
//! (NOT_FOUND).
//!
//! Only real tokens: every call carries what the server itself issued.

use chrono::Duration;
use serde_json::{Value, json};
use wekeza_domain::Scope;
use wekeza_testkit::TestServer;

use crate::identity_flow::{
    READ_ALL, TestApp, account_access, account_ids, assert_oauth_error, assert_problem,
    create_consent, get, register, send,
};

const CIBA: &str = "urn:openid:params:grant-type:ciba";

/// `POST /oauth2/bc-authorize` by `app` (HTTP Basic) with `params`.
pub(crate) async fn bc_authorize(
    server: &TestServer,
    app: &TestApp,
    params: &[(&str, &str)],
) -> (u16, Value) {
    send(
        server
            .http
            .post(format!("{}/oauth2/bc-authorize", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(params),
    )
    .await
}

/// A backchannel request of `app` for `consent_id` and `user_good`; answers the `auth_req_id`.
async fn request(server: &TestServer, app: &TestApp, consent_id: &str) -> String {
    let answer = bc_authorize(
        server,
        app,
        &[
            ("scope", "openid accounts.read"),
            ("login_hint", "user_good"),
            ("consent_id", consent_id),
            ("binding_message", "W-42"),
        ],
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["interval"], 5, "{}", answer.1);
    assert_eq!(answer.1["expires_in"], 120, "{}", answer.1);
    let auth_req_id = answer.1["auth_req_id"].as_str().unwrap().to_owned();
    assert!(auth_req_id.len() >= 43, "a 256-bit auth_req_id");
    auth_req_id
}

/// One poll of the token endpoint by `app`.
pub(crate) async fn poll(server: &TestServer, app: &TestApp, auth_req_id: &str) -> (u16, Value) {
    send(
        server
            .http
            .post(format!("{}/oauth2/token", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&[("grant_type", CIBA), ("auth_req_id", auth_req_id)]),
    )
    .await
}

/// The simulated phone of `username` deciding on `auth_req_id`, called by `app`.
pub(crate) async fn device(
    server: &TestServer,
    app: &TestApp,
    auth_req_id: &str,
    username: &str,
    deny: bool,
) -> (u16, Value) {
    send(
        server
            .http
            .post(format!(
                "{}/v1/sandbox/decoupled-authorizations/{auth_req_id}:approve",
                server.base_url
            ))
            .bearer_auth(&app.token)
            .json(&json!({ "username": username, "deny": deny })),
    )
    .await
}

#[tokio::test]
async fn a_decoupled_approval_yields_consent_bound_tokens_once() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;

    let (status, discovery) = send(server.http.get(format!(
        "{}/.well-known/openid-configuration",
        server.base_url
    )))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        discovery["backchannel_authentication_endpoint"],
        format!("{}/oauth2/bc-authorize", server.base_url)
    );
    assert_eq!(
        discovery["backchannel_token_delivery_modes_supported"],
        json!(["poll"])
    );
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(CIBA))
    );

    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let auth_req_id = request(&server, &app, &consent_id).await;

    // The customer has not decided: poll, then poll again too soon.
    assert_oauth_error(
        &poll(&server, &app, &auth_req_id).await,
        400,
        "authorization_pending",
    );
    server.clock.advance(Duration::seconds(2));
    assert_oauth_error(&poll(&server, &app, &auth_req_id).await, 400, "slow_down");
    server.clock.advance(Duration::seconds(5));
    assert_oauth_error(
        &poll(&server, &app, &auth_req_id).await,
        400,
        "authorization_pending",
    );

    // Only the user the request names may decide on their phone.
    let answer = device(&server, &app, &auth_req_id, "user_student", false).await;
    assert_eq!(answer.0, 400, "{}", answer.1);
    let (status, decided) = device(&server, &app, &auth_req_id, "user_good", false).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["consentId"], consent_id.as_str());
    assert!(!decided["denied"].as_bool().unwrap_or(false), "{decided}");
    // Decided once.
    assert_problem(
        &device(&server, &app, &auth_req_id, "user_good", true).await,
        422,
        "INVALID_STATE_TRANSITION",
    );

    let (status, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(consent["status"], "CONSENT_STATUS_AUTHORISED");

    server.clock.advance(Duration::seconds(5));
    let (status, tokens) = poll(&server, &app, &auth_req_id).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "accounts.read openid");
    assert_eq!(tokens["consent_id"], consent_id.as_str());
    assert!(tokens["refresh_token"].as_str().is_some());
    assert!(tokens["id_token"].as_str().is_some());

    // The token reads the accounts the phone bound (all of user_good's).
    let customer = server.customer("user_good").await;
    let owned: std::collections::BTreeSet<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let access = tokens["access_token"].as_str().unwrap();
    let (status, listing) = get(&server, access, "/v1/accounts").await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(account_ids(&listing), owned);

    // Single use.
    server.clock.advance(Duration::seconds(5));
    assert_oauth_error(
        &poll(&server, &app, &auth_req_id).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_decoupled_denial_rejects_the_consent() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let answer = bc_authorize(
        &server,
        &app,
        &[("login_hint", "user_good"), ("consent_id", &consent_id)],
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let auth_req_id = answer.1["auth_req_id"].as_str().unwrap().to_owned();

    let (status, decided) = device(&server, &app, &auth_req_id, "user_good", true).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["denied"], true);
    assert_oauth_error(
        &poll(&server, &app, &auth_req_id).await,
        400,
        "access_denied",
    );
    let (status, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(consent["status"], "CONSENT_STATUS_REJECTED");
}

#[tokio::test]
async fn an_undecided_request_expires() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let answer = bc_authorize(
        &server,
        &app,
        &[
            ("login_hint", "user_good"),
            ("consent_id", &consent_id),
            ("requested_expiry", "30"),
        ],
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["expires_in"], 30);
    let auth_req_id = answer.1["auth_req_id"].as_str().unwrap().to_owned();

    server.clock.advance(Duration::seconds(31));
    assert_oauth_error(
        &poll(&server, &app, &auth_req_id).await,
        400,
        "expired_token",
    );
    assert_problem(
        &device(&server, &app, &auth_req_id, "user_good", false).await,
        422,
        "INVALID_STATE_TRANSITION",
    );
}

#[tokio::test]
async fn backchannel_requests_are_refused_when_they_must_be() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let stranger = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;

    // Another app's consent, a bad expiry, a bad secret. (An unknown user is not refused:
    // `security::backchannel_requests_do_not_tell_whether_a_username_exists`.)
    assert_oauth_error(
        &bc_authorize(
            &server,
            &stranger,
            &[("login_hint", "user_good"), ("consent_id", &consent_id)],
        )
        .await,
        400,
        "invalid_request",
    );
    assert_oauth_error(
        &bc_authorize(
            &server,
            &app,
            &[
                ("login_hint", "user_good"),
                ("consent_id", &consent_id),
                ("requested_expiry", "86400"),
            ],
        )
        .await,
        400,
        "invalid_request",
    );
    let answer = send(
        server
            .http
            .post(format!("{}/oauth2/bc-authorize", server.base_url))
            .basic_auth(app.client_id(), Some("wrong"))
            .form(&[("login_hint", "user_good"), ("consent_id", &consent_id)]),
    )
    .await;
    assert_oauth_error(&answer, 401, "invalid_client");

    let auth_req_id = request(&server, &app, &consent_id).await;
    // Another app can neither decide on the request nor poll it.
    assert_problem(
        &device(&server, &stranger, &auth_req_id, "user_good", false).await,
        404,
        "NOT_FOUND",
    );
    assert_oauth_error(
        &poll(&server, &stranger, &auth_req_id).await,
        400,
        "invalid_grant",
    );
    assert_problem(
        &device(&server, &app, "not-an-id", "user_good", false).await,
        404,
        "NOT_FOUND",
    );
    // The request stays pending for its own app.
    assert_oauth_error(
        &poll(&server, &app, &auth_req_id).await,
        400,
        "authorization_pending",
    );
}

#[tokio::test]
async fn no_auth_req_id_or_token_reaches_the_logs() {
    let (logs, _guard) = crate::identity::capture_logs();
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let auth_req_id = request(&server, &app, &consent_id).await;
    poll(&server, &app, &auth_req_id).await;
    let (status, _) = device(&server, &app, &auth_req_id, "user_good", false).await;
    assert_eq!(status, 200);
    server.clock.advance(Duration::seconds(5));
    let (status, tokens) = poll(&server, &app, &auth_req_id).await;
    assert_eq!(status, 200, "{tokens}");
    server.stop().await;

    let text = logs.text();
    assert!(
        text.contains("backchannel authentication request accepted"),
        "{text}"
    );
    assert!(
        text.contains("consent authorised on the decoupled device"),
        "{text}"
    );
    assert!(
        text.contains("backchannel authentication redeemed"),
        "{text}"
    );
    let mut secrets = vec![
        auth_req_id,
        app.token.clone(),
        app.created.client_secret.clone(),
    ];
    for name in ["access_token", "refresh_token", "id_token"] {
        secrets.push(tokens[name].as_str().unwrap().to_owned());
    }
    for secret in secrets {
        assert!(!text.contains(&secret), "a secret reached the logs");
    }
}
