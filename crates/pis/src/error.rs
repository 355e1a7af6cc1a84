//! The payment service's errors: one variant per business cause, each with the stable
//! [`Reason`] clients match on. Failures of storage, core banking, a stored response or the
//! lifecycle are [`Internal`]: logged once with the line that raised them, answered as a bare
//! INTERNAL.

use wekeza_domain::{PaymentError, Reason};
use wekeza_rpc::{IdempotencyError, Internal, ServiceError};

/// What can go wrong handling a payment request or settling a payment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable `Idempotency-Key` (the gateway refuses these first), or one used before with
    /// another request.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// Request fields are missing or malformed: `(field path, what is wrong)` each.
    #[error("invalid request")]
    InvalidRequest(Vec<(String, String)>),
    /// No such payment for this app (also another app's).
    #[error("payment not found")]
    PaymentNotFound,
    /// No such consent for this caller: unknown, another app's or customer's, or not the
    /// consent the token is bound to.
    #[error("consent not found")]
    ConsentNotFound,
    /// The consent exists but cannot be used now; the reason says why (expired, revoked,
    /// consumed, not authorised, rejected).
    #[error("the consent cannot be used: {0}")]
    ConsentNotUsable(Reason),
    /// The request, or the consent itself, does not allow this payment: each field that
    /// differs from the consent, or a single `("consent_id", why)` for the consent as a whole.
    #[error("the payment does not match its consent")]
    ConsentMismatch(Vec<(String, String)>),
    /// The fraud checks rejected the payment. Their reasons go to the audit log only.
    #[error("the payment was refused by the bank's fraud checks")]
    FraudSuspected,
    /// The fraud checks want the customer to pass a step-up authentication first.
    #[error(
        "the customer must pass a step-up authentication first: send them through an \
         authorization request for this consent with acr_values=urn:wekeza:acr:step-up, then \
         retry with the token it yields"
    )]
    StepUpRequired,
    /// The debtor account's available funds do not cover the amount.
    #[error("the debtor account cannot cover the amount")]
    InsufficientFunds,
    /// Another request changed the consent at the same time, and it is still usable.
    #[error("the consent changed while this request was working on it; retry")]
    ConcurrentModification,
    /// The token names an app that is not registered (deleted since it was issued).
    #[error("the token's app is not registered")]
    UnknownApp,
    /// Storage, core banking, a stored response or a lifecycle step decided on stale state
    /// failed.
    #[error("internal: {0}")]
    Internal(#[source] Internal),
}

impl Error {
    /// Whether the request was refused for a reason of its own (as opposed to a failure).
    pub fn is_refusal(&self) -> bool {
        self.reason() != Reason::Internal
    }
}

impl ServiceError for Error {
    fn reason(&self) -> Reason {
        match self {
            Self::Idempotency(error) => error.reason(),
            Self::InvalidRequest(_) => Reason::InvalidRequest,
            Self::PaymentNotFound | Self::ConsentNotFound => Reason::NotFound,
            Self::ConsentNotUsable(reason) => *reason,
            Self::ConsentMismatch(_) => Reason::ConsentMismatch,
            Self::FraudSuspected => Reason::FraudSuspected,
            Self::StepUpRequired => Reason::StepUpRequired,
            Self::InsufficientFunds => Reason::InsufficientFunds,
            Self::ConcurrentModification => Reason::ConcurrentModification,
            Self::UnknownApp => Reason::InvalidToken,
            Self::Internal(_) => Reason::Internal,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::InvalidRequest(violations) | Self::ConsentMismatch(violations) => {
                violations.clone()
            }
            _ => Vec::new(),
        }
    }
}

wekeza_rpc::service_error!(Error, internal:
    wekeza_store::Error, wekeza_store::DbErr, wekeza_ledger::CoreBankingError, prost::DecodeError,
    PaymentError, wekeza_events::StepError
);

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};
    use tonic_types::StatusExt;

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (
                Error::Idempotency(IdempotencyError::Reused),
                Code::Aborted,
                "IDEMPOTENCY_KEY_REUSED",
            ),
            (Error::PaymentNotFound, Code::NotFound, "NOT_FOUND"),
            (Error::ConsentNotFound, Code::NotFound, "NOT_FOUND"),
            (
                Error::ConsentNotUsable(Reason::ConsentConsumed),
                Code::FailedPrecondition,
                "CONSENT_CONSUMED",
            ),
            (
                Error::FraudSuspected,
                Code::FailedPrecondition,
                "FRAUD_SUSPECTED",
            ),
            (
                Error::StepUpRequired,
                Code::FailedPrecondition,
                "STEP_UP_REQUIRED",
            ),
            (
                Error::InsufficientFunds,
                Code::FailedPrecondition,
                "INSUFFICIENT_FUNDS",
            ),
            (
                Error::from(wekeza_store::Error::Corrupt("x".into())),
                Code::Internal,
                "INTERNAL",
            ),
        ];
        for (error, code, reason) in cases {
            assert_eq!(error.reason().code(), reason);
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{reason}");
        }
    }

    #[test]
    fn a_mismatch_names_the_fields() {
        let status = Status::from(Error::ConsentMismatch(vec![(
            "instructed_amount".into(),
            "must equal the consent's".into(),
        )]));
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|info| info.reason.as_str()),
            Some("CONSENT_MISMATCH")
        );
        let fields: Vec<String> = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| v.field.clone())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["instructed_amount"]);
    }
}
