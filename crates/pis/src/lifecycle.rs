//! Writing payment changes: the payment row and its `payment.status_changed` event, in the
//! caller's transaction, so that a change is never committed without its event — and the
//! consumption of the payment's consent with its `consent.status_changed` event.
//!
//! Consuming a consent is written here rather than through the consent service's `lifecycle`
//! module because services never depend on one another's crates (DESIGN.md §2) and the
//! consumption must commit in the payment's own transaction; the event is the same message.

use chrono::{DateTime, Utc};
use prost::Message;
use wekeza_domain::{Consent, ConsentStatus, EventId, Payment, PaymentStatus};
use wekeza_store::ConnectionTrait;
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::payments::StatusWrite;
use wekeza_store::{consents, payments};

use crate::Error;
use crate::convert;

/// The event type of every payment change.
pub const PAYMENT_STATUS_CHANGED: &str = "payment.status_changed";

/// The event type of every consent change.
pub const CONSENT_STATUS_CHANGED: &str = "consent.status_changed";

/// Inserts a new payment with its creation event (previous status UNSPECIFIED).
pub async fn record_creation(
    db: &impl ConnectionTrait,
    payment: &Payment,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    payments::insert(db, payment).await?;
    let id = EventId::new_monotonic(now);
    let event = convert::payment_status_changed(&id, payment, client_id, None, now);
    append(
        db,
        id,
        PAYMENT_STATUS_CHANGED,
        payment.id.as_str(),
        event,
        now,
    )
    .await
}

/// Writes `after` — a transition of `before` decided by the domain — with its event, provided
/// the stored status is still `before.status`. [`StatusWrite::Conflict`] (another worker moved
/// the payment first) writes nothing.
pub async fn record_transition(
    db: &impl ConnectionTrait,
    before: &Payment,
    after: &Payment,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<StatusWrite, Error> {
    let previous: PaymentStatus = before.status;
    let write = payments::update_status(db, after, previous).await?;
    if write == StatusWrite::Applied {
        let id = EventId::new_monotonic(now);
        let event = convert::payment_status_changed(&id, after, client_id, Some(previous), now);
        append(
            db,
            id,
            PAYMENT_STATUS_CHANGED,
            after.id.as_str(),
            event,
            now,
        )
        .await?;
    }
    Ok(write)
}

/// Writes `consumed` — `authorised` consumed by its payment — with its event, provided the
/// stored consent is still AUTHORISED: of two payments racing for one consent, exactly one
/// gets [`StatusWrite::Applied`].
pub async fn consume_consent(
    db: &impl ConnectionTrait,
    consumed: &Consent,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<StatusWrite, Error> {
    let write = consents::update_status(db, consumed, ConsentStatus::Authorised).await?;
    if write == StatusWrite::Applied {
        let id = EventId::new_monotonic(now);
        let event = convert::consent_consumed(&id, consumed, client_id, now);
        append(
            db,
            id,
            CONSENT_STATUS_CHANGED,
            consumed.id.as_str(),
            event,
            now,
        )
        .await?;
    }
    Ok(write)
}

async fn append(
    db: &impl ConnectionTrait,
    id: EventId,
    event_type: &str,
    aggregate_id: &str,
    envelope: wekeza_proto::v1::Event,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    outbox::append(
        db,
        OutboxEvent::new(id, event_type, aggregate_id, envelope.encode_to_vec(), now),
    )
    .await?;
    Ok(())
}
