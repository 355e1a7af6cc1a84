//! The `wekeza` server: configuration, wiring and the bootable core shared by `main` and tests.
//!
//! Owns the composition of the platform — which services run, the tower stack in front of them,
//! the listeners — and nothing of the business itself: that lives in the service crates.
//! [`serve`] takes already-bound listeners and a shutdown future, so tests run many servers side
//! by side on ephemeral ports, each with its own database.
//!
//! # Layout
//! - [`commerce`] — the operators' commands over plans and billing (`wekeza plans`,
//!   `wekeza apps plan`, `wekeza billing export`).
//! - [`config`] — layered configuration (embedded defaults, file, `WEKEZA_*`).
//! - [`app`] — the public router (gRPC, gRPC-web, REST, the OAuth2 endpoints) and the admin
//!   router.
//! - [`metrics`] — the Prometheus exporter behind the admin listener's `/metrics`.
//! - [`rest`] — the REST transcoder, the OpenAPI document and the `/docs` console.
//! - [`sandbox_authority`] — the sandbox service's port to identity, implemented over it.
//! - [`telemetry`] — logging.

pub mod app;
pub mod commerce;
pub mod config;
pub mod metrics;
pub mod rest;
pub mod sandbox_authority;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wekeza_domain::{Clock, SystemClock};
use wekeza_events::{EventBus, InProcessBus, JetStreamBus};
use wekeza_gateway::authn::Authenticate;
use wekeza_identity::{Identity, TokenVerifier};
use wekeza_sandbox_bank::seed;

pub use config::{Config, DispatcherMode};

/// How the gateway authenticates requests.
#[derive(Clone, Default)]
pub enum Authenticator {
    /// The identity service's verifier of the platform's own access tokens (production).
    #[default]
    Tokens,
    /// Another authenticator in front of the token verifier, built from it once the platform is
    /// up so that it can delegate to it (tests add their own tokens this way).
    Wrapped(Arc<dyn Fn(TokenVerifier) -> Arc<dyn Authenticate> + Send + Sync>),
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tokens => f.write_str("Authenticator::Tokens"),
            Self::Wrapped(_) => f.write_str("Authenticator::Wrapped(..)"),
        }
    }
}

/// What the embedding program may swap: the credential verifier and the clock.
#[derive(Debug, Clone)]
pub struct Options {
    /// Verifies credentials on every request.
    pub authenticator: Authenticator,
    /// The time source of every service.
    pub clock: Arc<dyn Clock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            authenticator: Authenticator::Tokens,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A server that is up: where it listens, and the task that ends when it has shut down.
#[derive(Debug)]
pub struct Running {
    /// The public listener's address.
    pub public_addr: SocketAddr,
    /// The admin listener's address.
    pub admin_addr: SocketAddr,
    /// Which event bus the outbox relay publishes to, for the start-up log (`in-process` or
    /// `jetstream`).
    pub event_bus: &'static str,
    /// That bus: consumers (the webhook dispatcher, tests) subscribe to it.
    pub bus: Arc<dyn EventBus>,
    /// Resolves when both listeners have drained after shutdown, and then the background
    /// workers (settlement, consent expiry, outbox relay) have stopped.
    pub task: JoinHandle<anyhow::Result<()>>,
}

/// Opens the database (migrating it, seeding an empty sandbox), builds every service and serves
/// them on `public` and `admin` until `shutdown` resolves; in-flight requests then complete.
pub async fn serve(
    config: Config,
    public: TcpListener,
    admin: TcpListener,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let db = wekeza_store::connect_pooled(&config.database_url, config.database_pool_size).await?;
    wekeza_store::migrate(&db).await?;
    if config.env.is_sandbox() && config.seed_on_empty && seed::is_empty(&db).await? {
        let anchor = seed::anchor_for(options.clock.now());
        seed::seed(&db, anchor).await?;
        tracing::info!("seeded the sandbox test customers");
    }
    let public_addr = public.local_addr()?;
    let issuer = config.issuer_for(public_addr)?;
    // The audit trail first: identity records the tokens it issues in it.
    let (audit, audit_writer) = wekeza_gateway::audit::trail(db.clone(), options.clock.clone());
    let settings = wekeza_identity::Settings {
        issuer,
        key_encryption_key: config.key_encryption_key()?,
        upstream: config.upstream()?,
        audit: Arc::new(audit.clone()),
    };
    let identity = Identity::start(db.clone(), options.clock.clone(), settings).await?;
    let platform = app::Platform::build(&config, db, identity, audit, options).await?;
    let admin_addr = admin.local_addr()?;
    let token = CancellationToken::new();
    let public_router = platform.public_router().await?;
    let admin_router = platform.admin_router();
    // Workers stop after the listeners have drained, so the requests still in flight at
    // shutdown get their payments settled and events relayed if time allows; what is left is
    // picked up at the next start.
    let workers_stop = CancellationToken::new();
    // The platform's one bus: the relay publishes every committed event to it, and it is handed
    // to whoever consumes them. NATS JetStream when configured, else in-process.
    let (bus, event_bus): (Arc<dyn EventBus>, &'static str) = match config.jetstream() {
        Some(settings) => (
            Arc::new(JetStreamBus::connect(settings).await?),
            "jetstream",
        ),
        None => (Arc::new(InProcessBus::default()), "in-process"),
    };
    // The API's workers, and the webhook dispatcher, as `[webhooks] dispatcher` says.
    let mode = config.webhooks.dispatcher;
    // The audit writer in every process: it also takes the consent transitions from the
    // outbox. It stops with the workers, after the listeners drained, so the calls answered
    // last are written too.
    let mut workers = vec![tokio::spawn(audit_writer.run(
        workers_stop.clone(),
        std::time::Duration::from_millis(config.audit_flush_interval_ms),
    ))];
    if mode != DispatcherMode::Alone {
        workers.extend(platform.start_workers(bus.clone(), &workers_stop));
    }
    if mode != DispatcherMode::Off {
        workers.extend(platform.start_dispatcher(
            bus.clone(),
            config.dispatch_settings()?,
            &workers_stop,
        )?);
    }
    // A dispatcher running alone answers no API calls: its public listener is closed.
    let public = (mode != DispatcherMode::Alone).then_some(public);

    let stop = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    let public_stop = token.clone();
    let admin_stop = token.clone();
    // gRPC and REST answers are small writes: without TCP_NODELAY, Nagle's algorithm holds
    // them back until the peer's delayed ACK (~40 ms per call on HTTP/2).
    let public = public.map(|public| {
        public.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        })
    });
    let task = tokio::spawn(async move {
        let public = async move {
            match public {
                Some(public) => {
                    // The peer's address reaches the handlers: the identity endpoints throttle
                    // failed authentications by source.
                    let public_router =
                        public_router.into_make_service_with_connect_info::<SocketAddr>();
                    axum::serve(public, public_router)
                        .with_graceful_shutdown(async move { public_stop.cancelled().await })
                        .await
                }
                None => Ok(()),
            }
        };
        let admin = axum::serve(admin, admin_router)
            .with_graceful_shutdown(async move { admin_stop.cancelled().await });
        let (public, admin) = tokio::join!(public, admin);
        workers_stop.cancel();
        for worker in workers {
            worker.await?;
        }
        public?;
        admin?;
        Ok(())
    });
    Ok(Running {
        public_addr,
        admin_addr,
        event_bus,
        bus,
        task,
    })
}
