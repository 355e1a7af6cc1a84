//! The outbox relay: events committed before the relay runs are recovered, published in
//! order, exactly once per drain.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use wekeza_domain::{EventId, ManualClock};
use wekeza_events::OutboxRelay;
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::testing::TestDatabase;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn event(n: i64) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new_random(at(n)),
        subject: "wekeza.events.consent.status_changed".into(),
        event_type: "consent.status_changed".into(),
        aggregate_id: format!("cns_{n}"),
        payload: vec![n as u8; 3],
        created_at: at(n),
        published_at: None,
    }
}

#[tokio::test]
async fn relays_committed_events_in_order_once() {
    for tested in crate::buses::all().await {
        for database in TestDatabase::all().await {
            relayed(&tested, database).await;
        }
    }
}

async fn relayed(tested: &crate::buses::TestBus, database: TestDatabase) {
    {
        let db = database.conn().clone();
        let written: Vec<OutboxEvent> = (0..300).map(event).collect();
        for e in &written {
            outbox::append(&db, e.clone()).await.unwrap();
        }
        let bus = tested.bus.clone();
        let consumer = format!("relay-test-{}", ulid::Ulid::new());
        let mut received = bus.subscribe(&consumer, "wekeza.events.>").await.unwrap();
        let relay = OutboxRelay::new(
            db.clone(),
            bus,
            Arc::new(ManualClock::new(at(1000))),
            Duration::from_millis(10),
        );
        assert_eq!(
            relay.drain().await.unwrap(),
            300,
            "{:?} on {}",
            database.backend(),
            tested.name
        );
        for expected in &written {
            let got = received.next().await.unwrap();
            assert_eq!(got.envelope.id, expected.id);
            assert_eq!(got.envelope.payload, expected.payload);
            got.ack().await.unwrap();
        }
        assert!(outbox::unpublished(&db, 10).await.unwrap().is_empty());
        assert_eq!(
            relay.drain().await.unwrap(),
            0,
            "published events are not sent again"
        );

        // Appended while the relay runs: picked up by the loop.
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(relay.clone().run(stop.clone()));
        let late = event(5000);
        outbox::append(&db, late.clone()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), received.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.envelope.id, late.id);
        got.ack().await.unwrap();
        stop.cancel();
        running.await.unwrap();
    }
}
