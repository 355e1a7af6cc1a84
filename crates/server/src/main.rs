//! The `wekeza` command line: `serve`, `migrate`, `sandbox seed|reset`,
//! `apps create|registration-token|plan`, `api-keys create|list|rotate|revoke`,
//! `plans list|set`, `billing export`, `keys rotate`, `openapi`, `audit verify|export`.
//!
//! Every command that changes the platform is recorded in the audit trail (kind `operator`,
//! the command as its action, the ids it made — never a secret it printed) once it succeeded.

use std::net::SocketAddr;

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use wekeza_domain::{AuditEvent, AuditKind};
use wekeza_sandbox_bank::seed;
use wekeza_server::commerce::{self, ExportFormat, TermChanges};
use wekeza_server::config::Config;
use wekeza_server::{Options, serve, telemetry};
use wekeza_store::DatabaseConnection;
use wekeza_store::apps::AppEnvironment;

/// Wekeza Open Banking Platform.
#[derive(Debug, Parser)]
#[command(name = "wekeza", version, about)]
struct Cli {
    /// Database URL (overrides WEKEZA_DATABASE_URL and the config file).
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the platform until SIGINT or SIGTERM.
    Serve {
        /// Public listener (gRPC, gRPC-web, REST).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Admin listener (/healthz, /readyz, /metrics).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
    },
    /// Brings the database schema up to date.
    Migrate,
    /// Sandbox data.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
    /// Prints the OpenAPI 3.1 document of the REST API.
    Openapi,
    /// Third-party apps (OAuth2 clients).
    Apps {
        #[command(subcommand)]
        action: AppsAction,
    },
    /// Apps' API keys: they identify an app for limits and metering, never authorise.
    ApiKeys {
        #[command(subcommand)]
        action: ApiKeysAction,
    },
    /// The authorization server's token-signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Usage plans: their daily limits, rates and prices.
    Plans {
        #[command(subcommand)]
        action: PlansAction,
    },
    /// Invoices, for the bank's billing system.
    Billing {
        #[command(subcommand)]
        action: BillingAction,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Walks the hash chain from the first record to the last and names the first broken link
    /// (a record whose content changed, a broken link, missing records); exits with 1 on one.
    Verify,
    /// Writes the records that happened at or after a time to stdout, one JSON object a line,
    /// in chain order (each with its prevHash and hash, re-verifiable).
    Export {
        /// RFC 3339 time, e.g. 2026-11-01T00:00:00Z.
        #[arg(long, value_parser = parse_rfc3339)]
        since: DateTime<Utc>,
    },
}

/// An RFC 3339 time, in UTC.
fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|error| format!("not an RFC 3339 time ({error})"))
}

#[derive(Debug, Subcommand)]
enum PlansAction {
    /// Lists the plans with their limits and prices.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Changes a plan's terms (options not given keep their value); running servers apply them
    /// at their next metering flush. Prints the plan as it is then (JSON).
    Set {
        /// The plan: free, startup or enterprise.
        plan: String,
        /// Requests per UTC day; 0 for no limit.
        #[arg(long)]
        daily_limit: Option<u64>,
        /// Sustained rate limit, requests per minute.
        #[arg(long)]
        requests_per_minute: Option<u32>,
        /// Requests above the sustained rate an app may make at once.
        #[arg(long)]
        burst: Option<u32>,
        /// Price per month in the plan's currency, e.g. 25000.00.
        #[arg(long)]
        monthly_price: Option<String>,
        /// Price per 1,000 requests above the daily limit, e.g. 50.00; `none` refuses them.
        #[arg(long)]
        overage_price: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BillingAction {
    /// Prints every app's invoice of a month (the running month's as a draft).
    Export {
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        month: String,
        /// csv (a header row, a row per invoice line) or json.
        #[arg(long, value_enum, default_value = "csv")]
        format: FormatArg,
    },
}

/// An export format on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON document.
    Json,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Rotates the signing key now (running servers pick it up within a minute; tokens signed
    /// by the old key keep verifying until they expire). Prints the new key id.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ApiKeysAction {
    /// Issues another key for the app and prints it (shown once).
    Create {
        /// The app, `app_…`.
        app_id: wekeza_domain::AppId,
        /// A label to tell the keys apart, e.g. "CI".
        #[arg(long, default_value = "")]
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists the app's keys (never the keys themselves).
    List {
        /// The app, `app_…`.
        app_id: wekeza_domain::AppId,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Issues a successor of a key and prints it (shown once); the old key keeps working for
    /// the overlap, so deployments can switch over.
    Rotate {
        /// The app, `app_…`.
        app_id: wekeza_domain::AppId,
        /// The key to replace, `key_…`.
        key_id: wekeza_store::ApiKeyId,
        /// Hours the old key keeps working (0 to 720).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u16).range(0..=720))]
        overlap_hours: u16,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revokes a key now.
    Revoke {
        /// The app, `app_…`.
        app_id: wekeza_domain::AppId,
        /// The key, `key_…`.
        key_id: wekeza_store::ApiKeyId,
    },
}

#[derive(Debug, Subcommand)]
enum SandboxAction {
    /// Seeds the test customers into an empty database.
    Seed,
    /// Wipes customers, accounts and postings and seeds them again.
    Reset,
}

#[derive(Debug, Subcommand)]
enum AppsAction {
    /// Registers an app and prints its client id, client secret and API key (shown once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Allowed redirect URI (repeat for several).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Scopes, space- or comma-separated.
        #[arg(long, default_value = "accounts.read")]
        scopes: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Creates an initial access token for dynamic client registration (RFC 7591) at
    /// /oauth2/register, and prints it (shown once).
    RegistrationToken {
        /// The environment of the clients it registers; default: the platform's (WEKEZA_ENV).
        #[arg(long, value_enum)]
        environment: Option<EnvironmentArg>,
        /// Hours until it expires (1 to 720).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u16).range(1..=720))]
        ttl_hours: u16,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Moves an app to a usage plan now (billing prorates per day; servers apply the new daily
    /// limit from the app's next call).
    Plan {
        /// The app's id, `app_…`.
        app_id: String,
        /// The plan: free, startup or enterprise.
        plan: String,
    },
}

/// An app environment on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum EnvironmentArg {
    /// Test data, test users; client secrets allowed.
    Sandbox,
    /// Real customers; private_key_jwt only.
    Production,
}

impl From<EnvironmentArg> for AppEnvironment {
    fn from(arg: EnvironmentArg) -> Self {
        match arg {
            EnvironmentArg::Sandbox => AppEnvironment::Sandbox,
            EnvironmentArg::Production => AppEnvironment::Production,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The process environment, minus variables that are not UTF-8 (none of ours can be).
    let env = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    let env: Vec<(String, String)> = env.collect();
    // Who ran an operator command, for the audit trail: the login name, when there is one.
    let operator = env
        .iter()
        .find(|(name, _)| name == "USER" || name == "LOGNAME")
        .map(|(_, value)| value.clone());
    let mut config = Config::load(env.into_iter())?;
    if let Some(url) = cli.database_url {
        config.database_url = url;
    }
    telemetry::init(config.log_format);
    match cli.command {
        Command::Serve {
            listen,
            admin_listen,
        } => {
            config.listen = listen.unwrap_or(config.listen);
            config.admin_listen = admin_listen.unwrap_or(config.admin_listen);
            run(config).await
        }
        Command::Migrate => {
            let db = wekeza_store::connect(&config.database_url).await?;
            wekeza_store::migrate(&db).await?;
            println!("migrated {}", config.database_for_display());
            audit_operator(&db, operator, operator_event("migrate")).await
        }
        Command::Sandbox { action } => sandbox(config, action, operator).await,
        Command::Openapi => {
            let document = wekeza_server::app::openapi_document()?;
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
        Command::Apps { action } => apps(config, action, operator).await,
        Command::ApiKeys { action } => api_keys(config, action, operator).await,
        Command::Plans { action } => plans(config, action, operator).await,
        Command::Billing {
            action: BillingAction::Export { month, format },
        } => {
            let db = wekeza_store::connect(&config.database_url).await?;
            wekeza_store::migrate(&db).await?;
            let format = match format {
                FormatArg::Csv => ExportFormat::Csv,
                FormatArg::Json => ExportFormat::Json,
            };
            let exported = commerce::export(&db, &month, format, chrono::Utc::now()).await?;
            print!("{exported}");
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            let db = wekeza_store::connect(&config.database_url).await?;
            wekeza_store::migrate(&db).await?;
            let sealing = config.key_encryption_key()?;
            let kid =
                wekeza_identity::rotate_signing_key(&db, sealing.as_ref(), chrono::Utc::now())
                    .await?;
            println!("{kid}");
            let event = operator_event("keys rotate").detail("kid", kid.to_string());
            audit_operator(&db, operator, event).await
        }
        Command::Audit { action } => audit(config, action).await,
    }
}

/// The record of the operator command `command`, now.
fn operator_event(command: &str) -> AuditEvent {
    AuditEvent::new(AuditKind::Operator, command, Utc::now())
}

/// Appends `event`, by `operator`, to the audit trail, at once: a command runs once, in a
/// process of its own.
async fn audit_operator(
    db: &DatabaseConnection,
    operator: Option<String>,
    event: AuditEvent,
) -> anyhow::Result<()> {
    let event = event.detail_if("operator", operator);
    wekeza_store::audit::append(db, &[event])
        .await
        .context("the command succeeded, but could not be recorded in the audit trail")?;
    Ok(())
}

async fn audit(config: Config, action: AuditAction) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    match action {
        AuditAction::Verify => {
            let verification = wekeza_store::audit::verify(&db).await?;
            match verification.first_break {
                None => {
                    println!(
                        "audit trail verified: {} records, no broken link",
                        verification.records
                    );
                    Ok(())
                }
                Some(broken) => anyhow::bail!("audit trail broken: {broken}"),
            }
        }
        AuditAction::Export { since } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let page = wekeza_store::audit::since(&db, since, after, wekeza_store::audit::PAGE)
                    .await?;
                let Some(last) = page.last() else {
                    break;
                };
                after = last.seq;
                for record in &page {
                    writeln!(out, "{}", record.to_json())?;
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let public = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let admin = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.admin_listen))?;
    let database = config.database_for_display();
    let environment = config.env;
    let running = serve(config, public, admin, Options::default(), shutdown_signal()).await?;
    tracing::info!(
        public = %format!("http://{}", running.public_addr),
        admin = %format!("http://{}", running.admin_addr),
        %database,
        bus = running.event_bus,
        %environment,
        "wekeza is serving gRPC, gRPC-web and REST"
    );
    running.task.await??;
    tracing::info!("wekeza stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn sandbox(
    config: Config,
    action: SandboxAction,
    operator: Option<String>,
) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let anchor = seed::anchor_for(chrono::Utc::now());
    let command = match action {
        SandboxAction::Seed => {
            if !seed::is_empty(&db).await? {
                println!(
                    "the database already holds customers; use `wekeza sandbox reset` to start over"
                );
                return Ok(());
            }
            seed::seed(&db, anchor).await?;
            println!("seeded the sandbox test customers");
            "sandbox seed"
        }
        SandboxAction::Reset => {
            seed::reset_and_seed(&db, anchor).await?;
            println!("sandbox reset: test customers seeded again");
            "sandbox reset"
        }
    };
    audit_operator(&db, operator, operator_event(command)).await
}

/// The environment of the apps the platform serves: sandbox, or production.
fn platform_environment(config: &Config) -> AppEnvironment {
    if config.env.is_sandbox() {
        AppEnvironment::Sandbox
    } else {
        AppEnvironment::Production
    }
}

async fn apps(config: Config, action: AppsAction, operator: Option<String>) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let event = match action {
        AppsAction::Create {
            name,
            redirect_uris,
            scopes,
            json,
        } => create_app(&db, &config, name, redirect_uris, &scopes, json).await?,
        AppsAction::RegistrationToken {
            environment,
            ttl_hours,
            json,
        } => {
            let environment = environment.map_or_else(|| platform_environment(&config), From::from);
            registration_token(&db, environment, ttl_hours, json).await?
        }
        AppsAction::Plan { app_id, plan } => {
            println!(
                "{}",
                commerce::move_app(&db, &app_id, &plan, chrono::Utc::now()).await?
            );
            operator_event("apps plan")
                .detail("appId", app_id.clone())
                .detail("plan", plan.clone())
        }
    };
    audit_operator(&db, operator, event).await
}

async fn plans(
    config: Config,
    action: PlansAction,
    operator: Option<String>,
) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    match action {
        PlansAction::List { json } => {
            println!("{}", commerce::list_plans(&db, json).await?.trim_end());
            Ok(())
        }
        PlansAction::Set {
            plan,
            daily_limit,
            requests_per_minute,
            burst,
            monthly_price,
            overage_price,
        } => {
            let changes = TermChanges {
                daily_limit,
                requests_per_minute,
                burst,
                monthly_price,
                overage_price,
            };
            let printed = commerce::set_plan(&db, &plan, changes).await?;
            println!("{}", printed.trim_end());
            let event = operator_event("plans set")
                .detail("plan", plan)
                .detail("terms", printed.trim_end().to_owned());
            audit_operator(&db, operator, event).await
        }
    }
}

/// Creates the app and prints its credentials; answers the audit record of the command.
async fn create_app(
    db: &DatabaseConnection,
    config: &Config,
    name: String,
    redirect_uris: Vec<String>,
    scopes: &str,
    json: bool,
) -> anyhow::Result<AuditEvent> {
    let scopes = wekeza_domain::Scope::parse_list(scopes)?;
    let environment = platform_environment(config);
    let created = wekeza_store::apps::create(
        db,
        wekeza_store::apps::NewApp {
            name,
            redirect_uris,
            scopes: scopes.into_iter().collect(),
            environment,
            ..wekeza_store::apps::NewApp::default()
        },
        chrono::Utc::now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "appId": created.app.id.to_string(),
                "clientId": created.app.client_id,
                "clientSecret": created.client_secret,
                "apiKey": created.api_key.key,
                "scopes": created.app.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "environment": environment.as_str(),
            })
        );
    } else {
        println!("app id:        {}", created.app.id);
        println!("client id:     {}", created.app.client_id);
        println!("client secret: {}   (shown once)", created.client_secret);
        println!("API key:       {}   (shown once)", created.api_key.key);
    }
    Ok(operator_event("apps create")
        .app(Some(created.app.id.clone()))
        .detail("environment", environment.as_str())
        .detail(
            "scopes",
            created
                .app
                .scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect::<Vec<_>>(),
        ))
}

/// Issues an initial access token and prints it; answers the audit record of the command.
async fn registration_token(
    db: &DatabaseConnection,
    environment: AppEnvironment,
    ttl_hours: u16,
    json: bool,
) -> anyhow::Result<AuditEvent> {
    let issued = wekeza_store::identity::registration_tokens::issue(
        db,
        environment,
        chrono::Duration::hours(i64::from(ttl_hours)),
        chrono::Utc::now(),
        &mut wekeza_store::secret::os_rng(),
    )
    .await?;
    let expires_at = issued
        .record
        .expires_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "token": issued.token,
                "environment": environment.as_str(),
                "expiresAt": expires_at,
            })
        );
    } else {
        println!("initial access token: {}   (shown once)", issued.token);
        println!("environment:          {}", environment.as_str());
        println!("expires at:           {expires_at}");
        println!("register clients with POST /oauth2/register and Authorization: Bearer <token>");
    }
    Ok(operator_event("apps registration-token")
        .detail("environment", environment.as_str())
        .detail("expiresAt", expires_at))
}

/// One key as the CLI prints it: never the key itself.
fn key_json(key: &wekeza_store::api_keys::ApiKey) -> serde_json::Value {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    serde_json::json!({
        "apiKeyId": key.id.to_string(),
        "appId": key.app_id.to_string(),
        "displayName": key.display_name,
        "keyPrefix": key.key_prefix,
        "createTime": time(Some(key.created_at)),
        "lastUseTime": time(key.last_used_at),
        "revokeTime": time(key.revoked_at),
    })
}

/// Prints a key issued just now, with the key itself (shown once).
fn print_issued(issued: &wekeza_store::api_keys::IssuedApiKey, json: bool) {
    if json {
        let mut printed = key_json(&issued.record);
        printed["key"] = serde_json::Value::from(issued.key.clone());
        println!("{printed}");
    } else {
        println!("API key id: {}", issued.record.id);
        println!("API key:    {}   (shown once)", issued.key);
    }
}

async fn api_keys(
    config: Config,
    action: ApiKeysAction,
    operator: Option<String>,
) -> anyhow::Result<()> {
    use wekeza_store::api_keys;

    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let now = chrono::Utc::now();
    let app_of = async |app_id: &wekeza_domain::AppId| {
        wekeza_store::apps::find(&db, app_id)
            .await?
            .with_context(|| format!("no app {app_id}"))
    };
    let event = match action {
        ApiKeysAction::Create { app_id, name, json } => {
            let app = app_of(&app_id).await?;
            let mut rng = wekeza_store::secret::os_rng();
            let issued =
                api_keys::issue(&db, &app.id, app.environment, &name, now, &mut rng).await?;
            print_issued(&issued, json);
            operator_event("api-keys create")
                .detail("appId", app_id.to_string())
                .detail("apiKeyId", issued.record.id.to_string())
        }
        ApiKeysAction::List { app_id, json } => {
            app_of(&app_id).await?;
            let keys = api_keys::list(&db, &app_id).await?;
            if json {
                let keys: Vec<_> = keys.iter().map(key_json).collect();
                println!("{}", serde_json::Value::from(keys));
            } else {
                for key in &keys {
                    let state = if key.is_active(now) {
                        "active"
                    } else {
                        "revoked"
                    };
                    println!(
                        "{}  {}…  {state}  {}",
                        key.id, key.key_prefix, key.display_name
                    );
                }
            }
            return Ok(());
        }
        ApiKeysAction::Rotate {
            app_id,
            key_id,
            overlap_hours,
            json,
        } => {
            app_of(&app_id).await?;
            let until = now + chrono::Duration::hours(i64::from(overlap_hours));
            let mut rng = wekeza_store::secret::os_rng();
            let issued = api_keys::rotate(&db, &app_id, &key_id, until, now, &mut rng)
                .await?
                .with_context(|| format!("{app_id} has no working key {key_id}"))?;
            print_issued(&issued, json);
            operator_event("api-keys rotate")
                .detail("appId", app_id.to_string())
                .detail("apiKeyId", key_id.to_string())
                .detail("successorId", issued.record.id.to_string())
        }
        ApiKeysAction::Revoke { app_id, key_id } => {
            app_of(&app_id).await?;
            if !api_keys::revoke(&db, &app_id, &key_id, now).await? {
                anyhow::bail!("{app_id} has no working key {key_id}");
            }
            println!("revoked {key_id}");
            operator_event("api-keys revoke")
                .detail("appId", app_id.to_string())
                .detail("apiKeyId", key_id.to_string())
        }
    };
    audit_operator(&db, operator, event).await
}
