//! The Windows simulator board: the FreeRTOS `MSVC-MingW` port on Windows (or under wine), with
//! `std`.
//!
//! | module | what |
//! |---|---|
//! | `port` (crate-private) | which threads are tasks, panics at the task boundary, the end of the program |
//! | `alloc` | the global allocator: tasks on the FreeRTOS heap, other threads on the host's (the POSIX board's, shared) |
//! | `critical_section_impl` | `critical_section` for tasks and host threads alike (the POSIX board's, shared) |
//! | [`host_thread`] | host (non-task) threads, which wake tasks through interrupt lines |
//! | [`app`], [`files`] | the demo's `main` and its files, shared with the POSIX simulator (`board::hosted`); the network card is the gateway (`board::gateway`) |
//!
//! On this port every task is a Windows thread, and the port's own "simulated interrupt"
//! thread runs the tick and every simulated interrupt while the running task's thread is
//! suspended (`SuspendThread`). The rules of the POSIX simulator carry over unchanged: a task
//! suspended while it holds a host lock (the process heap, a console lock) deadlocks the next
//! task that takes it, so tasks allocate from heap_4 and write to the console with the scheduler
//! suspended, and the allocator and the critical section are the POSIX board's, which were
//! written for exactly that rule. Interrupt lines ride on the port's simulated interrupts
//! (`c_shim/windows_port.c`), which host threads raise with
//! `vPortGenerateSimulatedInterruptFromWindowsThread`.
//!
//! [`WindowsBoard`] provides the [`BoardServices`]: `RtlGenRandom` for entropy, the host's
//! calendar and monotonic clocks, `WriteFile` on the standard handles, and `TerminateProcess`.
//!
//! Everything here is simulator-only; the portable core never names it.
#![allow(unsafe_code)]

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

#[path = "../posix/alloc.rs"]
pub mod alloc;
#[path = "../posix/critical_section_impl.rs"]
mod critical_section_impl;
pub mod host_thread;
pub(crate) mod port;

pub use super::hosted::{app, files};

use core::mem::ManuallyDrop;
use core::time::Duration;
use std::fs::File;
use std::io::Write;
use std::os::windows::io::{AsRawHandle, FromRawHandle};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::LevelFilter;

use super::{BoardServices, EntropyError};
use crate::rtos::console::Stream;
use crate::rtos::log::{InvalidLevel, LEVEL_ENV, parse_level};

#[link(name = "advapi32")]
unsafe extern "system" {
    /// `RtlGenRandom`: the system CSPRNG (exported under this name by advapi32).
    #[link_name = "SystemFunction036"]
    fn RtlGenRandom(buffer: *mut u8, length: u32) -> u8;
}

#[link(name = "kernel32")]
unsafe extern "system" {
    fn GetCurrentProcess() -> *mut core::ffi::c_void;
    fn TerminateProcess(process: *mut core::ffi::c_void, exit_code: u32) -> i32;
}

/// The Windows simulator's board services (see the module docs).
pub struct WindowsBoard;

/// The simulator's services, for [`crate::board::install`].
pub static SERVICES: &dyn BoardServices = &WindowsBoard;

/// When the board "powered on": the first time anything asked for the uptime.
static STARTED: OnceLock<Instant> = OnceLock::new();

impl BoardServices for WindowsBoard {
    fn name(&self) -> &'static str {
        "windows-simulator"
    }

    fn fill_entropy(&self, buffer: &mut [u8]) -> Result<(), EntropyError> {
        for chunk in buffer.chunks_mut(u32::MAX as usize) {
            // SAFETY: writes exactly `chunk.len()` bytes (which fits in a u32) into `chunk`.
            let filled = unsafe { RtlGenRandom(chunk.as_mut_ptr(), chunk.len() as u32) };
            if filled == 0 {
                return Err(EntropyError);
            }
        }
        Ok(())
    }

    fn wall_clock(&self) -> Option<Duration> {
        SystemTime::now().duration_since(UNIX_EPOCH).ok()
    }

    fn uptime(&self) -> Duration {
        STARTED.get_or_init(Instant::now).elapsed()
    }

    fn console_write(&self, stream: Stream, bytes: &[u8]) {
        // The raw standard handle, not `std::io::stdout()`: its lock could be held by a
        // suspended task. The console module calls this with the scheduler suspended.
        let handle = match stream {
            Stream::Stdout => std::io::stdout().as_raw_handle(),
            Stream::Stderr => std::io::stderr().as_raw_handle(),
        };
        if handle.is_null() {
            return;
        }
        // SAFETY: the handle is the process's standard handle, open for the process's life;
        // ManuallyDrop keeps it from being closed when the `File` goes out of scope.
        let mut file = ManuallyDrop::new(unsafe { File::from_raw_handle(handle) });
        let _ = file.write_all(bytes);
    }

    fn exit(&self, status: i32) -> ! {
        // SAFETY: ends the process at once, like `_exit` on POSIX. ExitProcess would run DLL
        // detach and C runtime exit handlers, which could wait for a lock held by a suspended
        // task.
        unsafe { TerminateProcess(GetCurrentProcess(), status as u32) };
        // TerminateProcess on the current process does not return; if it ever did, stop here.
        std::process::abort()
    }
}

/// The log level named by the `FREERTOS_HTTPS_LOG` environment variable, `default` if unset.
pub fn level_from_env(default: LevelFilter) -> Result<LevelFilter, InvalidLevel> {
    match std::env::var(LEVEL_ENV) {
        Ok(text) => parse_level(&text),
        Err(_) => Ok(default),
    }
}
