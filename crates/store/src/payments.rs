//! Payments: insertion, look-up, status changes that apply only to the status they were decided
//! on, the unfinished payments the settlement worker picks up, a customer's recent payments
//! for the fraud checks, and the deletion of one app's payments (the sandbox reset). Rows are converted to and from [`wekeza_domain::Payment`] here; the
//! lifecycle rules live in `domain`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use wekeza_domain::{
    AppId, Creditor, Currency, CustomerId, Money, Payment, PaymentId, PaymentStatus,
};

pub use crate::consents::StatusWrite;
use crate::entity::enums;
use crate::entity::payments::{self, Column, Entity};
use crate::{Error, Result};

/// Inserts a new payment. Run it in the transaction that also consumes its consent, places its
/// hold and appends its event.
pub async fn insert(db: &impl ConnectionTrait, payment: &Payment) -> Result<()> {
    Entity::insert(payments::ActiveModel::from(to_row(payment)))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Deletes every payment of `app` and answers them as they were, in one statement (`DELETE …
/// RETURNING`): of two concurrent deletions each payment is answered to one only. Their holds
/// and postings are the ledger's, left to the caller. The sandbox reset of one app.
pub async fn delete_for_app(db: &impl ConnectionTrait, app: &AppId) -> Result<Vec<Payment>> {
    Entity::delete_many()
        .filter(Column::AppId.eq(app.as_str()))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The payment with this id, if any — of whichever app: callers check ownership.
pub async fn find(db: &impl ConnectionTrait, id: &PaymentId) -> Result<Option<Payment>> {
    Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// Writes `payment`'s status (and its time and reason) only if the stored status is still
/// `expected` — the status the transition was decided on. One conditional `UPDATE`, so of two
/// racing transitions (two settlement workers) exactly one applies. Run it in the transaction
/// that also appends the transition's event.
pub async fn update_status(
    db: &impl ConnectionTrait,
    payment: &Payment,
    expected: PaymentStatus,
) -> Result<StatusWrite> {
    let (status, reason) = status_to_row(payment.status);
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::StatusReason, Expr::value(reason))
        .col_expr(
            Column::StatusUpdatedAt,
            Expr::value(payment.status_updated_at),
        )
        .filter(Column::Id.eq(payment.id.as_str()))
        .filter(Column::Status.eq(status_to_row(expected).0))
        .exec(db)
        .await?;
    Ok(if result.rows_affected == 1 {
        StatusWrite::Applied
    } else {
        StatusWrite::Conflict
    })
}

/// Up to `limit` payments that are PENDING or ACCEPTED_SETTLEMENT_IN_PROCESS, oldest first,
/// with ids strictly above `after` (the previous page's last) when given: the settlement
/// worker's queue (also after a crash), read page by page so that payments it leaves alone
/// (the sandbox's, held for simulation) never hide the ones behind them.
pub async fn unfinished(
    db: &impl ConnectionTrait,
    after: Option<&PaymentId>,
    limit: u64,
) -> Result<Vec<Payment>> {
    let mut select = Entity::find().filter(Column::Status.is_in([
        enums::PaymentStatus::Pending,
        enums::PaymentStatus::AcceptedSettlementInProcess,
    ]));
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after.as_str()));
    }
    select
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// One payment as the fraud checks see it: what left (or will leave) the account, when, to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidOut {
    /// The amount in minor units (positive).
    pub amount_minor: i64,
    /// The amount's ISO 4217 currency.
    pub currency: String,
    /// When the payment was created.
    pub created_at: DateTime<Utc>,
    /// The creditor's account number.
    pub creditor_account: String,
}

/// The customer's payments created at or after `since` that were not rejected, in any order:
/// only the columns the fraud checks read (a busy payer has many).
pub async fn paid_out_since(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    since: DateTime<Utc>,
) -> Result<Vec<PaidOut>> {
    let rows: Vec<(i64, String, DateTime<Utc>, String)> = Entity::find()
        .select_only()
        .columns([
            Column::AmountMinor,
            Column::Currency,
            Column::CreatedAt,
            Column::CreditorAccount,
        ])
        .filter(Column::CustomerId.eq(customer.as_str()))
        .filter(Column::CreatedAt.gte(since))
        .filter(Column::Status.ne(enums::PaymentStatus::Rejected))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(amount_minor, currency, created_at, creditor_account)| PaidOut {
                amount_minor,
                currency,
                created_at,
                creditor_account,
            },
        )
        .collect())
}

/// Whether the customer has a settled payment to `creditor_account`.
pub async fn has_paid(
    db: &impl ConnectionTrait,
    customer: &CustomerId,
    creditor_account: &str,
) -> Result<bool> {
    let count = Entity::find()
        .filter(Column::CustomerId.eq(customer.as_str()))
        .filter(Column::CreditorAccount.eq(creditor_account))
        .filter(Column::Status.eq(enums::PaymentStatus::AcceptedSettlementCompleted))
        .limit(1)
        .count(db)
        .await?;
    Ok(count > 0)
}

// === conversions ===

fn status_to_row(status: PaymentStatus) -> (enums::PaymentStatus, Option<String>) {
    match status {
        PaymentStatus::Pending => (enums::PaymentStatus::Pending, None),
        PaymentStatus::AcceptedSettlementInProcess => {
            (enums::PaymentStatus::AcceptedSettlementInProcess, None)
        }
        PaymentStatus::AcceptedSettlementCompleted => {
            (enums::PaymentStatus::AcceptedSettlementCompleted, None)
        }
        PaymentStatus::Rejected { reason } => (
            enums::PaymentStatus::Rejected,
            Some(reason.code().to_owned()),
        ),
    }
}

fn to_row(payment: &Payment) -> payments::Model {
    let (status, status_reason) = status_to_row(payment.status);
    payments::Model {
        id: payment.id.to_string(),
        app_id: payment.app_id.to_string(),
        consent_id: payment.consent_id.to_string(),
        customer_id: payment.customer_id.to_string(),
        debtor_account_id: payment.debtor_account_id.to_string(),
        amount_minor: payment.amount.minor(),
        currency: payment.amount.currency().code().to_owned(),
        creditor_name: payment.creditor.name.clone(),
        creditor_account: payment.creditor.account_number.clone(),
        reference: payment.reference.clone(),
        status,
        status_reason,
        created_at: payment.created_at,
        status_updated_at: payment.status_updated_at,
    }
}

fn from_row(row: payments::Model) -> Result<Payment> {
    let corrupt = |what: &str| Error::Corrupt(format!("payments.{what} of {}", row.id));
    let status = match row.status {
        enums::PaymentStatus::Pending => PaymentStatus::Pending,
        enums::PaymentStatus::AcceptedSettlementInProcess => {
            PaymentStatus::AcceptedSettlementInProcess
        }
        enums::PaymentStatus::AcceptedSettlementCompleted => {
            PaymentStatus::AcceptedSettlementCompleted
        }
        enums::PaymentStatus::Rejected => PaymentStatus::Rejected {
            reason: row
                .status_reason
                .as_deref()
                .and_then(wekeza_domain::Reason::from_code)
                .ok_or_else(|| corrupt("status_reason"))?,
        },
    };
    let currency = Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?;
    Ok(Payment {
        id: row.id.parse().map_err(|_| corrupt("id"))?,
        app_id: row.app_id.parse().map_err(|_| corrupt("app_id"))?,
        consent_id: row.consent_id.parse().map_err(|_| corrupt("consent_id"))?,
        customer_id: row
            .customer_id
            .parse()
            .map_err(|_| corrupt("customer_id"))?,
        debtor_account_id: row
            .debtor_account_id
            .parse()
            .map_err(|_| corrupt("debtor_account_id"))?,
        amount: Money::from_minor(row.amount_minor, currency),
        creditor: Creditor {
            name: row.creditor_name.clone(),
            account_number: row.creditor_account.clone(),
        },
        reference: row.reference.clone(),
        status,
        created_at: row.created_at,
        status_updated_at: row.status_updated_at,
    })
}
