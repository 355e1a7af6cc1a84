//! The store's integration tests: one binary, each storage test on SQLite and, when
//! `WEKEZA_TEST_DATABASE_URL` is set, on PostgreSQL too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod apps;
mod audit;
mod connect;
mod consents;
mod deliveries;
mod migrations;
mod outbox;
mod rate_limits;
mod second_factor;
mod usage;
mod webhooks;
