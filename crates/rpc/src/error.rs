//! Service errors: the one trait every service crate's error enum implements, the one conversion
//! from such an error to a [`Status`], and [`Internal`], the failure no caller may see the
//! details of.
//!
//! A service's `Error` names business causes (`ConsentNotFound`, `InsufficientFunds`, …), each
//! with a stable [`Reason`]; [`ServiceError`] tells the conversion that reason and any field
//! violations. Failures of the machinery (storage, core banking, a stored response that no
//! longer decodes) are wrapped in [`Internal`] *where they happen*: its `From` conversions are
//! `#[track_caller]`, so the `?` that produced it is the location logged, not an `error.rs`.
//! [`into_status`] logs an internal error once — message, source and location — and answers a
//! bare INTERNAL (UNAVAILABLE with a retry delay when the database was unreachable); a refusal
//! answers its reason, message and violations.
//!
//! Rust's orphan rule forbids a blanket `impl<E: ServiceError> From<E> for Status` outside
//! tonic, so each service crate states the conversion with one line,
//! [`service_error!`](crate::service_error), which calls [`into_status`] and writes the
//! location-capturing `From`s of its internal failure types.

use std::error::Error as StdError;
use std::panic::Location;

use tonic::Status;
use wekeza_domain::Reason;

use crate::status::ApiError;
use crate::unavailable::{RETRY_AFTER, database_unreachable, storage_full};

/// What a service error tells the one conversion to a [`Status`].
pub trait ServiceError: StdError {
    /// The stable reason clients match on; [`Reason::Internal`] for failures of the machinery.
    fn reason(&self) -> Reason;

    /// The request fields the error is about, `(field path, what is wrong)`; they travel as a
    /// `google.rpc.BadRequest`.
    fn violations(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The internal failure inside this error, if it is one: the first [`Internal`] in its
    /// chain of sources (a variant `Internal(#[source] Internal)` is found without more code).
    fn internal(&self) -> Option<&Internal> {
        let mut source = self.source();
        while let Some(error) = source {
            if let Some(internal) = error.downcast_ref::<Internal>() {
                return Some(internal);
            }
            source = error.source();
        }
        None
    }
}

/// The status a service error answers with. Internal failures are logged here, once, with the
/// location they were raised at; the caller sees only "internal error" (its request id finds
/// the log line).
pub fn into_status<E: ServiceError>(error: E) -> Status {
    if let Some(internal) = error.internal() {
        return internal.answer().into();
    }
    let reason = error.reason();
    let violations = error.violations();
    let api = if violations.is_empty() {
        ApiError::new(reason, error.to_string())
    } else if reason == Reason::InvalidRequest {
        ApiError::invalid_fields(violations)
    } else {
        ApiError::refused_fields(reason, violations)
    };
    api.into()
}

/// A failure of the machinery — storage, core banking, a stored response — with the place it
/// was raised. Never shown to a caller.
#[derive(Debug)]
pub struct Internal {
    source: Box<dyn StdError + Send + Sync>,
    location: &'static Location<'static>,
}

impl Internal {
    /// Wraps `source`, recording the caller's location (through `#[track_caller]` `From`
    /// impls: the `?` that converted it).
    #[track_caller]
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            source: source.into(),
            location: Location::caller(),
        }
    }

    /// Where it was raised.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Logs it as an internal error, with its location.
    pub fn log(&self) {
        tracing::error!(location = %self.location, error = %self.source, "internal error");
    }

    /// What the caller is answered, logged once: UNAVAILABLE with a retry delay when the
    /// database could not be reached, or `STORAGE_FULL` with one when it had no room for the
    /// change ([`crate::unavailable`]), else a bare INTERNAL.
    pub fn answer(&self) -> ApiError {
        if storage_full(self) {
            tracing::error!(location = %self.location, error = %self.source, "database storage full");
            ApiError::storage_full(RETRY_AFTER)
        } else if database_unreachable(self) {
            tracing::warn!(location = %self.location, error = %self.source, "database unreachable");
            ApiError::unavailable(
                "the service is temporarily unavailable; retry shortly",
                RETRY_AFTER,
            )
        } else {
            self.log();
            ApiError::new(Reason::Internal, "internal error")
        }
    }
}

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at {})", self.source, self.location)
    }
}

impl StdError for Internal {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}

/// `result.or_internal()?`: the failure as an [`Internal`] raised on the caller's line — for
/// tonic handlers, whose `?` converts into a [`Status`] (a `From` impl can only be written for
/// local types), and anywhere `map_err(Error::from)` would record the location of `map_err`
/// instead of the caller's.
pub trait OrInternal<T> {
    /// The error, if any, as an [`Internal`] at the caller's location.
    fn or_internal(self) -> Result<T, Internal>;
}

impl<T, E> OrInternal<T> for Result<T, E>
where
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    #[track_caller]
    fn or_internal(self) -> Result<T, Internal> {
        let location = Location::caller();
        self.map_err(|source| Internal {
            source: source.into(),
            location,
        })
    }
}

/// An internal failure answered directly by a handler (`.or_internal()?`): logged here, once.
impl From<Internal> for ApiError {
    fn from(internal: Internal) -> ApiError {
        internal.answer()
    }
}

/// An internal failure answered directly by a handler (`.or_internal()?`).
impl From<Internal> for Status {
    fn from(internal: Internal) -> Status {
        ApiError::from(internal).into()
    }
}

/// What a service crate writes once for its error enum `$error` (which has a variant
/// `Internal(#[source] Internal)`): `From<$error> for tonic::Status` through [`into_status`],
/// and for each internal failure type `$source` a `#[track_caller]` `From` wrapping it in
/// `$error::Internal` at the location of the `?` that converts it (plus `From<Internal>`, for
/// `.or_internal()?`).
#[macro_export]
macro_rules! service_error {
    ($error:ty, internal: $($source:ty),+ $(,)?) => {
        impl ::core::convert::From<$error> for ::tonic::Status {
            fn from(error: $error) -> ::tonic::Status {
                $crate::error::into_status(error)
            }
        }
        impl ::core::convert::From<$crate::error::Internal> for $error {
            fn from(internal: $crate::error::Internal) -> Self {
                Self::Internal(internal)
            }
        }
        $(
            impl ::core::convert::From<$source> for $error {
                #[track_caller]
                fn from(source: $source) -> Self {
                    Self::Internal($crate::error::Internal::new(source))
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt;

    #[derive(Debug, thiserror::Error)]
    enum Sample {
        #[error("thing not found")]
        NotFound,
        #[error("invalid request")]
        Invalid(Vec<(String, String)>),
        #[error("internal: {0}")]
        Internal(#[source] Internal),
    }

    impl ServiceError for Sample {
        fn reason(&self) -> Reason {
            match self {
                Self::NotFound => Reason::NotFound,
                Self::Invalid(_) => Reason::InvalidRequest,
                Self::Internal(_) => Reason::Internal,
            }
        }
        fn violations(&self) -> Vec<(String, String)> {
            match self {
                Self::Invalid(violations) => violations.clone(),
                _ => Vec::new(),
            }
        }
    }

    crate::service_error!(Sample, internal: std::io::Error);

    fn failing() -> Result<(), Sample> {
        Err(std::io::Error::other("disk on fire"))?;
        Ok(())
    }

    #[test]
    fn an_internal_error_records_the_line_of_its_question_mark_and_hides_its_cause() {
        let Err(error) = failing() else {
            unreachable!("failing() fails")
        };
        let Sample::Internal(internal) = &error else {
            unreachable!("an io::Error converts into Internal")
        };
        assert_eq!(internal.location().file(), file!());
        assert_eq!(internal.location().line(), line!() - 13);
        let status = into_status(error);
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn or_internal_records_the_callers_line() {
        let failed: Result<(), std::io::Error> = Err(std::io::Error::other("socket closed"));
        let Err(internal) = failed.or_internal() else {
            unreachable!("an error stays an error")
        };
        assert_eq!(internal.location().line(), line!() - 3);
        assert_eq!(Status::from(internal).code(), Code::Internal);
    }

    #[test]
    fn refusals_answer_their_reason_message_and_fields() {
        let status = into_status(Sample::NotFound);
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "thing not found");
        let status = into_status(Sample::Invalid(vec![("name".into(), "is required".into())]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|info| info.reason.as_str()),
            Some("INVALID_REQUEST")
        );
        assert_eq!(
            details.bad_request().map(|bad| bad.field_violations.len()),
            Some(1)
        );
    }
}
