//! Critical sections and scheduler suspension, as guards that end when dropped.
//!
//! * [`CriticalSection`] masks interrupts (on the POSIX port: blocks the tick signal): no
//!   other task and no interrupt handler runs until it ends. Keep it to a few instructions.
//! * [`SchedulerSuspended`] stops task switches but leaves interrupts running: no other task
//!   runs until it ends. Suitable for short host I/O, e.g. writing a log line, so that a task
//!   can never be pre-empted while it holds a lock the next task needs.
//!
//! Both nest. Both are `!Send`: they must end on the task that began them. Both must be taken
//! from a task; on a host thread they would corrupt the running task's state, so they panic.

use core::marker::PhantomData;

use super::ffi;
use super::task::require_task;

/// Interrupts masked and no task switch until dropped (`taskENTER_CRITICAL`).
#[must_use = "the critical section ends when the guard is dropped"]
pub struct CriticalSection {
    _not_send: PhantomData<*const ()>,
}

impl CriticalSection {
    /// Enters a critical section. Panics on a host thread.
    pub fn enter() -> CriticalSection {
        require_task("CriticalSection::enter");
        // SAFETY: called from a task; the matching exit happens in Drop on the same task
        // because the guard is !Send.
        unsafe { ffi::vShimEnterCritical() };
        CriticalSection {
            _not_send: PhantomData,
        }
    }
}

impl Drop for CriticalSection {
    fn drop(&mut self) {
        // SAFETY: pairs with the enter in `CriticalSection::enter` on this task.
        unsafe { ffi::vShimExitCritical() };
    }
}

/// Runs `f` inside a critical section.
pub fn with_critical_section<R>(f: impl FnOnce() -> R) -> R {
    let _section = CriticalSection::enter();
    f()
}

/// No task switch until dropped (`vTaskSuspendAll` / `xTaskResumeAll`).
#[must_use = "the scheduler resumes when the guard is dropped"]
pub struct SchedulerSuspended {
    _not_send: PhantomData<*const ()>,
}

impl SchedulerSuspended {
    /// Suspends the scheduler. Panics on a host thread.
    pub fn enter() -> SchedulerSuspended {
        require_task("SchedulerSuspended::enter");
        // SAFETY: called from a task; resumed in Drop on the same task (the guard is !Send).
        unsafe { ffi::vTaskSuspendAll() };
        SchedulerSuspended {
            _not_send: PhantomData,
        }
    }
}

impl Drop for SchedulerSuspended {
    fn drop(&mut self) {
        // SAFETY: pairs with vTaskSuspendAll in `SchedulerSuspended::enter` on this task.
        // The return value (whether a switch already happened) needs no action.
        unsafe { ffi::xTaskResumeAll() };
    }
}

/// Runs `f` with the scheduler suspended.
pub fn with_scheduler_suspended<R>(f: impl FnOnce() -> R) -> R {
    let _suspended = SchedulerSuspended::enter();
    f()
}
