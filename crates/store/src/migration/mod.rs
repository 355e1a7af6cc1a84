//! The schema history, applied in order by [`crate::migrate`]. Applied migrations are never
//! edited: a change to the schema is a new migration at the end of [`Migrator`]'s list.
//!
//! Portable by construction, so one history serves SQLite and PostgreSQL: tables and indexes are
//! built with sea-query's schema builder (no raw SQL), foreign keys are declared inside
//! `CREATE TABLE` (SQLite cannot add them later), one change per `ALTER`, enums are strings,
//! money is BIGINT minor units and times are `TIMESTAMP WITH TIME ZONE`. Each migration runs in
//! a transaction on both backends.

use sea_orm_migration::prelude::*;

mod m20260101_000001_customers_and_ledger;
mod m20260101_000002_apps;
mod m20260105_000001_identity;
mod m20260106_000001_consents_idempotency_outbox;
mod m20260107_000001_authorization_grants;
mod m20260110_000001_payments_and_holds;
mod m20260112_000001_backchannel_requests;
mod m20260114_000001_consent_expiry_index;
mod m20260120_000001_client_registration;
mod m20260121_000001_sign_in_requests;
mod m20260122_000001_app_grant_types;
mod m20260201_000001_webhook_endpoints;
mod m20260210_000001_second_factor_steps;
mod m20260210_000002_refresh_token_binding;
mod m20260301_000001_webhook_deliveries;
mod m20260320_000001_drop_sign_in_failures;
mod m20261203_000001_plans_and_key_use;
mod m20261203_000002_usage_and_billing;
mod m20261203_000003_audit_trail;
mod m20261203_000004_rate_limit_buckets;

/// The platform's migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_customers_and_ledger::Migration),
            Box::new(m20260101_000002_apps::Migration),
            Box::new(m20260105_000001_identity::Migration),
            Box::new(m20260106_000001_consents_idempotency_outbox::Migration),
            Box::new(m20260107_000001_authorization_grants::Migration),
            Box::new(m20260110_000001_payments_and_holds::Migration),
            Box::new(m20260112_000001_backchannel_requests::Migration),
            Box::new(m20260114_000001_consent_expiry_index::Migration),
            Box::new(m20260120_000001_client_registration::Migration),
            Box::new(m20260121_000001_sign_in_requests::Migration),
            Box::new(m20260122_000001_app_grant_types::Migration),
            Box::new(m20260201_000001_webhook_endpoints::Migration),
            Box::new(m20260210_000001_second_factor_steps::Migration),
            Box::new(m20260210_000002_refresh_token_binding::Migration),
            Box::new(m20260301_000001_webhook_deliveries::Migration),
            Box::new(m20260320_000001_drop_sign_in_failures::Migration),
            Box::new(m20261203_000001_plans_and_key_use::Migration),
            Box::new(m20261203_000002_usage_and_billing::Migration),
            Box::new(m20261203_000003_audit_trail::Migration),
            Box::new(m20261203_000004_rate_limit_buckets::Migration),
        ]
    }
}
