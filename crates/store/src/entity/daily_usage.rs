//! `daily_usage`: the calls each app's daily quota admitted per UTC day, of every replica, and
//! how many of them were above the plan's daily limit (overage).

use sea_orm::entity::prelude::*;

/// One app's day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "daily_usage")]
pub struct Model {
    /// The app (`app_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: String,
    /// The UTC day.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    /// Calls the quota let through.
    pub admitted_count: i64,
    /// Of those, calls above the plan's daily limit, served because the plan bills overage.
    pub overage_count: i64,
}

/// `daily_usage` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
