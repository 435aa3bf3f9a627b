//! Fuzzes the DNS wire format (`iot-dns`): answers as they arrive from the network, and
//! queries built from arbitrary names.
//!
//! Input: bytes 0-1 are the query id the resolver waits for; the rest is the datagram. Checks:
//! no panic; an address found is four octets of the message; an answer whose id differs, or
//! that is not a response, is never taken; a name that encodes gives a query that is not
//! mistaken for an answer, and that holds the name's labels.
#![no_main]

use iot_dns::{AnswerError, MAX_MESSAGE, decode_answer, encode_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((id, message)) = input.split_first_chunk::<2>() else {
        return;
    };
    let id = u16::from_be_bytes(*id);

    match decode_answer(message, id) {
        Ok(address) => {
            let octets = address.octets();
            assert!(message.windows(4).any(|window| window == octets));
            assert_eq!(&message[..2], &id.to_be_bytes());
            assert!(message[2] & 0x80 != 0);
        }
        Err(AnswerError::NotOurs) => {
            assert!(
                message.len() < 12 || message[..2] != id.to_be_bytes() || message[2] & 0x80 == 0
            );
        }
        Err(_) => {}
    }

    // The same bytes as a name to query.
    if let Ok(name) = core::str::from_utf8(message) {
        let mut query = [0u8; MAX_MESSAGE];
        if let Ok(length) = encode_query(name, id, &mut query) {
            assert!(length <= MAX_MESSAGE);
            let query = &query[..length];
            assert_eq!(decode_answer(query, id), Err(AnswerError::NotOurs));
            let trimmed = name.strip_suffix('.').unwrap_or(name);
            // Labels, root, type A, class IN: one octet more than the name's text.
            assert_eq!(length, 12 + trimmed.len() + 2 + 4);
            let mut at = 12;
            for label in trimmed.split('.') {
                assert_eq!(usize::from(query[at]), label.len());
                assert_eq!(&query[at + 1..at + 1 + label.len()], label.as_bytes());
                at += 1 + label.len();
            }
            assert_eq!(&query[at..], &[0, 0, 1, 0, 1]);
        }
    }
});
