//! Whose an event is: the apps whose endpoints may receive it — never another app's.
//!
//! - An event the sandbox's `FireEvent` published belongs to the app that fired it, named in
//!   its envelope (`fired_by_client_id`), and to no other: it records no change, and another
//!   app watching the same account must not hear of one.
//! - A payment's or a consent's event belongs to the app it names by client id: the app that
//!   made the payment or holds the consent.
//! - An account's event (a transaction, a balance change) belongs to every app holding an
//!   authorised, unexpired account-access consent that binds that account and grants the
//!   permission to read what changed: `READ_TRANSACTIONS` for transactions, `READ_BALANCES` for
//!   balances. An app the customer never let see the account hears nothing of it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use wekeza_domain::{AccountId, AppId, ConsentTerms, CustomerId, Permission};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::event::Payload;
use wekeza_store::{ConnectionTrait, accounts, apps, consents};

/// Routes events to the apps they belong to, remembering which app each OAuth2 client id
/// names (that never changes: a client id is minted once, for one app).
#[derive(Debug, Default)]
pub struct Router {
    apps_by_client: Mutex<HashMap<String, AppId>>,
}

/// Client ids remembered at most; past it the memory starts afresh.
const REMEMBERED_CLIENTS: usize = 10_000;

impl Router {
    /// The apps `event` belongs to at `now` (none for an id the platform does not know).
    pub async fn owners(
        &self,
        db: &impl ConnectionTrait,
        event: &pb::Event,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<AppId>, wekeza_store::Error> {
        let client_id = if event.fired_by_client_id.is_empty() {
            match &event.payload {
                Some(Payload::PaymentStatusChanged(pb::PaymentStatusChanged {
                    client_id, ..
                }))
                | Some(Payload::ConsentStatusChanged(pb::ConsentStatusChanged {
                    client_id, ..
                })) => client_id,
                Some(Payload::AccountTransactionCreated(change)) => {
                    return watchers(db, &change.account_id, Permission::ReadTransactions, now)
                        .await;
                }
                Some(Payload::AccountBalanceChanged(change)) => {
                    return watchers(db, &change.account_id, Permission::ReadBalances, now).await;
                }
                None => return Ok(BTreeSet::new()),
            }
        } else {
            &event.fired_by_client_id
        };
        Ok(self.app(db, client_id).await?.into_iter().collect())
    }

    /// The app of `client_id`, if there is one.
    async fn app(
        &self,
        db: &impl ConnectionTrait,
        client_id: &str,
    ) -> Result<Option<AppId>, wekeza_store::Error> {
        if let Some(app) = self.remembered().get(client_id) {
            return Ok(Some(app.clone()));
        }
        let Some(app) = apps::find_by_client_id(db, client_id).await? else {
            return Ok(None);
        };
        let mut remembered = self.remembered();
        if remembered.len() >= REMEMBERED_CLIENTS {
            remembered.clear();
        }
        remembered.insert(client_id.to_owned(), app.id.clone());
        Ok(Some(app.id))
    }

    fn remembered(&self) -> MutexGuard<'_, HashMap<String, AppId>> {
        // A map of immutable facts: a panic elsewhere cannot leave it wrong.
        self.apps_by_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The apps that may read `permission` on account `account_id` at `now`.
async fn watchers(
    db: &impl ConnectionTrait,
    account_id: &str,
    permission: Permission,
    now: DateTime<Utc>,
) -> Result<BTreeSet<AppId>, wekeza_store::Error> {
    let Ok(account) = account_id.parse::<AccountId>() else {
        return Ok(BTreeSet::new());
    };
    let Some(customer) = accounts::find(db, &account)
        .await?
        .and_then(|row| row.customer_id)
        .and_then(|id| id.parse::<CustomerId>().ok())
    else {
        return Ok(BTreeSet::new());
    };
    Ok(consents::authorised_account_access(db, &customer, now)
        .await?
        .into_iter()
        .filter(|consent| {
            consent.account_ids.contains(&account)
                && matches!(&consent.terms, ConsentTerms::AccountAccess { permissions }
                    if permissions.contains(&permission))
        })
        .map(|consent| consent.app_id)
        .collect())
}
