//! `make bench`: load scenarios against the real server, printed as one table per run.
//!
//! The server runs in this process (release build, SQLite, the seeded sandbox) behind the
//! harness's token seam, because until the identity service issues tokens there is no other way
//! to call customer APIs; everything after authentication is the production path. Each
//! scenario runs a fixed number of concurrent clients for a fixed time and reports requests per
//! second and latency percentiles. Ratios are computed within one run, on one machine.
//!
//! The payment scenario creates payments under consents prepared beforehand (each payment
//! consumes one), spread over three payers, with the fraud policy set to allow everything so
//! that the velocity rules do not turn the load into step-ups (the rules still run). It runs on
//! PostgreSQL when `WEKEZA_BENCH_DATABASE_URL` names a server (a fresh database is created on
//! it), else on SQLite; settlement runs in the background as in production.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wekeza_domain::{ConsentGrant, Principal, Scope};
use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_proto::v1::consent_service_client::ConsentServiceClient;
use wekeza_proto::v1::payment_service_client::PaymentServiceClient;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

/// Concurrent clients per scenario.
const CONCURRENCY: usize = 32;
/// Measured time per scenario.
const DURATION: Duration = Duration::from_secs(10);
/// Unmeasured time before it.
const WARMUP: Duration = Duration::from_secs(2);
/// Payment consents prepared for the payment scenario: it ends early when they run out.
const PAYMENT_POOL: usize = 6000;
/// Who pays, in turn (each has KES current accounts with funds for the whole pool).
const PAYERS: [&str; 3] = ["user_good", "user_business", "user_traveller"];
/// The server the payment scenario runs on, when set: PostgreSQL instead of SQLite.
const BENCH_DATABASE_VAR: &str = "WEKEZA_BENCH_DATABASE_URL";
/// Every payment allowed by the fraud checks (the rules still score them).
const ALLOW_ALL: &str = "[fraud]\npolicy = { step_up_threshold = 101, reject_threshold = 101 }\n";

/// What one scenario measured.
struct Measured {
    name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Measured {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

/// Runs `call` from `CONCURRENCY` tasks for `DURATION` (after `WARMUP`), or until it answers
/// `None` (nothing left to do). `Some(ok)` is one request.
async fn measure<F, Fut>(name: &'static str, call: F) -> Measured
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Option<bool>> + Send,
{
    let warm_until = Instant::now() + WARMUP;
    let stop_at = warm_until + DURATION;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let started = Instant::now();
                if started >= stop_at {
                    return (latencies, errors, stop_at);
                }
                let Some(ok) = call().await else {
                    return (latencies, errors, Instant::now());
                };
                if started >= warm_until {
                    if ok {
                        latencies.push(started.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    let mut ended = warm_until;
    for task in tasks {
        let (latencies, failed, finished) = task.await.unwrap();
        latencies_us.extend(latencies);
        errors += failed;
        ended = ended.max(finished);
    }
    latencies_us.sort_unstable();
    Measured {
        name,
        requests: latencies_us.len(),
        errors,
        elapsed: ended.saturating_duration_since(warm_until),
        latencies_us,
    }
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
async fn payments() -> (Measured, String, Duration) {
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
    let measured = measure("CreatePayment over gRPC (h2c)", move || {
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
    while !wekeza_store::payments::unfinished(server.database.conn(), 1)
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

fn print(results: &[Measured]) {
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>7}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for result in results {
        println!(
            "{:<34} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            result.name,
            result.rps(),
            result.percentile_ms(0.50),
            result.percentile_ms(0.99),
            result.errors
        );
    }
}

#[tokio::main]
async fn main() {
    let server = TestServer::start_on(TestDatabase::sqlite().await).await;
    let token = server.full_access_token("user_good").await;
    println!(
        "wekeza bench: {CONCURRENCY} clients, {}s per scenario after {}s warm-up, release build; ListAccounts on SQLite\n",
        DURATION.as_secs(),
        WARMUP.as_secs()
    );

    let channel = server.channel();
    let grpc_token = format!("Bearer {token}");
    let grpc = measure("ListAccounts over gRPC (h2c)", move || {
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
    let rest = measure("ListAccounts over REST (HTTP/1.1)", move || {
        let request = http.get(&url).bearer_auth(&token).send();
        async move {
            Some(match request.await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            })
        }
    })
    .await;

    let ratio = rest.rps() / grpc.rps();
    server.stop().await;

    let (payments, backend, settled_after) = payments().await;
    let payments_name = payments.name;
    print(&[grpc, rest, payments]);
    println!("\nREST ÷ gRPC throughput: {ratio:.2} (goal ≥ 0.70: transcoding overhead ≤ 30 %)");
    println!(
        "{payments_name}: on {backend}; settlement caught up {:.1}s after the last create",
        settled_after.as_secs_f64()
    );
}
