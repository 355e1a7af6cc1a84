//! `audit_chain`: the one row naming the audit chain's head. Appenders lock it for the length
//! of their transaction, so records are appended one batch at a time, whatever the number of
//! processes.

use sea_orm::entity::prelude::*;

/// The head.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_chain")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// The sequence number of the last record (0 before the first).
    pub last_seq: i64,
    /// The hash of the last record (64 zeros before the first).
    pub last_hash: String,
}

/// `audit_chain` has no relations the code navigates.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
