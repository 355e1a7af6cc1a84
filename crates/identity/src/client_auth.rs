//! Client authentication at the token, introspection and revocation endpoints.
//!
//! - `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9): a JWT signed with a key from the app's
//!   registered JWKS; `iss` = `sub` = the client id, `aud` the issuer or the endpoint, `exp`
//!   in the future, `jti` used once, `iat`/`nbf` not in the future. Any app may use it; it is
//!   the only method of production apps.
//! - `client_secret_basic` / `client_secret_post` (RFC 6749 §2.3.1): the client secret, checked
//!   against its SHA-256 hash in constant time. Sandbox apps only.
//!
//! Exactly one method per request. Unknown clients and wrong credentials get the same answer,
//! so the endpoint is no oracle for client ids. Failures are throttled by source address and by
//! client id at that source (`throttle`): past the free allowance, 429 until the delay is over.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, header};
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use serde::Deserialize;
use serde_json::Value;
use wekeza_domain::text::{self, TextKind};
use wekeza_store::apps::{self, App, AppEnvironment, AppStatus, TokenEndpointAuthMethod};

use crate::form::{self, Form, decode_component};
use crate::jwt::{self, Audience, CLIENT_ALGORITHMS, CLOCK_SKEW};
use crate::throttle::{Attempt, Kind, Source};
use crate::{Error, Identity};

/// `client_assertion_type` of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may stay valid: bounds how long its `jti` must be remembered.
const MAX_ASSERTION_LIFETIME: Duration = Duration::minutes(60);

/// The one answer to an unknown client or a wrong credential.
fn authentication_failed() -> Error {
    Error::InvalidClient("client authentication failed".into())
}

/// The credentials a request presents.
enum Presented<'a> {
    /// HTTP Basic: client id and secret, both form-decoded.
    Basic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the body.
    Post { client_id: &'a str, secret: &'a str },
    /// `client_assertion`.
    Assertion { assertion: &'a str },
}

impl Presented<'_> {
    /// The client id the credentials claim, before any is checked: an assertion's `iss`.
    fn claimed_client_id(&self) -> Option<String> {
        /// The one claim read from an unverified assertion.
        #[derive(Deserialize)]
        struct Claimed {
            iss: String,
        }
        match self {
            Self::Basic { client_id, .. } => Some(client_id.clone()),
            Self::Post { client_id, .. } => Some((*client_id).to_owned()),
            Self::Assertion { assertion } => {
                jsonwebtoken::dangerous::insecure_decode_claims::<Claimed>(assertion)
                    .ok()
                    .map(|claims| claims.iss)
            }
        }
    }
}

/// The claims of a client assertion.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    jti: String,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
}

fn presented<'a>(headers: &HeaderMap, form: &'a Form) -> Result<Presented<'a>, Error> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim());
    let secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(Error::InvalidRequest(
            "use exactly one client authentication method".into(),
        ));
    }
    if let Some(credentials) = basic {
        let decoded = STANDARD
            .decode(credentials)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(authentication_failed)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(authentication_failed)?;
        let (Some(client_id), Some(secret)) = (decode_component(id), decode_component(secret))
        else {
            return Err(authentication_failed());
        };
        let client_id = form::parameter("client_id", &client_id)?;
        if form.get("client_id").is_some_and(|id| id != client_id) {
            return Err(Error::InvalidRequest(
                "client_id differs from the authenticated client".into(),
            ));
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    if let Some(secret) = secret {
        let client_id = form.require("client_id")?;
        return Ok(Presented::Post { client_id, secret });
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(Error::InvalidRequest(format!(
                "client_assertion_type must be {ASSERTION_TYPE}"
            )));
        }
        return Ok(Presented::Assertion { assertion });
    }
    Err(Error::InvalidClient(
        "client authentication is required".into(),
    ))
}

/// Refuses `app` a grant it did not register for (RFC 7591 §2, RFC 6749 §5.2).
pub(crate) fn require_grant(app: &App, grant_type: &str) -> Result<(), Error> {
    if app.may_use_grant(grant_type) {
        Ok(())
    } else {
        Err(Error::UnauthorizedClient(format!(
            "the client is not registered for the {grant_type} grant"
        )))
    }
}

impl Identity {
    /// Authenticates the client of a request from `source` to the endpoint at `endpoint_url`;
    /// refuses it unchecked while that source (or that client at that source) is throttled.
    pub(crate) async fn authenticate_client(
        &self,
        headers: &HeaderMap,
        form: &Form,
        endpoint_url: &str,
        source: Source,
        now: DateTime<Utc>,
    ) -> Result<App, Error> {
        let presented = presented(headers, form)?;
        let client_id = presented.claimed_client_id();
        let attempt = Attempt::new(source, Kind::Client, client_id.as_deref());
        let throttle = &self.inner.throttle;
        throttle
            .check(&attempt, now)
            .map_err(|throttled| Error::Throttled(throttled.retry_after_secs))?;
        let result = self.check_client(presented, form, endpoint_url, now).await;
        match &result {
            Ok(_) => throttle.succeeded(&attempt),
            Err(Error::InvalidClient(_)) => throttle.failed(&attempt, now),
            Err(_) => {}
        }
        result
    }

    /// Checks the presented credentials.
    async fn check_client(
        &self,
        presented: Presented<'_>,
        form: &Form,
        endpoint_url: &str,
        now: DateTime<Utc>,
    ) -> Result<App, Error> {
        let app = match presented {
            Presented::Basic { client_id, secret } => self.by_secret(&client_id, &secret).await?,
            Presented::Post { client_id, secret } => self.by_secret(client_id, secret).await?,
            Presented::Assertion { assertion } => {
                let app = self.by_assertion(assertion, endpoint_url, now).await?;
                if form.get("client_id").is_some_and(|id| id != app.client_id) {
                    return Err(Error::InvalidRequest(
                        "client_id differs from the authenticated client".into(),
                    ));
                }
                app
            }
        };
        if app.status != AppStatus::Active {
            return Err(Error::InvalidClient("the client is suspended".into()));
        }
        Ok(app)
    }

    async fn by_secret(&self, client_id: &str, secret: &str) -> Result<App, Error> {
        let app = apps::find_by_client_id(&self.inner.db, client_id)
            .await?
            .filter(|app| apps::verify_client_secret(app, secret))
            .ok_or_else(authentication_failed)?;
        if app.environment != AppEnvironment::Sandbox {
            return Err(Error::InvalidClient(
                "production clients authenticate with private_key_jwt".into(),
            ));
        }
        if app.token_endpoint_auth_method == TokenEndpointAuthMethod::PrivateKeyJwt {
            return Err(Error::InvalidClient(
                "this client is registered for private_key_jwt".into(),
            ));
        }
        Ok(app)
    }

    async fn by_assertion(
        &self,
        assertion: &str,
        endpoint_url: &str,
        now: DateTime<Utc>,
    ) -> Result<App, Error> {
        let bad = |why: &str| Error::InvalidClient(format!("client assertion: {why}"));
        let header = jwt::raw_header(assertion).ok_or_else(|| bad("malformed"))?;
        let algorithm = jwt::allowed_algorithm(&header, &CLIENT_ALGORITHMS)
            .ok_or_else(|| bad("unsupported alg"))?;
        let kid = header.get("kid").and_then(Value::as_str);
        // The issuer names the client whose keys verify the signature; nothing is trusted
        // before that.
        let unverified: AssertionClaims =
            jsonwebtoken::dangerous::insecure_decode_claims(assertion)
                .map_err(|_| bad("malformed or missing claims"))?;
        if text::clean(&unverified.iss, TextKind::Line).as_deref() != Ok(unverified.iss.as_str()) {
            return Err(bad("iss is not a client id"));
        }
        let app = apps::find_by_client_id(&self.inner.db, &unverified.iss)
            .await?
            .ok_or_else(authentication_failed)?;
        if app.token_endpoint_auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
            return Err(Error::InvalidClient(
                "this client is not registered for private_key_jwt".into(),
            ));
        }
        let key = client_key(&app, kid, algorithm)
            .ok_or_else(|| bad("no matching key in the client's JWKS"))?;
        let claims = jsonwebtoken::decode::<AssertionClaims>(
            assertion,
            &key,
            &jwt::signature_only(algorithm),
        )
        .map_err(|_| bad("bad signature"))?
        .claims;
        if claims.iss != app.client_id || claims.sub != app.client_id {
            return Err(bad("iss and sub must be the client id"));
        }
        if !claims
            .aud
            .names_any(&[self.issuer().as_str(), endpoint_url])
        {
            return Err(bad("aud must be the issuer or the endpoint URL"));
        }
        let expires = jwt::instant(claims.exp).ok_or_else(|| bad("bad exp"))?;
        if expires + CLOCK_SKEW <= now {
            return Err(bad("expired"));
        }
        if expires > now + MAX_ASSERTION_LIFETIME {
            return Err(bad("exp is too far in the future"));
        }
        for (name, time) in [("iat", claims.iat), ("nbf", claims.nbf)] {
            if let Some(seconds) = time {
                let at = jwt::instant(seconds).ok_or_else(|| bad("bad times"))?;
                if at > now + CLOCK_SKEW {
                    return Err(bad(&format!("{name} is in the future")));
                }
            }
        }
        let first = self
            .inner
            .replays
            .first_use(
                &format!("client_assertion:{}", app.client_id),
                &claims.jti,
                expires + CLOCK_SKEW,
                now,
            )
            .await?;
        if !first {
            return Err(bad("jti was already used"));
        }
        Ok(app)
    }
}

/// The key of `app`'s JWKS that verifies an assertion signed with `algorithm`: the one named
/// `kid`, or, without a `kid`, the only signing key usable with that algorithm.
fn client_key(
    app: &App,
    kid: Option<&str>,
    algorithm: jsonwebtoken::Algorithm,
) -> Option<DecodingKey> {
    let jwks: JwkSet = serde_json::from_str(app.jwks.as_deref()?).ok()?;
    let usable = |jwk: &&Jwk| signs_with(jwk, algorithm);
    let mut candidates = jwks.keys.iter().filter(usable).filter(|jwk| match kid {
        Some(kid) => jwk.common.key_id.as_deref() == Some(kid),
        None => true,
    });
    let jwk = candidates.next()?;
    if kid.is_none() && candidates.next().is_some() {
        return None;
    }
    DecodingKey::from_jwk(jwk).ok()
}

/// Whether a client's JWK may verify its signatures made with `algorithm`: meant for signing
/// (or not said), and declaring that algorithm (or none).
pub(crate) fn signs_with(jwk: &Jwk, algorithm: jsonwebtoken::Algorithm) -> bool {
    let for_signing = jwk
        .common
        .public_key_use
        .as_ref()
        .is_none_or(|usage| *usage == PublicKeyUse::Signature);
    let for_algorithm = jwk.common.key_algorithm.is_none_or(|declared| {
        declared
            .to_string()
            .parse::<jsonwebtoken::Algorithm>()
            .is_ok_and(|named| named == algorithm)
    });
    for_signing && for_algorithm
}
