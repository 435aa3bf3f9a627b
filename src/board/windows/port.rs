//! What the RTOS layer needs from the Windows port (MSVC-MingW): which threads are tasks, how a
//! task body runs, and how the program ends.
//!
//! As on the POSIX simulator, every task is a host thread (here a Windows thread), and the
//! process has other threads too: `main`, the port's simulated interrupt thread, host threads.
//! The kernel's task API may only be used from tasks, so the RTOS layer asks [`in_task`]
//! before it enters the kernel.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::cell::Cell;
use std::boxed::Box;
use std::panic::{self, AssertUnwindSafe};

use crate::rtos::console::{self, Stream};
use crate::rtos::task;

pub(crate) use super::SERVICES as DEFAULT_SERVICES;

/// Stack of the application task, in bytes. Task code runs on its Windows thread's own stack
/// here, so this only sizes the block the kernel takes from the FreeRTOS heap for it.
pub(crate) const APPLICATION_STACK_BYTES: usize = 8 * 1024;
/// Stack of the IP task, in bytes. As above, a heap block only on this port.
pub(crate) const IP_TASK_STACK_BYTES: usize = 3 * 1024;
pub(crate) use super::alloc::reclaim_deferred_frees;

thread_local! {
    /// True while this thread is running the body of a FreeRTOS task.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a FreeRTOS task running Rust code (as opposed to a host
/// thread, the port's interrupt thread, or `main`).
pub(crate) fn in_task() -> bool {
    IN_TASK.with(Cell::get)
}

/// The calling thread starts running a task's Rust code.
pub(crate) fn task_started() {
    IN_TASK.with(|flag| flag.set(true));
}

/// The calling task is about to return into the trampoline that deletes it: from here on
/// what its destructors free takes the host-thread path (see `super::alloc`).
pub(crate) fn task_ending() {
    IN_TASK.with(|flag| flag.set(false));
}

/// A task body panicked (the panic hook has printed it).
pub(crate) struct Panicked;

/// Runs a task's body, stopping a panic at the task boundary: unwinding into the kernel's C
/// frames would abort without a word.
pub(crate) fn run_task_body(body: Box<dyn FnOnce() + Send>) -> Result<(), Panicked> {
    panic::catch_unwind(AssertUnwindSafe(body)).map_err(|_| Panicked)
}

/// Called by `run_application` in `main` before the scheduler starts: panics are reported
/// without locks. (All of the port's threads share one CPU by construction: only one of them
/// is ever resumed at a time.)
pub(crate) fn before_scheduler_start() {
    panic::set_hook(Box::new(|info| {
        console::write_line(
            Stream::Stderr,
            format_args!("panic in task '{}': {info}", task::current_name()),
        );
    }));
}

/// After `vTaskStartScheduler` returned (it does not: [`application_finished`] ends the
/// process).
pub(crate) fn after_scheduler_stop() {}

/// The application task finished with `status`: end the process with it. The port's
/// `vTaskEndScheduler` only stops its interrupt loop (within a second) and leaves the task
/// threads behind, so the board exits directly, as the Cortex-M boards do.
pub(crate) fn application_finished(status: i32) {
    super::super::services().exit(status);
}
