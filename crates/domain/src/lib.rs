//! The banking vocabulary every other crate speaks: typed ids, money, scopes, the caller's
//! [`Principal`], the [`Consent`] and [`Payment`] lifecycles, the injectable [`Clock`] and the stable error
//! [`Reason`] codes.
//!
//! Owns no I/O and depends on no framework (no tonic, axum or sea-orm): services, storage and
//! the gateway all build on it, so it must stay the leaf of the dependency graph.
//!
//! # Layout
//! - [`audit`] — what the audit trail records ([`AuditEvent`]) and the [`AuditSink`] seam
//!   services hand events to.
//! - [`id`] — prefixed, sortable, opaque ids (`acc_…`, `pay_…`), checked on parse.
//! - [`money`] — integer minor units in memory, decimal strings on the wire. Never a float.
//! - [`scope`] — OAuth2 scopes and consent permissions.
//! - [`principal`] — who is calling, as the gateway established it.
//! - [`consent`] — consents and their lifecycle (transitions take `now`; expiry is lazy).
//! - [`payment`] — payments and their lifecycle (transitions take `now`).
//! - [`clock`] — the time source, swappable in tests.
//! - [`reason`] — machine-readable error reasons shared by gRPC and REST.
//! - [`text`] — the one input rule for text crossing the boundary: no control characters, no
//!   bidi overrides in what customers are shown, NFC.

pub mod audit;
pub mod clock;
pub mod consent;
pub mod id;
pub mod money;
pub mod payment;
pub mod principal;
pub mod reason;
pub mod scope;
pub mod text;

pub use audit::{AuditEvent, AuditKind, AuditSink, Detail};
pub use clock::{Clock, ManualClock, SystemClock};
pub use consent::{
    BindableAccount, Consent, ConsentError, ConsentKind, ConsentStatus, ConsentTerms,
    FundsConfirmationTerms, PaymentTerms,
};
pub use id::{
    AccountId, AppId, ConsentId, CustomerId, DeliveryId, DeveloperId, EventId, IdError, InvoiceId,
    JournalId, PaymentId, TransactionId, WebhookEndpointId,
};
pub use money::{Currency, Money, MoneyError};
pub use payment::{Creditor, NewPayment, Payment, PaymentError, PaymentStatus};
pub use principal::{ConsentGrant, Principal, STEP_UP_ACR, STEP_UP_MAX_AGE};
pub use reason::{ErrorClass, Reason};
pub use scope::{Permission, Scope};
pub use text::{TextError, TextKind};
