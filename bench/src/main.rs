//! `make bench`: load scenarios against the real server, printed as one table per run.
//!
//! Each scenario runs a fixed number of concurrent clients for a fixed time and reports requests
//! per second and latency percentiles; the token-endpoint scenarios also report the server's CPU
//! time per request (below). Ratios are computed within one run, on one machine.
//!
//! The customer-API scenarios (`ListAccounts`, `CreatePayment`) run the server in this process
//! (release build, the seeded sandbox) and present the harness's test tokens
//! ([`wekeza_testkit`]): the identity service issues real tokens, but each customer token needs
//! a consent authorised through the sign-in pages, which would measure the sign-in instead of
//! the API; everything after authentication is the production path. `ListAccounts` runs on
//! SQLite.
//!
//! The payment scenario creates payments under consents prepared beforehand (each payment
//! consumes one), spread over three payers, with the fraud policy set to allow everything so
//! that the velocity rules do not turn the load into step-ups (the rules still run). It runs on
//! PostgreSQL when `WEKEZA_BENCH_DATABASE_URL` names a server (a fresh database is created on
//! it), else on SQLite; settlement runs in the background as in production.
//!
//! The token-endpoint scenario is the OAuth2 client-credentials grant (`POST /oauth2/token`,
//! the identity service's real code path), run against Wekeza and then, in the same run on the
//! same machine, against panva's `oidc-provider` (`bench/oidc-provider`, the version pinned
//! there). Both servers run as child processes of the bench, killed when their scenario ends
//! (also on failure): Wekeza is the release `wekeza` binary next to the bench's own executable
//! (`make bench` builds it first with `cargo build --release -p wekeza-server`), serving its
//! defaults on a fresh SQLite database in a temporary directory (`wekeza serve`, the client
//! registered with `wekeza apps create`); oidc-provider is a Node process. The comparison is
//! fair by construction:
//!
//! - Same request. oidc-provider's one client is the app registered on Wekeza — same client id
//!   and secret, `client_secret_basic` on both — and both get the same form body
//!   (`grant_type=client_credentials` and the same two scopes), from the same HTTP client (a
//!   fresh reqwest client each, HTTP/1.1 with keep-alive) at the same [`CONCURRENCY`](measure::CONCURRENCY) for
//!   the same [`WARMUP`](measure::WARMUP) and [`DURATION`](measure::DURATION), one server after the other, never both at once.
//! - Same answer. Both issue ES256-signed JWT access tokens (`typ: at+jwt`, 5 minutes, carrying
//!   the scopes; oidc-provider through `features.resourceIndicators` with one resource server
//!   whose `accessTokenFormat` is `jwt`, its key generated at start-up) and store nothing per
//!   token. One token from each is checked for that before the load; under load every answer
//!   must be a 200 with a Bearer `access_token`, anything else counts as an error.
//! - Same CPU budget. Wekeza's tokio runtime has one worker thread per core (its default);
//!   oidc-provider runs one Node worker process per core (`node:cluster` sharing the port; the
//!   bench waits until all listen), `NODE_ENV=production`, its in-memory adapter, no
//!   development interactions.
//! - Measured where the cost is. The load generator (this process) shares the machine's cores
//!   with the server under test, and on a small machine it is the bottleneck: with `c` cores, a
//!   generator cost `g` and a server cost `s` per request, throughput is at most about
//!   `c / (g + s)`, so the throughput ratio of two servers, `(g + s₁) / (g + s₂)`, can never
//!   exceed `(g + s₁) / g` however cheap the faster server is. So the bench also reads the
//!   server's own CPU time — `utime + stime` from `/proc/<pid>/stat`, all of its threads, and
//!   for Node the primary process and every worker process — at the start and at the end of the
//!   measured window, and divides it by the requests answered in it. That figure does not
//!   depend on how much CPU the generator takes (up to cache and scheduler effects), so the
//!   ratio of CPU time per request is the fair efficiency comparison; both ratios are printed.
//!   Kernel work on loopback sockets is charged to whichever side happens to run it; the client
//!   and the protocol are the same for both servers, so that error is the same on both sides.
//!
//! What differs is in oidc-provider's favour: its client is static configuration compared in
//! the clear, where Wekeza reads the app from its database (SQLite) on every request — so that
//! a suspension or a new secret takes effect at once — and compares a SHA-256 hash of the
//! secret in constant time; Wekeza's background workers (outbox relay, settlement, sweepers)
//! also run, and are counted, during the window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//!
//! # Layout
//! - `measure`: load generation, latency statistics, the server's CPU time, the results table.
//! - `scenarios`: what is measured, each scenario end to end.
//! - `servers`: the child-process servers: `wekeza` and oidc-provider.
//! - `webhooks`: the webhook-latency scenario (its own module doc says how it measures).
//! - `gateway`: what the gateway's policies cost on the authenticated read path.

mod gateway;
mod measure;
mod scenarios;
mod servers;
mod webhooks;

use measure::{CONCURRENCY, DURATION, WARMUP};
use servers::OidcProvider;

#[tokio::main]
async fn main() {
    // `wekeza-bench webhooks` (`make bench BENCH=webhooks`): that scenario alone.
    if std::env::args().nth(1).as_deref() == Some("webhooks") {
        webhooks::webhook_latency().await.print();
        return;
    }
    // `wekeza-bench gateway` (`make bench BENCH=gateway`): that scenario alone.
    if std::env::args().nth(1).as_deref() == Some("gateway") {
        let cost = gateway::gateway_cost().await;
        measure::print(&cost.rows);
        cost.print();
        return;
    }
    let (node_version, provider_version) = OidcProvider::preflight();
    println!(
        "wekeza bench: {CONCURRENCY} clients, {}s per scenario after {}s warm-up, release build; ListAccounts on SQLite\n",
        DURATION.as_secs(),
        WARMUP.as_secs()
    );

    let (grpc, rest) = scenarios::list_accounts().await;
    let ratio = rest.rps() / grpc.rps();

    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (wekeza_token, provider_token) = scenarios::token_endpoints(workers).await;
    let token_ratio = wekeza_token.rps() / provider_token.rps();
    let cpu_ratio = provider_token.cpu_us_per_request().unwrap_or(f64::NAN)
        / wekeza_token.cpu_us_per_request().unwrap_or(f64::NAN);

    let (payments, backend, settled_after) = scenarios::payments().await;
    let webhooks = webhooks::webhook_latency().await;
    let gateway = gateway::gateway_cost().await;
    let payments_name = payments.name;
    measure::print(&[grpc, rest, wekeza_token, provider_token, payments]);
    measure::print(&gateway.rows);
    gateway.print();
    println!("\nREST ÷ gRPC throughput: {ratio:.2} (goal ≥ 0.70: transcoding overhead ≤ 30 %)");
    println!(
        "token endpoint, Wekeza ÷ oidc-provider throughput: {token_ratio:.2}× (goal ≥ 5×); \
         the load generator shares the {workers} cores with the server, which bounds this ratio"
    );
    println!(
        "token endpoint, CPU efficiency (oidc-provider ÷ Wekeza server CPU µs per request): \
         {cpu_ratio:.2}× (goal ≥ 5×)"
    );
    println!(
        "token endpoint: client_credentials with client_secret_basic, ES256 JWT access tokens; \
         Wekeza's release binary on SQLite; oidc-provider {provider_version} on Node \
         {node_version}, {workers} worker processes"
    );
    println!(
        "{payments_name}: on {backend}; settlement caught up {:.1}s after the last create",
        settled_after.as_secs_f64()
    );
    webhooks.print();
}
