//! `plans`: the usage plans on offer, with their limits and prices.

use sea_orm::entity::prelude::*;

/// One plan.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    /// `free`, `startup` or `enterprise` (the values of [`super::enums::Plan`]).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the plan is for.
    pub description: String,
    /// Requests per UTC day included; 0: no fixed limit.
    pub daily_request_limit: i64,
    /// The sustained rate limit, requests per minute.
    pub requests_per_minute: i32,
    /// Requests an app may make at once above the sustained rate.
    pub burst: i32,
    /// ISO 4217 code of the prices.
    pub currency: String,
    /// Price per month, minor units.
    pub monthly_price_minor: i64,
    /// Price per 1,000 requests above the daily limit, minor units; NULL: refused, not billed.
    pub overage_price_per_thousand_minor: Option<i64>,
    /// Where the plan is listed (cheapest first).
    pub sort_order: i32,
}

/// `plans` has no relations the code navigates.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
