//! Starting the clerk's screen: settings, the embedded demo when no real
//! backend is configured, the sync engine on its own runtime, then the
//! window's event loop.

use std::time::Duration;

use slint::ComponentHandle;
use slint::winit_030::{EventResult, WinitWindowAccessor, winit};

use super::{AppWindow, Context, Shell};
use crate::cli::{self, Cli};
use crate::desk::{Desk, DeskError};
use crate::store::credentials::Credentials;
use crate::sync::SyncHandle;
use crate::{demo, scan};

/// Time between two purges of old parcels while the app runs; the first
/// purge is at start-up.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Runs the app until its window closes and returns the exit status.
pub fn run(cli: &Cli) -> i32 {
    let config = cli::load_config(cli);
    cli::start_logging(cli, config.as_ref().ok(), "info", true);
    match config.map_err(anyhow_from_desk).and_then(|config| run_app(cli, &config)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            tracing::error!(error = %format!("{error:#}"), "app: stopped");
            1
        }
    }
}

/// True when this start should run the embedded demo: no backend on the
/// command line or in the settings, and no enrolment with a real store.
fn wants_demo(cli: &Cli, config: &crate::config::Config, enrolled: Option<&Credentials>) -> bool {
    let configured = cli.backend.is_some() || config.backend.url.is_some();
    let real_enrolment =
        enrolled.is_some_and(|credentials| credentials.store_id != demo::DEMO_STORE);
    !configured && !real_enrolment
}

fn run_app(cli: &Cli, config: &crate::config::Config) -> anyhow::Result<()> {
    let data_dir = cli::data_dir(cli)?;
    // Opening the desk first migrates the database, so a failed migration
    // stops the start before any server or window is up.
    let mut desk = Desk::open(&data_dir, config.desk_config()).map_err(anyhow_from_desk)?;
    purge_old_parcels(&mut desk);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sync")
        .enable_all()
        .build()?;
    std::fs::create_dir_all(&data_dir)?;
    let enrolled = Credentials::load(&data_dir)?;

    let demo = if wants_demo(cli, config, enrolled.as_ref()) {
        let demo = runtime.block_on(demo::start(&data_dir))?;
        // The address carries the admin token, so it goes to stderr only.
        tracing::info!(addr = %demo.backend.addr(), "demo: backend started");
        eprintln!("demo: admin page at {}", demo.admin_url());
        Some(demo)
    } else {
        point_at_backend(cli, &data_dir, enrolled)?;
        None
    };

    let sync = SyncHandle::spawn(runtime.handle(), data_dir.clone(), config.sync_config());
    let app = AppWindow::new()?;
    let size = slint::LogicalSize::new(config.screen.width as f32, config.screen.height as f32);
    app.window().set_size(size);
    let wedge = scan::WedgeConfig {
        prefixes: config.scanner.prefixes.clone(),
        suffixes: config.scanner.suffixes.clone(),
        blanking: std::time::Duration::from_millis(u64::from(config.scanner.blanking_ms)),
        ..scan::WedgeConfig::default()
    };
    let config_path = cli.config.clone().or_else(crate::config::Config::default_path);
    let context = Context {
        desk,
        config: config.clone(),
        config_path,
        sync: Some(sync),
        runtime: Some(runtime.handle().clone()),
        sync_config: config.sync_config(),
        wedge,
        play_tones: true,
        camera: None,
    };
    let shell = Shell::install(&app, context);
    let purge_timer = slint::Timer::default();
    let weak_shell = std::rc::Rc::downgrade(&shell);
    purge_timer.start(slint::TimerMode::Repeated, PURGE_INTERVAL, move || {
        let Some(shell) = weak_shell.upgrade() else { return };
        match shell.desk.try_borrow_mut() {
            Ok(mut desk) => purge_old_parcels(&mut desk),
            Err(_) => tracing::warn!("app: desk busy, purge of old parcels left for the next day"),
        }
    });
    quit_when_window_destroyed(&app);
    tracing::info!(data_dir = %data_dir.display(), "app: window open");
    app.run()?;
    tracing::info!("app: window closed");
    // Every clerk action was committed when it happened, so stopping here
    // loses nothing: the queue stays in the database for the next start.
    drop(shell);
    if let Some(demo) = demo {
        runtime.block_on(demo.shutdown());
    }
    runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    tracing::info!("app: stopped");
    Ok(())
}

/// How long the sync runtime may take to finish a request in flight when
/// the app stops.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Ends the event loop when the display server destroys the window. Without
/// a window manager, closing a window destroys it and no close request
/// arrives, so the event loop would otherwise run on with no window.
fn quit_when_window_destroyed(app: &AppWindow) {
    app.window().on_winit_window_event(|_, event| {
        if matches!(event, winit::event::WindowEvent::Destroyed) {
            tracing::info!("app: window destroyed by the display server");
            if let Err(error) = slint::quit_event_loop() {
                tracing::warn!(%error, "app: stopping the event loop failed");
            }
        }
        EventResult::Propagate
    });
}

/// Points an enrolled terminal at the backend named on the command line or
/// in the settings, keeping its enrolment.
fn point_at_backend(
    cli: &Cli,
    data_dir: &std::path::Path,
    enrolled: Option<Credentials>,
) -> anyhow::Result<()> {
    let Some(url) = cli.backend.clone() else { return Ok(()) };
    match enrolled {
        Some(mut credentials) if credentials.backend_url != url => {
            credentials.backend_url = url;
            credentials.save(data_dir)?;
        }
        Some(_) => {}
        None => tracing::warn!("app: not enrolled; enrol in Settings to reach {url}"),
    }
    Ok(())
}

/// Purges old parcels, logging a failure instead of stopping the app: the
/// parcels stay until the next purge.
fn purge_old_parcels(desk: &mut Desk) {
    if let Err(error) = desk.purge_expired() {
        tracing::warn!(%error, "app: purging old parcels failed");
    }
}

fn anyhow_from_desk(error: DeskError) -> anyhow::Error {
    anyhow::anyhow!(error.to_string())
}
