//! The home screen and the status bar: counts, sync state, and the list of
//! problems from sync.

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::cards::{event_kind_text, local_time};
use super::shell::{Shell, with};
use super::text::{tr, tr_args};
use super::{AppState, AppWindow, HomeAdapter, ProblemRow, ProblemsAdapter};
use crate::desk::Status;
use crate::sync::SyncReport;

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    app.global::<HomeAdapter>().on_sync_now(move || with(&weak, request_sync));
}

/// Asks the sync engine for a sync now, even while it waits out a backoff
/// after failures, and shows the outcome under the last sync time. The sync
/// runs on the sync runtime, so the screen does not wait for it.
fn request_sync(app: &AppWindow, shell: &Shell) {
    let home = app.global::<HomeAdapter>();
    let (Some(sync), Some(runtime)) = (shell.sync.clone(), shell.runtime.clone()) else {
        tracing::info!("ui: no sync engine runs in this session");
        home.set_sync_failed(true);
        home.set_sync_result(tr("No sync runs in this session").into());
        return;
    };
    home.set_sync_failed(false);
    home.set_sync_result(tr("Syncing…").into());
    let window = shell.window.clone();
    runtime.spawn(async move {
        let result = sync.sync_now().await;
        let _ = window.upgrade_in_event_loop(move |app| {
            let (failed, text) = sync_result_text(&result);
            let home = app.global::<HomeAdapter>();
            home.set_sync_failed(failed);
            home.set_sync_result(text.into());
        });
    });
}

/// Returns whether a requested sync failed, and the status line for it.
fn sync_result_text(result: &Result<SyncReport, String>) -> (bool, String) {
    match result {
        Ok(report) if report.queue_depth == 0 => (false, tr("Synced: nothing left to send")),
        Ok(report) => (false, tr_args("Synced: {} still to send", &[&report.queue_depth])),
        Err(error) => (true, tr_args("Sync failed: {}", &[error])),
    }
}

fn count(value: u64) -> i32 {
    value.min(i32::MAX as u64) as i32
}

pub fn show_status(app: &AppWindow, status: &Status) {
    let home = app.global::<HomeAdapter>();
    home.set_expected_count(count(status.expected));
    home.set_on_shelf_count(count(status.on_shelf));
    home.set_ready_count(count(status.ready));
    home.set_to_return_count(count(status.to_return));
    let problems = count(status.quarantined + status.conflicts + status.skipped_changes);
    home.set_problem_count(problems);
    let state = app.global::<AppState>();
    state.set_problem_count(problems);
    state.set_online(status.online);
    state.set_unsent_count(count(status.queue_depth));
    let last = status.last_sync_at.map(local_time).unwrap_or_else(|| tr("never"));
    state.set_last_sync_text(last.into());
    state.set_operator_name(status.operator_name.clone().unwrap_or_default().into());
}

/// Lists quarantined events and conflicts, each with what to do.
///
/// NOTE: each row's `detail` is the mall's or the sync engine's message as
/// stored, in English whatever the language of the screens.
pub fn load_problems(app: &AppWindow, shell: &Shell) {
    let desk = shell.desk.borrow();
    let mut rows = Vec::new();
    for entry in desk.quarantined().unwrap_or_default() {
        rows.push(ProblemRow {
            title: tr_args(
                "Not accepted by the mall: {} {}",
                &[&event_kind_text(entry.body.kind()), &entry.barcode],
            )
            .into(),
            detail: entry.last_error.clone().unwrap_or_default().into(),
            what_to_do: tr(
                "Keep the parcel apart and call the mall's customer service with its number",
            )
            .into(),
        });
    }
    for conflict in desk.conflicts().unwrap_or_default().iter().filter(|c| !c.acknowledged) {
        rows.push(ProblemRow {
            title: tr_args("Conflict: {}", &[&conflict.barcode]).into(),
            detail: conflict.message.clone().into(),
            what_to_do: tr("Call the mall's customer service; they settle it with the customer")
                .into(),
        });
    }
    for skipped in desk.skipped_changes().unwrap_or_default().iter().filter(|c| !c.acknowledged) {
        let subject = skipped.barcode.clone().unwrap_or_else(|| tr("unknown parcel"));
        rows.push(ProblemRow {
            title: tr_args("Unreadable message from the mall: {}", &[&subject]).into(),
            detail: skipped.reason.clone().into(),
            what_to_do: tr(
                "Call the mall's IT; this update was skipped and later ones still arrive",
            )
            .into(),
        });
    }
    app.global::<ProblemsAdapter>().set_rows(ModelRc::new(VecModel::from(rows)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_result_says_what_is_left() {
        let done = SyncReport::default();
        assert_eq!(sync_result_text(&Ok(done)), (false, "Synced: nothing left to send".into()));
        let left = SyncReport { queue_depth: 4, ..SyncReport::default() };
        assert_eq!(sync_result_text(&Ok(left)), (false, "Synced: 4 still to send".into()));
        let failed = sync_result_text(&Err("backend unreachable".into()));
        assert_eq!(failed, (true, "Sync failed: backend unreachable".into()));
    }
}
