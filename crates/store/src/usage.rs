//! Metered usage: the counters of calls per app, UTC day, operation and status class (with a
//! latency histogram), and the per-app daily totals the quotas of every replica share.
//!
//! Both are written only by adding: a batch of deltas is one upsert per table that adds to
//! what is there (`INSERT … ON CONFLICT … DO UPDATE SET n = table.n + excluded.n`, on SQLite
//! and PostgreSQL alike), so replicas flushing at once never lose each other's counts and no
//! row is read first.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use wekeza_domain::AppId;

use crate::entity::daily_usage;
use crate::entity::usage_counters::{self, Column};
use crate::{Error, Result};

/// The upper bounds of the latency histogram's buckets, in milliseconds; one more bucket holds
/// every slower call.
pub const LATENCY_BOUNDS_MS: [u64; 6] = [5, 25, 100, 250, 1_000, 5_000];

/// Buckets of the latency histogram: one per bound, and the unbounded last one.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits (15 values
/// a row).
const ROWS_PER_STATEMENT: usize = 500;

/// What a counter row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey<'a> {
    /// The app.
    pub app_id: &'a AppId,
    /// The UTC day.
    pub day: NaiveDate,
    /// The rpc's path, or the HTTP path of a call that is not an rpc.
    pub operation: &'a str,
    /// 2, 4 or 5.
    pub status_class: u16,
}

/// Calls and their latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Calls.
    pub requests: u64,
    /// Of those, calls refused by a rate limit or the daily quota (429).
    pub rejected: u64,
    /// The sum of their latencies, microseconds.
    pub latency_sum_micros: u64,
    /// Calls per latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub latency_buckets: [u64; LATENCY_BUCKETS],
}

impl CallCounts {
    /// One call that took `latency_micros` and was (or not) `rejected`.
    pub fn one(latency_micros: u64, rejected: bool) -> Self {
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|bound| latency_micros <= bound.saturating_mul(1_000))
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        let mut latency_buckets = [0; LATENCY_BUCKETS];
        if let Some(count) = latency_buckets.get_mut(bucket) {
            *count = 1;
        }
        Self {
            requests: 1,
            rejected: u64::from(rejected),
            latency_sum_micros: latency_micros,
            latency_buckets,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        self.requests = self.requests.saturating_add(other.requests);
        self.rejected = self.rejected.saturating_add(other.rejected);
        self.latency_sum_micros = self
            .latency_sum_micros
            .saturating_add(other.latency_sum_micros);
        for (mine, theirs) in self.latency_buckets.iter_mut().zip(other.latency_buckets) {
            *mine = mine.saturating_add(theirs);
        }
    }
}

/// What the daily quota let through on one app's day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaCounts {
    /// Calls admitted.
    pub admitted: u64,
    /// Of those, calls above the plan's daily limit (billed as overage).
    pub overage: u64,
}

/// An app's usage on one UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayUsage {
    /// The day.
    pub day: NaiveDate,
    /// Calls served (every metered call but the rejected ones).
    pub served: u64,
    /// Calls refused by a rate limit or the daily quota (429).
    pub rejected: u64,
    /// What the daily quota admitted, and how much of it was overage.
    pub quota: QuotaCounts,
}

/// An app's calls of one operation over a range of days, by outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationUsage {
    /// The rpc's path, or the HTTP path of a call that is not an rpc.
    pub operation: String,
    /// Calls per status class (2, 4, 5; rejected calls are in 4).
    pub by_class: BTreeMap<u16, CallCounts>,
}

fn stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn read(column: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Corrupt(format!("usage: negative {column}")))
}

/// `table.column + excluded.column`: what an upsert adds.
fn added<T: sea_orm::Iden + Copy + 'static, C: sea_orm::Iden + Copy + 'static>(
    table: T,
    column: C,
) -> Expr {
    Expr::col((table, column)).add(Expr::col((Alias::new("excluded"), column)))
}

/// Adds `batch` to the counters, in one statement per [`ROWS_PER_STATEMENT`] rows. Keys must
/// be distinct within the batch.
pub async fn add_counters(
    db: &impl ConnectionTrait,
    batch: &[(CounterKey<'_>, CallCounts)],
) -> Result<()> {
    const ADDED: [Column; 10] = [
        Column::RequestCount,
        Column::RejectedCount,
        Column::LatencySumMicros,
        Column::LatencyLe5ms,
        Column::LatencyLe25ms,
        Column::LatencyLe100ms,
        Column::LatencyLe250ms,
        Column::LatencyLe1s,
        Column::LatencyLe5s,
        Column::LatencyGt5s,
    ];
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|(key, counts)| {
            let [le5, le25, le100, le250, le1s, le5s, gt5s] = counts.latency_buckets.map(stored);
            usage_counters::ActiveModel::from(usage_counters::Model {
                app_id: key.app_id.to_string(),
                day: key.day,
                operation: key.operation.to_owned(),
                status_class: i16::try_from(key.status_class).unwrap_or(i16::MAX),
                request_count: stored(counts.requests),
                rejected_count: stored(counts.rejected),
                latency_sum_micros: stored(counts.latency_sum_micros),
                latency_le5ms: le5,
                latency_le25ms: le25,
                latency_le100ms: le100,
                latency_le250ms: le250,
                latency_le1s: le1s,
                latency_le5s: le5s,
                latency_gt5s: gt5s,
            })
        });
        usage_counters::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    Column::AppId,
                    Column::Day,
                    Column::Operation,
                    Column::StatusClass,
                ])
                .values(ADDED.map(|column| (column, added(usage_counters::Entity, column))))
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Adds `batch` to the apps' daily quota totals. Keys must be distinct within the batch.
pub async fn add_daily(
    db: &impl ConnectionTrait,
    batch: &[(&AppId, NaiveDate, QuotaCounts)],
) -> Result<()> {
    use daily_usage::Column as Daily;
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|(app_id, day, counts)| {
            daily_usage::ActiveModel::from(daily_usage::Model {
                app_id: app_id.to_string(),
                day: *day,
                admitted_count: stored(counts.admitted),
                overage_count: stored(counts.overage),
            })
        });
        daily_usage::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([Daily::AppId, Daily::Day])
                    .values(
                        [Daily::AdmittedCount, Daily::OverageCount]
                            .map(|column| (column, added(daily_usage::Entity, column))),
                    )
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// What the quotas of every replica admitted on `day` for each of `apps` (apps without a row
/// are left out).
pub async fn admitted_on(
    db: &impl ConnectionTrait,
    day: NaiveDate,
    apps: &[&AppId],
) -> Result<HashMap<AppId, u64>> {
    use daily_usage::Column as Daily;
    let mut admitted = HashMap::new();
    for chunk in apps.chunks(ROWS_PER_STATEMENT) {
        let rows = daily_usage::Entity::find()
            .filter(Daily::Day.eq(day))
            .filter(Daily::AppId.is_in(chunk.iter().map(|app| app.as_str())))
            .all(db)
            .await?;
        for row in rows {
            let app = row
                .app_id
                .parse::<AppId>()
                .map_err(|_| Error::Corrupt(format!("daily_usage: app id {}", row.app_id)))?;
            admitted.insert(app, read("admitted_count", row.admitted_count)?);
        }
    }
    Ok(admitted)
}

/// The usage of `day` in `days`, zero until counted.
fn day_of(days: &mut BTreeMap<NaiveDate, DayUsage>, day: NaiveDate) -> &mut DayUsage {
    days.entry(day).or_insert_with(|| DayUsage {
        day,
        ..DayUsage::default()
    })
}

/// `app`'s usage on the days from `from` up to `until` (exclusive) that have any, oldest first.
pub async fn days(
    db: &impl ConnectionTrait,
    app: &AppId,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<DayUsage>> {
    use daily_usage::Column as Daily;
    let mut days: BTreeMap<NaiveDate, DayUsage> = BTreeMap::new();
    let counters = usage_counters::Entity::find()
        .filter(Column::AppId.eq(app.as_str()))
        .filter(Column::Day.gte(from))
        .filter(Column::Day.lt(until))
        .all(db)
        .await?;
    for row in counters {
        let requests = read("request_count", row.request_count)?;
        let rejected = read("rejected_count", row.rejected_count)?;
        let day = day_of(&mut days, row.day);
        day.served = day.served.saturating_add(requests.saturating_sub(rejected));
        day.rejected = day.rejected.saturating_add(rejected);
    }
    let quotas = daily_usage::Entity::find()
        .filter(Daily::AppId.eq(app.as_str()))
        .filter(Daily::Day.gte(from))
        .filter(Daily::Day.lt(until))
        .all(db)
        .await?;
    for row in quotas {
        let day = day_of(&mut days, row.day);
        day.quota = QuotaCounts {
            admitted: read("admitted_count", row.admitted_count)?,
            overage: read("overage_count", row.overage_count)?,
        };
    }
    Ok(days.into_values().collect())
}

/// `app`'s calls per operation on the days from `from` up to `until` (exclusive), by operation.
pub async fn operations(
    db: &impl ConnectionTrait,
    app: &AppId,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<OperationUsage>> {
    let rows = usage_counters::Entity::find()
        .filter(Column::AppId.eq(app.as_str()))
        .filter(Column::Day.gte(from))
        .filter(Column::Day.lt(until))
        .order_by_asc(Column::Operation)
        .all(db)
        .await?;
    let mut operations: BTreeMap<String, BTreeMap<u16, CallCounts>> = BTreeMap::new();
    for row in rows {
        let class = u16::try_from(row.status_class)
            .map_err(|_| Error::Corrupt("usage_counters: status_class".into()))?;
        let counts = CallCounts {
            requests: read("request_count", row.request_count)?,
            rejected: read("rejected_count", row.rejected_count)?,
            latency_sum_micros: read("latency_sum_micros", row.latency_sum_micros)?,
            latency_buckets: [
                read("latency_le5ms", row.latency_le5ms)?,
                read("latency_le25ms", row.latency_le25ms)?,
                read("latency_le100ms", row.latency_le100ms)?,
                read("latency_le250ms", row.latency_le250ms)?,
                read("latency_le1s", row.latency_le1s)?,
                read("latency_le5s", row.latency_le5s)?,
                read("latency_gt5s", row.latency_gt5s)?,
            ],
        };
        operations
            .entry(row.operation)
            .or_default()
            .entry(class)
            .or_default()
            .add(&counts);
    }
    Ok(operations
        .into_iter()
        .map(|(operation, by_class)| OperationUsage {
            operation,
            by_class,
        })
        .collect())
}
