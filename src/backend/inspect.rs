//! Read-only views of the backend database, for the admin page and for
//! tests. The `*_at` functions take an open connection; the others open the
//! database file themselves and work while a server is running on it.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row};
use serde::Serialize;
use uuid::Uuid;

use super::db::{self, parse_time};
use super::parcels::{self, ParcelRecord};

/// One message in the SMS outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsRecord {
    pub sms_id: i64,
    pub store_id: String,
    pub barcode: String,
    /// `None` for an unexpected parcel, whose customer the mall does not know.
    pub phone_last4: Option<String>,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl SmsRecord {
    /// Returns the verification code in the text: the first run of exactly
    /// six digits.
    pub fn code(&self) -> Option<&str> {
        self.text.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 6)
    }
}

/// One pushed event with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    pub event_id: Uuid,
    pub terminal_id: String,
    pub store_id: String,
    pub seq: i64,
    pub kind: String,
    pub barcode: String,
    pub operator_id: String,
    pub device_time: DateTime<Utc>,
    /// When the backend received the batch.
    pub server_time: DateTime<Utc>,
    /// `accepted` or `rejected`.
    pub outcome: String,
    pub reason: Option<String>,
}

/// One recorded conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictRecord {
    pub conflict_id: String,
    pub store_id: String,
    pub barcode: String,
    pub event_id: Option<Uuid>,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// One store with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreRecord {
    pub store_id: String,
    pub created_at: DateTime<Utc>,
    pub terminals: i64,
    pub parcels: i64,
}

fn uuid_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(index)?;
    Uuid::parse_str(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, err.into())
    })
}

/// Returns the SMS outbox, oldest first.
pub fn sms_outbox_at(conn: &Connection) -> rusqlite::Result<Vec<SmsRecord>> {
    let mut statement = conn.prepare(
        "SELECT sms_id, store_id, barcode, phone_last4, text, created_at
         FROM sms_outbox ORDER BY sms_id",
    )?;
    statement
        .query_map([], |row| {
            Ok(SmsRecord {
                sms_id: row.get(0)?,
                store_id: row.get(1)?,
                barcode: row.get(2)?,
                phone_last4: row.get(3)?,
                text: row.get(4)?,
                created_at: parse_time(&row.get::<_, String>(5)?)?,
            })
        })?
        .collect()
}

/// Returns the recorded events, of one terminal or of all, by terminal and
/// seq.
pub fn events_at(
    conn: &Connection,
    terminal_id: Option<&str>,
) -> rusqlite::Result<Vec<EventRecord>> {
    let mut statement = conn.prepare(
        "SELECT event_id, terminal_id, store_id, seq, kind, barcode, operator_id, device_time,
             server_time, outcome, reason
         FROM events WHERE ?1 IS NULL OR terminal_id = ?1 ORDER BY terminal_id, seq",
    )?;
    statement
        .query_map([terminal_id], |row| {
            Ok(EventRecord {
                event_id: uuid_column(row, 0)?,
                terminal_id: row.get(1)?,
                store_id: row.get(2)?,
                seq: row.get(3)?,
                kind: row.get(4)?,
                barcode: row.get(5)?,
                operator_id: row.get(6)?,
                device_time: parse_time(&row.get::<_, String>(7)?)?,
                server_time: parse_time(&row.get::<_, String>(8)?)?,
                outcome: row.get(9)?,
                reason: row.get(10)?,
            })
        })?
        .collect()
}

/// Returns the recorded conflicts, oldest first.
pub fn conflicts_at(conn: &Connection) -> rusqlite::Result<Vec<ConflictRecord>> {
    let mut statement = conn.prepare(
        "SELECT conflict_id, store_id, barcode, event_id, message, created_at
         FROM conflicts ORDER BY created_at, conflict_id",
    )?;
    statement
        .query_map([], |row| {
            let event_id: Option<String> = row.get(3)?;
            Ok(ConflictRecord {
                conflict_id: row.get(0)?,
                store_id: row.get(1)?,
                barcode: row.get(2)?,
                event_id: event_id.and_then(|text| Uuid::parse_str(&text).ok()),
                message: row.get(4)?,
                created_at: parse_time(&row.get::<_, String>(5)?)?,
            })
        })?
        .collect()
}

/// Returns the stores with their terminal and parcel counts.
pub fn stores_at(conn: &Connection) -> rusqlite::Result<Vec<StoreRecord>> {
    let mut statement = conn.prepare(
        "SELECT store_id, created_at,
             (SELECT COUNT(*) FROM terminals t WHERE t.store_id = s.store_id),
             (SELECT COUNT(*) FROM parcels p WHERE p.store_id = s.store_id)
         FROM stores s ORDER BY store_id",
    )?;
    statement
        .query_map([], |row| {
            Ok(StoreRecord {
                store_id: row.get(0)?,
                created_at: parse_time(&row.get::<_, String>(1)?)?,
                terminals: row.get(2)?,
                parcels: row.get(3)?,
            })
        })?
        .collect()
}

/// Returns the SMS outbox of the database at `db_path`, oldest first.
pub fn sms_outbox(db_path: &Path) -> anyhow::Result<Vec<SmsRecord>> {
    Ok(sms_outbox_at(&db::open(db_path)?)?)
}

/// Returns the accepted events of one terminal, in seq order.
pub fn applied_events(db_path: &Path, terminal_id: &str) -> anyhow::Result<Vec<EventRecord>> {
    let mut events = events_at(&db::open(db_path)?, Some(terminal_id))?;
    events.retain(|event| event.outcome == "accepted");
    Ok(events)
}

/// Returns every recorded event, accepted or rejected, by terminal and seq.
pub fn recorded_events(db_path: &Path) -> anyhow::Result<Vec<EventRecord>> {
    Ok(events_at(&db::open(db_path)?, None)?)
}

/// Returns the parcels of one store, by barcode.
pub fn parcel_states(db_path: &Path, store_id: &str) -> anyhow::Result<Vec<ParcelRecord>> {
    Ok(parcels::list(&db::open(db_path)?, Some(store_id))?)
}

/// Returns the recorded conflicts, oldest first.
pub fn conflicts(db_path: &Path) -> anyhow::Result<Vec<ConflictRecord>> {
    Ok(conflicts_at(&db::open(db_path)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(text: &str) -> SmsRecord {
        SmsRecord {
            sms_id: 1,
            store_id: "S1".into(),
            barcode: "JJD0001".into(),
            phone_last4: Some("1234".into()),
            text: text.into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn sms_code_skips_shorter_numbers() {
        assert_eq!(sms("Parcel JJD0001 at S1: code 004211.").code(), Some("004211"));
    }

    #[test]
    fn sms_code_skips_longer_numbers() {
        assert_eq!(sms("Order 12345678").code(), None);
    }
}
