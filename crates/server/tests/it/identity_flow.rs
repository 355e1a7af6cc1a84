//! The authorization-code flow end to end, as a third-party app drives it: its own
//! client-credentials token → a consent (`POST /v1/consents`) → the sandbox shortcut standing in
//! for the customer (`POST /v1/sandbox/consents/{id}:authorize`, with PKCE) → the code exchanged
//! at `/oauth2/token` → customer data read under the consent, over REST and gRPC. Then what
//! must be refused: revoked consents, replayed codes and refresh tokens, bad PKCE, expired
//! codes, redirect URI mismatches, other apps' consents and codes, missing scopes.
//!
//! Only real tokens: every call carries what the server itself issued (no test tokens).

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tonic::Code;
use wekeza_domain::{AccountId, Clock, Currency, Scope};
use wekeza_identity::testing::ClientKey;
use wekeza_ledger::{AccountQuery, AccountSubtype, CoreBanking};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_proto::v1::sandbox_service_client::SandboxServiceClient;
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::{self, CreatedApp, NewApp};
use wekeza_testkit::TestServer;

use crate::support::{Api, assert_reason};

/// The redirect URI every test app registers.
pub(crate) const REDIRECT: &str = "https://app.example/callback";

/// An app registered with one redirect URI, and its client-credentials token.
pub(crate) struct TestApp {
    pub(crate) created: CreatedApp,
    pub(crate) token: String,
}

impl TestApp {
    pub(crate) fn client_id(&self) -> &str {
        &self.created.app.client_id
    }

    /// A request to the token endpoint authenticated by HTTP Basic.
    fn token_request(&self, server: &impl Api) -> RequestBuilder {
        server
            .http()
            .post(format!("{}/oauth2/token", server.base_url()))
            .basic_auth(self.client_id(), Some(&self.created.client_secret))
    }
}

/// Registers a sandbox app that may request `scopes` and gets its client-credentials token.
pub(crate) async fn register(server: &TestServer, scopes: &[Scope]) -> TestApp {
    register_at(server, server.database.conn(), server.clock.now(), scopes).await
}

/// Registers a sandbox app in `db` (the database `server` serves) at `now`, and gets its
/// client-credentials token from `server`.
pub(crate) async fn register_at(
    server: &impl Api,
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    scopes: &[Scope],
) -> TestApp {
    let created = apps::create(
        db,
        NewApp {
            name: "Budgeting".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: scopes.iter().copied().collect(),
            ..NewApp::default()
        },
        now,
        &mut wekeza_store::secret::os_rng(),
    )
    .await
    .unwrap();
    let mut app = TestApp {
        created,
        token: String::new(),
    };
    app.renew(server).await;
    app
}

impl TestApp {
    /// Gets a fresh client-credentials token.
    pub(crate) async fn renew(&mut self, server: &impl Api) {
        let (status, body) = send(
            self.token_request(server)
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        self.token = body["access_token"].as_str().unwrap().to_owned();
    }
}

/// Sends a request; answers the status and the JSON body (`null` when empty).
pub(crate) async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

/// A PKCE verifier and its S256 challenge.
pub(crate) fn pkce() -> (String, String) {
    let verifier = format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Creates a consent of `app` with the REST body `body`; answers its id.
pub(crate) async fn create_consent(server: &impl Api, app: &TestApp, body: &Value) -> String {
    let (status, consent) = send(
        server
            .http()
            .post(format!("{}/v1/consents", server.base_url()))
            .bearer_auth(&app.token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(body),
    )
    .await;
    assert_eq!(status, 200, "{consent}");
    consent["consentId"].as_str().unwrap().to_owned()
}

pub(crate) fn account_access(permissions: &[&str]) -> Value {
    json!({
        "type": "CONSENT_TYPE_ACCOUNT_ACCESS",
        "permissions": permissions,
        "expirationTime": "2027-01-01T00:00:00Z",
    })
}

pub(crate) fn payment(amount: &str, debtor: Option<&str>) -> Value {
    let mut body = json!({
        "type": "CONSENT_TYPE_PAYMENT",
        "payment": {
            "instructedAmount": { "amount": amount, "currency": "KES" },
            "creditor": { "name": "Jane Doe", "accountNumber": "01100012345" },
            "reference": "Invoice 42"
        }
    });
    if let Some(number) = debtor {
        body["payment"]["debtorAccount"] = json!({ "accountNumber": number });
    }
    body
}

/// `POST /v1/sandbox/consents/{id}:authorize` by `app` with `body`.
pub(crate) async fn authorize(
    server: &impl Api,
    app: &TestApp,
    consent_id: &str,
    body: Value,
) -> (u16, Value) {
    send(
        server
            .http()
            .post(format!(
                "{}/v1/sandbox/consents/{consent_id}:authorize",
                server.base_url()
            ))
            .bearer_auth(&app.token)
            .json(&body),
    )
    .await
}

/// Authorises `consent_id` as `username` for `accounts` (the default when empty) with PKCE;
/// answers the code and the verifier.
pub(crate) async fn authorized_code(
    server: &impl Api,
    app: &TestApp,
    consent_id: &str,
    username: &str,
    accounts: &[String],
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (status, body) = authorize(
        server,
        app,
        consent_id,
        json!({
            "username": username,
            "accountIds": accounts,
            "codeChallenge": challenge,
            "codeChallengeMethod": "S256",
            "redirectUri": REDIRECT,
            "state": "xyz",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (body["code"].as_str().unwrap().to_owned(), verifier)
}

/// Exchanges `code` at the token endpoint.
pub(crate) async fn exchange(
    server: &impl Api,
    app: &TestApp,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> (u16, Value) {
    send(app.token_request(server).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", redirect_uri),
    ]))
    .await
}

/// Exchanges `refresh_token`.
pub(crate) async fn refresh(
    server: &TestServer,
    app: &TestApp,
    refresh_token: &str,
) -> (u16, Value) {
    send(app.token_request(server).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]))
    .await
}

/// A whole flow: consent over `accounts` of `username`, authorised, code exchanged; answers the
/// consent id and the token response.
pub(crate) async fn consent_tokens(
    server: &impl Api,
    app: &TestApp,
    permissions: &[&str],
    username: &str,
    accounts: &[String],
) -> (String, Value) {
    let consent_id = create_consent(server, app, &account_access(permissions)).await;
    let (code, verifier) = authorized_code(server, app, &consent_id, username, accounts).await;
    let (status, tokens) = exchange(server, app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    (consent_id, tokens)
}

/// `GET path` with `Authorization: Bearer <token>`.
pub(crate) async fn get(server: &impl Api, token: &str, path: &str) -> (u16, Value) {
    send(
        server
            .http()
            .get(format!("{}{path}", server.base_url()))
            .bearer_auth(token),
    )
    .await
}

#[track_caller]
pub(crate) fn assert_problem(answer: &(u16, Value), status: u16, reason: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["reason"], reason, "{}", answer.1);
}

#[track_caller]
pub(crate) fn assert_oauth_error(answer: &(u16, Value), status: u16, error: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], error, "{}", answer.1);
}

pub(crate) fn account_ids(listing: &Value) -> BTreeSet<String> {
    listing["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["accountId"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) const READ_ALL: [&str; 3] = [
    "PERMISSION_READ_ACCOUNTS",
    "PERMISSION_READ_BALANCES",
    "PERMISSION_READ_TRANSACTIONS",
];

#[tokio::test]
async fn a_consent_bound_token_reads_only_the_consented_accounts_until_revocation() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let customer = server.customer("user_good").await;
    let owned: Vec<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        owned.len() >= 2,
        "user_good has a current and a savings account"
    );
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;

    // The customer's decision, as the sandbox shortcut stands in for it.
    let (verifier, challenge) = pkce();
    let (status, answer) = authorize(
        &server,
        &app,
        &consent_id,
        json!({
            "username": "user_good",
            "accountIds": [owned[0]],
            "codeChallenge": challenge,
            "codeChallengeMethod": "S256",
            "redirectUri": REDIRECT,
            "state": "af0ifjsldkj",
            "nonce": "n-0S6_WzA2Mj",
        }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["iss"], server.base_url, "RFC 9207 iss");
    assert_eq!(answer["state"], "af0ifjsldkj");
    assert_eq!(answer["redirectUri"], REDIRECT);
    let code = answer["code"].as_str().unwrap();
    assert!(code.len() >= 43, "a 256-bit code");

    let (status, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(consent["status"], "CONSENT_STATUS_AUTHORISED");
    assert_eq!(consent["accountIds"], json!([owned[0]]));

    let (status, tokens) = exchange(&server, &app, code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "accounts.read openid");
    assert_eq!(tokens["consent_id"], consent_id.as_str());
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    let access = tokens["access_token"].as_str().unwrap();
    // The ID token names the customer and carries the nonce.
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], customer.id.as_str());
    assert_eq!(claims["aud"], app.client_id());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["iss"], server.base_url);

    // REST: the consented account only, with balances and transactions.
    let listing = get(&server, access, "/v1/accounts").await;
    assert_eq!(listing.0, 200, "{}", listing.1);
    assert_eq!(account_ids(&listing.1), BTreeSet::from([owned[0].clone()]));
    let balances = get(
        &server,
        access,
        &format!("/v1/accounts/{}/balances", owned[0]),
    )
    .await;
    assert_eq!(balances.0, 200, "{}", balances.1);
    let transactions = get(
        &server,
        access,
        &format!("/v1/accounts/{}/transactions?pageSize=5", owned[0]),
    )
    .await;
    assert_eq!(transactions.0, 200, "{}", transactions.1);
    assert!(
        !transactions.1["transactions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The customer's other account is not there for this consent.
    assert_problem(
        &get(
            &server,
            access,
            &format!("/v1/accounts/{}/balances", owned[1]),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    // Nor is the customer's profile: the consent does not grant it.
    assert_problem(
        &get(&server, access, "/v1/customers/profile").await,
        403,
        "INSUFFICIENT_SCOPE",
    );

    // gRPC: the same token, the same answer.
    let mut ais = AccountInformationServiceClient::new(server.channel());
    let grpc = ais
        .list_accounts(server.request(access, pb::ListAccountsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        grpc.accounts
            .iter()
            .map(|account| account.account_id.clone())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([owned[0].clone()])
    );

    // The introspection endpoint knows the consent.
    let (status, introspection) = send(
        server
            .http
            .post(format!("{}/oauth2/introspect", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&[("token", access)]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["sub"], customer.id.as_str());
    assert_eq!(introspection["consent_id"], consent_id.as_str());

    // The app revokes the consent: the very next call is refused, over both protocols, and the
    // refresh token is dead too.
    let (status, _) = send(
        server
            .http
            .delete(format!("{}/v1/consents/{consent_id}", server.base_url))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(status, 200);
    let refused = get(&server, access, "/v1/accounts").await;
    assert_problem(&refused, 401, "INVALID_TOKEN");
    assert!(
        refused.1["detail"].as_str().unwrap().contains("revoked"),
        "{}",
        refused.1
    );
    let status = ais
        .list_accounts(server.request(access, pb::ListAccountsRequest::default()))
        .await
        .unwrap_err();
    assert_reason(&status, Code::Unauthenticated, "INVALID_TOKEN");
    assert_oauth_error(
        &refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );
    server.stop().await;
}

#[tokio::test]
async fn dpop_binds_the_tokens_of_the_code_and_refresh_grants() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let key = ClientKey::generate();
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (code, verifier) = authorized_code(&server, &app, &consent_id, "user_student", &[]).await;
    let token_url = format!("{}/oauth2/token", server.base_url);
    let now = server.clock.now();
    let (status, tokens) = send(
        app.token_request(&server)
            .header("dpop", key.dpop_proof("POST", &token_url, now, None))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
                ("redirect_uri", REDIRECT),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    let accounts_url = format!("{}/v1/accounts", server.base_url);
    let with_proof = |token: &str, proof: String| {
        server
            .http
            .get(&accounts_url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
    };
    let (status, listing) = send(with_proof(
        access,
        key.dpop_proof("GET", &accounts_url, now, Some(access)),
    ))
    .await;
    assert_eq!(status, 200, "{listing}");
    // Default binding: every account of the student.
    let student = server.customer("user_student").await;
    let owned: BTreeSet<String> = server
        .account_ids(&student)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(account_ids(&listing), owned);
    // As a Bearer token it is refused; with another key's proof too.
    assert_problem(
        &get(&server, access, "/v1/accounts").await,
        401,
        "INVALID_TOKEN",
    );
    let other = ClientKey::generate();
    assert_problem(
        &send(with_proof(
            access,
            other.dpop_proof("GET", &accounts_url, now, Some(access)),
        ))
        .await,
        401,
        "INVALID_TOKEN",
    );
    // The grant is bound to the key: a refresh without a proof, or with another key's, is
    // refused (and does not spend the refresh token).
    let refresh_with = |refresh_token: &str, proof: Option<String>| {
        let mut request = app.token_request(&server).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ]);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        send(request)
    };
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        &refresh_with(refresh_token, None).await,
        400,
        "invalid_dpop_proof",
    );
    let wrong_key = other.dpop_proof("POST", &token_url, now, None);
    assert_oauth_error(
        &refresh_with(refresh_token, Some(wrong_key)).await,
        400,
        "invalid_dpop_proof",
    );
    // Refreshing with a proof by the key gives a token bound to it again.
    let proof = key.dpop_proof("POST", &token_url, now, None);
    let (status, refreshed) = refresh_with(refresh_token, Some(proof)).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["token_type"], "DPoP");
    let access = refreshed["access_token"].as_str().unwrap();
    let (status, _) = send(with_proof(
        access,
        key.dpop_proof("GET", &accounts_url, now, Some(access)),
    ))
    .await;
    assert_eq!(status, 200);
    // And the family stays bound: its next refresh token needs the key too.
    let next = refreshed["refresh_token"].as_str().unwrap();
    assert_oauth_error(&refresh_with(next, None).await, 400, "invalid_dpop_proof");
    let proof = key.dpop_proof("POST", &token_url, now, None);
    let (status, again) = refresh_with(next, Some(proof)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["token_type"], "DPoP");
    server.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_its_family() {
    let server = TestServer::start().await;
    let mut app = register(&server, &[Scope::AccountsRead]).await;
    let (_, first) = consent_tokens(&server, &app, &READ_ALL, "user_business", &[]).await;
    let first_refresh = first["refresh_token"].as_str().unwrap();

    // The access token expires after five minutes; the refresh token gets a new one (and the
    // signing keys are reloaded on the way: more than a minute has passed).
    server.clock.advance(Duration::minutes(6));
    assert_problem(
        &get(
            &server,
            first["access_token"].as_str().unwrap(),
            "/v1/accounts",
        )
        .await,
        401,
        "INVALID_TOKEN",
    );
    app.renew(&server).await;
    let (status, second) = refresh(&server, &app, first_refresh).await;
    assert_eq!(status, 200, "{second}");
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh, "rotated");
    assert_eq!(second["scope"], "accounts.read");
    assert!(second.get("id_token").is_none());
    let second_access = second["access_token"].as_str().unwrap();
    assert_eq!(get(&server, second_access, "/v1/accounts").await.0, 200);

    // Another client cannot use it.
    let stranger = register(&server, &[Scope::AccountsRead]).await;
    assert_oauth_error(
        &refresh(&server, &stranger, second_refresh).await,
        400,
        "invalid_grant",
    );
    // A narrower scope is fine, a wider one is not.
    let (status, body) = send(app.token_request(&server).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", second_refresh),
        ("scope", "accounts.read payments.initiate"),
    ]))
    .await;
    assert_oauth_error(&(status, body), 400, "invalid_scope");

    // The first refresh token comes back: a leak. Every token of the family dies.
    let replay = refresh(&server, &app, first_refresh).await;
    assert_oauth_error(&replay, 400, "invalid_grant");
    assert!(
        replay.1["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_oauth_error(
        &refresh(&server, &app, second_refresh).await,
        400,
        "invalid_grant",
    );
    for access in [&first["access_token"], &second["access_token"]] {
        assert_problem(
            &get(&server, access.as_str().unwrap(), "/v1/accounts").await,
            401,
            "INVALID_TOKEN",
        );
    }

    // Revoking a refresh token at the revocation endpoint ends its family as well.
    let (_, third) = consent_tokens(&server, &app, &READ_ALL, "user_business", &[]).await;
    let (status, _) = send(
        server
            .http
            .post(format!("{}/oauth2/revoke", server.base_url))
            .basic_auth(app.client_id(), Some(&app.created.client_secret))
            .form(&[
                ("token", third["refresh_token"].as_str().unwrap()),
                ("token_type_hint", "refresh_token"),
            ]),
    )
    .await;
    assert_eq!(status, 200);
    assert_problem(
        &get(
            &server,
            third["access_token"].as_str().unwrap(),
            "/v1/accounts",
        )
        .await,
        401,
        "INVALID_TOKEN",
    );
    assert_oauth_error(
        &refresh(&server, &app, third["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );
    server.stop().await;
}

#[tokio::test]
async fn codes_are_refused_unless_everything_matches_and_only_once() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;

    // PKCE is required, and only S256.
    let (verifier, challenge) = pkce();
    let plain = authorize(
        &server,
        &app,
        &consent_id,
        json!({
            "username": "user_good",
            "codeChallenge": verifier,
            "codeChallengeMethod": "plain",
        }),
    )
    .await;
    assert_problem(&plain, 400, "INVALID_REQUEST");
    assert_eq!(plain.1["errors"][0]["field"], "code_challenge_method");
    let missing = authorize(
        &server,
        &app,
        &consent_id,
        json!({ "username": "user_good" }),
    )
    .await;
    assert_problem(&missing, 400, "INVALID_REQUEST");
    assert_eq!(missing.1["errors"][0]["field"], "code_challenge");
    // The redirect URI must be registered; the user must exist.
    let unregistered = authorize(
        &server,
        &app,
        &consent_id,
        json!({
            "username": "user_good",
            "codeChallenge": challenge,
            "redirectUri": "https://evil.example/callback",
        }),
    )
    .await;
    assert_problem(&unregistered, 400, "INVALID_REQUEST");
    assert_eq!(unregistered.1["errors"][0]["field"], "redirect_uri");
    assert_problem(
        &authorize(
            &server,
            &app,
            &consent_id,
            json!({ "username": "nobody", "codeChallenge": challenge }),
        )
        .await,
        400,
        "INVALID_REQUEST",
    );
    // None of that touched the consent; now it is authorised (redirect URI by default).
    let (status, answer) = authorize(
        &server,
        &app,
        &consent_id,
        json!({ "username": "user_good", "codeChallenge": challenge }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["redirectUri"], REDIRECT);
    let code = answer["code"].as_str().unwrap();
    // Deciding twice is refused.
    assert_problem(
        &authorize(
            &server,
            &app,
            &consent_id,
            json!({ "username": "user_good", "codeChallenge": challenge }),
        )
        .await,
        422,
        "INVALID_STATE_TRANSITION",
    );

    // Wrong verifier, other redirect URI, other client: refused, and the code survives them.
    let (other_verifier, _) = pkce();
    assert_oauth_error(
        &exchange(&server, &app, code, &other_verifier, REDIRECT).await,
        400,
        "invalid_grant",
    );
    assert_oauth_error(
        &exchange(&server, &app, code, &verifier, "https://app.example/other").await,
        400,
        "invalid_grant",
    );
    let stranger = register(&server, &[Scope::AccountsRead]).await;
    assert_oauth_error(
        &exchange(&server, &stranger, code, &verifier, REDIRECT).await,
        400,
        "invalid_grant",
    );
    let (status, tokens) = exchange(&server, &app, code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(get(&server, access, "/v1/accounts").await.0, 200);

    // The code again: refused, and what it gave is revoked (RFC 6749 §4.1.2).
    let replay = exchange(&server, &app, code, &verifier, REDIRECT).await;
    assert_oauth_error(&replay, 400, "invalid_grant");
    assert_problem(
        &get(&server, access, "/v1/accounts").await,
        401,
        "INVALID_TOKEN",
    );
    assert_oauth_error(
        &refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );

    // Codes live 60 seconds.
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (code, verifier) = authorized_code(&server, &app, &consent_id, "user_good", &[]).await;
    server.clock.advance(Duration::seconds(61));
    let expired = exchange(&server, &app, &code, &verifier, REDIRECT).await;
    assert_oauth_error(&expired, 400, "invalid_grant");
    assert!(
        expired.1["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // Unknown grant types and garbage codes.
    assert_oauth_error(
        &exchange(&server, &app, "not-a-code", &verifier, REDIRECT).await,
        400,
        "invalid_grant",
    );
    server.stop().await;
}

#[tokio::test]
async fn apps_cannot_reach_each_others_consents() {
    let server = TestServer::start().await;
    let app_a = register(&server, &[Scope::AccountsRead]).await;
    let app_b = register(&server, &[Scope::AccountsRead]).await;
    let customer = server.customer("user_good").await;
    let owned: Vec<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let consent_a = create_consent(&server, &app_a, &account_access(&READ_ALL)).await;
    let consent_b = create_consent(&server, &app_b, &account_access(&READ_ALL)).await;

    // B cannot authorise A's consent, nor read it: NOT_FOUND, as for an unknown id.
    let (_, challenge) = pkce();
    let foreign = json!({ "username": "user_good", "codeChallenge": challenge });
    assert_problem(
        &authorize(&server, &app_b, &consent_a, foreign.clone()).await,
        404,
        "NOT_FOUND",
    );
    assert_problem(
        &authorize(&server, &app_b, "cns_01jz0000000000000000000000", foreign).await,
        404,
        "NOT_FOUND",
    );
    assert_problem(
        &get(&server, &app_b.token, &format!("/v1/consents/{consent_a}")).await,
        404,
        "NOT_FOUND",
    );

    // A's consent over the first account, B's over the second.
    let (code_a, verifier_a) =
        authorized_code(&server, &app_a, &consent_a, "user_good", &owned[..1]).await;
    let (code_b, verifier_b) =
        authorized_code(&server, &app_b, &consent_b, "user_good", &owned[1..2]).await;
    // A's code is worthless to B.
    assert_oauth_error(
        &exchange(&server, &app_b, &code_a, &verifier_a, REDIRECT).await,
        400,
        "invalid_grant",
    );
    let (_, tokens_a) = exchange(&server, &app_a, &code_a, &verifier_a, REDIRECT).await;
    let (_, tokens_b) = exchange(&server, &app_b, &code_b, &verifier_b, REDIRECT).await;
    let token_a = tokens_a["access_token"].as_str().unwrap();
    let token_b = tokens_b["access_token"].as_str().unwrap();
    // A's token sees A's account only; B's account (B's consent) is not found.
    assert_eq!(
        account_ids(&get(&server, token_a, "/v1/accounts").await.1),
        BTreeSet::from([owned[0].clone()])
    );
    assert_problem(
        &get(
            &server,
            token_a,
            &format!("/v1/accounts/{}/transactions", owned[1]),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        account_ids(&get(&server, token_b, "/v1/accounts").await.1),
        BTreeSet::from([owned[1].clone()])
    );
    // A customer's token is not the app's: it cannot manage consents.
    assert_problem(
        &get(&server, token_a, &format!("/v1/consents/{consent_a}")).await,
        403,
        "WRONG_CALLER",
    );
    // B's introspection knows nothing of A's token.
    let (_, introspection) = send(
        server
            .http
            .post(format!("{}/oauth2/introspect", server.base_url))
            .basic_auth(app_b.client_id(), Some(&app_b.created.client_secret))
            .form(&[("token", token_a)]),
    )
    .await;
    assert_eq!(introspection, json!({ "active": false }));
    server.stop().await;
}

#[tokio::test]
async fn scopes_of_a_consent_bound_token_gate_each_rpc() {
    let server = TestServer::start().await;
    let app = register(
        &server,
        &[
            Scope::AccountsRead,
            Scope::CustomersProfileRead,
            Scope::PaymentsInitiate,
        ],
    )
    .await;
    let permissions = [
        "PERMISSION_READ_ACCOUNTS",
        "PERMISSION_READ_CUSTOMER_PROFILE",
    ];
    let consent_id = create_consent(&server, &app, &account_access(&permissions)).await;
    // A scope that does not belong with an account-access consent is refused.
    let (verifier, challenge) = pkce();
    let wrong = authorize(
        &server,
        &app,
        &consent_id,
        json!({
            "username": "user_traveller",
            "codeChallenge": challenge,
            "scope": "accounts.read payments.initiate",
        }),
    )
    .await;
    assert_problem(&wrong, 400, "INVALID_REQUEST");
    assert_eq!(wrong.1["errors"][0]["field"], "scope");
    // Granted accounts.read only: the profile (customers.profile.read) is refused.
    let (status, answer) = authorize(
        &server,
        &app,
        &consent_id,
        json!({
            "username": "user_traveller",
            "codeChallenge": challenge,
            "scope": "accounts.read",
        }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, tokens) = exchange(
        &server,
        &app,
        answer["code"].as_str().unwrap(),
        &verifier,
        REDIRECT,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(get(&server, access, "/v1/accounts").await.0, 200);
    assert_problem(
        &get(&server, access, "/v1/customers/profile").await,
        403,
        "INSUFFICIENT_SCOPE",
    );
    // The consent grants no balances: the permission check refuses them.
    let account = server
        .account_ids(&server.customer("user_traveller").await)
        .await[0]
        .clone();
    assert_problem(
        &get(&server, access, &format!("/v1/accounts/{account}/balances")).await,
        403,
        "PERMISSION_NOT_GRANTED",
    );
    server.stop().await;
}

#[tokio::test]
async fn the_sandbox_binds_payment_accounts_denies_lists_users_and_resets() {
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::PaymentsInitiate]).await;
    let mut sandbox = SandboxServiceClient::new(server.channel());

    // ListTestUsers: the documented users, with their second factor as of now.
    let users = sandbox
        .list_test_users(server.request(&app.token, pb::ListTestUsersRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(users.len(), wekeza_sandbox_bank::seed::TEST_USERS.len());
    let good = users
        .iter()
        .find(|user| user.username == "user_good")
        .unwrap();
    assert_eq!(good.password, "pass_good");
    let customer = server.customer("user_good").await;
    assert_eq!(good.customer_id, customer.id.as_str());
    assert_eq!(
        good.current_otp,
        wekeza_identity::totp::code(&good.totp_secret, server.clock.now()).unwrap()
    );
    assert_eq!(good.current_otp.len(), 6);
    let owned: Vec<String> = server
        .account_ids(&customer)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(good.account_ids, owned);

    // A payment consent naming no debtor: the user's first current account in KES is bound.
    let consent_id = create_consent(&server, &app, &payment("150.00", None)).await;
    let (code, verifier) = authorized_code(&server, &app, &consent_id, "user_good", &[]).await;
    let (_, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    let bound = consent["accountIds"].as_array().unwrap();
    assert_eq!(bound.len(), 1);
    let current: AccountId = bound[0].as_str().unwrap().parse().unwrap();
    let account = server.ledger().account(&current).await.unwrap().unwrap();
    assert_eq!(account.subtype, AccountSubtype::CurrentAccount);
    assert_eq!(account.currency, Currency::Kes);
    let (status, tokens) = exchange(&server, &app, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "payments.initiate");

    // A payment consent naming its debtor account: that one is bound, and no other.
    let query = AccountQuery {
        only: None,
        after_id: None,
        limit: 100,
    };
    let savings = server
        .ledger()
        .accounts(&customer.id, &query)
        .await
        .unwrap()
        .into_iter()
        .find(|account| account.subtype == AccountSubtype::Savings)
        .unwrap();
    let consent_id = create_consent(
        &server,
        &app,
        &payment("10.00", Some(&savings.account_number)),
    )
    .await;
    let (_, challenge) = pkce();
    assert_problem(
        &authorize(
            &server,
            &app,
            &consent_id,
            json!({
                "username": "user_good",
                "codeChallenge": challenge,
                "accountIds": [current.to_string()],
            }),
        )
        .await,
        400,
        "INVALID_REQUEST",
    );
    authorized_code(&server, &app, &consent_id, "user_good", &[]).await;
    let (_, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(consent["accountIds"], json!([savings.id.to_string()]));

    // Denied: the consent is rejected and the answer says access_denied.
    let consent_id = create_consent(&server, &app, &payment("20.00", None)).await;
    let denied = sandbox
        .authorize_consent(server.request(
            &app.token,
            pb::AuthorizeConsentRequest {
                consent_id: consent_id.clone(),
                username: "user_good".into(),
                deny: true,
                state: "s1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(denied.error, "access_denied");
    assert!(denied.code.is_empty());
    assert_eq!(denied.state, "s1");
    assert_eq!(denied.iss, server.base_url);
    let (_, consent) = get(&server, &app.token, &format!("/v1/consents/{consent_id}")).await;
    assert_eq!(consent["status"], "CONSENT_STATUS_REJECTED");

    // FireEvent: the rejected consent as it is, through the outbox and the bus.
    let mut published = server
        .bus()
        .subscribe("fire-test", "wekeza.events.consent.*")
        .await
        .unwrap();
    let fired = sandbox
        .fire_event(server.request(
            &app.token,
            pb::FireEventRequest {
                event_type: "consent.status_changed".into(),
                resource_id: consent_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .event
        .unwrap();
    assert_eq!(fired.r#type, "consent.status_changed");
    let Some(pb::event::Payload::ConsentStatusChanged(change)) = &fired.payload else {
        panic!("a consent event: {fired:?}");
    };
    assert_eq!(change.consent_id, consent_id);
    assert_eq!(change.status(), pb::ConsentStatus::Rejected);
    // The relay may still be publishing the rejection itself; the fired event follows it.
    let relayed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let delivery = published.next().await.unwrap();
            let id = delivery.envelope.id.to_string();
            delivery.ack().await.unwrap();
            if id == fired.event_id {
                return id;
            }
        }
    })
    .await;
    assert_eq!(relayed.ok(), Some(fired.event_id.clone()));
    // Another app's consent, or an id of the wrong kind, is not found.
    let stranger = register(&server, &[Scope::AccountsRead, Scope::PaymentsInitiate]).await;
    for (token, resource_id) in [
        (&stranger.token, consent_id.clone()),
        (&app.token, "pay_01jz0000000000000000000000".to_owned()),
    ] {
        let status = sandbox
            .fire_event(server.request(
                token,
                pb::FireEventRequest {
                    event_type: "consent.status_changed".into(),
                    resource_id,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);
    }

    // ResetSandbox: consents are gone, and so are the tokens bound to them.
    let (_, tokens) = consent_tokens(&server, &app, &READ_ALL, "user_good", &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(get(&server, access, "/v1/accounts").await.0, 200);
    let reset = sandbox
        .reset_sandbox(server.request(&app.token, pb::ResetSandboxRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(reset.deleted_consent_count >= 3, "{reset:?}");
    assert_problem(
        &get(&server, access, "/v1/accounts").await,
        401,
        "INVALID_TOKEN",
    );
    assert_oauth_error(
        &refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );
    // The test users themselves are untouched (a reset takes back only what the app changed).
    assert_eq!(server.customer("user_good").await.id, customer.id);
    server.stop().await;
}

#[tokio::test]
async fn no_code_verifier_token_or_second_factor_reaches_the_logs() {
    let (logs, _guard) = crate::identity::capture_logs();
    let server = TestServer::start().await;
    let app = register(&server, &[Scope::AccountsRead, Scope::OpenId]).await;
    let consent_id = create_consent(&server, &app, &account_access(&READ_ALL)).await;
    let (code, verifier) = authorized_code(&server, &app, &consent_id, "user_good", &[]).await;
    let (_, tokens) = exchange(&server, &app, &code, &verifier, REDIRECT).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    get(&server, &access, "/v1/accounts").await;
    let (_, refreshed) = refresh(&server, &app, &first_refresh).await;
    // Replays, which log warnings: the refresh token first, then the code.
    refresh(&server, &app, &first_refresh).await;
    exchange(&server, &app, &code, &verifier, REDIRECT).await;
    let (_, users) = get(&server, &app.token, "/v1/sandbox/users").await;
    server.stop().await;

    let text = logs.text();
    assert!(text.contains("consent authorised"), "{text}");
    assert!(text.contains("authorization code redeemed"), "{text}");
    assert!(text.contains("refresh token replayed"), "{text}");
    assert!(text.contains("authorization code replayed"), "{text}");
    let mut secrets = vec![
        app.token.clone(),
        app.created.client_secret.clone(),
        code,
        verifier,
        access,
        first_refresh,
    ];
    for name in ["access_token", "refresh_token", "id_token"] {
        if let Some(token) = tokens[name].as_str().or(refreshed[name].as_str()) {
            secrets.push(token.to_owned());
        }
    }
    for user in users["users"].as_array().unwrap() {
        secrets.push(user["totpSecret"].as_str().unwrap().to_owned());
    }
    logs.assert_free_of(&secrets);
}
