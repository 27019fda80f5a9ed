//! Contention on the terminal database and a wrong device clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pickup_terminal::desk::{Clock, Desk, DeskConfig, DeskError};
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::store::{self, StoreError, outbox};
use rusqlite::Connection;

use crate::sync::Setup;

/// Starts a thread that holds a write transaction on the terminal database
/// for `hold` and commits a change, and returns once the lock is taken. The
/// change makes a reader's snapshot stale, as a sync that applies pulled
/// changes would.
fn hold_write_lock(dir: &std::path::Path, hold: Duration) -> std::thread::JoinHandle<()> {
    let conn = Connection::open(dir.join(store::DB_FILE)).unwrap();
    let (locked, wait) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.execute("INSERT INTO code_failures (at) VALUES ('2000-01-01T00:00:00Z')", []).unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(hold);
        conn.execute_batch("DELETE FROM code_failures; COMMIT").unwrap();
    });
    wait.recv().unwrap();
    thread
}

#[tokio::test(flavor = "multi_thread")]
async fn receipt_waits_for_writer() {
    let setup = Setup::new(3).await;
    let mut desk = setup.desk();
    let holder = hold_write_lock(setup.terminal_dir(), Duration::from_secs(2));

    let receipt = desk.receive("JJD0001");
    holder.join().unwrap();
    assert!(receipt.is_ok(), "{receipt:?}");
    let stored = setup.desk().parcel("JJD0001").unwrap().unwrap();
    assert_eq!(stored.state, ParcelState::Received);
    assert_eq!(setup.desk().queue().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn receipt_past_busy_timeout_errors() {
    let setup = Setup::new(3).await;
    let mut desk = setup.desk();
    // The same path as the 10 s production timeout, shortened for the test.
    desk.connection().busy_timeout(Duration::from_millis(300)).unwrap();
    let holder = hold_write_lock(setup.terminal_dir(), Duration::from_millis(1500));

    let error = desk.receive("JJD0001").unwrap_err();
    holder.join().unwrap();
    assert!(matches!(error, DeskError::Store(StoreError::Busy)), "{error:?}");
    assert!(error.to_string().contains("try again"), "{error}");
    let stored = setup.desk().parcel("JJD0001").unwrap().unwrap();
    assert_eq!(stored.state, ParcelState::Expected, "a failed receipt changed the parcel");
    assert!(setup.desk().queue().unwrap().is_empty(), "a failed receipt queued an event");

    desk.receive("JJD0001").unwrap();
    assert_eq!(setup.desk().queue().unwrap().len(), 1);
}

/// A clock the test sets by hand.
struct ManualClock(Mutex<DateTime<Utc>>);

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_clock_keeps_seq_order() {
    let setup = Setup::new(6).await;
    let clock = Arc::new(ManualClock(Mutex::new(Utc.timestamp_opt(0, 0).unwrap())));
    let mut desk =
        Desk::open(setup.terminal_dir(), DeskConfig::default()).unwrap().with_clock(clock.clone());

    // At 1970: two receipts, synced, then a handover of one of them.
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    setup.sync().await.unwrap();
    let code = setup.texted_code("JJD0001");
    desk.hand_over(&code, "JJD0001").unwrap();

    // Two hours behind: a receipt and the handover of the other parcel,
    // queued together with nothing synced in between.
    *clock.0.lock().unwrap() = Utc::now() - chrono::Duration::hours(2);
    desk.receive("JJD0003").unwrap();
    let code = setup.texted_code("JJD0002");
    desk.hand_over(&code, "JJD0002").unwrap();

    // Corrected: the clock jumps forward past every earlier device time.
    *clock.0.lock().unwrap() = Utc::now();
    desk.receive("JJD0004").unwrap();
    setup.sync().await.unwrap();
    let code = setup.texted_code("JJD0003");
    desk.hand_over(&code, "JJD0003").unwrap();
    setup.sync().await.unwrap();

    let local = outbox::all(desk.connection()).unwrap();
    let seqs: Vec<i64> = local.iter().map(|entry| entry.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(seqs, sorted);
    let applied = setup.applied();
    assert_eq!(applied.len(), 7);
    assert!(applied.iter().all(|event| event.outcome == "accepted"), "{applied:?}");
    for pair in applied.windows(2) {
        assert!(pair[0].seq < pair[1].seq, "backend order {} then {}", pair[0].seq, pair[1].seq);
        assert!(pair[0].server_time <= pair[1].server_time, "applied out of seq order");
    }
    for handover in applied.iter().filter(|event| event.kind == "handed_over") {
        let receipt = applied
            .iter()
            .find(|event| event.kind == "received" && event.barcode == handover.barcode)
            .expect("each handover has a receipt");
        assert!(receipt.seq < handover.seq, "{} handed over before received", handover.barcode);
    }
}
