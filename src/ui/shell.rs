//! The seam between the window and the desk: it owns the desk on the UI
//! thread, wires every adapter's callbacks, routes finished scans to the
//! screen on show, and refreshes the figures once a second.
//!
//! Every desk call here is one local transaction at most; the network is
//! only reached from the sync engine's tokio runtime.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use slint::{ComponentHandle, Timer, TimerMode};

use super::tone::{Tone, ToneSink};
use super::{
    AppState, AppWindow, OutcomeKind, Page, ScanInput, ScanKey, classify_key, handover_adapter,
    home_adapter, receive_adapter, returns_adapter, settings_adapter, sign_in_adapter,
};
use crate::desk::Desk;
use crate::sync::SyncHandle;

/// What the screens need besides the window.
pub struct Context {
    pub desk: Desk,
    pub sync: Option<SyncHandle>,
    pub runtime: Option<tokio::runtime::Handle>,
    pub sync_config: crate::sync::SyncConfig,
}

/// Shared state of the wired window.
pub struct Shell {
    pub window: slint::Weak<AppWindow>,
    pub desk: RefCell<Desk>,
    pub sync: Option<SyncHandle>,
    pub runtime: Option<tokio::runtime::Handle>,
    pub sync_config: crate::sync::SyncConfig,
    pub tones: ToneSink,
    scan_buffer: RefCell<String>,
    pub receive: RefCell<receive_adapter::ReceiveState>,
    pub handover: RefCell<handover_adapter::HandoverState>,
    pub returns: RefCell<returns_adapter::ReturnsState>,
    refresh_timer: Timer,
}

impl Shell {
    /// Wires `app` to the desk and shows the first screen: home when an
    /// operator is signed in, sign-in otherwise.
    pub fn install(app: &AppWindow, context: Context) -> Rc<Shell> {
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
            tones: ToneSink::default(),
            scan_buffer: RefCell::new(String::new()),
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
        handover_adapter::wire(app, &shell);
        returns_adapter::wire(app, &shell);
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
        match page {
            Page::Receive => receive_adapter::reset(app),
            Page::Handover => handover_adapter::reset(app, self),
            Page::Returns => returns_adapter::load(app, self),
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
        handover_adapter::show_lock(app, status.code_entry_locked_s);
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
    pub fn dispatch_scan(&self, app: &AppWindow, text: &str) {
        match app.global::<AppState>().get_page() {
            Page::Receive => receive_adapter::on_scan(app, self, text),
            Page::Handover => handover_adapter::on_scan(app, self, text),
            Page::Returns => returns_adapter::on_scan(app, self, text),
            page => tracing::debug!(?page, "ui: scan ignored on a page without a scan field"),
        }
        self.refresh(app);
    }

    /// Feeds one key event of the scanner; a terminator finishes the scan.
    pub fn key(&self, app: &AppWindow, text: &str) {
        match classify_key(text) {
            ScanKey::Text(text) => self.scan_buffer.borrow_mut().push_str(&text),
            ScanKey::Terminator => {
                let scan = std::mem::take(&mut *self.scan_buffer.borrow_mut());
                if !scan.trim().is_empty() {
                    self.dispatch_scan(app, &scan);
                }
            }
            ScanKey::Ignored => {}
        }
        app.global::<ScanInput>().set_echo(self.scan_buffer.borrow().as_str().into());
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
    app.global::<AppState>().on_navigate(move |page| with(&weak, |app, shell| shell.open(app, page)));
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
    app.global::<ScanInput>().on_key(move |text| with(&weak, |app, shell| shell.key(app, &text)));
}

fn start_refresh_timer(shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    shell.refresh_timer.start(TimerMode::Repeated, Duration::from_secs(1), move || {
        with(&weak, |app, shell| shell.refresh(app));
    });
}
