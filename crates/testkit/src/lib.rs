//! The integration-test harness: [`TestServer`] boots the real `wekeza` server in-process on
//! `127.0.0.1:0` with its own fresh database (SQLite, or PostgreSQL when
//! `WEKEZA_TEST_DATABASE_URL` is set), the seeded sandbox and a fixed clock, and hands out real
//! clients: a tonic [`Channel`] and a reqwest client.
//!
//! The server verifies real access tokens (the identity service's [`TokenVerifier`]): tests get
//! them from `/oauth2/token` like any client. In front of it the harness puts [`TestTokens`]: a
//! test registers a [`Principal`] and gets an opaque `test_…` bearer token for it — a shortcut
//! for tests about what a customer's token may read, not about how it is obtained (the
//! authorization-code flow itself is tested with real tokens only: `identity_flow`). Every other
//! credential goes to the real verifier, and everything after the seam — policy, services,
//! storage — is the production code path.
//!
//! Test-only code: panicking on a broken harness is the right failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use wekeza_domain::{
    AccountId, Clock, Consent, ConsentGrant, ConsentId, ManualClock, Permission, Principal, Reason,
    Scope,
};
use wekeza_gateway::authn::{Authenticate, Credentials};
use wekeza_identity::TokenVerifier;
use wekeza_ledger::{AccountQuery, CoreBanking, Customer};
use wekeza_rpc::ApiError;
use wekeza_sandbox_bank::SandboxLedger;
use wekeza_server::{Authenticator, Config, Options, Running};
use wekeza_store::TransactionTrait;
use wekeza_store::apps::{App, NewApp};
use wekeza_store::testing::TestDatabase;

/// The instant every test server's clock starts at; the sandbox is seeded up to this day.
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap()
}

/// The start of every [`TestTokens`] token.
const TEST_TOKEN_PREFIX: &str = "test_";

/// Bearer tokens registered by tests, each standing for one principal.
#[derive(Debug, Default)]
pub struct TestTokens {
    principals: Mutex<HashMap<String, Principal>>,
}

impl TestTokens {
    /// Registers `principal` and returns a fresh token for it.
    pub fn issue(&self, principal: Principal) -> String {
        let token = format!("{TEST_TOKEN_PREFIX}{}", ulid::Ulid::new());
        self.principals
            .lock()
            .unwrap()
            .insert(token.clone(), principal);
        token
    }
}

/// [`TestTokens`] for `Bearer test_…` tokens, the real verifier for every other request.
#[derive(Debug)]
struct TestAuthenticator {
    tokens: Arc<TestTokens>,
    verifier: TokenVerifier,
}

#[async_trait]
impl Authenticate for TestAuthenticator {
    async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<Principal>, ApiError> {
        let test_token = credentials
            .headers
            .get("authorization")
            .and_then(|header| header.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .filter(|token| token.starts_with(TEST_TOKEN_PREFIX));
        let Some(token) = test_token else {
            return self.verifier.authenticate(credentials).await;
        };
        self.tokens
            .principals
            .lock()
            .unwrap()
            .get(token)
            .cloned()
            .map(Some)
            .ok_or_else(|| ApiError::new(Reason::InvalidToken, "unknown token"))
    }
}

/// A running server with its own database, and clients for it.
pub struct TestServer {
    /// `http://127.0.0.1:<port>` of the public listener.
    pub base_url: String,
    /// `http://127.0.0.1:<port>` of the admin listener.
    pub admin_url: String,
    /// An HTTP client (HTTP/1.1 and HTTP/2).
    pub http: reqwest::Client,
    /// The clock of the server, which tests may move.
    pub clock: ManualClock,
    /// The server's database.
    pub database: TestDatabase,
    channel: Channel,
    tokens: Arc<TestTokens>,
    ledger: SandboxLedger,
    stop: Option<oneshot::Sender<()>>,
    running: Option<Running>,
}

impl TestServer {
    /// Boots a sandbox server on a fresh database.
    pub async fn start() -> Self {
        Self::start_on(TestDatabase::new().await).await
    }

    /// Boots a sandbox server on `database`.
    pub async fn start_on(database: TestDatabase) -> Self {
        Self::boot(database, None, None).await
    }

    /// Boots a sandbox server on `database`, configured by `overrides` (the text of a
    /// `wekeza.toml`) on top of the defaults — e.g. `[fraud]` thresholds.
    pub async fn start_with(database: TestDatabase, overrides: &str) -> Self {
        Self::boot(database, Some(overrides), None).await
    }

    /// As [`Self::start_with`], serving on `public` — bound beforehand, when its address must
    /// be known first (e.g. registered as a redirect URI elsewhere).
    pub async fn start_listening(
        database: TestDatabase,
        overrides: &str,
        public: tokio::net::TcpListener,
    ) -> Self {
        Self::boot(database, Some(overrides), Some(public)).await
    }

    async fn boot(
        database: TestDatabase,
        overrides: Option<&str>,
        public: Option<tokio::net::TcpListener>,
    ) -> Self {
        let env: HashMap<String, String> =
            HashMap::from([("WEKEZA_DATABASE_URL".to_owned(), database.url().to_owned())]);
        let config = Config::from_layers(overrides, &env).expect("test configuration");
        let public = match public {
            Some(public) => public,
            None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let clock = ManualClock::new(test_now());
        let tokens = Arc::new(TestTokens::default());
        let registry = tokens.clone();
        let options = Options {
            authenticator: Authenticator::Wrapped(Arc::new(move |verifier| {
                Arc::new(TestAuthenticator {
                    tokens: registry.clone(),
                    verifier,
                })
            })),
            clock: Arc::new(clock.clone()),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let running = wekeza_server::serve(config, public, admin, options, async move {
            let _ = stopped.await;
        })
        .await
        .expect("server starts");
        let base_url = format!("http://{}", running.public_addr);
        let channel = Channel::from_shared(base_url.clone())
            .unwrap()
            .connect()
            .await
            .expect("gRPC channel connects");
        let ledger = SandboxLedger::new(database.conn().clone(), Arc::new(clock.clone()));
        Self {
            admin_url: format!("http://{}", running.admin_addr),
            base_url,
            http: reqwest::Client::new(),
            clock,
            database,
            channel,
            tokens,
            ledger,
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// The platform's event bus: subscribe to see the events the server publishes.
    pub fn bus(&self) -> Arc<dyn wekeza_events::EventBus> {
        self.running
            .as_ref()
            .map(|running| running.bus.clone())
            .expect("the server is running")
    }

    /// A gRPC channel to the public listener.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The sandbox core ledger behind the server (same database), for assertions.
    pub fn ledger(&self) -> &SandboxLedger {
        &self.ledger
    }

    /// A bearer token standing for `principal`.
    pub fn token_for(&self, principal: Principal) -> String {
        self.tokens.issue(principal)
    }

    /// A seeded test customer by username.
    pub async fn customer(&self, username: &str) -> Customer {
        self.ledger
            .customer_by_username(username)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no seeded customer {username}"))
    }

    /// All of a customer's account ids, oldest first.
    pub async fn account_ids(&self, customer: &Customer) -> Vec<AccountId> {
        let query = AccountQuery {
            only: None,
            after_id: None,
            limit: 1000,
        };
        self.ledger
            .accounts(&customer.id, &query)
            .await
            .unwrap()
            .into_iter()
            .map(|account| account.id)
            .collect()
    }

    /// Registers a sandbox app named `name` that may request `scopes`.
    pub async fn create_app(&self, name: &str, scopes: &[Scope]) -> App {
        let new = NewApp {
            name: name.to_owned(),
            scopes: scopes.iter().copied().collect(),
            ..NewApp::default()
        };
        wekeza_store::apps::create(
            self.database.conn(),
            new,
            self.clock.now(),
            &mut wekeza_store::secret::os_rng(),
        )
        .await
        .unwrap()
        .app
    }

    /// A principal for a new sandbox app acting for itself (client credentials) with `scopes`.
    pub async fn app_principal(&self, scopes: &[Scope]) -> Principal {
        let app = self.create_app("Test App", scopes).await;
        Principal {
            app_id: app.id,
            scopes: scopes.iter().copied().collect(),
            customer_id: None,
            consent: None,
            step_up_at: None,
        }
    }

    /// Authorises the consent for `username` and `accounts` as the authorization flow does:
    /// the domain transition, written with its event in one transaction.
    pub async fn authorise_consent(
        &self,
        consent_id: &ConsentId,
        username: &str,
        accounts: &[AccountId],
    ) -> Consent {
        let customer = self.customer(username).await;
        let db = self.database.conn();
        // Read before the transaction, which then starts with its (conditional) write: on
        // SQLite a transaction that read first cannot take the write lock once the server has
        // written since (SQLITE_BUSY_SNAPSHOT), and the server writes all the time (outbox
        // relay, settlement).
        let consent = wekeza_store::consents::find(db, consent_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no consent {consent_id}"));
        let app = wekeza_store::apps::find(db, &consent.app_id)
            .await
            .unwrap()
            .unwrap();
        let txn = db.begin().await.unwrap();
        let now = self.clock.now();
        let authorised = consent
            .clone()
            .authorise(customer.id, accounts.iter().cloned().collect(), now)
            .unwrap();
        let write = wekeza_events::record::consent_transition(
            &txn,
            &consent,
            &authorised,
            &app.client_id,
            now,
        )
        .await
        .unwrap();
        assert_eq!(write, wekeza_events::record::StatusWrite::Applied);
        txn.commit().await.unwrap();
        authorised
    }

    /// A principal for a new app acting for `username` under a consent over `accounts` (all the
    /// customer's when `None`) with `permissions` and `scopes`.
    pub async fn customer_principal(
        &self,
        username: &str,
        accounts: Option<Vec<AccountId>>,
        permissions: &[Permission],
        scopes: &[Scope],
    ) -> Principal {
        let customer = self.customer(username).await;
        let account_ids = match accounts {
            Some(ids) => ids,
            None => self.account_ids(&customer).await,
        };
        Principal {
            app_id: self.create_app("Test App", scopes).await.id,
            scopes: scopes.iter().copied().collect(),
            customer_id: Some(customer.id),
            consent: Some(ConsentGrant {
                consent_id: ConsentId::new_random(test_now()),
                account_ids: account_ids.into_iter().collect::<BTreeSet<_>>(),
                permissions: permissions.iter().copied().collect(),
            }),
            step_up_at: None,
        }
    }

    /// A token for `username` with every AIS permission over all their accounts.
    pub async fn full_access_token(&self, username: &str) -> String {
        let principal = self
            .customer_principal(
                username,
                None,
                &Permission::ALL,
                &[Scope::AccountsRead, Scope::CustomersProfileRead],
            )
            .await;
        self.token_for(principal)
    }

    /// Wraps `message` in a tonic request carrying `token`.
    pub fn request<T>(&self, token: &str, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    /// Stops the server gracefully, waits until it has shut down, and hands back its database
    /// for assertions on what the shutdown left there.
    pub async fn stop_keeping_database(mut self) -> TestDatabase {
        self.shutdown().await;
        self.database
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.task.await.unwrap().unwrap();
        }
    }
}
