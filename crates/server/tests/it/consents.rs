//! Consents through real REST and gRPC clients: creation per type and scope, validation,
//! idempotency (also under concurrency), ownership, revocation, lazy expiry and the expiry
//! sweep, the outbox events of every change, the consents a customer gave the app, and funds
//! confirmation.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use prost::Message;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;
use wekeza_domain::{ConsentGrant, ConsentId, Permission, Principal, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_store::entity::{consents as consent_rows, outbox_events};
use wekeza_testkit::{TestServer, test_now};

use crate::rest::assert_problem;
use crate::support::assert_reason;

const BOTH: [Scope; 2] = [Scope::AccountsRead, Scope::PaymentsInitiate];

fn grpc(server: &TestServer) -> ConsentServiceClient<Channel> {
    ConsentServiceClient::new(server.channel())
}

/// A tonic request with a bearer token and an `Idempotency-Key`.
fn keyed<T>(server: &TestServer, token: &str, key: &str, message: T) -> tonic::Request<T> {
    let mut request = server.request(token, message);
    request
        .metadata_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

/// A new app with `scopes` and a token for it.
async fn app_token(server: &TestServer, scopes: &[Scope]) -> (Principal, String) {
    let principal = server.app_principal(scopes).await;
    let token = server.token_for(principal.clone());
    (principal, token)
}

async fn post_consent(
    server: &TestServer,
    token: &str,
    key: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = server
        .http
        .post(format!("{}/v1/consents", server.base_url))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn rest(
    server: &TestServer,
    method: reqwest::Method,
    token: &str,
    path: &str,
) -> (StatusCode, Value) {
    let response = server
        .http
        .request(method, format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

const ACCOUNT_ACCESS: &str = r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","permissions":["PERMISSION_READ_ACCOUNTS","PERMISSION_READ_BALANCES"],"expirationTime":"2027-01-01T00:00:00Z"}"#;

fn payment_body(amount: &str) -> String {
    json!({
        "type": "CONSENT_TYPE_PAYMENT",
        "payment": {
            "instructedAmount": { "amount": amount, "currency": "KES" },
            "creditor": { "name": "Jane Doe", "accountNumber": "01100012345" },
            "reference": "Invoice 42"
        }
    })
    .to_string()
}

fn account_access(permissions: &[pb::Permission]) -> pb::CreateConsentRequest {
    pb::CreateConsentRequest {
        r#type: pb::ConsentType::AccountAccess.into(),
        permissions: permissions.iter().map(|p| i32::from(*p)).collect(),
        ..Default::default()
    }
}

fn funds_confirmation(amount: &str, debtor: Option<&str>) -> pb::CreateConsentRequest {
    pb::CreateConsentRequest {
        r#type: pb::ConsentType::FundsConfirmation.into(),
        funds_confirmation: Some(pb::FundsConfirmationDetails {
            debtor_account: debtor.map(|number| pb::DebtorAccount {
                account_number: number.to_owned(),
            }),
            amount: Some(pb::Money {
                amount: amount.into(),
                currency: "KES".into(),
            }),
        }),
        ..Default::default()
    }
}

/// Creates a consent over gRPC with a fresh key.
async fn create(
    server: &TestServer,
    token: &str,
    request: pb::CreateConsentRequest,
) -> pb::Consent {
    grpc(server)
        .create_consent(keyed(
            server,
            token,
            &ulid::Ulid::new().to_string(),
            request,
        ))
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The consent's events as stored in the outbox (published or not), oldest first.
async fn events(server: &TestServer, consent_id: &str) -> Vec<(outbox_events::Model, pb::Event)> {
    outbox_events::Entity::find()
        .filter(outbox_events::Column::AggregateId.eq(consent_id))
        .order_by_asc(outbox_events::Column::Id)
        .all(server.database.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let event = pb::Event::decode(row.payload.as_slice()).unwrap();
            (row, event)
        })
        .collect()
}

fn status_change(event: &pb::Event) -> &pb::ConsentStatusChanged {
    match &event.payload {
        Some(pb::event::Payload::ConsentStatusChanged(change)) => change,
        other => panic!("not a consent status change: {other:?}"),
    }
}

#[tokio::test]
async fn creates_consents_of_every_type_over_rest_and_grpc() {
    let server = TestServer::start().await;
    let (app, token) = app_token(&server, &BOTH).await;

    let response = post_consent(&server, &token, Some("k-access"), ACCOUNT_ACCESS).await;
    assert_eq!(response.status(), 200);
    let consent: Value = response.json().await.unwrap();
    assert!(consent["consentId"].as_str().unwrap().starts_with("cns_"));
    assert_eq!(consent["type"], "CONSENT_TYPE_ACCOUNT_ACCESS");
    assert_eq!(consent["status"], "CONSENT_STATUS_AWAITING_AUTHORISATION");
    assert_eq!(
        consent["permissions"],
        json!(["PERMISSION_READ_ACCOUNTS", "PERMISSION_READ_BALANCES"])
    );
    assert_eq!(consent["expirationTime"], "2027-01-01T00:00:00Z");
    assert_eq!(time(&consent["createTime"]), test_now());
    assert_eq!(time(&consent["statusUpdateTime"]), test_now());
    assert_eq!(consent["clientId"], app.app_id.as_str());
    assert_eq!(consent["clientName"], "Test App");
    assert!(consent.get("accountIds").is_none(), "none bound yet");

    let response = post_consent(&server, &token, Some("k-payment"), &payment_body("1500.00")).await;
    assert_eq!(response.status(), 200);
    let consent: Value = response.json().await.unwrap();
    assert_eq!(consent["type"], "CONSENT_TYPE_PAYMENT");
    assert_eq!(
        consent["payment"],
        json!({
            "instructedAmount": { "amount": "1500.00", "currency": "KES" },
            "creditor": { "name": "Jane Doe", "accountNumber": "01100012345" },
            "reference": "Invoice 42"
        })
    );
    assert_eq!(
        time(&consent["expirationTime"]),
        test_now() + Duration::minutes(10),
        "payment consents wait 10 minutes for authorisation"
    );

    let funds = create(
        &server,
        &token,
        funds_confirmation("250.00", Some("01100012345")),
    )
    .await;
    assert_eq!(funds.r#type, pb::ConsentType::FundsConfirmation as i32);
    assert_eq!(
        funds.status,
        pb::ConsentStatus::AwaitingAuthorisation as i32
    );
    assert_eq!(
        funds.expiration_time.map(|t| t.seconds),
        Some((test_now() + Duration::days(90)).timestamp()),
        "standing consents default to 90 days"
    );
    let details = funds.funds_confirmation.unwrap();
    assert_eq!(
        details.debtor_account.unwrap().account_number,
        "01100012345"
    );

    let access = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadCustomerProfile]),
    )
    .await;
    assert_eq!(
        access.permissions,
        [pb::Permission::ReadCustomerProfile as i32]
    );
    server.stop().await;
}

#[tokio::test]
async fn the_scope_needed_follows_the_consent_type() {
    let server = TestServer::start().await;
    let (reader, reader_token) = app_token(&server, &[Scope::AccountsRead]).await;
    let (_, payer_token) = app_token(&server, &[Scope::PaymentsInitiate]).await;

    let refused = post_consent(&server, &reader_token, Some("k1"), &payment_body("10.00")).await;
    assert_problem(refused, 403, "INSUFFICIENT_SCOPE").await;
    let refused = grpc(&server)
        .create_consent(keyed(
            &server,
            &payer_token,
            "k2",
            account_access(&[pb::Permission::ReadAccounts]),
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "INSUFFICIENT_SCOPE");
    let refused = grpc(&server)
        .create_consent(keyed(
            &server,
            &reader_token,
            "k3",
            funds_confirmation("1.00", None),
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "INSUFFICIENT_SCOPE");

    // The same app reading its account-access consent with a token without that scope.
    let consent = create(
        &server,
        &reader_token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    let narrow = server.token_for(Principal {
        scopes: BTreeSet::from([Scope::PaymentsInitiate]),
        ..reader.clone()
    });
    let refused = grpc(&server)
        .get_consent(server.request(
            &narrow,
            pb::GetConsentRequest {
                consent_id: consent.consent_id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "INSUFFICIENT_SCOPE");

    // A token bound to a customer is not the app's own.
    let customer = server
        .customer_principal("user_good", None, &[Permission::ReadAccounts], &BOTH)
        .await;
    let customer_token = server.token_for(customer);
    let refused = post_consent(&server, &customer_token, Some("k4"), ACCOUNT_ACCESS).await;
    assert_problem(refused, 403, "WRONG_CALLER").await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_requests_are_problems_naming_the_fields() {
    let server = TestServer::start().await;
    let (_, token) = app_token(&server, &BOTH).await;
    let errors = |body: &Value| -> Vec<String> {
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap().to_owned())
            .collect()
    };

    let cases = [
        (
            r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","permissions":["PERMISSION_READ_BALANCES"]}"#.to_owned(),
            vec!["permissions"],
        ),
        (
            r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","permissions":[]}"#.to_owned(),
            vec!["permissions"],
        ),
        (
            r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","permissions":["PERMISSION_READ_ACCOUNTS"],"expirationTime":"2026-10-01T00:00:00Z"}"#.to_owned(),
            vec!["expiration_time"],
        ),
        (
            r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","permissions":["PERMISSION_READ_ACCOUNTS"],"expirationTime":"2027-02-01T00:00:00Z"}"#.to_owned(),
            vec!["expiration_time"],
        ),
        (
            json!({
                "type": "CONSENT_TYPE_PAYMENT",
                "permissions": ["PERMISSION_READ_ACCOUNTS"],
                "payment": {
                    "instructedAmount": { "amount": "-5.00", "currency": "KES" },
                    "creditor": { "name": "", "accountNumber": "" },
                    "reference": "x".repeat(141)
                }
            })
            .to_string(),
            vec![
                "permissions",
                "payment.instructed_amount",
                "payment.creditor.name",
                "payment.creditor.account_number",
                "payment.reference",
            ],
        ),
        (
            json!({
                "type": "CONSENT_TYPE_PAYMENT",
                "payment": {
                    "instructedAmount": { "amount": "5.00", "currency": "XTS" },
                    "creditor": { "name": "Jane Doe", "accountNumber": "01100012345" }
                }
            })
            .to_string(),
            vec!["payment.instructed_amount"],
        ),
        (
            r#"{"type":"CONSENT_TYPE_PAYMENT"}"#.to_owned(),
            vec!["payment"],
        ),
    ];
    for (n, (body, fields)) in cases.into_iter().enumerate() {
        let response = post_consent(&server, &token, Some(&format!("bad-{n}")), &body).await;
        let problem = assert_problem(response, 400, "INVALID_REQUEST").await;
        assert_eq!(errors(&problem), fields, "{body}");
    }

    // The platform refuses what is not the message at all, before the service.
    let platform = [
        (r#"{"type":"#, "MALFORMED_BODY"),
        (
            r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","colour":"blue"}"#,
            "UNKNOWN_FIELD",
        ),
        (
            r#"{"permissions":["PERMISSION_READ_ACCOUNTS"]}"#,
            "MISSING_FIELD",
        ),
    ];
    for (body, reason) in platform {
        let response = post_consent(&server, &token, Some("platform"), body).await;
        assert_problem(response, 400, reason).await;
    }
    let response = post_consent(&server, &token, None, ACCOUNT_ACCESS).await;
    assert_problem(response, 400, "IDEMPOTENCY_KEY_MISSING").await;

    // gRPC callers get the same violations as field violations.
    let refused = grpc(&server)
        .create_consent(keyed(&server, &token, "grpc-bad", account_access(&[])))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::InvalidArgument, "INVALID_REQUEST");
    let refused = grpc(&server)
        .create_consent(keyed(
            &server,
            &token,
            "grpc-untyped",
            pb::CreateConsentRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_reason(&refused, Code::InvalidArgument, "INVALID_REQUEST");
    server.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_answers_its_first_request_again() {
    let server = TestServer::start().await;
    let (app, token) = app_token(&server, &BOTH).await;

    let first = post_consent(&server, &token, Some("same"), ACCOUNT_ACCESS).await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    server.clock.advance(Duration::seconds(30));
    let again = post_consent(&server, &token, Some("same"), ACCOUNT_ACCESS).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.text().await.unwrap(),
        first,
        "the stored answer, byte for byte"
    );

    // Same key, other request: refused — before anything else is looked at, even an invalid body.
    let other = post_consent(&server, &token, Some("same"), &payment_body("10.00")).await;
    assert_problem(other, 409, "IDEMPOTENCY_KEY_REUSED").await;
    let invalid = post_consent(
        &server,
        &token,
        Some("same"),
        r#"{"type":"CONSENT_TYPE_ACCOUNT_ACCESS","permissions":[]}"#,
    )
    .await;
    assert_problem(invalid, 409, "IDEMPOTENCY_KEY_REUSED").await;

    // The same over gRPC.
    let request = account_access(&[pb::Permission::ReadAccounts]);
    let mut client = grpc(&server);
    let created = client
        .create_consent(keyed(&server, &token, "grpc", request.clone()))
        .await
        .unwrap()
        .into_inner();
    let replayed = client
        .create_consent(keyed(&server, &token, "grpc", request))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.encode_to_vec(), created.encode_to_vec());
    let reused = client
        .create_consent(keyed(
            &server,
            &token,
            "grpc",
            account_access(&[pb::Permission::ReadCustomerProfile]),
        ))
        .await
        .unwrap_err();
    assert_reason(&reused, Code::Aborted, "IDEMPOTENCY_KEY_REUSED");

    // Keys are per app: another app's "same" is its own.
    let (_, other_token) = app_token(&server, &BOTH).await;
    let theirs = post_consent(&server, &other_token, Some("same"), ACCOUNT_ACCESS).await;
    let theirs: Value = theirs.json().await.unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_ne!(theirs["consentId"], first["consentId"]);

    let ours = consent_rows::Entity::find()
        .filter(consent_rows::Column::AppId.eq(app.app_id.as_str()))
        .count(server.database.conn())
        .await
        .unwrap();
    assert_eq!(ours, 2, "one consent per key");
    server.stop().await;
}

#[tokio::test]
async fn concurrent_creates_with_one_key_make_one_consent() {
    let server = TestServer::start().await;
    let (app, token) = app_token(&server, &BOTH).await;
    let mut requests = Vec::new();
    for _ in 0..50 {
        let http = server.http.clone();
        let url = format!("{}/v1/consents", server.base_url);
        let token = token.clone();
        requests.push(tokio::spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "one-key")
                .header("content-type", "application/json")
                .body(ACCOUNT_ACCESS)
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }));
    }
    let mut answers = BTreeSet::new();
    for request in requests {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200, "{body}");
        answers.insert(body);
    }
    assert_eq!(answers.len(), 1, "every answer is the same");
    let rows = consent_rows::Entity::find()
        .filter(consent_rows::Column::AppId.eq(app.app_id.as_str()))
        .count(server.database.conn())
        .await
        .unwrap();
    assert_eq!(rows, 1, "on {:?}", server.database.backend());
    server.stop().await;
}

#[tokio::test]
async fn another_apps_consent_is_not_found() {
    let server = TestServer::start().await;
    let (_, owner) = app_token(&server, &BOTH).await;
    let (_, stranger) = app_token(&server, &BOTH).await;
    let consent = create(
        &server,
        &owner,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    let id = consent.consent_id;

    for consent_id in [
        id.clone(),
        "cns_01jd5t3j9c2v8q7m6n5b4x3z2y".into(),
        "nonsense".into(),
    ] {
        let refused = grpc(&server)
            .get_consent(server.request(
                &stranger,
                pb::GetConsentRequest {
                    consent_id: consent_id.clone(),
                },
            ))
            .await
            .unwrap_err();
        assert_reason(&refused, Code::NotFound, "NOT_FOUND");
        let refused = grpc(&server)
            .revoke_consent(server.request(&stranger, pb::RevokeConsentRequest { consent_id }))
            .await
            .unwrap_err();
        assert_reason(&refused, Code::NotFound, "NOT_FOUND");
    }
    let response = server
        .http
        .delete(format!("{}/v1/consents/{id}", server.base_url))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "NOT_FOUND").await;
    let (status, mine) = rest(
        &server,
        reqwest::Method::GET,
        &owner,
        &format!("/v1/consents/{id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        mine["status"], "CONSENT_STATUS_AWAITING_AUTHORISATION",
        "untouched"
    );
    server.stop().await;
}

#[tokio::test]
async fn revocation_ends_live_consents_and_refuses_final_ones() {
    let server = TestServer::start().await;
    let (_, token) = app_token(&server, &BOTH).await;
    let mut client = grpc(&server);
    let revoke = |consent_id: &str| {
        server.request(
            &token,
            pb::RevokeConsentRequest {
                consent_id: consent_id.to_owned(),
            },
        )
    };

    // A pending consent: the app cancels it.
    let pending = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    server.clock.advance(Duration::seconds(5));
    let revoked = client
        .revoke_consent(revoke(&pending.consent_id))
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap();
    assert_eq!(revoked.status, pb::ConsentStatus::Revoked as i32);
    assert_eq!(
        revoked.status_update_time.map(|t| t.seconds),
        Some((test_now() + Duration::seconds(5)).timestamp())
    );
    // Revoking again answers it unchanged.
    server.clock.advance(Duration::seconds(5));
    let again = client
        .revoke_consent(revoke(&pending.consent_id))
        .await
        .unwrap()
        .into_inner()
        .consent
        .unwrap();
    assert_eq!(again, revoked);

    // An authorised consent, over REST.
    let customer = server.customer("user_good").await;
    let accounts = server.account_ids(&customer).await;
    let authorised = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    let consent_id: ConsentId = authorised.consent_id.parse().unwrap();
    server
        .authorise_consent(&consent_id, "user_good", &accounts[..1])
        .await;
    let (status, body) = rest(
        &server,
        reqwest::Method::DELETE,
        &token,
        &format!("/v1/consents/{consent_id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "CONSENT_STATUS_REVOKED");
    assert_eq!(body["accountIds"], json!([accounts[0].to_string()]));

    // A consumed payment consent and an expired one cannot be revoked.
    let payment = create(
        &server,
        &token,
        pb::CreateConsentRequest {
            r#type: pb::ConsentType::Payment.into(),
            payment: Some(pb::PaymentDetails {
                instructed_amount: Some(pb::Money {
                    amount: "1.00".into(),
                    currency: "KES".into(),
                }),
                creditor: Some(pb::Creditor {
                    name: "Jane Doe".into(),
                    account_number: "01100012345".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let payment_id: ConsentId = payment.consent_id.parse().unwrap();
    let authorised = server
        .authorise_consent(&payment_id, "user_good", &[])
        .await;
    let consumed = authorised.clone().consume(server_now(&server)).unwrap();
    let txn = sea_orm::TransactionTrait::begin(server.database.conn())
        .await
        .unwrap();
    assert_eq!(
        wekeza_events::record::consent_transition(
            &txn,
            &authorised,
            &consumed,
            "app",
            server_now(&server),
        )
        .await
        .unwrap(),
        wekeza_events::record::StatusWrite::Applied
    );
    txn.commit().await.unwrap();
    let refused = client
        .revoke_consent(revoke(&payment.consent_id))
        .await
        .unwrap_err();
    assert_reason(
        &refused,
        Code::FailedPrecondition,
        "INVALID_STATE_TRANSITION",
    );

    let expiring = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    server.clock.advance(Duration::days(91));
    let refused = client
        .revoke_consent(revoke(&expiring.consent_id))
        .await
        .unwrap_err();
    assert_reason(
        &refused,
        Code::FailedPrecondition,
        "INVALID_STATE_TRANSITION",
    );
    let response = server
        .http
        .delete(format!(
            "{}/v1/consents/{}",
            server.base_url, expiring.consent_id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "INVALID_STATE_TRANSITION").await;
    server.stop().await;
}

fn server_now(server: &TestServer) -> DateTime<Utc> {
    wekeza_domain::Clock::now(&server.clock)
}

#[tokio::test]
async fn consents_expire_lazily_when_their_time_passes() {
    let server = TestServer::start().await;
    let (_, token) = app_token(&server, &BOTH).await;
    let payment = post_consent(&server, &token, Some("p"), &payment_body("10.00")).await;
    let payment: Value = payment.json().await.unwrap();
    let access = post_consent(&server, &token, Some("a"), ACCOUNT_ACCESS).await;
    let access: Value = access.json().await.unwrap();
    let get = |consent: &Value| format!("/v1/consents/{}", consent["consentId"].as_str().unwrap());

    server.clock.advance(Duration::minutes(9));
    let (_, shown) = rest(&server, reqwest::Method::GET, &token, &get(&payment)).await;
    assert_eq!(shown["status"], "CONSENT_STATUS_AWAITING_AUTHORISATION");

    server.clock.advance(Duration::minutes(1));
    let (status, shown) = rest(&server, reqwest::Method::GET, &token, &get(&payment)).await;
    assert_eq!(status, 200);
    assert_eq!(shown["status"], "CONSENT_STATUS_EXPIRED");
    assert_eq!(
        shown["statusUpdateTime"], payment["expirationTime"],
        "expired at its expiration time"
    );
    let (_, shown) = rest(&server, reqwest::Method::GET, &token, &get(&access)).await;
    assert_eq!(shown["status"], "CONSENT_STATUS_AWAITING_AUTHORISATION");

    server
        .clock
        .set(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
    let (_, shown) = rest(&server, reqwest::Method::GET, &token, &get(&access)).await;
    assert_eq!(shown["status"], "CONSENT_STATUS_EXPIRED");

    // Nothing was written: expiry is judged when the consent is read.
    let id: ConsentId = access["consentId"].as_str().unwrap().parse().unwrap();
    let stored = wekeza_store::consents::find(server.database.conn(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.status,
        wekeza_domain::ConsentStatus::AwaitingAuthorisation
    );
    server.stop().await;
}

#[tokio::test]
async fn every_change_reaches_the_outbox_in_order_with_its_payload() {
    let server = TestServer::start().await;
    let (app, token) = app_token(&server, &BOTH).await;
    let consent = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    let id: ConsentId = consent.consent_id.parse().unwrap();
    let customer = server.customer("user_student").await;
    let accounts = server.account_ids(&customer).await;
    server.clock.advance(Duration::seconds(1));
    server
        .authorise_consent(&id, "user_student", &accounts[..1])
        .await;
    server.clock.advance(Duration::seconds(1));
    grpc(&server)
        .revoke_consent(server.request(
            &token,
            pb::RevokeConsentRequest {
                consent_id: consent.consent_id.clone(),
            },
        ))
        .await
        .unwrap();
    // A refused change writes nothing.
    grpc(&server)
        .revoke_consent(server.request(
            &token,
            pb::RevokeConsentRequest {
                consent_id: consent.consent_id.clone(),
            },
        ))
        .await
        .unwrap();

    let stored = events(&server, id.as_str()).await;
    use pb::ConsentStatus as S;
    let transitions: Vec<(i32, i32)> = stored
        .iter()
        .map(|(_, event)| {
            let change = status_change(event);
            (change.previous_status, change.status)
        })
        .collect();
    assert_eq!(
        transitions,
        [
            (S::Unspecified as i32, S::AwaitingAuthorisation as i32),
            (S::AwaitingAuthorisation as i32, S::Authorised as i32),
            (S::Authorised as i32, S::Revoked as i32),
        ]
    );
    for (n, (row, event)) in stored.iter().enumerate() {
        assert_eq!(row.subject, "wekeza.events.consent.status_changed");
        assert_eq!(row.event_type, "consent.status_changed");
        assert_eq!(event.r#type, "consent.status_changed");
        assert_eq!(event.event_id, row.id);
        assert!(row.id.starts_with("evt_"));
        let change = status_change(event);
        assert_eq!(change.consent_id, id.as_str());
        assert_eq!(change.client_id, app.app_id.as_str());
        assert_eq!(change.consent_type, pb::ConsentType::AccountAccess as i32);
        let at = (test_now() + Duration::seconds(n as i64)).timestamp();
        assert_eq!(change.change_time.map(|t| t.seconds), Some(at));
        assert_eq!(event.create_time.map(|t| t.seconds), Some(at));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_customer_lists_the_consents_they_gave_the_app_newest_first() {
    let server = TestServer::start().await;
    let customer = server.customer("user_good").await;
    let accounts = server.account_ids(&customer).await;
    let mut apps: std::collections::HashMap<&str, Principal> = std::collections::HashMap::new();
    let mut given = Vec::new();
    for (n, name) in [
        "Budget Buddy",
        "Corner Shop",
        "Budget Buddy",
        "Tax Helper",
        "Budget Buddy",
    ]
    .into_iter()
    .enumerate()
    {
        if !apps.contains_key(name) {
            let app = server.create_app(name, &BOTH).await;
            apps.insert(
                name,
                Principal {
                    app_id: app.id,
                    scopes: BOTH.into_iter().collect(),
                    customer_id: None,
                    consent: None,
                    step_up_at: None,
                },
            );
        }
        let token = server.token_for(apps[name].clone());
        let consent = create(
            &server,
            &token,
            account_access(&[pb::Permission::ReadAccounts]),
        )
        .await;
        let id: ConsentId = consent.consent_id.parse().unwrap();
        server
            .authorise_consent(&id, "user_good", &accounts[..1])
            .await;
        given.push((id, name));
        if n == 2 {
            // A pending consent and one of another customer are not in the list.
            create(
                &server,
                &token,
                account_access(&[pb::Permission::ReadAccounts]),
            )
            .await;
            let theirs = create(
                &server,
                &token,
                account_access(&[pb::Permission::ReadAccounts]),
            )
            .await;
            let student = server.customer("user_student").await;
            let student_accounts = server.account_ids(&student).await;
            server
                .authorise_consent(
                    &theirs.consent_id.parse().unwrap(),
                    "user_student",
                    &student_accounts[..1],
                )
                .await;
        }
        server.clock.advance(Duration::seconds(1));
    }
    // Budget Buddy's token for the customer: only what they gave Budget Buddy, never their
    // consents at the other apps.
    let mut principal = apps["Budget Buddy"].clone();
    principal.customer_id = Some(customer.id.clone());
    principal.consent = Some(ConsentGrant {
        consent_id: given[0].0.clone(),
        account_ids: accounts[..1].iter().cloned().collect(),
        permissions: BTreeSet::from([Permission::ReadAccounts]),
    });
    principal.scopes = BTreeSet::from([Scope::AccountsRead]);
    let token = server.token_for(principal);

    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = grpc(&server)
            .list_customer_consents(server.request(
                &token,
                pb::ListCustomerConsentsRequest {
                    page_size: 2,
                    page_token: page_token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.consents.len() <= 2);
        listed.extend(page.consents);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let expected: Vec<(String, &str)> = given
        .iter()
        .rev()
        .filter(|(_, name)| *name == "Budget Buddy")
        .map(|(id, name)| (id.to_string(), *name))
        .collect();
    assert_eq!(expected.len(), 3);
    let actual: Vec<(String, &str)> = listed
        .iter()
        .map(|consent| (consent.consent_id.clone(), consent.client_name.as_str()))
        .collect();
    assert_eq!(actual, expected);
    assert!(
        listed
            .iter()
            .all(|consent| consent.status == pb::ConsentStatus::Authorised as i32)
    );

    let foreign = grpc(&server)
        .list_customer_consents(server.request(
            &token,
            pb::ListCustomerConsentsRequest {
                page_size: 2,
                page_token: "bm90LW91cnM".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_reason(&foreign, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    server.stop().await;
}

/// A principal acting for `username` under the real consent `consent`.
fn bound_to(app: &Principal, consent: &wekeza_domain::Consent, scopes: &[Scope]) -> Principal {
    Principal {
        app_id: app.app_id.clone(),
        scopes: scopes.iter().copied().collect(),
        customer_id: consent.customer_id.clone(),
        consent: Some(ConsentGrant {
            consent_id: consent.id.clone(),
            account_ids: consent.account_ids.clone(),
            permissions: BTreeSet::new(),
        }),
        step_up_at: None,
    }
}

#[tokio::test]
async fn funds_confirmation_answers_yes_or_no_never_the_balance() {
    let server = TestServer::start().await;
    let (app, token) = app_token(&server, &BOTH).await;
    let customer = server.customer("user_good").await;
    let account_id = server.account_ids(&customer).await[0].clone();
    let account = wekeza_ledger::CoreBanking::account(server.ledger(), &account_id)
        .await
        .unwrap()
        .unwrap();
    let available = wekeza_ledger::CoreBanking::balance(server.ledger(), &account_id)
        .await
        .unwrap()
        .unwrap()
        .available;
    assert_eq!(available.currency().code(), "KES");
    let just_enough = available.abs_decimal();
    let too_much =
        wekeza_domain::Money::from_minor(available.minor() + 1, available.currency()).abs_decimal();

    let check = |principal: Principal, consent_id: String| {
        let token = server.token_for(principal);
        let mut client = grpc(&server);
        let request = server.request(&token, pb::GetFundsConfirmationRequest { consent_id });
        async move { client.get_funds_confirmation(request).await }
    };

    // Named by account number, bound to the account while authorising.
    let mut answers = Vec::new();
    for amount in [just_enough.as_str(), too_much.as_str()] {
        let created = create(
            &server,
            &token,
            funds_confirmation(amount, Some(&account.account_number)),
        )
        .await;
        let id: ConsentId = created.consent_id.parse().unwrap();
        let authorised = server.authorise_consent(&id, "user_good", &[]).await;
        let principal = bound_to(&app, &authorised, &[Scope::PaymentsInitiate]);
        let answer = check(principal.clone(), id.to_string())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            answer.check_time.map(|t| t.seconds),
            Some(test_now().timestamp())
        );
        answers.push(answer.funds_available);

        // Over REST: a yes or no and the time, nothing else.
        let rest_token = server.token_for(principal);
        let (status, body) = rest(
            &server,
            reqwest::Method::GET,
            &rest_token,
            &format!("/v1/consents/{id}/funds-confirmation"),
        )
        .await;
        assert_eq!(status, 200);
        let keys: BTreeSet<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.is_subset(&BTreeSet::from(["fundsAvailable", "checkTime"])),
            "{body}"
        );
    }
    assert_eq!(answers, [true, false]);

    // Chosen while authorising (no account number in the consent).
    let created = create(&server, &token, funds_confirmation("1.00", None)).await;
    let id: ConsentId = created.consent_id.parse().unwrap();
    let authorised = server
        .authorise_consent(&id, "user_good", std::slice::from_ref(&account_id))
        .await;
    let principal = bound_to(&app, &authorised, &[Scope::PaymentsInitiate]);
    assert!(
        check(principal.clone(), id.to_string())
            .await
            .unwrap()
            .into_inner()
            .funds_available
    );

    // Only the consent the token is bound to.
    let other = create(&server, &token, funds_confirmation("1.00", None)).await;
    let refused = check(principal.clone(), other.consent_id)
        .await
        .unwrap_err();
    assert_reason(&refused, Code::NotFound, "NOT_FOUND");

    // Pending, then revoked, then (another) expired: distinct reasons.
    let pending = create(
        &server,
        &token,
        funds_confirmation("1.00", Some(&account.account_number)),
    )
    .await;
    let pending_id: ConsentId = pending.consent_id.parse().unwrap();
    let pending_principal = Principal {
        customer_id: Some(customer.id.clone()),
        consent: Some(ConsentGrant {
            consent_id: pending_id.clone(),
            account_ids: BTreeSet::new(),
            permissions: BTreeSet::new(),
        }),
        ..principal.clone()
    };
    let refused = check(pending_principal, pending_id.to_string()).await;
    assert_reason(&refused.unwrap_err(), Code::NotFound, "NOT_FOUND");

    grpc(&server)
        .revoke_consent(server.request(
            &token,
            pb::RevokeConsentRequest {
                consent_id: id.to_string(),
            },
        ))
        .await
        .unwrap();
    let refused = check(principal.clone(), id.to_string()).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_REVOKED");

    let expiring = create(
        &server,
        &token,
        funds_confirmation("1.00", Some(&account.account_number)),
    )
    .await;
    let expiring_id: ConsentId = expiring.consent_id.parse().unwrap();
    let authorised = server
        .authorise_consent(&expiring_id, "user_good", &[])
        .await;
    server.clock.advance(Duration::days(90));
    let refused = check(
        bound_to(&app, &authorised, &[Scope::PaymentsInitiate]),
        expiring_id.to_string(),
    )
    .await
    .unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_EXPIRED");

    // An account-access consent confirms no funds.
    let access = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    let access_id: ConsentId = access.consent_id.parse().unwrap();
    let authorised = server
        .authorise_consent(&access_id, "user_good", &[account_id])
        .await;
    let refused = check(
        bound_to(&app, &authorised, &[Scope::PaymentsInitiate]),
        access_id.to_string(),
    )
    .await
    .unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_MISMATCH");
    server.stop().await;
}

#[tokio::test]
async fn the_expiry_sweep_writes_down_expired_consents_with_their_events() {
    use pb::ConsentStatus as S;
    use wekeza_domain::ConsentStatus;

    let server = TestServer::start().await;
    let (app, token) = app_token(&server, &BOTH).await;
    let created_at = server_now(&server);
    let short = create(
        &server,
        &token,
        pb::CreateConsentRequest {
            expiration_time: Some(prost_types::Timestamp {
                seconds: (created_at + Duration::hours(1)).timestamp(),
                nanos: 0,
            }),
            ..account_access(&[pb::Permission::ReadAccounts])
        },
    )
    .await;
    let payment = post_consent(&server, &token, Some("p"), &payment_body("10.00")).await;
    let payment: Value = payment.json().await.unwrap();
    let payment = payment["consentId"].as_str().unwrap().to_owned();
    let authorised = create(
        &server,
        &token,
        pb::CreateConsentRequest {
            expiration_time: Some(prost_types::Timestamp {
                seconds: (created_at + Duration::hours(2)).timestamp(),
                nanos: 0,
            }),
            ..account_access(&[pb::Permission::ReadAccounts])
        },
    )
    .await;
    let customer = server.customer("user_student").await;
    let accounts = server.account_ids(&customer).await;
    let authorised_id: ConsentId = authorised.consent_id.parse().unwrap();
    server
        .authorise_consent(&authorised_id, "user_student", &accounts[..1])
        .await;
    let lasting = create(
        &server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;

    let sweeper = wekeza_consent::ExpirySweeper::new(
        server.database.conn().clone(),
        std::sync::Arc::new(server.clock.clone()),
    );
    assert_eq!(
        sweeper.sweep_once(server_now(&server)).await.unwrap(),
        0,
        "nothing is due yet"
    );

    server.clock.advance(Duration::hours(3));
    let swept_at = server_now(&server);
    assert_eq!(sweeper.sweep_once(swept_at).await.unwrap(), 3);

    let stored = |id: &str| {
        let id: ConsentId = id.parse().unwrap();
        let db = server.database.conn().clone();
        async move {
            wekeza_store::consents::find(&db, &id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let expected = [
        (
            short.consent_id.as_str(),
            S::AwaitingAuthorisation,
            pb::ConsentType::AccountAccess,
        ),
        (
            payment.as_str(),
            S::AwaitingAuthorisation,
            pb::ConsentType::Payment,
        ),
        (
            authorised.consent_id.as_str(),
            S::Authorised,
            pb::ConsentType::AccountAccess,
        ),
    ];
    let mut outbox = Vec::new();
    for (id, previous, kind) in expected {
        let consent = stored(id).await;
        assert_eq!(consent.status, ConsentStatus::Expired, "{id}");
        assert_eq!(
            consent.status_updated_at, consent.expires_at,
            "expired at its time"
        );
        let events = events(&server, id).await;
        let (row, event) = events.last().unwrap();
        assert_eq!(row.event_type, "consent.status_changed");
        assert_eq!(row.subject, "wekeza.events.consent.status_changed");
        assert_eq!(event.r#type, row.event_type);
        assert_eq!(event.event_id, row.id);
        assert_eq!(
            event.create_time.map(|t| t.seconds),
            Some(swept_at.timestamp())
        );
        let change = status_change(event);
        assert_eq!(change.consent_id, id);
        assert_eq!(change.client_id, app.app_id.as_str());
        assert_eq!(change.consent_type, kind as i32);
        assert_eq!(change.previous_status, previous as i32);
        assert_eq!(change.status, S::Expired as i32);
        assert_eq!(
            change.change_time.map(|t| t.seconds),
            Some(consent.expires_at.timestamp())
        );
        outbox.push(events.len());
    }
    assert_eq!(
        stored(&lasting.consent_id).await.status,
        ConsentStatus::AwaitingAuthorisation,
        "a consent not yet due is untouched"
    );
    assert_eq!(events(&server, &lasting.consent_id).await.len(), 1);

    // A second sweep finds nothing left to do and writes no event.
    assert_eq!(sweeper.sweep_once(server_now(&server)).await.unwrap(), 0);
    for ((id, _, _), count) in expected.iter().zip(outbox) {
        assert_eq!(events(&server, id).await.len(), count);
    }
    server.stop().await;
}

/// The buses the platform can run on: in-process always, and NATS JetStream when
/// `WEKEZA_TEST_NATS_URL` names a server (on a stream and subject root of the test's own): the
/// `wekeza.toml` overrides of each, and the JetStream stream to remove afterwards.
fn bus_configurations() -> Vec<(String, Option<(String, String)>)> {
    let mut configurations = vec![(String::new(), None)];
    if let Ok(url) = std::env::var("WEKEZA_TEST_NATS_URL") {
        let unique = ulid::Ulid::new().to_string().to_ascii_lowercase();
        let stream = format!("TEST_{unique}");
        let overrides = format!(
            "nats_url = \"{url}\"\n[nats]\nstream = \"{stream}\"\n\
             subject_root = \"test_{unique}.events\"\nmax_age_secs = 600\nack_wait_secs = 1\n"
        );
        configurations.push((overrides, Some((url, stream))));
    }
    configurations
}

#[tokio::test]
async fn committed_consent_changes_reach_the_platforms_bus_subscribers() {
    for (overrides, jetstream) in bus_configurations() {
        let server =
            TestServer::start_with(wekeza_store::testing::TestDatabase::new().await, &overrides)
                .await;
        consent_changes_are_published(&server).await;
        server.stop().await;
        if let Some((url, stream)) = jetstream {
            let client = async_nats::connect(url).await.unwrap();
            async_nats::jetstream::new(client)
                .delete_stream(stream)
                .await
                .unwrap();
        }
    }
}

async fn consent_changes_are_published(server: &TestServer) {
    let mut subscription = server
        .bus()
        .subscribe("consent-test", "wekeza.events.consent.*")
        .await
        .unwrap();
    let (_, token) = app_token(server, &BOTH).await;
    let consent = create(
        server,
        &token,
        account_access(&[pb::Permission::ReadAccounts]),
    )
    .await;
    let revoked = server
        .http
        .delete(format!(
            "{}/v1/consents/{}",
            server.base_url, consent.consent_id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);

    let mut statuses = Vec::new();
    for _ in 0..2 {
        let delivery =
            tokio::time::timeout(std::time::Duration::from_secs(10), subscription.next())
                .await
                .expect("the relay publishes within seconds")
                .unwrap();
        assert_eq!(
            delivery.envelope.kind(),
            Some(wekeza_events::EventType::ConsentStatusChanged)
        );
        let event = delivery.envelope.event().unwrap();
        assert_eq!(event.event_id, delivery.envelope.id.to_string());
        let change = status_change(&event).clone();
        assert_eq!(change.consent_id, consent.consent_id);
        statuses.push(change.status());
        delivery.ack().await.unwrap();
    }
    assert_eq!(
        statuses,
        [
            pb::ConsentStatus::AwaitingAuthorisation,
            pb::ConsentStatus::Revoked
        ]
    );
}
