//! Sync bookkeeping: the pull cursor, the last sync outcome and the conflicts
//! the backend reported.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

use super::{Result, format_time, parse_optional_time, parse_time};

/// State of the terminal's link to the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncState {
    pub cursor: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub online: bool,
}

pub fn get(conn: &Connection) -> Result<SyncState> {
    let (cursor, last_sync_at, last_error, online) = conn
        .prepare_cached(
            "SELECT cursor, last_sync_at, last_error, online FROM sync_state WHERE id = 1",
        )?
        .query_row([], |row| {
            Ok((row.get(0)?, row.get::<_, Option<String>>(1)?, row.get(2)?, row.get(3)?))
        })?;
    Ok(SyncState { cursor, last_sync_at: parse_optional_time(last_sync_at)?, last_error, online })
}

/// Stores the cursor. Call in the transaction that applies the changes the
/// cursor covers.
pub fn set_cursor(tx: &Transaction<'_>, cursor: &str) -> Result<()> {
    tx.prepare_cached("UPDATE sync_state SET cursor = ?1 WHERE id = 1")?.execute([cursor])?;
    Ok(())
}

/// Forgets the cursor, so the next pull starts from the first change.
pub fn clear_cursor(tx: &Transaction<'_>) -> Result<()> {
    tx.prepare_cached("UPDATE sync_state SET cursor = NULL WHERE id = 1")?.execute([])?;
    Ok(())
}

/// Records a completed exchange with the backend.
pub fn record_success(conn: &Connection, at: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sync_state SET last_sync_at = ?1, last_error = NULL, online = 1 WHERE id = 1",
    )?
    .execute([format_time(at)])?;
    Ok(())
}

/// Records a failed exchange; the terminal counts as offline until the next
/// success.
pub fn record_failure(conn: &Connection, error: &str) -> Result<()> {
    conn.prepare_cached("UPDATE sync_state SET last_error = ?1, online = 0 WHERE id = 1")?
        .execute([error])?;
    Ok(())
}

/// A clash the backend found between an event and the mall's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub conflict_id: String,
    pub barcode: String,
    pub event_id: Option<String>,
    pub message: String,
    pub received_at: DateTime<Utc>,
    pub acknowledged: bool,
}

pub fn insert_conflict(
    tx: &Transaction<'_>,
    conflict_id: &str,
    barcode: &str,
    event_id: Option<&str>,
    message: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO conflicts (conflict_id, barcode, event_id, message, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![conflict_id, barcode, event_id, message, format_time(now)])?;
    Ok(())
}

pub fn conflicts(conn: &Connection) -> Result<Vec<Conflict>> {
    let mut statement = conn.prepare_cached(
        "SELECT conflict_id, barcode, event_id, message, received_at, acknowledged \
         FROM conflicts ORDER BY received_at",
    )?;
    let mut rows = statement.query([])?;
    let mut conflicts = Vec::new();
    while let Some(row) = rows.next()? {
        conflicts.push(Conflict {
            conflict_id: row.get(0)?,
            barcode: row.get(1)?,
            event_id: row.get(2)?,
            message: row.get(3)?,
            received_at: parse_time(&row.get::<_, String>(4)?)?,
            acknowledged: row.get(5)?,
        });
    }
    Ok(conflicts)
}

pub fn acknowledge_conflict(conn: &Connection, conflict_id: &str) -> Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE conflicts SET acknowledged = 1 WHERE conflict_id = ?1")?
        .execute(params![conflict_id])?;
    Ok(changed > 0)
}

/// A pulled change that the terminal could not use and skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedChange {
    pub id: i64,
    pub change_type: Option<String>,
    pub barcode: Option<String>,
    pub reason: String,
    pub received_at: DateTime<Utc>,
    pub acknowledged: bool,
}

/// Records a skipped change. Call in the transaction that moves the cursor
/// past it.
pub fn insert_skipped_change(
    tx: &Transaction<'_>,
    change_type: Option<&str>,
    barcode: Option<&str>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO skipped_changes (change_type, barcode, reason, received_at) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![change_type, barcode, reason, format_time(now)])?;
    Ok(())
}

/// Returns every skipped change, oldest first.
pub fn skipped_changes(conn: &Connection) -> Result<Vec<SkippedChange>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, change_type, barcode, reason, received_at, acknowledged \
         FROM skipped_changes ORDER BY id",
    )?;
    let mut rows = statement.query([])?;
    let mut skipped = Vec::new();
    while let Some(row) = rows.next()? {
        skipped.push(SkippedChange {
            id: row.get(0)?,
            change_type: row.get(1)?,
            barcode: row.get(2)?,
            reason: row.get(3)?,
            received_at: parse_time(&row.get::<_, String>(4)?)?,
            acknowledged: row.get(5)?,
        });
    }
    Ok(skipped)
}
