//! Third-party apps (OAuth2 clients) and their API keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    string, string_null, string_uniq, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Apps {
    Table,
    Id,
    ClientId,
    Name,
    Environment,
    Status,
    RedirectUris,
    Scopes,
    TokenEndpointAuthMethod,
    ClientSecretHash,
    Jwks,
    Plan,
    DeveloperId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    AppId,
    KeyPrefix,
    KeyHash,
    CreatedAt,
    RevokedAt,
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
                    .table(Apps::Table)
                    .col(string(Apps::Id).primary_key())
                    .col(string_uniq(Apps::ClientId))
                    .col(string(Apps::Name))
                    .col(string(Apps::Environment))
                    .col(string(Apps::Status))
                    .col(text(Apps::RedirectUris))
                    .col(string(Apps::Scopes))
                    .col(string(Apps::TokenEndpointAuthMethod))
                    .col(string(Apps::ClientSecretHash))
                    .col(text_null(Apps::Jwks))
                    .col(string(Apps::Plan))
                    .col(string_null(Apps::DeveloperId))
                    .col(timestamp_with_time_zone(Apps::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_apps_developer_id")
                    .table(Apps::Table)
                    .col(Apps::DeveloperId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::AppId))
                    .col(string(ApiKeys::KeyPrefix))
                    .col(string_uniq(ApiKeys::KeyHash))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_keys_app_id")
                            .from(ApiKeys::Table, ApiKeys::AppId)
                            .to(Apps::Table, Apps::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_app_id")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::AppId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Apps::Table).to_owned())
            .await
    }
}
