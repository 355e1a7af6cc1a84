//! `accounts`: customers' accounts and the bank's internal accounts, each with its running
//! booked balance (kept in the same transaction as the postings that change it).

use sea_orm::entity::prelude::*;

use super::enums::{AccountOwner, AccountStatus, AccountSubtype, CustomerKind};

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    /// `acc_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning customer; `None` for the bank's internal accounts.
    pub customer_id: Option<String>,
    /// A customer's or the bank's own.
    pub owner: AccountOwner,
    /// Personal or business.
    pub kind: CustomerKind,
    /// The product.
    pub subtype: AccountSubtype,
    /// ISO 4217 code.
    pub currency: String,
    /// The customer's name for the account (for internal accounts, its purpose).
    pub nickname: String,
    /// Whether it can be used.
    pub status: AccountStatus,
    /// Account number, unique in the bank.
    #[sea_orm(unique)]
    pub account_number: String,
    /// Holder name as the bank knows it.
    pub holder_name: String,
    /// When it was opened.
    pub opened_at: DateTimeUtc,
    /// How far below zero the booked balance may go, in minor units (non-negative).
    pub overdraft_limit_minor: i64,
    /// Sum of the account's booked postings, in minor units.
    pub booked_minor: i64,
    /// Sum of holds for pending debits, in minor units (non-negative).
    pub held_minor: i64,
    /// The customer's main account (one per customer).
    pub is_primary: bool,
}

/// `accounts` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
