//! Webhook deliveries: queued once per endpoint and event from the stream, claimed by exactly
//! one sender, attempts recorded with the endpoint's health, and the log scoped to its app.

use chrono::Duration;
use wekeza_domain::{DeliveryId, EventId, WebhookEndpointId};
use wekeza_store::DatabaseConnection;
use wekeza_store::deliveries::{
    self, Attempt, AttemptOutcome, DeliveryFilter, DeliveryOrigin, DeliveryStatus, DueDelivery,
    EndpointHealth, NewDelivery,
};
use wekeza_store::testing::TestDatabase;
use wekeza_store::webhooks::{self, WebhookEndpoint};

use crate::webhooks::{app, endpoint, now};

fn delivery(endpoint: &WebhookEndpoint, event: &EventId) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::new_monotonic(now()),
        endpoint_id: endpoint.id.clone(),
        app_id: endpoint.app_id.clone(),
        event_id: event.clone(),
        event_type: "payment.status_changed".into(),
        payload: vec![1, 2, 3],
        origin: DeliveryOrigin::Event,
        event_created_at: now(),
        created_at: now(),
    }
}

async fn claim(db: &DatabaseConnection) -> Vec<DueDelivery> {
    deliveries::claim_due(db, now(), now() + Duration::seconds(45), 10, &[], |_| true)
        .await
        .unwrap()
}

fn failed_attempt(number: i32) -> Attempt {
    Attempt {
        number,
        attempted_at: now(),
        response_status: Some(500),
        latency_ms: 12,
        response_excerpt: "oops".into(),
        error: "HTTP 500".into(),
    }
}

#[tokio::test]
async fn a_delivery_is_queued_once_claimed_once_and_its_attempts_logged() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mine = app(db, "mine").await;
        let theirs = app(db, "theirs!").await;
        let target = endpoint(&mine, "https://example.com/hooks");
        webhooks::insert(db, &target).await.unwrap();
        let event = EventId::new_monotonic(now());

        // A redelivered bus message queues nothing twice.
        let queued = [delivery(&target, &event)];
        assert_eq!(deliveries::queue_from_stream(db, &queued).await.unwrap(), 1);
        assert_eq!(deliveries::queue_from_stream(db, &queued).await.unwrap(), 0);

        // Two senders: one claim wins, the lease keeps the other off.
        let (first, second) = tokio::join!(claim(db), claim(db));
        assert_eq!(first.len() + second.len(), 1);
        let due = first.into_iter().chain(second).next().unwrap();
        assert_eq!(due.endpoint.id, target.id);
        assert!(claim(db).await.is_empty());

        // A failure: retried later, the endpoint's streak starts and does not restart.
        let outcome = AttemptOutcome {
            status: DeliveryStatus::Failed,
            schedule_step: 1,
            next_attempt_at: Some(now() + Duration::seconds(5)),
        };
        deliveries::record_attempt(
            db,
            &due.id,
            &target.id,
            &failed_attempt(1),
            &outcome,
            &EndpointHealth::Failing,
        )
        .await
        .unwrap();
        let streak = webhooks::find(db, &mine, &target.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(streak.failing_since, Some(now()));
        assert!(claim(db).await.is_empty(), "not due before its time");
        let later = deliveries::claim_due(
            db,
            now() + Duration::seconds(6),
            now() + Duration::seconds(60),
            10,
            &[],
            |_| true,
        )
        .await
        .unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].schedule_step, 1);
        let outcome = AttemptOutcome {
            status: DeliveryStatus::DeadLettered,
            schedule_step: 2,
            next_attempt_at: None,
        };
        let mut second_attempt = failed_attempt(2);
        second_attempt.attempted_at = now() + Duration::seconds(6);
        deliveries::record_attempt(
            db,
            &due.id,
            &target.id,
            &second_attempt,
            &outcome,
            &EndpointHealth::Disable("gone".into()),
        )
        .await
        .unwrap();
        let disabled = webhooks::find(db, &mine, &target.id)
            .await
            .unwrap()
            .unwrap();
        assert!(disabled.disabled);
        assert_eq!(disabled.disabled_reason.as_deref(), Some("gone"));
        assert_eq!(
            disabled.failing_since,
            Some(now()),
            "the streak's start stays"
        );

        // The log: the app's own, filtered, with every attempt.
        let dead = DeliveryFilter {
            status: Some(DeliveryStatus::DeadLettered),
            ..DeliveryFilter::default()
        };
        let listed = deliveries::list(db, &mine, &target.id, dead, 10)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].attempts.len(), 2);
        assert_eq!(listed[0].attempts[1].error, "HTTP 500");
        assert!(
            deliveries::list(db, &theirs, &target.id, dead, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            deliveries::find(db, &theirs, &target.id, &due.id)
                .await
                .unwrap(),
            None
        );
        assert!(
            !deliveries::retry(db, &theirs, &target.id, &due.id, now())
                .await
                .unwrap()
        );

        // Retried, it is due again at the start of the schedule (to an enabled endpoint).
        assert!(
            deliveries::retry(db, &mine, &target.id, &due.id, now())
                .await
                .unwrap()
        );
        assert!(claim(db).await.is_empty(), "the endpoint is disabled");
        let other = WebhookEndpointId::new_monotonic(now());
        assert!(
            !deliveries::retry(db, &mine, &other, &due.id, now())
                .await
                .unwrap()
        );
    }
}
