//! The returns screen: the parcels to give back to a courier, and the return
//! session that takes them. The clerk starts the session with the courier's
//! badge or typed id, scans each parcel into it and confirms, which records
//! them all as returned in one transaction.
//!
//! NOTE: a desk error shows its own English message as the detail, under a
//! translated title.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::shell::{Shell, with};
use super::text::{tr, tr_args, tr_plural};
use super::{AppWindow, OutcomeKind, ReturnItem, ReturnsAdapter};
use crate::desk::{ReturnOutcome, ReturnSummary, courier_from_badge, courier_from_entry};
use crate::protocol::ReturnCause;
use crate::store::parcels::{Parcel, ParcelState};

#[derive(Debug, Default)]
pub struct ReturnsState {
    parcels: Vec<Parcel>,
}

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let adapter = app.global::<ReturnsAdapter>();
    let weak = Rc::downgrade(shell);
    adapter.on_start_return(move |courier| {
        with(&weak, |app, shell| start(app, shell, &courier));
    });
    let weak = Rc::downgrade(shell);
    adapter.on_confirm_return(move || with(&weak, confirm));
}

fn reason_text(parcel: &Parcel) -> String {
    let cause = match parcel.return_cause {
        Some(ReturnCause::Refused) => tr("Refused by the customer"),
        Some(ReturnCause::Overdue) => tr("Not collected in time"),
        Some(ReturnCause::Recalled) => tr("Recalled by the mall"),
        None => tr("To return"),
    };
    match &parcel.return_note {
        Some(note) => tr_args("{}: {}", &[&cause, note]),
        None => cause,
    }
}

/// Marks overdue parcels for return, lists every parcel to return and shows
/// the open return session, if any. The last visit's outcome and typed
/// courier id are cleared.
pub fn load(app: &AppWindow, shell: &Shell) {
    let mut desk = shell.desk.borrow_mut();
    if let Err(error) = desk.mark_overdue() {
        tracing::warn!(%error, "ui: marking overdue parcels failed");
    }
    let parcels = desk.parcels(Some(ParcelState::ReturnPending)).unwrap_or_else(|error| {
        tracing::warn!(%error, "ui: listing parcels to return failed");
        Vec::new()
    });
    let session = desk.return_status().unwrap_or_else(|error| {
        tracing::warn!(%error, "ui: reading the open return session failed");
        None
    });
    drop(desk);
    *shell.returns.borrow_mut() = ReturnsState { parcels };
    app.global::<ReturnsAdapter>().set_courier_id("".into());
    show_session(app, shell, session.as_ref());
    show(app, shell, OutcomeKind::None, "", "");
}

fn show_session(app: &AppWindow, shell: &Shell, session: Option<&ReturnSummary>) {
    let scanned: &[String] = session.map(|summary| summary.parcels.as_slice()).unwrap_or(&[]);
    let state = shell.returns.borrow();
    let items: Vec<ReturnItem> = state
        .parcels
        .iter()
        .map(|parcel| ReturnItem {
            barcode: parcel.barcode.clone().into(),
            shelf: parcel.shelf.clone().unwrap_or_else(|| "-".to_owned()).into(),
            reason: reason_text(parcel).into(),
            scanned: scanned.contains(&parcel.barcode),
        })
        .collect();
    let adapter = app.global::<ReturnsAdapter>();
    adapter.set_session_open(session.is_some());
    let courier = session.map(|summary| summary.courier_id.clone()).unwrap_or_default();
    adapter.set_session_courier(courier.into());
    adapter.set_scanned_count(scanned.len() as i32);
    adapter.set_total_count(state.parcels.len() as i32);
    adapter.set_can_confirm(!scanned.is_empty());
    adapter.set_parcels(ModelRc::new(VecModel::from(items)));
}

fn show(app: &AppWindow, shell: &Shell, kind: OutcomeKind, title: &str, detail: &str) {
    let adapter = app.global::<ReturnsAdapter>();
    adapter.set_outcome_kind(kind);
    adapter.set_outcome_title(title.into());
    adapter.set_outcome_detail(detail.into());
    shell.tone_for(kind);
}

pub fn show_invalid(app: &AppWindow, shell: &Shell, message: &str) {
    show(app, shell, OutcomeKind::Error, &tr("Invalid scan"), message);
}

/// Handles a scan: a courier badge starts a return session, a parcel goes
/// into the open one.
pub fn on_scan(app: &AppWindow, shell: &Shell, text: &str) {
    let barcode = text.trim();
    if courier_from_badge(barcode).is_some() {
        return start(app, shell, barcode);
    }
    let open = app.global::<ReturnsAdapter>().get_session_open();
    if !open {
        let detail = tr("Scan the courier's badge or type the courier ID first, then the parcels");
        return show(app, shell, OutcomeKind::Warning, &tr("No return started"), &detail);
    }
    let result = shell.desk.borrow_mut().return_parcel(barcode, None);
    match result {
        Ok(ReturnOutcome::Scanned { summary, new }) => {
            show_session(app, shell, Some(&summary));
            let count = summary.count;
            if new {
                let detail = tr_args("{}: {} in this return", &[&barcode, &count]);
                show(app, shell, OutcomeKind::Success, &tr("Scanned for return"), &detail);
            } else {
                let detail = tr_args("{} counts once: {} in this return", &[&barcode, &count]);
                show(app, shell, OutcomeKind::Warning, &tr("Already scanned"), &detail);
            }
        }
        Ok(ReturnOutcome::Returned { parcel }) => {
            // Only without an open session, which the check above rules out
            // unless another program closed it meanwhile.
            load(app, shell);
            let detail = tr_args("{} given to the courier", &[&parcel.barcode]);
            show(app, shell, OutcomeKind::Success, &tr("Returned"), &detail);
        }
        Err(error) => {
            show(app, shell, OutcomeKind::Error, &tr("Not to return"), &error.to_string());
        }
    }
}

/// Starts a return session with the courier of a badge scan or typed id.
fn start(app: &AppWindow, shell: &Shell, entry: &str) {
    let result = shell.desk.borrow_mut().start_return(courier_from_entry(entry));
    match result {
        Ok(summary) => {
            app.global::<ReturnsAdapter>().set_courier_id("".into());
            show_session(app, shell, Some(&summary));
            let detail = tr_args("Scan each parcel that goes back with {}", &[&summary.courier_id]);
            show(app, shell, OutcomeKind::Success, &tr("Return started"), &detail);
        }
        Err(error) => {
            show(app, shell, OutcomeKind::Error, &tr("Return not started"), &error.to_string());
        }
    }
}

/// Closes the open return session, recording every scanned parcel as
/// returned to its courier.
fn confirm(app: &AppWindow, shell: &Shell) {
    let result = shell.desk.borrow_mut().close_return();
    match result {
        Ok(summary) => {
            load(app, shell);
            let detail = tr_plural(
                "{n} parcel given to {}",
                "{n} parcels given to {}",
                u64::from(summary.count),
                &[&summary.courier_id],
            );
            show(app, shell, OutcomeKind::Success, &tr("Returned"), &detail);
        }
        Err(error) => {
            show(app, shell, OutcomeKind::Error, &tr("Not returned"), &error.to_string());
        }
    }
}
