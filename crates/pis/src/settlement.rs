//! Settlement: the background step that moves payments on after they were created.
//!
//! For each unfinished payment, oldest first, the worker takes the steps of
//! [`PaymentSteps`] (shared with the sandbox's `SimulatePaymentStatus`):
//!
//! 1. accept: PENDING → ACCEPTED_SETTLEMENT_IN_PROCESS, with its event, in one transaction;
//! 2. complete: the ledger settles the payment's hold (keyed by the payment id: the debtor is
//!    debited, the creditor's account credited when it is in the bank, else the clearing
//!    account; the postings' `account.*` events commit with them), then
//!    ACCEPTED_SETTLEMENT_IN_PROCESS → ACCEPTED_SETTLEMENT_COMPLETED, with its event.
//!
//! A settlement the ledger refuses (the creditor account is disabled or in another currency —
//! or, in the sandbox, the magic amount `66.66`) is rejected instead: the hold is released and
//! the payment ends REJECTED with `SETTLEMENT_FAILED`. An unavailable core leaves the payment
//! IN_PROCESS for the next round. In the sandbox, a payment of the magic amount `77.77` is
//! left alone at every step: it waits for `SimulatePaymentStatus`.
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
use wekeza_domain::{Clock, Payment, PaymentId, PaymentStatus, Reason};
use wekeza_events::{PaymentSteps, Step, StepError};
use wekeza_fraud::sandbox::{self as magic, MagicOutcome};
use wekeza_ledger::CoreBanking;
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::{DatabaseConnection, apps, payments};

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

/// The settlement worker.
#[derive(Debug, Clone)]
pub struct Settlement {
    /// The unfinished payments and their apps.
    db: DatabaseConnection,
    /// Each step: the ledger call and the status change with its event.
    steps: PaymentSteps,
    /// Stamps status changes.
    clock: Arc<dyn Clock>,
    /// Whether the sandbox magic values act (`66.66` → settlement fails, `77.77` → left
    /// alone).
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
            steps: PaymentSteps::new(db.clone(), core),
            db,
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
        let mut after: Option<PaymentId> = None;
        loop {
            let batch = payments::unfinished(&self.db, after.as_ref(), BATCH).await?;
            let full = batch.len() as u64 == BATCH;
            after = batch.last().map(|payment| payment.id.clone());
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
            if !full {
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
        let magic = self
            .sandbox
            .then(|| magic::find(payment.amount, &payment.creditor.name))
            .flatten();
        let forced = |outcome| magic.filter(|magic| magic.outcome == outcome);
        if forced(MagicOutcome::HeldForSimulation).is_some() {
            return Ok(Outcome::Skipped);
        }
        let client_id = apps::find(&self.db, &payment.app_id)
            .await?
            .map(|app| app.client_id)
            .ok_or(Error::UnknownApp)?;
        let payment = match payment.status {
            PaymentStatus::Pending => {
                match self
                    .steps
                    .accept(&payment, &client_id, self.clock.now())
                    .await?
                {
                    Step::Applied(accepted) => *accepted,
                    Step::Conflict => return Ok(Outcome::Skipped),
                }
            }
            PaymentStatus::AcceptedSettlementInProcess => payment,
            PaymentStatus::AcceptedSettlementCompleted | PaymentStatus::Rejected { .. } => {
                return Ok(Outcome::Skipped);
            }
        };
        let completed = if let Some(magic) = forced(MagicOutcome::SettlementFailure) {
            Err(magic.code.to_owned())
        } else {
            match self
                .steps
                .complete(&payment, &client_id, self.clock.now())
                .await
            {
                Ok(step) => Ok(step),
                Err(StepError::Refused(cause)) => Err(cause.to_string()),
                Err(StepError::Unavailable(error)) => {
                    tracing::warn!(payment_id = %payment.id, %error, "core unavailable; settlement retried later");
                    return Ok(Outcome::Retry);
                }
                Err(error) => return Err(error.into()),
            }
        };
        let step = match completed {
            Ok(step) => step,
            Err(cause) => {
                tracing::info!(payment_id = %payment.id, %cause, "settlement failed; payment rejected");
                match self
                    .steps
                    .reject(
                        &payment,
                        Reason::SettlementFailed,
                        &client_id,
                        self.clock.now(),
                    )
                    .await
                {
                    Ok(step) => step,
                    Err(StepError::Unavailable(_)) => return Ok(Outcome::Retry),
                    Err(error) => return Err(error.into()),
                }
            }
        };
        Ok(match step {
            Step::Applied(_) => Outcome::Finished,
            Step::Conflict => Outcome::Skipped,
        })
    }
}
