//! RFC 9112 conformance of the response side: one line-ending policy for the head and the
//! chunked framing, chunk extensions and trailer fields checked against their grammar and
//! bounded, obs-fold replaced with spaces, and the bytes after a `101` handed over.

mod support;

use iot_http::{ChunkedDecoder, ConnectionOutcome, Error, MalformedChunk, StatusCode};
use support::{Scripted, chunked, client, drain, get};

/// Decodes `input` in pieces of `step` bytes; the body, or the error.
fn decode(input: &[u8], step: usize) -> Result<Vec<u8>, MalformedChunk> {
    let mut decoder = ChunkedDecoder::new();
    let mut body = Vec::new();
    for piece in input.chunks(step.max(1)) {
        let mut piece = piece.to_vec();
        let step = decoder.decode_in_place(&mut piece)?;
        body.extend_from_slice(&piece[..step.decoded]);
        if decoder.is_done() {
            return Ok(body);
        }
    }
    assert!(decoder.is_done(), "the body did not end: {input:?}");
    Ok(body)
}

/// Decodes `input` at once and byte by byte, which must agree; the body, or the error.
fn decode_any_split(input: &[u8]) -> Result<Vec<u8>, MalformedChunk> {
    let whole = decode(input, input.len());
    assert_eq!(
        whole,
        decode(input, 1),
        "split changed the result: {input:?}"
    );
    whole
}

/// A response's body and its headers as `(name, value)`.
type Exchanged = (Vec<u8>, Vec<(String, Vec<u8>)>);

/// The body of a whole-body `GET` answered with `response`, delivered at once and byte by
/// byte (which must agree), or the error.
fn exchange(response: &[u8]) -> Result<Exchanged, Error<support::LinkDown>> {
    let mut results = Vec::new();
    for transport in [Scripted::whole(response), Scripted::bytewise(response)] {
        let mut c = client(transport);
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 512]);
        let result = c.send(&get(&mut req_buf), b"", &mut buf).map(|r| {
            let headers = r
                .head
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_vec()))
                .collect();
            (r.body.to_vec(), headers)
        });
        results.push(result);
    }
    assert_eq!(
        results[0], results[1],
        "split changed the result: {response:?}"
    );
    results.remove(0)
}

// --- One policy for bare LF: accepted alone as a line end everywhere; a CR must be followed
// --- by LF everywhere.

#[test]
fn bare_lf_ends_chunk_lines_as_it_ends_head_lines() {
    // Size lines, the line after the data, trailer lines and the final line.
    for body in [
        &b"5\nhello\n0\n\n"[..],
        b"5\r\nhello\n0\n\r\n",
        b"5;a=b\nhello\r\n0\nX: y\n\n",
        b"5 \nhello\r\n0\r\nX: y\r\n\n",
    ] {
        assert_eq!(decode_any_split(body), Ok(b"hello".to_vec()), "{body:?}");
    }
    let response = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n";
    assert_eq!(
        exchange(response).map(|(body, _)| body),
        Ok(b"hello".to_vec())
    );
}

#[test]
fn a_cr_not_followed_by_lf_is_rejected_in_chunk_lines_and_in_the_head() {
    for body in [
        &b"5\rhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\r0\r\n\r\n",
        b"5;a=b\rx\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: y\rz\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\r\n",
    ] {
        assert_eq!(decode_any_split(body), Err(MalformedChunk), "{body:?}");
    }
    for head in [
        &b"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\rX: y\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n",
    ] {
        assert!(exchange(head).is_err(), "{head:?}");
    }
}

// --- Chunk extensions: BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ].

#[test]
fn chunk_extensions_that_follow_the_grammar_are_accepted() {
    for extensions in [
        ";a",
        ";a=b",
        "; a = b",
        "\t;\ta\t=\tb",
        ";name=\"quoted; with \\\"escapes\\\" and spaces\"",
        ";a;b=c;d=\"\"",
        ";chunk-signature=0123456789abcdef",
        ";a=b ",
    ] {
        let body = format!("5{extensions}\r\nhello\r\n0{extensions}\r\n\r\n");
        assert_eq!(
            decode_any_split(body.as_bytes()),
            Ok(b"hello".to_vec()),
            "{extensions:?}"
        );
    }
}

#[test]
fn chunk_extensions_off_the_grammar_are_rejected() {
    for extensions in [
        &b";"[..],
        b"; ",
        b";=b",
        b";a=",
        b";a==b",
        b";a b",
        b";a=b c",
        b";a=\"unterminated",
        b";a=\"x\"y",
        b";a=\"\x01\"",
        b";a=\"\\\x7f\"",
        b";a\x00",
        b";(a)",
        b";a=b;",
        b"x",
    ] {
        let mut body = b"5".to_vec();
        body.extend_from_slice(extensions);
        body.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(
            decode_any_split(&body),
            Err(MalformedChunk),
            "{extensions:?}"
        );
    }
}

#[test]
fn an_endless_chunk_extension_is_cut_off() {
    let mut decoder = ChunkedDecoder::new();
    assert!(decoder.feed(b"5;a=").is_ok());
    let endless = [b'x'; 64];
    let mut fed = 4;
    let failed = loop {
        match decoder.feed(&endless) {
            Ok(step) => assert_eq!(step.consumed, endless.len()),
            Err(MalformedChunk) => break fed,
        }
        fed += endless.len();
        assert!(
            fed < 100_000,
            "an extension of {fed} bytes is still accepted"
        );
    };
    assert!(
        failed <= ChunkedDecoder::MAX_SIZE_LINE,
        "cut off after {failed} bytes"
    );
    // The longest size line allowed still passes.
    let mut body = b"5;a=".to_vec();
    body.resize(ChunkedDecoder::MAX_SIZE_LINE, b'x');
    body.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    assert_eq!(decode_any_split(&body), Ok(b"hello".to_vec()));
    // One more byte does not.
    let mut body = b"5;a=".to_vec();
    body.resize(ChunkedDecoder::MAX_SIZE_LINE + 1, b'x');
    body.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    assert_eq!(decode_any_split(&body), Err(MalformedChunk));
}

#[test]
fn endless_leading_zeros_are_cut_off_too() {
    let mut body = vec![b'0'; ChunkedDecoder::MAX_SIZE_LINE + 1];
    body.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(decode_any_split(&body), Err(MalformedChunk));
}

// --- Trailer fields: token ":" field value (VCHAR, obs-text, SP, HTAB), bounded.

#[test]
fn trailer_fields_that_follow_the_grammar_are_accepted() {
    for trailers in [
        "Expires: never\r\n",
        "X-Checksum:abc\r\nX-Empty:\r\nx: \t v \t \r\n",
        "X-Folded: a\r\n  b\r\n",
    ] {
        let body = format!("5\r\nhello\r\n0\r\n{trailers}\r\n");
        assert_eq!(
            decode_any_split(body.as_bytes()),
            Ok(b"hello".to_vec()),
            "{trailers:?}"
        );
    }
}

#[test]
fn trailer_fields_off_the_grammar_are_rejected() {
    for trailers in [
        &b"no colon\r\n"[..],
        b"X : y\r\n",
        b": y\r\n",
        b"X(y): z\r\n",
        b"X: a\x00b\r\n",
        b"X: a\x7fb\r\n",
        b" leading: space\r\n",
    ] {
        let mut body = b"5\r\nhello\r\n0\r\n".to_vec();
        body.extend_from_slice(trailers);
        body.extend_from_slice(b"\r\n");
        assert_eq!(decode_any_split(&body), Err(MalformedChunk), "{trailers:?}");
    }
}

#[test]
fn an_endless_trailer_section_is_cut_off() {
    let line = b"X-Padding: 0123456789abcdef0123456789abcdef\r\n";
    let mut body = b"0\r\n".to_vec();
    let lines = ChunkedDecoder::MAX_TRAILERS / line.len() + 1;
    for _ in 0..lines {
        body.extend_from_slice(line);
    }
    body.extend_from_slice(b"\r\n");
    assert_eq!(decode_any_split(&body), Err(MalformedChunk));
    // A trailer section within the limit passes.
    let mut body = b"0\r\n".to_vec();
    for _ in 0..(ChunkedDecoder::MAX_TRAILERS - 2) / line.len() {
        body.extend_from_slice(line);
    }
    body.extend_from_slice(b"\r\n");
    assert_eq!(decode_any_split(&body), Ok(Vec::new()));
}

// --- obs-fold in a response: replaced with SP before the value is interpreted.

#[test]
fn folded_header_values_are_unfolded_with_spaces() {
    let response =
        b"HTTP/1.1 200 OK\r\nX-Long: first\r\n second\r\n\tthird\r\nContent-Length:\r\n 2\r\n\r\nok";
    let (body, headers) = exchange(response).unwrap();
    assert_eq!(body, b"ok");
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
    };
    assert_eq!(value("x-long").as_deref(), Some("first   second  \tthird"));
    assert_eq!(value("content-length").as_deref(), Some("2"));
    assert_eq!(headers.len(), 2);
    // With bare LF line ends too.
    let bare = b"HTTP/1.1 200 OK\nX: a\n b\nContent-Length: 0\n\n";
    let (_, headers) = exchange(bare).unwrap();
    assert_eq!(headers[0], ("X".to_owned(), b"a  b".to_vec()));
}

#[test]
fn a_fold_after_blank_lines_is_unfolded_however_the_head_arrives() {
    // Found by the response fuzz target: blank lines before the status line used to make
    // the client parse the head before it was complete, and httparse rejected the fold that
    // had arrived while the unfolding waited for the rest.
    let response = b"\r\n\n\n\n\nHTTP/1.1 200 OK\r\nX: a\r\n b\r\n\tc\r\n\nbody";
    for sizes in [&[usize::MAX][..], &[1], &[5], &[3, 2]] {
        let mut c = client(Scripted::pieces(response, sizes));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
        let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert_eq!(r.head.header("x"), Some(&b"a   b  \tc"[..]), "{sizes:?}");
        assert_eq!(r.body, b"body");
    }
}

#[test]
fn whitespace_before_the_first_header_is_still_rejected() {
    let response = b"HTTP/1.1 200 OK\r\n X: y\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(exchange(response), Err(Error::MalformedHeader));
}

#[test]
fn a_fold_in_an_interim_response_is_unfolded_too() {
    let response = b"HTTP/1.1 103 Early Hints\r\nLink: </a>;\r\n rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(exchange(response).map(|(body, _)| body), Ok(b"ok".to_vec()));
}

// --- Bytes after a 101 head belong to the new protocol: handed to the caller.

const SWITCH: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

#[test]
fn bytes_after_a_101_head_are_handed_over() {
    let mut response = SWITCH.to_vec();
    response.extend_from_slice(b"\x81\x05hello");
    let mut c = client(Scripted::whole(&response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(r.connection, ConnectionOutcome::MustClose);
    assert_eq!(r.body, b"");
    assert_eq!(r.upgrade, b"\x81\x05hello");
}

#[test]
fn upgrade_bytes_plus_what_the_transport_still_holds_is_everything_sent() {
    let mut response = SWITCH.to_vec();
    response.extend_from_slice(b"0123456789");
    for sizes in [&[usize::MAX][..], &[1], &[SWITCH.len() + 3, 2]] {
        let mut c = client(Scripted::pieces(&response, sizes));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
        let upgrade = c
            .send(&get(&mut req_buf), b"", &mut buf)
            .unwrap()
            .upgrade
            .to_vec();
        let mut rest = upgrade;
        let transport = c.transport_mut();
        while let Some(support::Rx::Data(bytes)) = transport.rx.pop_front() {
            rest.extend_from_slice(&bytes);
        }
        assert_eq!(rest, b"0123456789", "{sizes:?}");
    }
}

#[test]
fn a_streamed_101_hands_over_its_bytes_too() {
    let mut response = SWITCH.to_vec();
    response.extend_from_slice(b"new protocol");
    let mut c = client(Scripted::whole(&response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.head.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(r.body.upgrade(), b"new protocol");
    // The body of a 101 is empty; reading it leaves the upgrade bytes alone.
    assert_eq!(drain(&mut r.body, 16), Ok(Vec::new()));
    assert_eq!(r.body.connection(), Some(ConnectionOutcome::MustClose));
    let upgrade = r.body.into_upgrade();
    assert_eq!(upgrade, b"new protocol");
    // The client is free again: the caller goes on with the transport.
    assert!(c.transport_mut().rx.is_empty());
}

#[test]
fn no_upgrade_bytes_for_other_responses() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body, b"ok");
    assert_eq!(r.upgrade, b"");
    assert_eq!(r.connection, ConnectionOutcome::MustClose);
    let body = chunked(b"hello", 2);
    let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    response.extend_from_slice(&body);
    let mut c = client(Scripted::whole(&response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
    let r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body.upgrade(), b"");
}
