//! The stocktake screen: start, scan every parcel on the shelves, close.
//! The close lists what the terminal expects on the shelves but was not
//! scanned, and what was scanned but is not expected there, and sends that
//! result to the mall.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::cards::state_text;
use super::shell::{Shell, with};
use super::text::{tr, tr_args, tr_plural};
use super::{AppWindow, OutcomeKind, StocktakeAdapter, StocktakeRow};
use crate::desk::StocktakeSummary;
use crate::store::parcels::{Parcel, ParcelState};

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let adapter = app.global::<StocktakeAdapter>();
    let weak = Rc::downgrade(shell);
    adapter.on_start(move || with(&weak, start));
    let weak = Rc::downgrade(shell);
    adapter.on_close(move || with(&weak, close));
}

/// Shows the open stocktake, if any, without the result of an earlier one.
pub fn load(app: &AppWindow, shell: &Shell) {
    let status = shell.desk.borrow().stocktake_status();
    let summary = status.unwrap_or_else(|error| {
        tracing::warn!(%error, "ui: reading the open stocktake failed");
        None
    });
    show_running(app, shell, summary.as_ref());
    show_result(app, shell, None);
    show(app, shell, OutcomeKind::None, "", "");
}

fn count(value: usize) -> i32 {
    value.min(i32::MAX as usize) as i32
}

fn show_running(app: &AppWindow, shell: &Shell, summary: Option<&StocktakeSummary>) {
    let adapter = app.global::<StocktakeAdapter>();
    adapter.set_open(summary.is_some());
    adapter.set_seen_count(summary.map_or(0, |summary| summary.seen.min(i32::MAX as u32) as i32));
    match shell.desk.borrow().status() {
        Ok(status) => adapter.set_expected_count(status.on_shelf.min(i32::MAX as u64) as i32),
        Err(error) => tracing::warn!(%error, "ui: reading the shelf count failed"),
    }
}

/// Lists the result of a closed stocktake, or clears it for `None`.
fn show_result(app: &AppWindow, shell: &Shell, summary: Option<&StocktakeSummary>) {
    let adapter = app.global::<StocktakeAdapter>();
    adapter.set_has_result(summary.is_some());
    let (missing, unexpected) = match summary {
        Some(summary) => (rows(shell, &summary.missing), rows(shell, &summary.unexpected)),
        None => (Vec::new(), Vec::new()),
    };
    adapter.set_missing(ModelRc::new(VecModel::from(missing)));
    adapter.set_unexpected(ModelRc::new(VecModel::from(unexpected)));
}

/// Describes each barcode by its shelf and state as the terminal has them.
fn rows(shell: &Shell, barcodes: &[String]) -> Vec<StocktakeRow> {
    let desk = shell.desk.borrow();
    barcodes
        .iter()
        .map(|barcode| {
            let detail = match desk.parcel(barcode) {
                Ok(Some(parcel)) => match &parcel.shelf {
                    Some(shelf) => tr_args("Shelf {}: {}", &[shelf, &row_state_text(&parcel)]),
                    None => row_state_text(&parcel),
                },
                Ok(None) => tr("Unknown to this store"),
                Err(error) => {
                    tracing::warn!(%error, barcode = %barcode, "ui: reading a parcel failed");
                    String::new()
                }
            };
            StocktakeRow { barcode: barcode.as_str().into(), detail: detail.into() }
        })
        .collect()
}

/// Returns the state of a listed parcel. An unexpected parcel that the mall
/// announced but this store never received reads "Not received at this store yet",
/// because the badge next to it already says "Unexpected".
fn row_state_text(parcel: &Parcel) -> String {
    match parcel.state {
        ParcelState::Expected => tr("Not received at this store yet"),
        _ => state_text(parcel),
    }
}

fn show(app: &AppWindow, shell: &Shell, kind: OutcomeKind, title: &str, detail: &str) {
    let adapter = app.global::<StocktakeAdapter>();
    adapter.set_outcome_kind(kind);
    adapter.set_outcome_title(title.into());
    adapter.set_outcome_detail(detail.into());
    shell.tone_for(kind);
}

pub fn show_invalid(app: &AppWindow, shell: &Shell, message: &str) {
    show(app, shell, OutcomeKind::Error, &tr("Invalid scan"), message);
}

fn start(app: &AppWindow, shell: &Shell) {
    let result = shell.desk.borrow_mut().start_stocktake();
    match result {
        Ok(summary) => {
            show_result(app, shell, None);
            show_running(app, shell, Some(&summary));
            let detail = tr("Scan every parcel on the shelves once, then close");
            show(app, shell, OutcomeKind::Success, &tr("Stocktake started"), &detail);
        }
        Err(error) => {
            let title = tr("Stocktake not started");
            show(app, shell, OutcomeKind::Error, &title, &error.to_string());
        }
    }
}

/// Records a parcel seen on the shelves. A repeat counts once.
pub fn on_scan(app: &AppWindow, shell: &Shell, text: &str) {
    let barcode = text.trim();
    let adapter = app.global::<StocktakeAdapter>();
    if !adapter.get_open() {
        let detail = tr("Tap Start stocktake, then scan the parcels");
        return show(app, shell, OutcomeKind::Warning, &tr("No stocktake open"), &detail);
    }
    let seen_before = adapter.get_seen_count();
    let result = shell.desk.borrow_mut().scan_stocktake(barcode);
    match result {
        Ok(summary) => {
            show_running(app, shell, Some(&summary));
            let seen = summary.seen;
            if count(seen as usize) == seen_before {
                let detail = tr_args("{} counts once: {} scanned", &[&barcode, &seen]);
                show(app, shell, OutcomeKind::Warning, &tr("Already scanned"), &detail);
            } else if summary.unexpected.iter().any(|unexpected| unexpected == barcode) {
                // The desk keeps the scan and lists it as unexpected at the
                // close: a parcel not in the store's care, an unknown label
                // or a courier badge.
                let detail = tr_args(
                    "{}: recorded, and listed when you close. {} scanned",
                    &[&barcode, &seen],
                );
                let title = tr("Not expected on the shelves");
                show(app, shell, OutcomeKind::Warning, &title, &detail);
            } else {
                let detail = tr_args("{}: {} scanned", &[&barcode, &seen]);
                show(app, shell, OutcomeKind::Success, &tr("Seen"), &detail);
            }
        }
        Err(error) => show(app, shell, OutcomeKind::Error, &tr("Not counted"), &error.to_string()),
    }
}

/// Closes the stocktake, lists its result and sends it to the mall.
fn close(app: &AppWindow, shell: &Shell) {
    let result = shell.desk.borrow_mut().close_stocktake();
    match result {
        Ok(summary) => {
            show_running(app, shell, None);
            show_result(app, shell, Some(&summary));
            let (missing, unexpected) = (summary.missing.len(), summary.unexpected.len());
            if missing == 0 && unexpected == 0 {
                let detail = tr_plural(
                    "{n} parcel, all where expected",
                    "{n} parcels, all where expected",
                    u64::from(summary.seen),
                    &[],
                );
                show(app, shell, OutcomeKind::Success, &tr("Stocktake closed"), &detail);
            } else {
                let detail = tr_args(
                    "{} not found, {} not expected: check them below",
                    &[&missing, &unexpected],
                );
                let title = tr("Stocktake closed with differences");
                show(app, shell, OutcomeKind::Warning, &title, &detail);
            }
        }
        Err(error) => {
            show(app, shell, OutcomeKind::Error, &tr("Stocktake not closed"), &error.to_string());
        }
    }
}
