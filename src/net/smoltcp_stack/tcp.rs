//! TCP sockets with blocking calls and per-socket timeouts.

use core::net::Ipv4Addr;
use core::time::Duration;

use alloc::vec::Vec;
use smoltcp::socket::tcp;

use super::{Inner, SlotState, SocketId, Stack, TcpSlot};
use crate::net::{ConnectError, RecvError, RecvEvent, SendError, TcpConnection, TcpOptions};
use crate::rtos::time::{self, Deadline};

/// A connected TCP socket. Use it from tasks only. Dropping it closes it gracefully (FIN);
/// the stack frees its slot once the peer has answered, or resets it after a few seconds.
pub struct TcpSocket {
    stack: &'static Stack,
    id: SocketId,
    send_timeout: Duration,
    recv_timeout: Duration,
}

impl Stack {
    /// Connects to `address:port`, waiting up to `options.connect_timeout`.
    pub fn connect(
        &'static self,
        address: Ipv4Addr,
        port: u16,
        options: TcpOptions,
    ) -> Result<TcpSocket, ConnectError> {
        if address.is_unspecified() || address.is_broadcast() || port == 0 {
            return Err(ConnectError::InvalidAddress);
        }
        let id = self.open_socket(address, port)?;
        self.kick();
        let deadline = Deadline::after(options.connect_timeout);
        let outcome = self.block_until(deadline, |inner| {
            let (socket, _) = inner.tcp_mut(id)?;
            match socket.state() {
                tcp::State::SynSent | tcp::State::SynReceived => None,
                tcp::State::Closed => Some(Err(ConnectError::Refused)),
                _ => Some(Ok(())),
            }
        });
        let socket = TcpSocket {
            stack: self,
            id,
            send_timeout: options.send_timeout,
            recv_timeout: options.recv_timeout,
        };
        match outcome {
            Some(Ok(())) => Ok(socket),
            Some(Err(error)) => Err(error),
            None => {
                socket.abort();
                Err(ConnectError::TimedOut)
            }
        }
    }

    /// Creates a smoltcp socket in a free slot and starts the handshake.
    ///
    /// Never inlined: smoltcp builds the socket (this function's frame is 756 B on a board)
    /// on the stack before the socket set takes it, and inlined into a caller that goes on to
    /// run a TLS handshake, that space stayed in the caller's frame under the handshake.
    #[inline(never)]
    fn open_socket(&self, address: Ipv4Addr, port: u16) -> Result<SocketId, ConnectError> {
        let mut inner = self.inner.lock();
        if inner.ipv4.is_none() {
            return Err(ConnectError::NetworkDown);
        }
        let index = inner.free_slot().ok_or(ConnectError::NoFreeSocket)?;
        let socket = new_tcp_socket(&inner).ok_or(ConnectError::OutOfMemory)?;
        let handle = inner.sockets.add(socket);
        let local_port = inner.allocate_local_port();
        let Inner { iface, sockets, .. } = &mut *inner;
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        if socket
            .connect(iface.context(), (address, port), local_port)
            .is_err()
        {
            sockets.remove(handle);
            return Err(ConnectError::InvalidAddress);
        }
        let generation = inner.next_generation();
        inner.tcp[index] = Some(TcpSlot {
            handle,
            generation,
            state: SlotState::Owned,
            peer_fin: false,
        });
        Ok(SocketId { index, generation })
    }
}

/// A smoltcp TCP socket with buffers from the FreeRTOS heap, or `None` if they do not fit.
fn new_tcp_socket(inner: &Inner) -> Option<tcp::Socket<'static>> {
    let rx = try_buffer(inner.config.tcp_rx_buffer)?;
    let tx = try_buffer(inner.config.tcp_tx_buffer)?;
    let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    // Request/response traffic (TLS records, HTTP) must not wait for Nagle's algorithm.
    socket.set_nagle_enabled(false);
    Some(socket)
}

fn try_buffer(size: usize) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(size).ok()?;
    buffer.resize(size, 0);
    Some(buffer)
}

impl TcpSocket {
    /// Sends a prefix of `data`, waiting up to the send timeout for buffer space. Returns how
    /// many bytes were queued (at least one unless `data` is empty).
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if data.is_empty() {
            return Ok(0);
        }
        let deadline = Deadline::after(self.send_timeout);
        let id = self.id;
        let outcome = self.stack.block_until(deadline, |inner| {
            let queued = {
                let Some((socket, slot)) = inner.tcp_mut(id) else {
                    return Some(Err(SendError::Closed));
                };
                if !socket.may_send() {
                    return Some(Err(closed_reason(socket, slot.peer_fin)));
                }
                if !socket.can_send() {
                    return None;
                }
                socket.send_slice(data).map_err(|_| SendError::Closed)
            };
            if queued.is_ok() {
                // The segments leave now, on this task and under this lock, without a
                // switch to the IP task and back.
                inner.service_inline();
            }
            Some(queued)
        });
        outcome.unwrap_or(Err(SendError::TimedOut))
    }

    /// Receives into `buf`, waiting up to the receive timeout.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<RecvEvent, RecvError> {
        if buf.is_empty() {
            return Ok(RecvEvent::TimedOut);
        }
        let deadline = Deadline::after(self.recv_timeout);
        let id = self.id;
        let outcome = self.stack.block_until(deadline, |inner| {
            let Some((socket, slot)) = inner.tcp_mut(id) else {
                return Some(Ok(RecvEvent::EndOfStream));
            };
            if socket.can_recv() {
                let received = socket
                    .recv_slice(buf)
                    .map(RecvEvent::Data)
                    .map_err(|_| RecvError::Reset);
                if received.is_ok() {
                    // The window opened: smoltcp tells the peer now if it wants to.
                    inner.service_inline();
                }
                return Some(received);
            }
            if socket.may_recv() {
                return None;
            }
            let peer_fin = slot.peer_fin
                || matches!(
                    socket.state(),
                    tcp::State::CloseWait
                        | tcp::State::LastAck
                        | tcp::State::Closing
                        | tcp::State::TimeWait
                );
            Some(if peer_fin {
                Ok(RecvEvent::EndOfStream)
            } else {
                Err(RecvError::Reset)
            })
        });
        outcome.unwrap_or(Ok(RecvEvent::TimedOut))
    }

    /// Closes the sending side (FIN). Receiving goes on until the peer closes its side.
    pub fn shutdown(&mut self) {
        if let Some((socket, _)) = self.stack.inner.lock().tcp_mut(self.id) {
            socket.close();
        }
        self.stack.kick();
    }

    /// Closes the socket gracefully: FIN now, and the stack frees it once the peer answers.
    pub fn close(self) {
        drop(self);
    }

    /// Resets the connection (RST) and frees the socket at once.
    pub fn abort(self) {
        {
            let mut inner = self.stack.inner.lock();
            if let Some((socket, slot)) = inner.tcp_mut(self.id) {
                socket.abort();
                slot.state = SlotState::Closing {
                    since: time::tick_count(),
                };
            }
        }
        self.stack.kick();
        core::mem::forget(self);
    }

    /// Sets how long [`send`](Self::send) waits.
    pub fn set_send_timeout(&mut self, timeout: Duration) {
        self.send_timeout = timeout;
    }

    /// Sets how long [`recv`](Self::recv) waits.
    pub fn set_recv_timeout(&mut self, timeout: Duration) {
        self.recv_timeout = timeout;
    }

    /// The send timeout in force.
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// The receive timeout in force.
    pub fn recv_timeout(&self) -> Duration {
        self.recv_timeout
    }
}

/// Why a socket that may no longer send cannot: a reset if the peer never sent FIN.
fn closed_reason(socket: &tcp::Socket<'_>, peer_fin: bool) -> SendError {
    if socket.state() == tcp::State::Closed && !peer_fin {
        SendError::Reset
    } else {
        SendError::Closed
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        {
            let mut inner = self.stack.inner.lock();
            if let Some((socket, slot)) = inner.tcp_mut(self.id) {
                socket.close();
                slot.state = SlotState::Closing {
                    since: time::tick_count(),
                };
            }
        }
        self.stack.kick();
    }
}

impl TcpConnection for TcpSocket {
    fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        TcpSocket::send(self, data)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<RecvEvent, RecvError> {
        TcpSocket::recv(self, buf)
    }

    fn shutdown(&mut self) {
        TcpSocket::shutdown(self);
    }

    fn close(self) {
        TcpSocket::close(self);
    }

    fn abort(self) {
        TcpSocket::abort(self);
    }

    fn set_send_timeout(&mut self, timeout: Duration) {
        TcpSocket::set_send_timeout(self, timeout);
    }

    fn set_recv_timeout(&mut self, timeout: Duration) {
        TcpSocket::set_recv_timeout(self, timeout);
    }
}
