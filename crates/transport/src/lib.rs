//! The transport interface: how the HTTP client moves bytes over a connection.
//!
//! This is the Rust counterpart of coreHTTP's `TransportInterface_t`. The HTTP client
//! (`iot-http`) only ever talks to the network through [`Transport`]; the device crate
//! implements it twice, for plaintext TCP sockets and for TLS sessions. Keeping the trait in
//! this small `no_std` crate lets both sides depend on one definition, and lets the HTTP
//! client be tested on the host with in-memory transports.
//!
//! # Contract
//!
//! Unlike coreHTTP's `int32_t` return codes, the outcomes are spelled out so that a caller
//! can never confuse "nothing yet" with "the peer is gone":
//!
//! | outcome | `send` | `recv` |
//! |---|---|---|
//! | progress | [`Sent::Bytes`]`(n)`, `n > 0` | [`Received::Data`]`(n)`, `n > 0` |
//! | nothing within the transport's own timeout, connection still usable | [`Sent::WouldBlock`] | [`Received::WouldBlock`] |
//! | orderly end of the peer's stream (TCP FIN, TLS `close_notify`) | — | [`Received::EndOfStream`] |
//! | reset, fatal TLS alert, network down... | `Err(_)` | `Err(_)` |
//!
//! A transport returns `WouldBlock` only after it has actually waited (blocked, letting other
//! tasks run) for its own configured send/receive timeout; a caller that retries on
//! `WouldBlock` therefore never spins. A transport configured with a zero timeout polls, and
//! its caller must then sleep between tries. Overall deadlines (for a whole request, say)
//! belong to the caller.
//! Implementations must never return `Bytes(0)` or `Data(0)`: use `WouldBlock` instead.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

/// What a [`Transport::send`] call that did not fail achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The first `n` bytes of the data (`0 < n <= data.len()`) were accepted by the
    /// transport. The caller sends the rest later.
    Bytes(usize),
    /// No byte could be accepted within the transport's send timeout. The connection is
    /// still usable; try again later.
    WouldBlock,
}

/// What a [`Transport::recv`] call that did not fail produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// `n` bytes (`0 < n <= buf.len()`) were written to the front of the buffer.
    Data(usize),
    /// Nothing arrived within the transport's receive timeout. The connection is still
    /// open; more data may come later.
    WouldBlock,
    /// The peer closed its sending side in an orderly way. No more data will arrive; a
    /// response framed by connection close ends here.
    EndOfStream,
}

/// A connected, bidirectional byte stream: a TCP socket, a TLS session, or a test double.
///
/// See the [crate documentation](crate) for the contract every implementation keeps.
pub trait Transport {
    /// Why an operation failed. Reset connections, fatal alerts and the like; never
    /// "would block" or "end of stream", which are not errors.
    type Error: fmt::Debug + fmt::Display;

    /// Sends a prefix of `data`, blocking for at most the transport's send timeout.
    ///
    /// An empty `data` returns `Ok(Sent::WouldBlock)` without touching the connection.
    fn send(&mut self, data: &[u8]) -> Result<Sent, Self::Error>;

    /// Receives into `buf`, blocking for at most the transport's receive timeout.
    ///
    /// An empty `buf` returns `Ok(Received::WouldBlock)` without touching the connection.
    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, Self::Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    fn send(&mut self, data: &[u8]) -> Result<Sent, Self::Error> {
        (**self).send(data)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, Self::Error> {
        (**self).recv(buf)
    }
}
