//! Integration tests of the `wekeza` server: each test boots the real server on an ephemeral
//! port with its own database (see `wekeza-testkit`) and talks to it through real clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod access_matrix;
mod ais;
mod api_keys;
mod architecture;
mod attacks;
mod audit;
mod billing;
mod ciba;
mod cli;
mod consents;
mod database_faults;
mod disk_full;
mod federation;
mod hostile_text;
mod identity;
mod identity_browser;
mod identity_flow;
mod identity_registration;
mod metrics;
mod object_access;
mod oidc_client;
mod payment_faults;
mod payments;
mod payments_e2e;
mod process;
mod proxy;
mod rate_limits;
mod receiver;
mod rest;
mod sandbox;
mod security;
mod smoke;
mod support;
mod throttle;
mod webhook_delivery;
mod webhook_faults;
mod webhooks;
