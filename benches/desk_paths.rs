//! The clerk's two hot paths on a real SQLite file: receiving a scanned
//! parcel, next to a bare INSERT and COMMIT with the same pragmas, and
//! looking up the parcels a code unlocks, at several store sizes.
//!
//! Run with `cargo bench --bench desk_paths`. Every figure is the wall time
//! of one call on the calling thread, with `synchronous=FULL`, on the disk
//! that holds `target/`; the look-ups also report the thread's CPU time,
//! which other processes on the machine change far less.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rusqlite::{Connection, params};

use common::{ms, percentile, thread_cpu_time};
use pickup_terminal::desk::inbound::apply_change;
use pickup_terminal::desk::{Desk, DeskConfig};
use pickup_terminal::protocol::{Change, ManifestParcel, code_hash};
use pickup_terminal::scan::{ScanKind, WedgeConfig, normalize};
use pickup_terminal::store::credentials::Credentials;
use pickup_terminal::store::{self, DB_FILE};

/// Receipts measured, split into rounds that alternate with the baseline
/// so that both see the same disk and load.
const ROUNDS: usize = 10;

struct Sizes {
    receipts: usize,
    /// Code look-ups measured per store size.
    lookups: usize,
    stores: &'static [usize],
}

const FULL: Sizes =
    Sizes { receipts: 2_000, lookups: 2_000, stores: &[1_000, 10_000, 50_000, 100_000] };
const SMOKE: Sizes = Sizes { receipts: 20, lookups: 20, stores: &[100] };
const CODE_KEY: &[u8] = b"bench code key of thirty-two by.";

fn main() {
    let sizes = if common::full_run() { FULL } else { SMOKE };
    common::print_machine();
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch directory");
    receive_path(scratch.path(), sizes.receipts);
    lookup(scratch.path(), &sizes);
}

fn receive_path(scratch: &Path, receipts: usize) {
    let data_dir = scratch.join("receive");
    let mut desk = signed_in_desk(&data_dir);
    let barcodes: Vec<String> = (0..receipts).map(|index| format!("JJD{index:07}")).collect();
    announce(&data_dir, &barcodes, None);
    let raw = raw_connection(&scratch.join("raw.sqlite"));
    let wedge = WedgeConfig::default();

    let mut receive_times = Vec::with_capacity(receipts);
    let mut raw_times = Vec::with_capacity(receipts);
    let per_round = receipts / ROUNDS;
    for round in 0..ROUNDS {
        for barcode in &barcodes[round * per_round..(round + 1) * per_round] {
            let scanned = format!("]C1{barcode}\r\n");
            let started = Instant::now();
            let scan = normalize(&scanned, &wedge).expect("a valid scan");
            assert_eq!(scan.kind, ScanKind::Parcel);
            desk.receive(&scan.text).expect("receipt");
            receive_times.push(started.elapsed());

            let started = Instant::now();
            raw_insert(&raw, barcode);
            raw_times.push(started.elapsed());
        }
    }
    let queued = desk.queue().expect("queue").len();
    assert_eq!(queued, receipts, "every receipt queued an event");

    let receive = (percentile(&mut receive_times, 0.5), percentile(&mut receive_times, 0.99));
    let bare = (percentile(&mut raw_times, 0.5), percentile(&mut raw_times, 0.99));
    println!();
    println!("receive path, {receipts} receipts in {ROUNDS} rounds alternating with the baseline");
    println!("| path | p50 ms | p99 ms |");
    println!("| --- | --- | --- |");
    println!("| scan text to committed receipt | {:.3} | {:.3} |", ms(receive.0), ms(receive.1));
    println!("| bare INSERT + COMMIT | {:.3} | {:.3} |", ms(bare.0), ms(bare.1));
    println!(
        "| ratio | {:.2} | {:.2} |",
        receive.0.as_secs_f64() / bare.0.as_secs_f64(),
        receive.1.as_secs_f64() / bare.1.as_secs_f64()
    );
}

fn lookup(scratch: &Path, sizes: &Sizes) {
    println!();
    let lookups = sizes.lookups;
    println!("code look-up, {lookups} look-ups of random ready parcels' codes");
    println!(
        "| parcels stored | wall p50 ms | wall p99 ms | wall max ms | CPU p50 ms | CPU p99 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for &size in sizes.stores {
        let data_dir = scratch.join(format!("lookup-{size}"));
        let mut desk = signed_in_desk(&data_dir);
        let barcodes: Vec<String> = (0..size).map(|index| format!("JJD{index:07}")).collect();
        let codes: Vec<String> =
            (0..size).map(|index| format!("{:06}", index % 1_000_000)).collect();
        announce(&data_dir, &barcodes, Some(&codes));
        let mut order: Vec<usize> = (0..size).collect();
        order.shuffle(&mut rng);
        let mut times = Vec::with_capacity(lookups);
        let mut cpu_times = Vec::with_capacity(lookups);
        for &index in order.iter().cycle().take(lookups) {
            let cpu_started = thread_cpu_time();
            let started = Instant::now();
            let parcels = desk.parcels_for_code(&codes[index]).expect("code unlocks a parcel");
            times.push(started.elapsed());
            cpu_times.push(thread_cpu_time() - cpu_started);
            assert_eq!(parcels[0].barcode, barcodes[index]);
        }
        let max = *times.iter().max().unwrap_or(&Duration::ZERO);
        println!(
            "| {size} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            ms(percentile(&mut times, 0.5)),
            ms(percentile(&mut times, 0.99)),
            ms(max),
            ms(percentile(&mut cpu_times, 0.5)),
            ms(percentile(&mut cpu_times, 0.99)),
        );
    }
}

/// Opens a desk in `data_dir` with a code key and a signed-in clerk.
fn signed_in_desk(data_dir: &Path) -> Desk {
    std::fs::create_dir_all(data_dir).expect("data directory");
    Credentials {
        backend_url: "http://127.0.0.1:9".to_owned(),
        terminal_id: "T-BENCH".to_owned(),
        store_id: "BENCH".to_owned(),
        token: "bench-token".to_owned(),
        code_key: hex::encode(CODE_KEY),
    }
    .save(data_dir)
    .expect("credentials");
    let mut desk = Desk::open(data_dir, DeskConfig::default()).expect("desk");
    desk.add_operator("clerk", "Bench Clerk", "2468").expect("operator");
    desk.sign_in("clerk", "2468").expect("sign-in");
    desk
}

/// Announces `barcodes` in one pulled transaction. With `codes`, every
/// parcel is also received and gets its own code, so that it is ready.
fn announce(data_dir: &Path, barcodes: &[String], codes: Option<&[String]>) {
    let mut conn = store::open(&data_dir.join(DB_FILE)).expect("store");
    let tx = conn.transaction().expect("transaction");
    let now = Utc::now();
    for barcode in barcodes {
        let parcel = ManifestParcel {
            barcode: barcode.clone(),
            order_id: format!("O-{barcode}"),
            customer_masked: "Li *ing".to_owned(),
            phone_last4: "1234".to_owned(),
            courier: "SF".to_owned(),
            deadline: None,
        };
        apply_change(&tx, &Change::ParcelAnnounced { parcel }, true, now).expect("announce");
    }
    if let Some(codes) = codes {
        // Receiving each parcel through the desk would take one durable
        // commit per parcel, so the state is set in bulk instead. The pulled
        // codes then make the parcels ready by the desk's own rule.
        tx.execute("UPDATE parcels SET state = 'received'", []).expect("mark received");
        for (barcode, code) in barcodes.iter().zip(codes) {
            let change = Change::CodeIssued {
                code_id: format!("C-{barcode}"),
                code_hash: code_hash(CODE_KEY, code),
                barcodes: vec![barcode.clone()],
            };
            apply_change(&tx, &change, true, now).expect("code");
        }
    }
    tx.commit().expect("commit");
}

fn raw_connection(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("raw database");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
    conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    conn.pragma_update(None, "synchronous", "FULL").expect("synchronous");
    conn.pragma_update(None, "foreign_keys", "ON").expect("foreign keys");
    conn.execute_batch("CREATE TABLE receipts (id INTEGER PRIMARY KEY, barcode TEXT, at TEXT)")
        .expect("table");
    conn
}

fn raw_insert(conn: &Connection, barcode: &str) {
    conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
    conn.execute(
        "INSERT INTO receipts (barcode, at) VALUES (?1, ?2)",
        params![barcode, Utc::now().to_rfc3339()],
    )
    .expect("insert");
    conn.execute_batch("COMMIT").expect("commit");
}
