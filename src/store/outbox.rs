//! The outbox: every clerk action as an event waiting to reach the backend.
//!
//! An event is appended in the same transaction as the parcel change it
//! records, takes the next per-terminal sequence number, and stays `pending`
//! until the backend returns a result for it. It then becomes `sent` (accepted or a
//! duplicate) or `quarantined` (rejected for good, or failed too often).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use uuid::Uuid;

use super::{Result, StoreError, format_time, parse_time};
use crate::protocol::{Event, EventBody};

/// An event as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub event_id: Uuid,
    pub barcode: String,
    pub operator_id: String,
    pub device_time: DateTime<Utc>,
    pub body: EventBody,
    pub status: EntryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Pending,
    Sent,
    Quarantined,
}

impl EntryStatus {
    fn parse(text: &str) -> Result<EntryStatus> {
        match text {
            "pending" => Ok(EntryStatus::Pending),
            "sent" => Ok(EntryStatus::Sent),
            "quarantined" => Ok(EntryStatus::Quarantined),
            other => Err(StoreError::Corrupt(format!("unknown outbox status {other:?}"))),
        }
    }
}

impl OutboxEntry {
    /// Builds the wire event; the terminal id is filled in at push time
    /// because a terminal may queue events before it is enrolled.
    pub fn to_event(&self, terminal_id: &str) -> Event {
        Event {
            event_id: self.event_id,
            terminal_id: terminal_id.to_owned(),
            seq: self.seq,
            device_time: self.device_time,
            operator_id: self.operator_id.clone(),
            barcode: self.barcode.clone(),
            body: self.body.clone(),
        }
    }
}

/// Appends an event and returns it. Call inside the transaction that makes
/// the change the event records.
pub fn append(
    tx: &Transaction<'_>,
    barcode: &str,
    operator_id: &str,
    device_time: DateTime<Utc>,
    body: EventBody,
) -> Result<OutboxEntry> {
    let seq: i64 = tx.query_row(
        "UPDATE terminal SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
        [],
        |row| row.get(0),
    )?;
    let event_id = Uuid::now_v7();
    let body_json = serde_json::to_string(&body)
        .map_err(|error| StoreError::Corrupt(format!("event body: {error}")))?;
    tx.prepare_cached(
        "INSERT INTO outbox (seq, event_id, barcode, kind, body, operator_id, device_time) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq,
        event_id.to_string(),
        barcode,
        body.kind(),
        body_json,
        operator_id,
        format_time(device_time),
    ])?;
    Ok(OutboxEntry {
        seq,
        event_id,
        barcode: barcode.to_owned(),
        operator_id: operator_id.to_owned(),
        device_time,
        body,
        status: EntryStatus::Pending,
        attempts: 0,
        last_error: None,
    })
}

const COLUMNS: &str =
    "seq, event_id, barcode, operator_id, device_time, body, status, attempts, last_error";

fn from_row(row: &rusqlite::Row<'_>) -> Result<OutboxEntry> {
    let event_id: String = row.get(1)?;
    let body: String = row.get(5)?;
    let status: String = row.get(6)?;
    Ok(OutboxEntry {
        seq: row.get(0)?,
        event_id: Uuid::parse_str(&event_id)
            .map_err(|_| StoreError::Corrupt(format!("event id {event_id:?}")))?,
        barcode: row.get(2)?,
        operator_id: row.get(3)?,
        device_time: parse_time(&row.get::<_, String>(4)?)?,
        body: serde_json::from_str(&body)
            .map_err(|error| StoreError::Corrupt(format!("event body {body:?}: {error}")))?,
        status: EntryStatus::parse(&status)?,
        attempts: row.get(7)?,
        last_error: row.get(8)?,
    })
}

fn collect(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<OutboxEntry>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(args)?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        entries.push(from_row(row)?);
    }
    Ok(entries)
}

/// Returns up to `limit` pending events, lowest sequence number first.
pub fn pending(conn: &Connection, limit: usize) -> Result<Vec<OutboxEntry>> {
    collect(
        conn,
        &format!("SELECT {COLUMNS} FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT ?1"),
        [limit as i64],
    )
}

/// Returns every quarantined event, oldest first.
pub fn quarantined(conn: &Connection) -> Result<Vec<OutboxEntry>> {
    collect(
        conn,
        &format!("SELECT {COLUMNS} FROM outbox WHERE status = 'quarantined' ORDER BY seq"),
        [],
    )
}

/// Returns every event in sequence order, whatever its status.
pub fn all(conn: &Connection) -> Result<Vec<OutboxEntry>> {
    collect(conn, &format!("SELECT {COLUMNS} FROM outbox ORDER BY seq"), [])
}

/// Returns every event whose device time is in `[from, to)`, both given as
/// [`format_time`] text, in sequence order.
pub fn between(conn: &Connection, from: &str, to: &str) -> Result<Vec<OutboxEntry>> {
    collect(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM outbox WHERE device_time >= ?1 AND device_time < ?2 \
             ORDER BY seq"
        ),
        [from, to],
    )
}

/// Marks an event as applied by the backend.
pub fn mark_sent(tx: &Transaction<'_>, event_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, \
         last_error = NULL WHERE event_id = ?1 AND status = 'pending'",
    )?
    .execute(params![event_id.to_string(), format_time(now)])?;
    Ok(())
}

/// Moves an event out of the queue for good, keeping why.
pub fn quarantine(tx: &Transaction<'_>, event_id: Uuid, reason: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE outbox SET status = 'quarantined', attempts = attempts + 1, last_error = ?2 \
         WHERE event_id = ?1 AND status = 'pending'",
    )?
    .execute(params![event_id.to_string(), reason])?;
    Ok(())
}

/// Moves every pending event out of the queue for good, keeping `reason`,
/// and returns how many there were.
pub fn quarantine_pending(tx: &Transaction<'_>, reason: &str) -> Result<u64> {
    let changed = tx
        .prepare_cached(
            "UPDATE outbox SET status = 'quarantined', last_error = ?1 WHERE status = 'pending'",
        )?
        .execute([reason])?;
    Ok(changed as u64)
}

/// Numbers the pending events above `last_seq` and above every stored
/// event, keeping their order, and moves the next seq past them. Returns how
/// many events got new numbers: none when the lowest pending seq is already
/// above `last_seq`.
///
/// The backend reports `last_seq` when this database numbers from below it,
/// because the database was deleted or restored from an old copy. Event ids
/// stay the same, so the backend still recognises the events it applied.
pub fn renumber_pending_above(tx: &Transaction<'_>, last_seq: i64) -> Result<u64> {
    let (lowest_pending, highest): (Option<i64>, Option<i64>) = tx.query_row(
        "SELECT (SELECT MIN(seq) FROM outbox WHERE status = 'pending'), (SELECT MAX(seq) FROM outbox)",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let mut renumbered = 0;
    if let Some(lowest) = lowest_pending.filter(|&lowest| lowest <= last_seq) {
        let offset = last_seq.max(highest.unwrap_or(0)) + 1 - lowest;
        // Two steps, because a one-step shift can collide with a row that
        // has not moved yet: sequence numbers are the primary key.
        renumbered = tx.execute("UPDATE outbox SET seq = -seq WHERE status = 'pending'", [])?;
        tx.execute("UPDATE outbox SET seq = ?1 - seq WHERE seq < 0", [offset])?;
    }
    tx.execute(
        "UPDATE terminal SET next_seq = MAX(next_seq, ?1 + 1, \
         (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox)) WHERE id = 1",
        [last_seq],
    )?;
    Ok(renumbered as u64)
}

/// Counts one more failed try of a pending event and returns the new count.
/// Also quarantines the event, in the same statement, on the try that
/// reaches `max_attempts`, so a quarantined event shows exactly `max_attempts`
/// tries.
pub fn record_failure(
    tx: &Transaction<'_>,
    event_id: Uuid,
    error: &str,
    max_attempts: u32,
) -> Result<u32> {
    let attempts = tx.query_row(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, \
         status = CASE WHEN attempts + 1 >= ?3 THEN 'quarantined' ELSE status END \
         WHERE event_id = ?1 AND status = 'pending' RETURNING attempts",
        params![event_id.to_string(), error, max_attempts],
        |row| row.get(0),
    )?;
    Ok(attempts)
}

/// Queue figures for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSummary {
    pub depth: u64,
    pub quarantined: u64,
    pub oldest_unsent: Option<DateTime<Utc>>,
}

/// Returns the queue figures; the age comes from the lowest pending sequence
/// number, whose device time may be wrong if the clock was.
pub fn summary(conn: &Connection) -> Result<QueueSummary> {
    let depth =
        conn.query_row("SELECT COUNT(*) FROM outbox WHERE status = 'pending'", [], |row| {
            row.get(0)
        })?;
    let quarantined =
        conn.query_row("SELECT COUNT(*) FROM outbox WHERE status = 'quarantined'", [], |row| {
            row.get(0)
        })?;
    let oldest: Option<String> = conn
        .query_row(
            "SELECT device_time FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(QueueSummary {
        depth,
        quarantined,
        oldest_unsent: oldest.as_deref().map(parse_time).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_with_operator() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open(&dir.path().join(crate::store::DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO operators (id, name, pin_hash, created_at) VALUES ('c', 'C', 'x', 'now')",
            [],
        )
        .unwrap();
        (dir, conn)
    }

    fn append_one(conn: &mut Connection, barcode: &str) -> OutboxEntry {
        let tx = conn.transaction().unwrap();
        let entry = append(&tx, barcode, "c", Utc::now(), EventBody::HandedOver).unwrap();
        tx.commit().unwrap();
        entry
    }

    #[test]
    fn renumbering_keeps_order_and_ids() {
        let (_dir, mut conn) = open_with_operator();
        let sent = append_one(&mut conn, "A");
        let first = append_one(&mut conn, "B");
        let second = append_one(&mut conn, "C");
        let tx = conn.transaction().unwrap();
        mark_sent(&tx, sent.event_id, Utc::now()).unwrap();
        let renumbered = renumber_pending_above(&tx, 40).unwrap();
        tx.commit().unwrap();

        assert_eq!(renumbered, 2);
        let pending = pending(&conn, 10).unwrap();
        let seqs: Vec<i64> = pending.iter().map(|entry| entry.seq).collect();
        let ids: Vec<Uuid> = pending.iter().map(|entry| entry.event_id).collect();
        assert_eq!(seqs, vec![41, 42]);
        assert_eq!(ids, vec![first.event_id, second.event_id]);
        assert_eq!(append_one(&mut conn, "D").seq, 43);
    }

    #[test]
    fn renumbering_above_backend_changes_nothing() {
        let (_dir, mut conn) = open_with_operator();
        append_one(&mut conn, "A");
        let tx = conn.transaction().unwrap();
        assert_eq!(renumber_pending_above(&tx, 0).unwrap(), 0);
        tx.commit().unwrap();
        assert_eq!(pending(&conn, 10).unwrap()[0].seq, 1);
    }
}
