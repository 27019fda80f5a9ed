//! Security checks across processes: the https backend with a self-signed
//! certificate, and verification codes kept out of the terminal's files and
//! logs.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pickup_terminal::backend::{self, BackendConfig, TlsFiles};

use crate::sync::{STORE, Setup};

/// Writes a self-signed certificate for 127.0.0.1 and its key into `dir`.
fn self_signed(dir: &Path) -> TlsFiles {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let files = TlsFiles { cert: dir.join("backend.pem"), key: dir.join("backend.key") };
    std::fs::write(&files.cert, certified.cert.pem()).unwrap();
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).unwrap();
    files
}

/// Runs the terminal program on `data_dir`, reading settings only from
/// `config` when given.
fn terminal(data_dir: &Path, config: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pickup-terminal"));
    command.arg("--data-dir").arg(data_dir);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command.env("XDG_CONFIG_HOME", data_dir.join("xdg"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PICKUP_TERMINAL_")) {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "trace");
    command.args(args).stdin(Stdio::null()).output().unwrap()
}

/// True when `haystack` contains `code` as a run of exactly six digits. A
/// run after a '.' is the fraction of a timestamp, not a stored code.
fn contains_code(haystack: &[u8], code: &str) -> bool {
    let code = code.as_bytes();
    haystack.windows(code.len()).enumerate().any(|(start, window)| {
        let before = start.checked_sub(1).map(|index| haystack[index]);
        let after = haystack.get(start + code.len()).copied();
        window == code
            && !before.is_some_and(|byte| byte.is_ascii_digit() || byte == b'.')
            && !after.is_some_and(|byte| byte.is_ascii_digit())
    })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn https_needs_trusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let backend_db = dir.path().join("mall.sqlite");
    backend::seed(&backend_db, STORE, 2, 3).unwrap();
    let tls = self_signed(dir.path());
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let config = BackendConfig {
        tls: Some(tls.clone()),
        ..BackendConfig::new(&backend_db, listen, "admin")
    };
    let running = backend::start(config).await.unwrap();
    let url = running.base_url();
    assert!(url.starts_with("https://"), "{url}");

    let trusting = dir.path().join("trusting.toml");
    let cert = tls.cert.display();
    std::fs::write(&trusting, format!("[backend]\ntrusted_certificate = \"{cert}\"\n")).unwrap();
    let data_dir = dir.path().join("terminal");
    let token = backend::create_enrolment(&backend_db, STORE).unwrap();

    // Without the certificate, enrolment fails with an error naming it.
    let refused = tokio::task::block_in_place(|| {
        terminal(&data_dir, None, &["enroll", "--backend", &url, "--token", &token])
    });
    assert_ne!(refused.status.code(), Some(0));
    assert!(text(&refused).to_lowercase().contains("certificate"), "{}", text(&refused));

    let enrolled = tokio::task::block_in_place(|| {
        terminal(&data_dir, Some(&trusting), &["enroll", "--backend", &url, "--token", &token])
    });
    assert_eq!(enrolled.status.code(), Some(0), "{}", text(&enrolled));
    let synced = tokio::task::block_in_place(|| terminal(&data_dir, Some(&trusting), &["sync"]));
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced));
    let untrusted = tokio::task::block_in_place(|| terminal(&data_dir, None, &["sync"]));
    assert_ne!(untrusted.status.code(), Some(0));
    assert!(text(&untrusted).to_lowercase().contains("certificate"), "{}", text(&untrusted));
    assert!(!text(&untrusted).contains(&token), "the enrolment token was logged");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_absent_from_files_and_logs() {
    let setup = Setup::new(4).await;
    let mut desk = setup.desk();
    desk.receive("JJD0001").unwrap();
    desk.receive("JJD0002").unwrap();
    drop(desk);
    let dir = setup.terminal_dir().to_owned();
    let mut logs = String::new();
    let synced = tokio::task::block_in_place(|| terminal(&dir, None, &["sync"]));
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced));
    logs.push_str(&text(&synced));

    let codes = [setup.texted_code("JJD0001"), setup.texted_code("JJD0002")];
    let wrong = if codes[1] == "000000" { "000001" } else { "000000" };
    let tries: [(&str, &str); 3] =
        [(&codes[0], "JJD0001"), (wrong, "JJD0002"), (&codes[1], "JJD0002")];
    for (code, barcode) in tries {
        let output = tokio::task::block_in_place(|| {
            terminal(&dir, None, &["--json", "handover", code, "--confirm", barcode])
        });
        logs.push_str(&text(&output));
    }
    let synced = tokio::task::block_in_place(|| terminal(&dir, None, &["sync"]));
    logs.push_str(&text(&synced));
    let token =
        pickup_terminal::store::credentials::Credentials::load(&dir).unwrap().unwrap().token;

    for code in codes.iter().map(String::as_str).chain([wrong]) {
        assert!(!contains_code(logs.as_bytes(), code), "a code is in the logs");
        for path in files_under(&dir) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!contains_code(&bytes, code), "a code is in {}", path.display());
        }
    }
    assert!(!logs.contains(&token), "the terminal token is in the logs");
    let handed = setup.desk().parcel("JJD0002").unwrap().unwrap();
    assert_eq!(handed.state, pickup_terminal::store::parcels::ParcelState::HandedOver);
}

/// Lists every file in `dir` and its subdirectories, such as `logs/`.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
