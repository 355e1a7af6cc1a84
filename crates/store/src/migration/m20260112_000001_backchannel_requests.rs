//! Decoupled authorization (OpenID CIBA, poll mode): `backchannel_requests`, one row per
//! backchannel authentication request, keyed by the SHA-256 of its `auth_req_id` (never the id
//! itself). The row belongs to its consent: removing the consent (a sandbox reset) removes it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, string, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BackchannelRequests {
    Table,
    AuthReqIdHash,
    ClientId,
    ConsentId,
    CustomerId,
    AccountIds,
    Scope,
    BindingMessage,
    Status,
    CreatedAt,
    ExpiresAt,
    IntervalSeconds,
    LastPollAt,
    DecidedAt,
    RedeemedAt,
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
                    .table(BackchannelRequests::Table)
                    .col(string(BackchannelRequests::AuthReqIdHash).primary_key())
                    .col(string(BackchannelRequests::ClientId))
                    .col(string(BackchannelRequests::ConsentId))
                    .col(string(BackchannelRequests::CustomerId))
                    .col(text_null(BackchannelRequests::AccountIds))
                    .col(string(BackchannelRequests::Scope))
                    .col(text_null(BackchannelRequests::BindingMessage))
                    .col(string(BackchannelRequests::Status))
                    .col(timestamp_with_time_zone(BackchannelRequests::CreatedAt))
                    .col(timestamp_with_time_zone(BackchannelRequests::ExpiresAt))
                    .col(integer(BackchannelRequests::IntervalSeconds))
                    .col(timestamp_with_time_zone_null(
                        BackchannelRequests::LastPollAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        BackchannelRequests::DecidedAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        BackchannelRequests::RedeemedAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_backchannel_requests_consent_id")
                            .from(BackchannelRequests::Table, BackchannelRequests::ConsentId)
                            .to(Consents::Table, Consents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_backchannel_requests_consent_id")
                    .table(BackchannelRequests::Table)
                    .col(BackchannelRequests::ConsentId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BackchannelRequests::Table).to_owned())
            .await?;
        Ok(())
    }
}
