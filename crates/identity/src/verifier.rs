//! [`TokenVerifier`]: the gateway's production authenticator. Turns the access token of an API
//! call — `Authorization: Bearer <jwt>`, or `Authorization: DPoP <jwt>` with a `DPoP` proof —
//! into the [`Principal`] the services read.
//!
//! A DPoP-bound token presented as Bearer is refused (RFC 9449 §7.1), and so is an unbound
//! token presented with the DPoP scheme. The proof's `htu` is compared with the request's URL
//! as the client addressed it: the issuer (the public base URL) followed by the request path.
//!
//! A step-up's token (`acr` = [`STEP_UP_ACR`]) gives the [`Principal`] its `step_up_at`, which
//! the payment service weighs against a fraud challenge.
//!
//! A customer's token (one carrying `consent_id`) is worth only what its consent is worth *now*:
//! the consent is read from the database on every call — no cache, so a revoked or expired
//! consent stops its tokens on the very next call (the bound the issue allows is ≤ 1 s; ours is
//! 0). A consent that is not AUTHORISED (revoked, expired, consumed, …), that is another
//! app's, or that is gone refuses the call as `INVALID_TOKEN` (HTTP 401 with
//! `error="invalid_token"`, gRPC UNAUTHENTICATED), the description naming the consent's state:
//! the token itself is what stopped being valid, and that is the answer OAuth clients act on
//! (refresh, or send the customer through authorisation again). The consent's reasons
//! (`CONSENT_REVOKED`, …) stay for the calls that name a consent.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::header;
use subtle::ConstantTimeEq;
use wekeza_domain::{AppId, ConsentGrant, ConsentTerms, CustomerId, Principal, STEP_UP_ACR, Scope};
use wekeza_gateway::authn::{Authenticate, Credentials};
use wekeza_rpc::ApiError;

use crate::dpop::ProofTarget;
use crate::tokens::AccessClaims;
use crate::{Error, Identity};

/// Verifies the platform's own access tokens on API calls.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    identity: Identity,
}

impl TokenVerifier {
    pub(crate) fn new(identity: Identity) -> Self {
        Self { identity }
    }

    async fn verify(&self, credentials: Credentials<'_>) -> Result<Option<Principal>, Error> {
        let invalid = |why: &str| Error::InvalidToken(why.to_owned());
        let mut values = credentials.headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            // API keys identify an app for limits; they never stand for a token.
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(invalid("more than one Authorization header"));
        }
        let (scheme, token) = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .map(|(scheme, token)| (scheme, token.trim()))
            .ok_or_else(|| invalid("malformed Authorization header"))?;
        let dpop = if scheme.eq_ignore_ascii_case("dpop") {
            true
        } else if scheme.eq_ignore_ascii_case("bearer") {
            false
        } else {
            return Err(invalid("use the Bearer or DPoP scheme"));
        };
        let now = self.identity.now();
        let claims = self.identity.verify_access_token(token, now).await?;
        match (&claims.cnf, dpop) {
            (None, false) => {}
            (Some(_), false) => {
                return Err(invalid(
                    "this token is bound to a DPoP key: use the DPoP scheme with a proof",
                ));
            }
            (None, true) => return Err(invalid("this token is not DPoP-bound: use Bearer")),
            (Some(confirmation), true) => {
                let url = self.identity.issuer().url(credentials.uri.path());
                let target = ProofTarget {
                    method: credentials.method,
                    url: &url,
                    access_token: Some(token),
                };
                let thumbprint = self
                    .identity
                    .verify_dpop_proof(credentials.headers, target, now)
                    .await?;
                if !bool::from(thumbprint.as_bytes().ct_eq(confirmation.jkt.as_bytes())) {
                    return Err(invalid("the DPoP proof is not signed by the token's key"));
                }
            }
        }
        self.principal(&claims, now).await.map(Some)
    }

    /// The caller a verified token stands for: the app alone for client-credentials tokens; the
    /// customer without a consent for a sign-in's (`openid` alone: who they are, no data); for
    /// consent-bound tokens the customer and the consent's accounts and permissions, read now.
    async fn principal(
        &self,
        claims: &AccessClaims,
        now: DateTime<Utc>,
    ) -> Result<Principal, Error> {
        let app_id: AppId = claims
            .client_id
            .parse()
            .map_err(|_| Error::InvalidToken("unknown client".into()))?;
        let scopes = Scope::parse_list(&claims.scope)
            .map_err(|_| Error::InvalidToken("unknown scope".into()))?;
        let Some(consent_id) = &claims.consent_id else {
            // A client-credentials token's subject is the client (`app_…`), never a customer.
            return Ok(Principal {
                app_id,
                scopes: scopes.into_iter().collect(),
                customer_id: claims.sub.parse::<CustomerId>().ok(),
                consent: None,
                step_up_at: None,
            });
        };
        let consent = self
            .identity
            .token_consent(&app_id, consent_id, &claims.sub, now)
            .await?
            .map_err(|why| Error::InvalidToken(why.into()))?;
        let customer_id = consent
            .customer_id
            .ok_or_else(|| Error::InvalidToken("the consent is not authorised".into()))?;
        let permissions = match consent.terms {
            ConsentTerms::AccountAccess { permissions } => permissions,
            ConsentTerms::Payment(_) | ConsentTerms::FundsConfirmation(_) => BTreeSet::new(),
        };
        Ok(Principal {
            app_id,
            scopes: scopes.into_iter().collect(),
            customer_id: Some(customer_id),
            consent: Some(ConsentGrant {
                consent_id: consent.id,
                account_ids: consent.account_ids,
                permissions,
            }),
            step_up_at: claims
                .auth_time
                .filter(|_| claims.acr.as_deref() == Some(STEP_UP_ACR))
                .and_then(|at| DateTime::from_timestamp(at, 0)),
        })
    }
}

#[async_trait]
impl Authenticate for TokenVerifier {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<Principal>, ApiError> {
        self.verify(credentials).await.map_err(ApiError::from)
    }
}
