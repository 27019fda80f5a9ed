//! Running on a real terminal: log files and `logs`, the support bundle, the
//! start-up message after a failed migration, and the Debian package.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use pickup_terminal::backend::{self, BackendConfig, RunningBackend};
use pickup_terminal::store::credentials::Credentials;
use pickup_terminal::store::{self, schema};
use rusqlite::Connection;
use serde_json::Value;

use crate::cli::{Terminal, stderr};

const STORE: &str = "S-OPS";
const PIN: &str = "73915062";
const BARCODE: &str = "JJD0001";

/// A reference backend on loopback with a seeded store, and a terminal that
/// went through a shift on the command line: enrolment, sign-in, receipt,
/// sync and a handover with the texted code.
struct Shift {
    terminal: Terminal,
    _mall_dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    backend: Option<RunningBackend>,
    enrolment_token: String,
    code: String,
    customer: String,
    phone_last4: String,
}

impl Shift {
    fn run() -> Shift {
        let mall_dir = tempfile::tempdir().unwrap();
        let db = mall_dir.path().join("mall.sqlite");
        let manifest = backend::seed(&db, STORE, 2, 11).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let running =
            runtime.block_on(backend::start(BackendConfig::new(db.clone(), listen, "ops-admin")));
        let running = running.unwrap();
        let enrolment_token = backend::create_enrolment(&db, STORE).unwrap();
        let terminal = Terminal::empty();
        let url = running.base_url();

        let steps: [&[&str]; 6] = [
            &["enroll", "--backend", url.as_str(), "--token", enrolment_token.as_str()],
            &["operator", "add", "clerk", "--pin", PIN],
            &["sign-in", "clerk", "--pin", PIN],
            &["sync"],
            &["receive", BARCODE],
            &["sync"],
        ];
        for step in steps {
            let output = shift_command(&terminal).args(step).output().unwrap();
            assert_eq!(output.status.code(), Some(0), "{step:?}: {}", stderr(&output));
        }
        let texts = backend::sms_outbox(&db).unwrap();
        let sms = texts.iter().rev().find(|sms| sms.barcode == BARCODE).expect("a code was texted");
        let code = sms.code().expect("the text has a code").to_owned();
        for step in [["handover", code.as_str(), "--confirm", BARCODE].as_slice(), &["sync"]] {
            let output = shift_command(&terminal).args(step).output().unwrap();
            assert_eq!(output.status.code(), Some(0), "{step:?}: {}", stderr(&output));
        }

        let parcel = manifest.iter().find(|parcel| parcel.barcode == BARCODE).unwrap();
        Shift {
            terminal,
            _mall_dir: mall_dir,
            runtime,
            backend: Some(running),
            enrolment_token,
            code,
            customer: parcel.customer_masked.clone(),
            phone_last4: parcel.phone_last4.clone(),
        }
    }

    fn credentials(&self) -> Credentials {
        Credentials::load(self.terminal.dir.path()).unwrap().expect("the terminal is enrolled")
    }

    /// Returns the texts that must never be written down: the code, the PIN,
    /// the enrolment token, the bearer token, the code key and the customer's
    /// masked name.
    fn secrets(&self) -> Vec<(&'static str, String)> {
        let credentials = self.credentials();
        vec![
            ("verification code", self.code.clone()),
            ("PIN", PIN.to_owned()),
            ("enrolment token", self.enrolment_token.clone()),
            ("bearer token", credentials.token),
            ("code key", credentials.code_key),
            ("customer name", self.customer.clone()),
        ]
    }
}

impl Drop for Shift {
    fn drop(&mut self) {
        if let Some(running) = self.backend.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

/// Builds the terminal command with debug logging in the files, so that
/// more of what the program does is written down.
fn shift_command(terminal: &Terminal) -> Command {
    let mut command = terminal.command();
    command.env("PICKUP_TERMINAL_LOGS_LEVEL", "debug").env_remove("RUST_LOG");
    command.stdin(std::process::Stdio::null());
    command
}

fn log_files(data_dir: &Path) -> Vec<PathBuf> {
    let dir = data_dir.join("logs");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

/// Returns whether `digits` is a whole run of digits in `text`. Times and
/// UUIDs are skipped, because their digits would match by chance.
fn has_digit_run(text: &str, digits: &str) -> bool {
    let is_time =
        |token: &str| token.contains(':') && token.starts_with(|c: char| c.is_ascii_digit());
    let is_uuid = |token: &str| uuid::Uuid::parse_str(token).is_ok();
    text.split(|c: char| c.is_whitespace() || matches!(c, '=' | '"' | ',' | '{' | '}'))
        .filter(|token| !is_time(token) && !is_uuid(token))
        .any(|token| token.split(|c: char| !c.is_ascii_digit()).any(|run| run == digits))
}

#[test]
fn logs_hold_no_secrets_or_phone() {
    let shift = Shift::run();
    let files = log_files(shift.terminal.dir.path());
    assert!(!files.is_empty(), "the commands wrote log files");
    let mut all = Vec::new();
    for file in &files {
        all.extend(std::fs::read(file).unwrap());
    }
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("desk: action recorded"), "the handover was logged");
    assert!(text.contains("desk: signed in"), "the sign-in was logged");
    assert!(text.contains("sync: terminal enrolled"), "the enrolment was logged");
    for (what, secret) in shift.secrets() {
        let found = all.windows(secret.len()).any(|window| window == secret.as_bytes());
        assert!(!found, "the {what} {secret:?} is in the logs");
    }
    assert!(!has_digit_run(&text, &shift.phone_last4), "the phone digits are in the logs");
}

#[test]
fn logs_since_prints_recent_lines() {
    let terminal = Terminal::signed_in();
    let recent = terminal.json(["--json", "logs", "--since", "1h"]);
    let lines = recent.as_array().unwrap();
    assert!(lines.iter().any(|line| line.as_str().unwrap().contains("desk: signed in")));

    let future = terminal.json(["--json", "logs", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future.as_array().unwrap().len(), 0);

    let invalid = terminal.run(["logs", "--since", "yesterday"]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(stderr(&invalid).contains("30m, 1h or 2d"), "{}", stderr(&invalid));
}

#[test]
fn stderr_is_not_coloured_in_a_pipe() {
    let terminal = Terminal::signed_in();
    let mut command = terminal.command();
    command.env("RUST_LOG", "info").args(["sign-in", "clerk", "--pin", "0000"]);
    let output = command.output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3));
    assert!(text.contains("desk: sign-in failed"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes on stderr: {text:?}");
}

#[test]
fn support_bundle_has_no_personal_data() {
    let shift = Shift::run();
    let path = shift.terminal.dir.path().join("bundle.json");
    let output =
        shift_command(&shift.terminal).arg("export").arg("--out").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let bytes = std::fs::read(&path).unwrap();
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle["schema_version"], store::latest_version());
    assert_eq!(bundle["status"]["counts"]["handed_over"], 1);
    assert_eq!(bundle["queue"]["sent"]["handed_over"], 1);
    assert!(!bundle["log_lines"].as_array().unwrap().is_empty());
    for (what, secret) in shift.secrets() {
        let found = bytes.windows(secret.len()).any(|window| window == secret.as_bytes());
        assert!(!found, "the {what} {secret:?} is in the bundle");
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("phone_last4"), "parcel rows are in the bundle");
    assert!(!text.contains("customer_masked"), "parcel rows are in the bundle");
}

/// Writes a version 1 database whose step to version 2 fails, because the
/// table that step creates exists already.
fn database_with_failing_migration(data_dir: &Path) -> PathBuf {
    let path = data_dir.join(store::DB_FILE);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
    conn.execute_batch("CREATE TABLE conflicts (x INTEGER)").unwrap();
    conn.execute(
        "INSERT INTO parcels (barcode, state, updated_at) VALUES ('JJD0009', 'received', 'x')",
        [],
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    path
}

fn assert_database_untouched(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    let parcels: i64 =
        conn.query_row("SELECT COUNT(*) FROM parcels", [], |row| row.get(0)).unwrap();
    assert_eq!(version, 1);
    assert_eq!(parcels, 1);
}

fn assert_says_what_to_do(text: &str) {
    assert!(text.contains("migrating database"), "{text}");
    assert!(text.contains("left unchanged"), "{text}");
    assert!(text.contains("reinstall the previous pickup-terminal"), "{text}");
    assert!(text.contains("pickup-terminal export"), "{text}");
}

#[test]
fn failed_migration_stops_command_with_advice() {
    let terminal = Terminal::empty();
    let path = database_with_failing_migration(terminal.dir.path());
    let output = terminal.run(["status"]);
    assert_eq!(output.status.code(), Some(1));
    assert_says_what_to_do(&stderr(&output));
    assert_database_untouched(&path);

    let bundle = terminal.json(["export"]);
    assert_eq!(bundle["schema_version"], 1);
    assert_says_what_to_do(bundle["database_error"].as_str().unwrap());
}

#[test]
fn failed_migration_stops_screen_with_advice() {
    let terminal = Terminal::empty();
    let path = database_with_failing_migration(terminal.dir.path());
    // No subcommand starts the clerk's screen; the database is opened before
    // any window, so no display is needed to see the error.
    let output = terminal.command().env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output();
    let output = output.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_says_what_to_do(&stderr(&output));
    assert_database_untouched(&path);
}

/// Returns whether `cargo deb` runs; it is required when `PICKUP_E2E=1`.
fn cargo_deb_available() -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let found = Command::new(cargo)
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !found && std::env::var("PICKUP_E2E").as_deref() == Ok("1") {
        panic!("PICKUP_E2E=1 needs cargo-deb: install it with `cargo install cargo-deb --locked`");
    }
    found
}

#[test]
fn debian_package_has_app_unit_and_config() {
    if !cargo_deb_available() {
        eprintln!("skipped: cargo-deb is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = root.join("target/release/pickup-terminal");
    assert!(binary.exists(), "build it first: cargo build --release --bins --features kms");
    let out = tempfile::tempdir().unwrap();
    let package = out.path().join("pickup-terminal.deb");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = Command::new(cargo)
        .current_dir(root)
        .args(["deb", "--no-build", "--output"])
        .arg(&package)
        .output()
        .unwrap();
    assert!(built.status.success(), "cargo deb failed: {}", stderr(&built));

    let listing = Command::new("dpkg-deb").arg("-c").arg(&package).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    for path in [
        "./usr/bin/pickup-terminal",
        "./usr/share/applications/pickup-terminal.desktop",
        "./etc/pickup-terminal/config.toml",
        "/systemd/system/pickup-terminal.service",
    ] {
        assert!(listing.contains(path), "{path} missing from the package:\n{listing}");
    }
    assert!(!listing.contains("mall-backend"), "the backend is not for the terminal");

    let fields = Command::new("dpkg-deb")
        .arg("-f")
        .arg(&package)
        .args(["Package", "Version", "Depends"])
        .output()
        .unwrap();
    let fields = String::from_utf8_lossy(&fields.stdout).into_owned();
    assert!(fields.contains("Package: pickup-terminal"), "{fields}");
    assert!(fields.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))), "{fields}");
    assert!(fields.contains("adduser"), "{fields}");
    assert!(fields.contains("fonts-wqy-microhei"), "{fields}");

    let unpacked = out.path().join("root");
    let status = Command::new("dpkg-deb").arg("-x").arg(&package).arg(&unpacked).status();
    assert!(status.unwrap().success());
    let unit_path = ["lib", "usr/lib"]
        .iter()
        .map(|prefix| unpacked.join(prefix).join("systemd/system/pickup-terminal.service"))
        .find(|path| path.exists())
        .expect("the unit is unpacked");
    let unit = std::fs::read_to_string(unit_path).unwrap();
    assert!(unit.contains("Environment=SLINT_BACKEND=linuxkms"), "{unit}");
    assert!(unit.contains("Restart=always"), "{unit}");
    assert!(unit.contains("WantedBy=graphical.target"), "{unit}");
    assert!(unit.contains("--config /etc/pickup-terminal/config.toml"), "{unit}");

    let config = unpacked.join("etc/pickup-terminal/config.toml");
    let loaded = pickup_terminal::config::Config::load_from(Some(&config), true, &[]);
    assert_eq!(loaded.unwrap(), pickup_terminal::config::Config::default());

    let control = Command::new("dpkg-deb").arg("-I").arg(&package).arg("conffiles").output();
    let control = String::from_utf8_lossy(&control.unwrap().stdout).into_owned();
    assert!(control.contains("/etc/pickup-terminal/config.toml"), "{control}");
}
