//! The audit trail's writer: everything audited reaches the hash-chained table through here,
//! off the request path.
//!
//! [`AuditTrail`] is the sink the platform hands out (to the call record's observers, to
//! identity, to the payment service's fraud check): recording an event only puts it on a
//! bounded queue. [`AuditWriter`], one task per process, appends what is queued every flush
//! interval (the server's `audit_flush_interval_ms`, 250 ms by default) in batches, one transaction per batch ([`wekeza_store::audit`] keeps one
//! chain across processes). In the same transaction it takes the outbox events it has not seen
//! and records the consent transitions among them: those come from the outbox, which is
//! durable, so none is ever lost (see decision 16).
//!
//! What a crash loses: the events still queued — at most one flush interval's worth — and a
//! batch whose append was failing. On a graceful stop the writer drains the queue first.
//! A full queue never blocks a request: the event is dropped and counted, the count is logged
//! as an error and written into the chain itself (a `trail` record, action `dropped`), so the
//! trail says where it has a hole.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prost::Message;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use wekeza_domain::{
    AppId, AuditEvent, AuditKind, AuditSink, Clock, ConsentId, CustomerId, Detail,
};
use wekeza_proto::v1 as pb;
use wekeza_rpc::worker::{self, Schedule};
use wekeza_store::DatabaseConnection;
use wekeza_store::outbox::{self, OutboxEvent};

use crate::record::{CallObserver, FinishedCall};
use crate::request_id::loggable_path;

/// Events the queue holds before new ones are dropped (and counted): a few seconds of a busy
/// platform's calls, a few MB.
pub const QUEUE_CAPACITY: usize = 65_536;

/// Queued events appended per transaction.
const BATCH: usize = 1_000;

/// Outbox events taken per transaction.
const OUTBOX_BATCH: u64 = 500;

/// How many times the final flush at shutdown is tried before the queue is given up (logged).
const FINAL_ATTEMPTS: u32 = 3;

/// The platform's audit sink: queues events for the [`AuditWriter`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    queue: mpsc::Sender<AuditEvent>,
    /// Events refused by a full (or closed) queue since the writer last looked.
    dropped: Arc<AtomicU64>,
}

/// Appends what the [`AuditTrail`] queued; see the module doc.
#[derive(Debug)]
pub struct AuditWriter {
    state: Arc<Mutex<WriterState>>,
}

#[derive(Debug)]
struct WriterState {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    queue: mpsc::Receiver<AuditEvent>,
    dropped: Arc<AtomicU64>,
    /// Taken from the queue, not yet appended (an append failed): retried first.
    pending: Vec<AuditEvent>,
}

/// A trail writing to `db`, and its writer (to be [run](AuditWriter::run)).
pub fn trail(db: DatabaseConnection, clock: Arc<dyn Clock>) -> (AuditTrail, AuditWriter) {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let dropped = Arc::new(AtomicU64::new(0));
    let trail = AuditTrail {
        queue: sender,
        dropped: dropped.clone(),
    };
    let writer = AuditWriter {
        state: Arc::new(Mutex::new(WriterState {
            db,
            clock,
            queue: receiver,
            dropped,
            pending: Vec::new(),
        })),
    };
    (trail, writer)
}

impl AuditSink for AuditTrail {
    fn record(&self, event: AuditEvent) {
        if self.queue.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl CallObserver for AuditTrail {
    fn observe(&self, call: &FinishedCall) {
        self.record(call_event(call));
    }
}

/// The record of a finished call: who, what, the outcome, how long, from where.
fn call_event(call: &FinishedCall) -> AuditEvent {
    let facts = &call.facts;
    let operation = facts
        .rpc
        .clone()
        .unwrap_or_else(|| format!("{} {}", call.method, loggable_path(&call.path)));
    let latency_micros = i64::try_from(call.latency.as_micros()).unwrap_or(i64::MAX);
    AuditEvent::new(AuditKind::ApiCall, operation, call.started_at)
        .app(facts.app_id.clone())
        .customer(facts.customer_id.clone())
        .detail_if("requestId", call.request_id.clone())
        .detail_if("interactionId", call.interaction_id.clone())
        .detail_if(
            "consentId",
            facts.consent_id.as_ref().map(ToString::to_string),
        )
        .detail_if(
            "resourceIds",
            (!facts.resource_ids.is_empty()).then(|| facts.resource_ids.clone()),
        )
        .detail("httpStatus", i64::from(call.outcome.http_status.as_u16()))
        .detail_if(
            "grpcCode",
            call.outcome.grpc_code.map(wekeza_transcode::code_reason),
        )
        .detail("latencyMicros", latency_micros)
        .detail_if("clientIp", call.client_ip.map(|ip| ip.to_string()))
}

impl AuditWriter {
    /// Appends what is queued every `every` until `stop` is cancelled, then closes the queue
    /// and appends everything left in it.
    pub async fn run(self, stop: CancellationToken, every: Duration) {
        let state = self.state.clone();
        worker::run_every("audit", stop, Schedule::every(every), move || {
            let state = state.clone();
            async move { state.lock().await.flush().await }
        })
        .await;
        let mut state = self.state.lock().await;
        state.queue.close();
        for attempt in 1..=FINAL_ATTEMPTS {
            match state.flush().await {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(%error, attempt, "audit trail: final flush failed");
                }
            }
        }
        let lost = state.pending.len() + state.queue.len();
        tracing::error!(lost, "audit trail: events lost at shutdown");
    }
}

impl WriterState {
    /// Appends batches until the queue and the unseen outbox events are empty.
    async fn flush(&mut self) -> Result<(), wekeza_store::Error> {
        loop {
            while self.pending.len() < BATCH {
                match self.queue.try_recv() {
                    Ok(event) => self.pending.push(event),
                    Err(_) => break,
                }
            }
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::error!(
                    dropped,
                    "audit trail: queue full, events dropped (recorded in the trail)"
                );
                self.pending.push(
                    AuditEvent::new(AuditKind::Trail, "dropped", self.clock.now())
                        .detail("count", i64::try_from(dropped).unwrap_or(i64::MAX)),
                );
            }
            let full = self.pending.len() >= BATCH;
            let taken = self.append_batch().await?;
            self.pending.clear();
            if !full && taken < OUTBOX_BATCH {
                return Ok(());
            }
        }
    }

    /// One transaction: the pending events, and the consent transitions among the outbox
    /// events not seen yet. Answers how many outbox events it took.
    async fn append_batch(&mut self) -> Result<u64, wekeza_store::Error> {
        let mut appender = wekeza_store::audit::begin(&self.db).await?;
        let events = outbox::unaudited(appender.transaction(), OUTBOX_BATCH).await?;
        let mut consents = Vec::new();
        for event in &events {
            if let Some(change) = consent_change(event) {
                let customer = consent_customer(&appender, &change.consent_id).await?;
                consents.push(consent_event(event, change, customer));
            }
        }
        if self.pending.is_empty() && events.is_empty() {
            return Ok(0);
        }
        let ids: Vec<_> = events.iter().map(|event| event.id.clone()).collect();
        outbox::mark_audited(appender.transaction(), &ids, self.clock.now()).await?;
        appender.append(&self.pending).await?;
        appender.append(&consents).await?;
        appender.commit().await?;
        Ok(u64::try_from(events.len()).unwrap_or(u64::MAX))
    }
}

/// The consent transition an outbox event records, if it is one.
fn consent_change(event: &OutboxEvent) -> Option<pb::ConsentStatusChanged> {
    match pb::Event::decode(event.payload.as_slice()).ok()?.payload? {
        pb::event::Payload::ConsentStatusChanged(change) => Some(change),
        _ => None,
    }
}

/// The customer of the consent `id` (none before the customer decided).
async fn consent_customer(
    appender: &wekeza_store::audit::Appender,
    id: &str,
) -> Result<Option<CustomerId>, wekeza_store::Error> {
    let Ok(id) = id.parse::<ConsentId>() else {
        return Ok(None);
    };
    Ok(wekeza_store::consents::find(appender.transaction(), &id)
        .await?
        .and_then(|consent| consent.customer_id))
}

/// The record of a consent transition: `created`, or the new status (`authorised`, …).
fn consent_event(
    event: &OutboxEvent,
    change: pb::ConsentStatusChanged,
    customer: Option<CustomerId>,
) -> AuditEvent {
    let status = status_name(change.status());
    let action = if change.previous_status() == pb::ConsentStatus::Unspecified {
        "created".to_owned()
    } else {
        status.clone()
    };
    AuditEvent::new(AuditKind::Consent, action, event.created_at)
        .app(change.client_id.parse::<AppId>().ok())
        .customer(customer)
        .detail("consentId", change.consent_id.as_str())
        .detail("clientId", change.client_id.as_str())
        .detail("consentType", change.consent_type().as_str_name())
        .detail("previousStatus", status_name(change.previous_status()))
        .detail("status", Detail::Text(status))
        .detail("eventId", event.id.as_str())
}

/// `authorised` for `CONSENT_STATUS_AUTHORISED`.
fn status_name(status: pb::ConsentStatus) -> String {
    let name = status.as_str_name();
    name.strip_prefix("CONSENT_STATUS_")
        .unwrap_or(name)
        .to_ascii_lowercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use chrono::{TimeZone, Utc};
    use http::StatusCode;

    use super::*;
    use crate::record::{CallFacts, Outcome};

    #[test]
    fn a_call_is_recorded_with_ids_and_outcome_and_a_secret_path_redacted() {
        let started_at = Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap();
        let call = FinishedCall {
            started_at,
            latency: Duration::from_micros(1_500),
            method: http::Method::POST,
            path: "/v1/sandbox/decoupled-authorizations/secret123:approve".into(),
            request_id: Some("req_1".into()),
            interaction_id: None,
            client_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            facts: CallFacts::default(),
            outcome: Outcome {
                http_status: StatusCode::OK,
                grpc_code: Some(tonic::Code::PermissionDenied),
            },
        };
        let event = call_event(&call);
        assert_eq!(
            event.action,
            "POST /v1/sandbox/decoupled-authorizations/{redacted}:approve"
        );
        assert_eq!(event.details["grpcCode"], Detail::from("PERMISSION_DENIED"));
        assert_eq!(event.details["latencyMicros"], Detail::Integer(1_500));
        assert_eq!(event.details["clientIp"], Detail::from("127.0.0.1"));
        assert!(!event.details.contains_key("interactionId"));
    }
}
