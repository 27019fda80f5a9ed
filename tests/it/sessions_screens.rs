//! The counter sessions on the clerk's screens: a courier drop on the
//! receive screen, a return session, a stocktake and the damage photo. Each
//! test drives the headless window wired to a real desk on a SQLite file and
//! the reference backend on loopback, and checks the screen, the database,
//! the outbox and the taps and scans the flow takes.

use std::io::Cursor;

use pickup_terminal::desk::photo;
use pickup_terminal::protocol::EventBody;
use pickup_terminal::scan::camera::{CameraConfig, CameraScanner};
use pickup_terminal::scan::decode::LumaImage;
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::ui::camera::CameraStarter;
use pickup_terminal::ui::tone::Tone;
use pickup_terminal::ui::{
    DropAdapter, DropStep, HandoverAdapter, OutcomeKind, ReceiveAdapter, ReturnsAdapter,
    StocktakeAdapter,
};
use slint::{ComponentHandle, Model};

use crate::flows::{Counter, StillCamera, kinds, runtime, state_of};
use crate::screens::{find, save_screenshot};
use crate::sync::Setup;

fn value(window: &Counter, label: &str) -> String {
    find(&window.app, label).accessible_value().unwrap_or_default().to_string()
}

fn drop_adapter(window: &Counter) -> DropAdapter<'_> {
    window.app.global::<DropAdapter>()
}

fn returns(window: &Counter) -> ReturnsAdapter<'_> {
    window.app.global::<ReturnsAdapter>()
}

fn stocktake(window: &Counter) -> StocktakeAdapter<'_> {
    window.app.global::<StocktakeAdapter>()
}

fn returns_title(window: &Counter) -> String {
    returns(window).get_outcome_title().to_string()
}

fn stocktake_title(window: &Counter) -> String {
    stocktake(window).get_outcome_title().to_string()
}

// ---- courier drop ----------------------------------------------------------

#[test]
fn drop_from_badge_counts_and_closes() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    assert!(!drop_adapter(&window).get_open());

    window.scan("COURIER-ZTO-0042");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Count);
    assert_eq!(drop_adapter(&window).get_pending_courier(), "ZTO-0042");
    window.tap("keypad 3");
    window.tap("keypad enter");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Closed);
    assert!(drop_adapter(&window).get_open());
    assert_eq!(window.receive_title(), "Drop started");
    assert_eq!(value(&window, "drop courier"), "ZTO-0042");
    assert_eq!(value(&window, "drop progress"), "0 of 3 scanned");
    let open = setup.desk().drop_status().unwrap().expect("the drop is in the database");
    assert_eq!(open.declared, 3);

    window.tap("damaged");
    window.scan("JJD0003");
    window.tap("reason crushed");
    assert_eq!(window.receive_title(), "Rejected");
    assert_eq!(value(&window, "drop progress"), "1 of 3 scanned, 1 rejected");
    window.scan("JJD0001");
    window.scan("JJD0002");
    assert_eq!(value(&window, "drop progress"), "3 of 3 scanned, 1 rejected");
    save_screenshot(&window.app, "receive_drop_open");
    window.scan("JJD0004");
    assert_eq!(value(&window, "drop progress"), "4 of 3 scanned, 1 rejected");

    window.tap("drop finish");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Summary);
    assert_eq!(value(&window, "drop summary declared"), "3");
    assert_eq!(value(&window, "drop summary received"), "3");
    assert_eq!(value(&window, "drop summary rejected"), "1");
    assert_eq!(value(&window, "drop summary missing"), "0");
    assert_eq!(value(&window, "drop summary extra"), "1");
    assert_eq!(drop_adapter(&window).get_sheet_title(), "Count differs");
    assert_eq!(drop_adapter(&window).get_sheet_kind(), OutcomeKind::Warning);
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
    save_screenshot(&window.app, "receive_drop_summary");
    assert!(setup.desk().drop_status().unwrap().is_some(), "the summary alone closes nothing");

    window.tap("drop confirm");
    assert!(!drop_adapter(&window).get_open());
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Closed);
    assert_eq!(window.receive_title(), "Drop closed");
    let detail = window.app.global::<ReceiveAdapter>().get_outcome_detail().to_string();
    assert_eq!(detail, "3 received, 1 rejected, 0 missing, 1 extra");
    assert!(setup.desk().drop_status().unwrap().is_none());
    assert_eq!(kinds(&setup), ["rejected", "received", "received", "received", "drop_closed"]);
    let queue = setup.desk().queue().unwrap();
    let EventBody::DropClosed { courier_id, declared, received, rejected, missing, extra, .. } =
        &queue.last().unwrap().body
    else {
        panic!("the last event is not the drop's");
    };
    assert_eq!(courier_id, "ZTO-0042");
    assert_eq!(*declared, 3);
    assert_eq!(received, &["JJD0001", "JJD0002", "JJD0004"]);
    assert_eq!(rejected, &["JJD0003"]);
    assert_eq!((*missing, *extra), (0, 1));

    runtime.block_on(setup.sync()).unwrap();
    let applied = setup.applied();
    let drop_event = applied.iter().find(|event| event.kind == "drop_closed");
    assert_eq!(drop_event.map(|event| event.outcome.as_str()), Some("accepted"));

    // Open receive, two keypad taps, two damage taps, and finish and
    // confirm; the badge and four parcels are scans.
    assert_eq!((window.taps, window.scans), (7, 5));
}

#[test]
fn typed_courier_drop_survives_restart() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.tap("drop start");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Courier);
    save_screenshot(&window.app, "receive_drop_courier");

    find(&window.app, "drop courier entry").set_accessible_value("ZTO 7");
    window.tap("drop courier next");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Courier);
    assert_eq!(drop_adapter(&window).get_sheet_title(), "Invalid courier ID");
    assert_eq!(window.shell.tones.last(), Some(Tone::Error));

    find(&window.app, "drop courier entry").set_accessible_value("SF-7");
    window.tap("drop courier next");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Count);
    window.tap("keypad 1");
    window.tap("keypad 2");
    assert_eq!(value(&window, "drop declared entry"), "12");
    save_screenshot(&window.app, "receive_drop_count");
    window.tap("keypad clear");
    window.tap("keypad 2");
    window.tap("keypad enter");
    window.scan("JJD0001");
    assert_eq!(value(&window, "drop progress"), "1 of 2 scanned");
    // Open, start, two tries at the id, four keypad taps and enter.
    assert_eq!((window.taps, window.scans), (9, 1));
    drop(window);

    let mut window = Counter::new(&setup);
    window.tap("go receive");
    assert!(drop_adapter(&window).get_open(), "the drop is still open after a restart");
    assert_eq!(value(&window, "drop courier"), "SF-7");
    assert_eq!(value(&window, "drop progress"), "1 of 2 scanned");

    window.tap("drop finish");
    assert_eq!(value(&window, "drop summary missing"), "1");
    window.tap("drop summary back");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Closed);
    assert!(drop_adapter(&window).get_open(), "going back leaves the drop open");
    window.tap("drop finish");
    window.tap("drop confirm");
    assert!(!drop_adapter(&window).get_open());
    let queue = setup.desk().queue().unwrap();
    let EventBody::DropClosed { missing, .. } = &queue.last().unwrap().body else {
        panic!("the last event is not the drop's");
    };
    assert_eq!(*missing, 1);

    // A receipt outside any drop still counts for the day.
    window.scan("JJD0002");
    assert_eq!(window.receive_title(), "Received");
    assert!(!drop_adapter(&window).get_open());
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Received);
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    let report = setup.desk().report(now - hour, now + hour).unwrap();
    assert_eq!(report.total.received, 2);
}

#[test]
fn second_badge_while_drop_open_warns() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("COURIER-ZTO-1");
    window.tap("keypad 1");
    window.tap("keypad enter");
    window.scan("COURIER-YTO-2");
    assert_eq!(window.receive_title(), "Drop already open");
    assert_eq!(drop_adapter(&window).get_step(), DropStep::Closed);
    assert_eq!(value(&window, "drop courier"), "ZTO-1");
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
    assert!(kinds(&setup).is_empty(), "badges record no parcel");
}

// ---- return session --------------------------------------------------------

/// Receives three parcels and has the customers refuse the first two.
fn refused_parcels(setup: &Setup) {
    let mut desk = setup.desk();
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        desk.receive(barcode).unwrap();
    }
    desk.refuse("JJD0001", Some("wrong size")).unwrap();
    desk.refuse("JJD0002", None).unwrap();
}

#[test]
fn return_session_scans_then_confirms() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    refused_parcels(&setup);
    let events_before = kinds(&setup).len();
    let mut window = Counter::new(&setup);
    window.tap("go returns");
    assert_eq!(returns(&window).get_parcels().row_count(), 2);
    assert_eq!(value(&window, "returns progress"), "0 of 2 scanned");

    window.scan("JJD0001");
    assert_eq!(returns_title(&window), "No return started");
    assert_eq!(returns(&window).get_scanned_count(), 0);

    window.scan("COURIER-ZTO-7");
    assert_eq!(returns_title(&window), "Return started");
    assert_eq!(value(&window, "return session"), "ZTO-7");
    window.scan("JJD0001");
    assert_eq!(returns_title(&window), "Scanned for return");
    assert_eq!(value(&window, "returns progress"), "1 of 2 scanned");
    assert_eq!(window.shell.tones.last(), Some(Tone::Success));
    window.scan("JJD0001");
    assert_eq!(returns_title(&window), "Already scanned");
    assert_eq!(returns(&window).get_scanned_count(), 1);
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
    window.scan("JJD0003");
    assert_eq!(returns_title(&window), "Not to return");
    let detail = returns(&window).get_outcome_detail().to_string();
    assert!(detail.contains("JJD0003"), "{detail}");
    assert!(detail.contains("cannot be returned"), "{detail}");
    assert_eq!(window.shell.tones.last(), Some(Tone::Error));
    window.scan("JJD0002");
    assert_eq!(value(&window, "returns progress"), "2 of 2 scanned");
    save_screenshot(&window.app, "returns_session");
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::ReturnPending);
    assert_eq!(kinds(&setup).len(), events_before, "scans record nothing before the close");

    window.tap("confirm return");
    assert_eq!(returns_title(&window), "Returned");
    assert_eq!(returns(&window).get_outcome_detail(), "2 parcels given to ZTO-7");
    assert!(!returns(&window).get_session_open());
    assert_eq!(returns(&window).get_parcels().row_count(), 0);
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::Returned);
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Returned);
    assert_eq!(state_of(&setup, "JJD0003"), ParcelState::Received);
    let kinds = kinds(&setup);
    assert_eq!(kinds[events_before..], ["returned", "returned", "return_session_closed"]);
    let queue = setup.desk().queue().unwrap();
    let EventBody::ReturnSessionClosed { courier_id, returned, .. } = &queue.last().unwrap().body
    else {
        panic!("the last event is not the return session's");
    };
    assert_eq!(courier_id, "ZTO-7");
    assert_eq!(returned, &["JJD0001", "JJD0002"]);

    // Open returns and confirm; the badge and five parcel scans.
    assert_eq!((window.taps, window.scans), (2, 6));
}

#[test]
fn counts_of_one_read_singular() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    refused_parcels(&setup);
    let mut window = Counter::new(&setup);

    window.tap("go returns");
    window.scan("COURIER-ZTO-7");
    window.scan("JJD0001");
    window.tap("confirm return");
    assert_eq!(returns_title(&window), "Returned");
    assert_eq!(returns(&window).get_outcome_detail(), "1 parcel given to ZTO-7");

    // Code entry locks after five wrong codes, so the fourth leaves one try.
    window.tap("returns home");
    window.tap("go handover");
    let mut details = Vec::new();
    for _ in 0..4 {
        for _ in 0..6 {
            window.tap("keypad 0");
        }
        window.tap("keypad enter");
        details.push(window.app.global::<HandoverAdapter>().get_outcome_detail().to_string());
    }
    let tries = "Check the digits with the customer";
    assert_eq!(details[0], format!("{tries}: 4 tries left before code entry locks"));
    assert_eq!(details[3], format!("{tries}: 1 try left before code entry locks"));
}

#[test]
fn typed_courier_starts_return() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    refused_parcels(&setup);
    let mut window = Counter::new(&setup);
    window.tap("go returns");
    assert_eq!(find(&window.app, "start return").accessible_enabled(), Some(false));
    find(&window.app, "courier id").set_accessible_value("YTO-3");
    window.tap("start return");
    assert!(returns(&window).get_session_open());
    assert_eq!(returns(&window).get_courier_id(), "", "the typed id is cleared");
    window.scan("JJD0002");
    window.tap("confirm return");
    assert_eq!(state_of(&setup, "JJD0002"), ParcelState::Returned);
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::ReturnPending);
    assert_eq!((window.taps, window.scans), (3, 1));
}

#[test]
fn returns_screen_clears_on_reopen() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    refused_parcels(&setup);
    let mut window = Counter::new(&setup);
    window.tap("go returns");
    find(&window.app, "courier id").set_accessible_value("ZTO-9");
    window.scan("JJD0003");
    assert_eq!(returns(&window).get_outcome_kind(), OutcomeKind::Warning);

    window.tap("returns home");
    window.tap("go returns");
    assert_eq!(returns(&window).get_outcome_kind(), OutcomeKind::None);
    assert_eq!(returns_title(&window), "");
    assert_eq!(returns(&window).get_courier_id(), "");
    assert_eq!(value(&window, "returns progress"), "0 of 2 scanned");
}

#[test]
fn open_return_session_shows_on_reopen() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    refused_parcels(&setup);
    let mut window = Counter::new(&setup);
    window.tap("go returns");
    window.scan("COURIER-ZTO-7");
    window.scan("JJD0001");
    window.tap("returns home");
    window.tap("go returns");
    assert!(returns(&window).get_session_open());
    assert_eq!(value(&window, "return session"), "ZTO-7");
    assert_eq!(value(&window, "returns progress"), "1 of 2 scanned");
}

// ---- stocktake ---------------------------------------------------------------

#[test]
fn stocktake_lists_missing_and_unexpected() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut desk = setup.desk();
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        desk.receive(barcode).unwrap();
    }
    drop(desk);
    let events_before = kinds(&setup).len();
    let mut window = Counter::new(&setup);
    window.tap("go stocktake");
    assert_eq!(value(&window, "stocktake progress"), "0 of 3 scanned");
    window.scan("JJD0001");
    assert_eq!(stocktake_title(&window), "No stocktake open");
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));

    window.tap("stocktake start");
    assert_eq!(stocktake_title(&window), "Stocktake started");
    assert!(setup.desk().stocktake_status().unwrap().is_some());
    window.scan("JJD0001");
    assert_eq!(stocktake_title(&window), "Seen");
    window.scan("JJD0002");
    window.scan("JJD0002");
    assert_eq!(stocktake_title(&window), "Already scanned");
    assert_eq!(value(&window, "stocktake progress"), "2 of 3 scanned");
    window.scan("JJD0005");
    window.scan("PKG-77");
    assert_eq!(value(&window, "stocktake progress"), "4 of 3 scanned");
    save_screenshot(&window.app, "stocktake_running");
    assert_eq!(kinds(&setup).len(), events_before, "scans record nothing before the close");

    window.tap("stocktake close");
    assert_eq!(stocktake_title(&window), "Stocktake closed with differences");
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
    assert_eq!(value(&window, "stocktake missing"), "Not found on the shelves: 1");
    assert_eq!(value(&window, "stocktake unexpected"), "Not expected on the shelves: 2");
    assert_eq!(value(&window, "JJD0003"), "! Not found");
    assert_eq!(value(&window, "JJD0005"), "! Unexpected");
    let unknown = find(&window.app, "PKG-77").accessible_description().unwrap_or_default();
    assert_eq!(unknown, "Unknown to this store");
    save_screenshot(&window.app, "stocktake_result");
    assert!(setup.desk().stocktake_status().unwrap().is_none());
    assert!(!stocktake(&window).get_open());

    let queue = setup.desk().queue().unwrap();
    let EventBody::StocktakeClosed { seen, missing_barcodes, unexpected_barcodes, .. } =
        &queue.last().unwrap().body
    else {
        panic!("the last event is not the stocktake's");
    };
    assert_eq!(*seen, 4);
    assert_eq!(missing_barcodes, &["JJD0003"]);
    assert_eq!(unexpected_barcodes, &["JJD0005", "PKG-77"]);
    runtime.block_on(setup.sync()).unwrap();
    let applied = setup.applied();
    let closed = applied.iter().find(|event| event.kind == "stocktake_closed");
    assert_eq!(closed.map(|event| event.outcome.as_str()), Some("accepted"));

    // Open, start and close; one scan before the start and five during it.
    assert_eq!((window.taps, window.scans), (3, 6));
}

#[test]
fn stocktake_with_all_found_is_green() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    setup.desk().receive("JJD0001").unwrap();
    let mut window = Counter::new(&setup);
    window.tap("go stocktake");
    window.tap("stocktake start");
    window.scan("JJD0001");
    window.tap("stocktake close");
    assert_eq!(stocktake_title(&window), "Stocktake closed");
    assert_eq!(window.shell.tones.last(), Some(Tone::Success));
    assert_eq!(value(&window, "stocktake missing"), "✓ Every expected parcel was found");
    assert_eq!(stocktake(&window).get_missing().row_count(), 0);
}

#[test]
fn stocktake_warns_on_unexpected_scans() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    setup.desk().receive("JJD0001").unwrap();
    let mut window = Counter::new(&setup);
    window.tap("go stocktake");
    window.tap("stocktake start");
    window.scan("JJD0001");
    assert_eq!(stocktake_title(&window), "Seen");
    assert_eq!(stocktake(&window).get_outcome_kind(), OutcomeKind::Success);

    // JJD0002 is announced but not received and PKG-77 is unknown, so
    // neither belongs on the shelves.
    for (barcode, seen) in [("JJD0002", 2), ("PKG-77", 3)] {
        window.scan(barcode);
        assert_eq!(stocktake_title(&window), "Not expected on the shelves", "{barcode}");
        assert_eq!(stocktake(&window).get_outcome_kind(), OutcomeKind::Warning, "{barcode}");
        assert_eq!(window.shell.tones.last(), Some(Tone::Warning), "{barcode}");
        let detail = stocktake(&window).get_outcome_detail().to_string();
        assert!(detail.starts_with(&format!("{barcode}: recorded")), "{detail}");
        assert_eq!(value(&window, "stocktake progress"), format!("{seen} of 1 scanned"));
    }
    save_screenshot(&window.app, "stocktake_unexpected_scan");

    // A courier's badge is no parcel at all, so the desk does not count it.
    window.scan("COURIER-ZTO-0042");
    assert_eq!(stocktake_title(&window), "Not counted");
    assert_eq!(stocktake(&window).get_outcome_kind(), OutcomeKind::Error);
    let detail = stocktake(&window).get_outcome_detail().to_string();
    assert!(detail.contains("is a courier badge"), "{detail}");
    assert_eq!(value(&window, "stocktake progress"), "3 of 1 scanned");
    let open = setup.desk().stocktake_status().unwrap().expect("the stocktake is open");
    assert_eq!(open.unexpected, ["JJD0002", "PKG-77"]);

    window.tap("stocktake close");
    assert_eq!(value(&window, "stocktake progress"), "0 of 1 scanned");
    let announced = find(&window.app, "JJD0002").accessible_description().unwrap_or_default();
    assert_eq!(announced, "Not received at this store yet");
    assert_eq!(value(&window, "JJD0002"), "! Unexpected");
}

#[test]
fn rejection_card_shows_reason_and_no_shelf() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(3));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.scan("JJD0001");
    assert_eq!(window.receive_title(), "Received");
    window.scan("SHELF-A4");
    assert_eq!(value(&window, "card shelf"), "A4");

    // Damaged after the scan rejects the parcel just received.
    window.tap("damaged");
    window.tap("reason crushed");
    assert_eq!(window.receive_title(), "Rejected");
    let detail = window.app.global::<ReceiveAdapter>().get_outcome_detail().to_string();
    assert_eq!(detail, "Crushed: give it back to the courier");
    assert_eq!(value(&window, "card state"), "Rejected (Crushed), back with the courier");
    // The card hides its shelf box for an empty shelf.
    assert_eq!(window.app.global::<ReceiveAdapter>().get_card().shelf, "");
    assert_eq!(state_of(&setup, "JJD0001"), ParcelState::Rejected);
    save_screenshot(&window.app, "receive_rejected");
}

// ---- damage photo ------------------------------------------------------------

fn rejection_photo(setup: &Setup) -> Option<String> {
    let queue = setup.desk().queue().unwrap();
    queue.iter().rev().find_map(|entry| match &entry.body {
        EventBody::Rejected { photo_jpeg, .. } => Some(photo_jpeg.clone()),
        _ => None,
    })?
}

#[test]
fn damage_photo_without_camera_says_so() {
    if std::path::Path::new("/dev/video0").exists() {
        eprintln!("skipping: this machine has a camera at /dev/video0");
        return;
    }
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let mut window = Counter::new(&setup);
    window.tap("go receive");
    window.tap("damaged");
    window.scan("JJD0004");
    window.tap("reason photo");
    let said = window.run_timers_until(100, |window| {
        value(window, "reason photo status").contains("No camera found")
    });
    assert!(said, "photo status {:?}", value(&window, "reason photo status"));
    assert_eq!(window.shell.tones.last(), Some(Tone::Warning));
    assert!(!window.app.global::<ReceiveAdapter>().get_photo_attached());
    save_screenshot(&window.app, "receive_photo_no_camera");

    window.tap("reason crushed");
    assert_eq!(window.receive_title(), "Rejected");
    assert_eq!(state_of(&setup, "JJD0004"), ParcelState::Rejected);
    assert_eq!(kinds(&setup), ["rejected"]);
    assert_eq!(rejection_photo(&setup), None);
}

/// Draws a 640 x 480 frame of grey bands, as a camera might see a parcel.
fn parcel_frame() -> LumaImage {
    let (width, height) = (640u32, 480u32);
    let pixels = (0..width * height).map(|index| ((index % width) / 40 * 16) as u8).collect();
    LumaImage::new(pixels, width, height).unwrap()
}

#[test]
fn damage_photo_rides_with_rejection() {
    let runtime = runtime();
    let setup = runtime.block_on(Setup::new(5));
    let starter: CameraStarter = Box::new(|| {
        CameraScanner::start_with(CameraConfig::default(), || StillCamera { image: parcel_frame() })
    });
    let mut window = Counter::with_context(&setup, setup.desk(), Some(starter), None);
    window.tap("go receive");
    window.scan("JJD0003");
    window.tap("damaged");
    window.tap("reason photo");
    let app = window.app.clone_strong();
    let receive = app.global::<ReceiveAdapter>();
    let attached = window
        .run_timers_until(100, |window| window.app.global::<ReceiveAdapter>().get_photo_attached());
    assert!(attached, "photo status {:?}", value(&window, "reason photo status"));
    assert!(value(&window, "reason photo status").starts_with("✓ Photo attached"));
    assert_eq!(window.shell.tones.last(), Some(Tone::Success));
    assert!(!receive.get_photo_busy());
    save_screenshot(&window.app, "receive_photo_attached");

    window.tap("reason wet");
    assert_eq!(window.receive_title(), "Rejected");
    assert_eq!(kinds(&setup), ["received", "rejected"]);
    let encoded = rejection_photo(&setup).expect("the rejection carries the photo");
    let jpeg = photo::decode(&encoded).unwrap();
    assert!(jpeg.len() <= pickup_terminal::protocol::MAX_PHOTO_BYTES);
    let picture = image::ImageReader::with_format(Cursor::new(&jpeg), image::ImageFormat::Jpeg)
        .decode()
        .unwrap();
    assert_eq!((picture.width(), picture.height()), (640, 480));
    assert!(!receive.get_photo_attached(), "the photo goes with one rejection only");
    // Open, damaged, photo and reason; one parcel scan.
    assert_eq!((window.taps, window.scans), (4, 1));
}
