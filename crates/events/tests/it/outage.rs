//! The relay across a broker outage (runs when `WEKEZA_TEST_NATS_URL` says NATS is available):
//! a NATS server of the test's own is killed while events keep being committed, and started
//! again on the same storage. Nothing is marked published while the broker is down, and every
//! event reaches the subscriber once it is back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use wekeza_domain::{EventId, ManualClock};
use wekeza_events::testing::Broker;
use wekeza_events::{EventBus, JetStreamBus, JetStreamSettings, OutboxRelay};
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::testing::TestDatabase;

fn event(n: i64) -> OutboxEvent {
    let at = DateTime::<Utc>::from_timestamp(1_800_000_000 + n, 0).unwrap();
    OutboxEvent::new(
        EventId::new_monotonic(at),
        "payment.status_changed",
        &format!("pay_{n}"),
        vec![n as u8],
        at,
    )
}

#[tokio::test]
async fn events_committed_while_the_broker_is_down_are_published_when_it_returns() {
    if std::env::var("WEKEZA_TEST_NATS_URL").is_err() {
        return; // NATS tests are off: the in-process bus has no broker to lose.
    }
    for database in TestDatabase::all().await {
        let mut broker = Broker::start();
        let settings = JetStreamSettings {
            ack_wait: Duration::from_secs(2),
            ..JetStreamSettings::new(broker.url())
        };
        let bus: Arc<dyn EventBus> = Arc::new(JetStreamBus::connect(settings).await.unwrap());
        let mut subscription = bus.subscribe("outage", "wekeza.events.>").await.unwrap();
        let db = database.conn().clone();
        let relay = OutboxRelay::new(
            db.clone(),
            bus.clone(),
            Arc::new(ManualClock::new(Utc::now())),
            Duration::from_millis(50),
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(relay.run(stop.clone()));

        let mut committed = BTreeSet::new();
        for n in 0..20 {
            let event = event(n);
            committed.insert(event.id.clone());
            outbox::append(&db, event).await.unwrap();
        }
        let mut received = BTreeSet::new();
        while received.len() < 20 {
            let delivery = tokio::time::timeout(Duration::from_secs(10), subscription.next())
                .await
                .expect("delivered while the broker is up")
                .unwrap();
            received.insert(delivery.envelope.id.clone());
            delivery.ack().await.unwrap();
        }

        broker.kill();
        for n in 20..40 {
            let event = event(n);
            committed.insert(event.id.clone());
            outbox::append(&db, event).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let waiting = outbox::unpublished(&db, 100).await.unwrap();
        assert_eq!(
            waiting.len(),
            20,
            "nothing is marked published while the broker is down ({:?})",
            database.backend()
        );

        broker.restart();
        let all_back = tokio::time::timeout(Duration::from_secs(60), async {
            while received.len() < committed.len() {
                let Some(delivery) = subscription.next().await else {
                    break;
                };
                // A publish the client buffered before the outage may arrive as well as the
                // relay's retry: the server's Nats-Msg-Id dedupe keeps one, and the set keeps
                // the test honest either way.
                received.insert(delivery.envelope.id.clone());
                delivery.ack().await.unwrap();
            }
        })
        .await;
        assert!(
            all_back.is_ok(),
            "events delivered after the outage: {}",
            received.len()
        );
        assert_eq!(received, committed);
        // The relay marks a row after the publish ack, which may come after a subscriber
        // already has the event: the outbox drains shortly after.
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while !outbox::unpublished(&db, 100).await.unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(drained.is_ok(), "the outbox drains once the broker is back");
        stop.cancel();
        running.await.unwrap();
    }
}
