//! `customers`: the people and businesses the bank holds accounts for, with their sign-in
//! credentials (the identity service reads those; the ledger never does).

use sea_orm::entity::prelude::*;

use super::enums::CustomerKind;

/// One customer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// `cus_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Sign-in name, unique.
    #[sea_orm(unique)]
    pub username: String,
    /// argon2id PHC string (`$argon2id$v=19$…`); never the password.
    pub password_hash: String,
    /// Full name (or the business's registered name).
    pub full_name: String,
    /// Email address.
    pub email: String,
    /// Mobile number, E.164.
    pub phone_number: String,
    /// Street and number.
    pub address_line: String,
    /// Town or city.
    pub town_name: String,
    /// Postal code.
    pub post_code: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Person or business.
    pub kind: CustomerKind,
    /// A short description of the customer's profile, for sandbox test users
    /// (e.g. `salaried`); empty for real customers.
    pub persona: String,
    /// The TOTP (RFC 6238) shared secret, base32 without padding, for strong customer
    /// authentication.
    pub totp_secret: String,
    /// When the customer was created.
    pub created_at: DateTimeUtc,
}

/// `customers` has no relations the code navigates; the foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
