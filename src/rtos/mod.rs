//! The RTOS layer: a thin, safe Rust surface over the FreeRTOS kernel. Portable: the same code
//! on every port (what differs per port is behind `crate::board`'s `port` module).
//!
//! This is the FFI module of the kernel, so it is allowed `unsafe`; every block says why it
//! is sound.
//!
//! | module | what it wraps |
//! |---|---|
//! | [`scheduler`] | start the kernel with an application task; get its exit status back |
//! | [`task`] | spawn tasks from closures, priorities, notifications, yield |
//! | [`time`] | ticks, delays, deadlines, the board's uptime clock |
//! | [`sync`] | [`sync::Queue`] and [`sync::Mutex`] on kernel queues and mutexes |
//! | [`critical`] | critical sections and scheduler suspension as guards |
//! | [`heap`] | heap_4 figures, and heap_4 allocation with any alignment |
//! | [`log`] | a `log` backend that cannot deadlock across priorities |
//! | [`console`] | lock-free line output on the board's console, used by the logger and panics |
//! | [`interrupt`] | interrupt lines: a card's interrupt waking the task attached to it |
//!
//! # Tasks and other contexts
//!
//! Kernel calls that block or switch tasks may only be made from tasks. On a board, that is
//! every context but interrupt handlers. On the POSIX simulator every task is a pthread, and
//! the process has other threads too (*host threads*: the bundled endpoint, test harnesses),
//! which must stay out of the kernel; see `board::posix`. The types here check which kind of
//! caller they have ([`task::in_task`]) and panic rather than corrupt the kernel.
#![allow(unsafe_code)]

pub mod console;
pub mod critical;
pub(crate) mod ffi;
pub mod heap;
pub mod interrupt;
pub mod log;
pub mod scheduler;
pub mod sync;
pub mod task;
pub mod time;

/// Status the program ends with after a failed kernel assertion (EX_SOFTWARE).
pub const ASSERT_EXIT_STATUS: i32 = 70;

/// `configASSERT` failed in the kernel (see `FreeRTOSConfig.h`): report where, and end the
/// program through the board. It does not return: continuing after a broken kernel invariant
/// could corrupt state silently.
#[unsafe(no_mangle)]
extern "C" fn vFreeRtosHttpsAssertFailed(file: *const core::ffi::c_char, line: core::ffi::c_ulong) {
    let file = if file.is_null() {
        "?"
    } else {
        // SAFETY: the kernel passes `__FILE__`, a static NUL-terminated string.
        unsafe { core::ffi::CStr::from_ptr(file) }
            .to_str()
            .unwrap_or("?")
    };
    console::fatal(
        format_args!("FreeRTOS assert failed: {file}:{line}"),
        ASSERT_EXIT_STATUS,
    );
}
