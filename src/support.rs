//! The support bundle of `pickup-terminal export`: what a support engineer
//! needs to see why a terminal misbehaves, with no personal data in it.
//!
//! The bundle contains the program and schema versions, the desk status, the
//! outbox counted by status and kind, the settings and the latest log lines.
//! It holds no parcel rows, so no customer name or phone digits, and no
//! credentials: the backend address loses any user, password, query and
//! fragment. Note that the log lines are copied as written; they are free of
//! codes, PINs and tokens because nothing logs them.
//!
//! The bundle is built even when the database cannot be opened, for example
//! after a failed migration: the error then takes the place of the status.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::config::Config;
use crate::desk::{Desk, Status};
use crate::{logs, store};

/// Log lines copied into a bundle, the newest ones.
pub const LOG_LINES: usize = 500;

/// A support bundle. Field names are stable.
#[derive(Debug, Clone, Serialize)]
pub struct SupportBundle {
    pub created_at: DateTime<Utc>,
    pub program_version: &'static str,
    /// Schema version of the database file, `None` when it cannot be read.
    pub schema_version: Option<u32>,
    /// Schema version this program writes.
    pub schema_version_supported: u32,
    /// The error that stopped the database from opening, if one did.
    pub database_error: Option<String>,
    pub status: Option<Status>,
    /// Outbox events per status (`pending`, `sent`, `quarantined`), then per
    /// event kind.
    pub queue: BTreeMap<String, BTreeMap<String, u64>>,
    pub config: Config,
    pub log_files: Vec<LogFileInfo>,
    pub log_lines: Vec<String>,
}

/// Name and size of one log file.
#[derive(Debug, Clone, Serialize)]
pub struct LogFileInfo {
    pub name: String,
    pub size_bytes: u64,
}

/// Builds the bundle of the terminal whose data is in `data_dir`.
pub fn bundle(data_dir: &Path, config: &Config, now: DateTime<Utc>) -> SupportBundle {
    let mut bundle = SupportBundle {
        created_at: now,
        program_version: env!("CARGO_PKG_VERSION"),
        schema_version: read_schema_version(&data_dir.join(store::DB_FILE)),
        schema_version_supported: store::latest_version(),
        database_error: None,
        status: None,
        queue: BTreeMap::new(),
        config: redacted_config(config),
        log_files: Vec::new(),
        log_lines: Vec::new(),
    };
    match Desk::open(data_dir, config.desk_config()) {
        Ok(desk) => {
            bundle.status = desk.status().map(redacted_status).ok();
            bundle.queue = queue_counts(desk.connection()).unwrap_or_default();
        }
        Err(error) => bundle.database_error = Some(error.to_string()),
    }
    let log_dir = logs::log_dir(data_dir);
    match logs::log_files(&log_dir) {
        Ok(files) => {
            bundle.log_files = files
                .iter()
                .map(|file| LogFileInfo {
                    name: file.path.file_name().unwrap_or_default().to_string_lossy().into(),
                    size_bytes: file.size,
                })
                .collect();
        }
        Err(error) => {
            bundle.log_lines.push(format!("listing {} failed: {error}", log_dir.display()))
        }
    }
    match logs::last_lines(&log_dir, LOG_LINES) {
        Ok(lines) => bundle.log_lines.extend(lines),
        Err(error) => {
            bundle.log_lines.push(format!("reading {} failed: {error}", log_dir.display()))
        }
    }
    bundle
}

/// Reads `user_version` without migrating, so a database that a newer
/// program wrote, or whose migration failed, still reports its version.
fn read_schema_version(path: &Path) -> Option<u32> {
    if !path.exists() {
        return None;
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.pragma_query_value(None, "user_version", |row| row.get(0)).ok()
}

fn queue_counts(conn: &Connection) -> rusqlite::Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let mut statement =
        conn.prepare("SELECT status, kind, COUNT(*) FROM outbox GROUP BY status, kind")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, u64>(2)?))
    })?;
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for row in rows {
        let (status, kind, count) = row?;
        counts.entry(status).or_default().insert(kind, count);
    }
    Ok(counts)
}

fn redacted_config(config: &Config) -> Config {
    let mut config = config.clone();
    config.backend.url = config.backend.url.as_deref().map(redact_url);
    config
}

fn redacted_status(mut status: Status) -> Status {
    status.backend_url = status.backend_url.as_deref().map(redact_url);
    status
}

/// Returns `url` without a user, password, query or fragment, which may carry
/// credentials.
pub fn redact_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_loses_credentials() {
        assert_eq!(
            redact_url("https://user:secret@mall.example.com:8443/api?token=abc#x"),
            "https://mall.example.com:8443/api"
        );
        assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn bundle_reports_unopenable_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(store::DB_FILE);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let bundle = bundle(dir.path(), &Config::default(), Utc::now());
        assert_eq!(bundle.schema_version, Some(99));
        assert!(bundle.status.is_none());
        let error = bundle.database_error.expect("the open error is reported");
        assert!(error.contains("newer than this program"), "{error}");
    }
}
