//! `WWW-Authenticate` on refused calls (RFC 6750 §3, RFC 9449 §7.1).
//!
//! The access policy refuses with problem+json (REST) or a gRPC status; it does not know HTTP
//! challenges, and should not. This layer, outside it, adds them to every HTTP 401 that has
//! none: a `Bearer` and a `DPoP` challenge, the one matching the scheme the client used carrying
//! `error="invalid_token"` (a request without credentials gets no error code). gRPC answers
//! (HTTP 200 with a `grpc-status`) are left alone, and so are the token endpoint's own 401s.
//!
//! The authorization server's own protected endpoints (registration, userinfo) answer their
//! refusals with [`refusal`]: the same challenges, for the schemes each accepts, on 401 and 403.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::Error;
use crate::jwt::CLIENT_ALGORITHM_NAMES;

/// An `Authorization` scheme a protected resource accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// RFC 6750.
    Bearer,
    /// RFC 9449.
    Dpop,
}

impl Scheme {
    /// Both schemes: what the API and the userinfo endpoint accept.
    pub(crate) const ALL: [Scheme; 2] = [Scheme::Bearer, Scheme::Dpop];

    /// The scheme of a request's `Authorization` header, if it is one of ours.
    pub(crate) fn used(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let scheme = value.split(' ').next()?;
        if scheme.eq_ignore_ascii_case("bearer") {
            Some(Self::Bearer)
        } else if scheme.eq_ignore_ascii_case("dpop") {
            Some(Self::Dpop)
        } else {
            None
        }
    }

    /// This scheme's challenge, carrying `error` (an RFC 6750 §3.1 code) if given.
    fn challenge(self, error: Option<&str>) -> String {
        let error = error
            .map(|code| format!(", error=\"{code}\""))
            .unwrap_or_default();
        match self {
            Self::Bearer => format!("Bearer realm=\"wekeza\"{error}"),
            Self::Dpop => format!("DPoP algs=\"{}\"{error}", CLIENT_ALGORITHM_NAMES.join(" ")),
        }
    }
}

/// Appends a challenge for each of the `accepted` schemes, the one the client `used` carrying
/// `error`.
fn append_challenges(
    headers: &mut HeaderMap,
    accepted: &[Scheme],
    used: Option<Scheme>,
    error: &str,
) {
    for &scheme in accepted {
        let error = (used == Some(scheme)).then_some(error);
        if let Ok(value) = HeaderValue::from_str(&scheme.challenge(error)) {
            headers.append(header::WWW_AUTHENTICATE, value);
        }
    }
}

/// Middleware: adds the challenges to 401 answers.
pub async fn layer(request: Request, next: Next) -> Response {
    let used = Scheme::used(request.headers());
    let mut response = next.run(request).await;
    if response.status() != StatusCode::UNAUTHORIZED
        || response.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        return response;
    }
    append_challenges(response.headers_mut(), &Scheme::ALL, used, "invalid_token");
    response
}

/// A protected endpoint's refusal: the RFC 6749 JSON error, with — on 401 and 403 — a challenge
/// for each of the `accepted` schemes, the one the client `used` carrying the error code.
#[track_caller]
pub(crate) fn refusal(error: Error, accepted: &[Scheme], used: Option<Scheme>) -> Response {
    let code = error.code();
    let mut response = error.into_response();
    if matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        append_challenges(response.headers_mut(), accepted, used, code);
    }
    response
}
