//! The sandbox's port to the authorization server: what the shortcuts need of it to stand in
//! for a customer — check an authorization request as PAR would, record a decision on a consent
//! with its code (or a decoupled CIBA request's decision), and read the current one-time code of
//! a test user.
//!
//! The sandbox declares the port and the server's wiring implements it over the identity crate,
//! so this service crate depends on no other service or infrastructure crate: the decision is
//! still recorded by identity's own authorisation step, with its event, in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wekeza_domain::{Consent, ConsentKind};
use wekeza_rpc::Internal;
use wekeza_store::apps::App;
use wekeza_store::identity::backchannel_requests::BackchannelRequest;

/// The parameters of an authorization request, as the app sent them (empty = absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestParams<'a> {
    /// `redirect_uri`: one of the app's registered URIs; optional when it has exactly one.
    pub redirect_uri: Option<&'a str>,
    /// `code_challenge` (PKCE).
    pub code_challenge: Option<&'a str>,
    /// `code_challenge_method`: `S256` (the default).
    pub code_challenge_method: Option<&'a str>,
    /// `scope`, space-separated.
    pub scope: Option<&'a str>,
    /// `nonce`, copied into the ID token.
    pub nonce: Option<&'a str>,
}

/// Why the authorization server refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A request parameter is wrong: `(parameter, what is wrong)`.
    #[error("{0}: {1}")]
    InvalidParameter(&'static str, String),
    /// The consent changed while the decision was being recorded.
    #[error("the consent changed while the decision was recorded")]
    ConsentChanged,
    /// The authorization server failed.
    #[error(transparent)]
    Internal(#[from] Internal),
}

/// What the sandbox asks of the authorization server.
#[async_trait]
pub trait Authority: Send + Sync + std::fmt::Debug {
    /// The issuer identifier the authorization responses name (`iss`).
    fn issuer(&self) -> String;

    /// Checks an authorization request of `app` for a consent of `kind` as PAR would; answers
    /// the redirect URI the response goes to.
    fn check_request(
        &self,
        app: &App,
        kind: ConsentKind,
        params: RequestParams<'_>,
    ) -> Result<String, AuthorityError>;

    /// The redirect URI a denial answers to: `given` if it is registered, else the app's only
    /// one, else none.
    fn denial_redirect(
        &self,
        app: &App,
        given: Option<&str>,
    ) -> Result<Option<String>, AuthorityError>;

    /// Records `before` → `after` (authorised) with its event and issues the authorization code
    /// for the request `params` describe.
    async fn authorise(
        &self,
        app: &App,
        before: &Consent,
        after: &Consent,
        params: RequestParams<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, AuthorityError>;

    /// Records `before` → `after` (rejected) with its event.
    async fn reject(
        &self,
        app: &App,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), AuthorityError>;

    /// `app`'s decoupled (CIBA) request `auth_req_id`, if it has one.
    async fn decoupled_request(
        &self,
        app: &App,
        auth_req_id: &str,
    ) -> Result<Option<BackchannelRequest>, AuthorityError>;

    /// Records the customer's decision on a decoupled request: `before` → `after`, authorised
    /// (approved) or rejected (denied), with its event.
    async fn decide_decoupled(
        &self,
        app: &App,
        auth_req_id: &str,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), AuthorityError>;

    /// The one-time code a test user's authenticator shows at `now`.
    fn current_otp(&self, totp_secret: &str, now: DateTime<Utc>) -> Result<String, AuthorityError>;
}
