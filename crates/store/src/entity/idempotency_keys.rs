//! `idempotency_keys`: one row per `(app, Idempotency-Key, operation)`, holding the hash of the
//! request first made with it and the response answered, so a retry gets the same answer.

use sea_orm::entity::prelude::*;

/// One idempotency record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The app that sent the key (`app_…`); keys are scoped per app.
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: String,
    /// The `Idempotency-Key` header's value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub idempotency_key: String,
    /// The rpc path the key was used on (`/wekeza.openbanking.v1.ConsentService/CreateConsent`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub operation: String,
    /// SHA-256 (lowercase hex) of the canonical bytes of the first request.
    pub request_hash: String,
    /// The encoded response; `None` only inside the transaction that claimed the key.
    #[sea_orm(column_type = "Blob", nullable)]
    pub response: Option<Vec<u8>>,
    /// When the key was first used.
    pub created_at: DateTimeUtc,
}

/// `idempotency_keys` has no relations the code navigates; the foreign keys live in the
/// migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
