//! Printing command results as text for people or JSON for scripts.

use std::io::Write;

use serde::Serialize;
use serde_json::json;

use crate::desk::{
    DailyReport, DeskError, DropSummary, OperatorCounts, ReturnSummary, Status, StocktakeSummary,
};
use crate::store::outbox::OutboxEntry;
use crate::store::parcels::Parcel;

/// Prints one line to stdout. A closed pipe (`| head`) is not an error of
/// the command, so write errors are ignored instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => out!("{text}"),
        Err(error) => eprintln!("error: result cannot be written as JSON: {error}"),
    }
}

pub fn error(json: bool, error: &DeskError) {
    if json {
        let body = json!({ "error": error.to_string(), "exit_code": error.exit_code() });
        eprintln!("{body}");
    } else {
        eprintln!("error: {error}");
    }
}

pub fn message(json: bool, outcome: &str, text: &str) {
    if json {
        print_json(&json!({ "outcome": outcome, "message": text }));
    } else {
        out!("{text}");
    }
}

fn describe(parcel: &Parcel) -> String {
    let mut parts = vec![format!("state {}", parcel.state)];
    if !parcel.customer_masked.is_empty() {
        parts.push(format!("customer {}", parcel.customer_masked));
    }
    if !parcel.phone_last4.is_empty() {
        parts.push(format!("phone …{}", parcel.phone_last4));
    }
    if !parcel.courier.is_empty() {
        parts.push(format!("courier {}", parcel.courier));
    }
    if let Some(shelf) = &parcel.shelf {
        parts.push(format!("shelf {shelf}"));
    }
    parts.join(", ")
}

pub fn parcel(json: bool, outcome: &str, parcel: &Parcel) {
    if json {
        print_json(&json!({ "outcome": outcome.replace(' ', "_"), "parcel": parcel }));
    } else {
        out!("{} {outcome}: {}", parcel.barcode, describe(parcel));
    }
}

pub fn already_received(json: bool, parcel: &Parcel) {
    let when = parcel
        .received_at
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "an unknown time".to_owned());
    let by = parcel.received_by.as_deref().unwrap_or("an unknown operator");
    if json {
        print_json(&json!({ "outcome": "already_received", "parcel": parcel }));
    } else {
        out!("{} was already received on {when} by {by}; nothing recorded", parcel.barcode);
    }
}

pub fn parcels(json: bool, parcels: &[Parcel]) {
    if json {
        return print_json(&parcels);
    }
    for parcel in parcels {
        out!("{}\t{}", parcel.barcode, describe(parcel));
    }
}

pub fn queue(json: bool, entries: &[OutboxEntry]) {
    if json {
        return print_json(&entries);
    }
    for entry in entries {
        out!(
            "{}\t{}\t{}\t{}\t{}",
            entry.seq,
            entry.body.kind(),
            entry.barcode,
            entry.operator_id,
            entry.device_time.format("%Y-%m-%d %H:%M:%S")
        );
    }
}

pub fn operators(json: bool, operators: &[(String, String)]) {
    if json {
        let list: Vec<_> =
            operators.iter().map(|(id, name)| json!({ "id": id, "name": name })).collect();
        return print_json(&list);
    }
    for (id, name) in operators {
        out!("{id}\t{name}");
    }
}

pub fn status(json: bool, status: &Status) {
    if json {
        return print_json(status);
    }
    out!(
        "expected {}, on shelf {}, ready {}, to return {}",
        status.expected,
        status.on_shelf,
        status.ready,
        status.to_return
    );
    let age = status.oldest_unsent_age_s.map(|age| format!(", oldest {age} s")).unwrap_or_default();
    out!(
        "unsent events {}{age}, quarantined {}, conflicts {}, skipped changes {}",
        status.queue_depth,
        status.quarantined,
        status.conflicts,
        status.skipped_changes
    );
    let last = status
        .last_sync_at
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "never".to_owned());
    out!("{}, last sync {last}", if status.online { "online" } else { "offline" });
    if let Some(error) = &status.last_sync_error {
        out!("last sync error: {error}");
    }
    match (&status.terminal_id, &status.store_id) {
        (Some(terminal), Some(store)) => out!("terminal {terminal} of store {store}"),
        _ => out!("not enrolled"),
    }
    out!("operator {}", status.operator.as_deref().unwrap_or("(nobody signed in)"));
}

pub fn sync_report(json: bool, report: &crate::sync::SyncReport) {
    if json {
        return print_json(report);
    }
    out!(
        "pushed {} events ({} already applied), quarantined {}, pulled {} changes \
         ({} skipped as unusable); {} still queued",
        report.pushed,
        report.duplicates,
        report.quarantined,
        report.changes,
        report.skipped,
        report.queue_depth
    );
}

pub fn log_lines(json: bool, lines: &[String]) {
    if json {
        return print_json(&lines);
    }
    for line in lines {
        out!("{line}");
    }
}

pub fn support_bundle(bundle: &crate::support::SupportBundle) {
    print_json(bundle);
}

/// Writes the bundle as JSON to a new file readable by its owner only.
pub fn write_support_bundle(
    path: &std::path::Path,
    bundle: &crate::support::SupportBundle,
) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(bundle)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(&text)
}

fn list_or_none(barcodes: &[String]) -> String {
    if barcodes.is_empty() { "none".to_owned() } else { barcodes.join(", ") }
}

pub fn drop_summary(json: bool, outcome: &str, summary: &DropSummary) {
    if json {
        return print_json(&json!({ "outcome": outcome, "drop": summary }));
    }
    let courier = summary.session.courier_id.as_deref().unwrap_or("?");
    out!(
        "drop of courier {courier} {}: declared {}, scanned {} (received {}, rejected {}), \
         missing {}, extra {}",
        outcome.replace('_', " "),
        summary.declared,
        summary.scanned,
        summary.received.len(),
        summary.rejected.len(),
        summary.missing,
        summary.extra
    );
    out!("received: {}", list_or_none(&summary.received));
    out!("rejected: {}", list_or_none(&summary.rejected));
}

pub fn return_summary(json: bool, outcome: &str, summary: &ReturnSummary) {
    if json {
        return print_json(&json!({ "outcome": outcome, "return_session": summary }));
    }
    out!(
        "return session with courier {} {}: {} parcel(s): {}",
        summary.courier_id,
        outcome.replace('_', " "),
        summary.count,
        list_or_none(&summary.parcels)
    );
}

pub fn stocktake_summary(json: bool, outcome: &str, summary: &StocktakeSummary) {
    if json {
        return print_json(&json!({ "outcome": outcome, "stocktake": summary }));
    }
    out!(
        "stocktake {}: seen {}, missing {}, unexpected {}",
        outcome.replace('_', " "),
        summary.seen,
        summary.missing.len(),
        summary.unexpected.len()
    );
    out!("missing (expected on the shelves, not scanned): {}", list_or_none(&summary.missing));
    out!("unexpected (scanned, not expected there): {}", list_or_none(&summary.unexpected));
}

/// Column order of `report --csv`; the header row repeats it.
const REPORT_COLUMNS: &str = "operator,received,rejected,handed_over,refused,returned";

fn report_row(operator: &str, counts: &OperatorCounts) -> String {
    format!(
        "{operator},{},{},{},{},{}",
        counts.received, counts.rejected, counts.handed_over, counts.refused, counts.returned
    )
}

/// Prints the daily report as JSON, CSV (one row per operator, then a
/// `total` row) or text.
pub fn report(json: bool, csv: bool, date: &str, report: &DailyReport) {
    if json {
        return print_json(&json!({ "date": date, "report": report }));
    }
    if csv {
        out!("{REPORT_COLUMNS}");
        for (operator, counts) in &report.operators {
            out!("{}", report_row(operator, counts));
        }
        out!("{}", report_row("total", &report.total));
        return;
    }
    out!("report for {date}");
    out!("{}", REPORT_COLUMNS.replace(',', "\t"));
    for (operator, counts) in &report.operators {
        out!("{}", report_row(operator, counts).replace(',', "\t"));
    }
    out!("{}", report_row("total", &report.total).replace(',', "\t"));
}
