//! The partner service's errors: one variant per business cause, each with the stable
//! [`Reason`] clients match on. Failures of storage or of pricing are [`Internal`]: logged once
//! with the line that raised them, answered as a bare INTERNAL.

use wekeza_domain::Reason;
use wekeza_rpc::{ApiError, Internal, ServiceError};

use crate::invoice::InvoiceError;

/// What can go wrong handling a partner request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such app for this caller (also another app, or a malformed id).
    #[error("app not found")]
    AppNotFound,
    /// No such invoice for this caller (also another app's, or a malformed id).
    #[error("invoice not found")]
    InvoiceNotFound,
    /// Request fields are missing or wrong: `(field path, what is wrong)` each.
    #[error("invalid request")]
    InvalidRequest(Vec<(String, String)>),
    /// The enterprise plan is set by the bank's operators, by contract.
    #[error("the enterprise plan is arranged by contract: the bank's operators move apps to it")]
    EnterpriseByContract,
    /// A shared request rule refused (a page token, a timestamp).
    #[error("{}", .0.message())]
    Refused(#[from] ApiError),
    /// Storage or pricing failed.
    #[error("internal: {0}")]
    Internal(#[source] Internal),
}

impl Error {
    /// One wrong request field.
    pub fn invalid(field: &str, what: &str) -> Self {
        Self::InvalidRequest(vec![(field.to_owned(), what.to_owned())])
    }
}

impl ServiceError for Error {
    fn reason(&self) -> Reason {
        match self {
            Self::AppNotFound | Self::InvoiceNotFound => Reason::NotFound,
            Self::InvalidRequest(_) => Reason::InvalidRequest,
            Self::EnterpriseByContract => Reason::WrongCaller,
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

wekeza_rpc::service_error!(Error, internal: wekeza_store::Error, InvoiceError);

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (Error::AppNotFound, Code::NotFound, "NOT_FOUND"),
            (Error::InvoiceNotFound, Code::NotFound, "NOT_FOUND"),
            (
                Error::invalid("plan_id", "is unknown"),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (
                Error::EnterpriseByContract,
                Code::PermissionDenied,
                "WRONG_CALLER",
            ),
            (
                Error::from(InvoiceError::MixedCurrencies),
                Code::Internal,
                "INTERNAL",
            ),
        ];
        for (error, code, reason) in cases {
            assert_eq!(error.reason().code(), reason);
            assert_eq!(Status::from(error).code(), code, "{reason}");
        }
    }
}
