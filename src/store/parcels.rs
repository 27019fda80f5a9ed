//! Parcel rows: what the store keeps of each parcel and its state.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use super::{Result, StoreError, format_time, parse_optional_time};
use crate::protocol::{ManifestParcel, RejectReason, ReturnCause};

/// Stage of a parcel's life at the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParcelState {
    /// Announced by the mall, not yet at the store.
    Expected,
    /// At the store and on a shelf, with no verification code known yet.
    Received,
    /// Rejected at the door; it went back with the courier.
    Rejected,
    /// On a shelf with a verification code known: the customer may collect it.
    Ready,
    /// Given to the customer.
    HandedOver,
    /// To go back to the courier (refused, overdue or recalled).
    ReturnPending,
    /// Given back to the courier.
    Returned,
    /// The mall cancelled it before it arrived.
    Cancelled,
}

impl ParcelState {
    pub const ALL: [ParcelState; 8] = [
        ParcelState::Expected,
        ParcelState::Received,
        ParcelState::Rejected,
        ParcelState::Ready,
        ParcelState::HandedOver,
        ParcelState::ReturnPending,
        ParcelState::Returned,
        ParcelState::Cancelled,
    ];

    /// Returns the name kept in the database and printed by the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ParcelState::Expected => "expected",
            ParcelState::Received => "received",
            ParcelState::Rejected => "rejected",
            ParcelState::Ready => "ready",
            ParcelState::HandedOver => "handed_over",
            ParcelState::ReturnPending => "return_pending",
            ParcelState::Returned => "returned",
            ParcelState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored or typed state name; `-` is accepted in place of `_`.
    pub fn parse(text: &str) -> Option<ParcelState> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        ParcelState::ALL.into_iter().find(|state| state.as_str() == wanted)
    }

    /// True while the parcel is physically in the store.
    pub fn is_on_shelf(self) -> bool {
        matches!(self, ParcelState::Received | ParcelState::Ready | ParcelState::ReturnPending)
    }
}

impl fmt::Display for ParcelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().replace('_', " "))
    }
}

/// One parcel as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parcel {
    pub barcode: String,
    pub order_id: Option<String>,
    pub customer_masked: String,
    pub phone_last4: String,
    pub courier: String,
    pub state: ParcelState,
    /// Received without being in the manifest.
    pub unexpected: bool,
    pub shelf: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub received_by: Option<String>,
    pub reject_reason: Option<RejectReason>,
    pub reject_note: Option<String>,
    pub return_cause: Option<ReturnCause>,
    pub return_note: Option<String>,
    pub handed_over_at: Option<DateTime<Utc>>,
    pub handed_over_by: Option<String>,
    pub returned_at: Option<DateTime<Utc>>,
}

impl Parcel {
    /// Creates a parcel that has no manifest entry.
    pub fn unannounced(barcode: &str) -> Parcel {
        Parcel {
            barcode: barcode.to_owned(),
            order_id: None,
            customer_masked: String::new(),
            phone_last4: String::new(),
            courier: String::new(),
            state: ParcelState::Expected,
            unexpected: true,
            shelf: None,
            deadline: None,
            received_at: None,
            received_by: None,
            reject_reason: None,
            reject_note: None,
            return_cause: None,
            return_note: None,
            handed_over_at: None,
            handed_over_by: None,
            returned_at: None,
        }
    }
}

const COLUMNS: &str = "barcode, order_id, customer_masked, phone_last4, courier, state, \
    unexpected, shelf, deadline, received_at, received_by, reject_reason, reject_note, \
    return_cause, return_note, handed_over_at, handed_over_by, returned_at";

fn enum_from_text<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>> {
    text.map(|text| {
        serde_json::from_value(serde_json::Value::String(text.clone()))
            .map_err(|_| StoreError::Corrupt(format!("unknown value {text:?}")))
    })
    .transpose()
}

fn enum_to_text<T: Serialize>(value: Option<T>) -> Option<String> {
    value.and_then(|value| match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => Some(text),
        _ => None,
    })
}

fn from_row(row: &Row<'_>) -> Result<Parcel> {
    let state_text: String = row.get(5)?;
    let state = ParcelState::parse(&state_text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown parcel state {state_text:?}")))?;
    Ok(Parcel {
        barcode: row.get(0)?,
        order_id: row.get(1)?,
        customer_masked: row.get(2)?,
        phone_last4: row.get(3)?,
        courier: row.get(4)?,
        state,
        unexpected: row.get(6)?,
        shelf: row.get(7)?,
        deadline: parse_optional_time(row.get(8)?)?,
        received_at: parse_optional_time(row.get(9)?)?,
        received_by: row.get(10)?,
        reject_reason: enum_from_text(row.get(11)?)?,
        reject_note: row.get(12)?,
        return_cause: enum_from_text(row.get(13)?)?,
        return_note: row.get(14)?,
        handed_over_at: parse_optional_time(row.get(15)?)?,
        handed_over_by: row.get(16)?,
        returned_at: parse_optional_time(row.get(17)?)?,
    })
}

fn collect(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Parcel>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(args)?;
    let mut parcels = Vec::new();
    while let Some(row) = rows.next()? {
        parcels.push(from_row(row)?);
    }
    Ok(parcels)
}

/// Returns the parcel with this barcode, if the store has it.
pub fn get(conn: &Connection, barcode: &str) -> Result<Option<Parcel>> {
    let sql = format!("SELECT {COLUMNS} FROM parcels WHERE barcode = ?1");
    let mut statement = conn.prepare_cached(&sql)?;
    let row = statement.query_row([barcode], |row| Ok(from_row(row))).optional()?;
    row.transpose()
}

/// Lists parcels, optionally only those in `state`, ordered by barcode.
pub fn list(conn: &Connection, state: Option<ParcelState>) -> Result<Vec<Parcel>> {
    match state {
        Some(state) => collect(
            conn,
            &format!("SELECT {COLUMNS} FROM parcels WHERE state = ?1 ORDER BY barcode"),
            [state.as_str()],
        ),
        None => collect(conn, &format!("SELECT {COLUMNS} FROM parcels ORDER BY barcode"), []),
    }
}

/// Counts parcels per state; states with no parcel are left out.
pub fn count_by_state(conn: &Connection) -> Result<Vec<(ParcelState, u64)>> {
    let mut statement =
        conn.prepare_cached("SELECT state, COUNT(*) FROM parcels GROUP BY state ORDER BY state")?;
    let mut rows = statement.query([])?;
    let mut counts = Vec::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        let state = ParcelState::parse(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown parcel state {text:?}")))?;
        counts.push((state, row.get(1)?));
    }
    Ok(counts)
}

/// Returns the number of parcels on each non-empty shelf, from the counts
/// that the schema's triggers maintain.
pub fn shelf_load(conn: &Connection) -> Result<HashMap<String, i64>> {
    let mut statement =
        conn.prepare_cached("SELECT shelf, parcels FROM shelf_load WHERE parcels > 0")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes every column of `parcel`, inserting it if it is new.
pub fn save(tx: &Transaction<'_>, parcel: &Parcel, now: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(SAVE_SQL)?.execute(params![
        parcel.barcode,
        parcel.order_id,
        parcel.customer_masked,
        parcel.phone_last4,
        parcel.courier,
        parcel.state.as_str(),
        parcel.unexpected,
        parcel.shelf,
        parcel.deadline.map(format_time),
        parcel.received_at.map(format_time),
        parcel.received_by,
        enum_to_text(parcel.reject_reason),
        parcel.reject_note,
        enum_to_text(parcel.return_cause),
        parcel.return_note,
        parcel.handed_over_at.map(format_time),
        parcel.handed_over_by,
        parcel.returned_at.map(format_time),
        format_time(now),
    ])?;
    Ok(())
}

/// The upsert behind [`save`]. It updates a known parcel in place, where
/// `INSERT OR REPLACE` would delete the row and insert it under a new rowid,
/// rewriting every index entry and a second table page in each receipt's
/// commit. The column list is [`COLUMNS`] plus `updated_at`.
const SAVE_SQL: &str = "INSERT INTO parcels (barcode, order_id, customer_masked, phone_last4, \
    courier, state, unexpected, shelf, deadline, received_at, received_by, reject_reason, \
    reject_note, return_cause, return_note, handed_over_at, handed_over_by, returned_at, \
    updated_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) \
    ON CONFLICT (barcode) DO UPDATE SET order_id = excluded.order_id, \
    customer_masked = excluded.customer_masked, phone_last4 = excluded.phone_last4, \
    courier = excluded.courier, state = excluded.state, unexpected = excluded.unexpected, \
    shelf = excluded.shelf, deadline = excluded.deadline, received_at = excluded.received_at, \
    received_by = excluded.received_by, reject_reason = excluded.reject_reason, \
    reject_note = excluded.reject_note, return_cause = excluded.return_cause, \
    return_note = excluded.return_note, handed_over_at = excluded.handed_over_at, \
    handed_over_by = excluded.handed_over_by, returned_at = excluded.returned_at, \
    updated_at = excluded.updated_at";

/// Maximum length of a stored customer name, in characters.
const MAX_NAME_LEN: usize = 64;

/// Returns the name the counter may show. A name from the mall is masked
/// already ("Wang *ei"). A name with no `*` in it is taken as unmasked, so it
/// is cut to its first character followed by `**`.
pub fn masked_name(name: &str) -> String {
    let name = name.trim();
    if name.contains('*') {
        return name.chars().take(MAX_NAME_LEN).collect();
    }
    match name.chars().next() {
        Some(first) => format!("{first}**"),
        None => String::new(),
    }
}

/// Returns the last four digits of a phone number, or fewer when it has fewer;
/// every other character is dropped.
pub fn phone_last4(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

/// Adds or refreshes a manifest entry. The counter data is updated in every
/// state; the state itself is left alone unless the parcel is new. Only the
/// masked name and the last four phone digits are kept, even when the mall
/// sends more.
pub fn announce(tx: &Transaction<'_>, parcel: &ManifestParcel, now: DateTime<Utc>) -> Result<()> {
    let mut stored = get(tx, &parcel.barcode)?.unwrap_or_else(|| {
        let mut fresh = Parcel::unannounced(&parcel.barcode);
        fresh.unexpected = false;
        fresh
    });
    stored.order_id = Some(parcel.order_id.clone());
    stored.customer_masked = masked_name(&parcel.customer_masked);
    stored.phone_last4 = phone_last4(&parcel.phone_last4);
    stored.courier = parcel.courier.clone();
    if parcel.deadline.is_some() {
        stored.deadline = parcel.deadline;
    }
    save(tx, &stored, now)
}

/// Lists parcels on the shelf whose collection deadline is before `now`.
pub fn overdue(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<Parcel>> {
    collect(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM parcels WHERE state IN ('received', 'ready') \
             AND deadline IS NOT NULL AND deadline < ?1 ORDER BY deadline"
        ),
        [format_time(now)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rowid(conn: &Connection, barcode: &str) -> i64 {
        conn.query_row("SELECT rowid FROM parcels WHERE barcode = ?1", [barcode], |row| row.get(0))
            .unwrap()
    }

    /// Counts the parcels on each shelf from the parcels table itself.
    fn counted_load(conn: &Connection) -> HashMap<String, i64> {
        let mut statement = conn
            .prepare(
                "SELECT shelf, COUNT(*) FROM parcels WHERE shelf IS NOT NULL \
                 AND state IN ('received', 'ready', 'return_pending') GROUP BY shelf",
            )
            .unwrap();
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn shelf_load_follows_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open(&dir.path().join(crate::store::DB_FILE)).unwrap();
        let states = [
            ParcelState::Expected,
            ParcelState::Received,
            ParcelState::Ready,
            ParcelState::ReturnPending,
            ParcelState::HandedOver,
            ParcelState::Returned,
        ];
        let shelves = [None, Some("A1"), Some("A2"), Some("B3")];
        let mut parcels: Vec<Parcel> =
            (0..12).map(|index| Parcel::unannounced(&format!("JJD{index:04}"))).collect();
        // Each step moves some parcels to another state or shelf, in a fixed
        // pseudo-random order, and checks the kept counts against a full count.
        let mut state: u32 = 7;
        for step in 0..60 {
            let tx = conn.transaction().unwrap();
            for parcel in parcels.iter_mut().skip(step % 3).step_by(2) {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                parcel.state = states[(state >> 8) as usize % states.len()];
                parcel.shelf = shelves[(state >> 16) as usize % shelves.len()].map(str::to_owned);
                save(&tx, parcel, Utc::now()).unwrap();
            }
            if step % 20 == 19 {
                tx.execute("DELETE FROM parcels WHERE barcode = ?1", [&parcels[0].barcode])
                    .unwrap();
            }
            tx.commit().unwrap();
            assert_eq!(shelf_load(&conn).unwrap(), counted_load(&conn), "after step {step}");
        }
        assert!(!counted_load(&conn).is_empty(), "the steps left no parcel on a shelf");
    }

    #[test]
    fn save_updates_known_parcel_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open(&dir.path().join(crate::store::DB_FILE)).unwrap();
        let mut parcel = Parcel::unannounced("JJD0001");
        let tx = conn.transaction().unwrap();
        save(&tx, &parcel, Utc::now()).unwrap();
        save(&tx, &Parcel::unannounced("JJD0002"), Utc::now()).unwrap();
        tx.commit().unwrap();
        let before = rowid(&conn, "JJD0001");

        parcel.state = ParcelState::Ready;
        parcel.shelf = Some("B3".to_owned());
        let tx = conn.transaction().unwrap();
        save(&tx, &parcel, Utc::now()).unwrap();
        tx.commit().unwrap();

        let stored = get(&conn, "JJD0001").unwrap().unwrap();
        assert_eq!(stored.state, ParcelState::Ready);
        assert_eq!(stored.shelf.as_deref(), Some("B3"));
        assert_eq!(rowid(&conn, "JJD0001"), before, "the row was deleted and inserted again");
        let count: i64 =
            conn.query_row("SELECT COUNT(*) FROM parcels", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 2);
    }
}
