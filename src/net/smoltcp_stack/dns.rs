//! DNS lookups (A records) through the stack, over UDP.
//!
//! smoltcp's own DNS socket only talks to port 53, so tests could not point it at a fake
//! server on the host's loopback; this small client takes any server address and port. The
//! wire format (query, answer) is the `iot-dns` crate's. By
//! default it asks the DNS server DHCP gave (slirp's forwarder at `10.0.2.3`).

use core::net::Ipv4Addr;
use core::time::Duration;

use alloc::vec;
use iot_dns::{AnswerError, MAX_MESSAGE, QueryError, decode_answer, encode_query};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;

use super::Stack;
use crate::board;
use crate::net::DnsError;
use crate::rtos::time::Deadline;

/// DNS servers listen here.
pub const DNS_PORT: u16 = 53;
/// A query is sent again when no answer came within this time.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

impl Stack {
    /// The IPv4 address of `host`: `localhost` and IP literals directly (see
    /// [`crate::net::guest_address`]), other names by asking the configured DNS server.
    pub fn resolve(&'static self, host: &str, timeout: Duration) -> Result<Ipv4Addr, DnsError> {
        let host_alias = self.inner.lock().config.host_alias;
        if let Some(address) = crate::net::guest_address(host, host_alias) {
            return Ok(address);
        }
        let is_loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<Ipv4Addr>()
                .is_ok_and(|address| address.is_loopback());
        if is_loopback {
            // No host alias on this network: the device has no loopback of its own to offer.
            return Err(DnsError::InvalidName);
        }
        let server = self
            .ipv4()
            .ok_or(DnsError::NetworkDown)?
            .dns
            .ok_or(DnsError::NoServer)?;
        self.resolve_with(host, server, DNS_PORT, timeout)
    }

    /// Asks the DNS server at `server:port` for the IPv4 address of `name`.
    ///
    /// Never inlined: its two 512-byte messages would otherwise sit in the caller's frame for
    /// as long as the caller runs (inlined into the demo, they were 1 KB of a board's demo
    /// task stack under the TLS handshake, long after the name was resolved).
    #[inline(never)]
    pub fn resolve_with(
        &'static self,
        name: &str,
        server: Ipv4Addr,
        port: u16,
        timeout: Duration,
    ) -> Result<Ipv4Addr, DnsError> {
        // A fresh random id per query, from the board's entropy: an off-path attacker cannot
        // guess it to forge an answer.
        let id = (board::random_u32().map_err(|_| DnsError::Entropy)? & 0xffff) as u16;
        let mut query = [0u8; MAX_MESSAGE];
        let query_len = encode_query(name, id, &mut query).map_err(query_error)?;
        let handle = self.open_udp()?;
        let result = self.exchange(
            handle,
            &query[..query_len],
            (server, port),
            id,
            Deadline::after(timeout),
        );
        self.inner.lock().sockets.remove(handle);
        result
    }

    fn open_udp(&'static self) -> Result<SocketHandle, DnsError> {
        let mut inner = self.inner.lock();
        if inner.ipv4.is_none() {
            return Err(DnsError::NetworkDown);
        }
        let buffer = || {
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; 2],
                vec![0u8; MAX_MESSAGE * 2],
            )
        };
        let mut socket = udp::Socket::new(buffer(), buffer());
        let local_port = inner.allocate_local_port();
        socket.bind(local_port).map_err(|_| DnsError::OutOfMemory)?;
        Ok(inner.sockets.add(socket))
    }

    /// Sends the query, re-sending it every second, until an answer with our id arrives.
    fn exchange(
        &'static self,
        handle: SocketHandle,
        query: &[u8],
        server: (Ipv4Addr, u16),
        id: u16,
        deadline: Deadline,
    ) -> Result<Ipv4Addr, DnsError> {
        loop {
            {
                let mut inner = self.inner.lock();
                let socket = inner.sockets.get_mut::<udp::Socket>(handle);
                socket
                    .send_slice(query, server)
                    .map_err(|_| DnsError::OutOfMemory)?;
            }
            self.kick();
            let attempt = Deadline::after(RETRY_INTERVAL).min(deadline);
            let answer = self.block_until(attempt, |inner| {
                let socket = inner.sockets.get_mut::<udp::Socket>(handle);
                let mut buffer = [0u8; MAX_MESSAGE];
                while let Ok((length, _)) = socket.recv_slice(&mut buffer) {
                    if let Some(result) = answer_result(decode_answer(&buffer[..length], id)) {
                        return Some(result);
                    }
                }
                None
            });
            if let Some(result) = answer {
                return result;
            }
            if deadline.remaining().is_none() {
                return Err(DnsError::TimedOut);
            }
        }
    }
}

/// The resolver's error for a query the wire format refused.
fn query_error(error: QueryError) -> DnsError {
    match error {
        QueryError::InvalidName => DnsError::InvalidName,
    }
}

/// The resolver's verdict on a datagram: `None` when it is not an answer to our query (keep
/// waiting), else the address or the error.
fn answer_result(answer: Result<Ipv4Addr, AnswerError>) -> Option<Result<Ipv4Addr, DnsError>> {
    match answer {
        Ok(address) => Some(Ok(address)),
        Err(AnswerError::NotOurs) => None,
        Err(AnswerError::NotFound) => Some(Err(DnsError::NotFound)),
        Err(AnswerError::ServerFailure(code)) => Some(Err(DnsError::ServerFailure(code))),
        Err(AnswerError::Malformed) => Some(Err(DnsError::Malformed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_errors_become_resolver_errors() {
        assert_eq!(query_error(QueryError::InvalidName), DnsError::InvalidName);
        let address = Ipv4Addr::new(192, 0, 2, 9);
        assert_eq!(answer_result(Ok(address)), Some(Ok(address)));
        assert_eq!(answer_result(Err(AnswerError::NotOurs)), None);
        assert_eq!(
            answer_result(Err(AnswerError::NotFound)),
            Some(Err(DnsError::NotFound))
        );
        assert_eq!(
            answer_result(Err(AnswerError::ServerFailure(2))),
            Some(Err(DnsError::ServerFailure(2)))
        );
        assert_eq!(
            answer_result(Err(AnswerError::Malformed)),
            Some(Err(DnsError::Malformed))
        );
    }
}
