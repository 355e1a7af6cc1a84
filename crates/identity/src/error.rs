//! The one error type of the crate. Each variant is an OAuth2 error code (RFC 6749 §5.2,
//! RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 9449 §5) — what the endpoints answer as `{"error": …}` — or an internal
//! failure, which is logged once and answered as a bare `server_error` — or, when the database
//! could not be reached, `temporarily_unavailable` with 503 and `Retry-After`. On API calls (the
//! [`TokenVerifier`](crate::TokenVerifier)) every refusal becomes the platform's
//! `INVALID_TOKEN` reason, so REST answers problem+json and gRPC `UNAUTHENTICATED`.
//!
//! Descriptions are shown to the client: they say what is wrong with the request, never what a
//! secret or token holds, and never whether a client id exists.

use std::borrow::Cow;
use std::panic::Location;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wekeza_domain::Reason;
use wekeza_rpc::{ApiError, Internal};

/// Why an identity operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// `invalid_request` about one named parameter of an authorization request (redirect URI,
    /// PKCE), so that callers can point at the field.
    #[error("invalid_request: {0} {1}")]
    InvalidParameter(&'static str, String),
    /// `invalid_client`: client authentication failed (unknown client, wrong secret, bad
    /// assertion, or a method the client may not use).
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// `invalid_client` with 429 and `Retry-After`: too many failed authentications from this
    /// source (for this client, or for any): refused before the credentials were checked (see
    /// `throttle`). RFC 6749 has no code of its own for this; `invalid_client` is what a
    /// client that cannot be authenticated gets, and the status and header say why and when to
    /// retry.
    #[error("invalid_client: throttled for {0} s")]
    Throttled(u64),
    /// `unauthorized_client`: the client is authenticated but may not do this.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// `invalid_grant`: the authorization code or refresh token is unknown, expired, used,
    /// revoked, another client's, or does not match the request (redirect URI, PKCE verifier),
    /// or the consent behind it is no longer authorised.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// `unsupported_grant_type`: the grant type is not served.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// `invalid_scope`: a requested scope is unknown or not the client's.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// `invalid_dpop_proof`: the DPoP proof is missing where needed, malformed, or does not
    /// match the request.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// `invalid_token`: the access token (or the registration endpoint's initial access token)
    /// is missing, malformed, expired, revoked, or not ours.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// `insufficient_scope` (RFC 6750 §3.1): the token is valid but does not allow this.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// `invalid_client_metadata` (RFC 7591 §3.2.2): a registered value is missing, unknown,
    /// malformed, or contradicts another.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2): a redirect URI may not be registered.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// `authorization_pending` (CIBA Core §11): the customer has not decided yet; poll again.
    #[error("authorization_pending")]
    AuthorizationPending,
    /// `slow_down` (CIBA Core §11): polled sooner than the request's interval allows.
    #[error("slow_down")]
    SlowDown,
    /// `access_denied` (CIBA Core §11): the customer refused.
    #[error("access_denied")]
    AccessDenied,
    /// `expired_token` (CIBA Core §11): the `auth_req_id` expired before tokens were issued.
    #[error("expired_token")]
    ExpiredToken,
    /// The consent changed (another request decided on it or revoked it) while a customer's
    /// decision was being recorded; nothing was written.
    #[error("the consent changed meanwhile")]
    ConsentChanged,
    /// The configuration cannot be used (e.g. the issuer URL).
    #[error("invalid identity configuration: {0}")]
    Config(String),
    /// Storage failed.
    #[error("identity storage failed: {0}")]
    Store(#[from] wekeza_store::Error),
    /// The core banking system failed (accounts for the consent screen).
    #[error("core banking: {0}")]
    CoreBanking(#[from] wekeza_ledger::CoreBankingError),
    /// A signing key could not be created, read or used (a bug or a corrupt key row).
    #[error("signing key failure: {0}")]
    Key(String),
    /// The gateway could not verify the caller's access token for an internal reason; it
    /// logged the cause where it happened.
    #[error("access token verification failed")]
    VerificationFailed,
}

impl Error {
    /// Storage failed because the database could not be reached, or had no room for the
    /// change: the client may retry.
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Store(_))
            && (wekeza_rpc::unavailable::database_unreachable(self)
                || wekeza_rpc::unavailable::storage_full(self))
    }

    /// The RFC error code; `temporarily_unavailable` (RFC 6749 §4.1.2.1's code, used by every
    /// endpoint here) when the database could not be reached.
    pub fn code(&self) -> &'static str {
        if self.is_unavailable() {
            return "temporarily_unavailable";
        }
        match self {
            Self::InvalidRequest(_) | Self::InvalidParameter(..) => "invalid_request",
            Self::InvalidClient(_) | Self::Throttled(_) => "invalid_client",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::ConsentChanged => "invalid_request",
            Self::Config(_)
            | Self::Store(_)
            | Self::CoreBanking(_)
            | Self::Key(_)
            | Self::VerificationFailed => "server_error",
        }
    }

    /// The HTTP status the endpoints answer with.
    pub fn status(&self) -> StatusCode {
        if self.is_unavailable() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self {
            Self::InvalidClient(_) | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Config(_)
            | Self::Store(_)
            | Self::CoreBanking(_)
            | Self::Key(_)
            | Self::VerificationFailed => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::Store(_)
                | Self::CoreBanking(_)
                | Self::Key(_)
                | Self::VerificationFailed
        )
    }

    /// The description safe to show the client.
    fn description(&self) -> Cow<'_, str> {
        if self.is_unavailable() {
            return Cow::Borrowed("the service is temporarily unavailable; retry shortly");
        }
        Cow::Borrowed(match self {
            Self::InvalidRequest(text)
            | Self::InvalidClient(text)
            | Self::UnauthorizedClient(text)
            | Self::InvalidGrant(text)
            | Self::UnsupportedGrantType(text)
            | Self::InvalidScope(text)
            | Self::InvalidDpopProof(text)
            | Self::InvalidToken(text)
            | Self::InsufficientScope(text)
            | Self::InvalidClientMetadata(text)
            | Self::InvalidRedirectUri(text) => text,
            Self::AuthorizationPending => "the customer has not decided yet",
            Self::SlowDown => "polled too often: wait the interval between polls",
            Self::AccessDenied => "the customer denied the request",
            Self::ExpiredToken => "the auth_req_id has expired",
            Self::InvalidParameter(name, text) => return Cow::Owned(format!("{name} {text}")),
            Self::Throttled(seconds) => {
                return Cow::Owned(format!(
                    "too many failed authentications from this address: retry after {seconds} s"
                ));
            }
            Self::ConsentChanged => "the consent changed meanwhile; retry",
            Self::Config(_)
            | Self::Store(_)
            | Self::CoreBanking(_)
            | Self::Key(_)
            | Self::VerificationFailed => "internal error",
        })
    }

    /// Logs an internal failure once, with the caller's location; client errors are not logged
    /// (they are the client's business, and may be numerous).
    #[track_caller]
    pub(crate) fn log_if_internal(&self) {
        // A failed verification was logged by the verifier, where it failed.
        if self.is_unavailable() {
            let location = Location::caller();
            tracing::warn!(%location, error = %self, "database unreachable");
        } else if self.is_internal() && !matches!(self, Self::VerificationFailed) {
            let location = Location::caller();
            tracing::error!(%location, error = %self, "identity internal error");
        }
    }
}

/// The RFC 6749 §5.2 error response: JSON, never cached; `invalid_client` carries the Basic
/// challenge (RFC 6749 requires it when the client tried HTTP Basic; harmless otherwise).
impl IntoResponse for Error {
    #[track_caller]
    fn into_response(self) -> Response {
        self.log_if_internal();
        let body = serde_json::json!({
            "error": self.code(),
            "error_description": self.description(),
        });
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.is_unavailable() {
            let seconds = wekeza_rpc::unavailable::RETRY_AFTER.as_secs().max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::Throttled(seconds) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, Self::InvalidClient(_)) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"wekeza\""),
            );
        }
        response
    }
}

/// On API calls every refusal is `INVALID_TOKEN`; internal failures are logged once and become
/// `INTERNAL`.
impl From<Error> for ApiError {
    #[track_caller]
    fn from(error: Error) -> ApiError {
        if error.is_internal() {
            ApiError::from(Internal::new(error))
        } else {
            ApiError::new(Reason::InvalidToken, error.description())
        }
    }
}
