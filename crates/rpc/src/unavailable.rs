//! Telling "the database is down, retry" from a bug. A failure of the machinery whose chain of
//! causes shows that the database could not be reached — the pool's wait for a connection timed
//! out, or the connection was refused, reset or closed mid-statement — answers UNAVAILABLE with
//! a `Retry-After` ([`RETRY_AFTER`]); one that shows the database could not write for want of
//! space ([`storage_full`]) answers UNAVAILABLE with the reason `STORAGE_FULL` and the same
//! `Retry-After`; any other failure answers INTERNAL. A client (or a load balancer) may retry
//! the first two and succeed once the database is back or has room; the last is a bug.
//!
//! This is the one place outside `store` that knows sea-orm's and sqlx's error types, and it
//! only reads them.

use std::error::Error as StdError;
use std::io::ErrorKind;
use std::time::Duration;

use sea_orm::{DbErr, RuntimeErr, SqlxError};

/// How long a client is told to wait before retrying when the database is unreachable.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Whether `error`, or any of its causes, says the database could not be reached.
pub fn database_unreachable(error: &(dyn StdError + 'static)) -> bool {
    let mut link = Some(error);
    while let Some(error) = link {
        let unreachable = if let Some(db) = error.downcast_ref::<DbErr>() {
            db_unreachable(db)
        } else if let Some(runtime) = error.downcast_ref::<RuntimeErr>() {
            runtime_unreachable(runtime)
        } else if let Some(sqlx) = error.downcast_ref::<SqlxError>() {
            sqlx_unreachable(sqlx)
        } else if let Some(io) = error.downcast_ref::<std::io::Error>() {
            io_unreachable(io)
        } else {
            false
        };
        if unreachable {
            return true;
        }
        link = error.source();
    }
    false
}

/// SQLite's `SQLITE_FULL` (a write on a full disk), SQLite's `SQLITE_IOERR_WRITE` (a write the
/// file system refused: what a file-size limit, or a disk full while SQLite extends a file,
/// gives), and PostgreSQL's `disk_full` SQLSTATE: the codes sqlx reports for them.
const STORAGE_FULL_CODES: [&str; 3] = ["13", "778", "53100"];

/// Whether `error`, or any of its causes, says the database could not write the change for
/// want of space. The statement or transaction failed whole: SQLite and PostgreSQL roll it back.
pub fn storage_full(error: &(dyn StdError + 'static)) -> bool {
    let mut link = Some(error);
    while let Some(error) = link {
        let sqlx = if let Some(db) = error.downcast_ref::<DbErr>() {
            match db {
                DbErr::Conn(RuntimeErr::SqlxError(sqlx))
                | DbErr::Exec(RuntimeErr::SqlxError(sqlx))
                | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => Some(sqlx.as_ref()),
                _ => None,
            }
        } else if let Some(RuntimeErr::SqlxError(sqlx)) = error.downcast_ref::<RuntimeErr>() {
            Some(sqlx.as_ref())
        } else {
            error.downcast_ref::<SqlxError>()
        };
        if let Some(SqlxError::Database(database)) = sqlx
            && database
                .code()
                .is_some_and(|code| STORAGE_FULL_CODES.contains(&code.as_ref()))
        {
            return true;
        }
        link = error.source();
    }
    false
}

fn db_unreachable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => {
            runtime_unreachable(runtime)
        }
        _ => false,
    }
}

fn runtime_unreachable(error: &RuntimeErr) -> bool {
    match error {
        RuntimeErr::SqlxError(sqlx) => sqlx_unreachable(sqlx),
        _ => false,
    }
}

fn sqlx_unreachable(error: &SqlxError) -> bool {
    match error {
        SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed => true,
        SqlxError::Io(io) => io_unreachable(io),
        SqlxError::Tls(_) => true,
        _ => false,
    }
}

fn io_unreachable(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
            | ErrorKind::BrokenPipe
            | ErrorKind::TimedOut
            | ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::ConnAcquireErr;

    use super::*;

    #[test]
    fn unreachable_databases_are_told_from_other_failures() {
        let timed_out = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert!(database_unreachable(&timed_out));
        let reset = DbErr::Query(RuntimeErr::SqlxError(Arc::new(SqlxError::Io(
            std::io::Error::from(ErrorKind::ConnectionReset),
        ))));
        assert!(database_unreachable(&reset));
        let wrapped = crate::Internal::new(reset);
        assert!(database_unreachable(&wrapped), "found through the chain");
        let refused = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(SqlxError::Io(
            std::io::Error::from(ErrorKind::ConnectionRefused),
        ))));
        assert!(database_unreachable(&refused));

        let constraint = DbErr::Exec(RuntimeErr::Internal("UNIQUE constraint failed".into()));
        assert!(!database_unreachable(&constraint));
        assert!(!database_unreachable(&DbErr::RecordNotFound("x".into())));
        let bug = std::io::Error::other("a stored response no longer decodes");
        assert!(!database_unreachable(&bug));
    }
}
