//! What the RTOS layer needs from the POSIX port: which threads are tasks, how a task body
//! runs, and what happens around the scheduler's life.
//!
//! On this port every task is a pthread, and the process has other threads too (*host
//! threads*: the bundled endpoint, test harnesses). The kernel's task API may only be used
//! from tasks, so the RTOS layer asks [`in_task`] before it enters the kernel.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::cell::Cell;
use std::boxed::Box;
use std::panic::{self, AssertUnwindSafe};

use crate::rtos::console::{self, Stream};
use crate::rtos::{ffi, task};

pub(crate) use super::SERVICES as DEFAULT_SERVICES;
pub(crate) use super::alloc::reclaim_deferred_frees;

/// Stack of the application task, in bytes. Task code runs on its pthread's own stack here,
/// so this only sizes the block the kernel takes from the FreeRTOS heap for it.
pub(crate) const APPLICATION_STACK_BYTES: usize = 8 * 1024;
/// Stack of the IP task, in bytes (smoltcp's poll and DHCP; no TLS runs here). As above, a
/// heap block only on this port.
pub(crate) const IP_TASK_STACK_BYTES: usize = 3 * 1024;

thread_local! {
    /// True while this thread is running the body of a FreeRTOS task.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a FreeRTOS task running Rust code (as opposed to a host
/// thread, or `main` before the scheduler starts).
pub(crate) fn in_task() -> bool {
    IN_TASK.with(Cell::get)
}

/// The calling thread starts running a task's Rust code (a task spawned by the RTOS layer, or
/// the kernel's idle task entering its hook).
pub(crate) fn task_started() {
    IN_TASK.with(|flag| flag.set(true));
}

/// The calling task is about to return into the trampoline that deletes it. From here on the
/// kernel may end this thread at any switch, so anything its destructors free must take the
/// host-thread path (see [`super::alloc`]).
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
/// without locks, and the kernel's threads are pinned to one host CPU (see [`super::host_cpu`]).
pub(crate) fn before_scheduler_start() {
    install_panic_hook();
    // Every task (and the kernel's idle task and tick thread) is created from here on by this
    // thread or by a task, so they all inherit one host CPU.
    super::host_cpu::pin_kernel_threads();
}

/// Called in `main` once `vTaskStartScheduler` has returned.
pub(crate) fn after_scheduler_stop() {
    super::host_cpu::release_current_thread();
}

/// The application task finished: stop the kernel so that `vTaskStartScheduler` returns in
/// `main`, which then exits with the status. The calling task stays suspended for good.
pub(crate) fn application_finished(_status: i32) {
    // SAFETY: called from the application task, as vTaskEndScheduler requires. It does not
    // unwind; on the POSIX port it blocks this thread until the process exits.
    unsafe { ffi::vTaskEndScheduler() };
}

/// Reports panics through the lock-free console (the default hook locks stderr, which a
/// suspended task may hold).
fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        console::write_line(
            Stream::Stderr,
            format_args!("panic in task '{}': {info}", task::current_name()),
        );
    }));
}
