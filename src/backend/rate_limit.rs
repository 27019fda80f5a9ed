//! A token-bucket request limit per key (a terminal id, or a client address
//! for enrolment).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests per second a key may make on average, and how many it may make
/// at once after being idle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    /// 20 requests per second with bursts of 40: far above what a terminal's
    /// sync loop needs, low enough to stop a runaway retry loop.
    fn default() -> Self {
        RateLimit { per_second: 20.0, burst: 40 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets are dropped after this long without a request, so the map does
/// not grow without bound. A full bucket refills long before that.
const IDLE_EVICTION: Duration = Duration::from_secs(600);

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`. Returns how long to wait when the bucket is
    /// empty.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 1024 {
            buckets.retain(|_, bucket| now.duration_since(bucket.updated) < IDLE_EVICTION);
        }
        let burst = f64::from(self.limit.burst.max(1));
        let bucket =
            buckets.entry(key.to_string()).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        let wait = if self.limit.per_second > 0.0 { missing / self.limit.per_second } else { 60.0 };
        Err(Duration::from_secs_f64(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_wait() {
        let limiter = RateLimiter::new(RateLimit { per_second: 2.0, burst: 3 });
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("T1", start).is_ok());
        }
        let wait = limiter.check_at("T1", start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
    }

    #[test]
    fn bucket_refills_over_time() {
        let limiter = RateLimiter::new(RateLimit { per_second: 2.0, burst: 1 });
        let start = Instant::now();
        assert!(limiter.check_at("T1", start).is_ok());
        assert!(limiter.check_at("T1", start + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn keys_have_own_buckets() {
        let limiter = RateLimiter::new(RateLimit { per_second: 1.0, burst: 1 });
        let start = Instant::now();
        assert!(limiter.check_at("T1", start).is_ok());
        assert!(limiter.check_at("T2", start).is_ok());
    }
}
