//! Daily quotas: how many calls an app may make per UTC day, from its plan's
//! `daily_request_limit`. The day runs from 00:00 to 24:00 UTC, whatever the caller's time
//! zone, and the count starts again from zero at 00:00 UTC.
//!
//! Past the limit, a plan without an overage price (Free) refuses the call — 429
//! `QUOTA_EXCEEDED` over REST, RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` over gRPC, with
//! `Retry-After` until the next 00:00 UTC and the reset time in the message — and a plan with
//! one (Startup) serves it and counts it as overage, which is billed. A plan without a limit
//! (Enterprise) only counts.
//!
//! Counting, across replicas: each process keeps, per app and day, the total every replica had
//! admitted when it last read the database (`synced`), plus what it admitted itself since
//! (`flushing`, `pending`). A call is decided against their sum under one lock, so within one
//! process the limit is exact: with a limit of 1,000 the calls 1 to 1,000 pass and the
//! 1,001st is refused. The metering flush ([`crate::metering::Flusher`]) adds `pending` to the
//! shared `daily_usage` row and reads the total back; the first call of an app on a day reads
//! it too. So replicas sharing a database see each other's calls one flush interval late: the
//! limit can be overshot by at most the calls the *other* replicas admit within one flush
//! interval. Changes of the plans' terms (`wekeza plans set`) are read at each flush; an app's
//! plan is read on every call by the caller layer, so `ChangePlan` counts from the next call.
//!
//! The layer sits on the gRPC router inside the access policy: it sees every call as its rpc
//! (REST is transcoded into calls on that router), so calls the policy refused use no quota,
//! and the billing rpcs the caller passes as exempt (reading usage and invoices, changing the
//! plan) stay open to an app whose quota is used up.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate, Utc};
use wekeza_domain::{AppId, Clock, Reason};
use wekeza_rpc::ApiError;
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::Plan;
use wekeza_store::plans::PlanTerms;
use wekeza_store::usage::{self, QuotaCounts};

use crate::caller::CallingApp;
use crate::refusal;

/// The part of a plan's terms a quota applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limit {
    /// Calls per UTC day; `None`: no limit.
    daily: Option<u64>,
    /// Whether calls past the limit are served and billed (else refused).
    overage_billed: bool,
}

impl From<&PlanTerms> for Limit {
    fn from(terms: &PlanTerms) -> Self {
        Self {
            daily: terms.daily_request_limit,
            overage_billed: terms.overage_price_per_thousand.is_some(),
        }
    }
}

/// One app's day, as this process knows it.
#[derive(Debug, Clone, Copy, Default)]
struct AppDay {
    /// What every replica had admitted at the last read of `daily_usage` (this process's
    /// flushed calls included).
    synced: u64,
    /// Admitted by this process and being written by the flush under way.
    flushing: QuotaCounts,
    /// Admitted by this process since.
    pending: QuotaCounts,
}

impl AppDay {
    fn admitted(&self) -> u64 {
        self.synced
            .saturating_add(self.flushing.admitted)
            .saturating_add(self.pending.admitted)
    }

    fn idle(&self) -> bool {
        self.flushing == QuotaCounts::default() && self.pending == QuotaCounts::default()
    }
}

#[derive(Debug, Default)]
struct QuotaState {
    days: HashMap<(AppId, NaiveDate), AppDay>,
    limits: HashMap<Plan, Limit>,
}

/// The quota's verdict on a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit (or no limit).
    Admitted,
    /// Past the limit, served and billed as overage.
    Overage,
    /// Past the limit of `limit` calls: refused until the next 00:00 UTC.
    Refused {
        /// The plan's daily limit.
        limit: u64,
    },
}

/// The daily quotas of every app this process served, shared by the layer and the metering
/// flush. Clones share the counts.
#[derive(Debug, Clone)]
pub struct Quotas {
    state: Arc<Mutex<QuotaState>>,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    /// Rpcs (gRPC paths) counted by no quota and refused by none.
    exempt: Arc<HashSet<String>>,
}

/// The next 00:00 UTC after `now`.
pub fn next_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(now, |midnight| midnight.and_utc())
}

impl Quotas {
    /// Quotas over `db` with the plans' terms read from it, on `clock`'s days; the rpcs of
    /// `exempt` are neither counted nor refused.
    pub async fn load(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        exempt: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, wekeza_store::Error> {
        let quotas = Self {
            state: Arc::default(),
            db,
            clock,
            exempt: Arc::new(exempt.into_iter().map(Into::into).collect()),
        };
        quotas.read_terms().await?;
        Ok(quotas)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QuotaState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn read_terms(&self) -> Result<(), wekeza_store::Error> {
        let terms = wekeza_store::plans::list(&self.db).await?;
        self.lock().limits = terms
            .iter()
            .map(|terms| (terms.plan, Limit::from(terms)))
            .collect();
        Ok(())
    }

    /// Decides a call of `app` on `plan` on `day`, counting it unless refused; `None` when this
    /// process does not know the app's day yet (read it with [`Self::learn`] first).
    fn decide(&self, app: &AppId, plan: Plan, day: NaiveDate) -> Option<Verdict> {
        let mut state = self.lock();
        let limit = state.limits.get(&plan).copied().unwrap_or(Limit {
            daily: None,
            overage_billed: false,
        });
        let app_day = state.days.get_mut(&(app.clone(), day))?;
        let past_limit = limit.daily.is_some_and(|daily| app_day.admitted() >= daily);
        let verdict = match (past_limit, limit.daily) {
            (true, Some(daily)) if !limit.overage_billed => {
                return Some(Verdict::Refused { limit: daily });
            }
            (true, _) => Verdict::Overage,
            (false, _) => Verdict::Admitted,
        };
        app_day.pending.admitted += 1;
        if verdict == Verdict::Overage {
            app_day.pending.overage += 1;
        }
        Some(verdict)
    }

    /// Reads what every replica admitted for `app` on `day`, unless another call did first.
    async fn learn(&self, app: &AppId, day: NaiveDate) -> Result<(), wekeza_store::Error> {
        let admitted = usage::admitted_on(&self.db, day, &[app]).await?;
        let synced = admitted.get(app).copied().unwrap_or(0);
        self.lock()
            .days
            .entry((app.clone(), day))
            .or_insert(AppDay {
                synced,
                ..AppDay::default()
            });
        Ok(())
    }

    /// Counts a call of `app` on `plan` now, or refuses it.
    pub async fn admit(&self, app: &AppId, plan: Plan) -> Result<Verdict, wekeza_store::Error> {
        let day = self.clock.now().date_naive();
        if let Some(verdict) = self.decide(app, plan, day) {
            return Ok(verdict);
        }
        self.learn(app, day).await?;
        Ok(self.decide(app, plan, day).unwrap_or(Verdict::Admitted))
    }

    /// Adds what this process admitted since the last flush to `daily_usage`, reads back the
    /// totals of every replica for today, forgets finished days, and reads the plans' terms
    /// again. What could not be written is kept for the next flush.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<(), wekeza_store::Error> {
        let today = self.clock.now().date_naive();
        let batch: Vec<(AppId, NaiveDate, QuotaCounts)> = {
            let mut state = self.lock();
            state
                .days
                .iter_mut()
                .filter(|(_, app_day)| app_day.pending != QuotaCounts::default())
                .map(|((app, day), app_day)| {
                    app_day.flushing = std::mem::take(&mut app_day.pending);
                    (app.clone(), *day, app_day.flushing)
                })
                .collect()
        };
        let rows: Vec<_> = batch
            .iter()
            .map(|(app, day, counts)| (app, *day, *counts))
            .collect();
        if let Err(error) = usage::add_daily(db, &rows).await {
            let mut state = self.lock();
            for (app, day, _) in &batch {
                if let Some(app_day) = state.days.get_mut(&(app.clone(), *day)) {
                    let flushing = std::mem::take(&mut app_day.flushing);
                    app_day.pending.admitted += flushing.admitted;
                    app_day.pending.overage += flushing.overage;
                }
            }
            return Err(error);
        }
        let apps_today: Vec<AppId> = {
            let mut state = self.lock();
            for (app, day, _) in &batch {
                if let Some(app_day) = state.days.get_mut(&(app.clone(), *day)) {
                    // Written: now in the database's total, which is read back below (until
                    // then the total read before, plus this, stays a lower bound).
                    app_day.synced += std::mem::take(&mut app_day.flushing).admitted;
                }
            }
            state
                .days
                .retain(|(_, day), app_day| *day >= today || !app_day.idle());
            state
                .days
                .keys()
                .filter(|(_, day)| *day == today)
                .map(|(app, _)| app.clone())
                .collect()
        };
        let apps: Vec<&AppId> = apps_today.iter().collect();
        let totals = usage::admitted_on(db, today, &apps).await?;
        {
            let mut state = self.lock();
            for (app, total) in totals {
                if let Some(app_day) = state.days.get_mut(&(app, today)) {
                    // Never below what this process knows it wrote.
                    app_day.synced = app_day.synced.max(total);
                }
            }
        }
        self.read_terms().await
    }
}

/// Middleware on the gRPC router, inside the access policy: counts the call against its app's
/// daily quota, or refuses it.
pub async fn layer(State(quotas): State<Quotas>, request: Request, next: Next) -> Response {
    let Some(calling) = request.extensions().get::<CallingApp>() else {
        return next.run(request).await;
    };
    if quotas.exempt.contains(request.uri().path()) {
        return next.run(request).await;
    }
    match quotas.admit(&calling.app_id, calling.plan).await {
        Ok(Verdict::Admitted | Verdict::Overage) => next.run(request).await,
        Ok(Verdict::Refused { limit }) => {
            let now = quotas.clock.now();
            let reset = next_reset(now);
            let wait = (reset - now).to_std().unwrap_or_default();
            let error = ApiError::new(
                Reason::QuotaExceeded,
                format!(
                    "the daily quota of {limit} requests of the {} plan is used up; it resets at {} (00:00 UTC)",
                    calling.plan.id(),
                    reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            )
            .with_retry_after(wait);
            refusal::answer(request.headers(), error)
        }
        Err(error) => {
            tracing::error!(%error, "the daily quota could not be read");
            refusal::answer(
                request.headers(),
                ApiError::unavailable(
                    "the platform cannot serve this call right now",
                    std::time::Duration::from_secs(1),
                ),
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use chrono::TimeZone;
    use wekeza_domain::ManualClock;
    use wekeza_store::testing::TestDatabase;

    use super::*;

    /// Admits `count` calls of `app` on the free plan; answers how many were refused.
    async fn refused_of(quotas: &Quotas, app: &AppId, count: usize) -> usize {
        let mut refused = 0;
        for _ in 0..count {
            if let Verdict::Refused { .. } = quotas.admit(app, Plan::Free).await.unwrap() {
                refused += 1;
            }
        }
        refused
    }

    #[tokio::test]
    async fn replicas_sharing_a_database_see_each_others_calls_at_each_flush() {
        for database in TestDatabase::all().await {
            let db = database.conn().clone();
            let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap());
            let exempt: [&str; 0] = [];
            let a = Quotas::load(db.clone(), Arc::new(clock.clone()), exempt)
                .await
                .unwrap();
            let b = Quotas::load(db.clone(), Arc::new(clock.clone()), exempt)
                .await
                .unwrap();
            let app: AppId = "app_01jd3z5q8x4m2n6p7r9s0t1v2w".parse().unwrap();
            // Replica A: 600 of the free plan's 1,000, written at its flush.
            assert_eq!(refused_of(&a, &app, 600).await, 0);
            a.flush(&db).await.unwrap();
            // Replica B reads them at its first call of the day: 400 left.
            assert_eq!(refused_of(&b, &app, 400).await, 0);
            assert_eq!(refused_of(&b, &app, 1).await, 1);
            // A has not seen B's 400 yet (one flush interval late): it admits up to its own
            // view of the limit — the documented overshoot.
            assert_eq!(refused_of(&a, &app, 100).await, 0);
            b.flush(&db).await.unwrap();
            a.flush(&db).await.unwrap();
            // After both flushes, each sees the total (1,100): both refuse.
            assert_eq!(refused_of(&a, &app, 1).await, 1);
            assert_eq!(refused_of(&b, &app, 1).await, 1);
            let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
            let total = usage::admitted_on(&db, day, &[&app]).await.unwrap();
            assert_eq!(total[&app], 1_100);
            // 00:00 UTC: a new day, a new count.
            clock.set(Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap());
            assert_eq!(refused_of(&a, &app, 1).await, 0);
        }
    }

    #[test]
    fn the_quota_resets_at_midnight_utc() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 30).unwrap();
        assert_eq!(
            next_reset(now),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
        );
        let midnight = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            next_reset(midnight),
            Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap()
        );
    }
}
