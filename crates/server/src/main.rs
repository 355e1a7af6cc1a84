//! The `wekeza` command line: `serve`, `migrate`, `sandbox seed|reset`,
//! `apps create|registration-token|plan`, `plans list|set`, `billing export`, `keys rotate`,
//! `openapi`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use wekeza_sandbox_bank::seed;
use wekeza_server::commerce::{self, ExportFormat, TermChanges};
use wekeza_server::config::Config;
use wekeza_server::{Options, serve, telemetry};
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
    /// The authorization server's token-signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
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
    let mut config = Config::load(env)?;
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
            Ok(())
        }
        Command::Sandbox { action } => sandbox(config, action).await,
        Command::Openapi => {
            let document = wekeza_server::app::openapi_document()?;
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
        Command::Apps { action } => apps(config, action).await,
        Command::Plans { action } => plans(config, action).await,
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

async fn sandbox(config: Config, action: SandboxAction) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let anchor = seed::anchor_for(chrono::Utc::now());
    match action {
        SandboxAction::Seed => {
            if seed::is_empty(&db).await? {
                seed::seed(&db, anchor).await?;
                println!("seeded the sandbox test customers");
            } else {
                println!(
                    "the database already holds customers; use `wekeza sandbox reset` to start over"
                );
            }
        }
        SandboxAction::Reset => {
            seed::reset_and_seed(&db, anchor).await?;
            println!("sandbox reset: test customers seeded again");
        }
    }
    Ok(())
}

/// The environment of the apps the platform serves: sandbox, or production.
fn platform_environment(config: &Config) -> AppEnvironment {
    if config.env.is_sandbox() {
        AppEnvironment::Sandbox
    } else {
        AppEnvironment::Production
    }
}

async fn apps(config: Config, action: AppsAction) -> anyhow::Result<()> {
    match action {
        AppsAction::Create {
            name,
            redirect_uris,
            scopes,
            json,
        } => create_app(config, name, redirect_uris, &scopes, json).await,
        AppsAction::RegistrationToken {
            environment,
            ttl_hours,
            json,
        } => {
            let environment = environment.map_or_else(|| platform_environment(&config), From::from);
            registration_token(config, environment, ttl_hours, json).await
        }
        AppsAction::Plan { app_id, plan } => {
            let db = wekeza_store::connect(&config.database_url).await?;
            wekeza_store::migrate(&db).await?;
            println!(
                "{}",
                commerce::move_app(&db, &app_id, &plan, chrono::Utc::now()).await?
            );
            Ok(())
        }
    }
}

async fn plans(config: Config, action: PlansAction) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let printed = match action {
        PlansAction::List { json } => commerce::list_plans(&db, json).await?,
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
            commerce::set_plan(&db, &plan, changes).await?
        }
    };
    println!("{}", printed.trim_end());
    Ok(())
}

async fn create_app(
    config: Config,
    name: String,
    redirect_uris: Vec<String>,
    scopes: &str,
    json: bool,
) -> anyhow::Result<()> {
    let scopes = wekeza_domain::Scope::parse_list(scopes)?;
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let environment = platform_environment(&config);
    let created = wekeza_store::apps::create(
        &db,
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
    Ok(())
}

async fn registration_token(
    config: Config,
    environment: AppEnvironment,
    ttl_hours: u16,
    json: bool,
) -> anyhow::Result<()> {
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let issued = wekeza_store::identity::registration_tokens::issue(
        &db,
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
    Ok(())
}
