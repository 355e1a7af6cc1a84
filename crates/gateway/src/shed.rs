//! Load shedding: at most `max_in_flight` requests are served at once by the process; one more
//! is refused at once — UNAVAILABLE, `Retry-After: 1` — instead of queueing. A slow database or
//! a burst then makes callers back off (or a load balancer try another instance) rather than
//! pile up requests, memory and timeouts inside one process.
//!
//! The layer sits just inside the request ids and outside authentication, so a refusal costs no
//! database work and still carries its request id. It answers in the caller's protocol
//! ([`refusal`]): UNAVAILABLE, or a 503 problem+json with reason UNAVAILABLE.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;
use wekeza_rpc::ApiError;

use crate::refusal;

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
        let error = ApiError::unavailable("the server is at capacity; retry shortly", RETRY_AFTER);
        return refusal::answer(request.headers(), error);
    };
    next.run(request).await
}
