//! The idle task's "wait for interrupt", and a watchdog for when busy tasks starve it.
//!
//! When no task is ready, the kernel runs its idle task, and the idle hook sleeps in the host
//! kernel until the next signal (the tick, or a simulated interrupt): an idle device costs no
//! host CPU. A simulated device whose work waits on host descriptors can install an
//! [`IdlePoller`], so that the idle task sleeps in `poll(2)` on those descriptors as well and
//! the device is served the moment they are ready, without a host thread in between. Such a
//! device is then only served while the system is idle, so it can ask for an interrupt line
//! to be [raised whenever the idle task is starved](raise_when_starved) and do its work from
//! the task attached to that line instead. Implementation: `c_shim/posix_interrupt.c`.

use std::sync::OnceLock;

use super::ffi;
use super::interrupt::InvalidLine;
use super::time::Ticks;

/// What the idle task sleeps on: descriptors and the longest sleep.
#[derive(Debug, Clone, Copy)]
pub struct PollPlan {
    /// An array of `count` pollfd structures. It must stay valid, and be touched by nothing
    /// but the idle task, until [`IdlePoller::finish`] returns.
    pub descriptors: *mut libc::pollfd,
    /// How many descriptors.
    pub count: usize,
    /// Longest sleep in milliseconds (the tick interrupts it every tick anyway).
    pub timeout_ms: i32,
}

/// A device served from the idle task. Both methods run on the idle task with the scheduler
/// suspended: they must not block, and need no lock against other tasks.
pub trait IdlePoller: Sync {
    /// The descriptors to sleep on, or `None` to sleep until the next signal.
    fn prepare(&self) -> Option<PollPlan>;

    /// After the sleep: `ready` is what `poll(2)` returned (descriptors ready, 0 on timeout,
    /// or an error: `Err(errno)`, `EINTR` when a signal ended the sleep).
    fn finish(&self, ready: Result<usize, i32>);
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

/// The idle hook's first call: the kernel's idle task is not started by [`super::task`], so
/// it is marked as a task here before the poller runs.
unsafe extern "C" fn prepare_trampoline(plan: *mut ffi::ShimIdlePoll_t) -> ffi::BaseType_t {
    super::task::mark_kernel_task_thread();
    let Some(planned) = POLLER.get().and_then(|poller| poller.prepare()) else {
        return ffi::pdFALSE;
    };
    // SAFETY: the shim passes a pointer to its own live ShimIdlePoll_t, used for this call.
    let plan = unsafe { &mut *plan };
    plan.pvDescriptors = planned.descriptors.cast();
    plan.xCount = planned.count;
    plan.iTimeoutMs = planned.timeout_ms;
    ffi::pdTRUE
}

unsafe extern "C" fn finish_trampoline(ready: core::ffi::c_int, errno: core::ffi::c_int) {
    if let Some(poller) = POLLER.get() {
        poller.finish(usize::try_from(ready).map_err(|_| errno));
    }
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
