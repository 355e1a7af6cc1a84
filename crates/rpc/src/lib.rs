//! What every tonic service of the platform shares, so that each one reports errors, reads its
//! caller and pages results the same way.
//!
//! Owns the single table from a domain [`Reason`](wekeza_domain::Reason) to a gRPC code, the
//! construction of statuses that carry the reason as a `google.rpc.ErrorInfo` (and field
//! violations as `google.rpc.BadRequest`), access to the [`Principal`](wekeza_domain::Principal)
//! the gateway put in the request, and opaque page tokens. The REST transcoder turns these
//! statuses into problem+json, so no handler ever picks an HTTP status.
//!
//! Depends on tonic and `domain` only; it never touches storage.
//!
//! # Layout
//! - [`status`] — reason → code table, `ApiError`, internal-error logging.
//! - [`caller`] — reading the principal from a request.
//! - [`paging`] — page sizes and tamper-evident page tokens.
//! - [`wire`] — domain values ⇄ the contracts' common messages (money, timestamps).

pub mod caller;
pub mod paging;
pub mod status;
pub mod wire;

pub use caller::RequestExt;
pub use paging::{PageRequest, PageToken};
pub use status::{ApiError, code_for};
