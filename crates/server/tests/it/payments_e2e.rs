//! Payments end to end with real tokens only, as a third-party app drives them: its
//! client-credentials token → a payment consent → the customer authorises it (the sandbox
//! shortcut, or the redirect flow: PAR, sign-in, TOTP, consent screen) → the code exchanged for
//! a consent-bound token → the payment → its status polled until settled. Then the balances of
//! both accounts and the outbox. Over REST and over gRPC.

use std::time::Duration;

use serde_json::{Value, json};
use tonic::Code;
use wekeza_domain::{AccountId, Scope};
use wekeza_ledger::CoreBanking;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_proto::v1::payment_service_client::PaymentServiceClient;
use wekeza_testkit::TestServer;

use crate::identity_browser::{Browser, authenticate, callback, pushed};
use crate::identity_flow::{
    REDIRECT, TestApp, assert_oauth_error, assert_problem, authorized_code, create_consent,
    exchange, get, payment, pkce, refresh, register, send,
};
use crate::payments::events;
use crate::support::assert_reason;

/// Jane Doe's account number: the creditor.
const JANE: &str = "01100012345";

/// How long a payment may take to settle before a test fails.
const SETTLE_WITHIN: Duration = Duration::from_secs(10);

/// The payment amount, in minor units (KES 150.00).
const AMOUNT_MINOR: i64 = 15_000;

/// The booked balance of `account`, in minor units, read through the ledger.
async fn booked(server: &TestServer, account: &AccountId) -> i64 {
    let row = wekeza_store::accounts::find(server.database.conn(), account)
        .await
        .unwrap()
        .unwrap();
    row.booked_minor
}

/// user_good's primary current account and Jane's account.
async fn parties(server: &TestServer) -> (AccountId, AccountId) {
    let customer = server.customer("user_good").await;
    let debtor = server.account_ids(&customer).await[0].clone();
    let jane = server
        .ledger()
        .account_by_number(JANE)
        .await
        .unwrap()
        .unwrap()
        .id;
    (debtor, jane)
}

/// An app that may read accounts and initiate payments.
async fn app(server: &TestServer) -> TestApp {
    register(server, &[Scope::AccountsRead, Scope::PaymentsInitiate]).await
}

/// `POST /v1/payments` with `token` and `key` for `consent_id`.
async fn pay_rest(server: &TestServer, token: &str, key: &str, consent_id: &str) -> (u16, Value) {
    send(
        server
            .http
            .post(format!("{}/v1/payments", server.base_url))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({ "consentId": consent_id })),
    )
    .await
}

/// Polls `GET /v1/payments/{id}` with the app's client-credentials token until it settled.
async fn settled_rest(server: &TestServer, app: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
    loop {
        let (status, body) = get(server, &app.token, &format!("/v1/payments/{id}")).await;
        assert_eq!(status, 200, "{body}");
        if body["status"] == "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED" {
            return body;
        }
        assert_ne!(body["status"], "PAYMENT_STATUS_REJECTED", "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} still {} after {SETTLE_WITHIN:?}",
            body["status"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts the outbox holds, in order, the consent's lifecycle (created, authorised, consumed)
/// and then the payment's (pending, in process, completed).
async fn assert_outbox(server: &TestServer, consent_id: &str, payment_id: &str) {
    let all = events(server, &[consent_id, payment_id]).await;
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|(kind, aggregate, _)| (kind.as_str(), aggregate.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("consent.status_changed", consent_id),
            ("consent.status_changed", consent_id),
            ("consent.status_changed", consent_id),
            ("payment.status_changed", payment_id),
            ("payment.status_changed", payment_id),
            ("payment.status_changed", payment_id),
        ]
    );
    let consents: Vec<pb::ConsentStatus> = all[..3]
        .iter()
        .map(|(_, _, event)| match &event.payload {
            Some(pb::event::Payload::ConsentStatusChanged(change)) => change.status(),
            other => panic!("not a consent change: {other:?}"),
        })
        .collect();
    assert_eq!(
        consents,
        [
            pb::ConsentStatus::AwaitingAuthorisation,
            pb::ConsentStatus::Authorised,
            pb::ConsentStatus::Consumed,
        ]
    );
    let payments: Vec<pb::PaymentStatus> = all[3..]
        .iter()
        .map(|(_, _, event)| match &event.payload {
            Some(pb::event::Payload::PaymentStatusChanged(change)) => change.status(),
            other => panic!("not a payment change: {other:?}"),
        })
        .collect();
    assert_eq!(
        payments,
        [
            pb::PaymentStatus::Pending,
            pb::PaymentStatus::AcceptedSettlementInProcess,
            pb::PaymentStatus::AcceptedSettlementCompleted,
        ]
    );
}

/// The token response of a sandbox-shortcut authorisation of `consent_id` by user_good.
async fn sandbox_tokens(server: &TestServer, app: &TestApp, consent_id: &str) -> Value {
    let (code, verifier) = authorized_code(server, app, consent_id, "user_good", &[]).await;
    let (status, tokens) = exchange(server, app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// The consent-bound access token of a sandbox-shortcut authorisation of `consent_id`.
async fn sandbox_token(server: &TestServer, app: &TestApp, consent_id: &str) -> String {
    sandbox_tokens(server, app, consent_id).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Pays `consent_id` over REST with `token`, waits for settlement, and checks the balances,
/// the outbox, the idempotent replay and that the consumed consent pays no more.
async fn pays_over_rest(server: &TestServer, app: &TestApp, consent_id: &str, token: &str) {
    let (debtor, jane) = parties(server).await;
    let debtor_before = booked(server, &debtor).await;
    let jane_before = booked(server, &jane).await;

    let key = ulid::Ulid::new().to_string();
    let created = pay_rest(server, token, &key, consent_id).await;
    assert_eq!(created.0, 200, "{}", created.1);
    assert_eq!(created.1["status"], "PAYMENT_STATUS_PENDING");
    assert_eq!(created.1["consentId"], consent_id);
    assert_eq!(created.1["debtorAccountId"], debtor.as_str());
    assert_eq!(
        created.1["instructedAmount"],
        json!({ "amount": "150.00", "currency": "KES" })
    );
    let payment_id = created.1["paymentId"].as_str().unwrap().to_owned();

    let settled = settled_rest(server, app, &payment_id).await;
    assert_eq!(settled["paymentId"], payment_id.as_str());
    assert_eq!(booked(server, &debtor).await, debtor_before - AMOUNT_MINOR);
    assert_eq!(booked(server, &jane).await, jane_before + AMOUNT_MINOR);
    assert_outbox(server, consent_id, &payment_id).await;

    // The same key and body replay the same answer, though the consent is consumed now.
    let replayed = pay_rest(server, token, &key, consent_id).await;
    assert_eq!(replayed, created);
    // Reading payments is the app's own business (its client-credentials token), whatever the
    // state of the consent.
    let read = get(server, token, &format!("/v1/payments/{payment_id}")).await;
    assert_problem(&read, 403, "WRONG_CALLER");
    // A new payment on the consumed consent is refused.
    let again = pay_rest(server, token, &ulid::Ulid::new().to_string(), consent_id).await;
    assert_problem(&again, 422, "CONSENT_CONSUMED");
    assert_eq!(booked(server, &debtor).await, debtor_before - AMOUNT_MINOR);
}

#[tokio::test]
async fn pays_over_rest_with_the_sandbox_shortcut() {
    let server = TestServer::start().await;
    let app = app(&server).await;
    let consent_id = create_consent(&server, &app, &payment("150.00", None)).await;
    let tokens = sandbox_tokens(&server, &app, &consent_id).await;
    let token = tokens["access_token"].as_str().unwrap();
    pays_over_rest(&server, &app, &consent_id, token).await;
    // The consumed consent still backs the token already issued, but mints no new ones.
    // Introspection agrees with the API: the access token is still active.
    let (status, introspected) = send(
        server
            .http
            .post(format!("{}/oauth2/introspect", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&[("token", token)]),
    )
    .await;
    assert_eq!(status, 200, "{introspected}");
    assert_eq!(introspected["active"], true, "{introspected}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refreshed = refresh(&server, &app, refresh_token).await;
    assert_oauth_error(&refreshed, 400, "invalid_grant");
    server.stop().await;
}

#[tokio::test]
async fn pays_over_rest_with_the_redirect_flow() {
    let server = TestServer::start().await;
    let app = app(&server).await;
    let (debtor, _) = parties(&server).await;
    let consent_id = create_consent(&server, &app, &payment("150.00", None)).await;
    let (verifier, challenge) = pkce();
    let request_uri = pushed(&server, &app, &consent_id, &challenge).await;
    let mut browser = Browser::new(&server);
    let page = browser.open(app.client_id(), &request_uri).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let page = authenticate(&server, &mut browser, "user_good").await;
    assert!(page.html.contains("Jane Doe"), "{}", page.html);
    let page = browser
        .submit(
            "/oauth2/authorize/decision",
            &[("decision", "approve"), ("account_id", debtor.as_str())],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    let response = callback(page.location.as_deref().unwrap());
    let (status, tokens) = exchange(&server, &app, &response["code"], &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    pays_over_rest(&server, &app, &consent_id, token).await;
    server.stop().await;
}

/// A tonic request with `token` and, when given, an `idempotency-key`.
fn grpc<T>(token: &str, key: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    if let Some(key) = key {
        metadata.insert("idempotency-key", key.parse().unwrap());
    }
    request
}

#[tokio::test]
async fn pays_over_grpc_with_the_sandbox_shortcut() {
    let server = TestServer::start().await;
    let app = app(&server).await;
    let (debtor, jane) = parties(&server).await;
    let debtor_before = booked(&server, &debtor).await;
    let jane_before = booked(&server, &jane).await;

    let consent = ConsentServiceClient::new(server.channel())
        .create_consent(grpc(
            &app.token,
            Some(&ulid::Ulid::new().to_string()),
            pb::CreateConsentRequest {
                r#type: pb::ConsentType::Payment.into(),
                payment: Some(pb::PaymentDetails {
                    instructed_amount: Some(pb::Money {
                        amount: "150.00".into(),
                        currency: "KES".into(),
                    }),
                    creditor: Some(pb::Creditor {
                        name: "Jane Doe".into(),
                        account_number: JANE.into(),
                    }),
                    reference: "Invoice 42".into(),
                    debtor_account: None,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap();
    assert_eq!(consent.status(), pb::ConsentStatus::AwaitingAuthorisation);
    let consent_id = consent.consent_id;
    let token = sandbox_token(&server, &app, &consent_id).await;

    let mut payments = PaymentServiceClient::new(server.channel());
    let create = pb::CreatePaymentRequest {
        consent_id: consent_id.clone(),
        ..Default::default()
    };
    let key = ulid::Ulid::new().to_string();
    let created = payments
        .create_payment(grpc(&token, Some(&key), create.clone()))
        .await
        .unwrap()
        .into_inner();
    let payment = created.payment.clone().unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Pending);
    assert_eq!(payment.debtor_account_id, debtor.as_str());

    let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
    loop {
        let read = payments
            .get_payment(grpc(
                &app.token,
                None,
                pb::GetPaymentRequest {
                    payment_id: payment.payment_id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
        if read.status() == pb::PaymentStatus::AcceptedSettlementCompleted {
            break;
        }
        assert_ne!(read.status(), pb::PaymentStatus::Rejected, "{read:?}");
        assert!(tokio::time::Instant::now() < deadline, "{read:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(booked(&server, &debtor).await, debtor_before - AMOUNT_MINOR);
    assert_eq!(booked(&server, &jane).await, jane_before + AMOUNT_MINOR);
    assert_outbox(&server, &consent_id, &payment.payment_id).await;

    // The same key and body replay the same answer; a new key is refused: consumed.
    let replayed = payments
        .create_payment(grpc(&token, Some(&key), create.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed, created);
    let refused = payments
        .create_payment(grpc(&token, Some(&ulid::Ulid::new().to_string()), create))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_CONSUMED");
    server.stop().await;
}

/// The authentication context of a step-up.
const STEP_UP: &str = "urn:wekeza:acr:step-up";

/// Pushes a step-up request (`acr_values`) for `consent_id`; answers status and body.
async fn push_step_up(
    server: &TestServer,
    app: &TestApp,
    consent_id: &str,
    challenge: &str,
    acr_values: &str,
) -> (u16, Value) {
    send(
        server
            .http
            .post(format!("{}/oauth2/par", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&[
                ("response_type", "code"),
                ("consent_id", consent_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("acr_values", acr_values),
                ("state", "step-up"),
            ]),
    )
    .await
}

/// `username` signs in again, both factors, through a fresh step-up request for
/// `consent_id`; answers the last page and the request's PKCE verifier.
async fn step_up_as(
    server: &TestServer,
    app: &TestApp,
    consent_id: &str,
    username: &str,
) -> (crate::identity_browser::Page, String) {
    let (verifier, challenge) = pkce();
    let (status, body) = push_step_up(server, app, consent_id, &challenge, STEP_UP).await;
    assert_eq!(status, 201, "{body}");
    let mut browser = Browser::new(server);
    let page = browser
        .open(app.client_id(), body["request_uri"].as_str().unwrap())
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    let password = format!("pass_{}", &username[5..]);
    let page = browser.sign_in(username, &password).await;
    assert!(page.html.contains("One-time code"), "{}", page.html);
    let otp = crate::identity_browser::otp(server, username).await;
    (browser.second_factor(&otp).await, verifier)
}

#[tokio::test]
async fn a_challenged_payment_goes_through_after_the_customer_steps_up() {
    let server = TestServer::start().await;
    let app = app(&server).await;
    // 42.42 makes the sandbox fraud checks ask for a step-up.
    let consent_id = create_consent(&server, &app, &payment("42.42", None)).await;
    let tokens = sandbox_tokens(&server, &app, &consent_id).await;
    let first = tokens["access_token"].as_str().unwrap();
    let key = ulid::Ulid::new().to_string();
    let refused = pay_rest(&server, first, &key, &consent_id).await;
    assert_problem(&refused, 422, "STEP_UP_REQUIRED");
    assert!(
        refused.1["detail"].as_str().unwrap().contains(STEP_UP),
        "the refusal says how: {}",
        refused.1
    );

    // What a step-up request may name: only an authorised payment consent, only this acr.
    let (_, challenge) = pkce();
    let awaiting = create_consent(&server, &app, &payment("42.42", None)).await;
    let (status, body) = push_step_up(&server, &app, &awaiting, &challenge, STEP_UP).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = push_step_up(&server, &app, &consent_id, &challenge, "urn:other").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // Another customer cannot confirm user_good's payment.
    let (page, _) = step_up_as(&server, &app, &consent_id, "user_business").await;
    assert_eq!(page.status, 403, "{}", page.html);
    assert!(page.location.is_none());

    // user_good signs in again: no consent screen, straight back with a code.
    let (page, verifier) = step_up_as(&server, &app, &consent_id, "user_good").await;
    assert_eq!(page.status, 303, "{}", page.html);
    let response = callback(page.location.as_deref().unwrap());
    assert_eq!(response["state"], "step-up");
    let (status, stepped) = exchange(&server, &app, &response["code"], &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{stepped}");
    assert_eq!(stepped["consent_id"], consent_id.as_str());
    let token = stepped["access_token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).unwrap();
    assert_eq!(claims["acr"], STEP_UP);

    // The step-up vouches for the token issued with it: not the first token, not a refreshed one.
    let again = pay_rest(&server, first, &key, &consent_id).await;
    assert_problem(&again, 422, "STEP_UP_REQUIRED");
    let refreshed = refresh(&server, &app, stepped["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.0, 200, "{}", refreshed.1);
    let successor = refreshed.1["access_token"].as_str().unwrap();
    let again = pay_rest(&server, successor, &key, &consent_id).await;
    assert_problem(&again, 422, "STEP_UP_REQUIRED");

    // With it, the same request (same key) goes through.
    let paid = pay_rest(&server, token, &key, &consent_id).await;
    assert_eq!(paid.0, 200, "{}", paid.1);
    assert_eq!(paid.1["status"], "PAYMENT_STATUS_PENDING");
    settled_rest(&server, &app, paid.1["paymentId"].as_str().unwrap()).await;
    server.stop().await;
}
