//! Load shedding: at most `max_in_flight` requests are served at once by the process; one more
//! is refused at once — UNAVAILABLE, `Retry-After: 1` — instead of queueing. A slow database or
//! a burst then makes callers back off (or a load balancer try another instance) rather than
//! pile up requests, memory and timeouts inside one process.
//!
//! The layer sits just inside the request ids and outside authentication, so a refusal costs no
//! database work and still carries its request id. It answers in the caller's protocol: a gRPC
//! or gRPC-web call gets a trailers-only gRPC status, anything else (REST, the OAuth2 endpoints,
//! the sign-in pages) a 503 problem+json with reason UNAVAILABLE.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;
use tonic::Status;
use wekeza_rpc::ApiError;

/// How long a refused caller is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The process's budget of requests in flight; clones share it.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Semaphore>);

impl InFlight {
    /// A budget of `max` requests at once.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}

/// Middleware: serves the request within the budget, or refuses it at once.
pub async fn layer(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    let Ok(_permit) = in_flight.0.try_acquire() else {
        tracing::warn!(path = %request.uri().path(), "at capacity: request refused");
        let status = Status::from(ApiError::unavailable(
            "the server is at capacity; retry shortly",
            RETRY_AFTER,
        ));
        let grpc = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/grpc"));
        if grpc {
            return status.into_http();
        }
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok());
        return wekeza_transcode::problem_response(&status, request_id);
    };
    next.run(request).await
}
