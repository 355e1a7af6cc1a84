//! The authorization server through real HTTP and gRPC clients: discovery and JWKS, the
//! client-credentials grant with every client authentication method, DPoP-bound tokens,
//! expiry, introspection and revocation — and the tokens at work on real API calls.
//!
//! Client-credentials tokens act for an app, not a customer: `GET /v1/accounts` answers them
//! 403 WRONG_CALLER (authenticated, wrong kind of caller), where a bad token gets 401
//! INVALID_TOKEN. Every key, assertion and proof is made with real crypto by the test.

use std::collections::BTreeSet;

use chrono::Duration;
use reqwest::RequestBuilder;
use serde_json::Value;
use tonic::Code;
use wekeza_domain::{Clock, Scope};
use wekeza_identity::ASSERTION_TYPE;
use wekeza_identity::testing::ClientKey;
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_store::apps::{self, AppEnvironment, CreatedApp, NewApp, TokenEndpointAuthMethod};
use wekeza_testkit::TestServer;

use crate::support::assert_reason;
use crate::throttle::client_at;

/// Registers an app straight in the server's database.
async fn register(
    server: &TestServer,
    environment: AppEnvironment,
    method: TokenEndpointAuthMethod,
    jwks: Option<String>,
) -> CreatedApp {
    apps::create(
        server.database.conn(),
        NewApp {
            name: "Budgeting".into(),
            environment,
            scopes: BTreeSet::from([Scope::AccountsRead, Scope::PaymentsInitiate]),
            token_endpoint_auth_method: method,
            jwks,
            ..NewApp::default()
        },
        server.clock.now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap()
}

pub(crate) async fn sandbox_app(server: &TestServer) -> CreatedApp {
    register(
        server,
        AppEnvironment::Sandbox,
        TokenEndpointAuthMethod::ClientSecretBasic,
        None,
    )
    .await
}

pub(crate) fn url(server: &TestServer, path: &str) -> String {
    format!("{}{path}", server.base_url)
}

fn post(server: &TestServer, path: &str) -> RequestBuilder {
    server.http.post(url(server, path))
}

/// Sends an OAuth2 request; answers status, JSON body (`null` when empty) and headers.
pub(crate) async fn send(request: RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body, headers)
}

#[track_caller]
pub(crate) fn assert_oauth_error(
    answer: &(u16, Value, reqwest::header::HeaderMap),
    status: u16,
    error: &str,
) {
    assert_eq!(answer.0, status, "{:?}", answer.1);
    assert_eq!(answer.1["error"], error, "{:?}", answer.1);
    assert_eq!(answer.2["cache-control"], "no-store");
}

/// A client-credentials token by HTTP Basic.
pub(crate) async fn basic_token(server: &TestServer, app: &CreatedApp) -> String {
    basic_token_at(&server.http, &server.base_url, app).await
}

/// A client-credentials token by HTTP Basic from the server at `base_url`.
pub(crate) async fn basic_token_at(
    http: &reqwest::Client,
    base_url: &str,
    app: &CreatedApp,
) -> String {
    let answer = send(
        http.post(format!("{base_url}/oauth2/token"))
            .basic_auth(&app.app.client_id, Some(&app.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(answer.0, 200, "{:?}", answer.1);
    answer.1["access_token"].as_str().unwrap().to_owned()
}

/// `GET /v1/accounts` with these headers: status and problem reason.
async fn list_accounts(server: &TestServer, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = server.http.get(url(server, "/v1/accounts"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let problem: Value = response.json().await.unwrap();
    (
        status,
        problem["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn discovery_and_jwks_describe_the_server() {
    let server = TestServer::start().await;
    let discovery: Value = server
        .http
        .get(url(&server, "/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], server.base_url);
    assert_eq!(discovery["token_endpoint"], url(&server, "/oauth2/token"));
    assert_eq!(discovery["jwks_uri"], url(&server, "/oauth2/jwks"));
    assert_eq!(
        discovery["introspection_endpoint"],
        url(&server, "/oauth2/introspect")
    );
    assert_eq!(
        discovery["revocation_endpoint"],
        url(&server, "/oauth2/revoke")
    );
    assert_eq!(
        discovery["grant_types_supported"],
        serde_json::json!([
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "urn:openid:params:grant-type:ciba"
        ])
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["authorization_endpoint"],
        url(&server, "/oauth2/authorize")
    );
    assert_eq!(
        discovery["pushed_authorization_request_endpoint"],
        url(&server, "/oauth2/par")
    );
    assert_eq!(discovery["require_pushed_authorization_requests"], true);
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    let methods = discovery["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    for method in [
        "private_key_jwt",
        "client_secret_basic",
        "client_secret_post",
    ] {
        assert!(methods.iter().any(|m| m == method), "{method}");
    }
    let dpop_algs = discovery["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(dpop_algs.iter().any(|alg| alg == "ES256"));
    assert!(!dpop_algs.iter().any(|alg| alg == "none" || alg == "HS256"));
    let metadata: Value = server
        .http
        .get(url(&server, "/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata, discovery);

    let jwks: Value = server
        .http
        .get(url(&server, "/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(key.get("d").is_none(), "no private key in the JWKS");

    // The token's header names that key.
    let app = sandbox_app(&server).await;
    let token = basic_token(&server, &app).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
}

#[tokio::test]
async fn client_credentials_with_client_secrets() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let client_id = app.app.client_id.clone();

    // client_secret_basic, every scope of the app by default.
    let basic = send(
        post(&server, "/oauth2/token")
            .basic_auth(&client_id, Some(&app.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(basic.0, 200, "{:?}", basic.1);
    assert_eq!(basic.1["token_type"], "Bearer");
    assert_eq!(basic.1["expires_in"], 300);
    assert_eq!(basic.1["scope"], "accounts.read payments.initiate");
    assert_eq!(basic.2["cache-control"], "no-store");
    let token = basic.1["access_token"].as_str().unwrap().to_owned();

    // An authenticated app-level caller: the customer-only rpc says WRONG_CALLER, over REST…
    let bearer = format!("Bearer {token}");
    assert_eq!(
        list_accounts(&server, &[("authorization", &bearer)]).await,
        (403, "WRONG_CALLER".to_owned())
    );
    // …and over gRPC.
    let status = AccountInformationServiceClient::new(server.channel())
        .list_accounts(server.request(&token, pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&status, Code::PermissionDenied, "WRONG_CALLER");
    // Garbage is not a token.
    assert_eq!(
        list_accounts(
            &server,
            &[("authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln")]
        )
        .await,
        (401, "INVALID_TOKEN".to_owned())
    );
    // REST 401s carry the challenges (RFC 6750 §3, RFC 9449 §7.1).
    let garbage = server
        .http
        .get(url(&server, "/v1/accounts"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    let challenges: Vec<String> = garbage
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        challenges,
        [
            "Bearer realm=\"wekeza\", error=\"invalid_token\"",
            "DPoP algs=\"ES256 ES384 PS256 PS384 PS512 EdDSA\"",
        ]
    );
    let anonymous = server
        .http
        .get(url(&server, "/v1/accounts"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Bearer realm=\"wekeza\""
    );
    let status = AccountInformationServiceClient::new(server.channel())
        .list_accounts(server.request("not-a-jwt", pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&status, Code::Unauthenticated, "INVALID_TOKEN");

    // client_secret_post, narrowed scope.
    let posted = send(post(&server, "/oauth2/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("scope", "accounts.read"),
    ]))
    .await;
    assert_eq!(posted.0, 200, "{:?}", posted.1);
    assert_eq!(posted.1["scope"], "accounts.read");

    // Wrong secret and unknown client: the same 401, with the Basic challenge.
    let wrong = send(
        post(&server, "/oauth2/token")
            .basic_auth(&client_id, Some("not-the-secret"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert!(
        wrong.2["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let unknown = send(post(&server, "/oauth2/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "app_01jd5t3j9c2v8q7m6n5b4x3z2y"),
        ("client_secret", app.client_secret.as_str()),
    ]))
    .await;
    assert_oauth_error(&unknown, 401, "invalid_client");
    assert_eq!(unknown.1["error_description"], wrong.1["error_description"]);
    // No credentials.
    let anonymous =
        send(post(&server, "/oauth2/token").form(&[("grant_type", "client_credentials")])).await;
    assert_oauth_error(&anonymous, 401, "invalid_client");
    // Two methods at once.
    let both = send(
        post(&server, "/oauth2/token")
            .basic_auth(&client_id, Some(&app.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", app.client_secret.as_str()),
            ]),
    )
    .await;
    assert_oauth_error(&both, 400, "invalid_request");

    // Scopes: unknown, or not the app's.
    for scope in ["accounts.write", "webhooks.manage"] {
        let answer = send(
            post(&server, "/oauth2/token")
                .basic_auth(&client_id, Some(&app.client_secret))
                .form(&[("grant_type", "client_credentials"), ("scope", scope)]),
        )
        .await;
        assert_oauth_error(&answer, 400, "invalid_scope");
    }
    // Other grants, repeated parameters, non-form bodies.
    let grant = send(
        post(&server, "/oauth2/token")
            .basic_auth(&client_id, Some(&app.client_secret))
            .form(&[("grant_type", "password")]),
    )
    .await;
    assert_oauth_error(&grant, 400, "unsupported_grant_type");
    let repeated = send(
        post(&server, "/oauth2/token")
            .basic_auth(&client_id, Some(&app.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=accounts.read&scope=payments.initiate"),
    )
    .await;
    assert_oauth_error(&repeated, 400, "invalid_request");
    let json = send(
        post(&server, "/oauth2/token")
            .basic_auth(&client_id, Some(&app.client_secret))
            .json(&serde_json::json!({ "grant_type": "client_credentials" })),
    )
    .await;
    assert_oauth_error(&json, 400, "invalid_request");

    // Production apps may not use secrets; nor may apps registered for private_key_jwt.
    let production = register(
        &server,
        AppEnvironment::Production,
        TokenEndpointAuthMethod::ClientSecretBasic,
        None,
    )
    .await;
    let refused = send(
        post(&server, "/oauth2/token")
            .basic_auth(&production.app.client_id, Some(&production.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_oauth_error(&refused, 401, "invalid_client");
    let keyed = register(
        &server,
        AppEnvironment::Sandbox,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        Some(ClientKey::generate().jwks()),
    )
    .await;
    let refused = send(
        post(&server, "/oauth2/token")
            .basic_auth(&keyed.app.client_id, Some(&keyed.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_oauth_error(&refused, 401, "invalid_client");
}

/// A token request authenticated by `assertion`.
pub(crate) fn with_assertion(server: &TestServer, assertion: &str) -> RequestBuilder {
    post(server, "/oauth2/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ])
}

#[tokio::test]
async fn client_credentials_with_private_key_jwt() {
    let server = TestServer::start().await;
    let key = ClientKey::generate();
    // A production app: private_key_jwt is its way in.
    let app = register(
        &server,
        AppEnvironment::Production,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        Some(key.jwks()),
    )
    .await;
    let client_id = app.app.client_id.clone();
    let token_endpoint = url(&server, "/oauth2/token");
    let now = server.clock.now();

    let proof = || key.dpop_proof("POST", &token_endpoint, now, None);
    for audience in [token_endpoint.as_str(), server.base_url.as_str()] {
        let answer = send(
            with_assertion(&server, &key.assertion(&client_id, audience, now))
                .header("dpop", proof()),
        )
        .await;
        assert_eq!(answer.0, 200, "{audience}: {:?}", answer.1);
        assert_eq!(answer.1["token_type"], "DPoP");
        let token = answer.1["access_token"].as_str().unwrap();
        let authorization = format!("DPoP {token}");
        let accounts = url(&server, "/v1/accounts");
        let call_proof = key.dpop_proof("GET", &accounts, now, Some(token));
        assert_eq!(
            list_accounts(
                &server,
                &[("authorization", &authorization), ("dpop", &call_proof)]
            )
            .await,
            (403, "WRONG_CALLER".to_owned())
        );
    }
    // A production app's tokens are sender-constrained: without a DPoP proof, no token.
    let unbound = send(with_assertion(
        &server,
        &key.assertion(&client_id, &token_endpoint, now),
    ))
    .await;
    assert_oauth_error(&unbound, 400, "invalid_dpop_proof");

    // A replayed assertion.
    let assertion = key.assertion(&client_id, &token_endpoint, now);
    assert_eq!(
        send(with_assertion(&server, &assertion).header("dpop", proof()))
            .await
            .0,
        200
    );
    assert_oauth_error(
        &send(with_assertion(&server, &assertion)).await,
        401,
        "invalid_client",
    );

    let jti = || format!("jti-{}", ulid::Ulid::new());
    let claims = |aud: &str, iss: &str, sub: &str, exp: i64| {
        serde_json::json!({
            "iss": iss, "sub": sub, "aud": aud,
            "iat": now.timestamp(), "exp": exp, "jti": jti(),
        })
    };
    let in_a_minute = (now + Duration::seconds(60)).timestamp();
    let refused = [
        (
            "wrong audience",
            key.assertion_with(&claims(
                "https://elsewhere.example/token",
                &client_id,
                &client_id,
                in_a_minute,
            )),
        ),
        (
            "expired",
            key.assertion_with(&claims(
                &token_endpoint,
                &client_id,
                &client_id,
                (now - Duration::seconds(30)).timestamp(),
            )),
        ),
        (
            "sub is not the client",
            key.assertion_with(&claims(
                &token_endpoint,
                &client_id,
                "someone-else",
                in_a_minute,
            )),
        ),
        (
            "valid for days",
            key.assertion_with(&claims(
                &token_endpoint,
                &client_id,
                &client_id,
                (now + Duration::days(3)).timestamp(),
            )),
        ),
        (
            "signed by another key",
            ClientKey::generate().sign(
                &serde_json::json!({ "alg": "ES256", "kid": key.kid() }),
                &claims(&token_endpoint, &client_id, &client_id, in_a_minute),
            ),
        ),
        (
            "no jti",
            key.assertion_with(&serde_json::json!({
                "iss": client_id, "sub": client_id, "aud": token_endpoint, "exp": in_a_minute,
            })),
        ),
        (
            "unknown client",
            key.assertion("app_01jd5t3j9c2v8q7m6n5b4x3z2y", &token_endpoint, now),
        ),
    ];
    // Each from its own address: more failures from one would be throttled (see `throttle`).
    for ((case, assertion), source) in refused.into_iter().zip(10..) {
        let answer = send(client_at(source).post(&token_endpoint).form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ]))
        .await;
        assert_eq!(answer.0, 401, "{case}: {:?}", answer.1);
        assert_eq!(answer.1["error"], "invalid_client", "{case}");
    }
    // An HMAC "assertion" keyed with anything is refused whatever it says.
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&token_endpoint, &client_id, &client_id, in_a_minute),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_oauth_error(
        &send(with_assertion(&server, &hmac)).await,
        401,
        "invalid_client",
    );
    // A wrong assertion type.
    let wrong_type = send(post(&server, "/oauth2/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:other"),
        (
            "client_assertion",
            key.assertion(&client_id, &token_endpoint, now).as_str(),
        ),
    ]))
    .await;
    assert_oauth_error(&wrong_type, 400, "invalid_request");
}

#[tokio::test]
async fn dpop_binds_tokens_to_the_client_key() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let key = ClientKey::generate();
    let token_endpoint = url(&server, "/oauth2/token");
    let accounts = url(&server, "/v1/accounts");
    let now = server.clock.now();

    let answer = send(
        post(&server, "/oauth2/token")
            .basic_auth(&app.app.client_id, Some(&app.client_secret))
            .header("dpop", key.dpop_proof("POST", &token_endpoint, now, None))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(answer.0, 200, "{:?}", answer.1);
    assert_eq!(answer.1["token_type"], "DPoP");
    let token = answer.1["access_token"].as_str().unwrap().to_owned();
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(&token).unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());

    // With a good proof the call is authenticated (and the app is then the wrong caller).
    let dpop_auth = format!("DPoP {token}");
    let proof = key.dpop_proof("GET", &accounts, now, Some(&token));
    assert_eq!(
        list_accounts(&server, &[("authorization", &dpop_auth), ("dpop", &proof)]).await,
        (403, "WRONG_CALLER".to_owned())
    );
    // Replayed, misdirected, stale and foreign-key proofs, no proof, and the bound token as a
    // Bearer token are among the counted attacks (`attacks.rs`).

    // At the token endpoint, a proof for the wrong URL is refused.
    let bad = send(
        post(&server, "/oauth2/token")
            .basic_auth(&app.app.client_id, Some(&app.client_secret))
            .header("dpop", key.dpop_proof("POST", &accounts, now, None))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_oauth_error(&bad, 400, "invalid_dpop_proof");
}

#[tokio::test]
async fn tokens_expire_and_can_be_introspected_and_revoked() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let other = sandbox_app(&server).await;
    let introspect = |token: String, by: &CreatedApp| {
        post(&server, "/oauth2/introspect")
            .basic_auth(&by.app.client_id, Some(&by.client_secret))
            .form(&[("token", token)])
    };
    let token = basic_token(&server, &app).await;
    let bearer = format!("Bearer {token}");

    // Introspection: active for the client it was issued to, inactive for anyone else.
    let active = send(introspect(token.clone(), &app)).await;
    assert_eq!(active.0, 200);
    assert_eq!(active.1["active"], true);
    assert_eq!(active.1["client_id"], app.app.client_id);
    assert_eq!(active.1["scope"], "accounts.read payments.initiate");
    assert_eq!(active.1["token_type"], "Bearer");
    assert_eq!(active.1["iss"], server.base_url);
    assert_eq!(active.2["cache-control"], "no-store");
    assert_eq!(
        send(introspect(token.clone(), &other)).await.1,
        serde_json::json!({ "active": false })
    );
    assert_eq!(
        send(introspect("garbage".into(), &app)).await.1,
        serde_json::json!({ "active": false })
    );
    let unauthenticated =
        send(post(&server, "/oauth2/introspect").form(&[("token", token.as_str())])).await;
    assert_oauth_error(&unauthenticated, 401, "invalid_client");

    // Revocation: only by its client; then the very next call fails.
    let revoke = |token: String, by: &CreatedApp| {
        post(&server, "/oauth2/revoke")
            .basic_auth(&by.app.client_id, Some(&by.client_secret))
            .form(&[("token", token)])
    };
    assert_oauth_error(
        &send(revoke(token.clone(), &other)).await,
        400,
        "unauthorized_client",
    );
    assert_eq!(
        list_accounts(&server, &[("authorization", &bearer)])
            .await
            .0,
        403
    );
    assert_eq!(send(revoke(token.clone(), &app)).await.0, 200);
    assert_eq!(
        list_accounts(&server, &[("authorization", &bearer)]).await,
        (401, "INVALID_TOKEN".to_owned())
    );
    assert_eq!(
        send(introspect(token.clone(), &app)).await.1["active"],
        false
    );
    // Revoking again, or revoking garbage, is fine.
    assert_eq!(send(revoke(token, &app)).await.0, 200);
    assert_eq!(send(revoke("garbage".into(), &app)).await.0, 200);

    // Expiry: five minutes.
    let fresh = basic_token(&server, &app).await;
    let bearer = format!("Bearer {fresh}");
    server.clock.advance(Duration::minutes(4));
    assert_eq!(
        list_accounts(&server, &[("authorization", &bearer)])
            .await
            .0,
        403
    );
    server.clock.advance(Duration::minutes(2));
    assert_eq!(
        list_accounts(&server, &[("authorization", &bearer)]).await,
        (401, "INVALID_TOKEN".to_owned())
    );
    assert_eq!(send(introspect(fresh, &app)).await.1["active"], false);
}

/// Everything the server logs on this test's thread (a current-thread runtime runs the server's
/// tasks there too).
#[derive(Clone, Default)]
pub(crate) struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Whether a distinctive piece of `secret` is in `text` (the logs): any piece is enough to
    /// leak, so the signature-bearing tail is looked for, not only the whole.
    pub(crate) fn leaks(text: &str, secret: &str) -> bool {
        text.contains(&secret[secret.len().saturating_sub(24)..])
    }

    /// Asserts that no distinctive piece of any of `secrets` is in the logs.
    #[track_caller]
    pub(crate) fn assert_free_of(&self, secrets: &[String]) {
        let text = self.text();
        for secret in secrets {
            assert!(
                !Self::leaks(&text, secret),
                "a secret reached the logs:\n{text}"
            );
        }
    }
}

/// The process-wide subscriber of the test binary: wants every event and span, keeps none.
///
/// Not a `Registry`: spans of a capture are sometimes released on another thread (sqlx's
/// SQLite workers drop the request's spans there), and a registry asked to close a parent span
/// it never saw panics; this one ignores what it does not know.
struct Silent;

impl tracing::Subscriber for Silent {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Captures every log event (debug and up) of this thread — the test's, and its in-process
/// server's — until the guard drops.
pub(crate) fn capture_logs() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    // `tracing` caches, process-wide, whether a log statement is wanted, decided by the first
    // thread to reach it. A sibling test's thread has no subscriber and would decide "never" for
    // this one too; a global, silent subscriber makes every thread's answer "yes", and the
    // capture below (this thread's subscriber) then sees every event of this server.
    let _ = tracing::subscriber::set_global_default(Silent);
    tracing::callsite::rebuild_interest_cache();
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn no_secret_token_assertion_or_proof_reaches_the_logs() {
    let (logs, _guard) = capture_logs();

    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let key = ClientKey::generate();
    let keyed = register(
        &server,
        AppEnvironment::Sandbox,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        Some(key.jwks()),
    )
    .await;
    let now = server.clock.now();
    let token_endpoint = url(&server, "/oauth2/token");
    let mut secrets = vec![app.client_secret.clone(), keyed.client_secret.clone()];

    // Every way in, and some ways to fail.
    let token = basic_token(&server, &app).await;
    let assertion = key.assertion(&keyed.app.client_id, &token_endpoint, now);
    let proof = key.dpop_proof("POST", &token_endpoint, now, None);
    let bound = send(with_assertion(&server, &assertion).header("dpop", &proof)).await;
    let bound = bound.1["access_token"].as_str().unwrap().to_owned();
    let api_proof = key.dpop_proof("GET", &url(&server, "/v1/accounts"), now, Some(&bound));
    let dpop_auth = format!("DPoP {bound}");
    list_accounts(
        &server,
        &[("authorization", &dpop_auth), ("dpop", &api_proof)],
    )
    .await;
    list_accounts(
        &server,
        &[("authorization", &dpop_auth), ("dpop", &api_proof)],
    )
    .await;
    send(with_assertion(&server, &assertion)).await;
    let bearer = format!("Bearer {token}");
    list_accounts(&server, &[("authorization", &bearer)]).await;
    send(
        post(&server, "/oauth2/token")
            .basic_auth(&app.app.client_id, Some("wrong-secret-value"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    send(
        post(&server, "/oauth2/revoke")
            .basic_auth(&app.app.client_id, Some(&app.client_secret))
            .form(&[("token", token.as_str())]),
    )
    .await;
    list_accounts(&server, &[("authorization", &bearer)]).await;
    server.stop().await;

    let text = logs.text();
    assert!(text.contains("issued a client-credentials token"), "{text}");
    assert!(text.contains("access token revoked"), "{text}");
    secrets.extend([
        token,
        bound,
        assertion,
        proof,
        api_proof,
        "wrong-secret-value".into(),
    ]);
    logs.assert_free_of(&secrets);
}

/// The `kid` a token was signed with.
fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn keys_rotate_on_the_command_line_and_old_tokens_keep_verifying() {
    let server = TestServer::start().await;
    let app = sandbox_app(&server).await;
    let before = basic_token(&server, &app).await;
    let old_kid = kid_of(&before);

    let output = crate::cli::wekeza_succeeds(server.database.url(), &["keys", "rotate"]).await;
    let new_kid = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(!new_kid.is_empty() && new_kid != old_kid, "{new_kid}");

    // The running server picks the new key up at its next reload (at most a minute).
    server.clock.advance(Duration::seconds(61));
    let jwks: Value = server
        .http
        .get(url(&server, "/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published: BTreeSet<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        published,
        BTreeSet::from([old_kid.as_str(), new_kid.as_str()])
    );
    let after = basic_token(&server, &app).await;
    assert_eq!(kid_of(&after), new_kid);
    // Both tokens authenticate (an app token is then the wrong caller for customer data).
    for token in [&before, &after] {
        let bearer = format!("Bearer {token}");
        assert_eq!(
            list_accounts(&server, &[("authorization", &bearer)]).await,
            (403, "WRONG_CALLER".to_owned())
        );
    }
}
