//! Rate limits: each app may make its plan's requests per minute, plus a burst — the GCRA
//! ("leaky bucket as a meter"): a bucket holding a minute's calls plus the burst, refilled at
//! the plan's rate, so over any T seconds an app gets at most `per minute + burst + rate × T`
//! calls, and an app sending without pause gets the plan's rate. Calls that no app is
//! counted against (the token endpoint, PAR, registration, sign-in pages, public rpcs, bad
//! credentials) are limited per client IP address instead, with the anonymous rate.
//!
//! Two policies, chosen by configuration:
//! - **local** ([`LocalLimiter`]): governor's keyed GCRA in process memory — the embedded
//!   default, exact for one process; N replicas would each allow the full rate.
//! - **cluster** ([`ClusterLimiter`]): the bucket's theoretical arrival time kept in
//!   PostgreSQL and moved by one conditional upsert per call, so replicas sharing the database
//!   enforce one limit together.
//!
//! Every answer carries `RateLimit-Policy` and `RateLimit` (IETF httpapi-ratelimit-headers:
//! `"app";q=<per minute>;w=60` and `"app";r=<calls left now>;t=<seconds until the bucket is
//! full>`); a refusal is 429 `RATE_LIMITED` with `Retry-After` (gRPC: RESOURCE_EXHAUSTED with
//! `google.rpc.RetryInfo`), counted in `wekeza_gateway_rate_limited_total{policy}` (`app`,
//! `ip`) on the admin listener's `/metrics`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use http::HeaderValue;
use wekeza_domain::{AppId, Clock, Reason};
use wekeza_rpc::ApiError;
use wekeza_store::DatabaseConnection;

use crate::caller::CallingApp;
use crate::refusal;

/// A sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Calls per minute, sustained.
    pub per_minute: NonZeroU32,
    /// Calls allowed above a minute's worth when they come at once.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_minute` calls a minute with bursts of `burst` (each at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute: NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
        }
    }

    /// The time one call's worth of bucket takes to refill.
    fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.get()
    }

    /// The calls the bucket holds: a minute's worth plus the burst.
    fn capacity(self) -> NonZeroU32 {
        self.per_minute.saturating_add(self.burst.get())
    }
}

/// Who a limit applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An app, whatever address it calls from.
    App(AppId),
    /// Calls no app is counted against, by client IP address.
    Address(IpAddr),
}

impl Subject {
    /// The policy name in the `RateLimit` headers.
    fn policy(&self) -> &'static str {
        match self {
            Self::App(_) => "app",
            Self::Address(_) => "ip",
        }
    }

    /// The key of the subject's bucket in shared storage.
    fn key(&self) -> String {
        match self {
            Self::App(app) => format!("app:{app}"),
            Self::Address(address) => format!("ip:{address}"),
        }
    }
}

/// A limiter's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the call may proceed.
    pub allowed: bool,
    /// Calls the subject may still make at once.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub full_in: Duration,
    /// For a refused call: until one call is allowed again.
    pub retry_after: Duration,
}

/// Takes one call from a subject's bucket.
#[async_trait]
pub trait Limiter: Send + Sync + std::fmt::Debug {
    /// Whether `subject` may make a call at `rate` now; takes it if so.
    async fn take(&self, subject: &Subject, rate: Rate) -> Result<Verdict, ApiError>;
}

/// The platform's clock as governor's: nanoseconds since the Unix epoch, so tests that move
/// the platform's clock move the limits too. It never runs backwards: after the wall clock is
/// set back it stands still until the wall clock catches up (no refill meanwhile), instead of
/// emptying every bucket for the time it went back.
#[derive(Debug, Clone)]
struct PlatformClock {
    clock: Arc<dyn Clock>,
    latest: Arc<AtomicU64>,
}

impl GovernorClock for PlatformClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let nanos = self.clock.now().timestamp_nanos_opt().unwrap_or(0);
        let nanos = u64::try_from(nanos).unwrap_or(0);
        let latest = self.latest.fetch_max(nanos, Ordering::Relaxed).max(nanos);
        Nanos::from(Duration::from_nanos(latest))
    }
}

type Keyed =
    RateLimiter<Subject, DashMapStateStore<Subject>, PlatformClock, StateInformationMiddleware>;

/// The `local` policy: governor's keyed GCRA in memory, one limiter per distinct rate.
#[derive(Debug, Clone)]
pub struct LocalLimiter {
    clock: PlatformClock,
    by_rate: Arc<Mutex<HashMap<Rate, Arc<Keyed>>>>,
}

impl LocalLimiter {
    /// A limiter on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock: PlatformClock {
                clock,
                latest: Arc::default(),
            },
            by_rate: Arc::default(),
        }
    }

    fn limiter(&self, rate: Rate) -> Arc<Keyed> {
        let mut by_rate = self.by_rate.lock().unwrap_or_else(PoisonError::into_inner);
        by_rate
            .entry(rate)
            .or_insert_with(|| {
                let quota = Quota::with_period(rate.interval())
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
                    .allow_burst(rate.capacity());
                Arc::new(
                    RateLimiter::dashmap_with_clock(quota, self.clock.clone())
                        .with_middleware::<StateInformationMiddleware>(),
                )
            })
            .clone()
    }

    /// Forgets buckets that are full again (addresses seen once, apps gone quiet): their state
    /// is the same as no state. Called periodically, it bounds memory by the recent callers.
    pub fn forget_idle(&self) {
        let limiters: Vec<_> = self
            .by_rate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for limiter in limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[async_trait]
impl Limiter for LocalLimiter {
    async fn take(&self, subject: &Subject, rate: Rate) -> Result<Verdict, ApiError> {
        let limiter = self.limiter(rate);
        Ok(match limiter.check_key(subject) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Verdict {
                    allowed: true,
                    remaining,
                    full_in: rate.interval() * (rate.capacity().get() - remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let retry_after = not_until.wait_time_from(self.clock.now());
                Verdict {
                    allowed: false,
                    remaining: 0,
                    full_in: rate.interval() * rate.capacity().get(),
                    retry_after,
                }
            }
        })
    }
}

/// The `cluster` policy: each bucket's theoretical arrival time in PostgreSQL, moved by one
/// conditional upsert per call (`wekeza_store::rate_limits`), so replicas enforce one limit.
#[derive(Debug, Clone)]
pub struct ClusterLimiter {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl ClusterLimiter {
    /// A limiter sharing its buckets through `db`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }
}

#[async_trait]
impl Limiter for ClusterLimiter {
    async fn take(&self, subject: &Subject, rate: Rate) -> Result<Verdict, ApiError> {
        let now = self.clock.now();
        let interval = rate.interval();
        let capacity = interval * rate.capacity().get();
        let taken =
            wekeza_store::rate_limits::take(&self.db, &subject.key(), now, interval, capacity)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "the shared rate limit could not be read");
                    ApiError::unavailable(
                        "the platform cannot serve this call right now",
                        Duration::from_secs(1),
                    )
                })?;
        let ahead = |at: chrono::DateTime<chrono::Utc>| (at - now).to_std().unwrap_or_default();
        Ok(match taken {
            wekeza_store::rate_limits::Taken::Allowed { full_at } => {
                let full_in = ahead(full_at);
                let used = full_in.as_nanos() / interval.as_nanos().max(1);
                Verdict {
                    allowed: true,
                    remaining: rate
                        .capacity()
                        .get()
                        .saturating_sub(u32::try_from(used).unwrap_or(u32::MAX)),
                    full_in,
                    retry_after: Duration::ZERO,
                }
            }
            wekeza_store::rate_limits::Taken::Refused { next_at, full_at } => Verdict {
                allowed: false,
                remaining: 0,
                full_in: ahead(full_at),
                retry_after: ahead(next_at),
            },
        })
    }
}

/// The rates and the limiter of the [`layer`].
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// `None`: no limits (the gateway's policies are off, to measure what they cost).
    limiter: Option<Arc<dyn Limiter>>,
    anonymous: Rate,
}

impl RateLimits {
    /// Limits through `limiter`; calls no app is counted against get `anonymous` per address.
    pub fn new(limiter: Arc<dyn Limiter>, anonymous: Rate) -> Self {
        Self {
            limiter: Some(limiter),
            anonymous,
        }
    }

    /// No limits at all.
    pub fn off() -> Self {
        Self {
            limiter: None,
            anonymous: Rate::new(1, 1),
        }
    }
}

/// Seconds, rounded up (a client told 0 would retry at once).
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn set_headers(response: &mut Response, subject: &Subject, rate: Rate, verdict: &Verdict) {
    let policy = subject.policy();
    let headers = response.headers_mut();
    if let Ok(value) =
        HeaderValue::from_str(&format!("\"{policy}\";q={};w=60", rate.per_minute.get()))
    {
        headers.insert("ratelimit-policy", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!(
        "\"{policy}\";r={};t={}",
        verdict.remaining,
        whole_seconds(verdict.full_in)
    )) {
        headers.insert("ratelimit", value);
    }
}

/// Middleware: takes the call from its app's bucket (or its address's), refuses it when the
/// bucket is empty, and states the limit on every answer.
pub async fn layer(State(limits): State<RateLimits>, request: Request, next: Next) -> Response {
    let Some(limiter) = &limits.limiter else {
        return next.run(request).await;
    };
    let (subject, rate) = match request.extensions().get::<CallingApp>() {
        Some(calling) => (
            Subject::App(calling.app_id.clone()),
            Rate::new(calling.terms.requests_per_minute, calling.terms.burst),
        ),
        None => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => (Subject::Address(peer.ip()), limits.anonymous),
            // In-process calls without a socket (none on the public listener).
            None => return next.run(request).await,
        },
    };
    let verdict = match limiter.take(&subject, rate).await {
        Ok(verdict) => verdict,
        Err(error) => return refusal::answer(request.headers(), error),
    };
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        metrics::counter!("wekeza_gateway_rate_limited_total", "policy" => subject.policy())
            .increment(1);
        let wait = Duration::from_secs(whole_seconds(verdict.retry_after).max(1));
        let error = ApiError::new(
            Reason::RateLimited,
            format!(
                "rate limit of {} calls a minute (plus bursts of {}) reached; retry in {} s",
                rate.per_minute,
                rate.burst,
                wait.as_secs()
            ),
        )
        .with_retry_after(wait);
        refusal::answer(request.headers(), error)
    };
    set_headers(&mut response, &subject, rate, &verdict);
    response
}
