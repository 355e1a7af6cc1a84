//! Refusals by the outer layers (load shedding, API keys, rate limits, quotas), answered in the
//! caller's protocol: a gRPC or gRPC-web call gets a trailers-only gRPC status with its
//! `google.rpc` details, anything else (REST, the OAuth2 endpoints, the sign-in pages) the
//! problem+json the transcoder writes for the same status.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use tonic::Status;
use wekeza_rpc::ApiError;

/// Whether the request is a gRPC or gRPC-web call.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// The answer refusing a request with `headers` because of `error`.
pub fn answer(headers: &HeaderMap, error: ApiError) -> Response {
    let status = Status::from(error);
    if is_grpc(headers) {
        return status.into_http();
    }
    let request_id = headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok());
    wekeza_transcode::problem_response(&status, request_id)
}
