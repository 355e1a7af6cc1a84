//! Consents: insertion, look-up, status changes that apply only to the status they were decided
//! on, a customer's consents newest first (all of them, or those given to one app), and the
//! deletion of one app's consents (the sandbox reset). Rows are converted to and from
//! [`wekeza_domain::Consent`] here; the lifecycle rules themselves live in `domain`.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wekeza_domain::{
    AccountId, AppId, Consent, ConsentId, ConsentKind, ConsentStatus, ConsentTerms, CustomerId,
    Money, Permission,
};
use wekeza_domain::{FundsConfirmationTerms, PaymentTerms};

use crate::entity::consents::{self, Column, Entity};
use crate::entity::{apps, enums};
use crate::{Error, Result};

/// Whether a conditional status change was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a conflict means the change was not written"]
pub enum StatusWrite {
    /// The row had the expected status and now holds the new one.
    Applied,
    /// The row's status was no longer the expected one (another request changed it first), or
    /// the row is gone: nothing was written.
    Conflict,
}

/// A consent with the app it is given to, as the customer's connected-apps view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerConsent {
    /// The consent.
    pub consent: Consent,
    /// The app's OAuth2 `client_id`.
    pub client_id: String,
    /// The app's display name.
    pub client_name: String,
}

/// Inserts a new consent. Run it in the transaction that also appends its event.
pub async fn insert(db: &impl ConnectionTrait, consent: &Consent) -> Result<()> {
    Entity::insert(consents::ActiveModel::from(to_row(consent)?))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The consent with this id, if any — of whichever app: callers check ownership.
pub async fn find(db: &impl ConnectionTrait, id: &ConsentId) -> Result<Option<Consent>> {
    Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// Deletes every consent given to `app` — and, by the foreign keys' cascade, the authorization
/// requests, codes, refresh tokens and CIBA requests bound to them; answers how many. Delete
/// the app's payments first (they refer to their consents). The sandbox reset of one app.
pub async fn delete_for_app(db: &impl ConnectionTrait, app: &AppId) -> Result<u64> {
    Ok(Entity::delete_many()
        .filter(Column::AppId.eq(app.as_str()))
        .exec(db)
        .await?
        .rows_affected)
}

/// Writes `consent`'s lifecycle fields (status, its time, expiry, customer, accounts) only if
/// the stored status is still `expected` — the status the transition was decided on. One
/// conditional `UPDATE`, so of two racing transitions exactly one applies. Run it in the
/// transaction that also appends the transition's event.
pub async fn update_status(
    db: &impl ConnectionTrait,
    consent: &Consent,
    expected: ConsentStatus,
) -> Result<StatusWrite> {
    let row = to_row(consent)?;
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(row.status))
        .col_expr(Column::StatusUpdatedAt, Expr::value(row.status_updated_at))
        .col_expr(Column::ExpiresAt, Expr::value(row.expires_at))
        .col_expr(Column::CustomerId, Expr::value(row.customer_id))
        .col_expr(Column::AccountIds, Expr::value(row.account_ids))
        .filter(Column::Id.eq(row.id))
        .filter(Column::Status.eq(status_to_row(expected)))
        .exec(db)
        .await?;
    Ok(if result.rows_affected == 1 {
        StatusWrite::Applied
    } else {
        StatusWrite::Conflict
    })
}

/// Up to `limit` live consents (awaiting authorisation or authorised) whose expiration time is
/// at or before `now`, the longest overdue first: what the expiry sweep writes down as expired.
/// Served by the `(status, expires_at)` index.
pub async fn expiry_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Consent>> {
    Entity::find()
        .filter(Column::Status.is_in([
            status_to_row(ConsentStatus::AwaitingAuthorisation),
            status_to_row(ConsentStatus::Authorised),
        ]))
        .filter(Column::ExpiresAt.lte(now))
        .order_by_asc(Column::ExpiresAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The account-access consents `customer` has authorised that have not expired at `now`, with
/// the accounts each binds: who may hear of those accounts' changes (webhook routing).
pub async fn authorised_account_access(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Vec<Consent>> {
    Entity::find()
        .filter(Column::CustomerId.eq(customer.as_str()))
        .filter(Column::Kind.eq(enums::ConsentKind::AccountAccess))
        .filter(Column::Status.eq(status_to_row(ConsentStatus::Authorised)))
        .filter(Column::ExpiresAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The consents `customer` has given (to any app), newest first: ids strictly below `before`
/// (the previous page's last id), at most `limit`, each with its app's client id and name. The
/// customer's own cross-app view: never for an app (see [`list_for_app_customer`]).
pub async fn list_for_customer(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    before: Option<&ConsentId>,
    limit: u64,
) -> Result<Vec<CustomerConsent>> {
    list_given(db, customer, None, before, limit).await
}

/// As [`list_for_customer`], but only the consents `customer` has given to `app`: what a
/// customer token of that app may see.
pub async fn list_for_app_customer(
    db: &impl ConnectionTrait,
    app: &AppId,
    customer: &CustomerId,
    before: Option<&ConsentId>,
    limit: u64,
) -> Result<Vec<CustomerConsent>> {
    list_given(db, customer, Some(app), before, limit).await
}

/// The consents `customer` has given, to `app` only when named, newest first.
async fn list_given(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    app: Option<&AppId>,
    before: Option<&ConsentId>,
    limit: u64,
) -> Result<Vec<CustomerConsent>> {
    let mut select = Entity::find().filter(Column::CustomerId.eq(customer.as_str()));
    if let Some(app) = app {
        select = select.filter(Column::AppId.eq(app.as_str()));
    }
    if let Some(before) = before {
        select = select.filter(Column::Id.lt(before.as_str()));
    }
    let rows = select
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let app_ids: BTreeSet<&str> = rows.iter().map(|row| row.app_id.as_str()).collect();
    let apps: HashMap<String, apps::Model> = if app_ids.is_empty() {
        HashMap::new()
    } else {
        apps::Entity::find()
            .filter(apps::Column::Id.is_in(app_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|app| (app.id.clone(), app))
            .collect()
    };
    rows.into_iter()
        .map(|row| {
            let app = apps
                .get(&row.app_id)
                .ok_or_else(|| Error::Corrupt(format!("consents.app_id of {}", row.id)))?;
            Ok(CustomerConsent {
                client_id: app.client_id.clone(),
                client_name: app.name.clone(),
                consent: from_row(row)?,
            })
        })
        .collect()
}

// === conversions ===

fn status_to_row(status: ConsentStatus) -> enums::ConsentStatus {
    match status {
        ConsentStatus::AwaitingAuthorisation => enums::ConsentStatus::AwaitingAuthorisation,
        ConsentStatus::Authorised => enums::ConsentStatus::Authorised,
        ConsentStatus::Rejected => enums::ConsentStatus::Rejected,
        ConsentStatus::Consumed => enums::ConsentStatus::Consumed,
        ConsentStatus::Revoked => enums::ConsentStatus::Revoked,
        ConsentStatus::Expired => enums::ConsentStatus::Expired,
    }
}

fn status_from_row(status: enums::ConsentStatus) -> ConsentStatus {
    match status {
        enums::ConsentStatus::AwaitingAuthorisation => ConsentStatus::AwaitingAuthorisation,
        enums::ConsentStatus::Authorised => ConsentStatus::Authorised,
        enums::ConsentStatus::Rejected => ConsentStatus::Rejected,
        enums::ConsentStatus::Consumed => ConsentStatus::Consumed,
        enums::ConsentStatus::Revoked => ConsentStatus::Revoked,
        enums::ConsentStatus::Expired => ConsentStatus::Expired,
    }
}

fn to_row(consent: &Consent) -> Result<consents::Model> {
    let account_ids: Vec<&str> = consent.account_ids.iter().map(AccountId::as_str).collect();
    let account_ids = serde_json::to_string(&account_ids)
        .map_err(|err| Error::Corrupt(format!("account ids: {err}")))?;
    let mut row = consents::Model {
        id: consent.id.to_string(),
        app_id: consent.app_id.to_string(),
        kind: match consent.kind() {
            ConsentKind::AccountAccess => enums::ConsentKind::AccountAccess,
            ConsentKind::Payment => enums::ConsentKind::Payment,
            ConsentKind::FundsConfirmation => enums::ConsentKind::FundsConfirmation,
        },
        status: status_to_row(consent.status),
        permissions: String::new(),
        expires_at: consent.expires_at,
        customer_id: consent.customer_id.as_ref().map(ToString::to_string),
        account_ids,
        amount_minor: None,
        currency: None,
        creditor_name: None,
        creditor_account: None,
        reference: None,
        debtor_account: None,
        created_at: consent.created_at,
        status_updated_at: consent.status_updated_at,
    };
    match &consent.terms {
        ConsentTerms::AccountAccess { permissions } => {
            row.permissions = permissions
                .iter()
                .map(|permission| permission.as_str())
                .collect::<Vec<_>>()
                .join(" ");
        }
        ConsentTerms::Payment(terms) => {
            row.amount_minor = Some(terms.amount.minor());
            row.currency = Some(terms.amount.currency().code().to_owned());
            row.creditor_name = Some(terms.creditor_name.clone());
            row.creditor_account = Some(terms.creditor_account.clone());
            row.reference = Some(terms.reference.clone());
            row.debtor_account = terms.debtor_account.clone();
        }
        ConsentTerms::FundsConfirmation(terms) => {
            row.amount_minor = Some(terms.amount.minor());
            row.currency = Some(terms.amount.currency().code().to_owned());
            row.debtor_account = terms.debtor_account.clone();
        }
    }
    Ok(row)
}

fn from_row(row: consents::Model) -> Result<Consent> {
    let corrupt = |what: &str| Error::Corrupt(format!("consents.{what} of {}", row.id));
    let amount = || -> Result<Money> {
        let minor = row.amount_minor.ok_or_else(|| corrupt("amount_minor"))?;
        let currency = row
            .currency
            .as_deref()
            .and_then(|code| wekeza_domain::Currency::parse(code).ok())
            .ok_or_else(|| corrupt("currency"))?;
        Ok(Money::from_minor(minor, currency))
    };
    let terms = match row.kind {
        enums::ConsentKind::AccountAccess => ConsentTerms::AccountAccess {
            permissions: row
                .permissions
                .split(' ')
                .filter(|name| !name.is_empty())
                .map(str::parse::<Permission>)
                .collect::<Result<_, _>>()
                .map_err(|_| corrupt("permissions"))?,
        },
        enums::ConsentKind::Payment => ConsentTerms::Payment(PaymentTerms {
            amount: amount()?,
            creditor_name: row
                .creditor_name
                .clone()
                .ok_or_else(|| corrupt("creditor_name"))?,
            creditor_account: row
                .creditor_account
                .clone()
                .ok_or_else(|| corrupt("creditor_account"))?,
            reference: row.reference.clone().unwrap_or_default(),
            debtor_account: row.debtor_account.clone(),
        }),
        enums::ConsentKind::FundsConfirmation => {
            ConsentTerms::FundsConfirmation(FundsConfirmationTerms {
                amount: amount()?,
                debtor_account: row.debtor_account.clone(),
            })
        }
    };
    let account_ids: Vec<String> =
        serde_json::from_str(&row.account_ids).map_err(|_| corrupt("account_ids"))?;
    Ok(Consent {
        id: row.id.parse().map_err(|_| corrupt("id"))?,
        app_id: row.app_id.parse().map_err(|_| corrupt("app_id"))?,
        terms,
        status: status_from_row(row.status),
        expires_at: row.expires_at,
        customer_id: row
            .customer_id
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|_| corrupt("customer_id"))?,
        account_ids: account_ids
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt("account_ids"))?,
        created_at: row.created_at,
        status_updated_at: row.status_updated_at,
    })
}
