//! The `mall-backend` binary killed with SIGKILL while it applies pushed
//! batches, and requests with random or oversized bodies. Either way the
//! backend applies whole batches or nothing.
//!
//! Sizes: 5 backend kills, or 50 with `PICKUP_LONG=1`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pickup_terminal::backend::{self, ParcelState};
use pickup_terminal::desk::{Desk, DeskConfig};
use pickup_terminal::store::credentials::Credentials;
use pickup_terminal::sync::{self, SyncConfig};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::reliability::{integrity_check, size};
use crate::sync::{STORE, Setup, barcode, sync_config};

/// Parcels received before each kill.
const PER_ROUND: usize = 120;

/// Starts `mall-backend serve` on a free loopback port and returns the
/// process with its base URL.
fn spawn_backend(db: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mall-backend"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("MALL_BACKEND_ADMIN_TOKEN", "test-admin-token")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(api) = line.strip_prefix("terminal API: ") {
            return (child, api.trim_end_matches("/v1").to_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("mall-backend exited before listening");
}

fn point_at(dir: &Path, url: &str) {
    let mut credentials = Credentials::load(dir).unwrap().unwrap();
    credentials.backend_url = url.to_owned();
    credentials.save(dir).unwrap();
}

/// Checks that every accepted receipt on the backend has moved its parcel
/// and texted one code, and nothing else has: a half-applied batch breaks
/// one of these counts.
fn check_whole_batches(db: &Path, terminal_id: &str) -> usize {
    let events = backend::applied_events(db, terminal_id).unwrap();
    let mut ids: Vec<_> = events.iter().map(|event| event.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "an event is stored twice");
    let receipts = events.iter().filter(|event| event.kind == "received").count();
    let states = backend::parcel_states(db, STORE).unwrap();
    let received = states.iter().filter(|parcel| parcel.state == ParcelState::Received).count();
    let texted = backend::sms_outbox(db).unwrap().len();
    assert_eq!(received, receipts, "parcel states and events disagree");
    assert_eq!(texted, receipts, "texts and events disagree");
    let conn = rusqlite::Connection::open(db).unwrap();
    assert_eq!(integrity_check(&conn), "ok");
    receipts
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_sigkill_applies_whole_batches() {
    let kills = size(5, 50);
    let mut setup = Setup::new(kills * PER_ROUND).await;
    setup.stop_backend().await;
    let dir = setup.terminal_dir().to_owned();
    let terminal_id = setup.terminal_id();
    let mut desk = Desk::open(&dir, DeskConfig::default()).unwrap();
    let config = SyncConfig { batch: 200, ..sync_config() };
    let mut rng = StdRng::seed_from_u64(11);
    let mut next = 1;
    let mut interrupted = 0;

    for _ in 0..kills {
        for _ in 0..PER_ROUND {
            desk.receive(&barcode(next)).unwrap();
            next += 1;
        }
        let (mut child, url) = spawn_backend(setup.backend_db());
        point_at(&dir, &url);
        let push_dir = dir.clone();
        let push_config = config.clone();
        let push = tokio::spawn(async move { sync::sync_once(&push_dir, &push_config).await });
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..120))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        if push.await.unwrap().is_err() {
            interrupted += 1;
        }
        check_whole_batches(setup.backend_db(), &terminal_id);
    }

    let (mut child, url) = spawn_backend(setup.backend_db());
    point_at(&dir, &url);
    let report = sync::sync_once(&dir, &config).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(report.unwrap().queue_depth, 0);
    assert_eq!(check_whole_batches(setup.backend_db(), &terminal_id), kills * PER_ROUND);
    eprintln!("backend kills: {kills} kills, {interrupted} pushes interrupted");
}

/// Sends one raw HTTP request and returns the status code, or `None` when
/// the connection broke.
fn raw_request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1)?.parse().ok()
}

fn push_head(token: &str, length: usize) -> String {
    format!(
        "POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    )
}

/// Bodies that look like pushes but break the schema in random ways.
fn push_like_body() -> impl Strategy<Value = Vec<u8>> {
    let event = (
        prop::option::of("[0-9a-f-]{0,40}"),
        prop::option::of(any::<i64>()),
        prop::option::of("[A-Z0-9]{0,12}"),
        prop::option::of(prop_oneof!["received", "handed_over", "rejected", "[a-z_]{0,12}"]),
        prop::option::of("[0-9T:Z-]{0,30}"),
    )
        .prop_map(|(id, seq, barcode, kind, time)| {
            let mut fields = Vec::new();
            if let Some(id) = id {
                fields.push(format!("\"event_id\":\"{id}\""));
            }
            if let Some(seq) = seq {
                fields.push(format!("\"seq\":{seq}"));
            }
            if let Some(barcode) = barcode {
                fields.push(format!("\"barcode\":\"{barcode}\""));
            }
            if let Some(kind) = kind {
                fields.push(format!("\"body\":{{\"kind\":\"{kind}\"}}"));
            }
            if let Some(time) = time {
                fields.push(format!("\"device_time\":\"{time}\""));
            }
            format!("{{{}}}", fields.join(","))
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(event, 0..8).prop_map(|events| format!(
            "{{\"events\":[{}]}}",
            events.join(",")
        )
        .into_bytes()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_pushes_change_nothing() {
    let setup = Setup::new(3).await;
    let addr = setup.backend_addr();
    let token = Credentials::load(setup.terminal_dir()).unwrap().unwrap().token;
    let before = backend::recorded_events(setup.backend_db()).unwrap().len();

    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(&push_like_body(), |body| {
            let status = raw_request(addr, &push_head(&token, body.len()), &body);
            // An empty push is the one valid body the generator can make.
            let empty = body.as_slice() == b"{\"events\":[]}";
            let expected =
                matches!(status, Some(400 | 413 | 429)) || (empty && status == Some(200));
            prop_assert!(expected, "status {status:?}");
            Ok(())
        })
    });
    result.unwrap();

    // Lets the per-terminal rate limit (bursts of 40, 20 per second) refill
    // after the fuzz cases, so the next answers are about the body.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let oversized = vec![b' '; 2 * 1024 * 1024];
    let status = tokio::task::block_in_place(|| {
        raw_request(addr, &push_head(&token, oversized.len()), &oversized)
    });
    assert!(matches!(status, Some(413) | None), "oversized body got {status:?}");
    let lying = push_head(&token, 10 * 1024 * 1024);
    let status = tokio::task::block_in_place(|| raw_request(addr, &lying, b"{\"events\":["));
    assert!(matches!(status, Some(413) | None), "oversized length got {status:?}");

    let after = backend::recorded_events(setup.backend_db()).unwrap().len();
    assert_eq!(after, before, "a malformed push changed the events");
    // The backend still serves a well-formed push.
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    assert_eq!(setup.sync().await.unwrap().pushed, 1);
}
