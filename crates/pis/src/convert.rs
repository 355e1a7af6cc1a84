//! Domain payments → wire messages: what a payment looks like to its app is decided here, in
//! one place (the status's wire form is `wekeza_rpc::wire`'s, shared with the events).

use wekeza_domain::Payment;
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{money, payment_status, payment_status_reason, timestamp};

/// The payment as its app sees it.
pub fn payment(payment: &Payment) -> pb::Payment {
    pb::Payment {
        payment_id: payment.id.to_string(),
        consent_id: payment.consent_id.to_string(),
        status: payment_status(payment.status).into(),
        status_reason: payment_status_reason(payment.status),
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
