//! Dynamic client registration (RFC 7591) and the UserInfo endpoint (OpenID Connect Core §5.3)
//! through real HTTP clients.
//!
//! Registration: an operator's initial access token (made by the real `wekeza` binary, or by the
//! store function it calls, on the server's clock) lets a developer register a client, which
//! then gets tokens like any app — a production client with a signed assertion, a sandbox one
//! with its secret — and everything the endpoint must refuse. UserInfo: customers' tokens from
//! the consent flow, over Bearer and DPoP, and the tokens it must refuse.

use chrono::{DateTime, Duration, Utc};
use reqwest::header::HeaderMap;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use wekeza_domain::{Clock, Scope};
use wekeza_identity::testing::ClientKey;
use wekeza_store::apps::{self, AppEnvironment, TokenEndpointAuthMethod};
use wekeza_store::identity::entity::registration_tokens;
use wekeza_store::identity::registration_tokens::issue;
use wekeza_testkit::TestServer;

use crate::identity::{assert_oauth_error, capture_logs, send, url, with_assertion};
use crate::identity_flow::{self as flow, REDIRECT, TestApp};

/// An initial access token of `environment`, valid `ttl` from the server's now.
async fn registration_token(
    server: &TestServer,
    environment: AppEnvironment,
    ttl: Duration,
) -> String {
    issue(
        server.database.conn(),
        environment,
        ttl,
        server.clock.now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap()
    .token
}

/// `POST /oauth2/register` with `metadata`, authenticated by `token` when given.
async fn register(
    server: &TestServer,
    token: Option<&str>,
    metadata: &Value,
) -> (u16, Value, HeaderMap) {
    let request = server
        .http
        .post(url(server, "/oauth2/register"))
        .json(metadata);
    send(match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    })
    .await
}

/// A fresh sandbox initial access token, and the answer to registering `metadata` with it.
async fn register_in_sandbox(
    server: &TestServer,
    metadata: &Value,
) -> (String, (u16, Value, HeaderMap)) {
    let token = registration_token(server, AppEnvironment::Sandbox, Duration::hours(24)).await;
    let answer = register(server, Some(&token), metadata).await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    (token, answer)
}

/// A client-credentials token response for the registered secret client `client` (its
/// registration answer), by HTTP Basic.
async fn secret_token(server: &TestServer, client: &Value) -> Value {
    let answer = send(
        server
            .http
            .post(url(server, "/oauth2/token"))
            .basic_auth(
                client["client_id"].as_str().unwrap(),
                client["client_secret"].as_str(),
            )
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    answer.1
}

/// Asserts an OAuth error answer whose description says `says`.
#[track_caller]
fn assert_refused(answer: &(u16, Value, HeaderMap), status: u16, error: &str, says: &str) {
    assert_oauth_error(answer, status, error);
    let description = answer.1["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(says), "{}", answer.1);
}

/// The `WWW-Authenticate` challenges of an answer.
fn challenges(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// A private_key_jwt client's metadata, with `key`'s public JWK.
fn keyed_metadata(key: &ClientKey) -> Value {
    json!({
        "client_name": "Budget buddy",
        "redirect_uris": ["https://app.example/callback"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": { "keys": [key.public_jwk()] },
        "scope": "accounts.read openid",
    })
}

/// A client-credentials token of `client_id` by a signed assertion, DPoP-bound to `key`.
async fn assertion_token(
    server: &TestServer,
    key: &ClientKey,
    client_id: &str,
    now: DateTime<Utc>,
) -> (u16, Value, HeaderMap) {
    let token_endpoint = url(server, "/oauth2/token");
    send(
        with_assertion(server, &key.assertion(client_id, &token_endpoint, now))
            .header("dpop", key.dpop_proof("POST", &token_endpoint, now, None)),
    )
    .await
}

#[tokio::test]
async fn a_cli_made_token_registers_a_production_client_that_gets_tokens_by_assertion() {
    let server = TestServer::start().await;
    let (_, discovery, _) = send(
        server
            .http
            .get(url(&server, "/.well-known/openid-configuration")),
    )
    .await;
    assert_eq!(
        discovery["registration_endpoint"],
        url(&server, "/oauth2/register")
    );
    assert_eq!(
        discovery["userinfo_endpoint"],
        url(&server, "/oauth2/userinfo")
    );
    assert_eq!(
        discovery["claims_supported"],
        json!(["sub", "name", "email", "phone_number"])
    );

    // The operator makes a token with the real binary, on the server's database.
    let output = crate::cli::wekeza_succeeds(
        server.database.url(),
        &[
            "apps",
            "registration-token",
            "--environment",
            "production",
            "--json",
        ],
    )
    .await;
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = printed["token"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("wk_reg_") && token.len() >= 7 + 43,
        "256 bits"
    );
    assert_eq!(printed["environment"], "production");
    let expires_at: DateTime<Utc> = printed["expiresAt"].as_str().unwrap().parse().unwrap();
    let in_a_day = Utc::now() + Duration::hours(24);
    assert!(
        (expires_at - in_a_day).num_seconds().abs() < 60,
        "24 h by default"
    );
    // Stored as its hash only.
    let rows = registration_tokens::Entity::find()
        .all(server.database.conn())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, wekeza_store::secret::sha256_hex(&token));
    assert_eq!(rows[0].environment, AppEnvironment::Production);

    // The developer registers a private_key_jwt client with it.
    let key = ClientKey::generate();
    let answer = register(&server, Some(&token), &keyed_metadata(&key)).await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    assert_eq!(answer.2["cache-control"], "no-store");
    let client = &answer.1;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("app_"), "{client}");
    assert_eq!(
        client["client_id_issued_at"],
        server.clock.now().timestamp()
    );
    assert_eq!(client["client_name"], "Budget buddy");
    assert_eq!(
        client["redirect_uris"],
        json!(["https://app.example/callback"])
    );
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(client["response_types"], json!(["code"]));
    assert_eq!(client["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(client["scope"], "accounts.read openid");
    assert_eq!(client["environment"], "production");
    assert_eq!(client["jwks"], json!({ "keys": [key.public_jwk()] }));
    assert!(client.get("client_secret").is_none(), "no secret to show");

    // It is a normal app.
    let app = apps::find_by_client_id(server.database.conn(), &client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.environment, AppEnvironment::Production);
    assert_eq!(
        app.token_endpoint_auth_method,
        TokenEndpointAuthMethod::PrivateKeyJwt
    );
    assert_eq!(app.redirect_uris, ["https://app.example/callback"]);
    assert_eq!(
        app.scopes.iter().copied().collect::<Vec<_>>(),
        [Scope::AccountsRead, Scope::OpenId]
    );

    // It authenticates with a signed assertion (and, being a production client, binds its token).
    let tokens = assertion_token(&server, &key, &client_id, server.clock.now()).await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
    assert_eq!(tokens.1["token_type"], "DPoP");
    assert_eq!(tokens.1["scope"], "accounts.read openid");

    // The token registers more clients of its environment until it expires.
    let other = register(
        &server,
        Some(&token),
        &keyed_metadata(&ClientKey::generate()),
    )
    .await;
    assert_eq!(other.0, 201, "{}", other.1);
    assert_ne!(other.1["client_id"], client_id.as_str());
}

#[tokio::test]
async fn a_sandbox_client_registers_with_a_secret_and_gets_tokens() {
    let server = TestServer::start().await;
    // Defaults: the open-banking flow's grants, client_secret_basic, accounts.read.
    let metadata = json!({
        "client_name": "Local dev",
        "redirect_uris": ["http://127.0.0.1:3000/callback", "http://localhost/cb"],
        "logo_uri": "https://app.example/logo.png",
    });
    let (token, answer) = register_in_sandbox(&server, &metadata).await;
    let client = &answer.1;
    assert_eq!(client["environment"], "sandbox");
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(client["response_types"], json!(["code"]));
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(client["scope"], "accounts.read");
    assert_eq!(client["client_secret_expires_at"], 0);
    assert!(
        client.get("logo_uri").is_none(),
        "not registered, not echoed"
    );
    let client_id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256 bits");
    assert_eq!(
        secret_token(&server, client).await["scope"],
        "accounts.read"
    );
    let stored = apps::find_by_client_id(server.database.conn(), client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(apps::verify_client_secret(&stored, secret));
    assert_eq!(stored.environment, AppEnvironment::Sandbox);

    // client_secret_post, for a client-credentials-only client with two scopes.
    let answer = register(
        &server,
        Some(&token),
        &json!({
            "client_name": "Payments bot",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "payments.initiate webhooks.manage",
        }),
    )
    .await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    assert_eq!(answer.1["response_types"], json!([]));
    assert_eq!(answer.1["redirect_uris"], json!([]));
    let posted = send(server.http.post(url(&server, "/oauth2/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", answer.1["client_id"].as_str().unwrap()),
        ("client_secret", answer.1["client_secret"].as_str().unwrap()),
    ]))
    .await;
    assert_eq!(posted.0, 200, "{}", posted.1);
    assert_eq!(posted.1["scope"], "payments.initiate webhooks.manage");
    // The grants it did not register are refused it: the code flow (PAR), CIBA, refresh.
    let bot_id = answer.1["client_id"].as_str().unwrap();
    let bot_secret = answer.1["client_secret"].as_str().unwrap();
    for (path, grant) in [
        ("/oauth2/par", vec![("response_type", "code")]),
        ("/oauth2/bc-authorize", vec![("login_hint", "user_good")]),
        (
            "/oauth2/token",
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
        ),
        (
            "/oauth2/token",
            vec![("grant_type", "authorization_code"), ("code", "x")],
        ),
    ] {
        let mut form = vec![("client_id", bot_id), ("client_secret", bot_secret)];
        form.extend(grant);
        let refused = send(server.http.post(url(&server, path)).form(&form)).await;
        assert_eq!(refused.0, 400, "{path}: {}", refused.1);
        assert_eq!(refused.1["error"], "unauthorized_client", "{path}");
    }

    // A sandbox client may use private_key_jwt too (the default when it registers keys).
    let key = ClientKey::generate();
    let answer = register(
        &server,
        Some(&token),
        &json!({
            "client_name": "Keyed sandbox client",
            "grant_types": ["client_credentials"],
            "jwks": { "keys": [key.public_jwk()] },
        }),
    )
    .await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    assert_eq!(answer.1["token_endpoint_auth_method"], "private_key_jwt");
    assert!(answer.1.get("client_secret").is_none());
    let client_id = answer.1["client_id"].as_str().unwrap();
    let tokens = assertion_token(&server, &key, client_id, server.clock.now()).await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
}

#[tokio::test]
async fn registration_refuses_bad_tokens_and_bad_metadata() {
    let server = TestServer::start().await;
    let sandbox = registration_token(&server, AppEnvironment::Sandbox, Duration::hours(24)).await;
    let production =
        registration_token(&server, AppEnvironment::Production, Duration::hours(24)).await;
    let short_lived =
        registration_token(&server, AppEnvironment::Sandbox, Duration::hours(1)).await;
    let key = ClientKey::generate();
    let minimal = json!({ "client_name": "Budget buddy", "redirect_uris": [REDIRECT] });

    // Without a token, the Bearer challenge alone; with a bad one, its error too.
    let anonymous = register(&server, None, &minimal).await;
    assert_oauth_error(&anonymous, 401, "invalid_token");
    assert_eq!(challenges(&anonymous.2), ["Bearer realm=\"wekeza\""]);
    let unknown = register(&server, Some("wk_reg_not-a-token"), &minimal).await;
    assert_oauth_error(&unknown, 401, "invalid_token");
    assert_eq!(
        challenges(&unknown.2),
        ["Bearer realm=\"wekeza\", error=\"invalid_token\""]
    );
    let basic = send(
        server
            .http
            .post(url(&server, "/oauth2/register"))
            .basic_auth("someone", Some(&sandbox))
            .json(&minimal),
    )
    .await;
    assert_oauth_error(&basic, 401, "invalid_token");
    // A client's access token is no initial access token.
    let app = flow::register(&server, &[Scope::AccountsRead]).await;
    assert_oauth_error(
        &register(&server, Some(&app.token), &minimal).await,
        401,
        "invalid_token",
    );

    let with_key = |extra: Value| {
        let mut metadata = keyed_metadata(&key);
        for (name, value) in extra.as_object().unwrap() {
            metadata[name] = value.clone();
        }
        metadata
    };
    let private_jwk = {
        let mut jwk = key.public_jwk();
        jwk["d"] = json!("c2VjcmV0");
        jwk
    };
    let refused = [
        (
            "a sandbox token registering a production client",
            &sandbox,
            json!({ "client_name": "x", "redirect_uris": [REDIRECT], "environment": "production" }),
            "invalid_client_metadata",
        ),
        (
            "a production client with a client secret",
            &production,
            json!({
                "client_name": "x",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "client_secret_basic",
            }),
            "invalid_client_metadata",
        ),
        (
            "a production client without keys",
            &production,
            minimal.clone(),
            "invalid_client_metadata",
        ),
        (
            "a production client on plain http",
            &production,
            with_key(json!({ "redirect_uris": ["http://127.0.0.1:3000/cb"] })),
            "invalid_redirect_uri",
        ),
        (
            "the code grant without a redirect URI",
            &sandbox,
            json!({ "client_name": "x" }),
            "invalid_redirect_uri",
        ),
        (
            "an unknown scope",
            &sandbox,
            json!({ "client_name": "x", "redirect_uris": [REDIRECT], "scope": "accounts.write" }),
            "invalid_client_metadata",
        ),
        (
            "jwks_uri",
            &production,
            json!({
                "client_name": "x",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": "https://app.example/jwks.json",
            }),
            "invalid_client_metadata",
        ),
        (
            "a private key in jwks",
            &production,
            with_key(json!({ "jwks": { "keys": [private_jwk] } })),
            "invalid_client_metadata",
        ),
        (
            "a symmetric key in jwks",
            &production,
            with_key(json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } })),
            "invalid_client_metadata",
        ),
        (
            "an empty jwks",
            &production,
            with_key(json!({ "jwks": { "keys": [] } })),
            "invalid_client_metadata",
        ),
        (
            "two keys without kids",
            &production,
            with_key(json!({ "jwks": { "keys": [
                ClientKey::generate().bare_jwk(),
                ClientKey::generate().bare_jwk(),
            ] } })),
            "invalid_client_metadata",
        ),
        (
            "an encryption key only",
            &production,
            with_key(json!({ "jwks": { "keys": [{
                "kty": "EC", "crv": "P-256", "use": "enc",
                "x": key.bare_jwk()["x"], "y": key.bare_jwk()["y"],
            }] } })),
            "invalid_client_metadata",
        ),
        (
            "keys with a secret method",
            &sandbox,
            with_key(json!({ "token_endpoint_auth_method": "client_secret_basic" })),
            "invalid_client_metadata",
        ),
        (
            "an unknown authentication method",
            &sandbox,
            json!({
                "client_name": "x",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "none",
            }),
            "invalid_client_metadata",
        ),
        (
            "an unknown grant type",
            &sandbox,
            json!({ "client_name": "x", "redirect_uris": [REDIRECT], "grant_types": ["password"] }),
            "invalid_client_metadata",
        ),
        (
            "refresh tokens without a grant issuing them",
            &sandbox,
            json!({ "client_name": "x", "grant_types": ["client_credentials", "refresh_token"] }),
            "invalid_client_metadata",
        ),
        (
            "the implicit flow",
            &sandbox,
            json!({ "client_name": "x", "redirect_uris": [REDIRECT], "response_types": ["token"] }),
            "invalid_client_metadata",
        ),
        (
            "the code response type without the code grant",
            &sandbox,
            json!({
                "client_name": "x",
                "grant_types": ["client_credentials"],
                "response_types": ["code"],
            }),
            "invalid_client_metadata",
        ),
        (
            "no client name",
            &sandbox,
            json!({ "redirect_uris": [REDIRECT] }),
            "invalid_client_metadata",
        ),
        (
            "redirect URIs that are no list",
            &sandbox,
            json!({ "client_name": "x", "redirect_uris": REDIRECT }),
            "invalid_client_metadata",
        ),
    ];
    // Redirect URIs even a sandbox client may not register: plain http off the loopback host,
    // a fragment, a relative URI, a custom scheme.
    let bad_uris = [
        "http://app.example/cb",
        "https://app.example/cb#top",
        "/cb",
        "com.example.app:/cb",
    ];
    let refused = refused.into_iter().chain(bad_uris.map(|uri| {
        (
            uri,
            &sandbox,
            json!({ "client_name": "x", "redirect_uris": [uri] }),
            "invalid_redirect_uri",
        )
    }));
    for (case, token, metadata, error) in refused {
        let answer = register(&server, Some(token), &metadata).await;
        assert_eq!(answer.0, 400, "{case}: {}", answer.1);
        assert_eq!(answer.1["error"], error, "{case}: {}", answer.1);
        assert!(
            answer.1["error_description"]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "{case}"
        );
    }
    let jwks_uri = register(
        &server,
        Some(&production),
        &with_key(json!({ "jwks_uri": "https://app.example/jwks.json" })),
    )
    .await;
    assert_refused(
        &jwks_uri,
        400,
        "invalid_client_metadata",
        "never fetches URLs",
    );
    let not_json = send(
        server
            .http
            .post(url(&server, "/oauth2/register"))
            .bearer_auth(&sandbox)
            .body("client_name=x"),
    )
    .await;
    assert_oauth_error(&not_json, 400, "invalid_client_metadata");

    // A token works until it expires.
    assert_eq!(register(&server, Some(&short_lived), &minimal).await.0, 201);
    server.clock.advance(Duration::minutes(61));
    let expired = register(&server, Some(&short_lived), &minimal).await;
    assert_oauth_error(&expired, 401, "invalid_token");
    assert_eq!(
        challenges(&expired.2),
        ["Bearer realm=\"wekeza\", error=\"invalid_token\""]
    );
}

/// `method /oauth2/userinfo` with these headers.
async fn userinfo(
    server: &TestServer,
    method: reqwest::Method,
    headers: &[(&str, &str)],
) -> (u16, Value, HeaderMap) {
    let mut request = server.http.request(method, url(server, "/oauth2/userinfo"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request).await
}

/// `GET /oauth2/userinfo` with `Authorization: Bearer <token>`.
async fn userinfo_bearer(server: &TestServer, token: &str) -> (u16, Value, HeaderMap) {
    let bearer = format!("Bearer {token}");
    userinfo(server, reqwest::Method::GET, &[("authorization", &bearer)]).await
}

/// The tokens of an account-access consent with `permissions`, authorised by `user_good` for
/// the scopes `scope`.
async fn tokens_for(
    server: &TestServer,
    app: &TestApp,
    permissions: &[&str],
    scope: &str,
) -> Value {
    let consent_id = flow::create_consent(server, app, &flow::account_access(permissions)).await;
    let (verifier, challenge) = flow::pkce();
    let (status, answer) = flow::authorize(
        server,
        app,
        &consent_id,
        json!({
            "username": "user_good",
            "codeChallenge": challenge,
            "redirectUri": REDIRECT,
            "scope": scope,
        }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let code = answer["code"].as_str().unwrap();
    let (status, tokens) = flow::exchange(server, app, code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn userinfo_answers_who_the_customer_is_and_refuses_other_tokens() {
    let server = TestServer::start().await;
    let app = flow::register(
        &server,
        &[
            Scope::AccountsRead,
            Scope::CustomersProfileRead,
            Scope::OpenId,
        ],
    )
    .await;
    let customer = server.customer("user_good").await;
    let profile = [
        "PERMISSION_READ_ACCOUNTS",
        "PERMISSION_READ_CUSTOMER_PROFILE",
    ];

    // With openid, the profile scope and the profile permission: sub and the profile.
    let tokens = tokens_for(
        &server,
        &app,
        &profile,
        "openid accounts.read customers.profile.read",
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(
        tokens["id_token"].as_str().unwrap(),
    )
    .unwrap();
    let expected = json!({
        "sub": customer.id.as_str(),
        "name": customer.full_name,
        "email": customer.email,
        "phone_number": customer.phone_number,
    });
    let answer = userinfo_bearer(&server, access).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1, expected);
    assert_eq!(answer.1["sub"], id_token["sub"], "the ID token's subject");
    assert_eq!(answer.2["cache-control"], "no-store");
    let bearer = format!("Bearer {access}");
    let posted = userinfo(
        &server,
        reqwest::Method::POST,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(posted.0, 200, "{}", posted.1);
    assert_eq!(posted.1, expected);

    // openid alone, or the profile scope without the consent's permission: sub only.
    let without_profile = tokens_for(&server, &app, &profile, "openid accounts.read").await;
    let answer = userinfo_bearer(&server, without_profile["access_token"].as_str().unwrap()).await;
    assert_eq!(answer.1, json!({ "sub": customer.id.as_str() }));
    let no_permission = tokens_for(
        &server,
        &app,
        &["PERMISSION_READ_ACCOUNTS"],
        "openid accounts.read customers.profile.read",
    )
    .await;
    let answer = userinfo_bearer(&server, no_permission["access_token"].as_str().unwrap()).await;
    assert_eq!(answer.1, json!({ "sub": customer.id.as_str() }));

    // A customer's token without openid, and the app's own token: insufficient scope.
    let no_openid = tokens_for(&server, &app, &profile, "accounts.read").await;
    let answer = userinfo_bearer(&server, no_openid["access_token"].as_str().unwrap()).await;
    assert_oauth_error(&answer, 403, "insufficient_scope");
    let answer = userinfo_bearer(&server, &app.token).await;
    assert_oauth_error(&answer, 403, "insufficient_scope");
    assert_eq!(
        challenges(&answer.2),
        [
            "Bearer realm=\"wekeza\", error=\"insufficient_scope\"",
            "DPoP algs=\"ES256 ES384 PS256 PS384 PS512 EdDSA\"",
        ]
    );

    // No token, and a token that is none of ours: 401 with the challenges.
    let anonymous = userinfo(&server, reqwest::Method::GET, &[]).await;
    assert_oauth_error(&anonymous, 401, "invalid_token");
    assert_eq!(
        challenges(&anonymous.2),
        [
            "Bearer realm=\"wekeza\"",
            "DPoP algs=\"ES256 ES384 PS256 PS384 PS512 EdDSA\"",
        ]
    );
    let garbage = userinfo_bearer(&server, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln").await;
    assert_oauth_error(&garbage, 401, "invalid_token");
    assert_eq!(
        challenges(&garbage.2)[0],
        "Bearer realm=\"wekeza\", error=\"invalid_token\""
    );

    // The consent revoked: its tokens stop at once, as on the API.
    let consent_id = tokens["consent_id"].as_str().unwrap();
    let (status, _) = flow::send(
        server
            .http
            .delete(url(&server, &format!("/v1/consents/{consent_id}")))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(status, 200);
    let revoked = userinfo_bearer(&server, access).await;
    assert_refused(&revoked, 401, "invalid_token", "revoked");

    // And tokens expire.
    server.clock.advance(Duration::minutes(6));
    let expired = userinfo_bearer(&server, without_profile["access_token"].as_str().unwrap()).await;
    assert_oauth_error(&expired, 401, "invalid_token");
}

#[tokio::test]
async fn userinfo_takes_dpop_bound_tokens_with_their_proof_only() {
    let server = TestServer::start().await;
    let app = flow::register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let key = ClientKey::generate();
    let now = server.clock.now();
    let consent_id =
        flow::create_consent(&server, &app, &flow::account_access(&flow::READ_ALL)).await;
    let (code, verifier) =
        flow::authorized_code(&server, &app, &consent_id, "user_good", &[]).await;
    let token_endpoint = url(&server, "/oauth2/token");
    let tokens = send(
        server
            .http
            .post(&token_endpoint)
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .header("dpop", key.dpop_proof("POST", &token_endpoint, now, None))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
                ("redirect_uri", REDIRECT),
            ]),
    )
    .await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
    assert_eq!(tokens.1["token_type"], "DPoP");
    let access = tokens.1["access_token"].as_str().unwrap();
    let customer = server.customer("user_good").await;
    let endpoint = url(&server, "/oauth2/userinfo");
    let authorization = format!("DPoP {access}");

    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let proof = key.dpop_proof(method.as_str(), &endpoint, now, Some(access));
        let answer = userinfo(
            &server,
            method,
            &[("authorization", &authorization), ("dpop", &proof)],
        )
        .await;
        assert_eq!(answer.0, 200, "{}", answer.1);
        assert_eq!(answer.1, json!({ "sub": customer.id.as_str() }));
    }
    // A replayed proof, a proof for another method, no proof, the bound token as Bearer.
    let proof = key.dpop_proof("GET", &endpoint, now, Some(access));
    let with_proof = [
        ("authorization", authorization.as_str()),
        ("dpop", proof.as_str()),
    ];
    assert_eq!(
        userinfo(&server, reqwest::Method::GET, &with_proof).await.0,
        200
    );
    let replayed = userinfo(&server, reqwest::Method::GET, &with_proof).await;
    assert_oauth_error(&replayed, 401, "invalid_token");
    assert_eq!(
        challenges(&replayed.2)[1],
        "DPoP algs=\"ES256 ES384 PS256 PS384 PS512 EdDSA\", error=\"invalid_token\""
    );
    let post_proof = key.dpop_proof("POST", &endpoint, now, Some(access));
    assert_oauth_error(
        &userinfo(
            &server,
            reqwest::Method::GET,
            &[("authorization", &authorization), ("dpop", &post_proof)],
        )
        .await,
        401,
        "invalid_token",
    );
    assert_oauth_error(
        &userinfo(
            &server,
            reqwest::Method::GET,
            &[("authorization", &authorization)],
        )
        .await,
        401,
        "invalid_token",
    );
    let as_bearer = userinfo_bearer(&server, access).await;
    assert_refused(&as_bearer, 401, "invalid_token", "DPoP");
}

#[tokio::test]
async fn no_initial_access_token_or_registered_secret_reaches_the_logs() {
    let (logs, _guard) = capture_logs();
    let server = TestServer::start().await;
    let metadata = json!({
        "client_name": "Budget buddy",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "accounts.read openid",
    });
    let (token, answer) = register_in_sandbox(&server, &metadata).await;
    let secret = answer.1["client_secret"].as_str().unwrap();
    // Refusals log nothing secret either: a typo'd token, a bad registration.
    let typo = format!("{token}x");
    register(&server, Some(&typo), &json!({ "client_name": "x" })).await;
    register(&server, Some(&token), &json!({ "client_name": "x" })).await;
    // The registered client at work: its token, at userinfo.
    let issued = secret_token(&server, &answer.1).await;
    let access = issued["access_token"].as_str().unwrap().to_owned();
    userinfo_bearer(&server, &access).await;
    server.stop().await;

    let text = logs.text();
    assert!(text.contains("registered a client"), "{text}");
    logs.assert_free_of(&[token, typo, secret.to_owned(), access]);
}
