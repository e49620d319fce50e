//! Bounded retries with exponential backoff and jitter, for throttling and server errors.
//!
//! Only answers that say "try again" are retried: HTTP 429, HTTP 5xx, the KMS's own
//! throttling errors, and a connection the server dropped mid-request. A refused connection,
//! an unknown host, a TLS failure or a timeout is not retried: an unreachable KMS fails
//! fast, so the next provider of a multi-KMS object is tried at once.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::random;

/// How often and how patiently a KMS request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts in all (3 retries), 50 ms doubling per retry, capped at 2 s.
    fn default() -> Self {
        Self { max_attempts: 4, base_delay: Duration::from_millis(50), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// `max_attempts` (1 ..= 10) attempts in all; the wait before retry `n` (n = 1, 2, …) is
    /// drawn uniformly from `[d/2, d]` with `d = min(max_delay, base_delay · 2^(n-1))`.
    pub fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Result<Self> {
        if !(1..=10).contains(&max_attempts) {
            return Err(Error::InvalidParameter("retry attempts must be 1..=10"));
        }
        if base_delay > max_delay || max_delay > Duration::from_secs(60) {
            return Err(Error::InvalidParameter("retry delays: base <= max <= 60 s"));
        }
        Ok(Self { max_attempts, base_delay, max_delay })
    }

    /// No retries: one attempt.
    pub fn none() -> Self {
        Self { max_attempts: 1, base_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }

    /// Attempts in all (first try included).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    /// Base delay (before the first retry, before jitter).
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }
    /// Largest delay between two attempts.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The wait before retry number `retry` (1-based), with jitter.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(20);
        let d = self.base_delay.saturating_mul(1u32 << shift).min(self.max_delay);
        let mut b = [0u8; 2];
        // Jitter only; if the OS generator fails, wait the full delay.
        let frac = if random::fill(&mut b).is_ok() { u32::from(u16::from_le_bytes(b)) } else { u32::from(u16::MAX) };
        // d/2 + d/2 · frac/65535
        let half = d / 2;
        half + half.mul_f64(f64::from(frac) / f64::from(u16::MAX))
    }
}

/// What one attempt produced.
pub(crate) enum Attempt<T> {
    /// Done: success, or a final error.
    Done(Result<T>),
    /// Worth another try; the error is reported if no attempt is left.
    Retry(Error),
}

/// Run `attempt` until it is done or `policy.max_attempts` attempts were made, sleeping the
/// backoff delay between attempts. `on_retry` is told of every retry (for counters).
pub(crate) fn run<T>(policy: &RetryPolicy, mut attempt: impl FnMut() -> Attempt<T>, mut on_retry: impl FnMut()) -> Result<T> {
    let mut n = 1;
    loop {
        match attempt() {
            Attempt::Done(r) => return r,
            Attempt::Retry(e) => {
                if n >= policy.max_attempts {
                    return Err(e);
                }
                on_retry();
                std::thread::sleep(policy.delay(n));
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy::new(5, Duration::from_millis(100), Duration::from_millis(300)).unwrap();
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "{d1:?}");
            let d2 = p.delay(2);
            assert!(d2 >= Duration::from_millis(100) && d2 <= Duration::from_millis(200), "{d2:?}");
            let d9 = p.delay(9);
            assert!(d9 >= Duration::from_millis(150) && d9 <= Duration::from_millis(300), "{d9:?}");
        }
        assert!(RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).is_err());
        assert!(RetryPolicy::new(3, Duration::from_secs(2), Duration::from_secs(1)).is_err());
    }

    #[test]
    fn run_stops_after_max_attempts() {
        let p = RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(2)).unwrap();
        let mut calls = 0;
        let mut retries = 0;
        let r: Result<()> = run(
            &p,
            || {
                calls += 1;
                Attempt::Retry(Error::KmsThrottled)
            },
            || retries += 1,
        );
        assert_eq!(r, Err(Error::KmsThrottled));
        assert_eq!((calls, retries), (3, 2));
        let mut calls = 0;
        let r = run(
            &p,
            || {
                calls += 1;
                if calls < 2 {
                    Attempt::Retry(Error::KmsThrottled)
                } else {
                    Attempt::Done(Ok(7))
                }
            },
            || {},
        );
        assert_eq!((r, calls), (Ok(7), 2));
    }
}
