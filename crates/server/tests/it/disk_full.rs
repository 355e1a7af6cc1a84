//! The SQLite default's disk fills up under a running `wekeza` process (its file-size limit
//! lowered below where the database's write-ahead log must grow: writes fail as on a full disk,
//! see `process.rs`). Payments and consents are then refused with 503 `STORAGE_FULL` and a
//! `Retry-After` — never a 500 — while reads keep working; once space returns the same requests
//! go through without a restart, each once; and after a restart on the same file
//! `PRAGMA integrity_check` is `ok`, every acknowledged payment is there, none is doubled, and
//! the ledger is whole: nothing was half-written.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use wekeza_domain::Scope;
use wekeza_store::testing::TestDatabase;

use crate::identity_flow::{account_access, register_at};
use crate::payment_faults::{Payments, assert_ledger_whole, column, payments, wait_until_settled};
use crate::process::ServerProcess;
use crate::support::Api;
use crate::webhook_delivery::payment_consent;
use crate::webhook_faults::ORDINARY_PAYMENTS;

/// The file-size limit while the disk is "full": room for the header of the write-ahead log,
/// which the test empties first, and for no page.
const FULL_AT: u64 = 512;
/// Payments prepared; the disk fills up before they are all made.
const PAYMENTS: usize = 12;
/// Payments made before the disk fills up.
const BEFORE: usize = 3;

/// One write's answer: status, body and whether it carried `Retry-After`.
struct Answer {
    status: u16,
    body: Value,
    retry_after: bool,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let text = response.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry_after,
    }
}

/// `POST /v1/payments` under `consent_id` with `token` and `key`.
async fn pay(server: &ServerProcess, consent_id: &str, token: &str, key: &str) -> Answer {
    send(
        server
            .http()
            .post(format!("{}/v1/payments", server.base_url()))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({ "consentId": consent_id })),
    )
    .await
}

/// Whether `answer` is the refusal a full disk must give.
fn storage_full(answer: &Answer) -> bool {
    answer.status == 503 && answer.body["reason"] == "STORAGE_FULL" && answer.retry_after
}

/// `PRAGMA integrity_check`'s answer.
async fn integrity(db: &DatabaseConnection) -> Vec<String> {
    column(db, "PRAGMA integrity_check").await
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_loses_nothing() {
    let database = TestDatabase::sqlite().await;
    let db = database.conn();
    let mut server = ServerProcess::start(database.url(), ORDINARY_PAYMENTS).await;
    let scopes = [Scope::PaymentsInitiate, Scope::AccountsRead];
    let app = register_at(&server, db, Utc::now(), &scopes).await;
    let mut requests = Vec::new();
    for _ in 0..PAYMENTS {
        let (consent_id, token) = payment_consent(&server, &app).await;
        requests.push((consent_id, token, ulid::Ulid::new().to_string()));
    }

    // Payments made while there is room.
    let mut acknowledged = Vec::new();
    for (n, (consent_id, token, key)) in requests.iter().enumerate().take(BEFORE) {
        let answer = pay(&server, consent_id, token, key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        acknowledged.push((n, answer.body["paymentId"].as_str().unwrap().to_owned()));
    }

    // The disk fills up: the write-ahead log is emptied into the database file, and no file may
    // grow past a few pages from now on.
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    server.limit_file_size(Some(FULL_AT));
    let mut refused = Vec::new();
    let mut wrong = Vec::new();
    for (n, (consent_id, token, key)) in requests.iter().enumerate().skip(BEFORE) {
        let answer = pay(&server, consent_id, token, key).await;
        if answer.status == 200 {
            acknowledged.push((n, answer.body["paymentId"].as_str().unwrap().to_owned()));
        } else if storage_full(&answer) {
            refused.push(n);
        } else {
            wrong.push(format!("payment {n}: {} {}", answer.status, answer.body));
        }
    }
    let consent = send(
        server
            .http()
            .post(format!("{}/v1/consents", server.base_url()))
            .bearer_auth(&app.token)
            .header("idempotency-key", ulid::Ulid::new().to_string())
            .json(&account_access(&["PERMISSION_READ_ACCOUNTS"])),
    )
    .await;
    if !storage_full(&consent) {
        wrong.push(format!("a consent: {} {}", consent.status, consent.body));
    }
    assert!(wrong.is_empty(), "{wrong:#?}\nthe log:\n{}", server.log());
    assert!(
        !refused.is_empty(),
        "the disk never filled up in {PAYMENTS} payments"
    );

    // Reads keep working: a consent, a customer's funds (through the ledger), a payment.
    let (consent_id, token, _) = &requests[refused[0]];
    let mut reads = vec![
        (format!("/v1/consents/{consent_id}"), &app.token),
        (
            format!("/v1/consents/{consent_id}/funds-confirmation"),
            token,
        ),
    ];
    if let Some((_, payment_id)) = acknowledged.first() {
        reads.push((format!("/v1/payments/{payment_id}"), &app.token));
    }
    for (path, bearer) in &reads {
        let answer = send(
            server
                .http()
                .get(format!("{}{path}", server.base_url()))
                .bearer_auth(bearer),
        )
        .await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    }

    // Space returns: without a restart, every refused payment goes through with its key, and
    // every acknowledged one answers the same.
    server.limit_file_size(None);
    for (n, (consent_id, token, key)) in requests.iter().enumerate() {
        let answer = pay(&server, consent_id, token, key).await;
        assert_eq!(answer.status, 200, "payment {n} after: {}", answer.body);
        if let Some((_, id)) = acknowledged.iter().find(|(m, _)| *m == n) {
            assert_eq!(&answer.body["paymentId"], id.as_str());
        }
    }
    wait_until_settled(db, &server).await;

    // After a restart on the same file: whole, and nothing lost or doubled.
    server.kill();
    server.restart().await;
    assert_eq!(integrity(db).await, ["ok"]);
    let Payments {
        found,
        lost,
        doubled,
    } = payments(db, acknowledged.iter().map(|(_, id)| id)).await;
    let ledger = assert_ledger_whole(db).await;
    println!(
        "disk full at {FULL_AT} bytes: {} payments acknowledged, {} refused with 503 \
         STORAGE_FULL (and a consent), reads served; after space returned {} payments, {} lost, \
         {} doubled, integrity ok; {ledger}",
        acknowledged.len(),
        refused.len(),
        found.len(),
        lost.len(),
        doubled.len()
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(doubled.is_empty(), "doubled: {doubled:?}");
    assert_eq!(found.len(), PAYMENTS);
    server.kill();
}
