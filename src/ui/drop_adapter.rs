//! The courier drop on the receive screen: started from the courier's badge
//! or typed id and the declared count, counted by every receipt and
//! rejection while it is open, and closed once the clerk confirms its
//! summary. The drop lives in the database, so it shows again after a
//! restart.

use std::rc::Rc;

use slint::ComponentHandle;

use super::receive_adapter;
use super::shell::{Shell, with};
use super::text::{tr, tr_args, tr_plural};
use super::{AppWindow, DropAdapter, DropStep, OutcomeKind};
use crate::desk::sessions::MAX_DECLARED;
use crate::desk::{DropSummary, courier_from_badge, courier_from_entry, validate_courier};

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let adapter = app.global::<DropAdapter>();
    adapter.set_count_digits(MAX_DECLARED.to_string().len() as i32);
    let weak = Rc::downgrade(shell);
    adapter.on_begin(move || with(&weak, |app, _| begin(app, "")));
    let weak = Rc::downgrade(shell);
    adapter.on_courier_entered(move |entry| {
        with(&weak, |app, shell| enter_courier(app, shell, &entry));
    });
    let weak = Rc::downgrade(shell);
    adapter.on_count_entered(move |digits| {
        with(&weak, |app, shell| enter_count(app, shell, &digits));
    });
    let weak = Rc::downgrade(shell);
    adapter.on_finish(move || with(&weak, finish));
    let weak = Rc::downgrade(shell);
    adapter.on_confirm(move || with(&weak, confirm));
    let weak = Rc::downgrade(shell);
    adapter.on_cancel(move || with(&weak, |app, _| close_sheet(app)));
}

/// Shows the open drop, if any, with the sheet closed.
pub fn load(app: &AppWindow, shell: &Shell) {
    close_sheet(app);
    refresh(app, shell);
}

/// Shows the running figures of the open drop, or hides the panel when
/// none is open.
pub fn refresh(app: &AppWindow, shell: &Shell) {
    let status = shell.desk.borrow().drop_status();
    match status {
        Ok(summary) => show_drop(app, summary.as_ref()),
        Err(error) => tracing::warn!(%error, "ui: reading the open drop failed"),
    }
}

fn show_drop(app: &AppWindow, summary: Option<&DropSummary>) {
    let adapter = app.global::<DropAdapter>();
    adapter.set_open(summary.is_some());
    let Some(summary) = summary else { return };
    adapter.set_courier(summary.session.courier_id.clone().unwrap_or_default().into());
    adapter.set_declared(count(summary.declared));
    adapter.set_scanned(count(summary.scanned));
    adapter.set_rejected(count(summary.rejected.len() as u32));
    adapter.set_received(count(summary.received.len() as u32));
    adapter.set_missing(count(summary.missing));
    adapter.set_extra(count(summary.extra));
}

fn count(value: u32) -> i32 {
    value.min(i32::MAX as u32) as i32
}

fn close_sheet(app: &AppWindow) {
    let adapter = app.global::<DropAdapter>();
    adapter.set_step(DropStep::Closed);
    adapter.set_courier_entry("".into());
    adapter.set_count_entry("".into());
    adapter.set_pending_courier("".into());
    show_in_sheet(app, OutcomeKind::None, "", "");
}

fn show_in_sheet(app: &AppWindow, kind: OutcomeKind, title: &str, detail: &str) {
    let adapter = app.global::<DropAdapter>();
    adapter.set_sheet_kind(kind);
    adapter.set_sheet_title(title.into());
    adapter.set_sheet_detail(detail.into());
}

/// Shows an outcome in the sheet with its tone.
fn tell(app: &AppWindow, shell: &Shell, kind: OutcomeKind, title: &str, detail: &str) {
    show_in_sheet(app, kind, title, detail);
    shell.tone_for(kind);
}

/// Opens the courier step, with `courier` filled in.
fn begin(app: &AppWindow, courier: &str) {
    close_sheet(app);
    let adapter = app.global::<DropAdapter>();
    adapter.set_courier_entry(courier.into());
    adapter.set_step(DropStep::Courier);
}

/// Handles a scan that belongs to the drop: any scan while the sheet is
/// open, and a courier badge. Returns false for a scan the receive screen
/// handles itself.
pub fn on_scan(app: &AppWindow, shell: &Shell, text: &str) -> bool {
    let step = app.global::<DropAdapter>().get_step();
    let badge = courier_from_badge(text).is_some();
    match step {
        DropStep::Closed if !badge => false,
        DropStep::Closed => {
            scan_badge_outside_sheet(app, shell, text);
            true
        }
        DropStep::Courier => {
            enter_courier(app, shell, text);
            true
        }
        DropStep::Count if badge => {
            enter_courier(app, shell, text);
            true
        }
        DropStep::Count => {
            let detail = tr("Type the number of parcels the courier brings, then scan them");
            tell(app, shell, OutcomeKind::Warning, &tr("Count first"), &detail);
            true
        }
        DropStep::Summary => {
            let detail = tr("Confirm the summary, or go back to scanning, then scan again");
            tell(app, shell, OutcomeKind::Warning, &tr("Not scanned"), &detail);
            true
        }
    }
}

/// Starts a drop with the courier of a badge scanned on the receive screen,
/// unless a drop is open already.
fn scan_badge_outside_sheet(app: &AppWindow, shell: &Shell, text: &str) {
    let adapter = app.global::<DropAdapter>();
    if adapter.get_open() {
        let detail = tr_args(
            "A drop from {} is open: finish it before the next courier's drop",
            &[&adapter.get_courier()],
        );
        receive_adapter::show(app, shell, OutcomeKind::Warning, &tr("Drop already open"), &detail);
        return;
    }
    begin(app, "");
    enter_courier(app, shell, text);
}

/// Takes the courier id from a badge scan or the typed entry and moves on
/// to the count.
fn enter_courier(app: &AppWindow, shell: &Shell, entry: &str) {
    let adapter = app.global::<DropAdapter>();
    match validate_courier(courier_from_entry(entry)) {
        Ok(courier) => {
            adapter.set_courier_entry(courier.as_str().into());
            adapter.set_pending_courier(courier.into());
            adapter.set_count_entry("".into());
            adapter.set_step(DropStep::Count);
            show_in_sheet(app, OutcomeKind::None, "", "");
        }
        Err(error) => {
            adapter.set_step(DropStep::Courier);
            tell(app, shell, OutcomeKind::Error, &tr("Invalid courier ID"), &error.to_string());
        }
    }
}

fn enter_count(app: &AppWindow, shell: &Shell, digits: &str) {
    let adapter = app.global::<DropAdapter>();
    let Ok(declared) = digits.trim().parse::<u32>() else {
        let detail = tr("Type the number of parcels the courier declares");
        return tell(app, shell, OutcomeKind::Error, &tr("No count"), &detail);
    };
    let courier = adapter.get_pending_courier().to_string();
    let result = shell.desk.borrow_mut().start_drop(&courier, declared);
    match result {
        Ok(summary) => {
            close_sheet(app);
            show_drop(app, Some(&summary));
            let detail = tr_plural(
                "Scan the {n} parcel from {}",
                "Scan the {n} parcels from {}",
                u64::from(declared),
                &[&courier],
            );
            receive_adapter::show(app, shell, OutcomeKind::Success, &tr("Drop started"), &detail);
        }
        Err(error) => {
            tell(app, shell, OutcomeKind::Error, &tr("Drop not started"), &error.to_string());
        }
    }
}

/// Shows the summary of the open drop for the clerk to confirm.
fn finish(app: &AppWindow, shell: &Shell) {
    let status = shell.desk.borrow().drop_status();
    let summary = match status {
        Ok(Some(summary)) => summary,
        Ok(None) => {
            show_drop(app, None);
            let detail = tr("No drop is open: scan the courier's badge to start one");
            return receive_adapter::show(
                app,
                shell,
                OutcomeKind::Warning,
                &tr("No drop"),
                &detail,
            );
        }
        Err(error) => {
            let title = tr("Reading the drop failed");
            return receive_adapter::show(
                app,
                shell,
                OutcomeKind::Error,
                &title,
                &error.to_string(),
            );
        }
    };
    show_drop(app, Some(&summary));
    let adapter = app.global::<DropAdapter>();
    adapter.set_step(DropStep::Summary);
    if summary.missing == 0 && summary.extra == 0 {
        let detail = tr("Every declared parcel was scanned");
        tell(app, shell, OutcomeKind::Success, &tr("Count matches"), &detail);
    } else {
        let detail = tr("Check the figures with the courier before you confirm");
        tell(app, shell, OutcomeKind::Warning, &tr("Count differs"), &detail);
    }
}

/// Closes the open drop and sends its summary.
fn confirm(app: &AppWindow, shell: &Shell) {
    let result = shell.desk.borrow_mut().close_drop();
    match result {
        Ok(summary) => {
            close_sheet(app);
            show_drop(app, None);
            let detail = tr_args(
                "{} received, {} rejected, {} missing, {} extra",
                &[
                    &summary.received.len(),
                    &summary.rejected.len(),
                    &summary.missing,
                    &summary.extra,
                ],
            );
            let kind = if summary.missing == 0 && summary.extra == 0 {
                OutcomeKind::Success
            } else {
                OutcomeKind::Warning
            };
            receive_adapter::show(app, shell, kind, &tr("Drop closed"), &detail);
        }
        Err(error) => {
            tell(app, shell, OutcomeKind::Error, &tr("Drop not closed"), &error.to_string());
        }
    }
}
