//! Host threads: ordinary OS threads that live beside the kernel's tasks.
//!
//! The simulated network link and the local HTTPS endpoint run on host threads. They may
//! block in system calls and take host locks freely, because the kernel never suspends
//! them. In exchange they must not call the kernel's task API (see [`crate::rtos`]), and
//! they block the port's tick and resume signals so no kernel code can ever run on them.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use std::io;
use std::thread::{self, JoinHandle};

use super::port::in_task;
use crate::rtos::critical::SchedulerSuspended;
use crate::rtos::ffi;

/// Spawns a named host thread running `body`.
///
/// Callable from `main`, from another host thread, or from a task (the thread is then
/// created with the scheduler suspended, so the task cannot be pre-empted while the C
/// library holds its thread-creation locks).
pub fn spawn<F, T>(name: &str, body: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let builder = thread::Builder::new().name(name.to_owned());
    let start = move || {
        block_kernel_signals();
        super::host_cpu::move_to_host_cpus();
        body()
    };
    let _suspended = in_task().then(SchedulerSuspended::enter);
    builder.spawn(start)
}

/// Blocks the port's signals in the calling thread. [`spawn`] does this already; call it
/// first thing in a host thread created some other way.
pub fn block_kernel_signals() {
    // SAFETY: only changes the calling thread's signal mask.
    unsafe { ffi::vShimBlockKernelSignals() };
}
