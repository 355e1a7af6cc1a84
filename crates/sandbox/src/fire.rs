//! `FireEvent`: an event of any catalogue type, about one of the app's own resources as it is
//! now, or with sample data, published through the real outbox, relay and bus — so an app can
//! test its event handling without waiting for the change.
//!
//! The resource must be the caller's: a consent or payment of the app, or an account bound to
//! one of the app's consents. Anything else — unknown, malformed, another app's — answers
//! NOT_FOUND, as everywhere. Nothing about the resource changes.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use wekeza_domain::{
    AccountId, Consent, ConsentId, ConsentTerms, Creditor, Currency, CustomerId, Money, NewPayment,
    Payment, PaymentId, Permission, TransactionId,
};
use wekeza_events::{EventType, catalogue};
use wekeza_ledger::{
    AccountBalance, CoreBanking, Transaction, TransactionQuery, TransactionStatus,
};
use wekeza_proto::v1 as pb;
use wekeza_store::apps::App;
use wekeza_store::{DatabaseConnection, consents, payments};

use crate::Error;

/// The event `kind` about `resource_id` (one of `app`'s resources) as it is at `now`: its
/// aggregate id and payload.
pub(crate) async fn about(
    db: &DatabaseConnection,
    core: &dyn CoreBanking,
    app: &App,
    kind: EventType,
    resource_id: &str,
    now: DateTime<Utc>,
) -> Result<(String, pb::event::Payload), Error> {
    let not_found = || Error::ResourceNotFound(kind.name());
    Ok(match kind {
        EventType::ConsentStatusChanged => {
            let id: ConsentId = resource_id.parse().map_err(|_| not_found())?;
            let consent = consents::find(db, &id)
                .await?
                .filter(|consent| consent.app_id == app.id)
                .ok_or_else(not_found)?
                .as_of(now);
            let payload =
                catalogue::consent_status_changed(&consent, &app.client_id, Some(consent.status));
            (consent.id.to_string(), payload)
        }
        EventType::PaymentStatusChanged => {
            let id: PaymentId = resource_id.parse().map_err(|_| not_found())?;
            let payment = payments::find(db, &id)
                .await?
                .filter(|payment| payment.app_id == app.id)
                .ok_or_else(not_found)?;
            let payload =
                catalogue::payment_status_changed(&payment, &app.client_id, Some(payment.status));
            (payment.id.to_string(), payload)
        }
        EventType::AccountTransactionCreated | EventType::AccountBalanceChanged => {
            let id: AccountId = resource_id.parse().map_err(|_| not_found())?;
            if !bound_to_app(db, core, app, &id).await? {
                return Err(not_found());
            }
            let payload = if kind == EventType::AccountBalanceChanged {
                let balance = core.balance(&id).await?.ok_or_else(not_found)?;
                catalogue::account_balance_changed(&balance)
            } else {
                let newest = TransactionQuery {
                    limit: 1,
                    ..TransactionQuery::default()
                };
                let transaction = core
                    .transactions(&id, &newest)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        Error::InvalidField(
                            "resource_id",
                            "the account has no transaction to describe yet".into(),
                        )
                    })?;
                catalogue::account_transaction_created(&transaction)
            };
            (id.to_string(), payload)
        }
    })
}

/// Whether `account` is bound to one of `app`'s consents.
async fn bound_to_app(
    db: &DatabaseConnection,
    core: &dyn CoreBanking,
    app: &App,
    account: &AccountId,
) -> Result<bool, Error> {
    let Some(owner) = core.account(account).await?.map(|found| found.customer_id) else {
        return Ok(false);
    };
    let given =
        consents::list_for_customer(db, &owner, None, u64::from(wekeza_ledger::MAX_PAGE_SIZE))
            .await?;
    Ok(given
        .iter()
        .any(|item| item.consent.app_id == app.id && item.consent.account_ids.contains(account)))
}

/// The event `kind` with sample data: made-up ids, plausible values, the app's client id.
pub(crate) fn sample(
    kind: EventType,
    app: &App,
    now: DateTime<Utc>,
) -> (String, pb::event::Payload) {
    let amount = Money::from_minor(150_000, Currency::Kes);
    let account = AccountId::new_random(now);
    match kind {
        EventType::ConsentStatusChanged => {
            let consent = Consent::new(
                ConsentId::new_random(now),
                app.id.clone(),
                ConsentTerms::AccountAccess {
                    permissions: BTreeSet::from([Permission::ReadAccounts]),
                },
                now + Duration::days(90),
                now,
            );
            let payload = catalogue::consent_status_changed(&consent, &app.client_id, None);
            (consent.id.to_string(), payload)
        }
        EventType::PaymentStatusChanged => {
            let payment = Payment::new(
                NewPayment {
                    id: PaymentId::new_random(now),
                    app_id: app.id.clone(),
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
            let payload = catalogue::payment_status_changed(&payment, &app.client_id, None);
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
            let payload = catalogue::account_transaction_created(&transaction);
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
            let payload = catalogue::account_balance_changed(&balance);
            (account.to_string(), payload)
        }
    }
}
