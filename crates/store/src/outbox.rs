//! The transactional outbox: events are appended in the transaction of the state change they
//! describe, so a change is never committed without its event (nor an event without its
//! change). The relay reads [`unpublished`] events in id order, publishes them and
//! [`mark_published`]s them; a crash in between publishes again, and consumers dedupe by id.
//! Published events are kept for replays and recovery, then [`prune_published`]. The audit
//! trail takes every event once ([`unaudited`], [`mark_audited`]) and records the consent
//! transitions among them; an event it has not taken is never pruned.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wekeza_domain::EventId;

use crate::entity::outbox_events::{self, Column, Entity};
use crate::{Error, Result};

/// The start of every bus subject: the subject of an event is this followed by its type.
pub const SUBJECT_PREFIX: &str = "wekeza.events.";

/// The bus subject of events of `event_type`, e.g. `wekeza.events.payment.status_changed`.
pub fn subject_for(event_type: &str) -> String {
    format!("{SUBJECT_PREFIX}{event_type}")
}

/// One event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// `evt_…`, stable across redeliveries. Ids made with `EventId::new_monotonic` keep the
    /// order the events were appended in.
    pub id: EventId,
    /// The bus subject, e.g. `wekeza.events.consent.status_changed`.
    pub subject: String,
    /// The event type, e.g. `consent.status_changed`.
    pub event_type: String,
    /// The id of what changed (`cns_…`, `pay_…`).
    pub aggregate_id: String,
    /// The encoded event envelope.
    pub payload: Vec<u8>,
    /// When the change happened.
    pub created_at: DateTime<Utc>,
    /// When the relay published it.
    pub published_at: Option<DateTime<Utc>>,
}

impl OutboxEvent {
    /// A new, unpublished event of `event_type` about `aggregate_id`, on the subject that type
    /// maps to ([`subject_for`]).
    pub fn new(
        id: EventId,
        event_type: &str,
        aggregate_id: &str,
        payload: Vec<u8>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            subject: subject_for(event_type),
            event_type: event_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            payload,
            created_at,
            published_at: None,
        }
    }
}

/// Appends `event`. Run it in the transaction of the change it describes.
pub async fn append(db: &impl ConnectionTrait, event: OutboxEvent) -> Result<()> {
    append_all(db, vec![event]).await
}

/// Appends `events` in one statement. Run it in the transaction of the change they describe.
pub async fn append_all(db: &impl ConnectionTrait, events: Vec<OutboxEvent>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.into_iter().map(|event| {
        outbox_events::ActiveModel::from(outbox_events::Model {
            id: event.id.to_string(),
            subject: event.subject,
            event_type: event.event_type,
            aggregate_id: event.aggregate_id,
            payload: event.payload,
            created_at: event.created_at,
            published_at: event.published_at,
            audited_at: None,
        })
    });
    Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// Up to `limit` events not yet published, oldest id first.
pub async fn unpublished(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<OutboxEvent>> {
    unmarked(db, Column::PublishedAt, limit).await
}

/// Up to `limit` events whose time `column` is not set yet, oldest id first.
async fn unmarked(
    db: &impl ConnectionTrait,
    column: Column,
    limit: u64,
) -> Result<Vec<OutboxEvent>> {
    Entity::find()
        .filter(column.is_null())
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Up to `limit` events that happened at or after `since` and before `until` (when given), in
/// id order, after the event `after` (the previous page's last) when given: what a replay goes
/// through.
pub async fn between(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    after: Option<&EventId>,
    limit: u64,
) -> Result<Vec<OutboxEvent>> {
    let mut select = Entity::find().filter(Column::CreatedAt.gte(since));
    if let Some(until) = until {
        select = select.filter(Column::CreatedAt.lt(until));
    }
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

/// Records that the events `ids` were published at `now` (the first publication counts).
pub async fn mark_published(
    db: &impl ConnectionTrait,
    ids: &[EventId],
    now: DateTime<Utc>,
) -> Result<()> {
    mark(db, Column::PublishedAt, ids, now).await
}

/// Sets the time `column` of the events `ids` to `now`, where it is not set yet.
async fn mark(
    db: &impl ConnectionTrait,
    column: Column,
    ids: &[EventId],
    now: DateTime<Utc>,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(column, Expr::value(Some(now)))
        .filter(Column::Id.is_in(ids.iter().map(EventId::as_str)))
        .filter(column.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Up to `limit` events the audit trail has not taken yet, oldest id first. Run it in the
/// audit appender's transaction (which holds the chain's lock), so two appenders never take
/// the same event.
pub async fn unaudited(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<OutboxEvent>> {
    unmarked(db, Column::AuditedAt, limit).await
}

/// Records that the audit trail took the events `ids` at `now`.
pub async fn mark_audited(
    db: &impl ConnectionTrait,
    ids: &[EventId],
    now: DateTime<Utc>,
) -> Result<()> {
    mark(db, Column::AuditedAt, ids, now).await
}

fn from_row(row: outbox_events::Model) -> Result<OutboxEvent> {
    Ok(OutboxEvent {
        id: row
            .id
            .parse()
            .map_err(|_| Error::Corrupt(format!("outbox_events.id {}", row.id)))?,
        subject: row.subject,
        event_type: row.event_type,
        aggregate_id: row.aggregate_id,
        payload: row.payload,
        created_at: row.created_at,
        published_at: row.published_at,
    })
}

/// Deletes up to `limit` published events that happened before `before`, oldest first;
/// answers how many. An unpublished event is kept whatever its age: the relay has yet to
/// publish it; so is one the audit trail has not taken yet.
pub async fn prune_published(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64> {
    let ids: Vec<String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::PublishedAt.is_not_null())
        .filter(Column::AuditedAt.is_not_null())
        .filter(Column::CreatedAt.lt(before))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let deleted = Entity::delete_many()
        .filter(Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
