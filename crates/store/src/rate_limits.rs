//! The shared buckets of the `cluster` rate-limit policy: a GCRA whose state (the theoretical
//! arrival time, TAT) lives in one row per subject and is moved by one conditional upsert per
//! call — `tat = max(tat, now) + interval`, only while `max(tat, now) + interval − capacity ≤
//! now` — so every replica on the database enforces the same limit. Times are the callers'
//! clocks (UTC microseconds), which replicas keep in step with NTP.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::Result;
use crate::entity::rate_limit_buckets::{Column, Entity};

/// The outcome of [`take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The call was taken from the bucket.
    Allowed {
        /// When the bucket is full again.
        full_at: DateTime<Utc>,
    },
    /// The bucket is empty.
    Refused {
        /// When one call fits again.
        next_at: DateTime<Utc>,
        /// When the bucket is full again.
        full_at: DateTime<Utc>,
    },
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Takes one call from `subject`'s bucket at `now`: the bucket refills one call per `interval`
/// and holds `capacity` (= burst × interval) at most.
pub async fn take(
    db: &impl ConnectionTrait,
    subject: &str,
    now: DateTime<Utc>,
    interval: Duration,
    capacity: Duration,
) -> Result<Taken> {
    let now_micros = now.timestamp_micros();
    let interval = micros(interval);
    let capacity = micros(capacity);
    // max(tat, now), written as a CASE: SQLite has no GREATEST.
    let from: Expr = Expr::case(
        Expr::col((Entity, Column::TatMicros)).gt(now_micros),
        Expr::col((Entity, Column::TatMicros)),
    )
    .finally(now_micros)
    .into();
    let mut upsert = Query::insert();
    upsert
        .into_table(Entity)
        .columns([Column::Subject, Column::TatMicros])
        .values_panic([subject.into(), (now_micros + interval).into()])
        .on_conflict(
            OnConflict::column(Column::Subject)
                .value(Column::TatMicros, from.clone().add(interval))
                .action_and_where(from.add(interval).sub(capacity).lte(now_micros))
                .to_owned(),
        )
        .returning_col(Column::TatMicros);
    if let Some(row) = db.query_one(&upsert).await? {
        let tat: i64 = row.try_get_by_index(0)?;
        return Ok(Taken::Allowed {
            full_at: instant(tat),
        });
    }
    let mut read = Query::select();
    read.column(Column::TatMicros)
        .from(Entity)
        .and_where(Expr::col(Column::Subject).eq(subject));
    let tat: i64 = match db.query_one(&read).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => now_micros,
    };
    Ok(Taken::Refused {
        next_at: instant(tat + interval - capacity),
        full_at: instant(tat),
    })
}

/// Deletes the buckets that were full before `before` (full buckets and absent ones are the
/// same); answers how many.
pub async fn forget_full(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64> {
    let mut delete = Query::delete();
    delete
        .from_table(Entity)
        .and_where(Expr::col(Column::TatMicros).lt(before.timestamp_micros()));
    Ok(db.execute(&delete).await?.rows_affected())
}
