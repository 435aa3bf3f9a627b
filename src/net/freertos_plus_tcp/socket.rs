//! TCP sockets and name lookups over FreeRTOS+TCP's Berkeley-style API.

use core::ffi::CStr;
use core::mem::{self, MaybeUninit};
use core::net::Ipv4Addr;
use core::ptr;
use core::sync::atomic::Ordering;
use core::time::Duration;

use super::interface::Interest;
use super::{Stack, ffi, from_plus, to_plus};
use crate::net::{
    ConnectError, DnsError, RecvError, RecvEvent, SendError, TcpConnection, TcpOptions,
};
use crate::rtos::task::{self, NotifySlot};
use crate::rtos::time::{Deadline, Ticks};

/// How long a gracefully closed socket waits for the peer to answer its FIN before it is freed
/// anyway.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// A connected FreeRTOS+TCP socket. Dropping it closes it gracefully.
pub struct TcpSocket {
    /// Never `FREERTOS_INVALID_SOCKET`; null once closed.
    raw: ffi::Socket_t,
    stack: &'static Stack,
    /// This side was shut down (FIN sent).
    shut: bool,
}

// SAFETY: a FreeRTOS+TCP socket may be used from any task (one at a time, which `&mut self`
// ensures); the pointer is only passed to FreeRTOS+TCP's API.
unsafe impl Send for TcpSocket {}

fn ticks(duration: Duration) -> ffi::TickType_t {
    ffi::TickType_t::try_from(Ticks::from_duration(duration).as_u64())
        .unwrap_or(ffi::TickType_t::MAX)
}

/// Whether `raw` is `FREERTOS_INVALID_SOCKET` (`(Socket_t) ~0U`) or null.
fn is_invalid(raw: ffi::Socket_t) -> bool {
    raw.is_null() || raw as usize == u32::MAX as usize || raw as usize == usize::MAX
}

/// Sets a timeout option (`FREERTOS_SO_RCVTIMEO` / `FREERTOS_SO_SNDTIMEO`).
fn set_timeout(raw: ffi::Socket_t, option: u32, value: ffi::TickType_t) {
    // SAFETY: `raw` is a valid socket; the option value is read as a TickType_t.
    unsafe {
        ffi::FreeRTOS_setsockopt(
            raw,
            0,
            option as i32,
            ptr::from_ref(&value).cast(),
            mem::size_of::<ffi::TickType_t>(),
        );
    }
}

/// The TCP window, in segments, for a buffer of `bytes`: as many full segments as the buffer
/// holds, at least one, and at most half the segment descriptors FreeRTOS+TCP shares between
/// all sockets (`ipconfigTCP_WIN_SEG_COUNT`), so that the send and receive windows of one
/// connection can both be full at once.
fn window_segments(bytes: usize) -> i32 {
    let mss = ffi::ipconfigTCP_MSS as usize;
    let most = (ffi::ipconfigTCP_WIN_SEG_COUNT as usize / 2).max(1);
    (bytes / mss).clamp(1, most) as i32
}

/// Sets the socket's buffers (from the stack's configuration) and its windows
/// (`FREERTOS_SO_WIN_PROPERTIES`, see [`window_segments`]). Before connecting.
fn set_buffers(raw: ffi::Socket_t, rx_bytes: usize, tx_bytes: usize) {
    let properties = ffi::WinProperties_t {
        lTxBufSize: i32::try_from(tx_bytes).unwrap_or(i32::MAX),
        lTxWinSize: window_segments(tx_bytes),
        lRxBufSize: i32::try_from(rx_bytes).unwrap_or(i32::MAX),
        lRxWinSize: window_segments(rx_bytes),
    };
    // SAFETY: `raw` is a valid, unconnected socket; the option value is a WinProperties_t.
    unsafe {
        ffi::FreeRTOS_setsockopt(
            raw,
            0,
            ffi::FREERTOS_SO_WIN_PROPERTIES as i32,
            ptr::from_ref(&properties).cast(),
            mem::size_of::<ffi::WinProperties_t>(),
        );
    }
}

/// Opens a socket and connects it, waiting up to `wait` for the handshake.
pub(super) fn connect(
    stack: &'static Stack,
    address: Ipv4Addr,
    port: u16,
    options: TcpOptions,
    wait: Ticks,
) -> Result<TcpSocket, ConnectError> {
    // SAFETY: FreeRTOS+TCP's API, callable from any task once the IP task runs.
    let raw = unsafe {
        ffi::FreeRTOS_socket(
            ffi::FREERTOS_AF_INET as ffi::BaseType_t,
            ffi::FREERTOS_SOCK_STREAM as ffi::BaseType_t,
            ffi::FREERTOS_IPPROTO_TCP as ffi::BaseType_t,
        )
    };
    if is_invalid(raw) {
        return Err(ConnectError::OutOfMemory);
    }
    stack.sockets.fetch_add(1, Ordering::SeqCst);
    let mut socket = TcpSocket {
        raw,
        stack,
        shut: false,
    };
    set_buffers(raw, stack.config.tcp_rx_buffer, stack.config.tcp_tx_buffer);
    // Started without waiting (a zero receive timeout makes FreeRTOS_connect return at once);
    // the wait is below, woken by the segments that decide it.
    set_timeout(raw, ffi::FREERTOS_SO_RCVTIMEO, 0);
    set_timeout(raw, ffi::FREERTOS_SO_SNDTIMEO, ticks(options.send_timeout));
    // SAFETY: a zeroed sockaddr is valid; the fields are then set.
    let mut peer: ffi::freertos_sockaddr = unsafe { MaybeUninit::zeroed().assume_init() };
    peer.sin_len = mem::size_of::<ffi::freertos_sockaddr>() as u8;
    peer.sin_family = ffi::FREERTOS_AF_INET as u8;
    peer.sin_port = port.to_be();
    peer.sin_address.ulIP_IPv4 = to_plus(address);
    // SAFETY: `raw` is a valid socket and `peer` a filled address that outlives the call.
    let result = unsafe {
        ffi::FreeRTOS_connect(raw, &peer, mem::size_of::<ffi::freertos_sockaddr>() as u32)
    };
    let started = result == 0 || result.unsigned_abs() as u32 == ffi::pdFREERTOS_ERRNO_EWOULDBLOCK;
    if !started {
        socket.release();
        return Err(match result.unsigned_abs() as u32 {
            ffi::pdFREERTOS_ERRNO_ENOMEM | ffi::pdFREERTOS_ERRNO_ENOBUFS => {
                ConnectError::OutOfMemory
            }
            ffi::pdFREERTOS_ERRNO_EINVAL => ConnectError::InvalidAddress,
            _ => ConnectError::Refused,
        });
    }
    if let Err(error) = wait_connected(stack, &socket, Deadline::after(wait.as_duration())) {
        socket.release();
        return Err(error);
    }
    set_timeout(raw, ffi::FREERTOS_SO_RCVTIMEO, ticks(options.recv_timeout));
    Ok(socket)
}

/// Waits until the handshake of `socket` is decided: established, refused (a reset took it to
/// `eCLOSED`), given up by FreeRTOS+TCP (its SYN retries ran out: `eCLOSE_WAIT`), or
/// `deadline`. Woken by SYN and RST segments (see [`super::interface::Interest`]).
fn wait_connected(
    stack: &'static Stack,
    socket: &TcpSocket,
    deadline: Deadline,
) -> Result<(), ConnectError> {
    loop {
        // Registered before the state is read, so a segment in between still wakes us.
        let registered = stack.interface.expect(Interest::TcpControl);
        let state = socket.state();
        let decided = if state == ffi::eESTABLISHED as ffi::BaseType_t {
            Some(Ok(()))
        } else if state == ffi::eCLOSED as ffi::BaseType_t || state < 0 {
            Some(Err(ConnectError::Refused))
        } else if state == ffi::eCONNECT_SYN as ffi::BaseType_t {
            None
        } else if state == ffi::eCLOSE_WAIT as ffi::BaseType_t && !socket.peer_sent_fin() {
            Some(Err(ConnectError::TimedOut))
        } else {
            // Past the handshake already (the peer may have sent data and FIN at once).
            Some(Ok(()))
        };
        let remaining = deadline.remaining();
        if decided.is_some() || remaining.is_none() {
            stack.interface.forget();
            return decided.unwrap_or(Err(ConnectError::TimedOut));
        }
        let remaining = remaining.unwrap_or(Ticks::ZERO);
        // Without a registration (too many waiters) only FreeRTOS+TCP's own pace is left:
        // look again every 10 ms.
        let wait = if registered {
            remaining
        } else {
            Ticks::from_u64_saturating(
                remaining
                    .as_u64()
                    .min(Ticks::from_duration(Duration::from_millis(10)).as_u64()),
            )
        };
        task::wait_for_notification_on(NotifySlot::Network, wait);
        stack.interface.forget();
    }
}

impl TcpSocket {
    /// The socket's TCP state (`eIPTCPState_t`), or -1 if it is not a TCP socket.
    fn state(&self) -> ffi::BaseType_t {
        // SAFETY: `raw` is a valid socket; the shim only reads its state.
        unsafe { ffi::xShimPlusTcpState(self.raw) }
    }

    /// Whether the peer has ended its stream with a FIN (as opposed to a reset).
    fn peer_sent_fin(&self) -> bool {
        // SAFETY: `raw` is a valid socket; the shim only reads a flag of it.
        unsafe { ffi::xShimPlusTcpPeerSentFin(self.raw) != 0 }
    }

    /// `FreeRTOS_closesocket`, once.
    fn release(&mut self) {
        if self.raw.is_null() {
            return;
        }
        // SAFETY: `raw` is a valid socket, closed once: it is nulled right after.
        unsafe { ffi::FreeRTOS_closesocket(self.raw) };
        self.raw = ptr::null_mut();
        self.stack.sockets.fetch_sub(1, Ordering::SeqCst);
    }

    /// FIN, then wait (bounded) for the peer's FIN or reset, then free the socket: the
    /// graceful close FreeRTOS+TCP's documentation describes.
    fn close_gracefully(&mut self) {
        if self.raw.is_null() {
            return;
        }
        self.shutdown();
        let deadline = Deadline::after(CLOSE_LINGER);
        let mut scratch = [0u8; 256];
        while let Some(remaining) = deadline.remaining() {
            set_timeout(
                self.raw,
                ffi::FREERTOS_SO_RCVTIMEO,
                ffi::TickType_t::try_from(remaining.as_u64().max(1)).unwrap_or(1),
            );
            // SAFETY: `raw` is valid and `scratch` is writable for its length.
            let result = unsafe {
                ffi::FreeRTOS_recv(self.raw, scratch.as_mut_ptr().cast(), scratch.len(), 0)
            };
            if result < 0 {
                break; // the peer closed its side, or reset
            }
        }
        self.release();
    }
}

impl TcpConnection for TcpSocket {
    fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if self.shut || self.raw.is_null() {
            return Err(SendError::Closed);
        }
        if data.is_empty() {
            return Ok(0);
        }
        // SAFETY: `raw` is valid and `data` readable for its length.
        let result = unsafe { ffi::FreeRTOS_send(self.raw, data.as_ptr().cast(), data.len(), 0) };
        if result > 0 {
            return Ok(result as usize);
        }
        match result.unsigned_abs() as u32 {
            0 | ffi::pdFREERTOS_ERRNO_ENOSPC => Err(SendError::TimedOut),
            ffi::pdFREERTOS_ERRNO_ENOTCONN if self.peer_sent_fin() => Err(SendError::Closed),
            ffi::pdFREERTOS_ERRNO_ENOMEM => Err(SendError::TimedOut),
            _ => Err(SendError::Reset),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<RecvEvent, RecvError> {
        if self.raw.is_null() {
            return Ok(RecvEvent::EndOfStream);
        }
        if buf.is_empty() {
            return Ok(RecvEvent::TimedOut);
        }
        // SAFETY: `raw` is valid and `buf` writable for its length.
        let result = unsafe { ffi::FreeRTOS_recv(self.raw, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if result > 0 {
            return Ok(RecvEvent::Data(result as usize));
        }
        if result == 0 {
            return Ok(RecvEvent::TimedOut);
        }
        match result.unsigned_abs() as u32 {
            ffi::pdFREERTOS_ERRNO_ENOTCONN if self.peer_sent_fin() => Ok(RecvEvent::EndOfStream),
            ffi::pdFREERTOS_ERRNO_ENOTCONN => Err(RecvError::Reset),
            ffi::pdFREERTOS_ERRNO_ENOMEM | ffi::pdFREERTOS_ERRNO_EINTR => Ok(RecvEvent::TimedOut),
            _ => Err(RecvError::Reset),
        }
    }

    fn shutdown(&mut self) {
        if self.shut || self.raw.is_null() {
            return;
        }
        self.shut = true;
        // SAFETY: `raw` is a valid socket.
        unsafe { ffi::FreeRTOS_shutdown(self.raw, ffi::FREERTOS_SHUT_RDWR as ffi::BaseType_t) };
    }

    fn close(mut self) {
        self.close_gracefully();
    }

    fn abort(mut self) {
        // FreeRTOS_closesocket on a connected socket frees it at once without a FIN; the
        // peer's next segment is answered with a reset.
        self.release();
    }

    fn set_send_timeout(&mut self, timeout: Duration) {
        if !self.raw.is_null() {
            set_timeout(self.raw, ffi::FREERTOS_SO_SNDTIMEO, ticks(timeout));
        }
    }

    fn set_recv_timeout(&mut self, timeout: Duration) {
        if !self.raw.is_null() {
            set_timeout(self.raw, ffi::FREERTOS_SO_RCVTIMEO, ticks(timeout));
        }
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        self.close_gracefully();
    }
}

/// `FreeRTOS_getaddrinfo` for an IPv4 address of `name`. Its wait is FreeRTOS+TCP's own
/// (`ipconfigDNS_REQUEST_ATTEMPTS` x `ipconfigDNS_RECEIVE_BLOCK_TIME_TICKS`, 3 s here).
pub(super) fn getaddrinfo(name: &CStr) -> Result<Ipv4Addr, DnsError> {
    // SAFETY: zeroed hints are valid ("any"); the family is then set.
    let mut hints: ffi::freertos_addrinfo = unsafe { MaybeUninit::zeroed().assume_init() };
    hints.ai_family = ffi::FREERTOS_AF_INET as ffi::BaseType_t;
    let mut found: *mut ffi::freertos_addrinfo = ptr::null_mut();
    // SAFETY: `name` is NUL-terminated, `hints` and `found` outlive the call.
    let result =
        unsafe { ffi::FreeRTOS_getaddrinfo(name.as_ptr(), ptr::null(), &hints, &mut found) };
    if result != 0 || found.is_null() {
        if !found.is_null() {
            // SAFETY: `found` came from FreeRTOS_getaddrinfo and is freed once.
            unsafe { ffi::FreeRTOS_freeaddrinfo(found) };
        }
        return Err(match result.unsigned_abs() as u32 {
            ffi::pdFREERTOS_ERRNO_ENOMEM => DnsError::OutOfMemory,
            ffi::pdFREERTOS_ERRNO_EINVAL => DnsError::InvalidName,
            _ => DnsError::NotFound,
        });
    }
    let mut address = None;
    let mut entry = found;
    while !entry.is_null() && address.is_none() {
        // SAFETY: `entry` is a node of the list FreeRTOS_getaddrinfo returned.
        let node = unsafe { &*entry };
        if node.ai_family == ffi::FREERTOS_AF_INET as ffi::BaseType_t && !node.ai_addr.is_null() {
            // SAFETY: an IPv4 node's address is a valid sockaddr.
            let ip = unsafe { (*node.ai_addr).sin_address.ulIP_IPv4 };
            address = Some(from_plus(ip));
        }
        entry = node.ai_next;
    }
    // SAFETY: `found` came from FreeRTOS_getaddrinfo and is freed once.
    unsafe { ffi::FreeRTOS_freeaddrinfo(found) };
    address.ok_or(DnsError::NotFound)
}
