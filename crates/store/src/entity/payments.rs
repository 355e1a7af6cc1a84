//! `payments`: payments made under payment consents, with their lifecycle status.

use sea_orm::entity::prelude::*;

use super::enums::PaymentStatus;

/// One payment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    /// `pay_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The app that created it (`app_…`).
    pub app_id: String,
    /// The payment consent it consumed (`cns_…`); unique.
    #[sea_orm(unique)]
    pub consent_id: String,
    /// The paying customer (`cus_…`).
    pub customer_id: String,
    /// The debited account (`acc_…`).
    pub debtor_account_id: String,
    /// The amount in minor units (positive).
    pub amount_minor: i64,
    /// The amount's ISO 4217 currency.
    pub currency: String,
    /// The creditor's name.
    pub creditor_name: String,
    /// The creditor's account number.
    pub creditor_account: String,
    /// The reference the creditor sees.
    pub reference: String,
    /// Where it is in its lifecycle.
    pub status: PaymentStatus,
    /// The reason code of a rejection (`SETTLEMENT_FAILED`); `None` otherwise.
    pub status_reason: Option<String>,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When the status last changed.
    pub status_updated_at: DateTimeUtc,
}

/// `payments` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
