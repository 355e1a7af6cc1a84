//! The audit trail: `audit_records`, append-only and hash-chained (each row holds the previous
//! row's hash), `audit_chain`, the one row naming the chain's head (its last sequence number
//! and hash; appenders lock it to keep one chain), and on `outbox_events` when the audit trail
//! took the event (consent transitions are audited from the outbox).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string, string_null, text};
use sea_orm_migration::schema::{timestamp_with_time_zone, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditRecords {
    Table,
    Seq,
    OccurredAt,
    Kind,
    Action,
    AppId,
    CustomerId,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditChain {
    Table,
    Id,
    LastSeq,
    LastHash,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    AuditedAt,
}

/// The hash before the first record: 64 zeros.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditRecords::Table)
                    .col(big_integer(AuditRecords::Seq).primary_key())
                    .col(timestamp_with_time_zone(AuditRecords::OccurredAt))
                    .col(string(AuditRecords::Kind))
                    .col(string(AuditRecords::Action))
                    .col(string_null(AuditRecords::AppId))
                    .col(string_null(AuditRecords::CustomerId))
                    .col(text(AuditRecords::Details))
                    .col(string(AuditRecords::PrevHash))
                    .col(string(AuditRecords::Hash))
                    .to_owned(),
            )
            .await?;
        // `wekeza audit export --since`.
        manager
            .create_index(
                Index::create()
                    .name("audit_records_occurred_at")
                    .table(AuditRecords::Table)
                    .col(AuditRecords::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditChain::Table)
                    .col(integer(AuditChain::Id).primary_key())
                    .col(big_integer(AuditChain::LastSeq))
                    .col(string(AuditChain::LastHash))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditChain::Table)
                    .columns([AuditChain::Id, AuditChain::LastSeq, AuditChain::LastHash])
                    .values_panic([1.into(), 0i64.into(), GENESIS.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxEvents::Table)
                    .add_column(timestamp_with_time_zone_null(OutboxEvents::AuditedAt))
                    .to_owned(),
            )
            .await?;
        // The audit writer's scan: events not yet audited, in id order.
        manager
            .create_index(
                Index::create()
                    .name("outbox_events_unaudited")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::AuditedAt)
                    .col(OutboxEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("outbox_events_unaudited")
                    .table(OutboxEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxEvents::Table)
                    .drop_column(OutboxEvents::AuditedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AuditChain::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditRecords::Table).to_owned())
            .await
    }
}
