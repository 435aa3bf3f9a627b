//! Starting the kernel with an application task, and getting its exit status back.
//!
//! ```no_run
//! use freertos_https::rtos::{scheduler, task::Priority};
//!
//! let status = scheduler::run_application(Priority::new(2).unwrap(), || {
//!     log::info!("running under FreeRTOS");
//!     0
//! })
//! .expect("scheduler started");
//! std::process::exit(status);
//! ```
//!
//! On the simulator the scheduler stops when the application returns, and the status comes
//! back to `main`. The Cortex-M ports cannot stop the scheduler: there the board ends the
//! program with the status (`BoardServices::exit`) and this function never returns.

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::ffi;
use super::task::{self, Priority, SpawnError};
use crate::board::port;

static STARTED: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicBool = AtomicBool::new(false);
static EXIT_STATUS: AtomicI32 = AtomicI32::new(0);

/// Why [`run_application`] could not run the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// The scheduler already ran in this process; it is a process-wide singleton.
    AlreadyStarted,
    /// Called from a task; call it from `main`.
    CalledFromTask,
    /// The application task could not be created.
    ApplicationTask(SpawnError),
    /// `vTaskStartScheduler` returned without running the application, which means the
    /// FreeRTOS heap had no room for the idle or timer task.
    SchedulerFailed,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("the FreeRTOS scheduler already ran in this process"),
            StartError::CalledFromTask => f.write_str("run_application must be called from main, not from a task"),
            StartError::ApplicationTask(error) => write!(f, "cannot create the application task: {error}"),
            StartError::SchedulerFailed => f.write_str(
                "the FreeRTOS scheduler did not start: not enough heap for the idle and timer tasks \
                 (raise FREERTOS_HEAP_SIZE)",
            ),
        }
    }
}

impl core::error::Error for StartError {}

/// Creates the application task (named `app`) at `priority`, starts the scheduler, and
/// returns the status `body` returned once it has finished and the scheduler has stopped.
///
/// When `body` returns, the scheduler ends (`vTaskEndScheduler`) even if other tasks are
/// still running; they are left suspended and the process can exit. A panic in any task
/// ends the process (see [`crate::rtos::task`]).
pub fn run_application<F>(priority: Priority, body: F) -> Result<i32, StartError>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    if task::in_task() {
        return Err(StartError::CalledFromTask);
    }
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(StartError::AlreadyStarted);
    }
    port::before_scheduler_start();
    task::TaskBuilder::new("app")
        .priority(priority)
        .stack_bytes(port::APPLICATION_STACK_BYTES)
        .spawn(move || {
            let status = body();
            EXIT_STATUS.store(status, Ordering::SeqCst);
            FINISHED.store(true, Ordering::SeqCst);
            port::application_finished(status);
        })
        .map_err(StartError::ApplicationTask)?;
    // SAFETY: called once, from main, with the application task created. On the POSIX port
    // it returns after vTaskEndScheduler.
    unsafe { ffi::vTaskStartScheduler() };
    port::after_scheduler_stop();
    if FINISHED.load(Ordering::SeqCst) {
        Ok(EXIT_STATUS.load(Ordering::SeqCst))
    } else {
        Err(StartError::SchedulerFailed)
    }
}
