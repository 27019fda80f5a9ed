//! The Slint screens, rendered headless. The testing backend runs with
//! Slint's software renderer, so every page can be drawn at the terminal's
//! 480x800 and written to `target/screenshots/<language>/<name>.png`, and
//! elements can be found and pressed by their accessible labels.
//!
//! Sample data is set from Rust, as the desk wiring will, so the pictures do
//! not depend on the preview defaults in the `.slint` files. Sample texts
//! that the adapters build go through `tr`, so the Chinese pictures show
//! them translated. The rest stand for desk messages, which stay English.

use std::cell::RefCell;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::rc::Rc;

use i_slint_backend_testing::{ElementHandle, TestingBackend, TestingBackendOptions};
use pickup_terminal::ui::language;
use pickup_terminal::ui::text::{tr, tr_args, tr_plural};
use pickup_terminal::ui::{
    AppState, AppWindow, DropAdapter, DropStep, HandoverAdapter, HandoverStep, HomeAdapter,
    LanguageChoice, OutcomeKind, Page, ParcelCard, ProblemRow, ProblemsAdapter, ReceiveAdapter,
    ReturnItem, ReturnsAdapter, ScanInput, SettingsAdapter, SignInAdapter, StocktakeAdapter,
    StocktakeRow,
};
use slint::platform::{Key, PointerEventButton, WindowEvent};
use slint::{
    ComponentHandle, Model, ModelRc, PhysicalSize, Rgba8Pixel, SharedPixelBuffer, VecModel,
};

const WIDTH: u32 = 480;
const HEIGHT: u32 = 800;

/// `Palette.error` in ui/style.slint.
const ERROR_RED: Rgba8Pixel = Rgba8Pixel { r: 0xc0, g: 0x15, b: 0x1b, a: 0xff };
/// `Palette.success` in ui/style.slint.
const SUCCESS_GREEN: Rgba8Pixel = Rgba8Pixel { r: 0x0b, g: 0x7a, b: 0x34, a: 0xff };
/// `Palette.warning` in ui/style.slint.
const WARNING_AMBER: Rgba8Pixel = Rgba8Pixel { r: 0xf0, g: 0xb4, b: 0x00, a: 0xff };

/// Installs the testing backend with the software renderer on this thread.
/// Slint keeps its platform in a thread-local slot and the test harness runs
/// tests on several threads, so every test calls this. Later calls on the
/// same thread do nothing.
pub(crate) fn init_backend() {
    thread_local! {
        static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if INSTALLED.get() {
        return;
    }
    let backend = TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    });
    slint::platform::set_platform(Box::new(backend))
        .expect("installing the testing backend failed");
    INSTALLED.set(true);
}

/// The languages of the screenshots, by their `ui.language` value.
const LANGUAGES: [&str; 2] = ["en", "zh_CN"];

/// Opens a window in English, whatever the system locale.
fn new_window() -> AppWindow {
    new_window_in("en")
}

fn new_window_in(language_setting: &str) -> AppWindow {
    init_backend();
    let app = AppWindow::new().expect("AppWindow::new failed");
    language::apply(language_setting);
    app.window().set_size(PhysicalSize::new(WIDTH, HEIGHT));
    app.show().expect("AppWindow::show failed");
    app
}

fn model<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows))
}

fn parcel(barcode: &str, customer: &str, shelf: &str, state: &str) -> ParcelCard {
    ParcelCard {
        barcode: barcode.into(),
        customer: customer.into(),
        phone_last4: "4821".into(),
        courier: "SF Express".into(),
        shelf: shelf.into(),
        state_label: state.into(),
    }
}

fn set_app_state(app: &AppWindow, page: Page) {
    let state = app.global::<AppState>();
    state.set_page(page);
    state.set_operator_name("Li Wei".into());
    state.set_online(true);
    state.set_unsent_count(2);
    state.set_last_sync_text("14:05".into());
    state.set_busy(false);
    app.global::<ScanInput>().set_echo("".into());
}

fn show_sign_in(app: &AppWindow) {
    set_app_state(app, Page::SignIn);
    let sign_in = app.global::<SignInAdapter>();
    sign_in.set_operator_id("1042".into());
    sign_in.set_pin("1234".into());
    sign_in.set_error_text("Wrong operator ID or PIN. 2 tries left.".into());
}

fn show_home(app: &AppWindow) {
    set_app_state(app, Page::Home);
    let home = app.global::<HomeAdapter>();
    home.set_expected_count(14);
    home.set_on_shelf_count(37);
    home.set_ready_count(29);
    home.set_to_return_count(3);
    home.set_problem_count(1);
}

fn show_receive(app: &AppWindow) {
    set_app_state(app, Page::Receive);
    app.global::<ScanInput>().set_echo("SF1400 22".into());
    let receive = app.global::<ReceiveAdapter>();
    receive.set_outcome_kind(OutcomeKind::Success);
    receive.set_outcome_title(tr("Received").into());
    receive.set_outcome_detail(tr_args("Put it on shelf {}", &[&"B-3"]).into());
    receive.set_card(parcel("SF1400 2231 9087", "Zhang Min", "B-3", &tr("On shelf")));
    receive.set_has_card(true);
    receive.set_damaged_armed(false);
    receive.set_reason_picker_open(false);
    receive.set_reject_barcode("".into());
    receive.set_shelf_picker_open(false);
    receive.set_shelves(model(vec!["A1".into(), "B3".into()]));
    receive.set_session_count(12);
    receive.set_session_rejected_count(1);
}

fn show_receive_drop(app: &AppWindow) {
    show_receive(app);
    let drop = app.global::<DropAdapter>();
    drop.set_open(true);
    drop.set_courier("ZTO-0042".into());
    drop.set_declared(20);
    drop.set_scanned(13);
    drop.set_rejected(1);
    drop.set_step(DropStep::Closed);
}

/// Shows a repeated scan during a drop, the tallest receive screen: the drop
/// panel, a two-line warning title and a parcel card with a long state.
fn show_receive_drop_repeat(app: &AppWindow) {
    show_receive_drop(app);
    let receive = app.global::<ReceiveAdapter>();
    receive.set_outcome_kind(OutcomeKind::Warning);
    receive.set_outcome_title(tr("Already received").into());
    receive.set_outcome_detail("Received at 23:06 by demo; nothing recorded".into());
    receive.set_card(parcel("JJD0001", "Zhao *ing", "A1", "On shelf, ready for pickup"));
}

fn show_receive_drop_courier(app: &AppWindow) {
    show_receive(app);
    let drop = app.global::<DropAdapter>();
    drop.set_open(false);
    drop.set_step(DropStep::Courier);
    drop.set_courier_entry("ZTO 42".into());
    drop.set_sheet_kind(OutcomeKind::Error);
    drop.set_sheet_title("Invalid courier ID".into());
    drop.set_sheet_detail(
        "courier id \"ZTO 42\" contains ' ': use letters, digits, '-', '_' or '.'".into(),
    );
}

fn show_receive_drop_count(app: &AppWindow) {
    show_receive(app);
    let drop = app.global::<DropAdapter>();
    drop.set_open(false);
    drop.set_step(DropStep::Count);
    drop.set_pending_courier("ZTO-0042".into());
    drop.set_count_entry("20".into());
    drop.set_sheet_kind(OutcomeKind::None);
}

fn show_receive_drop_summary(app: &AppWindow) {
    show_receive_drop(app);
    let drop = app.global::<DropAdapter>();
    drop.set_step(DropStep::Summary);
    drop.set_received(12);
    drop.set_missing(7);
    drop.set_extra(0);
    drop.set_sheet_kind(OutcomeKind::Warning);
    drop.set_sheet_title("Count differs".into());
    drop.set_sheet_detail("Check the figures with the courier before you confirm".into());
}

fn show_receive_photo(app: &AppWindow) {
    show_receive_reasons(app);
    let receive = app.global::<ReceiveAdapter>();
    receive.set_photo_attached(true);
    receive.set_photo_kind(OutcomeKind::Success);
    receive.set_photo_text("✓ Photo attached (84 KiB)".into());
}

fn show_receive_armed(app: &AppWindow) {
    show_receive(app);
    let receive = app.global::<ReceiveAdapter>();
    receive.set_damaged_armed(true);
    receive.set_outcome_kind(OutcomeKind::Warning);
    receive.set_outcome_title(tr("Damaged: on").into());
    receive.set_outcome_detail("Scan the damaged parcel to reject it".into());
    receive.set_has_card(false);
    app.global::<ScanInput>().set_echo("".into());
}

fn show_receive_reasons(app: &AppWindow) {
    show_receive(app);
    app.global::<ReceiveAdapter>().set_reject_barcode("SF1400 2231 9087".into());
    app.global::<ReceiveAdapter>().set_reason_picker_open(true);
}

fn show_receive_shelves(app: &AppWindow) {
    show_receive(app);
    let receive = app.global::<ReceiveAdapter>();
    let shelves = ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2"];
    receive.set_shelves(model(shelves.iter().map(|slot| (*slot).into()).collect()));
    receive.set_shelf_picker_open(true);
}

fn show_receive_error(app: &AppWindow) {
    show_receive(app);
    let receive = app.global::<ReceiveAdapter>();
    receive.set_outcome_kind(OutcomeKind::Error);
    receive.set_outcome_title("Not for this store".into());
    receive.set_outcome_detail("Give it back to the courier".into());
    receive.set_card(parcel("JD0098 1123 4410", "Wang Fang", "", "Belongs to store 0311"));
}

fn show_handover_code(app: &AppWindow) {
    set_app_state(app, Page::Handover);
    let handover = app.global::<HandoverAdapter>();
    handover.set_step(HandoverStep::EnterCode);
    handover.set_code("4831".into());
    handover.set_code_length(6);
    handover.set_lock_text("".into());
    handover.set_lock_seconds_left(0);
    handover.set_parcels(model(Vec::new()));
    handover.set_outcome_kind(OutcomeKind::Error);
    handover.set_outcome_title("No parcel for 482 913".into());
    handover.set_outcome_detail("Check the code with the customer".into());
    handover.set_camera_available(true);
    handover.set_camera_active(false);
    handover.set_camera_text("".into());
    handover.set_refuse_open(false);
    handover.set_refusable(model(Vec::new()));
}

/// The longest banner of code entry: a wrong code that starts the lock.
fn show_handover_wrong_code(app: &AppWindow) {
    show_handover_code(app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_code("".into());
    handover.set_outcome_title(tr("Wrong code").into());
    handover.set_outcome_detail(
        tr_plural(
            "Check the digits with the customer: {n} try left before code entry locks",
            "Check the digits with the customer: {n} tries left before code entry locks",
            4,
            &[],
        )
        .into(),
    );
}

/// Shows the code screen after a code whose parcel cannot be handed over,
/// with the desk's longest message of that kind, five lines at 480 px.
fn show_handover_no_parcel(app: &AppWindow) {
    show_handover_code(app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_code("".into());
    handover.set_outcome_kind(OutcomeKind::Error);
    handover.set_outcome_title(tr("No parcel").into());
    handover.set_outcome_detail(
        "parcel JJD0004 is rejected (crushed) and cannot be handed over: it was rejected \
         at the door on 2026-12-04 23:06 UTC and went back with the courier"
            .into(),
    );
}

fn show_handover_camera(app: &AppWindow) {
    show_handover_code(app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_code("".into());
    handover.set_outcome_kind(OutcomeKind::None);
    handover.set_camera_active(true);
    handover.set_camera_text(tr("Looking for a code: hold the phone up to the camera").into());
}

fn show_handover_reissue(app: &AppWindow) {
    show_handover_code(app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_step(HandoverStep::Reissue);
    handover.set_outcome_kind(OutcomeKind::Success);
    handover.set_outcome_title(tr("New code requested").into());
    handover.set_outcome_detail(
        tr_args(
            "The mall texts the customer of {} a new code; the old code stops working",
            &[&"YT2291 0045 7713"],
        )
        .into(),
    );
}

fn show_handover_locked(app: &AppWindow) {
    show_handover_code(app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_code("".into());
    handover.set_lock_text("Too many wrong codes".into());
    handover.set_lock_seconds_left(45);
}

fn show_handover_confirm(app: &AppWindow) {
    set_app_state(app, Page::Handover);
    let handover = app.global::<HandoverAdapter>();
    handover.set_step(HandoverStep::ConfirmParcel);
    handover.set_code("483120".into());
    let state = tr("Scan to hand over");
    handover.set_parcels(model(vec![
        parcel("YT2291 0045 7713", "Zhang Min", "A-2", &state),
        parcel("SF1400 2231 9087", "Zhang Min", "B-3", &state),
    ]));
    handover.set_outcome_kind(OutcomeKind::None);
    handover.set_outcome_title("".into());
    handover.set_outcome_detail("".into());
    handover.set_refusable(model(vec!["YT2291 0045 7713".into(), "SF1400 2231 9087".into()]));
    handover.set_refuse_open(false);
}

fn show_handover_refuse(app: &AppWindow) {
    show_handover_confirm(app);
    app.global::<HandoverAdapter>().set_refuse_open(true);
}

fn show_handover_wrong(app: &AppWindow) {
    show_handover_confirm(app);
    app.global::<ScanInput>().set_echo("".into());
    let handover = app.global::<HandoverAdapter>();
    handover.set_step(HandoverStep::WrongParcel);
    handover.set_outcome_kind(OutcomeKind::Error);
    handover.set_outcome_title(tr("Wrong parcel").into());
    handover.set_outcome_detail("This one is for Wang Fang. Put it back on shelf C-1.".into());
}

fn show_handover_done(app: &AppWindow) {
    show_handover_confirm(app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_step(HandoverStep::Done);
    handover.set_outcome_kind(OutcomeKind::Success);
    handover.set_outcome_title(tr("Handed over").into());
    handover.set_outcome_detail("2 parcels to Zhang Min".into());
}

fn show_returns(app: &AppWindow) {
    set_app_state(app, Page::Returns);
    let item = |barcode: &str, shelf: &str, reason: &str, scanned| ReturnItem {
        barcode: barcode.into(),
        shelf: shelf.into(),
        reason: reason.into(),
        scanned,
    };
    let returns = app.global::<ReturnsAdapter>();
    let overdue = tr("Not collected in time");
    let refused = tr_args("{}: {}", &[&tr("Refused by the customer"), &"wrong colour"]);
    returns.set_parcels(model(vec![
        item("JD0098 1123 4410", "C-1", &overdue, true),
        item("SF1400 2231 9012", "C-1", &overdue, true),
        item("YT2291 0045 7001", "D-4", &tr("Recalled by the mall"), false),
        item("ZT7781 3300 2145", "D-4", &refused, false),
    ]));
    returns.set_scanned_count(2);
    returns.set_total_count(4);
    returns.set_courier_id("".into());
    returns.set_can_confirm(false);
    returns.set_outcome_kind(OutcomeKind::Success);
    returns.set_outcome_title(tr("Scanned").into());
    returns.set_outcome_detail("SF1400 2231 9012".into());
}

fn show_returns_session(app: &AppWindow) {
    show_returns(app);
    let returns = app.global::<ReturnsAdapter>();
    returns.set_session_open(true);
    returns.set_session_courier("ZTO-0042".into());
    returns.set_can_confirm(true);
}

fn show_stocktake(app: &AppWindow) {
    set_app_state(app, Page::Stocktake);
    let stocktake = app.global::<StocktakeAdapter>();
    stocktake.set_open(true);
    stocktake.set_seen_count(31);
    stocktake.set_expected_count(37);
    stocktake.set_has_result(false);
    stocktake.set_missing(model(Vec::new()));
    stocktake.set_unexpected(model(Vec::new()));
    stocktake.set_outcome_kind(OutcomeKind::Success);
    stocktake.set_outcome_title("Seen".into());
    stocktake.set_outcome_detail("SF1400 2231 9012: 31 scanned".into());
}

fn show_stocktake_result(app: &AppWindow) {
    show_stocktake(app);
    let row = |barcode: &str, detail: &str| StocktakeRow {
        barcode: barcode.into(),
        detail: detail.into(),
    };
    let stocktake = app.global::<StocktakeAdapter>();
    stocktake.set_open(false);
    stocktake.set_has_result(true);
    stocktake.set_missing(model(vec![
        row("JD0098 1123 4410", "Shelf C-1: On shelf, ready for pickup"),
        row("YT2291 0045 7001", "Shelf D-4: To return to the courier"),
    ]));
    stocktake.set_unexpected(model(vec![row("ZT7781 3300 2145", "Handed over")]));
    stocktake.set_outcome_kind(OutcomeKind::Warning);
    stocktake.set_outcome_title("Stocktake closed with differences".into());
    stocktake.set_outcome_detail("2 not found, 1 not expected: check them below".into());
}

fn show_problems(app: &AppWindow) {
    set_app_state(app, Page::Problems);
    let row = |title: &str, detail: &str, what_to_do: &str| ProblemRow {
        title: title.into(),
        detail: detail.into(),
        what_to_do: what_to_do.into(),
    };
    let not_accepted =
        tr_args("Not accepted by the mall: {} {}", &[&tr("handed over"), &"YT2291 0045 7713"]);
    app.global::<ProblemsAdapter>().set_rows(model(vec![
        row(
            &tr_args("Conflict: {}", &[&"JD0098 1123 9999"]),
            "parcel JD0098 1123 9999 is in no manifest of this store",
            &tr("Call the mall's customer service; they settle it with the customer"),
        ),
        row(
            &not_accepted,
            "parcel YT2291 0045 7713 was cancelled by the mall",
            &tr("Keep the parcel apart and call the mall's customer service with its number"),
        ),
    ]));
}

fn show_settings(app: &AppWindow) {
    set_app_state(app, Page::Settings);
    let settings = app.global::<SettingsAdapter>();
    settings.set_backend_url("https://mall.example.com".into());
    settings.set_enrolment_token("".into());
    settings.set_languages(model(vec![
        LanguageChoice { code: "auto".into(), name: tr("System").into() },
        LanguageChoice { code: "en".into(), name: "English".into() },
        LanguageChoice { code: "zh_CN".into(), name: "简体中文".into() },
    ]));
    settings.set_language("en".into());
    settings.set_shift_hours("8".into());
    let status = tr_args("Enrolled as terminal {} of store {}", &[&3, &"0042"]);
    settings.set_status_text(status.into());
    settings.set_save_text("".into());
    settings.set_save_failed(false);
}

fn show_settings_error(app: &AppWindow) {
    show_settings(app);
    let settings = app.global::<SettingsAdapter>();
    settings.set_shift_hours("30".into());
    settings.set_save_failed(true);
    let error =
        "setting desk.shift_hours = 30 is invalid: use a whole number of hours from 1 to 24";
    settings.set_save_text(tr_args("Not saved: {}", &[&error]).into());
}

/// A function that sets the adapters to the sample data of one screen state.
type ShowScene = fn(&AppWindow);

/// Every screen and state worth looking at, with the name of its PNG.
const SCENES: &[(&str, ShowScene)] = &[
    ("sign_in", show_sign_in),
    ("home", show_home),
    ("receive", show_receive),
    ("receive_armed", show_receive_armed),
    ("receive_reasons", show_receive_reasons),
    ("receive_shelves", show_receive_shelves),
    ("receive_error", show_receive_error),
    ("receive_drop", show_receive_drop),
    ("receive_drop_courier_sheet", show_receive_drop_courier),
    ("receive_drop_count_sheet", show_receive_drop_count),
    ("receive_drop_summary_sheet", show_receive_drop_summary),
    ("receive_reasons_photo", show_receive_photo),
    ("handover", show_handover_code),
    ("handover_locked", show_handover_locked),
    ("handover_wrong_code", show_handover_wrong_code),
    ("handover_no_parcel", show_handover_no_parcel),
    ("receive_drop_repeat", show_receive_drop_repeat),
    ("handover_camera", show_handover_camera),
    ("handover_reissue", show_handover_reissue),
    ("handover_refuse", show_handover_refuse),
    ("handover_confirm", show_handover_confirm),
    ("handover_wrong", show_handover_wrong),
    ("handover_done", show_handover_done),
    ("returns", show_returns),
    ("returns_open_session", show_returns_session),
    ("stocktake", show_stocktake),
    ("stocktake_closed", show_stocktake_result),
    ("problems", show_problems),
    ("settings", show_settings),
    ("settings_error", show_settings_error),
];

fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp, so its parent is the target
    // directory even when CARGO_TARGET_DIR moves it.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    target.parent().expect("CARGO_TARGET_TMPDIR has a parent").join("screenshots")
}

/// Writes what `app` shows to `target/screenshots/<name>.png`.
pub(crate) fn save_screenshot(app: &AppWindow, name: &str) {
    let directory = screenshot_dir();
    std::fs::create_dir_all(&directory).expect("create screenshot directory");
    let image = snapshot(app);
    assert!(distinct_colours(&image) > 8, "{name} renders next to nothing");
    write_png(&directory.join(format!("{name}.png")), &image);
}

fn snapshot(app: &AppWindow) -> SharedPixelBuffer<Rgba8Pixel> {
    app.window().take_snapshot().expect("take_snapshot failed")
}

fn write_png(path: &PathBuf, image: &SharedPixelBuffer<Rgba8Pixel>) {
    let file = File::create(path).unwrap_or_else(|error| panic!("create {path:?}: {error}"));
    let mut encoder = png::Encoder::new(BufWriter::new(file), image.width(), image.height());
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("PNG header write failed");
    writer.write_image_data(image.as_bytes()).expect("PNG data write failed");
}

fn pixel(image: &SharedPixelBuffer<Rgba8Pixel>, x: u32, y: u32) -> Rgba8Pixel {
    image.as_slice()[(y * image.width() + x) as usize]
}

fn distinct_colours(image: &SharedPixelBuffer<Rgba8Pixel>) -> usize {
    let mut colours: Vec<[u8; 4]> =
        image.as_slice().iter().map(|pixel| [pixel.r, pixel.g, pixel.b, pixel.a]).collect();
    colours.sort_unstable();
    colours.dedup();
    colours.len()
}

pub(crate) fn find(app: &AppWindow, label: &str) -> ElementHandle {
    let mut found = ElementHandle::find_by_accessible_label(app, label);
    let element = found.next().unwrap_or_else(|| panic!("no element labelled {label:?}"));
    assert!(found.next().is_none(), "more than one element labelled {label:?}");
    element
}

pub(crate) fn press(app: &AppWindow, label: &str) {
    find(app, label).invoke_accessible_default_action();
}

pub(crate) fn type_keys(app: &AppWindow, keys: &[&str]) {
    for key in keys {
        app.window().dispatch_event(WindowEvent::KeyPressed { text: (*key).into() });
        app.window().dispatch_event(WindowEvent::KeyReleased { text: (*key).into() });
    }
}

/// Collects every text that reaches `ScanInput.key`.
fn record_scan_keys(app: &AppWindow) -> Rc<RefCell<Vec<String>>> {
    let keys = Rc::new(RefCell::new(Vec::new()));
    let sink = keys.clone();
    app.global::<ScanInput>().on_key(move |text| sink.borrow_mut().push(text.to_string()));
    keys
}

#[test]
fn every_scene_renders_to_png() {
    let mut english = Vec::new();
    for language_setting in LANGUAGES {
        let directory = screenshot_dir().join(language_setting);
        std::fs::create_dir_all(&directory).expect("create screenshot directory");

        for (index, (name, show)) in SCENES.iter().enumerate() {
            let app = new_window_in(language_setting);
            show(&app);
            let image = snapshot(&app);

            assert_eq!((image.width(), image.height()), (WIDTH, HEIGHT), "size of {name}");
            assert!(distinct_colours(&image) > 8, "{name} renders next to nothing");
            write_png(&directory.join(format!("{name}.png")), &image);
            if language_setting == "en" {
                english.push(image);
            } else {
                let same = image.as_bytes() == english[index].as_bytes();
                assert!(!same, "{name} in {language_setting} looks the same as in English");
            }
        }
    }
}

/// Two Chinese names that differ in every character draw differently only
/// when a font has their glyphs: without one, both come out as the same
/// row of boxes, or as nothing.
#[test]
fn chinese_glyphs_render_distinctly() {
    let app = new_window_in("zh_CN");
    show_home(&app);
    app.global::<AppState>().set_operator_name("王伟".into());
    let first = snapshot(&app);
    app.global::<AppState>().set_operator_name("李娜".into());
    let second = snapshot(&app);
    app.global::<AppState>().set_operator_name("".into());
    let without = snapshot(&app);

    assert!(first.as_bytes() != second.as_bytes(), "王伟 and 李娜 draw the same");
    assert!(first.as_bytes() != without.as_bytes(), "王伟 draws as nothing");
}

#[test]
fn scanner_keys_reach_rust_on_scan_pages() {
    let scenes: [(&str, ShowScene); 6] = [
        ("receive", show_receive),
        ("stocktake", show_stocktake),
        ("handover code", show_handover_code),
        ("handover confirm", show_handover_confirm),
        ("handover wrong", show_handover_wrong),
        ("returns", show_returns),
    ];
    let enter: String = char::from(Key::Return).into();
    let tab: String = char::from(Key::Tab).into();

    for (name, show) in scenes {
        let app = new_window();
        show(&app);
        let keys = record_scan_keys(&app);
        type_keys(&app, &["A", "1", &enter, "9", &tab]);

        assert_eq!(*keys.borrow(), ["A", "1", enter.as_str(), "9", tab.as_str()], "on {name}");
    }
}

#[test]
fn scanner_focus_returns_after_reason_note() {
    let app = new_window();
    show_receive_reasons(&app);
    let keys = record_scan_keys(&app);
    let receive = app.global::<ReceiveAdapter>();
    let weak = app.as_weak();
    receive.on_close_reason_picker(move || {
        weak.unwrap().global::<ReceiveAdapter>().set_reason_picker_open(false);
    });

    find(&app, "reason note").mock_single_click(PointerEventButton::Left);
    type_keys(&app, &["x"]);
    assert!(keys.borrow().is_empty(), "note field did not take the typed key");

    press(&app, "reason cancel");
    type_keys(&app, &["y"]);
    assert_eq!(*keys.borrow(), ["y"]);
}

#[test]
fn scan_field_tap_takes_focus_back() {
    let app = new_window();
    show_returns(&app);
    let keys = record_scan_keys(&app);

    find(&app, "courier id").mock_single_click(PointerEventButton::Left);
    type_keys(&app, &["C", "7"]);
    assert_eq!(app.global::<ReturnsAdapter>().get_courier_id(), "C7");
    assert!(keys.borrow().is_empty(), "courier field did not take the typed keys");

    find(&app, "scan field").mock_single_click(PointerEventButton::Left);
    type_keys(&app, &["9"]);
    assert_eq!(*keys.borrow(), ["9"]);
}

#[test]
fn reason_buttons_reject_with_note() {
    let app = new_window();
    show_receive_reasons(&app);
    let rejected = Rc::new(RefCell::new(Vec::new()));
    let sink = rejected.clone();
    app.global::<ReceiveAdapter>().on_reject_last(move |reason, note| {
        sink.borrow_mut().push((reason.to_string(), note.to_string()))
    });

    find(&app, "reason note").set_accessible_value("corner caved in");
    press(&app, "reason crushed");
    press(&app, "reason wrong address");

    assert_eq!(
        *rejected.borrow(),
        [
            ("crushed".to_owned(), "corner caved in".to_owned()),
            ("wrong-address".to_owned(), String::new()),
        ]
    );
}

#[test]
fn damaged_button_asks_rust_to_arm() {
    let app = new_window();
    show_receive(&app);
    let requests = Rc::new(RefCell::new(Vec::new()));
    let sink = requests.clone();
    app.global::<ReceiveAdapter>().on_arm_damaged(move |armed| sink.borrow_mut().push(armed));

    press(&app, "damaged");
    app.global::<ReceiveAdapter>().set_damaged_armed(true);
    press(&app, "damaged");

    assert_eq!(*requests.borrow(), [true, false]);
    assert_eq!(find(&app, "damaged").accessible_checked(), Some(true));
}

#[test]
fn keypad_fills_code_and_submits_it() {
    let app = new_window();
    show_handover_code(&app);
    let handover = app.global::<HandoverAdapter>();
    handover.set_code("".into());
    let submitted = Rc::new(RefCell::new(Vec::new()));
    let sink = submitted.clone();
    handover.on_code_entered(move |code| sink.borrow_mut().push(code.to_string()));

    for digit in ["4", "8", "3", "1", "2", "0", "7"] {
        press(&app, &format!("keypad {digit}"));
    }
    assert_eq!(handover.get_code(), "483120", "a seventh digit is dropped");
    assert_eq!(find(&app, "code entry").accessible_value().as_deref(), Some("483120"));

    press(&app, "keypad enter");
    assert_eq!(*submitted.borrow(), ["483120"]);

    press(&app, "keypad clear");
    assert_eq!(handover.get_code(), "");
}

#[test]
fn keypad_is_disabled_while_locked() {
    let app = new_window();
    show_handover_locked(&app);

    assert_eq!(find(&app, "keypad 5").accessible_enabled(), Some(false));
    press(&app, "keypad 5");
    assert_eq!(app.global::<HandoverAdapter>().get_code(), "");
    assert_eq!(find(&app, "code lock").accessible_value().as_deref(), Some("Too many wrong codes"));
}

#[test]
fn wrong_parcel_fills_screen_red() {
    let app = new_window();
    show_handover_wrong(&app);
    let image = snapshot(&app);

    for (x, y) in [(4, 4), (WIDTH - 4, 4), (4, HEIGHT / 2), (WIDTH - 4, HEIGHT - 4)] {
        assert_eq!(pixel(&image, x, y), ERROR_RED, "pixel at {x},{y}");
    }
    assert_eq!(find(&app, "outcome").accessible_value().as_deref(), Some("Wrong parcel"));
}

#[test]
fn handover_done_fills_screen_green() {
    let app = new_window();
    show_handover_done(&app);
    let image = snapshot(&app);

    for (x, y) in [(4, 4), (WIDTH - 4, HEIGHT / 2)] {
        assert_eq!(pixel(&image, x, y), SUCCESS_GREEN, "pixel at {x},{y}");
    }
    assert_eq!(find(&app, "outcome").accessible_value().as_deref(), Some("Handed over"));
}

#[test]
fn outcome_banner_shows_title_and_detail() {
    let app = new_window();
    show_receive_error(&app);
    let outcome = find(&app, "outcome");

    assert_eq!(outcome.accessible_value().as_deref(), Some("Not for this store"));
    assert_eq!(outcome.accessible_description().as_deref(), Some("Give it back to the courier"));
}

#[test]
fn labelled_elements_exist_on_every_page() {
    let pages: [(&str, ShowScene, &[&str]); 17] = [
        (
            "sign in",
            show_sign_in,
            &["operator id", "pin", "sign in error", "keypad 0", "keypad enter"],
        ),
        (
            "home",
            show_home,
            &[
                "home expected count",
                "home on shelf count",
                "home ready count",
                "home to return count",
                "go receive",
                "go handover",
                "go returns",
                "go stocktake",
                "go problems",
                "go settings",
                "sync now",
                "status online",
                "status unsent",
            ],
        ),
        (
            "receive",
            show_receive,
            &["scanner input", "scan field", "outcome", "parcel card", "damaged", "receive finish"],
        ),
        (
            "reason picker",
            show_receive_reasons,
            &[
                "reason crushed",
                "reason wet",
                "reason torn",
                "reason opened",
                "reason wrong address",
                "reason other",
                "reason note",
                "reason cancel",
            ],
        ),
        (
            "receive drop",
            show_receive_drop,
            &["drop panel", "drop courier", "drop progress", "drop finish"],
        ),
        (
            "drop courier sheet",
            show_receive_drop_courier,
            &["drop sheet", "drop courier entry", "drop cancel", "drop courier next", "outcome"],
        ),
        (
            "drop count sheet",
            show_receive_drop_count,
            &["drop sheet title", "drop declared entry", "keypad 0", "keypad enter", "drop cancel"],
        ),
        (
            "drop summary sheet",
            show_receive_drop_summary,
            &[
                "drop summary declared",
                "drop summary received",
                "drop summary rejected",
                "drop summary missing",
                "drop summary extra",
                "drop summary back",
                "drop confirm",
            ],
        ),
        ("reason photo", show_receive_photo, &["reason photo", "reason photo status"]),
        (
            "stocktake",
            show_stocktake,
            &["scan field", "stocktake progress", "stocktake close", "stocktake home"],
        ),
        (
            "handover code",
            show_handover_code,
            &[
                "code entry",
                "scan field",
                "keypad clear",
                "scan code with camera",
                "handover home",
                "lost code",
            ],
        ),
        (
            "handover confirm",
            show_handover_confirm,
            &["scan field", "handover parcel count", "handover cancel", "customer refuses"],
        ),
        ("handover camera", show_handover_camera, &["camera status", "stop camera"]),
        ("handover reissue", show_handover_reissue, &["scan field", "reissue back", "outcome"]),
        (
            "handover refuse",
            show_handover_refuse,
            &[
                "refuse reason",
                "refuse YT2291 0045 7713",
                "refuse SF1400 2231 9087",
                "refuse cancel",
            ],
        ),
        (
            "returns",
            show_returns,
            &[
                "scan field",
                "returns progress",
                "courier id",
                "start return",
                "confirm return",
                "returns home",
            ],
        ),
        (
            "settings",
            show_settings,
            &[
                "backend url",
                "enrolment token",
                "enroll",
                "settings status",
                "language en",
                "language zh_CN",
                "shift hours",
                "settings save",
                "sign out",
            ],
        ),
    ];

    for (name, show, labels) in pages {
        let app = new_window();
        show(&app);
        for label in labels {
            assert!(
                ElementHandle::find_by_accessible_label(&app, label).next().is_some(),
                "no element labelled {label:?} on {name}"
            );
        }
    }
}

#[test]
fn home_values_are_exposed() {
    let app = new_window();
    show_home(&app);

    assert_eq!(find(&app, "home expected count").accessible_value().as_deref(), Some("14"));
    assert_eq!(find(&app, "status online").accessible_value().as_deref(), Some("online"));
    assert_eq!(find(&app, "status unsent").accessible_value().as_deref(), Some("2"));
}

#[test]
fn navigation_buttons_request_pages() {
    let app = new_window();
    show_home(&app);
    let requested = Rc::new(RefCell::new(Vec::new()));
    let sink = requested.clone();
    app.global::<AppState>().on_navigate(move |page| sink.borrow_mut().push(page));

    let labels =
        ["go receive", "go handover", "go returns", "go stocktake", "go problems", "go settings"];
    for label in labels {
        press(&app, label);
    }

    assert_eq!(
        *requested.borrow(),
        [
            Page::Receive,
            Page::Handover,
            Page::Returns,
            Page::Stocktake,
            Page::Problems,
            Page::Settings
        ]
    );
}

/// Returns the bottom edge of the element labelled `label`, in logical
/// pixels from the top of the window.
fn bottom_of(app: &AppWindow, label: &str) -> f32 {
    let element = find(app, label);
    element.absolute_position().y + element.size().height
}

#[test]
fn keypad_fits_below_longest_banner() {
    for (name, show) in [
        ("wrong code", show_handover_wrong_code as ShowScene),
        ("locked", show_handover_locked),
        ("no parcel", show_handover_no_parcel),
    ] {
        let app = new_window();
        show(&app);
        for key in ["keypad clear", "keypad 0", "keypad enter"] {
            let bottom = bottom_of(&app, key);
            assert!(bottom <= HEIGHT as f32, "{key} ends at {bottom} px with the {name} banner");
        }
    }
}

#[test]
fn receive_buttons_fit_below_repeat_warning() {
    let app = new_window();
    show_receive_drop_repeat(&app);
    for button in ["receive finish", "damaged", "pick shelf"] {
        let bottom = bottom_of(&app, button);
        assert!(bottom <= HEIGHT as f32, "{button} ends at {bottom} px");
    }
}

#[test]
fn reason_picker_names_its_parcel() {
    let app = new_window();
    show_receive_reasons(&app);
    let receive = app.global::<ReceiveAdapter>();
    receive.set_card(parcel("JJD0002", "Wang Fang", "A-1", "On shelf"));
    assert_eq!(find(&app, "reason parcel").accessible_value().as_deref(), Some("SF1400 2231 9087"));
}

#[test]
fn refuse_needs_a_reason() {
    let app = new_window();
    show_handover_refuse(&app);
    let refused = Rc::new(RefCell::new(Vec::new()));
    let sink = refused.clone();
    app.global::<HandoverAdapter>().on_refuse(move |barcode, reason| {
        sink.borrow_mut().push((barcode.to_string(), reason.to_string()))
    });

    assert_eq!(find(&app, "refuse YT2291 0045 7713").accessible_enabled(), Some(false));
    find(&app, "refuse reason").set_accessible_value("wrong colour");
    press(&app, "refuse YT2291 0045 7713");
    assert_eq!(*refused.borrow(), [("YT2291 0045 7713".to_owned(), "wrong colour".to_owned())]);
    assert!(!app.global::<HandoverAdapter>().get_refuse_open(), "the sheet closes");
}

#[test]
fn adapters_start_without_sample_text() {
    init_backend();
    let app = AppWindow::new().expect("AppWindow::new failed");
    let state = app.global::<AppState>();
    assert_eq!(state.get_operator_name(), "");
    assert_eq!(state.get_last_sync_text(), "");
    assert_eq!(app.global::<HandoverAdapter>().get_code(), "");
    assert_eq!(app.global::<HandoverAdapter>().get_parcels().row_count(), 0);
    assert_eq!(app.global::<ReceiveAdapter>().get_outcome_title(), "");
    assert_eq!(app.global::<ReceiveAdapter>().get_card().barcode, "");
    assert_eq!(app.global::<ReturnsAdapter>().get_parcels().row_count(), 0);
    assert_eq!(app.global::<ProblemsAdapter>().get_rows().row_count(), 0);
    assert_eq!(app.global::<SettingsAdapter>().get_backend_url(), "");
    assert_eq!(app.global::<SettingsAdapter>().get_status_text(), "");
    assert_eq!(app.global::<SignInAdapter>().get_operator_id(), "");
    assert_eq!(app.global::<HomeAdapter>().get_ready_count(), 0);
}

#[test]
fn session_controls_meet_touch_minimum() {
    let scenes: [(&str, ShowScene, &[&str]); 7] = [
        ("receive", show_receive, &["drop start"]),
        ("receive drop", show_receive_drop, &["drop finish", "damaged", "receive finish"]),
        ("drop courier", show_receive_drop_courier, &["drop cancel", "drop courier next"]),
        ("drop count", show_receive_drop_count, &["keypad 5", "keypad enter", "drop cancel"]),
        ("drop summary", show_receive_drop_summary, &["drop summary back", "drop confirm"]),
        ("reason photo", show_receive_photo, &["reason photo"]),
        ("stocktake", show_stocktake, &["stocktake close", "stocktake home"]),
    ];
    for (name, show, labels) in scenes {
        let app = new_window();
        show(&app);
        for label in labels {
            let size = find(&app, label).size();
            assert!(size.height >= 48.0, "{label} on {name} is {} px high", size.height);
            assert!(size.width >= 48.0, "{label} on {name} is {} px wide", size.width);
            let bottom = bottom_of(&app, label);
            assert!(bottom <= HEIGHT as f32, "{label} on {name} ends at {bottom} px");
        }
    }
    for (name, show, labels) in [
        ("returns", show_returns as ShowScene, &["start return", "confirm return"][..]),
        ("returns session", show_returns_session, &["confirm return"][..]),
        ("stocktake closed", show_stocktake_result, &["stocktake start"][..]),
    ] {
        let app = new_window();
        show(&app);
        for label in labels {
            let size = find(&app, label).size();
            assert!(size.height >= 48.0, "{label} on {name} is {} px high", size.height);
        }
    }
}

#[test]
fn scanner_focus_returns_after_courier_entry() {
    let app = new_window();
    show_receive_drop_courier(&app);
    let keys = record_scan_keys(&app);
    let entered = Rc::new(RefCell::new(Vec::new()));
    let sink = entered.clone();
    app.global::<DropAdapter>()
        .on_courier_entered(move |entry| sink.borrow_mut().push(entry.to_string()));

    find(&app, "drop courier entry").mock_single_click(PointerEventButton::Left);
    type_keys(&app, &["-", "7"]);
    assert!(keys.borrow().is_empty(), "the courier field did not take the typed keys");
    assert_eq!(app.global::<DropAdapter>().get_courier_entry(), "ZTO 42-7");

    press(&app, "drop courier next");
    assert_eq!(*entered.borrow(), ["ZTO 42-7"]);
    type_keys(&app, &["J"]);
    assert_eq!(*keys.borrow(), ["J"]);
}

// ---- wired to a desk on a SQLite file ---------------------------------------

#[test]
fn status_bar_flags_quarantined_event() {
    let runtime = crate::flows::runtime();
    let setup = runtime.block_on(crate::sync::Setup::new(2));
    let desk = setup.desk();
    // A handover of a parcel the backend never saw received: the backend
    // rejects it for good, so sync quarantines it and the queue drains.
    let tx = desk.connection().unchecked_transaction().unwrap();
    let body = pickup_terminal::protocol::EventBody::HandedOver;
    pickup_terminal::store::outbox::append(
        &tx,
        "NOT-RECEIVED-1",
        "clerk",
        chrono::Utc::now(),
        body,
    )
    .unwrap();
    tx.commit().unwrap();
    let report = runtime.block_on(setup.sync()).unwrap();
    assert_eq!(report.quarantined, 1);
    let status = desk.status().unwrap();
    assert_eq!((status.queue_depth, status.quarantined), (0, 1));

    let window = crate::flows::Counter::new(&setup);
    let unsent = find(&window.app, "status unsent").accessible_description().unwrap_or_default();
    assert_eq!(unsent, "", "the status bar shows {unsent:?} next to a problem");
    let problems = find(&window.app, "status problems");
    assert_eq!(problems.accessible_value().as_deref(), Some("1 problem: see Problems"));
    let x = (problems.absolute_position().x + 6.0) as u32;
    let y = (problems.absolute_position().y + problems.size().height / 2.0) as u32;
    assert_eq!(pixel(&snapshot(&window.app), x, y), WARNING_AMBER);
    save_screenshot(&window.app, "status_bar_problems");
}
