//! Network faults between the terminal and the backend, injected by the
//! loopback proxy of [`crate::proxy`]. After the faults stop, the queue
//! drains and the backend ends in the same state as a run without faults.
//!
//! Sizes: 100 fault rounds, or 1,000 with `PICKUP_LONG=1`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pickup_terminal::backend;
use pickup_terminal::desk::Desk;
use pickup_terminal::protocol::{EventBody, RejectReason};
use pickup_terminal::store::outbox::{self, EntryStatus};
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::sync::{self, SyncConfig, SyncError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proxy::{Fault, FaultProxy, POISON_BARCODE};
use crate::reliability::size;
use crate::sync::{STORE, Setup, barcode, sync_config};

/// Client timeout in the fault runs; [`Fault::Delay`] of `SLOW` exceeds it.
const TIMEOUT: Duration = Duration::from_millis(400);
const SLOW: Duration = Duration::from_millis(600);

const FAULTS: [Fault; 10] = [
    Fault::Refused,
    Fault::ResetBeforeResponse,
    Fault::ResetAfterResponse,
    Fault::Delay(SLOW),
    Fault::ServerError,
    Fault::Unavailable,
    Fault::TooManyRequests,
    Fault::TruncatedBody,
    Fault::InvalidJson,
    Fault::Trickle,
];

fn fault_config() -> SyncConfig {
    SyncConfig { request_timeout: TIMEOUT, batch: 4, ..sync_config() }
}

/// Syncs until the queue is empty, waiting out transient failures such as
/// the backend's own rate limit.
async fn drain(setup: &Setup) {
    for _ in 0..50 {
        match sync::sync_once(setup.terminal_dir(), &fault_config()).await {
            Ok(report) if report.queue_depth == 0 => return,
            Ok(_) => {}
            Err(error) if error.is_transient() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("drain failed: {error}"),
        }
    }
    panic!("the queue did not drain");
}

/// Performs the same clerk actions on one terminal, whatever the backend.
struct Script {
    rng: StdRng,
    next_parcel: usize,
}

impl Script {
    fn new() -> Script {
        Script { rng: StdRng::seed_from_u64(7), next_parcel: 1 }
    }

    /// Receives or rejects the next one to three parcels of the manifest.
    fn burst(&mut self, desk: &mut Desk) {
        for _ in 0..self.rng.gen_range(1..=3) {
            let parcel = barcode(self.next_parcel);
            self.next_parcel += 1;
            if self.rng.gen_ratio(1, 8) {
                desk.reject(&parcel, RejectReason::Wet, None).unwrap();
            } else {
                desk.receive(&parcel).unwrap();
            }
        }
    }
}

/// Hands over every ready parcel whose number is a multiple of three, in
/// barcode order, so both runs hand over the same parcels.
fn hand_over_some(setup: &Setup, desk: &mut Desk) {
    let ready = desk.parcels(Some(ParcelState::Ready)).unwrap();
    for parcel in ready {
        let number: usize = parcel.barcode[3..].parse().unwrap();
        if number.is_multiple_of(3) {
            let code = setup.texted_code(&parcel.barcode);
            desk.hand_over(&code, &parcel.barcode).unwrap();
        }
    }
}

fn backend_states(setup: &Setup) -> BTreeMap<String, backend::ParcelState> {
    let states = backend::parcel_states(setup.backend_db(), STORE).unwrap();
    states.into_iter().map(|parcel| (parcel.barcode, parcel.state)).collect()
}

/// Runs `rounds` rounds of actions and syncs, through `proxy` with a fault
/// per round when one is given. Every tenth round drains and hands over.
async fn run_rounds(setup: &Setup, proxy: Option<&FaultProxy>, rounds: usize) -> usize {
    let mut script = Script::new();
    let mut desk = setup.desk();
    let mut failed = 0;
    for round in 0..rounds {
        script.burst(&mut desk);
        if let Some(proxy) = proxy {
            proxy.set_fault(FAULTS[round % FAULTS.len()]);
        }
        if sync::sync_once(setup.terminal_dir(), &fault_config()).await.is_err() {
            failed += 1;
        }
        if round % 10 == 9 {
            if let Some(proxy) = proxy {
                proxy.set_fault(Fault::None);
            }
            drain(setup).await;
            hand_over_some(setup, &mut desk);
        }
    }
    if let Some(proxy) = proxy {
        proxy.set_fault(Fault::None);
    }
    drain(setup).await;
    failed
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_end_in_clean_state() {
    let rounds = size(100, 1000);
    let parcels = rounds * 3 + 10;
    let (clean, faulty) = tokio::join!(Setup::new(parcels), Setup::new(parcels));
    let proxy = FaultProxy::start(faulty.backend_addr()).await;
    faulty.set_backend_url(&proxy.base_url());

    let started = Instant::now();
    let failed = run_rounds(&faulty, Some(&proxy), rounds).await;
    let faulty_time = started.elapsed();
    run_rounds(&clean, None, rounds).await;

    assert!(failed >= rounds / 2, "only {failed} of {rounds} faulty syncs failed");
    assert_eq!(backend_states(&faulty), backend_states(&clean));
    let applied = faulty.applied();
    let mut ids: Vec<_> = applied.iter().map(|event| event.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), applied.len(), "an event was applied twice");
    assert_eq!(applied.len(), clean.applied().len());
    let local = outbox::all(faulty.desk().connection()).unwrap();
    assert!(local.iter().all(|entry| entry.status == EntryStatus::Sent));
    assert_eq!(local.len(), applied.len());
    eprintln!(
        "fault rounds: {rounds} rounds, {failed} failed syncs, {} events, {} requests ({} \
         forwarded), {:.1} s",
        applied.len(),
        proxy.requests(),
        proxy.stats().forwarded.load(std::sync::atomic::Ordering::SeqCst),
        faulty_time.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_event_quarantined_after_max_tries() {
    let setup = Setup::new(30).await;
    let proxy = FaultProxy::start(setup.backend_addr()).await;
    setup.set_backend_url(&proxy.base_url());
    proxy.set_fault(Fault::BadRequestForPoison);
    let mut desk = setup.desk();
    for number in 1..=10 {
        desk.receive(&barcode(number)).unwrap();
    }
    let tx = desk.connection().unchecked_transaction().unwrap();
    let body = EventBody::ShelfChanged { shelf: "A1".into() };
    outbox::append(&tx, POISON_BARCODE, "clerk", chrono::Utc::now(), body).unwrap();
    tx.commit().unwrap();
    for number in 11..=20 {
        desk.receive(&barcode(number)).unwrap();
    }

    let config = fault_config();
    let mut syncs = 0;
    while desk.status().unwrap().queue_depth > 0 {
        syncs += 1;
        assert!(syncs <= config.max_attempts * 3, "still queued after {syncs} syncs");
        match sync::sync_once(setup.terminal_dir(), &config).await {
            Ok(_) | Err(SyncError::Protocol(_)) => {}
            // The backend's own rate limit may answer 429 to the quick syncs.
            Err(error) if error.is_transient() => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(error) => panic!("unexpected sync error: {error}"),
        }
    }
    let quarantined = desk.quarantined().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].barcode, POISON_BARCODE);
    assert_eq!(quarantined[0].attempts, config.max_attempts, "{:?}", quarantined[0]);
    assert_eq!(setup.applied().len(), 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_unavailable_drains_without_scan() {
    let setup = Setup::new(3).await;
    let proxy = FaultProxy::start(setup.backend_addr()).await;
    setup.set_backend_url(&proxy.base_url());
    // No interval sync within the test: only the retry after the 503 can
    // send the event.
    let config = SyncConfig { interval: Duration::from_secs(3600), ..fault_config() };
    let handle = sync::SyncHandle::spawn(
        &tokio::runtime::Handle::current(),
        setup.terminal_dir().into(),
        config,
    );
    // The engine syncs once at start, so the 503 must be the response to the
    // sync that the receipt triggers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.set_fault(Fault::Unavailable);
    let mut desk = setup.desk();
    desk.set_on_event(handle.notifier());
    let before = proxy.requests();
    desk.receive("JJD0001").unwrap();
    while proxy.requests() == before {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.set_fault(Fault::None);

    let deadline = Instant::now() + Duration::from_secs(10);
    while desk.status().unwrap().queue_depth > 0 {
        assert!(Instant::now() < deadline, "the queue did not drain after one 503");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(setup.applied().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_down_rate_is_bounded() {
    let setup = Setup::new(40).await;
    let proxy = FaultProxy::start(setup.backend_addr()).await;
    setup.set_backend_url(&proxy.base_url());
    let config = SyncConfig {
        interval: Duration::from_secs(3600),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        ..fault_config()
    };
    let cap = config.backoff_cap;
    let handle = sync::SyncHandle::spawn(
        &tokio::runtime::Handle::current(),
        setup.terminal_dir().into(),
        config,
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.set_fault(Fault::ResetBeforeResponse);

    // The clerk keeps scanning while the backend is down, and every receipt
    // requests a sync from the engine.
    let mut desk = setup.desk();
    desk.set_on_event(handle.notifier());
    let before = proxy.requests();
    let window = Duration::from_secs(4);
    let started = Instant::now();
    for number in 1..=40 {
        desk.receive(&barcode(number)).unwrap();
        tokio::time::sleep(window / 40).await;
    }
    let requests = proxy.requests() - before;
    let elapsed = started.elapsed();

    // Full jitter never waits less than half the capped delay, so at most
    // one request per cap / 2 once the delay reached the cap, plus the
    // doublings up to it.
    let bound = (elapsed.as_secs_f64() / (cap.as_secs_f64() / 2.0)).ceil() as u64 + 5;
    assert!(requests <= bound, "{requests} requests in {elapsed:?}, bound {bound}");
    assert!(requests >= 2, "the engine stopped retrying: {requests} requests");
    eprintln!(
        "backend down: {requests} requests in {:.1} s ({:.1}/s) with 40 scans, bound {bound}",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );

    proxy.set_fault(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while desk.status().unwrap().queue_depth > 0 {
        assert!(Instant::now() < deadline, "the queue did not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(setup.applied().len(), 40);
}
