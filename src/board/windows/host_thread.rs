//! Host threads: ordinary Windows threads that live beside the kernel's tasks.
//!
//! They may block and take host locks freely, because the kernel never suspends them; in
//! exchange they must not call the kernel's task API (see [`crate::rtos`]). To wake a task they
//! raise an interrupt line ([`crate::rtos::interrupt::InterruptRaiser`]), which on this port
//! pends a simulated interrupt with `vPortGenerateSimulatedInterruptFromWindowsThread`. Unlike
//! the POSIX port there are no kernel signals to block: the port only ever suspends the threads
//! of its own tasks.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use std::io;
use std::thread::{self, JoinHandle};

use super::port::in_task;
use crate::rtos::critical::SchedulerSuspended;

/// Spawns a named host thread running `body`.
///
/// Callable from `main`, from another host thread, or from a task (the thread is then
/// created with the scheduler suspended, so the task cannot be suspended by the port while the
/// C runtime holds its thread-creation locks).
pub fn spawn<F, T>(name: &str, body: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let builder = thread::Builder::new().name(name.to_owned());
    let _suspended = in_task().then(SchedulerSuspended::enter);
    builder.spawn(body)
}
