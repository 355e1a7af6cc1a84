//! The platform's OAuth2 authorization server, and the verifier of the access tokens it issues.
//!
//! Owns the token-signing keys (ES256, persisted, rotated with overlap) and what is published
//! about them (JWKS, discovery), the authorisation step of consents (the customer's decision,
//! and the authorization code it yields), the token endpoint (client credentials; authorization
//! code with PKCE S256 through pushed authorization requests and the customer's sign-in pages; CIBA
//! poll mode, the customer deciding on a decoupled device
//! (password, TOTP second factor, consent screen); rotating refresh tokens; client authentication by `private_key_jwt`, or
//! by client secret for sandbox apps; DPoP-bound tokens, RFC 9449), introspection (RFC 7662)
//! and revocation (RFC 7009), the UserInfo endpoint (OpenID Connect Core §5.3), dynamic client
//! registration gated by operators' initial access tokens (RFC 7591) — and [`TokenVerifier`],
//! the gateway's production authenticator, which turns those tokens back into a
//! [`Principal`](wekeza_domain::Principal) on every API call, REST and gRPC alike, consent-bound
//! tokens with their consent as it stands now.
//!
//! Depends on `domain`, `store` (apps, consents, and the identity tables), the gateway's
//! authentication seam, `rpc`'s error type, and of the consent service only its `lifecycle`
//! module — the one writer of consent changes, which the authorisation step must go through.
//! Time comes from the injected [`Clock`]: no check here reads the wall clock. No secret, code,
//! key or token reaches a log line.
//!
//! # Layout
//! - [`issuer`] — the issuer URL, the endpoint paths, URL normalisation for DPoP.
//! - `keys` — the signing keys: creation, rotation, reload, JWKS.
//! - [`authorization`] — the customer's decision on a consent, and authorization codes;
//!   `pkce` — RFC 7636 S256.
//! - `tokens` — access tokens: claims, signing, verification, revocation.
//! - `grants` — the authorization-code and refresh-token grants, token families, ID tokens.
//! - `par` — pushed authorization requests (RFC 9126).
//! - [`ciba`] — decoupled authorisation (OpenID CIBA, poll mode): the backchannel
//!   authentication endpoint, the device's decision, the token endpoint's CIBA grant.
//! - `signin` — the authorization endpoint and the customer's browser session: sign-in,
//!   second factor, consent screen, failed attempts, CSRF; `pages` — their HTML (askama templates).
//! - [`totp`] — RFC 6238 one-time passwords (the second factor of test users).
//! - [`federation`] — sign-in delegated to an upstream OpenID provider (relying party).
//! - `client_auth` — client authentication at the endpoints.
//! - `throttle` — slowing credential guessing, by source address and by account at source.
//! - `registration` — dynamic client registration (RFC 7591).
//! - `userinfo` — the UserInfo endpoint: claims about a token's customer.
//! - `dpop` — DPoP proof checks (RFC 9449 §4.3).
//! - `replay` — single-use `jti`s and the purge of expired rows.
//! - `endpoints` — the HTTP routes; `form` — form bodies and queries; `jwt` — JOSE helpers.
//! - [`verifier`] — [`TokenVerifier`]; [`challenge`] — `WWW-Authenticate` on refused calls.
//! - [`error`] — [`Error`], the OAuth2 error codes.
//! - `audit` — the audit records of tokens issued, refreshed, introspected and revoked (ids
//!   only), handed to the platform's [`AuditSink`](wekeza_domain::AuditSink).
//! - `testing` (feature `testing`) — `ClientKey`, a client's key for tests.

mod audit;
pub mod authorization;
pub mod challenge;
pub mod ciba;
mod client_auth;
mod dpop;
mod endpoints;
pub mod error;
pub mod federation;
mod form;
mod grants;
pub mod issuer;
mod jwt;
mod keys;
mod pages;
mod par;
mod pkce;
mod registration;
mod replay;
mod signin;
mod throttle;
mod tokens;
pub mod totp;
mod userinfo;
pub mod verifier;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use wekeza_domain::{AuditSink, Clock};
use wekeza_store::DatabaseConnection;

pub use authorization::{
    AuthorizationParams, AuthorizationRequest, CODE_TTL, IssuedCode, redirect_uri,
};
pub use ciba::CIBA_GRANT_TYPE;
pub use client_auth::ASSERTION_TYPE;
pub use dpop::DPOP_HEADER;
pub use error::Error;
pub use grants::REFRESH_TOKEN_TTL;
pub use issuer::Issuer;
pub use keys::{KeyEncryptionKey, RETIRED_KEY_PUBLISHED_FOR, ROTATION_PERIOD, rotate_signing_key};
pub use pkce::S256;
pub use tokens::ACCESS_TOKEN_TTL;
pub use verifier::TokenVerifier;

/// What the authorization server is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `iss` of every token, and the public base URL.
    pub issuer: Issuer,
    /// Seals the private signing keys at rest; `None` stores them in the clear.
    pub key_encryption_key: Option<KeyEncryptionKey>,
    /// The OpenID provider customers sign in at instead of our pages, if any.
    pub upstream: Option<federation::UpstreamSettings>,
    /// Where tokens issued, refreshed, introspected and revoked are recorded.
    pub audit: Arc<dyn AuditSink>,
}

/// The authorization server: cheap to clone, all clones share one state.
#[derive(Debug, Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Apps, consents, keys, codes, refresh tokens, revocations and used ids.
    db: DatabaseConnection,
    /// Every time check reads this clock.
    clock: Arc<dyn Clock>,
    /// `iss` of every token, and the public base URL.
    issuer: Issuer,
    /// The signing keys.
    keys: keys::KeyRing,
    /// Single-use ids.
    replays: replay::Replays,
    /// The upstream provider of federated sign-in, if configured.
    upstream: Option<federation::Upstream>,
    /// Failed authentications, by source and by account at source.
    throttle: throttle::Throttle,
    /// The audit trail of tokens.
    audit: Arc<dyn AuditSink>,
}

impl Identity {
    /// Loads the signing keys (creating the first one on a fresh database, or a replacement
    /// for one past its rotation period) and serves as `settings.issuer`.
    pub async fn start(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<Self, Error> {
        let Settings {
            issuer,
            key_encryption_key,
            upstream,
            audit,
        } = settings;
        let upstream = upstream
            .map(|upstream| {
                federation::Upstream::new(upstream, issuer.url(issuer::UPSTREAM_CALLBACK_PATH))
            })
            .transpose()
            .map_err(|error| Error::Config(error.to_string()))?;
        let keys = keys::KeyRing::load(db.clone(), key_encryption_key, clock.now()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                replays: replay::Replays::new(db.clone()),
                db,
                clock,
                issuer,
                keys,
                upstream,
                throttle: throttle::Throttle::default(),
                audit,
            }),
        })
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// The authenticator the gateway runs on every request.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(self.clone())
    }

    /// The routes of discovery, JWKS, PAR, token, introspection, revocation, userinfo and client
    /// registration, and the customer's pages (authorization endpoint, sign-in, second factor, consent screen), which
    /// list the customer's accounts from `core`.
    pub fn router(&self, core: std::sync::Arc<dyn wekeza_ledger::CoreBanking>) -> axum::Router {
        endpoints::router(self.clone()).merge(signin::router(self.clone(), core))
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
