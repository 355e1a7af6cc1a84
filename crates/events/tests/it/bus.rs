//! Subscriptions on every bus (in-process, and JetStream when configured): named consumers
//! share work, different names each get every event, filters select subjects, and an event is
//! delivered until it is acknowledged.

use std::time::Duration;

use chrono::{DateTime, Utc};
use wekeza_domain::EventId;
use wekeza_events::{Envelope, EventType, Subscription};

use crate::buses;

fn envelope(kind: EventType, n: i64) -> Envelope {
    let at = DateTime::<Utc>::from_timestamp(1_800_000_000 + n, 0).unwrap();
    Envelope {
        id: EventId::new_random(at),
        subject: kind.subject(),
        event_type: kind.name().to_owned(),
        payload: vec![n as u8],
        created_at: at,
    }
}

async fn next(subscription: &mut Subscription) -> Option<wekeza_events::Delivery> {
    tokio::time::timeout(Duration::from_millis(200), subscription.next())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn consumers_under_one_name_share_events_and_other_names_get_them_all() {
    for tested in buses::all().await {
        shared_and_fanned_out(tested.bus.as_ref()).await;
    }
}

async fn shared_and_fanned_out(bus: &dyn wekeza_events::EventBus) {
    let mut worker_a = bus
        .subscribe("dispatcher", "wekeza.events.>")
        .await
        .unwrap();
    let mut worker_b = bus
        .subscribe("dispatcher", "wekeza.events.>")
        .await
        .unwrap();
    let mut audit = bus.subscribe("audit", "wekeza.events.>").await.unwrap();
    let published: Vec<Envelope> = (0..10)
        .map(|n| envelope(EventType::PaymentStatusChanged, n))
        .collect();
    for event in &published {
        bus.publish(event).await.unwrap();
    }

    let mut shared = Vec::new();
    for _ in 0..10 {
        // Whichever worker is free takes the next event.
        let delivery = tokio::select! {
            Some(delivery) = worker_a.next() => delivery,
            Some(delivery) = worker_b.next() => delivery,
        };
        shared.push(delivery.envelope.id.clone());
        delivery.ack().await.unwrap();
    }
    assert!(
        next(&mut worker_a).await.is_none(),
        "each event once per name"
    );
    assert!(
        next(&mut worker_b).await.is_none(),
        "each event once per name"
    );
    let ids: Vec<EventId> = published.iter().map(|event| event.id.clone()).collect();
    // Two workers take events as they come: each exactly once, in whichever order.
    let mut taken = shared.clone();
    taken.sort();
    assert_eq!(taken, ids);

    for expected in &ids {
        let delivery = next(&mut audit).await.unwrap();
        assert_eq!(&delivery.envelope.id, expected);
        delivery.ack().await.unwrap();
    }
}

#[tokio::test]
async fn a_filter_selects_subjects_and_a_name_keeps_its_filter() {
    for tested in buses::all().await {
        filtered(tested.bus.as_ref()).await;
    }
}

async fn filtered(bus: &dyn wekeza_events::EventBus) {
    let mut consents = bus
        .subscribe("consents", "wekeza.events.consent.*")
        .await
        .unwrap();
    bus.publish(&envelope(EventType::PaymentStatusChanged, 1))
        .await
        .unwrap();
    let consent = envelope(EventType::ConsentStatusChanged, 2);
    bus.publish(&consent).await.unwrap();
    let delivery = next(&mut consents).await.unwrap();
    assert_eq!(delivery.envelope.id, consent.id);
    assert_eq!(
        delivery.envelope.kind(),
        Some(EventType::ConsentStatusChanged)
    );
    delivery.ack().await.unwrap();
    assert!(next(&mut consents).await.is_none());
    assert!(
        bus.subscribe("consents", "wekeza.events.>").await.is_err(),
        "one name, one filter"
    );
}

#[tokio::test]
async fn an_event_is_delivered_again_until_acknowledged() {
    for tested in buses::all().await {
        redelivered(tested.bus.as_ref(), tested.redelivery).await;
    }
}

async fn redelivered(bus: &dyn wekeza_events::EventBus, redelivery: Duration) {
    let mut subscription = bus.subscribe("retrying", "wekeza.events.>").await.unwrap();
    let event = envelope(EventType::AccountBalanceChanged, 3);
    bus.publish(&event).await.unwrap();

    // Refused: back after the delay, not before.
    let first = next(&mut subscription).await.unwrap();
    first.nak(Duration::from_millis(300)).await.unwrap();
    assert!(next(&mut subscription).await.is_none());
    let second = tokio::time::timeout(Duration::from_secs(2), subscription.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.envelope.id, event.id);

    // Dropped unanswered (a consumer that failed): back once the bus gives up waiting.
    drop(second);
    let third = tokio::time::timeout(redelivery + Duration::from_secs(5), subscription.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.envelope.id, event.id);
    third.ack().await.unwrap();
    assert!(
        next(&mut subscription).await.is_none(),
        "acknowledged: gone"
    );
}
