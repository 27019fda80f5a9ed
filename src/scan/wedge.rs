//! Keyboard-wedge dialects: removing what scanners add around the data.
//!
//! A scanner in keyboard mode may add a configured prefix and suffix, an AIM
//! symbology identifier such as `]C1`, STX/ETX framing, spaces and the `*`
//! start and stop characters of Code 39. [`clean`] removes all of these and
//! keeps the GS1 group separator (ASCII 29), which a keyboard delivers as
//! Ctrl+] and so arrives as the same byte.

use std::fmt;
use std::time::Duration;

use super::error::ScanError;
use super::gs1::GROUP_SEPARATOR;

/// Maximum length of a scan after cleaning, in characters. The longest label
/// this desk reads, a GS1-128 logistic label, fits well within it.
pub const MAX_SCAN_CHARS: usize = 128;

/// Raw input longer than this (in bytes) is rejected before cleaning, which
/// bounds the work spent on a stuck key or a pasted document.
const MAX_RAW_BYTES: usize = 4096;

/// Settings of a keyboard-wedge scanner: the framing it adds around the
/// data, and the timing rules that group its keystrokes into scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WedgeConfig {
    /// Prefixes the scanner is configured to send before the data. At most
    /// one is removed, the longest that matches.
    pub prefixes: Vec<String>,
    /// Suffixes the scanner is configured to send after the data, before the
    /// terminator. At most one is removed, the longest that matches.
    pub suffixes: Vec<String>,
    /// Time within which the same code arriving again is ignored as a
    /// repeat read.
    pub blanking: Duration,
    /// Quiet time after which a scan with no terminator is accepted, if it
    /// validates.
    pub idle_flush: Duration,
}

impl Default for WedgeConfig {
    /// Creates a configuration with no prefixes or suffixes, a 300 ms
    /// blanking window and a 500 ms idle flush.
    ///
    /// NOTE: 500 ms is an estimate. It is meant to sit above the stalls of a
    /// wireless scanner and below the time a clerk waits for feedback, and
    /// was not measured on real hardware.
    fn default() -> Self {
        WedgeConfig {
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            blanking: Duration::from_millis(300),
            idle_flush: Duration::from_millis(500),
        }
    }
}

/// The symbology named by an AIM identifier (ISO/IEC 15424): `]`, a code
/// character and a modifier character.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbology {
    code: char,
    modifier: char,
}

/// Barcode families that the AIM code character distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbologyFamily {
    Code39,
    Code128,
    EanUpc,
    DataBar,
    Codabar,
    Code93,
    Interleaved2Of5,
    Pdf417,
    DataMatrix,
    QrCode,
    Aztec,
    Other,
}

impl Symbology {
    /// Reads an AIM identifier such as `]C1` at the start of `text`.
    ///
    /// Note that only a letter followed by a digit is accepted as code and
    /// modifier, so data that starts with `]` and two other characters stays
    /// data.
    pub fn from_prefix(text: &str) -> Option<Symbology> {
        let mut chars = text.chars();
        let (bracket, code, modifier) = (chars.next()?, chars.next()?, chars.next()?);
        let valid = bracket == ']' && code.is_ascii_alphabetic() && modifier.is_ascii_digit();
        valid.then_some(Symbology { code, modifier })
    }

    /// Returns the AIM code character, such as `C` for Code 128.
    pub fn code(self) -> char {
        self.code
    }

    /// Returns the AIM modifier character, such as `1` in `]C1`.
    pub fn modifier(self) -> char {
        self.modifier
    }

    /// Returns the identifier as the scanner sent it, such as `]C1`.
    pub fn identifier(self) -> String {
        format!("]{}{}", self.code, self.modifier)
    }

    /// Returns the barcode family of the code character.
    pub fn family(self) -> SymbologyFamily {
        match self.code {
            'A' => SymbologyFamily::Code39,
            'C' => SymbologyFamily::Code128,
            'E' => SymbologyFamily::EanUpc,
            'e' => SymbologyFamily::DataBar,
            'F' => SymbologyFamily::Codabar,
            'G' => SymbologyFamily::Code93,
            'I' => SymbologyFamily::Interleaved2Of5,
            'L' => SymbologyFamily::Pdf417,
            'd' => SymbologyFamily::DataMatrix,
            'Q' => SymbologyFamily::QrCode,
            'z' => SymbologyFamily::Aztec,
            _ => SymbologyFamily::Other,
        }
    }

    /// Checks whether the identifier marks GS1 data: GS1-128 (`]C1`), GS1
    /// DataBar (`]e0`), GS1 DataMatrix (`]d2`, `]d5`) and GS1 QR Code (`]Q3`,
    /// `]Q4`).
    pub fn implies_gs1(self) -> bool {
        matches!(
            (self.code, self.modifier),
            ('C', '1') | ('e', '0') | ('d', '2') | ('d', '5') | ('Q', '3') | ('Q', '4')
        )
    }

    /// Checks whether the identifier names an EAN or UPC barcode.
    pub fn is_ean_upc(self) -> bool {
        self.family() == SymbologyFamily::EanUpc
    }
}

impl fmt::Debug for Symbology {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Symbology({})", self.identifier())
    }
}

/// Scanner text with the framing removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cleaned {
    pub text: String,
    pub symbology: Option<Symbology>,
    /// A group separator came before the data, as some scanners send for
    /// FNC1 in the first position of a GS1 barcode.
    pub leading_separator: bool,
}

/// Removes framing from raw scanner text.
///
/// Full-width ASCII forms (U+FF01 to U+FF5E, as an East Asian input method
/// types them) become ASCII first. Then the edges lose whitespace, control
/// characters other than GS, one configured prefix and suffix, one AIM
/// identifier, and one `*` on each side unless the AIM identifier names a
/// symbology other than Code 39. Control characters inside the data are
/// dropped, except GS. Fails when nothing is left, when the text is longer
/// than [`MAX_SCAN_CHARS`], or when a line break or tab sits inside it.
pub(super) fn clean(raw: &str, config: &WedgeConfig) -> Result<Cleaned, ScanError> {
    if raw.len() > MAX_RAW_BYTES {
        return Err(ScanError::TooLong { length: raw.chars().count(), max: MAX_SCAN_CHARS });
    }
    let widened = to_ascii_width(raw);
    let front = strip_front(&widened, config);
    let body = strip_back(front.rest, config, allows_stars(front.symbology));

    let mut text = String::with_capacity(body.len());
    for c in body.chars() {
        if is_line_break(c) {
            return Err(ScanError::LineBreak);
        }
        if c == GROUP_SEPARATOR || !is_stray(c) {
            text.push(c);
        }
    }
    if text.is_empty() {
        return Err(ScanError::Empty);
    }
    let length = text.chars().count();
    if length > MAX_SCAN_CHARS {
        return Err(ScanError::TooLong { length, max: MAX_SCAN_CHARS });
    }
    Ok(Cleaned { text, symbology: front.symbology, leading_separator: front.leading_separator })
}

/// Converts full-width ASCII forms and the ideographic space to ASCII.
pub(super) fn to_ascii_width(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Checks for characters that may be trimmed from either end of a scan:
/// whitespace, control characters other than GS, and invisible format
/// characters.
pub(super) fn is_edge_junk(c: char) -> bool {
    c != GROUP_SEPARATOR && (c.is_whitespace() || is_stray(c))
}

/// Checks for control and invisible format characters, such as STX, ETX,
/// BEL, a zero-width space or a byte order mark.
fn is_stray(c: char) -> bool {
    c.is_control() || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}')
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{B}' | '\u{C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

struct Front<'a> {
    rest: &'a str,
    symbology: Option<Symbology>,
    leading_separator: bool,
}

/// Strips the start of `text` until nothing more matches. Each configured
/// prefix, AIM identifier and `*` is removed at most once.
fn strip_front<'a>(text: &'a str, config: &WedgeConfig) -> Front<'a> {
    let mut front = Front { rest: text, symbology: None, leading_separator: false };
    let mut prefix_removed = false;
    let mut star_removed = false;
    loop {
        let rest = front.rest;
        if !prefix_removed && let Some(prefix) = longest_match(&config.prefixes, rest, true) {
            front.rest = &rest[prefix.len()..];
            prefix_removed = true;
            continue;
        }
        let trimmed = rest.trim_start_matches(is_edge_junk);
        if trimmed.len() != rest.len() {
            front.rest = trimmed;
            continue;
        }
        if front.symbology.is_none()
            && let Some(symbology) = Symbology::from_prefix(rest)
        {
            front.symbology = Some(symbology);
            front.rest = &rest[3..];
            continue;
        }
        if let Some(after) = rest.strip_prefix(GROUP_SEPARATOR) {
            front.leading_separator = true;
            front.rest = after;
            continue;
        }
        let stars = allows_stars(front.symbology);
        if !star_removed
            && stars
            && let Some(after) = rest.strip_prefix('*')
        {
            star_removed = true;
            front.rest = after;
            continue;
        }
        return front;
    }
}

/// Strips the end of `text` until nothing more matches. The configured
/// suffix and a `*` are removed at most once, and trailing group separators
/// always, since a separator ends nothing at the end of the data.
fn strip_back<'a>(text: &'a str, config: &WedgeConfig, allow_star: bool) -> &'a str {
    let mut rest = text;
    let mut suffix_removed = false;
    let mut star_removed = !allow_star;
    loop {
        if !suffix_removed && let Some(suffix) = longest_match(&config.suffixes, rest, false) {
            rest = &rest[..rest.len() - suffix.len()];
            suffix_removed = true;
            continue;
        }
        let trimmed = rest.trim_end_matches(|c| is_edge_junk(c) || c == GROUP_SEPARATOR);
        if trimmed.len() != rest.len() {
            rest = trimmed;
            continue;
        }
        if !star_removed && let Some(before) = rest.strip_suffix('*') {
            star_removed = true;
            rest = before;
            continue;
        }
        return rest;
    }
}

/// Checks whether `*` at the edges is a Code 39 start or stop character: when
/// the symbology is Code 39 or unknown.
fn allows_stars(symbology: Option<Symbology>) -> bool {
    symbology.is_none_or(|symbology| symbology.family() == SymbologyFamily::Code39)
}

/// Finds the longest non-empty entry of `candidates` that starts (or ends)
/// `text`.
fn longest_match<'c>(candidates: &'c [String], text: &str, at_start: bool) -> Option<&'c str> {
    candidates
        .iter()
        .map(String::as_str)
        .filter(|candidate| !candidate.is_empty())
        .filter(
            |candidate| {
                if at_start { text.starts_with(candidate) } else { text.ends_with(candidate) }
            },
        )
        .max_by_key(|candidate| candidate.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean_default(raw: &str) -> Result<Cleaned, ScanError> {
        clean(raw, &WedgeConfig::default())
    }

    fn text_of(raw: &str) -> String {
        clean_default(raw).map(|cleaned| cleaned.text).unwrap_or_else(|error| error.to_string())
    }

    #[test]
    fn aim_identifier_is_removed_and_kept() {
        let cleaned = clean_default("]C1JJD0001").unwrap();
        assert_eq!(cleaned.text, "JJD0001");
        assert_eq!(cleaned.symbology.map(Symbology::identifier).as_deref(), Some("]C1"));
    }

    #[test]
    fn aim_identifier_families_are_named() {
        let family = |raw: &str| Symbology::from_prefix(raw).map(Symbology::family);
        assert_eq!(family("]E0"), Some(SymbologyFamily::EanUpc));
        assert_eq!(family("]Q1"), Some(SymbologyFamily::QrCode));
        assert_eq!(family("]d2"), Some(SymbologyFamily::DataMatrix));
        assert_eq!(family("]A0"), Some(SymbologyFamily::Code39));
        assert_eq!(family("]Y9"), Some(SymbologyFamily::Other));
    }

    #[test]
    fn aim_identifier_needs_letter_and_digit() {
        assert_eq!(Symbology::from_prefix("]1C"), None);
        assert_eq!(Symbology::from_prefix("]CC"), None);
        assert_eq!(Symbology::from_prefix("]C"), None);
        assert_eq!(text_of("]]C1X1"), "]]C1X1");
    }

    #[test]
    fn gs1_identifiers_imply_gs1() {
        let implies = |raw: &str| Symbology::from_prefix(raw).is_some_and(Symbology::implies_gs1);
        assert!(implies("]C1"));
        assert!(implies("]d2"));
        assert!(implies("]Q3"));
        assert!(implies("]e0"));
        assert!(!implies("]C0"));
        assert!(!implies("]Q1"));
        assert!(!implies("]E0"));
    }

    #[test]
    fn framing_and_whitespace_are_removed() {
        assert_eq!(text_of("\u{2}JJD0001\u{3}"), "JJD0001");
        assert_eq!(text_of("  JJD0001 \r\n"), "JJD0001");
        assert_eq!(text_of("\u{FEFF}JJD0001\u{200B}"), "JJD0001");
    }

    #[test]
    fn code39_stars_are_removed() {
        assert_eq!(text_of("*JJD0001*"), "JJD0001");
        assert_eq!(text_of("*JJD0001"), "JJD0001");
        assert_eq!(text_of("JJD0001*"), "JJD0001");
        assert_eq!(text_of("]A0*JJD0001*"), "JJD0001");
    }

    #[test]
    fn one_star_per_side_is_removed() {
        assert_eq!(text_of("**JJD0001**"), "*JJD0001*");
    }

    #[test]
    fn stars_stay_in_qr_data() {
        assert_eq!(text_of("]Q1*JJD0001*"), "*JJD0001*");
    }

    #[test]
    fn configured_prefix_and_suffix_are_removed() {
        let config = WedgeConfig {
            prefixes: vec!["S".to_owned(), "SCAN:".to_owned()],
            suffixes: vec!["#END".to_owned()],
            ..WedgeConfig::default()
        };
        let cleaned = clean("\u{2}SCAN:]C1JJD0001#END\u{3}", &config).unwrap();
        assert_eq!(cleaned.text, "JJD0001");
        assert!(cleaned.symbology.is_some());
    }

    #[test]
    fn prefix_is_removed_only_once() {
        let config = WedgeConfig { prefixes: vec!["A".to_owned()], ..WedgeConfig::default() };
        assert_eq!(clean("AAB1", &config).unwrap().text, "AB1");
    }

    #[test]
    fn empty_prefix_is_ignored() {
        let config = WedgeConfig { prefixes: vec![String::new()], ..WedgeConfig::default() };
        assert_eq!(clean("PKG1", &config).unwrap().text, "PKG1");
    }

    #[test]
    fn group_separator_is_kept_inside() {
        assert_eq!(text_of("10ABC\u{1D}17251231"), "10ABC\u{1D}17251231");
    }

    #[test]
    fn leading_group_separator_is_noted() {
        let cleaned = clean_default("\u{1D}0109501101530003\u{1D}").unwrap();
        assert_eq!(cleaned.text, "0109501101530003");
        assert!(cleaned.leading_separator);
    }

    #[test]
    fn stray_controls_inside_are_dropped() {
        assert_eq!(text_of("JJD\u{7}00\u{0}01"), "JJD0001");
    }

    #[test]
    fn line_break_inside_is_rejected() {
        assert_eq!(clean_default("PKG1\nPKG2"), Err(ScanError::LineBreak));
        assert_eq!(clean_default("PKG1\tPKG2"), Err(ScanError::LineBreak));
        assert_eq!(clean_default("PKG1\r\nPKG2"), Err(ScanError::LineBreak));
    }

    #[test]
    fn only_framing_is_empty() {
        assert_eq!(clean_default(""), Err(ScanError::Empty));
        assert_eq!(clean_default(" \u{2}\u{3} "), Err(ScanError::Empty));
        assert_eq!(clean_default("]C1"), Err(ScanError::Empty));
        assert_eq!(clean_default("**"), Err(ScanError::Empty));
    }

    #[test]
    fn text_over_limit_is_too_long() {
        let error = clean_default(&"A".repeat(129)).unwrap_err();
        assert_eq!(error, ScanError::TooLong { length: 129, max: 128 });
    }

    #[test]
    fn text_at_limit_is_accepted() {
        assert_eq!(text_of(&"A".repeat(128)).len(), 128);
    }

    #[test]
    fn huge_raw_input_is_too_long() {
        let error = clean_default(&" ".repeat(10_000)).unwrap_err();
        assert_eq!(error, ScanError::TooLong { length: 10_000, max: 128 });
    }

    #[test]
    fn full_width_forms_become_ascii() {
        assert_eq!(text_of("ＪＪＤ０００１"), "JJD0001");
        assert_eq!(text_of("\u{3000}０１２３４５\u{3000}"), "012345");
    }

    #[test]
    fn letter_case_is_kept() {
        assert_eq!(text_of("jjd0001"), "jjd0001");
    }
}
