//! `webhook_deliveries`: one event queued for one endpoint, and where its delivery is (see
//! [`crate::deliveries`]).

use sea_orm::entity::prelude::*;

use super::enums::{DeliveryOrigin, DeliveryStatus};

/// One delivery. Its attempts are in `webhook_attempts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// `msg_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The endpoint it goes to (`whe_…`).
    pub endpoint_id: String,
    /// The app owning the endpoint (`app_…`); only that app sees the delivery.
    pub app_id: String,
    /// The event (`evt_…`): the `webhook-id` header.
    pub event_id: String,
    /// The event's type, e.g. `payment.status_changed`.
    pub event_type: String,
    /// The encoded `wekeza.openbanking.v1.Event`.
    pub payload: Vec<u8>,
    /// Why it exists.
    pub origin: DeliveryOrigin,
    /// `<endpoint>/<event>` for deliveries from the event stream (unique), else `None`.
    pub dedupe_key: Option<String>,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// Failed attempts since it was queued or last retried: the position in the retry
    /// schedule.
    pub schedule_step: i32,
    /// When the next attempt is due; `None` once final.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// Until when a sender holds it (being attempted); another sender takes it after.
    pub lease_until: Option<DateTimeUtc>,
    /// When the event happened.
    pub event_created_at: DateTimeUtc,
    /// When the delivery was queued.
    pub created_at: DateTimeUtc,
}

/// A delivery belongs to its endpoint (the join the sender filters disabled endpoints by).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The endpoint it goes to.
    #[sea_orm(
        belongs_to = "super::webhook_endpoints::Entity",
        from = "Column::EndpointId",
        to = "super::webhook_endpoints::Column::Id"
    )]
    Endpoint,
}

impl Related<super::webhook_endpoints::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Endpoint.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
