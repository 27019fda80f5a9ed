//! The `pickup-terminal` command line run as a subprocess on a temporary
//! data directory.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub(crate) struct Terminal {
    pub(crate) dir: tempfile::TempDir,
}

impl Terminal {
    /// Creates an empty data directory.
    pub(crate) fn empty() -> Terminal {
        Terminal { dir: tempfile::tempdir().unwrap() }
    }

    /// Creates a data directory with one signed-in operator.
    pub(crate) fn signed_in() -> Terminal {
        let terminal = Terminal { dir: tempfile::tempdir().unwrap() };
        assert_eq!(
            terminal.run(["operator", "add", "clerk", "--pin", "2468"]).status.code(),
            Some(0)
        );
        assert_eq!(terminal.run(["sign-in", "clerk", "--pin", "2468"]).status.code(), Some(0));
        terminal
    }

    pub(crate) fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command().args(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Returns the program on this data directory, reading no other settings.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pickup-terminal"));
        command.arg("--data-dir").arg(self.dir.path());
        command.env("XDG_CONFIG_HOME", self.dir.path().join("config"));
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PICKUP_TERMINAL_")) {
            command.env_remove(name);
        }
        command
    }

    pub(crate) fn json<I, S>(&self, args: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self.run(args);
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn queue_len(&self) -> usize {
        self.json(["--json", "queue"]).as_array().unwrap().len()
    }
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn receive_then_repeat_scan() {
    let terminal = Terminal::signed_in();
    let first = terminal.json(["--json", "receive", "JJD0001"]);
    assert_eq!(first["outcome"], "received_(not_in_the_manifest)");
    assert_eq!(first["parcel"]["unexpected"], true);
    let again = terminal.json(["--json", "receive", "JJD0001"]);
    assert_eq!(again["outcome"], "already_received");
    assert_eq!(again["parcel"]["received_by"], "clerk");
    assert_eq!(terminal.queue_len(), 1);
}

#[test]
fn damaged_parcel_is_rejected_with_reason() {
    let terminal = Terminal::signed_in();
    let rejected =
        terminal.json(["--json", "receive", "JJD0002", "--damaged", "crushed", "--note", "split"]);
    assert_eq!(rejected["parcel"]["state"], "rejected");
    assert_eq!(rejected["parcel"]["reject_reason"], "crushed");
    let queue = terminal.json(["--json", "queue"]);
    assert_eq!(queue[0]["body"]["kind"], "rejected");
    assert_eq!(queue[0]["body"]["note"], "split");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let terminal = Terminal::signed_in();
    let long = "A".repeat(129);
    let cases: Vec<(&str, &OsStr)> = vec![
        ("empty", OsStr::new("")),
        ("over-long", OsStr::new(long.as_str())),
        ("control characters", OsStr::new("JJD\u{1b}[2J0001")),
        ("non-UTF-8 bytes", OsStr::from_bytes(b"JJD\xff\xfe01")),
        ("SQL-looking text", OsStr::new("x'); DELETE FROM parcels; --")),
    ];
    for (name, barcode) in cases {
        let output = terminal.run([OsStr::new("receive"), barcode]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(stderr(&output).starts_with("error: "), "{name}: {}", stderr(&output));
        assert!(output.stdout.is_empty(), "{name}");
    }
    assert_eq!(terminal.queue_len(), 0);
    assert_eq!(terminal.json(["--json", "parcels"]).as_array().unwrap().len(), 0);
}

#[test]
fn unknown_damage_reason_lists_reasons() {
    let terminal = Terminal::signed_in();
    let output = terminal.run(["receive", "JJD0003", "--damaged", "melted"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("crushed, wet, torn, opened, wrong_address, other"));
}

#[test]
fn forbidden_move_exits_3() {
    let terminal = Terminal::signed_in();
    terminal.run(["receive", "JJD0004", "--damaged", "wet"]);
    let output = terminal.run(["receive", "JJD0004"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("parcel JJD0004 is rejected (wet)"), "{}", stderr(&output));
}

#[test]
fn actions_without_sign_in_exit_3() {
    let terminal = Terminal { dir: tempfile::tempdir().unwrap() };
    let output = terminal.run(["receive", "JJD0001"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("sign in"), "{}", stderr(&output));
}

#[test]
fn handover_without_enrolment_is_refused() {
    let terminal = Terminal::signed_in();
    terminal.run(["receive", "JJD0001"]);
    let output = terminal.run(["handover", "012345", "--confirm", "JJD0001"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(!stderr(&output).contains("012345"), "code printed: {}", stderr(&output));
}

#[test]
fn malformed_code_exits_2_without_digits() {
    let terminal = Terminal::signed_in();
    let output = terminal.run(["handover", "12345", "--confirm", "JJD0001"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!stderr(&output).contains("12345"), "{}", stderr(&output));
}

#[test]
fn status_json_has_stable_fields() {
    let terminal = Terminal::signed_in();
    terminal.run(["receive", "JJD0001"]);
    let status = terminal.json(["status", "--json"]);
    for field in [
        "counts",
        "expected",
        "on_shelf",
        "ready",
        "to_return",
        "queue_depth",
        "oldest_unsent_age_s",
        "quarantined",
        "online",
        "last_sync_at",
        "operator",
    ] {
        assert!(status.get(field).is_some(), "missing {field}");
    }
    assert_eq!(status["queue_depth"], 1);
    assert_eq!(status["counts"]["received"], 1);
}

#[test]
fn pin_is_read_from_stdin() {
    let terminal = Terminal { dir: tempfile::tempdir().unwrap() };
    let mut child =
        terminal.command().args(["operator", "add", "amy"]).stdin(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"9753\n").unwrap();
    assert!(child.wait().unwrap().success());
    let signed_in = terminal.run(["sign-in", "amy", "--pin", "9753"]);
    assert_eq!(signed_in.status.code(), Some(0), "{}", stderr(&signed_in));
}

#[test]
fn invalid_state_filter_exits_2() {
    let terminal = Terminal::signed_in();
    let output = terminal.run(["parcels", "--state", "lost"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("expected, received"), "{}", stderr(&output));
}

#[test]
fn invalid_config_exits_2_naming_key() {
    let terminal = Terminal::signed_in();
    let path = terminal.dir.path().join("bad.toml");
    std::fs::write(&path, "[desk]\nshift_hours = 99\n").unwrap();
    let output = terminal.run([OsStr::new("--config"), path.as_os_str(), OsStr::new("status")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("desk.shift_hours = 99"), "{}", stderr(&output));
}

/// Starts a loopback server that sends the same HTTP response to every
/// request. The thread ends with the test process.
fn canned_backend(status_line: &str, headers: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let response = format!(
        "HTTP/1.1 {status_line}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut buffer = vec![0u8; 64 * 1024];
            let _ = socket.read(&mut buffer);
            let _ = socket.write_all(response.as_bytes());
        }
    });
    format!("http://{addr}")
}

/// Returns the URL of a loopback port that nothing listens on.
fn dead_backend() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

impl Terminal {
    /// Writes credentials for `backend_url` as enrolment would.
    fn enrolled_at(&self, backend_url: &str) {
        let credentials = pickup_terminal::store::credentials::Credentials {
            backend_url: backend_url.to_owned(),
            terminal_id: "S001-T01".into(),
            store_id: "S001".into(),
            token: "token".into(),
            code_key: "00".repeat(32),
        };
        credentials.save(self.dir.path()).unwrap();
    }

    fn last_sync_error(&self) -> String {
        let status = self.json(["--json", "status"]);
        status["last_sync_error"].as_str().expect("a sync error is recorded").to_owned()
    }
}

/// Runs a backend on its own runtime for subprocess tests, with a seeded
/// store S001.
struct LiveBackend {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    url: String,
    _running: pickup_terminal::backend::RunningBackend,
    _runtime: tokio::runtime::Runtime,
}

impl LiveBackend {
    fn start() -> LiveBackend {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mall.db");
        pickup_terminal::backend::seed(&db, "S001", 3, 1).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listen = "127.0.0.1:0".parse().unwrap();
        let config = pickup_terminal::backend::BackendConfig::new(db.clone(), listen, "admin");
        let running = runtime.block_on(pickup_terminal::backend::start(config)).unwrap();
        let url = running.base_url();
        // The server task runs on the runtime's worker threads until the
        // handle drops.
        LiveBackend { _dir: dir, db, url, _running: running, _runtime: runtime }
    }

    fn token(&self) -> String {
        pickup_terminal::backend::create_enrolment(&self.db, "S001").unwrap()
    }
}

#[test]
fn enroll_with_ftp_url_exits_2() {
    let terminal = Terminal::signed_in();

    for url in ["ftp://127.0.0.1/", "not a url", "http://"] {
        let output = terminal.run(["enroll", "--backend", url, "--token", "x"]);

        assert_eq!(output.status.code(), Some(2), "{url}: {}", stderr(&output));
        let text = stderr(&output);
        assert!(text.contains("is invalid"), "{text}");
        assert!(!text.contains("unreachable"), "{text}");
    }
}

#[test]
fn used_enrolment_token_exits_2() {
    let backend = LiveBackend::start();
    let token = backend.token();
    let first = Terminal::signed_in();
    let second = Terminal::signed_in();
    assert_eq!(
        first.run(["enroll", "--backend", &backend.url, "--token", &token]).status.code(),
        Some(0)
    );

    let output = second.run(["enroll", "--backend", &backend.url, "--token", &token]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("already used"), "{}", stderr(&output));
    assert!(second.last_sync_error().contains("already used"));
}

#[test]
fn backend_500_says_backend_failed() {
    let terminal = Terminal::signed_in();
    let url = canned_backend(
        "500 Internal Server Error",
        "content-type: application/json\r\n",
        r#"{"error":"internal","message":"internal error in the backend; see its log"}"#,
    );
    terminal.enrolled_at(&url);

    let output = terminal.run(["sync"]);

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("backend failed"), "{text}");
    assert!(text.contains("500"), "{text}");
    assert!(!text.contains("unreachable"), "{text}");
    assert!(terminal.last_sync_error().contains("backend failed"));
}

#[test]
fn backend_429_says_rate_limited() {
    let terminal = Terminal::signed_in();
    let url = canned_backend("429 Too Many Requests", "retry-after: 7\r\n", "");
    terminal.enrolled_at(&url);

    let output = terminal.run(["sync"]);

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("429"), "{text}");
    assert!(text.contains("wait 7 s"), "{text}");
    assert!(!text.contains("unreachable"), "{text}");
    assert!(terminal.last_sync_error().contains("429"));
}

#[test]
fn sync_honours_backend_flag() {
    let backend = LiveBackend::start();
    let terminal = Terminal::signed_in();
    let token = backend.token();
    let enrol = terminal.run(["enroll", "--backend", &backend.url, "--token", &token]);
    assert_eq!(enrol.status.code(), Some(0), "{}", stderr(&enrol));
    // The stored address goes dead, as when the backend moved.
    let mut credentials =
        pickup_terminal::store::credentials::Credentials::load(terminal.dir.path())
            .unwrap()
            .unwrap();
    credentials.backend_url = dead_backend();
    credentials.save(terminal.dir.path()).unwrap();

    let output = terminal.run(["--backend", &backend.url, "sync"]);

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let status = terminal.json(["--json", "status"]);
    assert_eq!(status["expected"], 3);
}

#[test]
fn sync_with_unknown_backend_flag_explains() {
    let backend = LiveBackend::start();
    let terminal = Terminal::signed_in();
    terminal.enrolled_at(&dead_backend());

    let output = terminal.run(["--backend", &backend.url, "sync"]);

    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("does not know this terminal"), "{}", stderr(&output));
}

#[test]
fn reenroll_with_unsent_events_exits_3() {
    let backend = LiveBackend::start();
    let terminal = Terminal::signed_in();
    let token = backend.token();
    assert_eq!(
        terminal.run(["enroll", "--backend", &backend.url, "--token", &token]).status.code(),
        Some(0)
    );
    assert_eq!(terminal.run(["receive", "JJD0001"]).status.code(), Some(0));
    let other = pickup_terminal::backend::create_enrolment(&backend.db, "S002").unwrap();

    let output = terminal.run(["enroll", "--backend", &backend.url, "--token", &other]);

    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 event(s)"), "{}", stderr(&output));
    assert_eq!(terminal.queue_len(), 1);
    let forced = terminal.run(["enroll", "--backend", &backend.url, "--token", &other, "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let status = terminal.json(["--json", "status"]);
    assert_eq!(status["quarantined"], 1);
    assert_eq!(status["store_id"], "S002");
    assert_eq!(terminal.queue_len(), 0);
}

#[test]
fn drop_session_from_the_command_line() {
    let terminal = Terminal::signed_in();
    let started = terminal.json([
        "--json",
        "drop",
        "start",
        "--badge",
        "COURIER-ZTO-0042",
        "--declared",
        "3",
    ]);
    assert_eq!(started["drop"]["session"]["courier_id"], "ZTO-0042");
    terminal.json(["--json", "receive", "JJD0001"]);
    terminal.json(["--json", "reject", "JJD0002", "--reason", "torn"]);
    let status = terminal.json(["--json", "drop", "status"]);
    assert_eq!(status["drop"]["scanned"], 2);
    assert_eq!(status["drop"]["missing"], 1);
    let again = terminal.run(["drop", "start", "--courier", "YT-1", "--declared", "1"]);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    let closed = terminal.json(["--json", "drop", "close"]);
    assert_eq!(closed["outcome"], "closed");
    assert_eq!(closed["drop"]["received"], serde_json::json!(["JJD0001"]));
    let queue = terminal.json(["--json", "queue"]);
    assert_eq!(queue[2]["body"]["kind"], "drop_closed");
    assert_eq!(terminal.json(["--json", "drop", "status"])["outcome"], "no_session");
}

#[test]
fn reject_photo_must_be_a_jpeg() {
    let terminal = Terminal::signed_in();
    let fake = terminal.dir.path().join("photo.jpg");
    std::fs::write(&fake, b"not a picture").unwrap();
    let output = terminal.run([
        OsStr::new("reject"),
        OsStr::new("JJD0001"),
        OsStr::new("--reason"),
        OsStr::new("wet"),
        OsStr::new("--photo"),
        fake.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("not a JPEG"), "{}", stderr(&output));
    assert_eq!(terminal.queue_len(), 0);

    let missing = terminal.run(["reject", "JJD0001", "--reason", "wet", "--photo", "/nonexistent"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("cannot be read"), "{}", stderr(&missing));

    let picture = image::GrayImage::from_pixel(4, 4, image::Luma([10]));
    let real = terminal.dir.path().join("real.jpg");
    picture.save_with_format(&real, image::ImageFormat::Jpeg).unwrap();
    let output = terminal.run([
        OsStr::new("--json"),
        OsStr::new("receive"),
        OsStr::new("JJD0001"),
        OsStr::new("--damaged"),
        OsStr::new("wet"),
        OsStr::new("--photo"),
        real.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let queue = terminal.json(["--json", "queue"]);
    assert!(queue[0]["body"]["photo_jpeg"].as_str().is_some_and(|text| !text.is_empty()));
}

#[test]
fn shelf_scan_after_receipt_moves_parcel() {
    let terminal = Terminal::signed_in();
    let received = terminal.json(["--json", "receive", "JJD0001"]);
    assert_eq!(received["parcel"]["shelf"], "A1", "the least used slot is suggested");
    let moved = terminal.json(["--json", "shelf", "JJD0001", "C6"]);
    assert_eq!(moved["parcel"]["shelf"], "C6");
    let queue = terminal.json(["--json", "queue"]);
    assert_eq!(queue[1]["body"]["kind"], "shelf_changed");
    assert_eq!(queue[1]["body"]["shelf"], "C6");
}

#[test]
fn return_session_and_stocktake_commands() {
    let terminal = Terminal::signed_in();
    for barcode in ["JJD0001", "JJD0002"] {
        terminal.json(["--json", "receive", barcode]);
    }
    terminal.json(["--json", "refuse", "JJD0001"]);
    terminal.json(["--json", "return", "start", "--courier", "ZTO-0042"]);
    let scanned = terminal.json(["--json", "return", "JJD0001"]);
    assert_eq!(scanned["outcome"], "scanned");
    assert_eq!(scanned["return_session"]["count"], 1);
    let wrong = terminal.run(["return", "JJD0002"]);
    assert_eq!(wrong.status.code(), Some(3), "{}", stderr(&wrong));
    let closed = terminal.json(["--json", "return", "close"]);
    assert_eq!(closed["return_session"]["parcels"], serde_json::json!(["JJD0001"]));

    terminal.json(["--json", "stocktake", "start"]);
    terminal.json(["--json", "stocktake", "scan", "JJD0009"]);
    let result = terminal.json(["--json", "stocktake", "close"]);
    assert_eq!(result["stocktake"]["missing"], serde_json::json!(["JJD0002"]));
    assert_eq!(result["stocktake"]["unexpected"], serde_json::json!(["JJD0009"]));
}

/// Returns a POSIX `TZ` value in which it is now between 11:00 and 13:00,
/// and today's date there, so that no local midnight falls inside a test.
fn zone_at_noon() -> (String, String) {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let offset_hours = 12 - i64::from(now.hour());
    // POSIX counts the offset west of Greenwich: `NOON-3` is UTC+3.
    let zone = format!("NOON{}", -offset_hours);
    let today = (now + chrono::Duration::hours(offset_hours)).format("%Y-%m-%d").to_string();
    (zone, today)
}

#[test]
fn report_counts_today_as_csv() {
    let terminal = Terminal::signed_in();
    let (zone, today) = zone_at_noon();
    let run = |args: &[&str]| terminal.command().env("TZ", &zone).args(args).output().unwrap();
    assert_eq!(run(&["--json", "receive", "JJD0001"]).status.code(), Some(0));
    assert_eq!(run(&["--json", "receive", "JJD0002", "--damaged", "wet"]).status.code(), Some(0));
    let output = run(&["report", "--date", &today, "--csv"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "operator,received,rejected,handed_over,refused,returned");
    assert_eq!(lines[1], "clerk,1,1,0,0,0", "report for {today} in {zone}");
    assert_eq!(lines[2], "total,1,1,0,0,0");
    let json = terminal.json(["--json", "report", "--date", "2001-01-01"]);
    assert_eq!(json["report"]["total"]["received"], 0);
    let bad = terminal.run(["report", "--date", "2026-13-01"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}
