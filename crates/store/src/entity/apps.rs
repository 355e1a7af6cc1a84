//! `apps`: third-party apps, i.e. OAuth2 clients, with the hash of their client secret.

use sea_orm::entity::prelude::*;

use super::enums::{AppEnvironment, AppStatus, Plan, TokenEndpointAuthMethod};

/// One app.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "apps")]
pub struct Model {
    /// `app_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The OAuth2 `client_id`, unique (today the same as the id).
    #[sea_orm(unique)]
    pub client_id: String,
    /// Display name shown to customers on the consent screen.
    pub name: String,
    /// Sandbox or production.
    pub environment: AppEnvironment,
    /// Active or suspended.
    pub status: AppStatus,
    /// Registered redirect URIs, a JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub redirect_uris: String,
    /// Scopes the app may request, space-separated.
    pub scopes: String,
    /// How the app authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// SHA-256 of the client secret, lowercase hex.
    pub client_secret_hash: String,
    /// The app's public keys (a JWKS document), for `private_key_jwt`.
    #[sea_orm(column_type = "Text", nullable)]
    pub jwks: Option<String>,
    /// The commercial plan.
    pub plan: Plan,
    /// The developer who registered the app (`dev_…`), if any.
    pub developer_id: Option<String>,
    /// When it was registered.
    pub created_at: DateTimeUtc,
    /// The grants it registered for, a JSON array; NULL: every grant.
    #[sea_orm(column_type = "Text", nullable)]
    pub grant_types: Option<String>,
}

/// `apps` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
