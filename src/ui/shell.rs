//! The seam between the window and the desk: it owns the desk on the UI
//! thread, wires every adapter's callbacks, routes finished scans to the
//! screen on show, and refreshes the figures once a second.
//!
//! Every desk call here is one local transaction at most; the network is
//! only reached from the sync engine's tokio runtime.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::Duration;

use std::time::Instant;

use slint::{ComponentHandle, Timer, TimerMode};

use super::camera::{CameraLink, CameraStarter};
use super::text::tr;
use super::tone::{Tone, ToneSink};
use super::{
    AppState, AppWindow, OutcomeKind, Page, ScanInput, ScanKey, classify_key, drop_adapter,
    handover_adapter, home_adapter, language, receive_adapter, returns_adapter, settings_adapter,
    sign_in_adapter, stocktake_adapter,
};
use crate::config::Config;
use crate::desk::Desk;
use crate::scan::{AssembledScan, Scan, ScanAssembler, ScanKind, WedgeConfig};
use crate::sync::SyncHandle;

/// Dependencies of the screens besides the window.
pub struct Context {
    pub desk: Desk,
    /// The settings in effect, and the file the Settings screen saves to.
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub sync: Option<SyncHandle>,
    pub runtime: Option<tokio::runtime::Handle>,
    pub sync_config: crate::sync::SyncConfig,
    pub wedge: WedgeConfig,
    /// Plays tones on the audio output; false only records them, as tests do.
    pub play_tones: bool,
    /// Starts the camera for pickup codes; `None` opens the first V4L2
    /// camera.
    pub camera: Option<CameraStarter>,
}

/// Shared state of the wired window.
pub struct Shell {
    pub window: slint::Weak<AppWindow>,
    pub desk: RefCell<Desk>,
    pub sync: Option<SyncHandle>,
    pub runtime: Option<tokio::runtime::Handle>,
    pub sync_config: crate::sync::SyncConfig,
    pub config: RefCell<Config>,
    pub config_path: Option<PathBuf>,
    pub tones: ToneSink,
    pub camera: CameraLink,
    assembler: RefCell<ScanAssembler>,
    /// Text typed by the scanner since the last finished scan, for the echo.
    echo: RefCell<String>,
    idle_timer: Timer,
    pub receive: RefCell<receive_adapter::ReceiveState>,
    pub handover: RefCell<handover_adapter::HandoverState>,
    pub returns: RefCell<returns_adapter::ReturnsState>,
    refresh_timer: Timer,
}

impl Shell {
    /// Wires `app` to the desk and shows the first screen: home when an
    /// operator is signed in, sign-in otherwise, in the language of
    /// `ui.language`.
    pub fn install(app: &AppWindow, context: Context) -> Rc<Shell> {
        language::apply(&context.config.ui.language);
        let mut desk = context.desk;
        if let Some(sync) = &context.sync {
            desk.set_on_event(sync.notifier());
        }
        let shell = Rc::new(Shell {
            window: app.as_weak(),
            desk: RefCell::new(desk),
            sync: context.sync,
            runtime: context.runtime,
            sync_config: context.sync_config,
            config: RefCell::new(context.config),
            config_path: context.config_path,
            tones: if context.play_tones { ToneSink::with_audio() } else { ToneSink::default() },
            camera: CameraLink::new(context.camera),
            assembler: RefCell::new(ScanAssembler::new(context.wedge)),
            echo: RefCell::new(String::new()),
            idle_timer: Timer::default(),
            receive: RefCell::default(),
            handover: RefCell::default(),
            returns: RefCell::default(),
            refresh_timer: Timer::default(),
        });
        wire_app_state(app, &shell);
        wire_scan_input(app, &shell);
        sign_in_adapter::wire(app, &shell);
        home_adapter::wire(app, &shell);
        receive_adapter::wire(app, &shell);
        drop_adapter::wire(app, &shell);
        handover_adapter::wire(app, &shell);
        returns_adapter::wire(app, &shell);
        stocktake_adapter::wire(app, &shell);
        settings_adapter::wire(app, &shell);
        receive_adapter::reset(app);
        handover_adapter::reset(app, &shell);
        let signed_in = shell.desk.borrow().current_operator().ok().flatten().is_some();
        shell.open(app, if signed_in { Page::Home } else { Page::SignIn });
        shell.refresh(app);
        start_refresh_timer(&shell);
        shell
    }

    /// Shows `page`, preparing what it lists.
    pub fn open(&self, app: &AppWindow, page: Page) {
        self.camera.stop();
        match page {
            Page::Receive => {
                *self.receive.borrow_mut() = receive_adapter::ReceiveState::default();
                receive_adapter::reset(app);
                drop_adapter::load(app, self);
            }
            Page::Handover => handover_adapter::reset(app, self),
            Page::Returns => returns_adapter::load(app, self),
            Page::Stocktake => stocktake_adapter::load(app, self),
            Page::Problems => home_adapter::load_problems(app, self),
            Page::Settings => settings_adapter::load(app, self),
            Page::SignIn => sign_in_adapter::reset(app),
            Page::Home => {}
        }
        app.global::<AppState>().set_page(page);
        self.refresh(app);
    }

    /// Updates the figures every screen shows, and returns to sign-in when
    /// the shift has ended.
    pub fn refresh(&self, app: &AppWindow) {
        let status = match self.desk.borrow().status() {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, "ui: reading the status failed");
                return;
            }
        };
        home_adapter::show_status(app, &status);
        handover_adapter::show_lock(app, self, status.code_entry_locked_s);
        let page = app.global::<AppState>().get_page();
        if status.operator.is_none() && page != Page::SignIn {
            app.global::<AppState>().set_page(Page::SignIn);
        }
    }

    /// Plays the tone of an outcome.
    pub fn tone_for(&self, kind: OutcomeKind) {
        match kind {
            OutcomeKind::Success => self.tones.play(Tone::Success),
            OutcomeKind::Warning => self.tones.play(Tone::Warning),
            OutcomeKind::Error => self.tones.play(Tone::Error),
            OutcomeKind::None => {}
        }
    }

    /// Handles one finished scan on the screen on show.
    pub fn dispatch_scan(&self, app: &AppWindow, scan: &Scan) {
        let page = app.global::<AppState>().get_page();
        match page {
            Page::Receive => receive_adapter::on_scan(app, self, scan),
            Page::Handover => handover_adapter::on_scan(app, self, &scan.text),
            Page::Returns => returns_adapter::on_scan(app, self, &scan.text),
            Page::Stocktake => stocktake_adapter::on_scan(app, self, &scan.text),
            page => {
                tracing::debug!(?page, kind = ?scan.kind, "ui: scan ignored on a page without a scan field")
            }
        }
        self.refresh(app);
    }

    /// Shows a scan that failed validation on the screen on show.
    fn reject_scan(&self, app: &AppWindow, error: &crate::scan::ScanError) {
        match app.global::<AppState>().get_page() {
            Page::Receive => receive_adapter::show_invalid(app, self, &error.to_string()),
            Page::Handover => handover_adapter::show_invalid(app, self, &error.to_string()),
            Page::Returns => returns_adapter::show_invalid(app, self, &error.to_string()),
            Page::Stocktake => stocktake_adapter::show_invalid(app, self, &error.to_string()),
            _ => {}
        }
    }

    fn handle(&self, app: &AppWindow, results: Vec<AssembledScan>) {
        for result in results {
            self.echo.borrow_mut().clear();
            match result {
                AssembledScan::Accepted(scan) => self.dispatch_scan(app, &scan),
                AssembledScan::Repeated(scan) => {
                    tracing::debug!(kind = ?scan.kind, "ui: repeated read ignored");
                }
                AssembledScan::Rejected(error) => self.reject_scan(app, &error),
            }
        }
    }

    /// Feeds one key event of the scanner to the assembler.
    pub fn key(self: &Rc<Shell>, app: &AppWindow, text: &str) {
        let now = Instant::now();
        let keys: Vec<char> = match classify_key(text) {
            ScanKey::Text(text) => {
                self.echo.borrow_mut().push_str(&text);
                text.chars().collect()
            }
            ScanKey::Terminator => vec!['\n'],
            ScanKey::Ignored => Vec::new(),
        };
        for key in keys {
            let results = self.assembler.borrow_mut().feed(key, now);
            self.handle(app, results);
        }
        app.global::<ScanInput>().set_echo(self.echo.borrow().as_str().into());
        self.arm_idle_flush();
    }

    /// Accepts a scan without a terminator once the scanner has gone quiet,
    /// for scanners configured to send none.
    fn arm_idle_flush(self: &Rc<Shell>) {
        if !self.assembler.borrow().has_pending() {
            return;
        }
        let weak = Rc::downgrade(self);
        let delay = self.assembler.borrow().config().idle_flush;
        self.idle_timer.start(TimerMode::SingleShot, delay, move || {
            with(&weak, |app, shell| {
                let flushed = shell.assembler.borrow_mut().flush(Instant::now());
                shell.handle(app, flushed.into_iter().collect());
                app.global::<ScanInput>().set_echo(shell.echo.borrow().as_str().into());
            });
        });
    }
}

/// Returns the receive screen's message for a scan that is no parcel.
pub fn not_a_parcel(scan: &Scan) -> Option<String> {
    match scan.kind {
        ScanKind::PickupCode => Some(tr("This is a pickup code: open Hand over to use it")),
        ScanKind::Product => {
            Some(tr("This is a product barcode, not a parcel label: scan the courier label"))
        }
        ScanKind::Gs1 => {
            Some(tr("This is a GS1 product label, not a parcel label: scan the courier label"))
        }
        _ => None,
    }
}

/// Calls `action` with the window and the shell, if both still exist.
pub fn with<F>(shell: &Weak<Shell>, action: F)
where
    F: FnOnce(&AppWindow, &Shell),
{
    let Some(shell) = shell.upgrade() else { return };
    let Some(app) = shell.window.upgrade() else { return };
    action(&app, &shell);
}

fn wire_app_state(app: &AppWindow, shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    app.global::<AppState>()
        .on_navigate(move |page| with(&weak, |app, shell| shell.open(app, page)));
    let weak = Rc::downgrade(shell);
    app.global::<AppState>().on_sign_out(move || {
        with(&weak, |app, shell| {
            if let Err(error) = shell.desk.borrow_mut().sign_out() {
                tracing::warn!(%error, "ui: sign-out failed");
            }
            shell.open(app, Page::SignIn);
        })
    });
}

fn wire_scan_input(app: &AppWindow, shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    app.global::<ScanInput>().on_key(move |text| {
        let Some(shell) = weak.upgrade() else { return };
        let Some(app) = shell.window.upgrade() else { return };
        shell.key(&app, &text);
    });
}

fn start_refresh_timer(shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    shell.refresh_timer.start(TimerMode::Repeated, Duration::from_secs(1), move || {
        with(&weak, |app, shell| shell.refresh(app));
    });
}
