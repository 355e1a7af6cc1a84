//! The audit trail's chain: appended batches verify; a changed field, a broken link and deleted
//! records are named; two appenders on their own connections keep one chain.

use chrono::{DateTime, Duration, TimeZone, Utc};
use wekeza_domain::{AppId, AuditEvent, AuditKind};
use wekeza_store::ConnectionTrait;
use wekeza_store::audit::{self, Break};
use wekeza_store::testing::TestDatabase;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap()
}

/// `count` call events, a second apart from `at`, with nanoseconds the databases drop.
fn calls(at: DateTime<Utc>, count: i64, app: &AppId) -> Vec<AuditEvent> {
    (0..count)
        .map(|n| {
            AuditEvent::new(
                AuditKind::ApiCall,
                "/wekeza.openbanking.v1.AccountInformationService/ListAccounts",
                at + Duration::seconds(n) + Duration::nanoseconds(123_456_789),
            )
            .app(Some(app.clone()))
            .detail("httpStatus", 200)
            .detail("requestId", format!("req_{n}"))
            .detail("resourceIds", vec!["acc_1".to_owned(), "acc_2".to_owned()])
        })
        .collect()
}

async fn execute(db: &impl ConnectionTrait, sql: &str) {
    db.execute_unprepared(sql).await.unwrap();
}

#[tokio::test]
async fn appended_batches_verify_and_every_kind_of_tampering_is_named() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let backend = database.backend();
        let app = AppId::new_random(start());
        assert_eq!(
            audit::append(db, &calls(start(), 3, &app)).await.unwrap(),
            3
        );
        assert_eq!(audit::append(db, &[]).await.unwrap(), 3, "{backend:?}");
        let later = start() + Duration::hours(1);
        assert_eq!(audit::append(db, &calls(later, 2, &app)).await.unwrap(), 5);

        let clean = audit::verify(db).await.unwrap();
        assert_eq!((clean.records, clean.first_break), (5, None), "{backend:?}");

        // The export: from a time on, in chain order, paged, each line re-verifiable.
        let page = audit::since(db, later, 0, 1).await.unwrap();
        assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [4]);
        let rest = audit::since(db, later, 4, 10).await.unwrap();
        assert_eq!(rest.iter().map(|r| r.seq).collect::<Vec<_>>(), [5]);
        let line = rest[0].to_json();
        assert_eq!(line["appId"], app.as_str());
        assert_eq!(line["details"]["requestId"], "req_1");
        assert_eq!(line["occurredAt"], "2026-11-01T10:30:01.123456Z");
        assert_eq!(line["prevHash"], page[0].hash.as_str());

        // One field changed.
        execute(db, "UPDATE audit_records SET action = 'x' WHERE seq = 2").await;
        assert_eq!(
            audit::verify(db).await.unwrap().first_break,
            Some(Break::ContentChanged { seq: 2 }),
            "{backend:?}"
        );
        execute(
            db,
            "UPDATE audit_records SET action = \
             '/wekeza.openbanking.v1.AccountInformationService/ListAccounts' WHERE seq = 2",
        )
        .await;
        let third = audit::since(db, start(), 2, 1).await.unwrap().remove(0);
        execute(
            db,
            "UPDATE audit_records SET details = '{\"httpStatus\":500}' WHERE seq = 3",
        )
        .await;
        assert_eq!(
            audit::verify(db).await.unwrap().first_break,
            Some(Break::ContentChanged { seq: 3 }),
            "{backend:?}"
        );
        execute(
            db,
            &format!(
                "UPDATE audit_records SET details = '{}' WHERE seq = 3",
                third.details
            ),
        )
        .await;
        assert_eq!(audit::verify(db).await.unwrap().first_break, None);

        // A link edited.
        let original = audit::since(db, start(), 3, 1).await.unwrap().remove(0);
        execute(
            db,
            &format!(
                "UPDATE audit_records SET prev_hash = '{}' WHERE seq = 4",
                "f".repeat(64)
            ),
        )
        .await;
        assert_eq!(
            audit::verify(db).await.unwrap().first_break,
            Some(Break::LinkBroken { seq: 4 })
        );
        execute(
            db,
            &format!(
                "UPDATE audit_records SET prev_hash = '{}' WHERE seq = 4",
                original.prev_hash
            ),
        )
        .await;
        assert_eq!(audit::verify(db).await.unwrap().first_break, None);

        // Records deleted: the newest (only the head knows it was there), then one inside.
        execute(db, "DELETE FROM audit_records WHERE seq = 5").await;
        assert_eq!(
            audit::verify(db).await.unwrap().first_break,
            Some(Break::Missing { from: 5, to: 5 }),
            "{backend:?}"
        );
        execute(db, "DELETE FROM audit_records WHERE seq = 2").await;
        let broken = audit::verify(db).await.unwrap().first_break.unwrap();
        assert_eq!(broken, Break::Missing { from: 2, to: 2 });
        assert_eq!(broken.to_string(), "record 2: missing");
    }
}

#[tokio::test]
async fn two_appenders_on_their_own_connections_keep_one_chain() {
    for database in TestDatabase::all().await {
        let backend = database.backend();
        let appender = |n: i64| {
            let url = database.url().to_owned();
            tokio::spawn(async move {
                let db = wekeza_store::connect(&url).await.unwrap();
                let app = AppId::new_random(start());
                for batch in 0..20 {
                    let at = start() + Duration::minutes(n * 100 + batch);
                    audit::append(&db, &calls(at, 5, &app)).await.unwrap();
                }
            })
        };
        let (first, second) = (appender(0), appender(1));
        first.await.unwrap();
        second.await.unwrap();
        let verification = audit::verify(database.conn()).await.unwrap();
        assert_eq!(
            (verification.records, verification.first_break),
            (200, None),
            "{backend:?}"
        );
    }
}
