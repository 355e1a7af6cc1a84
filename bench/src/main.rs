//! `make bench`: load scenarios against the real server, printed as one table per run.
//!
//! The server runs in this process (release build, SQLite, the seeded sandbox) behind the
//! harness's token seam, because until the identity service issues tokens there is no other way
//! to call customer APIs; everything after authentication is the production path. Each
//! scenario runs a fixed number of concurrent clients for a fixed time and reports requests per
//! second and latency percentiles. Ratios are computed within one run, on one machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::time::{Duration, Instant};

use wekeza_proto::v1 as pb;
use wekeza_proto::v1::account_information_service_client::AccountInformationServiceClient;
use wekeza_store::testing::TestDatabase;
use wekeza_testkit::TestServer;

/// Concurrent clients per scenario.
const CONCURRENCY: usize = 32;
/// Measured time per scenario.
const DURATION: Duration = Duration::from_secs(10);
/// Unmeasured time before it.
const WARMUP: Duration = Duration::from_secs(2);

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

/// Runs `call` from `CONCURRENCY` tasks for `DURATION` (after `WARMUP`).
async fn measure<F, Fut>(name: &'static str, call: F) -> Measured
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
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
                    return (latencies, errors);
                }
                let ok = call().await;
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
    for task in tasks {
        let (latencies, failed) = task.await.unwrap();
        latencies_us.extend(latencies);
        errors += failed;
    }
    latencies_us.sort_unstable();
    Measured {
        name,
        requests: latencies_us.len(),
        errors,
        elapsed: DURATION,
        latencies_us,
    }
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
        "wekeza bench: {CONCURRENCY} clients, {}s per scenario after {}s warm-up, SQLite, release build\n",
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
        async move { client.list_accounts(request).await.is_ok() }
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
            match request.await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;

    let ratio = rest.rps() / grpc.rps();
    print(&[grpc, rest]);
    println!("\nREST ÷ gRPC throughput: {ratio:.2} (goal ≥ 0.70: transcoding overhead ≤ 30 %)");
    server.stop().await;
}
