//! Metering: every call identified to an app, counted per app, UTC day, operation and status
//! class, with a latency histogram and the calls refused by a rate limit or the daily quota
//! (429) — aggregated in memory and written in batches, never a row per call.
//!
//! The [`Meter`] is a [`CallObserver`]: it adds each finished call to an in-memory table under
//! one short lock. The [`Flusher`] — a background worker — takes the table every flush interval
//! and adds it to `usage_counters` in one upsert per 500 rows
//! ([`wekeza_store::usage::add_counters`]); the same round writes and syncs the daily quotas
//! ([`Quotas::flush`]). A batch the database refused is put back and written with the next one.
//! When the server stops, the flusher runs once more after the listeners have drained, so a
//! graceful shutdown loses nothing; a crash loses at most what was counted since the last flush
//! (one flush interval).
//!
//! The operation is the rpc's path (`/wekeza.openbanking.v1.AccountInformationService/ListAccounts`)
//! for rpcs over every protocol, else the HTTP path (the OAuth2 endpoints, REST calls refused
//! before the policy saw their rpc). A REST path no route matched is counted as
//! [`UNMATCHED_ROUTE`], so made-up paths cannot grow the table without bound.
//!
//! Latency buckets (the time to the response head): ≤ 5 ms, ≤ 25 ms, ≤ 100 ms, ≤ 250 ms, ≤ 1 s,
//! ≤ 5 s, and slower ([`wekeza_store::usage::LATENCY_BOUNDS_MS`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::NaiveDate;
use http::StatusCode;
use tokio_util::sync::CancellationToken;
use wekeza_domain::AppId;
use wekeza_rpc::worker::{self, Schedule};
use wekeza_store::DatabaseConnection;
use wekeza_store::usage::{self, CallCounts, CounterKey};

use crate::quota::Quotas;
use crate::record::{CallObserver, FinishedCall};

/// The operation of calls to a path no route matched.
pub const UNMATCHED_ROUTE: &str = "(unmatched route)";

/// The longest operation name kept; longer HTTP paths are cut.
const MAX_OPERATION_LEN: usize = 200;

/// What one counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    app_id: AppId,
    day: NaiveDate,
    operation: String,
    status_class: u16,
}

/// Counts calls in memory; a [`CallObserver`]. Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    counts: Arc<Mutex<HashMap<Key, CallCounts>>>,
}

impl Meter {
    /// A meter with nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    fn take(&self) -> HashMap<Key, CallCounts> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts back counts that could not be written, adding them to what was counted since.
    fn put_back(&self, unwritten: HashMap<Key, CallCounts>) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, unwritten) in unwritten {
            counts.entry(key).or_default().add(&unwritten);
        }
    }

    /// Writes what was counted to `usage_counters`; what the database refused is kept for the
    /// next flush.
    async fn flush(&self, db: &DatabaseConnection) -> Result<usize, wekeza_store::Error> {
        let taken = self.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let batch: Vec<_> = taken
            .iter()
            .map(|(key, counts)| {
                let key = CounterKey {
                    app_id: &key.app_id,
                    day: key.day,
                    operation: &key.operation,
                    status_class: key.status_class,
                };
                (key, *counts)
            })
            .collect();
        match usage::add_counters(db, &batch).await {
            Ok(()) => Ok(taken.len()),
            Err(error) => {
                self.put_back(taken);
                Err(error)
            }
        }
    }
}

/// The operation a call is counted under.
fn operation(call: &FinishedCall) -> String {
    if let Some(rpc) = &call.facts.rpc {
        return rpc.clone();
    }
    if call.outcome.http_status == StatusCode::NOT_FOUND {
        return UNMATCHED_ROUTE.to_owned();
    }
    let mut end = call.path.len().min(MAX_OPERATION_LEN);
    while !call.path.is_char_boundary(end) {
        end -= 1;
    }
    call.path.get(..end).unwrap_or_default().to_owned()
}

/// Whether a call was refused by a rate limit or the daily quota.
fn rejected(call: &FinishedCall) -> bool {
    call.outcome.http_status == StatusCode::TOO_MANY_REQUESTS
        || call.outcome.grpc_code == Some(tonic::Code::ResourceExhausted)
}

impl CallObserver for Meter {
    fn observe(&self, call: &FinishedCall) {
        let Some(app_id) = &call.facts.app_id else {
            return;
        };
        let key = Key {
            app_id: app_id.clone(),
            day: call.started_at.date_naive(),
            operation: operation(call),
            status_class: call.outcome.status_class(),
        };
        let micros = u64::try_from(call.latency.as_micros()).unwrap_or(u64::MAX);
        let one = CallCounts::one(micros, rejected(call));
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .add(&one);
    }
}

/// The background worker writing the meter's counts and the quotas' daily totals, and reading
/// back every replica's totals and the plans' terms.
#[derive(Debug, Clone)]
pub struct Flusher {
    db: DatabaseConnection,
    meter: Meter,
    quotas: Quotas,
}

impl Flusher {
    /// A flusher of `meter` and `quotas` into `db`.
    pub fn new(db: DatabaseConnection, meter: Meter, quotas: Quotas) -> Self {
        Self { db, meter, quotas }
    }

    /// One flush: the counters, then the quotas (written, synced, their plans' terms read
    /// again). Both are tried even when the first fails.
    pub async fn flush(&self) -> Result<(), wekeza_store::Error> {
        let counters = self.meter.flush(&self.db).await;
        let quotas = self.quotas.flush(&self.db).await;
        let written = counters?;
        quotas?;
        tracing::debug!(counters = written, "usage flushed");
        Ok(())
    }

    /// Flushes every `every` until `stop` is cancelled, then once more: what was counted up to
    /// the stop (the listeners have drained by then) is written.
    pub async fn run(self, stop: CancellationToken, every: Duration) {
        let this = self.clone();
        worker::run_every("metering", stop, Schedule::every(every), move || {
            let this = this.clone();
            async move { this.flush().await }
        })
        .await;
        if let Err(error) = self.flush().await {
            tracing::error!(%error, "the last usage flush failed: counts since the previous flush are lost");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::record::{CallFacts, Outcome};

    fn call(
        app: Option<&AppId>,
        rpc: Option<&str>,
        status: StatusCode,
        millis: u64,
    ) -> FinishedCall {
        FinishedCall {
            started_at: Utc.with_ymd_and_hms(2026, 11, 1, 23, 59, 59).unwrap(),
            latency: Duration::from_millis(millis),
            method: http::Method::GET,
            path: "/v1/accounts".to_owned(),
            request_id: None,
            interaction_id: None,
            client_ip: None,
            facts: CallFacts {
                rpc: rpc.map(str::to_owned),
                app_id: app.cloned(),
                ..CallFacts::default()
            },
            outcome: Outcome {
                http_status: status,
                grpc_code: None,
            },
        }
    }

    #[test]
    fn calls_are_counted_per_app_day_operation_and_class_with_their_latency() {
        let app: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2w".parse().unwrap();
        let meter = Meter::new();
        let rpc = "/wekeza.openbanking.v1.AccountInformationService/ListAccounts";
        meter.observe(&call(Some(&app), Some(rpc), StatusCode::OK, 3));
        meter.observe(&call(Some(&app), Some(rpc), StatusCode::OK, 30));
        meter.observe(&call(
            Some(&app),
            Some(rpc),
            StatusCode::TOO_MANY_REQUESTS,
            1,
        ));
        meter.observe(&call(Some(&app), None, StatusCode::NOT_FOUND, 1));
        // Calls of no app are not metered.
        meter.observe(&call(None, Some(rpc), StatusCode::OK, 1));
        let counts = meter.take();
        assert_eq!(counts.len(), 3);
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let key = |operation: &str, status_class| Key {
            app_id: app.clone(),
            day,
            operation: operation.to_owned(),
            status_class,
        };
        let ok = counts[&key(rpc, 2)];
        assert_eq!((ok.requests, ok.rejected), (2, 0));
        assert_eq!(ok.latency_buckets, [1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(ok.latency_sum_micros, 33_000);
        let refused = counts[&key(rpc, 4)];
        assert_eq!((refused.requests, refused.rejected), (1, 1));
        assert_eq!(counts[&key(UNMATCHED_ROUTE, 4)].requests, 1);
        assert!(meter.take().is_empty());
    }
}
