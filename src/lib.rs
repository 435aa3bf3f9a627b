//! # freertos-https: a mutual-TLS HTTPS client for IoT devices, on the real FreeRTOS kernel
//!
//! This crate is the device application's library: everything that runs inside the
//! FreeRTOS simulator (and, later, on a board). The layers, bottom up, follow the data path
//! of one request:
//!
//! | layer | where | job |
//! |---|---|---|
//! | kernel | `build.rs`, `FreeRTOSConfig.h`, `c_shim/` | FreeRTOS V11 (POSIX port, heap_4) compiled by cargo |
//! | rtos | [`rtos`] | thin safe Rust over the kernel: tasks, time, queues, mutexes, critical sections, heap figures, allocator, logging |
//! | link | [`link`] | Ethernet frames in and out; the simulator's card is libslirp |
//! | net | [`net`] | smoltcp in an IP task, blocking TCP sockets, DNS, the plaintext transport |
//! | tls | [`tls`] | mutual TLS with Mbed TLS 3.6, as an [`iot_transport::Transport`] |
//! | http, backoff | `crates/` | portable `no_std` crates, tested on the host |
//! | demo | [`demo`], `src/main.rs` | the coreHTTP mutual-auth demo task |
//!
//! Only [`rtos`] talks to the kernel through FFI; everything above it is safe Rust.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod demo;
pub mod link;
pub mod net;
pub mod rtos;
pub mod tls;
