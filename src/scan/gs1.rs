//! GS1 element strings: application identifiers (AIs) followed by their
//! values, with a group separator (GS, ASCII 29) after each variable-length
//! value that is not the last.
//!
//! The parser covers the AIs a parcel desk meets on logistic and product
//! labels. Values are checked against their AI's format: digits, check
//! digits, real dates, maximum lengths and the GS1 character set 82. Note
//! that an AI outside the table is rejected, because its length is unknown
//! and the rest of the string could not be split reliably.

use chrono::{Datelike, NaiveDate, Utc};
use thiserror::Error;

use super::check::has_valid_gs1_check_digit;

/// The group separator that ends a variable-length value.
pub const GROUP_SEPARATOR: char = '\u{1D}';

const GS: u8 = 0x1D;

/// Advice appended to every GS1 error, since a clerk cannot repair a label.
const RESCAN: &str = "scan the label again, or type the number printed under the barcode";

/// One element string: an application identifier and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Element {
    /// Application identifier, such as `01` or `3103`.
    pub ai: String,
    /// Short GS1 data title of the AI, such as `GTIN` or `BATCH/LOT`.
    pub title: &'static str,
    /// Value as encoded, without the AI or a group separator.
    pub value: String,
    /// Calendar date of a date AI (11, 12, 13, 15, 16, 17).
    pub date: Option<NaiveDate>,
    /// Digits after the implied decimal point of a measure AI (31nn to 36nn).
    pub decimals: Option<u8>,
}

impl Gs1Element {
    /// Returns the value of a measure AI as a number, such as 1.5 for
    /// `3101` with value `000015`.
    pub fn measure(&self) -> Option<f64> {
        let decimals = self.decimals?;
        let whole: f64 = self.value.parse().ok()?;
        Some(whole / 10f64.powi(i32::from(decimals)))
    }
}

/// A parsed GS1 element string, in the order of the barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Data {
    /// Elements in the order they were encoded.
    pub elements: Vec<Gs1Element>,
}

impl Gs1Data {
    /// Parses a GS1 element string whose group separators are ASCII 29.
    ///
    /// Two-digit years are placed in a century with the GS1 rule, relative to
    /// the current UTC year. Fails on an unknown AI, a value that breaks its
    /// AI's format, and on a variable-length value that may have swallowed
    /// the next element (see [`Gs1Error::Ambiguous`]).
    pub fn parse(text: &str) -> Result<Gs1Data, Gs1Error> {
        parse_with_year(text, Utc::now().year())
    }

    /// Returns the first element with application identifier `ai`.
    pub fn get(&self, ai: &str) -> Option<&Gs1Element> {
        self.elements.iter().find(|element| element.ai == ai)
    }

    /// Returns the SSCC (AI 00), the 18-digit serial shipping container code.
    pub fn sscc(&self) -> Option<&str> {
        self.value_of("00")
    }

    /// Returns the GTIN (AI 01) as 14 digits.
    pub fn gtin(&self) -> Option<&str> {
        self.value_of("01")
    }

    /// Returns the batch or lot number (AI 10).
    pub fn lot(&self) -> Option<&str> {
        self.value_of("10")
    }

    /// Returns the serial number (AI 21).
    pub fn serial(&self) -> Option<&str> {
        self.value_of("21")
    }

    /// Returns the production date (AI 11).
    pub fn production_date(&self) -> Option<NaiveDate> {
        self.date_of("11")
    }

    /// Returns the packaging date (AI 13).
    pub fn packaging_date(&self) -> Option<NaiveDate> {
        self.date_of("13")
    }

    /// Returns the best-before date (AI 15).
    pub fn best_before(&self) -> Option<NaiveDate> {
        self.date_of("15")
    }

    /// Returns the expiration date (AI 17).
    pub fn expiry(&self) -> Option<NaiveDate> {
        self.date_of("17")
    }

    /// Returns the ship-to postal code (AI 420).
    pub fn ship_to_postal_code(&self) -> Option<&str> {
        self.value_of("420")
    }

    fn value_of(&self, ai: &str) -> Option<&str> {
        self.get(ai).map(|element| element.value.as_str())
    }

    fn date_of(&self, ai: &str) -> Option<NaiveDate> {
        self.get(ai).and_then(|element| element.date)
    }
}

/// A GS1 element string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Gs1Error {
    /// The string has no elements.
    #[error("GS1 barcode has no data: {RESCAN}")]
    Empty,
    /// The digits at `position` (1-based, in characters) start no known AI.
    #[error("GS1 barcode has an unknown application identifier at character {position}: {RESCAN}")]
    UnknownAi { position: usize },
    /// A fixed-length value ended before its length.
    #[error("GS1 field {ai} ({title}) has {found} characters, {expected} are needed: {RESCAN}")]
    TooShort { ai: String, title: &'static str, expected: usize, found: usize },
    /// A variable-length value is longer than its maximum.
    #[error("GS1 field {ai} ({title}) has {found} characters, at most {max} are allowed: {RESCAN}")]
    TooLong { ai: String, title: &'static str, max: usize, found: usize },
    /// A variable-length value is empty.
    #[error("GS1 field {ai} ({title}) is empty: {RESCAN}")]
    EmptyValue { ai: String, title: &'static str },
    /// A value contains a character its format does not allow.
    #[error("GS1 field {ai} ({title}) contains a character that is not allowed there: {RESCAN}")]
    InvalidCharacter { ai: String, title: &'static str },
    /// A date value names no real day.
    #[error("GS1 field {ai} ({title}) value {value} is not a valid date (YYMMDD): {RESCAN}")]
    InvalidDate { ai: String, title: &'static str, value: String },
    /// A value's last digit is not its GS1 check digit.
    #[error("GS1 field {ai} ({title}) value {value} has a wrong check digit: {RESCAN}")]
    CheckDigit { ai: String, title: &'static str, value: String },
    /// A variable-length value ends in text that parses as further elements.
    ///
    /// This happens when the encoder or the scanner dropped the group
    /// separator after the value: `10ABC17251231` may be lot `ABC` with
    /// expiry 2025-12-31, or lot `ABC17251231`.
    #[error(
        "GS1 barcode is ambiguous: field {ai} ({title}) may contain the next field \
         because a group separator (GS, ASCII 29) is missing: {RESCAN}"
    )]
    Ambiguous { ai: String, title: &'static str },
    /// The same AI occurs twice with different values.
    #[error("GS1 barcode contains field {ai} twice with different values: {RESCAN}")]
    Conflict { ai: String },
}

/// Encoding of the value after an AI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Exactly this many digits.
    Digits(usize),
    /// Exactly this many digits, the last one a GS1 check digit.
    CheckedDigits(usize),
    /// YYMMDD, where day 00 means the last day of the month.
    Date,
    /// Six digits, with the decimal point position in the AI's last digit.
    Measure,
    /// One to this many digits.
    VariableDigits(usize),
    /// One to this many characters of the GS1 character set 82.
    VariableText(usize),
    /// A three-digit ISO 3166 country code, then one to this many characters
    /// of set 82.
    CountryThenText(usize),
}

impl Format {
    fn fixed_length(self) -> Option<usize> {
        match self {
            Format::Digits(length) | Format::CheckedDigits(length) => Some(length),
            Format::Date | Format::Measure => Some(6),
            Format::VariableDigits(_) | Format::VariableText(_) | Format::CountryThenText(_) => {
                None
            }
        }
    }
}

struct AiSpec {
    ai: &'static str,
    title: &'static str,
    format: Format,
}

const fn spec(ai: &'static str, title: &'static str, format: Format) -> AiSpec {
    AiSpec { ai, title, format }
}

/// AIs with a fixed AI string, from the GS1 General Specifications. The set
/// is prefix-free, so at most one entry matches the start of a string.
const AI_TABLE: &[AiSpec] = &[
    spec("00", "SSCC", Format::CheckedDigits(18)),
    spec("01", "GTIN", Format::CheckedDigits(14)),
    spec("02", "CONTENT", Format::CheckedDigits(14)),
    spec("10", "BATCH/LOT", Format::VariableText(20)),
    spec("11", "PROD DATE", Format::Date),
    spec("12", "DUE DATE", Format::Date),
    spec("13", "PACK DATE", Format::Date),
    spec("15", "BEST BEFORE or BEST BY", Format::Date),
    spec("16", "SELL BY", Format::Date),
    spec("17", "USE BY OR EXPIRY", Format::Date),
    spec("20", "VARIANT", Format::Digits(2)),
    spec("21", "SERIAL", Format::VariableText(20)),
    spec("22", "CPV", Format::VariableText(20)),
    spec("240", "ADDITIONAL ID", Format::VariableText(30)),
    spec("241", "CUST. PART No.", Format::VariableText(30)),
    spec("250", "SECONDARY SERIAL", Format::VariableText(30)),
    spec("251", "REF. TO SOURCE", Format::VariableText(30)),
    spec("254", "GLN EXTENSION COMPONENT", Format::VariableText(20)),
    spec("30", "VAR. COUNT", Format::VariableDigits(8)),
    spec("37", "COUNT", Format::VariableDigits(8)),
    spec("400", "ORDER NUMBER", Format::VariableText(30)),
    spec("401", "GINC", Format::VariableText(30)),
    spec("402", "GSIN", Format::CheckedDigits(17)),
    spec("403", "ROUTE", Format::VariableText(30)),
    spec("410", "SHIP TO LOC", Format::CheckedDigits(13)),
    spec("411", "BILL TO", Format::CheckedDigits(13)),
    spec("412", "PURCHASE FROM", Format::CheckedDigits(13)),
    spec("413", "SHIP FOR LOC", Format::CheckedDigits(13)),
    spec("414", "LOC No.", Format::CheckedDigits(13)),
    spec("415", "PAY TO", Format::CheckedDigits(13)),
    spec("420", "SHIP TO POST", Format::VariableText(20)),
    spec("421", "SHIP TO POST", Format::CountryThenText(9)),
    spec("422", "ORIGIN", Format::Digits(3)),
    spec("8004", "GIAI", Format::VariableText(30)),
    spec("90", "INTERNAL", Format::VariableText(30)),
    spec("91", "INTERNAL", Format::VariableText(90)),
    spec("92", "INTERNAL", Format::VariableText(90)),
    spec("93", "INTERNAL", Format::VariableText(90)),
    spec("94", "INTERNAL", Format::VariableText(90)),
    spec("95", "INTERNAL", Format::VariableText(90)),
    spec("96", "INTERNAL", Format::VariableText(90)),
    spec("97", "INTERNAL", Format::VariableText(90)),
    spec("98", "INTERNAL", Format::VariableText(90)),
    spec("99", "INTERNAL", Format::VariableText(90)),
];

/// Titles of the measure AIs 31nn to 36nn by their first three digits. The
/// fourth digit gives the number of decimals, from 0 to 5.
const MEASURE_TITLES: &[(&str, &str)] = &[
    ("310", "NET WEIGHT (kg)"),
    ("311", "LENGTH (m)"),
    ("312", "WIDTH (m)"),
    ("313", "HEIGHT (m)"),
    ("314", "AREA (m²)"),
    ("315", "NET VOLUME (l)"),
    ("316", "NET VOLUME (m³)"),
    ("320", "NET WEIGHT (lb)"),
    ("330", "GROSS WEIGHT (kg)"),
    ("331", "LENGTH (m), log"),
    ("332", "WIDTH (m), log"),
    ("333", "HEIGHT (m), log"),
    ("334", "AREA (m²), log"),
    ("335", "VOLUME (l), log"),
    ("336", "VOLUME (m³), log"),
    ("340", "GROSS WEIGHT (lb)"),
];

/// Parses like [`Gs1Data::parse`], placing two-digit years relative to
/// `reference_year`.
pub fn parse_with_year(text: &str, reference_year: i32) -> Result<Gs1Data, Gs1Error> {
    let parsed = parse_elements(text.as_bytes(), reference_year)?;
    for element in &parsed {
        if element.variable_length && hides_another_element(element, reference_year) {
            let title = element.element.title;
            return Err(Gs1Error::Ambiguous { ai: element.element.ai.clone(), title });
        }
    }
    let elements: Vec<Gs1Element> = parsed.into_iter().map(|parsed| parsed.element).collect();
    reject_conflicts(&elements)?;
    Ok(Gs1Data { elements })
}

/// An element with the facts about its AI that the ambiguity check needs.
struct ParsedElement {
    element: Gs1Element,
    /// The value ran to a group separator or the end of the string.
    variable_length: bool,
    /// The AI is in the GS1 table of predefined lengths.
    predefined_length: bool,
}

fn parse_elements(bytes: &[u8], reference_year: i32) -> Result<Vec<ParsedElement>, Gs1Error> {
    let mut elements = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position] == GS {
            position += 1;
            continue;
        }
        let (parsed, next) = parse_element(bytes, position, reference_year)?;
        elements.push(parsed);
        position = next;
    }
    if elements.is_empty() {
        return Err(Gs1Error::Empty);
    }
    Ok(elements)
}

/// Parses the element that starts at `start` and returns it with the
/// position after it.
fn parse_element(
    bytes: &[u8],
    start: usize,
    reference_year: i32,
) -> Result<(ParsedElement, usize), Gs1Error> {
    let rest = &bytes[start..];
    let Some((ai, title, format)) = lookup_ai(rest) else {
        return Err(Gs1Error::UnknownAi { position: char_position(bytes, start) });
    };
    let value_start = start + ai.len();
    let (value_end, variable) = match format.fixed_length() {
        Some(length) => {
            let available = count_until_separator(&bytes[value_start..]);
            if available < length {
                let found = char_count(&bytes[value_start..value_start + available]);
                return Err(Gs1Error::TooShort { ai, title, expected: length, found });
            }
            (value_start + length, false)
        }
        None => {
            let length = count_until_separator(&bytes[value_start..]);
            (value_start + length, true)
        }
    };
    let value = &bytes[value_start..value_end];
    let element = build_element(ai, title, format, value, reference_year)?;
    let predefined_length = has_predefined_length(&element.ai);
    let parsed = ParsedElement { element, variable_length: variable, predefined_length };
    Ok((parsed, value_end))
}

fn build_element(
    ai: String,
    title: &'static str,
    format: Format,
    value: &[u8],
    reference_year: i32,
) -> Result<Gs1Element, Gs1Error> {
    validate_value(&ai, title, format, value)?;
    // validate_value accepts ASCII only, so the value is valid UTF-8.
    let text = String::from_utf8_lossy(value).into_owned();
    let mut date = None;
    let mut decimals = None;
    match format {
        Format::Date => {
            date = parse_date(value, reference_year);
            if date.is_none() {
                return Err(Gs1Error::InvalidDate { ai, title, value: text });
            }
        }
        Format::Measure => decimals = ai.bytes().last().map(|digit| digit - b'0'),
        Format::CheckedDigits(_) if !has_valid_gs1_check_digit(&text) => {
            return Err(Gs1Error::CheckDigit { ai, title, value: text });
        }
        _ => {}
    }
    Ok(Gs1Element { ai, title, value: text, date, decimals })
}

fn validate_value(
    ai: &str,
    title: &'static str,
    format: Format,
    value: &[u8],
) -> Result<(), Gs1Error> {
    let owned_ai = || ai.to_owned();
    let (minimum, maximum) = match format {
        Format::VariableDigits(max) | Format::VariableText(max) => (1, max),
        Format::CountryThenText(max) => (4, 3 + max),
        _ => (0, usize::MAX),
    };
    if value.len() < minimum {
        if value.is_empty() {
            return Err(Gs1Error::EmptyValue { ai: owned_ai(), title });
        }
        let found = char_count(value);
        return Err(Gs1Error::TooShort { ai: owned_ai(), title, expected: minimum, found });
    }
    if value.len() > maximum {
        let found = char_count(value);
        return Err(Gs1Error::TooLong { ai: owned_ai(), title, max: maximum, found });
    }
    let allowed = match format {
        Format::VariableText(_) => value.iter().all(|byte| is_set_82(*byte)),
        Format::CountryThenText(_) => {
            value[..3].iter().all(u8::is_ascii_digit) && value[3..].iter().all(|b| is_set_82(*b))
        }
        _ => value.iter().all(u8::is_ascii_digit),
    };
    if !allowed {
        return Err(Gs1Error::InvalidCharacter { ai: owned_ai(), title });
    }
    Ok(())
}

/// Finds the AI at the start of `rest` and returns it with its title and
/// format.
fn lookup_ai(rest: &[u8]) -> Option<(String, &'static str, Format)> {
    if let Some(spec) = AI_TABLE.iter().find(|spec| rest.starts_with(spec.ai.as_bytes())) {
        return Some((spec.ai.to_owned(), spec.title, spec.format));
    }
    let ai = rest.get(..4)?;
    if !ai.iter().all(u8::is_ascii_digit) || ai[3] > b'5' {
        return None;
    }
    let title = MEASURE_TITLES
        .iter()
        .find(|(prefix, _)| ai.starts_with(prefix.as_bytes()))
        .map(|(_, title)| *title)?;
    Some((String::from_utf8_lossy(ai).into_owned(), title, Format::Measure))
}

/// Checks whether an AI's first two digits are in the GS1 table of element
/// strings with a predefined length, which never need a group separator.
fn has_predefined_length(ai: &str) -> bool {
    matches!(
        ai.get(..2),
        Some("00" | "01" | "02" | "03" | "04" | "11" | "12" | "13" | "14" | "15" | "16" | "17")
            | Some("18" | "19" | "20" | "31" | "32" | "33" | "34" | "35" | "36" | "41")
    )
}

/// Checks whether some tail of a variable-length value parses completely as
/// further elements, the first of them with a predefined length.
///
/// A predefined-length first element (a date, a GTIN with a valid check
/// digit, a measure) is required, because a tail like `10A` or `21X`
/// appears by chance in many real lots and serials.
fn hides_another_element(parsed: &ParsedElement, reference_year: i32) -> bool {
    let value = parsed.element.value.as_bytes();
    (1..value.len()).any(|start| {
        let tail = &value[start..];
        match parse_elements(tail, reference_year) {
            Ok(elements) => elements.first().is_some_and(|first| first.predefined_length),
            Err(_) => false,
        }
    })
}

fn reject_conflicts(elements: &[Gs1Element]) -> Result<(), Gs1Error> {
    for (index, element) in elements.iter().enumerate() {
        let conflict = elements[..index]
            .iter()
            .any(|earlier| earlier.ai == element.ai && earlier.value != element.value);
        if conflict {
            return Err(Gs1Error::Conflict { ai: element.ai.clone() });
        }
    }
    Ok(())
}

/// Parses YYMMDD, where day 00 means the last day of the month.
fn parse_date(value: &[u8], reference_year: i32) -> Option<NaiveDate> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(value.get(range)?).ok()?.parse().ok()
    };
    let year = resolve_century(number(0..2)? as i32, reference_year);
    let month = number(2..4)?;
    let day = number(4..6)?;
    if day == 0 {
        return last_day_of_month(year, month);
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Places a two-digit year in a century by the GS1 rule: a year 51 to 99
/// ahead of the reference year belongs to the previous century, and one 50
/// to 99 behind it to the next century.
fn resolve_century(two_digit_year: i32, reference_year: i32) -> i32 {
    let century = reference_year.div_euclid(100) * 100;
    let difference = two_digit_year - reference_year.rem_euclid(100);
    if difference >= 51 {
        century - 100 + two_digit_year
    } else if difference <= -50 {
        century + 100 + two_digit_year
    } else {
        century + two_digit_year
    }
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(year, month, 1)?;
    NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()
}

/// Checks membership in the GS1 AI encodable character set 82.
fn is_set_82(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&byte)
}

fn count_until_separator(bytes: &[u8]) -> usize {
    bytes.iter().position(|byte| *byte == GS).unwrap_or(bytes.len())
}

fn char_count(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).chars().count()
}

/// Converts a byte offset into a 1-based character position for messages.
fn char_position(bytes: &[u8], offset: usize) -> usize {
    char_count(&bytes[..offset]) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GS_TEXT: &str = "\u{1D}";

    fn parse(text: &str) -> Result<Gs1Data, Gs1Error> {
        parse_with_year(text, 2025)
    }

    fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, month, day)
    }

    #[test]
    fn gtin_lot_and_expiry_parse() {
        let data = parse(&format!("010950110153000310ABC{GS_TEXT}17251231")).unwrap();
        assert_eq!(data.gtin(), Some("09501101530003"));
        assert_eq!(data.lot(), Some("ABC"));
        assert_eq!(data.expiry(), date(2025, 12, 31));
    }

    #[test]
    fn fixed_fields_need_no_separator() {
        let data = parse("01095011015300031725123110LOT7").unwrap();
        assert_eq!(data.gtin(), Some("09501101530003"));
        assert_eq!(data.expiry(), date(2025, 12, 31));
        assert_eq!(data.lot(), Some("LOT7"));
    }

    #[test]
    fn truncated_date_is_too_short() {
        let error = parse("01095011015300031725").unwrap_err();
        assert!(matches!(error, Gs1Error::TooShort { expected: 6, found: 2, .. }));
    }

    #[test]
    fn separator_in_fixed_field_truncates() {
        let error = parse(&format!("172512{GS_TEXT}31")).unwrap_err();
        assert!(matches!(error, Gs1Error::TooShort { expected: 6, found: 4, .. }));
    }

    #[test]
    fn day_zero_means_last_day() {
        let data = parse("1725020015240200").unwrap();
        assert_eq!(data.expiry(), date(2025, 2, 28));
        assert_eq!(data.best_before(), date(2024, 2, 29));
    }

    #[test]
    fn day_zero_in_december_rolls_year() {
        let data = parse("11251200").unwrap();
        assert_eq!(data.production_date(), date(2025, 12, 31));
    }

    #[test]
    fn impossible_date_is_rejected() {
        let error = parse("17250230").unwrap_err();
        assert!(matches!(error, Gs1Error::InvalidDate { .. }));
        let error = parse("17251300").unwrap_err();
        assert!(matches!(error, Gs1Error::InvalidDate { .. }));
    }

    #[test]
    fn century_follows_gs1_window() {
        assert_eq!(resolve_century(25, 2025), 2025);
        assert_eq!(resolve_century(75, 2025), 2075);
        assert_eq!(resolve_century(76, 2025), 1976);
        assert_eq!(resolve_century(2, 2098), 2102);
        assert_eq!(resolve_century(48, 2098), 2148);
        assert_eq!(resolve_century(49, 2098), 2049);
    }

    #[test]
    fn lot_swallowing_date_is_ambiguous() {
        let error = parse("010950110153000310ABC17251231").unwrap_err();
        assert!(matches!(error, Gs1Error::Ambiguous { ref ai, .. } if ai == "10"));
    }

    #[test]
    fn lot_swallowing_before_separator_is_ambiguous() {
        let error = parse(&format!("10ABC17251231{GS_TEXT}21XYZ")).unwrap_err();
        assert!(matches!(error, Gs1Error::Ambiguous { ref ai, .. } if ai == "10"));
    }

    #[test]
    fn serial_swallowing_gtin_is_ambiguous() {
        let error = parse("21XY0109501101530003").unwrap_err();
        assert!(matches!(error, Gs1Error::Ambiguous { ref ai, .. } if ai == "21"));
    }

    #[test]
    fn chance_ai_digits_stay_lot() {
        // "10B" and "2110" look like AIs 10 and 21, but neither has a
        // predefined length, so the lot stays one value.
        let data = parse("10A10B2110").unwrap();
        assert_eq!(data.lot(), Some("A10B2110"));
    }

    #[test]
    fn sscc_parses_with_check_digit() {
        let data = parse("00106141411234567897").unwrap();
        assert_eq!(data.sscc(), Some("106141411234567897"));
    }

    #[test]
    fn sscc_wrong_check_digit_is_rejected() {
        let error = parse("00106141411234567890").unwrap_err();
        assert!(matches!(error, Gs1Error::CheckDigit { ref ai, .. } if ai == "00"));
    }

    #[test]
    fn measure_uses_decimal_digit() {
        let data = parse("3103001250").unwrap();
        let weight = data.get("3103").unwrap();
        assert_eq!(weight.decimals, Some(3));
        assert_eq!(weight.measure(), Some(1.25));
        assert_eq!(weight.title, "NET WEIGHT (kg)");
    }

    #[test]
    fn measure_with_six_decimals_is_unknown() {
        let error = parse("3106001250").unwrap_err();
        assert_eq!(error, Gs1Error::UnknownAi { position: 1 });
    }

    #[test]
    fn logistic_label_fields_parse() {
        let text = format!(
            "00106141411234567897{GS_TEXT}4004711{GS_TEXT}4105901234123457\
             420{GS_TEXT}42127610115{GS_TEXT}3712"
        );
        let error = parse(&text).unwrap_err();
        assert!(matches!(error, Gs1Error::EmptyValue { ref ai, .. } if ai == "420"));

        let text = format!(
            "00106141411234567897{GS_TEXT}4004711{GS_TEXT}4105901234123457\
             4201011{GS_TEXT}42127610115{GS_TEXT}3712"
        );
        let data = parse(&text).unwrap();
        assert_eq!(data.get("400").map(|e| e.value.as_str()), Some("4711"));
        assert_eq!(data.get("410").map(|e| e.value.as_str()), Some("5901234123457"));
        assert_eq!(data.ship_to_postal_code(), Some("1011"));
        assert_eq!(data.get("421").map(|e| e.value.as_str()), Some("27610115"));
        assert_eq!(data.get("37").map(|e| e.value.as_str()), Some("12"));
    }

    #[test]
    fn count_longer_than_eight_is_rejected() {
        let error = parse("37123456789").unwrap_err();
        assert!(matches!(error, Gs1Error::TooLong { max: 8, found: 9, .. }));
    }

    #[test]
    fn lot_over_twenty_is_rejected() {
        let error = parse("10ABCDEFGHIJKLMNOPQRSTU").unwrap_err();
        assert!(matches!(error, Gs1Error::TooLong { max: 20, found: 21, .. }));
    }

    #[test]
    fn unknown_ai_reports_position() {
        let error = parse(&format!("10ABC{GS_TEXT}23X")).unwrap_err();
        assert_eq!(error, Gs1Error::UnknownAi { position: 7 });
    }

    #[test]
    fn lot_with_space_is_rejected() {
        let error = parse("10AB C").unwrap_err();
        assert!(matches!(error, Gs1Error::InvalidCharacter { .. }));
    }

    #[test]
    fn non_ascii_fixed_field_is_rejected() {
        let error = parse("01０9501101530003").unwrap_err();
        assert!(matches!(error, Gs1Error::InvalidCharacter { .. }));
    }

    #[test]
    fn conflicting_duplicate_ai_is_rejected() {
        let error = parse("01095011015300030100012345678905").unwrap_err();
        assert_eq!(error, Gs1Error::Conflict { ai: "01".to_owned() });
    }

    #[test]
    fn identical_duplicate_ai_is_accepted() {
        let data = parse("0109501101530003010950110153000317251231").unwrap();
        assert_eq!(data.elements.len(), 3);
    }

    #[test]
    fn separators_alone_are_empty() {
        assert_eq!(parse(GS_TEXT), Err(Gs1Error::Empty));
        assert_eq!(parse(""), Err(Gs1Error::Empty));
    }
}
