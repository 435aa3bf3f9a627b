//! What the two simulators share (the POSIX port and the Windows port): on both, every task is
//! a host thread, and the process has other threads too (*host threads*: `main`, the bundled
//! endpoint, test harnesses, the Windows port's interrupt thread). The kernel's task API may
//! only be used from tasks, so the RTOS layer asks `in_task` before it enters the kernel.
//! Each simulator's `port` module re-exports these.
//!
//! The simulators also share their application side: the demo's `main` ([`app`]), credentials
//! and captures in files ([`files`]), and the choice of network card ([`card`]). This module
//! re-exports the board's [`host_thread`] and [`level_from_env`], so that harnesses name one
//! path on both simulators.

pub mod app;
pub mod card;
pub mod files;
pub mod session_file;

#[cfg(board = "posix")]
pub use super::posix::{host_thread, level_from_env};
#[cfg(board = "windows")]
pub use super::windows::{host_thread, level_from_env};

#[allow(unused_imports)]
use std::prelude::rust_2024::*;

use core::cell::Cell;
use std::boxed::Box;
use std::panic::{self, AssertUnwindSafe};
use std::thread_local;

use crate::rtos::console::{self, Stream};
use crate::rtos::task;

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
/// host-thread path (see the simulators' hybrid allocator, `board::posix::alloc`).
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

/// Reports panics through the lock-free console (the default hook locks stderr, which a
/// suspended task may hold).
pub(crate) fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        console::write_line(
            Stream::Stderr,
            format_args!("panic in task '{}': {info}", task::current_name()),
        );
    }));
}
