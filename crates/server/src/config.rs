//! The server's configuration: the embedded `wekeza.default.toml`, then `wekeza.toml` (or the
//! file named by `WEKEZA_CONFIG`), then `WEKEZA_*` environment variables. Validated before
//! anything binds.
//!
//! The environment is read through an [`EnvSource`], so tests pass a map instead of mutating the
//! process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

const DEFAULTS: &str = include_str!("../wekeza.default.toml");

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
    Parse(#[from] toml::de::Error),
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

/// Where environment variables come from.
pub trait EnvSource {
    /// The variable's value, if set.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
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
    /// Deployment environment.
    pub env: Environment,
    /// Seed the sandbox when the database holds no customers.
    pub seed_on_empty: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// The OAuth2 issuer and public base URL (`https://api.bank.example`); empty: derived from
    /// the public listener's address (`http://<listen>`).
    pub issuer: String,
    /// Seals the identity service's private signing keys at rest (AES-256-GCM): base64 of 32
    /// random bytes. Empty: they are stored in the clear (refused in production).
    pub key_encryption_key: Redacted,
    /// The fraud checks of payments (`[fraud]`). Its `sandbox` switch is not configurable: it
    /// follows [`Config::env`] (on exactly in the sandbox).
    pub fraud: wekeza_fraud::FraudConfig,
    /// The OpenID provider customers sign in at (`[oidc_upstream]`); none when its issuer is
    /// empty.
    pub oidc_upstream: OidcUpstream,
}

/// `[oidc_upstream]`: federated customer sign-in. Keys left out take their defaults (a file
/// that sets only the issuer and the client keeps `claim = "sub"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
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

impl Default for OidcUpstream {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: Redacted::default(),
            claim: "sub".to_owned(),
            customer_field: wekeza_identity::federation::CustomerField::Id,
        }
    }
}

/// Environment variables that set a key inside a table, by its path.
const NESTED_ENV: &[(&str, &[&str])] = &[
    // The bank's fraud system; empty means none.
    ("WEKEZA_FRAUD_ADDR", &["fraud", "external", "addr"]),
    // Federated customer sign-in.
    ("WEKEZA_OIDC_UPSTREAM_ISSUER", &["oidc_upstream", "issuer"]),
    (
        "WEKEZA_OIDC_UPSTREAM_CLIENT_ID",
        &["oidc_upstream", "client_id"],
    ),
    (
        "WEKEZA_OIDC_UPSTREAM_CLIENT_SECRET",
        &["oidc_upstream", "client_secret"],
    ),
    ("WEKEZA_OIDC_UPSTREAM_CLAIM", &["oidc_upstream", "claim"]),
    (
        "WEKEZA_OIDC_UPSTREAM_CUSTOMER_FIELD",
        &["oidc_upstream", "customer_field"],
    ),
];

/// Sets the string `value` at `path` in `table`, creating the tables on the way.
fn set_path(table: &mut toml::Table, path: &[&str], value: String) -> Result<(), ConfigError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry((*key).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::Invalid(format!("{key} must be a table")))?;
    }
    current.insert((*last).to_owned(), toml::Value::String(value));
    Ok(())
}

/// A configured secret: never printed, not even by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Config {
    /// Loads defaults, then `wekeza.toml` (or `WEKEZA_CONFIG`), then `WEKEZA_*` from `env`.
    pub fn load(env: &impl EnvSource) -> Result<Self, ConfigError> {
        let file = env.var("WEKEZA_CONFIG");
        let path = file.as_deref().unwrap_or("wekeza.toml");
        let overrides = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(error) if file.is_none() && error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::from_layers(overrides.as_deref(), env)
    }

    /// Merges the defaults, an optional TOML override and the environment.
    pub fn from_layers(file: Option<&str>, env: &impl EnvSource) -> Result<Self, ConfigError> {
        let mut table: toml::Table = DEFAULTS.parse()?;
        if let Some(file) = file {
            let overrides: toml::Table = file.parse()?;
            for (key, value) in overrides {
                table.insert(key, value);
            }
        }
        // Top-level scalars are set by WEKEZA_<KEY>; keys inside tables only by NESTED_ENV.
        let keys: Vec<String> = table
            .iter()
            .filter(|(_, value)| !value.is_table())
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            let var = format!("WEKEZA_{}", key.to_ascii_uppercase());
            let Some(text) = env.var(&var) else { continue };
            let value = match table.get(&key) {
                Some(toml::Value::Boolean(_)) => {
                    toml::Value::Boolean(text.parse().map_err(|_| ConfigError::EnvType {
                        key: var.clone(),
                        expected: "true or false",
                    })?)
                }
                _ => toml::Value::String(text),
            };
            table.insert(key, value);
        }
        for (var, path) in NESTED_ENV {
            if let Some(text) = env.var(var) {
                set_path(&mut table, path, text)?;
            }
        }
        let sets_sandbox = table
            .get("fraud")
            .and_then(toml::Value::as_table)
            .is_some_and(|fraud| fraud.contains_key("sandbox"));
        if sets_sandbox {
            return Err(ConfigError::Invalid(
                "fraud.sandbox cannot be set: the sandbox magic values follow env".into(),
            ));
        }
        let mut config: Config = toml::Value::Table(table).try_into()?;
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
        if !self.issuer.is_empty() {
            wekeza_identity::Issuer::parse(&self.issuer)
                .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        }
        self.fraud
            .validate()
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        self.upstream()?;
        let sealing = self.key_encryption_key()?;
        if sealing.is_none() && self.env == Environment::Production {
            return Err(ConfigError::Invalid(
                "key_encryption_key is required in production: signing keys must be sealed at rest"
                    .into(),
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

    /// The key that seals the signing keys at rest, if one is configured.
    pub fn key_encryption_key(
        &self,
    ) -> Result<Option<wekeza_identity::KeyEncryptionKey>, ConfigError> {
        if self.key_encryption_key.0.is_empty() {
            return Ok(None);
        }
        wekeza_identity::KeyEncryptionKey::parse(&self.key_encryption_key.0)
            .map(Some)
            .map_err(|error| ConfigError::Invalid(error.to_string()))
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
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_env() -> Result<(), ConfigError> {
        let defaults = Config::from_layers(None, &env(&[]))?;
        assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(defaults.env, Environment::Sandbox);
        assert!(defaults.database_url.starts_with("sqlite:"));

        let file = "listen = \"0.0.0.0:9000\"\nenv = \"production\"\n\
                    key_encryption_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n";
        let layered = Config::from_layers(
            Some(file),
            &env(&[("WEKEZA_ENV", "qa"), ("WEKEZA_SEED_ON_EMPTY", "false")]),
        )?;
        assert_eq!(layered.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(layered.env, Environment::Qa);
        assert!(!layered.seed_on_empty);
        Ok(())
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values() {
        assert!(Config::from_layers(Some("colour = \"blue\"\n"), &env(&[])).is_err());
        assert!(Config::from_layers(None, &env(&[("WEKEZA_ENV", "staging")])).is_err());
        assert!(Config::from_layers(None, &env(&[("WEKEZA_SEED_ON_EMPTY", "yes")])).is_err());
        assert!(Config::from_layers(None, &env(&[("WEKEZA_DATABASE_URL", "mysql://x")])).is_err());
        assert!(Config::from_layers(None, &env(&[("WEKEZA_ISSUER", "bank.example")])).is_err());
        assert!(
            Config::from_layers(None, &env(&[("WEKEZA_KEY_ENCRYPTION_KEY", "c2hvcnQ")])).is_err()
        );
        let production = env(&[("WEKEZA_ENV", "production")]);
        assert!(Config::from_layers(None, &production).is_err());
    }

    #[test]
    fn issuer_is_configured_or_derived_from_the_listener() -> Result<(), ConfigError> {
        let public: SocketAddr = ([127, 0, 0, 1], 4321).into();
        let derived = Config::from_layers(None, &env(&[]))?;
        assert_eq!(
            derived.issuer_for(public)?.as_str(),
            "http://127.0.0.1:4321"
        );
        let set = Config::from_layers(
            None,
            &env(&[("WEKEZA_ISSUER", "https://api.bank.example/")]),
        )?;
        assert_eq!(set.issuer_for(public)?.as_str(), "https://api.bank.example");
        Ok(())
    }

    #[test]
    fn the_key_encryption_key_is_never_printed() -> Result<(), ConfigError> {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let config = Config::from_layers(None, &env(&[("WEKEZA_KEY_ENCRYPTION_KEY", key)]))?;
        assert!(config.key_encryption_key()?.is_some());
        assert!(!format!("{config:?}").contains(key));
        Ok(())
    }

    #[test]
    fn fraud_settings_layer_and_sandbox_follows_env() -> Result<(), ConfigError> {
        let defaults = Config::from_layers(None, &env(&[]))?;
        assert!(defaults.fraud.sandbox, "the default env is the sandbox");
        assert_eq!(defaults.fraud.external.addr(), None);
        assert_eq!(defaults.fraud.policy.step_up_threshold, 40);

        let file = "[fraud]\npolicy = { step_up_threshold = 50, reject_threshold = 90 }\n";
        let layered = Config::from_layers(
            Some(file),
            &env(&[
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

        assert!(Config::from_layers(Some("[fraud]\nsandbox = true\n"), &env(&[])).is_err());
        assert!(
            Config::from_layers(None, &env(&[("WEKEZA_FRAUD_ADDR", "not a uri")])).is_err(),
            "the address is validated"
        );
        let inverted = "[fraud]\npolicy = { step_up_threshold = 80, reject_threshold = 70 }\n";
        assert!(Config::from_layers(Some(inverted), &env(&[])).is_err());
        Ok(())
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://.wekeza/w.db"), "sqlite://.wekeza/w.db");
    }
}
