//! The idle task's "wait for interrupt", and a watchdog for when busy tasks starve it.
//!
//! This is the canonical description of the idle poll; other modules link here.
//!
//! When no task is ready, the kernel runs its idle task, and the idle hook sleeps in the host
//! kernel until the next signal (the tick, or a simulated interrupt): an idle device costs no
//! host CPU. A simulated device whose work waits on host descriptors can install an
//! [`IdlePoller`], so that the idle task sleeps in `poll(2)` on those descriptors as well and
//! the device is served the moment they are ready, without a host thread in between:
//!
//! 1. [`IdlePoller::prepare`] runs with the scheduler suspended and fills a [`PollSet`];
//! 2. the scheduler resumes; if another task ran meanwhile, the idle task plans again;
//! 3. `poll(2)` on that set, with the scheduler running;
//! 4. [`IdlePoller::finish`] runs with the scheduler suspended, with the results.
//!
//! The set belongs to the C hook from step 1 to step 4, so a poller never hands memory of its
//! own to C. Such a device is then only served while the system is idle, so it can ask for an
//! interrupt line to be [raised whenever the idle task is starved](raise_when_starved) and do
//! its work from the task attached to that line instead. Implementation: `c_shim/posix_port.c`.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use std::sync::OnceLock;

use crate::rtos::ffi;
use crate::rtos::interrupt::InvalidLine;
use crate::rtos::time::Ticks;

/// The descriptors the idle task sleeps on, with what `poll(2)` saw on each.
pub struct PollSet<'a> {
    poll: &'a mut ffi::ShimIdlePoll_t,
}

/// One descriptor of a [`PollSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollEntry {
    /// The file descriptor.
    pub fd: i32,
    /// `poll(2)` event bits wanted (`POLLIN`...).
    pub events: i16,
    /// `poll(2)` event bits seen (after the sleep).
    pub revents: i16,
}

/// The set is full ([`PollSet::CAPACITY`] descriptors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSetFull;

impl PollSet<'_> {
    /// Most descriptors one sleep can wait on.
    pub const CAPACITY: usize = ffi::SHIM_IDLE_POLL_MAX as usize;

    /// Adds a descriptor to wait on.
    pub fn push(&mut self, fd: i32, events: i16) -> Result<(), PollSetFull> {
        let slot = self
            .poll
            .axDescriptors
            .get_mut(self.poll.xCount)
            .ok_or(PollSetFull)?;
        slot.iFd = fd;
        slot.sEvents = events;
        slot.sRevents = 0;
        self.poll.xCount += 1;
        Ok(())
    }

    /// How many descriptors the set holds.
    pub fn len(&self) -> usize {
        self.poll.xCount
    }

    /// Whether the set holds none.
    pub fn is_empty(&self) -> bool {
        self.poll.xCount == 0
    }
}

/// What `poll(2)` saw on the descriptors of a [`PollSet`].
pub struct PollResults<'a> {
    poll: &'a ffi::ShimIdlePoll_t,
}

impl PollResults<'_> {
    /// The descriptors, in the order they were pushed, with what was seen on each.
    pub fn entries(&self) -> impl Iterator<Item = PollEntry> + '_ {
        let count = self.poll.xCount.min(PollSet::CAPACITY);
        self.poll.axDescriptors[..count]
            .iter()
            .map(|descriptor| PollEntry {
                fd: descriptor.iFd,
                events: descriptor.sEvents,
                revents: descriptor.sRevents,
            })
    }
}

/// A device served from the idle task. Both methods run on the idle task with the scheduler
/// suspended: they must not block, and need no lock against other tasks.
pub trait IdlePoller: Sync {
    /// Fills `set` with the descriptors to sleep on and returns the longest sleep in
    /// milliseconds, or `None` to sleep until the next signal (the set is then ignored).
    fn prepare(&self, set: &mut PollSet<'_>) -> Option<i32>;

    /// After the sleep: `results` holds what `poll(2)` saw, and `ready` what it returned
    /// (descriptors ready, 0 on timeout, or `Err(errno)`, `EINTR` when a signal ended the
    /// sleep).
    fn finish(&self, results: &PollResults<'_>, ready: Result<usize, i32>);
}

/// The poller is already installed; there is one per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyInstalled;

static POLLER: OnceLock<&'static dyn IdlePoller> = OnceLock::new();

/// Installs the idle task's poller. From then on the idle task sleeps on its descriptors.
pub fn install_poller(poller: &'static dyn IdlePoller) -> Result<(), AlreadyInstalled> {
    POLLER.set(poller).map_err(|_| AlreadyInstalled)?;
    // SAFETY: stores two function pointers in atomics the idle hook reads; both functions
    // have the signatures the shim declares.
    unsafe { ffi::vShimSetIdlePoller(Some(prepare_trampoline), Some(finish_trampoline)) };
    Ok(())
}

/// The idle hook's first call: the kernel's idle task is not started by the RTOS layer, so it
/// is marked as a task here before the poller runs.
unsafe extern "C" fn prepare_trampoline(poll: *mut ffi::ShimIdlePoll_t) -> ffi::BaseType_t {
    super::port::task_started();
    // SAFETY: the shim passes its own live structure, used by nothing else until `finish`.
    let poll = unsafe { &mut *poll };
    let mut set = PollSet { poll };
    set.poll.xCount = 0;
    let Some(timeout_ms) = POLLER.get().and_then(|poller| poller.prepare(&mut set)) else {
        return ffi::pdFALSE;
    };
    set.poll.iTimeoutMs = timeout_ms;
    ffi::pdTRUE
}

unsafe extern "C" fn finish_trampoline(
    poll: *const ffi::ShimIdlePoll_t,
    ready: core::ffi::c_int,
    errno: core::ffi::c_int,
) {
    let Some(poller) = POLLER.get() else { return };
    // SAFETY: the shim passes the structure `prepare_trampoline` filled, live for this call and
    // only read here.
    let poll = unsafe { &*poll };
    let results = PollResults { poll };
    poller.finish(&results, usize::try_from(ready).map_err(|_| errno));
}

/// How many ticks ago the idle hook last ran.
pub fn ticks_since_idle_ran() -> Ticks {
    // SAFETY: both calls only read kernel counters.
    let (now, last) = unsafe { (ffi::xTaskGetTickCount(), ffi::xShimIdleLastRan()) };
    Ticks::new(now.wrapping_sub(last))
}

/// Raises interrupt line `line` from every tick while the idle task has not run for `after`
/// ticks or more. Replaces an earlier watch.
pub fn raise_when_starved(line: u8, after: Ticks) -> Result<(), InvalidLine> {
    // SAFETY: stores two values in atomics the tick hook reads.
    let accepted =
        unsafe { ffi::xShimRaiseWhenIdleStarved(ffi::UBaseType_t::from(line), after.count()) };
    if accepted == ffi::pdPASS {
        Ok(())
    } else {
        Err(InvalidLine(line))
    }
}
