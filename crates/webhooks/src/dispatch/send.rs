//! The sender: claims due deliveries, POSTs each signed per Standard Webhooks, and records the
//! attempt with what follows from it — for the delivery (done, retry at, dead letter) and for
//! its endpoint (healthy, failing, disabled).
//!
//! Time: the schedule (due times, leases, the failure streak) follows the platform's clock,
//! like every other record; the `webhook-timestamp` header is the wall clock's, because
//! receivers check it against theirs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use url::Url;
use wekeza_domain::WebhookEndpointId;
use wekeza_rpc::worker::{Schedule, run_every};
use wekeza_store::deliveries::{
    self, Attempt, AttemptOutcome, DeliveryStatus, DueDelivery, EndpointHealth,
};
use wekeza_store::sealing;
use wekeza_store::webhooks::WebhookEndpoint;

use super::{ClientError, DispatchSettings, Dispatcher, EndpointSlots, telemetry};
use crate::target::{self, TargetError};
use crate::{body, signature};

/// How often the sender looks for due deliveries when nothing woke it (retries coming due,
/// deliveries queued by another process).
const POLL: Duration = Duration::from_millis(250);

/// How many rounds of an endpoint's requests (`endpoint_max_in_flight` each) are claimed at
/// once: the rest wait in this process, not in another round trip to the database.
const QUEUE_DEPTH: usize = 4;

/// How much longer than the attempts queued for one endpoint (`QUEUE_DEPTH` timeouts) a claim
/// holds: the attempt and its record fit in it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Candidates read per claim, per free slot: room to pass over endpoints at their limit.
const SCAN_FACTOR: usize = 4;

/// The longest response excerpt kept, in bytes.
const EXCERPT_BYTES: usize = 256;

/// The HTTP client of deliveries: no redirects (a redirect is a failure, as in Standard
/// Webhooks practice), no proxies from the environment (they would resolve names the guard
/// never saw), and outside the sandbox only public addresses ([`PublicOnly`]).
pub(super) fn client(settings: &DispatchSettings) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(settings.timeout)
        .user_agent(concat!("Wekeza-Webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = if settings.sandbox {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    };
    Ok(builder.build()?)
}

/// Name resolution that answers only when every address of the name is public: a delivery
/// connects to the addresses checked, never to a second look-up's.
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(private) = addresses
                .iter()
                .find(|address| !target::is_public(address.ip()))
            {
                return Err(TargetError::NotPublic(private.ip()).into());
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Why an attempt got no answer.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("refused by the SSRF guard: {0}")]
    Refused(#[from] TargetError),
    #[error("the endpoint URL is invalid: {0}")]
    Url(#[from] url::ParseError),
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Request(String),
    /// The platform's own failure: the secret or the event could not be read.
    #[error("internal error preparing the delivery")]
    Internal,
}

/// What an attempt got.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    excerpt: String,
    error: String,
}

impl Answer {
    /// The endpoint answered `status`, starting with `excerpt`: a success when 2xx.
    fn answered(status: u16, excerpt: String) -> Self {
        let error = if (200..300).contains(&status) {
            String::new()
        } else {
            format!("HTTP {status}")
        };
        Self {
            status: Some(status),
            excerpt,
            error,
        }
    }

    fn succeeded(&self) -> bool {
        self.status.is_some() && self.error.is_empty()
    }
}

impl Dispatcher {
    /// Claims and starts due attempts until `stop`; woken early when a delivery may be due.
    pub(super) async fn send(self, stop: CancellationToken) {
        let schedule = Schedule::every(POLL).or_when(self.inner.wake.clone());
        run_every("webhook sender", stop, schedule, || self.start_due()).await;
    }

    /// Claims as many due deliveries as there are free slots and starts their attempts: up to
    /// [`QUEUE_DEPTH`] rounds of an endpoint's requests at once, so a fast endpoint's backlog
    /// moves in batches while its requests in flight stay within its limit.
    async fn start_due(&self) -> Result<(), wekeza_store::Error> {
        let settings = &self.inner.settings;
        let per_endpoint = settings.endpoint_max_in_flight * QUEUE_DEPTH;
        let (free, claimed) = {
            let in_flight = self.in_flight();
            let claimed: HashMap<String, usize> = in_flight
                .per_endpoint
                .iter()
                .map(|(endpoint, slots)| (endpoint.to_string(), slots.claimed))
                .collect();
            (
                settings.max_in_flight.saturating_sub(in_flight.total),
                claimed,
            )
        };
        if free == 0 {
            return Ok(());
        }
        let full: Vec<&str> = claimed
            .iter()
            .filter(|(_, count)| **count >= per_endpoint)
            .map(|(endpoint, _)| endpoint.as_str())
            .collect();
        let now = self.inner.clock.now();
        // The last attempt claimed for an endpoint waits for the rounds ahead of it.
        let lease = now + settings.timeout * QUEUE_DEPTH as u32 + LEASE_MARGIN;
        let mut taken: HashMap<String, usize> = HashMap::new();
        let mut room = free;
        let due = deliveries::claim_due(
            &self.inner.db,
            now,
            lease,
            (free * SCAN_FACTOR) as u64,
            &full,
            |endpoint| {
                let count = taken.entry(endpoint.to_owned()).or_default();
                let busy = claimed.get(endpoint).copied().unwrap_or(0) + *count;
                let admit = room > 0 && busy < per_endpoint;
                if admit {
                    *count += 1;
                    room -= 1;
                }
                admit
            },
        )
        .await?;
        for due in due {
            let requests = {
                let mut in_flight = self.in_flight();
                in_flight.total += 1;
                let slots = in_flight
                    .per_endpoint
                    .entry(due.endpoint.id.clone())
                    .or_insert_with(|| EndpointSlots::new(settings.endpoint_max_in_flight));
                slots.claimed += 1;
                slots.requests.clone()
            };
            let this = self.clone();
            tokio::spawn(async move {
                this.attempt(due, &requests).await;
                this.recorded();
            });
        }
        Ok(())
    }

    /// Frees the slot of an attempt that is recorded, and wakes the sender to fill it.
    fn recorded(&self) {
        let mut in_flight = self.in_flight();
        in_flight.total = in_flight.total.saturating_sub(1);
        drop(in_flight);
        self.inner.wake.notify_one();
    }

    /// Frees the endpoint's slot of an attempt that has its answer (its record may still be
    /// written: that does not load the receiver), and wakes the sender to fill it.
    fn answered(&self, endpoint: &WebhookEndpointId) {
        let mut in_flight = self.in_flight();
        if let Some(slots) = in_flight.per_endpoint.get_mut(endpoint) {
            slots.claimed = slots.claimed.saturating_sub(1);
            if slots.claimed == 0 {
                in_flight.per_endpoint.remove(endpoint);
            }
        }
        drop(in_flight);
        self.inner.wake.notify_one();
    }

    /// Makes one attempt of `due` and records it. A failure to record leaves the lease to run
    /// out, and the delivery is attempted again (receivers dedupe by `webhook-id`).
    /// The attempt waits for one of its endpoint's `requests` permits before it starts.
    async fn attempt(&self, due: DueDelivery, requests: &Semaphore) {
        // Never closed: the permit always comes.
        let permit = requests.acquire().await;
        let attempted_at = self.inner.clock.now();
        let started = Instant::now();
        let answer = match self.post(&due).await {
            Ok(answer) => answer,
            Err(error) => Answer {
                status: None,
                excerpt: String::new(),
                error: error.to_string(),
            },
        };
        let took = started.elapsed();
        drop(permit);
        self.answered(&due.endpoint.id);
        let latency_ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
        let (outcome, health) = self.judge(&due, &answer, attempted_at);
        let attempt = Attempt {
            number: due.attempts + 1,
            attempted_at,
            response_status: answer.status.map(i32::from),
            latency_ms,
            response_excerpt: answer.excerpt,
            error: answer.error,
        };
        let since_event = attempted_at - due.event_created_at;
        let since_event_ms = since_event.num_milliseconds();
        telemetry::attempt(outcome.status, took, since_event);
        tracing::info!(
            target: "wekeza::webhooks",
            delivery_id = %due.id,
            endpoint_id = %due.endpoint.id,
            event_id = %due.event_id,
            attempt = attempt.number,
            status = ?outcome.status,
            response_status = ?attempt.response_status,
            latency_ms,
            since_event_ms,
            error = %attempt.error,
            "webhook attempt"
        );
        if let EndpointHealth::Disable(reason) = &health {
            tracing::warn!(endpoint_id = %due.endpoint.id, reason, "webhook endpoint disabled");
            telemetry::endpoint_disabled(answer.status == Some(410));
        }
        if let Err(error) = deliveries::record_attempt(
            &self.inner.db,
            &due.id,
            &due.endpoint.id,
            &attempt,
            &outcome,
            &health,
        )
        .await
        {
            tracing::warn!(delivery_id = %due.id, %error, "could not record a webhook attempt");
        }
    }

    /// What follows from `answer`: for the delivery, and for its endpoint.
    fn judge(
        &self,
        due: &DueDelivery,
        answer: &Answer,
        now: DateTime<Utc>,
    ) -> (AttemptOutcome, EndpointHealth) {
        if answer.succeeded() {
            let outcome = AttemptOutcome {
                status: DeliveryStatus::Succeeded,
                schedule_step: due.schedule_step,
                next_attempt_at: None,
            };
            return (outcome, EndpointHealth::Healthy);
        }
        let settings = &self.inner.settings;
        let failures = due.schedule_step + 1;
        let next_attempt_at = usize::try_from(failures)
            .ok()
            .and_then(|failures| settings.retry_schedule.after_failures(failures))
            .and_then(|delay| chrono::Duration::from_std(delay).ok())
            .map(|delay| now + delay);
        let outcome = AttemptOutcome {
            status: if next_attempt_at.is_some() {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::DeadLettered
            },
            schedule_step: failures,
            next_attempt_at,
        };
        let failing_since = due.endpoint.failing_since;
        let health = if answer.status == Some(410) {
            EndpointHealth::Disable(format!("the endpoint answered 410 Gone at {now}"))
        } else if let Some(since) =
            failing_since.filter(|since| now - *since >= settings.disable_after_failing)
        {
            EndpointHealth::Disable(format!(
                "every delivery failed from {since} to {now}; re-enable it when it works again"
            ))
        } else {
            EndpointHealth::Failing
        };
        (outcome, health)
    }

    /// POSTs `due` to its endpoint and reads the start of the answer.
    async fn post(&self, due: &DueDelivery) -> Result<Answer, SendError> {
        let endpoint = &due.endpoint;
        let url = Url::parse(&endpoint.url)?;
        if !self.inner.settings.sandbox {
            target::public_https(&url).await?;
        }
        let body = body::json(&due.payload).map_err(|error| {
            tracing::error!(delivery_id = %due.id, %error, "webhook body");
            SendError::Internal
        })?;
        let secrets = self.secrets(endpoint).map_err(|error| {
            tracing::error!(endpoint_id = %endpoint.id, %error, "webhook signing secret");
            SendError::Internal
        })?;
        let timestamp = Utc::now().timestamp();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let signature = signature::sign(&secrets, due.event_id.as_str(), timestamp, &body)
            .map_err(|_| SendError::Internal)?;
        let response = self
            .inner
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", due.event_id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|error| self.classify(&error))?;
        let status = response.status().as_u16();
        Ok(Answer::answered(status, excerpt(response).await))
    }

    /// The secrets signing deliveries to `endpoint` now, in the clear: the current one, and the
    /// previous one during a rotation's overlap.
    fn secrets(&self, endpoint: &WebhookEndpoint) -> Result<Vec<String>, sealing::SealingError> {
        let sealing = self.inner.sealing.as_ref();
        let id = endpoint.id.as_str();
        let mut secrets = vec![sealing::open_secret(sealing, id, &endpoint.secret)?];
        if let Some((previous, until)) = &endpoint.previous_secret
            && *until > self.inner.clock.now()
        {
            secrets.push(sealing::open_secret(sealing, id, previous)?);
        }
        Ok(secrets)
    }

    fn classify(&self, error: &reqwest::Error) -> SendError {
        if error.is_timeout() {
            return SendError::Timeout(self.inner.settings.timeout);
        }
        // The innermost cause says what happened (refused, reset, not public); the URL is the
        // app's own and stays out of the message.
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        if error.is_connect() {
            SendError::Connect(cause.to_string())
        } else {
            SendError::Request(cause.to_string())
        }
    }
}

/// The start of `response`'s body, as text.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(EXCERPT_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}
