//! Slint screens of the terminal.
//!
//! `ui/app.slint` exports the `AppWindow` component and one adapter global per
//! screen (`SignInAdapter`, `HomeAdapter`, `ReceiveAdapter`,
//! `HandoverAdapter`, `ReturnsAdapter`, `StocktakeAdapter`, `ProblemsAdapter`,
//! `SettingsAdapter`, and `DropAdapter` for the receive screen's courier drop)
//! plus the app-wide `AppState` and the scanner's `ScanInput`. Their default
//! values are empty, so Rust sets every property it shows before the window
//! appears.

pub mod camera;
mod cards;
pub mod catalog;
mod drop_adapter;
mod handover_adapter;
mod home_adapter;
pub mod language;
pub mod launch;
mod receive_adapter;
mod returns_adapter;
mod settings_adapter;
pub mod shell;
mod sign_in_adapter;
mod stocktake_adapter;
pub mod text;
pub mod tone;

use slint::platform::Key;

pub use shell::{Context, Shell};

slint::include_modules!();

/// The part one key event, as passed to `ScanInput.key`, plays in a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanKey {
    /// Text the scanner typed, usually one character. Control characters
    /// that scanners use as data or framing (the GS1 group separator, STX,
    /// ETX) are kept here for the scan module to interpret.
    Text(String),
    /// Enter, keypad Enter, carriage return or Tab: the end of a scan.
    Terminator,
    /// A key that adds nothing to a scan: modifiers, Escape, Backspace,
    /// Delete, Backtab, and the arrow, navigation and function keys.
    Ignored,
}

/// Classifies the `event.text` of a Slint key event.
///
/// Slint encodes named keys as single characters: modifiers as U+0010 to
/// U+0018 and navigation and function keys in the private use range from
/// U+F700. Keypad Enter arrives as Return (U+000A) with the winit backend;
/// U+000D is accepted too in case another backend reports it as a carriage
/// return.
pub fn classify_key(text: &str) -> ScanKey {
    let mut chars = text.chars();
    let (Some(first), None) = (chars.next(), chars.next()) else {
        return if text.is_empty() { ScanKey::Ignored } else { ScanKey::Text(text.to_owned()) };
    };

    if first == char::from(Key::Return) || first == '\r' || first == char::from(Key::Tab) {
        return ScanKey::Terminator;
    }
    if is_ignored_key(first) {
        return ScanKey::Ignored;
    }
    ScanKey::Text(text.to_owned())
}

fn is_ignored_key(key: char) -> bool {
    let named = [Key::Escape, Key::Backspace, Key::Delete, Key::Backtab];
    let is_modifier = ('\u{10}'..='\u{18}').contains(&key);
    let is_private_use = ('\u{F700}'..='\u{F8FF}').contains(&key);
    is_modifier || is_private_use || named.into_iter().any(|named_key| char::from(named_key) == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_characters_are_text() {
        for text in ["A", "z", "0", " ", "-", "中"] {
            assert_eq!(classify_key(text), ScanKey::Text(text.to_owned()), "key {text:?}");
        }
    }

    #[test]
    fn terminators_end_a_scan() {
        let terminators = [char::from(Key::Return), char::from(Key::Tab), '\r'];
        for key in terminators {
            assert_eq!(classify_key(&key.to_string()), ScanKey::Terminator, "key {key:?}");
        }
    }

    #[test]
    fn named_keys_are_ignored() {
        let keys = [
            Key::Shift,
            Key::ShiftR,
            Key::Control,
            Key::Alt,
            Key::CapsLock,
            Key::Meta,
            Key::Escape,
            Key::Backspace,
            Key::Delete,
            Key::Backtab,
            Key::UpArrow,
            Key::PageDown,
            Key::F1,
            Key::Home,
        ];
        for key in keys {
            let text: String = char::from(key).into();
            assert_eq!(classify_key(&text), ScanKey::Ignored, "key {key:?}");
        }
    }

    #[test]
    fn empty_text_is_ignored() {
        assert_eq!(classify_key(""), ScanKey::Ignored);
    }

    #[test]
    fn scanner_framing_bytes_are_text() {
        for text in ["\u{1d}", "\u{2}", "\u{3}"] {
            assert_eq!(classify_key(text), ScanKey::Text(text.to_owned()), "key {text:?}");
        }
    }

    #[test]
    fn multi_character_text_is_kept() {
        assert_eq!(classify_key("ab"), ScanKey::Text("ab".to_owned()));
    }
}
