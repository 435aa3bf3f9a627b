//! The RTOS layer's port glue on the board (the shape every board's `port` module has).
//!
//! Every context that is not an interrupt is a task once the scheduler runs; the global
//! allocator is the FreeRTOS heap alone; a critical section is the kernel's. The default
//! services are the board's own ([`super::Mps2Board`]).
//!
//! An FFI module: it calls the kernel.
#![allow(unsafe_code)]

use alloc::boxed::Box;

use crate::rtos::ffi;
use crate::rtos::heap::FreeRtosHeap;

pub(crate) use super::SERVICES as DEFAULT_SERVICES;

/// Stack of the application task (the demo: TLS handshakes, and smoltcp's poll when a socket
/// call runs the stack), in bytes. Measured peaks with the board profile (opt-level "z", LTO;
/// `scripts/bench-cortex-m.sh` reports them): 7.6 KB with a server chain like AWS IoT's (RSA-2048
/// root and intermediate), 7.3 KB with an ECDSA chain and a P-256 or an RSA-2048 device key,
/// the same in an image built with `IOT_LINK_FAULTS`. The deepest path is the handshake: the
/// demo's cycle (1.7 KB), `connect_with_backoff` with the TLS glue (1.3 KB), then Mbed TLS's
/// TLS 1.3 key schedule (HKDF, SHA-512) or, deeper, its RSA-PSS verification of the server's
/// CertificateVerify (1.1 KB of its own) over the exponentiation in
/// [`crate::tls::montgomery`]. Frames cross the link by reference (see
/// [`crate::link::LinkCard`]); what is built on the stack only to be moved to the heap (the
/// network's start, a TCP socket, a DNS query and its answer), the demo's settings, its
/// response buffer and its failure texts are off that path. 10 KiB leaves a third over the
/// peak (it was 24 KiB for 18.0 KB when 1.5 KB frames were moved by value, then 11 KiB for
/// 8.4-8.6 KB while a TCP socket and a DNS exchange were built in the handshake's callers'
/// frames; the RSA chain, not measured then, would have taken about 9.4 KB).
pub(crate) const APPLICATION_STACK_BYTES: usize = 10 * 1024;
/// Stack of the IP task (smoltcp's), in bytes. Measured peak with the board profile: 2.0 KB
/// (DHCP, TCP, retransmissions under `IOT_LINK_FAULTS`). 3 KiB leaves 1 KB (50 % of the peak)
/// for paths a run may not take; an overflow is caught by the kernel's check (exit status
/// 70). It was 16 KiB for 9.1 KB with frames moved by value, then 6 KiB, then 4 KiB for
/// 2.5 KB while a log line was formatted whole on the logging task's stack (see
/// [`crate::rtos::console`]).
pub(crate) const IP_TASK_STACK_BYTES: usize = 3 * 1024;
/// Stack of a task whose builder names no size ([`crate::rtos::task::TaskBuilder::new`]), in
/// bytes: the kernel scenarios' tasks (formatting, a few nested calls). The kernel's minimum
/// (`configMINIMAL_STACK_SIZE`, 512 B) is for its idle task, which peaks at about 100 B.
pub(crate) const DEFAULT_TASK_STACK_BYTES: usize = 1024;
/// Stack of FreeRTOS+TCP's receive task `EMAC`, in bytes. It still takes each frame by value
/// (1.5 KB, twice at most): its high-water mark was 3,504 B for a demo run (the board's stack
/// report with `--features freertos-plus-tcp`), so it keeps 6 KiB.
#[cfg_attr(not(feature = "freertos-plus-tcp"), allow(dead_code))]
pub(crate) const RECEIVE_TASK_STACK_BYTES: usize = 6 * 1024;
/// Stack of FreeRTOS+TCP's own IP task (`IP-task`), in bytes: what
/// `ipconfigIP_TASK_STACK_SIZE_WORDS` gives it on Cortex-M (c_shim/plus_tcp/FreeRTOSIPConfig.h,
/// 1024 words), for the stack report. FreeRTOS+TCP creates that task itself.
#[cfg(feature = "freertos-plus-tcp")]
pub(crate) const PLUS_TCP_IP_TASK_STACK_BYTES: usize = 1024 * 4;
/// Stack of the kernel's idle task, in bytes (`configMINIMAL_STACK_SIZE` words).
pub(crate) fn idle_stack_bytes() -> usize {
    // SAFETY: returns a configuration constant.
    let words = unsafe { ffi::uxShimMinimalStackSize() };
    words * core::mem::size_of::<ffi::StackType_t>()
}

/// All Rust allocations come from the FreeRTOS heap (heap_4).
#[global_allocator]
static GLOBAL: FreeRtosHeap = FreeRtosHeap;

/// Bytes of the named task's stack it has never used (its high-water mark), or `None` when
/// no task has that name.
pub(crate) fn stack_unused_bytes(name: &core::ffi::CStr) -> Option<usize> {
    // SAFETY: the name is NUL-terminated and only read; the kernel looks the task up with the
    // scheduler suspended and reads the untouched fill pattern at the end of its stack.
    let unused = unsafe { ffi::xShimStackUnusedBytes(name.as_ptr()) };
    (unused != usize::MAX).then_some(unused)
}

/// Bytes of the running task's stack never used (0: the fill pattern at its far end is gone),
/// or `None` before the scheduler starts. Takes no lock, so a fault handler may ask.
pub(crate) fn current_stack_unused_bytes() -> Option<usize> {
    // SAFETY: only reads the running task's stack, scanning for the kernel's fill byte.
    in_task().then(|| unsafe { ffi::xShimCurrentStackUnusedBytes() })
}

/// Whether the caller runs as a task: on a board, any code once the scheduler has started
/// (interrupt handlers use the `FromISR` paths and never reach the task API).
pub(crate) fn in_task() -> bool {
    // SAFETY: reads the scheduler state; callable from any context.
    unsafe { ffi::xTaskGetSchedulerState() != ffi::taskSCHEDULER_NOT_STARTED }
}

/// A task's thread starts running Rust code: nothing to note on a board.
pub(crate) fn task_started() {}

/// A task is about to be deleted: nothing to note on a board.
pub(crate) fn task_ending() {}

/// A task body whose panic ended the program (on a board, the panic handler already did).
pub(crate) struct Panicked;

/// Runs a task's body. A panic never comes back here: the board's panic handler ends the
/// program.
pub(crate) fn run_task_body(body: Box<dyn FnOnce() + Send>) -> Result<(), Panicked> {
    body();
    Ok(())
}

/// Before the scheduler starts: nothing to prepare.
pub(crate) fn before_scheduler_start() {}

/// After `vTaskStartScheduler` returned (it does not on a board).
pub(crate) fn after_scheduler_stop() {}

/// The application task finished with `status`: the board ends the program with it (the
/// Cortex-M ports cannot stop the scheduler and return to `main`).
pub(crate) fn application_finished(status: i32) {
    crate::board::services().exit(status);
}

/// Blocks freed by non-task threads: none exist on a board.
pub(crate) fn reclaim_deferred_frees() {}

struct KernelCriticalSection;

critical_section::set_impl!(KernelCriticalSection);

// SAFETY: a kernel critical section masks the interrupts that could run kernel code and stops
// task switches; `release` undoes exactly one `acquire` (the kernel counts the nesting).
unsafe impl critical_section::Impl for KernelCriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        // SAFETY: called from a task (interrupt handlers do not take this lock on a board).
        unsafe { ffi::vShimEnterCritical() };
    }

    unsafe fn release(_: critical_section::RawRestoreState) {
        // SAFETY: pairs with the enter in `acquire`.
        unsafe { ffi::vShimExitCritical() };
    }
}
