//! The tower layers every request to the public listener passes, whatever its protocol.
//!
//! Owns request ids, authentication (credentials → [`Principal`](wekeza_domain::Principal)),
//! the per-rpc access policy declared next to each rpc in `proto/` (the `(access)` option),
//! load shedding, API keys, rate limits, the daily quotas of the apps' plans, the metering of
//! every call and the audit trail's writer ([`audit`]).
//!
//! The stack is split in two so REST and gRPC are checked by the same code, exactly once:
//! - **outer layers** ([`request_id`], [`shed`], [`authn`]) wrap the whole public router — gRPC,
//!   gRPC-web, REST and HTML alike. Only load shedding refuses (a request beyond the budget);
//!   authentication records its outcome in the request extensions.
//! - **the policy layer** ([`policy`]) wraps only the gRPC router. REST reaches the services by
//!   being transcoded into a gRPC call on that same router, so the policy sees every call as the
//!   rpc it is (`/wekeza.openbanking.v1.AccountInformationService/ListAccounts`) and refuses in
//!   one place, with a gRPC status the transcoder turns into problem+json. The daily
//!   [`quota`] sits inside it on the same router, for the same reason: it sees the rpc.
//!
//! Among the outer layers, after authentication, the [`record`] layer reports every call's
//! outcome to its observers (the [`metering`] meter) and the [`caller`] layer names the app the
//! call is counted against.
//!
//! Must not depend on any service crate.
//!
//! # Layout
//! - [`request_id`] — `x-request-id` and `x-fapi-interaction-id`, echoed or generated; the
//!   request's tracing span.
//! - [`authn`] — the [`Authenticate`](authn::Authenticate) seam and its layer.
//! - [`policy`] — the access table built from the descriptors, and its layer.
//! - [`shed`] — load shedding: the process's budget of calls in flight, refused beyond it.
//! - [`record`] — the [`CallRecord`](record::CallRecord) each call fills in as it passes the
//!   layers, handed with its outcome to the observers (metering, audit).
//! - [`refusal`] — refusals of the outer layers, in the caller's protocol.
//! - [`caller`] — the [`CallingApp`](caller::CallingApp) a call is counted against, from its
//!   token or its API key; bad API keys are refused here.
//! - [`limits`] — per-app (and, for anonymous calls, per-address) rate limits, `local` or
//!   `cluster`, with the `RateLimit` headers on every answer.
//! - [`quota`] — daily quotas per app and UTC day, from the app's plan; shared across replicas
//!   through the database at each metering flush.
//! - [`metering`] — the [`Meter`](metering::Meter) observing every call, and the
//!   [`Flusher`](metering::Flusher) writing its counts and the quotas' in batches.
//! - [`audit`] — the audit trail's sink and its batching writer; the call observer that
//!   records every call.

pub mod audit;
pub mod authn;
pub mod caller;
pub mod limits;
pub mod metering;
pub mod policy;
pub mod quota;
pub mod record;
pub mod refusal;
pub mod request_id;
pub mod shed;
