//! The clerk's flows on the headless window, wired to a real desk on a
//! SQLite file and a real backend on loopback. Each test finds elements by
//! accessible label, taps and types as a clerk and a scanner would, and
//! checks the screen and the database. The counts of taps and scans each
//! flow takes are checked too, because at a busy counter each one costs time.

use std::rc::Rc;
use std::time::Duration;

use pickup_terminal::config::Config;
use pickup_terminal::desk::operators::PIN_MAX_DIGITS;
use pickup_terminal::desk::{Desk, DeskConfig, LockPolicy};
use pickup_terminal::scan::WedgeConfig;
use pickup_terminal::scan::camera::{CameraConfig, CameraError, CameraScanner, FrameSource};
use pickup_terminal::scan::decode::LumaImage;
use pickup_terminal::store::credentials::Credentials;
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::sync::SyncConfig;
use pickup_terminal::ui::camera::CameraStarter;
use pickup_terminal::ui::{
    AppState, AppWindow, Context, HandoverAdapter, HandoverStep, Page, ReceiveAdapter,
    SettingsAdapter, Shell, SignInAdapter, tone::Tone,
};
use rxing::{BarcodeFormat, MultiFormatWriter, Writer};
use slint::{ComponentHandle, Model};

use crate::screens::{find, init_backend, press, type_keys};
use crate::sync::Setup;

/// A window wired to the terminal of `setup`, counting taps and scans.
pub(crate) struct Counter {
    pub(crate) app: AppWindow,
    pub(crate) shell: Rc<Shell>,
    pub(crate) taps: u32,
    pub(crate) scans: u32,
}

impl Counter {
    pub(crate) fn new(setup: &Setup) -> Counter {
        Counter::with_context(setup, setup.desk(), None, None)
    }

    /// Opens a window over `desk`, with the camera of `camera` and the sync
    /// runtime of `runtime`. The settings file is `config.toml` in the
    /// terminal directory.
    pub(crate) fn with_context(
        setup: &Setup,
        desk: Desk,
        camera: Option<CameraStarter>,
        runtime: Option<tokio::runtime::Handle>,
    ) -> Counter {
        init_backend();
        let app = AppWindow::new().unwrap();
        app.window().set_size(slint::PhysicalSize::new(480, 800));
        // English whatever the system locale, as the tests compare texts.
        let mut config = Config::default();
        config.ui.language = "en".to_owned();
        let context = Context {
            desk,
            config,
            config_path: Some(setup.terminal_dir().join("config.toml")),
            sync: None,
            runtime,
            sync_config: SyncConfig::default(),
            wedge: WedgeConfig::default(),
            play_tones: false,
            camera,
        };
        let shell = Shell::install(&app, context);
        app.show().unwrap();
        Counter { app, shell, taps: 0, scans: 0 }
    }

    /// Lets Slint's timers run, `steps` times 100 ms of mocked time, with a
    /// real pause each time so worker threads can progress, until `done`.
    pub(crate) fn run_timers_until(
        &self,
        steps: u32,
        mut done: impl FnMut(&Counter) -> bool,
    ) -> bool {
        for _ in 0..steps {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
            i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(100));
        }
        done(self)
    }

    fn tap_code(&mut self, code: &str) {
        for digit in code.chars() {
            self.tap(&format!("keypad {digit}"));
        }
        self.tap("keypad enter");
    }

    pub(crate) fn tap(&mut self, label: &str) {
        press(&self.app, label);
        self.taps += 1;
    }

    /// Types `text` then Enter, as a keyboard-wedge scanner does. Waits out
    /// the blanking window first, so a deliberate repeat is not dropped.
    pub(crate) fn scan(&mut self, text: &str) {
        std::thread::sleep(Duration::from_millis(320));
        let keys: Vec<String> = text.chars().map(String::from).chain(["\n".to_owned()]).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        type_keys(&self.app, &keys);
        self.scans += 1;
    }

    pub(crate) fn page(&self) -> Page {
        self.app.global::<AppState>().get_page()
    }

    pub(crate) fn receive_title(&self) -> String {
        self.app.global::<ReceiveAdapter>().get_outcome_title().to_string()
    }

    fn handover(&self) -> HandoverAdapter<'_> {
        self.app.global::<HandoverAdapter>()
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

pub(crate) fn state_of(setup: &Setup, barcode: &str) -> ParcelState {
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
    // The fifth code was wrong too, and the screen says so with the lock.
    assert_eq!(window.handover().get_outcome_title(), "Wrong code");
    assert!(lock.starts_with("Wrong code."), "{lock}");
}

#[test]
fn restart_opens_home_signed_in() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    drop(Counter::new(&setup));
    let window = Counter::new(&setup);
    assert_eq!(window.page(), Page::Home);
    assert_eq!(window.app.global::<AppState>().get_operator_name(), "Clerk");
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

pub(crate) fn kinds(setup: &Setup) -> Vec<String> {
    setup.desk().queue().unwrap().iter().map(|entry| entry.body.kind().to_owned()).collect()
}

/// Two parcels received and made ready by a sync, with the code of the
/// first.
fn ready_parcels(runtime: &tokio::runtime::Runtime, setup: &Setup) -> String {
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    runtime.block_on(setup.sync()).unwrap();
    setup.texted_code("JJD0001")
}

#[test]
fn pin_keypad_stops_at_core_maximum() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let mut window = Counter::new(&setup);
    window.tap("go settings");
    window.tap("sign out");
    for _ in 0..PIN_MAX_DIGITS + 3 {
        window.tap("keypad 1");
    }
    let pin = window.app.global::<SignInAdapter>().get_pin();
    assert_eq!(pin.chars().count(), PIN_MAX_DIGITS);
}

#[test]
fn wrong_code_after_lock_says_wrong() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let config = DeskConfig {
        lock: LockPolicy {
            max_failures: 2,
            window: chrono::Duration::minutes(10),
            lock_for: chrono::Duration::seconds(1),
        },
        ..DeskConfig::default()
    };
    let desk = Desk::open(setup.terminal_dir(), config).unwrap();
    let mut window = Counter::with_context(&setup, desk, None, None);
    window.tap("go handover");
    window.tap_code("999999");
    assert_eq!(window.handover().get_outcome_title(), "Wrong code");
    window.tap_code("999999");
    assert_eq!(window.handover().get_outcome_title(), "Wrong code");
    assert!(window.handover().get_lock_seconds_left() > 0);

    // Wait out the lock, then one more wrong code locks again at once.
    std::thread::sleep(Duration::from_millis(1100));
    window.shell.refresh(&window.app);
    assert_eq!(window.handover().get_lock_seconds_left(), 0);
    window.tap_code("999999");
    assert_eq!(window.handover().get_outcome_title(), "Wrong code");
    let detail = window.handover().get_outcome_detail().to_string();
    assert!(detail.contains("code not recognised"), "{detail}");
    let lock = window.handover().get_lock_text().to_string();
    assert!(lock.starts_with("Wrong code."), "{lock}");
    assert_eq!(window.shell.tones.last(), Some(Tone::Error));
}

#[test]
fn damage_sheet_stays_on_its_parcel() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("JJD0001");
    window.tap("damaged");
    assert_eq!(find(&window.app, "reason parcel").accessible_value().unwrap(), "JJD0001");

    window.scan("JJD0002");
    assert_eq!(window.receive_title(), "Pick a reason first");
    assert_eq!(find(&window.app, "reason parcel").accessible_value().unwrap(), "JJD0001");
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Expected);

    window.tap("reason torn");
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::Rejected);
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Expected);
    assert_eq!(kinds(&setup), ["received", "rejected"]);
}

#[test]
fn shelf_label_after_receipt_moves_parcel() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("JJD0001");
    window.scan("SHELF-B3");
    assert_eq!(window.receive_title(), "Shelved");
    let parcel = setup.desk().parcel("JJD0001").unwrap().unwrap();
    assert_eq!(parcel.shelf.as_deref(), Some("B3"));
    assert_eq!(kinds(&setup), ["received", "shelf_changed"]);
    assert_eq!((window.taps, window.scans), (1, 2));
}

#[test]
fn refuse_at_counter_records_reason() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let code = ready_parcels(&runtime, &setup);
    let mut window = Counter::new(&setup);
    window.tap("go handover");
    window.tap_code(&code);
    assert_eq!(window.handover().get_step(), HandoverStep::ConfirmParcel);

    window.tap("customer refuses");
    find(&window.app, "refuse reason").set_accessible_value("box is dented");
    window.tap("refuse JJD0001");
    assert_eq!(window.handover().get_outcome_title(), "Refused");
    assert_eq!(window.handover().get_step(), HandoverStep::EnterCode);
    let parcel = setup.desk().parcel("JJD0001").unwrap().unwrap();
    assert_eq!(parcel.state, ParcelState::ReturnPending);
    assert_eq!(parcel.return_note.as_deref(), Some("box is dented"));
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Ready);
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
}

#[test]
fn lost_code_requests_reissue() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    ready_parcels(&runtime, &setup);
    let events_before = kinds(&setup).len();
    let mut window = Counter::new(&setup);
    window.tap("go handover");
    window.tap("lost code");
    assert_eq!(window.handover().get_step(), HandoverStep::Reissue);
    window.scan("JJD0002");
    assert_eq!(window.handover().get_outcome_title(), "New code requested");
    let kinds = kinds(&setup);
    assert_eq!(kinds.len(), events_before + 1);
    assert_eq!(kinds.last().map(String::as_str), Some("code_reissue_requested"));

    window.scan("JJD0005");
    assert_eq!(window.handover().get_outcome_title(), "No new code");
    window.tap("reissue back");
    assert_eq!(window.handover().get_step(), HandoverStep::EnterCode);
}

#[test]
fn camera_without_device_says_so() {
    if std::path::Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera at /dev/video0");
        return;
    }
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let mut window = Counter::new(&setup);
    window.tap("go handover");
    window.tap("scan code with camera");
    assert!(window.handover().get_camera_active());
    let said = window
        .run_timers_until(100, |window| window.handover().get_outcome_title() == "No camera found");
    assert!(said, "outcome {:?}", window.handover().get_outcome_title());
    assert!(!window.handover().get_camera_active());
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
}

/// A camera that shows the same generated image in every frame.
pub(crate) struct StillCamera {
    pub(crate) image: LumaImage,
}

impl FrameSource for StillCamera {
    fn open(&mut self) -> Result<(u32, u32), CameraError> {
        Ok((self.image.view().width(), self.image.view().height()))
    }

    fn frame(&mut self) -> Result<LumaImage, CameraError> {
        std::thread::sleep(Duration::from_millis(30));
        Ok(self.image.clone())
    }

    fn close(&mut self) {}
}

/// Draws `text` as a QR code, four pixels a module, on a white border.
fn qr_image(text: &str) -> LumaImage {
    let matrix = MultiFormatWriter.encode(text, &BarcodeFormat::QR_CODE, 0, 0).unwrap();
    let (module, border) = (4, 16);
    let width = matrix.width() * module + 2 * border;
    let height = matrix.height() * module + 2 * border;
    let mut pixels = vec![255u8; (width * height) as usize];
    for y in 0..matrix.height() * module {
        for x in 0..matrix.width() * module {
            if matrix.get(x / module, y / module) {
                pixels[((y + border) * width + x + border) as usize] = 0;
            }
        }
    }
    LumaImage::new(pixels, width, height).unwrap()
}

#[test]
fn camera_code_unlocks_like_keypad() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let code = ready_parcels(&runtime, &setup);
    let image = qr_image(&code);
    let starter: CameraStarter = Box::new(move || {
        let image = image.clone();
        CameraScanner::start_with(CameraConfig::default(), move || StillCamera { image })
    });
    let mut window = Counter::with_context(&setup, setup.desk(), Some(starter), None);
    window.tap("go handover");
    window.tap("scan code with camera");
    let unlocked = window.run_timers_until(200, |window| {
        window.handover().get_step() == HandoverStep::ConfirmParcel
    });
    assert!(unlocked, "outcome {:?}", window.handover().get_outcome_title());
    assert_eq!(window.handover().get_parcels().row_count(), 1);
    assert!(!window.handover().get_camera_active(), "the camera stops after a code");

    window.scan("JJD0001");
    assert_eq!(window.handover().get_step(), HandoverStep::Done);
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::HandedOver);
}

#[test]
fn settings_save_checks_and_writes_file() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let mut window = Counter::new(&setup);
    window.tap("go settings");
    let app = window.app.clone_strong();
    let settings = app.global::<SettingsAdapter>();
    assert_eq!(settings.get_shift_hours(), "8");
    let path = setup.terminal_dir().join("config.toml");

    find(&window.app, "shift hours").set_accessible_value("30");
    window.tap("settings save");
    assert!(settings.get_save_failed());
    let expected =
        "setting desk.shift_hours = 30 is invalid: use a whole number of hours from 1 to 24";
    assert_eq!(settings.get_save_text(), format!("Not saved: {expected}"));
    assert!(!path.exists(), "an invalid value writes nothing");

    // The failure banner shrinks the scrolled form, which moves the field
    // out of view, so the value goes to the property the field edits.
    settings.set_shift_hours("10".into());
    window.tap("language zh_CN");
    window.tap("settings save");
    assert!(!settings.get_save_failed(), "{}", settings.get_save_text());
    let saved = Config::load_from(Some(&path), true, &[]).unwrap();
    assert_eq!(saved.desk.shift_hours, 10);
    assert_eq!(saved.ui.language, "zh_CN");
    assert_eq!(saved.backend.url, None, "the enrolment's address, shown unchanged, was written");
    assert_eq!(window.shell.desk.borrow().config().shift, chrono::Duration::hours(10));
}

#[test]
fn settings_backend_address_repoints_enrolment() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let mut window = Counter::new(&setup);
    window.tap("go settings");
    find(&window.app, "backend url").set_accessible_value("http://127.0.0.1:9");
    window.tap("settings save");
    let app = window.app.clone_strong();
    let settings = app.global::<SettingsAdapter>();
    assert!(!settings.get_save_failed(), "{}", settings.get_save_text());
    let credentials = Credentials::load(setup.terminal_dir()).unwrap().unwrap();
    assert_eq!(credentials.backend_url, "http://127.0.0.1:9");

    find(&window.app, "backend url").set_accessible_value("mall.local");
    window.tap("settings save");
    assert!(settings.get_save_failed());
    assert!(settings.get_save_text().contains("backend.url"), "{}", settings.get_save_text());
}

#[test]
fn settings_enrol_with_unsent_events_keeps_enrolment() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let before = Credentials::load(setup.terminal_dir()).unwrap().unwrap();
    let token = pickup_terminal::backend::create_enrolment(setup.backend_db(), "S001").unwrap();
    let handle = runtime.handle().clone();
    let mut window = Counter::with_context(&setup, setup.desk(), None, Some(handle));
    window.tap("go receive");
    window.scan("JJD0001");
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::Received);
    window.tap("receive finish");
    window.tap("go settings");
    find(&window.app, "backend url").set_accessible_value(setup.base_url());
    find(&window.app, "enrolment token").set_accessible_value(token.as_str());
    window.tap("enroll");

    // The enrolment's result reaches the screen through the event loop,
    // which this headless window does not run, so the text has a unit test
    // in the settings adapter; here the enrolment must stay as it was.
    std::thread::sleep(Duration::from_millis(1000));
    let after = Credentials::load(setup.terminal_dir()).unwrap().unwrap();
    assert_eq!(after.terminal_id, before.terminal_id, "the enrolment changed");
}

#[test]
fn sync_now_without_engine_says_so() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(1));
    let mut window = Counter::new(&setup);
    let before = i_slint_backend_testing::ElementHandle::find_by_accessible_label(
        &window.app,
        "home sync result",
    )
    .count();
    assert_eq!(before, 0, "a result shows before any tap");
    window.tap("sync now");
    let result = find(&window.app, "home sync result").accessible_value().unwrap_or_default();
    assert_eq!(result, "No sync runs in this session");
}

#[test]
fn settings_enrol_with_token() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(2));
    let before = Credentials::load(setup.terminal_dir()).unwrap().unwrap();
    let token = pickup_terminal::backend::create_enrolment(setup.backend_db(), "S001").unwrap();
    let handle = runtime.handle().clone();
    let mut window = Counter::with_context(&setup, setup.desk(), None, Some(handle));
    window.tap("go settings");
    find(&window.app, "backend url").set_accessible_value(setup.base_url());
    find(&window.app, "enrolment token").set_accessible_value(token.as_str());
    window.tap("enroll");

    let mut enrolled = None;
    for _ in 0..100 {
        let now = Credentials::load(setup.terminal_dir()).unwrap().unwrap();
        if now.terminal_id != before.terminal_id {
            enrolled = Some(now);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let enrolled = enrolled.expect("the enrolment reached the credentials file");
    assert_eq!(enrolled.store_id, "S001");
    assert_eq!(enrolled.backend_url, setup.base_url());
}

#[test]
fn picked_shelf_moves_received_parcel() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let shelves = vec!["A1".to_owned(), "B3".to_owned()];
    let config = DeskConfig { shelves, ..DeskConfig::default() };
    let desk = Desk::open(setup.terminal_dir(), config).unwrap();
    let mut window = Counter::with_context(&setup, desk, None, None);
    window.tap("go receive");
    assert_eq!(find(&window.app, "pick shelf").accessible_enabled(), Some(false));
    window.scan("JJD0003");
    window.tap("pick shelf");
    window.tap("shelf B3");
    assert_eq!(window.receive_title(), "Shelved");
    assert!(!window.app.global::<ReceiveAdapter>().get_shelf_picker_open());
    let parcel = setup.desk().parcel("JJD0003").unwrap().unwrap();
    assert_eq!(parcel.shelf.as_deref(), Some("B3"));
    assert_eq!(find(&window.app, "card shelf").accessible_value().as_deref(), Some("B3"));
    assert_eq!(kinds(&setup), ["received", "shelf_changed"]);
}
