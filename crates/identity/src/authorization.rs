//! The authorisation step: a customer's decision on a consent, written with its event through
//! [`wekeza_events::record`] (the one writer of consent changes), and — when the customer
//! authorised — the authorization code that lets the app get tokens bound to the consent, in
//! the same transaction: a consent is never authorised without its code, nor a code issued for
//! a consent that is not.
//!
//! Whoever stands for the customer (the sandbox shortcut, the consent screen) checks the
//! customer and the chosen accounts, makes the domain transition ([`Consent::authorise`],
//! [`Consent::reject`]) and hands both states here; CIBA's decoupled decision
//! ([`crate::ciba`]) records its transition the same way, with the backchannel request instead
//! of a code.
//!
//! A request for `openid` alone names no consent: it only signs the customer in (another bank
//! system, or a federating Wekeza, as relying party), and its code — issued by
//! [`Identity::issue_sign_in_code`] once the customer passed both factors — yields an ID token
//! and an access token good for nothing but the customer's identity.
//!
//! Codes (RFC 6749 §4.1.2, FAPI 2.0): 256 random bits, stored as their SHA-256, single use,
//! valid [`CODE_TTL`], bound to the client, the redirect URI, the PKCE S256 challenge, the
//! consent (if any), its customer and accounts, and the granted scopes.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use wekeza_domain::text::{self, TextKind};
use wekeza_domain::{AccountId, Consent, ConsentKind, ConsentStatus, CustomerId, Scope};
use wekeza_events::record::{self, StatusWrite};
use wekeza_store::TransactionTrait;
use wekeza_store::apps::App;
use wekeza_store::identity::authorization_codes::{self, AuthorizationCode};
use wekeza_store::secret;

use crate::tokens::scope_text;
use crate::{Error, Identity, pkce};

/// How long an authorization code can be redeemed (FAPI 2.0: at most a minute).
pub const CODE_TTL: Duration = Duration::seconds(60);

/// Bytes of randomness in a code (256 bits).
const CODE_BYTES: usize = 32;

/// The parameters of an authorization request, as the client sent them.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthorizationParams<'a> {
    /// `redirect_uri`: one of the app's registered URIs; optional when it has exactly one.
    pub redirect_uri: Option<&'a str>,
    /// `code_challenge` (PKCE).
    pub code_challenge: Option<&'a str>,
    /// `code_challenge_method`: `S256` (the default); `plain` is refused.
    pub code_challenge_method: Option<&'a str>,
    /// `scope`, space-separated; by default the scope the consent's kind needs, plus `openid`
    /// when the app may request it.
    pub scope: Option<&'a str>,
    /// `nonce`, copied into the ID token.
    pub nonce: Option<&'a str>,
}

/// A checked authorization request: what a code will be bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) scopes: BTreeSet<Scope>,
    pub(crate) nonce: Option<String>,
    /// The authentication context asked for: [`wekeza_domain::STEP_UP_ACR`] for a step-up,
    /// else none.
    pub(crate) acr: Option<String>,
}

/// The scopes a token bound to a consent of `kind` may carry; without a consent, `openid`.
fn scopes_for(kind: Option<ConsentKind>) -> &'static [Scope] {
    let Some(kind) = kind else {
        return &[Scope::OpenId];
    };
    match kind {
        ConsentKind::AccountAccess => &[
            Scope::OpenId,
            Scope::AccountsRead,
            Scope::CustomersProfileRead,
        ],
        ConsentKind::Payment | ConsentKind::FundsConfirmation => {
            &[Scope::OpenId, Scope::PaymentsInitiate]
        }
    }
}

/// The redirect URI an authorization response of `app` goes to: `given`, which must be one of
/// the app's registered URIs (compared exactly), or else the app's only one. `None` when none
/// was given and the app has not exactly one.
pub fn redirect_uri(app: &App, given: Option<&str>) -> Result<Option<String>, Error> {
    match given {
        Some(uri) if app.redirect_uris.iter().any(|registered| registered == uri) => {
            Ok(Some(uri.to_owned()))
        }
        Some(_) => Err(Error::InvalidParameter(
            "redirect_uri",
            "is not one of the app's registered redirect URIs".into(),
        )),
        None => match app.redirect_uris.as_slice() {
            [only] => Ok(Some(only.clone())),
            _ => Ok(None),
        },
    }
}

/// The scopes `app` asks for under a consent of `kind` (`None`: a sign-in alone): `scope`
/// (space-separated), each the app's and grantable under the kind; by default the scope the
/// kind needs, plus `openid` when the app may request it (a sign-in: `openid`).
pub(crate) fn requested_scopes(
    app: &App,
    kind: Option<ConsentKind>,
    scope: Option<&str>,
) -> Result<BTreeSet<Scope>, Error> {
    let scopes: BTreeSet<Scope> = match scope {
        Some(text) => Scope::parse_list(text)
            .map_err(|error| Error::InvalidScope(error.to_string()))?
            .into_iter()
            .collect(),
        None => {
            let mut scopes =
                BTreeSet::from([kind.map_or(Scope::OpenId, ConsentKind::required_scope)]);
            if app.scopes.contains(&Scope::OpenId) {
                scopes.insert(Scope::OpenId);
            }
            scopes
        }
    };
    if scopes.is_empty() {
        return Err(Error::InvalidScope("scope is empty".into()));
    }
    if let Some(scope) = scopes.iter().find(|scope| !app.scopes.contains(scope)) {
        return Err(Error::InvalidScope(format!(
            "the client may not request {scope}"
        )));
    }
    if let Some(scope) = scopes
        .iter()
        .find(|scope| !scopes_for(kind).contains(scope))
    {
        return Err(Error::InvalidScope(match kind {
            Some(_) => format!("{scope} cannot be granted under a consent of this type"),
            None => format!("{scope} needs a consent_id: without one, only openid is granted"),
        }));
    }
    Ok(scopes)
}

impl AuthorizationRequest {
    /// Checks `params` of `app` asking about a consent of `kind`, or (`None`) only to sign the
    /// customer in.
    pub fn check(
        app: &App,
        kind: Option<ConsentKind>,
        params: AuthorizationParams<'_>,
    ) -> Result<Self, Error> {
        let redirect_uri = redirect_uri(app, params.redirect_uri)?.ok_or_else(|| {
            Error::InvalidParameter(
                "redirect_uri",
                "is required unless the app has exactly one registered".into(),
            )
        })?;
        let code_challenge =
            pkce::check_challenge(params.code_challenge, params.code_challenge_method)?;
        let scopes = requested_scopes(app, kind, params.scope)?;
        // Stored with the code and copied into the ID token: under the text rule whichever way
        // it came (PAR's form, the sandbox shortcut).
        let nonce = params
            .nonce
            .filter(|nonce| !nonce.is_empty())
            .map(|nonce| text::clean(nonce, TextKind::Line))
            .transpose()
            .map_err(|error| Error::InvalidParameter("nonce", error.to_string()))?;
        Ok(Self {
            redirect_uri,
            code_challenge,
            scopes,
            nonce,
            acr: None,
        })
    }

    /// Where the authorization response goes.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

/// A freshly issued authorization code, valid [`CODE_TTL`]. The code exists only here: hand it
/// to the client once.
#[derive(Debug)]
pub struct IssuedCode {
    /// The code.
    pub code: String,
}

/// Refuses a pair of consent states that is not `app`'s consent moving to `to`.
pub(crate) fn check_decision(
    app: &App,
    before: &Consent,
    after: &Consent,
    to: ConsentStatus,
) -> Result<(), Error> {
    let same = before.id == after.id && before.app_id == app.id && after.app_id == app.id;
    if !same || after.status != to {
        return Err(Error::InvalidRequest(
            "the decision does not match the consent".into(),
        ));
    }
    Ok(())
}

impl Identity {
    /// Records that the customer authorised `before` — now `after`, made by
    /// [`Consent::authorise`] — and issues the authorization code for `request`, in one
    /// transaction. [`Error::ConsentChanged`] if the consent changed meanwhile (nothing is
    /// written then).
    pub async fn authorise_consent(
        &self,
        app: &App,
        before: &Consent,
        after: &Consent,
        request: &AuthorizationRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedCode, Error> {
        check_decision(app, before, after, ConsentStatus::Authorised)?;
        let (code, row) = consent_code(app, after, request, now)?;
        let txn = self
            .inner
            .db
            .begin()
            .await
            .map_err(wekeza_store::Error::from)?;
        record(&txn, app, before, after, now).await?;
        authorization_codes::insert(&txn, row).await?;
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        tracing::info!(consent_id = %after.id, client_id = %app.client_id, "consent authorised");
        Ok(IssuedCode { code })
    }

    /// Issues the code of a step-up: the customer who authorised `consent` (AUTHORISED, checked
    /// by the caller) signed in again, both factors, for `app`'s `request`.
    pub(crate) async fn issue_step_up_code(
        &self,
        app: &App,
        consent: &Consent,
        request: &AuthorizationRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedCode, Error> {
        let (code, row) = consent_code(app, consent, request, now)?;
        authorization_codes::insert(&self.inner.db, row).await?;
        tracing::info!(consent_id = %consent.id, client_id = %app.client_id, "customer passed a step-up");
        Ok(IssuedCode { code })
    }

    /// Issues the code of a sign-in alone (a request without a consent): `customer` passed
    /// both factors for `app`'s `request`.
    pub(crate) async fn issue_sign_in_code(
        &self,
        app: &App,
        customer: &CustomerId,
        request: &AuthorizationRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedCode, Error> {
        let (code, row) = new_code(
            app,
            None,
            customer.to_string(),
            "[]".to_owned(),
            request,
            now,
        );
        authorization_codes::insert(&self.inner.db, row).await?;
        tracing::info!(client_id = %app.client_id, "customer signed in");
        Ok(IssuedCode { code })
    }

    /// Records that the customer refused `before` — now `after`, made by [`Consent::reject`].
    pub async fn reject_consent(
        &self,
        app: &App,
        before: &Consent,
        after: &Consent,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        check_decision(app, before, after, ConsentStatus::Rejected)?;
        let txn = self
            .inner
            .db
            .begin()
            .await
            .map_err(wekeza_store::Error::from)?;
        record(&txn, app, before, after, now).await?;
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        tracing::info!(consent_id = %after.id, client_id = %app.client_id, "consent rejected");
        Ok(())
    }
}

/// A new code for `request` of `app`, bound to the authorised `consent`, its customer and
/// accounts, and the row it is stored as.
fn consent_code(
    app: &App,
    consent: &Consent,
    request: &AuthorizationRequest,
    now: DateTime<Utc>,
) -> Result<(String, AuthorizationCode), Error> {
    let customer = consent
        .customer_id
        .as_ref()
        .ok_or_else(|| Error::InvalidRequest("an authorised consent names its customer".into()))?;
    let accounts: Vec<&str> = consent.account_ids.iter().map(AccountId::as_str).collect();
    let accounts = serde_json::to_string(&accounts)
        .map_err(|error| Error::Key(format!("encoding account ids: {error}")))?;
    Ok(new_code(
        app,
        Some(consent.id.to_string()),
        customer.to_string(),
        accounts,
        request,
        now,
    ))
}

/// A new code for `request` of `app` and the row it is stored as.
fn new_code(
    app: &App,
    consent_id: Option<String>,
    customer_id: String,
    account_ids: String,
    request: &AuthorizationRequest,
    now: DateTime<Utc>,
) -> (String, AuthorizationCode) {
    let code = secret::random_token(CODE_BYTES, &mut secret::os_rng());
    let row = AuthorizationCode {
        code_hash: secret::sha256_hex(&code),
        client_id: app.client_id.clone(),
        consent_id,
        customer_id,
        account_ids,
        scope: scope_text(&request.scopes),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        created_at: now,
        expires_at: now + CODE_TTL,
        redeemed_at: None,
        grant_id: None,
        acr: request.acr.clone(),
    };
    (code, row)
}

/// Writes the transition with its event.
pub(crate) async fn record(
    txn: &wekeza_store::DatabaseTransaction,
    app: &App,
    before: &Consent,
    after: &Consent,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    match record::consent_transition(txn, before, after, &app.client_id, now).await? {
        StatusWrite::Applied => Ok(()),
        StatusWrite::Conflict => Err(Error::ConsentChanged),
    }
}
