//! `second_factor_steps`: per customer, the latest RFC 6238 time step whose one-time code
//! completed a sign-in, so that a code is accepted once (RFC 6238 §5.2) — not again in another
//! session, nor an older step's once a later one was. The row goes with its customer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SecondFactorSteps {
    Table,
    CustomerId,
    LastStep,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecondFactorSteps::Table)
                    .col(string(SecondFactorSteps::CustomerId).primary_key())
                    .col(big_integer(SecondFactorSteps::LastStep))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_second_factor_steps_customer_id")
                            .from(SecondFactorSteps::Table, SecondFactorSteps::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecondFactorSteps::Table).to_owned())
            .await
    }
}
