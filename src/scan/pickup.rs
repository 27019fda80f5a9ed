//! Verification codes: the six digits a customer shows to collect a parcel.

use std::fmt;

use super::error::ScanError;
use super::wedge::{Symbology, is_edge_junk, to_ascii_width};

/// Number of digits in a verification code.
pub const PICKUP_CODE_DIGITS: usize = 6;

/// A verification code of exactly six ASCII digits, kept as text so that a
/// leading zero counts: `012345` and `12345` are different codes.
///
/// `Debug` and `Display` print `******`, so formatting the code with `{}` or
/// `{:?}` in a log or an error message never shows its digits. Use [`PickupCode::as_str`] to compare it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PickupCode(String);

impl PickupCode {
    /// Returns the six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps `digits` if they are exactly six ASCII digits.
    pub(super) fn from_checked(digits: &str) -> Option<PickupCode> {
        is_pickup_code_text(digits).then(|| PickupCode(digits.to_owned()))
    }
}

impl fmt::Debug for PickupCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("******")
    }
}

impl fmt::Display for PickupCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("******")
    }
}

/// Parses a verification code that a clerk typed or a scanner read.
///
/// Whitespace and control characters at either end are trimmed, a leading
/// AIM identifier (when the code was scanned from the customer's phone) is
/// removed, and full-width digits become ASCII. What remains must be
/// exactly six ASCII digits. The errors report how many digits were found,
/// or how many other characters, never which.
pub fn parse_pickup_code(raw: &str) -> Result<PickupCode, ScanError> {
    let widened = to_ascii_width(raw);
    let trimmed = widened.trim_matches(is_edge_junk);
    let body = match Symbology::from_prefix(trimmed) {
        Some(_) => trimmed[3..].trim_matches(is_edge_junk),
        None => trimmed,
    };
    let others = body.chars().filter(|c| !c.is_ascii_digit()).count();
    if others > 0 {
        return Err(ScanError::PickupCodeNotDigits { count: others });
    }
    PickupCode::from_checked(body).ok_or(ScanError::PickupCodeLength { found: body.len() })
}

/// Checks whether `text` is exactly six ASCII digits.
pub(super) fn is_pickup_code_text(text: &str) -> bool {
    text.len() == PICKUP_CODE_DIGITS && text.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_digits_are_too_short() {
        let error = parse_pickup_code("12345").unwrap_err();
        assert_eq!(error, ScanError::PickupCodeLength { found: 5 });
    }

    #[test]
    fn short_code_message_hides_digits() {
        let message = parse_pickup_code("12345").unwrap_err().to_string();
        assert!(message.contains("5 digits"));
        assert!(message.contains("6 are needed"));
        assert!(!message.contains("12345"));
    }

    #[test]
    fn seven_digits_are_too_long() {
        let error = parse_pickup_code("0123456").unwrap_err();
        assert_eq!(error, ScanError::PickupCodeLength { found: 7 });
    }

    #[test]
    fn long_code_message_hides_digits() {
        let message = parse_pickup_code("0123456").unwrap_err().to_string();
        assert!(message.contains("7 digits"));
        assert!(!message.contains("0123456"));
        assert!(!message.contains("123456"));
    }

    #[test]
    fn padded_code_keeps_leading_zero() {
        let code = parse_pickup_code(" 012345 ").unwrap();
        assert_eq!(code.as_str(), "012345");
    }

    #[test]
    fn full_width_digits_become_ascii() {
        let code = parse_pickup_code("０１２３４５").unwrap();
        assert_eq!(code.as_str(), "012345");
    }

    #[test]
    fn code_with_enter_is_accepted() {
        let code = parse_pickup_code("012345\r\n").unwrap();
        assert_eq!(code.as_str(), "012345");
    }

    #[test]
    fn scanned_code_loses_aim_identifier() {
        let code = parse_pickup_code("]Q1012345").unwrap();
        assert_eq!(code.as_str(), "012345");
    }

    #[test]
    fn letters_are_counted_not_shown() {
        let error = parse_pickup_code("01a3b5").unwrap_err();
        assert_eq!(error, ScanError::PickupCodeNotDigits { count: 2 });
        assert!(!error.to_string().contains("01"));
    }

    #[test]
    fn inner_space_is_rejected() {
        let error = parse_pickup_code("012 345").unwrap_err();
        assert_eq!(error, ScanError::PickupCodeNotDigits { count: 1 });
    }

    #[test]
    fn other_script_digits_are_rejected() {
        let error = parse_pickup_code("٠١٢٣٤٥").unwrap_err();
        assert_eq!(error, ScanError::PickupCodeNotDigits { count: 6 });
    }

    #[test]
    fn empty_code_has_no_digits() {
        let error = parse_pickup_code("   ").unwrap_err();
        assert_eq!(error, ScanError::PickupCodeLength { found: 0 });
    }

    #[test]
    fn debug_and_display_are_masked() {
        let code = parse_pickup_code("012345").unwrap();
        assert_eq!(format!("{code:?}"), "******");
        assert_eq!(format!("{code}"), "******");
        assert_eq!(format!("{:?}", Some(code)), "Some(******)");
    }
}
