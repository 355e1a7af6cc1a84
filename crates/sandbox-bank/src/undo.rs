//! Taking back what payments did to the ledger: the sandbox reset of one app
//! (`ResetSandbox`), which must leave every other app's effects where they are.
//!
//! For each payment:
//! - funds still on hold are released (the payment never settled);
//! - a settled payment's journal is reversed: a journal of the same postings negated, on the
//!   same accounts, recorded under `reversal:<payment id>` (so never twice), with the postings'
//!   `account.*` events. Its debits apply whatever the overdraft limits: they take back exactly
//!   what the payment moved, even when another app's payment has spent that credit since.
//!
//! Nothing is deleted: the ledger stays append-only, so every balance is still the sum of its
//! postings and every `balance_after` stays true, and a statement shows the payment and its
//! reversal. Run in the caller's transaction, with the deletion of the payments themselves.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::DatabaseTransaction;
use wekeza_domain::Money;
use wekeza_ledger::Result;
use wekeza_store::entity::enums::HoldStatus;

use crate::journal::check_balanced;
use crate::ledger::{Recorded, corrupt, parse, parse_currency, post_in, unavailable};
use crate::{JournalKind, NewJournal, NewPosting};

/// What undoing payments did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Undone {
    /// Holds released: payments that had not settled.
    pub released: usize,
    /// Settlement journals reversed.
    pub reversed: usize,
}

/// The reference a reversal of the journal recorded under `reference` is recorded under.
pub fn reversal_reference(reference: &str) -> String {
    format!("reversal:{reference}")
}

/// Undoes, in `txn` at `now`, what the payments `references` (their ids) did on the ledger.
pub async fn undo_payments(
    txn: &DatabaseTransaction,
    references: &[&str],
    now: DateTime<Utc>,
) -> Result<Undone> {
    // Microseconds: what PostgreSQL keeps, as every other booking.
    let booking_time = now.trunc_subsecs(6);
    let mut undone = Undone::default();
    for &reference in references {
        let Some(hold) = wekeza_store::holds::find(txn, reference)
            .await
            .map_err(unavailable)?
        else {
            continue;
        };
        let settled = match hold.status {
            HoldStatus::Released => false,
            HoldStatus::Settled => true,
            HoldStatus::Active => {
                if wekeza_store::holds::release(txn, &hold, booking_time)
                    .await
                    .map_err(unavailable)?
                {
                    undone.released += 1;
                    false
                } else {
                    // Ended in between: by a settlement that committed first, or a release.
                    wekeza_store::holds::find(txn, reference)
                        .await
                        .map_err(unavailable)?
                        .is_some_and(|now| now.status == HoldStatus::Settled)
                }
            }
        };
        if settled && reverse(txn, reference, booking_time).await? {
            undone.reversed += 1;
        }
    }
    Ok(undone)
}

/// Posts the reversal of the journal recorded under `reference`, unless there is one already;
/// answers whether it posted.
async fn reverse(
    txn: &DatabaseTransaction,
    reference: &str,
    booking_time: DateTime<Utc>,
) -> Result<bool> {
    let reversal = reversal_reference(reference);
    let find = |reference: String| async move {
        wekeza_store::journals::find_by_external_reference(txn, &reference)
            .await
            .map_err(unavailable)
    };
    if find(reversal.clone()).await?.is_some() {
        return Ok(false);
    }
    let (journal, rows) = find(reference.to_owned())
        .await?
        .ok_or_else(|| corrupt("a settled hold without its journal"))?;
    let mut postings = Vec::with_capacity(rows.len());
    for row in rows {
        let amount = Money::from_minor(-row.amount_minor, parse_currency(&row.currency)?);
        postings.push(NewPosting {
            account_id: parse(&row.account_id, "postings.account_id")?,
            amount,
            description: format!("Reversal: {}", row.description),
            reference: row.reference,
            category: row.category,
            merchant_name: row.merchant_name,
            merchant_category_code: row.merchant_category_code,
            counterparty_name: row.counterparty_name,
        });
    }
    let journal = NewJournal {
        kind: JournalKind::Reversal,
        description: format!("Reversal of {} (sandbox reset)", journal.description),
        postings,
    };
    check_balanced(&journal.postings)?;
    post_in(txn, journal, Recorded::Reversal(&reversal), booking_time).await?;
    Ok(true)
}
