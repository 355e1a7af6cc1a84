//! The consent service's errors: one variant per business cause, each with the stable
//! [`Reason`] clients match on. Failures of storage, core banking or a stored response are
//! [`Internal`]: logged once with the line that raised them, answered as a bare INTERNAL.

use wekeza_domain::{ConsentError, Reason, Scope};
use wekeza_rpc::{IdempotencyError, Internal, ServiceError};

/// What can go wrong handling a consent request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable `Idempotency-Key`, or one used before with another request.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// The token lacks the scope the consent's type needs.
    #[error("the token lacks the scope {0}")]
    InsufficientScope(Scope),
    /// Request fields are missing or wrong: `(field path, what is wrong)` each.
    #[error("invalid request")]
    InvalidRequest(Vec<(String, String)>),
    /// No such consent for this caller (also another app's or another customer's).
    #[error("consent not found")]
    ConsentNotFound,
    /// The lifecycle does not allow the change.
    #[error(transparent)]
    Lifecycle(#[from] ConsentError),
    /// The consent exists but cannot be used now; the reason says why (expired, revoked, …).
    #[error("the consent cannot be used: {0}")]
    ConsentNotUsable(Reason),
    /// The consent does not allow what was asked (wrong type, no debtor account, other
    /// currency).
    #[error("{0}")]
    ConsentMismatch(&'static str),
    /// Another request changed the consent at the same time, more often than retrying covers.
    #[error("the consent changed while this request was working on it; retry")]
    ConcurrentModification,
    /// The token names an app that is not registered (deleted since it was issued).
    #[error("the token's app is not registered")]
    UnknownApp,
    /// Storage, core banking or a stored response failed.
    #[error("internal: {0}")]
    Internal(#[source] Internal),
}

impl ServiceError for Error {
    fn reason(&self) -> Reason {
        match self {
            Self::Idempotency(error) => error.reason(),
            Self::InsufficientScope(_) => Reason::InsufficientScope,
            Self::InvalidRequest(_) => Reason::InvalidRequest,
            Self::ConsentNotFound => Reason::NotFound,
            Self::Lifecycle(error) => error.reason(),
            Self::ConsentNotUsable(reason) => *reason,
            Self::ConsentMismatch(_) => Reason::ConsentMismatch,
            Self::ConcurrentModification => Reason::ConcurrentModification,
            Self::UnknownApp => Reason::InvalidToken,
            Self::Internal(_) => Reason::Internal,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::InvalidRequest(violations) => violations.clone(),
            _ => Vec::new(),
        }
    }
}

wekeza_rpc::service_error!(Error, internal:
    wekeza_store::Error, wekeza_store::DbErr, wekeza_ledger::CoreBankingError, prost::DecodeError
);

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};
    use wekeza_domain::ConsentStatus;

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (
                Error::Idempotency(IdempotencyError::Reused),
                Code::Aborted,
                "IDEMPOTENCY_KEY_REUSED",
            ),
            (
                Error::InsufficientScope(Scope::PaymentsInitiate),
                Code::PermissionDenied,
                "INSUFFICIENT_SCOPE",
            ),
            (Error::ConsentNotFound, Code::NotFound, "NOT_FOUND"),
            (
                Error::Lifecycle(ConsentError::InvalidTransition {
                    from: ConsentStatus::Rejected,
                    to: ConsentStatus::Revoked,
                }),
                Code::FailedPrecondition,
                "INVALID_STATE_TRANSITION",
            ),
            (
                Error::ConsentNotUsable(Reason::ConsentExpired),
                Code::FailedPrecondition,
                "CONSENT_EXPIRED",
            ),
            (
                Error::InvalidRequest(vec![("type".into(), "is required".into())]),
                Code::InvalidArgument,
                "INVALID_REQUEST",
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
}
