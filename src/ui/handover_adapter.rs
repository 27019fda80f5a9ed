//! The handover screen: the customer's code, then a scan of each parcel it
//! unlocks. A parcel the code does not unlock fills the screen red and
//! records nothing.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::cards::card;
use super::shell::{Shell, with};
use super::{AppWindow, HandoverAdapter, HandoverStep, OutcomeKind, ParcelCard};
use crate::desk::DeskError;
use crate::store::parcels::Parcel;

/// The handover in progress. The code stays in memory only, for the parcel
/// scans that follow it.
#[derive(Default)]
pub struct HandoverState {
    code: Option<String>,
    unlocked: Vec<Parcel>,
    handed_over: Vec<String>,
}

impl std::fmt::Debug for HandoverState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoverState")
            .field("unlocked", &self.unlocked.len())
            .finish_non_exhaustive()
    }
}

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let adapter = app.global::<HandoverAdapter>();
    let weak = Rc::downgrade(shell);
    adapter.on_code_entered(move |code| with(&weak, |app, shell| enter_code(app, shell, &code)));
    let weak = Rc::downgrade(shell);
    adapter.on_cancel(move || with(&weak, reset));
    let weak = Rc::downgrade(shell);
    adapter.on_acknowledge(move || with(&weak, acknowledge));
    let weak = Rc::downgrade(shell);
    adapter.on_scan_code_with_camera(move || {
        with(&weak, |app, shell| {
            let detail = "No camera found: type the code on the keypad";
            show(app, shell, OutcomeKind::Warning, "No camera", detail);
        })
    });
    adapter.set_camera_available(false);
}

/// Starts over at code entry, forgetting the code.
pub fn reset(app: &AppWindow, shell: &Shell) {
    *shell.handover.borrow_mut() = HandoverState::default();
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_code("".into());
    adapter.set_step(HandoverStep::EnterCode);
    adapter.set_parcels(ModelRc::new(VecModel::<ParcelCard>::default()));
    adapter.set_outcome_kind(OutcomeKind::None);
    adapter.set_outcome_title("".into());
    adapter.set_outcome_detail("".into());
}

/// Shows how long code entry stays locked, if it is.
pub fn show_lock(app: &AppWindow, locked_s: Option<u64>) {
    let adapter = app.global::<HandoverAdapter>();
    let seconds = locked_s.unwrap_or(0);
    adapter.set_lock_seconds_left(seconds.min(i32::MAX as u64) as i32);
    let text = if seconds > 0 {
        format!("Too many wrong codes: code entry is locked for {seconds} s")
    } else {
        String::new()
    };
    adapter.set_lock_text(text.into());
}

fn show(app: &AppWindow, shell: &Shell, kind: OutcomeKind, title: &str, detail: &str) {
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_outcome_kind(kind);
    adapter.set_outcome_title(title.into());
    adapter.set_outcome_detail(detail.into());
    shell.tone_for(kind);
}

fn show_parcels(app: &AppWindow, shell: &Shell) {
    let state = shell.handover.borrow();
    let cards: Vec<ParcelCard> = state
        .unlocked
        .iter()
        .map(|parcel| {
            let mut card = card(parcel);
            card.state_label = if state.handed_over.contains(&parcel.barcode) {
                "Handed over".into()
            } else {
                "Scan to hand over".into()
            };
            card
        })
        .collect();
    app.global::<HandoverAdapter>().set_parcels(ModelRc::new(VecModel::from(cards)));
}

fn enter_code(app: &AppWindow, shell: &Shell, code: &str) {
    let adapter = app.global::<HandoverAdapter>();
    let result = shell.desk.borrow_mut().parcels_for_code(code);
    match result {
        Ok(parcels) => {
            let count = parcels.len();
            *shell.handover.borrow_mut() = HandoverState {
                code: Some(code.to_owned()),
                unlocked: parcels,
                handed_over: Vec::new(),
            };
            show_parcels(app, shell);
            adapter.set_step(HandoverStep::ConfirmParcel);
            let detail = if count == 1 {
                "Scan the parcel before you hand it over".to_owned()
            } else {
                format!("{count} parcels: scan each one before you hand it over")
            };
            show(app, shell, OutcomeKind::Success, "Code accepted", &detail);
        }
        Err(error) => {
            adapter.set_code("".into());
            let title = match &error {
                DeskError::CodeLocked { .. } => "Code entry locked",
                DeskError::WrongCode { .. } => "Wrong code",
                DeskError::CodeUsed => "Code already used",
                DeskError::Invalid(_) => "Invalid code",
                _ => "No parcel",
            };
            show(app, shell, OutcomeKind::Error, title, &error.to_string());
        }
    }
    shell.refresh(app);
}

pub fn show_invalid(app: &AppWindow, shell: &Shell, message: &str) {
    show(app, shell, OutcomeKind::Error, "Invalid scan", message);
}

pub fn on_scan(app: &AppWindow, shell: &Shell, text: &str) {
    let adapter = app.global::<HandoverAdapter>();
    match adapter.get_step() {
        HandoverStep::EnterCode => {
            // A scan of the customer's phone carries the code itself.
            adapter.set_code(text.trim().into());
            enter_code(app, shell, text);
        }
        HandoverStep::ConfirmParcel | HandoverStep::WrongParcel => confirm_parcel(app, shell, text),
        HandoverStep::Done => {
            reset(app, shell);
            on_scan(app, shell, text);
        }
    }
}

fn confirm_parcel(app: &AppWindow, shell: &Shell, barcode: &str) {
    let adapter = app.global::<HandoverAdapter>();
    let Some(code) = shell.handover.borrow().code.clone() else {
        reset(app, shell);
        return;
    };
    let result = shell.desk.borrow_mut().hand_over(&code, barcode);
    match result {
        Ok(parcel) => {
            let all_done = {
                let mut state = shell.handover.borrow_mut();
                state.handed_over.push(parcel.barcode.clone());
                state.unlocked.iter().all(|p| state.handed_over.contains(&p.barcode))
            };
            show_parcels(app, shell);
            if all_done {
                adapter.set_step(HandoverStep::Done);
                show(
                    app,
                    shell,
                    OutcomeKind::Success,
                    "Handed over",
                    &format!("Give {} to the customer", parcel.barcode),
                );
            } else {
                adapter.set_step(HandoverStep::ConfirmParcel);
                show(app, shell, OutcomeKind::Success, "Handed over", "Scan the next parcel");
            }
        }
        Err(DeskError::WrongParcel { scanned, .. }) => {
            adapter.set_step(HandoverStep::WrongParcel);
            let detail = format!("{scanned} is not this customer's parcel. Nothing was recorded");
            show(app, shell, OutcomeKind::Error, "Wrong parcel", &detail);
        }
        Err(error) => {
            adapter.set_step(HandoverStep::WrongParcel);
            show(app, shell, OutcomeKind::Error, "Not handed over", &error.to_string());
        }
    }
}

fn acknowledge(app: &AppWindow, shell: &Shell) {
    let adapter = app.global::<HandoverAdapter>();
    if adapter.get_step() == HandoverStep::Done {
        reset(app, shell);
    } else {
        adapter.set_step(HandoverStep::ConfirmParcel);
        adapter.set_outcome_kind(OutcomeKind::None);
    }
}
