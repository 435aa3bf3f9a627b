//! The DNS wire format a device's resolver needs (RFC 1035): a recursive query for the
//! A record of a name, and the first IPv4 address in the answer to it.
//!
//! The crate is `no_std`, allocation-free and has no `unsafe`; it does no I/O. The device's
//! resolver (`src/net/smoltcp_stack/dns.rs` in the application) sends the query over UDP and
//! hands each datagram that comes back to [`decode_answer`]. Answers come from the network,
//! so [`decode_answer`] accepts any bytes: it never panics, never loops on compression
//! pointers (it does not follow them: names are skipped, not read) and reads nothing past
//! the message (it is fuzzed, see `fuzz/fuzz_targets/dns.rs`).
//!
//! ```
//! use core::net::Ipv4Addr;
//! use iot_dns::{AnswerError, MAX_MESSAGE, decode_answer, encode_query};
//!
//! let mut query = [0u8; MAX_MESSAGE];
//! let length = encode_query("device.example", 0x1234, &mut query).unwrap();
//! assert_eq!(&query[12..length], b"\x06device\x07example\x00\x00\x01\x00\x01");
//! // The query itself is not an answer.
//! assert_eq!(decode_answer(&query[..length], 0x1234), Err(AnswerError::NotOurs));
//! # let _ = Ipv4Addr::LOCALHOST;
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::fmt;
use core::net::Ipv4Addr;

/// Largest DNS message handled (plain UDP DNS, RFC 1035 §4.2.1).
pub const MAX_MESSAGE: usize = 512;

/// Why [`encode_query`] refused a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// Empty, longer than 253 octets, an empty label, a label over 63 octets, or an octet
    /// other than a letter, digit, `-` or `_`.
    InvalidName,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::InvalidName => f.write_str("not a valid host name"),
        }
    }
}

impl core::error::Error for QueryError {}

/// Why [`decode_answer`] found no address in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    /// Not an answer to this query (another id, a query, or shorter than a header): ignore
    /// it and keep waiting.
    NotOurs,
    /// The server says the name does not exist (NXDOMAIN), or the answer has no A record.
    NotFound,
    /// The server answered with this error code (RCODE other than 0 and 3).
    ServerFailure(u8),
    /// The answer is ours but cannot be parsed (cut short, a reserved label type, an A
    /// record whose data is not four octets).
    Malformed,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::NotOurs => f.write_str("not an answer to this query"),
            AnswerError::NotFound => f.write_str("no such host (no IPv4 address)"),
            AnswerError::ServerFailure(code) => {
                write!(f, "the server answered with error code {code}")
            }
            AnswerError::Malformed => f.write_str("malformed answer"),
        }
    }
}

impl core::error::Error for AnswerError {}

/// Writes a recursive query for the A record of `name` (one trailing dot allowed) with
/// message id `id` into `out`; returns the query's length.
pub fn encode_query(name: &str, id: u16, out: &mut [u8; MAX_MESSAGE]) -> Result<usize, QueryError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(QueryError::InvalidName);
    }
    // Header: id, flags (recursion desired), one question, no other records.
    let [id_high, id_low] = id.to_be_bytes();
    out[..12].copy_from_slice(&[id_high, id_low, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut at = 12;
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !valid {
            return Err(QueryError::InvalidName);
        }
        // At most 253 octets of name: 12 + 254 + 5 stays far below MAX_MESSAGE.
        out[at] = label.len() as u8;
        out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    // Root label, type A, class IN.
    out[at..at + 5].copy_from_slice(&[0, 0, 1, 0, 1]);
    Ok(at + 5)
}

/// The first A record (class IN) of `message`, the answer to query `id`.
///
/// Records of other types before it (a CNAME chain) are skipped.
pub fn decode_answer(message: &[u8], id: u16) -> Result<Ipv4Addr, AnswerError> {
    let header = message.get(..12).ok_or(AnswerError::NotOurs)?;
    let is_response = header[2] & 0x80 != 0;
    if u16::from_be_bytes([header[0], header[1]]) != id || !is_response {
        return Err(AnswerError::NotOurs);
    }
    match header[3] & 0x0f {
        0 => {}
        3 => return Err(AnswerError::NotFound),
        code => return Err(AnswerError::ServerFailure(code)),
    }
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let answers = u16::from_be_bytes([header[6], header[7]]);
    let mut at = 12;
    for _ in 0..questions {
        // Name, then type and class.
        at = skip_name(message, at)? + 4;
    }
    for _ in 0..answers {
        at = skip_name(message, at)?;
        // Type, class, TTL, data length.
        let fixed = message.get(at..at + 10).ok_or(AnswerError::Malformed)?;
        let kind = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let length = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = message
            .get(at + 10..at + 10 + length)
            .ok_or(AnswerError::Malformed)?;
        if kind == 1 && class == 1 {
            let octets: [u8; 4] = data.try_into().map_err(|_| AnswerError::Malformed)?;
            return Ok(Ipv4Addr::from(octets));
        }
        at += 10 + length;
    }
    Err(AnswerError::NotFound)
}

/// The offset just past the (possibly compressed) name at `at`.
///
/// Every step either ends the name or moves `at` forward by at least one octet, and a step
/// that starts past the end fails, so this ends within `message.len()` steps; the offset it
/// returns is at most `message.len() + 1`.
fn skip_name(message: &[u8], mut at: usize) -> Result<usize, AnswerError> {
    loop {
        let length = *message.get(at).ok_or(AnswerError::Malformed)?;
        match length {
            0 => return Ok(at + 1),
            // A compression pointer ends the name (two octets).
            _ if length & 0xc0 == 0xc0 => {
                return message
                    .get(at + 1)
                    .map(|_| at + 2)
                    .ok_or(AnswerError::Malformed);
            }
            // 0x40 and 0x80: reserved label types.
            _ if length & 0xc0 != 0 => return Err(AnswerError::Malformed),
            _ => at += 1 + usize::from(length),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

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
    fn the_longest_valid_name_fits() {
        // Four labels of 63 octets minus two: 253 octets of name.
        let name = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
        assert_eq!(name.len(), 253);
        assert_eq!(query(&name, 1).len(), 12 + 255 + 4);
    }

    #[test]
    fn invalid_names_are_refused() {
        let mut buffer = [0u8; MAX_MESSAGE];
        for name in [
            "",
            ".",
            "a..b",
            "bad name",
            &"x".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert_eq!(
                encode_query(name, 1, &mut buffer),
                Err(QueryError::InvalidName),
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
            Err(AnswerError::NotFound)
        );
        assert_eq!(
            decode_answer(&answer_for(&q, 0, &[]), 7),
            Err(AnswerError::NotFound)
        );
        assert_eq!(
            decode_answer(&answer_for(&q, 2, &[]), 7),
            Err(AnswerError::ServerFailure(2))
        );
    }

    #[test]
    fn an_a_record_of_the_wrong_size_is_malformed() {
        let q = query("device.example", 7);
        let answer = answer_for(&q, 0, &[(1, &[192, 0, 2])]);
        assert_eq!(decode_answer(&answer, 7), Err(AnswerError::Malformed));
    }

    #[test]
    fn foreign_and_truncated_messages_never_panic() {
        let q = query("device.example", 7);
        let answer = answer_for(&q, 0, &[(1, &[192, 0, 2, 9])]);
        assert_eq!(decode_answer(&answer, 8), Err(AnswerError::NotOurs));
        assert_eq!(decode_answer(&q, 7), Err(AnswerError::NotOurs));
        for cut in 0..answer.len() {
            assert_ne!(
                decode_answer(&answer[..cut], 7),
                Ok(Ipv4Addr::new(192, 0, 2, 9))
            );
        }
        let mut looping = answer.clone();
        looping[12] = 0x80; // a reserved label type
        assert_eq!(decode_answer(&looping, 7), Err(AnswerError::Malformed));
    }

    #[test]
    fn errors_name_their_cause() {
        assert_eq!(QueryError::InvalidName.to_string(), "not a valid host name");
        assert_eq!(
            AnswerError::ServerFailure(2).to_string(),
            "the server answered with error code 2"
        );
    }
}
