//! The record of each call: what the layers learn about a call while it runs (the rpc, the
//! calling app, the customer and consent, the resources touched), handed with its outcome and
//! latency to the [`CallObserver`]s — metering and the audit trail — once the response is
//! ready.
//!
//! The [`layer`] puts an empty [`CallRecord`] into the request extensions; the layers inside
//! (and the services, through tonic's request extensions) fill it in. Extensions travel through
//! the REST transcoder into the gRPC call, so a transcoded call fills the same record as a gRPC
//! one. Observers run on the request's task after the response is built: they must be cheap
//! (aggregate in memory, or send on a channel), never I/O.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use wekeza_domain::{AppId, Clock, ConsentId, CustomerId};

/// What the layers and services learned about a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// The rpc (`/wekeza.openbanking.v1.AccountInformationService/ListAccounts`), once the
    /// access policy saw it; `None` for calls that are not rpcs (OAuth2 endpoints, pages) or
    /// were refused before the policy.
    pub rpc: Option<String>,
    /// The app the call is counted against (from its token or its API key).
    pub app_id: Option<AppId>,
    /// The customer the token acts for.
    pub customer_id: Option<CustomerId>,
    /// The consent the token is bound to.
    pub consent_id: Option<ConsentId>,
    /// Ids of the resources the call read or changed (`acc_…`, `pay_…`), as the services name
    /// them.
    pub resource_ids: Vec<String>,
}

/// The shared, fillable record of one call, in the request extensions. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct CallRecord(Arc<Mutex<CallFacts>>);

impl CallRecord {
    /// Changes the facts.
    pub fn update(&self, change: impl FnOnce(&mut CallFacts)) {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// A copy of the facts so far.
    pub fn facts(&self) -> CallFacts {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status (200 for every gRPC call, whatever its gRPC status).
    pub http_status: StatusCode,
    /// The gRPC status code, for gRPC and gRPC-web calls whose status is in the response head
    /// (errors, trailers-only); `None` for REST and for gRPC calls that succeeded (their status
    /// is in the trailers).
    pub grpc_code: Option<tonic::Code>,
}

impl Outcome {
    /// The class of the outcome as an HTTP status class (2, 4 or 5): gRPC codes are mapped as
    /// the REST transcoder maps them.
    pub fn status_class(&self) -> u16 {
        match self.grpc_code {
            None | Some(tonic::Code::Ok) => self.http_status.as_u16() / 100,
            Some(
                tonic::Code::Internal
                | tonic::Code::Unknown
                | tonic::Code::DataLoss
                | tonic::Code::Unavailable
                | tonic::Code::Unimplemented
                | tonic::Code::DeadlineExceeded,
            ) => 5,
            Some(_) => 4,
        }
    }
}

/// A finished call, as the observers see it.
#[derive(Debug, Clone)]
pub struct FinishedCall {
    /// When the call arrived (UTC, the platform's clock).
    pub started_at: DateTime<Utc>,
    /// How long the platform took to answer (to the response head).
    pub latency: Duration,
    /// The HTTP method.
    pub method: http::Method,
    /// The HTTP path (for gRPC, the rpc's path).
    pub path: String,
    /// `x-request-id`.
    pub request_id: Option<String>,
    /// `x-fapi-interaction-id`.
    pub interaction_id: Option<String>,
    /// The peer's address.
    pub client_ip: Option<IpAddr>,
    /// What the layers and services learned.
    pub facts: CallFacts,
    /// How it ended.
    pub outcome: Outcome,
}

/// Sees every finished call. Must not block: aggregate in memory or hand off to a task.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// Called once per call, after the response head is ready.
    fn observe(&self, call: &FinishedCall);
}

/// The observers and the clock of the [`layer`].
#[derive(Debug, Clone)]
pub struct Recorders {
    observers: Arc<[Arc<dyn CallObserver>]>,
    clock: Arc<dyn Clock>,
}

impl Recorders {
    /// Calls each of `observers` for every finished call; times are read from `clock`.
    pub fn new(observers: Vec<Arc<dyn CallObserver>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            observers: observers.into(),
            clock,
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Middleware: gives the call a [`CallRecord`] and reports it to the observers when answered.
pub async fn layer(
    State(recorders): State<Recorders>,
    mut request: Request,
    next: Next,
) -> Response {
    let started_at = recorders.clock.now();
    let timer = Instant::now();
    let record = CallRecord::default();
    request.extensions_mut().insert(record.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let request_id = header(request.headers(), "x-request-id");
    let interaction_id = header(request.headers(), "x-fapi-interaction-id");
    let response = next.run(request).await;
    let grpc_code = response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map(tonic::Code::from_i32);
    let call = FinishedCall {
        started_at,
        latency: timer.elapsed(),
        method,
        path,
        request_id,
        interaction_id,
        client_ip,
        facts: record.facts(),
        outcome: Outcome {
            http_status: response.status(),
            grpc_code,
        },
    };
    for observer in recorders.observers.iter() {
        observer.observe(&call);
    }
    response
}
