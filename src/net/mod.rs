//! The network layer: a TCP/IP stack inside the device, with a blocking sockets API.
//!
//! The stack is [smoltcp](https://docs.rs/smoltcp) 0.14, run by an IP task the way
//! FreeRTOS+TCP runs its own (see [`stack`]). Frames reach it through a [`crate::link`]
//! (the simulator's is libslirp). Application tasks use [`TcpSocket`]s, whose calls block on
//! kernel primitives with per-socket timeouts, modelled on FreeRTOS+TCP's Berkeley sockets:
//!
//! | FreeRTOS+TCP | here |
//! |---|---|
//! | `FreeRTOS_socket` + `FreeRTOS_connect` | [`Stack::connect`] |
//! | `FreeRTOS_send` / `FreeRTOS_recv` | [`TcpSocket::send`] / [`TcpSocket::recv`] |
//! | `FreeRTOS_setsockopt(FREERTOS_SO_SNDTIMEO/RCVTIMEO)` | [`TcpSocket::set_send_timeout`] / [`TcpSocket::set_recv_timeout`] |
//! | `FreeRTOS_shutdown` | [`TcpSocket::shutdown`] |
//! | `FreeRTOS_closesocket` | [`TcpSocket::close`] (or drop) |
//! | `FreeRTOS_gethostbyname` | [`Stack::resolve`] |
//!
//! [`TcpTransport`] puts a socket behind the [`iot_transport::Transport`] trait for the HTTP
//! and TLS layers.
//!
//! ```no_run
//! use std::time::Duration;
//! use freertos_https::{link, net};
//!
//! // In main, before the scheduler starts: the simulated network card.
//! let port = link::slirp::start(0).unwrap();
//! // In a task:
//! let stack = net::start(port, net::NetConfig::default()).unwrap();
//! stack.wait_until_up(Duration::from_secs(5)).expect("DHCP");
//! let address = net::guest_address("localhost").unwrap();
//! let mut socket = stack.connect(address, 8443, net::TcpOptions::default()).unwrap();
//! socket.send_all(b"hello").unwrap();
//! ```

mod device;
mod dns;
pub mod stack;
mod tcp;
mod transport;

use core::fmt;
use core::time::Duration;
use std::net::Ipv4Addr;

pub use dns::DnsError;
pub use stack::Stack;
pub use tcp::{ConnectError, RecvError, RecvEvent, SendError, TcpOptions, TcpSocket};
pub use transport::{TcpTransport, TcpTransportError};

use crate::link::LinkPort;
use crate::link::slirp;
use crate::rtos::interrupt::InvalidLine;
use crate::rtos::sync::CreateError;
use crate::rtos::task::{PriorityError, SpawnError};

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

impl Ipv4Settings {
    /// The fixed settings that match slirp's network: `10.0.2.15/24`, gateway `10.0.2.2`,
    /// DNS `10.0.2.3`.
    pub fn slirp_static() -> Ipv4Settings {
        Ipv4Settings {
            address: slirp::DHCP_FIRST_ADDRESS,
            prefix_len: slirp::NETWORK.1,
            gateway: Some(slirp::HOST_ADDRESS),
            dns: Some(slirp::DNS_ADDRESS),
        }
    }
}

/// How the device gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Setup {
    /// Ask a DHCP server (slirp has one). The default.
    Dhcp,
    /// Use fixed settings.
    Static(Ipv4Settings),
}

/// Configuration of the stack. One home for every tunable; see each field for its default.
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
    /// Record every frame in this pcap file (for Wireshark). Default none.
    pub pcap: Option<std::path::PathBuf>,
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
            pcap: None,
        }
    }
}

/// Why the stack could not start.
#[derive(Debug)]
pub enum StartError {
    /// The IP task's priority is out of range.
    Priority(PriorityError),
    /// The IP task could not be created.
    IpTask(SpawnError),
    /// A kernel object could not be created.
    Kernel(CreateError),
    /// The link's interrupt line does not exist.
    InterruptLine(InvalidLine),
    /// The pcap file could not be created.
    Pcap(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Priority(error) => write!(f, "IP task: {error}"),
            StartError::IpTask(error) => write!(f, "cannot create the IP task: {error}"),
            StartError::Kernel(error) => write!(f, "network stack: {error}"),
            StartError::InterruptLine(error) => write!(f, "network link: {error}"),
            StartError::Pcap(error) => write!(f, "cannot create the pcap file: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Starts the stack on `port` with its IP task. Call from a task (or from `main` before the
/// scheduler starts). The stack lives for the rest of the process.
pub fn start(port: LinkPort, config: NetConfig) -> Result<&'static Stack, StartError> {
    Stack::start(port, config)
}

/// The address the device dials for a host name given by the user, when no DNS lookup is
/// needed: `localhost` and loopback addresses mean the host machine, which slirp's network
/// reaches at [`slirp::HOST_ADDRESS`]; other IPv4 literals are used as they are. Returns `None`
/// for names that need DNS.
///
/// The TLS layer keeps checking the name the user gave (`localhost`), not this address.
pub fn guest_address(host: &str) -> Option<Ipv4Addr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(slirp::HOST_ADDRESS);
    }
    let address: Ipv4Addr = host.parse().ok()?;
    Some(if address.is_loopback() {
        slirp::HOST_ADDRESS
    } else {
        address
    })
}

/// Default time to wait for a TCP connection to be accepted.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_and_loopback_mean_the_slirp_host() {
        assert_eq!(guest_address("localhost"), Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(guest_address("LocalHost"), Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(guest_address("127.0.0.1"), Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(guest_address("127.1.2.3"), Some(Ipv4Addr::new(10, 0, 2, 2)));
    }

    #[test]
    fn other_literals_pass_through_and_names_need_dns() {
        assert_eq!(guest_address("10.0.2.2"), Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(
            guest_address("192.0.2.7"),
            Some(Ipv4Addr::new(192, 0, 2, 7))
        );
        assert_eq!(guest_address("example.com"), None);
        assert_eq!(guest_address("abc123.iot.eu-west-1.amazonaws.com"), None);
    }
}
