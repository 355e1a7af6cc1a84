//! The authorization-code flow's tables: pushed authorization requests with the browser session
//! that signs the customer in (`authorization_requests`), sign-in failures per username
//! (`sign_in_failures`, for lock-out), authorization codes (single use, a minute long) and
//! refresh tokens (rotated on use, in families that are revoked together). Secrets are keyed by
//! their SHA-256, never stored themselves, and everything issued for a consent belongs to it:
//! removing the consent (a sandbox reset) removes them.

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
}

#[derive(DeriveIden)]
enum SignInFailures {
    Table,
    Username,
    Failures,
    LastFailureAt,
    LockedUntil,
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
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    GrantId,
    ClientId,
    ConsentId,
    CustomerId,
    Scope,
    AccessJti,
    AccessExpiresAt,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
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
                    .table(AuthorizationRequests::Table)
                    .col(string(AuthorizationRequests::RequestUriHash).primary_key())
                    .col(string(AuthorizationRequests::ClientId))
                    .col(string(AuthorizationRequests::ConsentId))
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
                    .to_owned(),
            )
            .await?;
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

        manager
            .create_table(
                Table::create()
                    .table(SignInFailures::Table)
                    .col(string(SignInFailures::Username).primary_key())
                    .col(integer(SignInFailures::Failures))
                    .col(timestamp_with_time_zone(SignInFailures::LastFailureAt))
                    .col(timestamp_with_time_zone_null(SignInFailures::LockedUntil))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(string(AuthorizationCodes::CodeHash).primary_key())
                    .col(string(AuthorizationCodes::ClientId))
                    .col(string(AuthorizationCodes::ConsentId))
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
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_authorization_codes_expires_at")
                    .table(AuthorizationCodes::Table)
                    .col(AuthorizationCodes::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_authorization_codes_consent_id")
                    .table(AuthorizationCodes::Table)
                    .col(AuthorizationCodes::ConsentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(string(RefreshTokens::TokenHash).primary_key())
                    .col(string(RefreshTokens::GrantId))
                    .col(string(RefreshTokens::ClientId))
                    .col(string(RefreshTokens::ConsentId))
                    .col(string(RefreshTokens::CustomerId))
                    .col(string(RefreshTokens::Scope))
                    .col(string(RefreshTokens::AccessJti))
                    .col(timestamp_with_time_zone(RefreshTokens::AccessExpiresAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_consent_id")
                            .from(RefreshTokens::Table, RefreshTokens::ConsentId)
                            .to(Consents::Table, Consents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_refresh_tokens_grant_id", RefreshTokens::GrantId),
            ("idx_refresh_tokens_consent_id", RefreshTokens::ConsentId),
            ("idx_refresh_tokens_expires_at", RefreshTokens::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RefreshTokens::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            SignInFailures::Table.into_iden(),
            AuthorizationRequests::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
