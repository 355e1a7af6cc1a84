//! Sign-in without a consent, and step-up: an OpenID Connect request for `openid` alone
//! (another bank system, or a federating Wekeza, signing the customer in) has no consent to
//! decide, so `authorization_requests.consent_id` and `authorization_codes.consent_id` become
//! nullable; and both tables gain `acr`, the authentication context a request asked for (the
//! step-up of a payment the fraud checks challenged), which its code carries to the tokens.
//!
//! SQLite cannot drop a NOT NULL constraint in place, and the schema builder has no portable
//! form of it, so both tables are dropped and created again (same columns, indexes and foreign
//! keys; `consent_id` now nullable, `acr` added). Their rows live minutes — a pushed request 90 s, its
//! browser session 10 min, a code a minute plus its replay window — so an upgrade only ends the
//! sign-ins in flight at that moment; customers start again from the app. `down` does the same
//! the other way (sign-in-only rows, which the old schema cannot hold, are dropped with it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, string, string_null, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuthorizationRequests {
    Table,
    RequestUriHash,
    ClientId,
    ConsentId,
    RedirectUri,
    CodeChallenge,
    Scope,
    State,
    Nonce,
    CreatedAt,
    ExpiresAt,
    SessionHash,
    SessionExpiresAt,
    CsrfHash,
    Stage,
    CustomerId,
    FailedAttempts,
    Acr,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    ClientId,
    ConsentId,
    CustomerId,
    AccountIds,
    Scope,
    RedirectUri,
    CodeChallenge,
    Nonce,
    CreatedAt,
    ExpiresAt,
    RedeemedAt,
    GrantId,
    Acr,
}

/// The `consent_id` column, nullable or not.
fn consent_column(column: impl IntoIden, nullable: bool) -> ColumnDef {
    if nullable {
        string_null(column)
    } else {
        string(column)
    }
}

/// Creates both tables as of this migration (`current`) or the one before it.
async fn create_tables(manager: &SchemaManager<'_>, current: bool) -> Result<(), DbErr> {
    let mut requests = Table::create()
        .table(AuthorizationRequests::Table)
        .col(string(AuthorizationRequests::RequestUriHash).primary_key())
        .col(string(AuthorizationRequests::ClientId))
        .col(consent_column(AuthorizationRequests::ConsentId, current))
        .col(text(AuthorizationRequests::RedirectUri))
        .col(string(AuthorizationRequests::CodeChallenge))
        .col(string(AuthorizationRequests::Scope))
        .col(text_null(AuthorizationRequests::State))
        .col(text_null(AuthorizationRequests::Nonce))
        .col(timestamp_with_time_zone(AuthorizationRequests::CreatedAt))
        .col(timestamp_with_time_zone(AuthorizationRequests::ExpiresAt))
        .col(string_null(AuthorizationRequests::SessionHash).unique_key())
        .col(timestamp_with_time_zone_null(
            AuthorizationRequests::SessionExpiresAt,
        ))
        .col(string_null(AuthorizationRequests::CsrfHash))
        .col(string_null(AuthorizationRequests::Stage))
        .col(string_null(AuthorizationRequests::CustomerId))
        .col(integer(AuthorizationRequests::FailedAttempts).default(0))
        .foreign_key(
            ForeignKey::create()
                .name("fk_authorization_requests_consent_id")
                .from(
                    AuthorizationRequests::Table,
                    AuthorizationRequests::ConsentId,
                )
                .to(Consents::Table, Consents::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned();
    if current {
        requests.col(text_null(AuthorizationRequests::Acr));
    }
    manager.create_table(requests).await?;
    for (name, column) in [
        (
            "idx_authorization_requests_expires_at",
            AuthorizationRequests::ExpiresAt,
        ),
        (
            "idx_authorization_requests_consent_id",
            AuthorizationRequests::ConsentId,
        ),
    ] {
        manager
            .create_index(
                Index::create()
                    .name(name)
                    .table(AuthorizationRequests::Table)
                    .col(column)
                    .to_owned(),
            )
            .await?;
    }
    let mut codes = Table::create()
        .table(AuthorizationCodes::Table)
        .col(string(AuthorizationCodes::CodeHash).primary_key())
        .col(string(AuthorizationCodes::ClientId))
        .col(consent_column(AuthorizationCodes::ConsentId, current))
        .col(string(AuthorizationCodes::CustomerId))
        .col(text(AuthorizationCodes::AccountIds))
        .col(string(AuthorizationCodes::Scope))
        .col(text(AuthorizationCodes::RedirectUri))
        .col(string(AuthorizationCodes::CodeChallenge))
        .col(text_null(AuthorizationCodes::Nonce))
        .col(timestamp_with_time_zone(AuthorizationCodes::CreatedAt))
        .col(timestamp_with_time_zone(AuthorizationCodes::ExpiresAt))
        .col(timestamp_with_time_zone_null(
            AuthorizationCodes::RedeemedAt,
        ))
        .col(string_null(AuthorizationCodes::GrantId))
        .foreign_key(
            ForeignKey::create()
                .name("fk_authorization_codes_consent_id")
                .from(AuthorizationCodes::Table, AuthorizationCodes::ConsentId)
                .to(Consents::Table, Consents::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned();
    if current {
        codes.col(text_null(AuthorizationCodes::Acr));
    }
    manager.create_table(codes).await?;
    manager
        .create_index(
            Index::create()
                .name("idx_authorization_codes_expires_at")
                .table(AuthorizationCodes::Table)
                .col(AuthorizationCodes::ExpiresAt)
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Drops both tables (their indexes go with them).
async fn drop_tables(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(AuthorizationCodes::Table).to_owned())
        .await?;
    manager
        .drop_table(Table::drop().table(AuthorizationRequests::Table).to_owned())
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager).await?;
        create_tables(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager).await?;
        create_tables(manager, false).await
    }
}
