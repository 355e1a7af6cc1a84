//! The migrations apply on both backends and a second run changes nothing.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;
use wekeza_store::migration::Migrator;
use wekeza_store::testing::TestDatabase;

const TABLES: [&str; 15] = [
    "customers",
    "accounts",
    "journals",
    "postings",
    "apps",
    "api_keys",
    "consents",
    "idempotency_keys",
    "outbox_events",
    "payments",
    "holds",
    "authorization_requests",
    "authorization_codes",
    "refresh_tokens",
    "second_factor_steps",
];

async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn table_exists(db: &impl ConnectionTrait, table: &str) -> bool {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
        _ => format!(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
    };
    count(db, &sql).await == 1
}

#[tokio::test]
async fn migrations_apply_and_are_idempotent() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        for table in TABLES {
            assert!(
                table_exists(db, table).await,
                "{table} missing on {:?}",
                database.backend()
            );
        }
        // The lock-out table was dropped (failed sign-ins are throttled in memory).
        assert!(!table_exists(db, "sign_in_failures").await);
        let applied = count(db, "SELECT COUNT(*) FROM seaql_migrations").await;
        assert_eq!(applied, Migrator::migrations().len() as i64);

        // A second run (e.g. the next start of the server) applies nothing and fails nothing.
        wekeza_store::migrate(db).await.unwrap();
        assert_eq!(
            count(db, "SELECT COUNT(*) FROM seaql_migrations").await,
            applied
        );
    }
}

#[tokio::test]
async fn foreign_keys_are_enforced() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let orphan = db
            .execute_unprepared(
                "INSERT INTO api_keys (id, app_id, key_prefix, key_hash, created_at) \
                 VALUES ('key_x', 'app_missing', 'wk_', 'h', '2026-01-01T00:00:00+00:00')",
            )
            .await;
        assert!(
            orphan.is_err(),
            "an API key of a missing app was accepted on {:?}",
            database.backend()
        );
    }
}
