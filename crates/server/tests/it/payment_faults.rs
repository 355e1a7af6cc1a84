//! Payments through a crash: the `wekeza` binary killed with SIGKILL under a steady payment
//! load, then started again on the same database, on SQLite and on PostgreSQL. Nothing
//! acknowledged is lost, nothing is doubled, and the ledger stays whole: every balance is the
//! sum of its postings, every journal balances, every held amount is that of the active holds,
//! and once the payments are final no hold is left active.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use wekeza_domain::Scope;
use wekeza_store::testing::TestDatabase;

use crate::identity_flow::register_at;
use crate::process::{Remote, ServerProcess};
use crate::support::Api;
use crate::webhook_delivery::payment_consent;
use crate::webhook_faults::ORDINARY_PAYMENTS;

/// Payments the load sends.
const PAYMENTS: usize = 40;
/// The server is killed once this many have been sent.
const KILL_AFTER: usize = 24;
/// The load's steady rate: one payment every 25 ms.
const EVERY: Duration = Duration::from_millis(25);
/// How long settlement may take to finish every payment after the restart.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);

/// One payment request: its consent, the consent-bound token and its `Idempotency-Key`.
#[derive(Debug, Clone)]
struct Request {
    consent_id: String,
    token: String,
    key: String,
}

impl Request {
    /// Sends it; answers the payment id of a 200, `None` for anything else (the server died).
    async fn send(&self, server: &Remote) -> Option<String> {
        let response = server
            .http()
            .post(format!("{}/v1/payments", server.base_url()))
            .bearer_auth(&self.token)
            .header("idempotency-key", &self.key)
            .json(&json!({ "consentId": self.consent_id }))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: Value = response.json().await.ok()?;
        body["paymentId"].as_str().map(str::to_owned)
    }
}

/// The first column of each row `sql` answers, as text.
pub(crate) async fn column(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// What the database holds, against the payments a client saw acknowledged.
pub(crate) struct Payments {
    /// Every payment's id.
    pub(crate) found: Vec<String>,
    /// The acknowledged payments it does not hold.
    pub(crate) lost: Vec<String>,
    /// The consents paid more than once.
    pub(crate) doubled: Vec<String>,
}

/// The payments of `db` against the `acknowledged` ids.
pub(crate) async fn payments<'a>(
    db: &DatabaseConnection,
    acknowledged: impl IntoIterator<Item = &'a String>,
) -> Payments {
    let found = column(db, "SELECT id FROM payments").await;
    let lost = acknowledged
        .into_iter()
        .filter(|id| !found.contains(id))
        .cloned()
        .collect();
    let doubled = column(
        db,
        "SELECT consent_id FROM payments GROUP BY consent_id HAVING COUNT(*) > 1",
    )
    .await;
    Payments {
        found,
        lost,
        doubled,
    }
}

/// Asserts the ledger is whole; answers a line saying what was checked.
pub(crate) async fn assert_ledger_whole(db: &DatabaseConnection) -> String {
    let off_postings = column(
        db,
        "SELECT a.id FROM accounts a LEFT JOIN postings p ON p.account_id = a.id \
         GROUP BY a.id, a.booked_minor HAVING a.booked_minor <> COALESCE(SUM(p.amount_minor), 0)",
    )
    .await;
    assert!(
        off_postings.is_empty(),
        "balances ≠ sum of postings: {off_postings:?}"
    );
    let off_holds = column(
        db,
        "SELECT a.id FROM accounts a LEFT JOIN holds h ON h.account_id = a.id AND h.status = 'active' \
         GROUP BY a.id, a.held_minor HAVING a.held_minor <> COALESCE(SUM(h.amount_minor), 0)",
    )
    .await;
    assert!(
        off_holds.is_empty(),
        "held ≠ sum of active holds: {off_holds:?}"
    );
    let unbalanced = column(
        db,
        "SELECT journal_id FROM postings GROUP BY journal_id, currency HAVING SUM(amount_minor) <> 0",
    )
    .await;
    assert!(
        unbalanced.is_empty(),
        "journals not balancing: {unbalanced:?}"
    );
    let left_active = column(db, "SELECT reference FROM holds WHERE status = 'active'").await;
    assert!(
        left_active.is_empty(),
        "holds neither settled nor released: {left_active:?}"
    );
    let accounts = column(db, "SELECT id FROM accounts").await.len();
    let journals = column(db, "SELECT DISTINCT journal_id FROM postings")
        .await
        .len();
    format!(
        "{accounts} balances = their postings, {journals} journals balance, 0 holds left active"
    )
}

/// Waits until `server` has settled every payment in `db`.
pub(crate) async fn wait_until_settled(db: &DatabaseConnection, server: &ServerProcess) {
    let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
    while !column(
        db,
        "SELECT id FROM payments WHERE status IN ('pending', 'accepted_settlement_in_process')",
    )
    .await
    .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "payments unsettled after {SETTLE_WITHIN:?}; the log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_server_killed_under_payment_load_loses_nothing_doubles_nothing_and_keeps_its_ledger() {
    for database in TestDatabase::all().await {
        let db = database.conn();
        let mut server = ServerProcess::start(database.url(), ORDINARY_PAYMENTS).await;
        let app = Arc::new(register_at(&server, db, Utc::now(), &[Scope::PaymentsInitiate]).await);
        let mut requests = Vec::new();
        for _ in 0..PAYMENTS {
            let (consent_id, token) = payment_consent(&server, &app).await;
            let key = ulid::Ulid::new().to_string();
            requests.push(Request {
                consent_id,
                token,
                key,
            });
        }

        // A steady load, each payment its own task; SIGKILL in the middle of it.
        let mut ticks = tokio::time::interval(EVERY);
        let mut sent = Vec::new();
        for (n, request) in requests.iter().enumerate() {
            ticks.tick().await;
            if n == KILL_AFTER {
                server.kill();
            }
            let (request, remote) = (request.clone(), server.remote());
            sent.push(tokio::spawn(async move { request.send(&remote).await }));
        }
        let mut acknowledged = Vec::new();
        for outcome in sent {
            acknowledged.push(outcome.await.unwrap());
        }
        let before_kill = acknowledged.iter().flatten().count();
        assert!(
            before_kill > 0,
            "some payments were acknowledged before the kill"
        );

        // Again, after the restart, every request with its own key: an acknowledged payment
        // answers with the same id; the others are made now, or found if they committed.
        server.restart().await;
        let remote = server.remote();
        for (request, first) in requests.iter().zip(&acknowledged) {
            let again = request
                .send(&remote)
                .await
                .unwrap_or_else(|| panic!("{request:?} failed after the restart"));
            if let Some(first) = first {
                assert_eq!(&again, first, "an acknowledged payment answers the same");
            }
        }

        wait_until_settled(db, &server).await;
        let Payments {
            found,
            lost,
            doubled,
        } = payments(db, acknowledged.iter().flatten()).await;
        let ledger = assert_ledger_whole(db).await;
        println!(
            "{:?}: SIGKILL after {KILL_AFTER} of {PAYMENTS} payments sent every {EVERY:?}; \
             {before_kill} acknowledged before it, {} lost, {} doubled; {} payments after \
             the retries; {ledger}",
            db.get_database_backend(),
            lost.len(),
            doubled.len(),
            found.len()
        );
        assert!(lost.is_empty(), "lost: {lost:?}");
        assert!(doubled.is_empty(), "doubled: {doubled:?}");
        assert_eq!(found.len(), PAYMENTS, "one payment per consent");
        server.kill();
    }
}
