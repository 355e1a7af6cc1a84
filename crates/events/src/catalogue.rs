//! The event catalogue: every event type the platform emits, its bus subject, its payload
//! message from `proto/wekeza/openbanking/v1/events.proto`, when it is emitted, and the
//! builders of its payload and envelope.
//!
//! This is the only place an event type is named. `docs/events.md` carries the same table (a
//! test compares the two), webhook endpoints subscribe by these names, and the envelope's
//! `type` is derived from its payload ([`EventType::of`]), so a payload can never travel under
//! another type's name.

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use chrono::Duration;
use wekeza_domain::{
    AccountId, AppId, Consent, ConsentId, ConsentStatus, ConsentTerms, Creditor, Currency,
    CustomerId, EventId, Money, NewPayment, Payment, PaymentId, PaymentStatus, Permission,
    TransactionId,
};
use wekeza_ledger::{AccountBalance, Transaction, TransactionStatus};
use wekeza_proto::v1 as pb;
use wekeza_rpc::wire::{
    consent_kind, consent_status, indicator, money, payment_status, payment_status_reason,
    timestamp,
};
use wekeza_store::outbox::subject_for;

/// One kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A consent changed status (created, authorised, rejected, consumed, revoked, expired).
    ConsentStatusChanged,
    /// A payment changed status.
    PaymentStatusChanged,
    /// A transaction was booked on a customer account.
    AccountTransactionCreated,
    /// A customer account's booked or available balance changed.
    AccountBalanceChanged,
}

impl EventType {
    /// Every event type, in the catalogue's order.
    pub const ALL: [EventType; 4] = [
        Self::ConsentStatusChanged,
        Self::PaymentStatusChanged,
        Self::AccountTransactionCreated,
        Self::AccountBalanceChanged,
    ];

    /// The type's name, `<aggregate>.<event>`: the envelope's `type` and what webhook
    /// endpoints subscribe to.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConsentStatusChanged => "consent.status_changed",
            Self::PaymentStatusChanged => "payment.status_changed",
            Self::AccountTransactionCreated => "account.transaction_created",
            Self::AccountBalanceChanged => "account.balance_changed",
        }
    }

    /// The type named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The bus subject, `wekeza.events.<aggregate>.<event>`.
    pub fn subject(self) -> String {
        subject_for(self.name())
    }

    /// The full name of the payload message.
    pub fn payload_message(self) -> &'static str {
        match self {
            Self::ConsentStatusChanged => "wekeza.openbanking.v1.ConsentStatusChanged",
            Self::PaymentStatusChanged => "wekeza.openbanking.v1.PaymentStatusChanged",
            Self::AccountTransactionCreated => "wekeza.openbanking.v1.AccountTransactionCreated",
            Self::AccountBalanceChanged => "wekeza.openbanking.v1.AccountBalanceChanged",
        }
    }

    /// When the platform emits it (the catalogue's last column in `docs/events.md`).
    pub fn emitted_when(self) -> &'static str {
        match self {
            Self::ConsentStatusChanged => {
                "a consent is created (previous status unspecified) or changes status: \
                 authorised, rejected, consumed by its payment, revoked, or expired (written by \
                 the expiry sweep)"
            }
            Self::PaymentStatusChanged => {
                "a payment is created (`PENDING`, previous status unspecified) or moves on: \
                 `ACCEPTED_SETTLEMENT_IN_PROCESS`, `ACCEPTED_SETTLEMENT_COMPLETED`, or \
                 `REJECTED` with its `status_reason`"
            }
            Self::AccountTransactionCreated => {
                "a posting is booked on a customer account (one per posting of a journal; \
                 internal accounts have none)"
            }
            Self::AccountBalanceChanged => {
                "a journal moved a customer account's balances (one per account, after its \
                 postings' events), with the booked and available balances after the change"
            }
        }
    }

    /// This type's row of the catalogue table in `docs/events.md`.
    pub fn catalogue_row(self) -> String {
        format!(
            "| `{}` | `{}` | `{}` | {} |",
            self.name(),
            self.subject(),
            self.payload_message(),
            self.emitted_when()
        )
    }

    /// The type of `payload`.
    pub fn of(payload: &pb::event::Payload) -> Self {
        match payload {
            pb::event::Payload::ConsentStatusChanged(_) => Self::ConsentStatusChanged,
            pb::event::Payload::PaymentStatusChanged(_) => Self::PaymentStatusChanged,
            pb::event::Payload::AccountTransactionCreated(_) => Self::AccountTransactionCreated,
            pb::event::Payload::AccountBalanceChanged(_) => Self::AccountBalanceChanged,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The envelope of `payload` under the stable id `id`, emitted at `now`.
pub fn envelope(id: &EventId, payload: pb::event::Payload, now: DateTime<Utc>) -> pb::Event {
    pb::Event {
        event_id: id.to_string(),
        r#type: EventType::of(&payload).name().to_owned(),
        create_time: Some(timestamp(now)),
        payload: Some(payload),
        fired_by_client_id: String::new(),
    }
}

/// `consent.status_changed` for `consent`, which just moved from `previous` (`None` when it was
/// just created).
pub fn consent_status_changed(
    consent: &Consent,
    client_id: &str,
    previous: Option<ConsentStatus>,
) -> pb::event::Payload {
    pb::event::Payload::ConsentStatusChanged(pb::ConsentStatusChanged {
        consent_id: consent.id.to_string(),
        client_id: client_id.to_owned(),
        consent_type: consent_kind(consent.kind()).into(),
        previous_status: previous
            .map_or(pb::ConsentStatus::Unspecified, consent_status)
            .into(),
        status: consent_status(consent.status).into(),
        change_time: Some(timestamp(consent.status_updated_at)),
    })
}

/// `payment.status_changed` for `payment`, which just moved from `previous` (`None` when it was
/// just created).
pub fn payment_status_changed(
    payment: &Payment,
    client_id: &str,
    previous: Option<PaymentStatus>,
) -> pb::event::Payload {
    pb::event::Payload::PaymentStatusChanged(pb::PaymentStatusChanged {
        payment_id: payment.id.to_string(),
        consent_id: payment.consent_id.to_string(),
        client_id: client_id.to_owned(),
        previous_status: previous
            .map_or(pb::PaymentStatus::Unspecified, payment_status)
            .into(),
        status: payment_status(payment.status).into(),
        status_reason: payment_status_reason(payment.status),
        change_time: Some(timestamp(payment.status_updated_at)),
    })
}

/// `account.transaction_created` for one posting on a customer account.
pub fn account_transaction_created(posting: &Transaction) -> pb::event::Payload {
    pb::event::Payload::AccountTransactionCreated(pb::AccountTransactionCreated {
        account_id: posting.account_id.to_string(),
        transaction_id: posting.id.to_string(),
        amount: Some(money(posting.amount)),
        credit_debit_indicator: indicator(posting.amount).into(),
        booking_time: Some(timestamp(posting.booking_time)),
    })
}

/// `account.balance_changed` with a customer account's new balances.
pub fn account_balance_changed(balance: &AccountBalance) -> pb::event::Payload {
    let one = |kind: pb::BalanceType, amount: Money| pb::Balance {
        account_id: balance.account_id.to_string(),
        r#type: kind.into(),
        amount: Some(money(amount)),
        credit_debit_indicator: indicator(amount).into(),
        update_time: Some(timestamp(balance.as_of)),
        credit_lines: Vec::new(),
    };
    pb::event::Payload::AccountBalanceChanged(pb::AccountBalanceChanged {
        account_id: balance.account_id.to_string(),
        booked: Some(one(pb::BalanceType::InterimBooked, balance.booked)),
        available: Some(one(pb::BalanceType::InterimAvailable, balance.available)),
    })
}

/// An event `kind` with sample data: made-up ids, plausible values, the client id of the app
/// `app_id` (the sandbox's `FireEvent` and the webhooks' test events). Answers the aggregate id
/// and the payload.
pub fn sample(
    kind: EventType,
    app_id: &AppId,
    client_id: &str,
    now: DateTime<Utc>,
) -> (String, pb::event::Payload) {
    let amount = Money::from_minor(150_000, Currency::Kes);
    let account = AccountId::new_random(now);
    match kind {
        EventType::ConsentStatusChanged => {
            let consent = Consent::new(
                ConsentId::new_random(now),
                app_id.clone(),
                ConsentTerms::AccountAccess {
                    permissions: BTreeSet::from([Permission::ReadAccounts]),
                },
                now + Duration::days(90),
                now,
            );
            let payload = consent_status_changed(&consent, client_id, None);
            (consent.id.to_string(), payload)
        }
        EventType::PaymentStatusChanged => {
            let payment = Payment::new(
                NewPayment {
                    id: PaymentId::new_random(now),
                    app_id: app_id.clone(),
                    consent_id: ConsentId::new_random(now),
                    customer_id: CustomerId::new_random(now),
                    debtor_account_id: account,
                    amount,
                    creditor: Creditor {
                        name: "Jane Doe".to_owned(),
                        account_number: "01100012345".to_owned(),
                    },
                    reference: "Sample payment".to_owned(),
                },
                now,
            );
            let payload = payment_status_changed(&payment, client_id, None);
            (payment.id.to_string(), payload)
        }
        EventType::AccountTransactionCreated => {
            let transaction = Transaction {
                id: TransactionId::new_random(now),
                account_id: account.clone(),
                amount: Money::from_minor(-amount.minor(), Currency::Kes),
                status: TransactionStatus::Booked,
                booking_time: now,
                value_time: now,
                description: "Sample transaction".to_owned(),
                reference: "Sample payment".to_owned(),
                category: "transfers".to_owned(),
                merchant_name: None,
                merchant_category_code: None,
                counterparty_name: Some("Jane Doe".to_owned()),
                balance_after: amount,
            };
            let payload = account_transaction_created(&transaction);
            (account.to_string(), payload)
        }
        EventType::AccountBalanceChanged => {
            let balance = AccountBalance {
                account_id: account.clone(),
                booked: amount,
                available: amount,
                overdraft_limit: Money::from_minor(0, Currency::Kes),
                as_of: now,
            };
            let payload = account_balance_changed(&balance);
            (account.to_string(), payload)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    #[test]
    fn names_parse_back_and_subjects_follow_the_convention() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.name()), Some(kind));
            assert_eq!(kind.subject(), format!("wekeza.events.{}", kind.name()));
        }
        assert_eq!(EventType::parse("consent.created"), None);
    }

    #[test]
    fn every_payload_message_exists_in_the_contracts() {
        let pool = DescriptorPool::decode(wekeza_proto::FILE_DESCRIPTOR_SET);
        let Ok(pool) = pool else {
            unreachable!("the contracts' descriptor set decodes")
        };
        for kind in EventType::ALL {
            assert!(
                pool.get_message_by_name(kind.payload_message()).is_some(),
                "{kind}: {} is not in proto/",
                kind.payload_message()
            );
        }
    }
}
