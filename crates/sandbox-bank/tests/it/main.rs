//! The sandbox bank's integration tests: one binary, each test on SQLite and, when
//! `WEKEZA_TEST_DATABASE_URL` is set, on PostgreSQL too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
#![allow(
    clippy::inconsistent_digit_grouping,
    reason = "amounts in minor units read as shillings_cents: 1_234_56 is KES 1,234.56"
)]

mod holds;
mod listing;
mod posting;
mod seed;
mod support;
