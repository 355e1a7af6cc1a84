//! The sea-orm entities: one module per table, named after it, plus the string-backed enums.
//!
//! Ids are stored as their text (`acc_…`); the repositories take typed ids and the crates above
//! parse what they read. Money is `i64` minor units beside a currency code; times are UTC.

pub mod accounts;
pub mod api_keys;
pub mod app_plan_changes;
pub mod apps;
pub mod audit_chain;
pub mod audit_records;
pub mod consents;
pub mod customers;
pub mod daily_usage;
pub mod enums;
pub mod holds;
pub mod idempotency_keys;
pub mod journals;
pub mod outbox_events;
pub mod payments;
pub mod plans;
pub mod postings;
pub mod rate_limit_buckets;
pub mod usage_counters;
pub mod webhook_attempts;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
