//! A generic, descriptor-driven REST ⇄ gRPC transcoder and OpenAPI 3.1 generator.
//!
//! Owns the mapping between `google.api.http`-annotated rpcs and REST: given the raw bytes of a
//! protobuf `FileDescriptorSet` (as `protox` encodes it, extensions intact), it builds a route
//! table at start-up and answers REST requests by calling the gRPC router in-process with a
//! real gRPC request, so the services and the tower layers in front see exactly what a gRPC
//! caller's request would look like: same path, same metadata, same request extensions.
//! It also derives the OpenAPI document from the same descriptors.
//!
//! It knows nothing of banking, of authentication or of any particular service: it must not
//! depend on the workspace's domain or service crates. The server composes it.
//!
//! ```text
//! let transcoder = Transcoder::from_descriptor_set(DESCRIPTOR_SET)?;
//! let openapi = transcoder.openapi(&OpenApiInfo::new("API", "1.0.0"));
//! let grpc = tonic::service::Routes::new(svc).prepare().into_axum_router();
//! let app = grpc.clone().fallback_service(transcoder.into_service(grpc));
//! ```
//!
//! # Layout
//! - `template`: path-template grammar, matching, percent-decoding, specificity order.
//! - `routes`: the compiled route table and its matching rule ([`RouteInfo`], [`BuildError`]).
//! - `descriptor`: what the descriptors say about fields (path/query-settable, field
//!   behaviours) and the precomputed REQUIRED-field table.
//! - `request`: JSON body + query + path → request message; REQUIRED-field check.
//! - `call`: the tower service — gRPC framing, headers both ways, status from
//!   headers/trailers, reply → JSON ([`TranscodeService`]).
//! - `problem`: gRPC status → RFC 9457 problem+json ([`problem_response`], [`Problems`]).
//! - `openapi`: the OpenAPI 3.1 document ([`OpenApiInfo`]).

mod call;
mod descriptor;
mod openapi;
mod problem;
mod request;
mod routes;
mod template;

use std::sync::Arc;

use http::HeaderName;
use prost_reflect::DescriptorPool;

pub use call::TranscodeService;
pub use openapi::{OpenApiInfo, SecurityRequirement};
pub use problem::{
    DEFAULT_TYPE_BASE, PROBLEM_JSON, Problems, code_reason, http_status, problem_response,
};
pub use routes::{BuildError, RouteInfo};

/// The request headers forwarded to the gRPC service as metadata unless configured otherwise.
pub const DEFAULT_FORWARDED_HEADERS: [&str; 9] = [
    "authorization",
    "dpop",
    "x-api-key",
    "idempotency-key",
    "x-fapi-interaction-id",
    "x-request-id",
    "x-fapi-customer-ip-address",
    "x-fapi-auth-date",
    "user-agent",
];

/// The largest request body read by default (tonic's default message limit).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A compiled route table plus the settings of the REST side. Build once at start-up.
#[derive(Debug)]
pub struct Transcoder {
    pool: DescriptorPool,
    shared: call::Shared,
}

impl Transcoder {
    /// Builds routes for every method with a `google.api.http` rule (and its
    /// `additional_bindings`) in the descriptor set. Conflicting routes, unknown fields in
    /// templates and streaming rpcs with rules are errors.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Self, BuildError> {
        let pool = DescriptorPool::decode(bytes)?;
        let table = routes::RouteTable::build(&pool)?;
        Ok(Self {
            pool,
            shared: call::Shared {
                table,
                forward: DEFAULT_FORWARDED_HEADERS
                    .iter()
                    .map(|name| HeaderName::from_static(name))
                    .collect(),
                problems: Problems::default(),
                request_id_header: HeaderName::from_static("x-request-id"),
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            },
        })
    }

    /// Also forwards the request header `name` as gRPC metadata.
    pub fn forward_header(mut self, name: HeaderName) -> Self {
        if !self.shared.forward.contains(&name) {
            self.shared.forward.push(name);
        }
        self
    }

    /// Renders problems with these settings (e.g. another `type` base).
    pub fn problems(mut self, problems: Problems) -> Self {
        self.shared.problems = problems;
        self
    }

    /// The header whose value becomes `requestId` in problems (default `x-request-id`); read
    /// from the reply's metadata first, then from the request.
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.shared.request_id_header = name;
        self
    }

    /// The largest request body accepted (413 `BODY_TOO_LARGE` beyond).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.shared.max_body_bytes = limit;
        self
    }

    /// Keeps only the routes of the services for which `keep(full service name)` holds, so a
    /// server running a subset of the contract answers (and documents) only what it serves;
    /// the others answer 404 like any unknown route.
    pub fn retain_services(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.shared
            .table
            .routes
            .retain(|route| keep(route.rpc.parent_service().full_name()));
        self
    }

    /// Every route, in matching order.
    pub fn routes(&self) -> impl Iterator<Item = &RouteInfo> {
        self.shared.table.routes.iter().map(|route| &route.info)
    }

    /// The descriptor pool the routes were built from.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The OpenAPI 3.1 document for every route.
    pub fn openapi(&self, info: &OpenApiInfo) -> serde_json::Value {
        openapi::generate(&self.shared.table, &self.pool, info)
    }

    /// A tower service answering REST by calling `grpc` — the gRPC router (e.g.
    /// `tonic::service::Routes::into_axum_router()`, with its layers) — in-process.
    pub fn into_service<S>(self, grpc: S) -> TranscodeService<S> {
        TranscodeService::new(Arc::new(self.shared), grpc)
    }
}
