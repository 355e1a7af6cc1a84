//! The routers. The public router serves gRPC (h2c), gRPC-web, REST (transcoded from the
//! contracts), the OAuth2 endpoints and later the HTML routes on one port; the admin router
//! serves health.
//!
//! The public stack, outermost first (each layer's reason is beside it in
//! [`Platform::public_router`]): request id → `WWW-Authenticate` challenges → authentication →
//! call record (metering) → calling app → { gRPC-web → access policy → daily quota → services |
//! REST → transcoder → access policy → daily quota → services | OAuth2 endpoints }.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tower::ServiceBuilder;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use wekeza_ais::{AccountInformation, Customers};
use wekeza_consent::{Consents, ExpirySweeper};
use wekeza_domain::Clock;
use wekeza_events::{EventBus, OutboxPruner, OutboxRelay};
use wekeza_gateway::audit::AuditTrail;
use wekeza_gateway::authn::{self, Authenticate};
use wekeza_gateway::caller::{self, Callers, Directory};
use wekeza_gateway::limits::{self, ClusterLimiter, Limiter, LocalLimiter, Rate, RateLimits};
use wekeza_gateway::metering::{Flusher, Meter};
use wekeza_gateway::policy::{self, AccessTable};
use wekeza_gateway::quota::{self, Quotas};
use wekeza_gateway::record::{self, Recorders};
use wekeza_gateway::request_id;
use wekeza_gateway::shed::{self, InFlight};
use wekeza_identity::Identity;
use wekeza_ledger::CoreBanking;
use wekeza_partner::Partner;
use wekeza_pis::{Payments, Settlement};
use wekeza_proto::FILE_DESCRIPTOR_SET;
use wekeza_proto::v1::account_information_service_server::AccountInformationServiceServer;
use wekeza_proto::v1::consent_service_server::ConsentServiceServer;
use wekeza_proto::v1::customer_service_server::CustomerServiceServer;
use wekeza_proto::v1::partner_service_server::PartnerServiceServer;
use wekeza_proto::v1::payment_service_server::PaymentServiceServer;
use wekeza_proto::v1::sandbox_service_server::SandboxServiceServer;
use wekeza_proto::v1::webhook_service_server::WebhookServiceServer;
use wekeza_sandbox::Sandbox;
use wekeza_sandbox_bank::SandboxLedger;
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::AppEnvironment;
use wekeza_store::sealing::KeyEncryptionKey;
use wekeza_webhooks::{DispatchSettings, Dispatcher, Webhooks};

use crate::config::{Config, RateLimitPolicy};
use crate::rest;
use crate::sandbox_authority::IdentityAuthority;
use crate::{Authenticator, Options};

/// Every long-lived part of a running platform.
#[derive(Debug, Clone)]
pub struct Platform {
    db: DatabaseConnection,
    core: Arc<dyn CoreBanking>,
    access: Arc<AccessTable>,
    /// The budget of requests in flight on the public listener.
    in_flight: InFlight,
    consents: Consents,
    payments: Payments,
    webhooks: Webhooks,
    /// Rings the webhook dispatcher's sender when the service queued a delivery.
    webhook_wake: Arc<Notify>,
    /// Opens the webhook signing secrets the dispatcher signs with.
    sealing: Option<KeyEncryptionKey>,
    /// Moves payments on in the background; started by [`Platform::start_workers`].
    settlement: Settlement,
    identity: Identity,
    authenticator: Arc<dyn Authenticate>,
    /// The observers of every finished call (metering, audit).
    recorders: Recorders,
    /// Who calls: the app of the token or API key, with its plan.
    callers: Callers,
    /// Apps' plans, kept a few seconds; told of plan changes.
    directory: Directory,
    /// Whether limits, quotas, metering and audit apply (`[gateway] enforce`).
    enforce: bool,
    /// The rate limits (off when the gateway's policies are).
    rate_limits: RateLimits,
    /// The in-memory buckets of the `local` policy, for their housekeeping.
    local_limiter: Option<LocalLimiter>,
    /// Counts every call of an app; written by the metering flusher.
    meter: Meter,
    /// The apps' daily quotas, written and synced by the metering flusher.
    quotas: Quotas,
    /// How often the metering flusher runs.
    metering_flush: Duration,
    clock: Arc<dyn Clock>,
}

/// The gRPC services we serve, by full name (health reports each as SERVING).
pub const SERVED: [&str; 7] = [
    "wekeza.openbanking.v1.AccountInformationService",
    "wekeza.openbanking.v1.CustomerService",
    "wekeza.openbanking.v1.ConsentService",
    "wekeza.openbanking.v1.PaymentService",
    "wekeza.openbanking.v1.SandboxService",
    "wekeza.openbanking.v1.WebhookService",
    "wekeza.openbanking.v1.PartnerService",
];

/// How often the settlement worker looks for unfinished payments when no new payment woke it
/// (payments a crash or another instance left behind).
const SETTLEMENT_IDLE: Duration = Duration::from_secs(1);

/// How often the consent expiry sweep writes down consents whose expiration time passed (use
/// is refused from that instant on regardless; the sweep only records it and emits the event).
const EXPIRY_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// How often the outbox relay polls an empty outbox: the most an event waits for the bus (an
/// indexed query that finds nothing costs little).
const RELAY_IDLE: Duration = Duration::from_millis(25);

/// How often published outbox events past their retention are deleted.
const OUTBOX_PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The OpenAPI document of the REST API an all-in-one server runs (what `/openapi.json` answers
/// and `sdk/openapi/openapi.json` holds).
pub fn openapi_document() -> anyhow::Result<serde_json::Value> {
    let access = Arc::new(AccessTable::from_descriptors(FILE_DESCRIPTOR_SET, true)?);
    Ok(rest::openapi(&rest::transcoder(&SERVED)?, access))
}

/// The standard health service.
const HEALTH: &str = "grpc.health.v1.Health";

impl Platform {
    /// Builds the services over `db`; calls and fraud decisions are recorded in `audit`.
    pub async fn build(
        config: &Config,
        db: DatabaseConnection,
        identity: Identity,
        audit: AuditTrail,
        options: Options,
    ) -> anyhow::Result<Self> {
        let core: Arc<dyn CoreBanking> =
            Arc::new(SandboxLedger::new(db.clone(), options.clock.clone()));
        let consents = Consents::new(db.clone(), core.clone(), options.clock.clone());
        let sandbox = config.fraud.sandbox;
        let settlement = Settlement::new(db.clone(), core.clone(), options.clock.clone(), sandbox);
        let payments = Payments::new(
            db.clone(),
            core.clone(),
            options.clock.clone(),
            wekeza_fraud::build_assessor(&config.fraud)?,
            sandbox,
            settlement.waker(),
            Arc::new(audit.clone()),
        );
        let webhook_wake = Arc::new(Notify::new());
        let sealing = config.key_encryption_key()?;
        let webhooks = Webhooks::new(
            db.clone(),
            options.clock.clone(),
            sealing.clone(),
            config.env.is_sandbox(),
            webhook_wake.clone(),
        );
        let access = Arc::new(AccessTable::from_descriptors(
            FILE_DESCRIPTOR_SET,
            config.env.is_sandbox(),
        )?);
        let authenticator: Arc<dyn Authenticate> = match options.authenticator {
            Authenticator::Tokens => Arc::new(identity.verifier()),
            Authenticator::Wrapped(wrap) => wrap(identity.verifier()),
        };
        let directory = Directory::new(db.clone());
        let environment = if config.env.is_sandbox() {
            AppEnvironment::Sandbox
        } else {
            AppEnvironment::Production
        };
        let callers = Callers::new(directory.clone(), environment, options.clock.clone());
        let gateway = &config.gateway;
        let local_limiter = (gateway.rate_limit_policy == RateLimitPolicy::Local)
            .then(|| LocalLimiter::new(options.clock.clone()));
        let limiter: Arc<dyn Limiter> = match &local_limiter {
            Some(local) => Arc::new(local.clone()),
            None => Arc::new(ClusterLimiter::new(db.clone(), options.clock.clone())),
        };
        let rate_limits = if gateway.enforce {
            RateLimits::new(
                limiter,
                Rate::new(
                    gateway.anonymous_requests_per_minute,
                    gateway.anonymous_burst,
                ),
            )
        } else {
            RateLimits::off()
        };
        let meter = Meter::new();
        let quotas = Quotas::load(
            db.clone(),
            options.clock.clone(),
            wekeza_partner::QUOTA_EXEMPT,
        )
        .await?;
        // Metering and the audit trail see every call.
        let observers: Vec<Arc<dyn record::CallObserver>> = if gateway.enforce {
            vec![Arc::new(meter.clone()), Arc::new(audit)]
        } else {
            Vec::new()
        };
        Ok(Self {
            meter,
            quotas,
            metering_flush: config.metering.flush_interval(),
            db,
            core,
            access,
            in_flight: InFlight::new(config.max_in_flight_requests),
            consents,
            payments,
            webhooks,
            webhook_wake,
            sealing,
            settlement,
            identity,
            authenticator,
            recorders: Recorders::new(observers, options.clock.clone()),
            callers,
            directory,
            enforce: gateway.enforce,
            rate_limits,
            local_limiter,
            clock: options.clock,
        })
    }

    /// Starts the background workers — payment settlement, the consent expiry sweep, the
    /// outbox relay onto `bus`, the outbox's retention and the metering flusher — each first
    /// finishing what an earlier run left (unsettled payments, consents that expired meanwhile,
    /// unpublished events, published events past their retention). The metering flusher
    /// writes once more when stopped, after the listeners have drained: the calls of a
    /// graceful shutdown are all counted.
    /// They stop when `stop` is cancelled; the handles end when they have.
    pub fn start_workers(
        &self,
        bus: Arc<dyn EventBus>,
        stop: &CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        let relay = OutboxRelay::new(self.db.clone(), bus, self.clock.clone(), RELAY_IDLE);
        let expiry = ExpirySweeper::new(self.db.clone(), self.clock.clone());
        let retention = OutboxPruner::new(self.db.clone(), self.clock.clone());
        let metering = Flusher::new(self.db.clone(), self.meter.clone(), self.quotas.clone());
        vec![
            tokio::spawn(metering.run(stop.clone(), self.metering_flush)),
            tokio::spawn(self.settlement.clone().run(stop.clone(), SETTLEMENT_IDLE)),
            tokio::spawn(expiry.run(stop.clone(), EXPIRY_SWEEP_EVERY)),
            tokio::spawn(relay.run(stop.clone())),
            tokio::spawn(retention.run(stop.clone(), OUTBOX_PRUNE_EVERY)),
            tokio::spawn(forget_full_buckets(
                self.local_limiter.clone(),
                self.db.clone(),
                self.clock.clone(),
                stop.clone(),
            )),
        ]
    }

    /// Starts the webhook dispatcher on `bus` (its fan-out and its sender); it stops when
    /// `stop` is cancelled.
    pub fn start_dispatcher(
        &self,
        bus: Arc<dyn EventBus>,
        settings: DispatchSettings,
        stop: &CancellationToken,
    ) -> anyhow::Result<Vec<JoinHandle<()>>> {
        let dispatcher = Dispatcher::new(
            self.db.clone(),
            bus,
            self.clock.clone(),
            self.sealing.clone(),
            settings,
            self.webhook_wake.clone(),
        )?;
        Ok(dispatcher.start(stop))
    }

    /// The gRPC router with every service, health and reflection, behind the access policy.
    /// This is what gRPC clients reach and what the REST transcoder calls.
    async fn grpc_router(&self) -> anyhow::Result<Router> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for service in SERVED {
            health
                .set_service_status(service, ServingStatus::Serving)
                .await;
        }
        health.set_service_status("", ServingStatus::Serving).await;
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;
        let routes = Routes::new(AccountInformationServiceServer::new(
            AccountInformation::new(self.core.clone()),
        ))
        .add_service(CustomerServiceServer::new(Customers::new(
            self.core.clone(),
        )))
        .add_service(ConsentServiceServer::new(self.consents.clone()))
        .add_service(PaymentServiceServer::new(self.payments.clone()))
        .add_service(WebhookServiceServer::new(self.webhooks.clone()))
        .add_service(PartnerServiceServer::new(Partner::new(
            self.db.clone(),
            self.clock.clone(),
            // A plan change counts from the app's next call: the gateway forgets the old plan.
            {
                let directory = self.directory.clone();
                Arc::new(move |app_id| directory.forget(app_id))
            },
        )))
        // Sandbox-only rpcs are refused by the access policy outside the sandbox.
        .add_service(SandboxServiceServer::new(Sandbox::new(
            self.db.clone(),
            self.core.clone(),
            Arc::new(IdentityAuthority(self.identity.clone())),
            self.clock.clone(),
        )))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
        let mut router = routes.prepare().into_axum_router();
        if self.enforce {
            // The daily quota inside the policy, on the gRPC router: it sees every call as its
            // rpc whatever the protocol (REST is transcoded into calls on this router), so
            // calls the policy refused use no quota and the billing rpcs stay open to an app
            // whose quota is used up (to upgrade). It reads the calling app the outer caller
            // layer found; its refusals reach the outer record layer, so they are metered.
            router = router.layer(from_fn_with_state(self.quotas.clone(), quota::layer));
        }
        // The policy sits on the gRPC router itself so that REST, which is transcoded into
        // calls on this router, is checked by exactly the same code.
        Ok(router.layer(from_fn_with_state(self.access.clone(), policy::layer)))
    }

    /// The public router: gRPC, gRPC-web, REST and the OAuth2 endpoints on one listener.
    pub async fn public_router(&self) -> anyhow::Result<Router> {
        let grpc = self.grpc_router().await?;
        let transcoder = rest::transcoder(&SERVED)?;
        let docs = rest::docs_router(&rest::openapi(&transcoder, self.access.clone()))?;
        // gRPC-web only on the gRPC routes: on the merged router it would answer every plain
        // HTTP/1.1 request (REST, HTML) with an empty 400.
        let grpc_web = grpc.clone().layer(tonic_web::GrpcWebLayer::new());
        Ok(Router::new()
            .merge(grpc_web)
            .merge(docs)
            // Discovery, JWKS, token, introspection, revocation: they authenticate clients
            // themselves, so the access policy (which guards rpcs) does not apply.
            .merge(self.identity.router(self.core.clone()))
            // Every other request is REST: transcoded into a call on the gRPC router (policy
            // included), or a problem+json 404/405.
            .fallback_service(transcoder.into_service(grpc))
            // The outer layers, outermost first.
            .layer(
                ServiceBuilder::new()
                    // Request ids outermost: every response, refusals included, carries them,
                    // and every log line of the request is in its span. A caller's unusable
                    // `x-request-id` goes first, so that the next layer sets a new one.
                    .map_request(request_id::drop_unusable_request_id)
                    .layer(SetRequestIdLayer::x_request_id(request_id::NewRequestId))
                    .layer(PropagateRequestIdLayer::x_request_id())
                    // The FAPI interaction id, and the span, once the request id is known.
                    .layer(from_fn(request_id::interaction))
                    // Load shedding before any work: a request beyond the budget costs no more
                    // than its refusal (no token check, no database), and carries its ids.
                    .layer(from_fn_with_state(self.in_flight.clone(), shed::layer))
                    // Outside authentication and policy, so it sees their final 401s and adds
                    // the Bearer/DPoP challenges HTTP clients expect.
                    .layer(from_fn(wekeza_identity::challenge::layer))
                    // Authentication records who is calling; it refuses nothing itself (the
                    // policy does).
                    .layer(from_fn_with_state(self.authenticator.clone(), authn::layer))
                    // The call's record, reported with its outcome to metering and the audit
                    // trail: outside the layers that refuse (calling app, limits, quotas), so
                    // their refusals are metered and audited too.
                    .layer(from_fn_with_state(self.recorders.clone(), record::layer))
                    // The app the call is counted against (its token's, or its API key's),
                    // for the limits, quotas and meters; bad API keys are refused here. (The
                    // daily quota itself is on the gRPC router, inside the policy: see
                    // `grpc_router`.)
                    .layer(from_fn_with_state(self.callers.clone(), caller::layer))
                    // Rate limits per app (per address for anonymous calls): after the app is
                    // known, before any service work, so a refused call costs almost nothing.
                    .layer(from_fn_with_state(self.rate_limits.clone(), limits::layer)),
            ))
    }

    /// The admin router: liveness, readiness and the Prometheus metrics.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready))
            .with_state(self.db.clone())
            .merge(
                Router::new()
                    .route("/metrics", get(crate::metrics::render))
                    .with_state(crate::metrics::handle()),
            )
    }
}

/// How often rate-limit buckets that are full again are forgotten (in memory, or in the
/// database with the `cluster` policy): they bound the state by the recent callers.
const FORGET_FULL_BUCKETS_EVERY: Duration = Duration::from_secs(60);

/// Forgets full rate-limit buckets every [`FORGET_FULL_BUCKETS_EVERY`] until `stop`.
async fn forget_full_buckets(
    local: Option<LocalLimiter>,
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(FORGET_FULL_BUCKETS_EVERY) => {}
        }
        match &local {
            Some(local) => local.forget_idle(),
            None => {
                if let Err(error) = wekeza_store::rate_limits::forget_full(&db, clock.now()).await {
                    tracing::warn!(%error, "full rate-limit buckets were not deleted");
                }
            }
        }
    }
}

/// Server reflection (grpcurl `list`/`describe`) over exactly the services this server runs.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    SERVED.into_iter().chain([HEALTH]).fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc error details, so grpcurl shows ErrorInfo reasons in clear.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET),
        |builder, service| builder.with_service_name(service),
    )
}

/// Ready when the database answers.
async fn ready(State(db): State<DatabaseConnection>) -> (StatusCode, &'static str) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
