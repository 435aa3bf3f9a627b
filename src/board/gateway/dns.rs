//! The gateway's DNS forwarder at [`super::DNS_ADDRESS`]: A queries are answered from the
//! host's resolver (the operating system's, as any program on the host would look the name
//! up), on a host thread per query. Loopback answers become [`super::GATEWAY_ADDRESS`], where
//! the device reaches the host.
//!
//! Only what a device's stub resolver sends is understood: one question, class IN. Anything
//! else gets `FORMERR` or `NOTIMP`; a name the host cannot resolve gets `NXDOMAIN`.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::string::String;
use std::vec::Vec;

/// A DNS query the forwarder can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The name asked about, dotted, without the final dot.
    pub name: String,
    /// The question's type (1 is A).
    pub qtype: u16,
    /// The query's header and question, echoed in the answer.
    pub echo: Vec<u8>,
}

/// Record type A.
pub const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const HEADER: usize = 12;
/// Seconds a forwarded answer may be cached.
pub const TTL_SECONDS: u32 = 60;

/// Response codes the forwarder sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    /// Answered (possibly with no record).
    NoError = 0,
    /// The query was not understood.
    FormatError = 1,
    /// The forwarder could not ask the host (too many lookups at once).
    ServerFailure = 2,
    /// The host does not know the name.
    NameError = 3,
    /// Not a standard query, or not class IN.
    NotImplemented = 4,
}

/// Why a datagram is not a query [`parse`] can hand on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Too short for a header: no answer is possible.
    NoHeader,
    /// A query the forwarder refuses, with the answer to send.
    Refused(Vec<u8>),
}

/// Parses a query from the device.
pub fn parse(datagram: &[u8]) -> Result<Query, ParseError> {
    let header = datagram.get(..HEADER).ok_or(ParseError::NoHeader)?;
    let refuse = |rcode| ParseError::Refused(error_answer(header, rcode));
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    if is_response {
        return Err(refuse(Rcode::FormatError));
    }
    if opcode != 0 {
        return Err(refuse(Rcode::NotImplemented));
    }
    if u16::from_be_bytes([header[4], header[5]]) != 1 {
        return Err(refuse(Rcode::FormatError));
    }
    let mut name = String::new();
    let mut at = HEADER;
    loop {
        let length = usize::from(*datagram.get(at).ok_or(refuse(Rcode::FormatError))?);
        at += 1;
        if length == 0 {
            break;
        }
        // Compression pointers (and the reserved label types) have no place in a question.
        if length > 63 {
            return Err(refuse(Rcode::FormatError));
        }
        let label = datagram
            .get(at..at + length)
            .ok_or(refuse(Rcode::FormatError))?;
        if !label
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-' || *byte == b'_')
        {
            return Err(refuse(Rcode::NameError));
        }
        if !name.is_empty() {
            name.push('.');
        }
        name.extend(label.iter().map(|&byte| char::from(byte)));
        if name.len() > 253 {
            return Err(refuse(Rcode::FormatError));
        }
        at += length;
    }
    let fixed = datagram.get(at..at + 4).ok_or(refuse(Rcode::FormatError))?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    if qclass != CLASS_IN {
        return Err(refuse(Rcode::NotImplemented));
    }
    if name.is_empty() {
        return Err(refuse(Rcode::NameError));
    }
    let mut echo = datagram[..at + 4].to_vec();
    // Only the question is echoed: no additional records (EDNS) come back.
    echo[6..12].fill(0);
    Ok(Query { name, qtype, echo })
}

/// The answer to `query`: `address` as one A record, or no record, with `rcode`.
pub fn answer(query: &Query, rcode: Rcode, address: Option<Ipv4Addr>) -> Vec<u8> {
    let mut out = query.echo.clone();
    set_response_flags(&mut out, rcode);
    if let (Rcode::NoError, Some(address), TYPE_A) = (rcode, address, query.qtype) {
        out[7] = 1; // one answer
        out.extend_from_slice(&[0xc0, HEADER as u8]); // the name: a pointer to the question's
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL_SECONDS.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&address.octets());
    }
    out
}

/// An answer that is only a header (with no question) carrying `rcode`.
fn error_answer(header: &[u8], rcode: Rcode) -> Vec<u8> {
    let mut out = header[..HEADER].to_vec();
    out[4..12].fill(0);
    set_response_flags(&mut out, rcode);
    out
}

fn set_response_flags(out: &mut [u8], rcode: Rcode) {
    let recursion_desired = out[2] & 0x01;
    out[2] = 0x80 | (out[2] & 0x78) | recursion_desired; // response, opcode kept, RD echoed
    out[3] = 0x80 | rcode as u8; // recursion available
}

/// What the host's resolver said about a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// An IPv4 address (loopback already mapped to the gateway).
    Address(Ipv4Addr),
    /// The name exists but has no IPv4 address.
    NoAddress,
    /// The host could not resolve the name.
    NotFound,
}

/// Resolves `name` with the host's resolver (blocking: call on a host thread).
pub fn resolve_on_host(name: &str) -> Resolved {
    match (name, 0).to_socket_addrs() {
        Ok(addresses) => from_host_answer(addresses),
        Err(_) => Resolved::NotFound,
    }
}

/// The first IPv4 address among the host's, loopback mapped to the gateway.
pub fn from_host_answer(addresses: impl IntoIterator<Item = SocketAddr>) -> Resolved {
    addresses
        .into_iter()
        .find_map(|address| match address {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
        .map_or(Resolved::NoAddress, |address| {
            Resolved::Address(if address.is_loopback() {
                super::GATEWAY_ADDRESS
            } else {
                address
            })
        })
}

/// The answer for `query` given what the host said.
pub fn answer_resolved(query: &Query, resolved: Resolved) -> Vec<u8> {
    match resolved {
        Resolved::Address(address) => answer(query, Rcode::NoError, Some(address)),
        Resolved::NoAddress => answer(query, Rcode::NoError, None),
        Resolved::NotFound => answer(query, Rcode::NameError, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16) -> Vec<u8> {
        let mut out = std::vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        out.extend_from_slice(name);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out
    }

    #[test]
    fn an_a_query_is_answered_with_one_record_and_the_question_echoed() {
        let bytes = query(b"\x03aws\x07example\x00", TYPE_A);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.name, "aws.example");
        let reply = answer_resolved(&parsed, Resolved::Address(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(&reply[..2], &[0xab, 0xcd]);
        assert_eq!(reply[2] & 0x81, 0x81, "response with RD echoed");
        assert_eq!(reply[3] & 0x0f, 0, "no error");
        assert_eq!(&reply[4..8], &[0, 1, 0, 1]);
        assert_eq!(&reply[12..bytes.len()], &bytes[12..]);
        assert_eq!(&reply[reply.len() - 4..], &[192, 0, 2, 7]);
    }

    #[test]
    fn loopback_answers_mean_the_gateway() {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        assert_eq!(
            from_host_answer([v6, loopback]),
            Resolved::Address(super::super::GATEWAY_ADDRESS)
        );
        assert_eq!(from_host_answer([v6]), Resolved::NoAddress);
        let other: SocketAddr = "192.0.2.1:0".parse().unwrap();
        assert_eq!(
            from_host_answer([other]),
            Resolved::Address(Ipv4Addr::new(192, 0, 2, 1))
        );
    }

    #[test]
    fn unknown_names_are_nxdomain_and_aaaa_gets_no_record() {
        let parsed = parse(&query(b"\x07missing\x00", TYPE_A)).unwrap();
        let reply = answer_resolved(&parsed, Resolved::NotFound);
        assert_eq!(reply[3] & 0x0f, 3);
        assert_eq!(&reply[6..8], &[0, 0]);
        let aaaa = parse(&query(b"\x04host\x00", 28)).unwrap();
        let reply = answer_resolved(&aaaa, Resolved::Address(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!((reply[3] & 0x0f, &reply[6..8]), (0, &[0u8, 0][..]));
    }

    #[test]
    fn malformed_queries_are_refused_without_a_panic() {
        assert_eq!(parse(&[1, 2, 3]), Err(ParseError::NoHeader));
        let pointer = query(b"\xc0\x0c", TYPE_A);
        assert!(matches!(parse(&pointer), Err(ParseError::Refused(_))));
        let mut two = query(b"\x01a\x00", TYPE_A);
        two[5] = 2;
        assert!(matches!(parse(&two), Err(ParseError::Refused(_))));
        let odd = query(b"\x03a b\x00", TYPE_A);
        let Err(ParseError::Refused(reply)) = parse(&odd) else {
            panic!("accepted a name with a space")
        };
        assert_eq!(reply[3] & 0x0f, 3);
        let bytes = query(b"\x05hello\x03com\x00", TYPE_A);
        for length in 0..bytes.len() {
            let _ = parse(&bytes[..length]);
        }
        let mut response = bytes.clone();
        response[2] |= 0x80;
        assert!(matches!(parse(&response), Err(ParseError::Refused(_))));
    }

    #[test]
    fn localhost_resolves_through_the_host_to_the_gateway() {
        assert_eq!(
            resolve_on_host("localhost"),
            Resolved::Address(super::super::GATEWAY_ADDRESS)
        );
    }
}
