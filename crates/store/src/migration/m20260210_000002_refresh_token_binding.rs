//! `refresh_tokens.jkt`: the DPoP key (JWK SHA-256 thumbprint, RFC 9449) a token family is bound
//! to when its grant was redeemed with a proof; NULL for a Bearer family. A bound family's
//! refresh needs a proof by that key and issues DPoP-bound tokens again. Rows written before
//! this migration have no binding recorded and stay Bearer families.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Jkt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(string_null(RefreshTokens::Jkt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::Jkt)
                    .to_owned(),
            )
            .await
    }
}
