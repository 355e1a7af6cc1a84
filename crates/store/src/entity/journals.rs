//! `journals`: one business event of the ledger; its postings sum to zero per currency.

use sea_orm::entity::prelude::*;

use super::enums::JournalKind;

/// One journal.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journals")]
pub struct Model {
    /// `jnl_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// What kind of event it records.
    pub kind: JournalKind,
    /// What happened, for the bank's staff.
    pub description: String,
    /// When it was posted.
    pub created_at: DateTimeUtc,
    /// The business event it records, when that must be posted at most once (a payment's
    /// settlement: `pay_…`); unique. `None` for the seeded history.
    #[sea_orm(unique)]
    pub external_reference: Option<String>,
}

/// `journals` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
