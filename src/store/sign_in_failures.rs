//! Wrong PINs per operator id, kept so that sign-in locks after repeated
//! failures, across restarts too.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Result, format_time, parse_optional_time};

/// Records one wrong PIN for `operator_id`.
pub fn record(conn: &Connection, operator_id: &str, at: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached("INSERT INTO sign_in_failures (operator_id, at) VALUES (?1, ?2)")?
        .execute(params![operator_id, format_time(at)])?;
    Ok(())
}

/// Counts the wrong PINs for `operator_id` at or after `since`, and returns
/// the latest one.
pub fn since(
    conn: &Connection,
    operator_id: &str,
    since: DateTime<Utc>,
) -> Result<(u32, Option<DateTime<Utc>>)> {
    let (count, latest): (u32, Option<String>) = conn
        .prepare_cached(
            "SELECT COUNT(*), MAX(at) FROM sign_in_failures WHERE operator_id = ?1 AND at >= ?2",
        )?
        .query_row(params![operator_id, format_time(since)], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    Ok((count, parse_optional_time(latest)?))
}

/// Deletes the wrong PINs of `operator_id`, after its sign-in succeeded,
/// and every record older than `before`.
pub fn forget(conn: &Connection, operator_id: &str, before: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached("DELETE FROM sign_in_failures WHERE operator_id = ?1 OR at < ?2")?
        .execute(params![operator_id, format_time(before)])?;
    Ok(())
}
