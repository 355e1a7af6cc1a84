//! Settlement: the background step that moves payments on after they were created.
//!
//! For each unfinished payment, oldest first:
//!
//! 1. PENDING → ACCEPTED_SETTLEMENT_IN_PROCESS, with its event, in one transaction;
//! 2. the ledger settles the payment's hold ([`CoreBanking::settle_hold`], keyed by the
//!    payment id): the debtor is debited, the creditor's account credited when it is in the
//!    bank, else the clearing account; the postings' `account.*` events commit with them;
//! 3. ACCEPTED_SETTLEMENT_IN_PROCESS → ACCEPTED_SETTLEMENT_COMPLETED, with its event.
//!
//! A settlement the ledger refuses (the creditor account is disabled or in another currency —
//! or, in the sandbox, the magic amount `66.66`) releases the hold and ends REJECTED with
//! `SETTLEMENT_FAILED`. An unavailable core leaves the payment IN_PROCESS for the next round.
//!
//! Payments settle a few at a time (`CONCURRENCY`): the ledger locks the accounts of a
//! settlement in account-id order, so concurrent settlements over the same accounts wait for
//! each other instead of deadlocking.
//!
//! Every step is idempotent and decided by the payment's stored status, so a crash anywhere is
//! recovered by running again: [`Settlement::run`] settles whatever is unfinished when it
//! starts, a re-run of step 2 answers the journal already posted (never a second one), and a
//! status change applies only to the status it was decided on, so two workers (two server
//! instances) never both move a payment.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use wekeza_domain::{Clock, Payment, PaymentStatus, Reason};
use wekeza_events::record::{self, StatusWrite};
use wekeza_fraud::sandbox::MagicOutcome;
use wekeza_ledger::{CoreBanking, CoreBankingError};
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::{DatabaseConnection, TransactionTrait, apps, payments};

use crate::Error;

/// Payments read per round trip.
const BATCH: u64 = 100;

/// Payments of a batch settled at once.
const CONCURRENCY: usize = 8;

/// What one settlement step did to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It reached a final status.
    Finished,
    /// The core was unavailable: it stays IN_PROCESS for the next round.
    Retry,
    /// Another worker moved it first.
    Skipped,
}

/// Why a payment was not posted.
#[derive(Debug)]
enum PostError {
    /// The core did not answer: try again later.
    Unavailable(CoreBankingError),
    /// The core (or the sandbox) refused it for good; the cause is for the log.
    Refused(String),
}

/// The settlement worker.
#[derive(Debug, Clone)]
pub struct Settlement {
    /// Payments and the outbox.
    db: DatabaseConnection,
    /// Settles and releases holds.
    core: Arc<dyn CoreBanking>,
    /// Stamps status changes.
    clock: Arc<dyn Clock>,
    /// Whether the sandbox magic values act (`66.66` → settlement fails).
    sandbox: bool,
    /// Notified by the payment service for every new payment.
    wake: Arc<Notify>,
}

impl Settlement {
    /// A worker over `db`, settling through `core`.
    pub fn new(
        db: DatabaseConnection,
        core: Arc<dyn CoreBanking>,
        clock: Arc<dyn Clock>,
        sandbox: bool,
    ) -> Self {
        Self {
            db,
            core,
            clock,
            sandbox,
            wake: Arc::new(Notify::new()),
        }
    }

    /// What the payment service notifies when it created a payment.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Settles every unfinished payment as far as it can go now; answers how many reached a
    /// final status. Payments the core could not take stay unfinished for the next call.
    pub async fn settle_pending(&self) -> Result<usize, Error> {
        let mut finished = 0;
        loop {
            let batch = payments::unfinished(&self.db, BATCH).await?;
            let full = batch.len() as u64 == BATCH;
            // Payments are independent (each step is conditional on the payment's own status
            // and the ledger locks accounts in one order), so a few settle at once.
            let outcomes: Vec<Result<Outcome, Error>> = futures::stream::iter(batch)
                .map(|payment| self.settle(payment))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            let mut progressed = 0;
            let mut failure = None;
            for outcome in outcomes {
                match outcome {
                    Ok(Outcome::Finished) => progressed += 1,
                    Ok(Outcome::Retry | Outcome::Skipped) => {}
                    Err(error) => failure = Some(error),
                }
            }
            finished += progressed;
            if let Some(error) = failure {
                return Err(error);
            }
            if !full || progressed == 0 {
                return Ok(finished);
            }
        }
    }

    /// Settles what is unfinished at start (recovering payments a crash left behind), then
    /// whenever a payment is created or `idle` has passed, until `stop` is cancelled; a failed
    /// round is retried with backoff.
    pub async fn run(self, stop: CancellationToken, idle: Duration) {
        let schedule = Schedule::every(idle).or_when(self.wake.clone());
        run_every("settlement", stop, schedule, || async {
            let count = self.settle_pending().await?;
            if count > 0 {
                tracing::debug!(count, "payments settled");
            }
            Ok::<(), Error>(())
        })
        .await;
    }

    /// Moves one payment on as far as it goes.
    async fn settle(&self, payment: Payment) -> Result<Outcome, Error> {
        let client_id = apps::find(&self.db, &payment.app_id)
            .await?
            .map(|app| app.client_id)
            .ok_or(Error::UnknownApp)?;
        let payment = match payment.status {
            PaymentStatus::Pending => {
                let accepted = payment.clone().accept(self.clock.now())?;
                if self.transition(&payment, &accepted, &client_id).await? == StatusWrite::Conflict
                {
                    return Ok(Outcome::Skipped);
                }
                accepted
            }
            PaymentStatus::AcceptedSettlementInProcess => payment,
            PaymentStatus::AcceptedSettlementCompleted | PaymentStatus::Rejected { .. } => {
                return Ok(Outcome::Skipped);
            }
        };
        match self.post(&payment).await {
            Ok(()) => {
                let completed = payment.clone().complete(self.clock.now())?;
                self.finish(&payment, &completed, &client_id).await
            }
            Err(PostError::Unavailable(error)) => {
                tracing::warn!(payment_id = %payment.id, %error, "core unavailable; settlement retried later");
                Ok(Outcome::Retry)
            }
            Err(PostError::Refused(cause)) => {
                tracing::info!(payment_id = %payment.id, %cause, "settlement failed; payment rejected");
                match self.core.release_hold(payment.id.as_str()).await {
                    Ok(()) | Err(CoreBankingError::NoSuchHold) => {}
                    Err(error) if error.is_transient() => return Ok(Outcome::Retry),
                    Err(error) => return Err(error.into()),
                }
                let rejected = payment
                    .clone()
                    .reject(Reason::SettlementFailed, self.clock.now())?;
                self.finish(&payment, &rejected, &client_id).await
            }
        }
    }

    /// Posts the payment through the ledger (or fails it, for the sandbox magic amount).
    async fn post(&self, payment: &Payment) -> Result<(), PostError> {
        let magic = self
            .sandbox
            .then(|| wekeza_fraud::sandbox::find(payment.amount, &payment.creditor.name))
            .flatten();
        if let Some(magic) = magic.filter(|magic| magic.outcome == MagicOutcome::SettlementFailure)
        {
            return Err(PostError::Refused(magic.code.to_owned()));
        }
        let settlement = wekeza_ledger::Settlement {
            creditor_account_number: payment.creditor.account_number.clone(),
            creditor_name: payment.creditor.name.clone(),
            reference: payment.reference.clone(),
        };
        match self
            .core
            .settle_hold(payment.id.as_str(), &settlement)
            .await
        {
            Ok(_journal) => Ok(()),
            Err(error) if error.is_transient() => Err(PostError::Unavailable(error)),
            Err(error) => Err(PostError::Refused(error.to_string())),
        }
    }

    async fn finish(
        &self,
        before: &Payment,
        after: &Payment,
        client_id: &str,
    ) -> Result<Outcome, Error> {
        Ok(match self.transition(before, after, client_id).await? {
            StatusWrite::Applied => Outcome::Finished,
            StatusWrite::Conflict => Outcome::Skipped,
        })
    }

    /// Writes a transition with its event in its own transaction.
    async fn transition(
        &self,
        before: &Payment,
        after: &Payment,
        client_id: &str,
    ) -> Result<StatusWrite, Error> {
        let txn = self.db.begin().await?;
        let write =
            record::payment_transition(&txn, before, after, client_id, after.status_updated_at)
                .await?;
        txn.commit().await?;
        if write == StatusWrite::Applied {
            tracing::info!(payment_id = %after.id, status = ?after.status, "payment status changed");
        }
        Ok(write)
    }
}
