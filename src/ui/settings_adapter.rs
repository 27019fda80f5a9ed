//! The settings screen: the backend address and enrolment.

use std::rc::Rc;

use slint::ComponentHandle;

use super::shell::{Shell, with};
use super::{AppWindow, SettingsAdapter};

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let weak = Rc::downgrade(shell);
    app.global::<SettingsAdapter>().on_enroll(move |url, token| {
        with(&weak, |app, shell| enroll(app, shell, url.to_string(), token.to_string()));
    });
    app.global::<SettingsAdapter>().on_save(|language, _, _| {
        // NOTE: language and shift come from config.toml; this screen does
        // not write them yet.
        tracing::info!(language = %language, "ui: settings save requested");
    });
}

/// Shows the enrolment.
pub fn load(app: &AppWindow, shell: &Shell) {
    let adapter = app.global::<SettingsAdapter>();
    match shell.desk.borrow().credentials() {
        Ok(Some(credentials)) => {
            adapter.set_backend_url(credentials.backend_url.clone().into());
            let text = format!(
                "Enrolled as terminal {} of store {}",
                credentials.terminal_id, credentials.store_id
            );
            adapter.set_status_text(text.into());
        }
        Ok(None) => {
            adapter.set_status_text("Not enrolled: enter the backend address and token".into())
        }
        Err(error) => adapter.set_status_text(error.to_string().into()),
    }
    adapter.set_enrolment_token("".into());
}

/// Enrols on the sync runtime; the result comes back to the event loop.
fn enroll(app: &AppWindow, shell: &Shell, url: String, token: String) {
    let adapter = app.global::<SettingsAdapter>();
    let Some(runtime) = shell.runtime.clone() else {
        adapter.set_status_text("Enrolment needs the network runtime, which is not running".into());
        return;
    };
    adapter.set_status_text("Enrolling…".into());
    let data_dir = shell.desk.borrow().data_dir().to_owned();
    let config = shell.sync_config.clone();
    let window = shell.window.clone();
    let notify = shell.sync.as_ref().map(|sync| sync.notifier());
    runtime.spawn(async move {
        let result = crate::sync::enroll(&data_dir, &url, &token, &config).await;
        let text = match result {
            Ok(credentials) => {
                if let Some(notify) = notify {
                    notify();
                }
                format!(
                    "Enrolled as terminal {} of store {}",
                    credentials.terminal_id, credentials.store_id
                )
            }
            Err(error) => format!("Enrolment failed: {error}"),
        };
        let _ = window.upgrade_in_event_loop(move |app| {
            app.global::<SettingsAdapter>().set_status_text(text.into());
        });
    });
}
