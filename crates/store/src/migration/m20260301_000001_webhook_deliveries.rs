//! `webhook_deliveries` and `webhook_attempts`: each event queued for each endpoint, with where
//! its delivery is, and every attempt made; and on `webhook_endpoints`, why the platform
//! disabled an endpoint and since when it has been failing; and an index of the outbox by
//! time, for replays.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, blob, integer, integer_null, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    AppId,
    EventId,
    EventType,
    Payload,
    Origin,
    DedupeKey,
    Status,
    Attempts,
    ScheduleStep,
    NextAttemptAt,
    LeaseUntil,
    EventCreatedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    DeliveryId,
    Number,
    AttemptedAt,
    ResponseStatus,
    LatencyMs,
    ResponseExcerpt,
    Error,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    DisabledReason,
    FailingSince,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(string(WebhookDeliveries::Id).primary_key())
                    .col(string(WebhookDeliveries::EndpointId))
                    .col(string(WebhookDeliveries::AppId))
                    .col(string(WebhookDeliveries::EventId))
                    .col(string(WebhookDeliveries::EventType))
                    .col(blob(WebhookDeliveries::Payload))
                    .col(string(WebhookDeliveries::Origin))
                    // Set for deliveries made from the event stream, so a redelivered bus
                    // message never queues an event twice for one endpoint.
                    .col(string_null(WebhookDeliveries::DedupeKey).unique_key())
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(integer(WebhookDeliveries::ScheduleStep))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    .col(timestamp_with_time_zone(WebhookDeliveries::EventCreatedAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_endpoint_id")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An endpoint's delivery log, newest first by id.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_endpoint_id_id")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        // The sender's question: what is due?
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_status_next_attempt_at")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(string(WebhookAttempts::DeliveryId))
                    .col(integer(WebhookAttempts::Number))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(integer_null(WebhookAttempts::ResponseStatus))
                    .col(big_integer(WebhookAttempts::LatencyMs))
                    .col(text(WebhookAttempts::ResponseExcerpt))
                    .col(text(WebhookAttempts::Error))
                    .primary_key(
                        Index::create()
                            .col(WebhookAttempts::DeliveryId)
                            .col(WebhookAttempts::Number),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_delivery_id")
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A replay's question: which events happened in a time range?
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_created_at")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(text_null(WebhookEndpoints::DisabledReason))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            WebhookEndpoints::FailingSince,
            WebhookEndpoints::DisabledReason,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WebhookEndpoints::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outbox_events_created_at")
                    .table(OutboxEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}
