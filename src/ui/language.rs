//! Choosing the language of the screens: the `.slint` strings through Slint's
//! bundled translations and the Rust-built strings through [`text`].

use super::text::{self, Language};

/// Switches the screens on this thread to the language of the `ui.language`
/// setting (`auto`, `en` or `zh_CN`) and returns it. Slint re-evaluates
/// every `@tr` at once, but Rust-built strings already on screen keep their
/// language until the adapter that built them sets them again.
///
/// Slint requires a component to exist on this thread before the call.
pub fn apply(setting: &str) -> Language {
    let language = Language::from_setting(setting);
    text::set_language(language);
    if let Err(error) = slint::select_bundled_translation(language.code()) {
        tracing::warn!(%error, language = language.code(), "ui: selecting the translation failed");
    }
    tracing::info!(setting, language = language.code(), "ui: language selected");
    language
}
