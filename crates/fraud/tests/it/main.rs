//! The fraud crate's integration tests, one binary: the public API end to end, and the
//! external path against a real tonic `RiskAssessmentService` on `127.0.0.1:0`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
#![allow(
    clippy::inconsistent_digit_grouping,
    reason = "amounts in minor units read as shillings_cents: 1_000_00 is KES 1,000.00"
)]

mod external;
mod rules;
mod support;
