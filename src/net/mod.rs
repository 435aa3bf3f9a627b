//! The network layer: the sockets API that TLS and the demo use, and the TCP/IP stacks behind
//! it. Portable.
//!
//! The API is modelled on FreeRTOS+TCP's Berkeley sockets, as two small traits that every
//! TCP/IP backend implements:
//!
//! | FreeRTOS+TCP | here |
//! |---|---|
//! | `FreeRTOS_IPInit_Multi` + network-up hook | the backend's `start`, then [`TcpIpStack::wait_until_up`] |
//! | `FreeRTOS_socket` + `FreeRTOS_connect` | [`TcpIpStack::connect`] |
//! | `FreeRTOS_send` / `FreeRTOS_recv` | [`TcpConnection::send`] / [`TcpConnection::recv`] |
//! | `FreeRTOS_setsockopt(FREERTOS_SO_SNDTIMEO/RCVTIMEO)` | [`TcpConnection::set_send_timeout`] / [`TcpConnection::set_recv_timeout`] |
//! | `FreeRTOS_shutdown` | [`TcpConnection::shutdown`] |
//! | `FreeRTOS_closesocket` | [`TcpConnection::close`] (or drop) |
//! | `FreeRTOS_gethostbyname` | [`TcpIpStack::resolve`] |
//!
//! [`TcpTransport`] puts any connection behind the [`iot_transport::Transport`] trait for the
//! HTTP and TLS layers, and TLS runs over any [`Connection`].
//!
//! # Backends
//!
//! | backend | module | chosen |
//! |---|---|---|
//! | smoltcp 0.14, in an IP task | [`smoltcp_stack`] | the default |
//! | FreeRTOS+TCP V4 (C, from the `FreeRTOS-Plus-TCP/` submodule) | `freertos_plus_tcp` | cargo feature `freertos-plus-tcp` |
//!
//! The backend in force is chosen in one place, [`DefaultStack`] and [`start`] below, at build
//! time, without touching TLS or the demo.
//! A backend runs over any [`crate::link::LinkCard`].
//!
//! ```no_run
//! # #[cfg(board = "posix")] {
//! use core::time::Duration;
//! use freertos_https::net::{self, TcpConnection, TcpIpStack};
//! use freertos_https::board::posix::slirp;
//!
//! // In main, before the scheduler starts: the simulated network card.
//! let card = slirp::start(0).unwrap();
//! // In a task:
//! let stack = net::start(Box::new(card), net::NetConfig::default()).unwrap();
//! stack.wait_until_up(Duration::from_secs(5)).expect("DHCP");
//! let address = stack.resolve("localhost", Duration::from_secs(1)).unwrap();
//! let mut socket = stack.connect(address, 8443, net::TcpOptions::default()).unwrap();
//! socket.send_all(b"hello").unwrap();
//! # }
//! ```

#[cfg(feature = "freertos-plus-tcp")]
pub mod freertos_plus_tcp;
pub mod smoltcp_stack;
mod transport;

use core::fmt;
use core::net::Ipv4Addr;
use core::time::Duration;

use alloc::boxed::Box;

pub use transport::{Connection, StreamError, TcpTransport};

use crate::link::LinkCard;
use crate::rtos::interrupt::InvalidLine;
use crate::rtos::sync::CreateError;
use crate::rtos::task::{PriorityError, SpawnError};

/// The TCP/IP backend in force (see the module docs).
#[cfg(not(feature = "freertos-plus-tcp"))]
pub type DefaultStack = smoltcp_stack::Stack;
/// The TCP/IP backend in force (see the module docs).
#[cfg(feature = "freertos-plus-tcp")]
pub type DefaultStack = freertos_plus_tcp::Stack;

/// The socket type of the backend in force.
pub type DefaultSocket = <DefaultStack as TcpIpStack>::Socket;

/// Its name, as [`TcpIpStack::name`] reports it.
#[cfg(not(feature = "freertos-plus-tcp"))]
pub const DEFAULT_STACK_NAME: &str = smoltcp_stack::NAME;
/// Its name, as [`TcpIpStack::name`] reports it.
#[cfg(feature = "freertos-plus-tcp")]
pub const DEFAULT_STACK_NAME: &str = freertos_plus_tcp::NAME;

/// Starts the backend in force on `card`, with its IP task. Call from a task (or from `main`
/// before the scheduler starts). The stack lives for the rest of the program.
pub fn start(
    card: Box<dyn LinkCard>,
    config: NetConfig,
) -> Result<&'static DefaultStack, StartError> {
    DefaultStack::start(card, config)
}

/// Where the machine running a simulator or QEMU is reached from the device on every
/// user-mode network this project uses (slirp, QEMU's `-nic user`): `10.0.2.2`.
pub const USER_MODE_HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// IPv4 settings of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Settings {
    /// The device's address.
    pub address: Ipv4Addr,
    /// Its network's prefix length (24 for `255.255.255.0`).
    pub prefix_len: u8,
    /// The default gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The DNS server, if any.
    pub dns: Option<Ipv4Addr>,
}

/// How the device gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Setup {
    /// Ask a DHCP server (slirp has one). The default.
    Dhcp,
    /// Use fixed settings.
    Static(Ipv4Settings),
}

/// Configuration of a stack. One home for every tunable; see each field for its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Address setup. Default: DHCP.
    pub ipv4: Ipv4Setup,
    /// The card's MAC address. Default `02:00:00:00:00:01` (locally administered).
    pub mac: [u8; 6],
    /// Most TCP sockets open at once (closing ones included). Default 4.
    pub max_sockets: usize,
    /// Receive buffer of each TCP socket, in bytes: the advertised window. Default 8 KiB.
    pub tcp_rx_buffer: usize,
    /// Transmit buffer of each TCP socket, in bytes. Default 8 KiB.
    pub tcp_tx_buffer: usize,
    /// Priority of the IP task: above the tasks that use sockets. Default 6.
    pub ip_task_priority: u8,
    /// Where `localhost` and loopback addresses lead: the machine running the simulator or
    /// QEMU, on a user-mode network. Default [`USER_MODE_HOST`]; `None` on a real network,
    /// where those names then mean nothing and are refused.
    pub host_alias: Option<Ipv4Addr>,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            ipv4: Ipv4Setup::Dhcp,
            mac: [0x02, 0x00, 0x00, 0x00, 0x00, 0x01],
            max_sockets: 4,
            tcp_rx_buffer: 8 * 1024,
            tcp_tx_buffer: 8 * 1024,
            ip_task_priority: 6,
            host_alias: Some(USER_MODE_HOST),
        }
    }
}

/// Why a stack could not start.
#[derive(Debug)]
pub enum StartError {
    /// The IP task's priority is out of range.
    Priority(PriorityError),
    /// The IP task could not be created.
    IpTask(SpawnError),
    /// A kernel object could not be created.
    Kernel(CreateError),
    /// The card's interrupt line does not exist.
    InterruptLine(InvalidLine),
    /// The board's entropy source failed (it seeds sequence numbers and ports).
    Entropy,
    /// A stack that allows one per program (FreeRTOS+TCP) was started already.
    AlreadyStarted,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Priority(error) => write!(f, "IP task: {error}"),
            StartError::IpTask(error) => write!(f, "cannot create the IP task: {error}"),
            StartError::Kernel(error) => write!(f, "network stack: {error}"),
            StartError::InterruptLine(error) => write!(f, "network card: {error}"),
            StartError::Entropy => f.write_str(
                "network stack: the board's entropy source failed (needed for TCP sequence \
                 numbers, ports and DNS ids)",
            ),
            StartError::AlreadyStarted => {
                f.write_str("network stack: started already (one per program)")
            }
        }
    }
}

impl core::error::Error for StartError {}

/// The address the device dials for a host name given by the user, when no DNS lookup is
/// needed: `localhost` and loopback addresses mean the machine at `host_alias` (see
/// [`NetConfig::host_alias`]); other IPv4 literals are used as they are. Returns `None` for
/// names that need DNS, and for `localhost` without an alias.
///
/// The TLS layer keeps checking the name the user gave (`localhost`), not this address.
pub fn guest_address(host: &str, host_alias: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    if host.eq_ignore_ascii_case("localhost") {
        return host_alias;
    }
    let address: Ipv4Addr = host.parse().ok()?;
    if address.is_loopback() {
        host_alias
    } else {
        Some(address)
    }
}

/// Default time to wait for a TCP connection to be accepted.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running TCP/IP stack: what the demo and TLS need of it. Implemented by each backend.
pub trait TcpIpStack: Sync + 'static {
    /// A connected TCP socket of this stack.
    type Socket: TcpConnection;

    /// The stack's name for reports (`smoltcp`, `FreeRTOS+TCP`).
    fn name(&self) -> &'static str;

    /// The IPv4 settings in force, or `None` while DHCP has not completed.
    fn ipv4(&self) -> Option<Ipv4Settings>;

    /// Waits until the device has an IPv4 address (at once with a static configuration).
    fn wait_until_up(&self, timeout: Duration) -> Option<Ipv4Settings>;

    /// Connects to `address:port`, waiting up to `options.connect_timeout`.
    fn connect(
        &'static self,
        address: Ipv4Addr,
        port: u16,
        options: TcpOptions,
    ) -> Result<Self::Socket, ConnectError>;

    /// The IPv4 address of `host`: `localhost` and IP literals directly (see
    /// [`guest_address`]), other names by asking the DNS server the network gave.
    fn resolve(&'static self, host: &str, timeout: Duration) -> Result<Ipv4Addr, DnsError>;

    /// How many TCP sockets exist, closing ones included (a closed socket is freed once its
    /// peer has answered the FIN).
    fn tcp_sockets_in_use(&self) -> usize;
}

/// A connected TCP socket. Use it from tasks only. Dropping it closes it gracefully (FIN).
pub trait TcpConnection: Send {
    /// Sends a prefix of `data`, waiting up to the send timeout for buffer space. Returns how
    /// many bytes were queued (at least one unless `data` is empty).
    fn send(&mut self, data: &[u8]) -> Result<usize, SendError>;

    /// Sends all of `data`, each piece within the send timeout.
    fn send_all(&mut self, mut data: &[u8]) -> Result<(), SendError> {
        while !data.is_empty() {
            let sent = self.send(data)?;
            data = &data[sent..];
        }
        Ok(())
    }

    /// Receives into `buf`, waiting up to the receive timeout.
    fn recv(&mut self, buf: &mut [u8]) -> Result<RecvEvent, RecvError>;

    /// Closes the sending side (FIN). Receiving goes on until the peer closes its side.
    fn shutdown(&mut self);

    /// Closes the socket gracefully: FIN now, and the stack frees it once the peer answers.
    fn close(self);

    /// Resets the connection (RST) and frees the socket at once.
    fn abort(self);

    /// Sets how long [`send`](Self::send) waits.
    fn set_send_timeout(&mut self, timeout: Duration);

    /// Sets how long [`recv`](Self::recv) waits.
    fn set_recv_timeout(&mut self, timeout: Duration);
}

/// Per-socket timeouts, like FreeRTOS+TCP's socket options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    /// How long [`TcpIpStack::connect`] waits for the handshake. Default 5 s.
    pub connect_timeout: Duration,
    /// How long one [`TcpConnection::send`] waits for buffer space. Default 10 s.
    pub send_timeout: Duration,
    /// How long one [`TcpConnection::recv`] waits for data. Default 10 s.
    pub recv_timeout: Duration,
}

impl Default for TcpOptions {
    fn default() -> TcpOptions {
        TcpOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_timeout: Duration::from_secs(10),
            recv_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// The device has no IPv4 address yet (DHCP not complete) or lost it.
    NetworkDown,
    /// Every socket slot is in use by an open socket.
    NoFreeSocket,
    /// The FreeRTOS heap had no room for the socket's buffers.
    OutOfMemory,
    /// The address or port cannot be dialled (unspecified address, port 0).
    InvalidAddress,
    /// The peer answered with a reset: nothing listens on that port.
    Refused,
    /// No answer within the connect timeout.
    TimedOut,
}

impl ConnectError {
    /// Whether trying again later can help (a server that is down may come up).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectError::NetworkDown
                | ConnectError::NoFreeSocket
                | ConnectError::Refused
                | ConnectError::TimedOut
        )
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectError::NetworkDown => "the network is down (no IPv4 address)",
            ConnectError::NoFreeSocket => "no free socket: all are open",
            ConnectError::OutOfMemory => "not enough FreeRTOS heap for the socket buffers",
            ConnectError::InvalidAddress => "the address or port cannot be dialled",
            ConnectError::Refused => "connection refused by the peer",
            ConnectError::TimedOut => "connection timed out",
        })
    }
}

impl core::error::Error for ConnectError {}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// No buffer space within the send timeout; the connection is still usable.
    TimedOut,
    /// The peer reset the connection.
    Reset,
    /// This side was shut down or closed, so nothing more can be sent.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::TimedOut => "send timed out",
            SendError::Reset => "connection reset by the peer",
            SendError::Closed => "the connection is closed for sending",
        })
    }
}

impl core::error::Error for SendError {}

/// What a receive that did not fail produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvEvent {
    /// `n > 0` bytes were written to the front of the buffer.
    Data(usize),
    /// Nothing arrived within the receive timeout; the connection is still open.
    TimedOut,
    /// The peer closed its side in an orderly way (FIN): no more data will come.
    EndOfStream,
}

/// Why a receive failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The peer reset the connection.
    Reset,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Reset => f.write_str("connection reset by the peer"),
        }
    }
}

impl core::error::Error for RecvError {}

/// Why a lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// The device has no IPv4 address yet.
    NetworkDown,
    /// No DNS server is configured (static settings without one).
    NoServer,
    /// The name is not a valid host name.
    InvalidName,
    /// The FreeRTOS heap had no room for the lookup's socket.
    OutOfMemory,
    /// No answer within the timeout.
    TimedOut,
    /// The server says the name does not exist, or has no IPv4 address.
    NotFound,
    /// The server answered with an error code.
    ServerFailure(u8),
    /// The answer could not be parsed.
    Malformed,
    /// The board's entropy source failed (query ids are random).
    Entropy,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NetworkDown => f.write_str("DNS lookup: the network is down"),
            DnsError::NoServer => f.write_str("DNS lookup: no DNS server is configured"),
            DnsError::InvalidName => f.write_str("DNS lookup: not a valid host name"),
            DnsError::OutOfMemory => f.write_str("DNS lookup: not enough FreeRTOS heap"),
            DnsError::TimedOut => f.write_str("DNS lookup timed out"),
            DnsError::NotFound => f.write_str("DNS lookup: no such host (no IPv4 address)"),
            DnsError::ServerFailure(code) => {
                write!(f, "DNS lookup: the server answered with error code {code}")
            }
            DnsError::Malformed => f.write_str("DNS lookup: malformed answer"),
            DnsError::Entropy => f.write_str("DNS lookup: the board's entropy source failed"),
        }
    }
}

impl core::error::Error for DnsError {}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    const ALIAS: Option<Ipv4Addr> = Some(USER_MODE_HOST);

    #[test]
    fn localhost_and_loopback_mean_the_host_alias() {
        for host in ["localhost", "LocalHost", "127.0.0.1", "127.1.2.3"] {
            assert_eq!(
                guest_address(host, ALIAS),
                Some(Ipv4Addr::new(10, 0, 2, 2)),
                "{host}"
            );
        }
    }

    #[test]
    fn without_an_alias_localhost_leads_nowhere() {
        assert_eq!(guest_address("localhost", None), None);
        assert_eq!(guest_address("127.0.0.1", None), None);
    }

    #[test]
    fn other_literals_pass_through_and_names_need_dns() {
        assert_eq!(
            guest_address("10.0.2.2", ALIAS),
            Some(Ipv4Addr::new(10, 0, 2, 2))
        );
        assert_eq!(
            guest_address("192.0.2.7", ALIAS),
            Some(Ipv4Addr::new(192, 0, 2, 7))
        );
        assert_eq!(guest_address("example.com", ALIAS), None);
        assert_eq!(
            guest_address("abc123.iot.eu-west-1.amazonaws.com", ALIAS),
            None
        );
    }
}
