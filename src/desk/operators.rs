//! Operators (clerks) and their PINs, kept only as Argon2id hashes.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a PIN with a fresh random salt.
pub fn hash_pin(pin: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| format!("hashing the PIN failed: {error}"))
}

/// Checks a PIN against a stored hash. A malformed hash never matches.
pub fn verify_pin(pin: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| Argon2::default().verify_password(pin.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// Minimum number of digits in an operator PIN.
pub const PIN_MIN_DIGITS: usize = 4;
/// Maximum number of digits in an operator PIN. The sign-in keypad takes no
/// more than this.
pub const PIN_MAX_DIGITS: usize = 12;

/// Checks the form of a PIN: `PIN_MIN_DIGITS` to `PIN_MAX_DIGITS` ASCII
/// digits.
pub fn validate_pin(pin: &str) -> Result<(), String> {
    let length = pin.chars().count();
    let digits_only = pin.bytes().all(|byte| byte.is_ascii_digit());
    if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&length) || !digits_only {
        return Err(format!("a PIN has {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"));
    }
    Ok(())
}

/// Checks the form of an operator id: 1 to 32 letters, digits, `-`, `_` or `.`.
pub fn validate_operator_id(id: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if id.is_empty() || id.len() > 32 || !id.chars().all(valid_char) {
        return Err(format!(
            "operator id {:?} is invalid: use 1 to 32 letters, digits, '-', '_' or '.'",
            id.chars().take(40).collect::<String>()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_hash_verifies_only_same_pin() {
        let stored = hash_pin("2468").unwrap();
        assert!(!stored.contains("2468"));
        assert!(verify_pin("2468", &stored));
        assert!(!verify_pin("2469", &stored));
    }

    #[test]
    fn same_pin_hashes_differently() {
        assert_ne!(hash_pin("2468").unwrap(), hash_pin("2468").unwrap());
    }

    #[test]
    fn pin_and_id_forms() {
        assert!(validate_pin("123").is_err());
        assert!(validate_pin("12a4").is_err());
        assert!(validate_pin("1234").is_ok());
        assert!(validate_operator_id("clerk.1").is_ok());
        assert!(validate_operator_id("'; DROP TABLE").is_err());
    }
}
