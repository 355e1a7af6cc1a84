//! The UserInfo endpoint (OpenID Connect Core §5.3): `GET` and `POST /oauth2/userinfo` answer
//! claims about the customer an access token acts for.
//!
//! A protected resource like the API, and authenticated the same way: the gateway's
//! authentication layer in front of every route has already run the [`TokenVerifier`] on the
//! request — a Bearer token, or a DPoP-bound token with its proof (single-use, so it can be
//! checked only once, there), a bound token presented as Bearer refused — and read the token's
//! consent as it stands now. This endpoint takes that outcome from the request extensions, as
//! the services do, and never looks at the credentials itself. A refused or missing token is
//! 401 `invalid_token`; a valid token that acts for no customer (client credentials) or lacks
//! `openid` is 403 `insufficient_scope` (RFC 6750 §3.1). The endpoint adds the challenges.
//!
//! Claims: `sub`, the customer's id (the `sub` of the ID token); with the
//! `customers.profile.read` scope and a consent granting `READ_CUSTOMER_PROFILE`, also `name`,
//! `email` and `phone_number` from the customer record. The record holds one full name, so
//! `given_name` and `family_name` are not answered: splitting names is guesswork.
//!
//! [`TokenVerifier`]: crate::TokenVerifier

use http::Extensions;
use serde_json::{Value, json};
use wekeza_domain::{Permission, Principal, Reason, Scope};
use wekeza_gateway::authn::Authentication;
use wekeza_store::customers;

use crate::{Error, Identity};

/// The claims the endpoint may answer, for the discovery document.
pub(crate) const CLAIMS_SUPPORTED: [&str; 4] = ["sub", "name", "email", "phone_number"];

impl Identity {
    /// The claims about the customer of the request whose extensions are `extensions`.
    pub(crate) async fn userinfo(&self, extensions: &Extensions) -> Result<Value, Error> {
        let principal = authenticated(extensions)?;
        let customer_id = principal.customer_id.as_ref().ok_or_else(|| {
            Error::InsufficientScope(
                "the token acts for an app, not a customer: userinfo needs a customer's token"
                    .into(),
            )
        })?;
        if !principal.has_scope(Scope::OpenId) {
            return Err(Error::InsufficientScope(
                "the token lacks the openid scope".into(),
            ));
        }
        let mut claims = json!({ "sub": customer_id.as_str() });
        if principal.has_scope(Scope::CustomersProfileRead)
            && principal.has_permission(Permission::ReadCustomerProfile)
        {
            let customer = customers::find(&self.inner.db, customer_id)
                .await?
                .ok_or_else(|| Error::InvalidToken("the token's customer is unknown".into()))?;
            claims["name"] = json!(customer.full_name);
            claims["email"] = json!(customer.email);
            claims["phone_number"] = json!(customer.phone_number);
        }
        Ok(claims)
    }
}

/// The caller the gateway authenticated, or why there is none.
fn authenticated(extensions: &Extensions) -> Result<&Principal, Error> {
    let missing = || Error::InvalidToken("an access token is required".into());
    match extensions.get::<Authentication>() {
        Some(Authentication::Authenticated) => extensions.get::<Principal>().ok_or_else(missing),
        Some(Authentication::Failed(error)) if error.reason() == Reason::Internal => {
            Err(Error::VerificationFailed)
        }
        Some(Authentication::Failed(error)) => Err(Error::InvalidToken(error.message().into())),
        Some(Authentication::Anonymous) | None => Err(missing()),
    }
}
