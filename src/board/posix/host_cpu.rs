//! Which host CPUs the simulator's threads run on.
//!
//! The simulated microcontroller has one core, and the kernel runs one task at a time; on the
//! POSIX port every task is still its own host thread, and a task switch is one thread waking
//! another. When those threads are spread over host CPUs, every switch wakes a sleeping CPU,
//! which on a virtual machine costs tens of microseconds. So, as on the board, all tasks share
//! one core: `pin_kernel_threads` pins the calling thread (which then creates the kernel's
//! tasks, and they inherit it) to one host CPU, and host threads run on the process's other
//! CPUs (see [`super::host_thread`]), so that a host server never waits in the queue of
//! the CPU the tasks are using. On a one-CPU host everything shares that CPU.
//!
//! The CPU is chosen by the process id among those the process may use, so that several
//! simulators running at once (a parallel test run) spread over the machine. The environment
//! variable `FREERTOS_SIM_CPU` overrides it: a CPU number, or `any` to pin nothing.
//!
//! Linux only (`sched_setaffinity`); on other hosts nothing is pinned.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

/// The environment variable that chooses the kernel's host CPU.
pub const CPU_VARIABLE: &str = "FREERTOS_SIM_CPU";

#[cfg(target_os = "linux")]
pub(crate) use linux::{move_to_host_cpus, pin_kernel_threads, release_current_thread};

/// Other hosts: nothing is pinned.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pin_kernel_threads() -> Option<usize> {
    None
}

/// Other hosts: nothing to undo.
#[cfg(not(target_os = "linux"))]
pub(crate) fn move_to_host_cpus() {}

/// Other hosts: nothing to undo.
#[cfg(not(target_os = "linux"))]
pub(crate) fn release_current_thread() {}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::OnceLock;
    use std::vec::Vec;

    use super::CPU_VARIABLE;

    /// The CPUs the process could use before the kernel's threads were pinned.
    static PROCESS_CPUS: OnceLock<CpuSet> = OnceLock::new();
    /// The CPUs host threads use: the process's, less the kernel's when others remain.
    static HOST_CPUS: OnceLock<CpuSet> = OnceLock::new();

    /// A set of host CPUs.
    #[derive(Clone, Copy)]
    struct CpuSet(libc::cpu_set_t);

    impl CpuSet {
        /// The calling thread's CPUs.
        fn of_current_thread() -> Option<CpuSet> {
            // SAFETY: a zeroed cpu_set_t is a valid empty set.
            let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
            // SAFETY: asks for the calling thread's mask into a live set of the size given.
            let result = unsafe {
                libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set)
            };
            (result == 0).then_some(CpuSet(set))
        }

        fn without(&self, cpu: usize) -> CpuSet {
            let mut set = *self;
            // SAFETY: CPU_CLR bounds-checks `cpu` against the set's size.
            unsafe { libc::CPU_CLR(cpu, &mut set.0) };
            set
        }

        fn single(cpu: usize) -> CpuSet {
            // SAFETY: a zeroed cpu_set_t is a valid empty set.
            let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
            // SAFETY: CPU_SET bounds-checks `cpu` against the set's size.
            unsafe { libc::CPU_SET(cpu, &mut set) };
            CpuSet(set)
        }

        fn cpus(&self) -> Vec<usize> {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: CPU_ISSET reads a live set; the index is below CPU_SETSIZE.
                .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &self.0) })
                .collect()
        }

        /// Applies the set to the calling thread.
        fn apply_to_current_thread(&self) -> std::io::Result<()> {
            // SAFETY: sets the calling thread's mask from a live set of the size given.
            let result = unsafe {
                libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &self.0)
            };
            if result == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    }

    /// Pins the calling thread to the kernel's host CPU; threads it creates from now on inherit
    /// that. Returns the CPU, or `None` if nothing was pinned (`FREERTOS_SIM_CPU=any`, or the host
    /// refused; the simulator then runs unpinned, only slower).
    pub(crate) fn pin_kernel_threads() -> Option<usize> {
        let process = CpuSet::of_current_thread()?;
        let _ = PROCESS_CPUS.set(process);
        let allowed = process.cpus();
        let by_process_id = allowed.get(std::process::id() as usize % allowed.len().max(1));
        let chosen = match std::env::var(CPU_VARIABLE) {
            Ok(value) if value.trim().eq_ignore_ascii_case("any") => return None,
            Ok(value) => match value.trim().parse::<usize>() {
                Ok(cpu) if allowed.contains(&cpu) => cpu,
                _ => {
                    crate::rtos::console::write_line(
                        crate::rtos::console::Stream::Stderr,
                        format_args!(
                            "warning: {CPU_VARIABLE}={value} is not a CPU this process may use \
                             ({allowed:?}); choosing one"
                        ),
                    );
                    *by_process_id?
                }
            },
            Err(_) => *by_process_id?,
        };
        CpuSet::single(chosen).apply_to_current_thread().ok()?;
        let others = process.without(chosen);
        let _ = HOST_CPUS.set(if others.cpus().is_empty() {
            process
        } else {
            others
        });
        Some(chosen)
    }

    /// Moves the calling host thread to the host threads' CPUs. Host threads call this first.
    pub(crate) fn move_to_host_cpus() {
        if let Some(host) = HOST_CPUS.get() {
            let _ = host.apply_to_current_thread();
        }
    }

    /// Gives the calling thread back every CPU the process had before the kernel's threads were
    /// pinned; `main` calls it when the scheduler has stopped.
    pub(crate) fn release_current_thread() {
        if let Some(process) = PROCESS_CPUS.get() {
            let _ = process.apply_to_current_thread();
        }
    }
}
