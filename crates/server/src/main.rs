//! The `wekeza` command line: `serve`, `migrate`, `sandbox seed|reset`, `apps create`, `openapi`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use wekeza_server::config::{Config, ProcessEnv};
use wekeza_server::{Options, serve, telemetry};

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
        /// Admin listener (/healthz, /readyz).
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(&ProcessEnv)?;
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
    let anchor = wekeza_ledger::seed::anchor_for(chrono::Utc::now());
    match action {
        SandboxAction::Seed => {
            if wekeza_ledger::seed::is_empty(&db).await? {
                wekeza_ledger::seed::seed(&db, anchor).await?;
                println!("seeded the sandbox test customers");
            } else {
                println!(
                    "the database already holds customers; use `wekeza sandbox reset` to start over"
                );
            }
        }
        SandboxAction::Reset => {
            wekeza_ledger::seed::reset_and_seed(&db, anchor).await?;
            println!("sandbox reset: test customers seeded again");
        }
    }
    Ok(())
}

async fn apps(config: Config, action: AppsAction) -> anyhow::Result<()> {
    let AppsAction::Create {
        name,
        redirect_uris,
        scopes,
        json,
    } = action;
    let scopes = wekeza_domain::Scope::parse_list(&scopes)?;
    let db = wekeza_store::connect(&config.database_url).await?;
    wekeza_store::migrate(&db).await?;
    let environment = if config.env.is_sandbox() {
        wekeza_store::apps::AppEnvironment::Sandbox
    } else {
        wekeza_store::apps::AppEnvironment::Production
    };
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
