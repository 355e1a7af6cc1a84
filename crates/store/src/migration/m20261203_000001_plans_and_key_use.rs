//! `plans`: the usage plans on offer (Free, Startup, Enterprise) with their limits and prices,
//! seeded with the launch terms and edited by operators (`wekeza plans set`); and on
//! `api_keys`, the developer's label for a key and when it was last used.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, integer, string, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    Name,
    Description,
    DailyRequestLimit,
    RequestsPerMinute,
    Burst,
    Currency,
    MonthlyPriceMinor,
    OveragePricePerThousandMinor,
    SortOrder,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    DisplayName,
    LastUsedAt,
}

/// A plan's launch terms.
struct LaunchTerms {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    /// 0: no fixed limit.
    daily_request_limit: i64,
    requests_per_minute: i32,
    burst: i32,
    /// KES cents.
    monthly_price_minor: i64,
    /// KES cents per 1,000 requests above the daily limit; `None`: refused, not billed.
    overage_price_per_thousand_minor: Option<i64>,
}

/// The plans at launch, cheapest first.
const LAUNCH_TERMS: [LaunchTerms; 3] = [
    LaunchTerms {
        id: "free",
        name: "Free",
        description: "For trying the API: 1,000 requests a day, refused above.",
        daily_request_limit: 1_000,
        requests_per_minute: 1_000,
        burst: 100,
        monthly_price_minor: 0,
        overage_price_per_thousand_minor: None,
    },
    LaunchTerms {
        id: "startup",
        name: "Startup",
        description: "For apps in production: 50,000 requests a day, overage billed per 1,000.",
        daily_request_limit: 50_000,
        requests_per_minute: 3_000,
        burst: 300,
        monthly_price_minor: 2_500_000,
        overage_price_per_thousand_minor: Some(5_000),
    },
    LaunchTerms {
        id: "enterprise",
        name: "Enterprise",
        description: "No fixed daily limit; price and terms by contract.",
        daily_request_limit: 0,
        requests_per_minute: 20_000,
        burst: 2_000,
        monthly_price_minor: 0,
        overage_price_per_thousand_minor: None,
    },
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plans::Table)
                    .col(string(Plans::Id).primary_key())
                    .col(string(Plans::Name))
                    .col(string(Plans::Description))
                    .col(big_integer(Plans::DailyRequestLimit))
                    .col(integer(Plans::RequestsPerMinute))
                    .col(integer(Plans::Burst))
                    .col(string(Plans::Currency))
                    .col(big_integer(Plans::MonthlyPriceMinor))
                    .col(big_integer_null(Plans::OveragePricePerThousandMinor))
                    .col(integer(Plans::SortOrder))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert();
        insert.into_table(Plans::Table).columns([
            Plans::Id,
            Plans::Name,
            Plans::Description,
            Plans::DailyRequestLimit,
            Plans::RequestsPerMinute,
            Plans::Burst,
            Plans::Currency,
            Plans::MonthlyPriceMinor,
            Plans::OveragePricePerThousandMinor,
            Plans::SortOrder,
        ]);
        for (order, terms) in (0i32..).zip(LAUNCH_TERMS) {
            insert.values_panic([
                terms.id.into(),
                terms.name.into(),
                terms.description.into(),
                terms.daily_request_limit.into(),
                terms.requests_per_minute.into(),
                terms.burst.into(),
                "KES".into(),
                terms.monthly_price_minor.into(),
                terms.overage_price_per_thousand_minor.into(),
                order.into(),
            ]);
        }
        manager.exec_stmt(insert).await?;
        for column in [
            ColumnDef::new(ApiKeys::DisplayName)
                .string()
                .not_null()
                .default("")
                .to_owned(),
            timestamp_with_time_zone_null(ApiKeys::LastUsedAt),
        ] {
            // One column per statement: SQLite's ALTER TABLE adds one at a time.
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [ApiKeys::DisplayName, ApiKeys::LastUsedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Plans::Table).to_owned())
            .await
    }
}
