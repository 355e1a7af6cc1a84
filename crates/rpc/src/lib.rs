//! What every tonic service of the platform shares, so that each one reports errors, reads its
//! caller, handles idempotent creates, runs its background work and pages results the same way.
//!
//! Owns the single table from a domain [`Reason`](wekeza_domain::Reason) to a gRPC code, the
//! [`ServiceError`] trait with its one conversion to a status that carries the reason as a
//! `google.rpc.ErrorInfo` (and field violations as `google.rpc.BadRequest`), internal failures
//! that remember where they were raised ([`Internal`]), the `Idempotency-Key` rule, the worker
//! loop, access to the [`Principal`](wekeza_domain::Principal) the gateway put in the request,
//! opaque page tokens and the wire forms of domain values. The REST transcoder turns these
//! statuses into problem+json, so no handler ever picks an HTTP status.
//!
//! Depends on tonic and `domain`; it never touches storage, and reads sea-orm's error types only
//! to tell an unreachable database from a bug ([`unavailable`]).
//!
//! # Layout
//! - [`status`] — reason → code table, [`ApiError`].
//! - [`error`] — [`ServiceError`], [`Internal`], the per-crate conversion macros.
//! - [`idempotency`] — the `Idempotency-Key` header, request hashes, the shared refusals.
//! - [`unavailable`] — database unreachable → UNAVAILABLE with `Retry-After`.
//! - [`worker`] — [`run_every`](worker::run_every): the background worker loop with backoff.
//! - [`caller`] — reading the principal from a request.
//! - [`paging`] — page sizes and tamper-evident page tokens.
//! - [`wire`] — domain values ⇄ the contracts' common messages (money, timestamps, statuses).

pub mod caller;
pub mod error;
pub mod idempotency;
pub mod paging;
pub mod status;
pub mod unavailable;
pub mod wire;
pub mod worker;

pub use caller::RequestExt;
pub use error::{Internal, OrInternal, ServiceError};
pub use idempotency::IdempotencyError;
pub use paging::{PageRequest, PageToken};
pub use status::{ApiError, code_for};
