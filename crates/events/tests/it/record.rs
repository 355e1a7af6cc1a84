//! The writers against real databases: each consent change lands with exactly one outbox event
//! of the catalogue's type, subject and payload, and a transition decided from a stale status
//! writes neither.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use prost::Message;
use rand::SeedableRng;
use wekeza_domain::{AppId, Consent, ConsentId, ConsentStatus, ConsentTerms, Permission};
use wekeza_events::EventType;
use wekeza_events::record::{self, StatusWrite};
use wekeza_proto::v1 as pb;
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::{self, NewApp};
use wekeza_store::outbox;
use wekeza_store::testing::TestDatabase;

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn app(db: &DatabaseConnection) -> AppId {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let new = NewApp {
        name: "Budget Buddy".to_owned(),
        ..NewApp::default()
    };
    apps::create(db, new, now(), &mut rng).await.unwrap().app.id
}

fn consent_event(event: &outbox::OutboxEvent) -> pb::ConsentStatusChanged {
    let envelope = pb::Event::decode(event.payload.as_slice()).unwrap();
    assert_eq!(envelope.event_id, event.id.to_string());
    assert_eq!(envelope.r#type, event.event_type);
    match envelope.payload {
        Some(pb::event::Payload::ConsentStatusChanged(payload)) => payload,
        other => panic!("not a consent event: {other:?}"),
    }
}

#[tokio::test]
async fn a_consent_change_commits_with_its_event_and_a_stale_one_writes_nothing() {
    for database in TestDatabase::all().await {
        let db = database.conn().clone();
        let app = app(&db).await;
        let created = Consent::new(
            ConsentId::new_monotonic(now()),
            app,
            ConsentTerms::AccountAccess {
                permissions: BTreeSet::from([Permission::ReadAccounts]),
            },
            now() + Duration::days(90),
            now(),
        );
        record::consent_created(&db, &created, "client-1", now())
            .await
            .unwrap();
        let later = now() + Duration::seconds(5);
        let rejected = created.clone().reject(later).unwrap();
        assert_eq!(
            record::consent_transition(&db, &created, &rejected, "client-1", later)
                .await
                .unwrap(),
            StatusWrite::Applied
        );
        // Decided from AWAITING_AUTHORISATION, which is no longer stored: refused, unwritten.
        let revoked = created.clone().revoke(later).unwrap();
        assert_eq!(
            record::consent_transition(&db, &created, &revoked, "client-1", later)
                .await
                .unwrap(),
            StatusWrite::Conflict
        );

        let events = outbox::unpublished(&db, 10).await.unwrap();
        assert_eq!(events.len(), 2, "{:?}", database.backend());
        let kind = EventType::ConsentStatusChanged;
        for event in &events {
            assert_eq!(event.event_type, kind.name());
            assert_eq!(event.subject, kind.subject());
            assert_eq!(event.aggregate_id, created.id.to_string());
        }
        let first = consent_event(&events[0]);
        assert_eq!(first.previous_status(), pb::ConsentStatus::Unspecified);
        assert_eq!(first.status(), pb::ConsentStatus::AwaitingAuthorisation);
        let second = consent_event(&events[1]);
        assert_eq!(
            second.previous_status(),
            pb::ConsentStatus::AwaitingAuthorisation
        );
        assert_eq!(second.status(), pb::ConsentStatus::Rejected);
        assert_eq!(second.client_id, "client-1");
        let stored = wekeza_store::consents::find(&db, &created.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, ConsentStatus::Rejected);
    }
}
