//! `postings`: the entries of the ledger, one per account and journal leg. A customer
//! account's statement is its postings, newest first by id.

use sea_orm::entity::prelude::*;

use super::enums::PostingStatus;

/// One posting.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postings")]
pub struct Model {
    /// `txn_…`, a ULID of the booking time: id order is booking order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The journal it belongs to (`jnl_…`).
    pub journal_id: String,
    /// The account it moves (`acc_…`).
    pub account_id: String,
    /// Signed minor units: positive credits the account, negative debits it.
    pub amount_minor: i64,
    /// ISO 4217 code; always the account's currency.
    pub currency: String,
    /// Booked or pending.
    pub status: PostingStatus,
    /// When it was booked.
    pub booking_time: DateTimeUtc,
    /// When the money took value.
    pub value_time: DateTimeUtc,
    /// Statement text.
    pub description: String,
    /// Payer's or payee's reference.
    pub reference: String,
    /// Spending category, e.g. `groceries`.
    pub category: String,
    /// Merchant name, for card spending.
    pub merchant_name: Option<String>,
    /// ISO 18245 merchant category code, for card spending.
    pub merchant_category_code: Option<String>,
    /// The other party, for transfers.
    pub counterparty_name: Option<String>,
    /// The account's booked balance right after this posting, in minor units.
    pub balance_after_minor: i64,
}

/// `postings` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
