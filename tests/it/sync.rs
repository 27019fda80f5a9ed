//! The sync engine against the real reference backend on a loopback port.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use pickup_terminal::backend::{self, BackendConfig, RunningBackend};
use pickup_terminal::desk::{Desk, DeskConfig, DeskError};
use pickup_terminal::store::credentials::Credentials;
use pickup_terminal::store::outbox;
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::sync::{self, SyncConfig, SyncError};

pub(crate) const STORE: &str = "S001";
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token";

/// A backend with a seeded store and one enrolled, signed-in terminal.
pub(crate) struct Setup {
    _dir: tempfile::TempDir,
    backend_db: PathBuf,
    terminal_dir: PathBuf,
    backend: Option<RunningBackend>,
}

pub(crate) fn sync_config() -> SyncConfig {
    SyncConfig {
        request_timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(200),
        ..SyncConfig::default()
    }
}

async fn start_backend(db: &std::path::Path) -> RunningBackend {
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    backend::start(BackendConfig::new(db.to_owned(), listen, ADMIN_TOKEN)).await.unwrap()
}

impl Setup {
    pub(crate) async fn new(parcels: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let backend_db = dir.path().join("mall.sqlite");
        let terminal_dir = dir.path().join("terminal");
        backend::seed(&backend_db, STORE, parcels, 7).unwrap();
        let running = start_backend(&backend_db).await;
        let token = backend::create_enrolment(&backend_db, STORE).unwrap();
        sync::enroll(&terminal_dir, &running.base_url(), &token, &sync_config()).await.unwrap();
        let mut desk = Desk::open(&terminal_dir, DeskConfig::default()).unwrap();
        desk.add_operator("clerk", "Clerk", "2468").unwrap();
        desk.sign_in("clerk", "2468").unwrap();
        let setup = Setup { _dir: dir, backend_db, terminal_dir, backend: Some(running) };
        setup.sync().await.unwrap();
        setup
    }

    pub(crate) fn terminal_dir(&self) -> &std::path::Path {
        &self.terminal_dir
    }

    pub(crate) fn backend_db(&self) -> &std::path::Path {
        &self.backend_db
    }

    pub(crate) fn base_url(&self) -> String {
        self.backend.as_ref().expect("the backend runs").base_url()
    }

    pub(crate) fn desk(&self) -> Desk {
        Desk::open(&self.terminal_dir, DeskConfig::default()).unwrap()
    }

    pub(crate) async fn sync(&self) -> Result<sync::SyncReport, SyncError> {
        sync::sync_once(&self.terminal_dir, &sync_config()).await
    }

    pub(crate) async fn stop_backend(&mut self) {
        if let Some(running) = self.backend.take() {
            running.shutdown().await;
        }
    }

    /// Starts the backend again on the same database; the port changes, so
    /// the terminal's credentials follow it.
    pub(crate) async fn restart_backend(&mut self) {
        let running = start_backend(&self.backend_db).await;
        self.set_backend_url(&running.base_url());
        self.backend = Some(running);
    }

    /// Points the terminal's credentials at `url`, for example a proxy.
    pub(crate) fn set_backend_url(&self, url: &str) {
        let mut credentials = Credentials::load(&self.terminal_dir).unwrap().unwrap();
        credentials.backend_url = url.to_owned();
        credentials.save(&self.terminal_dir).unwrap();
    }

    /// Returns the backend's address, for a proxy in front of it.
    pub(crate) fn backend_addr(&self) -> SocketAddr {
        self.backend.as_ref().expect("the backend runs").addr()
    }

    pub(crate) fn terminal_id(&self) -> String {
        Credentials::load(&self.terminal_dir).unwrap().unwrap().terminal_id
    }

    pub(crate) fn applied(&self) -> Vec<backend::EventRecord> {
        backend::applied_events(&self.backend_db, &self.terminal_id()).unwrap()
    }

    /// Returns the code texted for `barcode`, read from the SMS outbox.
    pub(crate) fn texted_code(&self, barcode: &str) -> String {
        let outbox = backend::sms_outbox(&self.backend_db).unwrap();
        let message = outbox.iter().rev().find(|sms| sms.barcode == barcode);
        message.and_then(|sms| sms.code()).expect("a code was texted").to_owned()
    }
}

pub(crate) fn barcode(number: usize) -> String {
    format!("JJD{number:04}")
}

#[tokio::test(flavor = "multi_thread")]
async fn first_sync_pulls_manifest() {
    let setup = Setup::new(5).await;
    let expected = setup.desk().parcels(Some(ParcelState::Expected)).unwrap();
    assert_eq!(expected.len(), 5);
    assert!(!expected[0].customer_masked.is_empty());
    assert!(setup.desk().status().unwrap().online);
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_while_backend_down_apply_once() {
    let mut setup = Setup::new(25).await;
    setup.stop_backend().await;
    let mut desk = setup.desk();
    for number in 1..=20 {
        desk.receive(&barcode(number)).unwrap();
    }
    let offline = setup.sync().await.unwrap_err();
    assert!(offline.is_transient(), "{offline}");
    assert_eq!(desk.status().unwrap().queue_depth, 20);
    assert!(!desk.status().unwrap().online);

    setup.restart_backend().await;
    let report = setup.sync().await.unwrap();
    assert_eq!(report.pushed, 20);
    assert_eq!(report.queue_depth, 0);
    let applied = setup.applied();
    assert_eq!(applied.len(), 20);
    let mut ids: Vec<_> = applied.iter().map(|event| event.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "an event was applied twice");
    for number in 1..=20 {
        let code = setup.texted_code(&barcode(number));
        let unlocked = desk.parcels_for_code(&code).unwrap();
        assert_eq!(unlocked.len(), 1);
        assert_eq!(unlocked[0].barcode, barcode(number));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn handover_offline_then_sync() {
    let mut setup = Setup::new(3).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    setup.sync().await.unwrap();
    let code = setup.texted_code("JJD0001");
    setup.stop_backend().await;

    desk.hand_over(&code, "JJD0001").unwrap();
    assert!(setup.sync().await.is_err());
    setup.restart_backend().await;
    setup.sync().await.unwrap();

    let states = backend::parcel_states(&setup.backend_db, STORE).unwrap();
    let parcel = states.iter().find(|parcel| parcel.barcode == "JJD0001").unwrap();
    assert_eq!(parcel.state, backend::ParcelState::Collected);
    assert_eq!(desk.status().unwrap().queue_depth, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_code_after_sync_stays_wrong() {
    let setup = Setup::new(2).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    setup.sync().await.unwrap();
    let code = setup.texted_code("JJD0001");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert!(matches!(desk.parcels_for_code(wrong), Err(DeskError::WrongCode { .. })));
}

#[tokio::test(flavor = "multi_thread")]
async fn answer_lost_before_commit_is_duplicate() {
    let setup = Setup::new(3).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    // Push the queue by hand and drop the response, as if the terminal died
    // between the backend's response and the local commit.
    let credentials = Credentials::load(&setup.terminal_dir).unwrap().unwrap();
    let client = sync::engine::client_for(&credentials, &sync_config()).unwrap();
    let events: Vec<_> = desk
        .queue()
        .unwrap()
        .iter()
        .map(|entry| entry.to_event(&credentials.terminal_id))
        .collect();
    client.push(&events).await.unwrap();

    let report = setup.sync().await.unwrap();
    assert_eq!(report.duplicates, 2);
    assert_eq!(report.pushed, 0);
    assert_eq!(setup.applied().len(), 2);
    assert_eq!(backend::sms_outbox(&setup.backend_db).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_event_is_quarantined_rest_drain() {
    let setup = Setup::new(60).await;
    let mut desk = setup.desk();
    for number in 1..=25 {
        desk.receive(&barcode(number)).unwrap();
    }
    // A handover of a parcel the backend never saw received: the backend
    // rejects it for good, whatever state the terminal has for it.
    let tx = desk.connection().unchecked_transaction().unwrap();
    let body = pickup_terminal::protocol::EventBody::HandedOver;
    outbox::append(&tx, "NOT-RECEIVED-1", "clerk", chrono::Utc::now(), body).unwrap();
    tx.commit().unwrap();
    for number in 26..=49 {
        desk.receive(&barcode(number)).unwrap();
    }
    let report = setup.sync().await.unwrap();
    assert_eq!(report.quarantined, 1);
    assert_eq!(report.pushed, 49);
    let status = desk.status().unwrap();
    assert_eq!(status.queue_depth, 0);
    assert_eq!(status.quarantined, 1);
    let quarantined = desk.quarantined().unwrap();
    assert_eq!(quarantined[0].barcode, "NOT-RECEIVED-1");
    assert!(quarantined[0].last_error.is_some());
    assert_eq!(setup.applied().len(), 49);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_keeps_queue() {
    let setup = Setup::new(2).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    let mut credentials = Credentials::load(&setup.terminal_dir).unwrap().unwrap();
    credentials.token = "not-the-token".into();
    credentials.save(&setup.terminal_dir).unwrap();
    let error = setup.sync().await.unwrap_err();
    assert!(matches!(error, SyncError::Unauthorized), "{error}");
    assert_eq!(desk.status().unwrap().queue_depth, 1);
    assert!(desk.status().unwrap().last_sync_error.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn other_stores_parcel_is_quarantined() {
    let setup = Setup::new(2).await;
    // Store S001 has JJD0001 and JJD0002; only S999 has JJD0003.
    backend::seed(&setup.backend_db, "S999", 3, 9).unwrap();
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0003").unwrap();
    let report = setup.sync().await.unwrap();
    assert_eq!(report.quarantined, 1);
    assert_eq!(report.pushed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_drains_after_backend_returns() {
    let mut setup = Setup::new(5).await;
    setup.stop_backend().await;
    let runtime = tokio::runtime::Handle::current();
    let config = SyncConfig { interval: Duration::from_millis(200), ..sync_config() };
    let handle = sync::SyncHandle::spawn(&runtime, setup.terminal_dir.clone(), config);
    let mut desk = setup.desk();
    desk.set_on_event(handle.notifier());
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(desk.status().unwrap().queue_depth, 2);

    setup.restart_backend().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while desk.status().unwrap().queue_depth > 0 {
        assert!(tokio::time::Instant::now() < deadline, "queue did not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(setup.applied().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_stopped_mid_push_applies_once() {
    let mut setup = Setup::new(150).await;
    let mut desk = setup.desk();
    for number in 1..=150 {
        desk.receive(&barcode(number)).unwrap();
    }
    // Small batches make the push take several requests, so the stop lands
    // while batches are in flight or between them.
    let config = SyncConfig { batch: 10, ..sync_config() };
    let terminal_dir = setup.terminal_dir.clone();
    let push = tokio::spawn(async move { sync::sync_once(&terminal_dir, &config).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    setup.stop_backend().await;
    let _ = push.await.unwrap();

    setup.restart_backend().await;
    setup.sync().await.unwrap();
    let applied = setup.applied();
    let mut ids: Vec<_> = applied.iter().map(|event| event.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(applied.len(), 150);
    assert_eq!(ids.len(), 150);
    assert_eq!(desk.status().unwrap().queue_depth, 0);
    assert_eq!(backend::sms_outbox(&setup.backend_db).unwrap().len(), 150);
}

/// Moves the terminal database files aside (`suffix` appended) or back.
fn rename_database(dir: &std::path::Path, from_suffix: &str, to_suffix: &str) {
    for extension in ["", "-wal", "-shm"] {
        let name = format!("{}{extension}", pickup_terminal::store::DB_FILE);
        let from = dir.join(format!("{name}{from_suffix}"));
        if from.exists() {
            std::fs::rename(&from, dir.join(format!("{name}{to_suffix}"))).unwrap();
        }
    }
}

/// Appends a change as raw JSON to the backend's change log for every
/// terminal of the store, as a broken or hostile backend might send it.
fn append_raw_change(setup: &Setup, body: &str) {
    let conn = rusqlite::Connection::open(setup.backend_db()).unwrap();
    conn.execute(
        "INSERT INTO changes (store_id, terminal_id, body, created_at) VALUES (?1, NULL, ?2, ?3)",
        (STORE, body, chrono::Utc::now().to_rfc3339()),
    )
    .unwrap();
}

fn signed_in_desk(setup: &Setup) -> Desk {
    let mut desk = setup.desk();
    desk.add_operator("clerk", "Clerk", "2468").unwrap();
    desk.sign_in("clerk", "2468").unwrap();
    desk
}

#[tokio::test(flavor = "multi_thread")]
async fn reenrol_with_unsent_events_refused() {
    let setup = Setup::new(2).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    let token = backend::create_enrolment(&setup.backend_db, "S002").unwrap();

    let refused =
        sync::enroll(&setup.terminal_dir, &setup.base_url(), &token, &sync_config()).await;

    let error = refused.unwrap_err();
    assert!(matches!(error, SyncError::UnsentEvents { count: 1, .. }), "{error}");
    assert!(error.to_string().contains("--force"), "{error}");
    assert_eq!(Credentials::load(&setup.terminal_dir).unwrap().unwrap().store_id, STORE);
    assert_eq!(desk.status().unwrap().queue_depth, 1);
    assert!(desk.status().unwrap().last_sync_error.unwrap().contains("not yet sent"));

    let forced =
        sync::enroll_with(&setup.terminal_dir, &setup.base_url(), &token, &sync_config(), true)
            .await
            .unwrap();

    assert_eq!(forced.store_id, "S002");
    let status = desk.status().unwrap();
    assert_eq!(status.queue_depth, 0);
    assert_eq!(status.quarantined, 1);
    let kept = desk.quarantined().unwrap();
    assert_eq!(kept[0].barcode, "JJD0001");
    assert!(kept[0].last_error.as_deref().unwrap().contains("S002"), "{:?}", kept[0].last_error);
    setup.sync().await.unwrap();
    assert!(setup.applied().is_empty(), "the old store's event reached the new store");
}

#[tokio::test(flavor = "multi_thread")]
async fn reenrol_into_other_store_pulls_its_manifest() {
    let setup = Setup::new(2).await;
    backend::seed(&setup.backend_db, "S002", 5, 3).unwrap();
    let token = backend::create_enrolment(&setup.backend_db, "S002").unwrap();

    sync::enroll(&setup.terminal_dir, &setup.base_url(), &token, &sync_config()).await.unwrap();
    setup.sync().await.unwrap();

    let expected = setup.desk().parcels(Some(ParcelState::Expected)).unwrap();
    assert_eq!(expected.len(), 5, "the cursor of the old store skipped the new manifest");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_database_numbers_above_backend() {
    let setup = Setup::new(5).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    setup.sync().await.unwrap();
    drop(desk);
    rename_database(&setup.terminal_dir, "", ".lost");

    let mut desk = signed_in_desk(&setup);
    desk.receive("JJD0003").unwrap();
    let report = setup.sync().await.unwrap();

    assert_eq!(report.pushed, 1);
    assert_eq!(report.quarantined, 0);
    desk.receive("JJD0004").unwrap();
    let report = setup.sync().await.unwrap();
    assert_eq!(report.pushed, 1);
    assert_eq!(desk.status().unwrap().quarantined, 0);
    let applied = setup.applied();
    assert_eq!(applied.len(), 4);
    let mut seqs: Vec<i64> = applied.iter().map(|event| event.seq).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 4, "seqs repeat: {seqs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn restored_copy_applies_nothing_twice() {
    let setup = Setup::new(5).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    drop(desk);
    // The copy holds JJD0001 unsent; the live database then sends it.
    copy_database(&setup.terminal_dir, ".copy");
    let mut desk = setup.desk();
    setup.sync().await.unwrap();
    desk.receive("JJD0002").unwrap();
    setup.sync().await.unwrap();
    drop(desk);
    rename_database(&setup.terminal_dir, "", ".lost");
    rename_database(&setup.terminal_dir, ".copy", "");

    let mut desk = setup.desk();
    desk.receive("JJD0003").unwrap();
    let report = setup.sync().await.unwrap();

    assert_eq!(report.duplicates, 1);
    assert_eq!(report.pushed, 1);
    assert_eq!(report.quarantined, 0);
    let applied = setup.applied();
    let mut ids: Vec<_> = applied.iter().map(|event| event.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(applied.len(), 3);
    assert_eq!(ids.len(), 3);
    assert_eq!(backend::sms_outbox(&setup.backend_db).unwrap().len(), 3);
}

fn copy_database(dir: &std::path::Path, suffix: &str) {
    for extension in ["", "-wal"] {
        let name = format!("{}{extension}", pickup_terminal::store::DB_FILE);
        let from = dir.join(&name);
        if from.exists() {
            std::fs::copy(&from, dir.join(format!("{name}{suffix}"))).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_pulled_fields_are_skipped() {
    let setup = Setup::new(2).await;
    let parcel = |barcode: &str, name: &str, phone: &str, deadline: &str| {
        serde_json::json!({
            "type": "parcel_announced",
            "parcel": {
                "barcode": barcode, "order_id": "MO1", "customer_masked": name,
                "phone_last4": phone, "courier": "SF", "deadline": deadline,
            }
        })
        .to_string()
    };
    let soon = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let bad = [
        parcel("BAD 1", "Li *", "1234", &soon),
        parcel(&"J".repeat(65), "Li *", "1234", &soon),
        parcel("BAD0003", "Li \u{1b}[2J", "1234", &soon),
        parcel("BAD0004", "Li *", "12a4", &soon),
        parcel("BAD0005", "Li *", "1234", "2400-01-01T00:00:00Z"),
        serde_json::json!({ "type": "parcel_recalled", "barcode": "JJD0001", "reason": "r".repeat(201) })
            .to_string(),
        serde_json::json!({ "type": "code_issued", "code_id": "c1", "code_hash": "zz", "barcodes": ["JJD0001"] })
            .to_string(),
        serde_json::json!({ "type": "deadline_set", "barcode": "JJD0002", "deadline": "1970-01-01T00:00:00Z" })
            .to_string(),
    ];
    for body in &bad {
        append_raw_change(&setup, body);
    }
    append_raw_change(&setup, &parcel("GOOD0001", "Wang *ei", "4321", &soon));

    let report = setup.sync().await.unwrap();

    assert_eq!(report.skipped, bad.len() as u64);
    let desk = setup.desk();
    assert_eq!(desk.parcel("GOOD0001").unwrap().unwrap().customer_masked, "Wang *ei");
    for barcode in ["BAD0003", "BAD0004", "BAD0005"] {
        assert!(desk.parcel(barcode).unwrap().is_none(), "{barcode} was applied");
    }
    let recalled = desk.parcel("JJD0001").unwrap().unwrap();
    assert_eq!(recalled.state, ParcelState::Expected);
    let deadline = desk.parcel("JJD0002").unwrap().unwrap().deadline.unwrap();
    assert!(deadline.timestamp() > 0, "the 1970 deadline was applied");
    assert_eq!(desk.status().unwrap().skipped_changes, bad.len() as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn unexpected_parcel_becomes_a_problem() {
    let setup = Setup::new(2).await;
    let mut desk = setup.desk();
    desk.receive("YT0000009").unwrap();

    setup.sync().await.unwrap();

    let outbox = backend::sms_outbox(&setup.backend_db).unwrap();
    assert!(outbox.iter().all(|sms| sms.barcode != "YT0000009"), "a code was texted to nobody");
    let conflicts = desk.conflicts().unwrap();
    assert!(conflicts.iter().any(|conflict| conflict.barcode == "YT0000009"), "{conflicts:?}");
    assert_eq!(desk.status().unwrap().conflicts, 1);
}
