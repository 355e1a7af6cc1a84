//! The sandbox service's errors: one variant per cause, each with the stable [`Reason`] clients
//! match on. Failures of storage, core banking or the authorization server are [`Internal`]:
//! logged once with the line that raised them, answered as a bare INTERNAL.

use wekeza_domain::{ConsentError, Reason, Scope};
use wekeza_rpc::{Internal, ServiceError};

use crate::authority::AuthorityError;

/// What can go wrong handling a sandbox request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing or wrong: `(field, what is wrong)`.
    #[error("{0}: {1}")]
    InvalidField(&'static str, String),
    /// No such consent for this app (also another app's).
    #[error("consent not found")]
    ConsentNotFound,
    /// No such payment for this app (also another app's).
    #[error("payment not found")]
    PaymentNotFound,
    /// No such resource of this app for the event type (also another app's).
    #[error("no {0} resource of this app has this id")]
    ResourceNotFound(&'static str),
    /// No such pending decoupled request for this app (also another app's).
    #[error("decoupled authorization request not found")]
    DecoupledAuthorizationNotFound,
    /// The decoupled request can no longer be decided; the text says why.
    #[error("the decoupled authorization request {0}")]
    DecoupledAuthorizationClosed(&'static str),
    /// The token lacks the scope the consent's type needs.
    #[error("the token lacks the scope {0}")]
    InsufficientScope(Scope),
    /// The lifecycle does not allow the decision.
    #[error(transparent)]
    Lifecycle(#[from] ConsentError),
    /// The payment is not one the sandbox simulates: settlement moves it by itself.
    #[error(
        "only payments of the sandbox magic amount {} are held for simulation; the settlement \
         worker moves this one by itself",
        wekeza_fraud::sandbox::HELD_FOR_SIMULATION_AMOUNT
    )]
    NotHeldForSimulation,
    /// The payment lifecycle (or the ledger) does not allow the simulated step; the text says
    /// why.
    #[error("{0}")]
    IllegalSimulation(String),
    /// Another request moved the payment at the same time.
    #[error("the payment changed while this request was working on it; retry")]
    PaymentChanged,
    /// Another request changed the consent at the same time.
    #[error("the consent changed while this request was working on it; retry")]
    ConcurrentModification,
    /// The token names an app that is not registered.
    #[error("the token's app is not registered")]
    UnknownApp,
    /// Storage, core banking or the authorization server failed.
    #[error("internal: {0}")]
    Internal(#[source] Internal),
}

impl From<AuthorityError> for Error {
    /// The authorization server's refusals are the request's; its failures stay internal.
    fn from(error: AuthorityError) -> Self {
        match error {
            AuthorityError::InvalidParameter(name, text) => Self::InvalidField(name, text),
            AuthorityError::ConsentChanged => Self::ConcurrentModification,
            AuthorityError::Internal(internal) => Self::Internal(internal),
        }
    }
}

impl ServiceError for Error {
    fn reason(&self) -> Reason {
        match self {
            Self::InvalidField(..) => Reason::InvalidRequest,
            Self::ConsentNotFound
            | Self::PaymentNotFound
            | Self::ResourceNotFound(_)
            | Self::DecoupledAuthorizationNotFound => Reason::NotFound,
            Self::DecoupledAuthorizationClosed(_) => Reason::InvalidStateTransition,
            Self::InsufficientScope(_) => Reason::InsufficientScope,
            Self::Lifecycle(error) => error.reason(),
            Self::NotHeldForSimulation | Self::IllegalSimulation(_) => {
                Reason::InvalidStateTransition
            }
            Self::ConcurrentModification | Self::PaymentChanged => Reason::ConcurrentModification,
            Self::UnknownApp => Reason::InvalidToken,
            Self::Internal(_) => Reason::Internal,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::InvalidField(field, description) => {
                vec![((*field).to_owned(), description.clone())]
            }
            _ => Vec::new(),
        }
    }
}

wekeza_rpc::service_error!(Error, internal:
    wekeza_store::Error, wekeza_store::DbErr, wekeza_ledger::CoreBankingError,
    wekeza_events::StepError
);

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    #[test]
    fn each_error_answers_its_reason_and_code() {
        let cases = [
            (
                Error::InvalidField("username", "is required".into()),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (Error::ConsentNotFound, Code::NotFound, "NOT_FOUND"),
            (Error::PaymentNotFound, Code::NotFound, "NOT_FOUND"),
            (
                Error::NotHeldForSimulation,
                Code::FailedPrecondition,
                "INVALID_STATE_TRANSITION",
            ),
            (
                Error::IllegalSimulation("no step".into()),
                Code::FailedPrecondition,
                "INVALID_STATE_TRANSITION",
            ),
            (
                Error::PaymentChanged,
                Code::Aborted,
                "CONCURRENT_MODIFICATION",
            ),
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
                Error::from(AuthorityError::InvalidParameter(
                    "code_challenge_method",
                    "plain is not allowed: use S256".into(),
                )),
                Code::InvalidArgument,
                "INVALID_REQUEST",
            ),
            (
                Error::from(AuthorityError::ConsentChanged),
                Code::Aborted,
                "CONCURRENT_MODIFICATION",
            ),
            (
                Error::from(wekeza_store::Error::Corrupt("x".into())),
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
