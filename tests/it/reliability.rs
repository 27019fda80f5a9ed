//! Shared pieces of the reliability harness (the `reliability_*` modules).
//!
//! Every harness runs at a small size by default, which is what CI runs.
//! With `PICKUP_LONG=1` in the environment it runs at the long-run size that
//! docs/reliability.md reports.

use rusqlite::Connection;

/// True when `PICKUP_LONG=1` asks for the long run.
pub(crate) fn long_run() -> bool {
    std::env::var("PICKUP_LONG").is_ok_and(|value| value == "1")
}

/// Returns `ci`, or `long` in the long run.
pub(crate) fn size(ci: usize, long: usize) -> usize {
    if long_run() { long } else { ci }
}

/// Returns the result of `PRAGMA integrity_check`: "ok" for a sound file.
pub(crate) fn integrity_check(conn: &Connection) -> String {
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.join("; ")
}
