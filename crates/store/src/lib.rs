//! Wekeza's storage: the sea-orm entities, the migrations and the repositories over them.
//!
//! Owns every table and every SQL statement of the platform. The same migrations run on SQLite
//! (the embedded default) and PostgreSQL: foreign keys inside `CREATE TABLE`, string-backed
//! enums, money as BIGINT minor units, times as `TIMESTAMP WITH TIME ZONE` in UTC, and no
//! backend-only column types. String columns holding enums are converted to Rust enums here
//! (the [`entity::enums`]) and nowhere else.
//!
//! Depends on `wekeza-domain` and sea-orm only: no tonic, no axum, no service crate. Business
//! rules (overdraft checks, double entry, consent lifecycles) live in the crates above; the
//! repositories here carry them out atomically where a rule needs the database to hold
//! (e.g. [`accounts::apply_delta`] refuses, in one conditional `UPDATE`, to take an account
//! below its overdraft limit).
//!
//! # Layout
//! - [`connect`], [`migrate`]: open a database (SQLite or PostgreSQL) and bring its schema up
//!   to date.
//! - [`entity`] — one sea-orm entity per table, plus the string-backed enums.
//! - [`migration`] — the schema history, applied in order.
//! - [`id`] — typed ids of rows that have no `domain` id kind (journals, API keys).
//! - [`secret`] — password hashing (argon2id), machine-secret hashing (SHA-256), random tokens
//!   and TOTP secrets.
//! - [`sealing`] — the [`KeyEncryptionKey`](sealing::KeyEncryptionKey) sealing secrets the
//!   platform must read back (signing keys, webhook secrets) with AES-256-GCM.
//! - repositories: [`customers`], [`accounts`], [`journals`], [`postings`], [`apps`],
//!   [`api_keys`].
//! - [`consents`], [`idempotency`], [`outbox`] — consents with optimistic status changes,
//!   idempotency records of retried creates, and the transactional outbox of events.
//! - [`payments`], [`holds`] — payments with optimistic status changes, and the funds holds
//!   that reserve their amounts until settlement (placed with one conditional `UPDATE`, like
//!   [`accounts::apply_delta`]).
//! - [`webhooks`], [`deliveries`] — apps' webhook endpoints with their (sealed) signing secrets
//!   and health, and the deliveries of events to them with every attempt, claimed by senders
//!   with a lease.
//! - [`plans`] — the usage plans' limits and prices; [`plan_changes`] — moving an app to
//!   another plan, and the history of its plans; [`rate_limits`] — the shared rate-limit
//!   buckets of the `cluster` policy.
//! - [`usage`] — metered calls per app, day, operation and status class, and the daily totals
//!   the quotas of every replica share; written by adding batches.
//! - [`audit`] — the audit trail: hash-chained, append-only records appended a batch at a time
//!   under the chain head's lock, their verification and export.
//! - [`identity`] — the identity service's signing keys, revoked tokens and used JWT ids.
//! - `testing` (feature `testing`): `TestDatabase`, a fresh, migrated, isolated database per
//!   test.

pub mod accounts;
pub mod api_keys;
pub mod apps;
pub mod audit;
mod connect;
pub mod consents;
pub mod customers;
pub mod deliveries;
pub mod entity;
pub mod holds;
pub mod id;
pub mod idempotency;
pub mod identity;
pub mod journals;
pub mod migration;
pub mod outbox;
pub mod payments;
pub mod plan_changes;
pub mod plans;
pub mod postings;
pub mod rate_limits;
pub mod sealing;
pub mod secret;
#[cfg(feature = "testing")]
pub mod testing;
pub mod usage;
pub mod webhooks;

pub use connect::{connect, connect_pooled, migrate};
pub use id::ApiKeyId;
pub use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait,
};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// A stored row holds a value the platform cannot read (a bug or a hand-edited row).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database URL cannot be understood.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The directory for a SQLite database file could not be created.
    #[error("cannot create the database directory: {0}")]
    CreateDirectory(#[source] std::io::Error),
    /// A password could not be hashed (only bad hashing parameters cause this).
    #[error("password hashing failed")]
    PasswordHash,
}

/// Shorthand for storage results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
