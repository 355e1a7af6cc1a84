//! Domain payments → wire messages, and the event envelopes of payment and consent changes.
//! What a payment looks like to its app — and inside its `payment.status_changed` event — is
//! decided here, in one place.

use chrono::{DateTime, Utc};
use wekeza_domain::{Consent, EventId, Payment, PaymentStatus};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{money, timestamp};

use crate::lifecycle::{CONSENT_STATUS_CHANGED, PAYMENT_STATUS_CHANGED};

pub fn status(status: PaymentStatus) -> pb::PaymentStatus {
    match status {
        PaymentStatus::Pending => pb::PaymentStatus::Pending,
        PaymentStatus::AcceptedSettlementInProcess => {
            pb::PaymentStatus::AcceptedSettlementInProcess
        }
        PaymentStatus::AcceptedSettlementCompleted => {
            pb::PaymentStatus::AcceptedSettlementCompleted
        }
        PaymentStatus::Rejected { .. } => pb::PaymentStatus::Rejected,
    }
}

fn status_reason(status: PaymentStatus) -> String {
    status
        .reason()
        .map(|reason| reason.code().to_owned())
        .unwrap_or_default()
}

/// The payment as its app sees it.
pub fn payment(payment: &Payment) -> pb::Payment {
    pb::Payment {
        payment_id: payment.id.to_string(),
        consent_id: payment.consent_id.to_string(),
        status: status(payment.status).into(),
        status_reason: status_reason(payment.status),
        instructed_amount: Some(money(payment.amount)),
        creditor: Some(pb::Creditor {
            name: payment.creditor.name.clone(),
            account_number: payment.creditor.account_number.clone(),
        }),
        debtor_account_id: payment.debtor_account_id.to_string(),
        reference: payment.reference.clone(),
        create_time: Some(timestamp(payment.created_at)),
        status_update_time: Some(timestamp(payment.status_updated_at)),
    }
}

/// The `payment.status_changed` envelope for `payment`, which just moved from `previous`
/// (`None` when it was just created).
pub fn payment_status_changed(
    id: &EventId,
    payment: &Payment,
    client_id: &str,
    previous: Option<PaymentStatus>,
    now: DateTime<Utc>,
) -> pb::Event {
    pb::Event {
        event_id: id.to_string(),
        r#type: PAYMENT_STATUS_CHANGED.to_owned(),
        create_time: Some(timestamp(now)),
        payload: Some(pb::event::Payload::PaymentStatusChanged(
            pb::PaymentStatusChanged {
                payment_id: payment.id.to_string(),
                consent_id: payment.consent_id.to_string(),
                client_id: client_id.to_owned(),
                previous_status: previous
                    .map_or(pb::PaymentStatus::Unspecified, status)
                    .into(),
                status: status(payment.status).into(),
                status_reason: status_reason(payment.status),
                change_time: Some(timestamp(payment.status_updated_at)),
            },
        )),
    }
}

/// The `consent.status_changed` envelope of a payment consent its payment consumed: the same
/// message the consent service writes for its own transitions.
pub fn consent_consumed(
    id: &EventId,
    consent: &Consent,
    client_id: &str,
    now: DateTime<Utc>,
) -> pb::Event {
    pb::Event {
        event_id: id.to_string(),
        r#type: CONSENT_STATUS_CHANGED.to_owned(),
        create_time: Some(timestamp(now)),
        payload: Some(pb::event::Payload::ConsentStatusChanged(
            pb::ConsentStatusChanged {
                consent_id: consent.id.to_string(),
                client_id: client_id.to_owned(),
                consent_type: pb::ConsentType::Payment.into(),
                previous_status: pb::ConsentStatus::Authorised.into(),
                status: pb::ConsentStatus::Consumed.into(),
                change_time: Some(timestamp(consent.status_updated_at)),
            },
        )),
    }
}
