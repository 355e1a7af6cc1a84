//! Third-party apps (OAuth2 clients): registration with a client secret and a first API key,
//! both shown once and stored as SHA-256 hashes, look-ups, and client-secret checks.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rand::CryptoRng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use wekeza_domain::{AppId, DeveloperId, Scope};

use crate::api_keys::{self, IssuedApiKey};
use crate::entity::apps::{self, Column, Entity};
pub use crate::entity::enums::{AppEnvironment, AppStatus, Plan, TokenEndpointAuthMethod};
use crate::{Error, Result, secret};

/// Bytes of randomness in a client secret (256 bits).
const CLIENT_SECRET_BYTES: usize = 32;

/// What a developer registers. `Default` gives a sandbox app on the free plan using
/// `client_secret_basic`, without redirect URIs or scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewApp {
    /// Display name shown to customers.
    pub name: String,
    /// Sandbox or production.
    pub environment: AppEnvironment,
    /// Redirect URIs the authorization endpoint will accept.
    pub redirect_uris: Vec<String>,
    /// Scopes the app may request.
    pub scopes: BTreeSet<Scope>,
    /// How the app will authenticate at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The app's public keys (JWKS JSON), for `private_key_jwt`.
    pub jwks: Option<String>,
    /// The commercial plan.
    pub plan: Plan,
    /// The registering developer, if any.
    pub developer_id: Option<DeveloperId>,
    /// The OAuth2 grants it registered for (`client_credentials`, …); `None`: every grant.
    pub grant_types: Option<Vec<String>>,
}

/// A registered app. The client secret's hash stays inside: check a presented secret with
/// [`verify_client_secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The app's id.
    pub id: AppId,
    /// The OAuth2 `client_id` (today the app id's text).
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Sandbox or production.
    pub environment: AppEnvironment,
    /// Active or suspended.
    pub status: AppStatus,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scopes the app may request.
    pub scopes: BTreeSet<Scope>,
    /// How the app authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The app's public keys (JWKS JSON).
    pub jwks: Option<String>,
    /// The commercial plan.
    pub plan: Plan,
    /// The registering developer, if any.
    pub developer_id: Option<DeveloperId>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The OAuth2 grants it registered for; `None`: every grant.
    pub grant_types: Option<Vec<String>>,
    client_secret_hash: String,
}

impl App {
    /// Whether the app may use the OAuth2 grant `grant_type`.
    pub fn may_use_grant(&self, grant_type: &str) -> bool {
        self.grant_types
            .as_ref()
            .is_none_or(|grants| grants.iter().any(|grant| grant == grant_type))
    }
}

/// A freshly registered app and its secrets. The secrets exist only here: show them once.
#[derive(Debug)]
pub struct CreatedApp {
    /// The app.
    pub app: App,
    /// The OAuth2 client secret (base64url, 256 bits).
    pub client_secret: String,
    /// The app's first API key (`wk_test_…` or `wk_live_…`), labelled "default".
    pub api_key: IssuedApiKey,
}

/// Registers an app with a new client secret and a first API key, in one transaction.
///
/// `rng` must be a cryptographic generator; in production pass [`secret::os_rng`].
pub async fn create<C>(
    db: &C,
    new: NewApp,
    now: DateTime<Utc>,
    rng: &mut (impl CryptoRng + Send),
) -> Result<CreatedApp>
where
    C: ConnectionTrait + TransactionTrait,
{
    let id = AppId::generate(now, rng);
    let client_secret = secret::random_token(CLIENT_SECRET_BYTES, rng);
    let redirect_uris = serde_json::to_string(&new.redirect_uris)
        .map_err(|err| Error::Corrupt(format!("redirect URIs: {err}")))?;
    let row = apps::Model {
        id: id.to_string(),
        client_id: id.to_string(),
        name: new.name,
        environment: new.environment,
        status: AppStatus::Active,
        redirect_uris,
        scopes: scopes_to_text(&new.scopes),
        token_endpoint_auth_method: new.token_endpoint_auth_method,
        client_secret_hash: secret::sha256_hex(&client_secret),
        jwks: new.jwks,
        plan: new.plan,
        developer_id: new.developer_id.map(String::from),
        created_at: now,
        grant_types: new
            .grant_types
            .map(|grants| serde_json::to_string(&grants))
            .transpose()
            .map_err(|err| Error::Corrupt(format!("grant types: {err}")))?,
    };
    let txn = db.begin().await?;
    Entity::insert(apps::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    let api_key = api_keys::issue(&txn, &id, new.environment, "default", now, rng).await?;
    txn.commit().await?;
    Ok(CreatedApp {
        app: App::try_from(row)?,
        client_secret,
        api_key,
    })
}

/// The app with this id, if any.
pub async fn find(db: &impl ConnectionTrait, id: &AppId) -> Result<Option<App>> {
    Entity::find_by_id(id.as_str())
        .one(db)
        .await?
        .map(App::try_from)
        .transpose()
}

/// The app with this OAuth2 `client_id`, if any.
///
/// Runs on every token request. `client_id` is unique, so the rows are read without `.one()`:
/// its bound `LIMIT ?` makes SQLite re-prepare the statement on every call (measured: about a
/// quarter of the token endpoint's CPU per request).
pub async fn find_by_client_id(db: &impl ConnectionTrait, client_id: &str) -> Result<Option<App>> {
    Entity::find()
        .filter(Column::ClientId.eq(client_id))
        .all(db)
        .await?
        .into_iter()
        .next()
        .map(App::try_from)
        .transpose()
}

/// Whether `secret` is the app's client secret, compared in constant time.
pub fn verify_client_secret(app: &App, secret: &str) -> bool {
    secret::matches_sha256_hex(&app.client_secret_hash, secret)
}

fn scopes_to_text(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl TryFrom<apps::Model> for App {
    type Error = Error;

    fn try_from(row: apps::Model) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("apps.{what} of {}", row.id));
        Ok(Self {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            redirect_uris: serde_json::from_str(&row.redirect_uris)
                .map_err(|_| corrupt("redirect_uris"))?,
            scopes: Scope::parse_list(&row.scopes)
                .map_err(|_| corrupt("scopes"))?
                .into_iter()
                .collect(),
            developer_id: row
                .developer_id
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| corrupt("developer_id"))?,
            grant_types: row
                .grant_types
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("grant_types"))?,
            client_id: row.client_id,
            name: row.name,
            environment: row.environment,
            status: row.status,
            token_endpoint_auth_method: row.token_endpoint_auth_method,
            jwks: row.jwks,
            plan: row.plan,
            created_at: row.created_at,
            client_secret_hash: row.client_secret_hash,
        })
    }
}

/// Every app, oldest first (billing runs over all of them).
pub async fn list_all(db: &impl ConnectionTrait) -> Result<Vec<App>> {
    Entity::find()
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(App::try_from)
        .collect()
}
