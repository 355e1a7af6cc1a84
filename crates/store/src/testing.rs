//! Test support (feature `testing`): [`TestDatabase`], a fresh, migrated database per test.
//!
//! SQLite always works: a file in a temporary directory that lives as long as the struct. When
//! `WEKEZA_TEST_DATABASE_URL` names a PostgreSQL server (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`), each test also gets a brand-new database on it
//! (`wekeza_t_<unix seconds>_<random>`), so tests run in parallel without seeing each other.
//! A server that is configured but unreachable fails the test: it is never silently skipped.
//!
//! Databases are dropped when the struct is dropped; ones left behind by killed test runs are
//! dropped by the next run once they are a day old.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "test support: failing loudly is the point"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const DATABASE_URL_VAR: &str = "WEKEZA_TEST_DATABASE_URL";

/// Prefix of the databases tests create; only these are ever dropped.
const DATABASE_PREFIX: &str = "wekeza_t_";

/// Age after which a left-behind test database is dropped.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A fresh, migrated database that lives as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    db: DatabaseConnection,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Removing the directory removes the SQLite file.
    Sqlite(#[allow(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    /// Drop the database through the maintenance connection's URL.
    Postgres { server_url: String, name: String },
}

impl TestDatabase {
    /// PostgreSQL when `WEKEZA_TEST_DATABASE_URL` is set, SQLite otherwise.
    pub async fn new() -> Self {
        match Self::postgres_if_configured().await {
            Some(database) => database,
            None => Self::sqlite().await,
        }
    }

    /// SQLite in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}/wekeza.db?mode=rwc", dir.path().display());
        let db = connect_and_migrate(&url).await;
        Self {
            db,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A new database on the configured PostgreSQL server; `None` when none is configured.
    /// Panics when one is configured but cannot be reached.
    pub async fn postgres_if_configured() -> Option<Self> {
        let server_url = std::env::var(DATABASE_URL_VAR).ok()?;
        Some(Self::postgres(server_url).await)
    }

    /// A new database on the PostgreSQL server at `server_url` (e.g. the benchmark's).
    /// Panics when it cannot be reached.
    pub async fn postgres(server_url: String) -> Self {
        let server = connect_server(&server_url).await.unwrap_or_else(|err| {
            panic!("the PostgreSQL server {server_url} is unreachable: {err}")
        });
        assert_eq!(
            server.get_database_backend(),
            DbBackend::Postgres,
            "{server_url} must name a PostgreSQL server"
        );
        drop_stale_databases(&server).await;
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let name = format!("{DATABASE_PREFIX}{created}_{:016x}", rand::rng().next_u64());
        server
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|err| panic!("create test database {name}: {err}"));
        let _ = server.close().await;
        let url = with_database(&server_url, &name);
        let db = connect_and_migrate(&url).await;
        Self {
            db,
            url,
            cleanup: Cleanup::Postgres { server_url, name },
        }
    }

    /// SQLite, plus PostgreSQL when configured: run a storage test on each.
    pub async fn all() -> Vec<Self> {
        let mut databases = vec![Self::sqlite().await];
        databases.extend(Self::postgres_if_configured().await);
        databases
    }

    /// The open, migrated connection.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The database's URL, to open more connections (e.g. a server under test).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { server_url, name } = &self.cleanup else {
            return;
        };
        // Drop cannot await, and the test's runtime may be shutting down: drop the database
        // from a thread with its own runtime. `WITH (FORCE)` ends our pool's connections.
        let server_url = server_url.clone();
        let name = name.clone();
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(server) = connect_server(&server_url).await {
                    drop_database(&server, &name).await;
                    let _ = server.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// A single maintenance connection that gives up quickly on an unreachable server.
async fn connect_server(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = sea_orm::ConnectOptions::new(url);
    options
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    sea_orm::Database::connect(options).await
}

async fn connect_and_migrate(url: &str) -> DatabaseConnection {
    let db = crate::connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect to test database: {err}"));
    crate::migrate(&db)
        .await
        .unwrap_or_else(|err| panic!("migrate test database: {err}"));
    db
}

/// Drops test databases created more than [`STALE_AFTER`] ago (their name says when).
async fn drop_stale_databases(server: &DatabaseConnection) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let Ok(rows) = server
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'wekeza\\_t\\_%'",
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get_by_index::<String>(0) else {
            continue;
        };
        let created = name
            .strip_prefix(DATABASE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs()) {
            drop_database(server, &name).await;
        }
    }
}

async fn drop_database(server: &DatabaseConnection, name: &str) {
    if name.starts_with(DATABASE_PREFIX)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        let _ = server
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
}

/// `url` with its database (the path) replaced by `name`, query parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let (head, query) = match url.find('?') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let authority_end = head
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(head.len(), |at| authority_start + at);
    format!(
        "{}/{name}{query}",
        head.get(..authority_end).unwrap_or(head)
    )
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
