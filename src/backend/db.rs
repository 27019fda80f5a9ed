//! The backend's SQLite file: connection settings, the schema and its
//! migrations, and the time format every table uses.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;

/// Schema migrations, applied in order. Entry `i` upgrades `user_version` `i`
/// to `i + 1`. Append new entries; never edit or reorder old ones.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3];

/// Version 1: stores, terminals, the manifest, pushed events, codes, the SMS
/// outbox, conflicts and the change log that terminals pull.
const SCHEMA_V1: &str = "
-- Facts about this database file. `instance_id` goes into pull cursors so a
-- cursor from another database is recognised.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('instance_id', lower(hex(randomblob(8))));

CREATE TABLE stores (
    store_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
) STRICT;

-- One-time enrolment tokens. Only the SHA-256 of a token is kept.
CREATE TABLE enrolments (
    token_hash TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores (store_id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    terminal_id TEXT
) STRICT;

-- Enrolled terminals. `token_hash` is the SHA-256 of the bearer token.
-- `code_key` must stay readable because the backend hashes every new code
-- under it. `last_seq` is the highest event seq recorded for the terminal.
CREATE TABLE terminals (
    terminal_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores (store_id),
    token_hash TEXT NOT NULL UNIQUE,
    code_key TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX terminals_store ON terminals (store_id);

-- The manifest of each store. A barcode is unique within a store; the same
-- barcode may appear in two stores because seeded manifests reuse numbers.
CREATE TABLE parcels (
    store_id TEXT NOT NULL REFERENCES stores (store_id),
    barcode TEXT NOT NULL,
    order_id TEXT NOT NULL,
    customer_masked TEXT NOT NULL,
    -- NULL for an unexpected parcel, whose customer the mall does not know.
    phone_last4 TEXT,
    courier TEXT NOT NULL,
    deadline TEXT,
    state TEXT NOT NULL CHECK (state IN ('announced', 'received', 'rejected',
        'collected', 'return_pending', 'returned', 'recalled', 'cancelled')),
    unexpected INTEGER NOT NULL DEFAULT 0,
    shelf TEXT,
    recall_reason TEXT,
    announced_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (store_id, barcode)
) STRICT;
CREATE INDEX parcels_barcode ON parcels (barcode);

-- Every pushed event that got a permanent outcome, accepted or rejected, so
-- a resend gets the same outcome. Batches that failed with an HTTP error
-- leave no rows.
CREATE TABLE events (
    event_id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL REFERENCES terminals (terminal_id),
    store_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    barcode TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    body TEXT NOT NULL,
    device_time TEXT NOT NULL,
    server_time TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    reason TEXT
) STRICT;
CREATE INDEX events_terminal_seq ON events (terminal_id, seq);

-- Verification codes. The code itself is never stored: `lookup_hash` is a
-- keyed hash under the server secret, used to keep live codes unique per
-- store, and `sealed_code` is the code masked with a pad derived from the
-- server secret, so terminals enrolled later can still get its hash.
CREATE TABLE codes (
    code_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    lookup_hash TEXT NOT NULL,
    sealed_code TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    revoked_at TEXT,
    FOREIGN KEY (store_id, barcode) REFERENCES parcels (store_id, barcode)
) STRICT;
CREATE UNIQUE INDEX codes_live_lookup ON codes (store_id, lookup_hash)
    WHERE revoked_at IS NULL;
CREATE INDEX codes_parcel ON codes (store_id, barcode);

-- Messages that the bundled SMS gateway sent. The text contains the code,
-- because this table stands in for the customer's phone.
CREATE TABLE sms_outbox (
    sms_id INTEGER PRIMARY KEY,
    store_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    phone_last4 TEXT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- Events that the backend kept although they clashed with the mall's state.
CREATE TABLE conflicts (
    conflict_id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    event_id TEXT,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- The change log that terminals pull, as JSON `Change` values. A NULL
-- `terminal_id` addresses every terminal of the store. AUTOINCREMENT keeps
-- ids from being reused, because cursors point at them.
CREATE TABLE changes (
    change_id INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id TEXT NOT NULL,
    terminal_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX changes_store ON changes (store_id, change_id);
";

/// Version 2: codes that unlock several parcels of one order.
const SCHEMA_V2: &str = "
-- Every parcel a code unlocks, one row each, including the parcel in
-- `codes.barcode`. A code without rows here unlocks only `codes.barcode`.
CREATE TABLE code_parcels (
    code_id TEXT NOT NULL REFERENCES codes (code_id),
    store_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    PRIMARY KEY (code_id, barcode)
) STRICT;
CREATE INDEX code_parcels_by_parcel ON code_parcels (store_id, barcode);
";

/// Version 3: an index for the parcels of one order in barcode order, which
/// every receipt reads to decide whether the order's shared code is due.
/// Without it each receipt scanned the whole store, and a push grew with the
/// square of its size. The index ends in `barcode` because with
/// `(store_id, order_id)` alone SQLite preferred the primary key, which
/// gives the `ORDER BY barcode` without a sort but scans the store.
const SCHEMA_V3: &str = "
CREATE INDEX parcels_order ON parcels (store_id, order_id, barcode);
";

/// How long a connection waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if missing) the backend database at `path`, sets WAL,
/// `synchronous=FULL` and foreign keys, and migrates it to the latest schema.
///
/// Fails when the file cannot be opened or is not SQLite, or when its schema
/// is newer than this backend supports.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path)
        .with_context(|| format!("failed to open backend database {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("backend database {}: journal mode is {mode}, expected wal", path.display());
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    migrate(&mut conn).with_context(|| format!("failed to migrate {}", path.display()))?;
    Ok(conn)
}

/// Returns the schema version this backend writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Applies the missing migrations, each in its own transaction together
/// with the new `user_version`.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > latest_version() {
        bail!(
            "database schema version {current} is newer than this backend supports ({})",
            latest_version()
        );
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Formats a time the way every table stores it: RFC 3339 in UTC with
/// microseconds, so text order is time order.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a time written by [`format_time`].
pub fn parse_time(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc)).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, err.into())
    })
}

/// Inserts the store if it is new.
pub fn ensure_store(conn: &Connection, store_id: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    check_store_id(store_id)?;
    conn.execute(
        "INSERT INTO stores (store_id, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        (store_id, format_time(now)),
    )?;
    Ok(())
}

/// Checks that a store id is 1 to 32 ASCII letters, digits, `-` or `_`.
pub fn check_store_id(store_id: &str) -> anyhow::Result<()> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if store_id.is_empty() || store_id.len() > 32 || !store_id.chars().all(valid_char) {
        bail!("invalid store id {store_id:?}: use 1 to 32 letters, digits, '-' or '_'");
    }
    Ok(())
}

/// Returns the random id of this database file.
pub fn instance_id(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'instance_id'", [], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_sets_latest_user_version() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("mall.db")).unwrap();
        let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
        assert_eq!(version, latest_version());
    }

    #[test]
    fn reopen_keeps_instance_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mall.db");
        let first = instance_id(&open(&path).unwrap()).unwrap();
        let second = instance_id(&open(&path).unwrap()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn open_rejects_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mall.db");
        open(&path).unwrap().pragma_update(None, "user_version", latest_version() + 1).unwrap();
        let err = open(&path).unwrap_err();
        assert!(format!("{err:#}").contains("newer than this backend supports"), "{err:#}");
    }

    #[test]
    fn open_enables_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("mall.db")).unwrap();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
        let foreign_keys: bool =
            conn.pragma_query_value(None, "foreign_keys", |row| row.get(0)).unwrap();
        let synchronous: i64 =
            conn.pragma_query_value(None, "synchronous", |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert!(foreign_keys);
        assert_eq!(synchronous, 2, "synchronous=FULL is 2");
    }

    #[test]
    fn time_text_round_trips() {
        let time = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
        assert_eq!(parse_time(&format_time(time)).unwrap(), time);
    }

    #[test]
    fn store_id_rejects_spaces() {
        assert!(check_store_id("S 1").is_err());
    }
}
