//! Whole-body exchanges: framing, interim responses, buffers and keep-alive.

mod support;

use iot_http::{
    ConnectionOutcome, Error, Method, RequestBuilder, ResponseFraming, StatusCode, Version,
};
use support::{Rx, Scripted, chunked, client, get, get_error, request};

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn reads_content_length_body() {
    let mut c = client(Scripted::whole(OK_HELLO));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.head.version(), Version::Http11);
    assert_eq!(r.head.reason(), "OK");
    assert_eq!(r.head.content_length(), Some(5));
    assert_eq!(r.body, b"hello");
    assert_eq!(r.connection, ConnectionOutcome::Reusable);
    assert!(c.is_reusable());
}

#[test]
fn a_small_body_leaves_with_the_head_in_one_write() {
    let mut c = client(Scripted::whole(OK_HELLO));
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Post, "/topics/t?qos=1", "h")
        .unwrap()
        .finish_for_body(b"{\"m\":1}")
        .unwrap();
    let mut buf = [0u8; 256];
    let response = c.send(&req, b"{\"m\":1}", &mut buf).unwrap();
    assert_eq!(response.body, b"hello");
    let (t, _) = c.into_parts();
    assert_eq!(
        t.send_calls, 1,
        "head and body went out in {} writes",
        t.send_calls
    );
    assert!(
        t.sent_text().ends_with("\r\n\r\n{\"m\":1}"),
        "{}",
        t.sent_text()
    );
}

#[test]
fn a_body_too_large_for_the_response_buffer_follows_the_head() {
    let mut c = client(Scripted::whole(OK_HELLO));
    let mut req_buf = [0u8; 128];
    let body = [b'x'; 200];
    let req = RequestBuilder::new(&mut req_buf, Method::Post, "/topics/t?qos=1", "h")
        .unwrap()
        .finish_for_body(&body)
        .unwrap();
    let mut buf = [0u8; 128];
    c.send(&req, &body, &mut buf).unwrap();
    let (t, _) = c.into_parts();
    assert_eq!(t.send_calls, 2);
    assert!(t.sent_text().ends_with(&"x".repeat(200)));
}

#[test]
fn sends_the_request_head_and_body() {
    let mut c = client(Scripted::whole(OK_HELLO));
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Post, "/topics/t?qos=1", "h")
        .unwrap()
        .finish_for_body(b"{}")
        .unwrap();
    let mut buf = [0u8; 256];
    c.send(&req, b"{}", &mut buf).unwrap();
    let (t, _) = c.into_parts();
    assert_eq!(
        t.sent_text(),
        "POST /topics/t?qos=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}"
    );
}

#[test]
fn bytes_arriving_one_at_a_time() {
    let chunked_response = [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        &chunked(b"hello world", 3),
    ]
    .concat();
    for response in [OK_HELLO, &chunked_response[..]] {
        let mut c = client(Scripted::bytewise(response));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
        let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert!(r.body == b"hello" || r.body == b"hello world");
        assert_eq!(r.connection, ConnectionOutcome::Reusable);
    }
}

#[test]
fn status_line_without_reason_phrase() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 64]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.head.reason(), "");
}

#[test]
fn rejects_zero_length_header_name() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n",
    ));
    assert_eq!(get_error(&mut c, 64), Some(Error::MalformedHeader));
    assert!(!c.is_reusable());
}

#[test]
fn rejects_malformed_status_line() {
    let mut c = client(Scripted::whole(b"HTTP/1.1 2000 OK\r\n\r\n"));
    assert_eq!(get_error(&mut c, 64), Some(Error::MalformedStatusLine));
}

#[test]
fn header_and_body_share_the_buffer_exactly() {
    let exact = OK_HELLO.len();
    let mut c = client(Scripted::whole(OK_HELLO));
    let mut req_buf = [0u8; 128];
    let mut buf = vec![0u8; exact];
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body, b"hello");

    let mut c = client(Scripted::whole(OK_HELLO));
    let mut buf = vec![0u8; exact - 1];
    assert_eq!(
        c.send(&get(&mut req_buf), b"", &mut buf).err(),
        Some(Error::BufferTooSmall)
    );
}

#[test]
fn head_larger_than_buffer() {
    let mut c = client(Scripted::whole(OK_HELLO));
    assert_eq!(get_error(&mut c, 20), Some(Error::HeaderTooLarge));
}

#[test]
fn too_many_headers() {
    let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..17 {
        response.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    response.extend_from_slice(b"\r\n");
    let mut c = client(Scripted::whole(&response));
    assert_eq!(get_error(&mut c, 512), Some(Error::TooManyHeaders));
}

#[test]
fn body_until_close_without_framing_headers() {
    let mut c = client(Scripted::pieces(
        b"HTTP/1.1 200 OK\r\n\r\nall of it",
        &[20, 3],
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 64]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.head.framing(), ResponseFraming::UntilClose);
    assert_eq!(r.body, b"all of it");
    assert_eq!(r.connection, ConnectionOutcome::MustClose);
    assert!(!c.is_reusable());
}

#[test]
fn body_until_close_fitting_exactly_and_one_byte_too_large() {
    let response = b"HTTP/1.1 200 OK\r\n\r\n0123456789";
    let mut req_buf = [0u8; 128];
    let mut c = client(Scripted::whole(response));
    let mut buf = vec![0u8; response.len()];
    assert_eq!(
        c.send(&get(&mut req_buf), b"", &mut buf).unwrap().body,
        b"0123456789"
    );

    let mut c = client(Scripted::whole(response));
    let mut buf = vec![0u8; response.len() - 1];
    assert_eq!(
        c.send(&get(&mut req_buf), b"", &mut buf).err(),
        Some(Error::BufferTooSmall)
    );
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let mut c = client(Scripted::whole(response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body, b"hello!");
    assert_eq!(r.head.framing(), ResponseFraming::Chunked);
    assert_eq!(r.connection, ConnectionOutcome::Reusable);
}

#[test]
fn chunked_body_filling_the_buffer_exactly_then_terminator() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let response = [&head[..], &chunked(b"abcdefgh", 8)].concat();
    // Room for the head and the 8 decoded bytes, but not for the raw chunk framing.
    let mut buf = vec![0u8; head.len() + 8];
    let mut c = client(Scripted::pieces(&response, &[head.len(), 3, 11, 2]));
    let mut req_buf = [0u8; 128];
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body, b"abcdefgh");
    assert_eq!(r.connection, ConnectionOutcome::Reusable);
}

#[test]
fn chunked_body_larger_than_buffer() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let response = [&head[..], &chunked(b"abcdefghi", 4)].concat();
    let mut buf = vec![0u8; head.len() + 8];
    let mut c = client(Scripted::pieces(&response, &[head.len(), 1]));
    let mut req_buf = [0u8; 128];
    assert_eq!(
        c.send(&get(&mut req_buf), b"", &mut buf).err(),
        Some(Error::BufferTooSmall)
    );
}

#[test]
fn bad_chunk_size_is_an_error() {
    let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let mut c = client(Scripted::whole(response));
    assert_eq!(get_error(&mut c, 256), Some(Error::MalformedChunk));
}

#[test]
fn invalid_and_conflicting_content_length_over_the_wire() {
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ] {
        let mut c = client(Scripted::whole(response));
        assert_eq!(get_error(&mut c, 256), Some(Error::InvalidContentLength));
    }
}

#[test]
fn content_length_beyond_buffer_fails_before_reading_it() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",
    ));
    assert_eq!(get_error(&mut c, 256), Some(Error::BufferTooSmall));
}

#[test]
fn transfer_encoding_with_content_length_is_rejected() {
    let response =
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let mut c = client(Scripted::whole(response));
    assert_eq!(get_error(&mut c, 256), Some(Error::InvalidFraming));
}

#[test]
fn no_body_for_head_request() {
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    let mut c = client(Scripted::whole(response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let r = c
        .send(&request(&mut req_buf, Method::Head), b"", &mut buf)
        .unwrap();
    assert_eq!(r.body, b"");
    assert_eq!(r.head.header_str("content-length"), Some("1000"));
    assert_eq!(r.connection, ConnectionOutcome::Reusable);
}

#[test]
fn no_body_for_204_and_304() {
    for status in ["204 No Content", "304 Not Modified"] {
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 3\r\n\r\n");
        let mut c = client(Scripted::whole(response.as_bytes()));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
        let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert_eq!(r.body, b"", "{status}");
        assert_eq!(r.connection, ConnectionOutcome::Reusable);
    }
}

#[test]
fn skips_interim_1xx_responses() {
    let response = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    for sizes in [&[usize::MAX][..], &[1], &[7, 30, 5]] {
        let mut c = client(Scripted::pieces(response, sizes));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
        let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
        assert_eq!(r.status().as_u16(), 201);
        assert_eq!(r.head.header("link"), None);
        assert_eq!(r.body, b"ok");
    }
}

#[test]
fn reports_101_switching_protocols() {
    let response =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let mut c = client(Scripted::whole(response));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(r.connection, ConnectionOutcome::MustClose);
}

#[test]
fn eof_before_or_inside_the_response() {
    let chunk_cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
    for response in [
        &b""[..],
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        chunk_cut,
    ] {
        let mut c = client(Scripted::whole(response));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
        assert_eq!(
            c.send(&get(&mut req_buf), b"", &mut buf).err(),
            Some(Error::UnexpectedEof),
            "{response:?}"
        );
    }
}

#[test]
fn keep_alive_reuses_the_connection() {
    let two = [
        OK_HELLO,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    ]
    .concat();
    let mut c = client(Scripted::pieces(&two, &[OK_HELLO.len(), 1000]));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    assert_eq!(
        c.send(&get(&mut req_buf), b"", &mut buf)
            .unwrap()
            .connection,
        ConnectionOutcome::Reusable
    );
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.status().is_client_error());
    assert_eq!(r.connection, ConnectionOutcome::Reusable);
}

#[test]
fn closes_when_server_says_close_or_speaks_http10() {
    for response in [
        &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    ] {
        let mut c = client(Scripted::whole(response));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
        assert_eq!(
            c.send(&get(&mut req_buf), b"", &mut buf)
                .unwrap()
                .connection,
            ConnectionOutcome::MustClose
        );
        assert_eq!(
            c.send(&get(&mut req_buf), b"", &mut buf).err(),
            Some(Error::ConnectionNotReusable)
        );
    }
}

#[test]
fn http10_keep_alive_is_reusable() {
    let mut c = client(Scripted::whole(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    ));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    assert_eq!(
        c.send(&get(&mut req_buf), b"", &mut buf)
            .unwrap()
            .connection,
        ConnectionOutcome::Reusable
    );
}

#[test]
fn closes_when_request_said_close() {
    let mut c = client(Scripted::whole(OK_HELLO));
    let mut req_buf = [0u8; 128];
    let mut b = RequestBuilder::new(&mut req_buf, Method::Get, "/", "h").unwrap();
    b.connection(iot_http::ConnectionMode::Close);
    let req = b.finish_for_body(b"").unwrap();
    let mut buf = [0u8; 128];
    assert_eq!(
        c.send(&req, b"", &mut buf).unwrap().connection,
        ConnectionOutcome::MustClose
    );
}

#[test]
fn closes_when_bytes_follow_the_response() {
    let mut c = client(Scripted::whole(&[OK_HELLO, b"garbage"].concat()));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(r.body, b"hello");
    assert_eq!(r.connection, ConnectionOutcome::MustClose);
}

#[test]
fn refuses_requests_after_an_error() {
    let mut c = client(Scripted::new(vec![Rx::Fail]));
    assert_eq!(
        get_error(&mut c, 128),
        Some(Error::Transport(support::LinkDown))
    );
    assert_eq!(get_error(&mut c, 128), Some(Error::ConnectionNotReusable));
}

#[test]
fn error_messages_name_the_cause() {
    let e: Error<support::LinkDown> = Error::Transport(support::LinkDown);
    assert_eq!(e.to_string(), "transport error: link down");
    assert_eq!(
        Error::<support::LinkDown>::InvalidContentLength.to_string(),
        "invalid Content-Length"
    );
    let e: Error<support::LinkDown> = iot_http::RequestError::InvalidRange.into();
    assert_eq!(e.to_string(), "bad request: invalid byte range");
}
