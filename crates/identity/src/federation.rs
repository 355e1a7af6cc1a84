//! Federated sign-in: with an upstream OpenID provider configured (the bank's Keycloak, Azure AD
//! B2C — or another Wekeza), customers sign in there instead of on our password and one-time
//! password pages; the consent screen stays ours.
//!
//! We are the provider's relying party through the `openidconnect` crate: discovery (cached
//! until an ID token fails to verify, then fetched again, so a key rotation upstream heals
//! itself), an authorization-code request with PKCE S256, a nonce and `prompt=login` (each
//! authorisation is a fresh authentication there, never a remembered session) — pushed first
//! (RFC 9126) when the provider announces a PAR endpoint, as FAPI 2.0 providers require — the code
//! exchanged with the client secret (`client_secret_basic`), and the ID token validated:
//! signature against the provider's JWKS with the algorithms it announces, issuer, audience,
//! expiry (by our clock), nonce. An `iss` in the authorization response must be the provider's
//! (RFC 9207, mix-up defence). The customer is the one whose [`CustomerField`] equals the ID
//! token's configured claim (`sub` by default); the provider is trusted with strong customer
//! authentication.
//!
//! Nothing of the exchange is stored: `state`, the PKCE verifier and the nonce are derived from
//! the browser's session cookie (SHA-256 under distinct labels), of which the database
//! keeps only a hash — so only the browser that started a sign-in can finish it, and a leaked
//! database row cannot. The outbound client follows no redirects (SSRF) and gives up after
//! [`UPSTREAM_TIMEOUT`].

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;
use wekeza_store::secret;

use crate::form;

/// How long a call to the upstream provider may take.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Which field of our customers the upstream claim is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerField {
    /// The customer id (`cus_…`): the upstream is told our ids (or is another Wekeza).
    #[default]
    Id,
    /// The sign-in username.
    Username,
}

/// The upstream provider, as configured.
#[derive(Clone)]
pub struct UpstreamSettings {
    /// Its issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there.
    pub client_secret: String,
    /// The ID token claim naming the customer (`sub`, `preferred_username`, a custom claim…).
    pub claim: String,
    /// The field of ours the claim's value is compared with.
    pub customer_field: CustomerField,
}

impl std::fmt::Debug for UpstreamSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("claim", &self.claim)
            .field("customer_field", &self.customer_field)
            .finish()
    }
}

/// Why a federated sign-in could not go on. The message is for the log (no secret in it); the
/// customer sees a generic page.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The provider could not be reached, or answered what we cannot use.
    #[error("upstream provider: {0}")]
    Provider(String),
    /// The answer that came back to us does not belong to this sign-in.
    #[error("upstream answer refused: {0}")]
    Refused(String),
}

/// The provider metadata we read: the standard set plus the PAR endpoint.
type Metadata = ProviderMetadata<
    ParEndpoint,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The provider's `pushed_authorization_request_endpoint`, if it announces one.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct ParEndpoint {
    pushed_authorization_request_endpoint: Option<String>,
}

impl AdditionalProviderMetadata for ParEndpoint {}

/// A relying-party client of the discovered provider.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The discovered provider.
struct Provider {
    client: Client,
    authorization_endpoint: String,
    par_endpoint: Option<String>,
}

/// The relying party of the upstream provider.
pub(crate) struct Upstream {
    settings: UpstreamSettings,
    /// Where the provider sends the customer back (our callback).
    redirect_uri: String,
    http: openidconnect::reqwest::Client,
    provider: Mutex<Option<Arc<Provider>>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("settings", &self.settings)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The per-sign-in values, derived from the session cookie.
struct Derived {
    state: String,
    verifier: String,
    nonce: String,
}

impl Derived {
    /// SHA-256 of a distinct label and the 256-bit session secret: one-way, so none of the
    /// three (each seen by the provider at some point) reveals the secret or the others.
    fn from_session(session_secret: &str) -> Self {
        let derive = |label: &str| secret::sha256_hex(&format!("{label}\0{session_secret}"));
        Self {
            state: derive("wekeza upstream state"),
            verifier: derive("wekeza upstream pkce verifier"),
            nonce: derive("wekeza upstream nonce"),
        }
    }
}

/// What the provider said about the customer.
#[derive(Debug)]
pub(crate) struct UpstreamIdentity {
    /// The configured claim's value.
    pub(crate) value: String,
    /// The field of ours to find the customer by.
    pub(crate) field: CustomerField,
}

impl Upstream {
    /// A relying party for `settings`, called back at `redirect_uri`.
    pub(crate) fn new(
        settings: UpstreamSettings,
        redirect_uri: String,
    ) -> Result<Self, FederationError> {
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(UPSTREAM_TIMEOUT)
            .build()
            .map_err(|error| FederationError::Provider(format!("HTTP client: {error}")))?;
        Ok(Self {
            settings,
            redirect_uri,
            http,
            provider: Mutex::new(None),
        })
    }

    /// The discovered provider (discovering it on first use, or after [`Self::forget`]).
    async fn provider(&self) -> Result<Arc<Provider>, FederationError> {
        let mut cached = self.provider.lock().await;
        if let Some(provider) = cached.as_ref() {
            return Ok(provider.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|error| FederationError::Provider(format!("issuer URL: {error}")))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|error| FederationError::Provider(format!("discovery: {error}")))?;
        let authorization_endpoint = metadata.authorization_endpoint().to_string();
        let par_endpoint = metadata
            .additional_metadata()
            .pushed_authorization_request_endpoint
            .clone();
        let redirect_uri = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|error| FederationError::Provider(format!("redirect URI: {error}")))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect_uri);
        let provider = Arc::new(Provider {
            client,
            authorization_endpoint,
            par_endpoint,
        });
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Drops the discovered metadata, so the next sign-in discovers it (and its keys) again.
    async fn forget(&self) {
        *self.provider.lock().await = None;
    }

    /// Where to send the browser of the session whose cookie is `session_secret`: the
    /// provider's authorization endpoint, with a pushed request when it takes them.
    pub(crate) async fn begin(&self, session_secret: &str) -> Result<String, FederationError> {
        let provider = self.provider().await?;
        let derived = Derived::from_session(session_secret);
        let verifier = PkceCodeVerifier::new(derived.verifier);
        let (url, _, _) = provider
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new(derived.state),
                || Nonce::new(derived.nonce),
            )
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            // Every authorisation is a fresh strong authentication, never a remembered session.
            .add_prompt(CoreAuthPrompt::Login)
            .url();
        let Some(par_endpoint) = &provider.par_endpoint else {
            return Ok(url.to_string());
        };
        let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let response = self
            .http
            .post(par_endpoint)
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .form(&params)
            .send()
            .await
            .map_err(|error| FederationError::Provider(format!("PAR: {error}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| FederationError::Provider(format!("PAR answer: {error}")))?;
        let Some(request_uri) = body["request_uri"].as_str().filter(|_| status.is_success()) else {
            return Err(FederationError::Provider(format!(
                "PAR refused ({status}): {}",
                body["error"].as_str().unwrap_or("no error code")
            )));
        };
        Ok(form::with_query(
            &provider.authorization_endpoint,
            &[
                ("client_id", &self.settings.client_id),
                ("request_uri", request_uri),
            ],
        ))
    }

    /// Whether `state` is the one the session whose cookie is `session_secret` sent out.
    pub(crate) fn owns_state(&self, session_secret: &str, state: &str) -> bool {
        let derived = Derived::from_session(session_secret);
        bool::from(state.as_bytes().ct_eq(derived.state.as_bytes()))
    }

    /// Finishes the sign-in of the session whose cookie is `session_secret` with the provider's
    /// answer `code`, `state` and `iss`: redeems the code, validates the ID token at `now`, and
    /// answers the configured claim.
    pub(crate) async fn finish(
        &self,
        session_secret: &str,
        code: &str,
        state: &str,
        iss: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<UpstreamIdentity, FederationError> {
        if !self.owns_state(session_secret, state) {
            return Err(FederationError::Refused(
                "state does not belong to this session".into(),
            ));
        }
        let derived = Derived::from_session(session_secret);
        if iss.is_some_and(|iss| iss != self.settings.issuer.trim_end_matches('/')) {
            return Err(FederationError::Refused(
                "iss names another provider".into(),
            ));
        }
        let provider = self.provider().await?;
        let tokens = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| FederationError::Provider(format!("token endpoint: {error}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(derived.verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| FederationError::Provider(format!("code exchange: {error}")))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| FederationError::Provider("no ID token in the answer".into()))?;
        let verifier = provider.client.id_token_verifier().set_time_fn(move || now);
        let nonce = Nonce::new(derived.nonce);
        if let Err(error) = id_token.claims(&verifier, &nonce) {
            // Perhaps the provider rotated its keys: discover again next time.
            self.forget().await;
            return Err(FederationError::Refused(format!("ID token: {error}")));
        }
        // Verified: read the configured claim from its payload, standard or not.
        let claims = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
            .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
            .ok_or_else(|| FederationError::Refused("ID token payload unreadable".into()))?;
        let value = claims
            .get(&self.settings.claim)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                FederationError::Refused(format!(
                    "the ID token has no string claim {}",
                    self.settings.claim
                ))
            })?;
        Ok(UpstreamIdentity {
            value: value.to_owned(),
            field: self.settings.customer_field,
        })
    }
}
