//! The POSIX simulator board: the FreeRTOS POSIX port on a Linux or macOS host, with `std`.
//!
//! | module | what |
//! |---|---|
//! | `port` (crate-private) | which threads are tasks, panics at the task boundary, the scheduler's start and stop |
//! | [`alloc`] | the global allocator: tasks on the FreeRTOS heap, host threads on the host's |
//! | `critical_section_impl` | `critical_section` for tasks and host threads alike |
//! | [`host_thread`] | host (non-task) threads that keep out of the kernel's way |
//! | [`host_cpu`] | all tasks on one host CPU, as on a single-core board |
//! | [`idle`] | the idle task's wait for interrupt, on host descriptors |
//! | [`slirp`] | the default network card: libslirp user-mode networking (the other is the gateway card, `board::gateway`) |
//! | [`files`] | credentials read from files, pcap captures written to files (shared with Windows: `board::hosted`) |
//! | [`app`] | the demo's `main`: command line, bundled endpoint, card, exit status (shared with Windows) |
//! | [`heap_trace`] | heap in use at every allocation and free, the peak by owner |
//! | [`stack_paint`] | a task's real stack use: its pthread's stack, painted |
//!
//! [`PosixBoard`] provides the [`BoardServices`]: the host's CSPRNG, its calendar and
//! monotonic clocks, standard output and error through `write(2)`, and `_exit`.
//!
//! Everything here is simulator-only; the portable core never names it.
#![allow(unsafe_code)]

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

pub mod alloc;
mod critical_section_impl;
pub mod heap_trace;
pub mod host_cpu;
pub mod host_thread;
pub mod idle;
pub(crate) mod port;
pub mod slirp;
pub mod stack_paint;

pub use super::hosted::{app, files};

use core::time::Duration;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::LevelFilter;

use super::{BoardServices, EntropyError};
use crate::rtos::console::Stream;
use crate::rtos::log::{InvalidLevel, LEVEL_ENV, parse_level};

/// The simulator's board services (see the module docs).
pub struct PosixBoard;

/// The simulator's services, for [`crate::board::install`].
pub static SERVICES: &dyn BoardServices = &PosixBoard;

/// When the board "powered on": the first time anything asked for the uptime.
static STARTED: OnceLock<Instant> = OnceLock::new();

impl BoardServices for PosixBoard {
    fn name(&self) -> &'static str {
        "posix-simulator"
    }

    fn fill_entropy(&self, buffer: &mut [u8]) -> Result<(), EntropyError> {
        let mut filled = 0;
        while filled < buffer.len() {
            let rest = &mut buffer[filled..];
            // SAFETY: writes at most `rest.len()` bytes into `rest`.
            let got = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if got > 0 {
                filled += got as usize;
            } else if got < 0
                && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
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

    fn console_write(&self, stream: Stream, mut bytes: &[u8]) {
        let fd = match stream {
            Stream::Stdout => libc::STDOUT_FILENO,
            Stream::Stderr => libc::STDERR_FILENO,
        };
        // One write(2) loop, no lock and no allocation: safe from any task at any priority.
        // The tick signal interrupts system calls (the port installs it without SA_RESTART).
        while !bytes.is_empty() {
            // SAFETY: the pointer and length describe a live slice that write(2) only reads.
            let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if written < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            bytes = &bytes[written as usize..];
        }
    }

    fn exit(&self, status: i32) -> ! {
        // SAFETY: ends the process at once. Exit handlers are skipped on purpose: they could
        // wait for a lock held by a suspended task.
        unsafe { libc::_exit(status) }
    }
}

/// The log level named by the `FREERTOS_HTTPS_LOG` environment variable, `default` if unset.
pub fn level_from_env(default: LevelFilter) -> Result<LevelFilter, InvalidLevel> {
    match std::env::var(LEVEL_ENV) {
        Ok(text) => parse_level(&text),
        Err(_) => Ok(default),
    }
}
