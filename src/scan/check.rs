//! Check digits: the GS1 modulo-10 digit of GTINs, SSCCs and GLNs, and the
//! modulo-11 digit of UPU S10 tracking numbers.

/// Weights of the eight serial digits of a UPU S10 tracking number.
const S10_WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// Computes the GS1 modulo-10 check digit for `payload`, the digits before
/// the check digit.
///
/// Weights alternate 3, 1, 3, … from the rightmost payload digit, which
/// serves EAN-8, UPC-A, EAN-13, GTIN-14, SSCC and GLN alike. Returns `None`
/// when `payload` is empty or contains a character that is not an ASCII
/// digit.
pub fn gs1_check_digit(payload: &str) -> Option<u8> {
    if payload.is_empty() {
        return None;
    }
    let mut sum = 0u32;
    for (position, byte) in payload.bytes().rev().enumerate() {
        let digit = ascii_digit(byte)?;
        let weight = if position % 2 == 0 { 3 } else { 1 };
        sum += u32::from(digit) * weight;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Checks that the last digit of `code` is the GS1 check digit of the digits
/// before it. Returns false for fewer than two characters or any non-digit.
pub fn has_valid_gs1_check_digit(code: &str) -> bool {
    let Some((payload, last)) = split_last_digit(code) else {
        return false;
    };
    gs1_check_digit(payload) == Some(last)
}

/// Expands an eight-digit UPC-E code (number system 0 or 1, six digits,
/// check digit) to its twelve-digit UPC-A form. Returns `None` for any other
/// input. The check digit is copied, not checked.
pub fn expand_upc_e(code: &str) -> Option<String> {
    let bytes = code.as_bytes();
    if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) || bytes[0] > b'1' {
        return None;
    }
    let d = |index: usize| char::from(bytes[index]);
    let system = d(0);
    let check = d(7);
    // The last of the six digits decides where the dropped zeros go.
    let middle: String = match bytes[6] {
        b'0'..=b'2' => [d(1), d(2), d(6), '0', '0', '0', '0', d(3), d(4), d(5)].iter().collect(),
        b'3' => [d(1), d(2), d(3), '0', '0', '0', '0', '0', d(4), d(5)].iter().collect(),
        b'4' => [d(1), d(2), d(3), d(4), '0', '0', '0', '0', '0', d(5)].iter().collect(),
        _ => [d(1), d(2), d(3), d(4), d(5), '0', '0', '0', '0', d(6)].iter().collect(),
    };
    Some(format!("{system}{middle}{check}"))
}

/// Computes the UPU S10 check digit for the eight serial digits of a
/// tracking number.
///
/// The weighted sum uses 8 6 4 2 3 5 9 7, and the check digit is 11 minus
/// the sum modulo 11, where 10 becomes 0 and 11 becomes 5. Returns `None`
/// unless `serial` is exactly eight ASCII digits.
pub fn s10_check_digit(serial: &str) -> Option<u8> {
    if serial.len() != S10_WEIGHTS.len() {
        return None;
    }
    let mut sum = 0u32;
    for (byte, weight) in serial.bytes().zip(S10_WEIGHTS) {
        sum += u32::from(ascii_digit(byte)?) * weight;
    }
    let check = match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        other => other,
    };
    Some(check as u8)
}

/// Checks whether `text` has the shape of a UPU S10 tracking number: two
/// letters, nine digits and two letters, in either case.
pub fn is_s10_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 13
        && bytes[..2].iter().all(u8::is_ascii_alphabetic)
        && bytes[2..11].iter().all(u8::is_ascii_digit)
        && bytes[11..].iter().all(u8::is_ascii_alphabetic)
}

/// Checks the check digit of an S10-shaped tracking number. Returns false
/// for text that is not S10-shaped.
pub fn has_valid_s10_check_digit(text: &str) -> bool {
    if !is_s10_shaped(text) {
        return false;
    }
    let check = ascii_digit(text.as_bytes()[10]);
    check.is_some() && s10_check_digit(&text[2..10]) == check
}

fn split_last_digit(code: &str) -> Option<(&str, u8)> {
    let digit = ascii_digit(*code.as_bytes().last()?)?;
    // The last byte is an ASCII digit, so cutting it off keeps valid UTF-8.
    let payload = &code[..code.len() - 1];
    (!payload.is_empty()).then_some((payload, digit))
}

fn ascii_digit(byte: u8) -> Option<u8> {
    byte.is_ascii_digit().then(|| byte - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_check_digit_accepts_valid() {
        assert!(has_valid_gs1_check_digit("4006381333931"));
        assert!(has_valid_gs1_check_digit("5901234123457"));
    }

    #[test]
    fn ean13_check_digit_rejects_wrong() {
        assert!(!has_valid_gs1_check_digit("4006381333932"));
        assert!(!has_valid_gs1_check_digit("5901234123450"));
    }

    #[test]
    fn upc_a_check_digit_accepts_valid() {
        assert!(has_valid_gs1_check_digit("036000291452"));
    }

    #[test]
    fn upc_a_check_digit_rejects_wrong() {
        assert!(!has_valid_gs1_check_digit("036000291453"));
    }

    #[test]
    fn ean8_check_digit_accepts_valid() {
        assert!(has_valid_gs1_check_digit("96385074"));
    }

    #[test]
    fn ean8_check_digit_rejects_wrong() {
        assert!(!has_valid_gs1_check_digit("96385075"));
    }

    #[test]
    fn gtin14_check_digit_accepts_valid() {
        assert!(has_valid_gs1_check_digit("09501101530003"));
    }

    #[test]
    fn sscc_check_digit_accepts_valid() {
        assert!(has_valid_gs1_check_digit("106141411234567897"));
    }

    #[test]
    fn gs1_check_digit_rejects_non_digits() {
        assert_eq!(gs1_check_digit("40063813339a"), None);
        assert!(!has_valid_gs1_check_digit("400638133393a"));
        assert!(!has_valid_gs1_check_digit("٤٠٠٦٣٨١٣٣٣٩٣١"));
    }

    #[test]
    fn gs1_check_digit_rejects_short_input() {
        assert_eq!(gs1_check_digit(""), None);
        assert!(!has_valid_gs1_check_digit("7"));
    }

    #[test]
    fn upc_e_expands_by_last_digit() {
        assert_eq!(expand_upc_e("01234565").as_deref(), Some("012345000065"));
        assert_eq!(expand_upc_e("01234133").as_deref(), Some("012300000413"));
        assert_eq!(expand_upc_e("04252614").as_deref(), Some("042100005264"));
        assert_eq!(expand_upc_e("01234447").as_deref(), Some("012340000047"));
    }

    #[test]
    fn upc_e_expansion_passes_check() {
        assert!(has_valid_gs1_check_digit(&expand_upc_e("04252614").unwrap()));
    }

    #[test]
    fn upc_e_rejects_other_number_systems() {
        assert_eq!(expand_upc_e("21234565"), None);
        assert_eq!(expand_upc_e("0123456"), None);
    }

    #[test]
    fn s10_check_digit_matches_known_number() {
        assert_eq!(s10_check_digit("12345678"), Some(5));
    }

    #[test]
    fn s10_check_maps_ten_to_zero() {
        // 0*8 + 0*6 + 0*4 + 0*2 + 1*3 + 0*5 + 1*9 + 0*7 = 12, and 11 - 12 % 11 = 10.
        assert_eq!(s10_check_digit("00001010"), Some(0));
    }

    #[test]
    fn s10_check_maps_eleven_to_five() {
        // 1*2 + 1*9 = 11, and 11 - 11 % 11 = 11.
        assert_eq!(s10_check_digit("00010010"), Some(5));
        assert_eq!(s10_check_digit("00000000"), Some(5));
    }

    #[test]
    fn s10_check_digit_rejects_wrong_length() {
        assert_eq!(s10_check_digit("1234567"), None);
        assert_eq!(s10_check_digit("123456789"), None);
    }

    #[test]
    fn s10_check_accepts_valid_number() {
        assert!(has_valid_s10_check_digit("RA123456785CN"));
    }

    #[test]
    fn s10_check_rejects_wrong_digit() {
        assert!(!has_valid_s10_check_digit("RA123456784CN"));
    }

    #[test]
    fn s10_check_ignores_letter_case() {
        assert!(has_valid_s10_check_digit("ra123456785cn"));
    }

    #[test]
    fn s10_shape_requires_letters_and_digits() {
        assert!(is_s10_shaped("EE123456785US"));
        assert!(!is_s10_shaped("E1123456785US"));
        assert!(!is_s10_shaped("EE12345678US"));
        assert!(!is_s10_shaped("EE1234567850U"));
    }
}
