//! The dispatcher: from the event bus to the apps' endpoints, signed, retried, logged.
//!
//! Two workers, each safe to run in several processes at once:
//! - **Fan-out** ([`fanout`]): a durable bus subscription (`webhook-dispatcher`, explicit acks,
//!   shared by every dispatcher process, so each event is handled by one of them) that queues,
//!   for each event, one delivery per subscribed, enabled endpoint of the apps the event
//!   belongs to ([`route`]), then acknowledges it. A redelivered event queues nothing twice
//!   (deliveries from the stream are unique per endpoint and event).
//! - **Sender** ([`send`]): claims due deliveries with a lease (so one process attempts each),
//!   POSTs them per Standard Webhooks ([`crate::signature`], [`crate::body`]) within a timeout,
//!   and records every attempt: success; failure with the next attempt per the
//!   [`RetrySchedule`]; a dead letter once the schedule is exhausted. An endpoint answering
//!   410 Gone, or failing without a success for too long, is disabled with its reason. At most
//!   `max_in_flight` attempts run at once (until recorded), and at most
//!   `endpoint_max_in_flight` requests per endpoint (until answered), so one slow receiver
//!   cannot starve the others.
//!
//! Nothing acknowledged is lost: an event is acknowledged to the bus only after its
//! deliveries are committed, and a delivery leaves the database only as an attempt's record.
//! On the in-process bus (not durable) the fan-out also goes once through the recent outbox at
//! start-up, so events a crash caught between bus and fan-out are queued after all.
//!
//! Every attempt is also counted for the metrics exporter ([`telemetry`]).

mod fanout;
pub mod route;
pub mod schedule;
mod send;
mod telemetry;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wekeza_domain::{Clock, WebhookEndpointId};
use wekeza_events::EventBus;
use wekeza_store::DatabaseConnection;
use wekeza_store::sealing::KeyEncryptionKey;

pub use schedule::RetrySchedule;

/// How the dispatcher delivers.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// How long an attempt may take, connection to the end of the answer.
    pub timeout: Duration,
    /// The delays between attempts.
    pub retry_schedule: RetrySchedule,
    /// An endpoint without a success for this long is disabled.
    pub disable_after_failing: chrono::Duration,
    /// Attempts in flight at once, over all endpoints.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one endpoint.
    pub endpoint_max_in_flight: usize,
    /// The sandbox: plain http to any host allowed, no SSRF guard.
    pub sandbox: bool,
    /// On a bus that does not keep events across restarts (the in-process bus), how far back
    /// the outbox is gone through at start-up; `None` on a durable bus.
    pub recover_window: Option<chrono::Duration>,
}

/// The webhook dispatcher (see the module doc).
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
    sealing: Option<KeyEncryptionKey>,
    settings: DispatchSettings,
    client: reqwest::Client,
    /// Whose each event is.
    router: route::Router,
    /// Rings when a delivery may have become due: fanned out, retried, replayed, or a slot freed.
    wake: Arc<Notify>,
    in_flight: Mutex<InFlight>,
}

/// The attempts claimed and not yet recorded.
#[derive(Debug, Default)]
struct InFlight {
    total: usize,
    per_endpoint: HashMap<WebhookEndpointId, EndpointSlots>,
}

/// One endpoint's attempts: claimed and not yet answered, and the permits of its requests in
/// flight (`endpoint_max_in_flight`).
#[derive(Debug)]
struct EndpointSlots {
    claimed: usize,
    requests: Arc<Semaphore>,
}

impl EndpointSlots {
    fn new(max_requests: usize) -> Self {
        Self {
            claimed: 0,
            requests: Arc::new(Semaphore::new(max_requests)),
        }
    }
}

/// Why the dispatcher could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client cannot be built: {0}")]
pub struct ClientError(#[from] reqwest::Error);

impl Dispatcher {
    /// A dispatcher reading `bus`, keeping deliveries in `db`, opening signing secrets with
    /// `sealing`, woken by `wake` (shared with the service, whose retries, replays and test
    /// events are due at once).
    pub fn new(
        db: DatabaseConnection,
        bus: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        sealing: Option<KeyEncryptionKey>,
        settings: DispatchSettings,
        wake: Arc<Notify>,
    ) -> Result<Self, ClientError> {
        let client = send::client(&settings)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                bus,
                clock,
                sealing,
                settings,
                client,
                router: route::Router::default(),
                wake,
                in_flight: Mutex::new(InFlight::default()),
            }),
        })
    }

    /// Starts the fan-out and the sender; they stop when `stop` is cancelled.
    pub fn start(&self, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
        vec![
            tokio::spawn(self.clone().fan_out(stop.clone())),
            tokio::spawn(self.clone().send(stop.clone())),
        ]
    }

    fn in_flight(&self) -> MutexGuard<'_, InFlight> {
        // Only counters are behind the lock: a panic elsewhere leaves them consistent.
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
