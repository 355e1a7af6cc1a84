//! Writing consent changes: the consent row and its `consent.status_changed` event, in the
//! caller's transaction, so that a change is never committed without its event.
//!
//! Every writer of consents goes through here — this service for creation and revocation, the
//! authorization flow for authorisation and rejection, the expiry scheduler — so every change
//! reaches the outbox the same way.

use chrono::{DateTime, Utc};
use prost::Message;
use wekeza_domain::{Consent, ConsentStatus, EventId};
use wekeza_store::ConnectionTrait;
use wekeza_store::consents::{self, StatusWrite};
use wekeza_store::outbox::{self, OutboxEvent};

use crate::Error;
use crate::convert;

/// The event type of every consent change.
pub const STATUS_CHANGED: &str = "consent.status_changed";

/// Inserts a new consent with its creation event (previous status UNSPECIFIED).
pub async fn record_creation(
    db: &impl ConnectionTrait,
    consent: &Consent,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    consents::insert(db, consent).await?;
    append_event(db, consent, client_id, None, now).await
}

/// Writes `after` — a transition of `before` decided by the domain — with its event, provided
/// the stored status is still `before.status`. Another request that changed the consent first
/// makes this [`Error::ConcurrentModification`], and nothing is written.
pub async fn record_transition(
    db: &impl ConnectionTrait,
    before: &Consent,
    after: &Consent,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    match consents::update_status(db, after, before.status).await? {
        StatusWrite::Applied => append_event(db, after, client_id, Some(before.status), now).await,
        StatusWrite::Conflict => Err(Error::ConcurrentModification),
    }
}

async fn append_event(
    db: &impl ConnectionTrait,
    consent: &Consent,
    client_id: &str,
    previous: Option<ConsentStatus>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let id = EventId::new_monotonic(now);
    let envelope = convert::status_changed_event(&id, consent, client_id, previous, now);
    outbox::append(
        db,
        OutboxEvent::new(
            id,
            STATUS_CHANGED,
            consent.id.as_str(),
            envelope.encode_to_vec(),
            now,
        ),
    )
    .await?;
    Ok(())
}
