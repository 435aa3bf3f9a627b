//! The RTOS layer: a thin, safe Rust surface over the FreeRTOS kernel.
//!
//! This is the only module that calls the kernel through FFI, so it is the only one
//! allowed `unsafe`; every block says why it is sound.
//!
//! | module | what it wraps |
//! |---|---|
//! | [`scheduler`] | start the kernel with an application task; get its exit status back |
//! | [`task`] | spawn tasks from closures, priorities, notifications, yield |
//! | [`time`] | ticks, delays, the host clock |
//! | [`sync`] | [`sync::Queue`] and [`sync::Mutex`] on kernel queues and mutexes |
//! | [`critical`] | critical sections and scheduler suspension as guards |
//! | [`heap`] | heap_4 figures: total, free, minimum ever free |
//! | [`alloc`] | the global allocator that puts task allocations on the FreeRTOS heap |
//! | [`log`] | a `log` backend that cannot deadlock across priorities |
//! | [`console`] | lock-free line output used by the logger and the panic hook |
//! | [`host_cpu`] | all tasks on one host CPU, as on a single-core board |
//! | [`host_thread`] | host (non-task) threads that keep out of the kernel's way |
//! | [`interrupt`] | simulated interrupt lines: host threads waking tasks safely |
//! | [`idle`] | the idle task's wait for interrupt, and a watchdog for a starved idle task |
//!
//! # Two kinds of thread
//!
//! On the POSIX simulator every FreeRTOS task is a pthread, and only one of them runs at a
//! time. Other threads of the process (the simulated network link, the local HTTPS
//! endpoint, the test harness) are *host threads*. Host threads must not call the kernel's
//! task-level API (a queue send from a host thread trips a kernel assert), and must not be
//! able to leave a lock held by a suspended task between them and their progress. The
//! types here check which kind of thread calls them; see [`task::in_task`].
#![allow(unsafe_code)]

pub mod alloc;
pub mod console;
pub mod critical;
mod critical_section_impl;
pub(crate) mod ffi;
pub mod heap;
pub mod host_cpu;
pub mod host_thread;
pub mod idle;
pub mod interrupt;
pub mod log;
pub mod scheduler;
pub mod sync;
pub mod task;
pub mod time;
