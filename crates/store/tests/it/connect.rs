//! `connect` prepares SQLite the way the platform needs it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn pragma(db: &impl ConnectionTrait, name: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
        .unwrap()
}

#[tokio::test]
async fn sqlite_gets_its_directory_wal_busy_timeout_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/wekeza.db");
    let db = wekeza_store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    wekeza_store::migrate(&db).await.unwrap();
    assert!(path.exists());
    assert_eq!(pragma(&db, "journal_mode").await, "wal");
    assert_eq!(pragma(&db, "foreign_keys").await, "1");
    assert_eq!(pragma(&db, "busy_timeout").await, "5000");
}

#[tokio::test]
async fn bad_urls_are_refused() {
    assert!(
        wekeza_store::connect("mysql://nobody@127.0.0.1:1/x")
            .await
            .is_err()
    );
}
