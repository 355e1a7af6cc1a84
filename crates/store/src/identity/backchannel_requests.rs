//! Backchannel authentication requests (OpenID CIBA Core 1.0, poll mode), stored by the SHA-256
//! of their `auth_req_id`. The customer decides once ([`decide`]: one conditional `UPDATE` on a
//! pending, unexpired row) and the tokens are issued once ([`redeem`]: one conditional `UPDATE`
//! on an approved row), so of two concurrent decisions or redemptions exactly one wins.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entity::backchannel_requests::{ActiveModel, Column, Entity, Model};
use crate::{Error, Result};

/// Where a backchannel request stands. Expiry is not a status: it is read from `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackchannelStatus {
    /// Waiting for the customer.
    Pending,
    /// The customer approved; the tokens are not issued yet.
    Approved,
    /// The customer refused.
    Denied,
    /// The tokens were issued.
    Redeemed,
}

impl BackchannelStatus {
    fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    fn from_db(text: &str) -> Result<Self> {
        Ok(match text {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "redeemed" => Self::Redeemed,
            other => {
                return Err(Error::Corrupt(format!(
                    "backchannel_requests.status {other}"
                )));
            }
        })
    }
}

/// One backchannel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelRequest {
    /// SHA-256 (hex) of the `auth_req_id`.
    pub auth_req_id_hash: String,
    /// The client that asked.
    pub client_id: String,
    /// The consent to authorise (`cns_…`).
    pub consent_id: String,
    /// The customer named by the `login_hint` (`cus_…`).
    pub customer_id: String,
    /// The accounts bound on approval, a JSON array of `acc_…`.
    pub account_ids: Option<String>,
    /// The scopes requested, space-separated.
    pub scope: String,
    /// The `binding_message` for the customer's device.
    pub binding_message: Option<String>,
    /// Where it stands.
    pub status: BackchannelStatus,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops being decidable or redeemable.
    pub expires_at: DateTime<Utc>,
    /// The least number of seconds between two polls.
    pub interval_seconds: i32,
    /// The last poll, for `slow_down`.
    pub last_poll_at: Option<DateTime<Utc>>,
    /// When the customer decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the tokens were issued.
    pub redeemed_at: Option<DateTime<Utc>>,
}

impl TryFrom<Model> for BackchannelRequest {
    type Error = Error;

    fn try_from(row: Model) -> Result<Self> {
        Ok(Self {
            status: BackchannelStatus::from_db(&row.status)?,
            auth_req_id_hash: row.auth_req_id_hash,
            client_id: row.client_id,
            consent_id: row.consent_id,
            customer_id: row.customer_id,
            account_ids: row.account_ids,
            scope: row.scope,
            binding_message: row.binding_message,
            created_at: row.created_at,
            expires_at: row.expires_at,
            interval_seconds: row.interval_seconds,
            last_poll_at: row.last_poll_at,
            decided_at: row.decided_at,
            redeemed_at: row.redeemed_at,
        })
    }
}

impl From<BackchannelRequest> for Model {
    fn from(row: BackchannelRequest) -> Self {
        Self {
            auth_req_id_hash: row.auth_req_id_hash,
            client_id: row.client_id,
            consent_id: row.consent_id,
            customer_id: row.customer_id,
            account_ids: row.account_ids,
            scope: row.scope,
            binding_message: row.binding_message,
            status: row.status.as_db().to_owned(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            interval_seconds: row.interval_seconds,
            last_poll_at: row.last_poll_at,
            decided_at: row.decided_at,
            redeemed_at: row.redeemed_at,
        }
    }
}

/// Stores a new request.
pub async fn insert(db: &impl ConnectionTrait, request: BackchannelRequest) -> Result<()> {
    Entity::insert(ActiveModel::from(Model::from(request)))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The request whose SHA-256 is `auth_req_id_hash`, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    auth_req_id_hash: &str,
) -> Result<Option<BackchannelRequest>> {
    Entity::find_by_id(auth_req_id_hash)
        .one(db)
        .await?
        .map(BackchannelRequest::try_from)
        .transpose()
}

/// Records a poll of the token endpoint at `now`.
pub async fn record_poll(
    db: &impl ConnectionTrait,
    auth_req_id_hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    Entity::update_many()
        .col_expr(Column::LastPollAt, Expr::value(now))
        .filter(Column::AuthReqIdHash.eq(auth_req_id_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the customer's decision at `now` — [`BackchannelStatus::Approved`] with the bound
/// `account_ids`, or [`BackchannelStatus::Denied`]; `false` if the request is no longer pending
/// or has expired (or is gone).
pub async fn decide(
    db: &impl ConnectionTrait,
    auth_req_id_hash: &str,
    status: BackchannelStatus,
    account_ids: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(status.as_db()))
        .col_expr(Column::AccountIds, Expr::value(account_ids))
        .col_expr(Column::DecidedAt, Expr::value(now))
        .filter(Column::AuthReqIdHash.eq(auth_req_id_hash))
        .filter(Column::Status.eq(BackchannelStatus::Pending.as_db()))
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks an approved request redeemed at `now`; `false` if it was not approved (already
/// redeemed, or gone).
pub async fn redeem(
    db: &impl ConnectionTrait,
    auth_req_id_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(
            Column::Status,
            Expr::value(BackchannelStatus::Redeemed.as_db()),
        )
        .col_expr(Column::RedeemedAt, Expr::value(now))
        .filter(Column::AuthReqIdHash.eq(auth_req_id_hash))
        .filter(Column::Status.eq(BackchannelStatus::Approved.as_db()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
