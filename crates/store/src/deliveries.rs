//! Webhook deliveries: queueing an event for an endpoint, the sender's claim on what is due,
//! recording each attempt (with the endpoint's health), and an app's delivery log.
//!
//! Reads and changes on behalf of an app are scoped to the app and the endpoint, so another
//! app's delivery is never read or retried. The sender's own statements ([`claim_due`],
//! [`record_attempt`]) work across apps: it serves them all.
//!
//! Several senders (processes) may run on one database: a delivery is *claimed* by setting its
//! lease with a compare-and-set `UPDATE`, so exactly one sender attempts it; a sender that dies
//! mid-attempt leaves a lease that runs out, and the delivery is attempted again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionTrait,
};
use wekeza_domain::{AppId, DeliveryId, EventId, WebhookEndpointId};

pub use crate::entity::enums::{DeliveryOrigin, DeliveryStatus};
use crate::entity::webhook_deliveries::{self, Column, Entity, Relation};
use crate::entity::{webhook_attempts, webhook_endpoints};
pub use crate::webhooks::EndpointHealth;
use crate::webhooks::{self, WebhookEndpoint};
use crate::{Error, Result};

/// A delivery to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// `msg_…`.
    pub id: DeliveryId,
    /// Where it goes.
    pub endpoint_id: WebhookEndpointId,
    /// The app owning the endpoint.
    pub app_id: AppId,
    /// The event: its `evt_…` id is the `webhook-id` header.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// The encoded `wekeza.openbanking.v1.Event`.
    pub payload: Vec<u8>,
    /// Why it exists.
    pub origin: DeliveryOrigin,
    /// When the event happened.
    pub event_created_at: DateTime<Utc>,
    /// When it is queued; the first attempt is due then.
    pub created_at: DateTime<Utc>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first.
    pub number: i32,
    /// When the request was sent.
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status of the answer; `None` when there was none.
    pub response_status: Option<i32>,
    /// From sending to the end of the answer (or the failure).
    pub latency_ms: i64,
    /// The start of the answer's body.
    pub response_excerpt: String,
    /// Why it failed; empty on success.
    pub error: String,
}

/// A delivery as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `msg_…`.
    pub id: DeliveryId,
    /// Where it goes.
    pub endpoint_id: WebhookEndpointId,
    /// The event.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// Why it exists.
    pub origin: DeliveryOrigin,
    /// Where it is.
    pub status: DeliveryStatus,
    /// When the next attempt is due; `None` once final.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Every attempt, first first.
    pub attempts: Vec<Attempt>,
}

/// A delivery a sender has claimed: what to send, and where.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// `msg_…`.
    pub id: DeliveryId,
    /// The event: the `webhook-id` header.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// The encoded `wekeza.openbanking.v1.Event`.
    pub payload: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: i32,
    /// Failed attempts since queued or retried: the position in the retry schedule.
    pub schedule_step: i32,
    /// When the event happened.
    pub event_created_at: DateTime<Utc>,
    /// The endpoint, with its (stored) secrets and health.
    pub endpoint: WebhookEndpoint,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// Its status now.
    pub status: DeliveryStatus,
    /// Failed attempts since queued or retried, this one included.
    pub schedule_step: i32,
    /// When the next attempt is due; `None` when final.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Queues deliveries of events from the event stream, in one statement; answers how many are
/// new (a delivery of an event already queued for its endpoint — a redelivered bus message —
/// is not queued again).
pub async fn queue_from_stream(db: &impl ConnectionTrait, queued: &[NewDelivery]) -> Result<u64> {
    if queued.is_empty() {
        return Ok(0);
    }
    let rows = queued.iter().map(|delivery| {
        let dedupe_key = format!("{}/{}", delivery.endpoint_id, delivery.event_id);
        row(delivery, Some(dedupe_key))
    });
    let inserted = Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted)
}

/// Queues a replayed event or a test event (never deduplicated: each is a delivery of its own).
pub async fn queue(db: &impl ConnectionTrait, delivery: &NewDelivery) -> Result<()> {
    Entity::insert(row(delivery, None))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn row(delivery: &NewDelivery, dedupe_key: Option<String>) -> webhook_deliveries::ActiveModel {
    webhook_deliveries::Model {
        id: delivery.id.to_string(),
        endpoint_id: delivery.endpoint_id.to_string(),
        app_id: delivery.app_id.to_string(),
        event_id: delivery.event_id.to_string(),
        event_type: delivery.event_type.clone(),
        payload: delivery.payload.clone(),
        origin: delivery.origin,
        dedupe_key,
        status: DeliveryStatus::Pending,
        attempts: 0,
        schedule_step: 0,
        next_attempt_at: Some(delivery.created_at),
        lease_until: None,
        event_created_at: delivery.event_created_at,
        created_at: delivery.created_at,
    }
    .into()
}

/// `app`'s delivery `id` to its endpoint `endpoint`, with its attempts; `None` for an unknown
/// id and for another app's or another endpoint's delivery.
pub async fn find(
    db: &impl ConnectionTrait,
    app: &AppId,
    endpoint: &WebhookEndpointId,
    id: &DeliveryId,
) -> Result<Option<Delivery>> {
    let Some(found) = Entity::find_by_id(id.as_str())
        .filter(Column::AppId.eq(app.as_str()))
        .filter(Column::EndpointId.eq(endpoint.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(with_attempts(db, vec![found]).await?.pop())
}

/// What [`list`] keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryFilter<'a> {
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries of this event.
    pub event: Option<&'a EventId>,
    /// Only ids strictly below this one (the previous page's last).
    pub before: Option<&'a DeliveryId>,
}

/// Up to `limit` of the deliveries to `app`'s endpoint `endpoint` that pass `filter`, newest
/// first, each with its attempts.
pub async fn list(
    db: &impl ConnectionTrait,
    app: &AppId,
    endpoint: &WebhookEndpointId,
    filter: DeliveryFilter<'_>,
    limit: u64,
) -> Result<Vec<Delivery>> {
    let mut select = Entity::find()
        .filter(Column::AppId.eq(app.as_str()))
        .filter(Column::EndpointId.eq(endpoint.as_str()));
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status));
    }
    if let Some(event) = filter.event {
        select = select.filter(Column::EventId.eq(event.as_str()));
    }
    if let Some(before) = filter.before {
        select = select.filter(Column::Id.lt(before.as_str()));
    }
    let rows = select
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    with_attempts(db, rows).await
}

/// Makes `app`'s delivery `id` to `endpoint` pending again, due at `now`, at the start of the
/// retry schedule; answers whether it exists.
pub async fn retry(
    db: &impl ConnectionTrait,
    app: &AppId,
    endpoint: &WebhookEndpointId,
    id: &DeliveryId,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(DeliveryStatus::Pending))
        .col_expr(Column::ScheduleStep, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(Some(now)))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::AppId.eq(app.as_str()))
        .filter(Column::EndpointId.eq(endpoint.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Claims deliveries due at `now` — pending or failed, to an enabled endpoint (a test delivery
/// to any endpoint), not held by another sender — leasing each until `lease_until`. Reads up to
/// `scan` candidates, the earliest due first, passing over the endpoints in `skip`, and claims
/// those `admit` accepts (asked with the endpoint id, before the claim): the caller's limits.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    scan: u64,
    skip: &[&str],
    mut admit: impl FnMut(&str) -> bool,
) -> Result<Vec<DueDelivery>> {
    let unleased = || {
        Condition::any()
            .add(Column::LeaseUntil.is_null())
            .add(Column::LeaseUntil.lt(now))
    };
    let mut select = Entity::find()
        .join(JoinType::InnerJoin, Relation::Endpoint.def())
        .filter(Column::Status.is_in([DeliveryStatus::Pending, DeliveryStatus::Failed]))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(unleased())
        .filter(
            Condition::any()
                .add(webhook_endpoints::Column::Disabled.eq(false))
                .add(Column::Origin.eq(DeliveryOrigin::Test)),
        );
    if !skip.is_empty() {
        select = select.filter(Column::EndpointId.is_not_in(skip.iter().copied()));
    }
    let candidates: Vec<(String, String)> = select
        .select_only()
        .column(Column::Id)
        .column(Column::EndpointId)
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .limit(scan)
        .into_tuple()
        .all(db)
        .await?;
    let admitted: Vec<String> = candidates
        .into_iter()
        .filter(|(_, endpoint)| admit(endpoint))
        .map(|(id, _)| id)
        .collect();
    if admitted.is_empty() {
        return Ok(Vec::new());
    }
    // Compare-and-set, for the whole batch in one statement: of several senders, the one
    // whose update lands on a row owns its attempt, and only those rows come back.
    let mut claimed = Entity::update_many()
        .col_expr(Column::LeaseUntil, Expr::value(Some(lease_until)))
        .filter(Column::Id.is_in(admitted))
        .filter(Column::Status.is_in([DeliveryStatus::Pending, DeliveryStatus::Failed]))
        .filter(unleased())
        .exec_with_returning(db)
        .await?;
    claimed.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
    let endpoints: HashMap<String, WebhookEndpoint> =
        webhooks::find_all(db, claimed.iter().map(|row| row.endpoint_id.as_str()))
            .await?
            .into_iter()
            .map(|endpoint| (endpoint.id.to_string(), endpoint))
            .collect();
    claimed
        .into_iter()
        .map(|row| {
            let endpoint = endpoints
                .get(&row.endpoint_id)
                .cloned()
                .ok_or_else(|| corrupt(&row.id, "endpoint_id"))?;
            Ok(DueDelivery {
                id: parse(&row.id, &row.id, "id")?,
                event_id: parse(&row.event_id, &row.id, "event_id")?,
                event_type: row.event_type,
                payload: row.payload,
                attempts: row.attempts,
                schedule_step: row.schedule_step,
                event_created_at: row.event_created_at,
                endpoint,
            })
        })
        .collect()
}

/// Records `attempt` of `delivery` to `endpoint`, what became of the delivery, and what it says
/// about the endpoint's health — all or nothing — and releases the sender's lease.
pub async fn record_attempt(
    db: &DatabaseConnection,
    delivery: &DeliveryId,
    endpoint: &WebhookEndpointId,
    attempt: &Attempt,
    outcome: &AttemptOutcome,
    health: &EndpointHealth,
) -> Result<()> {
    let txn = db.begin().await?;
    webhook_attempts::Entity::insert(webhook_attempts::ActiveModel::from(
        webhook_attempts::Model {
            delivery_id: delivery.to_string(),
            number: attempt.number,
            attempted_at: attempt.attempted_at,
            response_status: attempt.response_status,
            latency_ms: attempt.latency_ms,
            response_excerpt: attempt.response_excerpt.clone(),
            error: attempt.error.clone(),
        },
    ))
    .on_conflict(
        OnConflict::columns([
            webhook_attempts::Column::DeliveryId,
            webhook_attempts::Column::Number,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(outcome.status))
        .col_expr(Column::Attempts, Expr::value(attempt.number))
        .col_expr(Column::ScheduleStep, Expr::value(outcome.schedule_step))
        .col_expr(Column::NextAttemptAt, Expr::value(outcome.next_attempt_at))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(delivery.as_str()))
        .exec(&txn)
        .await?;
    webhooks::record_health(&txn, endpoint, health, attempt.attempted_at).await?;
    txn.commit().await?;
    Ok(())
}

async fn with_attempts(
    db: &impl ConnectionTrait,
    rows: Vec<webhook_deliveries::Model>,
) -> Result<Vec<Delivery>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut attempts: HashMap<String, Vec<Attempt>> = HashMap::new();
    for attempt in webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::DeliveryId.is_in(rows.iter().map(|row| row.id.as_str())))
        .order_by_asc(webhook_attempts::Column::Number)
        .all(db)
        .await?
    {
        attempts
            .entry(attempt.delivery_id.clone())
            .or_default()
            .push(Attempt {
                number: attempt.number,
                attempted_at: attempt.attempted_at,
                response_status: attempt.response_status,
                latency_ms: attempt.latency_ms,
                response_excerpt: attempt.response_excerpt,
                error: attempt.error,
            });
    }
    rows.into_iter()
        .map(|row| {
            Ok(Delivery {
                id: parse(&row.id, &row.id, "id")?,
                endpoint_id: parse(&row.endpoint_id, &row.id, "endpoint_id")?,
                event_id: parse(&row.event_id, &row.id, "event_id")?,
                // An attempt recorded after the row was read is left for the next read, so
                // the log always matches the delivery's status.
                attempts: attempts
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|attempt| attempt.number <= row.attempts)
                    .collect(),
                event_type: row.event_type,
                origin: row.origin,
                status: row.status,
                next_attempt_at: row.next_attempt_at,
                created_at: row.created_at,
            })
        })
        .collect()
}

fn parse<T: std::str::FromStr>(text: &str, row: &str, column: &str) -> Result<T> {
    text.parse().map_err(|_| corrupt(row, column))
}

fn corrupt(row: &str, column: &str) -> Error {
    Error::Corrupt(format!("webhook_deliveries.{column} of {row}"))
}
