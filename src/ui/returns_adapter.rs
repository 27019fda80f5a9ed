//! The returns screen: parcels to give back to the courier, each scanned
//! out, then the count confirmed.
//!
//! NOTE: a desk error shows its own English message as the detail, under a
//! translated title.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::shell::{Shell, with};
use super::text::{tr, tr_args};
use super::{AppWindow, OutcomeKind, ReturnItem, ReturnsAdapter};
use crate::protocol::ReturnCause;
use crate::store::parcels::{Parcel, ParcelState};

#[derive(Debug, Default)]
pub struct ReturnsState {
    parcels: Vec<Parcel>,
    scanned: Vec<String>,
}

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    app.global::<ReturnsAdapter>().on_confirm_return(move |courier| {
        with(&weak, |app, shell| confirm(app, shell, &courier));
    });
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

/// Marks overdue parcels for return and lists every parcel to return.
pub fn load(app: &AppWindow, shell: &Shell) {
    let mut desk = shell.desk.borrow_mut();
    if let Err(error) = desk.mark_overdue() {
        tracing::warn!(%error, "ui: marking overdue parcels failed");
    }
    let parcels = desk.parcels(Some(ParcelState::ReturnPending)).unwrap_or_else(|error| {
        tracing::warn!(%error, "ui: listing parcels to return failed");
        Vec::new()
    });
    drop(desk);
    *shell.returns.borrow_mut() = ReturnsState { parcels, scanned: Vec::new() };
    show_list(app, shell);
    show(app, shell, OutcomeKind::None, "", "");
}

fn show_list(app: &AppWindow, shell: &Shell) {
    let state = shell.returns.borrow();
    let items: Vec<ReturnItem> = state
        .parcels
        .iter()
        .map(|parcel| ReturnItem {
            barcode: parcel.barcode.clone().into(),
            shelf: parcel.shelf.clone().unwrap_or_else(|| "-".to_owned()).into(),
            reason: reason_text(parcel).into(),
            scanned: state.scanned.contains(&parcel.barcode),
        })
        .collect();
    let adapter = app.global::<ReturnsAdapter>();
    adapter.set_scanned_count(state.scanned.len() as i32);
    adapter.set_total_count(state.parcels.len() as i32);
    adapter.set_can_confirm(!state.scanned.is_empty());
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

pub fn on_scan(app: &AppWindow, shell: &Shell, text: &str) {
    let barcode = text.trim().to_owned();
    let on_list = shell.returns.borrow().parcels.iter().any(|parcel| parcel.barcode == barcode);
    let already = shell.returns.borrow().scanned.contains(&barcode);
    if already {
        show(app, shell, OutcomeKind::Warning, &tr("Already scanned"), &barcode);
    } else if on_list {
        shell.returns.borrow_mut().scanned.push(barcode.clone());
        show_list(app, shell);
        show(app, shell, OutcomeKind::Success, &tr("Scanned"), &barcode);
    } else {
        let detail = tr_args("{} is not on the return list: keep it on its shelf", &[&barcode]);
        show(app, shell, OutcomeKind::Error, &tr("Not to return"), &detail);
    }
}

fn confirm(app: &AppWindow, shell: &Shell, courier: &str) {
    let scanned = shell.returns.borrow().scanned.clone();
    let courier = (!courier.trim().is_empty()).then_some(courier);
    let mut returned = 0;
    let mut failures = Vec::new();
    for barcode in &scanned {
        match shell.desk.borrow_mut().return_to_courier(barcode, courier) {
            Ok(_) => returned += 1,
            Err(error) => failures.push(error.to_string()),
        }
    }
    load(app, shell);
    if failures.is_empty() {
        let detail = tr_args("{} parcels given to the courier", &[&returned]);
        show(app, shell, OutcomeKind::Success, &tr("Returned"), &detail);
    } else {
        let detail = tr_args("{} returned; {}", &[&returned, &failures.join("; ")]);
        show(app, shell, OutcomeKind::Error, &tr("Some parcels not returned"), &detail);
    }
}
