//! `rtos-selftest`: checks the RTOS layer on the running port, one scenario per process.
//!
//! The FreeRTOS scheduler is a process-wide singleton, so each scenario runs in a process of
//! its own: `rtos-selftest <scenario>`. It prints `PASS <scenario> ...` and exits 0, or
//! `FAIL <scenario>: <why>` and exits 1. `rtos-selftest --list` names the scenarios. The
//! integration tests in `tests/rtos.rs` run each one; run it by hand when porting to a new
//! target to see that the kernel, the allocator and the logger behave.
//!
//! The scenarios come in two kinds:
//! * [`portable`]: the kernel as every board has it (pre-emption, time slicing, delays,
//!   queues, notifications, mutexes, heap, alignment, tasks that end, panics, kernel asserts).
//!   That module uses only `core`, `alloc` and the RTOS layer, so that every board can run it.
//! * `simulator`: what only the simulators have (host threads, host CPUs, interrupts
//!   raised from host threads, logging from host threads).
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod portable;
mod simulator;

use std::process::ExitCode;

use freertos_https_harness::{self as selftest_support, Scenario};
// What `portable` takes from its parent (the board's example provides its own).
use freertos_https_harness::{Outcome, check};

/// The simulator-only scenarios, by name (the portable ones are `portable::SCENARIOS` and
/// `portable::ENDING_SCENARIOS`); each returns details to print on success, or why it failed.
const SIMULATOR_SCENARIOS: &[Scenario<()>] = &[
    // Host threads beside the tasks (both simulators), host CPUs (POSIX).
    ("host_heap_alignment", simulator::host_heap_alignment),
    ("host_threads_allocate", simulator::host_threads_allocate),
    ("logger_stress", simulator::logger_stress),
    ("interrupt_stress", simulator::interrupt_stress),
    #[cfg(unix)]
    ("host_cpus", simulator::host_cpus),
    // A task's real stack, painted (Linux).
    #[cfg(target_os = "linux")]
    ("stack_painting", simulator::stack_painting),
];

/// The application task runs above every task a scenario spawns, so it can always observe.
const APP_PRIORITY: u8 = 8;

fn main() -> ExitCode {
    let scenarios: Vec<Scenario<()>> = portable::SCENARIOS
        .iter()
        .chain(portable::ENDING_SCENARIOS)
        .chain(SIMULATOR_SCENARIOS)
        .copied()
        .collect();
    selftest_support::run("rtos-selftest", scenarios.leak(), APP_PRIORITY, || Ok(()))
}
