//! Exponential backoff with full jitter, for retrying connections from a device.
//!
//! Each retry waits a random time in `[0, min(max_delay, base * 2^attempt)]` ("full
//! jitter", as AWS recommends), so that many devices failing together do not retry in
//! lockstep. This replaces FreeRTOS's backoffAlgorithm library and fixes its limits:
//!
//! - **Randomness comes from the caller** through [`EntropySource`]: on the device that is
//!   the TLS stack's entropy source (or `getrandom`). The crate holds no seeded PRNG, so
//!   two devices booted at the same time cannot draw the same delays.
//! - **Delays are [`Duration`]s**, not 16-bit milliseconds: no 65 s ceiling.
//! - **No overflow** at any attempt count: the exponential stops growing at the cap.
//!
//! # The delay must be slept
//!
//! This crate computes delays; it never sleeps (it has no idea how: the device uses
//! `vTaskDelay`, a test uses nothing). **The caller must actually wait for each delay
//! returned before retrying.** The upstream C demo computed its delay and never slept it,
//! which turned the backoff into a busy retry loop; do not repeat that.
//!
//! # Example
//!
//! ```
//! use core::time::Duration;
//! use iot_backoff::{Backoff, BackoffPolicy, EntropySource, NextDelay};
//!
//! /// Stands in for the device's TLS entropy source.
//! struct Entropy(u32);
//! impl EntropySource for Entropy {
//!     type Error = core::convert::Infallible;
//!     fn next_u32(&mut self) -> Result<u32, Self::Error> {
//!         self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
//!         Ok(self.0)
//!     }
//! }
//!
//! let policy = BackoffPolicy {
//!     base: Duration::from_millis(500),
//!     max_delay: Duration::from_secs(5),
//!     max_attempts: Some(5),
//! };
//! let mut backoff = Backoff::new(policy);
//! let mut entropy = Entropy(7);
//! let mut attempts = 1;
//! loop {
//!     let connected = attempts == 3; // try_connect() on the device
//!     if connected {
//!         break;
//!     }
//!     match backoff.next_delay(&mut entropy).unwrap() {
//!         NextDelay::Retry(delay) => {
//!             assert!(delay <= Duration::from_secs(5));
//!             // sleep(delay): vTaskDelay(ms_to_ticks(delay)) on the device.
//!             attempts += 1;
//!         }
//!         NextDelay::Exhausted => panic!("gave up"),
//!     }
//! }
//! assert_eq!(backoff.retries_done(), 2);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::time::Duration;

/// A source of random numbers for jitter, implemented by the caller.
///
/// Back it with real entropy (the TLS library's entropy/DRBG, a hardware RNG, or
/// `getrandom`); the quality of the jitter is the quality of this source.
pub trait EntropySource {
    /// Why no random number could be produced.
    type Error;

    /// A uniformly distributed random `u32`.
    fn next_u32(&mut self) -> Result<u32, Self::Error>;
}

impl<S: EntropySource + ?Sized> EntropySource for &mut S {
    type Error = S::Error;

    fn next_u32(&mut self) -> Result<u32, Self::Error> {
        (**self).next_u32()
    }
}

/// Retry parameters: the one place these tunables live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Upper bound of the first delay; each retry doubles the bound. Default 500 ms, as in
    /// the FreeRTOS coreHTTP demo.
    pub base: Duration,
    /// The bound stops doubling here. Default 5 s (the demo's value); any value works,
    /// including minutes or hours.
    pub max_delay: Duration,
    /// How many retries (delays) are allowed; `None` retries forever. Default `Some(5)`.
    pub max_attempts: Option<u32>,
}

impl BackoffPolicy {
    /// The defaults listed on each field.
    pub const DEFAULT: BackoffPolicy = BackoffPolicy {
        base: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
        max_attempts: Some(5),
    };
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy::DEFAULT
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextDelay {
    /// Sleep this long, then retry. The caller must really sleep it.
    Retry(Duration),
    /// The policy's retries are used up: give up and report the failure.
    Exhausted,
}

/// The backoff state of one retry sequence. Make a new one (or call
/// [`reset`](Backoff::reset)) after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    retries_done: u32,
}

impl Backoff {
    /// A fresh sequence under `policy`.
    pub const fn new(policy: BackoffPolicy) -> Self {
        Backoff {
            policy,
            retries_done: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &BackoffPolicy {
        &self.policy
    }

    /// How many delays have been handed out since the start or the last reset.
    pub fn retries_done(&self) -> u32 {
        self.retries_done
    }

    /// Starts over, e.g. after a successful connection.
    pub fn reset(&mut self) {
        self.retries_done = 0;
    }

    /// The delay before the next retry, drawn uniformly from `[0, bound]` where
    /// `bound = min(max_delay, base * 2^retries_done)`, or [`NextDelay::Exhausted`].
    ///
    /// Exhaustion consumes no entropy. The counter saturates, so calling this forever
    /// with unlimited attempts never overflows.
    ///
    /// # Errors
    /// The entropy source's error; the attempt is then not counted.
    pub fn next_delay<S: EntropySource>(&mut self, entropy: &mut S) -> Result<NextDelay, S::Error> {
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.retries_done >= max)
        {
            return Ok(NextDelay::Exhausted);
        }
        let bound = self.current_bound();
        let delay = jitter(bound, entropy)?;
        self.retries_done = self.retries_done.saturating_add(1);
        Ok(NextDelay::Retry(delay))
    }

    /// `min(max_delay, base * 2^retries_done)`, without overflow.
    pub fn current_bound(&self) -> Duration {
        let max = self.policy.max_delay;
        // 2^32 and more would overflow the u32 factor; by then any base has hit the cap
        // (or is zero, in which case the bound stays zero).
        let doubled = 1u32
            .checked_shl(self.retries_done)
            .and_then(|factor| self.policy.base.checked_mul(factor));
        match doubled {
            Some(bound) => bound.min(max),
            None if self.policy.base.is_zero() => Duration::ZERO,
            None => max,
        }
    }
}

/// A uniform random duration in `[0, bound]`, at nanosecond resolution.
///
/// Two `u32` draws make a 64-bit fraction of `bound + 1ns`; scaling instead of taking a
/// modulo keeps the bias below 2^-64 relative, which is nothing at these magnitudes.
fn jitter<S: EntropySource>(bound: Duration, entropy: &mut S) -> Result<Duration, S::Error> {
    let high = u64::from(entropy.next_u32()?);
    let low = u64::from(entropy.next_u32()?);
    let random = (high << 32) | low;
    let span = bound.as_nanos().saturating_add(1);
    Ok(duration_from_nanos(scale(random, span)))
}

/// `floor(random * span / 2^64)`, which is below `span`.
///
/// A `Duration` holds under 2^95 ns, so `span_high < 2^31` and neither product below can
/// overflow `u128`; the saturating ops are a belt over those braces.
fn scale(random: u64, span: u128) -> u128 {
    let random = u128::from(random);
    let span_low = span & u128::from(u64::MAX);
    let span_high = span >> 64;
    let high_part = random.saturating_mul(span_high);
    let low_part = random.saturating_mul(span_low) >> 64;
    high_part.saturating_add(low_part)
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 1e9, so it fits in u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Replays scripted values, and counts how many were drawn.
    struct Scripted {
        values: Vec<u32>,
        drawn: usize,
    }

    impl Scripted {
        fn repeat(value: u32) -> Self {
            Scripted {
                values: std::vec![value],
                drawn: 0,
            }
        }
    }

    impl EntropySource for Scripted {
        type Error = ();
        fn next_u32(&mut self) -> Result<u32, ()> {
            let v = self.values[self.drawn % self.values.len()];
            self.drawn += 1;
            Ok(v)
        }
    }

    struct Broken;
    impl EntropySource for Broken {
        type Error = &'static str;
        fn next_u32(&mut self) -> Result<u32, Self::Error> {
            Err("no entropy")
        }
    }

    fn policy(base_ms: u64, max_ms: u64, attempts: Option<u32>) -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
            max_attempts: attempts,
        }
    }

    fn delay(b: &mut Backoff, e: &mut Scripted) -> Duration {
        match b.next_delay(e).unwrap() {
            NextDelay::Retry(d) => d,
            NextDelay::Exhausted => panic!("exhausted"),
        }
    }

    #[test]
    fn bound_doubles_from_base() {
        let mut b = Backoff::new(policy(100, 1_000_000, None));
        let mut top = Scripted::repeat(u32::MAX);
        for attempt in 0..10u32 {
            assert_eq!(b.current_bound(), Duration::from_millis(100 << attempt));
            let d = delay(&mut b, &mut top);
            // Maximal entropy gives (just under) the bound.
            assert!(d <= Duration::from_millis(100 << attempt));
            assert!(d > Duration::from_millis(100 << attempt) - Duration::from_micros(1));
        }
    }

    #[test]
    fn zero_entropy_gives_zero_delay() {
        let mut b = Backoff::new(policy(100, 1000, None));
        assert_eq!(delay(&mut b, &mut Scripted::repeat(0)), Duration::ZERO);
    }

    #[test]
    fn jitter_follows_the_entropy() {
        // High word 2^31 (and low 0) is half of 2^64: half of the bound.
        let mut half = Scripted {
            values: std::vec![1 << 31, 0],
            drawn: 0,
        };
        let mut b = Backoff::new(policy(1000, 10_000, None));
        let d = delay(&mut b, &mut half);
        assert_eq!(d, Duration::from_nanos(500_000_000));
        assert_eq!(half.drawn, 2);
        // A quarter, on the second attempt (bound 2 s).
        let mut quarter = Scripted {
            values: std::vec![1 << 30, 0],
            drawn: 0,
        };
        assert_eq!(
            delay(&mut b, &mut quarter),
            Duration::from_nanos(500_000_000)
        );
    }

    #[test]
    fn delays_stay_within_bounds_for_many_draws() {
        let mut values = Vec::new();
        let mut x = 12345u32;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            values.push(x);
        }
        let mut e = Scripted { values, drawn: 0 };
        let mut b = Backoff::new(policy(50, 3000, None));
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let bound = b.current_bound();
            let d = delay(&mut b, &mut e);
            assert!(d <= bound);
            distinct.insert(d);
        }
        assert!(distinct.len() > 900, "jitter is not varying");
    }

    #[test]
    fn bound_is_capped_at_max_delay() {
        let mut b = Backoff::new(policy(500, 5000, None));
        let mut e = Scripted::repeat(u32::MAX);
        for _ in 0..10 {
            delay(&mut b, &mut e);
        }
        assert_eq!(b.current_bound(), Duration::from_secs(5));
        assert!(delay(&mut b, &mut e) <= Duration::from_secs(5));
    }

    #[test]
    fn delays_are_not_limited_to_65_seconds() {
        let mut b = Backoff::new(BackoffPolicy {
            base: Duration::from_secs(60),
            max_delay: Duration::from_secs(3600),
            max_attempts: None,
        });
        let mut e = Scripted::repeat(u32::MAX);
        let delays: Vec<_> = (0..8).map(|_| delay(&mut b, &mut e)).collect();
        assert!(delays[1] > Duration::from_secs(119));
        assert!(delays[7] > Duration::from_secs(3599) && delays[7] <= Duration::from_secs(3600));
    }

    #[test]
    fn exhausts_after_max_attempts_without_drawing_entropy() {
        let mut b = Backoff::new(policy(10, 100, Some(3)));
        let mut e = Scripted::repeat(7);
        for _ in 0..3 {
            assert!(matches!(b.next_delay(&mut e), Ok(NextDelay::Retry(_))));
        }
        let drawn = e.drawn;
        assert_eq!(b.next_delay(&mut e), Ok(NextDelay::Exhausted));
        assert_eq!(b.next_delay(&mut e), Ok(NextDelay::Exhausted));
        assert_eq!(e.drawn, drawn);
        b.reset();
        assert!(matches!(b.next_delay(&mut e), Ok(NextDelay::Retry(_))));
    }

    #[test]
    fn zero_attempts_is_exhausted_at_once() {
        let mut b = Backoff::new(policy(10, 100, Some(0)));
        assert_eq!(
            b.next_delay(&mut Scripted::repeat(1)),
            Ok(NextDelay::Exhausted)
        );
    }

    #[test]
    fn unlimited_attempts_never_exhaust_or_overflow() {
        let mut b = Backoff::new(policy(500, 5000, None));
        b.retries_done = u32::MAX - 2;
        let mut e = Scripted::repeat(u32::MAX);
        for _ in 0..5 {
            assert!(delay(&mut b, &mut e) <= Duration::from_secs(5));
        }
        assert_eq!(b.retries_done(), u32::MAX);
    }

    #[test]
    fn extreme_policies_do_not_overflow() {
        let mut e = Scripted::repeat(u32::MAX);
        for (base, max) in [
            (Duration::MAX, Duration::MAX),
            (Duration::from_nanos(1), Duration::MAX),
            (Duration::ZERO, Duration::MAX),
            (Duration::MAX, Duration::ZERO),
        ] {
            let mut b = Backoff::new(BackoffPolicy {
                base,
                max_delay: max,
                max_attempts: None,
            });
            for attempts in [0, 1, 31, 32, 33, 64, 1000, u32::MAX] {
                b.retries_done = attempts;
                let bound = b.current_bound();
                assert!(bound <= max);
                assert!(delay(&mut b, &mut e) <= bound);
            }
        }
    }

    #[test]
    fn entropy_failure_is_reported_and_not_counted() {
        let mut b = Backoff::new(BackoffPolicy::default());
        assert_eq!(b.next_delay(&mut Broken), Err("no entropy"));
        assert_eq!(b.retries_done(), 0);
    }

    #[test]
    fn defaults_match_the_corehttp_demo() {
        let p = BackoffPolicy::default();
        assert_eq!(p.base, Duration::from_millis(500));
        assert_eq!(p.max_delay, Duration::from_secs(5));
        assert_eq!(p.max_attempts, Some(5));
    }
}
