//! Decoupled authorisation: OpenID Client-Initiated Backchannel Authentication (CIBA Core 1.0)
//! in poll mode, in the spirit of FAPI-CIBA. The client asks at the backchannel authentication
//! endpoint for the customer named by `login_hint` to authorise one of its consents awaiting
//! authorisation (`consent_id`); the customer decides on their device — in the sandbox, a
//! simulated one (`SandboxService.ApproveDecoupledAuthorization`, which calls
//! [`Identity::approve_backchannel`] or [`Identity::deny_backchannel`]); meanwhile the client
//! polls the token endpoint with the grant [`CIBA_GRANT_TYPE`] and its `auth_req_id`.
//!
//! The `auth_req_id` carries 256 random bits and is stored as its SHA-256 only. A decision is
//! recorded with the consent's transition (through [`wekeza_events::record`]) in one
//! transaction; the tokens are issued once, exactly as for an authorization code (a consent-bound
//! access token, a refresh token, an ID token when `openid` was granted). Polls answer
//! `authorization_pending` while the customer has not decided, `slow_down` when sooner than the
//! request's interval after the previous poll, `access_denied` after a refusal,
//! `expired_token` once the request has expired, and `invalid_grant` for an unknown, another
//! client's, or already redeemed `auth_req_id`.
//!
//! The endpoint does not say whether a `login_hint` names a customer (CIBA Core's
//! `unknown_user_id` would make it a username oracle): a request for an unknown one is
//! accepted like any other and can never be approved; its polls answer `authorization_pending`
//! until it expires.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use wekeza_domain::text::{self, TextKind};
use wekeza_domain::{AccountId, Consent, ConsentStatus, CustomerId};
use wekeza_store::TransactionTrait;
use wekeza_store::apps::App;
use wekeza_store::identity::backchannel_requests::{self, BackchannelRequest, BackchannelStatus};
use wekeza_store::{customers, secret};

use crate::authorization::{check_decision, record, requested_scopes};
use crate::client_auth::require_grant;
use crate::form::Form;
use crate::grants::{ConsentGrant, Redeem, TokenSet};
use crate::issuer::BACKCHANNEL_AUTHENTICATION_PATH;
use crate::throttle::Source;
use crate::tokens::scope_text;
use crate::{Error, Identity};

/// The grant type of the token endpoint's CIBA polls.
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// How long a request lives when the client names no `requested_expiry`.
pub const BACKCHANNEL_DEFAULT_EXPIRY: Duration = Duration::seconds(120);
/// The longest `requested_expiry` accepted.
pub const BACKCHANNEL_MAX_EXPIRY: Duration = Duration::seconds(600);
/// The least number of seconds between two polls of the token endpoint.
pub const BACKCHANNEL_POLL_INTERVAL: Duration = Duration::seconds(5);
/// Bytes of randomness in an `auth_req_id` (256 bits; CIBA Core §7.3 asks for at least 128).
const AUTH_REQ_ID_BYTES: usize = 32;
/// The longest `binding_message` accepted (it has to fit a phone's notification).
const BINDING_MESSAGE_MAX_CHARS: usize = 100;

/// The SHA-256 an `auth_req_id` is stored under.
fn auth_req_id_hash(auth_req_id: &str) -> String {
    secret::sha256_hex(auth_req_id)
}

impl Identity {
    /// `POST /oauth2/bc-authorize`: checks and stores the request; answers `auth_req_id`,
    /// `expires_in` and `interval`.
    pub(crate) async fn backchannel_authenticate(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        source: Source,
        now: DateTime<Utc>,
    ) -> Result<Value, Error> {
        let form = Form::parse(headers, body)?;
        let endpoint = self.issuer().url(BACKCHANNEL_AUTHENTICATION_PATH);
        let app = self
            .authenticate_client(headers, &form, &endpoint, source, now)
            .await?;
        require_grant(&app, CIBA_GRANT_TYPE)?;
        if form.get("login_hint_token").is_some() || form.get("id_token_hint").is_some() {
            return Err(Error::InvalidRequest(
                "only login_hint is supported to name the customer".into(),
            ));
        }
        if form.get("user_code").is_some() {
            return Err(Error::InvalidRequest("user_code is not supported".into()));
        }
        let consent = self
            .awaiting_consent(&app, form.require("consent_id")?, now)
            .await?;
        let scopes = requested_scopes(&app, Some(consent.kind()), form.get("scope"))?;
        let expiry = match form.get("requested_expiry") {
            None => BACKCHANNEL_DEFAULT_EXPIRY,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .map(Duration::seconds)
                .filter(|expiry| *expiry > Duration::zero() && *expiry <= BACKCHANNEL_MAX_EXPIRY)
                .ok_or_else(|| {
                    Error::InvalidParameter(
                        "requested_expiry",
                        format!(
                            "must be a number of seconds from 1 to {}",
                            BACKCHANNEL_MAX_EXPIRY.num_seconds()
                        ),
                    )
                })?,
        };
        // Shown on the customer's device: no bidirectional formatting either.
        let binding_message = form
            .get("binding_message")
            .map(|message| text::clean(message, TextKind::Displayed))
            .transpose()
            .map_err(|error| Error::InvalidParameter("binding_message", error.to_string()))?;
        if binding_message
            .as_ref()
            .is_some_and(|text| text.chars().count() > BINDING_MESSAGE_MAX_CHARS)
        {
            return Err(Error::InvalidParameter(
                "binding_message",
                format!("is longer than {BINDING_MESSAGE_MAX_CHARS} characters"),
            ));
        }
        let login_hint = form.require("login_hint")?;
        // An unknown login_hint is answered as a known one, so the endpoint is no oracle for
        // usernames: the request names a customer id nobody has, which no device can approve
        // (the decision must come from the customer it names), so it only ever expires.
        let customer_id = match customers::find_by_username(&self.inner.db, login_hint).await? {
            Some(customer) => customer.id,
            None => CustomerId::new_random(now).to_string(),
        };
        let auth_req_id = secret::random_token(AUTH_REQ_ID_BYTES, &mut secret::os_rng());
        let interval = i32::try_from(BACKCHANNEL_POLL_INTERVAL.num_seconds())
            .map_err(|_| Error::Config("the CIBA poll interval does not fit".into()))?;
        let row = BackchannelRequest {
            auth_req_id_hash: auth_req_id_hash(&auth_req_id),
            client_id: app.client_id.clone(),
            consent_id: consent.id.to_string(),
            customer_id,
            account_ids: None,
            scope: scope_text(&scopes),
            binding_message,
            status: BackchannelStatus::Pending,
            created_at: now,
            expires_at: now + expiry,
            interval_seconds: interval,
            last_poll_at: None,
            decided_at: None,
            redeemed_at: None,
        };
        backchannel_requests::insert(&self.inner.db, row).await?;
        tracing::info!(
            client_id = %app.client_id,
            consent_id = %consent.id,
            "backchannel authentication request accepted"
        );
        Ok(json!({
            "auth_req_id": auth_req_id,
            "expires_in": expiry.num_seconds(),
            "interval": interval,
        }))
    }

    /// The backchannel request `auth_req_id` if it is `app`'s; `None` otherwise (unknown or
    /// another client's, alike).
    pub async fn find_backchannel(
        &self,
        app: &App,
        auth_req_id: &str,
    ) -> Result<Option<BackchannelRequest>, Error> {
        Ok(
            backchannel_requests::find(&self.inner.db, &auth_req_id_hash(auth_req_id))
                .await?
                .filter(|row| row.client_id == app.client_id),
        )
    }

    /// Records that the customer approved the backchannel request `auth_req_id` on their
    /// device: `before` — now `after`, made by [`Consent::authorise`] — with the request, in
    /// one transaction. [`Error::ConsentChanged`] if the consent or the request changed
    /// meanwhile (decided, expired); nothing is written then.
    pub async fn approve_backchannel(
        &self,
        app: &App,
        auth_req_id: &str,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        check_decision(app, before, after, ConsentStatus::Authorised)?;
        let accounts: Vec<&str> = after.account_ids.iter().map(AccountId::as_str).collect();
        let accounts = serde_json::to_string(&accounts)
            .map_err(|error| Error::Key(format!("encoding account ids: {error}")))?;
        self.decide_backchannel(
            app,
            auth_req_id,
            (before, after),
            BackchannelStatus::Approved,
            Some(accounts),
            now,
        )
        .await?;
        tracing::info!(consent_id = %after.id, client_id = %app.client_id, "consent authorised on the decoupled device");
        Ok(())
    }

    /// Records that the customer denied the backchannel request `auth_req_id` on their device:
    /// `before` — now `after`, made by [`Consent::reject`] — with the request, in one
    /// transaction ([`Error::ConsentChanged`] as for [`Identity::approve_backchannel`]).
    pub async fn deny_backchannel(
        &self,
        app: &App,
        auth_req_id: &str,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        check_decision(app, before, after, ConsentStatus::Rejected)?;
        self.decide_backchannel(
            app,
            auth_req_id,
            (before, after),
            BackchannelStatus::Denied,
            None,
            now,
        )
        .await?;
        tracing::info!(consent_id = %after.id, client_id = %app.client_id, "consent rejected on the decoupled device");
        Ok(())
    }

    async fn decide_backchannel(
        &self,
        app: &App,
        auth_req_id: &str,
        (before, after): (&Consent, &Consent),
        status: BackchannelStatus,
        account_ids: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let hash = auth_req_id_hash(auth_req_id);
        let request = backchannel_requests::find(&self.inner.db, &hash)
            .await?
            .filter(|row| row.client_id == app.client_id)
            .ok_or_else(|| Error::InvalidRequest("the auth_req_id is invalid".into()))?;
        let customer = after.customer_id.as_ref().map(|id| id.as_str());
        if request.consent_id != before.id.to_string()
            || customer.is_some_and(|customer| customer != request.customer_id)
        {
            return Err(Error::InvalidRequest(
                "the decision does not match the request's consent or customer".into(),
            ));
        }
        let txn = self
            .inner
            .db
            .begin()
            .await
            .map_err(wekeza_store::Error::from)?;
        if !backchannel_requests::decide(&txn, &hash, status, account_ids, now).await? {
            return Err(Error::ConsentChanged);
        }
        record(&txn, app, before, after, now).await?;
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        Ok(())
    }

    /// The CIBA grant for the authenticated `app`: one poll with `auth_req_id`.
    pub(crate) async fn redeem_backchannel(
        &self,
        app: &App,
        form: &Form,
        jkt: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, Error> {
        let hash = auth_req_id_hash(form.require("auth_req_id")?);
        let row = backchannel_requests::find(&self.inner.db, &hash)
            .await?
            .filter(|row| row.client_id == app.client_id)
            .ok_or_else(|| Error::InvalidGrant("the auth_req_id is invalid".into()))?;
        match row.status {
            BackchannelStatus::Redeemed => {
                return Err(Error::InvalidGrant(
                    "the auth_req_id was already used".into(),
                ));
            }
            BackchannelStatus::Denied => return Err(Error::AccessDenied),
            _ if now >= row.expires_at => return Err(Error::ExpiredToken),
            BackchannelStatus::Pending => {
                let interval = Duration::seconds(i64::from(row.interval_seconds));
                let too_soon = row.last_poll_at.is_some_and(|last| now < last + interval);
                backchannel_requests::record_poll(&self.inner.db, &hash, now).await?;
                return Err(if too_soon {
                    Error::SlowDown
                } else {
                    Error::AuthorizationPending
                });
            }
            BackchannelStatus::Approved => {}
        }
        let consent = self
            .bound_consent(&app.id, &row.consent_id, &row.customer_id, now)
            .await?
            .map_err(|why| Error::InvalidGrant(why.into()))?;
        let grant = ConsentGrant {
            consent_id: &row.consent_id,
            customer_id: &row.customer_id,
            scope: &row.scope,
            auth_time: row.decided_at.unwrap_or(row.created_at),
            nonce: None,
            step_up: false,
        };
        let tokens = self
            .issue_consent_tokens(app, &consent, &grant, Redeem::Backchannel(&hash), jkt, now)
            .await?
            .ok_or_else(|| Error::InvalidGrant("the auth_req_id was already used".into()))?;
        tracing::info!(
            client_id = %app.client_id,
            consent_id = %row.consent_id,
            token_type = tokens.access.claims.token_type(),
            "backchannel authentication redeemed"
        );
        Ok(tokens)
    }
}
