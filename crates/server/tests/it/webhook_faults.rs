//! Webhook delivery through faults, each with a count of events expected and received: the NATS
//! server stopped for 30 s while payments keep arriving, and the `wekeza` binary killed with
//! SIGKILL while events are in flight and started again. The receiver verifies every delivery
//! with the `standardwebhooks` package and deduplicates by `webhook-id`; payments are made over
//! REST with real tokens.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use wekeza_events::testing::Broker;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::identity_flow::register_at;
use crate::process::ServerProcess;
use crate::receiver::Seen;
use crate::support::Api;
use crate::webhook_delivery::{
    WEBHOOK_APP_SCOPES, buses, nats_url, on_nats, pay, payment_consent, payment_statuses,
    subscribed_receiver, webhook_app,
};

/// How long the broker stays down.
const OUTAGE: Duration = Duration::from_secs(30);

/// How long delivery may take to catch up after a fault: the relay's retry backoff (at most
/// 30 s) plus the redelivery of unacknowledged messages and expired leases.
const CATCH_UP: Duration = Duration::from_secs(90);

/// The fraud rules that would turn these tests' ordinary payments into step-ups off: the
/// velocity rules (many payments of one customer within minutes), and the unusual hour (the
/// servers run on the wall clock, and these tests may run at night in East Africa).
pub(crate) const ORDINARY_PAYMENTS: &str = "[fraud.rules]\nvelocity_count = []\nvelocity_sum = []\n\
                                            unusual_hour = { points = 0 }\n";

/// The events a payment's webhooks tell of: its three statuses and its consent's consumption.
const EVENTS_PER_PAYMENT: usize = 4;

/// Whether `seen` holds the whole story of `(consent_id, payment_id)`: the payment PENDING →
/// IN_PROCESS → COMPLETED and the consent CONSUMED.
fn told_in_full(seen: &Seen, (consent_id, payment_id): &(String, String)) -> bool {
    payment_statuses(seen, payment_id)
        == [
            "PAYMENT_STATUS_PENDING",
            "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_IN_PROCESS",
            "PAYMENT_STATUS_ACCEPTED_SETTLEMENT_COMPLETED",
        ]
        && seen.of_type("consent.status_changed").iter().any(|event| {
            event.body["consentStatusChanged"]["consentId"] == consent_id.as_str()
                && event.body["consentStatusChanged"]["status"] == "CONSENT_STATUS_CONSUMED"
        })
}

/// Asserts that each state change reached the receiver under one `webhook-id`: a repeat is the
/// same event again, never a new event for the same change.
fn assert_one_id_per_change(seen: &Seen) {
    let mut ids: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for event in &seen.received {
        let change = event
            .body
            .get("paymentStatusChanged")
            .or_else(|| event.body.get("consentStatusChanged"));
        if let Some(change) = change {
            let subject = change
                .get("paymentId")
                .or_else(|| change.get("consentId"))
                .unwrap();
            ids.entry((subject.to_string(), change["status"].to_string()))
                .or_default()
                .insert(&event.id);
        }
    }
    for (change, ids) in ids {
        assert_eq!(
            ids.len(),
            1,
            "{change:?} arrived as different events: {ids:?}"
        );
    }
}

#[tokio::test]
async fn payments_succeed_while_nats_is_down_and_every_event_follows_when_it_returns() {
    if nats_url().is_none() {
        return; // NATS tests are off: the in-process bus has no broker to lose.
    }
    let mut broker = Broker::start();
    let config = format!("{}{ORDINARY_PAYMENTS}", on_nats(&broker.url()));
    let server = TestServer::start_with(TestDatabase::new().await, &config).await;
    let app = webhook_app(&server).await;
    let (receiver, _) = subscribed_receiver(&server, &app).await;
    let mut payments = vec![pay(&server, &app).await];
    receiver
        .wait_until("the first payment delivered", |seen| {
            told_in_full(seen, &payments[0])
        })
        .await;

    broker.kill();
    let down = Instant::now();
    // Every request of every payment must succeed: `pay` asserts each answer.
    while down.elapsed() < OUTAGE {
        payments.push(pay(&server, &app).await);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during = receiver.seen().await.received.len();
    broker.restart();

    // A payment's consent is created, authorised and consumed; the payment has three statuses.
    let expected = payments.len() * 6;
    let seen = receiver
        .wait_within(CATCH_UP, "every event of every payment", |seen| {
            seen.received.len() >= expected
                && payments.iter().all(|payment| told_in_full(seen, payment))
        })
        .await;
    println!(
        "NATS down {}s: {} payments, all accepted; {expected} events expected, {} received \
         ({during} before the broker returned), {} repeats",
        OUTAGE.as_secs(),
        payments.len(),
        seen.received.len(),
        seen.duplicates
    );
    assert_eq!(seen.received.len(), expected, "no event is invented");
    assert_eq!(seen.rejected, 0, "every delivery verifies");
    assert_one_id_per_change(&seen);
    server.stop().await;
}

/// Starts a payment of a prepared consent and does not wait for it: answers the consent id and
/// what the payment request came to — the payment id once acknowledged, `None` when the
/// server died first.
fn pay_in_flight(
    server: &impl Api,
    (consent_id, token): (String, String),
) -> tokio::task::JoinHandle<(String, Option<String>)> {
    let request = server
        .http()
        .post(format!("{}/v1/payments", server.base_url()))
        .bearer_auth(token)
        .header("idempotency-key", ulid::Ulid::new().to_string())
        .json(&json!({ "consentId": consent_id }));
    tokio::spawn(async move {
        let answer = match request.send().await {
            Ok(response) if response.status().is_success() => {
                response.json::<serde_json::Value>().await.ok()
            }
            _ => None,
        };
        let payment_id = answer.and_then(|body| body["paymentId"].as_str().map(str::to_owned));
        (consent_id, payment_id)
    })
}

#[tokio::test]
async fn a_killed_server_delivers_every_event_of_every_acknowledged_payment_after_restart() {
    for (bus, config) in buses() {
        let database = TestDatabase::new().await;
        let config = format!("{config}{ORDINARY_PAYMENTS}[webhooks]\ntimeout_ms = 2000\n");
        let mut server = ServerProcess::start(database.url(), &config).await;
        let app =
            Arc::new(register_at(&server, database.conn(), Utc::now(), &WEBHOOK_APP_SCOPES).await);
        let (receiver, _) = subscribed_receiver(&server, &app).await;

        // Payments from four payers at once, then one more whose request is in flight when
        // the server is killed, right after the last acknowledgement: settlement and
        // deliveries are still under way.
        let payers: Vec<_> = (0..4)
            .map(|_| {
                let (remote, app) = (server.remote(), app.clone());
                tokio::spawn(async move {
                    let mut made = Vec::new();
                    for _ in 0..5 {
                        made.push(pay(&remote, &app).await);
                    }
                    made
                })
            })
            .collect();
        let last = payment_consent(&server, &app).await;
        let mut acknowledged = Vec::new();
        for payer in payers {
            acknowledged.extend(payer.await.unwrap());
        }
        let in_flight = pay_in_flight(&server, last);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let before_kill = receiver.seen().await.received.len();
        server.kill();
        let (consent_id, outcome) = in_flight.await.unwrap();
        if let Some(payment_id) = outcome {
            acknowledged.push((consent_id, payment_id));
        }

        server.restart().await;
        let seen = receiver
            .wait_within(
                CATCH_UP,
                "every event of every acknowledged payment",
                |seen| {
                    acknowledged
                        .iter()
                        .all(|payment| told_in_full(seen, payment))
                },
            )
            .await;
        let told: usize = acknowledged
            .iter()
            .map(|(_, payment_id)| payment_statuses(&seen, payment_id).len() + 1)
            .sum();
        println!(
            "{bus}: SIGKILL with {before_kill} events received; {} payments acknowledged, \
             {} events of theirs expected, {told} received; {} events in all, {} repeats \
             (same webhook-id)",
            acknowledged.len(),
            acknowledged.len() * EVENTS_PER_PAYMENT,
            seen.received.len(),
            seen.duplicates
        );
        assert_eq!(told, acknowledged.len() * EVENTS_PER_PAYMENT, "{bus}");
        assert_eq!(seen.rejected, 0, "{bus}: every delivery verifies");
        assert_one_id_per_change(&seen);
        server.kill();
    }
}
