//! The receive screen: a scan receives an intact parcel; "damaged", tapped
//! before or right after a scan, rejects it with a reason and, where the
//! terminal has a camera, a photo. The courier drop on this screen is in
//! [`super::drop_adapter`].
//!
//! NOTE: a desk error shows its own English message as the detail, under a
//! translated title.

use std::rc::{Rc, Weak};

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::camera::PhotoPoll;
use super::cards::{card, local_time, reject_reason_text};
use super::drop_adapter;
use super::shell::{Shell, not_a_parcel, with};
use super::text::{tr, tr_args};
use super::{AppWindow, OutcomeKind, ReceiveAdapter};
use crate::desk::{DeskError, Receipt, photo};
use crate::protocol::RejectReason;
use crate::scan::{Scan, ScanKind};

/// State of the receive screen between scans.
#[derive(Debug, Default)]
pub struct ReceiveState {
    /// The parcel last received in this visit, which "damaged" applies to.
    pub last_received: Option<String>,
    /// A barcode scanned while "damaged" was armed, waiting for its reason.
    pub pending_reject: Option<String>,
    pub received: i32,
    pub rejected: i32,
    /// The JPEG damage photo for the open reason picker.
    pub photo: Option<Vec<u8>>,
}

/// Camera polls a photo waits for its frame before giving up: 5 s at one
/// poll every 100 ms.
const PHOTO_POLLS: u32 = 50;

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let adapter = app.global::<ReceiveAdapter>();
    let weak = Rc::downgrade(shell);
    adapter.on_arm_damaged(move |armed| with(&weak, |app, shell| arm_damaged(app, shell, armed)));
    let weak = Rc::downgrade(shell);
    adapter.on_reject_last(move |reason, note| {
        with(&weak, |app, shell| reject(app, shell, &reason, &note));
    });
    let weak = Rc::downgrade(shell);
    adapter
        .on_move_to_shelf(move |shelf| with(&weak, |app, shell| shelve_last(app, shell, &shelf)));
    let shelves: Vec<SharedString> =
        shell.desk.borrow().config().shelves.iter().map(|slot| slot.as_str().into()).collect();
    adapter.set_shelves(ModelRc::new(VecModel::from(shelves)));
    let weak = Rc::downgrade(shell);
    adapter.on_close_reason_picker(move || {
        with(&weak, |app, shell| {
            shell.receive.borrow_mut().pending_reject = None;
            clear_photo(app, shell);
            let adapter = app.global::<ReceiveAdapter>();
            adapter.set_reason_picker_open(false);
            adapter.set_damaged_armed(false);
        })
    });
    let weak = Rc::downgrade(shell);
    adapter.on_take_photo(move || {
        let poll_weak = weak.clone();
        with(&weak, |app, shell| take_photo(app, shell, poll_weak));
    });
}

/// Clears the screen for a new visit.
pub fn reset(app: &AppWindow) {
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_outcome_kind(OutcomeKind::None);
    adapter.set_outcome_title("".into());
    adapter.set_outcome_detail(tr("Scan a parcel label").into());
    adapter.set_has_card(false);
    adapter.set_damaged_armed(false);
    adapter.set_reason_picker_open(false);
    adapter.set_reject_barcode("".into());
    adapter.set_shelf_picker_open(false);
    adapter.set_session_count(0);
    adapter.set_session_rejected_count(0);
    adapter.set_photo_text("".into());
    adapter.set_photo_kind(OutcomeKind::None);
    adapter.set_photo_attached(false);
    adapter.set_photo_busy(false);
}

/// Shows an outcome in the screen's banner, with its tone, and the counts
/// of this visit.
pub fn show(app: &AppWindow, shell: &Shell, kind: OutcomeKind, title: &str, detail: &str) {
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_outcome_kind(kind);
    adapter.set_outcome_title(title.into());
    adapter.set_outcome_detail(detail.into());
    let state = shell.receive.borrow();
    adapter.set_session_count(state.received);
    adapter.set_session_rejected_count(state.rejected);
    shell.tone_for(kind);
}

pub fn show_invalid(app: &AppWindow, shell: &Shell, message: &str) {
    app.global::<ReceiveAdapter>().set_has_card(false);
    show(app, shell, OutcomeKind::Error, &tr("Invalid scan"), message);
}

pub fn on_scan(app: &AppWindow, shell: &Shell, scan: &Scan) {
    let adapter = app.global::<ReceiveAdapter>();
    let text = scan.text.as_str();
    if adapter.get_reason_picker_open() {
        return keep_picker(app, shell, text.trim());
    }
    if drop_adapter::on_scan(app, shell, text.trim()) {
        return;
    }
    if let Some(message) = not_a_parcel(scan) {
        adapter.set_has_card(false);
        show(app, shell, OutcomeKind::Error, &tr("Not a parcel"), &message);
        return;
    }
    if scan.kind == ScanKind::ShelfLabel {
        // The classifier accepts the prefix in any case, so cut it by length.
        let shelf = scan.text.get("SHELF-".len()..).unwrap_or_default();
        return shelve_last(app, shell, shelf);
    }
    if adapter.get_damaged_armed() {
        open_picker(app, shell, text.trim());
        adapter.set_has_card(false);
        show(
            app,
            shell,
            OutcomeKind::Warning,
            &tr("Damaged"),
            &tr_args("Why is {} rejected?", &[&text.trim()]),
        );
        return;
    }
    let result = shell.desk.borrow_mut().receive(text);
    match result {
        Ok(Receipt::Received { parcel, .. }) => {
            {
                let mut state = shell.receive.borrow_mut();
                state.last_received = Some(parcel.barcode.clone());
                state.received += 1;
            }
            adapter.set_card(card(&parcel));
            adapter.set_has_card(true);
            drop_adapter::refresh(app, shell);
            let shelf = parcel.shelf.as_deref().map(|s| tr_args("Put it on shelf {}", &[&s]));
            if parcel.unexpected {
                let detail = tr("Not in the manifest: keep it apart; the mall is told");
                show(app, shell, OutcomeKind::Warning, &tr("Received, unexpected"), &detail);
            } else {
                let detail = shelf.unwrap_or_else(|| tr("Put it on a free shelf"));
                show(app, shell, OutcomeKind::Success, &tr("Received"), &detail);
            }
        }
        Ok(Receipt::AlreadyReceived { parcel }) => {
            adapter.set_card(card(&parcel));
            adapter.set_has_card(true);
            let when = parcel.received_at.map(local_time).unwrap_or_else(|| "?".to_owned());
            let by = parcel.received_by.clone().unwrap_or_else(|| "?".to_owned());
            let detail = tr_args("Received at {} by {}; nothing recorded", &[&when, &by]);
            show(app, shell, OutcomeKind::Warning, &tr("Already received"), &detail);
        }
        Err(error) => {
            adapter.set_has_card(false);
            let title = match &error {
                DeskError::Invalid(_) => tr("Invalid scan"),
                DeskError::Forbidden(_) => tr("Cannot receive"),
                _ => tr("Not recorded"),
            };
            show(app, shell, OutcomeKind::Error, &title, &error.to_string());
        }
    }
}

fn arm_damaged(app: &AppWindow, shell: &Shell, armed: bool) {
    let adapter = app.global::<ReceiveAdapter>();
    let last = shell.receive.borrow().last_received.clone();
    match (armed, last) {
        (true, Some(barcode)) if adapter.get_has_card() => open_picker(app, shell, &barcode),
        _ => {
            adapter.set_damaged_armed(armed);
            if armed {
                let detail = tr("Scan the damaged parcel");
                show(app, shell, OutcomeKind::Warning, &tr("Damaged"), &detail);
            }
        }
    }
}

/// Opens the reason sheet for `barcode`. The sheet stays on that parcel
/// until a reason is picked or the clerk cancels.
fn open_picker(app: &AppWindow, shell: &Shell, barcode: &str) {
    shell.receive.borrow_mut().pending_reject = Some(barcode.to_owned());
    clear_photo(app, shell);
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_reject_barcode(barcode.into());
    adapter.set_reason_picker_open(true);
}

/// Handles a scan that arrives while the reason sheet is open: the sheet
/// keeps its parcel and the scanned one is not received.
fn keep_picker(app: &AppWindow, shell: &Shell, scanned: &str) {
    let pending = shell.receive.borrow().pending_reject.clone().unwrap_or_default();
    let detail = tr_args(
        "The reason is for {0}. {1} was not received: pick a reason or cancel, then scan it again",
        &[&pending, &scanned],
    );
    show(app, shell, OutcomeKind::Warning, &tr("Pick a reason first"), &detail);
}

fn reject(app: &AppWindow, shell: &Shell, reason: &str, note: &str) {
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_reason_picker_open(false);
    adapter.set_damaged_armed(false);
    let barcode = shell.receive.borrow_mut().pending_reject.take();
    let Some(barcode) = barcode else {
        let detail = tr("Scan the damaged parcel first");
        show(app, shell, OutcomeKind::Error, &tr("Nothing to reject"), &detail);
        return;
    };
    let Some(reason) = RejectReason::parse(reason) else {
        let detail = tr_args("unknown reason {}", &[&format!("{reason:?}")]);
        show(app, shell, OutcomeKind::Error, &tr("Not recorded"), &detail);
        return;
    };
    let note = (!note.trim().is_empty()).then_some(note);
    let photo = shell.receive.borrow().photo.clone();
    clear_photo(app, shell);
    let result =
        shell.desk.borrow_mut().reject_with_photo(&barcode, reason, note, photo.as_deref());
    match result {
        Ok(parcel) => {
            drop_adapter::refresh(app, shell);
            {
                let mut state = shell.receive.borrow_mut();
                if state.last_received.as_deref() == Some(parcel.barcode.as_str()) {
                    state.last_received = None;
                    state.received -= 1;
                }
                state.rejected += 1;
            }
            adapter.set_card(card(&parcel));
            adapter.set_has_card(true);
            let detail = tr_args("{}: give it back to the courier", &[&reject_reason_text(reason)]);
            show(app, shell, OutcomeKind::Warning, &tr("Rejected"), &detail);
        }
        Err(error) => show(app, shell, OutcomeKind::Error, &tr("Not rejected"), &error.to_string()),
    }
}

/// Puts the parcel received last on `shelf`, scanned or picked.
fn shelve_last(app: &AppWindow, shell: &Shell, shelf: &str) {
    let Some(barcode) = shell.receive.borrow().last_received.clone() else {
        let detail = tr("Scan a parcel first, then its shelf label");
        return show(app, shell, OutcomeKind::Warning, &tr("Shelf label"), &detail);
    };
    let result = shell.desk.borrow_mut().move_to_shelf(&barcode, shelf);
    match result {
        Ok(parcel) => {
            app.global::<ReceiveAdapter>().set_card(card(&parcel));
            show(
                app,
                shell,
                OutcomeKind::Success,
                &tr("Shelved"),
                &tr_args("{} on shelf {}", &[&barcode, &shelf]),
            );
        }
        Err(error) => show(app, shell, OutcomeKind::Error, &tr("Not shelved"), &error.to_string()),
    }
}

/// Forgets the photo of the reason picker and stops the camera.
fn clear_photo(app: &AppWindow, shell: &Shell) {
    shell.camera.stop();
    shell.receive.borrow_mut().photo = None;
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_photo_text("".into());
    adapter.set_photo_kind(OutcomeKind::None);
    adapter.set_photo_attached(false);
    adapter.set_photo_busy(false);
}

fn show_photo(app: &AppWindow, shell: &Shell, kind: OutcomeKind, text: &str) {
    let symbol = match kind {
        OutcomeKind::Success => "✓ ",
        OutcomeKind::Warning => "! ",
        OutcomeKind::Error => "✕ ",
        OutcomeKind::None => "",
    };
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_photo_kind(kind);
    adapter.set_photo_text(format!("{symbol}{text}").into());
    shell.tone_for(kind);
}

/// Starts the camera and requests one frame, which a UI timer then takes
/// and encodes as the damage photo.
fn take_photo(app: &AppWindow, shell: &Shell, weak: Weak<Shell>) {
    shell.camera.stop();
    shell.receive.borrow_mut().photo = None;
    let adapter = app.global::<ReceiveAdapter>();
    adapter.set_photo_attached(false);
    if let Err(error) = shell.camera.start() {
        let text = tr_args("Camera not started ({}): reject without a photo", &[&error]);
        return show_photo(app, shell, OutcomeKind::Error, &text);
    }
    shell.camera.capture_frame();
    adapter.set_photo_busy(true);
    adapter.set_photo_kind(OutcomeKind::None);
    adapter.set_photo_text(tr("Taking the photo: hold the parcel in front of the camera").into());
    let mut polls = 0;
    shell.camera.poll_every_tick(move || {
        polls += 1;
        with(&weak, |app, shell| poll_photo(app, shell, polls));
    });
}

fn poll_photo(app: &AppWindow, shell: &Shell, polls: u32) {
    let frame = match shell.camera.poll_photo() {
        PhotoPoll::Frame(frame) => frame,
        PhotoPoll::NoCamera => {
            clear_photo(app, shell);
            let text = tr("No camera found: pick a reason to reject without a photo");
            return show_photo(app, shell, OutcomeKind::Warning, &text);
        }
        PhotoPoll::Waiting if polls < PHOTO_POLLS => return,
        PhotoPoll::Waiting => {
            clear_photo(app, shell);
            let text = tr("The camera sent no picture: try again, or reject without a photo");
            return show_photo(app, shell, OutcomeKind::Warning, &text);
        }
    };
    shell.camera.stop();
    app.global::<ReceiveAdapter>().set_photo_busy(false);
    // NOTE: the encoding runs on the UI thread and blocks the screen while
    // one frame encodes; its time was not measured on a handheld.
    let view = frame.view();
    match photo::encode_frame(view.pixels(), view.width(), view.height()) {
        Ok(jpeg) => {
            let text = tr_args("Photo attached ({} KiB)", &[&jpeg.len().div_ceil(1024)]);
            shell.receive.borrow_mut().photo = Some(jpeg);
            app.global::<ReceiveAdapter>().set_photo_attached(true);
            show_photo(app, shell, OutcomeKind::Success, &text);
        }
        Err(error) => {
            let text = tr_args("Photo not taken ({}): reject without it", &[&error]);
            show_photo(app, shell, OutcomeKind::Error, &text);
        }
    }
}
