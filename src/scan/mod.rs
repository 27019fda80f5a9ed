//! Scan input: raw scanner text to a classified, validated [`Scan`].
//!
//! Barcode scanners in keyboard-wedge mode type their data like a keyboard,
//! with framing that differs by model and setup. [`ScanAssembler`] groups
//! timed keystrokes into scans at their terminators and drops repeat reads.
//! [`normalize`] removes the framing and classifies what is left as a
//! parcel barcode, verification code, shelf label, GS1 string or product
//! code. [`parse_pickup_code`] reads a verification code that a clerk typed.
//!
//! Letter case is never changed. When a scan looks typed with Caps Lock on,
//! [`Scan::case_swapped`] offers the inverted text for the desk to try.
//! Verification codes never appear in `Debug` output or error messages.
//!
//! [`camera`] captures frames and [`decode`] reads barcodes and QR codes in
//! them.

mod assembler;
pub mod camera;
mod check;
mod classify;
pub mod decode;
mod error;
mod gs1;
mod pickup;
mod wedge;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use assembler::{AssembledScan, ScanAssembler};
pub use error::{CodeFormat, ScanError};
pub use gs1::{GROUP_SEPARATOR, Gs1Data, Gs1Element, Gs1Error};
pub use pickup::{PICKUP_CODE_DIGITS, PickupCode, parse_pickup_code};
pub use wedge::{MAX_SCAN_CHARS, Symbology, SymbologyFamily, WedgeConfig};

/// Classification of a scan by its text and symbology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// A parcel barcode or tracking number: 4 to 40 of `A-Z`, `a-z`, `0-9`
    /// and `-` with at least one digit, or 10 to 34 digits. Text shaped like
    /// a UPU S10 number (`RA123456785CN`) has a valid S10 check digit.
    Parcel,
    /// A verification code: exactly six ASCII digits.
    PickupCode,
    /// A shelf label: `SHELF-` and 1 to 12 of `A-Z`, `0-9` and `-`.
    ShelfLabel,
    /// A GS1 element string, parsed into [`Scan::gs1`].
    Gs1,
    /// An EAN-8, UPC-E, UPC-A or EAN-13 with a valid check digit (or a
    /// GTIN-14 from an ITF-14 barcode). The desk may still match the digits
    /// against its parcels, because some couriers print such numbers.
    Product,
    /// Anything else of at most [`MAX_SCAN_CHARS`] characters.
    Unknown,
}

/// A scan after framing was removed, with its classification.
#[derive(Clone, PartialEq, Eq)]
pub struct Scan {
    /// Data as the scanner sent it, without framing and in its original
    /// letter case. A GS1 string keeps its group separators.
    pub text: String,
    /// Classification of `text`.
    pub kind: ScanKind,
    /// Symbology from the AIM identifier, if the scanner sent one.
    pub symbology: Option<Symbology>,
    /// Parsed element strings, present exactly when `kind` is
    /// [`ScanKind::Gs1`].
    pub gs1: Option<Gs1Data>,
}

impl Scan {
    /// Checks whether the letters look typed with Caps Lock on, which is
    /// when [`Scan::case_swapped`] returns a candidate.
    pub fn caps_lock_suspected(&self) -> bool {
        self.case_swapped().is_some()
    }

    /// Returns the scan with letter case swapped, when the text looks typed
    /// with Caps Lock on and the swapped text is a parcel barcode or shelf
    /// label.
    ///
    /// Caps Lock is suspected when all letters are lowercase, or when the
    /// first letter is lowercase and the letters after it are uppercase.
    /// Match [`Scan::text`] first, and try the candidate only when that
    /// finds nothing, so that a real lowercase code still matches as sent.
    pub fn case_swapped(&self) -> Option<Scan> {
        if !matches!(self.kind, ScanKind::Parcel | ScanKind::Unknown) {
            return None;
        }
        let swapped = classify::caps_lock_swap(&self.text)?;
        let (kind, gs1) = classify::classify(&swapped, self.symbology, false).ok()?;
        let upper_case_kind = matches!(kind, ScanKind::Parcel | ScanKind::ShelfLabel);
        upper_case_kind.then_some(Scan { text: swapped, kind, symbology: self.symbology, gs1 })
    }

    /// Returns the verification code of a [`ScanKind::PickupCode`] scan.
    pub fn pickup_code(&self) -> Option<PickupCode> {
        match self.kind {
            ScanKind::PickupCode => PickupCode::from_checked(&self.text),
            _ => None,
        }
    }

    /// Returns the 14-digit GTIN of a product code or of a GS1 string with
    /// AI 01. UPC-E is expanded and shorter codes are padded with zeros.
    pub fn gtin(&self) -> Option<String> {
        match self.kind {
            ScanKind::Product => classify::product_gtin(&self.text, self.symbology)?.ok(),
            ScanKind::Gs1 => self.gs1.as_ref()?.gtin().map(str::to_owned),
            _ => None,
        }
    }
}

impl fmt::Debug for Scan {
    /// Formats the scan with the text of a verification code masked.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self.kind {
            ScanKind::PickupCode => "******",
            _ => self.text.as_str(),
        };
        formatter
            .debug_struct("Scan")
            .field("text", &text)
            .field("kind", &self.kind)
            .field("symbology", &self.symbology)
            .field("gs1", &self.gs1)
            .finish()
    }
}

/// Removes scanner framing from `raw` and classifies the rest.
///
/// The framing is whatever a keyboard-wedge scanner adds: an AIM symbology
/// identifier (kept in [`Scan::symbology`]), STX and ETX, the prefixes and
/// suffixes in `config`, whitespace, Code 39 `*` start and stop characters,
/// and stray control characters. The GS1 group separator is kept.
///
/// Fails when nothing is left, when more than [`MAX_SCAN_CHARS`] characters
/// are left, or when a line break sits inside the text. It also fails when
/// the text has the shape of a kind but breaks its rules, such as a wrong
/// check digit or a GS1 string that cannot be parsed unambiguously.
pub fn normalize(raw: &str, config: &WedgeConfig) -> Result<Scan, ScanError> {
    let cleaned = wedge::clean(raw, config)?;
    let (kind, gs1) =
        classify::classify(&cleaned.text, cleaned.symbology, cleaned.leading_separator)?;
    Ok(Scan { text: cleaned.text, kind, symbology: cleaned.symbology, gs1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn scan(raw: &str) -> Result<Scan, ScanError> {
        normalize(raw, &WedgeConfig::default())
    }

    /// Checks the rules of the scan's kind without the classifier's own
    /// helpers, so the classifier cannot agree with itself by construction.
    fn kind_rules_hold(scan: &Scan) -> bool {
        let text = scan.text.as_str();
        let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let general = !text.is_empty()
            && text.chars().count() <= MAX_SCAN_CHARS
            && text.chars().all(|c| c == GROUP_SEPARATOR || !c.is_control())
            && text.trim() == text
            && (scan.kind == ScanKind::Gs1) == scan.gs1.is_some();
        let specific = match scan.kind {
            ScanKind::PickupCode => text.len() == 6 && digits_only,
            ScanKind::ShelfLabel => text.strip_prefix("SHELF-").is_some_and(|id| {
                (1..=12).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            }),
            ScanKind::Parcel => {
                let shape = (4..=40).contains(&text.len())
                    && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && text.bytes().any(|b| b.is_ascii_digit());
                let digit_length = !digits_only || (10..=34).contains(&text.len());
                let s10 = !check::is_s10_shaped(text) || check::has_valid_s10_check_digit(text);
                shape && digit_length && s10
            }
            ScanKind::Gs1 => scan.gs1.as_ref().is_some_and(|data| !data.elements.is_empty()),
            ScanKind::Product => {
                let main = if matches!(text.len(), 15 | 18) { &text[..13] } else { text };
                let upc_e = check::expand_upc_e(main)
                    .is_some_and(|upc_a| check::has_valid_gs1_check_digit(&upc_a));
                digits_only && (check::has_valid_gs1_check_digit(main) || upc_e)
            }
            ScanKind::Unknown => true,
        };
        general && specific
    }

    #[test]
    fn scanner_dialects_normalize_alike() {
        for raw in ["]C1JJD0001", "JJD0001", "*JJD0001", "\u{2}JJD0001", " JJD0001 "] {
            let scan = scan(raw).unwrap();
            assert_eq!(scan.text, "JJD0001", "{raw:?}");
            assert_eq!(scan.kind, ScanKind::Parcel, "{raw:?}");
        }
    }

    #[test]
    fn aim_identifier_is_remembered() {
        let scan = scan("]C1JJD0001").unwrap();
        assert_eq!(scan.symbology.map(Symbology::identifier).as_deref(), Some("]C1"));
    }

    #[test]
    fn gs1_scan_exposes_parsed_data() {
        let scan = scan("]C1010950110153000310ABC\u{1D}17251231").unwrap();
        assert_eq!(scan.kind, ScanKind::Gs1);
        assert_eq!(scan.gtin().as_deref(), Some("09501101530003"));
        let data = scan.gs1.unwrap();
        assert_eq!(data.lot(), Some("ABC"));
        assert_eq!(data.expiry(), NaiveDate::from_ymd_opt(2025, 12, 31));
    }

    #[test]
    fn pickup_scan_is_masked_in_debug() {
        let scan = scan(" 012345 ").unwrap();
        assert_eq!(scan.kind, ScanKind::PickupCode);
        assert!(!format!("{scan:?}").contains("012345"));
        assert!(format!("{scan:?}").contains("******"));
    }

    #[test]
    fn pickup_scan_yields_code() {
        let scan = scan("０１２３４５").unwrap();
        assert_eq!(
            scan.pickup_code().map(|code| code.as_str().to_owned()).as_deref(),
            Some("012345")
        );
    }

    #[test]
    fn shelf_label_scan_is_classified() {
        let scan = scan("SHELF-B3").unwrap();
        assert_eq!(scan.kind, ScanKind::ShelfLabel);
    }

    #[test]
    fn valid_s10_scan_is_parcel() {
        let scan = scan("RA123456785CN").unwrap();
        assert_eq!(scan.kind, ScanKind::Parcel);
    }

    #[test]
    fn invalid_s10_scan_is_rejected() {
        let error = scan("RA123456784CN").unwrap_err();
        assert!(matches!(error, ScanError::S10CheckDigit { .. }));
        assert!(error.to_string().contains("wrong check digit"));
    }

    #[test]
    fn product_scan_has_gtin() {
        let scan = scan("]E00036000291452").unwrap();
        assert_eq!(scan.kind, ScanKind::Product);
        assert_eq!(scan.gtin().as_deref(), Some("00036000291452"));
    }

    #[test]
    fn product_scan_keeps_raw_text() {
        let scan = scan("4006381333931").unwrap();
        assert_eq!(scan.kind, ScanKind::Product);
        assert_eq!(scan.text, "4006381333931");
    }

    #[test]
    fn caps_lock_parcel_is_detected() {
        let scan = scan("jjd0001").unwrap();
        let swapped = scan.case_swapped().unwrap();
        assert_eq!(scan.text, "jjd0001");
        assert!(scan.caps_lock_suspected());
        assert_eq!(swapped.text, "JJD0001");
        assert_eq!(swapped.kind, ScanKind::Parcel);
    }

    #[test]
    fn caps_lock_s10_is_detected() {
        let scan = scan("ra123456785cn").unwrap();
        let swapped = scan.case_swapped().unwrap();
        assert_eq!(swapped.text, "RA123456785CN");
    }

    #[test]
    fn caps_lock_shelf_label_is_detected() {
        let scan = scan("shelf-b3").unwrap();
        let swapped = scan.case_swapped().unwrap();
        assert_eq!(scan.kind, ScanKind::Unknown);
        assert_eq!(swapped.kind, ScanKind::ShelfLabel);
        assert_eq!(swapped.text, "SHELF-B3");
    }

    #[test]
    fn caps_lock_mixed_case_is_detected() {
        let scan = scan("pKG1").unwrap();
        assert_eq!(scan.case_swapped().map(|swapped| swapped.text).as_deref(), Some("Pkg1"));
    }

    #[test]
    fn upper_case_parcel_is_not_suspected() {
        let scan = scan("JJD0001").unwrap();
        assert!(!scan.caps_lock_suspected());
    }

    #[test]
    fn lowercase_words_are_not_suspected() {
        let scan = scan("hello").unwrap();
        assert_eq!(scan.kind, ScanKind::Unknown);
        assert!(!scan.caps_lock_suspected());
    }

    #[test]
    fn over_long_scan_is_rejected() {
        let error = scan(&"A".repeat(129)).unwrap_err();
        assert_eq!(error, ScanError::TooLong { length: 129, max: 128 });
    }

    #[test]
    fn control_characters_are_dropped() {
        let scan = scan("\u{2}JJD\u{7}0001\u{1B}\u{3}").unwrap();
        assert_eq!(scan.text, "JJD0001");
    }

    #[test]
    fn embedded_line_break_is_rejected() {
        assert_eq!(scan("JJD0001\nJJD0002"), Err(ScanError::LineBreak));
    }

    #[test]
    fn empty_scan_is_rejected() {
        let error = scan(" \r\n").unwrap_err();
        assert_eq!(error.to_string(), "barcode is empty: scan the label again");
    }

    #[test]
    fn sql_looking_text_is_unknown() {
        for raw in ["'; DROP TABLE parcels; --", "1' OR '1'='1", "JJD0001' --", "x\" OR 1=1"] {
            let kind = scan(raw).map(|scan| scan.kind);
            assert_eq!(kind, Ok(ScanKind::Unknown), "{raw:?}");
        }
    }

    #[test]
    fn sql_looking_gs1_is_rejected() {
        let error = scan("10'; DROP TABLE x\u{1D}21x").unwrap_err();
        assert!(matches!(error, ScanError::Gs1(Gs1Error::InvalidCharacter { .. })));
    }

    fn keystroke() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::char::range('0', '9'),
            3 => proptest::char::range('A', 'Z'),
            1 => proptest::char::range('a', 'z'),
            1 => prop::sample::select(vec!['\r', '\n', '\t', '\u{1D}', '\u{2}', '\u{3}']),
            1 => prop::sample::select(vec!['-', ' ', ']', '*', '\'', '０', 'ｊ']),
            1 => any::<char>(),
        ]
    }

    fn assembled_scans_hold_rules(output: &[AssembledScan]) -> Result<(), TestCaseError> {
        for event in output {
            if let AssembledScan::Accepted(scan) | AssembledScan::Repeated(scan) = event {
                prop_assert!(kind_rules_hold(scan), "{scan:?}");
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn assembler_accepts_only_valid_scans(
            keys in prop::collection::vec((keystroke(), 0u64..700), 0..300),
        ) {
            let mut assembler = ScanAssembler::default();
            let mut now = std::time::Instant::now();
            let mut output = Vec::new();
            for (key, gap_ms) in keys {
                now += std::time::Duration::from_millis(gap_ms);
                output.extend(assembler.feed(key, now));
            }
            output.extend(assembler.flush(now + std::time::Duration::from_secs(1)));
            assembled_scans_hold_rules(&output)?;
        }

        #[test]
        fn assembler_survives_unordered_clock(
            keys in prop::collection::vec((keystroke(), 0u64..5_000), 0..200),
        ) {
            let mut assembler = ScanAssembler::default();
            let start = std::time::Instant::now();
            let mut output = Vec::new();
            for (key, offset_ms) in keys {
                let at = start + std::time::Duration::from_millis(offset_ms);
                output.extend(assembler.feed(key, at));
                output.extend(assembler.flush(at));
            }
            assembled_scans_hold_rules(&output)?;
        }

        #[test]
        fn normalize_never_panics(raw in any::<String>()) {
            if let Ok(scan) = normalize(&raw, &WedgeConfig::default()) {
                prop_assert!(kind_rules_hold(&scan), "{scan:?}");
            }
        }

        #[test]
        fn normalize_scanner_like_text(
            raw in "(\\]|\\*|\u{2}| )?[A-Za-z0-9\u{1D}\u{3}\u{FF10}-\u{FF19} *'-]{0,60}\r?\n?",
        ) {
            if let Ok(scan) = normalize(&raw, &WedgeConfig::default()) {
                prop_assert!(kind_rules_hold(&scan), "{scan:?}");
                if let Some(swapped) = scan.case_swapped() {
                    prop_assert!(kind_rules_hold(&swapped), "{swapped:?}");
                }
            }
        }

        #[test]
        fn pickup_errors_hide_digit_runs(raw in "[0-9０-９ a-z\r\n\t]{0,40}") {
            if let Err(error) = parse_pickup_code(&raw) {
                let message = error.to_string();
                let longest_run = message
                    .split(|c: char| !c.is_ascii_digit())
                    .map(str::len)
                    .max()
                    .unwrap_or(0);
                prop_assert!(longest_run <= 2, "{message}");
            }
        }

        #[test]
        fn pickup_debug_never_shows_digits(digits in "[0-9]{6}") {
            let scan = normalize(&digits, &WedgeConfig::default()).unwrap();
            let debug = format!("{scan:?}");
            prop_assert!(!debug.contains(&digits), "{}", debug);
            let code = parse_pickup_code(&digits).unwrap();
            prop_assert_eq!(code.as_str(), digits.as_str());
            prop_assert_eq!(format!("{code:?}"), "******");
        }
    }
}
