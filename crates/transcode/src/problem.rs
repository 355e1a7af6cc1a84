//! Errors as RFC 9457 `application/problem+json`: the gRPC code → HTTP status table, the
//! `reason` and `errors[]` read from `google.rpc.ErrorInfo` / `google.rpc.BadRequest` status
//! details, and the transcoder's own rejections (bad JSON, unknown route, wrong method, …).
//!
//! Every problem has the same shape, whichever side raised it:
//!
//! ```json
//! { "type": "<base><reason lowercased>", "title": "Not Found", "status": 404,
//!   "detail": "…", "reason": "CONSENT_NOT_FOUND", "requestId": "…",
//!   "errors": [ { "field": "page_size", "description": "…", "reason": "…" } ] }
//! ```
//!
//! `errors` only appears when non-empty, `requestId` only when known. The status's metadata is
//! copied to the response headers (so a 429 keeps `Retry-After` and `RateLimit-*`), except
//! gRPC-reserved and framing headers.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Map, Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The `type` URI base used when none is configured.
pub const DEFAULT_TYPE_BASE: &str = "https://docs.wekeza.dev/errors/";

/// The problem+json media type.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Renders problems; holds the base of the `type` URI (`type = base + reason.to_lowercase()`).
#[derive(Debug, Clone)]
pub struct Problems {
    type_base: String,
}

impl Default for Problems {
    fn default() -> Self {
        Self::new(DEFAULT_TYPE_BASE)
    }
}

/// Answers `status` as problem+json with the default `type` base: for layers in front of the
/// transcoder (e.g. authentication) that refuse a REST request before it reaches a service.
pub fn problem_response(status: &Status, request_id: Option<&str>) -> Response<Body> {
    Problems::default().response(status, request_id)
}

/// The HTTP status for a gRPC code (the standard table; FAILED_PRECONDITION is 422 because
/// here it means a business rule refused the request).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::UNPROCESSABLE_ENTITY,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
    }
}

/// The code's canonical name (`PERMISSION_DENIED`): the reason used when a status carries no
/// `ErrorInfo`.
pub fn code_reason(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One entry of `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) description: String,
    pub(crate) reason: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
            reason: String::new(),
        }
    }
}

/// A request the transcoder refuses itself, before any service sees it.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
    pub(crate) detail: String,
    pub(crate) errors: Vec<FieldError>,
    /// For 405: the methods the path allows (sent as `Allow`).
    pub(crate) allow: Vec<Method>,
}

impl Rejection {
    pub(crate) fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            detail: detail.into(),
            errors: Vec::new(),
            allow: Vec::new(),
        }
    }

    /// 400 `INVALID_REQUEST`.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", detail)
    }

    pub(crate) fn with_error(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.errors.push(FieldError::new(field, description));
        self
    }
}

/// Headers never copied from gRPC metadata to an HTTP response.
fn is_reserved(name: &header::HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("grpc-")
        || matches!(
            name,
            "content-type"
                | "content-length"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "upgrade"
                | "proxy-connection"
        )
}

/// Appends the non-reserved entries of `from` to `to`.
pub(crate) fn copy_metadata(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !is_reserved(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

impl Problems {
    /// Problems whose `type` is `type_base` followed by the lowercased reason.
    pub fn new(type_base: impl Into<String>) -> Self {
        Self {
            type_base: type_base.into(),
        }
    }

    /// Answers a gRPC `status` as problem+json: HTTP status from the code table, `reason` from
    /// the `ErrorInfo` detail (else the code's name), `errors[]` from `BadRequest` field
    /// violations, metadata copied to headers.
    pub fn response(&self, status: &Status, request_id: Option<&str>) -> Response<Body> {
        let details = status.get_error_details();
        let reason = details
            .error_info()
            .map(|info| info.reason.as_str())
            .filter(|reason| !reason.is_empty())
            .unwrap_or(code_reason(status.code()));
        let errors: Vec<FieldError> = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| FieldError {
                        field: v.field.clone(),
                        description: v.description.clone(),
                        reason: v.reason.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut response = self.render(
            http_status(status.code()),
            reason,
            status.message(),
            &errors,
            request_id,
        );
        copy_metadata(status.metadata().as_ref(), response.headers_mut());
        response
    }

    /// Answers one of the transcoder's own rejections.
    pub(crate) fn rejection(
        &self,
        rejection: &Rejection,
        request_id: Option<&str>,
    ) -> Response<Body> {
        let mut response = self.render(
            rejection.status,
            rejection.reason,
            &rejection.detail,
            &rejection.errors,
            request_id,
        );
        if !rejection.allow.is_empty() {
            let allow: Vec<&str> = rejection.allow.iter().map(Method::as_str).collect();
            if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        response
    }

    fn render(
        &self,
        status: StatusCode,
        reason: &str,
        detail: &str,
        errors: &[FieldError],
        request_id: Option<&str>,
    ) -> Response<Body> {
        let title = status.canonical_reason().unwrap_or(match status.as_u16() {
            499 => "Client Closed Request",
            _ => "Error",
        });
        let mut problem = Map::new();
        problem.insert(
            "type".into(),
            Value::String(format!("{}{}", self.type_base, reason.to_ascii_lowercase())),
        );
        problem.insert("title".into(), Value::String(title.into()));
        problem.insert("status".into(), Value::from(status.as_u16()));
        problem.insert(
            "detail".into(),
            Value::String(if detail.is_empty() { title } else { detail }.into()),
        );
        problem.insert("reason".into(), Value::String(reason.into()));
        if let Some(id) = request_id {
            problem.insert("requestId".into(), Value::String(id.into()));
        }
        if !errors.is_empty() {
            let errors = errors
                .iter()
                .map(|e| {
                    let mut entry = json!({ "field": e.field, "description": e.description });
                    if !e.reason.is_empty()
                        && let Some(entry) = entry.as_object_mut()
                    {
                        entry.insert("reason".into(), Value::String(e.reason.clone()));
                    }
                    entry
                })
                .collect();
            problem.insert("errors".into(), Value::Array(errors));
        }
        let body = serde_json::to_vec(&Value::Object(problem)).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tonic_types::{ErrorDetails, StatusExt};

    async fn json(response: Response<Body>) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_code_maps() {
        let table = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 422),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, http) in table {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[tokio::test]
    async fn status_with_details_becomes_problem() {
        let mut details = ErrorDetails::with_error_info("CONSENT_EXPIRED", "example.com", []);
        details.add_bad_request_violation("page_size", "must be at most 500");
        let mut status = Status::with_error_details(Code::FailedPrecondition, "expired", details);
        status
            .metadata_mut()
            .insert("retry-after", "3".parse().unwrap());
        let response = Problems::new("https://errors.example/").response(&status, Some("req-1"));
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
        assert_eq!(response.headers()["retry-after"], "3");
        assert!(response.headers().get("grpc-status-details-bin").is_none());
        let body = json(response).await;
        assert_eq!(
            body,
            json!({
                "type": "https://errors.example/consent_expired",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "expired",
                "reason": "CONSENT_EXPIRED",
                "requestId": "req-1",
                "errors": [{ "field": "page_size", "description": "must be at most 500" }],
            })
        );
    }

    #[tokio::test]
    async fn bare_status_uses_code_name() {
        let response = problem_response(&Status::cancelled(""), None);
        assert_eq!(response.status(), 499);
        let body = json(response).await;
        assert_eq!(body["reason"], "CANCELLED");
        assert_eq!(body["title"], "Client Closed Request");
        assert_eq!(body["detail"], "Client Closed Request");
        assert_eq!(body["type"], "https://docs.wekeza.dev/errors/cancelled");
        assert!(body.get("requestId").is_none());
        assert!(body.get("errors").is_none());
    }
}
