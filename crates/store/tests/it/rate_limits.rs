//! The shared GCRA buckets of the `cluster` rate-limit policy, on SQLite and PostgreSQL: a
//! bucket gives its capacity at once, then one call per interval; a refusal says when the next
//! call fits; full buckets are forgotten.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use wekeza_store::rate_limits::{self, Taken};
use wekeza_store::testing::TestDatabase;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

const INTERVAL: Duration = Duration::from_millis(100);
/// Five calls' worth.
const CAPACITY: Duration = Duration::from_millis(500);

#[tokio::test]
async fn a_bucket_gives_its_capacity_then_one_call_per_interval() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let take = |subject: &'static str, at: DateTime<Utc>| async move {
            rate_limits::take(db, subject, at, INTERVAL, CAPACITY)
                .await
                .unwrap()
        };
        let now = start();
        for call in 1..=5 {
            let taken = take("app:one", now).await;
            let full_at = now + chrono::Duration::milliseconds(100 * call);
            assert_eq!(taken, Taken::Allowed { full_at }, "call {call}");
        }
        let full_at = now + chrono::Duration::milliseconds(500);
        let next_at = now + chrono::Duration::milliseconds(100);
        assert_eq!(
            take("app:one", now).await,
            Taken::Refused { next_at, full_at }
        );
        // Another subject has its own bucket.
        assert!(matches!(take("app:two", now).await, Taken::Allowed { .. }));
        // One interval later, exactly one more call.
        assert!(matches!(
            take("app:one", next_at).await,
            Taken::Allowed { .. }
        ));
        assert!(matches!(
            take("app:one", next_at).await,
            Taken::Refused { .. }
        ));

        // Buckets full before a time are forgotten; the others stay.
        let later = now + chrono::Duration::seconds(10);
        assert_eq!(rate_limits::forget_full(db, later).await.unwrap(), 2);
        for call in 1..=5 {
            assert!(
                matches!(take("app:one", later).await, Taken::Allowed { .. }),
                "{call}"
            );
        }
    }
}
