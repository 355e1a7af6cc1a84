//! `webhook_endpoints`: one row per URL where an app receives events, with its signing secret
//! as stored (see [`crate::webhooks`]).

use sea_orm::entity::prelude::*;

/// One webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    /// `whe_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The app that registered it (`app_…`); only that app sees it.
    pub app_id: String,
    /// Where events are POSTed.
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The app's note about the endpoint.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The event types delivered here, a JSON array of catalogue names.
    #[sea_orm(column_type = "Text")]
    pub event_types: String,
    /// While true nothing is delivered.
    pub disabled: bool,
    /// The signing secret, sealed (or in the clear without a key-encryption key).
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    /// The secret before the last rotation, stored like `secret`; it keeps signing until
    /// `previous_secret_expires_at`.
    #[sea_orm(column_type = "Text", nullable)]
    pub previous_secret: Option<String>,
    /// When `previous_secret` stops signing.
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// Why the platform disabled the endpoint (410 Gone, failing too long); `None` when it did
    /// not.
    #[sea_orm(column_type = "Text", nullable)]
    pub disabled_reason: Option<String>,
    /// Since when every attempt to the endpoint has failed; `None` after a success.
    pub failing_since: Option<DateTimeUtc>,
    /// When the endpoint was registered.
    pub created_at: DateTimeUtc,
    /// When the endpoint or its secret last changed.
    pub updated_at: DateTimeUtc,
}

/// `webhook_endpoints` has no relations the code navigates; the foreign key lives in the
/// migration.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
