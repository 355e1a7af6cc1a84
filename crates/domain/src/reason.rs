//! Stable, machine-readable error reasons (`CONSENT_EXPIRED`, `INSUFFICIENT_FUNDS`, …).
//!
//! A reason travels unchanged to gRPC clients (as the `ErrorInfo` reason) and to REST clients
//! (as problem+json `reason`). Each reason belongs to one [`ErrorClass`]; the one table that maps
//! classes to gRPC codes (and, through the transcoder, to HTTP statuses) lives in `wekeza-rpc`,
//! because this crate knows nothing of tonic.

use std::fmt;

/// The broad kind of failure a reason is; decides the gRPC code and the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request itself is wrong (400).
    InvalidArgument,
    /// No or bad credentials (401).
    Unauthenticated,
    /// Credentials fine, but not allowed (403).
    PermissionDenied,
    /// No such resource for this caller (404).
    NotFound,
    /// The resource already exists (409).
    AlreadyExists,
    /// Conflicts with the state or with an earlier request (409).
    Conflict,
    /// A business rule refused it (422).
    FailedPrecondition,
    /// A limit was hit (429).
    ResourceExhausted,
    /// A dependency is down; retry later (503).
    Unavailable,
    /// A bug or an unexpected failure (500).
    Internal,
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident => $code:literal, $class:ident;)*) => {
        /// A machine-readable error reason, stable across releases.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
        }

        impl Reason {
            /// Every reason.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The UPPER_SNAKE_CASE code clients match on.
            pub fn code(self) -> &'static str {
                match self {
                    $(Reason::$variant => $code,)*
                }
            }

            /// The kind of failure.
            pub fn class(self) -> ErrorClass {
                match self {
                    $(Reason::$variant => ErrorClass::$class,)*
                }
            }
        }
    };
}

reasons! {
    /// A field is missing, malformed or out of range.
    InvalidRequest => "INVALID_REQUEST", InvalidArgument;
    /// A page token that this query did not issue.
    InvalidPageToken => "INVALID_PAGE_TOKEN", InvalidArgument;
    /// The request body is not valid JSON or not the expected message.
    MalformedBody => "MALFORMED_BODY", InvalidArgument;
    /// The body names a field the message does not have.
    UnknownField => "UNKNOWN_FIELD", InvalidArgument;
    /// A required field is missing.
    MissingField => "MISSING_FIELD", InvalidArgument;
    /// An `Idempotency-Key` header is required on this call.
    IdempotencyKeyMissing => "IDEMPOTENCY_KEY_MISSING", InvalidArgument;
    /// No credentials were presented.
    Unauthenticated => "UNAUTHENTICATED", Unauthenticated;
    /// The token is malformed, expired, or not for this server.
    InvalidToken => "INVALID_TOKEN", Unauthenticated;
    /// The token lacks a scope the call needs.
    InsufficientScope => "INSUFFICIENT_SCOPE", PermissionDenied;
    /// The consent lacks a permission the call needs.
    PermissionNotGranted => "PERMISSION_NOT_GRANTED", PermissionDenied;
    /// The caller kind (app, customer) may not make this call.
    WrongCaller => "WRONG_CALLER", PermissionDenied;
    /// The call exists only in the sandbox environment.
    SandboxOnly => "SANDBOX_ONLY", PermissionDenied;
    /// No such resource for this caller (also for other callers' resources).
    NotFound => "NOT_FOUND", NotFound;
    /// No such REST route.
    RouteNotFound => "ROUTE_NOT_FOUND", NotFound;
    /// The route exists but not with this HTTP method.
    MethodNotAllowed => "METHOD_NOT_ALLOWED", InvalidArgument;
    /// The resource already exists.
    AlreadyExists => "ALREADY_EXISTS", AlreadyExists;
    /// The same idempotency key was used with a different request.
    IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED", Conflict;
    /// The resource changed while the request was working on it; retrying reads the new state.
    ConcurrentModification => "CONCURRENT_MODIFICATION", Conflict;
    /// The consent has expired.
    ConsentExpired => "CONSENT_EXPIRED", FailedPrecondition;
    /// The consent was revoked.
    ConsentRevoked => "CONSENT_REVOKED", FailedPrecondition;
    /// The consent was already used.
    ConsentConsumed => "CONSENT_CONSUMED", FailedPrecondition;
    /// The consent is not authorised (yet).
    ConsentNotAuthorised => "CONSENT_NOT_AUTHORISED", FailedPrecondition;
    /// The consent was rejected by the customer.
    ConsentRejected => "CONSENT_REJECTED", FailedPrecondition;
    /// The request does not match what the consent allows.
    ConsentMismatch => "CONSENT_MISMATCH", FailedPrecondition;
    /// The debtor account cannot cover the amount.
    InsufficientFunds => "INSUFFICIENT_FUNDS", FailedPrecondition;
    /// The fraud checks refused the payment.
    FraudSuspected => "FRAUD_SUSPECTED", FailedPrecondition;
    /// The fraud checks want the customer to pass a step-up authentication (an extra factor)
    /// before the payment can be made.
    StepUpRequired => "STEP_UP_REQUIRED", FailedPrecondition;
    /// The payment was accepted, but the ledger could not settle it (a payment's
    /// `status_reason`, not an error answer).
    SettlementFailed => "SETTLEMENT_FAILED", FailedPrecondition;
    /// The sandbox's `SimulatePaymentStatus` rejected the payment without another reason (a
    /// payment's `status_reason`, not an error answer).
    RejectedBySandbox => "REJECTED_BY_SANDBOX", FailedPrecondition;
    /// The state of the resource does not allow the operation.
    InvalidStateTransition => "INVALID_STATE_TRANSITION", FailedPrecondition;
    /// The app's rate limit (requests per minute) was hit: retry after `Retry-After`.
    RateLimited => "RATE_LIMITED", ResourceExhausted;
    /// The app's daily request quota is used up until 00:00 UTC.
    QuotaExceeded => "QUOTA_EXCEEDED", ResourceExhausted;
    /// The `x-api-key` is not a key of this platform.
    ApiKeyUnknown => "API_KEY_UNKNOWN", Unauthenticated;
    /// The `x-api-key` was revoked.
    ApiKeyRevoked => "API_KEY_REVOKED", Unauthenticated;
    /// The `x-api-key` belongs to the other environment (a `wk_live_` key at the sandbox, a
    /// `wk_test_` key in production).
    ApiKeyWrongEnvironment => "API_KEY_WRONG_ENVIRONMENT", Unauthenticated;
    /// The API key and the token of one request belong to different apps.
    CredentialsMismatch => "CREDENTIALS_MISMATCH", Unauthenticated;
    /// A dependency is unavailable; retry later.
    Unavailable => "UNAVAILABLE", Unavailable;
    /// The platform's storage cannot take the change (its disk is full): nothing was written;
    /// reads still work; retry later.
    StorageFull => "STORAGE_FULL", Unavailable;
    /// An unexpected failure; the request id identifies it in the logs.
    Internal => "INTERNAL", Internal;
}

impl Reason {
    /// The reason whose code is `code`, if any (for reading stored reasons back).
    pub fn from_code(code: &str) -> Option<Reason> {
        Self::ALL
            .iter()
            .copied()
            .find(|reason| reason.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_upper_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            let code = reason.code();
            assert!(seen.insert(code), "duplicate {code}");
            assert_eq!(Reason::from_code(code), Some(*reason));
            assert!(
                code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{code}"
            );
        }
    }
}
