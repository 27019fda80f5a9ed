//! Catching up after a day offline: the time and memory a terminal needs to
//! pull a large manifest and to push a long queue of receipts to the
//! reference backend on loopback.
//!
//! Run with `cargo bench --bench sync_drain`. The backend is the
//! `mall-backend` binary in its own process, so the memory figures are the
//! terminal's alone. Each figure is the wall time of one `sync_once`, which
//! pushes every queued event, then pulls every change, including the code
//! the backend issues for each receipt. The terminal runs with its default
//! settings (100 events per push, up to 1,000 changes per pull).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{peak_rss_kib, process_cpu_time, reset_peak_rss, rss_kib};
use pickup_terminal::desk::{Desk, DeskConfig};
use pickup_terminal::store::parcels::ParcelState;
use pickup_terminal::sync::{SyncConfig, SyncReport, enroll, sync_once};

const STORE: &str = "BENCH-1";
const ADMIN_TOKEN: &str = "bench-admin-token";
/// Requests per second the backend allows each terminal. The backend's
/// default of 20 would make the limiter, not the terminal, set the pace.
const RATE_LIMIT: &str = "2000";
/// Manifest sizes pulled and queue lengths pushed, in a benchmark run and
/// in a smoke run.
const PULL_SIZE: [usize; 2] = [20_000, 300];
const DRAIN_SIZES: [&[usize]; 2] = [&[1_000, 10_000, 50_000], &[100]];

fn main() {
    let run = usize::from(!common::full_run());
    let pull_size = PULL_SIZE[run];
    common::print_machine();
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch directory");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let config = SyncConfig::default();

    println!();
    println!(
        "| run | parcels or events | seconds | ms per 1,000 | peak memory growth MiB | terminal CPU s | backend CPU s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    // SYNC_DRAIN_SIZES=1000,10000 measures other queue lengths.
    let drain_sizes: Vec<usize> = match std::env::var("SYNC_DRAIN_SIZES") {
        Ok(list) => list.split(',').filter_map(|size| size.trim().parse().ok()).collect(),
        Err(_) => DRAIN_SIZES[run].to_vec(),
    };
    for (index, size) in std::iter::once(pull_size).chain(drain_sizes).enumerate() {
        let dir = scratch.path().join(format!("run-{size}"));
        std::fs::create_dir_all(&dir).expect("run directory");
        let backend = Backend::start(&dir, size);
        let data_dir = dir.join("terminal");
        runtime
            .block_on(enroll(&data_dir, &backend.url, &backend.enrolment_token, &config))
            .expect("enrolment");

        let pull =
            measure(&backend, || runtime.block_on(sync_once(&data_dir, &config)).expect("pull"));
        let mut desk = Desk::open(&data_dir, DeskConfig::default()).expect("desk");
        let expected = desk.parcels(Some(ParcelState::Expected)).expect("parcels");
        assert_eq!(expected.len(), size, "the whole manifest arrived");
        if index == 0 {
            report("pull of the manifest", size, pull);
            continue;
        }

        desk.add_operator("clerk", "Bench Clerk", "2468").expect("operator");
        desk.sign_in("clerk", "2468").expect("sign-in");
        for parcel in &expected {
            desk.receive(&parcel.barcode).expect("receipt");
        }
        let drain =
            measure(&backend, || runtime.block_on(sync_once(&data_dir, &config)).expect("push"));
        let status = desk.status().expect("status");
        assert_eq!(status.queue_depth, 0, "the queue drained");
        let ready = desk.parcels(Some(ParcelState::Ready)).expect("parcels").len();
        assert_eq!(ready, size, "every receipt got its code");
        report("push of the queue and pull of its codes", size, drain);
    }
}

struct Measured {
    seconds: f64,
    growth_kib: u64,
    terminal_cpu: Duration,
    backend_cpu: Duration,
}

fn measure(backend: &Backend, run: impl FnOnce() -> SyncReport) -> Measured {
    let before = rss_kib();
    let cpu_of = |pid| process_cpu_time(pid).unwrap_or_default();
    let (terminal_cpu, backend_cpu) = (cpu_of(std::process::id()), cpu_of(backend.child.id()));
    reset_peak_rss();
    let started = Instant::now();
    let sync = run();
    let seconds = started.elapsed().as_secs_f64();
    if sync.quarantined > 0 {
        println!("note: {} events quarantined", sync.quarantined);
    }
    Measured {
        seconds,
        growth_kib: peak_rss_kib().saturating_sub(before),
        terminal_cpu: cpu_of(std::process::id()).saturating_sub(terminal_cpu),
        backend_cpu: cpu_of(backend.child.id()).saturating_sub(backend_cpu),
    }
}

fn report(run: &str, size: usize, measured: Measured) {
    println!(
        "| {run} | {size} | {:.2} | {:.1} | {:.1} | {:.2} | {:.2} |",
        measured.seconds,
        measured.seconds * 1000.0 * 1000.0 / size as f64,
        measured.growth_kib as f64 / 1024.0,
        measured.terminal_cpu.as_secs_f64(),
        measured.backend_cpu.as_secs_f64(),
    );
}

/// The reference backend as a child process, with one store seeded.
struct Backend {
    child: Child,
    url: String,
    enrolment_token: String,
}

impl Backend {
    fn start(dir: &Path, parcels: usize) -> Backend {
        let db = dir.join("mall.sqlite");
        let run = |args: &[&str]| -> String {
            let output = Command::new(binary()).args(args).output().expect("mall-backend runs");
            assert!(output.status.success(), "mall-backend {args:?} failed: {output:?}");
            String::from_utf8(output.stdout).expect("UTF-8 output")
        };
        let db_arg = db.to_str().expect("UTF-8 path");
        let count = parcels.to_string();
        run(&["seed", "--db", db_arg, "--store", STORE, "--parcels", &count]);
        let enrolment_token = run(&["enroll", "--db", db_arg, "--store", STORE]).trim().to_owned();
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--db", db_arg, "--rate-limit", RATE_LIMIT])
            .env("MALL_BACKEND_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mall-backend serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let url = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("terminal API: ").map(str::to_owned))
            .expect("the backend prints its address")
            .trim_end_matches("/v1")
            .to_owned();
        Backend { child, url, enrolment_token }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mall-backend"))
}
