//! `FireEvent`: an event of any catalogue type, about one of the app's own resources as it is
//! now, or with sample data, published through the real outbox, relay and bus — so an app can
//! test its event handling without waiting for the change.
//!
//! The resource must be the caller's: a consent or payment of the app, or an account bound to
//! one of the app's consents. Anything else — unknown, malformed, another app's — answers
//! NOT_FOUND, as everywhere. Nothing about the resource changes.

use chrono::{DateTime, Utc};
use wekeza_domain::{AccountId, ConsentId, PaymentId};
use wekeza_events::{EventType, catalogue};
use wekeza_ledger::{CoreBanking, TransactionQuery};
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
