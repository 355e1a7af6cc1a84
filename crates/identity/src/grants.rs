//! The grants that end in a customer's tokens: `authorization_code` (RFC 6749 §4.1.3 with PKCE,
//! RFC 7636 §4.6) and `refresh_token` (§6), and what both check — the consent behind the
//! tokens, which must still be AUTHORISED and the client's. The first token pair of a grant is
//! issued by one function, [`Identity::issue_consent_tokens`], which CIBA's grant
//! ([`crate::ciba`]) shares with the code grant.
//!
//! The code of a sign-in alone (no consent, `openid`) yields an ID token and an access token
//! naming the customer — good for nothing but who they are: no refresh token, no data.
//!
//! A redemption starts a token *family* (`grant_id`): the access token and refresh token it
//! issues, and every pair later refreshed from them. Refresh tokens rotate on each use. A code
//! or refresh token presented a second time means it leaked, so the whole family is revoked —
//! refresh tokens and the access tokens issued with them (RFC 6749 §4.1.2 and §10.4, OAuth 2.0
//! Security BCP §4.14).
//!
//! A family redeemed with a DPoP proof is bound to the proof's key (RFC 9449): each of its
//! refreshes needs a proof by that key and issues DPoP-bound tokens again — a leaked refresh
//! token is no use without the key, and cannot be turned into a Bearer token.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::Header;
use serde::Serialize;
use wekeza_domain::{AppId, Consent, ConsentId, ConsentTerms, Reason, STEP_UP_ACR, Scope};
use wekeza_store::apps::App;
use wekeza_store::identity::authorization_codes::{self, AuthorizationCode};
use wekeza_store::identity::backchannel_requests;
use wekeza_store::identity::refresh_tokens::{self, RefreshToken};
use wekeza_store::identity::revoked_tokens;
use wekeza_store::{ConnectionTrait, TransactionTrait, consents, secret};

use crate::form::Form;
use crate::jwt::CLOCK_SKEW;
use crate::keys::SIGNING_ALGORITHM;
use crate::tokens::{ACCESS_TOKEN_TTL, Issued, TokenGrant, scope_text};
use crate::{Error, Identity, pkce};

/// The longest a refresh token family lives (never past its consent's expiry).
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(90);
/// Bytes of randomness in a refresh token (256 bits).
const REFRESH_TOKEN_BYTES: usize = 32;
/// How long a redeemed or expired code is kept, so a late replay still revokes its family.
pub(crate) const CODE_RETENTION: Duration = Duration::minutes(10);

/// What a grant issues.
#[derive(Debug)]
pub(crate) struct TokenSet {
    /// The access token.
    pub(crate) access: Issued,
    /// The refresh token, shown once; none for a sign-in alone.
    pub(crate) refresh_token: Option<String>,
    /// The ID token, when `openid` was granted.
    pub(crate) id_token: Option<String>,
}

/// The claims of an ID token (OpenID Connect Core §2).
#[derive(Debug, Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    /// The consent the customer authorised (the intent id of UK Open Banking); none for a
    /// sign-in alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent_id: Option<&'a str>,
}

/// Why a consent no longer backs its tokens, said to the client.
fn unusable(reason: Reason) -> &'static str {
    match reason {
        Reason::ConsentRevoked => "the consent was revoked",
        Reason::ConsentExpired => "the consent has expired",
        Reason::ConsentConsumed => "the consent was used up",
        Reason::ConsentRejected => "the consent was rejected",
        _ => "the consent is not authorised",
    }
}

impl Identity {
    /// The consent `consent_id` if it still backs tokens of the app `app` for `customer_id` at
    /// `now`: the app's, the customer's, and AUTHORISED (not revoked, consumed or expired).
    /// `Ok(Err(why))` when it does not.
    pub(crate) async fn bound_consent(
        &self,
        app: &AppId,
        consent_id: &str,
        customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Consent, &'static str>, Error> {
        Ok(self
            .owned_consent(app, consent_id, customer_id)
            .await?
            .and_then(|consent| match consent.check_usable(now) {
                Ok(()) => Ok(consent),
                Err(reason) => Err(unusable(reason)),
            }))
    }

    /// The consent behind an access token already issued, for an API call: as
    /// [`Self::bound_consent`], but a CONSUMED payment consent still backs its token, so that the
    /// app can replay the idempotent create of its payment (same key, same answer). A new
    /// payment on it is refused by the payment service (`CONSENT_CONSUMED`), not here. New
    /// tokens (code, refresh and CIBA grants) still need an AUTHORISED consent.
    pub(crate) async fn token_consent(
        &self,
        app: &AppId,
        consent_id: &str,
        customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Consent, &'static str>, Error> {
        Ok(self
            .owned_consent(app, consent_id, customer_id)
            .await?
            .and_then(|consent| match consent.check_usable(now) {
                Ok(()) => Ok(consent),
                Err(Reason::ConsentConsumed)
                    if matches!(consent.terms, ConsentTerms::Payment(_)) =>
                {
                    Ok(consent)
                }
                Err(reason) => Err(unusable(reason)),
            }))
    }

    /// The consent `consent_id` if it is the app `app`'s and was authorised by `customer_id`.
    async fn owned_consent(
        &self,
        app: &AppId,
        consent_id: &str,
        customer_id: &str,
    ) -> Result<Result<Consent, &'static str>, Error> {
        const UNKNOWN: &str = "the token's consent is unknown";
        let Ok(id) = consent_id.parse::<ConsentId>() else {
            return Ok(Err(UNKNOWN));
        };
        let Some(consent) = consents::find(&self.inner.db, &id).await? else {
            return Ok(Err(UNKNOWN));
        };
        let customer = consent.customer_id.as_ref().map(|id| id.as_str());
        if &consent.app_id != app || customer != Some(customer_id) {
            return Ok(Err(UNKNOWN));
        }
        Ok(Ok(consent))
    }

    /// The `authorization_code` grant for the authenticated `app`.
    pub(crate) async fn redeem_code(
        &self,
        app: &App,
        form: &Form,
        jkt: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, Error> {
        let code = form.require("code")?;
        let redirect_uri = form.require("redirect_uri")?;
        let verifier = form.require("code_verifier")?;
        let hash = secret::sha256_hex(code);
        let row = authorization_codes::find(&self.inner.db, &hash)
            .await?
            .filter(|row| row.client_id == app.client_id)
            .ok_or_else(|| Error::InvalidGrant("the authorization code is invalid".into()))?;
        if row.redeemed_at.is_some() {
            return Err(self.code_replayed(&row, now).await);
        }
        if now >= row.expires_at {
            return Err(Error::InvalidGrant(
                "the authorization code has expired".into(),
            ));
        }
        if row.redirect_uri != redirect_uri {
            return Err(Error::InvalidGrant(
                "redirect_uri differs from the authorization request's".into(),
            ));
        }
        if !pkce::verifies(verifier, &row.code_challenge) {
            return Err(Error::InvalidGrant(
                "code_verifier does not match the code_challenge".into(),
            ));
        }
        let Some(consent_id) = &row.consent_id else {
            return self.redeem_sign_in(app, &row, jkt, now).await;
        };
        let consent = self
            .bound_consent(&app.id, consent_id, &row.customer_id, now)
            .await?
            .map_err(|why| Error::InvalidGrant(why.into()))?;
        let grant = ConsentGrant {
            consent_id,
            customer_id: &row.customer_id,
            scope: &row.scope,
            auth_time: row.created_at,
            nonce: row.nonce.as_deref(),
            step_up: row.acr.as_deref() == Some(STEP_UP_ACR),
        };
        let Some(tokens) = self
            .issue_consent_tokens(app, &consent, &grant, Redeem::Code(&hash), jkt, now)
            .await?
        else {
            // A concurrent redemption won: this one is the replay.
            let row = authorization_codes::find(&self.inner.db, &hash).await?;
            return Err(match row {
                Some(row) => self.code_replayed(&row, now).await,
                None => Error::InvalidGrant("the authorization code is invalid".into()),
            });
        };
        tracing::info!(
            client_id = %app.client_id,
            consent_id = %consent_id,
            token_type = tokens.access.claims.token_type(),
            "authorization code redeemed"
        );
        Ok(tokens)
    }

    /// The code `row` of a sign-in alone (checked by the caller but for its single use):
    /// the ID token and an access token naming the customer, no refresh token.
    async fn redeem_sign_in(
        &self,
        app: &App,
        row: &AuthorizationCode,
        jkt: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, Error> {
        let grant = TokenGrant {
            client_id: &app.client_id,
            customer_id: Some(&row.customer_id),
            consent_id: None,
            scope: row.scope.clone(),
            jkt,
            step_up_at: None,
        };
        let access = self.issue_access_token(grant, now).await?;
        let grant_id = secret::random_token(16, &mut secret::os_rng());
        if !authorization_codes::redeem(&self.inner.db, &row.code_hash, &grant_id, now).await? {
            return Err(Error::InvalidGrant(
                "the authorization code was already used".into(),
            ));
        }
        let subject = Subject {
            customer_id: &row.customer_id,
            consent_id: None,
            auth_time: row.created_at,
            nonce: row.nonce.as_deref(),
        };
        let id_token = self.id_token(app, &subject, now).await?;
        tracing::info!(client_id = %app.client_id, "sign-in code redeemed");
        Ok(TokenSet {
            access,
            refresh_token: None,
            id_token: Some(id_token),
        })
    }

    /// Issues the first token pair of a new family bound to `consent` (AUTHORISED, checked by
    /// the caller) for `grant`, consuming what the grant redeems (`redeem`) in the same
    /// transaction as the refresh token is stored. `Ok(None)` when `redeem` was already consumed
    /// (a concurrent redemption won); nothing is issued then.
    pub(crate) async fn issue_consent_tokens(
        &self,
        app: &App,
        consent: &Consent,
        grant: &ConsentGrant<'_>,
        redeem: Redeem<'_>,
        jkt: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenSet>, Error> {
        let grant_id = secret::random_token(16, &mut secret::os_rng());
        let family = Family {
            grant_id: &grant_id,
            client_id: &app.client_id,
            consent_id: grant.consent_id,
            customer_id: grant.customer_id,
            scope: grant.scope,
            expires_at: consent.expires_at.min(now + REFRESH_TOKEN_TTL),
            jkt: jkt.as_deref(),
        };
        // Signed before the transaction: signing may reload the keys, and SQLite has one
        // connection, which the transaction holds.
        let step_up_at = grant.step_up.then_some(grant.auth_time);
        let access = self
            .sign(&family, grant.scope.to_owned(), family.jkt, step_up_at, now)
            .await?;
        let txn = self
            .inner
            .db
            .begin()
            .await
            .map_err(wekeza_store::Error::from)?;
        let redeemed = match redeem {
            Redeem::Code(hash) => authorization_codes::redeem(&txn, hash, &grant_id, now).await?,
            Redeem::Backchannel(hash) => backchannel_requests::redeem(&txn, hash, now).await?,
        };
        if !redeemed {
            drop(txn);
            return Ok(None);
        }
        let refresh_token = store_refresh_token(&txn, &family, &access, now).await?;
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        let id_token = if access
            .claims
            .scope
            .split(' ')
            .any(|s| s == Scope::OpenId.as_str())
        {
            let subject = Subject {
                customer_id: grant.customer_id,
                consent_id: Some(grant.consent_id),
                auth_time: grant.auth_time,
                nonce: grant.nonce,
            };
            Some(self.id_token(app, &subject, now).await?)
        } else {
            None
        };
        Ok(Some(TokenSet {
            access,
            refresh_token: Some(refresh_token),
            id_token,
        }))
    }

    /// The `refresh_token` grant for the authenticated `app`.
    pub(crate) async fn refresh(
        &self,
        app: &App,
        form: &Form,
        jkt: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, Error> {
        let token = form.require("refresh_token")?;
        let hash = secret::sha256_hex(token);
        let row = refresh_tokens::find(&self.inner.db, &hash)
            .await?
            .filter(|row| row.client_id == app.client_id)
            .ok_or_else(|| Error::InvalidGrant("the refresh token is invalid".into()))?;
        if row.revoked_at.is_some() {
            return Err(Error::InvalidGrant("the refresh token was revoked".into()));
        }
        if row.rotated_at.is_some() {
            return Err(self.refresh_replayed(&row.grant_id, now).await);
        }
        if now >= row.expires_at {
            return Err(Error::InvalidGrant("the refresh token has expired".into()));
        }
        // A DPoP-bound family refreshes only with a proof by its key, and stays bound; checked
        // before the token is spent. A Bearer family's new access token is bound to the
        // proof's key when one is sent.
        let jkt = match (row.jkt.as_deref(), jkt) {
            (None, jkt) => jkt,
            (Some(bound), Some(jkt)) if jkt == bound => Some(jkt),
            (Some(_), Some(_)) => {
                return Err(Error::InvalidDpopProof(
                    "the proof's key is not the key this grant's tokens are bound to".into(),
                ));
            }
            (Some(_), None) => {
                return Err(Error::InvalidDpopProof(
                    "this grant's tokens are DPoP-bound: a refresh needs a proof by their key"
                        .into(),
                ));
            }
        };
        // RFC 6749 §6: a narrower scope may be asked for the new access token.
        let scope = match form.get("scope") {
            None => row.scope.clone(),
            Some(requested) => {
                let granted: BTreeSet<Scope> = parse_scope(&row.scope)?;
                let requested: BTreeSet<Scope> = parse_scope(requested)?;
                if !requested.is_subset(&granted) {
                    return Err(Error::InvalidScope(
                        "the scope may only narrow what was granted".into(),
                    ));
                }
                scope_text(&requested)
            }
        };
        self.bound_consent(&app.id, &row.consent_id, &row.customer_id, now)
            .await?
            .map_err(|why| Error::InvalidGrant(why.into()))?;
        let family = Family {
            grant_id: &row.grant_id,
            client_id: &row.client_id,
            consent_id: &row.consent_id,
            customer_id: &row.customer_id,
            scope: &row.scope,
            expires_at: row.expires_at,
            jkt: row.jkt.as_deref(),
        };
        // Signed before the transaction (see `redeem_code`).
        // A step-up vouches for the access token issued with it, not for its successors.
        let access = self.sign(&family, scope, jkt.as_deref(), None, now).await?;
        let txn = self
            .inner
            .db
            .begin()
            .await
            .map_err(wekeza_store::Error::from)?;
        if !refresh_tokens::rotate(&txn, &hash, now).await? {
            drop(txn);
            return Err(self.refresh_replayed(&row.grant_id, now).await);
        }
        let refresh_token = store_refresh_token(&txn, &family, &access, now).await?;
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        tracing::info!(
            client_id = %app.client_id,
            consent_id = %row.consent_id,
            "refresh token rotated"
        );
        Ok(TokenSet {
            access,
            refresh_token: Some(refresh_token),
            id_token: None,
        })
    }

    /// Signs an access token of `family` with `scope`, from the step-up at `step_up_at` if any.
    async fn sign(
        &self,
        family: &Family<'_>,
        scope: String,
        jkt: Option<&str>,
        step_up_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Issued, Error> {
        let grant = TokenGrant {
            client_id: family.client_id,
            customer_id: Some(family.customer_id),
            consent_id: Some(family.consent_id),
            scope,
            jkt: jkt.map(str::to_owned),
            step_up_at,
        };
        self.issue_access_token(grant, now).await
    }

    /// A redeemed code came back: revokes what its redemption issued; answers the error to give.
    async fn code_replayed(&self, row: &AuthorizationCode, now: DateTime<Utc>) -> Error {
        if let Some(grant_id) = &row.grant_id
            && let Err(error) = self.revoke_family(grant_id, now).await
        {
            return error;
        }
        tracing::warn!(
            client_id = %row.client_id,
            consent_id = row.consent_id.as_deref(),
            "authorization code replayed: its tokens are revoked"
        );
        Error::InvalidGrant(
            "the authorization code was already used; the tokens issued for it are revoked".into(),
        )
    }

    /// A rotated refresh token came back: revokes its family; answers the error to give.
    async fn refresh_replayed(&self, grant_id: &str, now: DateTime<Utc>) -> Error {
        if let Err(error) = self.revoke_family(grant_id, now).await {
            return error;
        }
        tracing::warn!("refresh token replayed: its family is revoked");
        Error::InvalidGrant(
            "the refresh token was already used; every token of its grant is revoked".into(),
        )
    }

    /// Revokes every refresh token of the family `grant_id` and the access tokens issued with
    /// them, in one transaction.
    pub(crate) async fn revoke_family(
        &self,
        grant_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let txn = self
            .inner
            .db
            .begin()
            .await
            .map_err(wekeza_store::Error::from)?;
        let rows = refresh_tokens::revoke_family(&txn, grant_id, now).await?;
        for row in rows {
            let expires_at = row.access_expires_at + CLOCK_SKEW;
            if expires_at > now {
                revoked_tokens::revoke(&txn, &row.access_jti, &row.client_id, expires_at, now)
                    .await?;
            }
        }
        txn.commit().await.map_err(wekeza_store::Error::from)?;
        Ok(())
    }

    /// The stored refresh token `token`, if any (of whichever client: callers check).
    pub(crate) async fn find_refresh_token(
        &self,
        token: &str,
    ) -> Result<Option<RefreshToken>, Error> {
        Ok(refresh_tokens::find(&self.inner.db, &secret::sha256_hex(token)).await?)
    }

    /// Signs the ID token of a grant's first token pair.
    async fn id_token(
        &self,
        app: &App,
        grant: &Subject<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let key = self.inner.keys.signer(now).await?;
        let issuer = self.issuer().to_string();
        let claims = IdClaims {
            iss: &issuer,
            sub: grant.customer_id,
            aud: &app.client_id,
            azp: &app.client_id,
            iat: now.timestamp(),
            exp: (now + ACCESS_TOKEN_TTL).timestamp(),
            auth_time: grant.auth_time.timestamp(),
            nonce: grant.nonce,
            consent_id: grant.consent_id,
        };
        let mut header = Header::new(SIGNING_ALGORITHM);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(key.kid.clone());
        key.sign_jwt(&header, &claims)
    }
}

/// Stores a new refresh token of `family`, recording the access token issued with it, in `txn`;
/// answers the token.
async fn store_refresh_token(
    txn: &impl ConnectionTrait,
    family: &Family<'_>,
    access: &Issued,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let refresh_token = secret::random_token(REFRESH_TOKEN_BYTES, &mut secret::os_rng());
    let row = RefreshToken {
        token_hash: secret::sha256_hex(&refresh_token),
        grant_id: family.grant_id.to_owned(),
        client_id: family.client_id.to_owned(),
        consent_id: family.consent_id.to_owned(),
        customer_id: family.customer_id.to_owned(),
        scope: family.scope.to_owned(),
        access_jti: access.claims.jti.clone(),
        access_expires_at: now + ACCESS_TOKEN_TTL,
        created_at: now,
        expires_at: family.expires_at,
        rotated_at: None,
        revoked_at: None,
        jkt: family.jkt.map(str::to_owned),
    };
    refresh_tokens::insert(txn, row).await?;
    Ok(refresh_token)
}

/// What a customer authorised, that a grant turns into tokens bound to the consent.
#[derive(Debug)]
pub(crate) struct ConsentGrant<'a> {
    /// The consent (`cns_…`).
    pub(crate) consent_id: &'a str,
    /// The customer who authorised it (`cus_…`).
    pub(crate) customer_id: &'a str,
    /// The scopes granted, space-separated.
    pub(crate) scope: &'a str,
    /// When the customer authenticated (the ID token's `auth_time`).
    pub(crate) auth_time: DateTime<Utc>,
    /// The OpenID Connect nonce, copied into the ID token.
    pub(crate) nonce: Option<&'a str>,
    /// Whether the customer authenticated as a step-up ([`STEP_UP_ACR`]) for it.
    pub(crate) step_up: bool,
}

/// Whom an ID token is about.
#[derive(Debug)]
struct Subject<'a> {
    /// The customer (`cus_…`).
    customer_id: &'a str,
    /// The consent they authorised, if any.
    consent_id: Option<&'a str>,
    /// When they authenticated.
    auth_time: DateTime<Utc>,
    /// The OpenID Connect nonce.
    nonce: Option<&'a str>,
}

/// What a grant consumes, single use, by the hash it is stored under.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Redeem<'a> {
    /// An authorization code.
    Code(&'a str),
    /// An approved backchannel (CIBA) request.
    Backchannel(&'a str),
}

/// The family a new token pair joins.
struct Family<'a> {
    grant_id: &'a str,
    client_id: &'a str,
    consent_id: &'a str,
    customer_id: &'a str,
    /// The scope of the family's refresh tokens (fixed at redemption).
    scope: &'a str,
    expires_at: DateTime<Utc>,
    /// The DPoP key the family is bound to (fixed at redemption); `None` for Bearer.
    jkt: Option<&'a str>,
}

fn parse_scope(text: &str) -> Result<BTreeSet<Scope>, Error> {
    Ok(Scope::parse_list(text)
        .map_err(|error| Error::InvalidScope(error.to_string()))?
        .into_iter()
        .collect())
}
