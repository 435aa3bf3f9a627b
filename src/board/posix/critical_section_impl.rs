//! The [`critical_section`] implementation for the process: some libraries (the Mbed TLS
//! bindings' clock hooks) guard their globals with `critical_section::with`.
//!
//! On a task it is a kernel critical section, so the holder is never pre-empted; a small
//! spin lock taken inside it also excludes host threads, which spin on the lock alone. A host
//! thread holding the lock is never suspended by the kernel, so a task never spins for long;
//! a task holding it cannot be pre-empted, so a host thread never spins for long either.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::sync::atomic::{AtomicBool, Ordering};

use super::port::in_task;
use crate::rtos::ffi;

struct KernelCriticalSection;

critical_section::set_impl!(KernelCriticalSection);

static HELD: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Nesting depth on this thread: only the outermost acquire takes the lock.
    static DEPTH: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

// SAFETY: `acquire` returns only once the caller holds the lock exclusively (tasks also mask the
// tick first); `release` undoes exactly one `acquire` on the same thread, as the trait requires.
unsafe impl critical_section::Impl for KernelCriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        if in_task() {
            // SAFETY: on a task; paired with the exit in `release` on the same task.
            unsafe { ffi::vShimEnterCritical() };
        }
        let outermost = DEPTH.with(|depth| {
            depth.set(depth.get() + 1);
            depth.get() == 1
        });
        if outermost {
            while HELD
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                core::hint::spin_loop();
            }
        }
    }

    unsafe fn release(_: critical_section::RawRestoreState) {
        let outermost = DEPTH.with(|depth| {
            depth.set(depth.get().saturating_sub(1));
            depth.get() == 0
        });
        if outermost {
            HELD.store(false, Ordering::Release);
        }
        if in_task() {
            // SAFETY: pairs with the enter in `acquire` on this task.
            unsafe { ffi::vShimExitCritical() };
        }
    }
}
