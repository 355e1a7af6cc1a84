//! The scenarios: `ListAccounts` over gRPC and REST on the in-process server, the
//! client-credentials grant on Wekeza and on oidc-provider, and `CreatePayment` under consents
//! prepared beforehand. Each returns what it measured; `main` prints them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use wekeza_domain::{ConsentGrant, Principal, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_proto::v1::payment_service_client::PaymentServiceClient;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

use crate::measure::{CONCURRENCY, CpuProbe, Measured, measure};
use crate::servers::{OidcProvider, Setup, TOKEN_SCOPE, TokenEndpoint, WekezaServer};

/// Payment consents prepared for the payment scenario: it ends early when they run out.
const PAYMENT_POOL: usize = 6000;
/// Who pays, in turn (each has KES current accounts with funds for the whole pool).
const PAYERS: [&str; 3] = ["user_good", "user_business", "user_traveller"];
/// The server the payment scenario runs on, when set: PostgreSQL instead of SQLite.
pub(crate) const BENCH_DATABASE_VAR: &str = "WEKEZA_BENCH_DATABASE_URL";
/// Every payment allowed by the fraud checks (the rules still score them).
const ALLOW_ALL: &str = "[fraud]\npolicy = { step_up_threshold = 101, reject_threshold = 101 }\n";

/// `ListAccounts` over gRPC, then over REST, on the in-process server (seeded sandbox, SQLite)
/// with one customer's token; the server is stopped before this returns, so nothing of it runs
/// during the later scenarios.
pub(crate) async fn list_accounts() -> (Measured, Measured) {
    let server = TestServer::start_on(TestDatabase::sqlite().await).await;
    let token = server.full_access_token("user_good").await;

    let channel = server.channel();
    let grpc_token = format!("Bearer {token}");
    let grpc = measure("ListAccounts over gRPC (h2c)", None, move || {
        let mut client = AccountInformationServiceClient::new(channel.clone());
        let mut request = tonic::Request::new(pb::ListAccountsRequest::default());
        request
            .metadata_mut()
            .insert("authorization", grpc_token.parse().unwrap());
        async move { Some(client.list_accounts(request).await.is_ok()) }
    })
    .await;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let url = format!("{}/v1/accounts", server.base_url);
    let rest = measure("ListAccounts over REST (HTTP/1.1)", None, move || {
        let request = http.get(&url).bearer_auth(&token).send();
        async move {
            Some(match request.await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            })
        }
    })
    .await;
    server.stop().await;
    (grpc, rest)
}

/// The client-credentials grant on the release `wekeza` binary, then with the same client on
/// oidc-provider running `workers` processes; one server after the other, never both at once.
pub(crate) async fn token_endpoints(workers: usize) -> (Measured, Measured) {
    let wekeza = WekezaServer::start(Setup::default()).await;
    let client = wekeza.client.clone();
    let wekeza_token = token_grant(
        "POST /oauth2/token: Wekeza",
        client.clone(),
        &wekeza.cpu_probe(),
    )
    .await;
    drop(wekeza);
    let provider = OidcProvider::start(&client, workers).await;
    let provider_token = token_grant(
        "POST /token: oidc-provider",
        provider.token_endpoint(&client),
        &provider.cpu_probe(),
    )
    .await;
    drop(provider);
    (wekeza_token, provider_token)
}

/// Payment consents to Jane, each authorised by one of the [`PAYERS`], with a customer token
/// bound to it: `(consent id, token)`.
async fn prepare_consents(
    server: &TestServer,
    app: &Principal,
    count: usize,
) -> Vec<(String, String)> {
    let app_token = format!("Bearer {}", server.token_for(app.clone()));
    let prepare = |index: usize| {
        let app_token = app_token.clone();
        async move {
            let mut request = tonic::Request::new(pb::CreateConsentRequest {
                r#type: pb::ConsentType::Payment.into(),
                payment: Some(pb::PaymentDetails {
                    instructed_amount: Some(pb::Money {
                        amount: "1.00".into(),
                        currency: "KES".into(),
                    }),
                    creditor: Some(pb::Creditor {
                        name: "Jane Doe".into(),
                        account_number: "01100012345".into(),
                    }),
                    reference: format!("bench {index}"),
                    debtor_account: None,
                }),
                ..Default::default()
            });
            let metadata = request.metadata_mut();
            metadata.insert("authorization", app_token.parse().unwrap());
            metadata.insert(
                "idempotency-key",
                format!("consent-{index}").parse().unwrap(),
            );
            let consent = ConsentServiceClient::new(server.channel())
                .create_consent(request)
                .await
                .unwrap()
                .into_inner()
                .consent
                .unwrap();
            let payer = PAYERS[index % PAYERS.len()];
            let authorised = server
                .authorise_consent(&consent.consent_id.parse().unwrap(), payer, &[])
                .await;
            let token = server.token_for(Principal {
                app_id: app.app_id.clone(),
                scopes: BTreeSet::from([Scope::PaymentsInitiate]),
                customer_id: authorised.customer_id.clone(),
                consent: Some(ConsentGrant {
                    consent_id: authorised.id.clone(),
                    account_ids: authorised.account_ids.clone(),
                    permissions: BTreeSet::new(),
                }),
                step_up_at: None,
            });
            (consent.consent_id, format!("Bearer {token}"))
        }
    };
    let mut prepared = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(CONCURRENCY) {
        prepared.extend(futures::future::join_all(chunk.iter().map(|&index| prepare(index))).await);
    }
    prepared
}

/// The payment scenario: `CreatePayment` over gRPC until the prepared consents run out or the
/// time is up; then how long settlement takes to catch up.
pub(crate) async fn payments() -> (Measured, String, Duration) {
    let (database, backend) = match std::env::var(BENCH_DATABASE_VAR) {
        Ok(url) => (TestDatabase::postgres(url).await, "PostgreSQL"),
        Err(_) => (TestDatabase::sqlite().await, "SQLite"),
    };
    let server = TestServer::start_with(database, ALLOW_ALL).await;
    let app = server.app_principal(&[Scope::PaymentsInitiate]).await;
    let started = Instant::now();
    let pool = Arc::new(Mutex::new(
        prepare_consents(&server, &app, PAYMENT_POOL).await,
    ));
    println!(
        "prepared {PAYMENT_POOL} payment consents on {backend} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let channel = server.channel();
    let measured = measure("CreatePayment over gRPC (h2c)", None, move || {
        let next = pool.lock().unwrap().pop();
        let channel = channel.clone();
        async move {
            let (consent_id, token) = next?;
            let mut request = tonic::Request::new(pb::CreatePaymentRequest {
                consent_id,
                ..Default::default()
            });
            let metadata = request.metadata_mut();
            metadata.insert("authorization", token.parse().unwrap());
            metadata.insert(
                "idempotency-key",
                ulid::Ulid::new().to_string().parse().unwrap(),
            );
            metadata.insert(
                "x-fapi-customer-ip-address",
                "198.51.100.23".parse().unwrap(),
            );
            Some(
                PaymentServiceClient::new(channel)
                    .create_payment(request)
                    .await
                    .is_ok(),
            )
        }
    })
    .await;
    let draining = Instant::now();
    while !wekeza_store::payments::unfinished(server.database.conn(), None, 1)
        .await
        .unwrap()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settled_after = draining.elapsed();
    server.stop().await;
    (measured, backend.to_owned(), settled_after)
}

/// The access token of a successful token response (200, JSON, a Bearer `access_token`);
/// `None` for anything else.
async fn issued_token(response: reqwest::Result<reqwest::Response>) -> Option<String> {
    let response = response.ok()?;
    if response.status() != reqwest::StatusCode::OK {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    if body["token_type"] != "Bearer" {
        return None;
    }
    body["access_token"]
        .as_str()
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

/// The JSON of the JWT part at `index` (0 header, 1 claims).
fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The client-credentials grant at `endpoint` under load, after checking one token: an
/// ES256-signed JWT access token carrying [`TOKEN_SCOPE`], as the comparison requires. The
/// server's CPU time is read through `server`.
async fn token_grant(name: &'static str, endpoint: TokenEndpoint, server: &CpuProbe) -> Measured {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let token = issued_token(endpoint.request(&http).send().await)
        .await
        .unwrap_or_else(|| panic!("{name}: {} issued no token", endpoint.url));
    let (header, claims) = (jwt_part(&token, 0), jwt_part(&token, 1));
    assert!(
        header["alg"] == "ES256" && header["typ"] == "at+jwt" && claims["scope"] == TOKEN_SCOPE,
        "{name}: not an ES256 JWT access token for {TOKEN_SCOPE}: {header} {claims}"
    );
    measure(name, Some(server), move || {
        let request = endpoint.request(&http).send();
        async move { Some(issued_token(request.await).await.is_some()) }
    })
    .await
}
