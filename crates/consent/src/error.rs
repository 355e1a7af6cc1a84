//! The consent service's errors: one variant per business cause, each with the stable
//! [`Reason`] clients match on. Storage and core-banking failures are internal: logged once,
//! answered as a bare INTERNAL.

use tonic::Status;
use wekeza_domain::{ConsentError, Reason, Scope};
use wekeza_rpc::ApiError;

/// What can go wrong handling a consent request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A create without an `Idempotency-Key` header (the gateway refuses these first).
    #[error("this call needs an Idempotency-Key header (1 to 255 characters)")]
    IdempotencyKeyMissing,
    /// The key was used before with a different request.
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
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
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] wekeza_store::Error),
    /// The core banking system failed.
    #[error("core banking: {0}")]
    CoreBanking(#[from] wekeza_ledger::CoreBankingError),
    /// A stored idempotent response does not decode.
    #[error("stored response does not decode: {0}")]
    StoredResponse(#[from] prost::DecodeError),
}

impl Error {
    /// The stable reason clients see.
    pub fn reason(&self) -> Reason {
        match self {
            Self::IdempotencyKeyMissing => Reason::IdempotencyKeyMissing,
            Self::IdempotencyKeyReused => Reason::IdempotencyKeyReused,
            Self::InsufficientScope(_) => Reason::InsufficientScope,
            Self::InvalidRequest(_) => Reason::InvalidRequest,
            Self::ConsentNotFound => Reason::NotFound,
            Self::Lifecycle(error) => error.reason(),
            Self::ConsentNotUsable(reason) => *reason,
            Self::ConsentMismatch(_) => Reason::ConsentMismatch,
            Self::ConcurrentModification => Reason::ConcurrentModification,
            Self::UnknownApp => Reason::InvalidToken,
            Self::Storage(_) | Self::CoreBanking(_) | Self::StoredResponse(_) => Reason::Internal,
        }
    }
}

impl From<wekeza_store::DbErr> for Error {
    fn from(error: wekeza_store::DbErr) -> Self {
        Self::Storage(error.into())
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        let api = match error {
            Error::InvalidRequest(violations) => ApiError::invalid_fields(violations),
            Error::Storage(_) | Error::CoreBanking(_) | Error::StoredResponse(_) => {
                ApiError::internal(&error)
            }
            other => ApiError::new(other.reason(), other.to_string()),
        };
        api.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use wekeza_domain::ConsentStatus;

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (
                Error::IdempotencyKeyReused,
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
                Error::Storage(wekeza_store::Error::Corrupt("x".into())),
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
