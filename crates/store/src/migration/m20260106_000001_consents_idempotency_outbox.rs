//! Consents, the idempotency records of retried creates, and the transactional outbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, blob, blob_null, string, string_null, text, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    AppId,
    Kind,
    Status,
    Permissions,
    ExpiresAt,
    CustomerId,
    AccountIds,
    AmountMinor,
    Currency,
    CreditorName,
    CreditorAccount,
    Reference,
    DebtorAccount,
    CreatedAt,
    StatusUpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    AppId,
    IdempotencyKey,
    Operation,
    RequestHash,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    Subject,
    EventType,
    AggregateId,
    Payload,
    CreatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Apps {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
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
                    .table(Consents::Table)
                    .col(string(Consents::Id).primary_key())
                    .col(string(Consents::AppId))
                    .col(string(Consents::Kind))
                    .col(string(Consents::Status))
                    .col(string(Consents::Permissions))
                    .col(timestamp_with_time_zone(Consents::ExpiresAt))
                    .col(string_null(Consents::CustomerId))
                    .col(text(Consents::AccountIds))
                    .col(big_integer_null(Consents::AmountMinor))
                    .col(string_null(Consents::Currency))
                    .col(string_null(Consents::CreditorName))
                    .col(string_null(Consents::CreditorAccount))
                    .col(string_null(Consents::Reference))
                    .col(string_null(Consents::DebtorAccount))
                    .col(timestamp_with_time_zone(Consents::CreatedAt))
                    .col(timestamp_with_time_zone(Consents::StatusUpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consents_app_id")
                            .from(Consents::Table, Consents::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consents_customer_id")
                            .from(Consents::Table, Consents::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // The customer's connected-apps view: newest first by id.
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_customer_id_id")
                    .table(Consents::Table)
                    .col(Consents::CustomerId)
                    .col(Consents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consents_app_id")
                    .table(Consents::Table)
                    .col(Consents::AppId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string(IdempotencyKeys::AppId))
                    .col(string(IdempotencyKeys::IdempotencyKey))
                    .col(string(IdempotencyKeys::Operation))
                    .col(string(IdempotencyKeys::RequestHash))
                    .col(blob_null(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::AppId)
                            .col(IdempotencyKeys::IdempotencyKey)
                            .col(IdempotencyKeys::Operation),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_keys_app_id")
                            .from(IdempotencyKeys::Table, IdempotencyKeys::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(string(OutboxEvents::Id).primary_key())
                    .col(string(OutboxEvents::Subject))
                    .col(string(OutboxEvents::EventType))
                    .col(string(OutboxEvents::AggregateId))
                    .col(blob(OutboxEvents::Payload))
                    .col(timestamp_with_time_zone(OutboxEvents::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxEvents::PublishedAt))
                    .to_owned(),
            )
            .await?;
        // The relay's query: unpublished events in id order.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_published_at_id")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::PublishedAt)
                    .col(OutboxEvents::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OutboxEvents::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            Consents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
