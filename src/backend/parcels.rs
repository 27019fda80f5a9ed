//! The manifest: parcel rows, their states, and the mall-side actions on
//! them (announce, recall, re-issue, deadline).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use super::changes;
use super::codes::{CodeIssuer, CodeTarget, release_codes};
use super::db::{self, format_time, parse_time};
use super::error::ApiFailure;
use crate::protocol::{Change, ManifestParcel};

/// Reason recorded when an admin recalls a parcel without giving one.
pub const DEFAULT_RECALL_REASON: &str = "recalled by the mall";

/// Maximum length of a recall reason, in characters. It matches the
/// terminal's limit on notes, because the terminal shows the reason as the
/// parcel's return note.
pub const MAX_RECALL_REASON_CHARS: usize = 200;

/// Checks a recall reason an admin typed: at most
/// [`MAX_RECALL_REASON_CHARS`] characters and no control characters.
pub fn check_recall_reason(reason: &str) -> Result<(), String> {
    let length = reason.chars().count();
    if length > MAX_RECALL_REASON_CHARS {
        return Err(format!(
            "recall reason is {length} characters long, more than {MAX_RECALL_REASON_CHARS}: shorten it"
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err("recall reason contains control characters: type it on one line".to_owned());
    }
    Ok(())
}

/// Lifecycle state of a parcel in the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParcelState {
    /// In the manifest, not yet at the store.
    Announced,
    /// On the store's shelf, with a live code.
    Received,
    /// Refused at the door; went back with the courier.
    Rejected,
    /// Handed to the customer.
    Collected,
    /// Waiting at the store to go back to the courier.
    ReturnPending,
    /// Given back to the courier.
    Returned,
    /// At the store, but the mall wants it back.
    Recalled,
    /// The order was cancelled before the parcel reached the store.
    Cancelled,
}

impl ParcelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ParcelState::Announced => "announced",
            ParcelState::Received => "received",
            ParcelState::Rejected => "rejected",
            ParcelState::Collected => "collected",
            ParcelState::ReturnPending => "return_pending",
            ParcelState::Returned => "returned",
            ParcelState::Recalled => "recalled",
            ParcelState::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Option<ParcelState> {
        [
            ParcelState::Announced,
            ParcelState::Received,
            ParcelState::Rejected,
            ParcelState::Collected,
            ParcelState::ReturnPending,
            ParcelState::Returned,
            ParcelState::Recalled,
            ParcelState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// One parcel row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParcelRecord {
    pub store_id: String,
    pub barcode: String,
    pub order_id: String,
    pub customer_masked: String,
    /// `None` for an unexpected parcel.
    pub phone_last4: Option<String>,
    pub courier: String,
    pub deadline: Option<DateTime<Utc>>,
    pub state: ParcelState,
    /// True when a terminal reported it and the mall had not announced it.
    pub unexpected: bool,
    pub shelf: Option<String>,
    pub recall_reason: Option<String>,
    pub announced_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ParcelRecord {
    pub fn code_target(&self) -> CodeTarget<'_> {
        CodeTarget {
            store_id: &self.store_id,
            barcode: &self.barcode,
            phone_last4: self.phone_last4.as_deref(),
            order_barcodes: Vec::new(),
        }
    }
}

/// Returns every parcel of the store with the same order id as `parcel`,
/// `parcel` among them, by barcode. An unexpected parcel or one without an
/// order id is its own order.
pub fn order_parcels(
    conn: &Connection,
    parcel: &ParcelRecord,
) -> rusqlite::Result<Vec<ParcelRecord>> {
    if parcel.unexpected || parcel.order_id.is_empty() {
        return Ok(vec![parcel.clone()]);
    }
    conn.prepare_cached(&order_parcels_sql())?
        .query_map((&parcel.store_id, &parcel.order_id), parcel_from_row)?
        .collect()
}

fn order_parcels_sql() -> String {
    format!(
        "SELECT {PARCEL_COLUMNS} FROM parcels
         WHERE store_id = ?1 AND order_id = ?2 AND unexpected = 0 ORDER BY barcode"
    )
}

/// Returns the code target of a parcel: with every parcel of its order that
/// is on the shelf when the order has several parcels, else the parcel
/// alone.
pub fn shelf_code_target<'a>(
    conn: &Connection,
    parcel: &'a ParcelRecord,
) -> rusqlite::Result<CodeTarget<'a>> {
    let order = order_parcels(conn, parcel)?;
    let mut target = parcel.code_target();
    if order.len() > 1 {
        target.order_barcodes = order
            .into_iter()
            .filter(|mate| mate.state == ParcelState::Received || mate.barcode == parcel.barcode)
            .map(|mate| mate.barcode)
            .collect();
    }
    Ok(target)
}

const PARCEL_COLUMNS: &str = "store_id, barcode, order_id, customer_masked, phone_last4, courier,
    deadline, state, unexpected, shelf, recall_reason, announced_at, updated_at";

fn parcel_from_row(row: &Row<'_>) -> rusqlite::Result<ParcelRecord> {
    let state: String = row.get(7)?;
    let deadline: Option<String> = row.get(6)?;
    Ok(ParcelRecord {
        store_id: row.get(0)?,
        barcode: row.get(1)?,
        order_id: row.get(2)?,
        customer_masked: row.get(3)?,
        phone_last4: row.get(4)?,
        courier: row.get(5)?,
        deadline: deadline.as_deref().map(parse_time).transpose()?,
        state: ParcelState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                7,
                rusqlite::types::Type::Text,
                format!("unknown parcel state {state:?}").into(),
            )
        })?,
        unexpected: row.get(8)?,
        shelf: row.get(9)?,
        recall_reason: row.get(10)?,
        announced_at: parse_time(&row.get::<_, String>(11)?)?,
        updated_at: parse_time(&row.get::<_, String>(12)?)?,
    })
}

/// Returns the parcel of the store with this barcode.
pub fn find(
    conn: &Connection,
    store_id: &str,
    barcode: &str,
) -> rusqlite::Result<Option<ParcelRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {PARCEL_COLUMNS} FROM parcels WHERE store_id = ?1 AND barcode = ?2"
    ))?
    .query_row((store_id, barcode), parcel_from_row)
    .optional()
}

/// Returns every parcel of a store (all stores for `None`), by store and
/// barcode.
pub fn list(conn: &Connection, store_id: Option<&str>) -> rusqlite::Result<Vec<ParcelRecord>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {PARCEL_COLUMNS} FROM parcels
         WHERE ?1 IS NULL OR store_id = ?1 ORDER BY store_id, barcode"
    ))?;
    statement.query_map([store_id], parcel_from_row)?.collect()
}

/// Returns the stores, other than `store_id`, whose manifest has `barcode`.
pub fn other_stores_with(
    conn: &Connection,
    store_id: &str,
    barcode: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT store_id FROM parcels WHERE barcode = ?1 AND store_id != ?2 ORDER BY store_id",
    )?;
    statement.query_map((barcode, store_id), |row| row.get(0))?.collect()
}

/// Inserts an announced parcel and publishes `ParcelAnnounced`. Returns
/// false, changing nothing, when the store already has the barcode.
pub fn announce(
    conn: &Connection,
    store_id: &str,
    parcel: &ManifestParcel,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    db::ensure_store(conn, store_id, now)?;
    let inserted = conn.execute(
        "INSERT INTO parcels (store_id, barcode, order_id, customer_masked, phone_last4, courier,
             deadline, state, announced_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'announced', ?8, ?8)
         ON CONFLICT DO NOTHING",
        (
            store_id,
            &parcel.barcode,
            &parcel.order_id,
            &parcel.customer_masked,
            &parcel.phone_last4,
            &parcel.courier,
            parcel.deadline.map(format_time),
            format_time(now),
        ),
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    changes::append(
        conn,
        store_id,
        None,
        &Change::ParcelAnnounced { parcel: parcel.clone() },
        now,
    )?;
    Ok(true)
}

/// Inserts a parcel that a terminal reported but the mall never announced.
pub fn insert_unexpected(
    conn: &Connection,
    store_id: &str,
    barcode: &str,
    state: ParcelState,
    shelf: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO parcels (store_id, barcode, order_id, customer_masked, courier, state,
             unexpected, shelf, announced_at, updated_at)
         VALUES (?1, ?2, '', '', '', ?3, 1, ?4, ?5, ?5)",
        (store_id, barcode, state.as_str(), shelf, format_time(now)),
    )?;
    Ok(())
}

/// Sets a parcel's state, and its shelf when `shelf` is given.
pub fn set_state(
    conn: &Connection,
    parcel: &ParcelRecord,
    state: ParcelState,
    shelf: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE parcels SET state = ?3, shelf = coalesce(?4, shelf), updated_at = ?5
         WHERE store_id = ?1 AND barcode = ?2",
        (&parcel.store_id, &parcel.barcode, state.as_str(), shelf, format_time(now)),
    )?;
    Ok(())
}

/// Sets a parcel's collection deadline and publishes `DeadlineSet`.
pub fn set_deadline(
    conn: &Connection,
    parcel: &ParcelRecord,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE parcels SET deadline = ?3, updated_at = ?4 WHERE store_id = ?1 AND barcode = ?2",
        (&parcel.store_id, &parcel.barcode, format_time(deadline), format_time(now)),
    )?;
    let change = Change::DeadlineSet { barcode: parcel.barcode.clone(), deadline };
    changes::append(conn, &parcel.store_id, None, &change, now)
}

/// Records a conflict and publishes it to the store's terminals.
pub fn record_conflict(
    conn: &Connection,
    parcel: &ParcelRecord,
    event_id: Option<uuid::Uuid>,
    message: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let conflict_id = uuid::Uuid::now_v7().to_string();
    conn.execute(
        "INSERT INTO conflicts (conflict_id, store_id, barcode, event_id, message, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        (
            &conflict_id,
            &parcel.store_id,
            &parcel.barcode,
            event_id.map(|id| id.to_string()),
            message,
            format_time(now),
        ),
    )?;
    tracing::warn!(
        store_id = parcel.store_id,
        barcode = parcel.barcode,
        conflict_id,
        "conflict recorded"
    );
    let change = Change::Conflict {
        conflict_id,
        barcode: parcel.barcode.clone(),
        event_id,
        message: message.to_string(),
    };
    changes::append(conn, &parcel.store_id, None, &change, now)
}

/// Finds the one parcel with this barcode, in `store_id` when given.
///
/// Fails with 404 when no store has it, and with 409 when several stores
/// have it and no store was named.
pub fn find_for_admin(
    conn: &Connection,
    barcode: &str,
    store_id: Option<&str>,
) -> Result<ParcelRecord, ApiFailure> {
    if let Some(store_id) = store_id {
        return find(conn, store_id, barcode)?.ok_or_else(|| {
            ApiFailure::not_found(format!("store {store_id} has no parcel {barcode}"))
        });
    }
    let mut statement = conn.prepare(&format!(
        "SELECT {PARCEL_COLUMNS} FROM parcels WHERE barcode = ?1 ORDER BY store_id"
    ))?;
    let mut found =
        statement.query_map([barcode], parcel_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    match found.len() {
        0 => Err(ApiFailure::not_found(format!("no store has parcel {barcode}"))),
        1 => Ok(found.remove(0)),
        _ => {
            let stores: Vec<_> = found.iter().map(|parcel| parcel.store_id.as_str()).collect();
            Err(ApiFailure::conflict(format!(
                "parcel {barcode} is in stores {}; name one with ?store=",
                stores.join(", ")
            )))
        }
    }
}

/// Recalls a parcel for the mall. An announced parcel becomes cancelled
/// (`ParcelCancelled`); a parcel at the store becomes recalled, its code is
/// revoked and `ParcelRecalled` goes out.
///
/// Fails with 409 when the parcel already left the store or was cancelled.
pub fn recall(
    conn: &Connection,
    parcel: &ParcelRecord,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ParcelState, ApiFailure> {
    let (state, change) = match parcel.state {
        ParcelState::Announced => {
            (ParcelState::Cancelled, Change::ParcelCancelled { barcode: parcel.barcode.clone() })
        }
        ParcelState::Received | ParcelState::ReturnPending => (
            ParcelState::Recalled,
            Change::ParcelRecalled { barcode: parcel.barcode.clone(), reason: reason.to_string() },
        ),
        other => {
            return Err(ApiFailure::conflict(format!(
                "parcel {} is {}; only announced parcels and parcels at the store can be recalled",
                parcel.barcode,
                other.as_str()
            )));
        }
    };
    conn.execute(
        "UPDATE parcels SET state = ?3, recall_reason = ?4, updated_at = ?5
         WHERE store_id = ?1 AND barcode = ?2",
        (&parcel.store_id, &parcel.barcode, state.as_str(), reason, format_time(now)),
    )?;
    release_codes(conn, &parcel.store_id, &parcel.barcode, now)?;
    changes::append(conn, &parcel.store_id, None, &change, now)?;
    tracing::info!(
        store_id = parcel.store_id,
        barcode = parcel.barcode,
        state = state.as_str(),
        "parcel recalled"
    );
    Ok(state)
}

/// Issues a new code for a parcel on the shelf, revoking the old one.
/// Returns the new code id.
///
/// Fails with 409 unless the parcel is received.
pub fn reissue(
    conn: &Connection,
    issuer: &CodeIssuer<'_>,
    parcel: &ParcelRecord,
    now: DateTime<Utc>,
) -> Result<String, ApiFailure> {
    if parcel.unexpected {
        return Err(ApiFailure::conflict(format!(
            "parcel {} is in no manifest, so there is no customer to send a code to",
            parcel.barcode
        )));
    }
    if parcel.state != ParcelState::Received {
        return Err(ApiFailure::conflict(format!(
            "parcel {} is {}; only received parcels get a new code",
            parcel.barcode,
            parcel.state.as_str()
        )));
    }
    Ok(issuer.issue(conn, &shelf_code_target(conn, parcel)?, now)?)
}

/// Checks the fields of a parcel an admin announces.
pub fn check_manifest_parcel(parcel: &ManifestParcel) -> Result<(), String> {
    check_barcode(&parcel.barcode)?;
    let phone_ok =
        parcel.phone_last4.len() == 4 && parcel.phone_last4.chars().all(|c| c.is_ascii_digit());
    if !phone_ok {
        return Err(format!("invalid phone_last4 {:?}: expected four digits", parcel.phone_last4));
    }
    for (field, value) in [
        ("order_id", &parcel.order_id),
        ("customer_masked", &parcel.customer_masked),
        ("courier", &parcel.courier),
    ] {
        if value.trim().is_empty() || value.chars().count() > 64 {
            return Err(format!("invalid {field}: expected 1 to 64 characters"));
        }
    }
    Ok(())
}

/// Checks that a barcode is 1 to 64 printable ASCII characters without
/// spaces.
pub fn check_barcode(barcode: &str) -> Result<(), String> {
    if barcode.is_empty() || barcode.len() > 64 || !barcode.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "invalid barcode {:?}: expected 1 to 64 printable ASCII characters without spaces",
            barcode.chars().take(80).collect::<String>()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every receipt runs this query, so a plan that scans the store makes a
    /// push grow with the square of its length.
    #[test]
    fn order_query_searches_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::backend::db::open(&dir.path().join("mall.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", order_parcels_sql()))
            .unwrap()
            .query_map(("S1", "MO1"), |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(plan.contains("USING INDEX parcels_order"), "{plan}");
    }
}
