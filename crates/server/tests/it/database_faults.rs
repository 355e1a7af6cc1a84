//! The database lost under load (PostgreSQL, through a TCP proxy of the test's own that drops
//! every connection and refuses new ones for a while, as a restart does): requests fail cleanly
//! — 503 with `Retry-After`, reason UNAVAILABLE on the API, `temporarily_unavailable` at the
//! token endpoint, never a 500 — within a bounded time, and the platform recovers by itself
//! once the database is back, without a restart. A slow database (every answer held back) is met
//! with load shedding: the configured budget of requests is served, the rest refused at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Mutex;
use wekeza_domain::Scope;
use wekeza_store::testing::TestDatabase;

use crate::identity_flow::{READ_ALL, account_access, consent_tokens, register_at};
use crate::process::{Remote, ServerProcess};
use crate::proxy::Proxy;
use crate::support::Api;

/// How long each phase lasts: up, cut, back (the pool reconnects), up again.
const UP: Duration = Duration::from_secs(3);
const CUT: Duration = Duration::from_secs(6);
const RECONNECT: Duration = Duration::from_secs(3);
/// No request may take longer than this, even with the database gone.
const SLOWEST: Duration = Duration::from_secs(8);

/// The phases, in order.
const PHASES: [&str; 4] = ["up", "cut", "reconnecting", "recovered"];

/// One answer the load got.
#[derive(Debug, Clone)]
struct Answer {
    call: &'static str,
    status: u16,
    retry_after: bool,
    reason: String,
    took: Duration,
    /// Whether it was answered in the phase it was sent in.
    settled: bool,
}

/// Sends `request` and reads what a client would check.
async fn answer(call: &'static str, request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let reason = body["reason"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or_default()
        .to_owned();
    Answer {
        call,
        status,
        retry_after,
        reason,
        took: started.elapsed(),
        settled: false,
    }
}

/// A proxy in front of `database`'s PostgreSQL server, and the database's URL through it.
async fn proxied(database: &TestDatabase) -> (Proxy, String) {
    let url = url::Url::parse(database.url()).unwrap();
    let upstream: SocketAddr =
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
            .parse()
            .unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut through_proxy = url;
    through_proxy.set_host(Some("127.0.0.1")).unwrap();
    through_proxy.set_port(Some(proxy.port)).unwrap();
    (proxy, through_proxy.into())
}

#[tokio::test]
async fn losing_postgresql_under_load_answers_503_with_retry_after_and_recovers_without_restart() {
    if std::env::var(wekeza_store::testing::DATABASE_URL_VAR).is_err() {
        return; // PostgreSQL tests are off; SQLite is a file, with no connection to lose.
    }
    let database = TestDatabase::new().await;
    let (mut proxy, through_proxy) = proxied(&database).await;
    let server = ServerProcess::start(&through_proxy, "").await;
    let scopes = [Scope::AccountsRead, Scope::PaymentsInitiate];
    let app = register_at(&server, database.conn(), Utc::now(), &scopes).await;
    let (_, tokens) = consent_tokens(&server, &app, &READ_ALL, "user_good", &[]).await;
    let customer_token = tokens["access_token"].as_str().unwrap().to_owned();
    let (client_id, client_secret) = (
        app.client_id().to_owned(),
        app.created.client_secret.clone(),
    );

    // Three clients in a loop: a customer reading accounts, an app creating consents, and the
    // app asking for tokens.
    let phase = Arc::new(AtomicU8::new(0));
    let answers: Arc<Mutex<BTreeMap<u8, Vec<Answer>>>> = Arc::default();
    let load = |call: &'static str, remote: Remote| {
        let (phase, answers) = (phase.clone(), answers.clone());
        let (customer_token, app_token) = (customer_token.clone(), app.token.clone());
        let (client_id, client_secret) = (client_id.clone(), client_secret.clone());
        tokio::spawn(async move {
            while let started_in @ 0..=3 = phase.load(Ordering::SeqCst) {
                let (http, base) = (remote.http(), remote.base_url());
                let request = match call {
                    "ListAccounts" => http
                        .get(format!("{base}/v1/accounts"))
                        .bearer_auth(&customer_token),
                    "CreateConsent" => http
                        .post(format!("{base}/v1/consents"))
                        .bearer_auth(&app_token)
                        .header("idempotency-key", ulid::Ulid::new().to_string())
                        .json(&account_access(&READ_ALL)),
                    _ => http
                        .post(format!("{base}/oauth2/token"))
                        .basic_auth(&client_id, Some(&client_secret))
                        .form(&[("grant_type", "client_credentials")]),
                };
                let mut answer = answer(call, request).await;
                answer.settled = started_in == phase.load(Ordering::SeqCst);
                answers
                    .lock()
                    .await
                    .entry(started_in)
                    .or_default()
                    .push(answer);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let clients = [
        load("ListAccounts", server.remote()),
        load("CreateConsent", server.remote()),
        load("Token", server.remote()),
    ];
    tokio::time::sleep(UP).await;
    proxy.cut();
    phase.store(1, Ordering::SeqCst);
    tokio::time::sleep(CUT).await;
    proxy.restore().await;
    phase.store(2, Ordering::SeqCst);
    tokio::time::sleep(RECONNECT).await;
    phase.store(3, Ordering::SeqCst);
    tokio::time::sleep(UP).await;
    phase.store(4, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }

    let answers = answers.lock().await;
    for (phase, answers) in answers.iter() {
        let mut tally: BTreeMap<(&str, u16, &str), usize> = BTreeMap::new();
        for answer in answers {
            *tally
                .entry((answer.call, answer.status, answer.reason.as_str()))
                .or_default() += 1;
        }
        let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
        println!(
            "{}: {} requests, slowest {slowest:?}: {tally:?}",
            PHASES[usize::from(*phase)],
            answers.len()
        );
    }
    let all = || answers.values().flatten();
    let server_errors: Vec<_> = all()
        .filter(|a| a.status >= 500 && a.status != 503)
        .collect();
    assert!(
        server_errors.is_empty(),
        "server errors: {server_errors:#?}\n{}",
        server.log()
    );
    let unclear: Vec<_> = all()
        .filter(|a| a.status == 503)
        .filter(|a| {
            !a.retry_after
                || !matches!(a.reason.as_str(), "UNAVAILABLE" | "temporarily_unavailable")
        })
        .collect();
    assert!(
        unclear.is_empty(),
        "503s without Retry-After or reason: {unclear:#?}"
    );
    let refused_otherwise: Vec<_> = all()
        .filter(|a| !(200..300).contains(&a.status) && a.status != 503)
        .collect();
    assert!(refused_otherwise.is_empty(), "{refused_otherwise:#?}");
    let slow: Vec<_> = all().filter(|a| a.took > SLOWEST).collect();
    assert!(
        slow.is_empty(),
        "answers slower than {SLOWEST:?}: {slow:#?}"
    );
    let during = &answers[&1];
    assert!(during.iter().any(|a| a.status == 503), "the cut was felt");
    // With the database up the whole time a request took, it succeeded.
    for phase in [0, 3] {
        assert!(
            answers[&phase]
                .iter()
                .filter(|a| a.settled)
                .all(|a| (200..300).contains(&a.status)),
            "{}: {:#?}",
            PHASES[usize::from(phase)],
            answers[&phase]
        );
    }
    for call in ["ListAccounts", "CreateConsent", "Token"] {
        assert!(
            answers[&3].iter().any(|a| a.call == call),
            "{call} recovered"
        );
    }
}

#[tokio::test]
async fn a_slow_database_is_met_with_load_shedding_not_a_pile_up() {
    if std::env::var(wekeza_store::testing::DATABASE_URL_VAR).is_err() {
        return; // PostgreSQL tests are off: the proxy stands between the server and PostgreSQL.
    }
    const BUDGET: usize = 4;
    const CALLERS: usize = 32;
    let database = TestDatabase::new().await;
    let (proxy, through_proxy) = proxied(&database).await;
    let config = format!("max_in_flight_requests = {BUDGET}\n");
    let server = ServerProcess::start(&through_proxy, &config).await;
    let app = register_at(&server, database.conn(), Utc::now(), &[Scope::AccountsRead]).await;
    let (_, tokens) = consent_tokens(&server, &app, &READ_ALL, "user_good", &[]).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();

    // Every answer of the database held back 300 ms: a read takes seconds.
    proxy.slow(Duration::from_millis(300));
    let remote = server.remote();
    let calls: Vec<_> = (0..CALLERS)
        .map(|_| {
            let request = remote
                .http()
                .get(format!("{}/v1/accounts", remote.base_url()))
                .bearer_auth(&token);
            tokio::spawn(answer("ListAccounts", request))
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let served: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
    let refused: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    let slowest_refusal = refused.iter().map(|a| a.took).max().unwrap_or_default();
    let slowest_answer = served.iter().map(|a| a.took).max().unwrap_or_default();
    println!(
        "slow database, budget {BUDGET}, {CALLERS} callers at once: {} served (slowest \
         {slowest_answer:?}), {} refused at once (slowest refusal {slowest_refusal:?})",
        served.len(),
        refused.len()
    );
    assert_eq!(served.len() + refused.len(), CALLERS, "{answers:#?}");
    assert!(
        (1..=BUDGET).contains(&served.len()),
        "at most the budget is served: {answers:#?}"
    );
    assert!(
        refused
            .iter()
            .all(|a| a.retry_after && a.reason == "UNAVAILABLE"),
        "{refused:#?}"
    );
    // A refusal does no database work: it comes before any served answer could.
    let fastest_answer = served.iter().map(|a| a.took).min().unwrap_or_default();
    assert!(
        slowest_refusal < fastest_answer,
        "refusals are immediate: {slowest_refusal:?} vs {fastest_answer:?}"
    );
    assert!(slowest_answer < SLOWEST, "served within the bound");

    // Back to speed, the budget serves everyone again.
    proxy.slow(Duration::ZERO);
    let again = answer(
        "ListAccounts",
        remote
            .http()
            .get(format!("{}/v1/accounts", remote.base_url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
}
