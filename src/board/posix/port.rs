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

use crate::rtos::ffi;

pub(crate) use super::SERVICES as DEFAULT_SERVICES;
pub(crate) use super::alloc::reclaim_deferred_frees;

/// Stack of the application task, in bytes: the kernel's minimum. Task code runs on its
/// pthread's own stack here (the host's default size), and the block the kernel takes from
/// the FreeRTOS heap for a task only holds the port's thread record (see FreeRTOSConfig.h).
/// The real stack is measured by painting the pthread's ([`super::stack_paint`]).
pub(crate) const APPLICATION_STACK_BYTES: usize = 0;
/// Stack of the IP task, in bytes: the kernel's minimum, as above.
pub(crate) const IP_TASK_STACK_BYTES: usize = 0;
/// Stack of a task whose builder names no size, in bytes: the kernel's minimum, as above.
pub(crate) const DEFAULT_TASK_STACK_BYTES: usize = 0;
/// Stack of FreeRTOS+TCP's receive task `EMAC`, in bytes: the kernel's minimum, as above.
#[cfg_attr(not(feature = "freertos-plus-tcp"), allow(dead_code))]
pub(crate) const RECEIVE_TASK_STACK_BYTES: usize = 0;

pub(crate) use crate::board::hosted::{Panicked, in_task, task_ending, task_started};

/// Runs a task's body (see `board::hosted::run_task_body`), on a thread whose stack is painted
/// first, so that the task's real stack use can be measured ([`super::stack_paint`]).
pub(crate) fn run_task_body(body: Box<dyn FnOnce() + Send>) -> Result<(), Panicked> {
    super::stack_paint::paint_current_thread();
    crate::board::hosted::run_task_body(body)
}

/// Called by `run_application` in `main` before the scheduler starts: panics are reported
/// without locks, and the kernel's threads are pinned to one host CPU (see [`super::host_cpu`]).
pub(crate) fn before_scheduler_start() {
    crate::board::hosted::install_panic_hook();
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
