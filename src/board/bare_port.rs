//! Port glue for a bare-metal target that has no board yet (`thumbv7em-none-eabihf` until the
//! Cortex-M board lands): enough for the portable core to build, and the template a real
//! board's `port` module follows.
//!
//! Every context that is not an interrupt is a task once the scheduler runs; the global
//! allocator is the FreeRTOS heap alone; a critical section is the kernel's. The stand-in
//! services have no entropy (TLS and TCP then fail closed), no clock and no console.
//!
//! An FFI module: it calls the kernel.
#![allow(unsafe_code)]

use core::time::Duration;

use alloc::boxed::Box;

use super::{BoardServices, EntropyError};
use crate::rtos::console::Stream;
use crate::rtos::ffi;
use crate::rtos::heap::FreeRtosHeap;

/// All Rust allocations come from the FreeRTOS heap (heap_4).
#[global_allocator]
static GLOBAL: FreeRtosHeap = FreeRtosHeap;

/// Services of a target without a board: nothing to offer, every request fails closed.
struct NoBoard;

impl BoardServices for NoBoard {
    fn name(&self) -> &'static str {
        "none"
    }

    fn fill_entropy(&self, _buffer: &mut [u8]) -> Result<(), EntropyError> {
        Err(EntropyError)
    }

    fn wall_clock(&self) -> Option<Duration> {
        None
    }

    fn console_write(&self, _stream: Stream, _bytes: &[u8]) {}

    fn exit(&self, _status: i32) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }
}

/// The services used until a board installs its own.
pub(crate) static DEFAULT_SERVICES: &dyn BoardServices = &NoBoard;

/// Whether the caller runs as a task: on a board, any code once the scheduler has started
/// (interrupt handlers use the `FromISR` paths and never reach the task API).
pub(crate) fn in_task() -> bool {
    // SAFETY: reads the scheduler state; callable from any context.
    unsafe { ffi::xTaskGetSchedulerState() != ffi::taskSCHEDULER_NOT_STARTED }
}

/// A task's thread starts running Rust code: nothing to note on a board.
pub(crate) fn task_started() {}

/// A task is about to be deleted: nothing to note on a board.
pub(crate) fn task_ending() {}

/// A task body whose panic ended the program (on a board, the panic handler already did).
pub(crate) struct Panicked;

/// Runs a task's body. Bare-metal targets abort on panic, so there is nothing to catch.
pub(crate) fn run_task_body(body: Box<dyn FnOnce() + Send>) -> Result<(), Panicked> {
    body();
    Ok(())
}

/// Before the scheduler starts: nothing to prepare.
pub(crate) fn before_scheduler_start() {}

/// After `vTaskStartScheduler` returned (it does not on a board).
pub(crate) fn after_scheduler_stop() {}

/// The application task finished with `status`: the board ends the program with it (the
/// Cortex-M ports cannot stop the scheduler and return to `main`).
pub(crate) fn application_finished(status: i32) {
    super::services().exit(status);
}

/// Blocks freed by non-task threads: none exist on a board.
pub(crate) fn reclaim_deferred_frees() {}

struct KernelCriticalSection;

critical_section::set_impl!(KernelCriticalSection);

// SAFETY: a kernel critical section masks the interrupts that could run kernel code and stops
// task switches; `release` undoes exactly one `acquire` (the kernel counts the nesting).
unsafe impl critical_section::Impl for KernelCriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        // SAFETY: called from a task (interrupt handlers do not take this lock on a board).
        unsafe { ffi::vShimEnterCritical() };
    }

    unsafe fn release(_: critical_section::RawRestoreState) {
        // SAFETY: pairs with the enter in `acquire`.
        unsafe { ffi::vShimExitCritical() };
    }
}
