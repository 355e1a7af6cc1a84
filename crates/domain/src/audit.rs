//! What the audit trail records, and the seam through which anything hands it a record.
//!
//! An [`AuditEvent`] is one thing that happened — an API call, a consent transition, a token
//! issued or revoked, a fraud decision, an operator's command — told with ids and outcomes only:
//! never a body, a token or a secret. Code that witnesses such an event hands it to an
//! [`AuditSink`], which must not block (the platform's sink queues it for a background writer
//! that appends it to the hash-chained trail). Like [`Clock`](crate::Clock), the sink is a seam:
//! services depend on this trait, not on the infrastructure that implements it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::{AppId, CustomerId};

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A call on the public listener (an rpc, or an HTTP endpoint such as `/oauth2/token`).
    ApiCall,
    /// A consent changed status (created, authorised, rejected, revoked, consumed, expired).
    Consent,
    /// A token was issued, refreshed, introspected or revoked.
    Token,
    /// A payment's fraud assessment was decided.
    Fraud,
    /// An operator ran a command (`wekeza apps create`, `keys rotate`, …).
    Operator,
    /// The trail itself: records it had to drop.
    Trail,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::ApiCall,
        Self::Consent,
        Self::Token,
        Self::Fraud,
        Self::Operator,
        Self::Trail,
    ];

    /// The stored, exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiCall => "api_call",
            Self::Consent => "consent",
            Self::Token => "token",
            Self::Fraud => "fraud",
            Self::Operator => "operator",
            Self::Trail => "trail",
        }
    }

    /// The kind named `name` ([`Self::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One value of an event's details. Integers only — no floats, whose text forms differ between
/// languages and would make the trail's canonical bytes ambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Text: an id, a status, a code.
    Text(String),
    /// A whole number: a status code, a latency in microseconds, a count.
    Integer(i64),
    /// Several texts (resource ids, fraud reasons), in order.
    List(Vec<String>),
}

impl From<String> for Detail {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Detail {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<i64> for Detail {
    fn from(number: i64) -> Self {
        Self::Integer(number)
    }
}

impl From<Vec<String>> for Detail {
    fn from(texts: Vec<String>) -> Self {
        Self::List(texts)
    }
}

/// One thing that happened, as the trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened (UTC; the trail keeps microseconds).
    pub occurred_at: DateTime<Utc>,
    /// What kind of thing it was.
    pub kind: AuditKind,
    /// What happened, within its kind: the operation of a call (the rpc, or `POST
    /// /oauth2/token`), a consent's new status (`authorised`), `issued`, a fraud decision, a
    /// command (`apps create`).
    pub action: String,
    /// The app it concerns, if any.
    pub app_id: Option<AppId>,
    /// The customer it concerns, if any.
    pub customer_id: Option<CustomerId>,
    /// The rest, by name (lowerCamelCase): ids, outcomes, reasons. Never a body, a token or a
    /// secret.
    pub details: BTreeMap<String, Detail>,
}

impl AuditEvent {
    /// An event of `kind` at `occurred_at`, with no app, customer or details yet.
    pub fn new(kind: AuditKind, action: impl Into<String>, occurred_at: DateTime<Utc>) -> Self {
        Self {
            occurred_at,
            kind,
            action: action.into(),
            app_id: None,
            customer_id: None,
            details: BTreeMap::new(),
        }
    }

    /// Names the app it concerns.
    pub fn app(mut self, app_id: Option<AppId>) -> Self {
        self.app_id = app_id;
        self
    }

    /// Names the customer it concerns.
    pub fn customer(mut self, customer_id: Option<CustomerId>) -> Self {
        self.customer_id = customer_id;
        self
    }

    /// Adds the detail `name`.
    pub fn detail(mut self, name: &str, value: impl Into<Detail>) -> Self {
        self.details.insert(name.to_owned(), value.into());
        self
    }

    /// Adds the detail `name` when there is a value.
    pub fn detail_if(self, name: &str, value: Option<impl Into<Detail>>) -> Self {
        match value {
            Some(value) => self.detail(name, value),
            None => self,
        }
    }
}

/// Takes audit events. Must not block or do I/O on the caller's task: queue, and let a
/// background task write.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Hands over one event.
    fn record(&self, event: AuditEvent);
}

/// A sink that keeps nothing: for code run outside a platform (unit tests of a service).
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl AuditSink for Discard {
    fn record(&self, _event: AuditEvent) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AuditKind::parse("API_CALL"), None);
    }

    #[test]
    fn optional_details_are_left_out_when_absent() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let event = AuditEvent::new(AuditKind::Token, "issued", at)
            .detail("grantType", "client_credentials")
            .detail_if("jti", None::<String>)
            .detail_if("consentId", Some("cns_1"));
        assert_eq!(
            event.details.keys().collect::<Vec<_>>(),
            ["consentId", "grantType"]
        );
    }
}
