//! The gateway-policy scenario: what the gateway's policies (API keys, rate limits, quotas,
//! metering, audit) cost on the authenticated read path — the same release binary, the same
//! real consent-bound token, the same load, with the policies off (`[gateway] enforce = false`),
//! on with the `local` rate-limit policy, and on with the `cluster` policy (PostgreSQL only:
//! `WEKEZA_BENCH_DATABASE_URL`).
//!
//! Each run starts its own `wekeza serve` (its own process, a fresh database), registers the
//! app with `wekeza apps create`, gets the app's token and a customer token bound to an
//! account-access consent through the real flow (consent, sandbox authorisation, code
//! exchange), and drives `GET /v1/accounts` with it from [`CONCURRENCY`](crate::measure) clients.
//! The app's plan is opened wide first (a billion calls a minute, no daily limit), so the
//! limits are checked on every call but never refuse: what is measured is their cost, not
//! their refusals.

use std::time::Duration;

use serde_json::json;
use wekeza_store::apps::Plan;
use wekeza_store::testing::TestDatabase;

use crate::measure::{Measured, measure};
use crate::servers::{Setup, WekezaServer};

/// The app's redirect URI (the sandbox shortcut answers the code without following it).
const REDIRECT: &str = "https://bench.wekeza.invalid/callback";
/// How long the server keeps plan terms before reading them again (the gateway's directory).
const PLAN_CACHE: Duration = Duration::from_secs(6);

/// One configuration of the gateway.
struct Variant {
    name: &'static str,
    config: &'static str,
    postgres: bool,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "GET /v1/accounts, policies off",
        config: "[gateway]\nenforce = false\n",
        postgres: false,
    },
    Variant {
        name: "GET /v1/accounts, policies local",
        config: "[gateway]\nrate_limit_policy = \"local\"\n",
        postgres: false,
    },
    Variant {
        name: "GET /v1/accounts, policies cluster",
        config: "[gateway]\nrate_limit_policy = \"cluster\"\n",
        postgres: true,
    },
];

/// The results: one row per variant that ran, and the database they ran on.
pub(crate) struct GatewayCost {
    pub(crate) rows: Vec<Measured>,
    backend: &'static str,
}

impl GatewayCost {
    /// Throughput of each variant ÷ the first (policies off), with the goal.
    pub(crate) fn print(&self) {
        let Some(off) = self.rows.first() else {
            return;
        };
        for row in &self.rows[1..] {
            let cost = 1.0 - row.rps() / off.rps();
            println!(
                "{}: {:.1} % fewer requests/s than with the policies off on {} (goal for local: ≤ 10 %)",
                row.name,
                cost * 100.0,
                self.backend
            );
        }
        if self.rows.len() < VARIANTS.len() {
            println!(
                "the cluster policy was not measured: it needs PostgreSQL \
                 ({} names none)",
                crate::scenarios::BENCH_DATABASE_VAR
            );
        }
    }
}

/// Opens the free plan (the bench app's) wide: checked on every call, never refusing.
async fn open_the_free_plan(database_url: &str) {
    let db = wekeza_store::connect(database_url).await.unwrap();
    let mut terms = wekeza_store::plans::get(&db, Plan::Free).await.unwrap();
    terms.requests_per_minute = 1_000_000_000;
    terms.burst = 1_000_000;
    terms.daily_request_limit = None;
    wekeza_store::plans::update(&db, &terms).await.unwrap();
    db.close().await.unwrap();
}

async fn run(variant: &Variant, database_url: Option<String>) -> Measured {
    let server = WekezaServer::start(Setup {
        database_url,
        config: variant.config,
        scopes: "accounts.read",
        redirect_uri: Some(REDIRECT),
        ..Setup::default()
    })
    .await;
    open_the_free_plan(&server.database_url).await;
    tokio::time::sleep(PLAN_CACHE).await;
    let http = reqwest::Client::new();
    let app_token = server.app_token(&http, "accounts.read").await;
    let consent = json!({
        "type": "CONSENT_TYPE_ACCOUNT_ACCESS",
        "permissions": ["PERMISSION_READ_ACCOUNTS", "PERMISSION_READ_BALANCES"]
    });
    let (_, token) = server
        .consent_token(&http, &app_token, "user_good", REDIRECT, consent)
        .await;
    let url = format!("{}/v1/accounts", server.base_url);
    let probe = server.cpu_probe();
    measure(variant.name, Some(&probe), move || {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let response = http.get(&url).bearer_auth(&token).send().await.ok()?;
            let ok = response.status().is_success();
            response.bytes().await.ok()?;
            Some(ok)
        }
    })
    .await
}

/// Runs the variants, each on a fresh database.
pub(crate) async fn gateway_cost() -> GatewayCost {
    let postgres = std::env::var(crate::scenarios::BENCH_DATABASE_VAR).ok();
    let mut rows = Vec::new();
    for variant in &VARIANTS {
        let database = match (&postgres, variant.postgres) {
            (Some(url), _) => Some(TestDatabase::postgres(url.clone()).await),
            (None, true) => continue,
            (None, false) => None,
        };
        rows.push(run(variant, database.as_ref().map(|db| db.url().to_owned())).await);
    }
    GatewayCost {
        rows,
        backend: if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
    }
}
