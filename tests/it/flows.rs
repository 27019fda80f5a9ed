//! The clerk's flows on the headless window, wired to a real desk on a
//! SQLite file and a real backend on loopback. Each test finds elements by
//! accessible label, taps and types as a clerk and a scanner would, and
//! checks the screen and the database. The counts of taps and scans each
//! flow takes are checked too, because at a busy counter each one costs time.

use std::rc::Rc;
use std::time::Duration;

use pickup_terminal::scan::WedgeConfig;
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::sync::SyncConfig;
use pickup_terminal::ui::{
    AppState, AppWindow, Context, HandoverAdapter, HandoverStep, Page, ReceiveAdapter, Shell,
    tone::Tone,
};
use slint::{ComponentHandle, Model};

use crate::screens::{find, init_backend, press, type_keys};
use crate::sync::Setup;

/// A window wired to the terminal of `setup`, counting taps and scans.
struct Counter {
    app: AppWindow,
    shell: Rc<Shell>,
    taps: u32,
    scans: u32,
}

impl Counter {
    fn new(setup: &Setup) -> Counter {
        init_backend();
        let app = AppWindow::new().unwrap();
        app.window().set_size(slint::PhysicalSize::new(480, 800));
        let context = Context {
            desk: setup.desk(),
            sync: None,
            runtime: None,
            sync_config: SyncConfig::default(),
            wedge: WedgeConfig::default(),
        };
        let shell = Shell::install(&app, context);
        app.show().unwrap();
        Counter { app, shell, taps: 0, scans: 0 }
    }

    fn tap(&mut self, label: &str) {
        press(&self.app, label);
        self.taps += 1;
    }

    /// Types `text` then Enter, as a keyboard-wedge scanner does. Waits out
    /// the blanking window first, so a deliberate repeat is not dropped.
    fn scan(&mut self, text: &str) {
        std::thread::sleep(Duration::from_millis(320));
        let keys: Vec<String> = text.chars().map(String::from).chain(["\n".to_owned()]).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        type_keys(&self.app, &keys);
        self.scans += 1;
    }

    fn page(&self) -> Page {
        self.app.global::<AppState>().get_page()
    }

    fn receive_title(&self) -> String {
        self.app.global::<ReceiveAdapter>().get_outcome_title().to_string()
    }

    fn handover(&self) -> HandoverAdapter<'_> {
        self.app.global::<HandoverAdapter>()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

fn state_of(setup: &Setup, barcode: &str) -> ParcelState {
    setup.desk().parcel(barcode).unwrap().unwrap().state
}

#[test]
fn receive_takes_one_tap_and_one_scan() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    assert_eq!(window.page(), Page::Home);

    window.tap("go receive");
    window.scan("JJD0001");
    assert_eq!(window.receive_title(), "Received");
    assert_eq!(find(&window.app, "card barcode").accessible_value().unwrap(), "JJD0001");
    assert_eq!(window.shell.tones.last(), Some(Tone::Success));
    assert_eq!((window.taps, window.scans), (1, 1));
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::Received);
    assert_eq!(setup.desk().queue().unwrap().len(), 1);
}

#[test]
fn repeated_scan_says_already_received() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("JJD0001");
    window.scan("JJD0001");
    assert_eq!(window.receive_title(), "Already received");
    let detail = window.app.global::<ReceiveAdapter>().get_outcome_detail().to_string();
    assert!(detail.contains("by clerk"), "{detail}");
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
    assert_eq!(setup.desk().queue().unwrap().len(), 1);
}

#[test]
fn invalid_and_wrong_kind_scans_differ() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("RA123456789CN");
    assert_eq!(window.receive_title(), "Invalid scan");
    window.scan("123456");
    assert_eq!(window.receive_title(), "Not a parcel");
    window.scan("PKG-77");
    assert_eq!(window.receive_title(), "Received, unexpected");
    assert_eq!(setup.desk().queue().unwrap().len(), 1);
}

#[test]
fn damaged_before_scan_rejects_with_reason() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.tap("damaged");
    window.scan("JJD0004");
    assert!(window.app.global::<ReceiveAdapter>().get_reason_picker_open());
    window.tap("reason crushed");
    assert_eq!(window.receive_title(), "Rejected");
    assert_eq!((window.taps, window.scans), (3, 1));
    let parcel = setup.desk().parcel("JJD0004").unwrap().unwrap();
    assert_eq!(parcel.state, ParcelState::Rejected);
    assert_eq!(parcel.reject_reason, Some(pickup_terminal::protocol::RejectReason::Crushed));
}

#[test]
fn damaged_right_after_scan_rejects_it() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("JJD0003");
    window.tap("damaged");
    window.tap("reason wet");
    assert_eq!(state_of(&setup, "JJD0003"), ParcelState::Rejected);
    let queue = setup.desk().queue().unwrap();
    let kinds: Vec<&str> = queue.iter().map(|entry| entry.body.kind()).collect();
    assert_eq!(kinds, ["received", "rejected"]);
}

#[test]
fn handover_wrong_parcel_then_right_one() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    runtime.block_on(setup.sync()).unwrap();
    let code = setup.texted_code("JJD0001");

    let mut window = Counter::new(&setup);
    window.tap("go handover");
    for digit in code.chars() {
        window.tap(&format!("keypad {digit}"));
    }
    window.tap("keypad enter");
    assert_eq!(window.handover().get_step(), HandoverStep::ConfirmParcel);
    assert_eq!(window.handover().get_parcels().row_count(), 1);

    let events_before = setup.desk().queue().unwrap().len();
    window.scan("JJD0002");
    assert_eq!(window.handover().get_step(), HandoverStep::WrongParcel);
    assert_eq!(window.handover().get_outcome_title(), "Wrong parcel");
    assert_eq!(window.shell.tones.last(), Some(Tone::Error));
    assert_eq!(setup.desk().queue().unwrap().len(), events_before);
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Ready);

    window.tap("handover back to list");
    window.scan("JJD0001");
    assert_eq!(window.handover().get_step(), HandoverStep::Done);
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::HandedOver);
    // One tap to open, six digits and enter, one back tap, two scans.
    assert_eq!((window.taps, window.scans), (9, 2));
}

#[test]
fn code_from_phone_scan_unlocks_parcel() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    setup.desk().receive("JJD0001").unwrap();
    runtime.block_on(setup.sync()).unwrap();
    let code = setup.texted_code("JJD0001");
    let mut window = Counter::new(&setup);
    window.tap("go handover");
    window.scan(&code);
    assert_eq!(window.handover().get_step(), HandoverStep::ConfirmParcel);
    window.scan("JJD0001");
    assert_eq!(window.handover().get_step(), HandoverStep::Done);
    assert_eq!((window.taps, window.scans), (1, 2));
}

#[test]
fn five_wrong_codes_show_lock_time() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let mut window = Counter::new(&setup);
    window.tap("go handover");
    for _ in 0..5 {
        for _ in 0..6 {
            window.tap("keypad 9");
        }
        window.tap("keypad enter");
    }
    let lock = window.handover().get_lock_text().to_string();
    assert!(lock.contains("locked for"), "{lock}");
    assert!(window.handover().get_lock_seconds_left() > 0);
    assert_eq!(window.handover().get_outcome_title(), "Code entry locked");
}

#[test]
fn restart_opens_home_signed_in() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    drop(Counter::new(&setup));
    let window = Counter::new(&setup);
    assert_eq!(window.page(), Page::Home);
    assert_eq!(window.app.global::<AppState>().get_operator_name(), "clerk");
}

#[test]
fn sign_out_then_sign_in_with_pin() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let mut window = Counter::new(&setup);
    window.tap("go settings");
    window.tap("sign out");
    assert_eq!(window.page(), Page::SignIn);
    let app = window.app.clone_strong();
    let adapter = app.global::<pickup_terminal::ui::SignInAdapter>();
    adapter.set_operator_id("clerk".into());
    for digit in "1111".chars() {
        window.tap(&format!("keypad {digit}"));
    }
    window.tap("keypad enter");
    assert_eq!(window.page(), Page::SignIn);
    assert!(!adapter.get_error_text().is_empty());
    for digit in "2468".chars() {
        window.tap(&format!("keypad {digit}"));
    }
    window.tap("keypad enter");
    assert_eq!(window.page(), Page::Home);
}
