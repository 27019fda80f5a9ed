//! Verification codes as the terminal keeps them: keyed hashes only, each
//! with the parcels it unlocks, plus the record of wrong entries.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Result, format_time, parse_optional_time};

/// Stores a code hash and the parcels it unlocks, replacing an earlier
/// issue under the same id.
pub fn insert(
    tx: &Transaction<'_>,
    code_id: &str,
    code_hash: &[u8],
    barcodes: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM codes WHERE code_id = ?1")?.execute([code_id])?;
    tx.prepare_cached("INSERT INTO codes (code_id, code_hash, issued_at) VALUES (?1, ?2, ?3)")?
        .execute(params![code_id, code_hash, format_time(now)])?;
    let mut link =
        tx.prepare_cached("INSERT OR IGNORE INTO code_parcels (code_id, barcode) VALUES (?1, ?2)")?;
    for barcode in barcodes {
        link.execute(params![code_id, barcode])?;
    }
    Ok(())
}

/// Deletes a code; its parcel links go with it.
pub fn revoke(tx: &Transaction<'_>, code_id: &str) -> Result<()> {
    tx.prepare_cached("DELETE FROM codes WHERE code_id = ?1")?.execute([code_id])?;
    Ok(())
}

/// Returns the barcodes that the code with this hash unlocks, or `None` when
/// no code has this hash. The lookup goes through the hash index.
pub fn barcodes_for_hash(conn: &Connection, code_hash: &[u8]) -> Result<Option<Vec<String>>> {
    let code_id: Option<String> = conn
        .prepare_cached("SELECT code_id FROM codes WHERE code_hash = ?1")?
        .query_row([code_hash], |row| row.get(0))
        .optional()?;
    let Some(code_id) = code_id else {
        return Ok(None);
    };
    let mut statement = conn
        .prepare_cached("SELECT barcode FROM code_parcels WHERE code_id = ?1 ORDER BY barcode")?;
    let barcodes = statement.query_map([code_id], |row| row.get(0))?;
    Ok(Some(barcodes.collect::<rusqlite::Result<_>>()?))
}

/// True when some code unlocks this parcel.
pub fn parcel_has_code(conn: &Connection, barcode: &str) -> Result<bool> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM code_parcels WHERE barcode = ?1 LIMIT 1")?
        .query_row([barcode], |row| row.get(0))
        .optional()?;
    Ok(found.is_some())
}

/// Returns the ids of codes that unlock this parcel.
pub fn codes_for_parcel(conn: &Connection, barcode: &str) -> Result<Vec<String>> {
    let mut statement =
        conn.prepare_cached("SELECT code_id FROM code_parcels WHERE barcode = ?1")?;
    let ids = statement.query_map([barcode], |row| row.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

/// Records one wrong code entry.
pub fn record_failure(tx: &Transaction<'_>, at: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached("INSERT INTO code_failures (at) VALUES (?1)")?.execute([format_time(at)])?;
    Ok(())
}

/// Counts wrong entries at or after `since`, and returns the latest one.
pub fn failures_since(
    conn: &Connection,
    since: DateTime<Utc>,
) -> Result<(u32, Option<DateTime<Utc>>)> {
    let (count, latest): (u32, Option<String>) = conn
        .prepare_cached("SELECT COUNT(*), MAX(at) FROM code_failures WHERE at >= ?1")?
        .query_row([format_time(since)], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok((count, parse_optional_time(latest)?))
}

/// Deletes wrong-entry records older than `before`.
pub fn forget_failures(tx: &Transaction<'_>, before: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached("DELETE FROM code_failures WHERE at < ?1")?.execute([format_time(before)])?;
    Ok(())
}
