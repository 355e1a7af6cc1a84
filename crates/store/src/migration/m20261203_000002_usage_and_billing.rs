//! `usage_counters`: the metered calls of each app per UTC day, operation and status class,
//! with their latency histogram, added to in batches by the metering flush; `daily_usage`: the
//! calls each app's daily quota admitted per UTC day and how many of them were overage, the
//! total every replica's quota reads back; `app_plan_changes`: the history of each app's plan,
//! which invoices prorate by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, date, pk_auto, small_integer, string, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageCounters {
    Table,
    AppId,
    Day,
    Operation,
    StatusClass,
    RequestCount,
    RejectedCount,
    LatencySumMicros,
    LatencyLe5ms,
    LatencyLe25ms,
    LatencyLe100ms,
    LatencyLe250ms,
    LatencyLe1s,
    LatencyLe5s,
    LatencyGt5s,
}

#[derive(DeriveIden)]
enum DailyUsage {
    Table,
    AppId,
    Day,
    AdmittedCount,
    OverageCount,
}

#[derive(DeriveIden)]
enum AppPlanChanges {
    Table,
    Id,
    AppId,
    ChangedAt,
    PreviousPlan,
    Plan,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key to `apps`: what an app was billed for outlives the app.
        manager
            .create_table(
                Table::create()
                    .table(UsageCounters::Table)
                    .col(string(UsageCounters::AppId))
                    .col(date(UsageCounters::Day))
                    .col(string(UsageCounters::Operation))
                    .col(small_integer(UsageCounters::StatusClass))
                    .col(big_integer(UsageCounters::RequestCount))
                    .col(big_integer(UsageCounters::RejectedCount))
                    .col(big_integer(UsageCounters::LatencySumMicros))
                    .col(big_integer(UsageCounters::LatencyLe5ms))
                    .col(big_integer(UsageCounters::LatencyLe25ms))
                    .col(big_integer(UsageCounters::LatencyLe100ms))
                    .col(big_integer(UsageCounters::LatencyLe250ms))
                    .col(big_integer(UsageCounters::LatencyLe1s))
                    .col(big_integer(UsageCounters::LatencyLe5s))
                    .col(big_integer(UsageCounters::LatencyGt5s))
                    // The key the flush's upserts add to; an app's days are its prefix.
                    .primary_key(
                        Index::create()
                            .col(UsageCounters::AppId)
                            .col(UsageCounters::Day)
                            .col(UsageCounters::Operation)
                            .col(UsageCounters::StatusClass),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DailyUsage::Table)
                    .col(string(DailyUsage::AppId))
                    .col(date(DailyUsage::Day))
                    .col(big_integer(DailyUsage::AdmittedCount))
                    .col(big_integer(DailyUsage::OverageCount))
                    .primary_key(Index::create().col(DailyUsage::AppId).col(DailyUsage::Day))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AppPlanChanges::Table)
                    .col(pk_auto(AppPlanChanges::Id))
                    .col(string(AppPlanChanges::AppId))
                    .col(timestamp_with_time_zone(AppPlanChanges::ChangedAt))
                    // The plan before the change too: an app's first plan is then known
                    // without a row written at its creation.
                    .col(string(AppPlanChanges::PreviousPlan))
                    .col(string(AppPlanChanges::Plan))
                    .to_owned(),
            )
            .await?;
        // An app's plan history, in order.
        manager
            .create_index(
                Index::create()
                    .name("idx_app_plan_changes_app_id_changed_at")
                    .table(AppPlanChanges::Table)
                    .col(AppPlanChanges::AppId)
                    .col(AppPlanChanges::ChangedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AppPlanChanges::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DailyUsage::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UsageCounters::Table).to_owned())
            .await
    }
}
