//! `app_plan_changes`: every change of an app's usage plan, which invoices prorate by.

use sea_orm::entity::prelude::*;

use super::enums::Plan;

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_plan_changes")]
pub struct Model {
    /// Row id (orders changes of one instant).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The app (`app_…`).
    pub app_id: String,
    /// When the change took effect.
    pub changed_at: DateTimeUtc,
    /// The plan before.
    pub previous_plan: Plan,
    /// The plan after.
    pub plan: Plan,
}

/// `app_plan_changes` has no relations the code navigates.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
