//! Counter sessions: a courier drop, a return to a courier or a stocktake,
//! with the parcels scanned into each.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{Result, StoreError, format_time, parse_optional_time, parse_time};

/// Kind of counter session. At most one of each kind is open at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A courier drops parcels off; receipts and rejections attach to it.
    Drop,
    /// Parcels to be returned are given to a courier together.
    Return,
    /// Every parcel on the shelves is scanned and compared with the store.
    Stocktake,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Drop => "drop",
            SessionKind::Return => "return",
            SessionKind::Stocktake => "stocktake",
        }
    }

    fn parse(text: &str) -> Result<SessionKind> {
        match text {
            "drop" => Ok(SessionKind::Drop),
            "return" => Ok(SessionKind::Return),
            "stocktake" => Ok(SessionKind::Stocktake),
            other => Err(StoreError::Corrupt(format!("unknown session kind {other:?}"))),
        }
    }
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of a scan inside a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanOutcome {
    Received,
    Rejected,
    Return,
    Seen,
}

impl ScanOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ScanOutcome::Received => "received",
            ScanOutcome::Rejected => "rejected",
            ScanOutcome::Return => "return",
            ScanOutcome::Seen => "seen",
        }
    }

    fn parse(text: &str) -> Result<ScanOutcome> {
        match text {
            "received" => Ok(ScanOutcome::Received),
            "rejected" => Ok(ScanOutcome::Rejected),
            "return" => Ok(ScanOutcome::Return),
            "seen" => Ok(ScanOutcome::Seen),
            other => Err(StoreError::Corrupt(format!("unknown scan outcome {other:?}"))),
        }
    }
}

/// One counter session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub session_id: String,
    pub kind: SessionKind,
    pub courier_id: Option<String>,
    pub declared: Option<u32>,
    pub operator_id: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// One parcel scanned into a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionScan {
    pub barcode: String,
    pub outcome: ScanOutcome,
    pub scanned_at: DateTime<Utc>,
}

const COLUMNS: &str = "session_id, kind, courier_id, declared, operator_id, opened_at, closed_at";

fn from_row(row: &rusqlite::Row<'_>) -> Result<Session> {
    Ok(Session {
        session_id: row.get(0)?,
        kind: SessionKind::parse(&row.get::<_, String>(1)?)?,
        courier_id: row.get(2)?,
        declared: row.get(3)?,
        operator_id: row.get(4)?,
        opened_at: parse_time(&row.get::<_, String>(5)?)?,
        closed_at: parse_optional_time(row.get(6)?)?,
    })
}

/// Returns the open session of `kind`, if any.
pub fn open_session(conn: &Connection, kind: SessionKind) -> Result<Option<Session>> {
    let sql =
        format!("SELECT {COLUMNS} FROM counter_sessions WHERE kind = ?1 AND closed_at IS NULL");
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([kind.as_str()])?;
    rows.next()?.map(from_row).transpose()
}

/// Inserts a new open session.
pub fn insert(tx: &Transaction<'_>, session: &Session) -> Result<()> {
    tx.execute(
        "INSERT INTO counter_sessions \
         (session_id, kind, courier_id, declared, operator_id, opened_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            session.session_id,
            session.kind.as_str(),
            session.courier_id,
            session.declared,
            session.operator_id,
            format_time(session.opened_at),
        ],
    )?;
    Ok(())
}

/// Marks a session closed by `operator_id`.
pub fn close(
    tx: &Transaction<'_>,
    session_id: &str,
    operator_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "UPDATE counter_sessions SET closed_at = ?2, closed_by = ?3 \
         WHERE session_id = ?1 AND closed_at IS NULL",
        params![session_id, format_time(now), operator_id],
    )?;
    Ok(())
}

/// Adds a scan to a session. Returns false, changing nothing, when the
/// barcode was scanned into this session before.
pub fn add_scan(
    tx: &Transaction<'_>,
    session_id: &str,
    barcode: &str,
    outcome: ScanOutcome,
    now: DateTime<Utc>,
) -> Result<bool> {
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO session_scans (session_id, barcode, outcome, scanned_at) \
         VALUES (?1, ?2, ?3, ?4)",
        params![session_id, barcode, outcome.as_str(), format_time(now)],
    )?;
    Ok(inserted == 1)
}

/// Adds a scan to a session or replaces the outcome of an earlier scan of
/// the same barcode, keeping its time.
pub fn set_scan(
    tx: &Transaction<'_>,
    session_id: &str,
    barcode: &str,
    outcome: ScanOutcome,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO session_scans (session_id, barcode, outcome, scanned_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (session_id, barcode) DO UPDATE SET outcome = excluded.outcome",
        params![session_id, barcode, outcome.as_str(), format_time(now)],
    )?;
    Ok(())
}

/// Returns the outcome of an earlier scan of `barcode` in the session.
pub fn scan_of(conn: &Connection, session_id: &str, barcode: &str) -> Result<Option<ScanOutcome>> {
    let outcome: Option<String> = conn
        .query_row(
            "SELECT outcome FROM session_scans WHERE session_id = ?1 AND barcode = ?2",
            params![session_id, barcode],
            |row| row.get(0),
        )
        .optional()?;
    outcome.as_deref().map(ScanOutcome::parse).transpose()
}

/// Returns the scans of a session in scan order.
pub fn scans(conn: &Connection, session_id: &str) -> Result<Vec<SessionScan>> {
    let mut statement = conn.prepare_cached(
        "SELECT barcode, outcome, scanned_at FROM session_scans \
         WHERE session_id = ?1 ORDER BY scanned_at, barcode",
    )?;
    let mut rows = statement.query([session_id])?;
    let mut scans = Vec::new();
    while let Some(row) = rows.next()? {
        scans.push(SessionScan {
            barcode: row.get(0)?,
            outcome: ScanOutcome::parse(&row.get::<_, String>(1)?)?,
            scanned_at: parse_time(&row.get::<_, String>(2)?)?,
        });
    }
    Ok(scans)
}
