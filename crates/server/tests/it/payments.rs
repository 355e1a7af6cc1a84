//! Payments through real REST and gRPC clients: the whole path from a payment consent to a
//! settled payment (balances and outbox events included), idempotency (also with a thousand
//! concurrent requests on one key), funds under concurrency, consent consumption, refusals
//! with distinct reasons, every sandbox magic value, ownership, and the settlement worker
//! picking up what a crash left behind.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Duration as TimeDelta;
use prost::Message;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Status};
use wekeza_domain::{
    AccountId, AppId, Clock, Consent, ConsentGrant, ConsentId, ConsentStatus, Creditor, NewPayment,
    Payment, PaymentId, Principal, Scope,
};
use wekeza_ledger::{CoreBanking, Settlement};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_proto::v1::payment_service_client::PaymentServiceClient;
use wekeza_sandbox_bank::InternalAccount;
use wekeza_store::entity::{holds, journals, outbox_events, payments as payment_rows};
use wekeza_store::testing::TestDatabase;
use wekeza_store::{TransactionTrait, consents};
use wekeza_testkit::TestServer;

use crate::rest::assert_problem;
use crate::support::{assert_reason, field_violations};

/// Jane Doe's account: the creditor of in-bank payments.
const JANE: &str = wekeza_sandbox_bank::seed::JANE_ACCOUNT_NUMBER;

/// Fraud policy under which every payment is allowed (the sandbox magic values still act):
/// for tests that make many payments from one customer, which the velocity rules would flag.
const ALLOW_ALL: &str = "[fraud]\npolicy = { step_up_threshold = 101, reject_threshold = 101 }\n";

/// How long a payment may take to settle before a test fails.
const SETTLE_WITHIN: Duration = Duration::from_secs(15);

/// A server with one app that may initiate payments.
struct Fixture {
    server: TestServer,
    app_id: AppId,
    app_token: String,
}

impl Fixture {
    async fn start() -> Self {
        Self::with(TestServer::start().await).await
    }

    async fn start_with(overrides: &str) -> Self {
        Self::with(TestServer::start_with(TestDatabase::new().await, overrides).await).await
    }

    async fn with(server: TestServer) -> Self {
        let app = server.app_principal(&[Scope::PaymentsInitiate]).await;
        let app_token = server.token_for(app.clone());
        Self {
            server,
            app_id: app.app_id,
            app_token,
        }
    }

    fn payments(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.server.channel())
    }

    /// A payment consent of the app, created over gRPC.
    async fn consent(&self, amount: &str, creditor: &str, account: &str) -> ConsentId {
        let request = pb::CreateConsentRequest {
            r#type: pb::ConsentType::Payment.into(),
            payment: Some(pb::PaymentDetails {
                instructed_amount: Some(pb::Money {
                    amount: amount.into(),
                    currency: "KES".into(),
                }),
                creditor: Some(pb::Creditor {
                    name: creditor.into(),
                    account_number: account.into(),
                }),
                reference: "Invoice 42".into(),
                debtor_account: None,
            }),
            ..Default::default()
        };
        let mut request = self.server.request(&self.app_token, request);
        request
            .metadata_mut()
            .insert("idempotency-key", fresh_key().parse().unwrap());
        let consent = ConsentServiceClient::new(self.server.channel())
            .create_consent(request)
            .await
            .unwrap()
            .into_inner()
            .consent
            .unwrap();
        consent.consent_id.parse().unwrap()
    }

    /// A payment consent to Jane authorised by `user_good` (no account chosen: the sandbox
    /// shortcut), and a customer token bound to it.
    async fn authorised(&self, amount: &str) -> (ConsentId, String) {
        self.authorised_to(amount, "Jane Doe", JANE).await
    }

    async fn authorised_to(
        &self,
        amount: &str,
        creditor: &str,
        account: &str,
    ) -> (ConsentId, String) {
        let id = self.consent(amount, creditor, account).await;
        let consent = self.server.authorise_consent(&id, "user_good", &[]).await;
        (id, self.token(&consent))
    }

    /// A customer token of this app bound to `consent`.
    fn token(&self, consent: &Consent) -> String {
        self.server.token_for(Principal {
            app_id: self.app_id.clone(),
            scopes: BTreeSet::from([Scope::PaymentsInitiate]),
            customer_id: consent.customer_id.clone(),
            consent: Some(ConsentGrant {
                consent_id: consent.id.clone(),
                account_ids: consent.account_ids.clone(),
                permissions: BTreeSet::new(),
            }),
            step_up_at: None,
        })
    }

    /// A customer token of this app bound to the consent `id` as stored (authorised or not),
    /// for `user_good`.
    async fn token_for_stored(&self, id: &ConsentId) -> String {
        let mut consent = consents::find(self.server.database.conn(), id)
            .await
            .unwrap()
            .unwrap();
        consent.customer_id = Some(self.server.customer("user_good").await.id);
        self.token(&consent)
    }

    /// Creates a payment over gRPC with the FAPI customer headers.
    async fn pay(
        &self,
        token: &str,
        key: &str,
        consent: &ConsentId,
    ) -> Result<pb::Payment, Status> {
        self.pay_with(token, key, only(consent)).await
    }

    async fn pay_with(
        &self,
        token: &str,
        key: &str,
        body: pb::CreatePaymentRequest,
    ) -> Result<pb::Payment, Status> {
        self.payments()
            .create_payment(keyed(&self.server, token, key, body))
            .await
            .map(|response| response.into_inner().payment.unwrap())
    }

    /// Creates a payment over REST.
    async fn pay_rest(&self, token: &str, key: &str, body: &Value) -> reqwest::Response {
        self.server
            .http
            .post(format!("{}/v1/payments", self.server.base_url))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("x-fapi-customer-ip-address", "198.51.100.23")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
            )
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, token: &str, id: &str) -> Result<pb::Payment, Status> {
        self.payments()
            .get_payment(self.server.request(
                token,
                pb::GetPaymentRequest {
                    payment_id: id.to_owned(),
                },
            ))
            .await
            .map(|response| response.into_inner().payment.unwrap())
    }

    /// The payment once it reached a final status (polled, within [`SETTLE_WITHIN`]).
    async fn settled(&self, id: &str) -> pb::Payment {
        let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
        loop {
            let payment = self.get(&self.app_token, id).await.unwrap();
            let status = payment.status();
            if status == pb::PaymentStatus::AcceptedSettlementCompleted
                || status == pb::PaymentStatus::Rejected
            {
                return payment;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} still {status:?} after {SETTLE_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no payment is left unfinished.
    async fn all_settled(&self) {
        let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
        loop {
            let unfinished =
                wekeza_store::payments::unfinished(self.server.database.conn(), None, 1)
                    .await
                    .unwrap();
            if unfinished.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "payments left unsettled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `(booked, held)` of an account, in minor units.
    async fn funds(&self, account: &AccountId) -> (i64, i64) {
        let row = wekeza_store::accounts::find(self.server.database.conn(), account)
            .await
            .unwrap()
            .unwrap();
        (row.booked_minor, row.held_minor)
    }

    async fn user_good_current(&self) -> AccountId {
        let customer = self.server.customer("user_good").await;
        self.server.account_ids(&customer).await[0].clone()
    }

    async fn jane(&self) -> AccountId {
        self.server
            .ledger()
            .account_by_number(JANE)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn consent_status(&self, id: &ConsentId) -> ConsentStatus {
        consents::find(self.server.database.conn(), id)
            .await
            .unwrap()
            .unwrap()
            .status
    }
}

fn fresh_key() -> String {
    ulid::Ulid::new().to_string()
}

fn only(consent: &ConsentId) -> pb::CreatePaymentRequest {
    pb::CreatePaymentRequest {
        consent_id: consent.to_string(),
        ..Default::default()
    }
}

/// A tonic request with a bearer token, an `Idempotency-Key` and the FAPI customer IP.
fn keyed<T>(server: &TestServer, token: &str, key: &str, message: T) -> tonic::Request<T> {
    let mut request = server.request(token, message);
    let metadata = request.metadata_mut();
    metadata.insert("idempotency-key", key.parse().unwrap());
    metadata.insert(
        "x-fapi-customer-ip-address",
        "198.51.100.23".parse().unwrap(),
    );
    request
}

/// The stored events of the given aggregates, oldest first: `(type, aggregate, event)`.
pub(crate) async fn events(
    server: &TestServer,
    aggregates: &[&str],
) -> Vec<(String, String, pb::Event)> {
    outbox_events::Entity::find()
        .filter(outbox_events::Column::AggregateId.is_in(aggregates.iter().copied()))
        .order_by_asc(outbox_events::Column::Id)
        .all(server.database.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let event = pb::Event::decode(row.payload.as_slice()).unwrap();
            assert_eq!(event.r#type, row.event_type);
            assert_eq!(row.subject, format!("wekeza.events.{}", row.event_type));
            (row.event_type, row.aggregate_id, event)
        })
        .collect()
}

/// The `(previous, status)` of every `payment.status_changed` of `payment`, in order.
async fn payment_changes(server: &TestServer, payment: &str) -> Vec<(i32, i32, String)> {
    events(server, &[payment])
        .await
        .into_iter()
        .map(|(_, _, event)| match event.payload {
            Some(pb::event::Payload::PaymentStatusChanged(change)) => {
                (change.previous_status, change.status, change.status_reason)
            }
            other => panic!("not a payment change: {other:?}"),
        })
        .collect()
}

fn status(value: pb::PaymentStatus) -> i32 {
    value.into()
}

#[tokio::test]
async fn pays_end_to_end_over_rest_and_grpc() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let debtor = fixture.user_good_current().await;
    let jane = fixture.jane().await;
    let (debtor_before, _) = fixture.funds(&debtor).await;
    let (jane_before, _) = fixture.funds(&jane).await;

    // REST: create, answered PENDING with the funds on hold; then settled in the background.
    let (consent_id, token) = fixture.authorised("1500.00").await;
    let body = json!({ "consentId": consent_id.to_string() });
    let response = fixture.pay_rest(&token, "rest-1", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let created: Value = response.json().await.unwrap();
    assert!(created["paymentId"].as_str().unwrap().starts_with("pay_"));
    assert_eq!(created["status"], "PAYMENT_STATUS_PENDING");
    assert_eq!(created["consentId"], consent_id.as_str());
    assert_eq!(
        created["debtorAccountId"],
        debtor.as_str(),
        "the primary current account"
    );
    assert_eq!(
        created["instructedAmount"],
        json!({ "amount": "1500.00", "currency": "KES" })
    );
    assert_eq!(
        created["creditor"],
        json!({ "name": "Jane Doe", "accountNumber": JANE })
    );
    assert_eq!(created["reference"], "Invoice 42");
    let payment_id = created["paymentId"].as_str().unwrap().to_owned();

    let settled = fixture.settled(&payment_id).await;
    assert_eq!(
        settled.status(),
        pb::PaymentStatus::AcceptedSettlementCompleted
    );
    assert_eq!(settled.status_reason, "");
    let (status_code, read) = {
        let response = server
            .http
            .get(format!("{}/v1/payments/{payment_id}", server.base_url))
            .bearer_auth(&fixture.app_token)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status_code, StatusCode::OK);
    assert_eq!(
        read["status"],
        "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED"
    );
    assert_eq!(fixture.funds(&debtor).await, (debtor_before - 150_000, 0));
    assert_eq!(fixture.funds(&jane).await, (jane_before + 150_000, 0));
    assert_eq!(
        fixture.consent_status(&consent_id).await,
        ConsentStatus::Consumed
    );

    // The outbox holds every change, in order: the consent's lifecycle, the payment's, and
    // the postings' events between the payment's last two changes.
    let all = events(
        server,
        &[
            consent_id.as_str(),
            &payment_id,
            debtor.as_str(),
            jane.as_str(),
        ],
    )
    .await;
    let types: Vec<(&str, &str)> = all
        .iter()
        .map(|(kind, aggregate, _)| (kind.as_str(), aggregate.as_str()))
        .collect();
    let mut moved = [debtor.as_str(), jane.as_str()];
    moved.sort_unstable();
    assert_eq!(
        types,
        [
            ("consent.status_changed", consent_id.as_str()),
            ("consent.status_changed", consent_id.as_str()),
            ("consent.status_changed", consent_id.as_str()),
            ("payment.status_changed", payment_id.as_str()),
            ("payment.status_changed", payment_id.as_str()),
            ("account.transaction_created", debtor.as_str()),
            ("account.transaction_created", jane.as_str()),
            ("account.balance_changed", moved[0]),
            ("account.balance_changed", moved[1]),
            ("payment.status_changed", payment_id.as_str()),
        ]
    );
    assert_eq!(
        payment_changes(server, &payment_id).await,
        [
            (
                status(pb::PaymentStatus::Unspecified),
                status(pb::PaymentStatus::Pending),
                String::new()
            ),
            (
                status(pb::PaymentStatus::Pending),
                status(pb::PaymentStatus::AcceptedSettlementInProcess),
                String::new()
            ),
            (
                status(pb::PaymentStatus::AcceptedSettlementInProcess),
                status(pb::PaymentStatus::AcceptedSettlementCompleted),
                String::new()
            ),
        ]
    );
    let Some(pb::event::Payload::ConsentStatusChanged(consumed)) = &all[2].2.payload else {
        panic!("not a consent change: {:?}", all[2]);
    };
    assert_eq!(consumed.status(), pb::ConsentStatus::Consumed);
    assert_eq!(consumed.previous_status(), pb::ConsentStatus::Authorised);
    let Some(pb::event::Payload::AccountTransactionCreated(debit)) = &all[5].2.payload else {
        panic!("not a transaction: {:?}", all[5]);
    };
    assert_eq!(
        debit.credit_debit_indicator(),
        pb::CreditDebitIndicator::Debit
    );
    assert_eq!(debit.amount.as_ref().unwrap().amount, "1500.00");
    let balance_of_jane = all[7..9]
        .iter()
        .find_map(|(_, aggregate, event)| match &event.payload {
            Some(pb::event::Payload::AccountBalanceChanged(change))
                if aggregate == jane.as_str() =>
            {
                Some(change.clone())
            }
            _ => None,
        })
        .unwrap();
    let booked = balance_of_jane.booked.unwrap();
    assert_eq!(
        booked.amount.unwrap().amount,
        format!(
            "{}.{:02}",
            (jane_before + 150_000) / 100,
            (jane_before + 150_000) % 100
        )
    );

    // gRPC: the same path, read back over gRPC.
    let (consent_id, token) = fixture.authorised("250.50").await;
    let created = fixture.pay(&token, "grpc-1", &consent_id).await.unwrap();
    assert_eq!(created.status(), pb::PaymentStatus::Pending);
    let settled = fixture.settled(&created.payment_id).await;
    assert_eq!(
        settled.status(),
        pb::PaymentStatus::AcceptedSettlementCompleted
    );
    assert_eq!(settled.create_time, created.create_time);
    assert_eq!(fixture.funds(&debtor).await, (debtor_before - 175_050, 0));
    assert_eq!(fixture.funds(&jane).await, (jane_before + 175_050, 0));
    // The customer's statement shows the payment, to Jane, with its reference.
    let statement = server
        .ledger()
        .transactions(&debtor, &wekeza_ledger::TransactionQuery::default())
        .await
        .unwrap();
    assert_eq!(statement[0].amount.minor(), -25_050);
    assert_eq!(statement[0].reference, "Invoice 42");
    assert_eq!(statement[0].counterparty_name.as_deref(), Some("Jane Doe"));
    fixture.server.stop().await;
}

#[tokio::test]
async fn another_apps_payment_is_not_found() {
    let fixture = Fixture::start().await;
    let (consent_id, token) = fixture.authorised("10.00").await;
    let payment = fixture.pay(&token, "k", &consent_id).await.unwrap();
    let other = fixture.server.token_for(
        fixture
            .server
            .app_principal(&[Scope::PaymentsInitiate])
            .await,
    );
    let refused = fixture.get(&other, &payment.payment_id).await.unwrap_err();
    assert_reason(&refused, Code::NotFound, "NOT_FOUND");
    for id in [
        "pay_01jz0000000000000000000000",
        "nonsense",
        "acc_01jz0000000000000000000000",
    ] {
        let refused = fixture.get(&fixture.app_token, id).await.unwrap_err();
        assert_reason(&refused, Code::NotFound, "NOT_FOUND");
    }
    let response = fixture
        .server
        .http
        .get(format!(
            "{}/v1/payments/{}",
            fixture.server.base_url, payment.payment_id
        ))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "NOT_FOUND").await;
    // The customer's token is not the app's: reading needs the app's own token.
    let refused = fixture.get(&token, &payment.payment_id).await.unwrap_err();
    assert_reason(&refused, Code::PermissionDenied, "WRONG_CALLER");
    // Another app's customer token bound to this consent finds no consent either.
    let stranger = fixture.server.token_for(Principal {
        app_id: fixture
            .server
            .app_principal(&[Scope::PaymentsInitiate])
            .await
            .app_id,
        scopes: BTreeSet::from([Scope::PaymentsInitiate]),
        customer_id: Some(fixture.server.customer("user_good").await.id),
        consent: Some(ConsentGrant {
            consent_id: consent_id.clone(),
            account_ids: BTreeSet::new(),
            permissions: BTreeSet::new(),
        }),
        step_up_at: None,
    });
    let refused = fixture.pay(&stranger, "k", &consent_id).await.unwrap_err();
    assert_reason(&refused, Code::NotFound, "NOT_FOUND");
    fixture.server.stop().await;
}

#[tokio::test]
async fn same_key_and_body_replay_and_another_body_conflicts() {
    let fixture = Fixture::start().await;
    let (consent_id, token) = fixture.authorised("75.00").await;
    let body = json!({ "consentId": consent_id.to_string() });
    let first = fixture.pay_rest(&token, "idem-1", &body).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first = first.text().await.unwrap();
    fixture
        .settled(
            serde_json::from_str::<Value>(&first).unwrap()["paymentId"]
                .as_str()
                .unwrap(),
        )
        .await;
    // Replayed after the consent was consumed and the payment settled: the original answer.
    let again = fixture.pay_rest(&token, "idem-1", &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.text().await.unwrap(), first, "byte for byte");
    // The same key over gRPC is the same request (the hash is over the protobuf bytes).
    let replayed = fixture.pay(&token, "idem-1", &consent_id).await.unwrap();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(replayed.payment_id, first["paymentId"].as_str().unwrap());
    assert_eq!(
        replayed.status(),
        pb::PaymentStatus::Pending,
        "as first answered"
    );

    // Another body with the key: refused first, whatever else is wrong with it.
    for other in [
        json!({ "consentId": consent_id.to_string(), "reference": "Invoice 42" }),
        json!({ "consentId": "cns_01jz0000000000000000000000" }),
        json!({ "consentId": consent_id.to_string(), "instructedAmount": { "amount": "1", "currency": "KES" } }),
    ] {
        let response = fixture.pay_rest(&token, "idem-1", &other).await;
        assert_problem(response, 409, "IDEMPOTENCY_KEY_REUSED").await;
    }
    // A fresh key on the consumed consent is a new request, refused on its merits.
    let refused = fixture
        .pay(&token, "idem-2", &consent_id)
        .await
        .unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_CONSUMED");
    // Keys are the app's: another app's key of the same name is another key.
    let rows = payment_rows::Entity::find()
        .count(fixture.server.database.conn())
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // A create without a key never reaches the service.
    let response = fixture
        .server
        .http
        .post(format!("{}/v1/payments", fixture.server.base_url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "IDEMPOTENCY_KEY_MISSING").await;
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_with_one_key_make_one_payment() {
    let fixture = Fixture::start().await;
    // More calls than the free plan's 1,000 a day: the app is on one without a daily limit.
    wekeza_store::plan_changes::change(
        fixture.server.database.conn(),
        &fixture.app_id,
        wekeza_store::apps::Plan::Enterprise,
        wekeza_testkit::test_now(),
    )
    .await
    .unwrap();
    let (consent_id, token) = fixture.authorised("120.00").await;
    let debtor = fixture.user_good_current().await;
    let (booked_before, _) = fixture.funds(&debtor).await;
    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..1000)
        .map(|_| {
            let mut client = fixture.payments();
            let request = keyed(&fixture.server, &token, "one-key", only(&consent_id));
            tokio::spawn(async move { client.create_payment(request).await })
        })
        .collect();
    let mut answers = BTreeSet::new();
    for request in requests {
        let payment = tokio::time::timeout(Duration::from_secs(120), request)
            .await
            .expect("answered in time")
            .unwrap()
            .unwrap_or_else(|status| panic!("{status:?}"))
            .into_inner();
        answers.insert(payment.encode_to_vec());
    }
    tracing::info!(elapsed = ?started.elapsed(), "1000 requests with one key");
    assert_eq!(answers.len(), 1, "every answer is the same");
    let rows = payment_rows::Entity::find()
        .filter(payment_rows::Column::ConsentId.eq(consent_id.as_str()))
        .count(fixture.server.database.conn())
        .await
        .unwrap();
    assert_eq!(rows, 1, "on {:?}", fixture.server.database.backend());
    let consumed = events(&fixture.server, &[consent_id.as_str()]).await;
    assert_eq!(consumed.len(), 3, "created, authorised, consumed: once");
    fixture.all_settled().await;
    assert_eq!(
        fixture.funds(&debtor).await,
        (booked_before - 12_000, 0),
        "debited once"
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_payments_with_funds_for_a_hundred() {
    let fixture = Fixture::start_with(ALLOW_ALL).await;
    let server = &fixture.server;
    let debtor = fixture.user_good_current().await;
    let account = wekeza_store::accounts::find(server.database.conn(), &debtor)
        .await
        .unwrap()
        .unwrap();
    let available = account.booked_minor - account.held_minor + account.overdraft_limit_minor;
    // Exactly 100 fit: 100·amount ≤ available < 101·amount.
    let amount = available / 100;
    assert!(amount > available % 100 && amount >= 100, "{available}");
    let decimal = format!("{}.{:02}", amount / 100, amount % 100);
    assert!(
        wekeza_fraud::sandbox::find(
            wekeza_domain::Money::parse(&decimal, "KES").unwrap(),
            "Jane Doe"
        )
        .is_none(),
        "{decimal} is a magic value"
    );

    // 200 consents, each authorised, each with its own token and key.
    let mut prepared = Vec::new();
    for _ in 0..200 {
        prepared.push(fixture.authorised(&decimal).await);
    }
    let started = std::time::Instant::now();
    let requests: Vec<_> = prepared
        .iter()
        .map(|(consent_id, token)| {
            let mut client = fixture.payments();
            let request = keyed(server, token, &fresh_key(), only(consent_id));
            tokio::spawn(async move { client.create_payment(request).await })
        })
        .collect();
    let mut accepted = 0;
    let mut refused = 0;
    for request in requests {
        match tokio::time::timeout(Duration::from_secs(120), request)
            .await
            .expect("answered in time")
            .unwrap()
        {
            Ok(_) => accepted += 1,
            Err(status) => {
                assert_reason(&status, Code::FailedPrecondition, "INSUFFICIENT_FUNDS");
                refused += 1;
            }
        }
    }
    tracing::info!(elapsed = ?started.elapsed(), "200 concurrent payments");
    assert_eq!(
        (accepted, refused),
        (100, 100),
        "on {:?}",
        server.database.backend()
    );
    fixture.all_settled().await;
    let after = wekeza_store::accounts::find(server.database.conn(), &debtor)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.booked_minor, account.booked_minor - 100 * amount);
    assert_eq!(after.held_minor, 0);
    assert!(after.booked_minor >= -after.overdraft_limit_minor);
    // No posting ever took the account below its limit.
    let statement = server
        .ledger()
        .transactions(
            &debtor,
            &wekeza_ledger::TransactionQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        statement
            .iter()
            .all(|t| t.balance_after.minor() >= -after.overdraft_limit_minor)
    );
    // The refused payments' consents stay authorised: the app may try again.
    let mut statuses = BTreeMap::new();
    for (consent_id, _) in &prepared {
        *statuses
            .entry(format!("{:?}", fixture.consent_status(consent_id).await))
            .or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([("Authorised".to_owned(), 100), ("Consumed".to_owned(), 100)])
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consent_is_consumed_once() {
    let fixture = Fixture::start().await;
    let (consent_id, token) = fixture.authorised("30.00").await;
    // Ten requests with different keys race for one consent: one payment.
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let mut client = fixture.payments();
            let request = keyed(&fixture.server, &token, &fresh_key(), only(&consent_id));
            tokio::spawn(async move { client.create_payment(request).await })
        })
        .collect();
    let mut accepted = 0;
    for request in requests {
        match request.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(status) => assert_reason(&status, Code::FailedPrecondition, "CONSENT_CONSUMED"),
        }
    }
    assert_eq!(accepted, 1);
    let refused = fixture
        .pay(&token, &fresh_key(), &consent_id)
        .await
        .unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_CONSUMED");
    fixture.server.stop().await;
}

#[tokio::test]
async fn unusable_consents_are_refused_with_distinct_reasons() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;

    // Awaiting authorisation.
    let pending = fixture.consent("10.00", "Jane Doe", JANE).await;
    let token = fixture.token_for_stored(&pending).await;
    let refused = fixture.pay(&token, "a", &pending).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_NOT_AUTHORISED");

    // Rejected by the customer.
    let rejected = fixture.consent("10.00", "Jane Doe", JANE).await;
    {
        let db = server.database.conn();
        let consent = consents::find(db, &rejected).await.unwrap().unwrap();
        let txn = db.begin().await.unwrap();
        let after = consent.clone().reject(server.clock.now()).unwrap();
        assert_eq!(
            wekeza_events::record::consent_transition(
                &txn,
                &consent,
                &after,
                "client",
                server.clock.now(),
            )
            .await
            .unwrap(),
            wekeza_events::record::StatusWrite::Applied
        );
        txn.commit().await.unwrap();
    }
    let token = fixture.token_for_stored(&rejected).await;
    let refused = fixture.pay(&token, "b", &rejected).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_REJECTED");

    // Revoked by the app.
    let (revoked, token) = fixture.authorised("10.00").await;
    ConsentServiceClient::new(server.channel())
        .revoke_consent(server.request(
            &fixture.app_token,
            pb::RevokeConsentRequest {
                consent_id: revoked.to_string(),
            },
        ))
        .await
        .unwrap();
    let refused = fixture.pay(&token, "c", &revoked).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_REVOKED");

    // Not a payment consent.
    let access = {
        let mut request = server.request(
            &server.token_for(Principal {
                app_id: fixture.app_id.clone(),
                scopes: BTreeSet::from([Scope::AccountsRead]),
                customer_id: None,
                consent: None,
                step_up_at: None,
            }),
            pb::CreateConsentRequest {
                r#type: pb::ConsentType::AccountAccess.into(),
                permissions: vec![pb::Permission::ReadAccounts.into()],
                ..Default::default()
            },
        );
        request
            .metadata_mut()
            .insert("idempotency-key", fresh_key().parse().unwrap());
        let created = ConsentServiceClient::new(server.channel())
            .create_consent(request)
            .await
            .unwrap()
            .into_inner()
            .consent
            .unwrap();
        let id: ConsentId = created.consent_id.parse().unwrap();
        let customer = server.customer("user_good").await;
        let accounts = server.account_ids(&customer).await;
        server.authorise_consent(&id, "user_good", &accounts).await
    };
    let refused = fixture
        .pay(&fixture.token(&access), "d", &access.id)
        .await
        .unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_MISMATCH");

    // A consent id that is not the token's.
    let (other, _) = fixture.authorised("10.00").await;
    let (_, token) = fixture.authorised("10.00").await;
    let refused = fixture.pay(&token, "e", &other).await.unwrap_err();
    assert_reason(&refused, Code::NotFound, "NOT_FOUND");
    let refused = fixture
        .pay_with(&token, "f", pb::CreatePaymentRequest::default())
        .await
        .unwrap_err();
    assert_reason(&refused, Code::InvalidArgument, "INVALID_REQUEST");

    // Expired: a payment consent is usable for ten minutes after its authorisation.
    let (expired, token) = fixture.authorised("10.00").await;
    server.clock.advance(TimeDelta::minutes(11));
    let refused = fixture.pay(&token, "g", &expired).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_EXPIRED");
    let response = fixture
        .pay_rest(&token, "h", &json!({ "consentId": expired.to_string() }))
        .await;
    assert_problem(response, 422, "CONSENT_EXPIRED").await;

    let rows = payment_rows::Entity::find()
        .count(server.database.conn())
        .await
        .unwrap();
    assert_eq!(rows, 0, "no refusal made a payment");
    fixture.server.stop().await;
}

#[tokio::test]
async fn fields_that_differ_from_the_consent_are_refused() {
    let fixture = Fixture::start().await;
    let (consent_id, token) = fixture.authorised("1500.00").await;
    let differing = pb::CreatePaymentRequest {
        consent_id: consent_id.to_string(),
        instructed_amount: Some(pb::Money {
            amount: "1500.01".into(),
            currency: "KES".into(),
        }),
        creditor: Some(pb::Creditor {
            name: "Jane Doe".into(),
            account_number: "01100099999".into(),
        }),
        reference: "Invoice 43".into(),
    };
    let refused = fixture.pay_with(&token, "a", differing).await.unwrap_err();
    assert_reason(&refused, Code::FailedPrecondition, "CONSENT_MISMATCH");
    assert_eq!(
        field_violations(&refused),
        ["instructed_amount", "creditor.account_number", "reference"]
    );
    let response = fixture
        .pay_rest(
            &token,
            "b",
            &json!({
                "consentId": consent_id.to_string(),
                "creditor": { "name": "Jane Roe", "accountNumber": JANE }
            }),
        )
        .await;
    let problem = assert_problem(response, 422, "CONSENT_MISMATCH").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("creditor.name"),
        "{problem}"
    );
    let response = fixture
        .pay_rest(
            &token,
            "c",
            &json!({
                "consentId": consent_id.to_string(),
                "instructedAmount": { "amount": "15,00", "currency": "KES" }
            }),
        )
        .await;
    assert_problem(response, 400, "INVALID_REQUEST").await;
    // Repeating the consent exactly is fine.
    let same = pb::CreatePaymentRequest {
        consent_id: consent_id.to_string(),
        instructed_amount: Some(pb::Money {
            amount: "1500".into(),
            currency: "KES".into(),
        }),
        creditor: Some(pb::Creditor {
            name: "Jane Doe".into(),
            account_number: JANE.into(),
        }),
        reference: "Invoice 42".into(),
    };
    let payment = fixture.pay_with(&token, "d", same).await.unwrap();
    assert_eq!(payment.status(), pb::PaymentStatus::Pending);
    fixture.server.stop().await;
}

#[tokio::test]
async fn every_sandbox_magic_value_takes_its_path() {
    let fixture = Fixture::start().await;
    let debtor = fixture.user_good_current().await;
    let (booked_before, _) = fixture.funds(&debtor).await;

    for (amount, creditor, code, reason) in [
        (
            "13.13",
            "Jane Doe",
            Code::FailedPrecondition,
            "FRAUD_SUSPECTED",
        ),
        (
            "10.00",
            "Fraudster Ltd",
            Code::FailedPrecondition,
            "FRAUD_SUSPECTED",
        ),
        (
            "42.42",
            "Jane Doe",
            Code::FailedPrecondition,
            "STEP_UP_REQUIRED",
        ),
        (
            "99.99",
            "Jane Doe",
            Code::FailedPrecondition,
            "INSUFFICIENT_FUNDS",
        ),
    ] {
        let (consent_id, token) = fixture.authorised_to(amount, creditor, JANE).await;
        let refused = fixture.pay(&token, "magic", &consent_id).await.unwrap_err();
        assert_reason(&refused, code, reason);
        assert!(
            !refused.message().contains("SANDBOX_MAGIC"),
            "reasons stay in the audit log"
        );
        // Nothing was written: the consent is still authorised and the key still free, so the
        // same request is decided again, not replayed.
        assert_eq!(
            fixture.consent_status(&consent_id).await,
            ConsentStatus::Authorised
        );
        let again = fixture.pay(&token, "magic", &consent_id).await.unwrap_err();
        assert_reason(&again, code, reason);
    }
    let response = {
        let (consent_id, token) = fixture.authorised("13.13").await;
        fixture
            .pay_rest(
                &token,
                "rest",
                &json!({ "consentId": consent_id.to_string() }),
            )
            .await
    };
    assert_problem(response, 422, "FRAUD_SUSPECTED").await;
    assert_eq!(
        payment_rows::Entity::find()
            .count(fixture.server.database.conn())
            .await
            .unwrap(),
        0
    );

    // 66.66: accepted with its hold, then the settlement fails and the hold is released.
    let (consent_id, token) = fixture.authorised("66.66").await;
    let created = fixture.pay(&token, "fails", &consent_id).await.unwrap();
    assert_eq!(created.status(), pb::PaymentStatus::Pending);
    let settled = fixture.settled(&created.payment_id).await;
    assert_eq!(settled.status(), pb::PaymentStatus::Rejected);
    assert_eq!(settled.status_reason, "SETTLEMENT_FAILED");
    assert_eq!(
        fixture.funds(&debtor).await,
        (booked_before, 0),
        "nothing moved, hold released"
    );
    let hold = holds::Entity::find_by_id(created.payment_id.clone())
        .one(fixture.server.database.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        hold.status,
        wekeza_store::entity::enums::HoldStatus::Released
    );
    assert_eq!(
        payment_changes(&fixture.server, &created.payment_id).await,
        [
            (
                status(pb::PaymentStatus::Unspecified),
                status(pb::PaymentStatus::Pending),
                String::new()
            ),
            (
                status(pb::PaymentStatus::Pending),
                status(pb::PaymentStatus::AcceptedSettlementInProcess),
                String::new()
            ),
            (
                status(pb::PaymentStatus::AcceptedSettlementInProcess),
                status(pb::PaymentStatus::Rejected),
                "SETTLEMENT_FAILED".to_owned()
            ),
        ]
    );
    assert!(
        events(&fixture.server, &[debtor.as_str()]).await.is_empty(),
        "no posting, no account event"
    );
    fixture.server.stop().await;
}

#[tokio::test]
async fn payments_out_of_the_bank_go_through_clearing() {
    let fixture = Fixture::start().await;
    let debtor = fixture.user_good_current().await;
    let clearing = fixture
        .server
        .ledger()
        .internal_account(InternalAccount::Clearing, wekeza_domain::Currency::Kes)
        .await
        .unwrap();
    let (debtor_before, _) = fixture.funds(&debtor).await;
    let (clearing_before, _) = fixture.funds(&clearing).await;
    let (consent_id, token) = fixture
        .authorised_to("500.00", "Acme Supplies", "22200033344")
        .await;
    let created = fixture.pay(&token, "out", &consent_id).await.unwrap();
    let settled = fixture.settled(&created.payment_id).await;
    assert_eq!(
        settled.status(),
        pb::PaymentStatus::AcceptedSettlementCompleted
    );
    assert_eq!(fixture.funds(&debtor).await.0, debtor_before - 50_000);
    assert_eq!(fixture.funds(&clearing).await.0, clearing_before + 50_000);
    // Internal accounts have no events: only the debtor's two.
    let account_events = events(&fixture.server, &[debtor.as_str(), clearing.as_str()]).await;
    let kinds: Vec<&str> = account_events
        .iter()
        .map(|(kind, _, _)| kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["account.transaction_created", "account.balance_changed"]
    );
    fixture.server.stop().await;
}

#[tokio::test]
async fn payments_a_crash_left_behind_are_settled_once() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let debtor = fixture.user_good_current().await;
    let jane = fixture.jane().await;
    let (debtor_before, _) = fixture.funds(&debtor).await;

    // As if the server crashed right after a create committed: the consent consumed, the
    // funds held and the payment PENDING — but no worker was told.
    let id = fixture.consent("40.00", "Jane Doe", JANE).await;
    let consent = server.authorise_consent(&id, "user_good", &[]).await;
    let now = server.clock.now();
    let payment = Payment::new(
        NewPayment {
            id: PaymentId::new_monotonic(now),
            app_id: fixture.app_id.clone(),
            consent_id: id.clone(),
            customer_id: consent.customer_id.clone().unwrap(),
            debtor_account_id: debtor.clone(),
            amount: wekeza_domain::Money::parse("40.00", "KES").unwrap(),
            creditor: Creditor {
                name: "Jane Doe".into(),
                account_number: JANE.into(),
            },
            reference: "Invoice 42".into(),
        },
        now,
    );
    {
        let txn = server.database.conn().begin().await.unwrap();
        let consumed = consent.clone().consume(now).unwrap();
        let applied = consents::update_status(&txn, &consumed, ConsentStatus::Authorised)
            .await
            .unwrap();
        assert_eq!(applied, consents::StatusWrite::Applied);
        let placed =
            wekeza_store::holds::place(&txn, payment.id.as_str(), &debtor, payment.amount, now)
                .await
                .unwrap();
        assert_eq!(placed, wekeza_store::holds::Placement::Placed);
        wekeza_events::record::payment_created(&txn, &payment, "client", now)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    // …and as if it crashed again after the ledger posted it but before the payment moved on:
    // settling again answers the same journal, never a second one.
    let settlement = Settlement {
        creditor_account_number: JANE.into(),
        creditor_name: "Jane Doe".into(),
        reference: "Invoice 42".into(),
    };
    let first = server
        .ledger()
        .settle_hold(payment.id.as_str(), &settlement)
        .await
        .unwrap();
    let second = server
        .ledger()
        .settle_hold(payment.id.as_str(), &settlement)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert!(matches!(
        server.ledger().release_hold(payment.id.as_str()).await,
        Err(wekeza_ledger::CoreBankingError::HoldNotActive)
    ));

    // The worker's periodic round finds the payment and finishes it without posting again.
    let settled = fixture.settled(payment.id.as_str()).await;
    assert_eq!(
        settled.status(),
        pb::PaymentStatus::AcceptedSettlementCompleted
    );
    let journals = journals::Entity::find()
        .filter(journals::Column::ExternalReference.eq(payment.id.as_str()))
        .count(server.database.conn())
        .await
        .unwrap();
    assert_eq!(journals, 1);
    assert_eq!(fixture.funds(&debtor).await, (debtor_before - 4_000, 0));
    let jane_events = events(server, &[jane.as_str()]).await;
    assert_eq!(jane_events.len(), 2, "one transaction, one balance change");
    fixture.server.stop().await;
}
