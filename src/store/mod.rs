//! Local SQLite store of the terminal: parcels, operators, verification code
//! hashes, the outbox of clerk events and the sync cursor.
//!
//! Every connection runs in WAL mode with `synchronous=FULL`, foreign keys on
//! and a busy timeout, so a committed transaction survives power loss and the
//! sync engine's connection can read while the clerk's connection writes.
//! Write helpers take a `&Transaction`, read helpers a `&Connection`.

pub mod codes;
pub mod credentials;
pub mod outbox;
pub mod parcels;
pub mod retention;
pub mod schema;
pub mod sessions;
pub mod sign_in_failures;
pub mod sync_state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};

/// How long a connection waits for another writer before it gives up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// File name of the terminal database inside the data directory.
pub const DB_FILE: &str = "terminal.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "database {path} has schema version {found}, newer than this program's {known}: \
         install the newer pickup-terminal or restore a backup"
    )]
    TooNew { path: PathBuf, found: u32, known: u32 },
    #[error(
        "migrating database {path} to version {version} failed: {source}. \
         The database was left unchanged at its previous version: reinstall the \
         previous pickup-terminal to keep working, and send the output of \
         `pickup-terminal export` to support"
    )]
    Migration { path: PathBuf, version: u32, source: rusqlite::Error },
    #[error("database busy: another process held it for more than {}s; try again", BUSY_TIMEOUT.as_secs())]
    Busy,
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            _ => StoreError::Sqlite(error),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens (creating if needed) the database at `path`, sets the pragmas and
/// migrates the schema to the latest version.
pub fn open(path: &Path) -> Result<Connection> {
    let open_error = |source| StoreError::Open { path: path.to_owned(), source };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
    set_pragmas(&conn).map_err(open_error)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

fn set_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Returns the schema version this program writes.
pub fn latest_version() -> u32 {
    schema::MIGRATIONS.len() as u32
}

/// Runs every migration step after the database's version in one
/// transaction, so a failure leaves the database as it was.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
    let known = latest_version();
    if found > known {
        return Err(StoreError::TooNew { path: path.to_owned(), found, known });
    }
    if found == known {
        return Ok(());
    }
    let failed = |version, source| StoreError::Migration { path: path.to_owned(), version, source };
    let tx = conn.transaction().map_err(|source| failed(found + 1, source))?;
    for (index, step) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        tx.execute_batch(step).map_err(|source| failed(version, source))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|source| failed(version, source))?;
    }
    tx.commit().map_err(|source| failed(known, source))?;
    tracing::info!(from = found, to = known, "store: schema migrated");
    Ok(())
}

/// Formats a time the way the store keeps it: RFC 3339, UTC, milliseconds.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a time written by [`format_time`].
pub fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| StoreError::Corrupt(format!("time {text:?}: {error}")))
}

/// Parses an optional stored time.
pub fn parse_optional_time(text: Option<String>) -> Result<Option<DateTime<Utc>>> {
    text.as_deref().map(parse_time).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_sets_wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join(DB_FILE)).unwrap();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |row| row.get(0)).unwrap();
        let keys: i64 = conn.pragma_query_value(None, "foreign_keys", |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL is 2");
        assert_eq!(keys, 1);
    }

    #[test]
    fn open_migrates_previous_version_keeping_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO parcels (barcode, state, updated_at) VALUES ('JJD0001', 'received', 'x')",
                [],
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        let state: String = conn
            .query_row("SELECT state FROM parcels WHERE barcode = 'JJD0001'", [], |row| row.get(0))
            .unwrap();
        let conflicts: i64 =
            conn.query_row("SELECT COUNT(*) FROM conflicts", [], |row| row.get(0)).unwrap();
        assert_eq!(version, latest_version());
        assert_eq!(state, "received");
        assert_eq!(conflicts, 0);
    }

    #[test]
    fn migration_counts_parcels_on_shelves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            for step in &schema::MIGRATIONS[..4] {
                conn.execute_batch(step).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "INSERT INTO parcels (barcode, state, shelf, updated_at) VALUES
                 ('P1', 'received', 'A1', 'x'), ('P2', 'ready', 'A1', 'x'),
                 ('P3', 'return_pending', 'B2', 'x'), ('P4', 'handed_over', 'B2', 'x'),
                 ('P5', 'expected', NULL, 'x')",
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        let load = parcels::shelf_load(&conn).unwrap();
        assert_eq!(load.get("A1"), Some(&2));
        assert_eq!(load.get("B2"), Some(&1));
        assert_eq!(load.len(), 2);
    }

    #[test]
    fn open_rejects_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let error = open(&path).unwrap_err();
        assert!(matches!(error, StoreError::TooNew { found: 99, .. }), "{error}");
    }

    #[test]
    fn failed_migration_leaves_version_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
            // A table that the next step also creates makes that step fail.
            conn.execute_batch("CREATE TABLE conflicts (x INTEGER)").unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let error = open(&path).unwrap_err();
        let conn = Connection::open(&path).unwrap();
        let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert!(matches!(error, StoreError::Migration { version: 2, .. }), "{error}");
        assert_eq!(version, 1);
    }
}
