//! The handover screen: the customer's code, typed, scanned or read by the
//! camera, then a scan of each parcel it unlocks. A parcel the code does not
//! unlock fills the screen red and records nothing. The screen also records
//! a refusal at the counter and requests a new code for a lost text.
//!
//! NOTE: a desk error shows its own English message as the detail, under a
//! translated title.

use std::rc::{Rc, Weak};

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::camera::CameraPoll;
use super::cards::card;
use super::shell::{Shell, with};
use super::text::{tr, tr_args, tr_plural};
use super::{AppWindow, HandoverAdapter, HandoverStep, OutcomeKind, ParcelCard};
use crate::desk::DeskError;
use crate::scan::PICKUP_CODE_DIGITS;
use crate::store::parcels::Parcel;

/// The handover in progress. The code stays in memory only, for the parcel
/// scans that follow it.
#[derive(Default)]
pub struct HandoverState {
    code: Option<String>,
    unlocked: Vec<Parcel>,
    handed_over: Vec<String>,
    /// True when the lock on show was started by a wrong code just entered,
    /// so the lock banner reports that code as wrong.
    locked_by_wrong_code: bool,
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
    adapter.set_code_length(PICKUP_CODE_DIGITS as i32);
    let weak = Rc::downgrade(shell);
    adapter.on_code_entered(move |code| with(&weak, |app, shell| enter_code(app, shell, &code)));
    let weak = Rc::downgrade(shell);
    adapter.on_cancel(move || with(&weak, reset));
    let weak = Rc::downgrade(shell);
    adapter.on_acknowledge(move || with(&weak, acknowledge));
    let weak = Rc::downgrade(shell);
    adapter.on_scan_code_with_camera(move || {
        let poll_weak = weak.clone();
        with(&weak, |app, shell| start_camera(app, shell, poll_weak));
    });
    let weak = Rc::downgrade(shell);
    adapter.on_stop_camera(move || {
        with(&weak, |app, shell| {
            stop_camera(app, shell);
            clear_outcome(app);
        })
    });
    let weak = Rc::downgrade(shell);
    adapter.on_refuse(move |barcode, reason| {
        with(&weak, |app, shell| refuse(app, shell, &barcode, &reason));
    });
    let weak = Rc::downgrade(shell);
    adapter.on_start_reissue(move || with(&weak, start_reissue));
    // The button stays on screen without a camera, so that a tap reports
    // that none was found.
    adapter.set_camera_available(true);
}

/// Starts over at code entry, forgetting the code and stopping the camera.
pub fn reset(app: &AppWindow, shell: &Shell) {
    stop_camera(app, shell);
    *shell.handover.borrow_mut() = HandoverState::default();
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_code("".into());
    adapter.set_step(HandoverStep::EnterCode);
    adapter.set_parcels(ModelRc::new(VecModel::<ParcelCard>::default()));
    adapter.set_refusable(ModelRc::new(VecModel::<SharedString>::default()));
    adapter.set_refuse_open(false);
    clear_outcome(app);
}

fn clear_outcome(app: &AppWindow) {
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_outcome_kind(OutcomeKind::None);
    adapter.set_outcome_title("".into());
    adapter.set_outcome_detail("".into());
}

/// Shows how long code entry stays locked, if it is.
pub fn show_lock(app: &AppWindow, shell: &Shell, locked_s: Option<u64>) {
    let adapter = app.global::<HandoverAdapter>();
    let seconds = locked_s.unwrap_or(0);
    adapter.set_lock_seconds_left(seconds.min(i32::MAX as u64) as i32);
    let mut state = shell.handover.borrow_mut();
    let text = if seconds == 0 {
        state.locked_by_wrong_code = false;
        String::new()
    } else if state.locked_by_wrong_code {
        tr_args("Wrong code. Too many wrong codes: code entry is locked for {} s", &[&seconds])
    } else {
        tr_args("Too many wrong codes: code entry is locked for {} s", &[&seconds])
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
    let refusable: Vec<SharedString> = state
        .unlocked
        .iter()
        .filter(|parcel| !state.handed_over.contains(&parcel.barcode))
        .map(|parcel| parcel.barcode.as_str().into())
        .collect();
    app.global::<HandoverAdapter>().set_refusable(ModelRc::new(VecModel::from(refusable)));
    let cards: Vec<ParcelCard> = state
        .unlocked
        .iter()
        .map(|parcel| {
            let mut card = card(parcel);
            card.state_label = if state.handed_over.contains(&parcel.barcode) {
                tr("Handed over").into()
            } else {
                tr("Scan to hand over").into()
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
                ..HandoverState::default()
            };
            show_parcels(app, shell);
            adapter.set_step(HandoverStep::ConfirmParcel);
            let detail = if count == 1 {
                tr("Scan the parcel before you hand it over")
            } else {
                tr_plural(
                    "{n} parcel: scan each one before you hand it over",
                    "{n} parcels: scan each one before you hand it over",
                    count as u64,
                    &[],
                )
            };
            show(app, shell, OutcomeKind::Success, &tr("Code accepted"), &detail);
        }
        Err(error) => {
            adapter.set_code("".into());
            if let DeskError::CodeLocked { after_wrong_code, .. } = &error {
                shell.handover.borrow_mut().locked_by_wrong_code = *after_wrong_code;
            }
            let title = match &error {
                DeskError::CodeLocked { after_wrong_code: true, .. } => tr("Wrong code"),
                DeskError::CodeLocked { .. } => tr("Code entry locked"),
                DeskError::WrongCode { .. } => tr("Wrong code"),
                DeskError::CodeUsed => tr("Code already used"),
                DeskError::Invalid(_) => tr("Invalid code"),
                _ => tr("No parcel"),
            };
            let detail = match &error {
                // The desk's message is English only, so the count is worded
                // here with a plural form the catalog translates.
                DeskError::WrongCode { tries_left } => tr_plural(
                    "Check the digits with the customer: {n} try left before code entry locks",
                    "Check the digits with the customer: {n} tries left before code entry locks",
                    u64::from(*tries_left),
                    &[],
                ),
                _ => error.to_string(),
            };
            show(app, shell, OutcomeKind::Error, &title, &detail);
        }
    }
    shell.refresh(app);
}

pub fn show_invalid(app: &AppWindow, shell: &Shell, message: &str) {
    show(app, shell, OutcomeKind::Error, &tr("Invalid scan"), message);
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
        HandoverStep::Reissue => request_reissue(app, shell, text),
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
                    &tr("Handed over"),
                    &tr_args("Give {} to the customer", &[&parcel.barcode]),
                );
            } else {
                adapter.set_step(HandoverStep::ConfirmParcel);
                let detail = tr("Scan the next parcel");
                show(app, shell, OutcomeKind::Success, &tr("Handed over"), &detail);
            }
        }
        Err(DeskError::WrongParcel { scanned, .. }) => {
            adapter.set_step(HandoverStep::WrongParcel);
            let detail =
                tr_args("{} is not this customer's parcel. Nothing was recorded", &[&scanned]);
            show(app, shell, OutcomeKind::Error, &tr("Wrong parcel"), &detail);
        }
        Err(error) => {
            adapter.set_step(HandoverStep::WrongParcel);
            show(app, shell, OutcomeKind::Error, &tr("Not handed over"), &error.to_string());
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

/// Starts the camera and the timer that takes its codes.
fn start_camera(app: &AppWindow, shell: &Shell, weak: Weak<Shell>) {
    clear_outcome(app);
    if let Err(error) = shell.camera.start() {
        let detail = tr_args("{}: type the code on the keypad", &[&error]);
        return show(app, shell, OutcomeKind::Error, &tr("Camera not started"), &detail);
    }
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_camera_active(true);
    adapter.set_camera_text(tr("Starting the camera").into());
    shell.camera.poll_every_tick(move || with(&weak, poll_camera));
}

fn stop_camera(app: &AppWindow, shell: &Shell) {
    shell.camera.stop();
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_camera_active(false);
    adapter.set_camera_text("".into());
}

/// Shows how the camera is doing, and enters the first pickup code it reads
/// as if it had been typed.
fn poll_camera(app: &AppWindow, shell: &Shell) {
    match shell.camera.poll() {
        CameraPoll::Code(code) => {
            stop_camera(app, shell);
            app.global::<HandoverAdapter>().set_code(code.as_str().into());
            enter_code(app, shell, code.as_str());
        }
        CameraPoll::NoCamera => {
            stop_camera(app, shell);
            let detail = tr("Type the code on the keypad, or scan the phone with the scanner");
            show(app, shell, OutcomeKind::Warning, &tr("No camera found"), &detail);
        }
        CameraPoll::Looking(text) => {
            app.global::<HandoverAdapter>().set_camera_text(text.into());
        }
        CameraPoll::Idle => {}
    }
}

/// Records that the customer refuses `barcode` at the counter.
fn refuse(app: &AppWindow, shell: &Shell, barcode: &str, reason: &str) {
    let adapter = app.global::<HandoverAdapter>();
    adapter.set_refuse_open(false);
    if reason.trim().is_empty() {
        let detail = tr("Type why the customer refuses the parcel, then pick it");
        return show(app, shell, OutcomeKind::Error, &tr("Reason missing"), &detail);
    }
    let result = shell.desk.borrow_mut().refuse(barcode, Some(reason));
    let parcel = match result {
        Ok(parcel) => parcel,
        Err(error) => {
            return show(app, shell, OutcomeKind::Error, &tr("Not refused"), &error.to_string());
        }
    };
    let (left, handed_over) = {
        let mut state = shell.handover.borrow_mut();
        state.unlocked.retain(|unlocked| unlocked.barcode != parcel.barcode);
        let left = state.unlocked.iter().any(|p| !state.handed_over.contains(&p.barcode));
        (left, !state.handed_over.is_empty())
    };
    show_parcels(app, shell);
    let detail = tr_args("Put {} with the returns to the courier", &[&parcel.barcode]);
    if left {
        show(app, shell, OutcomeKind::Warning, &tr("Refused"), &detail);
    } else if handed_over {
        adapter.set_step(HandoverStep::Done);
        show(app, shell, OutcomeKind::Success, &tr("Done"), &detail);
    } else {
        reset(app, shell);
        show(app, shell, OutcomeKind::Warning, &tr("Refused"), &detail);
    }
}

fn start_reissue(app: &AppWindow, shell: &Shell) {
    reset(app, shell);
    app.global::<HandoverAdapter>().set_step(HandoverStep::Reissue);
}

/// Asks the mall to text a new code for the scanned parcel.
fn request_reissue(app: &AppWindow, shell: &Shell, barcode: &str) {
    let result = shell.desk.borrow_mut().request_reissue(barcode);
    match result {
        Ok(parcel) => {
            let detail = tr_args(
                "The mall texts the customer of {} a new code; the old code stops working",
                &[&parcel.barcode],
            );
            show(app, shell, OutcomeKind::Success, &tr("New code requested"), &detail);
        }
        Err(error) => show(app, shell, OutcomeKind::Error, &tr("No new code"), &error.to_string()),
    }
}
