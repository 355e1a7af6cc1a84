//! `consents`: what customers allow apps to do, with the terms of each kind in nullable columns
//! (payment and funds-confirmation amounts, creditor, reference, debtor account).

use sea_orm::entity::prelude::*;

use super::enums::{ConsentKind, ConsentStatus};

/// One consent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    /// `cns_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The app the consent is given to (`app_…`).
    pub app_id: String,
    /// What it allows.
    pub kind: ConsentKind,
    /// Where it is in its lifecycle, as last written (expiry is also judged lazily).
    pub status: ConsentStatus,
    /// Account-access permissions, space-separated (`READ_ACCOUNTS READ_BALANCES`); empty for
    /// the other kinds.
    pub permissions: String,
    /// When it stops being usable.
    pub expires_at: DateTimeUtc,
    /// The customer who authorised or rejected it (`cus_…`); `None` before.
    pub customer_id: Option<String>,
    /// The accounts bound while authorising, a JSON array of `acc_…` strings.
    #[sea_orm(column_type = "Text")]
    pub account_ids: String,
    /// Payment / funds confirmation: the amount in minor units.
    pub amount_minor: Option<i64>,
    /// Payment / funds confirmation: the amount's ISO 4217 currency.
    pub currency: Option<String>,
    /// Payment: the creditor's name.
    pub creditor_name: Option<String>,
    /// Payment: the creditor's account number.
    pub creditor_account: Option<String>,
    /// Payment: the reference the creditor sees.
    pub reference: Option<String>,
    /// Payment / funds confirmation: the debtor account number the app named, if any.
    pub debtor_account: Option<String>,
    /// When the app created it.
    pub created_at: DateTimeUtc,
    /// When the status last changed.
    pub status_updated_at: DateTimeUtc,
}

/// `consents` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
