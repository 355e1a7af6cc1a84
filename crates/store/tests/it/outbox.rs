//! The outbox's retention: only published events older than the cut, which the audit trail
//! took, are deleted.

use chrono::{Duration, TimeZone, Utc};
use wekeza_domain::EventId;
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::testing::TestDatabase;

#[tokio::test]
async fn pruning_deletes_only_published_and_audited_events_before_the_cut_a_batch_at_a_time() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let cut = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let event = |at| {
            OutboxEvent::new(
                EventId::new_monotonic(at),
                "payment.status_changed",
                "pay_1",
                vec![1],
                at,
            )
        };
        let old: Vec<_> = (1..=3)
            .map(|days| event(cut - Duration::days(days)))
            .collect();
        let unpublished_old = event(cut - Duration::days(10));
        let unaudited_old = event(cut - Duration::days(11));
        let recent = event(cut + Duration::minutes(1));
        for e in old
            .iter()
            .chain([&unaudited_old, &unpublished_old, &recent])
        {
            outbox::append(db, e.clone()).await.unwrap();
        }
        let published: Vec<_> = old
            .iter()
            .chain([&unaudited_old, &recent])
            .map(|e| e.id.clone())
            .collect();
        outbox::mark_published(db, &published, cut).await.unwrap();
        let audited: Vec<_> = old
            .iter()
            .chain([&unpublished_old, &recent])
            .map(|e| e.id.clone())
            .collect();
        outbox::mark_audited(db, &audited, cut).await.unwrap();

        assert_eq!(outbox::prune_published(db, cut, 2).await.unwrap(), 2);
        assert_eq!(outbox::prune_published(db, cut, 2).await.unwrap(), 1);
        assert_eq!(outbox::prune_published(db, cut, 2).await.unwrap(), 0);

        let left: Vec<EventId> = outbox::between(db, cut - Duration::days(30), None, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            left,
            [
                unpublished_old.id.clone(),
                unaudited_old.id.clone(),
                recent.id.clone()
            ],
            "{:?}: the unaudited and the unpublished old events and the recent one stay",
            database.backend()
        );
    }
}
