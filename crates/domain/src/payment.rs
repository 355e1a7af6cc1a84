//! Payments: one payment made under an authorised payment consent, and the lifecycle it moves
//! through.
//!
//! ```text
//! PENDING ──accept──▶ ACCEPTED_SETTLEMENT_IN_PROCESS ──complete──▶ ACCEPTED_SETTLEMENT_COMPLETED
//!    │                           │
//!    └──────reject──▶ REJECTED ◀─┘
//! ```
//!
//! A payment is created PENDING with the debtor's funds on hold; settlement accepts it, posts
//! it to the ledger and completes it — or rejects it (with a reason) and releases the hold.
//! COMPLETED and REJECTED are final. Like a [`Consent`](crate::Consent), a [`Payment`] is a
//! value: each transition consumes it and returns the next one, or refuses with
//! [`PaymentError`]; transitions take `now` and never read a clock. Writing a transition
//! together with its `payment.status_changed` event is the payment service's business.

use chrono::{DateTime, Utc};

use crate::id::{AccountId, AppId, ConsentId, CustomerId, PaymentId};
use crate::money::Money;
use crate::reason::Reason;

/// Where a payment is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Received, funds on hold; settlement has not started.
    Pending,
    /// Accepted; the ledger is posting it.
    AcceptedSettlementInProcess,
    /// Posted: the debtor is debited and the creditor (or the clearing account) credited. Final.
    AcceptedSettlementCompleted,
    /// Refused after it was accepted for processing; the hold is released. Final.
    Rejected {
        /// Why, as the stable reason code clients see in `status_reason`
        /// (e.g. [`Reason::SettlementFailed`]).
        reason: Reason,
    },
}

impl PaymentStatus {
    /// The reasons a rejected payment may carry (its `status_reason`): the ledger could not
    /// settle it, the account could not cover it, the fraud checks refused it, or the sandbox
    /// rejected it on request.
    pub const REJECTION_REASONS: [Reason; 4] = [
        Reason::SettlementFailed,
        Reason::InsufficientFunds,
        Reason::FraudSuspected,
        Reason::RejectedBySandbox,
    ];

    /// Whether the payment can still change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::AcceptedSettlementCompleted | Self::Rejected { .. }
        )
    }

    /// The rejection reason, if rejected.
    pub fn reason(self) -> Option<Reason> {
        match self {
            Self::Rejected { reason } => Some(reason),
            _ => None,
        }
    }

    /// Whether `self` and `other` are the same step of the lifecycle (rejection reasons aside).
    fn same_step(self, other: Self) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// Who is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creditor {
    /// The creditor's name, as the consent names it.
    pub name: String,
    /// The creditor's account number, as the consent names it.
    pub account_number: String,
}

/// A payment. Fields are public for storage and display; `status` and `status_updated_at`
/// change only through the transitions below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// `pay_…`.
    pub id: PaymentId,
    /// The app that created it; only that app sees it.
    pub app_id: AppId,
    /// The payment consent it was made under (consumed by it).
    pub consent_id: ConsentId,
    /// The paying customer.
    pub customer_id: CustomerId,
    /// The account debited.
    pub debtor_account_id: AccountId,
    /// How much, in which currency (positive).
    pub amount: Money,
    /// Who is paid.
    pub creditor: Creditor,
    /// The reference the creditor sees (may be empty).
    pub reference: String,
    /// Where it is in its lifecycle.
    pub status: PaymentStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the status last changed.
    pub status_updated_at: DateTime<Utc>,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The lifecycle has no such step from the payment's status.
    #[error("a payment cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// The payment's status.
        from: PaymentStatus,
        /// The status asked for.
        to: PaymentStatus,
    },
}

impl PaymentError {
    /// The stable reason clients see.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidTransition { .. } => Reason::InvalidStateTransition,
        }
    }
}

/// What a new payment is: everything but its lifecycle fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// `pay_…`.
    pub id: PaymentId,
    /// The app creating it.
    pub app_id: AppId,
    /// The payment consent it is made under.
    pub consent_id: ConsentId,
    /// The paying customer.
    pub customer_id: CustomerId,
    /// The account debited.
    pub debtor_account_id: AccountId,
    /// How much (positive).
    pub amount: Money,
    /// Who is paid.
    pub creditor: Creditor,
    /// The reference the creditor sees.
    pub reference: String,
}

impl Payment {
    /// A new PENDING payment, created at `now`.
    pub fn new(new: NewPayment, now: DateTime<Utc>) -> Self {
        Self {
            id: new.id,
            app_id: new.app_id,
            consent_id: new.consent_id,
            customer_id: new.customer_id,
            debtor_account_id: new.debtor_account_id,
            amount: new.amount,
            creditor: new.creditor,
            reference: new.reference,
            status: PaymentStatus::Pending,
            created_at: now,
            status_updated_at: now,
        }
    }

    /// Moves to `to` at `now` if the status is one of `from`.
    fn step(
        self,
        from: &[PaymentStatus],
        to: PaymentStatus,
        now: DateTime<Utc>,
    ) -> Result<Self, PaymentError> {
        if !from.iter().any(|allowed| allowed.same_step(self.status)) {
            return Err(PaymentError::InvalidTransition {
                from: self.status,
                to,
            });
        }
        Ok(Self {
            status: to,
            status_updated_at: now,
            ..self
        })
    }

    /// Settlement starts: PENDING → ACCEPTED_SETTLEMENT_IN_PROCESS.
    pub fn accept(self, now: DateTime<Utc>) -> Result<Self, PaymentError> {
        self.step(
            &[PaymentStatus::Pending],
            PaymentStatus::AcceptedSettlementInProcess,
            now,
        )
    }

    /// The ledger posted it: ACCEPTED_SETTLEMENT_IN_PROCESS → ACCEPTED_SETTLEMENT_COMPLETED.
    pub fn complete(self, now: DateTime<Utc>) -> Result<Self, PaymentError> {
        self.step(
            &[PaymentStatus::AcceptedSettlementInProcess],
            PaymentStatus::AcceptedSettlementCompleted,
            now,
        )
    }

    /// It cannot be made, for `reason`: PENDING or ACCEPTED_SETTLEMENT_IN_PROCESS → REJECTED.
    pub fn reject(self, reason: Reason, now: DateTime<Utc>) -> Result<Self, PaymentError> {
        self.step(
            &[
                PaymentStatus::Pending,
                PaymentStatus::AcceptedSettlementInProcess,
            ],
            PaymentStatus::Rejected { reason },
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use chrono::TimeDelta;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
            + TimeDelta::minutes(minutes)
    }

    const REJECTED: PaymentStatus = PaymentStatus::Rejected {
        reason: Reason::SettlementFailed,
    };

    const ALL: [PaymentStatus; 4] = [
        PaymentStatus::Pending,
        PaymentStatus::AcceptedSettlementInProcess,
        PaymentStatus::AcceptedSettlementCompleted,
        REJECTED,
    ];

    fn pending() -> Payment {
        Payment::new(
            NewPayment {
                id: PaymentId::new_random(at(0)),
                app_id: AppId::new_random(at(0)),
                consent_id: ConsentId::new_random(at(0)),
                customer_id: CustomerId::new_random(at(0)),
                debtor_account_id: AccountId::new_random(at(0)),
                amount: Money::from_minor(15_000, Currency::Kes),
                creditor: Creditor {
                    name: "Jane Doe".into(),
                    account_number: "01100012345".into(),
                },
                reference: "Invoice 42".into(),
            },
            at(0),
        )
    }

    /// A payment brought to `status` at minute 1.
    fn payment_in(status: PaymentStatus) -> Payment {
        let payment = match status {
            PaymentStatus::Pending => Ok(pending()),
            PaymentStatus::AcceptedSettlementInProcess => pending().accept(at(1)),
            PaymentStatus::AcceptedSettlementCompleted => {
                pending().accept(at(1)).and_then(|p| p.complete(at(1)))
            }
            PaymentStatus::Rejected { reason } => pending().reject(reason, at(1)),
        };
        match payment {
            Ok(payment) => payment,
            Err(error) => unreachable!("setting up {status:?}: {error}"),
        }
    }

    fn transition(payment: Payment, to: PaymentStatus) -> Result<Payment, PaymentError> {
        match to {
            PaymentStatus::Pending => Err(PaymentError::InvalidTransition {
                from: payment.status,
                to,
            }),
            PaymentStatus::AcceptedSettlementInProcess => payment.accept(at(2)),
            PaymentStatus::AcceptedSettlementCompleted => payment.complete(at(2)),
            PaymentStatus::Rejected { reason } => payment.reject(reason, at(2)),
        }
    }

    #[test]
    fn every_status_pair_is_allowed_or_refused_as_the_lifecycle_says() {
        use PaymentStatus::*;
        let allowed = [
            (Pending, AcceptedSettlementInProcess),
            (Pending, REJECTED),
            (AcceptedSettlementInProcess, AcceptedSettlementCompleted),
            (AcceptedSettlementInProcess, REJECTED),
        ];
        for from in ALL {
            for to in ALL {
                let payment = payment_in(from);
                assert_eq!(payment.status, from);
                let outcome = transition(payment, to);
                if allowed.contains(&(from, to)) {
                    let next = outcome.unwrap_or_else(|e| unreachable!("{from:?} → {to:?}: {e}"));
                    assert_eq!(next.status, to, "{from:?} → {to:?}");
                    assert_eq!(next.status_updated_at, at(2));
                    assert_eq!(next.created_at, at(0));
                } else {
                    let error = outcome.err();
                    assert_eq!(
                        error,
                        Some(PaymentError::InvalidTransition { from, to }),
                        "{from:?} → {to:?} must be refused"
                    );
                    assert_eq!(
                        error.map(|e| e.reason()),
                        Some(Reason::InvalidStateTransition)
                    );
                }
            }
        }
    }

    #[test]
    fn a_new_payment_is_pending_and_only_completion_and_rejection_are_final() {
        let payment = pending();
        assert_eq!(payment.status, PaymentStatus::Pending);
        assert_eq!(payment.status_updated_at, payment.created_at);
        let finals: Vec<bool> = ALL.iter().map(|s| s.is_final()).collect();
        assert_eq!(finals, [false, false, true, true]);
    }

    #[test]
    fn a_rejection_keeps_its_reason() {
        let rejected = pending()
            .reject(Reason::InsufficientFunds, at(3))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(rejected.status.reason(), Some(Reason::InsufficientFunds));
        assert_eq!(PaymentStatus::Pending.reason(), None);
        // A rejected payment cannot be rejected again, whatever the reason.
        assert_eq!(
            rejected
                .clone()
                .reject(Reason::SettlementFailed, at(4))
                .err(),
            Some(PaymentError::InvalidTransition {
                from: rejected.status,
                to: REJECTED,
            })
        );
    }
}
