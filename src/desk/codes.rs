//! Verification codes on the terminal: their format, their keyed hash and
//! the lock after repeated wrong entries.
//!
//! A code is kept only as HMAC-SHA256 under the terminal's key, so neither
//! the database nor its write-ahead log holds the digits.

use chrono::{DateTime, Duration, Utc};

/// A six-digit verification code, parsed by the scan module's rules
/// (trimmed, AIM identifier removed, full-width digits made ASCII). Debug
/// and Display never show the digits.
pub use crate::scan::PickupCode as Code;

impl Code {
    /// Parses what the clerk typed or scanned, with the reason it is not a
    /// code as the error.
    pub fn parse(raw: &str) -> Result<Code, String> {
        crate::scan::parse_pickup_code(raw).map_err(|error| error.to_string())
    }

    pub fn digits(&self) -> &str {
        self.as_str()
    }
}

/// Computes the keyed hash under which the backend sends the code.
pub fn hash(key: &[u8], code: &Code) -> [u8; 32] {
    crate::protocol::code_mac(key, code.digits())
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
        assert!(Code::parse("12345").unwrap_err().contains("has 5 digits"));
        assert!(Code::parse("0123456").unwrap_err().contains("has 7 digits"));
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
