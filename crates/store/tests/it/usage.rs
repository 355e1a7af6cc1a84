//! Usage counters and daily quota totals add up across batches (the upserts add, never
//! overwrite), read back per day and per operation; plan changes keep their history.

use chrono::{DateTime, NaiveDate, Utc};
use rand::SeedableRng;
use wekeza_domain::AppId;
use wekeza_store::apps::{self, NewApp, Plan};
use wekeza_store::plan_changes;
use wekeza_store::testing::TestDatabase;
use wekeza_store::usage::{self, CallCounts, CounterKey, QuotaCounts};

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

const LIST: &str = "/wekeza.openbanking.v1.AccountInformationService/ListAccounts";

#[tokio::test]
async fn batches_add_to_the_counters_and_read_back_per_day_and_operation() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let app: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2w".parse().unwrap();
        let other: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2x".parse().unwrap();
        let key = |app, day, operation, status_class| CounterKey {
            app_id: app,
            day,
            operation,
            status_class,
        };
        let fast_ok = CallCounts::one(2_000, false);
        let slow_ok = CallCounts::one(300_000, false);
        let refused = CallCounts::one(500, true);
        usage::add_counters(
            db,
            &[
                (key(&app, day(1), LIST, 2), fast_ok),
                (key(&app, day(1), LIST, 4), refused),
                (key(&other, day(1), LIST, 2), fast_ok),
            ],
        )
        .await
        .unwrap();
        // A second batch (another flush, or another replica) adds to the same rows.
        usage::add_counters(
            db,
            &[
                (key(&app, day(1), LIST, 2), slow_ok),
                (key(&app, day(2), "/oauth2/userinfo", 5), fast_ok),
            ],
        )
        .await
        .unwrap();
        usage::add_daily(
            db,
            &[(
                &app,
                day(1),
                QuotaCounts {
                    admitted: 2,
                    overage: 0,
                },
            )],
        )
        .await
        .unwrap();
        usage::add_daily(
            db,
            &[
                (
                    &app,
                    day(1),
                    QuotaCounts {
                        admitted: 3,
                        overage: 1,
                    },
                ),
                (
                    &other,
                    day(1),
                    QuotaCounts {
                        admitted: 1,
                        overage: 0,
                    },
                ),
            ],
        )
        .await
        .unwrap();

        let admitted = usage::admitted_on(db, day(1), &[&app, &other])
            .await
            .unwrap();
        assert_eq!((admitted[&app], admitted[&other]), (5, 1));
        assert!(
            usage::admitted_on(db, day(2), &[&app])
                .await
                .unwrap()
                .is_empty()
        );

        let days = usage::days(db, &app, day(1), day(3)).await.unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(
            (days[0].day, days[0].served, days[0].rejected),
            (day(1), 2, 1)
        );
        assert_eq!(
            days[0].quota,
            QuotaCounts {
                admitted: 5,
                overage: 1
            }
        );
        assert_eq!(
            (days[1].day, days[1].served, days[1].rejected),
            (day(2), 1, 0)
        );
        // The range's end is exclusive.
        assert_eq!(
            usage::days(db, &app, day(1), day(2)).await.unwrap().len(),
            1
        );

        let operations = usage::operations(db, &app, day(1), day(3)).await.unwrap();
        let names: Vec<&str> = operations.iter().map(|o| o.operation.as_str()).collect();
        assert_eq!(names, ["/oauth2/userinfo", LIST]);
        let list = &operations[1];
        let ok = list.by_class[&2];
        assert_eq!((ok.requests, ok.rejected), (2, 0));
        // 2 ms in the first bucket (≤ 5 ms), 300 ms in the fifth (≤ 1 s).
        assert_eq!(ok.latency_buckets, [1, 0, 0, 0, 1, 0, 0]);
        assert_eq!(ok.latency_sum_micros, 302_000);
        assert_eq!(list.by_class[&4].rejected, 1);
    }
}

#[tokio::test]
async fn a_plan_change_writes_the_app_and_its_history_at_once() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        let app = apps::create(db, NewApp::default(), at(0), &mut rng)
            .await
            .unwrap()
            .app;
        assert_eq!(app.plan, Plan::Free);
        let changed = plan_changes::change(db, &app.id, Plan::Startup, at(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.plan, Plan::Startup);
        // To the plan it is on: nothing written.
        plan_changes::change(db, &app.id, Plan::Startup, at(20))
            .await
            .unwrap()
            .unwrap();
        plan_changes::change(db, &app.id, Plan::Enterprise, at(30))
            .await
            .unwrap()
            .unwrap();
        let history = plan_changes::history(db, &app.id).await.unwrap();
        let steps: Vec<_> = history
            .iter()
            .map(|change| (change.changed_at, change.previous, change.plan))
            .collect();
        assert_eq!(
            steps,
            [
                (at(10), Plan::Free, Plan::Startup),
                (at(30), Plan::Startup, Plan::Enterprise),
            ]
        );
        let stored = apps::find(db, &app.id).await.unwrap().unwrap();
        assert_eq!(stored.plan, Plan::Enterprise);
        let unknown: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2w".parse().unwrap();
        assert!(
            plan_changes::change(db, &unknown, Plan::Startup, at(40))
                .await
                .unwrap()
                .is_none()
        );
    }
}
