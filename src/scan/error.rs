//! Errors of scan input, worded for the clerk who sees them.
//!
//! No variant carries the digits of a verification code: the pickup-code
//! errors hold counts only.

use std::fmt;

use thiserror::Error;

use super::gs1::Gs1Error;

/// A product code format whose check digit can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeFormat {
    /// Eight digits, the last one a GS1 check digit.
    Ean8,
    /// Eight digits that expand to a UPC-A before the check digit is checked.
    UpcE,
    /// Twelve digits.
    UpcA,
    /// Thirteen digits.
    Ean13,
    /// Fourteen digits, as on an ITF-14 carton label.
    Gtin14,
}

impl fmt::Display for CodeFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            CodeFormat::Ean8 => "EAN-8",
            CodeFormat::UpcE => "UPC-E",
            CodeFormat::UpcA => "UPC-A",
            CodeFormat::Ean13 => "EAN-13",
            CodeFormat::Gtin14 => "GTIN-14",
        };
        formatter.write_str(name)
    }
}

/// Rejection of scanner text or of a typed verification code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScanError {
    /// Nothing was left after removing identifiers, framing and whitespace.
    #[error("barcode is empty: scan the label again")]
    Empty,
    /// The text is longer than any label this terminal reads.
    #[error(
        "barcode of {length} characters is too long, at most {max} are allowed: \
         scan only the parcel label"
    )]
    TooLong { length: usize, max: usize },
    /// A line break or tab inside the text, which means two codes ran into
    /// one, or a multi-line code such as a contact card.
    #[error("barcode contains a line break or tab: scan one label at a time")]
    LineBreak,
    /// A product code whose last digit is not its GS1 check digit.
    #[error(
        "{format} barcode {code} has a wrong check digit: scan it again, \
         or type the number printed under the barcode"
    )]
    CheckDigit { format: CodeFormat, code: String },
    /// A UPU S10 tracking number whose check digit does not match.
    #[error(
        "tracking number {code} has a wrong check digit: check the number on the label \
         and type it by hand"
    )]
    S10CheckDigit { code: String },
    /// A GS1 element string that could not be parsed.
    #[error(transparent)]
    Gs1(#[from] Gs1Error),
    /// A verification code with too few or too many digits.
    #[error(
        "verification code has {}, 6 are needed: ask the customer to read the code again",
        count_of(*.found, "digit", "digits")
    )]
    PickupCodeLength { found: usize },
    /// A verification code with characters other than digits.
    #[error(
        "verification code contains {}: enter the 6 digits only",
        count_of(*.count, "character that is not a digit", "characters that are not digits")
    )]
    PickupCodeNotDigits { count: usize },
}

fn count_of(count: usize, singular: &str, plural: &str) -> String {
    match count {
        0 => format!("no {plural}"),
        1 => format!("1 {singular}"),
        _ => format!("{count} {plural}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pickup_length_message_counts_digits() {
        let message = ScanError::PickupCodeLength { found: 5 }.to_string();
        assert_eq!(
            message,
            "verification code has 5 digits, 6 are needed: ask the customer to read the code again"
        );
    }

    #[test]
    fn pickup_length_message_handles_zero() {
        let message = ScanError::PickupCodeLength { found: 0 }.to_string();
        assert!(message.starts_with("verification code has no digits,"));
    }

    #[test]
    fn non_digit_message_agrees_in_number() {
        let singular = ScanError::PickupCodeNotDigits { count: 1 }.to_string();
        let plural = ScanError::PickupCodeNotDigits { count: 2 }.to_string();
        assert!(singular.contains("1 character that is not a digit"));
        assert!(plural.contains("2 characters that are not digits"));
    }

    #[test]
    fn check_digit_message_names_format() {
        let error =
            ScanError::CheckDigit { format: CodeFormat::Ean13, code: "4006381333932".to_owned() };
        assert!(error.to_string().starts_with("EAN-13 barcode 4006381333932 has a wrong"));
    }
}
