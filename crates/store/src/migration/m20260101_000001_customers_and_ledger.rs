//! Customers, their accounts (and the bank's internal ones), journals and postings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, string, string_null, string_uniq, text, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    Username,
    PasswordHash,
    FullName,
    Email,
    PhoneNumber,
    AddressLine,
    TownName,
    PostCode,
    Country,
    Kind,
    Persona,
    TotpSecret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    CustomerId,
    Owner,
    Kind,
    Subtype,
    Currency,
    Nickname,
    Status,
    AccountNumber,
    HolderName,
    OpenedAt,
    OverdraftLimitMinor,
    BookedMinor,
    HeldMinor,
    IsPrimary,
}

#[derive(DeriveIden)]
enum Journals {
    Table,
    Id,
    Kind,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Postings {
    Table,
    Id,
    JournalId,
    AccountId,
    AmountMinor,
    Currency,
    Status,
    BookingTime,
    ValueTime,
    Description,
    Reference,
    Category,
    MerchantName,
    MerchantCategoryCode,
    CounterpartyName,
    BalanceAfterMinor,
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
                    .table(Customers::Table)
                    .col(string(Customers::Id).primary_key())
                    .col(string_uniq(Customers::Username))
                    .col(string(Customers::PasswordHash))
                    .col(string(Customers::FullName))
                    .col(string(Customers::Email))
                    .col(string(Customers::PhoneNumber))
                    .col(string(Customers::AddressLine))
                    .col(string(Customers::TownName))
                    .col(string(Customers::PostCode))
                    .col(string(Customers::Country))
                    .col(string(Customers::Kind))
                    .col(string(Customers::Persona))
                    .col(string(Customers::TotpSecret))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(string(Accounts::Id).primary_key())
                    .col(string_null(Accounts::CustomerId))
                    .col(string(Accounts::Owner))
                    .col(string(Accounts::Kind))
                    .col(string(Accounts::Subtype))
                    .col(string(Accounts::Currency))
                    .col(string(Accounts::Nickname))
                    .col(string(Accounts::Status))
                    .col(string_uniq(Accounts::AccountNumber))
                    .col(string(Accounts::HolderName))
                    .col(timestamp_with_time_zone(Accounts::OpenedAt))
                    .col(big_integer(Accounts::OverdraftLimitMinor))
                    .col(big_integer(Accounts::BookedMinor))
                    .col(big_integer(Accounts::HeldMinor))
                    .col(boolean(Accounts::IsPrimary))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_accounts_customer_id")
                            .from(Accounts::Table, Accounts::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_accounts_customer_id_id")
                    .table(Accounts::Table)
                    .col(Accounts::CustomerId)
                    .col(Accounts::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Journals::Table)
                    .col(string(Journals::Id).primary_key())
                    .col(string(Journals::Kind))
                    .col(text(Journals::Description))
                    .col(timestamp_with_time_zone(Journals::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Postings::Table)
                    .col(string(Postings::Id).primary_key())
                    .col(string(Postings::JournalId))
                    .col(string(Postings::AccountId))
                    .col(big_integer(Postings::AmountMinor))
                    .col(string(Postings::Currency))
                    .col(string(Postings::Status))
                    .col(timestamp_with_time_zone(Postings::BookingTime))
                    .col(timestamp_with_time_zone(Postings::ValueTime))
                    .col(string(Postings::Description))
                    .col(string(Postings::Reference))
                    .col(string(Postings::Category))
                    .col(string_null(Postings::MerchantName))
                    .col(string_null(Postings::MerchantCategoryCode))
                    .col(string_null(Postings::CounterpartyName))
                    .col(big_integer(Postings::BalanceAfterMinor))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_postings_journal_id")
                            .from(Postings::Table, Postings::JournalId)
                            .to(Journals::Table, Journals::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_postings_account_id")
                            .from(Postings::Table, Postings::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postings_account_id_id")
                    .table(Postings::Table)
                    .col(Postings::AccountId)
                    .col(Postings::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postings_journal_id")
                    .table(Postings::Table)
                    .col(Postings::JournalId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Postings::Table.into_iden(),
            Journals::Table.into_iden(),
            Accounts::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
