//! `rate_limit_buckets`: the shared rate limits of the `cluster` policy, one row per subject
//! (`app:app_…`, `ip:203.0.113.7`) holding its bucket's theoretical arrival time.

use sea_orm::entity::prelude::*;

/// One subject's bucket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_buckets")]
pub struct Model {
    /// `app:app_…` or `ip:<address>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// The GCRA's theoretical arrival time, microseconds since the Unix epoch (UTC): the bucket
    /// is full again at this instant.
    pub tat_micros: i64,
}

/// `rate_limit_buckets` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
