//! The transactional writers: a state change and its outbox event, in the caller's
//! transaction, so that a change is never committed without its event (nor an event without
//! its change).
//!
//! Every writer of consents and payments goes through here — the consent service (create,
//! revoke), identity (authorise, reject), the payment service (create, consume the consent),
//! the settlement worker and the expiry sweeper — and so does every ledger posting on a
//! customer account, so every change reaches the outbox the same way.
//!
//! A transition is written only if the stored status is still the one it was decided from
//! (optimistic concurrency): [`StatusWrite::Conflict`] means another request moved the
//! aggregate first and nothing was written; the caller decides whether to re-read and retry.

use chrono::{DateTime, Utc};
use prost::Message;
use wekeza_domain::{Consent, EventId, Payment};
use wekeza_ledger::{AccountBalance, Transaction};
use wekeza_proto::v1 as pb;
use wekeza_store::outbox::{self, OutboxEvent};
use wekeza_store::{ConnectionTrait, consents, payments};

pub use wekeza_store::consents::StatusWrite;

use crate::catalogue::{self, EventType};

/// Inserts a new consent with its creation event (previous status UNSPECIFIED).
pub async fn consent_created(
    db: &impl ConnectionTrait,
    consent: &Consent,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), wekeza_store::Error> {
    consents::insert(db, consent).await?;
    let payload = catalogue::consent_status_changed(consent, client_id, None);
    append(db, consent.id.as_str(), payload, None, now).await?;
    Ok(())
}

/// Writes `after` — a transition of `before` decided by the domain — with its event, provided
/// the stored status is still `before.status`.
pub async fn consent_transition(
    db: &impl ConnectionTrait,
    before: &Consent,
    after: &Consent,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<StatusWrite, wekeza_store::Error> {
    let write = consents::update_status(db, after, before.status).await?;
    if write == StatusWrite::Applied {
        let payload = catalogue::consent_status_changed(after, client_id, Some(before.status));
        append(db, after.id.as_str(), payload, None, now).await?;
    }
    Ok(write)
}

/// Inserts a new payment with its creation event (previous status UNSPECIFIED).
pub async fn payment_created(
    db: &impl ConnectionTrait,
    payment: &Payment,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), wekeza_store::Error> {
    payments::insert(db, payment).await?;
    let payload = catalogue::payment_status_changed(payment, client_id, None);
    append(db, payment.id.as_str(), payload, None, now).await?;
    Ok(())
}

/// Writes `after` — a transition of `before` decided by the domain — with its event, provided
/// the stored status is still `before.status`.
pub async fn payment_transition(
    db: &impl ConnectionTrait,
    before: &Payment,
    after: &Payment,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<StatusWrite, wekeza_store::Error> {
    let write = payments::update_status(db, after, before.status).await?;
    if write == StatusWrite::Applied {
        let payload = catalogue::payment_status_changed(after, client_id, Some(before.status));
        append(db, after.id.as_str(), payload, None, now).await?;
    }
    Ok(write)
}

/// The events of one posted journal, in the journal's transaction: an
/// `account.transaction_created` per customer posting (in the journal's order), then an
/// `account.balance_changed` per customer account it moved (`balances`). Internal accounts
/// (clearing, settlement) have no events: no app can hold a consent over them.
pub async fn postings_booked(
    db: &impl ConnectionTrait,
    postings: &[Transaction],
    balances: &[AccountBalance],
    now: DateTime<Utc>,
) -> Result<(), wekeza_store::Error> {
    // One statement for all of them: a posting's transaction holds its accounts' rows locked
    // until it commits, so every round trip here is time other postings to them wait.
    let transactions = postings.iter().map(|posting| {
        let payload = catalogue::account_transaction_created(posting);
        outbox_event(posting.account_id.as_str(), payload, None, now).0
    });
    let balance_changes = balances.iter().map(|balance| {
        let payload = catalogue::account_balance_changed(balance);
        outbox_event(balance.account_id.as_str(), payload, None, now).0
    });
    outbox::append_all(db, transactions.chain(balance_changes).collect()).await
}

/// An event that records no change: the sandbox's `FireEvent` by the app `fired_by` (its
/// client id), describing a resource as it is (or sample data). It travels like any other —
/// outbox, relay, bus — and is answered as published; its envelope names the app that fired
/// it, the only one it is delivered to.
pub async fn fired(
    db: &impl ConnectionTrait,
    aggregate_id: &str,
    payload: pb::event::Payload,
    fired_by: &str,
    now: DateTime<Utc>,
) -> Result<pb::Event, wekeza_store::Error> {
    append(db, aggregate_id, payload, Some(fired_by), now).await
}

/// Appends the event of `payload` about `aggregate_id` to the outbox, with a fresh `evt_` id
/// (and, for a fired event, the app that fired it); answers its envelope.
async fn append(
    db: &impl ConnectionTrait,
    aggregate_id: &str,
    payload: pb::event::Payload,
    fired_by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<pb::Event, wekeza_store::Error> {
    let (event, envelope) = outbox_event(aggregate_id, payload, fired_by, now);
    outbox::append(db, event).await?;
    Ok(envelope)
}

/// The outbox row of the event of `payload` about `aggregate_id`, with a fresh `evt_` id (and,
/// for a fired event, the app that fired it), and its envelope.
fn outbox_event(
    aggregate_id: &str,
    payload: pb::event::Payload,
    fired_by: Option<&str>,
    now: DateTime<Utc>,
) -> (OutboxEvent, pb::Event) {
    let id = EventId::new_monotonic(now);
    let kind = EventType::of(&payload);
    let mut envelope = catalogue::envelope(&id, payload, now);
    envelope.fired_by_client_id = fired_by.unwrap_or_default().to_owned();
    let event = OutboxEvent::new(id, kind.name(), aggregate_id, envelope.encode_to_vec(), now);
    (event, envelope)
}
