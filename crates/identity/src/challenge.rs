//! `WWW-Authenticate` on refused API calls (RFC 6750 §3, RFC 9449 §7.1).
//!
//! The access policy refuses with problem+json (REST) or a gRPC status; it does not know HTTP
//! challenges, and should not. This layer, outside it, adds them to every HTTP 401 that has
//! none: a `Bearer` and a `DPoP` challenge, the one matching the scheme the client used carrying
//! `error="invalid_token"` (a request without credentials gets no error code). gRPC answers
//! (HTTP 200 with a `grpc-status`) are left alone, and so are the token endpoint's own 401s.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::jwt::CLIENT_ALGORITHM_NAMES;

/// The scheme a request's `Authorization` header uses, lower-cased.
fn scheme(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let scheme = value.split(' ').next()?;
    Some(scheme.to_ascii_lowercase())
}

/// Middleware: adds the challenges to 401 answers.
pub async fn layer(request: Request, next: Next) -> Response {
    let used = scheme(&request);
    let mut response = next.run(request).await;
    if response.status() != StatusCode::UNAUTHORIZED
        || response.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        return response;
    }
    let error = |scheme: &str| {
        if used.as_deref() == Some(scheme) {
            ", error=\"invalid_token\""
        } else {
            ""
        }
    };
    let challenges = [
        format!("Bearer realm=\"wekeza\"{}", error("bearer")),
        format!(
            "DPoP algs=\"{}\"{}",
            CLIENT_ALGORITHM_NAMES.join(" "),
            error("dpop")
        ),
    ];
    for challenge in challenges {
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .append(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}
