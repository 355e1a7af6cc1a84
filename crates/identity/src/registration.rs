//! Dynamic client registration (RFC 7591): `POST /oauth2/register` turns a developer's client
//! metadata into a normal app — the row `wekeza apps create` writes, through
//! [`apps::create`] — and answers its `client_id`, its `client_secret` for the secret methods
//! (shown once), and the metadata as registered (§3.2.1).
//!
//! Gated by an initial access token (§3, [`registration_tokens`]) that an operator creates with
//! `wekeza apps registration-token` and the client presents as `Authorization: Bearer`. The
//! token decides the new client's environment. A missing, unknown or expired token is 401
//! `invalid_token`, with the Bearer challenge.
//!
//! What the metadata may say (§2); a value the server does not accept is refused with
//! `invalid_client_metadata` or `invalid_redirect_uri` (§3.2.2), never silently replaced, and
//! members it does not know are ignored:
//! - `client_name`: required.
//! - `redirect_uris`: absolute URLs without a fragment: `https`, or — for sandbox clients only —
//!   `http` on a loopback host (`127.0.0.1`, `[::1]`, `localhost`). Required with the
//!   `authorization_code` grant.
//! - `grant_types`: of `authorization_code`, `refresh_token` (with a grant that issues refresh
//!   tokens), `client_credentials` and CIBA's; by default the first three (the open-banking
//!   flow needs the app's own token to create consents); `response_types`: `["code"]`,
//!   exactly when `authorization_code` is registered. Stored and enforced: the token endpoint,
//!   PAR (`authorization_code`) and the backchannel endpoint (CIBA) refuse any other grant with
//!   `unauthorized_client`.
//! - `token_endpoint_auth_method`: `private_key_jwt`, with the client's public signing keys
//!   inline as `jwks` (the only method of production clients); `client_secret_basic` or
//!   `client_secret_post` for sandbox clients. Default: `private_key_jwt` when `jwks` is given or
//!   the client is a production one, else `client_secret_basic`. `jwks_uri` is refused: the
//!   server never fetches URLs.
//! - `scope`: space-separated platform scopes; default `accounts.read`.
//! - `environment` (a Wekeza extension): `sandbox` or `production`, which must be the token's.
//!
//! Out of scope: the client configuration endpoint of RFC 7592 (reading, updating, deleting a
//! registration) — no `registration_access_token` or `registration_client_uri` is issued, and
//! changes go through the bank's operators; software statements are not understood.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Uri, header};
use serde::Deserialize;
use serde_json::{Value, json};
use wekeza_domain::Scope;
use wekeza_store::apps::{self, AppEnvironment, NewApp, TokenEndpointAuthMethod};
use wekeza_store::identity::registration_tokens;
use wekeza_store::secret;

use crate::client_auth::signs_with;
use crate::endpoints::GRANT_TYPES;
use crate::jwt::{self, CLIENT_ALGORITHM_NAMES, CLIENT_ALGORITHMS};
use crate::tokens::scope_text;
use crate::{Error, Identity};

/// The longest `client_name` accepted, in characters.
const MAX_NAME_CHARS: usize = 100;
/// The scope of a client that registers none.
const DEFAULT_SCOPE: Scope = Scope::AccountsRead;
/// The grants of a client that registers none (see [`grant_types`]).
const DEFAULT_GRANT_TYPES: [&str; 3] =
    ["authorization_code", "refresh_token", "client_credentials"];
/// The response type of the authorization-code flow, the only one served.
const CODE: &str = "code";

/// The registration request: the client metadata the server understands (RFC 7591 §2).
#[derive(Debug, Deserialize)]
struct Metadata {
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    jwks: Option<Value>,
    jwks_uri: Option<Value>,
    scope: Option<String>,
    environment: Option<String>,
}

/// The checked metadata, as it will be registered.
#[derive(Debug)]
struct Registration {
    name: String,
    redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    method: TokenEndpointAuthMethod,
    jwks: Option<Value>,
    scopes: BTreeSet<Scope>,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidClientMetadata(why.into())
}

impl Identity {
    /// Registers the client the JSON `body` describes, for the initial access token of
    /// `headers`; answers the client information response.
    pub(crate) async fn register_client(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Value, Error> {
        let environment = self.registration_environment(headers, now).await?;
        let metadata: Metadata = serde_json::from_slice(body).map_err(|error| {
            invalid(format!(
                "unreadable client metadata (a JSON object): {error}"
            ))
        })?;
        let registration = Registration::check(metadata, environment)?;
        let jwks = registration
            .jwks
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|error| invalid(format!("jwks: {error}")))?;
        let created = apps::create(
            &self.inner.db,
            NewApp {
                name: registration.name.clone(),
                environment,
                redirect_uris: registration.redirect_uris.clone(),
                scopes: registration.scopes.clone(),
                token_endpoint_auth_method: registration.method,
                jwks,
                grant_types: Some(registration.grant_types.clone()),
                ..NewApp::default()
            },
            now,
            &mut secret::os_rng(),
        )
        .await?;
        let app = &created.app;
        tracing::info!(
            client_id = %app.client_id,
            environment = environment.as_str(),
            token_endpoint_auth_method = method_name(registration.method),
            "registered a client (RFC 7591)"
        );
        let mut answer = json!({
            "client_id": app.client_id,
            "client_id_issued_at": app.created_at.timestamp(),
            "client_name": registration.name,
            "redirect_uris": registration.redirect_uris,
            "grant_types": registration.grant_types,
            "response_types": registration.response_types,
            "token_endpoint_auth_method": method_name(registration.method),
            "scope": scope_text(&registration.scopes),
            "environment": environment.as_str(),
        });
        if let Some(jwks) = registration.jwks {
            answer["jwks"] = jwks;
        }
        if registration.method != TokenEndpointAuthMethod::PrivateKeyJwt {
            answer["client_secret"] = json!(created.client_secret);
            // The secret does not expire (§3.2.1: 0).
            answer["client_secret_expires_at"] = json!(0);
        }
        Ok(answer)
    }

    /// The environment the request's initial access token registers clients of.
    async fn registration_environment(
        &self,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<AppEnvironment, Error> {
        let refused =
            || Error::InvalidToken("the initial access token is unknown or expired".into());
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(Error::InvalidToken(
                "an initial access token is required as a Bearer token".into(),
            ));
        };
        if values.next().is_some() {
            return Err(Error::InvalidToken(
                "more than one Authorization header".into(),
            ));
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Error::InvalidToken("present the initial access token as a Bearer token".into())
            })?;
        let stored = registration_tokens::find(&self.inner.db, token)
            .await?
            .ok_or_else(refused)?;
        if stored.expires_at <= now {
            return Err(refused());
        }
        Ok(stored.environment)
    }
}

impl Registration {
    /// Checks `metadata` for a client of `environment`.
    fn check(metadata: Metadata, environment: AppEnvironment) -> Result<Self, Error> {
        if let Some(asked) = metadata.environment.as_deref()
            && asked != environment.as_str()
        {
            return Err(invalid(format!(
                "environment: this initial access token registers {} clients only",
                environment.as_str()
            )));
        }
        let name = client_name(metadata.client_name)?;
        let grant_types = grant_types(metadata.grant_types)?;
        let code_flow = grant_types
            .iter()
            .any(|grant| grant == "authorization_code");
        let response_types = response_types(metadata.response_types, code_flow)?;
        for uri in &metadata.redirect_uris {
            check_redirect_uri(uri, environment)?;
        }
        if code_flow && metadata.redirect_uris.is_empty() {
            return Err(Error::InvalidRedirectUri(
                "redirect_uris: the authorization_code grant needs at least one".into(),
            ));
        }
        if metadata.jwks_uri.is_some() {
            return Err(invalid(
                "jwks_uri is not supported: the server never fetches URLs; register the public \
                 keys inline as jwks",
            ));
        }
        let method = auth_method(
            metadata.token_endpoint_auth_method.as_deref(),
            metadata.jwks.is_some(),
            environment,
        )?;
        let jwks = match (method, metadata.jwks) {
            (TokenEndpointAuthMethod::PrivateKeyJwt, Some(jwks)) => Some(check_jwks(jwks)?),
            (TokenEndpointAuthMethod::PrivateKeyJwt, None) => {
                return Err(invalid(
                    "private_key_jwt needs the client's public keys inline as jwks",
                ));
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "jwks is registered only with token_endpoint_auth_method private_key_jwt",
                ));
            }
            (_, None) => None,
        };
        Ok(Self {
            name,
            redirect_uris: metadata.redirect_uris,
            grant_types,
            response_types,
            method,
            jwks,
            scopes: scopes(metadata.scope.as_deref())?,
        })
    }
}

/// `client_name`: present, not blank, no control characters, not too long.
fn client_name(name: Option<String>) -> Result<String, Error> {
    let name = name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("client_name is required"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("client_name must not hold control characters"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "client_name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

/// `grant_types`: known ones, each once. By default the three of the open-banking flow —
/// `authorization_code`, `refresh_token`, and `client_credentials` (the app's own token, which
/// creates consents) — rather than RFC 7591's `authorization_code` alone, with which a client
/// could not create the consents its customers authorise.
fn grant_types(asked: Option<Vec<String>>) -> Result<Vec<String>, Error> {
    let asked = asked.unwrap_or_else(|| {
        DEFAULT_GRANT_TYPES
            .iter()
            .map(|grant| (*grant).to_owned())
            .collect()
    });
    if asked.is_empty() {
        return Err(invalid("grant_types must not be empty"));
    }
    let mut grants: Vec<String> = Vec::with_capacity(asked.len());
    for grant in asked {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(format!("grant_types: {grant} is not supported")));
        }
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    let issues_refresh_tokens = grants
        .iter()
        .any(|grant| grant == "authorization_code" || grant == crate::CIBA_GRANT_TYPE);
    if grants.iter().any(|grant| grant == "refresh_token") && !issues_refresh_tokens {
        return Err(invalid(
            "grant_types: refresh_token needs authorization_code or the CIBA grant, which issue \
             refresh tokens",
        ));
    }
    Ok(grants)
}

/// `response_types`: `["code"]` with the authorization-code grant, none without.
fn response_types(asked: Option<Vec<String>>, code_flow: bool) -> Result<Vec<String>, Error> {
    let expected: Vec<String> = if code_flow {
        vec![CODE.to_owned()]
    } else {
        Vec::new()
    };
    let Some(mut asked) = asked else {
        return Ok(expected);
    };
    if let Some(other) = asked.iter().find(|kind| *kind != CODE) {
        return Err(invalid(format!(
            "response_types: {other} is not supported; only code is"
        )));
    }
    asked.dedup();
    if asked != expected {
        return Err(invalid(
            "response_types code goes with grant_types authorization_code, and only with it",
        ));
    }
    Ok(asked)
}

/// A redirect URI a client of `environment` may register.
fn check_redirect_uri(uri: &str, environment: AppEnvironment) -> Result<(), Error> {
    let refused = |why: &str| Error::InvalidRedirectUri(format!("{uri}: {why}"));
    if uri.contains('#') {
        return Err(refused("must not have a fragment"));
    }
    let parsed: Uri = uri.parse().map_err(|_| refused("is not an absolute URL"))?;
    let host = parsed
        .host()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| refused("is not an absolute URL"))?;
    match (parsed.scheme_str(), environment) {
        (Some("https"), _) => Ok(()),
        (Some("http"), AppEnvironment::Sandbox)
            if matches!(host, "127.0.0.1" | "[::1]" | "localhost") =>
        {
            Ok(())
        }
        (Some("http"), AppEnvironment::Sandbox) => Err(refused(
            "http is allowed only on the loopback host (127.0.0.1, [::1], localhost)",
        )),
        (_, AppEnvironment::Sandbox) => {
            Err(refused("must use https (or http on the loopback host)"))
        }
        (_, AppEnvironment::Production) => Err(refused("production clients must use https")),
    }
}

/// `token_endpoint_auth_method`, or its default.
fn auth_method(
    asked: Option<&str>,
    has_jwks: bool,
    environment: AppEnvironment,
) -> Result<TokenEndpointAuthMethod, Error> {
    let method = match asked {
        Some("private_key_jwt") => TokenEndpointAuthMethod::PrivateKeyJwt,
        Some("client_secret_basic") => TokenEndpointAuthMethod::ClientSecretBasic,
        Some("client_secret_post") => TokenEndpointAuthMethod::ClientSecretPost,
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method {other} is not supported"
            )));
        }
        None if has_jwks || environment == AppEnvironment::Production => {
            TokenEndpointAuthMethod::PrivateKeyJwt
        }
        None => TokenEndpointAuthMethod::ClientSecretBasic,
    };
    if environment == AppEnvironment::Production && method != TokenEndpointAuthMethod::PrivateKeyJwt
    {
        return Err(invalid(
            "production clients authenticate with private_key_jwt; client secrets are for the \
             sandbox",
        ));
    }
    Ok(method)
}

/// The RFC 8414 name of `method`.
fn method_name(method: TokenEndpointAuthMethod) -> &'static str {
    match method {
        TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
        TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
        TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
    }
}

/// `jwks`: a JWK Set of public keys only, at least one of which verifies client assertions, and
/// a distinct `kid` on each key when there are several (an assertion names its key by `kid`).
fn check_jwks(jwks: Value) -> Result<Value, Error> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .filter(|keys| !keys.is_empty())
        .ok_or_else(|| invalid("jwks must be a JWK Set with at least one key"))?;
    let mut kids = BTreeSet::new();
    let mut signing_keys = 0;
    for (index, raw) in keys.iter().enumerate() {
        let raw = raw
            .as_object()
            .ok_or_else(|| invalid(format!("jwks key {index} is not a JSON object")))?;
        let (jwk, _) =
            jwt::public_key(raw).map_err(|why| invalid(format!("jwks key {index}: {why}")))?;
        if keys.len() > 1 {
            let fresh = jwk
                .common
                .key_id
                .as_ref()
                .is_some_and(|kid| kids.insert(kid.clone()));
            if !fresh {
                return Err(invalid(format!(
                    "jwks key {index}: with several keys, each needs its own kid"
                )));
            }
        }
        if CLIENT_ALGORITHMS
            .iter()
            .any(|algorithm| signs_with(&jwk, *algorithm))
        {
            signing_keys += 1;
        }
    }
    if signing_keys == 0 {
        return Err(invalid(format!(
            "jwks holds no signing key for an accepted algorithm ({})",
            CLIENT_ALGORITHM_NAMES.join(", ")
        )));
    }
    Ok(jwks)
}

/// `scope`: space-separated platform scopes; [`DEFAULT_SCOPE`] when absent.
fn scopes(asked: Option<&str>) -> Result<BTreeSet<Scope>, Error> {
    let Some(text) = asked else {
        return Ok(BTreeSet::from([DEFAULT_SCOPE]));
    };
    let scopes = text
        .split(' ')
        .filter(|name| !name.is_empty())
        .map(|name| {
            name.parse::<Scope>()
                .map_err(|error| invalid(format!("scope: {error}")))
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    if scopes.is_empty() {
        return Err(invalid("scope must name at least one scope"));
    }
    Ok(scopes)
}
