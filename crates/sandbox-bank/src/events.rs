//! The events of the sandbox ledger's postings: `account.transaction_created` for every posting
//! on a customer account and `account.balance_changed` for every customer account a journal
//! moved, appended to the outbox in the journal's own transaction.
//!
//! Internal accounts (clearing, settlement) have no events: no app can hold a consent over them.
//! A real core would publish the same events from its own feed; the contract (the
//! `wekeza.openbanking.v1.Event` envelope) is what matters, so this module uses the generated
//! message types and nothing else of the contracts crate.

use chrono::{DateTime, Utc};
use prost::Message;
use wekeza_domain::{EventId, Money};
use wekeza_proto::v1 as pb;
use wekeza_store::ConnectionTrait;
use wekeza_store::outbox::{self, OutboxEvent};

use wekeza_ledger::{AccountBalance, Result, Transaction};

/// The event type of a posting on a customer account.
pub const TRANSACTION_CREATED: &str = "account.transaction_created";
/// The event type of a customer account's new balances.
pub const BALANCE_CHANGED: &str = "account.balance_changed";

/// Appends the events of one posted journal: a `transaction_created` per customer posting (in
/// the journal's order), then a `balance_changed` per customer account (`balances`).
pub(crate) async fn append(
    db: &impl ConnectionTrait,
    postings: &[Transaction],
    balances: &[AccountBalance],
    now: DateTime<Utc>,
) -> Result<()> {
    for posting in postings {
        let payload =
            pb::event::Payload::AccountTransactionCreated(pb::AccountTransactionCreated {
                account_id: posting.account_id.to_string(),
                transaction_id: posting.id.to_string(),
                amount: Some(money(posting.amount)),
                credit_debit_indicator: indicator(posting.amount).into(),
                booking_time: Some(timestamp(posting.booking_time)),
            });
        write(
            db,
            TRANSACTION_CREATED,
            posting.account_id.as_str(),
            payload,
            now,
        )
        .await?;
    }
    for balance in balances {
        let one = |kind: pb::BalanceType, amount: Money| pb::Balance {
            account_id: balance.account_id.to_string(),
            r#type: kind.into(),
            amount: Some(money(amount)),
            credit_debit_indicator: indicator(amount).into(),
            update_time: Some(timestamp(balance.as_of)),
            credit_lines: Vec::new(),
        };
        let payload = pb::event::Payload::AccountBalanceChanged(pb::AccountBalanceChanged {
            account_id: balance.account_id.to_string(),
            booked: Some(one(pb::BalanceType::InterimBooked, balance.booked)),
            available: Some(one(pb::BalanceType::InterimAvailable, balance.available)),
        });
        write(
            db,
            BALANCE_CHANGED,
            balance.account_id.as_str(),
            payload,
            now,
        )
        .await?;
    }
    Ok(())
}

async fn write(
    db: &impl ConnectionTrait,
    event_type: &str,
    aggregate_id: &str,
    payload: pb::event::Payload,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = EventId::new_monotonic(now);
    let envelope = pb::Event {
        event_id: id.to_string(),
        r#type: event_type.to_owned(),
        create_time: Some(timestamp(now)),
        payload: Some(payload),
    };
    outbox::append(
        db,
        OutboxEvent::new(id, event_type, aggregate_id, envelope.encode_to_vec(), now),
    )
    .await
    .map_err(crate::ledger::unavailable)
}

/// The wire form of an absolute amount.
fn money(amount: Money) -> pb::Money {
    pb::Money {
        amount: amount.abs_decimal(),
        currency: amount.currency().code().to_owned(),
    }
}

/// Credit for zero or positive amounts, debit for negative ones.
fn indicator(amount: Money) -> pb::CreditDebitIndicator {
    if amount.is_negative() {
        pb::CreditDebitIndicator::Debit
    } else {
        pb::CreditDebitIndicator::Credit
    }
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}
