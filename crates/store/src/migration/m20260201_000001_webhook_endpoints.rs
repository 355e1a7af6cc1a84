//! `webhook_endpoints`: the URLs where apps receive events, with the signing secret (sealed
//! when a key-encryption key is configured) and, during a rotation, the previous secret and
//! when it stops signing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, string, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    AppId,
    Url,
    Description,
    EventTypes,
    Disabled,
    Secret,
    PreviousSecret,
    PreviousSecretExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Apps {
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
                    .table(WebhookEndpoints::Table)
                    .col(string(WebhookEndpoints::Id).primary_key())
                    .col(string(WebhookEndpoints::AppId))
                    .col(text(WebhookEndpoints::Url))
                    .col(text(WebhookEndpoints::Description))
                    .col(text(WebhookEndpoints::EventTypes))
                    .col(boolean(WebhookEndpoints::Disabled))
                    .col(text(WebhookEndpoints::Secret))
                    .col(text_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretExpiresAt,
                    ))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_endpoints_app_id")
                            .from(WebhookEndpoints::Table, WebhookEndpoints::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An app's endpoints, newest first by id.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoints_app_id_id")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::AppId)
                    .col(WebhookEndpoints::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
