//! The audit trail through the real server and the real binary: every call of a payment's
//! journey (real tokens, REST and gRPC) has its record with the right app, operation and
//! outcome, beside the consent's transitions, the tokens issued and the fraud decision; the
//! export holds no token or secret; records are flushed on a graceful stop; `wekeza audit
//! verify` passes a clean trail and names a changed or deleted record.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use wekeza_domain::{EventId, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::payment_service_client::PaymentServiceClient;
use wekeza_store::ConnectionTrait;
use wekeza_store::entity::outbox_events;
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::cli::{wekeza_runs, wekeza_succeeds};
use crate::identity_flow::{REDIRECT, TestApp, payment, pkce, register};

/// Every record at or after this time (the test clock starts later in 2026).
const SINCE: &str = "2026-01-01T00:00:00Z";

/// How long the writer may take to append a call's record.
const WRITTEN_WITHIN: Duration = Duration::from_secs(10);

/// A call the test made, and what its record must say.
#[derive(Debug)]
struct Call {
    request_id: String,
    operation: &'static str,
    http_status: u16,
}

/// Records the calls of a test, each with a request id of its own.
#[derive(Debug, Default)]
struct Calls(Vec<Call>);

impl Calls {
    /// Sends `request` with a fresh `x-request-id`; remembers the call; answers the status and
    /// the JSON body (`null` when empty).
    async fn send(
        &mut self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> (u16, Value) {
        let request_id = format!("req_{}", ulid::Ulid::new().to_string().to_lowercase());
        let response = request
            .header("x-request-id", &request_id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], request_id.as_str());
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.0.push(Call {
            request_id,
            operation,
            http_status: status,
        });
        (status, body)
    }
}

/// The whole trail, in chain order, as the export writes it.
async fn trail(server: &TestServer) -> Vec<Value> {
    let since = chrono::DateTime::parse_from_rfc3339(SINCE)
        .unwrap()
        .to_utc();
    wekeza_store::audit::since(server.database.conn(), since, 0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(wekeza_store::audit::AuditRecord::to_json)
        .collect()
}

/// The trail once every call of `calls` has its record (and `more` holds).
async fn trail_with(
    server: &TestServer,
    calls: &Calls,
    more: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WRITTEN_WITHIN;
    loop {
        let records = trail(server).await;
        let written = calls
            .0
            .iter()
            .all(|call| call_record(&records, &call.request_id).is_some());
        if written && more(&records) {
            return records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not written within {WRITTEN_WITHIN:?}: {records:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn call_record<'a>(records: &'a [Value], request_id: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|record| record["kind"] == "api_call" && record["details"]["requestId"] == request_id)
}

/// The records of `kind` about `field` = `value` in their details, as (action, record).
fn records_of<'a>(records: &'a [Value], kind: &str, field: &str, value: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|record| record["kind"] == kind && record["details"][field] == value)
        .collect()
}

/// The claims of an access token (a JWT).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn actions(records: &[&Value]) -> Vec<String> {
    records
        .iter()
        .map(|record| record["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_call_of_a_payment_has_its_record_beside_consents_tokens_and_the_fraud_decision() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::PaymentsInitiate]).await;
    let app_id = app.created.app.id.to_string();
    let customer = server.customer("user_good").await.id.to_string();
    let url = |path: &str| format!("{}{path}", server.base_url);
    let token_request = |app: &TestApp| {
        server
            .http
            .post(url("/oauth2/token"))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
    };
    let mut calls = Calls::default();

    // The app's own token, its payment consent, the customer's authorisation (the sandbox
    // shortcut) and the consent-bound token.
    let (status, body) = calls
        .send(
            "POST /oauth2/token",
            token_request(&app).form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let app_token = body["access_token"].as_str().unwrap().to_owned();
    let (status, body) = calls
        .send(
            "/wekeza.openbanking.v1.ConsentService/CreateConsent",
            server
                .http
                .post(url("/v1/consents"))
                .bearer_auth(&app_token)
                .header("idempotency-key", ulid::Ulid::new().to_string())
                .json(&payment("150.00", None)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let consent_id = body["consentId"].as_str().unwrap().to_owned();
    let create_payment = |token: &str| {
        server
            .http
            .post(url("/v1/payments"))
            .bearer_auth(token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "consentId": consent_id }))
    };
    let (verifier, challenge) = pkce();
    let (status, body) = calls
        .send(
            "/wekeza.openbanking.v1.SandboxService/AuthorizeConsent",
            server
                .http
                .post(url(&format!("/v1/sandbox/consents/{consent_id}:authorize")))
                .bearer_auth(&app_token)
                .json(&json!({
                    "username": "user_good",
                    "codeChallenge": challenge,
                    "codeChallengeMethod": "S256",
                    "redirectUri": REDIRECT,
                    "state": "xyz",
                })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    let (status, tokens) = calls
        .send(
            "POST /oauth2/token",
            token_request(&app).form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
                ("redirect_uri", REDIRECT),
            ]),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let customer_token = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The payment, read back, refused a second time; the customer's token read over gRPC,
    // refused (payments are read with the app's own token).
    let (status, body) = calls
        .send(
            "/wekeza.openbanking.v1.PaymentService/CreatePayment",
            create_payment(&customer_token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let payment_id = body["paymentId"].as_str().unwrap().to_owned();
    let (status, body) = calls
        .send(
            "/wekeza.openbanking.v1.PaymentService/GetPayment",
            server
                .http
                .get(url(&format!("/v1/payments/{payment_id}")))
                .bearer_auth(&app_token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = calls
        .send(
            "/wekeza.openbanking.v1.PaymentService/CreatePayment",
            create_payment(&customer_token),
        )
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (422, Some("CONSENT_CONSUMED"))
    );
    let grpc_request_id = format!("req_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut request = server.request(
        &customer_token,
        pb::GetPaymentRequest {
            payment_id: payment_id.clone(),
        },
    );
    request
        .metadata_mut()
        .insert("x-request-id", grpc_request_id.parse().unwrap());
    let refused = PaymentServiceClient::new(server.channel())
        .get_payment(request)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    let records = trail_with(&server, &calls, |records| {
        call_record(records, &grpc_request_id).is_some()
            && records_of(records, "consent", "consentId", &consent_id).len() == 3
    })
    .await;

    // Every call, with its app, operation and outcome; the customer's calls name the customer
    // and the consent.
    for call in &calls.0 {
        let record = call_record(&records, &call.request_id).unwrap();
        assert_eq!(record["action"], call.operation, "{record}");
        assert_eq!(record["appId"], app_id.as_str(), "{record}");
        assert_eq!(
            record["details"]["httpStatus"], call.http_status,
            "{record}"
        );
        assert!(record["details"]["latencyMicros"].as_i64().unwrap() > 0);
        assert_eq!(record["details"]["clientIp"], "127.0.0.1");
        assert!(record["details"]["interactionId"].is_string(), "{record}");
    }
    for call in calls
        .0
        .iter()
        .filter(|call| call.operation.ends_with("CreatePayment"))
    {
        let record = call_record(&records, &call.request_id).unwrap();
        assert_eq!(record["customerId"], customer.as_str(), "{record}");
        assert_eq!(record["details"]["consentId"], consent_id.as_str());
    }
    let grpc = call_record(&records, &grpc_request_id).unwrap();
    assert_eq!(
        grpc["action"],
        "/wekeza.openbanking.v1.PaymentService/GetPayment"
    );
    assert_eq!(grpc["details"]["grpcCode"], "PERMISSION_DENIED");
    assert_eq!(grpc["customerId"], customer.as_str());

    // The consent's transitions, from the outbox.
    let consent = records_of(&records, "consent", "consentId", &consent_id);
    assert_eq!(actions(&consent), ["created", "authorised", "consumed"]);
    assert!(
        consent
            .iter()
            .all(|record| record["appId"] == app_id.as_str())
    );
    assert_eq!(consent[1]["customerId"], customer.as_str());

    // The tokens issued: ids only.
    let issued: Vec<&Value> = records
        .iter()
        .filter(|record| record["kind"] == "token" && record["appId"] == app_id.as_str())
        .collect();
    let grants: Vec<(&str, &str)> = issued
        .iter()
        .map(|record| {
            (
                record["action"].as_str().unwrap(),
                record["details"]["grantType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            ("issued", "client_credentials"),
            ("issued", "client_credentials"),
            ("issued", "authorization_code"),
        ],
        "the helper's token, then the test's two"
    );
    let bound = issued[2];
    assert_eq!(bound["customerId"], customer.as_str());
    assert_eq!(bound["details"]["consentId"], consent_id.as_str());
    assert_eq!(bound["details"]["jti"], claims(&customer_token)["jti"]);
    let refresh_id = bound["details"]["refreshTokenId"].as_str().unwrap();
    assert!(wekeza_store::secret::sha256_hex(&refresh_token).starts_with(refresh_id));

    // The fraud decision, with its reasons.
    let fraud = records_of(&records, "fraud", "paymentId", &payment_id);
    assert_eq!(actions(&fraud), ["ALLOW"]);
    assert_eq!(fraud[0]["customerId"], customer.as_str());
    assert!(fraud[0]["details"]["reasons"].is_array());

    // The export, through the binary: JSON lines, in chain order, without a token or secret.
    let export = wekeza_succeeds(
        server.database.url(),
        &["audit", "export", "--since", SINCE],
    )
    .await
    .stdout;
    let export = String::from_utf8(export).unwrap();
    let lines: Vec<Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= records.len());
    assert!(
        lines
            .windows(2)
            .all(|pair| pair[1]["seq"].as_i64() > pair[0]["seq"].as_i64()
                && pair[1]["prevHash"] == pair[0]["hash"])
    );
    for secret in [
        app_token.as_str(),
        customer_token.as_str(),
        refresh_token.as_str(),
        app.created.client_secret.as_str(),
        code.as_str(),
        verifier.as_str(),
    ] {
        assert!(!export.contains(secret), "the export holds a secret");
    }
    let verified = wekeza_succeeds(server.database.url(), &["audit", "verify"]).await;
    assert!(String::from_utf8_lossy(&verified.stdout).contains("no broken link"));
}

#[tokio::test]
async fn a_graceful_stop_flushes_the_trail_and_verify_names_a_changed_or_deleted_record() {
    // A writer that appends only at start and at the stop. Its round at start is over once it
    // took the (published) outbox event left before the start.
    let database = TestDatabase::new().await;
    let now = wekeza_testkit::test_now();
    let left = OutboxEvent::new(
        EventId::new_monotonic(now),
        "payment.status_changed",
        "pay_x",
        Vec::new(),
        now,
    );
    outbox::append(database.conn(), left.clone()).await.unwrap();
    outbox::mark_published(database.conn(), &[left.id], now)
        .await
        .unwrap();
    let server = TestServer::start_with(database, "audit_flush_interval_ms = 3600000").await;
    let deadline = tokio::time::Instant::now() + WRITTEN_WITHIN;
    let taken = |audited: bool| {
        let db = server.database.conn().clone();
        async move {
            let column = outbox_events::Column::AuditedAt;
            let filter = if audited {
                column.is_not_null()
            } else {
                column.is_null()
            };
            outbox_events::Entity::find()
                .filter(filter)
                .count(&db)
                .await
                .unwrap()
        }
    };
    while taken(false).await > 0 || taken(true).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the start round took no event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut calls = Calls::default();
    for _ in 0..3 {
        let (status, _) = calls
            .send(
                "GET /.well-known/openid-configuration",
                server.http.get(format!(
                    "{}/.well-known/openid-configuration",
                    server.base_url
                )),
            )
            .await;
        assert_eq!(status, 200);
    }
    let before_stop = trail(&server).await;
    assert!(
        calls
            .0
            .iter()
            .all(|call| call_record(&before_stop, &call.request_id).is_none()),
        "nothing is written between the rounds"
    );
    // Stopped: the records were still queued, the writer's final flush wrote them.
    let database = server.stop_keeping_database().await;
    let db = database.conn();
    let url = database.url();
    let mut seqs = HashMap::new();
    let since = chrono::DateTime::parse_from_rfc3339(SINCE)
        .unwrap()
        .to_utc();
    for record in wekeza_store::audit::since(db, since, 0, 1_000)
        .await
        .unwrap()
    {
        let line = record.to_json();
        if let Some(request_id) = line["details"]["requestId"].as_str() {
            seqs.insert(request_id.to_owned(), record.seq);
        }
    }
    let seq: Vec<i64> = calls.0.iter().map(|call| seqs[&call.request_id]).collect();

    let clean = wekeza_runs(url, &["audit", "verify"]).await;
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );

    // One field changed directly in the database.
    db.execute_unprepared(&format!(
        "UPDATE audit_records SET action = 'GET /' WHERE seq = {}",
        seq[1]
    ))
    .await
    .unwrap();
    let changed = wekeza_runs(url, &["audit", "verify"]).await;
    assert!(!changed.status.success());
    let stderr = String::from_utf8_lossy(&changed.stderr);
    assert!(
        stderr.contains(&format!("record {}: content changed", seq[1])),
        "{stderr}"
    );

    // A record deleted, before the changed one.
    db.execute_unprepared(&format!("DELETE FROM audit_records WHERE seq = {}", seq[0]))
        .await
        .unwrap();
    let deleted = wekeza_runs(url, &["audit", "verify"]).await;
    assert!(!deleted.status.success());
    let stderr = String::from_utf8_lossy(&deleted.stderr);
    assert!(
        stderr.contains(&format!("record {}: missing", seq[0])),
        "{stderr}"
    );
}

#[tokio::test]
async fn operator_commands_are_recorded_without_the_secrets_they_print() {
    let database = TestDatabase::new().await;
    let created = wekeza_succeeds(
        database.url(),
        &["apps", "create", "--name", "Ledger lens", "--json"],
    )
    .await;
    let printed: Value = serde_json::from_slice(&created.stdout).unwrap();
    wekeza_succeeds(database.url(), &["keys", "rotate"]).await;
    let export = wekeza_succeeds(database.url(), &["audit", "export", "--since", SINCE]).await;
    let export = String::from_utf8(export.stdout).unwrap();
    let operator: Vec<Value> = export
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record["kind"] == "operator")
        .collect();
    let commands: Vec<&str> = operator
        .iter()
        .map(|record| record["action"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["apps create", "keys rotate"]);
    assert_eq!(operator[0]["appId"], printed["appId"]);
    for secret in ["clientSecret", "apiKey"] {
        let secret = printed[secret].as_str().unwrap();
        assert!(!export.contains(secret), "the export holds the {secret}");
    }
    let bad = wekeza_runs(database.url(), &["audit", "export", "--since", "yesterday"]).await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}
