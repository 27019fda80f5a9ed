//! Keystrokes to scans: terminators, repeat reads and the idle flush.

use std::fmt;
use std::time::Instant;

use super::error::ScanError;
use super::wedge::MAX_SCAN_CHARS;
use super::{Scan, ScanKind, WedgeConfig, normalize};

/// Characters kept between terminators. Beyond this the assembler only
/// counts, so a stuck key cannot grow memory without bound. The limit sits
/// well above [`MAX_SCAN_CHARS`] to leave room for framing.
const MAX_BUFFERED_CHARS: usize = 1024;

/// Maximum number of distinct codes remembered for the blanking window.
const MAX_RECENT_CODES: usize = 32;

/// An outcome of the keystrokes fed to a [`ScanAssembler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssembledScan {
    /// A new scan, ended by a terminator or flushed after the idle timeout.
    Accepted(Scan),
    /// A scan with the same text as one seen within the blanking window,
    /// ignored as a repeat read.
    Repeated(Scan),
    /// Text that ended at a terminator but failed validation.
    Rejected(ScanError),
}

/// Groups timed keystrokes from a keyboard-wedge scanner into scans.
///
/// A scan ends at Enter (`\r` or `\n`, from either Enter key or as Ctrl+J)
/// or Tab. CR followed by LF yields one scan, because a terminator with
/// nothing before it yields none. A pause inside a scan does not split it:
/// the whole text is accepted at its terminator. Only after
/// [`WedgeConfig::idle_flush`] of quiet is unterminated text accepted
/// without a terminator, and only if it validates as a parcel barcode,
/// shelf label, GS1 string or product code. A verification code always
/// needs its terminator, since six digits may be the start of a longer
/// number.
///
/// A code whose text matches one seen less than [`WedgeConfig::blanking`]
/// ago is reported as [`AssembledScan::Repeated`]. The window restarts at
/// each repeat, so a scanner that keeps re-reading a label it is held over
/// stays quiet.
pub struct ScanAssembler {
    config: WedgeConfig,
    buffer: String,
    /// Characters typed since the last terminator, including any dropped
    /// beyond [`MAX_BUFFERED_CHARS`].
    typed_chars: usize,
    last_key_at: Option<Instant>,
    recent: Vec<RecentCode>,
}

struct RecentCode {
    text: String,
    seen_at: Instant,
}

impl ScanAssembler {
    /// Creates an assembler with no keystrokes pending.
    pub fn new(config: WedgeConfig) -> ScanAssembler {
        ScanAssembler {
            config,
            buffer: String::new(),
            typed_chars: 0,
            last_key_at: None,
            recent: Vec::new(),
        }
    }

    /// Returns the configuration the assembler was created with.
    pub fn config(&self) -> &WedgeConfig {
        &self.config
    }

    /// Takes one keystroke that arrived at `at` and returns the scans it
    /// completed.
    ///
    /// At most two scans come back: unterminated text flushed because the
    /// scanner was quiet for the idle timeout before this key, and the scan
    /// this key ends if it is a terminator.
    pub fn feed(&mut self, key: char, at: Instant) -> Vec<AssembledScan> {
        let mut completed = Vec::new();
        completed.extend(self.flush(at));
        if is_terminator(key) {
            completed.extend(self.finish(at));
        } else {
            self.push(key);
        }
        self.last_key_at = Some(at);
        completed
    }

    /// Accepts unterminated text after the idle timeout, if it validates.
    ///
    /// Call this from a timer while [`ScanAssembler::has_pending`] is true.
    /// Returns `None` and keeps the text when the scanner has not been quiet
    /// for [`WedgeConfig::idle_flush`] since the last key, or when the text
    /// is a verification code, of unknown kind or invalid.
    pub fn flush(&mut self, at: Instant) -> Option<AssembledScan> {
        let quiet_since = self.last_key_at?;
        let idle = at.saturating_duration_since(quiet_since) >= self.config.idle_flush;
        if !idle || self.buffer.is_empty() || self.typed_chars > MAX_BUFFERED_CHARS {
            return None;
        }
        let scan = normalize(&self.buffer, &self.config).ok()?;
        if matches!(scan.kind, ScanKind::PickupCode | ScanKind::Unknown) {
            return None;
        }
        self.clear();
        tracing::debug!(kind = ?scan.kind, "scan: accepted without terminator after idle timeout");
        Some(self.blank_repeat(scan, at))
    }

    /// Checks whether keystrokes are waiting for a terminator or a flush.
    pub fn has_pending(&self) -> bool {
        self.typed_chars > 0
    }

    /// Drops pending keystrokes, for example when the screen changes.
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.typed_chars = 0;
    }

    fn push(&mut self, key: char) {
        self.typed_chars = self.typed_chars.saturating_add(1);
        if self.typed_chars <= MAX_BUFFERED_CHARS {
            self.buffer.push(key);
        }
    }

    /// Ends the pending text at a terminator.
    fn finish(&mut self, at: Instant) -> Option<AssembledScan> {
        let typed_chars = self.typed_chars;
        let raw = std::mem::take(&mut self.buffer);
        self.typed_chars = 0;
        // Nothing but whitespace and control characters is no scan: the LF
        // of CR LF, a second terminator, or a stray key.
        if raw.chars().all(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        if typed_chars > MAX_BUFFERED_CHARS {
            tracing::debug!(typed_chars, "scan: rejected, too many keys before the terminator");
            return Some(AssembledScan::Rejected(ScanError::TooLong {
                length: typed_chars,
                max: MAX_SCAN_CHARS,
            }));
        }
        match normalize(&raw, &self.config) {
            Ok(scan) => Some(self.blank_repeat(scan, at)),
            Err(error) => Some(AssembledScan::Rejected(error)),
        }
    }

    /// Reports `scan` as a repeat when its text was seen within the
    /// blanking window, and records it otherwise.
    fn blank_repeat(&mut self, scan: Scan, at: Instant) -> AssembledScan {
        let blanking = self.config.blanking;
        self.recent.retain(|code| at.saturating_duration_since(code.seen_at) < blanking);
        if let Some(code) = self.recent.iter_mut().find(|code| code.text == scan.text) {
            code.seen_at = at;
            tracing::debug!(kind = ?scan.kind, "scan: repeat read within blanking window ignored");
            return AssembledScan::Repeated(scan);
        }
        if !blanking.is_zero() {
            if self.recent.len() == MAX_RECENT_CODES {
                self.recent.remove(0);
            }
            self.recent.push(RecentCode { text: scan.text.clone(), seen_at: at });
        }
        AssembledScan::Accepted(scan)
    }
}

impl Default for ScanAssembler {
    fn default() -> Self {
        ScanAssembler::new(WedgeConfig::default())
    }
}

impl fmt::Debug for ScanAssembler {
    /// Formats counts only, because pending keys may be a verification code.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ScanAssembler")
            .field("config", &self.config)
            .field("pending_chars", &self.typed_chars)
            .field("recent_codes", &self.recent.len())
            .finish()
    }
}

/// Checks for keys that end a scan: Enter (`\r`), Ctrl+J or LF (`\n`), Tab.
fn is_terminator(key: char) -> bool {
    matches!(key, '\r' | '\n' | '\t')
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::NaiveDate;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A scanner typing into an assembler on a simulated clock.
    struct Scanner {
        assembler: ScanAssembler,
        now: Instant,
        output: Vec<AssembledScan>,
    }

    impl Scanner {
        fn new() -> Scanner {
            Scanner::with_config(WedgeConfig::default())
        }

        fn with_config(config: WedgeConfig) -> Scanner {
            Scanner {
                assembler: ScanAssembler::new(config),
                now: Instant::now(),
                output: Vec::new(),
            }
        }

        /// Types each character of `keys`, `gap` apart.
        fn type_keys(&mut self, keys: &str, gap: Duration) {
            for key in keys.chars() {
                self.output.extend(self.assembler.feed(key, self.now));
                self.now += gap;
            }
        }

        fn pause(&mut self, length: Duration) {
            self.now += length;
        }

        fn flush(&mut self) {
            self.output.extend(self.assembler.flush(self.now));
        }

        fn accepted(&self) -> Vec<&str> {
            self.output
                .iter()
                .filter_map(|event| match event {
                    AssembledScan::Accepted(scan) => Some(scan.text.as_str()),
                    _ => None,
                })
                .collect()
        }

        fn repeated(&self) -> Vec<&str> {
            self.output
                .iter()
                .filter_map(|event| match event {
                    AssembledScan::Repeated(scan) => Some(scan.text.as_str()),
                    _ => None,
                })
                .collect()
        }

        fn only_scan(&self) -> &Scan {
            assert_eq!(self.output.len(), 1, "{:?}", self.output);
            match &self.output[0] {
                AssembledScan::Accepted(scan) => scan,
                other => panic!("expected one accepted scan, got {other:?}"),
            }
        }
    }

    const TRACKING_34: &str = "JJD00022251346500000000123456789AB";

    #[test]
    fn tracking_code_survives_500_scans() {
        assert_eq!(TRACKING_34.len(), 34);
        let mut scanner = Scanner::new();
        for _ in 0..500 {
            scanner.type_keys(TRACKING_34, MS);
            scanner.type_keys("\r", MS);
            scanner.pause(Duration::from_millis(400));
        }
        let accepted = scanner.accepted();
        assert_eq!(accepted.len(), 500);
        assert!(accepted.iter().all(|text| *text == TRACKING_34));
        assert_eq!(scanner.output.len(), 500);
    }

    #[test]
    fn back_to_back_scans_without_blanking() {
        let config = WedgeConfig { blanking: Duration::ZERO, ..WedgeConfig::default() };
        let mut scanner = Scanner::with_config(config);
        for _ in 0..500 {
            scanner.type_keys(TRACKING_34, MS);
            scanner.type_keys("\r", MS);
        }
        let accepted = scanner.accepted();
        assert_eq!(accepted.len(), 500);
        assert!(accepted.iter().all(|text| *text == TRACKING_34));
    }

    #[test]
    fn every_terminator_ends_one_scan() {
        let terminators = [
            ("Enter", "\r"),
            ("keypad Enter", "\r"),
            ("Enter as LF", "\n"),
            ("Tab", "\t"),
            ("Ctrl+J", "\u{A}"),
            ("CR+LF", "\r\n"),
        ];
        for (name, terminator) in terminators {
            let mut scanner = Scanner::new();
            scanner.type_keys(TRACKING_34, MS);
            scanner.type_keys(terminator, MS);
            scanner.pause(Duration::from_secs(2));
            scanner.flush();
            assert_eq!(scanner.output.len(), 1, "{name}: {:?}", scanner.output);
            assert_eq!(scanner.accepted(), [TRACKING_34], "{name}");
        }
    }

    #[test]
    fn crlf_then_code_gives_two_scans() {
        let mut scanner = Scanner::new();
        scanner.type_keys("PKG1\r\nPKG2\r\n", MS);
        assert_eq!(scanner.accepted(), ["PKG1", "PKG2"]);
        assert_eq!(scanner.output.len(), 2);
    }

    #[test]
    fn bare_terminators_yield_nothing() {
        let mut scanner = Scanner::new();
        scanner.type_keys("\r\n\t\r\r\n \r\u{2}\u{3}\r", MS);
        assert!(scanner.output.is_empty(), "{:?}", scanner.output);
    }

    #[test]
    fn gs1_with_ctrl_bracket_separator() {
        let mut scanner = Scanner::new();
        // Ctrl+] produces ASCII 29, the group separator.
        scanner.type_keys("010950110153000310ABC\u{1D}17251231\r", MS);
        let scan = scanner.only_scan();
        let data = scan.gs1.as_ref().unwrap();
        assert_eq!(scan.kind, ScanKind::Gs1);
        assert_eq!(data.gtin(), Some("09501101530003"));
        assert_eq!(data.lot(), Some("ABC"));
        assert_eq!(data.expiry(), NaiveDate::from_ymd_opt(2025, 12, 31));
    }

    #[test]
    fn scanner_dialects_give_same_parcel() {
        for keys in ["]C1JJD0001\r", "JJD0001\r", "*JJD0001\r", "\u{2}JJD0001\r", " JJD0001 \r"] {
            let mut scanner = Scanner::new();
            scanner.type_keys(keys, MS);
            let scan = scanner.only_scan();
            assert_eq!(scan.text, "JJD0001", "{keys:?}");
            assert_eq!(scan.kind, ScanKind::Parcel, "{keys:?}");
        }
    }

    #[test]
    fn repeat_within_blanking_is_ignored() {
        let mut scanner = Scanner::new();
        // 15 keys 2 ms apart: all three codes arrive within 30 ms.
        scanner.type_keys("PKG1\rPKG2\rPKG1\r", 2 * MS);
        assert_eq!(scanner.accepted(), ["PKG1", "PKG2"]);
        assert_eq!(scanner.repeated(), ["PKG1"]);
    }

    #[test]
    fn repeat_after_blanking_is_accepted() {
        let mut scanner = Scanner::new();
        scanner.type_keys("PKG1\r", MS);
        scanner.pause(Duration::from_millis(300));
        scanner.type_keys("PKG1\r", MS);
        assert_eq!(scanner.accepted(), ["PKG1", "PKG1"]);
    }

    #[test]
    fn held_scanner_stays_blanked() {
        let mut scanner = Scanner::new();
        for _ in 0..5 {
            scanner.type_keys("PKG1\r", MS);
            scanner.pause(Duration::from_millis(200));
        }
        assert_eq!(scanner.accepted(), ["PKG1"]);
        assert_eq!(scanner.repeated().len(), 4);
    }

    #[test]
    fn distinct_codes_in_burst_each_once() {
        let mut scanner = Scanner::new();
        let codes: Vec<String> = (0..40).map(|index| format!("PKG{index}")).collect();
        for code in &codes {
            scanner.type_keys(&format!("{code}\r"), Duration::ZERO);
        }
        assert_eq!(scanner.accepted(), codes);
    }

    #[test]
    fn paused_ean13_is_accepted_once() {
        let mut scanner = Scanner::new();
        scanner.type_keys("4006381", MS);
        scanner.pause(Duration::from_millis(80));
        scanner.flush();
        scanner.type_keys("333931", MS);
        assert!(scanner.output.is_empty(), "{:?}", scanner.output);
        scanner.type_keys("\r", MS);
        let scan = scanner.only_scan();
        assert_eq!(scan.text, "4006381333931");
        assert_eq!(scan.kind, ScanKind::Product);
    }

    #[test]
    fn paused_invalid_partial_stays_whole() {
        let mut scanner = Scanner::new();
        scanner.type_keys("JJD", MS);
        scanner.pause(Duration::from_secs(1));
        scanner.flush();
        scanner.type_keys("0001\r", MS);
        assert_eq!(scanner.accepted(), ["JJD0001"]);
        assert_eq!(scanner.output.len(), 1);
    }

    #[test]
    fn unterminated_parcel_flushes_when_idle() {
        let mut scanner = Scanner::new();
        // The last key went in 1 ms before the clock now reads.
        scanner.type_keys("PKG1", MS);
        scanner.pause(Duration::from_millis(498));
        scanner.flush();
        assert!(scanner.output.is_empty());
        scanner.pause(Duration::from_millis(1));
        scanner.flush();
        assert_eq!(scanner.accepted(), ["PKG1"]);
        assert!(!scanner.assembler.has_pending());
    }

    #[test]
    fn idle_flush_happens_before_next_key() {
        let mut scanner = Scanner::new();
        scanner.type_keys("PKG1", MS);
        scanner.pause(Duration::from_millis(600));
        scanner.type_keys("PKG2\r", MS);
        assert_eq!(scanner.accepted(), ["PKG1", "PKG2"]);
    }

    #[test]
    fn unterminated_pickup_code_is_not_flushed() {
        let mut scanner = Scanner::new();
        scanner.type_keys("012345", MS);
        scanner.pause(Duration::from_secs(5));
        scanner.flush();
        assert!(scanner.output.is_empty());
        assert!(scanner.assembler.has_pending());
    }

    #[test]
    fn terminated_pickup_code_is_accepted() {
        let mut scanner = Scanner::new();
        scanner.type_keys("012345\r", MS);
        let scan = scanner.only_scan();
        assert_eq!(scan.kind, ScanKind::PickupCode);
    }

    #[test]
    fn invalid_scan_is_rejected() {
        let mut scanner = Scanner::new();
        scanner.type_keys("RA123456784CN\r", MS);
        let expected = ScanError::S10CheckDigit { code: "RA123456784CN".to_owned() };
        assert_eq!(scanner.output, [AssembledScan::Rejected(expected)]);
    }

    #[test]
    fn stuck_key_scan_is_too_long() {
        let mut scanner = Scanner::new();
        scanner.type_keys(&"A".repeat(5000), Duration::ZERO);
        scanner.type_keys("\r", MS);
        let expected = ScanError::TooLong { length: 5000, max: MAX_SCAN_CHARS };
        assert_eq!(scanner.output, [AssembledScan::Rejected(expected)]);
    }

    #[test]
    fn clear_drops_pending_keys() {
        let mut scanner = Scanner::new();
        scanner.type_keys("PKG", MS);
        scanner.assembler.clear();
        scanner.type_keys("PKG2\r", MS);
        assert_eq!(scanner.accepted(), ["PKG2"]);
    }

    #[test]
    fn debug_hides_pending_digits() {
        let mut scanner = Scanner::new();
        scanner.type_keys("01234", MS);
        let debug = format!("{:?}", scanner.assembler);
        assert!(!debug.contains("01234"), "{debug}");
        assert!(debug.contains("pending_chars: 5"), "{debug}");
    }

    #[test]
    fn clock_going_backwards_does_not_panic() {
        let mut assembler = ScanAssembler::default();
        let start = Instant::now() + Duration::from_secs(10);
        let mut output = assembler.feed('P', start);
        output.extend(assembler.feed('K', start - Duration::from_secs(5)));
        output.extend(assembler.feed('1', start));
        output.extend(assembler.feed('\r', start - Duration::from_secs(9)));
        output.extend(assembler.flush(start - Duration::from_secs(9)));
        assert_eq!(output.len(), 1);
    }
}
