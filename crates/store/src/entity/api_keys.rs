//! `api_keys`: an app's API keys, stored as SHA-256 hashes with a short prefix for display.

use sea_orm::entity::prelude::*;

/// One API key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// `key_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The app it authenticates (`app_…`).
    pub app_id: String,
    /// The key's first characters (`wk_test_1a2b3c4d`), so people can tell keys apart.
    pub key_prefix: String,
    /// SHA-256 of the whole key, lowercase hex, unique.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// When it was issued.
    pub created_at: DateTimeUtc,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTimeUtc>,
    /// The developer's label for the key (e.g. "CI"); may be empty.
    pub display_name: String,
    /// When the key was last presented (recorded in batches, so up to a minute late).
    pub last_used_at: Option<DateTimeUtc>,
}

/// `api_keys` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
