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

pub(crate) use super::SERVICES as DEFAULT_SERVICES;

/// Stack of the application task, in bytes: the kernel's minimum. Task code runs on its
/// Windows thread's own stack here, and the block the kernel takes from the FreeRTOS heap for
/// a task only holds the port's thread record (see FreeRTOSConfig.h).
pub(crate) const APPLICATION_STACK_BYTES: usize = 0;
/// Stack of the IP task, in bytes: the kernel's minimum, as above.
pub(crate) const IP_TASK_STACK_BYTES: usize = 0;
/// Stack of a task whose builder names no size, in bytes: the kernel's minimum, as above.
pub(crate) const DEFAULT_TASK_STACK_BYTES: usize = 0;
/// Stack of FreeRTOS+TCP's receive task `EMAC`, in bytes: the kernel's minimum, as above.
#[cfg_attr(not(feature = "freertos-plus-tcp"), allow(dead_code))]
pub(crate) const RECEIVE_TASK_STACK_BYTES: usize = 0;
pub(crate) use super::alloc::reclaim_deferred_frees;

pub(crate) use crate::board::hosted::{in_task, run_task_body, task_ending, task_started};

/// Called by `run_application` in `main` before the scheduler starts: panics are reported
/// without locks. (All of the port's threads share one CPU by construction: only one of them
/// is ever resumed at a time.)
pub(crate) fn before_scheduler_start() {
    crate::board::hosted::install_panic_hook();
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
