//! `ResetSandbox`: the calling app's sandbox data removed, and what its payments did to the
//! test users' accounts taken back — never another app's.
//!
//! The test users' ledgers are shared by every app of the sandbox (one bank, one set of
//! customers), so one app's reset cannot reseed them; it undoes what that app changed instead
//! (the design and its reasons: `docs/decisions.md`). In one transaction it:
//!
//! 1. deletes the app's payments (`DELETE … RETURNING`: of two concurrent resets, each payment
//!    is undone by one only);
//! 2. undoes what they did on the ledger ([`wekeza_sandbox_bank::undo`]): funds still on hold
//!    are released, settled payments reversed, with the postings' `account.*` events;
//! 3. deletes the app's consents, and with them (the foreign keys cascade) its authorization
//!    requests, codes, refresh tokens and CIBA requests, so its customer tokens stop working;
//! 4. deletes the app's idempotency records, which answered for what is gone.
//!
//! Kept: the app, its credentials and client-credentials tokens, its webhook endpoints and
//! their delivery log, the events already written — and everything of every other app.

use chrono::{DateTime, Utc};
use wekeza_domain::AppId;
use wekeza_sandbox_bank::undo::{self, Undone};
use wekeza_store::{DatabaseConnection, TransactionTrait, consents, idempotency, payments};

use crate::Error;

/// What a reset removed and took back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reset {
    /// Consents deleted.
    pub consents: u64,
    /// Payments deleted.
    pub payments: usize,
    /// What their undoing did on the ledger.
    pub undone: Undone,
}

/// Resets `app`'s sandbox data at `now`.
pub(crate) async fn app(
    db: &DatabaseConnection,
    app: &AppId,
    now: DateTime<Utc>,
) -> Result<Reset, Error> {
    let txn = db.begin().await?;
    // The first statement writes: on SQLite a transaction that read first could not take the
    // write lock once another connection wrote since.
    let removed = payments::delete_for_app(&txn, app).await?;
    let references: Vec<&str> = removed.iter().map(|payment| payment.id.as_str()).collect();
    let undone = undo::undo_payments(&txn, &references, now).await?;
    let consents = consents::delete_for_app(&txn, app).await?;
    idempotency::delete_for_app(&txn, app).await?;
    txn.commit().await?;
    Ok(Reset {
        consents,
        payments: removed.len(),
        undone,
    })
}
