//! A TCP socket behind the [`Transport`] trait, for the HTTP client and the TLS layer.

use core::fmt;

use iot_transport::{Received, Sent, Transport};

use super::tcp::{RecvError, RecvEvent, SendError, TcpSocket};

/// Plaintext TCP as a [`Transport`]. Its timeouts are the socket's send and receive timeouts:
/// a call returns *would block* only after waiting that long.
pub struct TcpTransport {
    socket: TcpSocket,
}

impl TcpTransport {
    /// Wraps a connected socket.
    pub fn new(socket: TcpSocket) -> TcpTransport {
        TcpTransport { socket }
    }

    /// The socket, to change its timeouts or shut it down.
    pub fn socket_mut(&mut self) -> &mut TcpSocket {
        &mut self.socket
    }

    /// The socket back.
    pub fn into_socket(self) -> TcpSocket {
        self.socket
    }
}

/// A transport failure on a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpTransportError {
    /// The peer reset the connection.
    Reset,
    /// The connection is closed for sending.
    Closed,
}

impl fmt::Display for TcpTransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpTransportError::Reset => f.write_str("TCP connection reset by the peer"),
            TcpTransportError::Closed => f.write_str("TCP connection closed for sending"),
        }
    }
}

impl std::error::Error for TcpTransportError {}

impl Transport for TcpTransport {
    type Error = TcpTransportError;

    fn send(&mut self, data: &[u8]) -> Result<Sent, Self::Error> {
        if data.is_empty() {
            return Ok(Sent::WouldBlock);
        }
        match self.socket.send(data) {
            Ok(count) => Ok(Sent::Bytes(count)),
            Err(SendError::TimedOut) => Ok(Sent::WouldBlock),
            Err(SendError::Reset) => Err(TcpTransportError::Reset),
            Err(SendError::Closed) => Err(TcpTransportError::Closed),
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
            Err(RecvError::Reset) => Err(TcpTransportError::Reset),
        }
    }
}
