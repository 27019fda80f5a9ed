//! Verification codes on the terminal: their format, their keyed hash and
//! the lock after repeated wrong entries.
//!
//! A code is kept only as HMAC-SHA256 under the terminal's key, so neither
//! the database nor its write-ahead log holds the digits.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A six-digit verification code. Debug and Display never show the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    /// Parses what the clerk typed or scanned: exactly six digits once
    /// surrounding whitespace is trimmed; full-width digits count as digits.
    pub fn parse(raw: &str) -> Result<Code, String> {
        let digits: String = raw.trim().chars().map(to_ascii_digit).collect();
        let count = digits.chars().count();
        if count == 6 && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Ok(Code(digits));
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(
                "a verification code has only digits: ask the customer for the six-digit code"
                    .to_owned(),
            );
        }
        Err(format!(
            "a verification code has six digits, this one has {count}: ask the customer to read it again"
        ))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

fn to_ascii_digit(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (c as u32 - 0xFF10) as u8),
        other => other,
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(******)")
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("******")
    }
}

/// Computes the keyed hash under which the backend sends the code.
pub fn hash(key: &[u8], code: &Code) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(code.digits().as_bytes());
    mac.finalize().into_bytes().into()
}

/// Limits on wrong code entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// Wrong entries within `window` that lock code entry.
    pub max_failures: u32,
    pub window: Duration,
    /// How long code entry stays locked after the last wrong entry.
    pub lock_for: Duration,
}

impl Default for LockPolicy {
    fn default() -> LockPolicy {
        LockPolicy {
            max_failures: 5,
            window: Duration::minutes(10),
            lock_for: Duration::seconds(60),
        }
    }
}

impl LockPolicy {
    /// Returns how long code entry stays locked, given the number of wrong
    /// entries within the window and the time of the latest one.
    pub fn locked_for(
        &self,
        failures: u32,
        latest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let latest = latest?;
        if failures < self.max_failures {
            return None;
        }
        let remaining = latest + self.lock_for - now;
        (remaining > Duration::zero()).then_some(remaining)
    }

    /// Returns how many wrong entries are left before the lock.
    pub fn tries_left(&self, failures: u32) -> u32 {
        self.max_failures.saturating_sub(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_keeps_leading_zero() {
        assert_eq!(Code::parse(" 012345 ").unwrap().digits(), "012345");
    }

    #[test]
    fn code_accepts_full_width_digits() {
        assert_eq!(Code::parse("０１２３４５").unwrap().digits(), "012345");
    }

    #[test]
    fn code_rejects_five_and_seven_digits() {
        assert!(Code::parse("12345").unwrap_err().contains("has 5"));
        assert!(Code::parse("0123456").unwrap_err().contains("has 7"));
    }

    #[test]
    fn code_errors_never_contain_digits() {
        for raw in ["12345", "0123456", "12a456", "98765x"] {
            let error = Code::parse(raw).unwrap_err();
            assert!(!error.contains(raw.trim_end_matches('x')), "{error}");
        }
    }

    #[test]
    fn code_debug_and_display_hide_digits() {
        let code = Code::parse("123456").unwrap();
        assert!(!format!("{code:?}{code}").contains("123456"));
    }

    #[test]
    fn hash_depends_on_key_and_digits() {
        let code = Code::parse("123456").unwrap();
        let other = Code::parse("123457").unwrap();
        assert_ne!(hash(b"k1", &code), hash(b"k2", &code));
        assert_ne!(hash(b"k1", &code), hash(b"k1", &other));
    }

    #[test]
    fn lock_starts_at_max_failures_and_expires() {
        let policy = LockPolicy::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(policy.locked_for(4, Some(now), now), None);
        assert_eq!(policy.locked_for(5, Some(now), now), Some(Duration::seconds(60)));
        assert_eq!(policy.locked_for(5, Some(now), now + Duration::seconds(60)), None);
    }
}
