//! DNS lookups (A records) through the stack, over UDP.
//!
//! smoltcp's own DNS socket only talks to port 53, so tests could not point it at a fake
//! server on the host's loopback; this small client takes any server address and port. By
//! default it asks the DNS server DHCP gave (slirp's forwarder at `10.0.2.3`).

use core::net::Ipv4Addr;
use core::time::Duration;

use alloc::vec;
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
/// Largest DNS message handled (plain UDP DNS).
const MAX_MESSAGE: usize = 512;

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
        let query_len = encode_query(name, id, &mut query)?;
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
                    match decode_answer(&buffer[..length], id) {
                        Err(DecodeError::NotOurs) => continue,
                        Err(DecodeError::Dns(error)) => return Some(Err(error)),
                        Ok(address) => return Some(Ok(address)),
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

/// Writes a recursive A query for `name` into `out`; returns its length.
fn encode_query(name: &str, id: u16, out: &mut [u8; MAX_MESSAGE]) -> Result<usize, DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::InvalidName);
    }
    // Header: id, flags (recursion desired), one question.
    out[..12].copy_from_slice(&[
        (id >> 8) as u8,
        id as u8,
        0x01,
        0x00,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    let mut at = 12;
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid {
            return Err(DnsError::InvalidName);
        }
        out[at] = label.len() as u8;
        out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    // Root label, type A, class IN.
    out[at..at + 5].copy_from_slice(&[0, 0, 1, 0, 1]);
    Ok(at + 5)
}

#[derive(Debug, PartialEq, Eq)]
enum DecodeError {
    /// Not an answer to our query (another id, or a query): ignore it.
    NotOurs,
    Dns(DnsError),
}

impl From<DnsError> for DecodeError {
    fn from(error: DnsError) -> DecodeError {
        DecodeError::Dns(error)
    }
}

/// The first A record of the answer to query `id`.
fn decode_answer(message: &[u8], id: u16) -> Result<Ipv4Addr, DecodeError> {
    let header = message.get(..12).ok_or(DecodeError::NotOurs)?;
    let is_response = header[2] & 0x80 != 0;
    if u16::from_be_bytes([header[0], header[1]]) != id || !is_response {
        return Err(DecodeError::NotOurs);
    }
    match header[3] & 0x0f {
        0 => {}
        3 => return Err(DnsError::NotFound.into()),
        code => return Err(DnsError::ServerFailure(code).into()),
    }
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let answers = u16::from_be_bytes([header[6], header[7]]);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(message, at)?
            .checked_add(4)
            .ok_or(DnsError::Malformed)?;
    }
    for _ in 0..answers {
        at = skip_name(message, at)?;
        let fixed = message.get(at..at + 10).ok_or(DnsError::Malformed)?;
        let (kind, class) = (
            u16::from_be_bytes([fixed[0], fixed[1]]),
            u16::from_be_bytes([fixed[2], fixed[3]]),
        );
        let length = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = message
            .get(at + 10..at + 10 + length)
            .ok_or(DnsError::Malformed)?;
        if kind == 1 && class == 1 {
            let octets: [u8; 4] = data.try_into().map_err(|_| DnsError::Malformed)?;
            return Ok(Ipv4Addr::from(octets));
        }
        at += 10 + length;
    }
    Err(DnsError::NotFound.into())
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(message: &[u8], mut at: usize) -> Result<usize, DnsError> {
    loop {
        let length = *message.get(at).ok_or(DnsError::Malformed)?;
        match length {
            0 => return Ok(at + 1),
            // A compression pointer ends the name (two bytes).
            _ if length & 0xc0 == 0xc0 => {
                return message
                    .get(at + 1)
                    .map(|_| at + 2)
                    .ok_or(DnsError::Malformed);
            }
            _ if length & 0xc0 != 0 => return Err(DnsError::Malformed),
            _ => at += 1 + usize::from(length),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    fn answer_for(query: &[u8], rcode: u8, records: &[(u16, &[u8])]) -> Vec<u8> {
        let mut message = query.to_vec();
        message[2] |= 0x80;
        message[3] = (message[3] & 0xf0) | rcode;
        message[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (kind, data) in records {
            message.extend_from_slice(&[0xc0, 12]);
            message.extend_from_slice(&kind.to_be_bytes());
            message.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            message.extend_from_slice(&(data.len() as u16).to_be_bytes());
            message.extend_from_slice(data);
        }
        message
    }

    fn query(name: &str, id: u16) -> Vec<u8> {
        let mut buffer = [0u8; MAX_MESSAGE];
        let length = encode_query(name, id, &mut buffer).expect("valid name");
        buffer[..length].to_vec()
    }

    #[test]
    fn queries_are_encoded_as_labels() {
        let message = query("a.example.com.", 0x1234);
        assert_eq!(&message[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(
            &message[12..],
            b"\x01a\x07example\x03com\x00\x00\x01\x00\x01"
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        let mut buffer = [0u8; MAX_MESSAGE];
        for name in [
            "",
            "a..b",
            "bad name",
            &"x".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert_eq!(
                encode_query(name, 1, &mut buffer),
                Err(DnsError::InvalidName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn the_first_a_record_is_the_answer() {
        let q = query("device.example", 7);
        let answer = answer_for(&q, 0, &[(5, b"\x03cname\x00"), (1, &[192, 0, 2, 9])]);
        assert_eq!(decode_answer(&answer, 7), Ok(Ipv4Addr::new(192, 0, 2, 9)));
    }

    #[test]
    fn nxdomain_and_empty_answers_are_not_found() {
        let q = query("missing.example", 7);
        assert_eq!(
            decode_answer(&answer_for(&q, 3, &[]), 7),
            Err(DecodeError::Dns(DnsError::NotFound))
        );
        assert_eq!(
            decode_answer(&answer_for(&q, 0, &[]), 7),
            Err(DecodeError::Dns(DnsError::NotFound))
        );
        assert_eq!(
            decode_answer(&answer_for(&q, 2, &[]), 7),
            Err(DecodeError::Dns(DnsError::ServerFailure(2)))
        );
    }

    #[test]
    fn foreign_and_truncated_messages_never_panic() {
        let q = query("device.example", 7);
        let answer = answer_for(&q, 0, &[(1, &[192, 0, 2, 9])]);
        assert_eq!(decode_answer(&answer, 8), Err(DecodeError::NotOurs));
        assert_eq!(decode_answer(&q, 7), Err(DecodeError::NotOurs));
        for cut in 0..answer.len() {
            let _ = decode_answer(&answer[..cut], 7);
        }
        let mut looping = answer.clone();
        looping[12] = 0x80; // a reserved label type
        assert_eq!(
            decode_answer(&looping, 7),
            Err(DecodeError::Dns(DnsError::Malformed))
        );
    }
}
