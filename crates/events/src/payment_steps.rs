//! The steps that move a payment on after it was created. Each is the ledger call it needs,
//! through the [`CoreBanking`] seam, followed by the status change with its
//! `payment.status_changed` event in a transaction of its own ([`record::payment_transition`]):
//!
//! - [`PaymentSteps::accept`]: PENDING → ACCEPTED_SETTLEMENT_IN_PROCESS (no ledger call);
//! - [`PaymentSteps::complete`]: the ledger settles the payment's hold
//!   ([`CoreBanking::settle_hold`]: the debtor is debited, the creditor's account credited when
//!   it is in the bank, else the clearing account; the postings' `account.*` events commit with
//!   them), then ACCEPTED_SETTLEMENT_IN_PROCESS → ACCEPTED_SETTLEMENT_COMPLETED;
//! - [`PaymentSteps::reject`]: the hold is released ([`CoreBanking::release_hold`]), then
//!   PENDING or ACCEPTED_SETTLEMENT_IN_PROCESS → REJECTED with its reason.
//!
//! Two callers decide when to take them: the settlement worker (`pis`), for every unfinished
//! payment in turn, and the sandbox's `SimulatePaymentStatus`, for the payment and the status a
//! developer names. Sharing the steps is what makes a simulated settlement post, and announce,
//! exactly what a real one does.
//!
//! Every step can be run again: the lifecycle is checked before the ledger is asked anything,
//! the ledger calls are keyed by the payment id (settling again answers the journal already
//! posted, releasing again succeeds), and the status change applies only to the status it was
//! decided on — [`Step::Conflict`] when another worker or request moved the payment first.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use wekeza_domain::{Payment, PaymentError, Reason};
use wekeza_ledger::{CoreBanking, CoreBankingError, Settlement};
use wekeza_store::{DatabaseConnection, TransactionTrait};

use crate::record::{self, StatusWrite};

/// What a step did to the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The payment moved: here it is in its new status.
    Applied(Box<Payment>),
    /// Another worker or request moved it first; nothing was written.
    Conflict,
}

/// Why a step was not taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The lifecycle has no such step from the payment's status; nothing was asked of the
    /// ledger.
    #[error(transparent)]
    Lifecycle(#[from] PaymentError),
    /// The ledger refused for good: the creditor account is disabled or in another currency,
    /// or the hold is no longer what the step needs (a settled hold cannot be released).
    #[error("the ledger refused: {0}")]
    Refused(CoreBankingError),
    /// The core banking system did not answer; the step may be taken again later.
    #[error("core banking unavailable: {0}")]
    Unavailable(CoreBankingError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] wekeza_store::Error),
}

impl StepError {
    fn from_ledger(error: CoreBankingError) -> Self {
        if error.is_transient() {
            Self::Unavailable(error)
        } else {
            Self::Refused(error)
        }
    }
}

/// The payment steps over one database and one core.
#[derive(Debug, Clone)]
pub struct PaymentSteps {
    /// Payments and the outbox.
    db: DatabaseConnection,
    /// Settles and releases holds.
    core: Arc<dyn CoreBanking>,
}

impl PaymentSteps {
    /// Steps writing to `db`, settling through `core`.
    pub fn new(db: DatabaseConnection, core: Arc<dyn CoreBanking>) -> Self {
        Self { db, core }
    }

    /// PENDING → ACCEPTED_SETTLEMENT_IN_PROCESS at `now`. `client_id` is the app's, for the
    /// event.
    pub async fn accept(
        &self,
        payment: &Payment,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Step, StepError> {
        let accepted = payment.clone().accept(now)?;
        self.write(payment, accepted, client_id).await
    }

    /// Settles the hold of `payment` (ACCEPTED_SETTLEMENT_IN_PROCESS) on the ledger, then
    /// completes it at `now`.
    pub async fn complete(
        &self,
        payment: &Payment,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Step, StepError> {
        let completed = payment.clone().complete(now)?;
        let settlement = Settlement {
            creditor_account_number: payment.creditor.account_number.clone(),
            creditor_name: payment.creditor.name.clone(),
            reference: payment.reference.clone(),
        };
        self.core
            .settle_hold(payment.id.as_str(), &settlement)
            .await
            .map_err(StepError::from_ledger)?;
        self.write(payment, completed, client_id).await
    }

    /// Releases the hold of `payment` (PENDING or ACCEPTED_SETTLEMENT_IN_PROCESS; a payment
    /// without one is fine), then rejects it at `now` for `reason`.
    pub async fn reject(
        &self,
        payment: &Payment,
        reason: Reason,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Step, StepError> {
        let rejected = payment.clone().reject(reason, now)?;
        match self.core.release_hold(payment.id.as_str()).await {
            Ok(()) | Err(CoreBankingError::NoSuchHold) => {}
            Err(error) => return Err(StepError::from_ledger(error)),
        }
        self.write(payment, rejected, client_id).await
    }

    /// Writes `before` → `after` with its event, in its own transaction.
    async fn write(
        &self,
        before: &Payment,
        after: Payment,
        client_id: &str,
    ) -> Result<Step, StepError> {
        let txn = self.db.begin().await.map_err(wekeza_store::Error::from)?;
        let write =
            record::payment_transition(&txn, before, &after, client_id, after.status_updated_at)
                .await?;
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        Ok(match write {
            StatusWrite::Applied => {
                tracing::info!(payment_id = %after.id, status = ?after.status, "payment status changed");
                Step::Applied(Box::new(after))
            }
            StatusWrite::Conflict => Step::Conflict,
        })
    }
}
