//! Errors as clients see them: a gRPC code from the one reason → code table, a human message, and
//! the machine-readable reason as a `google.rpc.ErrorInfo` detail.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use wekeza_domain::{ErrorClass, Reason};

/// The `ErrorInfo.domain` of every reason the platform raises.
pub const ERROR_DOMAIN: &str = "wekeza.dev";

/// The gRPC code of a reason: the one place where reasons meet codes.
pub fn code_for(reason: Reason) -> Code {
    match reason.class() {
        ErrorClass::InvalidArgument => Code::InvalidArgument,
        ErrorClass::Unauthenticated => Code::Unauthenticated,
        ErrorClass::PermissionDenied => Code::PermissionDenied,
        ErrorClass::NotFound => Code::NotFound,
        ErrorClass::AlreadyExists => Code::AlreadyExists,
        ErrorClass::Conflict => Code::Aborted,
        ErrorClass::FailedPrecondition => Code::FailedPrecondition,
        ErrorClass::ResourceExhausted => Code::ResourceExhausted,
        ErrorClass::Unavailable => Code::Unavailable,
        ErrorClass::Internal => Code::Internal,
    }
}

/// An error a service answers with: a reason, a message safe to show the caller, and optional
/// field violations. Converts into a [`Status`] with the reason attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    reason: Reason,
    message: String,
    violations: Vec<(String, String)>,
    /// How long the caller should wait before retrying (`Retry-After`, `google.rpc.RetryInfo`).
    retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with `reason` and a caller-safe `message`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            violations: Vec::new(),
            retry_after: None,
        }
    }

    /// A dependency is down: UNAVAILABLE, retry after `retry_after`.
    pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(Reason::Unavailable, message)
        }
    }

    /// The same error, telling the caller to retry after `retry_after` (`Retry-After`,
    /// `google.rpc.RetryInfo`).
    #[must_use]
    pub fn with_retry_after(self, retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..self
        }
    }

    /// The database has no room for the change: UNAVAILABLE with `STORAGE_FULL`, retry after
    /// `retry_after`.
    pub fn storage_full(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                Reason::StorageFull,
                "the platform's storage is full: nothing was written; retry later",
            )
        }
    }

    /// A request field is wrong: `field` is its path (`page_size`, `payment.creditor.name`).
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Self {
            reason: Reason::InvalidRequest,
            message: format!("{field}: {description}"),
            violations: vec![(field, description)],
            retry_after: None,
        }
    }

    /// Several request fields are wrong: each violation is a field path and what is wrong with
    /// it. The message names the first; every one travels as a field violation.
    pub fn invalid_fields(violations: Vec<(String, String)>) -> Self {
        let message = match violations.as_slice() {
            [] => "invalid request".to_owned(),
            [(field, description)] => format!("{field}: {description}"),
            [(field, description), rest @ ..] => {
                format!("{field}: {description} (and {} more)", rest.len())
            }
        };
        Self {
            reason: Reason::InvalidRequest,
            message,
            violations,
            retry_after: None,
        }
    }

    /// A business rule refused the request because of some of its fields: `reason` (e.g.
    /// `CONSENT_MISMATCH`) with each field path and what is wrong with it as a violation.
    pub fn refused_fields(reason: Reason, violations: Vec<(String, String)>) -> Self {
        Self {
            reason,
            ..Self::invalid_fields(violations)
        }
    }

    /// The resource does not exist for this caller (also for other callers' resources).
    pub fn not_found(what: &str) -> Self {
        Self::new(Reason::NotFound, format!("{what} not found"))
    }

    /// The reason.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The message, safe to show the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The request fields the error is about, `(field path, what is wrong)`.
    pub fn violations(&self) -> &[(String, String)] {
        &self.violations
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let mut details = ErrorDetails::with_error_info(
            error.reason.code(),
            ERROR_DOMAIN,
            std::collections::HashMap::new(),
        );
        if !error.violations.is_empty() {
            details.set_bad_request(
                error
                    .violations
                    .into_iter()
                    .map(|(field, description)| {
                        tonic_types::FieldViolation::new(field, description)
                    })
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(retry_after) = error.retry_after {
            details.set_retry_info(Some(retry_after));
        }
        let mut status = Status::with_error_details(code_for(error.reason), error.message, details);
        if let Some(retry_after) = error.retry_after {
            // Whole seconds, at least one: what `Retry-After` says over REST.
            let seconds = retry_after.as_secs().max(1);
            if let Ok(value) = seconds.to_string().parse() {
                status.metadata_mut().insert("retry-after", value);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_reason_and_violations() {
        let status = Status::from(ApiError::invalid_field("page_size", "must not be negative"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|info| info.reason.as_str()),
            Some("INVALID_REQUEST")
        );
        let violations = details
            .bad_request()
            .map(|bad| bad.field_violations.clone())
            .unwrap_or_default();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "page_size");
    }

    #[test]
    fn every_reason_has_a_code() {
        for reason in Reason::ALL {
            assert_ne!(code_for(*reason), Code::Ok, "{reason}");
        }
        assert_eq!(code_for(Reason::ConsentExpired), Code::FailedPrecondition);
        assert_eq!(code_for(Reason::IdempotencyKeyReused), Code::Aborted);
        assert_eq!(code_for(Reason::RateLimited), Code::ResourceExhausted);
    }
}
