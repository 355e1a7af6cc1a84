//! The dispatcher's metrics, recorded through the `metrics` facade: the recorder the process
//! installs (the server's Prometheus exporter, at the admin listener's `/metrics`) exports
//! them; without one they cost nothing. Labels are bounded: no ids, no URLs.
//!
//! - `wekeza_webhook_attempts_total{result}` — attempts by what they came to: `succeeded`,
//!   `failed` (another attempt is scheduled) or `dead_lettered` (the schedule is exhausted);
//! - `wekeza_webhook_attempt_duration_seconds` — one attempt, connection to the end of the
//!   answer (or the timeout);
//! - `wekeza_webhook_delivery_lag_seconds` — from the event's commit to the attempt that
//!   delivered it, retries included;
//! - `wekeza_webhook_endpoints_disabled_total{cause}` — `gone` (410) or `failing` (no success
//!   for the configured period).

use std::time::Duration;

use wekeza_store::deliveries::DeliveryStatus;

/// Records one attempt: what it came to, how long it took, and — once delivered — how long
/// after its event's commit.
pub(super) fn attempt(status: DeliveryStatus, took: Duration, since_event: chrono::Duration) {
    let result = match status {
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::DeadLettered => "dead_lettered",
        _ => "failed",
    };
    metrics::counter!("wekeza_webhook_attempts_total", "result" => result).increment(1);
    metrics::histogram!("wekeza_webhook_attempt_duration_seconds").record(took.as_secs_f64());
    if status == DeliveryStatus::Succeeded {
        let lag = since_event.to_std().unwrap_or_default();
        metrics::histogram!("wekeza_webhook_delivery_lag_seconds").record(lag.as_secs_f64());
    }
}

/// Records an endpoint disabled because it answered 410 Gone (`gone`), or else because it kept
/// failing.
pub(super) fn endpoint_disabled(gone: bool) {
    let cause = if gone { "gone" } else { "failing" };
    metrics::counter!("wekeza_webhook_endpoints_disabled_total", "cause" => cause).increment(1);
}
