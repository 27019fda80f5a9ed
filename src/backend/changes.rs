//! The change log that terminals pull, and the pull cursor.
//!
//! A cursor is `v1.<instance>.<change_id>`: the id of the last change the
//! terminal has, tagged with the random id of the database file. A cursor
//! from another database file (the backend was reset) starts over from the
//! beginning instead of silently skipping the new file's changes.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::db::{self, format_time};
use super::error::ApiFailure;
use crate::protocol::{Change, PROTOCOL_VERSION, PullResponse};

/// Appends a change for every terminal of the store (`terminal_id` `None`)
/// or for one terminal.
pub fn append(
    conn: &Connection,
    store_id: &str,
    terminal_id: Option<&str>,
    change: &Change,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let body = serde_json::to_string(change)?;
    conn.execute(
        "INSERT INTO changes (store_id, terminal_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        (store_id, terminal_id, body, format_time(now)),
    )?;
    Ok(())
}

/// Returns up to `limit` changes for the terminal after `cursor`, oldest
/// first. An empty or absent cursor starts from the beginning.
///
/// Fails with 400 `invalid_cursor` when the cursor is not one this backend
/// wrote, and with 400 `cursor_ahead` when it points past the newest change
/// of this database, which no pull can have returned.
pub fn pull(
    conn: &Connection,
    store_id: &str,
    terminal_id: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<PullResponse, ApiFailure> {
    let instance = db::instance_id(conn)?;
    let after = match cursor.filter(|text| !text.is_empty()) {
        None => 0,
        Some(text) => position_after(text, &instance, terminal_id)?,
    };
    let newest: i64 =
        conn.query_row("SELECT COALESCE(MAX(change_id), 0) FROM changes", [], |row| row.get(0))?;
    if after > newest {
        tracing::warn!(terminal_id, after, newest, "pull rejected: cursor past the newest change");
        return Err(ApiFailure::bad_request(
            "cursor_ahead",
            format!(
                "cursor points at change {after}, past the newest change {newest}; \
                 send back a cursor from an earlier pull, or none to start over"
            ),
        ));
    }
    let mut statement = conn.prepare_cached(
        "SELECT change_id, body FROM changes
         WHERE store_id = ?1 AND (terminal_id IS NULL OR terminal_id = ?2) AND change_id > ?3
         ORDER BY change_id
         LIMIT ?4",
    )?;
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
    let rows = statement
        .query_map((store_id, terminal_id, after, fetch), |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let more = rows.len() > limit;
    let mut last = after;
    let mut changes = Vec::with_capacity(rows.len().min(limit));
    for (change_id, body) in rows.into_iter().take(limit) {
        let change = serde_json::from_str(&body).map_err(|err| {
            anyhow::anyhow!("change {change_id} in the database is not a valid change: {err}")
        })?;
        changes.push(change);
        last = change_id;
    }
    Ok(PullResponse {
        protocol: PROTOCOL_VERSION,
        changes,
        cursor: format_cursor(&instance, last),
        more,
    })
}

fn format_cursor(instance: &str, change_id: i64) -> String {
    format!("v1.{instance}.{change_id}")
}

/// Returns the change id a cursor points at, or 0 for a cursor written by
/// another database file.
fn position_after(cursor: &str, instance: &str, terminal_id: &str) -> Result<i64, ApiFailure> {
    let invalid = || {
        ApiFailure::bad_request(
            "invalid_cursor",
            format!("invalid cursor {cursor:?}: send back a cursor from an earlier pull, or none"),
        )
    };
    let mut parts = cursor.split('.');
    let (Some("v1"), Some(cursor_instance), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let change_id: i64 = id.parse().map_err(|_| invalid())?;
    if change_id < 0 {
        return Err(invalid());
    }
    if cursor_instance != instance {
        tracing::warn!(terminal_id, "pull cursor is from another backend database; starting over");
        return Ok(0);
    }
    Ok(change_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open(&dir.path().join("mall.db")).unwrap();
        (dir, conn)
    }

    fn cancelled(barcode: &str) -> Change {
        Change::ParcelCancelled { barcode: barcode.into() }
    }

    #[test]
    fn pull_pages_through_changes() {
        let (_dir, conn) = test_db();
        for barcode in ["A", "B", "C"] {
            append(&conn, "S1", None, &cancelled(barcode), Utc::now()).unwrap();
        }
        let first = pull(&conn, "S1", "S1-T01", None, 2).unwrap();
        let second = pull(&conn, "S1", "S1-T01", Some(&first.cursor), 2).unwrap();
        assert_eq!(first.changes, vec![cancelled("A"), cancelled("B")]);
        assert!(first.more);
        assert_eq!(second.changes, vec![cancelled("C")]);
        assert!(!second.more);
    }

    #[test]
    fn pull_skips_other_terminals_changes() {
        let (_dir, conn) = test_db();
        append(&conn, "S1", Some("S1-T02"), &cancelled("A"), Utc::now()).unwrap();
        append(&conn, "S1", Some("S1-T01"), &cancelled("B"), Utc::now()).unwrap();
        let page = pull(&conn, "S1", "S1-T01", None, 10).unwrap();
        assert_eq!(page.changes, vec![cancelled("B")]);
    }

    #[test]
    fn pull_skips_other_stores_changes() {
        let (_dir, conn) = test_db();
        append(&conn, "S2", None, &cancelled("A"), Utc::now()).unwrap();
        let page = pull(&conn, "S1", "S1-T01", None, 10).unwrap();
        assert!(page.changes.is_empty());
    }

    #[test]
    fn empty_pull_keeps_cursor_position() {
        let (_dir, conn) = test_db();
        append(&conn, "S1", None, &cancelled("A"), Utc::now()).unwrap();
        let first = pull(&conn, "S1", "S1-T01", None, 10).unwrap();
        let again = pull(&conn, "S1", "S1-T01", Some(&first.cursor), 10).unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.cursor, first.cursor);
    }

    #[test]
    fn garbage_cursor_is_bad_request() {
        let (_dir, conn) = test_db();
        let err = pull(&conn, "S1", "S1-T01", Some("v1.x"), 10).unwrap_err();
        assert_eq!(err.code, "invalid_cursor");
    }

    #[test]
    fn cursor_past_end_is_bad_request() {
        let (_dir, conn) = test_db();
        append(&conn, "S1", None, &cancelled("A"), Utc::now()).unwrap();
        let first = pull(&conn, "S1", "S1-T01", None, 10).unwrap();
        let (prefix, _) = first.cursor.rsplit_once('.').unwrap();
        let ahead = format!("{prefix}.99");
        let err = pull(&conn, "S1", "S1-T01", Some(&ahead), 10).unwrap_err();
        assert_eq!(err.code, "cursor_ahead");
    }

    #[test]
    fn foreign_cursor_starts_over() {
        let (_dir, conn) = test_db();
        append(&conn, "S1", None, &cancelled("A"), Utc::now()).unwrap();
        let page = pull(&conn, "S1", "S1-T01", Some("v1.0000.99"), 10).unwrap();
        assert_eq!(page.changes, vec![cancelled("A")]);
    }
}
