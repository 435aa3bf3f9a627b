//! Kernel ticks, delays, deadlines, and the board's uptime clock.
//!
//! Kernel time advances one tick per `configTICK_RATE_HZ` period (1 ms here). Delays, timeouts
//! and [`Deadline`]s count ticks, as on a board. Durations that are *reported* use [`Instant`],
//! the board's uptime clock: on a board that is the tick count too, but on the POSIX simulator
//! ticks come from a timer thread and run slow when the machine is loaded, so the simulator
//! board reports the host's monotonic clock instead.

use core::time::Duration;

use super::ffi;
use super::task::require_task;

/// A number of kernel ticks, used for delays and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticks(ffi::TickType_t);

impl Ticks {
    /// Do not wait at all.
    pub const ZERO: Ticks = Ticks(0);

    /// Wait forever (`portMAX_DELAY`; blocking indefinitely needs `INCLUDE_vTaskSuspend`,
    /// which the configuration enables).
    pub const FOREVER: Ticks = Ticks(ffi::TickType_t::MAX);

    /// Exactly `count` ticks. `TickType_t::MAX` means [`Ticks::FOREVER`].
    pub const fn new(count: ffi::TickType_t) -> Ticks {
        Ticks(count)
    }

    /// The smallest tick count that lasts at least `duration`, rounded up. Durations too long
    /// to count saturate just below [`Ticks::FOREVER`], so a finite duration never becomes an
    /// infinite wait.
    pub fn from_duration(duration: Duration) -> Ticks {
        let hz = u128::from(tick_rate_hz());
        let ticks = (duration.as_nanos() * hz).div_ceil(1_000_000_000);
        let finite_max = u128::from(ffi::TickType_t::MAX - 1);
        Ticks(ffi::TickType_t::try_from(ticks.min(finite_max)).unwrap_or(ffi::TickType_t::MAX - 1))
    }

    /// The raw count, as the kernel API takes it.
    pub const fn count(self) -> ffi::TickType_t {
        self.0
    }

    /// The count as a `u64`, whatever the port's tick width.
    // TickType_t is u64 on the POSIX port but u32 on Cortex-M: the conversion is not useless there.
    #[allow(clippy::useless_conversion)]
    pub fn as_u64(self) -> u64 {
        u64::from(self.0)
    }

    /// A count from a `u64`, saturating just below [`Ticks::FOREVER`].
    #[allow(clippy::useless_conversion)]
    pub fn from_u64_saturating(count: u64) -> Ticks {
        let finite_max = ffi::TickType_t::MAX - 1;
        Ticks(
            ffi::TickType_t::try_from(count)
                .unwrap_or(finite_max)
                .min(finite_max),
        )
    }

    /// How long this many ticks last at the configured tick rate (not for FOREVER).
    pub fn as_duration(self) -> Duration {
        let hz = u128::from(tick_rate_hz());
        let nanos = u128::from(self.0) * 1_000_000_000 / hz;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for Ticks {
    fn from(duration: Duration) -> Ticks {
        Ticks::from_duration(duration)
    }
}

/// The kernel's tick rate (`configTICK_RATE_HZ`).
// TickType_t is u64 on the POSIX port but u32 on Cortex-M: the conversion is not useless there.
#[allow(clippy::useless_conversion)]
pub fn tick_rate_hz() -> u64 {
    // SAFETY: returns a compile-time constant.
    u64::from(unsafe { ffi::xShimTickRateHz() })
}

/// Ticks since the scheduler started.
pub fn tick_count() -> Ticks {
    // SAFETY: a plain read of the kernel's tick counter, atomic on this port
    // (portTICK_TYPE_IS_ATOMIC); callable from tasks and before the scheduler starts.
    Ticks(unsafe { ffi::xTaskGetTickCount() })
}

/// Blocks the calling task for at least `duration`, letting lower-priority tasks run.
///
/// A kernel delay of `n` ticks ends at the `n`-th tick boundary, which can be almost a
/// whole tick early; one tick is added so the delay is never shorter than asked.
pub fn delay(duration: Duration) {
    let ticks = Ticks::from_duration(duration)
        .count()
        .saturating_add(1)
        .min(ffi::TickType_t::MAX - 1);
    delay_ticks(Ticks(ticks));
}

/// Blocks the calling task for `ticks` kernel ticks (`vTaskDelay`).
pub fn delay_ticks(ticks: Ticks) {
    require_task("delay");
    // SAFETY: called from a running task, as vTaskDelay requires.
    unsafe { ffi::vTaskDelay(ticks.count()) };
}

/// A point in the board's uptime clock, for timings that are reported (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// Now.
    pub fn now() -> Instant {
        Instant(crate::board::services().uptime())
    }

    /// Time since `self` (zero if the clock reads earlier, which it never should).
    pub fn elapsed(&self) -> Duration {
        Instant::now().0.saturating_sub(self.0)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// The time since the board started.
    pub fn since_start(&self) -> Duration {
        self.0
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(duration))
    }
}

/// A point in kernel time after which a blocking call gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<u64>);

impl Deadline {
    /// Never: wait as long as it takes.
    pub const NEVER: Deadline = Deadline(None);

    /// `timeout` from now (rounded up to whole ticks).
    pub fn after(timeout: Duration) -> Deadline {
        let ticks = Ticks::from_duration(timeout).as_u64();
        Deadline(Some(tick_count().as_u64().saturating_add(ticks)))
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (a, b) => Deadline(a.or(b)),
        }
    }

    /// Ticks left ([`Ticks::FOREVER`] for [`Deadline::NEVER`]), or `None` once passed.
    pub fn remaining(&self) -> Option<Ticks> {
        let Some(end) = self.0 else {
            return Some(Ticks::FOREVER);
        };
        let now = tick_count().as_u64();
        (now < end).then(|| Ticks::from_u64_saturating(end - now))
    }

    /// Whether the deadline has passed.
    pub fn has_passed(&self) -> bool {
        self.remaining().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    #[test]
    fn durations_round_up_to_whole_ticks() {
        assert_eq!(Ticks::from_duration(Duration::ZERO), Ticks::ZERO);
        assert_eq!(Ticks::from_duration(Duration::from_micros(1)).count(), 1);
        assert_eq!(Ticks::from_duration(Duration::from_millis(1)).count(), 1);
        assert_eq!(Ticks::from_duration(Duration::from_micros(1001)).count(), 2);
        assert_eq!(
            Ticks::from_duration(Duration::from_secs(70)).count(),
            70_000
        );
    }

    #[test]
    fn huge_durations_stay_finite() {
        let ticks = Ticks::from_duration(Duration::MAX);
        assert_ne!(ticks, Ticks::FOREVER);
        assert_eq!(ticks.count(), ffi::TickType_t::MAX - 1);
    }

    #[test]
    fn ticks_convert_back_to_durations() {
        assert_eq!(Ticks::new(250).as_duration(), Duration::from_millis(250));
    }
}
