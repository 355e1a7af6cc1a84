//! The events crate against real databases (SQLite, and PostgreSQL when configured) and the
//! in-process bus and (when configured) NATS JetStream: the outbox relay recovers, orders and publishes once; subscriptions share,
//! filter, acknowledge and redeliver; the writers record each change with its event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod bus;
mod buses;
mod catalogue;
mod outage;
mod record;
mod relay;
