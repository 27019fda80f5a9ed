//! Helpers shared by the bench binaries: percentiles, the machine's load and
//! the peak resident memory of this process.

#![allow(dead_code)]

use std::time::Duration;

/// True when `cargo bench` started this binary (it passes `--bench`). Under
/// `cargo test` a bench binary runs as a smoke test, with sizes small
/// enough for the test suite, and its figures mean nothing.
pub fn full_run() -> bool {
    let full = std::env::args().any(|argument| argument == "--bench");
    if !full {
        println!("smoke run (not started by `cargo bench`): small sizes, figures not meaningful");
    }
    full
}

/// Prints the CPU count and load average, which every figure depends on.
pub fn print_machine() {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("cpus: {cpus}; load average at start (1, 5, 15 min): {}", load.trim());
}

/// Returns the value below which `fraction` of `samples` lie (nearest rank).
pub fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_unstable();
    let rank = ((samples.len() as f64) * fraction).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Returns the CPU time this thread has used so far, which other processes
/// on the machine change far less than wall time.
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec, and
    // CLOCK_THREAD_CPUTIME_ID is supported on Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Peak resident set size of this process in KiB (`VmHWM`).
pub fn peak_rss_kib() -> u64 {
    status_field("VmHWM:")
}

/// Current resident set size of this process in KiB (`VmRSS`).
pub fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

/// Resets the peak resident set size to the current one, so that a later
/// [`peak_rss_kib`] reports the peak of what ran in between.
pub fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM (Linux 4.0 and later).
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("note: peak memory cannot be reset ({error}); peaks include set-up");
    }
}

/// Current resident set size of process `pid` in KiB.
pub fn rss_kib_of(pid: u32) -> u64 {
    field_of(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn status_field(name: &str) -> u64 {
    field_of("/proc/self/status", name)
}

fn field_of(path: &str, name: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user plus system) that process `pid` has used so far, from
/// `/proc/PID/stat`; `None` when it cannot be read.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|&value| value > 0)?;
    Some(Duration::from_millis(ticks * 1000 / per_second))
}
