//! # freertos-https: a mutual-TLS HTTPS client for IoT devices, on the real FreeRTOS kernel
//!
//! This crate is the device application's library. Its **portable core** is `no_std` +
//! `alloc` and compiles for every target; its **boards** (`src/board/`) hold what exists for
//! one target only. The layers, bottom up, follow the data path of one request:
//!
//! | layer | where | portable? | job |
//! |---|---|---|---|
//! | kernel | `build.rs`, `FreeRTOSConfig.h`, `c_shim/` | per port | FreeRTOS V11 (POSIX or ARM_CM4F port, heap_4) compiled by cargo |
//! | rtos | [`rtos`] | yes | thin safe Rust over the kernel: tasks, time, queues, mutexes, critical sections, heap, logging |
//! | link | [`link`] | yes | the network-card seam ([`link::LinkCard`]) and wrappers around any card (pcap tap) |
//! | net | [`net`] | yes | the sockets API ([`net::TcpIpStack`]) and its backend, smoltcp in an IP task |
//! | tls | [`tls`] | yes | mutual TLS with Mbed TLS 3.6 over any [`net::Connection`] |
//! | http, backoff | `crates/` | yes | `no_std` crates, tested on the host |
//! | demo | [`demo`] | yes | the coreHTTP mutual-auth demo task |
//! | board | [`board`] | no | services ([`board::BoardServices`]), cards, port glue, entry points: [`board::posix`] is the simulator, `board::mps2_an386` the Cortex-M4F board under QEMU |
//!
//! Only [`rtos`] and the board modules talk to C through FFI; everything else is safe Rust.
//! The portable core never names a board: what it needs from one goes through the seams in
//! [`board`].
#![no_std]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, board = "posix", board = "windows"))]
extern crate std;

pub mod board;
pub mod demo;
pub mod link;
pub mod net;
pub mod rtos;
pub mod tls;
