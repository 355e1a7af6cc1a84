//! The server's configuration, one [`Config`] merged by figment from three layers: the embedded
//! `wekeza.default.toml` (the only place defaults are written), then `wekeza.toml` in the working
//! directory (or the file named by `WEKEZA_CONFIG`), then `WEKEZA_*` environment variables.
//! Tables merge key by key, so a file that sets one key of `[oidc_upstream]` keeps the defaults
//! of the others. The result is validated before anything binds.
//!
//! The environment is whatever `(name, value)` pairs the caller passes: the binary passes the
//! process environment, tests pass their own pairs and never mutate the process's.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../wekeza.default.toml");

/// The environment variables the configuration reads, each with the key it sets (dotted inside
/// a table).
const ENV_KEYS: [(&str, &str); 21] = [
    ("WEKEZA_LISTEN", "listen"),
    ("WEKEZA_ADMIN_LISTEN", "admin_listen"),
    ("WEKEZA_DATABASE_URL", "database_url"),
    ("WEKEZA_DATABASE_POOL_SIZE", "database_pool_size"),
    ("WEKEZA_ENV", "env"),
    ("WEKEZA_SEED_ON_EMPTY", "seed_on_empty"),
    ("WEKEZA_MAX_IN_FLIGHT_REQUESTS", "max_in_flight_requests"),
    ("WEKEZA_LOG_FORMAT", "log_format"),
    ("WEKEZA_AUDIT_FLUSH_INTERVAL_MS", "audit_flush_interval_ms"),
    ("WEKEZA_ISSUER", "issuer"),
    ("WEKEZA_KEY_ENCRYPTION_KEY", "key_encryption_key"),
    // The event bus; empty means in-process.
    ("WEKEZA_NATS_URL", "nats_url"),
    // Rate limits counted in this process (local) or shared through PostgreSQL (cluster).
    ("WEKEZA_RATE_LIMIT_POLICY", "gateway.rate_limit_policy"),
    // Where the webhook dispatcher runs: with-api, alone, off.
    ("WEKEZA_WEBHOOKS_DISPATCHER", "webhooks.dispatcher"),
    // The bank's fraud system; empty means none.
    ("WEKEZA_FRAUD_ADDR", "fraud.external.addr"),
    // How often metering and the daily quotas are written and synced.
    (
        "WEKEZA_METERING_FLUSH_INTERVAL_MS",
        "metering.flush_interval_ms",
    ),
    // Federated customer sign-in.
    ("WEKEZA_OIDC_UPSTREAM_ISSUER", "oidc_upstream.issuer"),
    ("WEKEZA_OIDC_UPSTREAM_CLIENT_ID", "oidc_upstream.client_id"),
    (
        "WEKEZA_OIDC_UPSTREAM_CLIENT_SECRET",
        "oidc_upstream.client_secret",
    ),
    ("WEKEZA_OIDC_UPSTREAM_CLAIM", "oidc_upstream.claim"),
    (
        "WEKEZA_OIDC_UPSTREAM_CUSTOMER_FIELD",
        "oidc_upstream.customer_field",
    ),
];

/// Names the file that replaces `wekeza.toml`.
const CONFIG_FILE_VAR: &str = "WEKEZA_CONFIG";

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file or the merged result does not parse into [`Config`].
    #[error("invalid configuration: {0}")]
    Parse(Box<figment::Error>),
    /// An environment variable holds a value of the wrong type.
    #[error("{key}: expected {expected}")]
    EnvType {
        /// The variable.
        key: String,
        /// The type it must hold.
        expected: &'static str,
    },
    /// A value is out of its allowed set.
    #[error("{0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        Self::Parse(Box::new(error))
    }
}

/// The deployment environment the platform runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine.
    Dev,
    /// Quality assurance.
    Qa,
    /// User acceptance testing.
    Uat,
    /// The public sandbox: seeded test customers, sandbox-only APIs.
    Sandbox,
    /// Production.
    Production,
}

impl Environment {
    /// Whether sandbox-only APIs answer.
    pub fn is_sandbox(self) -> bool {
        self == Self::Sandbox
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Dev => "dev",
            Self::Qa => "qa",
            Self::Uat => "uat",
            Self::Sandbox => "sandbox",
            Self::Production => "production",
        };
        f.write_str(name)
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Public listener address.
    pub listen: SocketAddr,
    /// Admin listener address.
    pub admin_listen: SocketAddr,
    /// Database URL (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// PostgreSQL connections the process holds at most (SQLite always uses one).
    pub database_pool_size: u32,
    /// Deployment environment.
    pub env: Environment,
    /// Seed the sandbox when the database holds no customers.
    pub seed_on_empty: bool,
    /// Calls served at once by the process (rpcs over gRPC, gRPC-web and REST, and the OAuth2
    /// endpoints); more are refused with 503 and `Retry-After` instead of queueing.
    pub max_in_flight_requests: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// How often the audit trail's writer appends what is queued (milliseconds): the most of
    /// the trail a crash loses.
    pub audit_flush_interval_ms: u64,
    /// The OAuth2 issuer and public base URL (`https://api.bank.example`); empty: derived from
    /// the public listener's address (`http://<listen>`).
    pub issuer: String,
    /// Seals the identity service's private signing keys and the webhook signing secrets at rest
    /// (AES-256-GCM): base64 of 32 random bytes. Empty: they are stored in the clear (refused in
    /// production).
    pub key_encryption_key: Redacted,
    /// The NATS server of the event bus; empty: the in-process bus.
    pub nats_url: Redacted,
    /// The JetStream layout when `nats_url` is set (`[nats]`).
    pub nats: Nats,
    /// Webhook delivery (`[webhooks]`).
    pub webhooks: WebhooksConfig,
    /// The gateway's policies: rate limits, quotas, metering, audit (`[gateway]`).
    pub gateway: GatewayConfig,
    /// Metering and the daily quotas (`[metering]`).
    pub metering: MeteringConfig,
    /// The fraud checks of payments (`[fraud]`). Its `sandbox` switch is not configurable: it
    /// follows [`Config::env`] (on exactly in the sandbox).
    pub fraud: wekeza_fraud::FraudConfig,
    /// The OpenID provider customers sign in at (`[oidc_upstream]`); none when its issuer is
    /// empty.
    pub oidc_upstream: OidcUpstream,
}

/// `[nats]`: the JetStream stream and consumers of the event bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nats {
    /// The stream's name.
    pub stream: String,
    /// The first tokens of every event subject.
    pub subject_root: String,
    /// How long the stream keeps events, in seconds.
    pub max_age_secs: u64,
    /// How long a republished event id is dropped as a duplicate, in seconds.
    pub duplicate_window_secs: u64,
    /// Copies of the stream in a cluster.
    pub replicas: usize,
    /// Seconds before an unacknowledged delivery is delivered again.
    pub ack_wait_secs: u64,
}

/// Where the webhook dispatcher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DispatcherMode {
    /// In `wekeza serve`, beside the APIs.
    WithApi,
    /// `wekeza serve` runs only the dispatcher (and the admin listener).
    Alone,
    /// Not in this process.
    Off,
}

/// `[webhooks]`: webhook delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Where the dispatcher runs.
    pub dispatcher: DispatcherMode,
    /// How long an attempt waits for the answer, in milliseconds.
    pub timeout_ms: u64,
    /// The delays between attempts outside the sandbox, in milliseconds.
    pub retry_schedule_ms: Vec<u64>,
    /// The delays between attempts in the sandbox, in milliseconds.
    pub sandbox_retry_schedule_ms: Vec<u64>,
    /// An endpoint without a success for this long is disabled, in seconds.
    pub disable_after_failing_secs: u64,
    /// Attempts in flight at once per dispatcher.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one endpoint.
    pub endpoint_max_in_flight: usize,
}

/// Where rate limits are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateLimitPolicy {
    /// In this process (governor, in memory): exact for one process.
    Local,
    /// In PostgreSQL, shared by the replicas on the database.
    Cluster,
}

/// `[gateway]`: the policies every call passes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where rate limits are counted.
    pub rate_limit_policy: RateLimitPolicy,
    /// Calls per minute per client address for calls no app is counted against.
    pub anonymous_requests_per_minute: u32,
    /// Their burst.
    pub anonymous_burst: u32,
    /// Whether limits, quotas, metering and audit apply (off only to measure their cost).
    pub enforce: bool,
}

/// `[metering]`: usage metering and the daily quotas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeteringConfig {
    /// How often the counts are written and the quotas synced with the other replicas, in
    /// milliseconds: what a crash loses at most, and how late replicas see each other's calls.
    pub flush_interval_ms: u64,
}

impl MeteringConfig {
    /// The flush interval.
    pub fn flush_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.flush_interval_ms)
    }
}

/// `[oidc_upstream]`: federated customer sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcUpstream {
    /// The provider's issuer URL; empty: no federation.
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there.
    pub client_secret: Redacted,
    /// The ID token claim naming the customer.
    pub claim: String,
    /// The customer field the claim is compared with.
    pub customer_field: wekeza_identity::federation::CustomerField,
}

/// The variables of [`ENV_KEYS`] that are set, and `WEKEZA_CONFIG`, from any `(name, value)`
/// pairs. Other variables, `WEKEZA_*` or not, are ignored.
struct EnvVars {
    /// `(variable, key, value)`, in [`ENV_KEYS`] order.
    set: Vec<(&'static str, &'static str, String)>,
    config_file: Option<String>,
}

impl EnvVars {
    fn new<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let pairs: HashMap<String, String> = pairs
            .into_iter()
            .filter(|(name, _)| name.as_ref().starts_with("WEKEZA_"))
            .map(|(name, value)| (name.as_ref().to_owned(), value.as_ref().to_owned()))
            .collect();
        Self {
            set: ENV_KEYS
                .iter()
                .filter_map(|(name, key)| Some((*name, *key, pairs.get(*name)?.clone())))
                .collect(),
            config_file: pairs.get(CONFIG_FILE_VAR).cloned(),
        }
    }
}

/// One environment variable as a figment layer, so an error names the variable.
struct EnvVar {
    name: &'static str,
    key: &'static str,
    value: Value,
}

impl EnvVar {
    /// The variable's text as the layers below hold the key: `true` or `false` where they hold
    /// a boolean, a whole number where they hold a number, a string everywhere else (so
    /// `WEKEZA_OIDC_UPSTREAM_CLIENT_ID=12345` stays a string).
    fn typed_like(
        below: &Figment,
        name: &'static str,
        key: &'static str,
        text: &str,
    ) -> Result<Self, ConfigError> {
        let value = match below.find_value(key) {
            Ok(Value::Bool(..)) => {
                Value::from(text.parse::<bool>().map_err(|_| ConfigError::EnvType {
                    key: name.to_owned(),
                    expected: "true or false",
                })?)
            }
            // Unsigned like every number of the defaults (pool size, intervals, limits).
            Ok(Value::Num(..)) => {
                Value::from(text.parse::<u64>().map_err(|_| ConfigError::EnvType {
                    key: name.to_owned(),
                    expected: "a whole number",
                })?)
            }
            _ => Value::from(text.to_owned()),
        };
        Ok(Self { name, key, value })
    }
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::default(self.key, &self.value).data()
    }
}

/// A configured secret: never printed, not even by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Config {
    /// Loads the defaults, then `wekeza.toml` (or the file `WEKEZA_CONFIG` names, which must
    /// exist), then the `WEKEZA_*` variables among `env`.
    pub fn load<K, V>(env: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let env = EnvVars::new(env);
        let named = env.config_file.as_deref();
        let path = named.unwrap_or("wekeza.toml");
        let file = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(error) if named.is_none() && error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::merge(file.as_deref(), &env)
    }

    /// Merges the defaults, an optional TOML file's text and the `WEKEZA_*` variables among
    /// `env`, then validates the result.
    pub fn from_layers<K, V>(
        file: Option<&str>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::merge(file, &EnvVars::new(env))
    }

    fn merge(file: Option<&str>, env: &EnvVars) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::string(file));
        }
        for (name, key, text) in &env.set {
            let layer = EnvVar::typed_like(&figment, name, key, text)?;
            figment = figment.merge(layer);
        }
        if figment.contains("fraud.sandbox") {
            return Err(ConfigError::Invalid(
                "fraud.sandbox cannot be set: the sandbox magic values follow env".into(),
            ));
        }
        let mut config: Config = figment.extract()?;
        config.fraud.sandbox = config.env.is_sandbox();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.database_url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(format!(
                "database_url must start with sqlite: or postgres:// (got {})",
                redact_url(url)
            )));
        }
        if self.max_in_flight_requests == 0 {
            return Err(ConfigError::Invalid(
                "max_in_flight_requests must be positive".into(),
            ));
        }
        if self.audit_flush_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "audit_flush_interval_ms must be positive".into(),
            ));
        }
        if self.metering.flush_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "metering.flush_interval_ms must be positive".into(),
            ));
        }
        if self.database_pool_size == 0 {
            return Err(ConfigError::Invalid(
                "database_pool_size must be positive".into(),
            ));
        }
        if !self.issuer.is_empty() {
            wekeza_identity::Issuer::parse(&self.issuer)
                .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        }
        self.fraud
            .validate()
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        self.upstream()?;
        self.dispatch_settings()?;
        self.validate_gateway()?;
        let sealing = self.key_encryption_key()?;
        if sealing.is_none() && self.env == Environment::Production {
            return Err(ConfigError::Invalid(
                "key_encryption_key is required in production: signing keys must be sealed at rest"
                    .into(),
            ));
        }
        Ok(())
    }

    fn validate_gateway(&self) -> Result<(), ConfigError> {
        let gateway = &self.gateway;
        if gateway.anonymous_requests_per_minute == 0 || gateway.anonymous_burst == 0 {
            return Err(ConfigError::Invalid(
                "gateway.anonymous_requests_per_minute and anonymous_burst must be positive".into(),
            ));
        }
        if gateway.rate_limit_policy == RateLimitPolicy::Cluster
            && self.database_url.starts_with("sqlite:")
        {
            return Err(ConfigError::Invalid(
                "gateway.rate_limit_policy = \"cluster\" shares the limits through PostgreSQL; \
                 a SQLite database serves one process: use \"local\""
                    .into(),
            ));
        }
        if !gateway.enforce && self.env == Environment::Production {
            return Err(ConfigError::Invalid(
                "gateway.enforce = false is refused in production".into(),
            ));
        }
        Ok(())
    }

    /// The upstream OpenID provider of federated sign-in, if one is configured.
    pub fn upstream(
        &self,
    ) -> Result<Option<wekeza_identity::federation::UpstreamSettings>, ConfigError> {
        let upstream = &self.oidc_upstream;
        if upstream.issuer.is_empty() {
            return Ok(None);
        }
        wekeza_identity::Issuer::parse(&upstream.issuer)
            .map_err(|error| ConfigError::Invalid(format!("oidc_upstream: {error}")))?;
        if upstream.client_id.is_empty() || upstream.client_secret.0.is_empty() {
            return Err(ConfigError::Invalid(
                "oidc_upstream: client_id and client_secret are required with an issuer".into(),
            ));
        }
        if upstream.claim.is_empty() {
            return Err(ConfigError::Invalid(
                "oidc_upstream.claim must name an ID token claim".into(),
            ));
        }
        Ok(Some(wekeza_identity::federation::UpstreamSettings {
            issuer: upstream.issuer.clone(),
            client_id: upstream.client_id.clone(),
            client_secret: upstream.client_secret.0.clone(),
            claim: upstream.claim.clone(),
            customer_field: upstream.customer_field,
        }))
    }

    /// The JetStream bus's layout, when the event bus is NATS (`nats_url` set).
    pub fn jetstream(&self) -> Option<wekeza_events::JetStreamSettings> {
        if self.nats_url.0.is_empty() {
            return None;
        }
        let seconds = std::time::Duration::from_secs;
        Some(wekeza_events::JetStreamSettings {
            url: self.nats_url.0.clone(),
            stream: self.nats.stream.clone(),
            subject_root: self.nats.subject_root.clone(),
            max_age: seconds(self.nats.max_age_secs),
            duplicate_window: seconds(self.nats.duplicate_window_secs),
            replicas: self.nats.replicas,
            ack_wait: seconds(self.nats.ack_wait_secs),
        })
    }

    /// How the webhook dispatcher delivers (`[webhooks]`). On the in-process bus, which keeps
    /// nothing across restarts, the dispatcher recovers the last ten minutes of the outbox at
    /// start-up.
    pub fn dispatch_settings(&self) -> Result<wekeza_webhooks::DispatchSettings, ConfigError> {
        let webhooks = &self.webhooks;
        let invalid = |message: &str| Err(ConfigError::Invalid(format!("webhooks.{message}")));
        if webhooks.timeout_ms == 0 {
            return invalid("timeout_ms must be positive");
        }
        if webhooks.max_in_flight == 0 || webhooks.endpoint_max_in_flight == 0 {
            return invalid("max_in_flight and endpoint_max_in_flight must be positive");
        }
        let Ok(disable_after_failing_secs) = i64::try_from(webhooks.disable_after_failing_secs)
        else {
            return invalid("disable_after_failing_secs is too large");
        };
        let sandbox = self.env.is_sandbox();
        let schedule = if sandbox {
            &webhooks.sandbox_retry_schedule_ms
        } else {
            &webhooks.retry_schedule_ms
        };
        let millis = std::time::Duration::from_millis;
        Ok(wekeza_webhooks::DispatchSettings {
            timeout: millis(webhooks.timeout_ms),
            retry_schedule: wekeza_webhooks::RetrySchedule::new(
                schedule.iter().copied().map(millis).collect(),
            ),
            disable_after_failing: chrono::Duration::seconds(disable_after_failing_secs),
            max_in_flight: webhooks.max_in_flight,
            endpoint_max_in_flight: webhooks.endpoint_max_in_flight,
            sandbox,
            recover_window: self
                .jetstream()
                .is_none()
                .then_some(chrono::Duration::minutes(10)),
        })
    }

    /// The key that seals the signing keys and webhook secrets at rest, if one is configured.
    pub fn key_encryption_key(
        &self,
    ) -> Result<Option<wekeza_identity::KeyEncryptionKey>, ConfigError> {
        if self.key_encryption_key.0.is_empty() {
            return Ok(None);
        }
        wekeza_identity::KeyEncryptionKey::parse(&self.key_encryption_key.0)
            .map(Some)
            .map_err(|error| {
                ConfigError::Invalid(format!("invalid identity configuration: {error}"))
            })
    }

    /// The issuer: the configured one, or `http://<public>` for the listener bound at `public`.
    pub fn issuer_for(&self, public: SocketAddr) -> Result<wekeza_identity::Issuer, ConfigError> {
        if self.issuer.is_empty() {
            Ok(wekeza_identity::Issuer::for_listener(public))
        } else {
            wekeza_identity::Issuer::parse(&self.issuer)
                .map_err(|error| ConfigError::Invalid(error.to_string()))
        }
    }

    /// The database URL without its password, for logs.
    pub fn database_for_display(&self) -> String {
        redact_url(&self.database_url)
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn env<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        pairs.to_vec()
    }

    #[test]
    fn defaults_then_file_then_env() -> Result<(), ConfigError> {
        let defaults = Config::from_layers(None, env(&[]))?;
        assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(defaults.env, Environment::Sandbox);
        assert!(defaults.database_url.starts_with("sqlite:"));

        let file = "listen = \"0.0.0.0:9000\"\nenv = \"production\"\n\
                    key_encryption_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n";
        let layered = Config::from_layers(
            Some(file),
            env(&[("WEKEZA_ENV", "qa"), ("WEKEZA_SEED_ON_EMPTY", "false")]),
        )?;
        assert_eq!(layered.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(layered.env, Environment::Qa);
        assert!(!layered.seed_on_empty);
        Ok(())
    }

    #[test]
    fn the_metering_flush_interval_is_configurable_and_positive() -> Result<(), ConfigError> {
        let defaults = Config::from_layers(None, env(&[]))?;
        assert_eq!(defaults.metering.flush_interval(), Duration::from_secs(5));
        // Numbers from the environment are read as numbers (the pool size's too).
        let set = env(&[
            ("WEKEZA_METERING_FLUSH_INTERVAL_MS", "250"),
            ("WEKEZA_DATABASE_POOL_SIZE", "8"),
        ]);
        let config = Config::from_layers(None, set)?;
        assert_eq!(config.metering.flush_interval(), Duration::from_millis(250));
        assert_eq!(config.database_pool_size, 8);
        let words = env(&[("WEKEZA_METERING_FLUSH_INTERVAL_MS", "soon")]);
        assert!(Config::from_layers(None, words).is_err());
        let zero = "[metering]\nflush_interval_ms = 0\n";
        assert!(Config::from_layers(Some(zero), env(&[])).is_err());
        Ok(())
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(Config::from_layers(Some("colour = \"blue\"\n"), env(&[])).is_err());
        assert!(Config::from_layers(None, env(&[("WEKEZA_ENV", "staging")])).is_err());
        assert!(Config::from_layers(None, env(&[("WEKEZA_SEED_ON_EMPTY", "yes")])).is_err());
        assert!(Config::from_layers(None, env(&[("WEKEZA_DATABASE_URL", "mysql://x")])).is_err());
        assert!(Config::from_layers(None, env(&[("WEKEZA_ISSUER", "bank.example")])).is_err());
        assert!(
            Config::from_layers(None, env(&[("WEKEZA_KEY_ENCRYPTION_KEY", "c2hvcnQ")])).is_err()
        );
        let production = env(&[("WEKEZA_ENV", "production")]);
        assert!(Config::from_layers(None, production).is_err());
    }

    #[test]
    fn issuer_is_configured_or_derived_from_the_listener() -> Result<(), ConfigError> {
        let public: SocketAddr = ([127, 0, 0, 1], 4321).into();
        let derived = Config::from_layers(None, env(&[]))?;
        assert_eq!(
            derived.issuer_for(public)?.as_str(),
            "http://127.0.0.1:4321"
        );
        let set =
            Config::from_layers(None, env(&[("WEKEZA_ISSUER", "https://api.bank.example/")]))?;
        assert_eq!(set.issuer_for(public)?.as_str(), "https://api.bank.example");
        Ok(())
    }

    #[test]
    fn the_key_encryption_key_is_never_printed() -> Result<(), ConfigError> {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let config = Config::from_layers(None, env(&[("WEKEZA_KEY_ENCRYPTION_KEY", key)]))?;
        assert!(config.key_encryption_key()?.is_some());
        assert!(!format!("{config:?}").contains(key));
        Ok(())
    }

    #[test]
    fn fraud_settings_layer_and_sandbox_follows_env() -> Result<(), ConfigError> {
        let defaults = Config::from_layers(None, env(&[]))?;
        assert!(defaults.fraud.sandbox, "the default env is the sandbox");
        assert_eq!(defaults.fraud.external.addr(), None);
        assert_eq!(defaults.fraud.policy.step_up_threshold, 40);

        let file = "[fraud]\npolicy = { step_up_threshold = 50, reject_threshold = 90 }\n";
        let layered = Config::from_layers(
            Some(file),
            env(&[
                ("WEKEZA_ENV", "qa"),
                ("WEKEZA_FRAUD_ADDR", "http://fraud.bank.internal:50051"),
            ]),
        )?;
        assert!(!layered.fraud.sandbox, "magic values only in the sandbox");
        assert_eq!(layered.fraud.policy.step_up_threshold, 50);
        assert_eq!(
            layered.fraud.external.addr(),
            Some("http://fraud.bank.internal:50051")
        );
        assert_eq!(
            layered.fraud.external.deadline_ms, 300,
            "defaults fill the rest"
        );

        assert!(Config::from_layers(Some("[fraud]\nsandbox = true\n"), env(&[])).is_err());
        assert!(
            Config::from_layers(None, env(&[("WEKEZA_FRAUD_ADDR", "not a uri")])).is_err(),
            "the address is validated"
        );
        let inverted = "[fraud]\npolicy = { step_up_threshold = 80, reject_threshold = 70 }\n";
        assert!(Config::from_layers(Some(inverted), env(&[])).is_err());
        Ok(())
    }

    #[test]
    fn tables_merge_key_by_key_and_env_values_stay_strings() -> Result<(), ConfigError> {
        let file = "[oidc_upstream]\nissuer = \"https://login.bank.example\"\n";
        let layered = Config::from_layers(
            Some(file),
            env(&[
                ("WEKEZA_OIDC_UPSTREAM_CLIENT_ID", "12345"),
                ("WEKEZA_OIDC_UPSTREAM_CLIENT_SECRET", "678"),
                ("WEKEZA_TEST_DATABASE_URL", "not a key of ours"),
            ]),
        )?;
        let upstream = layered
            .upstream()?
            .ok_or_else(|| ConfigError::Invalid("the upstream is configured".into()))?;
        assert_eq!(upstream.issuer, "https://login.bank.example");
        assert_eq!(upstream.client_id, "12345");
        assert_eq!(
            upstream.claim, "sub",
            "the default of a key the file left out"
        );
        Ok(())
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let missing = [("WEKEZA_CONFIG", "/nonexistent/wekeza.toml")];
        assert!(matches!(
            Config::load(missing),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://.wekeza/w.db"), "sqlite://.wekeza/w.db");
    }
}
