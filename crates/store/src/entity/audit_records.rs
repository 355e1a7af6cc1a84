//! `audit_records`: the append-only, hash-chained audit trail.

use sea_orm::entity::prelude::*;

/// One record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_records")]
pub struct Model {
    /// The record's place in the chain: 1, 2, 3, … without gaps.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// When it happened (UTC, microseconds).
    pub occurred_at: DateTimeUtc,
    /// `api_call`, `consent`, `token`, `fraud`, `operator` or `trail`.
    pub kind: String,
    /// What happened, within its kind.
    pub action: String,
    /// The app it concerns.
    pub app_id: Option<String>,
    /// The customer it concerns.
    pub customer_id: Option<String>,
    /// The details, a JSON object.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    /// The hash of the record before (64 zeros before the first), hex.
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` and this record's canonical bytes, hex.
    pub hash: String,
}

/// `audit_records` has no relations the code navigates.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
