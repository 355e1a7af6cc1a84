//! `holds`: funds reserved on an account for a pending debit, by the reference of what they
//! are held for (a payment's id). An active hold is counted in its account's `held_minor`.

use sea_orm::entity::prelude::*;

use super::enums::HoldStatus;

/// One hold.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "holds")]
pub struct Model {
    /// What the funds are held for, e.g. `pay_…`; at most one hold each.
    #[sea_orm(primary_key, auto_increment = false)]
    pub reference: String,
    /// The account the funds are held on (`acc_…`).
    pub account_id: String,
    /// The amount held, in minor units (positive).
    pub amount_minor: i64,
    /// The amount's ISO 4217 currency (the account's).
    pub currency: String,
    /// Active, settled or released.
    pub status: HoldStatus,
    /// When it was placed.
    pub created_at: DateTimeUtc,
    /// When it was placed, settled or released.
    pub updated_at: DateTimeUtc,
}

/// `holds` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
