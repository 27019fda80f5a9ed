//! The settings screen: the backend address, enrolment, language and shift
//! length. The config module checks and writes the values and the sync
//! module enrols, so this adapter only moves text between them and the
//! screen.
//!
//! NOTE: a settings or enrolment error is the config or sync module's
//! English message, shown after a translated "Not saved" or "Enrolment
//! failed".

use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::shell::{Shell, with};
use super::text::{tr, tr_args};
use super::{AppWindow, LanguageChoice, SettingsAdapter, language};
use crate::config::{ClerkSettings, Config, validate_backend_url};
use crate::store::credentials::Credentials;
use crate::sync::SyncError;

/// The values of `ui.language` with the name each language has in itself.
/// "System" is no language, so it is translated.
const LANGUAGES: [(&str, &str); 3] = [("auto", "System"), ("en", "English"), ("zh_CN", "简体中文")];

pub fn wire(app: &AppWindow, shell: &Rc<Shell>) {
    let adapter = app.global::<SettingsAdapter>();
    let weak = Rc::downgrade(shell);
    adapter.on_enroll(move |url, token| {
        with(&weak, |app, shell| enroll(app, shell, url.trim().to_owned(), token.to_string()));
    });
    let weak = Rc::downgrade(shell);
    adapter.on_save(move |url, language, shift_hours| {
        let changes = ClerkSettings {
            backend_url: url.to_string(),
            language: language.to_string(),
            shift_hours: shift_hours.to_string(),
        };
        with(&weak, |app, shell| save(app, shell, &changes));
    });
    show_languages(app);
}

fn show_languages(app: &AppWindow) {
    let choices: Vec<LanguageChoice> = LANGUAGES
        .iter()
        .map(|(code, name)| {
            let name = if *code == "auto" { tr("System") } else { (*name).to_owned() };
            LanguageChoice { code: (*code).into(), name: name.into() }
        })
        .collect();
    app.global::<SettingsAdapter>().set_languages(ModelRc::new(VecModel::from(choices)));
}

/// Shows the settings in effect and the enrolment.
pub fn load(app: &AppWindow, shell: &Shell) {
    let adapter = app.global::<SettingsAdapter>();
    let config = shell.config.borrow();
    adapter.set_backend_url(config.backend.url.clone().unwrap_or_default().into());
    adapter.set_language(config.ui.language.clone().into());
    adapter.set_shift_hours(config.desk.shift_hours.to_string().into());
    adapter.set_enrolment_token("".into());
    adapter.set_save_text("".into());
    adapter.set_save_failed(false);
    if let Ok(Some(credentials)) = shell.desk.borrow().credentials() {
        adapter.set_backend_url(credentials.backend_url.clone().into());
    }
    show_enrolment(app, shell);
}

/// Shows whether and as what the terminal is enrolled.
fn show_enrolment(app: &AppWindow, shell: &Shell) {
    let adapter = app.global::<SettingsAdapter>();
    match shell.desk.borrow().credentials() {
        Ok(Some(credentials)) => {
            let text = tr_args(
                "Enrolled as terminal {} of store {}",
                &[&credentials.terminal_id, &credentials.store_id],
            );
            adapter.set_status_text(text.into());
        }
        Ok(None) => {
            adapter.set_status_text(tr("Not enrolled: enter the backend address and token").into())
        }
        Err(error) => adapter.set_status_text(error.to_string().into()),
    }
}

/// Drops the backend address from `changes` when it is the enrolment's
/// address that [`load`] showed because the settings have none, as in the
/// embedded demo. Saved into the file, that address would stop the next
/// start from running the demo.
fn without_shown_enrolment_url(shell: &Shell, changes: &ClerkSettings) -> ClerkSettings {
    let mut changes = changes.clone();
    if shell.config.borrow().backend.url.is_none()
        && let Ok(Some(credentials)) = shell.desk.borrow().credentials()
        && credentials.backend_url == changes.backend_url.trim()
    {
        changes.backend_url.clear();
    }
    changes
}

fn show_save(app: &AppWindow, failed: bool, text: &str) {
    let adapter = app.global::<SettingsAdapter>();
    adapter.set_save_failed(failed);
    adapter.set_save_text(text.into());
}

/// Checks and writes the settings, then applies them to the running desk.
fn save(app: &AppWindow, shell: &Shell, changes: &ClerkSettings) {
    let changes = &without_shown_enrolment_url(shell, changes);
    let checked = shell.config.borrow().with_clerk_settings(changes);
    let config = match checked {
        Ok(config) => config,
        Err(error) => return show_save(app, true, &tr_args("Not saved: {}", &[&error])),
    };
    let Some(path) = &shell.config_path else {
        let text = tr("Not saved: no settings file is known; start the app with --config FILE");
        return show_save(app, true, &text);
    };
    if let Err(error) = config.save_clerk_settings(path) {
        return show_save(app, true, &tr_args("Not saved: {}", &[&error]));
    }
    shell.desk.borrow_mut().set_config(config.desk_config());
    let language_changed = config.ui.language != shell.config.borrow().ui.language;
    let repointed = repoint_enrolment(shell, &config);
    *shell.config.borrow_mut() = config;
    if language_changed {
        switch_language(app, shell);
    }
    match repointed {
        Ok(()) => {
            let text = tr_args(
                "Saved to {}. The shift length applies from the next sign-in",
                &[&path.display()],
            );
            show_save(app, false, &text);
        }
        Err(error) => show_save(app, true, &error),
    }
}

/// Applies the saved language, and rebuilds the Rust-built texts on screen,
/// which `@tr` does not reach: this screen's and the status bar's. The
/// other screens build theirs again when they open.
fn switch_language(app: &AppWindow, shell: &Shell) {
    language::apply(&shell.config.borrow().ui.language);
    show_languages(app);
    show_enrolment(app, shell);
    shell.refresh(app);
}

/// Points an enrolled terminal at the saved backend address, so the next
/// sync goes there without a restart.
fn repoint_enrolment(shell: &Shell, config: &Config) -> Result<(), String> {
    let Some(url) = &config.backend.url else { return Ok(()) };
    let desk = shell.desk.borrow();
    let Some(mut credentials) = desk.credentials().map_err(|error| error.to_string())? else {
        return Ok(());
    };
    if credentials.backend_url == *url {
        return Ok(());
    }
    credentials.backend_url = url.clone();
    credentials.save(desk.data_dir()).map_err(|error| {
        tr_args("Saved, but the enrolment still points at the old address: {}", &[&error])
    })?;
    tracing::info!(backend = %url, "ui: enrolment pointed at a new backend address");
    if let Some(sync) = &shell.sync {
        sync.notify();
    }
    Ok(())
}

/// Enrols on the sync runtime; the result comes back to the event loop.
fn enroll(app: &AppWindow, shell: &Shell, url: String, token: String) {
    let adapter = app.global::<SettingsAdapter>();
    if let Err(error) = validate_backend_url(&url) {
        adapter.set_status_text(tr_args("Not enrolled: {}", &[&error]).into());
        return;
    }
    let Some(runtime) = shell.runtime.clone() else {
        let text = tr("Enrolment needs the network runtime, which is not running");
        adapter.set_status_text(text.into());
        return;
    };
    adapter.set_status_text(tr("Enrolling…").into());
    let data_dir = shell.desk.borrow().data_dir().to_owned();
    let config = shell.sync_config.clone();
    let window = shell.window.clone();
    let notify = shell.sync.as_ref().map(|sync| sync.notifier());
    runtime.spawn(async move {
        let result = crate::sync::enroll(&data_dir, &url, &token, &config).await;
        if result.is_ok()
            && let Some(notify) = notify
        {
            notify();
        }
        // The text is built on the event loop's thread, whose language `tr`
        // follows.
        let _ = window.upgrade_in_event_loop(move |app| {
            let text = enrolment_text(result);
            app.global::<SettingsAdapter>().set_status_text(text.into());
        });
    });
}

/// Returns the status line for the result of an enrolment.
fn enrolment_text(result: Result<Credentials, SyncError>) -> String {
    match result {
        Ok(credentials) => tr_args(
            "Enrolled as terminal {} of store {}",
            &[&credentials.terminal_id, &credentials.store_id],
        ),
        // The sync module's message names command-line options, which the
        // clerk at the screen has not got.
        Err(SyncError::UnsentEvents { count, store_id }) => tr_args(
            "Not enrolled: {} events are not yet sent to store {}. Tap Sync now on \
             the home screen, wait until none is unsent, then enrol again",
            &[&count, &store_id],
        ),
        Err(error) => tr_args("Enrolment failed: {}", &[&error]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsent_events_text_names_screen_steps() {
        let error = SyncError::UnsentEvents { count: 3, store_id: "S001".to_owned() };
        let text = enrolment_text(Err(error));
        assert!(
            text.starts_with("Not enrolled: 3 events are not yet sent to store S001"),
            "{text}"
        );
        assert!(text.contains("Tap Sync now"), "{text}");
        assert!(!text.contains("--force"), "{text}");
    }
}
