//! Pushed authorization requests (RFC 9126): the client sends the whole authorization request
//! to the server, authenticated, over the back channel, and gets a `request_uri` to send the
//! customer's browser to the authorization endpoint with. FAPI 2.0 makes PAR the only way in:
//! the authorization endpoint accepts nothing else.
//!
//! The request names the consent to decide by `consent_id` (one of the client's consents
//! awaiting authorisation), besides the usual `response_type=code`, `redirect_uri`,
//! `code_challenge` (+ `code_challenge_method=S256`), `scope`, `state` and `nonce`. Without a
//! `consent_id` the request can only sign the customer in: its scope is `openid` alone (an
//! OpenID Connect relying party — e.g. another Wekeza federating its sign-in here). With
//! `acr_values=urn:wekeza:acr:step-up` the request is a step-up: `consent_id` names an
//! *authorised* payment consent whose payment the fraud checks challenged
//! (`STEP_UP_REQUIRED`), and the customer who authorised it signs in again. The
//! `request_uri` is single use and lives [`REQUEST_URI_TTL`].

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use wekeza_domain::{Consent, ConsentId, ConsentKind, ConsentStatus, STEP_UP_ACR};
use wekeza_store::apps::App;
use wekeza_store::consents;
use wekeza_store::identity::authorization_requests::{self, AuthorizationRequest as Stored};
use wekeza_store::secret;

use crate::authorization::{AuthorizationParams, AuthorizationRequest};
use crate::client_auth::require_grant;
use crate::form::Form;
use crate::issuer::PAR_PATH;
use crate::throttle::Source;
use crate::tokens::scope_text;
use crate::{Error, Identity};

/// How long a `request_uri` can be used (RFC 9126 suggests short; FAPI 2.0: under 600 s).
pub const REQUEST_URI_TTL: Duration = Duration::seconds(90);
/// The prefix of every `request_uri` (RFC 9126 §2.2).
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Bytes of randomness in a `request_uri` (256 bits).
const REQUEST_URI_BYTES: usize = 32;

/// The SHA-256 a `request_uri` is stored under.
pub(crate) fn request_uri_hash(request_uri: &str) -> String {
    secret::sha256_hex(request_uri)
}

impl Identity {
    /// `POST /oauth2/par`: checks and stores the request; answers `request_uri` and
    /// `expires_in`.
    pub(crate) async fn push_authorization_request(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        source: Source,
        now: DateTime<Utc>,
    ) -> Result<Value, Error> {
        let form = Form::parse(headers, body)?;
        if form.get("request_uri").is_some() {
            return Err(Error::InvalidRequest(
                "request_uri cannot be pushed (RFC 9126 §2.1)".into(),
            ));
        }
        let endpoint = self.issuer().url(PAR_PATH);
        let app = self
            .authenticate_client(headers, &form, &endpoint, source, now)
            .await?;
        require_grant(&app, "authorization_code")?;
        if form.require("response_type")? != "code" {
            return Err(Error::InvalidParameter(
                "response_type",
                "must be code".into(),
            ));
        }
        let step_up = match form.get("acr_values") {
            None => false,
            Some(STEP_UP_ACR) => true,
            Some(_) => {
                return Err(Error::InvalidParameter(
                    "acr_values",
                    format!("the only supported value is {STEP_UP_ACR}"),
                ));
            }
        };
        let consent = match (form.get("consent_id"), step_up) {
            (Some(consent_id), false) => Some(self.awaiting_consent(&app, consent_id, now).await?),
            (Some(consent_id), true) => Some(self.step_up_consent(&app, consent_id, now).await?),
            (None, false) => None,
            (None, true) => {
                return Err(Error::InvalidParameter(
                    "consent_id",
                    "a step-up names the payment consent it confirms".into(),
                ));
            }
        };
        let params = AuthorizationParams {
            redirect_uri: form.get("redirect_uri"),
            code_challenge: form.get("code_challenge"),
            code_challenge_method: form.get("code_challenge_method"),
            scope: form.get("scope"),
            nonce: form.get("nonce"),
        };
        let mut request =
            AuthorizationRequest::check(&app, consent.as_ref().map(Consent::kind), params)?;
        if step_up {
            request.acr = Some(STEP_UP_ACR.to_owned());
        }
        let request_uri = format!(
            "{REQUEST_URI_PREFIX}{}",
            secret::random_token(REQUEST_URI_BYTES, &mut secret::os_rng())
        );
        let row = Stored {
            request_uri_hash: request_uri_hash(&request_uri),
            client_id: app.client_id.clone(),
            consent_id: consent.as_ref().map(|consent| consent.id.to_string()),
            redirect_uri: request.redirect_uri,
            code_challenge: request.code_challenge,
            scope: scope_text(&request.scopes),
            state: form.get("state").map(str::to_owned),
            nonce: request.nonce,
            created_at: now,
            expires_at: now + REQUEST_URI_TTL,
            session_hash: None,
            session_expires_at: None,
            csrf_hash: None,
            stage: None,
            customer_id: None,
            failed_attempts: 0,
            acr: request.acr,
        };
        authorization_requests::insert(&self.inner.db, row).await?;
        tracing::info!(
            client_id = %app.client_id,
            consent_id = consent.as_ref().map(|consent| consent.id.as_str()),
            "authorization request pushed"
        );
        Ok(json!({
            "request_uri": request_uri,
            "expires_in": REQUEST_URI_TTL.num_seconds(),
        }))
    }

    /// The payment consent `consent_id` of `app`, authorised at `now`, for a step-up;
    /// `invalid_request` about `consent_id` otherwise.
    async fn step_up_consent(
        &self,
        app: &App,
        consent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent, Error> {
        self.client_consent(
            app,
            consent_id,
            |consent| {
                consent.kind() == ConsentKind::Payment
                    && consent.status_at(now) == ConsentStatus::Authorised
            },
            "a step-up names an authorised payment consent of this client",
        )
        .await
    }

    /// The consent `consent_id` of `app`, awaiting authorisation at `now`; `invalid_request`
    /// about `consent_id` otherwise (unknown, another client's, or already decided alike).
    pub(crate) async fn awaiting_consent(
        &self,
        app: &App,
        consent_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Consent, Error> {
        self.client_consent(
            app,
            consent_id,
            |consent| consent.status_at(now) == ConsentStatus::AwaitingAuthorisation,
            "names no consent of this client awaiting authorisation",
        )
        .await
    }

    /// The consent `consent_id` of `app` if `wanted` says so; `invalid_request` about
    /// `consent_id` saying `refusal` otherwise (unknown and other clients' consents alike).
    async fn client_consent(
        &self,
        app: &App,
        consent_id: &str,
        wanted: impl Fn(&Consent) -> bool,
        refusal: &'static str,
    ) -> Result<Consent, Error> {
        let refused = || Error::InvalidParameter("consent_id", refusal.into());
        let consent_id: ConsentId = consent_id.parse().map_err(|_| refused())?;
        consents::find(&self.inner.db, &consent_id)
            .await?
            .filter(|consent| consent.app_id == app.id && wanted(consent))
            .ok_or_else(refused)
    }
}
