//! Dynamic client registration (RFC 7591): `registration_tokens`, the initial access tokens an
//! operator hands out so that a developer's software can register its own client. One row per
//! token, keyed by the token's SHA-256 (never the token itself), with the environment the
//! clients it registers belong to and its expiry.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RegistrationTokens {
    Table,
    TokenHash,
    Environment,
    CreatedAt,
    ExpiresAt,
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
                    .table(RegistrationTokens::Table)
                    .col(string(RegistrationTokens::TokenHash).primary_key())
                    .col(string(RegistrationTokens::Environment))
                    .col(timestamp_with_time_zone(RegistrationTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RegistrationTokens::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RegistrationTokens::Table).to_owned())
            .await?;
        Ok(())
    }
}
