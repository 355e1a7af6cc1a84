//! The expiry sweep's index: `consents (status, expires_at)`, so finding the live consents
//! whose expiration time has passed reads only those rows, not the whole table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Consents {
    Table,
    Status,
    ExpiresAt,
}

const INDEX: &str = "idx_consents_status_expires_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Consents::Table)
                    .col(Consents::Status)
                    .col(Consents::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Consents::Table).to_owned())
            .await?;
        Ok(())
    }
}
