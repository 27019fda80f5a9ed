//! Crash harness: a child process runs bursts of receipts, rejections and
//! handovers while its sync engine pushes through a delaying proxy, and the
//! parent kills it with SIGKILL at random points. After every kill, each
//! action the child reported as done must be in the terminal database, and
//! the database must pass `PRAGMA integrity_check`. At the end the queue
//! drains and the backend stores each event exactly once.
//!
//! The child is this test binary again, running the ignored test `worker`
//! with `PICKUP_CRASH_DIR` set. The proxy holds each backend response for a
//! random time, so many kills land after the backend committed a batch and
//! before the terminal recorded the results.
//!
//! Sizes: 50 kills, or 500 with `PICKUP_LONG=1`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use pickup_terminal::backend;
use pickup_terminal::desk::{Desk, DeskConfig};
use pickup_terminal::protocol::RejectReason;
use pickup_terminal::store::outbox::{self, EntryStatus};
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::sync::{self, SyncConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::proxy::{Fault, FaultProxy};
use crate::reliability::{integrity_check, size};
use crate::sync::{STORE, Setup, sync_config};

/// Actions a child may try before it idles; it is killed long before.
const ACTIONS_PER_CHILD: usize = 20;

/// One action the child reported as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Done {
    kind: String,
    barcode: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_keeps_confirmed_actions() {
    let kills = size(50, 500);
    let setup = Setup::new(kills * 16 + 20).await;
    let proxy = FaultProxy::start(setup.backend_addr()).await;
    setup.set_backend_url(&proxy.base_url());
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut confirmed: Vec<Done> = Vec::new();
    let mut kills_while_held = 0;

    for round in 0..kills {
        proxy.set_fault(Fault::Delay(Duration::from_millis(rng.gen_range(0..150))));
        let mut child = spawn_worker(&setup, round as u64);
        let lines = read_lines(&mut child);
        tokio::task::block_in_place(|| wait_for_ready(&lines, &mut child));
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..200))).await;
        if proxy.stats().held.load(Ordering::SeqCst) > 0 {
            kills_while_held += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let reported = tokio::task::block_in_place(|| done_lines(lines));
        check_terminal(setup.terminal_dir(), &reported, round);
        confirmed.extend(reported);
    }

    proxy.set_fault(Fault::None);
    drain(setup.terminal_dir()).await;
    check_backend(&setup, &confirmed);
    let handovers = confirmed.iter().filter(|done| done.kind == "handed_over").count();
    assert!(handovers > 0, "no handover happened in {kills} rounds");
    eprintln!(
        "crash harness: {kills} kills, {kills_while_held} while a response was held, {} actions \
         confirmed ({handovers} handovers), {} events applied",
        confirmed.len(),
        setup.applied().len()
    );
}

fn spawn_worker(setup: &Setup, seed: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["reliability_crash::worker", "--exact", "--ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env("PICKUP_CRASH_DIR", setup.terminal_dir())
        .env("PICKUP_CRASH_BACKEND_DB", setup.backend_db())
        .env("PICKUP_CRASH_SEED", seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child's stdout, read on a thread that ends when the child dies and
/// the pipe closes.
struct ChildOutput {
    lines: Arc<Mutex<Vec<String>>>,
    ready: mpsc::Receiver<()>,
    reader: std::thread::JoinHandle<()>,
}

fn read_lines(child: &mut Child) -> ChildOutput {
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (ready_sender, ready) = mpsc::channel();
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints the test name on the same line first.
            if line.ends_with("ready") {
                let _ = ready_sender.send(());
            }
            sink.lock().unwrap().push(line);
        }
    });
    ChildOutput { lines, ready, reader }
}

fn wait_for_ready(output: &ChildOutput, child: &mut Child) {
    if output.ready.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("the crash worker did not start: {:?}", output.lines.lock().unwrap());
    }
}

/// Parses the `done KIND BARCODE` lines, once the dead child's pipe is
/// read to the end.
fn done_lines(output: ChildOutput) -> Vec<Done> {
    output.reader.join().unwrap();
    let lines = output.lines.lock().unwrap();
    lines
        .iter()
        .filter_map(|line| line.strip_prefix("done "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(kind, barcode)| Done { kind: kind.to_owned(), barcode: barcode.to_owned() })
        .collect()
}

/// Checks that the database is intact and that every action the last child
/// confirmed is stored, with its event in the outbox.
fn check_terminal(dir: &Path, reported: &[Done], round: usize) {
    let desk = Desk::open(dir, DeskConfig::default()).unwrap();
    assert_eq!(integrity_check(desk.connection()), "ok", "round {round}");
    let events = outbox::all(desk.connection()).unwrap();
    for done in reported {
        let parcel = desk.parcel(&done.barcode).unwrap().expect("a confirmed parcel is stored");
        let allowed: &[ParcelState] = match done.kind.as_str() {
            // The same child may have handed the parcel over later and been
            // killed between that commit and its `done` line.
            "received" => &[ParcelState::Received, ParcelState::Ready, ParcelState::HandedOver],
            "rejected" => &[ParcelState::Rejected],
            "handed_over" => &[ParcelState::HandedOver],
            other => panic!("unknown action {other}"),
        };
        assert!(allowed.contains(&parcel.state), "round {round}: {done:?} is {:?}", parcel.state);
        let logged = events
            .iter()
            .filter(|event| event.barcode == done.barcode && event.body.kind() == done.kind)
            .count();
        assert_eq!(logged, 1, "round {round}: {done:?} has {logged} outbox events");
    }
    // Handovers committed without their `done` line still have one event.
    for parcel in desk.parcels(Some(ParcelState::HandedOver)).unwrap() {
        let logged = events
            .iter()
            .filter(|event| event.barcode == parcel.barcode && event.body.kind() == "handed_over")
            .count();
        assert_eq!(logged, 1, "round {round}: {} has {logged} handover events", parcel.barcode);
    }
}

/// Syncs directly until the queue is empty.
async fn drain(dir: &Path) {
    let config = SyncConfig { batch: 100, ..sync_config() };
    for _ in 0..20 {
        if let Ok(report) = sync::sync_once(dir, &config).await
            && report.queue_depth == 0
        {
            return;
        }
    }
    panic!("the queue did not drain");
}

/// Checks that the backend stores each local event exactly once and matches
/// every confirmed action.
fn check_backend(setup: &Setup, confirmed: &[Done]) {
    let desk = setup.desk();
    let local = outbox::all(desk.connection()).unwrap();
    assert!(local.iter().all(|entry| entry.status == EntryStatus::Sent), "an event is not sent");
    let applied = setup.applied();
    let mut seen: HashMap<uuid::Uuid, usize> = HashMap::new();
    for event in &applied {
        *seen.entry(event.event_id).or_default() += 1;
    }
    assert!(seen.values().all(|&count| count == 1), "an event is stored twice");
    assert_eq!(applied.len(), local.len(), "backend and terminal disagree on the event count");
    for entry in &local {
        assert!(seen.contains_key(&entry.event_id), "event seq {} is missing", entry.seq);
    }
    let recorded = backend::recorded_events(setup.backend_db()).unwrap();
    let rejected: Vec<_> = recorded.iter().filter(|event| event.outcome != "accepted").collect();
    assert!(rejected.is_empty(), "the backend rejected events: {rejected:?}");

    let states = backend::parcel_states(setup.backend_db(), STORE).unwrap();
    let by_barcode: HashMap<_, _> =
        states.iter().map(|parcel| (parcel.barcode.as_str(), parcel.state)).collect();
    for done in confirmed.iter().filter(|done| done.kind == "handed_over") {
        assert_eq!(by_barcode[done.barcode.as_str()], backend::ParcelState::Collected);
    }
}

/// Runs the child side: bursts of actions with a sync engine running, reporting
/// each committed action on stdout. Only runs as the harness's child.
#[test]
#[ignore = "child process of sigkill_keeps_confirmed_actions"]
fn worker() {
    let Some(dir) = std::env::var_os("PICKUP_CRASH_DIR").map(PathBuf::from) else { return };
    let backend_db = PathBuf::from(std::env::var_os("PICKUP_CRASH_BACKEND_DB").unwrap());
    let seed = std::env::var("PICKUP_CRASH_SEED").unwrap().parse().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = SyncConfig { interval: Duration::from_millis(30), batch: 5, ..sync_config() };
    let handle = sync::SyncHandle::spawn(runtime.handle(), dir.clone(), config);
    let mut desk = Desk::open(&dir, DeskConfig::default()).unwrap();
    desk.set_on_event(handle.notifier());
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready").unwrap();
    stdout.flush().unwrap();

    let started = Instant::now();
    for _ in 0..ACTIONS_PER_CHILD {
        if let Some(done) = act(&mut desk, &backend_db, &mut rng) {
            writeln!(stdout, "done {} {}", done.kind, done.barcode).unwrap();
            stdout.flush().unwrap();
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(1..15)));
    }
    // Idles with the engine running until the parent kills it.
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Performs one random action and returns it when it committed.
fn act(desk: &mut Desk, backend_db: &Path, rng: &mut StdRng) -> Option<Done> {
    let choice = rng.gen_range(0..10);
    if choice < 4 {
        let ready = desk.parcels(Some(ParcelState::Ready)).ok()?;
        if let Some(parcel) = ready.get(rng.gen_range(0..ready.len().max(1))) {
            let sms = backend::sms_outbox(backend_db).ok()?;
            let message = sms.iter().rev().find(|sms| sms.barcode == parcel.barcode)?;
            let code = message.code()?.to_owned();
            desk.hand_over(&code, &parcel.barcode).ok()?;
            return Some(Done { kind: "handed_over".into(), barcode: parcel.barcode.clone() });
        }
    }
    let expected = desk.parcels(Some(ParcelState::Expected)).ok()?;
    let parcel = expected.get(rng.gen_range(0..expected.len().max(1)))?;
    if choice == 9 {
        desk.reject(&parcel.barcode, RejectReason::Crushed, None).ok()?;
        return Some(Done { kind: "rejected".into(), barcode: parcel.barcode.clone() });
    }
    desk.receive(&parcel.barcode).ok()?;
    Some(Done { kind: "received".into(), barcode: parcel.barcode.clone() })
}
