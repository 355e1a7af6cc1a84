//! The sandbox service's errors: one variant per cause, each with the stable [`Reason`] clients
//! match on. Storage, core-banking and identity failures are internal: logged once, answered as
//! a bare INTERNAL.

use tonic::Status;
use wekeza_domain::{ConsentError, Reason, Scope};
use wekeza_rpc::ApiError;

/// What can go wrong handling a sandbox request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing or wrong: `(field path, what is wrong)`.
    #[error("{0}: {1}")]
    InvalidField(&'static str, String),
    /// No such consent for this app (also another app's).
    #[error("consent not found")]
    ConsentNotFound,
    /// No such decoupled (CIBA) authorization request for this app (also another app's).
    #[error("decoupled authorization request not found")]
    DecoupledAuthorizationNotFound,
    /// The decoupled authorization request was already decided, or has expired.
    #[error("the decoupled authorization request {0}")]
    DecoupledAuthorizationClosed(&'static str),
    /// The token lacks the scope the consent's type needs.
    #[error("the token lacks the scope {0}")]
    InsufficientScope(Scope),
    /// The consent's lifecycle does not allow the decision (it is not awaiting authorisation).
    #[error(transparent)]
    Lifecycle(#[from] ConsentError),
    /// Another request changed the consent while this one decided on it.
    #[error("the consent changed while this request was working on it; retry")]
    ConcurrentModification,
    /// The token names an app that is not registered (deleted since it was issued).
    #[error("the token's app is not registered")]
    UnknownApp,
    /// The identity service failed.
    #[error("identity: {0}")]
    Identity(wekeza_identity::Error),
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] wekeza_store::Error),
    /// The core banking system failed.
    #[error("core banking: {0}")]
    CoreBanking(#[from] wekeza_ledger::CoreBankingError),
}

impl From<wekeza_identity::Error> for Error {
    /// The authorisation step's refusals of the request (redirect URI, PKCE, scope) are the
    /// request's fields; a consent changed meanwhile is a conflict; the rest is internal.
    fn from(error: wekeza_identity::Error) -> Self {
        use wekeza_identity::Error as Identity;
        match error {
            Identity::InvalidScope(text) => Self::InvalidField("scope", text),
            Identity::InvalidParameter(name, text) => Self::InvalidField(name, text),
            Identity::ConsentChanged => Self::ConcurrentModification,
            other => Self::Identity(other),
        }
    }
}

impl Error {
    /// The stable reason clients see.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidField(..) => Reason::InvalidRequest,
            Self::ConsentNotFound | Self::DecoupledAuthorizationNotFound => Reason::NotFound,
            Self::DecoupledAuthorizationClosed(_) => Reason::InvalidStateTransition,
            Self::InsufficientScope(_) => Reason::InsufficientScope,
            Self::Lifecycle(error) => error.reason(),
            Self::ConcurrentModification => Reason::ConcurrentModification,
            Self::UnknownApp => Reason::InvalidToken,
            Self::Identity(_) | Self::Storage(_) | Self::CoreBanking(_) => Reason::Internal,
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
            Error::InvalidField(field, description) => ApiError::invalid_field(field, description),
            Error::Identity(_) | Error::Storage(_) | Error::CoreBanking(_) => {
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

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (
                Error::InvalidField("username", "is required".into()),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (Error::ConsentNotFound, Code::NotFound, "NOT_FOUND"),
            (
                Error::DecoupledAuthorizationNotFound,
                Code::NotFound,
                "NOT_FOUND",
            ),
            (
                Error::DecoupledAuthorizationClosed("has expired"),
                Code::FailedPrecondition,
                "INVALID_STATE_TRANSITION",
            ),
            (
                Error::from(wekeza_identity::Error::InvalidParameter(
                    "code_challenge_method",
                    "plain is not allowed: use S256".into(),
                )),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (
                Error::from(wekeza_identity::Error::ConsentChanged),
                Code::Aborted,
                "CONCURRENT_MODIFICATION",
            ),
            (
                Error::Storage(wekeza_store::Error::Corrupt("x".into())),
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
