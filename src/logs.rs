//! Logging of the terminal: events go to stderr and to daily log files in
//! `<data dir>/logs/`, whose total size is bounded, and `logs --since` reads
//! them back.
//!
//! A file is named `pickup-terminal.YYYY-MM-DD.NNN.log` after the UTC day of
//! its lines and a part number. A day's file that reaches a quarter of the
//! size bound is continued in the next part, and after each new file the
//! oldest files are deleted until the total fits the bound again. Every line
//! starts with its RFC 3339 UTC time.
//!
//! Note that this module does not filter text. No secret, code, PIN, token or
//! full phone number reaches the logs because the call sites log only ids
//! and counts.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::desk::{Clock, SystemClock};

/// Folder of the log files inside the data directory.
pub const LOG_DIR: &str = "logs";

const FILE_PREFIX: &str = "pickup-terminal.";
const FILE_SUFFIX: &str = ".log";

/// How to log in this process.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Folder of the log files; `None` logs to stderr only.
    pub dir: Option<PathBuf>,
    /// Upper bound of the total size of the log files, in bytes.
    pub max_total_bytes: u64,
    /// Filter of the file lines, for example `info`; `RUST_LOG` replaces it.
    pub file_level: String,
    /// Filter of the stderr lines; `RUST_LOG` replaces it.
    pub stderr_level: String,
    /// Colour the stderr lines (only when stderr is a terminal).
    pub color: bool,
}

/// Installs the process-wide logger. A second call in one process changes
/// nothing.
pub fn init(options: &LogOptions) {
    let filter = |default: &str| {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
    };
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(options.color)
        .with_filter(filter(&options.stderr_level));
    let file_layer = options.dir.as_ref().map(|dir| {
        let writer = RotatingFile::new(dir.clone(), options.max_total_bytes, Arc::new(SystemClock));
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .with_filter(filter(&options.file_level))
    });
    let _ = tracing_subscriber::registry().with(stderr_layer).with(file_layer).try_init();
}

/// Returns the log folder of a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_DIR)
}

/// One log file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub path: PathBuf,
    pub day: NaiveDate,
    pub part: u32,
    pub size: u64,
}

fn file_name(day: NaiveDate, part: u32) -> String {
    format!("{FILE_PREFIX}{}.{part:03}{FILE_SUFFIX}", day.format("%Y-%m-%d"))
}

/// Parses a name written by [`file_name`]; other files are not logs.
fn parse_file_name(name: &str) -> Option<(NaiveDate, u32)> {
    let middle = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    let (day, part) = middle.split_once('.')?;
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some((day, part.parse().ok()?))
}

/// Lists the log files in `dir`, oldest first. A missing folder has none.
pub fn log_files(dir: &Path) -> io::Result<Vec<LogFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some((day, part)) = entry.file_name().to_str().and_then(parse_file_name) else {
            continue;
        };
        let size = entry.metadata()?.len();
        files.push(LogFile { path: entry.path(), day, part, size });
    }
    files.sort_by_key(|file| (file.day, file.part));
    Ok(files)
}

/// Deletes the oldest log files until the total size is at most `max_total`.
/// The file at `keep` (the one being written) is never deleted.
fn prune(dir: &Path, max_total: u64, keep: &Path) -> io::Result<()> {
    let files = log_files(dir)?;
    let mut total: u64 = files.iter().map(|file| file.size).sum();
    for file in files {
        if total <= max_total {
            break;
        }
        if file.path == keep {
            continue;
        }
        std::fs::remove_file(&file.path)?;
        total -= file.size;
    }
    Ok(())
}

/// A log file writer that starts a new file each UTC day and when the current
/// file reaches a quarter of `max_total_bytes`, and keeps the folder within
/// `max_total_bytes`.
pub struct RotatingFile {
    dir: PathBuf,
    max_total_bytes: u64,
    clock: Arc<dyn Clock>,
    current: Mutex<Option<OpenFile>>,
}

struct OpenFile {
    day: NaiveDate,
    part: u32,
    file: File,
    size: u64,
}

impl RotatingFile {
    pub fn new(dir: PathBuf, max_total_bytes: u64, clock: Arc<dyn Clock>) -> RotatingFile {
        RotatingFile { dir, max_total_bytes, clock, current: Mutex::new(None) }
    }

    fn part_limit(&self) -> u64 {
        (self.max_total_bytes / 4).max(1)
    }

    /// Writes one formatted event, opening the next file first when the day
    /// changed or the current file is full.
    fn write_event(&self, bytes: &[u8]) -> io::Result<()> {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let today = self.clock.now().date_naive();
        let needs_new = match current.as_ref() {
            None => true,
            Some(open) => open.day != today || open.size >= self.part_limit(),
        };
        if needs_new {
            *current = Some(self.open_next(current.as_ref(), today)?);
        }
        let Some(open) = current.as_mut() else { return Ok(()) };
        open.file.write_all(bytes)?;
        open.size += bytes.len() as u64;
        Ok(())
    }

    /// Opens the file to continue in: the last part of today when it has
    /// room, else a new part. Then deletes the oldest files over the bound.
    fn open_next(&self, previous: Option<&OpenFile>, today: NaiveDate) -> io::Result<OpenFile> {
        std::fs::create_dir_all(&self.dir)?;
        let last_today = log_files(&self.dir)?.into_iter().rfind(|file| file.day == today);
        let (part, size) = match (previous, last_today) {
            (Some(open), _) if open.day == today => (open.part + 1, 0),
            (_, Some(file)) if file.size < self.part_limit() => (file.part, file.size),
            (_, Some(file)) => (file.part + 1, 0),
            (_, None) => (0, 0),
        };
        let path = self.dir.join(file_name(today, part));
        let file = open_append(&path)?;
        // Room is kept for the new file to grow to its limit.
        let budget = self.max_total_bytes.saturating_sub(self.part_limit());
        prune(&self.dir, budget, &path)?;
        Ok(OpenFile { day: today, part, file, size })
    }
}

/// Opens a log file for appending, readable by its owner only.
fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The writer of one event; see [`RotatingFile`].
pub struct EventWriter<'a>(&'a RotatingFile);

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write_event(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> EventWriter<'a> {
        EventWriter(self)
    }
}

/// Parses the argument of `logs --since`: an age such as `45s`, `30m`, `1h`
/// or `2d` before `now`, or an RFC 3339 time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let invalid = || {
        format!(
            "--since {text:?} is invalid: use an age such as 30m, 1h or 2d, \
             or an RFC 3339 time such as 2026-01-31T08:00:00Z"
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let age = match unit {
        "s" => Duration::try_seconds(number),
        "m" => Duration::try_minutes(number),
        "h" => Duration::try_hours(number),
        "d" => Duration::try_days(number),
        _ => None,
    }
    .ok_or_else(invalid)?;
    now.checked_sub_signed(age).ok_or_else(invalid)
}

/// Returns the time at the start of a log line, if it has one.
fn line_time(line: &str) -> Option<DateTime<Utc>> {
    let first = line.split_whitespace().next()?;
    DateTime::parse_from_rfc3339(first).ok().map(|time| time.with_timezone(&Utc))
}

/// Returns the log lines written at or after `since`, oldest first. A line
/// without a time (the rest of a multi-line message) goes with the line
/// before it.
pub fn lines_since(dir: &Path, since: DateTime<Utc>) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    for file in log_files(dir)?.into_iter().filter(|file| file.day >= since.date_naive()) {
        let mut keep = false;
        for line in read_lines(&file.path)? {
            if let Some(time) = line_time(&line) {
                keep = time >= since;
            }
            if keep {
                lines.push(line);
            }
        }
    }
    Ok(lines)
}

/// Returns the last `count` log lines, oldest first.
pub fn last_lines(dir: &Path, count: usize) -> io::Result<Vec<String>> {
    let mut lines = std::collections::VecDeque::with_capacity(count);
    for file in log_files(dir)? {
        for line in read_lines(&file.path)? {
            if lines.len() == count {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }
    Ok(lines.into_iter().take(count).collect())
}

/// Reads a file's lines; bytes that are not UTF-8 are replaced, so a torn
/// write at power loss does not hide the rest of the file.
fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    let file = match File::open(path) {
        Ok(file) => file,
        // Pruned between listing and reading.
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut reader = io::BufReader::new(file);
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    while reader.read_until(b'\n', &mut buffer)? > 0 {
        let line = String::from_utf8_lossy(&buffer);
        lines.push(line.trim_end_matches(['\r', '\n']).to_owned());
        buffer.clear();
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct StepClock(Mutex<DateTime<Utc>>);

    impl Clock for StepClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn line(time: &str, text: &str) -> String {
        format!("{time}  INFO {text}\n")
    }

    #[test]
    fn new_day_starts_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(StepClock(Mutex::new(at("2026-03-01T23:59:00Z"))));
        let writer = RotatingFile::new(dir.path().to_owned(), 1 << 20, clock.clone());
        writer.write_event(line("2026-03-01T23:59:00Z", "late").as_bytes()).unwrap();
        *clock.0.lock().unwrap() = at("2026-03-02T00:01:00Z");
        writer.write_event(line("2026-03-02T00:01:00Z", "early").as_bytes()).unwrap();
        let days: Vec<String> =
            log_files(dir.path()).unwrap().iter().map(|file| file.day.to_string()).collect();
        assert_eq!(days, ["2026-03-01", "2026-03-02"]);
    }

    #[test]
    fn total_size_stays_within_bound() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(StepClock(Mutex::new(at("2026-03-01T10:00:00Z"))));
        let max_total = 4_000;
        let writer = RotatingFile::new(dir.path().to_owned(), max_total, clock);
        let event = line("2026-03-01T10:00:00Z", &"x".repeat(80));
        for _ in 0..500 {
            writer.write_event(event.as_bytes()).unwrap();
        }
        let files = log_files(dir.path()).unwrap();
        let total: u64 = files.iter().map(|file| file.size).sum();
        assert!(files.len() > 1, "the day was split into parts");
        assert!(total <= max_total + event.len() as u64, "total {total} over {max_total}");
        assert!(files[0].part > 0, "the oldest parts were deleted");
    }

    #[test]
    fn reopening_appends_to_todays_file() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(StepClock(Mutex::new(at("2026-03-01T10:00:00Z"))));
        for text in ["first start", "second start"] {
            let writer = RotatingFile::new(dir.path().to_owned(), 1 << 20, clock.clone());
            writer.write_event(line("2026-03-01T10:00:00Z", text).as_bytes()).unwrap();
        }
        let files = log_files(dir.path()).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(read_lines(&files[0].path).unwrap().len(), 2);
    }

    #[test]
    fn lines_since_filters_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(StepClock(Mutex::new(at("2026-03-01T10:00:00Z"))));
        let writer = RotatingFile::new(dir.path().to_owned(), 1 << 20, clock.clone());
        writer.write_event(line("2026-03-01T10:00:00Z", "old").as_bytes()).unwrap();
        *clock.0.lock().unwrap() = at("2026-03-02T09:00:00Z");
        writer.write_event(line("2026-03-02T09:00:00Z", "kept").as_bytes()).unwrap();
        writer.write_event(b"  continued detail\n").unwrap();
        let lines = lines_since(dir.path(), at("2026-03-02T08:00:00Z")).unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("kept"));
        assert_eq!(lines[1], "  continued detail");
        assert_eq!(last_lines(dir.path(), 1).unwrap(), ["  continued detail"]);
    }

    #[test]
    fn since_accepts_ages_and_times() {
        let now = at("2026-03-02T12:00:00Z");
        assert_eq!(parse_since("30m", now).unwrap(), at("2026-03-02T11:30:00Z"));
        assert_eq!(parse_since("1h", now).unwrap(), at("2026-03-02T11:00:00Z"));
        assert_eq!(parse_since("2d", now).unwrap(), at("2026-02-28T12:00:00Z"));
        assert_eq!(
            parse_since("2026-03-01T08:00:00+08:00", now).unwrap(),
            at("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn since_rejects_unknown_forms() {
        for text in ["", "h", "5w", "1.5h", "yesterday", "99999999999999999999d"] {
            let error = parse_since(text, Utc::now()).unwrap_err();
            assert!(error.contains("30m, 1h or 2d"), "{text}: {error}");
        }
    }

    #[test]
    fn other_files_are_not_logs() {
        assert_eq!(parse_file_name("notes.txt"), None);
        assert_eq!(parse_file_name("pickup-terminal.2026-13-01.000.log"), None);
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(parse_file_name(&file_name(day, 7)), Some((day, 7)));
    }
}
