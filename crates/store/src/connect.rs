//! Opening a database (SQLite or PostgreSQL, chosen by the URL) and applying the migrations.

use std::path::Path;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

use crate::migration::Migrator;
use crate::{Error, Result};

/// How long a request waits for a connection (or a new connection for its handshake) before its
/// statement fails: with the database unreachable, requests are answered UNAVAILABLE within
/// this time instead of piling up until it returns.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a SQLite statement waits for another connection's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL pool of [`connect`]: enough for a command-line tool.
const DEFAULT_POOL_SIZE: u32 = 10;

/// Opens the database at `url` with a small pool (see [`connect_pooled`]): for tools.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    connect_pooled(url, DEFAULT_POOL_SIZE).await
}

/// Opens the database at `url`: `sqlite://path/to/file.db` or `postgres://user@host/db`.
///
/// SQLite: the file's parent directory is created, the file too (`mode=rwc`), and every
/// connection runs in WAL mode with a 5 s busy timeout and foreign keys enforced. The pool holds
/// a single connection (sea-orm's default for SQLite, kept on purpose): SQLite has one writer
/// anyway, and one connection means a transaction that reads and then writes can never fail
/// with `SQLITE_BUSY` on upgrading its lock. PostgreSQL: a pool of up to `pool_size`
/// connections. Either way a connection is waited for at most [`ACQUIRE_TIMEOUT`].
///
/// A SQLite connection that comes back to the pool still inside a transaction is closed, not
/// reused ([`sqlite_released_clean`]).
///
/// Statement logging is off: statements may carry secrets' hashes and customers' data.
pub async fn connect_pooled(url: &str, pool_size: u32) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool_size)
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT);
    if url.starts_with("sqlite:") {
        create_sqlite_directory(url)?;
        options.max_connections(1).map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
        });
        options.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_release(|connection, _| Box::pin(sqlite_released_clean(connection)))
        });
    }
    Ok(Database::connect(options).await?)
}

/// Whether a SQLite connection given back to the pool may be used again: not if it is still
/// inside a transaction. When a write fails for want of space (`SQLITE_FULL`, `SQLITE_IOERR`),
/// SQLite rolls the whole transaction back by itself; sqlx's own `ROLLBACK` then fails ("no
/// transaction is active") and sqlx still counts the transaction open, so that the connection's
/// next `BEGIN` would become a `SAVEPOINT` and its `COMMIT` a `RELEASE` — acknowledged changes
/// that no other connection sees and a crash loses. Such a connection is closed; the pool opens
/// a fresh one.
async fn sqlite_released_clean(
    connection: &mut sea_orm::sqlx::SqliteConnection,
) -> std::result::Result<bool, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Connection;
    if connection.is_in_transaction() {
        // A dropped transaction is rolled back in the background: a statement after it waits
        // for that rollback, and then the count is right.
        sea_orm::sqlx::query("SELECT 1")
            .execute(&mut *connection)
            .await?;
    }
    Ok(!connection.is_in_transaction())
}

/// Applies every migration not yet applied; a no-op on an up-to-date database.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Ok(Migrator::up(db, None).await?)
}

/// Creates the directory a SQLite database file lives in (nothing for in-memory databases).
fn create_sqlite_directory(url: &str) -> Result<()> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(());
    }
    let options: SqliteConnectOptions = url
        .parse()
        .map_err(|err: sea_orm::sqlx::Error| Error::InvalidUrl(err.to_string()))?;
    match options.get_filename().parent() {
        Some(parent) if parent != Path::new("") => {
            std::fs::create_dir_all(parent).map_err(Error::CreateDirectory)
        }
        _ => Ok(()),
    }
}
