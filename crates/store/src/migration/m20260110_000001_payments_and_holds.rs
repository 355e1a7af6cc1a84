//! Payments, the funds holds that reserve their amounts until settlement, and an external
//! reference on journals so that a business event (a payment's settlement) is posted at most
//! once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, string_null, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    AppId,
    ConsentId,
    CustomerId,
    DebtorAccountId,
    AmountMinor,
    Currency,
    CreditorName,
    CreditorAccount,
    Reference,
    Status,
    StatusReason,
    CreatedAt,
    StatusUpdatedAt,
}

#[derive(DeriveIden)]
enum Holds {
    Table,
    Reference,
    AccountId,
    AmountMinor,
    Currency,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Journals {
    Table,
    ExternalReference,
}

#[derive(DeriveIden)]
enum Apps {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Payments are financial records: nothing they refer to may be deleted under them.
        let restrict = |name: &str, column: Payments, table: DynIden, id: DynIden| {
            ForeignKey::create()
                .name(name)
                .from(Payments::Table, column)
                .to(table, id)
                .on_delete(ForeignKeyAction::Restrict)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(string(Payments::Id).primary_key())
                    .col(string(Payments::AppId))
                    // Unique: a consent is consumed by one payment, whatever races.
                    .col(string(Payments::ConsentId).unique_key())
                    .col(string(Payments::CustomerId))
                    .col(string(Payments::DebtorAccountId))
                    .col(big_integer(Payments::AmountMinor))
                    .col(string(Payments::Currency))
                    .col(string(Payments::CreditorName))
                    .col(string(Payments::CreditorAccount))
                    .col(string(Payments::Reference))
                    .col(string(Payments::Status))
                    .col(string_null(Payments::StatusReason))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::StatusUpdatedAt))
                    .foreign_key(&mut restrict(
                        "fk_payments_app_id",
                        Payments::AppId,
                        Apps::Table.into_iden(),
                        Apps::Id.into_iden(),
                    ))
                    .foreign_key(&mut restrict(
                        "fk_payments_consent_id",
                        Payments::ConsentId,
                        Consents::Table.into_iden(),
                        Consents::Id.into_iden(),
                    ))
                    .foreign_key(&mut restrict(
                        "fk_payments_customer_id",
                        Payments::CustomerId,
                        Customers::Table.into_iden(),
                        Customers::Id.into_iden(),
                    ))
                    .foreign_key(&mut restrict(
                        "fk_payments_debtor_account_id",
                        Payments::DebtorAccountId,
                        Accounts::Table.into_iden(),
                        Accounts::Id.into_iden(),
                    ))
                    .to_owned(),
            )
            .await?;
        // The settlement worker's query: unfinished payments, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_payments_status_id")
                    .table(Payments::Table)
                    .col(Payments::Status)
                    .col(Payments::Id)
                    .to_owned(),
            )
            .await?;
        // The fraud history: a customer's recent payments and the creditors paid.
        manager
            .create_index(
                Index::create()
                    .name("idx_payments_customer_id_created_at")
                    .table(Payments::Table)
                    .col(Payments::CustomerId)
                    .col(Payments::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_payments_customer_id_creditor_account")
                    .table(Payments::Table)
                    .col(Payments::CustomerId)
                    .col(Payments::CreditorAccount)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Holds::Table)
                    .col(string(Holds::Reference).primary_key())
                    .col(string(Holds::AccountId))
                    .col(big_integer(Holds::AmountMinor))
                    .col(string(Holds::Currency))
                    .col(string(Holds::Status))
                    .col(timestamp_with_time_zone(Holds::CreatedAt))
                    .col(timestamp_with_time_zone(Holds::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_holds_account_id")
                            .from(Holds::Table, Holds::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Journals::Table)
                    .add_column(string_null(Journals::ExternalReference))
                    .to_owned(),
            )
            .await?;
        // At most one journal per business event: a settlement re-run after a crash finds the
        // journal it posted instead of posting another. NULLs (seeded journals) do not clash.
        manager
            .create_index(
                Index::create()
                    .name("idx_journals_external_reference")
                    .table(Journals::Table)
                    .col(Journals::ExternalReference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_journals_external_reference")
                    .table(Journals::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Journals::Table)
                    .drop_column(Journals::ExternalReference)
                    .to_owned(),
            )
            .await?;
        for table in [Holds::Table.into_iden(), Payments::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
