//! The HTTP endpoints of the authorization server: discovery (OpenID Connect Discovery and
//! RFC 8414 metadata, one document), the JWKS, the backchannel authentication endpoint (CIBA),
//! the token endpoint (client credentials, authorization code, refresh token, CIBA),
//! introspection (RFC 7662) and revocation (RFC 7009) of access and refresh tokens, the
//! UserInfo endpoint (OpenID Connect Core §5.3) and dynamic client registration (RFC 7591).
//!
//! Errors follow RFC 6749 §5.2 (`{"error": …, "error_description": …}`, see [`Error`]); the
//! protected endpoints (userinfo, registration) add RFC 6750 challenges. Token, introspection,
//! userinfo and registration answers are never cached.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wekeza_domain::{AuditEvent, Scope};
use wekeza_store::apps::{App, AppEnvironment};

use wekeza_gateway::record::CallRecord;

use crate::audit::{
    name_app, refresh_token_id, token_event, with_access_token, with_refresh_token,
};
use crate::challenge::{Scheme, refusal};
use crate::ciba::CIBA_GRANT_TYPE;
use crate::client_auth::require_grant;
use crate::dpop::{DPOP_HEADER, ProofTarget};
use crate::form::Form;
use crate::issuer::{
    AUTHORIZATION_PATH, BACKCHANNEL_AUTHENTICATION_PATH, DISCOVERY_PATH, INTROSPECTION_PATH,
    JWKS_PATH, METADATA_PATH, PAR_PATH, REGISTRATION_PATH, REVOCATION_PATH, TOKEN_PATH,
    USERINFO_PATH,
};
use crate::jwt::CLIENT_ALGORITHM_NAMES;
use crate::throttle::Source;
use crate::tokens::ACCESS_TOKEN_TTL;
use crate::userinfo::CLAIMS_SUPPORTED;
use crate::{Error, Identity};

/// The grant types the token endpoint serves.
pub(crate) const GRANT_TYPES: [&str; 4] = [
    "client_credentials",
    "authorization_code",
    "refresh_token",
    CIBA_GRANT_TYPE,
];

/// The client authentication methods of every authenticated endpoint.
const AUTH_METHODS: [&str; 3] = [
    "private_key_jwt",
    "client_secret_basic",
    "client_secret_post",
];

/// The identity routes, to merge into the public router.
pub(crate) fn router(identity: Identity) -> Router {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route(METADATA_PATH, get(discovery))
        .route(JWKS_PATH, get(jwks))
        .route(PAR_PATH, post(par))
        .route(
            BACKCHANNEL_AUTHENTICATION_PATH,
            post(backchannel_authentication),
        )
        .route(TOKEN_PATH, post(token))
        .route(INTROSPECTION_PATH, post(introspect))
        .route(REVOCATION_PATH, post(revoke))
        .route(USERINFO_PATH, get(userinfo).post(userinfo))
        .route(REGISTRATION_PATH, post(register))
        .with_state(identity)
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1).
fn no_store(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn answer(result: Result<Value, Error>) -> Response {
    match result {
        Ok(body) => no_store(StatusCode::OK, &body),
        Err(error) => error.into_response(),
    }
}

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
async fn discovery(State(identity): State<Identity>) -> Response {
    let issuer = identity.issuer();
    let scopes: Vec<&str> = Scope::ALL.iter().map(|scope| scope.as_str()).collect();
    let document = json!({
        "issuer": issuer.as_str(),
        "jwks_uri": issuer.url(JWKS_PATH),
        "authorization_endpoint": issuer.url(AUTHORIZATION_PATH),
        "pushed_authorization_request_endpoint": issuer.url(PAR_PATH),
        "require_pushed_authorization_requests": true,
        "token_endpoint": issuer.url(TOKEN_PATH),
        "introspection_endpoint": issuer.url(INTROSPECTION_PATH),
        "revocation_endpoint": issuer.url(REVOCATION_PATH),
        "userinfo_endpoint": issuer.url(USERINFO_PATH),
        "registration_endpoint": issuer.url(REGISTRATION_PATH),
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": [crate::pkce::S256],
        "authorization_response_iss_parameter_supported": true,
        "acr_values_supported": [wekeza_domain::STEP_UP_ACR],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [crate::keys::SIGNING_ALGORITHM_NAME],
        "scopes_supported": scopes,
        "claims_supported": CLAIMS_SUPPORTED,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ALGORITHM_NAMES,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ALGORITHM_NAMES,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ALGORITHM_NAMES,
        "dpop_signing_alg_values_supported": CLIENT_ALGORITHM_NAMES,
        "backchannel_authentication_endpoint": issuer.url(BACKCHANNEL_AUTHENTICATION_PATH),
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_user_code_parameter_supported": false,
    });
    let mut response = axum::Json(document).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET /oauth2/jwks`: every published signing key. Cached briefly, so a rotation reaches
/// resource servers well before the old key is withdrawn.
async fn jwks(State(identity): State<Identity>) -> Response {
    match identity.inner.keys.jwks(identity.now()).await {
        Ok(document) => {
            let mut response = axum::Json(document.as_ref()).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /oauth2/par` (RFC 9126): 201 with the `request_uri`.
async fn par(
    State(identity): State<Identity>,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = identity.now();
    match identity
        .push_authorization_request(&headers, &body, source, now)
        .await
    {
        Ok(body) => no_store(StatusCode::CREATED, &body),
        Err(error) => error.into_response(),
    }
}

/// `POST /oauth2/bc-authorize` (CIBA Core §7): 200 with the `auth_req_id`.
async fn backchannel_authentication(
    State(identity): State<Identity>,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = identity.now();
    answer(
        identity
            .backchannel_authenticate(&headers, &body, source, now)
            .await,
    )
}

/// The call's record, outside a platform a fresh one nobody reads.
type Record = Option<Extension<CallRecord>>;

fn call_record(record: Record) -> CallRecord {
    record.map(|Extension(record)| record).unwrap_or_default()
}

/// `POST /oauth2/token`.
async fn token(
    State(identity): State<Identity>,
    record: Record,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(grant(&identity, &call_record(record), &headers, &body, source).await)
}

async fn grant(
    identity: &Identity,
    record: &CallRecord,
    headers: &HeaderMap,
    body: &[u8],
    source: Source,
) -> Result<Value, Error> {
    let now = identity.now();
    let form = Form::parse(headers, body)?;
    let grant_type = form.require("grant_type")?;
    if !GRANT_TYPES.contains(&grant_type) {
        return Err(Error::UnsupportedGrantType(format!(
            "grant_type {grant_type} is not supported"
        )));
    }
    let endpoint = identity.issuer().url(TOKEN_PATH);
    let app = identity
        .authenticate_client(headers, &form, &endpoint, source, now)
        .await?;
    name_app(record, &app);
    require_grant(&app, grant_type)?;
    // A valid proof binds the new access token to its key, whatever the grant. Production
    // apps must bind every token (FAPI 2.0 sender-constraining); sandbox apps may use Bearer.
    let jkt = if headers.contains_key(DPOP_HEADER) {
        let target = ProofTarget {
            method: &Method::POST,
            url: &endpoint,
            access_token: None,
        };
        Some(identity.verify_dpop_proof(headers, target, now).await?)
    } else if app.environment == AppEnvironment::Production {
        return Err(Error::InvalidDpopProof(
            "production apps must send a DPoP proof: their tokens are sender-constrained".into(),
        ));
    } else {
        None
    };
    let tokens = match grant_type {
        "authorization_code" => identity.redeem_code(&app, &form, jkt, now).await?,
        "refresh_token" => identity.refresh(&app, &form, jkt, now).await?,
        CIBA_GRANT_TYPE => identity.redeem_backchannel(&app, &form, jkt, now).await?,
        _ => {
            let scopes = granted_scopes(&app, form.get("scope"))?;
            let issued = identity.issue_client_token(&app, &scopes, jkt, now).await?;
            identity.audit(
                with_access_token(token_event("issued", &app, now), &issued.claims)
                    .detail("grantType", grant_type),
            );
            tracing::info!(
                client_id = %app.client_id,
                token_type = issued.claims.token_type(),
                "issued a client-credentials token"
            );
            return Ok(json!({
                "access_token": issued.token,
                "token_type": issued.claims.token_type(),
                "expires_in": ACCESS_TOKEN_TTL.num_seconds(),
                "scope": issued.claims.scope,
            }));
        }
    };
    let action = if grant_type == "refresh_token" {
        "refreshed"
    } else {
        "issued"
    };
    identity.audit(
        with_access_token(token_event(action, &app, now), &tokens.access.claims)
            .detail("grantType", grant_type)
            .detail_if(
                "refreshTokenId",
                tokens.refresh_token.as_deref().map(refresh_token_id),
            ),
    );
    let mut body = json!({
        "access_token": tokens.access.token,
        "token_type": tokens.access.claims.token_type(),
        "expires_in": ACCESS_TOKEN_TTL.num_seconds(),
        "scope": tokens.access.claims.scope,
    });
    if let Some(refresh_token) = tokens.refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    if let Some(consent_id) = tokens.access.claims.consent_id {
        body["consent_id"] = json!(consent_id);
    }
    if let Some(id_token) = tokens.id_token {
        body["id_token"] = json!(id_token);
    }
    Ok(body)
}

/// The scopes a client-credentials token gets: those requested, each of which the app must
/// hold; all of the app's when none are requested.
fn granted_scopes(app: &App, requested: Option<&str>) -> Result<BTreeSet<Scope>, Error> {
    let Some(requested) = requested else {
        return Ok(app.scopes.clone());
    };
    let scopes =
        Scope::parse_list(requested).map_err(|error| Error::InvalidScope(error.to_string()))?;
    if let Some(missing) = scopes.iter().find(|scope| !app.scopes.contains(scope)) {
        return Err(Error::InvalidScope(format!(
            "the client may not request {missing}"
        )));
    }
    Ok(scopes.into_iter().collect())
}

/// `POST /oauth2/introspect`: a client learns about its own tokens only; anything else,
/// including other clients' tokens, is `{"active": false}`.
async fn introspect(
    State(identity): State<Identity>,
    record: Record,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(introspection(&identity, &call_record(record), &headers, &body, source).await)
}

/// Introspection of the client's token; the answer is audited with the token's ids (its own
/// tokens only) and whether it was active.
async fn introspection(
    identity: &Identity,
    record: &CallRecord,
    headers: &HeaderMap,
    body: &[u8],
    source: Source,
) -> Result<Value, Error> {
    let now = identity.now();
    let form = Form::parse(headers, body)?;
    let endpoint = identity.issuer().url(INTROSPECTION_PATH);
    let app = identity
        .authenticate_client(headers, &form, &endpoint, source, now)
        .await?;
    name_app(record, &app);
    let token = form.require("token")?;
    let event = token_event("introspected", &app, now);
    let (answer, event) = if token.contains('.') {
        access_introspection(identity, &app, token, event, now).await?
    } else {
        refresh_introspection(identity, &app, token, event, now).await?
    };
    let active = if answer["active"] == true {
        "true"
    } else {
        "false"
    };
    identity.audit(event.detail("active", active));
    Ok(answer)
}

/// Introspection of an access token: active while valid, the asking client's, and its consent
/// (if any) still usable.
async fn access_introspection(
    identity: &Identity,
    app: &App,
    token: &str,
    event: AuditEvent,
    now: DateTime<Utc>,
) -> Result<(Value, AuditEvent), Error> {
    let inactive = json!({ "active": false });
    let claims = match identity.verify_access_token(token, now).await {
        Ok(claims) if claims.client_id == app.client_id => claims,
        Ok(_) | Err(Error::InvalidToken(_)) => return Ok((inactive, event)),
        Err(error) => return Err(error),
    };
    let event = with_access_token(event, &claims);
    if let Some(consent_id) = &claims.consent_id
        && identity
            .token_consent(&app.id, consent_id, &claims.sub, now)
            .await?
            .is_err()
    {
        return Ok((inactive, event));
    }
    let mut body = json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "token_type": claims.token_type(),
        "iss": claims.iss,
        "aud": claims.aud,
        "jti": claims.jti,
        "iat": claims.iat,
        "exp": claims.exp,
    });
    if let Some(confirmation) = &claims.cnf {
        body["cnf"] = json!({ "jkt": confirmation.jkt });
    }
    if let Some(consent_id) = &claims.consent_id {
        body["consent_id"] = json!(consent_id);
    }
    Ok((body, event))
}

/// Introspection of a refresh token (anything that is not a JWT): active while unused,
/// unrevoked, unexpired, the asking client's, and its consent still authorised.
async fn refresh_introspection(
    identity: &Identity,
    app: &App,
    token: &str,
    event: AuditEvent,
    now: DateTime<Utc>,
) -> Result<(Value, AuditEvent), Error> {
    let inactive = json!({ "active": false });
    // Another client's token is inactive to this one, and not named in its audit record.
    let Some(row) = identity
        .find_refresh_token(token)
        .await?
        .filter(|row| row.client_id == app.client_id)
    else {
        return Ok((inactive, event));
    };
    let event = with_refresh_token(event, &row);
    let live = row.rotated_at.is_none() && row.revoked_at.is_none() && now < row.expires_at;
    if !live
        || identity
            .bound_consent(&app.id, &row.consent_id, &row.customer_id, now)
            .await?
            .is_err()
    {
        return Ok((inactive, event));
    }
    let answer = json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": row.scope,
        "client_id": row.client_id,
        "sub": row.customer_id,
        "iss": identity.issuer().as_str(),
        "iat": row.created_at.timestamp(),
        "exp": row.expires_at.timestamp(),
        "consent_id": row.consent_id,
    });
    Ok((answer, event))
}

/// `POST /oauth2/revoke`: the token stops working on the next call. Unknown, malformed or
/// expired tokens are answered 200 too (RFC 7009 §2.2); another client's token is refused.
async fn revoke(
    State(identity): State<Identity>,
    record: Record,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revocation(&identity, &call_record(record), &headers, &body, source).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Revocation of the client's token; a revoked token is audited with its ids.
async fn revocation(
    identity: &Identity,
    record: &CallRecord,
    headers: &HeaderMap,
    body: &[u8],
    source: Source,
) -> Result<(), Error> {
    let now = identity.now();
    let form = Form::parse(headers, body)?;
    let endpoint = identity.issuer().url(REVOCATION_PATH);
    let app = identity
        .authenticate_client(headers, &form, &endpoint, source, now)
        .await?;
    name_app(record, &app);
    let token = form.require("token")?;
    if !token.contains('.') {
        // A refresh token: revoking it revokes its family (RFC 7009 §2.1).
        let Some(row) = identity.find_refresh_token(token).await? else {
            return Ok(());
        };
        if row.client_id != app.client_id {
            return Err(Error::UnauthorizedClient(
                "the token was issued to another client".into(),
            ));
        }
        identity.revoke_family(&row.grant_id, now).await?;
        identity.audit(with_refresh_token(token_event("revoked", &app, now), &row));
        tracing::info!(client_id = %app.client_id, "refresh token revoked");
        return Ok(());
    }
    let claims = match identity.decode_access_token(token, now).await {
        Ok(claims) => claims,
        Err(Error::InvalidToken(_)) => return Ok(()),
        Err(error) => return Err(error),
    };
    if claims.client_id != app.client_id {
        return Err(Error::UnauthorizedClient(
            "the token was issued to another client".into(),
        ));
    }
    identity.revoke(&claims, now).await?;
    identity.audit(with_access_token(
        token_event("revoked", &app, now),
        &claims,
    ));
    Ok(())
}

/// `GET` and `POST /oauth2/userinfo` (OpenID Connect Core §5.3): the claims about the customer
/// of the access token the gateway authenticated.
async fn userinfo(State(identity): State<Identity>, request: Request) -> Response {
    match identity.userinfo(request.extensions()).await {
        Ok(claims) => no_store(StatusCode::OK, &claims),
        Err(error) => refusal(error, &Scheme::ALL, Scheme::used(request.headers())),
    }
}

/// `POST /oauth2/register` (RFC 7591): 201 with the new client's id and metadata.
async fn register(State(identity): State<Identity>, headers: HeaderMap, body: Bytes) -> Response {
    let now = identity.now();
    match identity.register_client(&headers, &body, now).await {
        Ok(client) => no_store(StatusCode::CREATED, &client),
        Err(error) => refusal(error, &[Scheme::Bearer], Scheme::used(&headers)),
    }
}
