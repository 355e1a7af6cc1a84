//! `webhook_attempts`: every attempt made for a delivery — the delivery log's detail.

use sea_orm::entity::prelude::*;

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    /// The delivery (`msg_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub delivery_id: String,
    /// 1 for the first attempt of the delivery, and so on.
    #[sea_orm(primary_key, auto_increment = false)]
    pub number: i32,
    /// When the request was sent.
    pub attempted_at: DateTimeUtc,
    /// The HTTP status of the answer; `None` when there was none.
    pub response_status: Option<i32>,
    /// From sending the request to the end of the answer (or the failure).
    pub latency_ms: i64,
    /// The start of the answer's body.
    #[sea_orm(column_type = "Text")]
    pub response_excerpt: String,
    /// Why it failed; empty on success.
    #[sea_orm(column_type = "Text")]
    pub error: String,
}

/// `webhook_attempts` has no relations the code navigates; the foreign key lives in the
/// migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
