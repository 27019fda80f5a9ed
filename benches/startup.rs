//! Start-up time and idle memory of the clerk's screen: the release binary
//! started on a data directory with 10,000 parcels, timed from the process
//! start to the first frame painted on the X display, and its resident
//! memory once idle.
//!
//! Run under an X server, `DISPLAY=:97 cargo bench --bench startup` (the
//! test script's Xvfb, or any other). Without `DISPLAY` it prints why and
//! stops. The first frame is the first moment the window's pixels, read
//! back from the X server, show the app's page background.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

use common::{ms, percentile, rss_kib_of};
use pickup_terminal::desk::inbound::apply_change;
use pickup_terminal::desk::{Desk, DeskConfig};
use pickup_terminal::protocol::{Change, ManifestParcel};
use pickup_terminal::store::credentials::Credentials;
use pickup_terminal::store::{self, DB_FILE};

/// Parcels stored, starts measured and the time the app is left idle before
/// its memory is read, in a benchmark run and in a smoke run.
const PARCELS: [usize; 2] = [10_000, 100];
const STARTS: [usize; 2] = [10, 1];
const IDLE: [Duration; 2] = [Duration::from_secs(5), Duration::from_millis(500)];
const GIVE_UP: Duration = Duration::from_secs(30);
/// `Palette.background` of ui/style.slint (#eef1f5), in the byte order of a
/// 24-bit X image.
const PAGE_BACKGROUND_BGR: [u8; 3] = [0xf5, 0xf1, 0xee];

fn main() {
    let run = usize::from(!common::full_run());
    let (parcels, starts, idle) = (PARCELS[run], STARTS[run], IDLE[run]);
    common::print_machine();
    if std::env::var_os("DISPLAY").is_none() {
        println!("startup: skipped, DISPLAY is not set (start Xvfb and set DISPLAY)");
        return;
    }
    let (x11, _) = match x11rb::connect(None) {
        Ok(connected) => connected,
        Err(error) => {
            println!("startup: skipped, the X display cannot be opened: {error}");
            return;
        }
    };
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch directory");
    let data_dir = scratch.path().join("terminal");
    prepare(&data_dir, parcels);

    let mut first_frames = Vec::with_capacity(starts);
    let mut idle_rss_kib = Vec::with_capacity(starts);
    for run in 0..starts {
        let started = Instant::now();
        let mut child = start_app(&data_dir);
        let painted = wait_for_first_frame(&x11, child.id(), started);
        let elapsed = started.elapsed();
        match painted {
            Some(()) => first_frames.push(elapsed),
            None => println!("run {run}: no frame within {GIVE_UP:?}"),
        }
        std::thread::sleep(idle);
        idle_rss_kib.push(rss_kib_of(child.id()));
        stop(&mut child);
    }
    assert!(!first_frames.is_empty(), "startup: the window never painted");
    idle_rss_kib.sort_unstable();
    println!();
    println!("{starts} starts with {parcels} parcels stored");
    println!("| figure | median | worst |");
    println!("| --- | --- | --- |");
    let worst = *first_frames.iter().max().expect("samples");
    println!(
        "| process start to first painted frame, ms | {:.0} | {:.0} |",
        ms(percentile(&mut first_frames, 0.5)),
        ms(worst)
    );
    println!(
        "| resident memory after {:.1} s idle, MiB | {:.1} | {:.1} |",
        idle.as_secs_f64(),
        idle_rss_kib[idle_rss_kib.len() / 2] as f64 / 1024.0,
        *idle_rss_kib.last().expect("samples") as f64 / 1024.0
    );
}

/// Prepares an enrolled terminal whose backend is unreachable, a signed-in
/// clerk and `parcels` expected parcels.
fn prepare(data_dir: &Path, parcels: usize) {
    std::fs::create_dir_all(data_dir).expect("data directory");
    Credentials {
        backend_url: "http://127.0.0.1:9".to_owned(),
        terminal_id: "T-BENCH".to_owned(),
        store_id: "BENCH".to_owned(),
        token: "bench-token".to_owned(),
        code_key: hex::encode([7u8; 32]),
    }
    .save(data_dir)
    .expect("credentials");
    let mut desk = Desk::open(data_dir, DeskConfig::default()).expect("desk");
    desk.add_operator("clerk", "Bench Clerk", "2468").expect("operator");
    desk.sign_in("clerk", "2468").expect("sign-in");
    drop(desk);
    let mut conn = store::open(&data_dir.join(DB_FILE)).expect("store");
    let tx = conn.transaction().expect("transaction");
    let now = Utc::now();
    for index in 0..parcels {
        let parcel = ManifestParcel {
            barcode: format!("JJD{index:07}"),
            order_id: format!("O-{index}"),
            customer_masked: "Li *ing".to_owned(),
            phone_last4: "1234".to_owned(),
            courier: "SF".to_owned(),
            deadline: None,
        };
        apply_change(&tx, &Change::ParcelAnnounced { parcel }, true, now).expect("announce");
    }
    tx.commit().expect("commit");
}

fn start_app(data_dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pickup-terminal"))
        .arg("--data-dir")
        .arg(data_dir)
        .env("SLINT_BACKEND", "winit-software")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the app starts")
}

fn stop(child: &mut Child) {
    // SIGTERM first, so that the app can close its database; SIGKILL if it
    // has not exited 5 s later.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    for _ in 0..50 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls the X server until a window of process `pid` shows the page
/// background.
fn wait_for_first_frame(x11: &RustConnection, pid: u32, started: Instant) -> Option<()> {
    let root = x11.setup().roots[0].root;
    let pid_atom = x11.intern_atom(false, b"_NET_WM_PID").ok()?.reply().ok()?.atom;
    while started.elapsed() < GIVE_UP {
        for window in windows_of(x11, root, pid_atom, pid) {
            if painted(x11, window) {
                return Some(());
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

fn windows_of(x11: &RustConnection, root: Window, pid_atom: u32, pid: u32) -> Vec<Window> {
    let Some(tree) = x11.query_tree(root).ok().and_then(|cookie| cookie.reply().ok()) else {
        return Vec::new();
    };
    tree.children
        .into_iter()
        .filter(|&window| {
            x11.get_property(false, window, pid_atom, AtomEnum::CARDINAL, 0, 1)
                .ok()
                .and_then(|cookie| cookie.reply().ok())
                .and_then(|reply| reply.value32().and_then(|mut values| values.next()))
                == Some(pid)
        })
        .collect()
}

fn painted(x11: &RustConnection, window: Window) -> bool {
    let Some(geometry) = x11.get_geometry(window).ok().and_then(|cookie| cookie.reply().ok())
    else {
        return false;
    };
    let image = x11
        .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, geometry.width, geometry.height, !0)
        .ok()
        .and_then(|cookie| cookie.reply().ok());
    let Some(image) = image else { return false };
    // An unpainted window shows what lies beneath it, such as the root
    // window's pattern, so a frame counts only once the app's page
    // background covers a fifth of the window.
    let pixels = image.data.chunks_exact(4);
    let total = pixels.len();
    let background = pixels.filter(|pixel| pixel[..3] == PAGE_BACKGROUND_BGR).count();
    total > 0 && background * 5 >= total
}
