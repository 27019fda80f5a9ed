//! The embedded demo: a reference backend in this process, on a loopback
//! port, with a seeded demo store, an enrolled terminal and a signed-in demo
//! operator, so the app is usable with no set-up at all.
//!
//! Everything lives under `<data dir>/demo/`: the backend's database and a
//! small state file with the port and admin token, so a restart reuses both
//! and the terminal's enrolment stays valid.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendConfig, RunningBackend};
use crate::desk::{Desk, DeskConfig};
use crate::store::credentials::Credentials;
use crate::sync::{self, SyncConfig};

/// Store id of the demo store.
pub const DEMO_STORE: &str = "DEMO-001";
/// Operator id and PIN of the demo clerk.
pub const DEMO_OPERATOR: &str = "demo";
pub const DEMO_PIN: &str = "0000";
/// Number of parcels in the seeded manifest.
pub const DEMO_PARCELS: usize = 20;

#[derive(Debug, Serialize, Deserialize)]
struct DemoState {
    port: u16,
    admin_token: String,
}

/// The running demo backend; dropping it does not stop the server, call
/// [`Demo::shutdown`].
pub struct Demo {
    pub backend: RunningBackend,
}

impl Demo {
    /// Returns the admin page address, token included.
    pub fn admin_url(&self) -> String {
        self.backend.admin_url()
    }

    pub async fn shutdown(self) {
        self.backend.shutdown().await;
    }
}

fn demo_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("demo")
}

fn load_state(path: &Path) -> Option<DemoState> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn save_state(path: &Path, state: &DemoState) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(state)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Starts the demo backend on its earlier port when that port is free, else
/// on a new one.
async fn start_backend(dir: &Path) -> anyhow::Result<RunningBackend> {
    let state_path = dir.join("demo.json");
    let previous = load_state(&state_path);
    let admin_token = previous.as_ref().map(|s| s.admin_token.clone()).unwrap_or_else(random_token);
    let db_path = dir.join("backend.sqlite");
    let config_for = |port| {
        BackendConfig::new(
            db_path.clone(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            admin_token.clone(),
        )
    };
    let running = match previous.as_ref().map(|s| s.port) {
        Some(port) if port != 0 => match backend::start(config_for(port)).await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(port, %error, "demo: earlier port is taken, using a new one");
                backend::start(config_for(0)).await?
            }
        },
        _ => backend::start(config_for(0)).await?,
    };
    save_state(&state_path, &DemoState { port: running.addr().port(), admin_token })?;
    Ok(running)
}

/// Starts the demo: backend, seeded store, enrolment and demo operator.
pub async fn start(data_dir: &Path) -> anyhow::Result<Demo> {
    let dir = demo_dir(data_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let running = start_backend(&dir).await?;
    backend::seed(running.db_path(), DEMO_STORE, DEMO_PARCELS, 1)?;
    enrol_if_needed(data_dir, &running).await?;
    prepare_operator(data_dir)?;
    Ok(Demo { backend: running })
}

/// Enrols the terminal with the demo backend, or points existing credentials
/// at the backend's current address.
async fn enrol_if_needed(data_dir: &Path, running: &RunningBackend) -> anyhow::Result<()> {
    let base_url = running.base_url();
    match Credentials::load(data_dir)? {
        Some(mut credentials) if credentials.store_id == DEMO_STORE => {
            if credentials.backend_url != base_url {
                credentials.backend_url = base_url;
                credentials.save(data_dir)?;
            }
        }
        _ => {
            let token = backend::create_enrolment(running.db_path(), DEMO_STORE)?;
            sync::enroll(data_dir, &base_url, &token, &SyncConfig::default()).await?;
        }
    }
    Ok(())
}

/// Creates the demo operator on first start and signs them in when no operator is.
fn prepare_operator(data_dir: &Path) -> anyhow::Result<()> {
    let mut desk = Desk::open(data_dir, DeskConfig::default())?;
    if !desk.operators()?.iter().any(|(id, _)| id == DEMO_OPERATOR) {
        desk.add_operator(DEMO_OPERATOR, "Demo Clerk", DEMO_PIN)?;
    }
    if desk.current_operator()?.is_none() {
        desk.sign_in(DEMO_OPERATOR, DEMO_PIN)?;
    }
    Ok(())
}
