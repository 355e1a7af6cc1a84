//! The webhook-latency scenario: how long after a payment's status changes its app hears of it.
//!
//! What a user gets, end to end: the release `wekeza` binary as its own process
//! ([`WekezaServer`]) on the event bus of a NATS server of the bench's own ([`Broker`]; the
//! in-process bus, said so in the report, when `nats-server` is not installed) and on
//! PostgreSQL when `WEKEZA_BENCH_DATABASE_URL` names a server (else SQLite). The app is
//! registered with `wekeza apps create`; its endpoint, subscribed to `payment.status_changed`,
//! is a receiver in this process ([`Inbox`]) that checks every signature. Each payment has its
//! own consent, authorised through the sandbox's shortcut and exchanged for a token at the token
//! endpoint, all prepared before the load. Payments are then created over REST at a steady
//! rate, open loop (each at its scheduled time, whether or not earlier ones have been answered).
//!
//! Measured per delivered event: from the status change (the event's `createTime`) to its
//! receipt, for the three changes of every payment made after the warm-up (PENDING,
//! IN_PROCESS, COMPLETED). Both times are read from this machine's clock. The change's time is
//! taken inside its transaction, so this also counts the rest of that transaction up to its
//! commit: an upper bound of commit → receipt. A lower bound, for PENDING, is what the client
//! sees: from reading the payment's 200 (sent after the commit) to the webhook. The stages are
//! read from the server's database afterwards: change → published on the bus (the outbox
//! relay, the commit included) → queued for the endpoint (the fan-out) → attempted (the
//! sender) → received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Sha256;
use wekeza_events::testing::Broker;
use wekeza_store::entity::{outbox_events, webhook_attempts, webhook_deliveries};
use wekeza_store::testing::TestDatabase;

use crate::servers::{Setup, WekezaServer};

/// Payments created per second: the goal's rate, unless `WEKEZA_BENCH_PAYMENT_RATE` says
/// otherwise (to find where latency turns).
const RATE: u32 = 200;
const RATE_VAR: &str = "WEKEZA_BENCH_PAYMENT_RATE";
/// How long payments are created before the measured ones (connections, caches, the JIT of
/// nothing: just the server reaching its steady state).
const WARMUP: Duration = Duration::from_secs(3);
/// How long the measured payments are created for.
const DURATION: Duration = Duration::from_secs(15);
/// How long the receiver may take to hear of every change after the last payment.
const CATCH_UP: Duration = Duration::from_secs(90);
/// Consents prepared at once.
const PREPARE_CONCURRENCY: usize = 32;
/// Who pays, in turn (each has KES current accounts with funds for every payment).
const PAYERS: [&str; 3] = ["user_good", "user_business", "user_traveller"];
/// The app's redirect URI (the sandbox shortcut answers the code without following it).
const REDIRECT: &str = "https://bench.wekeza.invalid/callback";
/// The app's scopes: payments, and its webhook endpoints.
const SCOPES: &str = "payments.initiate webhooks.manage";
/// Every payment allowed by the fraud checks and no velocity rule (one payer makes thousands
/// of payments a minute here): the rules still run.
const CONFIG: &str = "[fraud]\npolicy = { step_up_threshold = 101, reject_threshold = 101 }\n\
                      [fraud.rules]\nvelocity_count = []\nvelocity_sum = []\n";
/// The statuses each payment goes through, in order.
const STATUSES: [&str; 3] = [
    "PAYMENT_STATUS_PENDING",
    "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_IN_PROCESS",
    "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED",
];

/// One event as the receiver first got it.
#[derive(Debug, Clone)]
struct Receipt {
    payment_id: String,
    /// The status the payment changed to.
    status: String,
    /// The status change's commit, from the event.
    committed: DateTime<Utc>,
    received: DateTime<Utc>,
}

/// The receiver's record: the first receipt of each `webhook-id`, and how many requests
/// carried no valid signature or a repeated id.
#[derive(Debug, Default)]
struct Inbox {
    secret: Vec<u8>,
    receipts: Mutex<HashMap<String, Receipt>>,
    repeats: Mutex<u64>,
    forged: Mutex<u64>,
}

impl Inbox {
    /// Whether `signatures` hold a Standard Webhooks `v1` signature of `id.timestamp.body`
    /// by the endpoint's secret (compared in constant time by `verify_slice`).
    fn verified(&self, id: &str, timestamp: &str, signatures: &str, body: &[u8]) -> bool {
        signatures
            .split(' ')
            .filter_map(|signature| signature.strip_prefix("v1,"))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
            .any(|signature| {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
                    return false;
                };
                mac.update(format!("{id}.{timestamp}.").as_bytes());
                mac.update(body);
                mac.verify_slice(&signature).is_ok()
            })
    }

    /// Records one delivery; answers 204, or 400 when it is not a signed payment event.
    fn receive(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        let received = Utc::now();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
        };
        let id = header("webhook-id");
        if !self.verified(
            id,
            header("webhook-timestamp"),
            header("webhook-signature"),
            body,
        ) {
            *self.forged.lock().unwrap() += 1;
            return StatusCode::BAD_REQUEST;
        }
        let Ok(event) = serde_json::from_slice::<Value>(body) else {
            return StatusCode::BAD_REQUEST;
        };
        let change = &event["paymentStatusChanged"];
        let (Some(payment_id), Some(committed)) = (
            change["paymentId"].as_str(),
            event["createTime"]
                .as_str()
                .and_then(|time| DateTime::parse_from_rfc3339(time).ok()),
        ) else {
            return StatusCode::BAD_REQUEST;
        };
        let receipt = Receipt {
            payment_id: payment_id.to_owned(),
            status: change["status"].as_str().unwrap_or_default().to_owned(),
            committed: committed.with_timezone(&Utc),
            received,
        };
        let mut receipts = self.receipts.lock().unwrap();
        if receipts.insert(id.to_owned(), receipt).is_some() {
            *self.repeats.lock().unwrap() += 1;
        }
        StatusCode::NO_CONTENT
    }

    fn count(&self) -> usize {
        self.receipts.lock().unwrap().len()
    }
}

/// Serves `inbox` on `listener` until the bench ends.
fn serve(listener: tokio::net::TcpListener, inbox: Arc<Inbox>) {
    let app =
        axum::Router::new()
            .route(
                "/webhooks",
                axum::routing::post(
                    |State(inbox): State<Arc<Inbox>>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        inbox.receive(&headers, &body)
                    },
                ),
            )
            .with_state(inbox);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// What the scenario measured.
pub(crate) struct WebhookLatency {
    /// Where it ran: the bus and the database.
    pub(crate) setup: String,
    /// Payments asked for per second.
    rate: u32,
    /// Payments asked for, and those acknowledged (200).
    pub(crate) payments: usize,
    pub(crate) acknowledged: usize,
    /// Payment requests' own latency, milliseconds, sorted.
    create_ms: Vec<f64>,
    /// Status changes of measured payments expected at the receiver, and received.
    pub(crate) expected: usize,
    pub(crate) received: usize,
    /// Repeated `webhook-id`s and deliveries without a valid signature.
    pub(crate) repeats: u64,
    pub(crate) forged: u64,
    /// Commit → receipt of each received change, milliseconds, sorted.
    latency_ms: Vec<f64>,
    /// For each PENDING change: the payment's 200 read by the client → the webhook received,
    /// milliseconds, sorted (below zero when the webhook came first).
    after_answer_ms: Vec<f64>,
    /// Each stage's durations, milliseconds, sorted: name, values.
    stages: Vec<(&'static str, Vec<f64>)>,
}

/// The `p`-th percentile of sorted `values`, `NaN` when empty.
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn millis(duration: chrono::Duration) -> f64 {
    duration.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

impl WebhookLatency {
    /// Prints the results.
    pub(crate) fn print(&self) {
        println!(
            "\nwebhook latency: {} payments/s over REST for {}s after {}s warm-up, on {}",
            self.rate,
            DURATION.as_secs(),
            WARMUP.as_secs(),
            self.setup
        );
        println!(
            "  payments: {} asked, {} acknowledged; CreatePayment p50 {:.1} ms, p99 {:.1} ms",
            self.payments,
            self.acknowledged,
            percentile(&self.create_ms, 50.0),
            percentile(&self.create_ms, 99.0)
        );
        println!(
            "  payment.status_changed of measured payments: {} expected, {} received \
             (signatures checked: {} invalid; {} repeated webhook-ids)",
            self.expected, self.received, self.forged, self.repeats
        );
        let line = |name: &str, values: &[f64]| {
            println!(
                "  {name:<38} p50 {:>8.1} ms   p90 {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms",
                percentile(values, 50.0),
                percentile(values, 90.0),
                percentile(values, 99.0),
                values.last().copied().unwrap_or(f64::NAN)
            );
        };
        line("change → webhook received", &self.latency_ms);
        line(
            "PENDING: 200 read → webhook received",
            &self.after_answer_ms,
        );
        for (name, values) in &self.stages {
            line(name, values);
        }
        let p99 = percentile(&self.latency_ms, 99.0);
        let verdict = if p99 <= 100.0 && self.received == self.expected && self.rate >= RATE {
            "met"
        } else {
            "NOT met"
        };
        println!("  goal p99 ≤ 100 ms at {RATE} payments/s with every change received: {verdict}");
    }
}

/// The payment consent each payment is made under (1 KES to Jane Doe).
fn payment_consent() -> Value {
    json!({
        "type": "CONSENT_TYPE_PAYMENT",
        "payment": {
            "instructedAmount": { "amount": "1.00", "currency": "KES" },
            "creditor": { "name": "Jane Doe", "accountNumber": "01100012345" },
            "reference": "Bench"
        }
    })
}

/// Runs the scenario.
pub(crate) async fn webhook_latency() -> WebhookLatency {
    let broker = Broker::installed().is_some().then(Broker::start);
    let database = match std::env::var(crate::scenarios::BENCH_DATABASE_VAR) {
        Ok(url) => Some(TestDatabase::postgres(url).await),
        Err(_) => None,
    };
    let setup = format!(
        "{}, {}",
        if broker.is_some() {
            "NATS JetStream (a nats-server of the bench's own)"
        } else {
            "the in-process bus (nats-server is not installed)"
        },
        if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let server = WekezaServer::start(Setup {
        database_url: database.as_ref().map(|database| database.url().to_owned()),
        nats_url: broker.as_ref().map(Broker::url),
        config: CONFIG,
        scopes: SCOPES,
        redirect_uri: Some(REDIRECT),
    })
    .await;
    let http = reqwest::Client::new();
    let app_token = server.app_token(&http, SCOPES).await;

    // The receiver's socket, the app's endpoint there (subscribed to payment events), then
    // the receiver with the endpoint's secret.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = crate::servers::answer(
        http.post(format!("{}/v1/webhook-endpoints", server.base_url))
            .bearer_auth(&app_token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({
                "url": format!("http://{}/webhooks", listener.local_addr().unwrap()),
                "eventTypes": ["payment.status_changed"],
            })),
    )
    .await;
    let secret = endpoint["signingSecret"]
        .as_str()
        .and_then(|secret| secret.strip_prefix("whsec_"))
        .and_then(|secret| STANDARD.decode(secret).ok())
        .unwrap_or_else(|| panic!("no endpoint: {endpoint}"));
    let inbox = Arc::new(Inbox {
        secret,
        ..Inbox::default()
    });
    serve(listener, inbox.clone());

    // Every payment's consent and token, before the load.
    let rate = std::env::var(RATE_VAR)
        .ok()
        .and_then(|rate| rate.parse().ok())
        .filter(|rate| *rate > 0)
        .unwrap_or(RATE);
    let warmup_payments = (u64::from(rate) * WARMUP.as_secs()) as usize;
    let total = warmup_payments + (u64::from(rate) * DURATION.as_secs()) as usize;
    let started = Instant::now();
    let mut prepared = Vec::with_capacity(total);
    for chunk in (0..total).collect::<Vec<_>>().chunks(PREPARE_CONCURRENCY) {
        prepared.extend(
            futures::future::join_all(chunk.iter().map(|&index| {
                server.consent_token(
                    &http,
                    &app_token,
                    PAYERS[index % PAYERS.len()],
                    REDIRECT,
                    payment_consent(),
                )
            }))
            .await,
        );
    }
    println!(
        "webhook latency: prepared {total} payment consents in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // The load: payment `i` is asked for at `i / rate` seconds, whatever came of the others.
    let begin = tokio::time::Instant::now();
    let period = Duration::from_secs(1) / rate;
    let mut requests = Vec::with_capacity(total);
    for (index, (consent_id, token)) in prepared.into_iter().enumerate() {
        tokio::time::sleep_until(begin + period * index as u32).await;
        let request = http
            .post(format!("{}/v1/payments", server.base_url))
            .bearer_auth(token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&json!({ "consentId": consent_id }))
            .send();
        requests.push(tokio::spawn(async move {
            let asked = Instant::now();
            let answer = match request.await {
                Ok(response) if response.status().is_success() => {
                    response.json::<Value>().await.ok()
                }
                _ => None,
            };
            let took = asked.elapsed().as_secs_f64() * 1000.0;
            let acknowledged = Utc::now();
            let payment_id = answer.and_then(|body| body["paymentId"].as_str().map(str::to_owned));
            (index, payment_id.map(|id| (id, acknowledged)), took)
        }));
    }
    let mut measured = Vec::new();
    let mut create_ms = Vec::new();
    let mut acknowledged = 0;
    for request in requests {
        let (index, payment, took) = request.await.unwrap();
        create_ms.push(took);
        if let Some(payment) = payment {
            acknowledged += 1;
            if index >= warmup_payments {
                measured.push(payment);
            }
        }
    }

    // Every change of every acknowledged payment, or the time is up.
    let everything = acknowledged * STATUSES.len();
    let deadline = Instant::now() + CATCH_UP;
    while inbox.count() < everything && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receipts = inbox.receipts.lock().unwrap().clone();
    let measured: HashMap<String, DateTime<Utc>> = measured.into_iter().collect();
    let of_measured: HashMap<&String, &Receipt> = receipts
        .iter()
        .filter(|(_, receipt)| measured.contains_key(&receipt.payment_id))
        .collect();
    let latency_ms = sorted(
        of_measured
            .values()
            .map(|receipt| millis(receipt.received - receipt.committed))
            .collect(),
    );
    let db = wekeza_store::connect(&server.database_url).await.unwrap();
    let stages = stages(&db, &of_measured).await;
    let after_answer_ms = sorted(
        of_measured
            .values()
            .filter(|receipt| receipt.status == STATUSES[0])
            .filter_map(|receipt| {
                Some(millis(
                    receipt.received - *measured.get(&receipt.payment_id)?,
                ))
            })
            .collect(),
    );
    let repeats = *inbox.repeats.lock().unwrap();
    let forged = *inbox.forged.lock().unwrap();
    drop(server);
    WebhookLatency {
        setup,
        rate,
        payments: total,
        acknowledged,
        create_ms: sorted(create_ms),
        expected: measured.len() * STATUSES.len(),
        received: of_measured.len(),
        repeats,
        forged,
        latency_ms,
        after_answer_ms,
        stages,
    }
}

/// The stages of each received event, from the server's database: change → published,
/// published → queued, queued → first attempt, first attempt → received.
async fn stages(
    db: &wekeza_store::DatabaseConnection,
    receipts: &HashMap<&String, &Receipt>,
) -> Vec<(&'static str, Vec<f64>)> {
    let published: HashMap<String, DateTime<Utc>> = outbox_events::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|event| Some((event.id, event.published_at?)))
        .collect();
    let deliveries = webhook_deliveries::Entity::find().all(db).await.unwrap();
    let attempted: HashMap<String, DateTime<Utc>> = webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::Number.eq(1))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|attempt| (attempt.delivery_id, attempt.attempted_at))
        .collect();
    let mut relay = Vec::new();
    let mut fan_out = Vec::new();
    let mut sender = Vec::new();
    let mut network = Vec::new();
    for delivery in deliveries {
        let (Some(receipt), Some(published), Some(attempted)) = (
            receipts.get(&delivery.event_id),
            published.get(&delivery.event_id),
            attempted.get(&delivery.id),
        ) else {
            continue;
        };
        relay.push(millis(*published - receipt.committed));
        fan_out.push(millis(delivery.created_at - *published));
        sender.push(millis(*attempted - delivery.created_at));
        network.push(millis(receipt.received - *attempted));
    }
    vec![
        ("  change → published (commit, relay)", sorted(relay)),
        ("  published → queued (fan-out)", sorted(fan_out)),
        ("  queued → attempted (sender)", sorted(sender)),
        ("  attempted → received (HTTP)", sorted(network)),
    ]
}
