//! `mall-backend`: the reference mall backend for pickup terminals.
//!
//! `mall-backend seed --db mall.db --store S001 --parcels 20` creates a demo
//! manifest, `mall-backend enroll --db mall.db --store S001` prints a
//! one-time enrolment token, and `mall-backend serve --listen
//! 127.0.0.1:8080 --db mall.db` serves the protocol and the admin page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pickup_terminal::backend::{self, BackendConfig, RateLimit};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "mall-backend", version, about = "Reference mall backend for pickup terminals")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync protocol and the admin page until Ctrl-C or SIGTERM.
    Serve {
        /// Address to listen on, for example 127.0.0.1:8080.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// SQLite database file; created when missing.
        #[arg(long)]
        db: PathBuf,
        /// Token for the admin page and API. When absent, a random one is
        /// generated and printed with the admin page address.
        #[arg(long, env = "MALL_BACKEND_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Requests per second each terminal may make on average; it may
        /// make twice as many at once after being idle. 1 to 10000.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        rate_limit: u32,
        /// PEM certificate chain to serve https with; needs --tls-key.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Announce a deterministic demo manifest to a store.
    Seed {
        /// SQLite database file; created when missing.
        #[arg(long)]
        db: PathBuf,
        /// Store id: 1 to 32 letters, digits, '-' or '_'.
        #[arg(long)]
        store: String,
        /// Number of parcels in the manifest, at most 100000.
        #[arg(long)]
        parcels: usize,
        /// Seed of the generator; the same seed gives the same manifest.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Create a one-time enrolment token for a store and print it.
    Enroll {
        /// SQLite database file; created when missing.
        #[arg(long)]
        db: PathBuf,
        /// Store id: 1 to 32 letters, digits, '-' or '_'.
        #[arg(long)]
        store: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mall-backend: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, db, admin_token, rate_limit, tls_cert, tls_key } => {
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| backend::TlsFiles { cert, key });
            serve(listen, db, admin_token, rate_limit, tls)
        }
        Command::Seed { db, store, parcels, seed } => {
            let manifest = backend::seed(&db, &store, parcels, seed)?;
            println!("store {store}: {} parcels in the manifest", manifest.len());
            Ok(())
        }
        Command::Enroll { db, store } => {
            let token = backend::create_enrolment(&db, &store)?;
            println!("{token}");
            Ok(())
        }
    }
}

fn serve(
    listen: SocketAddr,
    db: PathBuf,
    admin_token: Option<String>,
    rate_limit: u32,
    tls: Option<backend::TlsFiles>,
) -> anyhow::Result<()> {
    let generated = admin_token.is_none();
    let admin_token = admin_token.unwrap_or_else(generate_admin_token);
    let runtime = tokio::runtime::Runtime::new().context("failed to start the tokio runtime")?;
    runtime.block_on(async move {
        let mut config = BackendConfig { tls, ..BackendConfig::new(db, listen, admin_token) };
        config.rate_limit =
            RateLimit { per_second: f64::from(rate_limit), burst: rate_limit.saturating_mul(2) };
        let running = backend::start(config).await?;
        // A chosen token stays off the console, because consoles end up in
        // logs. A generated token is printed because it exists nowhere else.
        if generated {
            println!("admin token generated (set MALL_BACKEND_ADMIN_TOKEN to choose one)");
            println!("admin page: {}", running.admin_url());
        } else {
            println!("admin page: {}/admin?token=<admin token>", running.base_url());
        }
        println!("terminal API: {}/v1", running.base_url());
        wait_for_stop_signal().await?;
        running.shutdown().await;
        Ok(())
    })
}

/// Waits for Ctrl-C, or on Unix also for SIGTERM (what service managers
/// send), so either stops the server gracefully.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("failed to watch SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("failed to wait for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("failed to wait for Ctrl-C")?;
    Ok(())
}

fn generate_admin_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
