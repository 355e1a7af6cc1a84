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
//!   fresh reqwest client each, HTTP/1.1 with keep-alive) at the same [`CONCURRENCY`] for the
//!   same [`WARMUP`] and [`DURATION`], one server after the other, never both at once.
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

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
/// The scopes the token-endpoint scenario's client holds and requests, on both servers, as
/// the tokens must carry them.
const TOKEN_SCOPE: &str = "accounts.read payments.initiate";
/// The oidc-provider baseline: `package.json`, its lockfile and `server.mjs`.
const OIDC_PROVIDER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/oidc-provider");
/// How long oidc-provider may take to listen.
const PROVIDER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The line `server.mjs` prints on stdout once every worker listens.
const PROVIDER_READY: &str = "ready";
/// How long `wekeza serve` may take to answer its discovery document (it migrates and seeds
/// its fresh database first).
const WEKEZA_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Clock ticks per second of `/proc/<pid>/stat` when `getconf CLK_TCK` cannot say: Linux's
/// `USER_HZ`, 100 on every common architecture (libc, which would ask `sysconf`, is no
/// dependency of the bench).
const DEFAULT_CLOCK_TICKS: u64 = 100;

/// What one scenario measured.
struct Measured {
    name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    /// The server's CPU time over the measured window, when it runs as its own process.
    server_cpu: Option<Duration>,
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

    /// The server's CPU time per answered request (errors included: they cost it too), in µs.
    fn cpu_us_per_request(&self) -> Option<f64> {
        let answered = self.requests + self.errors;
        let cpu = self.server_cpu?;
        (answered > 0).then(|| cpu.as_secs_f64() * 1e6 / answered as f64)
    }
}

/// A server process tree whose CPU time the bench reads from `/proc`: the process and all its
/// descendants (oidc-provider's workers), every thread of each.
struct CpuProbe {
    root: u32,
    ticks_per_second: u64,
}

impl CpuProbe {
    fn new(root: u32) -> Self {
        let ticks_per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks: &u64| ticks > 0)
            .unwrap_or(DEFAULT_CLOCK_TICKS);
        Self {
            root,
            ticks_per_second,
        }
    }

    /// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
    /// parentheses): the first is field 3, `state`.
    fn stat_fields(pid: u32) -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        // Only `ppid`, `utime` and `stime` are read: the state letter and the signed fields
        // read as 0, which keeps every index at its field number minus 3.
        Some(
            rest.split_whitespace()
                .map(|field| field.parse().unwrap_or(0))
                .collect(),
        )
    }

    /// The root and its descendants, found by their parent ids (`ppid`, field 4).
    fn tree(&self) -> Vec<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            if let Some(ppid) = Self::stat_fields(pid).and_then(|fields| fields.get(1).copied()) {
                children.entry(ppid as u32).or_default().push(pid);
            }
        }
        let mut tree = vec![self.root];
        let mut index = 0;
        while let Some(&pid) = tree.get(index) {
            tree.extend(children.get(&pid).into_iter().flatten());
            index += 1;
        }
        tree
    }

    /// User plus system CPU time of the tree so far (`utime` and `stime`, fields 14 and 15).
    fn cpu_time(&self) -> Duration {
        let ticks: u64 = self
            .tree()
            .into_iter()
            .filter_map(Self::stat_fields)
            .map(|fields| fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0))
            .sum();
        Duration::from_secs_f64(ticks as f64 / self.ticks_per_second as f64)
    }
}

/// Runs `call` from `CONCURRENCY` tasks for `DURATION` (after `WARMUP`), or until it answers
/// `None` (nothing left to do). `Some(ok)` is one request. With a `server` probe, also the
/// server's CPU time from the end of the warm-up until the last request is answered.
async fn measure<F, Fut>(name: &'static str, server: Option<&CpuProbe>, call: F) -> Measured
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
    let cpu_before = match server {
        Some(probe) => {
            tokio::time::sleep_until(warm_until.into()).await;
            Some(probe.cpu_time())
        }
        None => None,
    };
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    let mut ended = warm_until;
    for task in tasks {
        let (latencies, failed, finished) = task.await.unwrap();
        latencies_us.extend(latencies);
        errors += failed;
        ended = ended.max(finished);
    }
    let server_cpu = server
        .zip(cpu_before)
        .map(|(probe, before)| probe.cpu_time().saturating_sub(before));
    latencies_us.sort_unstable();
    Measured {
        name,
        requests: latencies_us.len(),
        errors,
        elapsed: ended.saturating_duration_since(warm_until),
        latencies_us,
        server_cpu,
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

/// A token endpoint and the client that asks it for client-credentials tokens.
#[derive(Clone)]
struct TokenEndpoint {
    url: String,
    client_id: String,
    client_secret: String,
}

impl TokenEndpoint {
    /// The grant: `client_secret_basic`, `grant_type=client_credentials` and [`TOKEN_SCOPE`].
    fn request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        http.post(&self.url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", TOKEN_SCOPE)])
    }
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

/// A free port of 127.0.0.1 (free when asked: the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The release `wekeza` binary serving on a fresh SQLite database in a temporary directory,
/// with the token-endpoint scenario's app registered; killed when dropped — also when the bench
/// fails — and its directory removed.
struct WekezaServer {
    child: Child,
    /// The app's credentials at the server's token endpoint (from its discovery document).
    client: TokenEndpoint,
    /// Holds the database; removed after the child is killed.
    _dir: tempfile::TempDir,
}

impl WekezaServer {
    /// The `wekeza` binary of this build: next to the bench's own executable (both are in
    /// `<target dir>/release` under `cargo run --release`, whatever `CARGO_TARGET_DIR` says).
    fn binary() -> PathBuf {
        let bench = std::env::current_exe().unwrap();
        let binary = bench
            .parent()
            .unwrap()
            .join(format!("wekeza{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "{} is missing: build it with `cargo build --release -p wekeza-server` \
             (`make bench` does)",
            binary.display()
        );
        binary
    }

    /// `wekeza` on the database at `url`, in `dir`: no `wekeza.toml` and no `WEKEZA_*`
    /// variable of the caller's environment changes the defaults it runs with.
    fn command(binary: &Path, dir: &Path, url: &str) -> Command {
        let mut command = Command::new(binary);
        command.current_dir(dir);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WEKEZA_") {
                command.env_remove(key);
            }
        }
        command
            .env("WEKEZA_DATABASE_URL", url)
            .env("RUST_LOG", "warn");
        command
    }

    /// Registers the app (`wekeza apps create`: a sandbox app with a client secret,
    /// `client_secret_basic`, holding [`TOKEN_SCOPE`]), then starts `wekeza serve` and waits
    /// until it serves its discovery document.
    async fn start() -> Self {
        let binary = Self::binary();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
        let created = Self::command(&binary, dir.path(), &url)
            .args(["apps", "create", "--name", "Bench", "--scopes", TOKEN_SCOPE])
            .arg("--json")
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        assert!(
            created.status.success(),
            "`wekeza apps create` failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let app: Value = serde_json::from_slice(&created.stdout).unwrap();
        let credential = |name: &str| {
            app[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in `wekeza apps create --json`: {app}"))
                .to_owned()
        };
        let (client_id, client_secret) = (credential("clientId"), credential("clientSecret"));

        let port = free_port();
        let child = Self::command(&binary, dir.path(), &url)
            .arg("serve")
            .env("WEKEZA_LISTEN", format!("127.0.0.1:{port}"))
            .env("WEKEZA_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `wekeza serve`: {error}"));
        let mut server = Self {
            child,
            client: TokenEndpoint {
                url: String::new(),
                client_id,
                client_secret,
            },
            _dir: dir,
        };
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let deadline = Instant::now() + WEKEZA_START_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("`wekeza serve` exited ({status}) before it served (its log is above)");
            }
            let document = match reqwest::get(&discovery).await {
                Ok(response) if response.status().is_success() => {
                    response.json::<Value>().await.ok()
                }
                _ => None,
            };
            if let Some(document) = document {
                server.client.url = document["token_endpoint"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no token_endpoint in {discovery}"))
                    .to_owned();
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "`wekeza serve` did not serve {discovery} within {WEKEZA_START_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn cpu_probe(&self) -> CpuProbe {
        CpuProbe::new(self.child.id())
    }
}

impl Drop for WekezaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// panva's oidc-provider (`bench/oidc-provider/server.mjs`) as a Node child process, killed
/// with its workers when dropped — also when the bench fails.
struct OidcProvider {
    child: Child,
    /// Its token endpoint, from its discovery document.
    token_url: String,
}

impl OidcProvider {
    /// The versions of Node and of the installed oidc-provider; fails, saying what to do,
    /// when either is missing.
    fn preflight() -> (String, String) {
        let node = Command::new("node")
            .arg("--version")
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "the token-endpoint scenario needs Node.js 20+ (`node` on PATH) to run \
                     oidc-provider: {error}"
                )
            });
        assert!(node.status.success(), "`node --version` failed");
        let manifest = format!("{OIDC_PROVIDER_DIR}/node_modules/oidc-provider/package.json");
        let installed: Value = std::fs::read(&manifest)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| {
                panic!(
                    "oidc-provider is not installed in {OIDC_PROVIDER_DIR}: run `make bench` \
                     (it runs `npm ci` there first)"
                )
            });
        (
            String::from_utf8_lossy(&node.stdout).trim().to_owned(),
            installed["version"].as_str().unwrap_or("?").to_owned(),
        )
    }

    /// Starts it on a free port of 127.0.0.1 with `workers` processes and `client` as its one
    /// client; answers once every worker listens and the discovery document is served.
    async fn start(client: &TokenEndpoint, workers: usize) -> Self {
        let port = free_port();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(OIDC_PROVIDER_DIR)
            .env("NODE_ENV", "production")
            .env("PORT", port.to_string())
            .env("WORKERS", workers.to_string())
            .env("CLIENT_ID", &client.client_id)
            .env("CLIENT_SECRET", &client.client_secret)
            .env("SCOPE", TOKEN_SCOPE)
            // Held open until the child is dropped or this process ends, however it ends:
            // `server.mjs` stops when it closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start oidc-provider with `node`: {error}"));
        // Its stdout until it exits: the ready line, and notices passed on.
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == PROVIDER_READY {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                } else {
                    println!("{line}");
                }
            }
        });
        let mut provider = Self {
            child,
            token_url: String::new(),
        };
        match tokio::time::timeout(PROVIDER_START_TIMEOUT, ready).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("oidc-provider exited before it listened (its stderr is above)"),
            Err(_) => panic!("oidc-provider did not listen within {PROVIDER_START_TIMEOUT:?}"),
        }
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let deadline = Instant::now() + PROVIDER_START_TIMEOUT;
        loop {
            let answer = match reqwest::get(&discovery).await {
                Ok(response) if response.status().is_success() => response.json::<Value>().await,
                Ok(response) => response.error_for_status().map(|_| Value::Null),
                Err(error) => Err(error),
            };
            match answer {
                Ok(document) => {
                    provider.token_url = document["token_endpoint"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no token_endpoint in {discovery}"))
                        .to_owned();
                    return provider;
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("oidc-provider does not serve {discovery}: {error}"),
            }
        }
    }

    /// `client` at oidc-provider's token endpoint.
    fn token_endpoint(&self, client: &TokenEndpoint) -> TokenEndpoint {
        TokenEndpoint {
            url: self.token_url.clone(),
            ..client.clone()
        }
    }

    fn cpu_probe(&self) -> CpuProbe {
        CpuProbe::new(self.child.id())
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        // Its workers exit when it does (their IPC channel closes).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn print(results: &[Measured]) {
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>7} {:>14}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors", "server CPU µs"
    );
    for result in results {
        let cpu = result
            .cpu_us_per_request()
            .map_or_else(|| "–".to_owned(), |us| format!("{us:.1}/req"));
        println!(
            "{:<34} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>14}",
            result.name,
            result.rps(),
            result.percentile_ms(0.50),
            result.percentile_ms(0.99),
            result.errors,
            cpu
        );
    }
}

#[tokio::main]
async fn main() {
    let (node_version, provider_version) = OidcProvider::preflight();
    let server = TestServer::start_on(TestDatabase::sqlite().await).await;
    let token = server.full_access_token("user_good").await;
    println!(
        "wekeza bench: {CONCURRENCY} clients, {}s per scenario after {}s warm-up, release build; ListAccounts on SQLite\n",
        DURATION.as_secs(),
        WARMUP.as_secs()
    );

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

    let ratio = rest.rps() / grpc.rps();
    // Nothing of it may run during the token-endpoint scenario.
    server.stop().await;

    let wekeza = WekezaServer::start().await;
    let client = wekeza.client.clone();
    let wekeza_token = token_grant(
        "POST /oauth2/token: Wekeza",
        client.clone(),
        &wekeza.cpu_probe(),
    )
    .await;
    drop(wekeza);
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let provider = OidcProvider::start(&client, workers).await;
    let provider_token = token_grant(
        "POST /token: oidc-provider",
        provider.token_endpoint(&client),
        &provider.cpu_probe(),
    )
    .await;
    drop(provider);
    let token_ratio = wekeza_token.rps() / provider_token.rps();
    let cpu_ratio = provider_token.cpu_us_per_request().unwrap_or(f64::NAN)
        / wekeza_token.cpu_us_per_request().unwrap_or(f64::NAN);

    let (payments, backend, settled_after) = payments().await;
    let payments_name = payments.name;
    print(&[grpc, rest, wekeza_token, provider_token, payments]);
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
}
