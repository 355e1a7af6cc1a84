//! Regression tests of the holes a black-box attack run found (issue 12), each through the
//! interface the attacker used — REST, gRPC, the OAuth2 endpoints, the sign-in pages — against a
//! real server. Every test here runs on SQLite and, with `WEKEZA_TEST_DATABASE_URL` set, on
//! PostgreSQL (which refuses NUL bytes in text: what once answered 500 there).

use serde_json::{Value, json};
use tonic::Code;
use wekeza_domain::Scope;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_testkit::TestServer;

use crate::ciba::{bc_authorize, device, poll};
use crate::identity_browser::{begin, push};
use crate::identity_flow::{
    READ_ALL, REDIRECT, TestApp, account_access, assert_oauth_error, assert_problem,
    authorized_code, create_consent, exchange, get, payment, pkce, register, send,
};
use crate::support::{assert_reason, field_violations};

/// `POST /v1/consents` by `app` with `body`.
async fn post_consent(server: &TestServer, app: &TestApp, body: &Value) -> (u16, Value) {
    send(
        server
            .http
            .post(format!("{}/v1/consents", server.base_url))
            .bearer_auth(&app.token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(body),
    )
    .await
}

/// The fields of a problem's `errors[]`.
fn problem_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["field"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// A payment consent body whose creditor is named `name` and whose reference is `reference`.
fn payment_named(name: &str, reference: &str) -> Value {
    let mut body = payment("10.00", None);
    body["payment"]["creditor"]["name"] = json!(name);
    body["payment"]["reference"] = json!(reference);
    body
}

#[tokio::test]
async fn consent_texts_with_controls_or_bidi_overrides_are_refused_and_the_rest_normalised() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::PaymentsInitiate]).await;

    for (name, reference, field) in [
        ("Jane\u{0}Doe", "Invoice 42", "payment.creditor.name"),
        ("Jane Doe", "Invoice\u{0}42", "payment.reference"),
        ("Jane\u{7}Doe", "Invoice 42", "payment.creditor.name"),
        ("Jane \u{202E}eoD", "Invoice 42", "payment.creditor.name"),
        (
            "Jane Doe",
            "Invoice \u{2066}42\u{2069}",
            "payment.reference",
        ),
    ] {
        let answer = post_consent(&server, &app, &payment_named(name, reference)).await;
        assert_problem(&answer, 400, "INVALID_REQUEST");
        assert_eq!(problem_fields(&answer.1), [field], "{}", answer.1);
    }

    // The same over gRPC: INVALID_ARGUMENT, the field's path in BadRequest.
    let mut grpc = ConsentServiceClient::new(server.channel());
    let mut request = server.request(
        &app.token,
        pb::CreateConsentRequest {
            r#type: pb::ConsentType::Payment.into(),
            payment: Some(pb::PaymentDetails {
                instructed_amount: Some(pb::Money {
                    amount: "10.00".into(),
                    currency: "KES".into(),
                }),
                creditor: Some(pb::Creditor {
                    name: "Jane\u{0}Doe".into(),
                    account_number: "01100012345".into(),
                }),
                reference: String::new(),
                debtor_account: None,
            }),
            ..Default::default()
        },
    );
    request
        .metadata_mut()
        .insert("idempotency-key", "grpc-nul".parse().unwrap());
    let status = grpc.create_consent(request).await.unwrap_err();
    assert_reason(&status, Code::InvalidArgument, "INVALID_REQUEST");
    assert_eq!(field_violations(&status), ["payment.creditor.name"]);

    // What passes is stored in NFC: "José" typed as e + combining accent reads back as é.
    let (status, consent) = post_consent(
        &server,
        &app,
        &payment_named("Jose\u{301}", "Caf\u{65}\u{301}"),
    )
    .await;
    assert_eq!(status, 200, "{consent}");
    assert_eq!(consent["payment"]["creditor"]["name"], "Jos\u{e9}");
    assert_eq!(consent["payment"]["reference"], "Caf\u{e9}");
    server.stop().await;
}

#[tokio::test]
async fn oauth_parameters_with_nul_bytes_are_invalid_requests() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let form = |path: &str, body: &str| {
        server
            .http
            .post(format!("{}{path}", server.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
    };

    // An unauthenticated client id.
    let answer = send(form(
        "/oauth2/token",
        "grant_type=client_credentials&client_id=app_%00x&client_secret=x",
    ))
    .await;
    assert_oauth_error(&answer, 400, "invalid_request");
    // The same in HTTP Basic.
    let answer = send(
        form("/oauth2/token", "grant_type=client_credentials").basic_auth("app_%00x", Some("x")),
    )
    .await;
    assert_oauth_error(&answer, 400, "invalid_request");

    // state and nonce of a pushed request.
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (_, challenge) = pkce();
    for name in ["state", "nonce"] {
        let answer = push(&server, &app, &consent_id, &challenge, &[(name, "a\u{0}b")]).await;
        assert_oauth_error(&answer, 400, "invalid_request");
    }

    // login_hint of a backchannel request.
    let answer = bc_authorize(
        &server,
        &app,
        &[
            ("login_hint", "user_\u{0}good"),
            ("consent_id", &consent_id),
        ],
    )
    .await;
    assert_oauth_error(&answer, 400, "invalid_request");
    server.stop().await;
}

#[tokio::test]
async fn a_username_with_a_nul_byte_is_refused_at_the_sign_in_form() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (_, challenge) = pkce();
    let mut browser = begin(&server, &app, &consent_id, &challenge).await;
    let page = browser.sign_in("user_\u{0}good", "pass_good").await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(page.html.contains("not allowed"), "{}", page.html);
    // The session goes on: the customer can still sign in.
    let page = browser.sign_in("user_good", "pass_good").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("One-time code"), "{}", page.html);
    server.stop().await;
}

#[tokio::test]
async fn backchannel_requests_do_not_tell_whether_a_username_exists() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let known_consent = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let unknown_consent = create_consent(&server, &app, &account_access(&READ_ALL)).await;

    let hint = |login_hint, consent_id| [("login_hint", login_hint), ("consent_id", consent_id)];
    let known = bc_authorize(&server, &app, &hint("user_good", &known_consent)).await;
    let unknown = bc_authorize(&server, &app, &hint("nobody_at_all", &unknown_consent)).await;
    assert_eq!(known.0, 200, "{}", known.1);
    assert_eq!(unknown.0, known.0, "{}", unknown.1);
    let keys = |body: &Value| {
        body.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&unknown.1), keys(&known.1));
    assert_eq!(unknown.1["expires_in"], known.1["expires_in"]);

    // The request for nobody is pending like any other, no one can approve it, and it expires.
    let auth_req_id = unknown.1["auth_req_id"].as_str().unwrap();
    assert_oauth_error(
        &poll(&server, &app, auth_req_id).await,
        400,
        "authorization_pending",
    );
    for username in ["user_good", "nobody_at_all"] {
        let (status, answer) = device(&server, &app, auth_req_id, username, false).await;
        assert_eq!(status, 400, "{answer}");
    }
    server.clock.advance(chrono::Duration::seconds(121));
    assert_oauth_error(
        &poll(&server, &app, auth_req_id).await,
        400,
        "expired_token",
    );
    server.stop().await;
}

#[tokio::test]
async fn rest_bodies_must_be_declared_application_json() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let body = account_access(&READ_ALL).to_string();
    let post = |content_type: Option<&str>| {
        let mut request = server
            .http
            .post(format!("{}/v1/consents", server.base_url))
            .bearer_auth(&app.token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    for content_type in [
        None,
        Some("application/grpc-web+json"),
        Some("application/problem+json"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonp"),
    ] {
        let response = post(content_type).await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{content_type:?}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 415, "{problem}");
    }
    for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
        let response = post(Some(content_type)).await.unwrap();
        assert_eq!(response.status(), 200, "{content_type}");
    }
    // A request without a body needs no content type.
    let response = server
        .http
        .get(format!("{}/v1/consents/cns_unknown", server.base_url))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}

/// A customer access token of `app` for `username`, from the real code flow, and its consent.
async fn customer_token(server: &TestServer, app: &TestApp, username: &str) -> (String, String) {
    let consent_id = create_consent(server, app, &account_access(&READ_ALL)).await;
    let (code, verifier) = authorized_code(server, app, &consent_id, username, &[]).await;
    let (status, tokens) = exchange(server, app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        consent_id,
    )
}

#[tokio::test]
async fn an_apps_customer_token_lists_only_that_apps_consents() {
    let server = TestServer::start().await;
    let budget = register(&server, &[Scope::AccountsRead]).await;
    let lender = register(&server, &[Scope::AccountsRead]).await;
    let (budget_token, budget_consent) = customer_token(&server, &budget, "user_good").await;
    let (lender_token, lender_consent) = customer_token(&server, &lender, "user_good").await;

    for (token, own) in [
        (&budget_token, &budget_consent),
        (&lender_token, &lender_consent),
    ] {
        let (status, listing) = get(&server, token, "/v1/customers/consents").await;
        assert_eq!(status, 200, "{listing}");
        let listed: Vec<&str> = listing["consents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|consent| consent["consentId"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [own.as_str()], "{listing}");
    }
    // The same over gRPC.
    let listed = ConsentServiceClient::new(server.channel())
        .list_customer_consents(
            server.request(&budget_token, pb::ListCustomerConsentsRequest::default()),
        )
        .await
        .unwrap()
        .into_inner()
        .consents;
    let ids: Vec<&str> = listed.iter().map(|c| c.consent_id.as_str()).collect();
    assert_eq!(ids, [budget_consent.as_str()]);
    server.stop().await;
}
