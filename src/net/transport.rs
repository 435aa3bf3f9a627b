//! A TCP connection behind the [`Transport`] trait, and what TLS needs of the connection it
//! runs over ([`Connection`]).

use core::fmt;
use core::time::Duration;

use iot_transport::{Received, Sent, Transport};

use super::{RecvError, RecvEvent, SendError, TcpConnection};

/// How a byte stream failed: what TLS must tell apart below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// The peer reset the connection.
    Reset,
    /// The connection is closed for sending.
    Closed,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Reset => f.write_str("TCP connection reset by the peer"),
            StreamError::Closed => f.write_str("TCP connection closed for sending"),
        }
    }
}

impl core::error::Error for StreamError {}

/// A connected byte stream that TLS can run over: a [`Transport`] whose failures are
/// [`StreamError`]s, whose timeouts can be changed (the handshake's deadline shrinks them),
/// and that can be closed gracefully.
pub trait Connection: Transport<Error = StreamError> {
    /// Sets how long one send and one receive may wait.
    fn set_timeouts(&mut self, send: Duration, recv: Duration);

    /// Closes the connection gracefully (TCP FIN).
    fn close(self);
}

/// Plaintext TCP as a [`Transport`], over any backend's socket. Its timeouts are the socket's
/// send and receive timeouts: a call returns *would block* only after waiting that long.
pub struct TcpTransport<S: TcpConnection> {
    socket: S,
}

impl<S: TcpConnection> TcpTransport<S> {
    /// Wraps a connected socket.
    pub fn new(socket: S) -> TcpTransport<S> {
        TcpTransport { socket }
    }

    /// The socket, to change its timeouts or shut it down.
    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.socket
    }

    /// The socket back.
    pub fn into_socket(self) -> S {
        self.socket
    }
}

impl<S: TcpConnection> Transport for TcpTransport<S> {
    type Error = StreamError;

    fn send(&mut self, data: &[u8]) -> Result<Sent, Self::Error> {
        if data.is_empty() {
            return Ok(Sent::WouldBlock);
        }
        match self.socket.send(data) {
            Ok(count) => Ok(Sent::Bytes(count)),
            Err(SendError::TimedOut) => Ok(Sent::WouldBlock),
            Err(SendError::Reset) => Err(StreamError::Reset),
            Err(SendError::Closed) => Err(StreamError::Closed),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, Self::Error> {
        if buf.is_empty() {
            return Ok(Received::WouldBlock);
        }
        match self.socket.recv(buf) {
            Ok(RecvEvent::Data(count)) => Ok(Received::Data(count)),
            Ok(RecvEvent::TimedOut) => Ok(Received::WouldBlock),
            Ok(RecvEvent::EndOfStream) => Ok(Received::EndOfStream),
            Err(RecvError::Reset) => Err(StreamError::Reset),
        }
    }
}

impl<S: TcpConnection> Connection for TcpTransport<S> {
    fn set_timeouts(&mut self, send: Duration, recv: Duration) {
        self.socket.set_send_timeout(send);
        self.socket.set_recv_timeout(recv);
    }

    fn close(self) {
        self.socket.close();
    }
}
