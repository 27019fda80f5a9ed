//! Classification of cleaned scan text into a [`ScanKind`], with the
//! validation rules of each kind.

use super::ScanKind;
use super::check::{
    expand_upc_e, has_valid_gs1_check_digit, has_valid_s10_check_digit, is_s10_shaped,
};
use super::error::{CodeFormat, ScanError};
use super::gs1::{GROUP_SEPARATOR, Gs1Data, Gs1Error};
use super::pickup::is_pickup_code_text;
use super::wedge::{Symbology, SymbologyFamily};

/// Prefix of a shelf label, compared without regard to case when deciding
/// that text is meant as a shelf label.
const SHELF_PREFIX: &str = "SHELF-";

/// Maximum number of characters after [`SHELF_PREFIX`].
const MAX_SHELF_ID_CHARS: usize = 12;

/// Length bounds of a parcel barcode, in characters.
const PARCEL_CHARS: std::ops::RangeInclusive<usize> = 4..=40;

/// Length bounds of a parcel barcode made of digits only. Chinese couriers
/// use 10 to 15 digits. The upper bound fits a USPS label read with its
/// routing code: `420`, a nine-digit ZIP code and a 22-digit number.
const DIGIT_PARCEL_CHARS: std::ops::RangeInclusive<usize> = 10..=34;

/// Classifies cleaned text and parses its GS1 data, if any.
///
/// Six digits are a verification code before anything else, even after a
/// GS1 identifier, so that no GS1 error message can repeat them. Fails when the text has the shape of a kind but breaks its rules: a
/// wrong EAN/UPC check digit after an EAN/UPC identifier, a wrong S10 check
/// digit, or a GS1 string that cannot be parsed unambiguously.
pub(super) fn classify(
    text: &str,
    symbology: Option<Symbology>,
    leading_separator: bool,
) -> Result<(ScanKind, Option<Gs1Data>), ScanError> {
    if is_pickup_code_text(text) {
        return Ok((ScanKind::PickupCode, None));
    }
    if let Some(data) = classify_gs1(text, symbology, leading_separator)? {
        return Ok((ScanKind::Gs1, Some(data)));
    }
    Ok((classify_plain(text, symbology)?, None))
}

/// Parses the text as GS1 when something marks it as GS1.
///
/// A group separator inside the text is proof, so any parse error is
/// returned. A GS1 AIM identifier or a leading separator is a hint: the text
/// is still classified otherwise when its very first characters start no
/// AI, as with `]C1JJD0001`. Text with no mark at all is tried only when it
/// starts with AI 00, 01 or 02 and is long enough to hold that element.
/// An ambiguous result is an error in every case, because guessing where a
/// lot ends would record wrong data.
fn classify_gs1(
    text: &str,
    symbology: Option<Symbology>,
    leading_separator: bool,
) -> Result<Option<Gs1Data>, ScanError> {
    let marked = text.contains(GROUP_SEPARATOR);
    let hinted = leading_separator || symbology.is_some_and(Symbology::implies_gs1);
    if !marked && !hinted && !looks_like_unmarked_gs1(text) {
        return Ok(None);
    }
    match Gs1Data::parse(text) {
        Ok(data) => Ok(Some(data)),
        Err(error) if marked => Err(error.into()),
        Err(error @ Gs1Error::Ambiguous { .. }) => Err(error.into()),
        Err(Gs1Error::UnknownAi { position: 1 }) => Ok(None),
        Err(error) if hinted => Err(error.into()),
        Err(_) => Ok(None),
    }
}

fn looks_like_unmarked_gs1(text: &str) -> bool {
    text.len() >= 16 && ["00", "01", "02"].iter().any(|ai| text.starts_with(ai))
}

fn classify_plain(text: &str, symbology: Option<Symbology>) -> Result<ScanKind, ScanError> {
    if has_shelf_prefix(text) {
        let kind = if is_shelf_label(text) { ScanKind::ShelfLabel } else { ScanKind::Unknown };
        return Ok(kind);
    }
    if text.bytes().all(|byte| byte.is_ascii_digit()) {
        return classify_digits(text, symbology);
    }
    if !is_parcel_text(text) {
        return Ok(ScanKind::Unknown);
    }
    if is_s10_shaped(text) && !has_valid_s10_check_digit(text) {
        return Err(ScanError::S10CheckDigit { code: text.to_owned() });
    }
    Ok(ScanKind::Parcel)
}

/// Classifies text of ASCII digits only, which may be a product code or a
/// courier number.
fn classify_digits(text: &str, symbology: Option<Symbology>) -> Result<ScanKind, ScanError> {
    match product_gtin(text, symbology) {
        Some(Ok(_)) => return Ok(ScanKind::Product),
        Some(Err(format)) => {
            return Err(ScanError::CheckDigit { format, code: text.to_owned() });
        }
        None => {}
    }
    if symbology.is_some_and(Symbology::is_ean_upc) {
        return Ok(ScanKind::Unknown);
    }
    if DIGIT_PARCEL_CHARS.contains(&text.len()) {
        return Ok(ScanKind::Parcel);
    }
    Ok(ScanKind::Unknown)
}

/// Returns the GTIN-14 of digit-only text that counts as a product code, or
/// the format whose check digit failed when the EAN/UPC identifier promised
/// a product code. Returns `None` when the text is not a product code.
///
/// Without an identifier, only 8, 12 and 13 digits with a valid check digit
/// count, because 14 digits are as likely a courier number. After an ITF
/// identifier, 14 digits with a valid check digit count. After any other
/// identifier, nothing counts.
pub(super) fn product_gtin(
    text: &str,
    symbology: Option<Symbology>,
) -> Option<Result<String, CodeFormat>> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    match symbology {
        Some(symbology) if symbology.is_ean_upc() => ean_upc_gtin(text, symbology.modifier()),
        Some(symbology) if symbology.family() == SymbologyFamily::Interleaved2Of5 => {
            let valid = text.len() == 14 && has_valid_gs1_check_digit(text);
            valid.then(|| Ok(text.to_owned()))
        }
        Some(_) => None,
        None if matches!(text.len(), 8 | 12 | 13) => {
            // Without an identifier a wrong check digit is no error: the
            // digits may be a courier number instead.
            checked_gtin(text, true).ok().map(Ok)
        }
        None => None,
    }
}

/// Checks digits sent after an EAN/UPC identifier. Modifier 3 carries a
/// two- or five-digit add-on after 13 main digits, and modifier 4 marks
/// EAN-8. Other lengths return `None`.
fn ean_upc_gtin(text: &str, modifier: char) -> Option<Result<String, CodeFormat>> {
    let main = match (modifier, text.len()) {
        ('3', 15 | 18) => &text[..13],
        (_, 8 | 12 | 13) => text,
        _ => return None,
    };
    let upc_e_possible = modifier != '4';
    Some(checked_gtin(main, upc_e_possible))
}

/// Validates 8, 12, 13 or 14 digits and returns them as a GTIN-14, or the
/// format whose check failed. Eight digits are tried as EAN-8 first and
/// then, when `upc_e_possible`, as UPC-E.
fn checked_gtin(digits: &str, upc_e_possible: bool) -> Result<String, CodeFormat> {
    let format = match digits.len() {
        8 => CodeFormat::Ean8,
        12 => CodeFormat::UpcA,
        13 => CodeFormat::Ean13,
        _ => CodeFormat::Gtin14,
    };
    if has_valid_gs1_check_digit(digits) {
        return Ok(format!("{digits:0>14}"));
    }
    if format == CodeFormat::Ean8 && upc_e_possible {
        let expanded = expand_upc_e(digits).filter(|upc_a| has_valid_gs1_check_digit(upc_a));
        return expanded.map(|upc_a| format!("{upc_a:0>14}")).ok_or(CodeFormat::UpcE);
    }
    Err(format)
}

fn has_shelf_prefix(text: &str) -> bool {
    text.get(..SHELF_PREFIX.len()).is_some_and(|start| start.eq_ignore_ascii_case(SHELF_PREFIX))
}

/// Checks the shelf label rule: `SHELF-` and 1 to 12 of `A-Z`, `0-9`, `-`.
pub(super) fn is_shelf_label(text: &str) -> bool {
    let Some(id) = text.strip_prefix(SHELF_PREFIX) else {
        return false;
    };
    (1..=MAX_SHELF_ID_CHARS).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks the shape of a parcel barcode: 4 to 40 of `A-Z`, `a-z`, `0-9`,
/// `-`, with at least one digit, and not meant as a shelf label.
pub(super) fn is_parcel_text(text: &str) -> bool {
    PARCEL_CHARS.contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && text.bytes().any(|b| b.is_ascii_digit())
        && !has_shelf_prefix(text)
}

/// Returns `text` with the case of every ASCII letter swapped, when its
/// letters look typed with Caps Lock on.
///
/// That is the case when all letters are lowercase, or when the first run
/// of letters has a lowercase first letter and uppercase letters after it
/// (`jJD0001` for `Jjd0001`). Text without letters, or with characters
/// outside ASCII, returns `None`.
pub(super) fn caps_lock_swap(text: &str) -> Option<String> {
    if !text.is_ascii() {
        return None;
    }
    let mut letters = text.bytes().filter(u8::is_ascii_alphabetic).peekable();
    letters.peek()?;
    let all_lowercase = letters.all(|b| b.is_ascii_lowercase());
    let first_run: Vec<u8> = text
        .bytes()
        .skip_while(|b| !b.is_ascii_alphabetic())
        .take_while(u8::is_ascii_alphabetic)
        .collect();
    let inverted_run = first_run.len() >= 2
        && first_run[0].is_ascii_lowercase()
        && first_run[1..].iter().all(u8::is_ascii_uppercase);
    if !all_lowercase && !inverted_run {
        return None;
    }
    let swapped = text.chars().map(swap_ascii_case).collect();
    Some(swapped)
}

fn swap_ascii_case(c: char) -> char {
    if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> Result<ScanKind, ScanError> {
        classify(text, None, false).map(|(kind, _)| kind)
    }

    fn kind_after(identifier: &str, text: &str) -> Result<ScanKind, ScanError> {
        classify(text, Symbology::from_prefix(identifier), false).map(|(kind, _)| kind)
    }

    #[test]
    fn six_digits_are_pickup_code() {
        assert_eq!(kind_of("012345"), Ok(ScanKind::PickupCode));
    }

    #[test]
    fn six_digits_beat_gs1_identifier() {
        // 422276 is also a valid GS1 element string: AI 422, country 276.
        assert_eq!(kind_after("]C1", "422276"), Ok(ScanKind::PickupCode));
        assert_eq!(kind_after("]C1", "123456"), Ok(ScanKind::PickupCode));
    }

    #[test]
    fn shelf_label_is_recognised() {
        assert_eq!(kind_of("SHELF-B3"), Ok(ScanKind::ShelfLabel));
        assert_eq!(kind_of("SHELF-A-12"), Ok(ScanKind::ShelfLabel));
    }

    #[test]
    fn malformed_shelf_label_is_unknown() {
        assert_eq!(kind_of("SHELF-"), Ok(ScanKind::Unknown));
        assert_eq!(kind_of("SHELF-ABCDEFGHIJKLM"), Ok(ScanKind::Unknown));
        assert_eq!(kind_of("SHELF-b3"), Ok(ScanKind::Unknown));
        assert_eq!(kind_of("shelf-b3"), Ok(ScanKind::Unknown));
    }

    #[test]
    fn tracking_numbers_are_parcels() {
        for text in ["JJD0001", "PKG1", "RA123456785CN", "1Z999AA10123456784"] {
            assert_eq!(kind_of(text), Ok(ScanKind::Parcel), "{text}");
        }
    }

    #[test]
    fn courier_digit_numbers_are_parcels() {
        assert_eq!(kind_of("7730123456"), Ok(ScanKind::Parcel));
        assert_eq!(kind_of("773012345678901"), Ok(ScanKind::Parcel));
        assert_eq!(kind_of("9400100000000000000000"), Ok(ScanKind::Parcel));
    }

    #[test]
    fn short_digit_strings_are_unknown() {
        assert_eq!(kind_of("1234"), Ok(ScanKind::Unknown));
        assert_eq!(kind_of("12345"), Ok(ScanKind::Unknown));
        assert_eq!(kind_of("0123456"), Ok(ScanKind::Unknown));
    }

    #[test]
    fn parcel_needs_a_digit() {
        assert_eq!(kind_of("DROP-TABLE"), Ok(ScanKind::Unknown));
    }

    #[test]
    fn parcel_over_forty_is_unknown() {
        assert_eq!(kind_of(&"A1".repeat(20)), Ok(ScanKind::Parcel));
        assert_eq!(kind_of(&format!("{}X", "A1".repeat(20))), Ok(ScanKind::Unknown));
    }

    #[test]
    fn s10_wrong_check_digit_is_rejected() {
        let error = kind_of("RA123456784CN").unwrap_err();
        assert_eq!(error, ScanError::S10CheckDigit { code: "RA123456784CN".to_owned() });
    }

    #[test]
    fn valid_ean13_is_product() {
        assert_eq!(kind_of("4006381333931"), Ok(ScanKind::Product));
        assert_eq!(kind_after("]E0", "4006381333931"), Ok(ScanKind::Product));
    }

    #[test]
    fn valid_upc_a_is_product() {
        assert_eq!(kind_of("036000291452"), Ok(ScanKind::Product));
    }

    #[test]
    fn valid_ean8_is_product() {
        assert_eq!(kind_of("96385074"), Ok(ScanKind::Product));
        assert_eq!(kind_after("]E4", "96385074"), Ok(ScanKind::Product));
    }

    #[test]
    fn upc_e_after_identifier_is_product() {
        assert_eq!(kind_after("]E0", "04252614"), Ok(ScanKind::Product));
    }

    #[test]
    fn ean13_wrong_check_after_identifier_fails() {
        let error = kind_after("]E0", "4006381333932").unwrap_err();
        let expected =
            ScanError::CheckDigit { format: CodeFormat::Ean13, code: "4006381333932".to_owned() };
        assert_eq!(error, expected);
    }

    #[test]
    fn ean8_wrong_check_after_identifier_fails() {
        let error = kind_after("]E4", "96385075").unwrap_err();
        assert!(matches!(error, ScanError::CheckDigit { format: CodeFormat::Ean8, .. }));
    }

    #[test]
    fn ean13_wrong_check_unmarked_is_parcel() {
        assert_eq!(kind_of("4006381333932"), Ok(ScanKind::Parcel));
    }

    #[test]
    fn ean13_digits_in_code128_are_parcel() {
        assert_eq!(kind_after("]C0", "4006381333931"), Ok(ScanKind::Parcel));
    }

    #[test]
    fn ean13_with_add_on_is_product() {
        assert_eq!(kind_after("]E3", "400638133393112"), Ok(ScanKind::Product));
    }

    #[test]
    fn gtin14_unmarked_is_parcel() {
        assert_eq!(kind_of("10012345678902"), Ok(ScanKind::Parcel));
    }

    #[test]
    fn gtin14_after_itf_is_product() {
        assert_eq!(kind_after("]I0", "10012345678902"), Ok(ScanKind::Product));
    }

    #[test]
    fn product_gtin_pads_to_fourteen() {
        let gtin = product_gtin("036000291452", None);
        assert_eq!(gtin, Some(Ok("00036000291452".to_owned())));
        let gtin = product_gtin("04252614", Symbology::from_prefix("]E0"));
        assert_eq!(gtin, Some(Ok("00042100005264".to_owned())));
    }

    #[test]
    fn group_separator_makes_gs1() {
        let (kind, data) = classify("10ABC\u{1D}17251231", None, false).unwrap();
        assert_eq!(kind, ScanKind::Gs1);
        assert_eq!(data.and_then(|data| data.lot().map(str::to_owned)).as_deref(), Some("ABC"));
    }

    #[test]
    fn bad_gs1_with_separator_fails() {
        let error = kind_of("10ABC\u{1D}17251331").unwrap_err();
        assert!(matches!(error, ScanError::Gs1(Gs1Error::InvalidDate { .. })));
    }

    #[test]
    fn gs1_identifier_on_parcel_falls_back() {
        assert_eq!(kind_after("]C1", "JJD0001"), Ok(ScanKind::Parcel));
    }

    #[test]
    fn gs1_identifier_with_bad_date_fails() {
        let error = kind_after("]C1", "010950110153000317251331").unwrap_err();
        assert!(matches!(error, ScanError::Gs1(Gs1Error::InvalidDate { .. })));
    }

    #[test]
    fn unmarked_gs1_string_is_recognised() {
        assert_eq!(kind_of("01095011015300031725123110ABC"), Ok(ScanKind::Gs1));
        assert_eq!(kind_of("00106141411234567897"), Ok(ScanKind::Gs1));
    }

    #[test]
    fn unmarked_near_gs1_text_is_parcel() {
        // The letter O instead of a zero starts no AI, so this is no GS1 string.
        assert_eq!(kind_of("0109501101530003172512311OABC"), Ok(ScanKind::Parcel));
    }

    #[test]
    fn unmarked_ambiguous_gs1_fails() {
        let error = kind_of("010950110153000310ABC17251231").unwrap_err();
        assert!(matches!(error, ScanError::Gs1(Gs1Error::Ambiguous { .. })));
    }

    #[test]
    fn caps_lock_swap_inverts_lowercase() {
        assert_eq!(caps_lock_swap("jjd0001").as_deref(), Some("JJD0001"));
        assert_eq!(caps_lock_swap("shelf-b3").as_deref(), Some("SHELF-B3"));
    }

    #[test]
    fn caps_lock_swap_inverts_mixed_case() {
        assert_eq!(caps_lock_swap("jJD0001").as_deref(), Some("Jjd0001"));
    }

    #[test]
    fn caps_lock_swap_ignores_normal_text() {
        assert_eq!(caps_lock_swap("JJD0001"), None);
        assert_eq!(caps_lock_swap("Jjd0001"), None);
        assert_eq!(caps_lock_swap("eBay123"), None);
        assert_eq!(caps_lock_swap("0123456789"), None);
        assert_eq!(caps_lock_swap("ｊｊｄ"), None);
    }
}
