//! Access tokens: short-lived ES256 JWTs (RFC 9068 profile, `typ: at+jwt`) issued by the token
//! endpoint and checked on every API call, at introspection and at revocation.
//!
//! Claims: `iss` and `aud` (both the issuer: the platform is its own resource server),
//! `client_id`, `sub` (the client for client-credentials tokens; the customer for tokens of the
//! authorization-code flow), `consent_id` (the consent a customer's token acts under), `scope`,
//! `jti`, `iat`, `exp`, `cnf.jkt` when the token is bound to a DPoP key (RFC 9449 §6), and
//! `acr` with `auth_time` on the tokens of a step-up ([`wekeza_domain::STEP_UP_ACR`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};
use wekeza_domain::{STEP_UP_ACR, Scope};
use wekeza_store::apps::App;
use wekeza_store::identity::revoked_tokens;

use crate::jwt::{self, CLOCK_SKEW};
use crate::keys::SIGNING_ALGORITHM;
use crate::{Error, Identity};

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(5);
/// The JOSE `typ` of access tokens (RFC 9068 §2.1): keeps other JWTs of ours (and clients'
/// assertions) from passing as access tokens.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    /// The issuer.
    pub(crate) iss: String,
    /// For whom the token acts: the client itself for client credentials, the customer (`cus_…`)
    /// for consent-bound tokens.
    pub(crate) sub: String,
    /// Who may accept it: the platform's API, named by the issuer.
    pub(crate) aud: String,
    /// The client it was issued to.
    pub(crate) client_id: String,
    /// Granted scopes, space-separated.
    pub(crate) scope: String,
    /// Unique id: what revocation records.
    pub(crate) jti: String,
    /// Issued at (Unix seconds).
    pub(crate) iat: i64,
    /// Expires at (Unix seconds).
    pub(crate) exp: i64,
    /// The DPoP key the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<Confirmation>,
    /// The consent the token acts under (`cns_…`): present exactly on customers' tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) consent_id: Option<String>,
    /// The authentication context: [`wekeza_domain::STEP_UP_ACR`] on a step-up's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) acr: Option<String>,
    /// When the customer passed that authentication (Unix seconds), with `acr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) auth_time: Option<i64>,
}

/// RFC 9449 §6.1: the bound key's JWK SHA-256 thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Confirmation {
    /// base64url JWK thumbprint (RFC 7638).
    pub(crate) jkt: String,
}

impl AccessClaims {
    /// `DPoP` for bound tokens, else `Bearer`.
    pub(crate) fn token_type(&self) -> &'static str {
        if self.cnf.is_some() { "DPoP" } else { "Bearer" }
    }
}

/// A freshly signed token and what it says.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) claims: AccessClaims,
}

/// What an access token is issued for.
#[derive(Debug)]
pub(crate) struct TokenGrant<'a> {
    /// The client.
    pub(crate) client_id: &'a str,
    /// The customer the token acts for (`sub`); `None` for the app's own token.
    pub(crate) customer_id: Option<&'a str>,
    /// The consent it acts under; `None` for the app's own token and a sign-in's.
    pub(crate) consent_id: Option<&'a str>,
    /// The granted scopes, space-separated.
    pub(crate) scope: String,
    /// The DPoP key thumbprint to bind the token to, if any.
    pub(crate) jkt: Option<String>,
    /// When the customer passed the step-up this token comes from, if it does.
    pub(crate) step_up_at: Option<DateTime<Utc>>,
}

/// Scopes as the space-separated list tokens carry.
pub(crate) fn scope_text(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Identity {
    /// Signs a client-credentials access token for `app` with `scopes`, bound to the DPoP key
    /// `jkt` if given.
    pub(crate) async fn issue_client_token(
        &self,
        app: &App,
        scopes: &BTreeSet<Scope>,
        jkt: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Issued, Error> {
        let grant = TokenGrant {
            client_id: &app.client_id,
            customer_id: None,
            consent_id: None,
            scope: scope_text(scopes),
            jkt,
            step_up_at: None,
        };
        self.issue_access_token(grant, now).await
    }

    /// Signs an access token for `grant`.
    pub(crate) async fn issue_access_token(
        &self,
        grant: TokenGrant<'_>,
        now: DateTime<Utc>,
    ) -> Result<Issued, Error> {
        let key = self.inner.keys.signer(now).await?;
        let claims = AccessClaims {
            iss: self.issuer().to_string(),
            sub: grant.customer_id.unwrap_or(grant.client_id).to_owned(),
            aud: self.issuer().to_string(),
            client_id: grant.client_id.to_owned(),
            scope: grant.scope,
            jti: wekeza_store::secret::random_token(16, &mut wekeza_store::secret::os_rng()),
            iat: now.timestamp(),
            exp: (now + ACCESS_TOKEN_TTL).timestamp(),
            cnf: grant.jkt.map(|jkt| Confirmation { jkt }),
            consent_id: grant.consent_id.map(str::to_owned),
            acr: grant.step_up_at.map(|_| STEP_UP_ACR.to_owned()),
            auth_time: grant.step_up_at.map(|at| at.timestamp()),
        };
        let mut header = Header::new(SIGNING_ALGORITHM);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let token = key.sign_jwt(&header, &claims)?;
        Ok(Issued { token, claims })
    }

    /// Checks an access token's signature, type, issuer, audience and lifetime — not whether it
    /// was revoked (see [`Self::verify_access_token`]).
    pub(crate) async fn decode_access_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, Error> {
        let invalid = |why: &str| Error::InvalidToken(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if header.alg != SIGNING_ALGORITHM || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(invalid("not an access token of this server"));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("not an access token of this server"))?;
        let key = self
            .inner
            .keys
            .verifying_key(&kid, now)
            .await?
            .ok_or_else(|| invalid("signed by an unknown key"))?;
        let claims = jsonwebtoken::decode::<AccessClaims>(
            token,
            &key,
            &jwt::signature_only(SIGNING_ALGORITHM),
        )
        .map_err(|_| invalid("bad signature or claims"))?
        .claims;
        if claims.iss != self.issuer().as_str() || claims.aud != self.issuer().as_str() {
            return Err(invalid("not issued for this server"));
        }
        let (Some(issued), Some(expires)) = (jwt::instant(claims.iat), jwt::instant(claims.exp))
        else {
            return Err(invalid("bad times"));
        };
        if issued > now + CLOCK_SKEW {
            return Err(invalid("issued in the future"));
        }
        if expires + CLOCK_SKEW <= now {
            return Err(invalid("the token has expired"));
        }
        Ok(claims)
    }

    /// [`Self::decode_access_token`], and refused if revoked.
    pub(crate) async fn verify_access_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, Error> {
        let claims = self.decode_access_token(token, now).await?;
        if revoked_tokens::is_revoked(&self.inner.db, &claims.jti).await? {
            return Err(Error::InvalidToken("the token was revoked".into()));
        }
        Ok(claims)
    }

    /// Revokes the token described by `claims` until it expires.
    pub(crate) async fn revoke(
        &self,
        claims: &AccessClaims,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let expires_at = jwt::instant(claims.exp)
            .ok_or_else(|| Error::InvalidToken("bad times".into()))?
            + CLOCK_SKEW;
        revoked_tokens::revoke(
            &self.inner.db,
            &claims.jti,
            &claims.client_id,
            expires_at,
            now,
        )
        .await?;
        tracing::info!(client_id = %claims.client_id, "access token revoked");
        Ok(())
    }
}
