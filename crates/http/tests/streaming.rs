//! Streamed response bodies: pulled in pieces, larger than the response buffer.

mod support;

use iot_http::{ConnectionOutcome, Error, Method};
use support::{Scripted, chunked, client, drain, get, request};

fn big_body() -> Vec<u8> {
    (0..5000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn streams_content_length_body_larger_than_buffer() {
    let body = big_body();
    let response = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        &body,
    ]
    .concat();
    for (sizes, step) in [(&[usize::MAX][..], 100), (&[10, 333], 64), (&[1], 1)] {
        let mut c = client(Scripted::pieces(&response, sizes));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 64]);
        let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert_eq!(r.head.content_length(), Some(5000));
        assert_eq!(drain(&mut r.body, step).unwrap(), body);
        assert_eq!(r.body.connection(), Some(ConnectionOutcome::Reusable));
        assert!(c.is_reusable());
    }
}

#[test]
fn streams_chunked_body_into_tiny_out_buffers() {
    let body = big_body();
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let response = [&head[..], &chunked(&body, 777)].concat();
    for (sizes, step) in [
        (&[usize::MAX][..], 1),
        (&[head.len() + 20, 3], 7),
        (&[1], 1),
        (&[4096], 512),
    ] {
        let mut c = client(Scripted::pieces(&response, sizes));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 64]);
        let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert_eq!(drain(&mut r.body, step).unwrap(), body, "{sizes:?} {step}");
        assert_eq!(r.body.connection(), Some(ConnectionOutcome::Reusable));
    }
}

#[test]
fn streams_body_until_close() {
    let body = big_body();
    let response = [&b"HTTP/1.1 200 OK\r\n\r\n"[..], &body].concat();
    let mut c = client(Scripted::pieces(&response, &[100, 999]));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 64]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(drain(&mut r.body, 256).unwrap(), body);
    assert_eq!(r.body.connection(), Some(ConnectionOutcome::MustClose));
    assert!(!c.is_reusable());
}

#[test]
fn early_eof_while_streaming() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(drain(&mut r.body, 4).err(), Some(Error::UnexpectedEof));
}

#[test]
fn malformed_chunk_while_streaming() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(drain(&mut r.body, 4).err(), Some(Error::MalformedChunk));
    assert!(!r.body.is_complete());
}

#[test]
fn dropping_the_reader_early_spoils_the_connection() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    {
        let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
        let mut out = [0u8; 4];
        assert_eq!(r.body.read(&mut out).unwrap(), 4);
    }
    assert!(!c.is_reusable());
}

#[test]
fn empty_bodies_are_complete_at_once() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let mut r = c
        .send_streaming(&request(&mut req_buf, Method::Head), b"", &mut buf)
        .unwrap();
    assert!(r.body.is_complete());
    assert_eq!(r.body.read(&mut [0u8; 8]).unwrap(), 0);
    assert_eq!(r.body.connection(), Some(ConnectionOutcome::Reusable));
}

#[test]
fn extra_bytes_after_streamed_body_close_the_connection() {
    let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nEXTRA";
    let mut c = client(Scripted::whole(response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(drain(&mut r.body, 3).unwrap(), b"a");
    assert_eq!(r.body.connection(), Some(ConnectionOutcome::MustClose));
}

#[test]
fn streamed_exchange_then_reuse() {
    let first = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    let second = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nde";
    let mut c = client(Scripted::pieces(
        &[&first[..], second].concat(),
        &[first.len(), 100],
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    {
        let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert_eq!(drain(&mut r.body, 2).unwrap(), b"abc");
    }
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body, b"de");
}

#[test]
fn zero_length_out_buffer_reads_nothing() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body.read(&mut []).unwrap(), 0);
    assert_eq!(drain(&mut r.body, 1).unwrap(), b"z");
}
