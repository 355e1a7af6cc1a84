//! `outbox_events`: domain events written in the transaction of the state change they
//! describe, waiting for the relay to publish them.

use sea_orm::entity::prelude::*;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    /// `evt_…`: also the id consumers dedupe by.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The bus subject, e.g. `wekeza.events.consent.status_changed`.
    pub subject: String,
    /// The event type, e.g. `consent.status_changed`.
    pub event_type: String,
    /// The id of the thing that changed (`cns_…`, `pay_…`).
    pub aggregate_id: String,
    /// The encoded event envelope.
    #[sea_orm(column_type = "Blob")]
    pub payload: Vec<u8>,
    /// When the change happened.
    pub created_at: DateTimeUtc,
    /// When the relay published it; `None` until then.
    pub published_at: Option<DateTimeUtc>,
    /// When the audit trail took the event (it records consent transitions from here); `None`
    /// until then.
    pub audited_at: Option<DateTimeUtc>,
}

/// `outbox_events` has no relations the code navigates.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
