//! `SimulatePaymentStatus`: the bank's side of a payment, driven by hand.
//!
//! The settlement worker leaves a payment of the sandbox magic amount `77.77` alone, so it
//! stays PENDING until a developer moves it here, one status at a time, through the steps the
//! worker itself takes ([`PaymentSteps`]): the same ledger calls, the same `account.*` and
//! `payment.status_changed` events. Any other payment is the worker's, which moves it on by
//! itself; simulating it is refused, so the two never race.
//!
//! | from \ to    | IN_PROCESS | COMPLETED                                 | REJECTED                 |
//! |--------------|------------|-------------------------------------------|--------------------------|
//! | PENDING      | accept     | accept, then complete (an event for each) | release the hold, reject |
//! | IN_PROCESS   | —          | settle the hold, complete                 | release the hold, reject |
//! | COMPLETED    | —          | —                                         | —                        |
//! | REJECTED     | —          | —                                         | —                        |
//!
//! A step the table does not have answers `INVALID_STATE_TRANSITION` (FAILED_PRECONDITION).
//! A rejection carries the `status_reason` asked for (one of
//! [`PaymentStatus::REJECTION_REASONS`]), `REJECTED_BY_SANDBOX` by default.

use chrono::{DateTime, Utc};
use wekeza_domain::{Payment, PaymentStatus, Reason};
use wekeza_events::{PaymentSteps, Step, StepError};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire;

use crate::Error;

/// Where a simulation takes a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// ACCEPTED_SETTLEMENT_IN_PROCESS.
    InProcess,
    /// ACCEPTED_SETTLEMENT_COMPLETED.
    Completed,
    /// REJECTED, for this reason.
    Rejected(Reason),
}

impl Target {
    /// The target a request names: `status` (a `PaymentStatus` number) and, for a rejection,
    /// `status_reason` (empty: `REJECTED_BY_SANDBOX`).
    pub(crate) fn of(status: i32, status_reason: &str) -> Result<Self, Error> {
        let status = pb::PaymentStatus::try_from(status).map_err(|_| {
            Error::InvalidField("status", format!("{status} is not a payment status"))
        })?;
        let target = match status {
            pb::PaymentStatus::Unspecified => {
                return Err(Error::InvalidField("status", "is required".into()));
            }
            pb::PaymentStatus::Pending => {
                return Err(Error::IllegalSimulation(
                    "the payment lifecycle never returns to PAYMENT_STATUS_PENDING".into(),
                ));
            }
            pb::PaymentStatus::AcceptedSettlementInProcess => Self::InProcess,
            pb::PaymentStatus::AcceptedSettlementCompleted => Self::Completed,
            pb::PaymentStatus::Rejected => {
                if status_reason.is_empty() {
                    return Ok(Self::Rejected(Reason::RejectedBySandbox));
                }
                let reason = Reason::from_code(status_reason)
                    .filter(|reason| PaymentStatus::REJECTION_REASONS.contains(reason))
                    .ok_or_else(|| {
                        let known: Vec<&str> = PaymentStatus::REJECTION_REASONS
                            .iter()
                            .map(|reason| reason.code())
                            .collect();
                        Error::InvalidField(
                            "status_reason",
                            format!("must be one of {}", known.join(", ")),
                        )
                    })?;
                return Ok(Self::Rejected(reason));
            }
        };
        if !status_reason.is_empty() {
            return Err(Error::InvalidField(
                "status_reason",
                "is only for PAYMENT_STATUS_REJECTED".into(),
            ));
        }
        Ok(target)
    }

    /// The target's wire name, for messages.
    fn name(self) -> &'static str {
        match self {
            Self::InProcess => pb::PaymentStatus::AcceptedSettlementInProcess.as_str_name(),
            Self::Completed => pb::PaymentStatus::AcceptedSettlementCompleted.as_str_name(),
            Self::Rejected(_) => pb::PaymentStatus::Rejected.as_str_name(),
        }
    }
}

/// Moves `payment` (held for simulation, of the app `client_id`) to `target` at `now`;
/// answers it in its new status.
pub(crate) async fn drive(
    steps: &PaymentSteps,
    payment: Payment,
    target: Target,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Payment, Error> {
    let illegal = |payment: &Payment| {
        Error::IllegalSimulation(format!(
            "the payment lifecycle has no step from {} to {}",
            wire::payment_status(payment.status).as_str_name(),
            target.name()
        ))
    };
    let taken = |step: Result<Step, StepError>, payment: &Payment| match step {
        Ok(Step::Applied(moved)) => Ok(*moved),
        Ok(Step::Conflict) => Err(Error::PaymentChanged),
        Err(StepError::Lifecycle(_)) => Err(illegal(payment)),
        Err(StepError::Refused(cause)) => Err(Error::IllegalSimulation(format!(
            "the ledger refused: {cause}; the payment stays {}",
            wire::payment_status(payment.status).as_str_name()
        ))),
        Err(error) => Err(error.into()),
    };
    match (payment.status, target) {
        (PaymentStatus::Pending, Target::InProcess) => {
            taken(steps.accept(&payment, client_id, now).await, &payment)
        }
        (PaymentStatus::Pending, Target::Completed) => {
            let accepted = taken(steps.accept(&payment, client_id, now).await, &payment)?;
            taken(steps.complete(&accepted, client_id, now).await, &accepted)
        }
        (PaymentStatus::AcceptedSettlementInProcess, Target::Completed) => {
            taken(steps.complete(&payment, client_id, now).await, &payment)
        }
        (
            PaymentStatus::Pending | PaymentStatus::AcceptedSettlementInProcess,
            Target::Rejected(reason),
        ) => taken(
            steps.reject(&payment, reason, client_id, now).await,
            &payment,
        ),
        _ => Err(illegal(&payment)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_a_target_or_is_refused_with_its_field() {
        let status = |value: pb::PaymentStatus| i32::from(value);
        assert_eq!(
            Target::of(status(pb::PaymentStatus::AcceptedSettlementInProcess), "").ok(),
            Some(Target::InProcess)
        );
        assert_eq!(
            Target::of(status(pb::PaymentStatus::AcceptedSettlementCompleted), "").ok(),
            Some(Target::Completed)
        );
        assert_eq!(
            Target::of(status(pb::PaymentStatus::Rejected), "").ok(),
            Some(Target::Rejected(Reason::RejectedBySandbox))
        );
        assert_eq!(
            Target::of(status(pb::PaymentStatus::Rejected), "INSUFFICIENT_FUNDS").ok(),
            Some(Target::Rejected(Reason::InsufficientFunds))
        );
        let field = |result: Result<Target, Error>| match result {
            Err(Error::InvalidField(field, _)) => field,
            other => unreachable!("a field violation, not {other:?}"),
        };
        assert_eq!(
            field(Target::of(status(pb::PaymentStatus::Unspecified), "")),
            "status"
        );
        assert_eq!(field(Target::of(99, "")), "status");
        for reason in ["NOT_FOUND", "INTERNAL", "nope", "\0"] {
            assert_eq!(
                field(Target::of(status(pb::PaymentStatus::Rejected), reason)),
                "status_reason",
                "{reason:?}"
            );
        }
        assert_eq!(
            field(Target::of(
                status(pb::PaymentStatus::AcceptedSettlementCompleted),
                "INSUFFICIENT_FUNDS"
            )),
            "status_reason"
        );
        assert!(matches!(
            Target::of(status(pb::PaymentStatus::Pending), ""),
            Err(Error::IllegalSimulation(_))
        ));
    }
}
