//! Webhook endpoints: insertion, an app's endpoints (one, or all newest first in keyset pages),
//! changes, deletion and secret rotation. Every statement is scoped to the owning app, so
//! another app's endpoint is never read or written.
//!
//! Signing secrets are stored as the caller hands them over: sealed with
//! [`sealing::seal_secret`](crate::sealing::seal_secret), associated with the endpoint's id. A
//! rotation moves the current secret to `previous_secret` in the same `UPDATE`, so it opens
//! with the same id.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wekeza_domain::{AppId, WebhookEndpointId};

use crate::entity::webhook_endpoints::{self, Column, Entity};
use crate::{Error, Result};

/// An app's webhook endpoint, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// `whe_…`.
    pub id: WebhookEndpointId,
    /// The app that registered it.
    pub app_id: AppId,
    /// Where events are POSTed.
    pub url: String,
    /// The app's note about the endpoint.
    pub description: String,
    /// The catalogue names of the event types delivered here.
    pub event_types: Vec<String>,
    /// While true nothing is delivered.
    pub disabled: bool,
    /// Why the platform disabled it (410 Gone, failing too long); `None` when it did not.
    pub disabled_reason: Option<String>,
    /// Since when every attempt to it has failed; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// The signing secret as stored (sealed, or in the clear without a key-encryption key).
    pub secret: String,
    /// The secret before the last rotation, stored like `secret`, and when it stops signing.
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// When the endpoint was registered.
    pub created_at: DateTime<Utc>,
    /// When the endpoint or its secret last changed.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secrets stay out of every log line, sealed or not.
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("disabled", &self.disabled)
            .field("disabled_reason", &self.disabled_reason)
            .finish_non_exhaustive()
    }
}

/// What an attempt says about the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointHealth {
    /// It answered 2xx: its failure streak ends.
    Healthy,
    /// It failed: its failure streak starts (or goes on).
    Failing,
    /// It is to be disabled, for this reason (410 Gone, failing too long).
    Disable(String),
}

/// The endpoint's changeable fields, written by [`update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointChanges {
    /// Where events are POSTed.
    pub url: String,
    /// The app's note about the endpoint.
    pub description: String,
    /// The catalogue names of the event types delivered here.
    pub event_types: Vec<String>,
    /// While true nothing is delivered.
    pub disabled: bool,
}

/// Inserts a new endpoint.
pub async fn insert(db: &impl ConnectionTrait, endpoint: &WebhookEndpoint) -> Result<()> {
    let (previous_secret, previous_secret_expires_at) = match &endpoint.previous_secret {
        Some((secret, until)) => (Some(secret.clone()), Some(*until)),
        None => (None, None),
    };
    let row = webhook_endpoints::Model {
        id: endpoint.id.to_string(),
        app_id: endpoint.app_id.to_string(),
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        event_types: event_types_column(&endpoint.event_types)?,
        disabled: endpoint.disabled,
        disabled_reason: endpoint.disabled_reason.clone(),
        failing_since: endpoint.failing_since,
        secret: endpoint.secret.clone(),
        previous_secret,
        previous_secret_expires_at,
        created_at: endpoint.created_at,
        updated_at: endpoint.updated_at,
    };
    Entity::insert(webhook_endpoints::ActiveModel::from(row))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// `app`'s endpoint with this id; `None` for an unknown id and for another app's endpoint.
pub async fn find(
    db: &impl ConnectionTrait,
    app: &AppId,
    id: &WebhookEndpointId,
) -> Result<Option<WebhookEndpoint>> {
    Entity::find_by_id(id.as_str())
        .filter(Column::AppId.eq(app.as_str()))
        .one(db)
        .await?
        .map(from_row)
        .transpose()
}

/// The endpoints of `ids` that exist, of any app: for the dispatcher, which delivers for all.
pub async fn find_all<'a>(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<WebhookEndpoint>> {
    let ids: BTreeSet<&str> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// `app`'s enabled endpoints subscribed to `event_type`: where an event of the app goes.
pub async fn subscribed(
    db: &impl ConnectionTrait,
    app: &AppId,
    event_type: &str,
) -> Result<Vec<WebhookEndpoint>> {
    let endpoints = Entity::find()
        .filter(Column::AppId.eq(app.as_str()))
        .filter(Column::Disabled.eq(false))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(endpoints
        .into_iter()
        .filter(|endpoint| endpoint.event_types.iter().any(|kind| kind == event_type))
        .collect())
}

/// Up to `limit` of `app`'s endpoints, newest first, starting after `before` (the last id of the
/// previous page) when given.
pub async fn list_for_app(
    db: &impl ConnectionTrait,
    app: &AppId,
    before: Option<&WebhookEndpointId>,
    limit: u64,
) -> Result<Vec<WebhookEndpoint>> {
    let mut select = Entity::find().filter(Column::AppId.eq(app.as_str()));
    if let Some(before) = before {
        select = select.filter(Column::Id.lt(before.as_str()));
    }
    select
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Writes `changes` to `app`'s endpoint `id`; answers whether it exists (and was changed).
/// An endpoint left (or made) enabled forgets why the platform had disabled it and its failure
/// streak: the app has decided to receive again.
pub async fn update(
    db: &impl ConnectionTrait,
    app: &AppId,
    id: &WebhookEndpointId,
    changes: &EndpointChanges,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut statement = Entity::update_many();
    if !changes.disabled {
        statement = statement
            .col_expr(Column::DisabledReason, Expr::value(Option::<String>::None))
            .col_expr(
                Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    let result = statement
        .col_expr(Column::Url, Expr::value(changes.url.clone()))
        .col_expr(
            Column::Description,
            Expr::value(changes.description.clone()),
        )
        .col_expr(
            Column::EventTypes,
            Expr::value(event_types_column(&changes.event_types)?),
        )
        .col_expr(Column::Disabled, Expr::value(changes.disabled))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::AppId.eq(app.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Writes what an attempt at `now` said about endpoint `id`: a success ends its failure streak,
/// a failure starts one (or lets it go on), and a disabling records its reason.
pub async fn record_health(
    db: &impl ConnectionTrait,
    id: &WebhookEndpointId,
    health: &EndpointHealth,
    now: DateTime<Utc>,
) -> Result<()> {
    // Healthy and failing touch the row only when that changes it: a row a statement does not
    // match is not locked, so the attempts to one endpoint do not queue behind each other's
    // transactions to write what is already there.
    let statement = Entity::update_many().filter(Column::Id.eq(id.as_str()));
    let statement = match health {
        EndpointHealth::Healthy => statement
            .col_expr(
                Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::FailingSince.is_not_null()),
        EndpointHealth::Failing => statement
            .col_expr(Column::FailingSince, Expr::value(Some(now)))
            .filter(Column::FailingSince.is_null()),
        EndpointHealth::Disable(reason) => statement
            .col_expr(Column::Disabled, Expr::value(true))
            .col_expr(Column::DisabledReason, Expr::value(Some(reason.clone())))
            .col_expr(Column::UpdatedAt, Expr::value(now)),
    };
    statement.exec(db).await?;
    Ok(())
}

/// Deletes `app`'s endpoint `id`; answers whether it existed.
pub async fn delete(
    db: &impl ConnectionTrait,
    app: &AppId,
    id: &WebhookEndpointId,
) -> Result<bool> {
    let result = Entity::delete_many()
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::AppId.eq(app.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Makes `new_secret` (as stored) the signing secret of `app`'s endpoint `id`; the current one
/// becomes the previous secret, signing until `previous_expires_at`. A previous secret from an
/// earlier rotation is dropped. Answers whether the endpoint exists.
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    app: &AppId,
    id: &WebhookEndpointId,
    new_secret: &str,
    previous_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::PreviousSecret, Expr::col(Column::Secret))
        .col_expr(
            Column::PreviousSecretExpiresAt,
            Expr::value(previous_expires_at),
        )
        .col_expr(Column::Secret, Expr::value(new_secret.to_owned()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::AppId.eq(app.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

fn event_types_column(event_types: &[String]) -> Result<String> {
    serde_json::to_string(event_types)
        .map_err(|_| Error::Corrupt("webhook event types cannot be encoded".into()))
}

fn from_row(row: webhook_endpoints::Model) -> Result<WebhookEndpoint> {
    let corrupt =
        |column: &str| Error::Corrupt(format!("webhook_endpoints.{column} of {}", row.id));
    let previous_secret = match (&row.previous_secret, row.previous_secret_expires_at) {
        (Some(secret), Some(until)) => Some((secret.clone(), until)),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("previous_secret_expires_at")),
    };
    Ok(WebhookEndpoint {
        id: row.id.parse().map_err(|_| corrupt("id"))?,
        app_id: row.app_id.parse().map_err(|_| corrupt("app_id"))?,
        event_types: serde_json::from_str(&row.event_types).map_err(|_| corrupt("event_types"))?,
        url: row.url,
        description: row.description,
        disabled: row.disabled,
        disabled_reason: row.disabled_reason,
        failing_since: row.failing_since,
        secret: row.secret,
        previous_secret,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
