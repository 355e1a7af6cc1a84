//! `usage_counters`: an app's metered calls per UTC day, operation and status class, with their
//! latency histogram; added to in batches, never written per call.

use sea_orm::entity::prelude::*;

/// The calls of one app, day, operation and status class.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_counters")]
pub struct Model {
    /// The app (`app_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: String,
    /// The UTC day.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// The rpc's path, or the HTTP path of a call that is not an rpc.
    #[sea_orm(primary_key, auto_increment = false)]
    pub operation: String,
    /// 2, 4 or 5 (the HTTP status class; gRPC codes mapped as REST maps them).
    #[sea_orm(primary_key, auto_increment = false)]
    pub status_class: i16,
    /// Calls.
    pub request_count: i64,
    /// Of those, calls refused by a rate limit or the daily quota (429).
    pub rejected_count: i64,
    /// The sum of their latencies, microseconds.
    pub latency_sum_micros: i64,
    /// Calls answered within 5 ms.
    pub latency_le5ms: i64,
    /// … within 25 ms (and more than 5 ms).
    pub latency_le25ms: i64,
    /// … within 100 ms.
    pub latency_le100ms: i64,
    /// … within 250 ms.
    pub latency_le250ms: i64,
    /// … within 1 s.
    pub latency_le1s: i64,
    /// … within 5 s.
    pub latency_le5s: i64,
    /// … in more than 5 s.
    pub latency_gt5s: i64,
}

/// `usage_counters` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
