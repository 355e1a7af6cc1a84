//! The servers the bench runs as child processes, each killed when dropped: the release `wekeza`
//! binary ([`WekezaServer`], in the token-endpoint and webhook scenarios) and panva's
//! oidc-provider ([`OidcProvider`]); and the client both are asked for tokens as
//! ([`TokenEndpoint`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::measure::CpuProbe;

/// The scopes the token-endpoint scenario's client holds and requests, on both servers, as
/// the tokens must carry them.
pub(crate) const TOKEN_SCOPE: &str = "accounts.read payments.initiate";
/// The oidc-provider baseline: `package.json`, its lockfile and `server.mjs`.
const OIDC_PROVIDER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/oidc-provider");
/// How long oidc-provider may take to listen.
const PROVIDER_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The line `server.mjs` prints on stdout once every worker listens.
const PROVIDER_READY: &str = "ready";
/// How long `wekeza serve` may take to answer its discovery document (it migrates and seeds
/// its fresh database first).
const WEKEZA_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A token endpoint and the client that asks it for client-credentials tokens.
#[derive(Clone)]
pub(crate) struct TokenEndpoint {
    pub(crate) url: String,
    client_id: String,
    client_secret: String,
}

impl TokenEndpoint {
    /// The grant: `client_secret_basic`, `grant_type=client_credentials` and [`TOKEN_SCOPE`].
    pub(crate) fn request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        self.grant(
            http,
            &[("grant_type", "client_credentials"), ("scope", TOKEN_SCOPE)],
        )
    }

    /// A token request with `form`, the client authenticated with `client_secret_basic`.
    pub(crate) fn grant(
        &self,
        http: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        http.post(&self.url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(form)
    }
}

/// A free port of 127.0.0.1 (free when asked: the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How a [`WekezaServer`] runs: its database, event bus and configuration, and the app it
/// registers.
pub(crate) struct Setup<'a> {
    /// The database URL; `None`: a fresh SQLite database in the server's directory.
    pub(crate) database_url: Option<String>,
    /// The NATS server of the event bus; `None`: the in-process bus.
    pub(crate) nats_url: Option<String>,
    /// `wekeza.toml`, over the built-in defaults.
    pub(crate) config: &'a str,
    /// The app's scopes, space-separated.
    pub(crate) scopes: &'a str,
    /// The app's redirect URI, for the authorization-code flow.
    pub(crate) redirect_uri: Option<&'a str>,
}

impl Default for Setup<'_> {
    /// The token-endpoint scenario's: SQLite, the in-process bus, the defaults, an app holding
    /// [`TOKEN_SCOPE`].
    fn default() -> Self {
        Self {
            database_url: None,
            nats_url: None,
            config: "",
            scopes: TOKEN_SCOPE,
            redirect_uri: None,
        }
    }
}

/// The release `wekeza` binary serving per its [`Setup`], with an app registered; killed when
/// dropped — also when the bench fails — and its temporary directory removed.
pub(crate) struct WekezaServer {
    child: Child,
    /// Where it serves the APIs, `http://127.0.0.1:<port>`.
    pub(crate) base_url: String,
    /// Its database.
    pub(crate) database_url: String,
    /// The app's credentials at the server's token endpoint (from its discovery document).
    pub(crate) client: TokenEndpoint,
    /// Holds the configuration and the SQLite database; removed after the child is killed.
    _dir: tempfile::TempDir,
}

impl WekezaServer {
    /// The `wekeza` binary of this build: next to the bench's own executable (both are in
    /// `<target dir>/release` under `cargo run --release`, whatever `CARGO_TARGET_DIR` says).
    fn binary() -> PathBuf {
        let bench = std::env::current_exe().unwrap();
        let binary = bench
            .parent()
            .unwrap()
            .join(format!("wekeza{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "{} is missing: build it with `cargo build --release -p wekeza-server` \
             (`make bench` does)",
            binary.display()
        );
        binary
    }

    /// `wekeza` on the database at `url` with the event bus at `nats_url`, in `dir`, whose
    /// `wekeza.toml` is the setup's: no `WEKEZA_*` variable of the caller's environment
    /// changes what it runs with.
    fn command(binary: &Path, dir: &Path, url: &str, nats_url: Option<&str>) -> Command {
        let mut command = Command::new(binary);
        command.current_dir(dir);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WEKEZA_") {
                command.env_remove(key);
            }
        }
        command
            .env("WEKEZA_CONFIG", dir.join("wekeza.toml"))
            .env("WEKEZA_DATABASE_URL", url)
            .env("WEKEZA_NATS_URL", nats_url.unwrap_or_default())
            .env("RUST_LOG", "warn");
        command
    }

    /// Registers the app (`wekeza apps create`: a sandbox app with a client secret,
    /// `client_secret_basic`, holding the setup's scopes), then starts `wekeza serve` and waits
    /// until it serves its discovery document.
    pub(crate) async fn start(setup: Setup<'_>) -> Self {
        let binary = Self::binary();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wekeza.toml"), setup.config).unwrap();
        let url = setup
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
        let nats_url = setup.nats_url.as_deref();
        let mut create = Self::command(&binary, dir.path(), &url, nats_url);
        create.args([
            "apps",
            "create",
            "--name",
            "Bench",
            "--scopes",
            setup.scopes,
        ]);
        if let Some(redirect_uri) = setup.redirect_uri {
            create.args(["--redirect-uri", redirect_uri]);
        }
        let created = create
            .arg("--json")
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        assert!(
            created.status.success(),
            "`wekeza apps create` failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let app: Value = serde_json::from_slice(&created.stdout).unwrap();
        let credential = |name: &str| {
            app[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in `wekeza apps create --json`: {app}"))
                .to_owned()
        };
        let (client_id, client_secret) = (credential("clientId"), credential("clientSecret"));
        // A load test makes far more than a free plan's 1,000 calls a day: the enterprise plan
        // has no daily limit (its calls still pass the quota layer, which counts them).
        let upgraded = Self::command(&binary, dir.path(), &url, nats_url)
            .args(["apps", "plan", &credential("appId"), "enterprise"])
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
        assert!(
            upgraded.status.success(),
            "`wekeza apps plan` failed: {}",
            String::from_utf8_lossy(&upgraded.stderr)
        );

        let port = free_port();
        let child = Self::command(&binary, dir.path(), &url, nats_url)
            .arg("serve")
            .env("WEKEZA_LISTEN", format!("127.0.0.1:{port}"))
            .env("WEKEZA_ADMIN_LISTEN", format!("127.0.0.1:{}", free_port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `wekeza serve`: {error}"));
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            database_url: url,
            client: TokenEndpoint {
                url: String::new(),
                client_id,
                client_secret,
            },
            _dir: dir,
        };
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let deadline = Instant::now() + WEKEZA_START_TIMEOUT;
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("`wekeza serve` exited ({status}) before it served (its log is above)");
            }
            let document = match reqwest::get(&discovery).await {
                Ok(response) if response.status().is_success() => {
                    response.json::<Value>().await.ok()
                }
                _ => None,
            };
            if let Some(document) = document {
                server.client.url = document["token_endpoint"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no token_endpoint in {discovery}"))
                    .to_owned();
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "`wekeza serve` did not serve {discovery} within {WEKEZA_START_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn cpu_probe(&self) -> CpuProbe {
        CpuProbe::new(self.child.id())
    }

    /// The app's own token (client credentials) with `scopes`.
    pub(crate) async fn app_token(&self, http: &reqwest::Client, scopes: &str) -> String {
        let token = answer(self.client.grant(
            http,
            &[("grant_type", "client_credentials"), ("scope", scopes)],
        ))
        .await;
        token["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no app token: {token}"))
            .to_owned()
    }

    /// A consent of the app (`consent`, the body of `POST /v1/consents`) authorised by
    /// `customer` through the sandbox shortcut, and the consent-bound access token its code was
    /// exchanged for — the real flow of a real app, minus the browser.
    pub(crate) async fn consent_token(
        &self,
        http: &reqwest::Client,
        app_token: &str,
        customer: &str,
        redirect_uri: &str,
        consent: Value,
    ) -> (String, String) {
        let base = &self.base_url;
        let consent = answer(
            http.post(format!("{base}/v1/consents"))
                .bearer_auth(app_token)
                .header("idempotency-key", ulid::Ulid::new().to_string())
                .json(&consent),
        )
        .await;
        let consent_id = consent["consentId"]
            .as_str()
            .unwrap_or_else(|| panic!("no consent: {consent}"))
            .to_owned();
        let verifier = format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new());
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let authorized = answer(
            http.post(format!("{base}/v1/sandbox/consents/{consent_id}:authorize"))
                .bearer_auth(app_token)
                .json(&serde_json::json!({
                    "username": customer,
                    "codeChallenge": challenge,
                    "codeChallengeMethod": "S256",
                    "redirectUri": redirect_uri,
                    "state": "bench",
                })),
        )
        .await;
        let code = authorized["code"]
            .as_str()
            .unwrap_or_else(|| panic!("consent not authorised: {authorized}"));
        let tokens = answer(self.client.grant(
            http,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", &verifier),
                ("redirect_uri", redirect_uri),
            ],
        ))
        .await;
        let token = tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("code not exchanged: {tokens}"))
            .to_owned();
        (consent_id, token)
    }
}

/// The JSON answer to `request` (the bench stops on a transport failure).
pub(crate) async fn answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

impl Drop for WekezaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// panva's oidc-provider (`bench/oidc-provider/server.mjs`) as a Node child process, killed
/// with its workers when dropped — also when the bench fails.
pub(crate) struct OidcProvider {
    child: Child,
    /// Its token endpoint, from its discovery document.
    token_url: String,
}

impl OidcProvider {
    /// The versions of Node and of the installed oidc-provider; fails, saying what to do,
    /// when either is missing.
    pub(crate) fn preflight() -> (String, String) {
        let node = Command::new("node")
            .arg("--version")
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "the token-endpoint scenario needs Node.js 20+ (`node` on PATH) to run \
                     oidc-provider: {error}"
                )
            });
        assert!(node.status.success(), "`node --version` failed");
        let manifest = format!("{OIDC_PROVIDER_DIR}/node_modules/oidc-provider/package.json");
        let installed: Value = std::fs::read(&manifest)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| {
                panic!(
                    "oidc-provider is not installed in {OIDC_PROVIDER_DIR}: run `make bench` \
                     (it runs `npm ci` there first)"
                )
            });
        (
            String::from_utf8_lossy(&node.stdout).trim().to_owned(),
            installed["version"].as_str().unwrap_or("?").to_owned(),
        )
    }

    /// Starts it on a free port of 127.0.0.1 with `workers` processes and `client` as its one
    /// client; answers once every worker listens and the discovery document is served.
    pub(crate) async fn start(client: &TokenEndpoint, workers: usize) -> Self {
        let port = free_port();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(OIDC_PROVIDER_DIR)
            .env("NODE_ENV", "production")
            .env("PORT", port.to_string())
            .env("WORKERS", workers.to_string())
            .env("CLIENT_ID", &client.client_id)
            .env("CLIENT_SECRET", &client.client_secret)
            .env("SCOPE", TOKEN_SCOPE)
            // Held open until the child is dropped or this process ends, however it ends:
            // `server.mjs` stops when it closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start oidc-provider with `node`: {error}"));
        // Its stdout until it exits: the ready line, and notices passed on.
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == PROVIDER_READY {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                } else {
                    println!("{line}");
                }
            }
        });
        let mut provider = Self {
            child,
            token_url: String::new(),
        };
        match tokio::time::timeout(PROVIDER_START_TIMEOUT, ready).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("oidc-provider exited before it listened (its stderr is above)"),
            Err(_) => panic!("oidc-provider did not listen within {PROVIDER_START_TIMEOUT:?}"),
        }
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let deadline = Instant::now() + PROVIDER_START_TIMEOUT;
        loop {
            let answer = match reqwest::get(&discovery).await {
                Ok(response) if response.status().is_success() => response.json::<Value>().await,
                Ok(response) => response.error_for_status().map(|_| Value::Null),
                Err(error) => Err(error),
            };
            match answer {
                Ok(document) => {
                    provider.token_url = document["token_endpoint"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no token_endpoint in {discovery}"))
                        .to_owned();
                    return provider;
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("oidc-provider does not serve {discovery}: {error}"),
            }
        }
    }

    /// `client` at oidc-provider's token endpoint.
    pub(crate) fn token_endpoint(&self, client: &TokenEndpoint) -> TokenEndpoint {
        TokenEndpoint {
            url: self.token_url.clone(),
            ..client.clone()
        }
    }

    pub(crate) fn cpu_probe(&self) -> CpuProbe {
        CpuProbe::new(self.child.id())
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        // Its workers exit when it does (their IPC channel closes).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
