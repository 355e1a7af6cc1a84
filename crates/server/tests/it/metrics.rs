//! The admin listener's `/metrics`, read off the `wekeza` binary running as its own process (a
//! recorder is per process, so the counts are exactly this server's): webhook attempts that
//! failed and succeeded, their durations and the delivery lag, against what the receiver saw.

use std::time::Duration;

use chrono::Utc;
use wekeza_store::testing::TestDatabase;

use crate::identity_flow::register_at;
use crate::process::ServerProcess;
use crate::webhook_delivery::{WEBHOOK_APP_SCOPES, pay, subscribed_receiver};
use crate::webhook_faults::ORDINARY_PAYMENTS;

/// The value of the sample `series` (name and labels as exposed) in Prometheus text; 0 when
/// absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn webhook_attempts_are_counted_by_result_with_their_durations_and_lag() {
    let database = TestDatabase::new().await;
    let server = ServerProcess::start(database.url(), ORDINARY_PAYMENTS).await;
    let app = register_at(&server, database.conn(), Utc::now(), &WEBHOOK_APP_SCOPES).await;
    let (receiver, _) = subscribed_receiver(&server, &app).await;
    let before = server.metrics().await;
    assert_eq!(
        sample(&before, "wekeza_webhook_attempts_total{result=\"failed\"}"),
        0.0
    );

    // Every first attempt fails with a 500; the retries (a second later in the sandbox) succeed.
    receiver.answer("500", 0).await;
    let (consent_id, payment_id) = pay(&server, &app).await;
    receiver
        .wait_until("six failed attempts", |seen| seen.attempts.len() >= 6)
        .await;
    receiver.answer("ok", 0).await;
    let seen = receiver
        .wait_until("the consent's and the payment's six events", |seen| {
            seen.received.len() == 6
        })
        .await;
    let failed = seen.attempts.iter().filter(|a| a.mode == "500").count() as f64;
    let succeeded = seen.attempts.iter().filter(|a| a.mode == "ok").count() as f64;

    // The server counts an attempt once it has its answer: poll until it caught up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = server.metrics().await;
        let counted = sample(&text, "wekeza_webhook_attempts_total{result=\"failed\"}")
            + sample(&text, "wekeza_webhook_attempts_total{result=\"succeeded\"}");
        if counted >= failed + succeeded || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("{consent_id} {payment_id}: {failed} failed and {succeeded} succeeded attempts seen");
    assert_eq!(
        sample(&text, "wekeza_webhook_attempts_total{result=\"failed\"}"),
        failed,
        "{text}"
    );
    assert_eq!(
        sample(&text, "wekeza_webhook_attempts_total{result=\"succeeded\"}"),
        succeeded,
        "{text}"
    );
    assert_eq!(
        sample(&text, "wekeza_webhook_attempt_duration_seconds_count"),
        failed + succeeded
    );
    assert_eq!(
        sample(&text, "wekeza_webhook_delivery_lag_seconds_count"),
        succeeded
    );
    // The lag of a retried delivery includes the retry's wait (about a second in the sandbox).
    assert!(
        sample(
            &text,
            "wekeza_webhook_delivery_lag_seconds_bucket{le=\"0.5\"}"
        ) < succeeded
    );
}
