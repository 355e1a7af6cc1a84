//! The webhooks service's errors: one variant per business cause, each with the stable
//! [`Reason`] clients match on. Failures of storage, sealing or a stored response are
//! [`Internal`]: logged once with the line that raised them, answered as a bare INTERNAL.

use wekeza_domain::Reason;
use wekeza_rpc::{ApiError, IdempotencyError, Internal, ServiceError};

/// What can go wrong handling a webhooks request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable `Idempotency-Key`, or one used before with another request.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// Request fields are missing or wrong: `(field path, what is wrong)` each.
    #[error("invalid request")]
    InvalidRequest(Vec<(String, String)>),
    /// No such endpoint for this app (also another app's, or a malformed id).
    #[error("webhook endpoint not found")]
    EndpointNotFound,
    /// No such delivery to this endpoint (also another endpoint's, or a malformed id).
    #[error("webhook delivery not found")]
    DeliveryNotFound,
    /// A shared request rule refused (a page token, a timestamp).
    #[error("{}", .0.message())]
    Refused(#[from] ApiError),
    /// Storage, sealing or a stored response failed.
    #[error("internal: {0}")]
    Internal(#[source] Internal),
}

impl ServiceError for Error {
    fn reason(&self) -> Reason {
        match self {
            Self::Idempotency(error) => error.reason(),
            Self::InvalidRequest(_) => Reason::InvalidRequest,
            Self::EndpointNotFound | Self::DeliveryNotFound => Reason::NotFound,
            Self::Refused(error) => error.reason(),
            Self::Internal(_) => Reason::Internal,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::InvalidRequest(violations) => violations.clone(),
            Self::Refused(error) => error.violations().to_vec(),
            _ => Vec::new(),
        }
    }
}

wekeza_rpc::service_error!(Error, internal:
    wekeza_store::Error, wekeza_store::DbErr, wekeza_store::sealing::SealingError,
    prost::DecodeError
);

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (
                Error::Idempotency(IdempotencyError::Reused),
                Code::Aborted,
                "IDEMPOTENCY_KEY_REUSED",
            ),
            (
                Error::InvalidRequest(vec![("url".into(), "is required".into())]),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (Error::EndpointNotFound, Code::NotFound, "NOT_FOUND"),
            (Error::DeliveryNotFound, Code::NotFound, "NOT_FOUND"),
            (
                Error::from(wekeza_store::sealing::SealingError::Corrupt),
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
