use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::protocol::{Change, ManifestParcel};
use crate::store::credentials::Credentials;

const KEY: &[u8] = b"terminal-test-key-0123456789abcd";

/// A clock that moves only when a test advances it.
#[derive(Clone)]
struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    fn new() -> ManualClock {
        ManualClock(Arc::new(Mutex::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap())))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    clock: ManualClock,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture { dir: tempfile::tempdir().unwrap(), clock: ManualClock::new() };
        let mut desk = fixture.open();
        desk.add_operator("clerk", "Clerk One", "2468").unwrap();
        desk.sign_in("clerk", "2468").unwrap();
        Credentials {
            backend_url: "http://127.0.0.1:9".into(),
            terminal_id: "T1".into(),
            store_id: "S1".into(),
            token: "token".into(),
            code_key: hex::encode(KEY),
        }
        .save(fixture.dir.path())
        .unwrap();
        fixture
    }

    fn open(&self) -> Desk {
        Desk::open(self.dir.path(), DeskConfig::default())
            .unwrap()
            .with_clock(Arc::new(self.clock.clone()))
    }
}

fn apply(desk: &mut Desk, changes: &[Change]) {
    let now = desk.now();
    let tx = desk.conn.transaction().unwrap();
    for change in changes {
        inbound::apply_change(&tx, change, true, now).unwrap();
    }
    tx.commit().unwrap();
}

fn announce(desk: &mut Desk, barcode: &str) {
    let parcel = ManifestParcel {
        barcode: barcode.into(),
        order_id: format!("O-{barcode}"),
        customer_masked: "Wang *ei".into(),
        phone_last4: "1234".into(),
        courier: "ZTO".into(),
        deadline: None,
    };
    apply(desk, &[Change::ParcelAnnounced { parcel }]);
}

fn issue_code(desk: &mut Desk, code_id: &str, digits: &str, barcodes: &[&str]) {
    let code_hash = hex::encode(codes::hash(KEY, &Code::parse(digits).unwrap()));
    let barcodes = barcodes.iter().map(|b| b.to_string()).collect();
    apply(desk, &[Change::CodeIssued { code_id: code_id.into(), code_hash, barcodes }]);
}

fn event_count(desk: &Desk) -> i64 {
    desk.conn.query_row("SELECT COUNT(*) FROM outbox", [], |row| row.get(0)).unwrap()
}

fn ready_parcel(fixture: &Fixture, barcode: &str, digits: &str) -> Desk {
    let mut desk = fixture.open();
    announce(&mut desk, barcode);
    desk.receive(barcode).unwrap();
    issue_code(&mut desk, &format!("C-{barcode}"), digits, &[barcode]);
    desk
}

#[test]
fn receive_expected_parcel_appends_event() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    announce(&mut desk, "JJD0001");
    let receipt = desk.receive("JJD0001").unwrap();
    let Receipt::Received { parcel, seq } = receipt else { panic!("not received: {receipt:?}") };
    assert_eq!(parcel.state, ParcelState::Received);
    assert!(!parcel.unexpected);
    assert_eq!(seq, 1);
    let events = desk.queue().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].operator_id, "clerk");
    assert_eq!(events[0].body, EventBody::Received { unexpected: false, shelf: None });
}

#[test]
fn unannounced_parcel_is_flagged_unexpected() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    let Receipt::Received { parcel, .. } = desk.receive("PKG1").unwrap() else { panic!() };
    assert!(parcel.unexpected);
    assert_eq!(
        desk.queue().unwrap()[0].body,
        EventBody::Received { unexpected: true, shelf: None }
    );
}

#[test]
fn repeated_scan_records_nothing_and_says_when() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.receive("JJD0001").unwrap();
    fixture.clock.advance(Duration::minutes(3));
    let receipt = desk.receive("JJD0001").unwrap();
    let Receipt::AlreadyReceived { parcel } = receipt else { panic!("{receipt:?}") };
    assert_eq!(parcel.received_by.as_deref(), Some("clerk"));
    assert_eq!(parcel.received_at, Some(fixture.clock.now() - Duration::minutes(3)));
    assert_eq!(event_count(&desk), 1);
}

#[test]
fn rejection_keeps_reason_and_note() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    announce(&mut desk, "JJD0002");
    let parcel = desk.reject("JJD0002", RejectReason::Crushed, Some("corner split")).unwrap();
    assert_eq!(parcel.state, ParcelState::Rejected);
    assert_eq!(
        desk.queue().unwrap()[0].body,
        EventBody::Rejected {
            reason: RejectReason::Crushed,
            note: Some("corner split".into()),
            photo_jpeg: None,
        }
    );
}

#[test]
fn rejected_parcel_cannot_be_received() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.reject("JJD0002", RejectReason::Wet, None).unwrap();
    let error = desk.receive("JJD0002").unwrap_err();
    assert_eq!(error.exit_code(), 3);
    assert!(error.to_string().contains("rejected (wet)"), "{error}");
    assert_eq!(event_count(&desk), 1);
}

#[test]
fn actions_need_a_signed_in_operator() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.sign_out().unwrap();
    assert!(matches!(desk.receive("JJD0001"), Err(DeskError::NotSignedIn)));
    assert_eq!(event_count(&desk), 0);
}

#[test]
fn sign_in_lasts_one_shift_across_reopen() {
    let fixture = Fixture::new();
    fixture.clock.advance(Duration::hours(7));
    assert!(fixture.open().current_operator().unwrap().is_some());
    fixture.clock.advance(Duration::hours(1));
    assert!(fixture.open().current_operator().unwrap().is_none());
}

#[test]
fn wrong_pin_does_not_sign_in() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    assert!(matches!(desk.sign_in("clerk", "1111"), Err(DeskError::BadSignIn)));
    assert!(matches!(desk.sign_in("nobody", "2468"), Err(DeskError::BadSignIn)));
}

#[test]
fn code_unlocks_parcel_with_shelf() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    desk.move_to_shelf("JJD0001", "B3").unwrap();
    let parcels = desk.parcels_for_code("012345").unwrap();
    assert_eq!(parcels.len(), 1);
    assert_eq!(parcels[0].barcode, "JJD0001");
    assert_eq!(parcels[0].shelf.as_deref(), Some("B3"));
}

#[test]
fn code_without_leading_zero_is_invalid() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    assert!(matches!(desk.parcels_for_code("12345"), Err(DeskError::Invalid(_))));
    assert!(matches!(desk.parcels_for_code("0123456"), Err(DeskError::Invalid(_))));
    assert_eq!(desk.parcels_for_code(" ０１２３４５ ").unwrap().len(), 1);
}

#[test]
fn wrong_parcel_records_nothing() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    announce(&mut desk, "JJD0002");
    desk.receive("JJD0002").unwrap();
    let before = event_count(&desk);
    let error = desk.hand_over("012345", "JJD0002").unwrap_err();
    assert!(matches!(&error, DeskError::WrongParcel { .. }), "{error}");
    assert!(error.to_string().starts_with("wrong parcel"), "{error}");
    assert_eq!(event_count(&desk), before);
    assert_eq!(desk.parcel("JJD0002").unwrap().unwrap().state, ParcelState::Received);
}

#[test]
fn right_parcel_is_handed_over_once() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    let parcel = desk.hand_over("012345", "JJD0001").unwrap();
    assert_eq!(parcel.state, ParcelState::HandedOver);
    assert_eq!(desk.queue().unwrap().last().unwrap().body, EventBody::HandedOver);
    assert!(matches!(desk.hand_over("012345", "JJD0001"), Err(DeskError::CodeUsed)));
}

#[test]
fn one_code_unlocks_every_parcel_of_order() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    for barcode in ["JJD0001", "JJD0002"] {
        announce(&mut desk, barcode);
        desk.receive(barcode).unwrap();
    }
    issue_code(&mut desk, "C1", "654321", &["JJD0001", "JJD0002"]);
    assert_eq!(desk.parcels_for_code("654321").unwrap().len(), 2);
    desk.hand_over("654321", "JJD0001").unwrap();
    let left = desk.parcels_for_code("654321").unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].barcode, "JJD0002");
}

#[test]
fn revoked_code_stops_working() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    apply(&mut desk, &[Change::CodeRevoked { code_id: "C-JJD0001".into() }]);
    assert!(matches!(desk.parcels_for_code("012345"), Err(DeskError::WrongCode { .. })));
    assert_eq!(desk.parcel("JJD0001").unwrap().unwrap().state, ParcelState::Received);
}

#[test]
fn five_wrong_codes_lock_entry_for_a_minute() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    for _ in 0..4 {
        assert!(matches!(desk.parcels_for_code("999999"), Err(DeskError::WrongCode { .. })));
    }
    let fifth = desk.parcels_for_code("999999").unwrap_err();
    let DeskError::CodeLocked { remaining, after_wrong_code } = fifth else { panic!("{fifth}") };
    assert_eq!(remaining.as_secs(), 60);
    assert!(after_wrong_code);
    let right_code = desk.parcels_for_code("012345").unwrap_err();
    let DeskError::CodeLocked { after_wrong_code, .. } = right_code else { panic!("{right_code}") };
    assert!(!after_wrong_code, "the right code was not evaluated");
    fixture.clock.advance(Duration::seconds(61));
    assert_eq!(desk.parcels_for_code("012345").unwrap().len(), 1);
}

#[test]
fn wrong_code_message_counts_tries() {
    let one = DeskError::WrongCode { tries_left: 1 }.to_string();
    assert!(one.contains("(1 try left before code entry locks)"), "{one}");
    let four = DeskError::WrongCode { tries_left: 4 }.to_string();
    assert!(four.contains("(4 tries left before code entry locks)"), "{four}");
}

#[test]
fn wrong_code_after_lock_ends_says_wrong() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    for _ in 0..5 {
        let _ = desk.parcels_for_code("999999");
    }
    fixture.clock.advance(Duration::seconds(61));
    let error = desk.parcels_for_code("999999").unwrap_err();
    let DeskError::CodeLocked { after_wrong_code, .. } = error else { panic!("{error}") };
    assert!(after_wrong_code);
    assert!(error.to_string().contains("code not recognised"), "{error}");
}

#[test]
fn lock_survives_restart() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    for _ in 0..5 {
        let _ = desk.parcels_for_code("999999");
    }
    drop(desk);
    let mut reopened = fixture.open();
    assert!(matches!(reopened.parcels_for_code("012345"), Err(DeskError::CodeLocked { .. })));
}

#[test]
fn brute_force_evaluates_few_codes() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    let mut rng = rand::thread_rng();
    let mut answered_locked = 0;
    for _ in 0..1000 {
        // Guesses start at 100000, so none is the right code.
        let guess = format!("{:06}", rand::Rng::gen_range(&mut rng, 100_000..1_000_000));
        match desk.parcels_for_code(&guess) {
            Err(DeskError::WrongCode { .. }) => {}
            Err(DeskError::CodeLocked { .. }) => answered_locked += 1,
            other => panic!("unexpected answer {other:?}"),
        }
        fixture.clock.advance(Duration::milliseconds(500));
    }
    // Every evaluated wrong guess is a row; the 500 s of guessing stay within
    // the 10-minute window, so no row was forgotten. Five guesses are
    // evaluated before the first lock; while five failures stay within the
    // window, each 60 s lock lets one more guess through.
    let evaluated: i64 =
        desk.conn.query_row("SELECT COUNT(*) FROM code_failures", [], |row| row.get(0)).unwrap();
    assert!(evaluated >= 5, "evaluated {evaluated}");
    assert!(evaluated <= 5 + 500 / 60 + 1, "evaluated {evaluated}");
    assert!(answered_locked >= 1000 - evaluated, "locked answers {answered_locked}");
}

#[test]
fn caps_lock_inversion_is_reported() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    announce(&mut desk, "JJD0001");
    let error = desk.receive("jjd0001").unwrap_err();
    assert!(error.to_string().contains("Caps Lock"), "{error}");
    assert_eq!(event_count(&desk), 0);
}

#[test]
fn bad_barcodes_are_invalid_and_write_nothing() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    let long = "A".repeat(129);
    for raw in ["", "   ", long.as_str(), "JJD\u{7}0001", "'; DROP TABLE parcels;--"] {
        let error = desk.receive(raw).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{raw:?}: {error}");
    }
    assert_eq!(event_count(&desk), 0);
}

#[test]
fn other_labels_are_not_parcels() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    for raw in ["924449", "COURIER-ZTO-0042", "SHELF-B3", "shelf-a1"] {
        let error = desk.receive(raw).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{raw:?}: {error}");
        let error = desk.reject(raw, RejectReason::Wet, None).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{raw:?}: {error}");
    }
    let error = desk.receive("924449").unwrap_err().to_string();
    assert!(!error.contains("924449"), "a code's digits reached the message: {error}");
    desk.start_stocktake().unwrap();
    assert!(desk.scan_stocktake("COURIER-ZTO-0042").is_err());
    assert_eq!(event_count(&desk), 0);
    assert!(desk.receive("9244490").is_ok(), "seven digits are a parcel barcode");
}

#[test]
fn five_wrong_pins_lock_sign_in() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.add_operator("night", "Night Clerk", "1357").unwrap();
    for _ in 0..MAX_WRONG_PINS {
        assert!(matches!(desk.sign_in("night", "0000"), Err(DeskError::BadSignIn)));
    }
    let error = desk.sign_in("night", "1357").unwrap_err();
    assert!(matches!(error, DeskError::SignInLocked { .. }), "{error}");
    assert_eq!(error.exit_code(), 3);
    assert!(error.to_string().contains("try again in 300 s"), "{error}");
    assert!(desk.sign_in("clerk", "2468").is_ok(), "another operator is not locked");

    fixture.clock.advance(PIN_LOCK);
    assert!(desk.sign_in("night", "1357").is_ok(), "the lock ends");
    for _ in 0..MAX_WRONG_PINS - 1 {
        assert!(matches!(desk.sign_in("night", "0000"), Err(DeskError::BadSignIn)));
    }
    assert!(desk.sign_in("night", "1357").is_ok(), "a sign-in clears the failures");
}

#[test]
fn unknown_operator_locks_like_known_one() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    for _ in 0..MAX_WRONG_PINS {
        assert!(matches!(desk.sign_in("ghost", "0000"), Err(DeskError::BadSignIn)));
    }
    let error = desk.sign_in("ghost", "0000").unwrap_err();
    assert!(matches!(error, DeskError::SignInLocked { .. }), "{error}");
}

#[test]
fn refused_parcel_returns_to_courier() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    desk.refuse("JJD0001", Some("wrong colour")).unwrap();
    assert!(desk.hand_over("012345", "JJD0001").is_err());
    let parcel = desk.return_to_courier("JJD0001", Some("ZTO-7")).unwrap();
    assert_eq!(parcel.state, ParcelState::Returned);
}

#[test]
fn overdue_parcels_are_marked_for_return() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "012345");
    let deadline = fixture.clock.now() + Duration::days(3);
    apply(&mut desk, &[Change::DeadlineSet { barcode: "JJD0001".into(), deadline }]);
    assert!(desk.mark_overdue().unwrap().is_empty());
    fixture.clock.advance(Duration::days(4));
    desk.sign_in("clerk", "2468").unwrap();
    let marked = desk.mark_overdue().unwrap();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].return_cause, Some(ReturnCause::Overdue));
}

#[test]
fn status_counts_states_and_queue() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    announce(&mut desk, "JJD0001");
    announce(&mut desk, "JJD0002");
    desk.receive("JJD0002").unwrap();
    fixture.clock.advance(Duration::seconds(30));
    let status = desk.status().unwrap();
    assert_eq!(status.expected, 1);
    assert_eq!(status.on_shelf, 1);
    assert_eq!(status.queue_depth, 1);
    assert_eq!(status.oldest_unsent_age_s, Some(30));
    assert_eq!(status.operator.as_deref(), Some("clerk"));
    assert_eq!(status.operator_name.as_deref(), Some("Clerk One"));
}

#[test]
fn code_digits_absent_from_database_files() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "482913");
    let _ = desk.parcels_for_code("482913");
    let _ = desk.parcels_for_code("771234");
    for name in ["terminal.sqlite", "terminal.sqlite-wal"] {
        let bytes = std::fs::read(fixture.dir.path().join(name)).unwrap_or_default();
        for digits in ["482913", "771234"] {
            let found = bytes.windows(6).any(|window| window == digits.as_bytes());
            assert!(!found, "{digits} found in {name}");
        }
    }
}

// ---- random sequences of clerk actions ------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Receive(usize),
    Reject(usize),
    HandOver { code: usize, parcel: usize },
    Refuse(usize),
    Return(usize),
    IssueCode(usize),
    Reopen,
}

const BARCODES: [&str; 4] = ["JJD0001", "JJD0002", "PKG1", "PKG2"];
const CODES: [&str; 4] = ["100001", "200002", "300003", "400004"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..4usize).prop_map(Step::Receive),
        (0..4usize).prop_map(Step::Reject),
        (0..4usize, 0..4usize).prop_map(|(code, parcel)| Step::HandOver { code, parcel }),
        (0..4usize).prop_map(Step::Refuse),
        (0..4usize).prop_map(Step::Return),
        (0..4usize).prop_map(Step::IssueCode),
        Just(Step::Reopen),
    ]
}

/// Runs one step and returns whether the desk reported an accepted action.
fn run_step(fixture: &Fixture, desk: &mut Desk, step: &Step) -> bool {
    match *step {
        Step::Receive(i) => matches!(desk.receive(BARCODES[i]), Ok(Receipt::Received { .. })),
        Step::Reject(i) => desk.reject(BARCODES[i], RejectReason::Torn, None).is_ok(),
        Step::HandOver { code, parcel } => desk.hand_over(CODES[code], BARCODES[parcel]).is_ok(),
        Step::Refuse(i) => desk.refuse(BARCODES[i], None).is_ok(),
        Step::Return(i) => desk.return_to_courier(BARCODES[i], None).is_ok(),
        Step::IssueCode(i) => {
            issue_code(desk, &format!("C{i}"), CODES[i], &[BARCODES[i]]);
            false
        }
        Step::Reopen => {
            *desk = fixture.open();
            false
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_actions_keep_store_consistent(steps in proptest::collection::vec(step(), 1..30)) {
        let fixture = Fixture::new();
        let mut desk = fixture.open();
        announce(&mut desk, "JJD0001");
        announce(&mut desk, "JJD0002");
        let mut accepted = 0;
        for step in &steps {
            // Every wrong code would soon lock entry; keep the clock moving.
            fixture.clock.advance(Duration::minutes(2));
            if run_step(&fixture, &mut desk, step) {
                accepted += 1;
            }
            let events = crate::store::outbox::all(&desk.conn).unwrap();
            prop_assert_eq!(events.len(), accepted);
            let sequence: Vec<i64> = events.iter().map(|event| event.seq).collect();
            let expected: Vec<i64> = (1..=accepted as i64).collect();
            prop_assert_eq!(sequence, expected);
            for parcel in desk.parcels(None).unwrap() {
                let has_code = crate::store::codes::parcel_has_code(&desk.conn, &parcel.barcode).unwrap();
                if parcel.state == ParcelState::Ready {
                    prop_assert!(has_code, "{} ready without a code", parcel.barcode);
                }
                if parcel.state == ParcelState::Received {
                    prop_assert!(!has_code, "{} has a code but is not ready", parcel.barcode);
                }
                if parcel.state == ParcelState::HandedOver {
                    prop_assert!(parcel.handed_over_at.is_some());
                }
            }
        }
        let check: String = desk.conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        prop_assert_eq!(check, "ok");
    }
}

#[test]
fn receipt_suggests_least_used_shelf() {
    let fixture = Fixture::new();
    let config = DeskConfig { shelves: vec!["A1".into(), "A2".into()], ..DeskConfig::default() };
    let mut desk =
        Desk::open(fixture.dir.path(), config).unwrap().with_clock(Arc::new(fixture.clock.clone()));
    let shelves: Vec<Option<String>> = ["P1", "P2", "P3"]
        .iter()
        .map(|barcode| match desk.receive(barcode).unwrap() {
            Receipt::Received { parcel, .. } => parcel.shelf,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(shelves, [Some("A1".into()), Some("A2".into()), Some("A1".into())]);
    let event = &desk.queue().unwrap()[0];
    assert_eq!(event.body, EventBody::Received { unexpected: true, shelf: Some("A1".into()) });
}

// ---- retention and privacy -------------------------------------------------

/// Marks every event in the outbox as applied by the backend.
fn acknowledge_all(desk: &mut Desk) {
    let now = desk.now();
    let ids: Vec<uuid::Uuid> = desk.queue().unwrap().iter().map(|entry| entry.event_id).collect();
    let tx = desk.conn.transaction().unwrap();
    for id in ids {
        outbox::mark_sent(&tx, id, now).unwrap();
    }
    tx.commit().unwrap();
}

fn events_about(desk: &Desk, barcode: &str) -> i64 {
    desk.conn
        .query_row("SELECT COUNT(*) FROM outbox WHERE barcode = ?1", [barcode], |row| row.get(0))
        .unwrap()
}

#[test]
fn handed_over_parcel_purged_after_retention() {
    let fixture = Fixture::new();
    let mut desk = ready_parcel(&fixture, "JJD0001", "123456");
    desk.hand_over("123456", "JJD0001").unwrap();
    acknowledge_all(&mut desk);

    fixture.clock.advance(Duration::days(29));
    assert_eq!(desk.purge_expired().unwrap(), 0);
    assert!(desk.parcel("JJD0001").unwrap().is_some());

    fixture.clock.advance(Duration::days(2));
    assert_eq!(desk.purge_expired().unwrap(), 1);
    assert!(desk.parcel("JJD0001").unwrap().is_none());
    assert_eq!(events_about(&desk, "JJD0001"), 0);
    assert!(store::codes::codes_for_parcel(&desk.conn, "JJD0001").unwrap().is_empty());
    let codes: i64 =
        desk.conn.query_row("SELECT COUNT(*) FROM codes", [], |row| row.get(0)).unwrap();
    assert_eq!(codes, 0);
}

#[test]
fn unsent_event_blocks_purge() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.receive("JJD0002").unwrap();
    desk.refuse("JJD0002", None).unwrap();
    acknowledge_all(&mut desk);
    desk.return_to_courier("JJD0002", Some("ZTO-7")).unwrap();
    fixture.clock.advance(Duration::days(90));

    assert_eq!(desk.purge_expired().unwrap(), 0, "the return event is still pending");
    assert_eq!(events_about(&desk, "JJD0002"), 3);

    let pending = desk.queue().unwrap()[0].event_id;
    let tx = desk.conn.transaction().unwrap();
    outbox::quarantine(&tx, pending, "rejected by the backend").unwrap();
    tx.commit().unwrap();
    assert_eq!(desk.purge_expired().unwrap(), 0, "a quarantined event is unsent too");
    assert_eq!(desk.parcel("JJD0002").unwrap().unwrap().state, ParcelState::Returned);
}

#[test]
fn parcel_on_shelf_is_never_purged() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.receive("JJD0003").unwrap();
    acknowledge_all(&mut desk);
    fixture.clock.advance(Duration::days(400));
    assert_eq!(desk.purge_expired().unwrap(), 0);
    assert!(desk.parcel("JJD0003").unwrap().is_some());
}

#[test]
fn purge_keeps_code_of_remaining_parcel() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    for barcode in ["JJD0004", "JJD0005"] {
        announce(&mut desk, barcode);
        desk.receive(barcode).unwrap();
    }
    issue_code(&mut desk, "C-order", "246810", &["JJD0004", "JJD0005"]);
    desk.hand_over("246810", "JJD0004").unwrap();
    acknowledge_all(&mut desk);
    fixture.clock.advance(Duration::days(31));

    assert_eq!(desk.purge_expired().unwrap(), 1);
    let still_ready = desk.parcels_for_code("246810").unwrap();
    assert_eq!(still_ready.len(), 1);
    assert_eq!(still_ready[0].barcode, "JJD0005");
}

#[test]
fn manifest_keeps_only_masked_name_and_last_four_digits() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    let parcel = ManifestParcel {
        barcode: "JJD0006".into(),
        order_id: "O-6".into(),
        customer_masked: "Wang Wei".into(),
        phone_last4: "+86 138-0013-8000".into(),
        courier: "ZTO".into(),
        deadline: None,
    };
    apply(&mut desk, &[Change::ParcelAnnounced { parcel }]);
    let stored = desk.parcel("JJD0006").unwrap().unwrap();
    assert_eq!(stored.customer_masked, "W**");
    assert_eq!(stored.phone_last4, "8000");

    announce(&mut desk, "JJD0007");
    let masked = desk.parcel("JJD0007").unwrap().unwrap();
    assert_eq!(masked.customer_masked, "Wang *ei");
    assert_eq!(masked.phone_last4, "1234");
}

// ---- counter sessions, photos and the daily report --------------------------

fn kinds(desk: &Desk) -> Vec<&'static str> {
    desk.queue().unwrap().iter().map(|entry| entry.body.kind()).collect()
}

fn tiny_jpeg() -> Vec<u8> {
    let picture = image::GrayImage::from_pixel(4, 4, image::Luma([200]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Jpeg).unwrap();
    bytes.into_inner()
}

#[test]
fn drop_counts_receipts_and_rejections() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        announce(&mut desk, barcode);
    }
    desk.start_drop("ZTO-7", 4).unwrap();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    desk.reject("JJD0002", RejectReason::Wet, None).unwrap();
    desk.reject("JJD0003", RejectReason::Torn, None).unwrap();

    let summary = desk.drop_status().unwrap().unwrap();
    assert_eq!(summary.received, vec!["JJD0001".to_owned()]);
    assert_eq!(summary.rejected, vec!["JJD0002".to_owned(), "JJD0003".to_owned()]);
    assert_eq!(summary.scanned, 3);
    assert_eq!(summary.missing, 1);
    assert_eq!(summary.extra, 0);

    let closed = desk.close_drop().unwrap();
    assert!(closed.session.closed_at.is_some());
    let last = desk.queue().unwrap().pop().unwrap();
    assert_eq!(last.barcode, "");
    let EventBody::DropClosed { courier_id, declared, received, rejected, missing, extra, .. } =
        last.body
    else {
        panic!("not a drop_closed event: {last:?}");
    };
    assert_eq!(courier_id, "ZTO-7");
    assert_eq!(declared, 4);
    assert_eq!(received.len(), 1);
    assert_eq!(rejected.len(), 2);
    assert_eq!((missing, extra), (1, 0));
    assert!(desk.drop_status().unwrap().is_none());
}

#[test]
fn drop_reports_extra_parcels() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.start_drop_from_badge("courier-YT-1", 1).unwrap();
    desk.receive("PKG1").unwrap();
    desk.receive("PKG2").unwrap();
    let summary = desk.close_drop().unwrap();
    assert_eq!(summary.session.courier_id.as_deref(), Some("YT-1"));
    assert_eq!(summary.extra, 1);
    assert_eq!(summary.missing, 0);
}

#[test]
fn receipt_outside_drop_still_counts() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.receive("PKG1").unwrap();
    desk.start_drop("ZTO-7", 1).unwrap();
    desk.receive("PKG2").unwrap();
    let summary = desk.close_drop().unwrap();
    assert_eq!(summary.received, vec!["PKG2".to_owned()]);
    desk.receive("PKG3").unwrap();
    assert_eq!(kinds(&desk), ["received", "received", "drop_closed", "received"]);
}

#[test]
fn second_drop_while_open_is_refused() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.start_drop("ZTO-7", 1).unwrap();
    let error = desk.start_drop("YT-1", 1).unwrap_err();
    assert!(matches!(error, DeskError::Session(_)), "{error:?}");
    assert!(error.to_string().contains("courier ZTO-7"), "{error}");
    assert_eq!(error.exit_code(), 3);
}

#[test]
fn drop_input_errors() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    assert!(matches!(desk.start_drop("", 1), Err(DeskError::Invalid(_))));
    assert!(matches!(desk.start_drop("ZTO 7", 1), Err(DeskError::Invalid(_))));
    assert!(matches!(desk.start_drop("ZTO", 10_001), Err(DeskError::Invalid(_))));
    assert!(matches!(desk.start_drop("ZTO", 0), Err(DeskError::Invalid(_))));
    assert!(matches!(desk.start_drop_from_badge("JJD0001", 1), Err(DeskError::Invalid(_))));
    assert!(matches!(desk.close_drop(), Err(DeskError::Session(_))));
    assert_eq!(event_count(&desk), 0);
}

#[test]
fn courier_badge_parsing() {
    assert_eq!(courier_from_badge("COURIER-ZTO-0042"), Some("ZTO-0042"));
    assert_eq!(courier_from_badge(" courier-A1 "), Some("A1"));
    assert_eq!(courier_from_badge("COURIER-"), None);
    assert_eq!(courier_from_badge("JJD0001"), None);
    assert_eq!(courier_from_badge("CO"), None);
}

#[test]
fn courier_entry_takes_badge_or_id() {
    assert_eq!(courier_from_entry("COURIER-ZTO-0042"), "ZTO-0042");
    assert_eq!(courier_from_entry(" ZTO-0042 "), "ZTO-0042");
    assert_eq!(courier_from_entry("COURIER-"), "COURIER-");
    assert_eq!(courier_from_entry(""), "");
}

#[test]
fn courier_id_check_before_session() {
    assert_eq!(validate_courier(" ZTO-0042 ").unwrap(), "ZTO-0042");
    for bad in ["", "ZTO 7", "ZTO/7", &"Z".repeat(33)] {
        let error = validate_courier(bad).unwrap_err();
        assert!(matches!(error, DeskError::Invalid(_)), "{bad:?}: {error:?}");
    }
}

#[test]
fn rejection_photo_travels_in_event() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    let jpeg = tiny_jpeg();
    desk.reject_with_photo("PKG1", RejectReason::Crushed, None, Some(&jpeg)).unwrap();
    let EventBody::Rejected { photo_jpeg: Some(encoded), .. } = &desk.queue().unwrap()[0].body
    else {
        panic!("no photo in the event");
    };
    assert_eq!(photo::decode(encoded).unwrap(), jpeg);
}

#[test]
fn invalid_photo_records_nothing() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    let error =
        desk.reject_with_photo("PKG1", RejectReason::Crushed, None, Some(b"GIF89a")).unwrap_err();
    assert!(matches!(error, DeskError::Invalid(_)), "{error:?}");
    assert_eq!(event_count(&desk), 0);
    assert!(desk.parcel("PKG1").unwrap().is_none());
}

fn to_return(desk: &mut Desk, barcode: &str) {
    announce(desk, barcode);
    desk.receive(barcode).unwrap();
    desk.refuse(barcode, Some("wrong size")).unwrap();
}

#[test]
fn return_session_returns_scanned_parcels_on_close() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    to_return(&mut desk, "JJD0001");
    to_return(&mut desk, "JJD0002");
    let before = event_count(&desk);
    desk.start_return("ZTO-7").unwrap();
    desk.return_parcel("JJD0001", None).unwrap();
    let outcome = desk.return_parcel("JJD0001", None).unwrap();
    assert!(matches!(outcome, ReturnOutcome::Scanned { new: false, .. }), "{outcome:?}");
    let ReturnOutcome::Scanned { summary, new: true } =
        desk.return_parcel("JJD0002", Some("ZTO-7")).unwrap()
    else {
        panic!("not scanned into the session");
    };
    assert_eq!(summary.count, 2);
    assert_eq!(event_count(&desk), before, "scans alone send nothing");
    assert_eq!(desk.parcel("JJD0001").unwrap().unwrap().state, ParcelState::ReturnPending);

    let closed = desk.close_return().unwrap();
    assert_eq!(closed.count, 2);
    for barcode in ["JJD0001", "JJD0002"] {
        assert_eq!(desk.parcel(barcode).unwrap().unwrap().state, ParcelState::Returned);
    }
    let queue = desk.queue().unwrap();
    let tail: Vec<&EventBody> = queue.iter().rev().take(3).map(|entry| &entry.body).collect();
    assert!(
        matches!(tail[0], EventBody::ReturnSessionClosed { returned, .. } if returned.len() == 2)
    );
    assert_eq!(tail[1], &EventBody::Returned { courier_id: Some("ZTO-7".into()) });
    assert_eq!(tail[2], &EventBody::Returned { courier_id: Some("ZTO-7".into()) });
}

#[test]
fn return_scan_checks_the_rules() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    announce(&mut desk, "JJD0001");
    desk.receive("JJD0001").unwrap();
    desk.start_return("ZTO-7").unwrap();
    let error = desk.return_parcel("JJD0001", None).unwrap_err();
    assert!(matches!(error, DeskError::Forbidden(_)), "{error:?}");
    let error = desk.return_parcel("JJD0001", Some("YT-1")).unwrap_err();
    assert!(error.to_string().contains("courier ZTO-7"), "{error}");
    assert_eq!(desk.return_status().unwrap().unwrap().count, 0);
}

#[test]
fn return_without_session_is_immediate() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    to_return(&mut desk, "JJD0001");
    let outcome = desk.return_parcel("JJD0001", Some("ZTO-7")).unwrap();
    let ReturnOutcome::Returned { parcel } = outcome else { panic!("{outcome:?}") };
    assert_eq!(parcel.state, ParcelState::Returned);
}

#[test]
fn stocktake_finds_missing_and_unexpected() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        announce(&mut desk, barcode);
    }
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    assert!(matches!(desk.scan_stocktake("JJD0001"), Err(DeskError::Session(_))));
    desk.start_stocktake().unwrap();
    desk.scan_stocktake("JJD0001").unwrap();
    desk.scan_stocktake("JJD0001").unwrap();
    desk.scan_stocktake("JJD0003").unwrap();
    let running = desk.scan_stocktake("STRAY9").unwrap();
    assert_eq!(running.seen, 3);

    let closed = desk.close_stocktake().unwrap();
    assert_eq!(closed.missing, vec!["JJD0002".to_owned()]);
    assert_eq!(closed.unexpected, vec!["JJD0003".to_owned(), "STRAY9".to_owned()]);
    let last = desk.queue().unwrap().pop().unwrap();
    assert_eq!(
        last.body,
        EventBody::StocktakeClosed {
            session_id: closed.session.session_id.clone(),
            seen: 3,
            missing_barcodes: vec!["JJD0002".into()],
            unexpected_barcodes: vec!["JJD0003".into(), "STRAY9".into()],
        }
    );
    assert!(desk.stocktake_status().unwrap().is_none());
}

#[test]
fn open_session_survives_reopen() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.start_drop("ZTO-7", 2).unwrap();
    desk.receive("PKG1").unwrap();
    drop(desk);
    let desk = fixture.open();
    assert_eq!(desk.drop_status().unwrap().unwrap().received, vec!["PKG1".to_owned()]);
}

#[test]
fn report_counts_per_operator_and_day() {
    let fixture = Fixture::new();
    let mut desk = fixture.open();
    desk.add_operator("night", "Night Clerk", "1357").unwrap();
    let day_start = desk.now();
    for barcode in ["JJD0001", "JJD0002", "JJD0003"] {
        announce(&mut desk, barcode);
    }
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    desk.reject("PKG9", RejectReason::Wet, None).unwrap();
    desk.refuse("JJD0002", None).unwrap();
    desk.sign_in("night", "1357").unwrap();
    desk.receive("JJD0003").unwrap();
    desk.return_to_courier("JJD0002", None).unwrap();
    desk.mark_overdue().unwrap();
    fixture.clock.advance(Duration::days(1));
    desk.sign_in("night", "1357").unwrap();
    desk.receive("PKG10").unwrap();

    let report = desk.report(day_start, day_start + Duration::days(1)).unwrap();
    let clerk = &report.operators["clerk"];
    assert_eq!(clerk.received, 2);
    assert_eq!(clerk.rejected, 1);
    assert_eq!(clerk.refused, 1);
    let night = &report.operators["night"];
    assert_eq!(night.received, 1, "the next day's receipt is left out");
    assert_eq!(night.returned, 1);
    assert_eq!(report.total.received, 3);
    assert_eq!(report.total.handed_over, 0);
    assert!(desk.report(day_start, day_start).is_err());
}
