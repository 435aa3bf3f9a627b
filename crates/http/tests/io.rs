//! Sending, uploads in pieces, timeouts and transport errors.

mod support;

use std::time::Duration;

use iot_http::{
    BodyFraming, Config, ConnectionOutcome, Error, Method, RequestBuilder, RequestError,
    TimeoutKind,
};
use support::{LinkDown, Rx, Scripted, Tx, client, client_with, get, get_error};

const OK_EMPTY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

#[test]
fn handles_partial_writes_and_would_block() {
    let mut t = Scripted::whole(OK_EMPTY);
    t.tx = vec![
        Tx::Accept(1),
        Tx::WouldBlock,
        Tx::Accept(3),
        Tx::WouldBlock,
        Tx::Accept(2),
    ]
    .into();
    let mut c = client(t);
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    let req = get(&mut req_buf);
    let expected = req.head().to_vec();
    c.send(&req, b"", &mut buf).unwrap();
    assert_eq!(c.into_parts().0.sent, expected);
}

#[test]
fn send_times_out_without_progress() {
    let mut t = Scripted::whole(OK_EMPTY);
    t.tx = std::iter::repeat_n(Tx::WouldBlock, 200).collect();
    let mut c = client(t);
    assert_eq!(
        get_error(&mut c, 128),
        Some(Error::Timeout(TimeoutKind::Send))
    );
    // 10 s send timeout, 101 ms per would-block: gave up after about 100 tries.
    assert!(c.into_parts().0.tx.len() > 90);
}

#[test]
fn slow_but_steady_send_is_not_a_timeout() {
    let mut t = Scripted::whole(OK_EMPTY);
    // Each byte after ~9 s of would-block: never 10 s without progress.
    t.tx = (0..10)
        .flat_map(|_| std::iter::repeat_n(Tx::WouldBlock, 89).chain([Tx::Accept(1)]))
        .collect();
    let config = Config {
        request_timeout: None,
        ..Config::default()
    };
    let mut c = client_with(t, config);
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    assert!(c.send(&get(&mut req_buf), b"", &mut buf).is_ok());
}

#[test]
fn transport_errors_pass_through() {
    let mut t = Scripted::whole(OK_EMPTY);
    t.tx = vec![Tx::Fail].into();
    let mut c = client(t);
    assert_eq!(get_error(&mut c, 128), Some(Error::Transport(LinkDown)));

    let mut c = client(Scripted::new(vec![
        Rx::Data(b"HTTP/1.1 2".to_vec()),
        Rx::Fail,
    ]));
    assert_eq!(get_error(&mut c, 128), Some(Error::Transport(LinkDown)));
}

#[test]
fn overclaiming_transport_does_not_panic() {
    let mut t = Scripted::whole(OK_EMPTY);
    t.tx = vec![Tx::Overclaim].into();
    let mut c = client(t);
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    assert!(c.send(&get(&mut req_buf), b"", &mut buf).is_ok());
}

#[test]
fn receive_gap_timeout() {
    let mut rx = vec![Rx::Data(b"HTTP/1.1 200 OK\r\n".to_vec())];
    rx.extend(std::iter::repeat_n(Rx::WouldBlock, 200));
    let mut c = client(Scripted::new(rx));
    assert_eq!(
        get_error(&mut c, 128),
        Some(Error::Timeout(TimeoutKind::RecvGap))
    );
}

#[test]
fn overall_request_deadline() {
    // A byte every ~5 s: no gap reaches 10 s, but the 30 s deadline passes.
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let rx = response
        .iter()
        .flat_map(|&b| std::iter::repeat_n(Rx::WouldBlock, 50).chain([Rx::Data(vec![b])]))
        .collect();
    let mut c = client(Scripted::new(rx));
    assert_eq!(
        get_error(&mut c, 128),
        Some(Error::Timeout(TimeoutKind::Request))
    );

    let config = Config {
        request_timeout: Some(Duration::from_secs(3600)),
        ..Config::default()
    };
    let rx = response
        .iter()
        .flat_map(|&b| std::iter::repeat_n(Rx::WouldBlock, 50).chain([Rx::Data(vec![b])]))
        .collect();
    let mut c = client_with(Scripted::new(rx), config);
    assert_eq!(get_error(&mut c, 128), None);
}

#[test]
fn uploads_chunked_body_in_pieces() {
    let mut c = client(Scripted::whole(OK_EMPTY));
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Put, "/f", "h")
        .unwrap()
        .finish(BodyFraming::Chunked)
        .unwrap();
    let head_len = req.head().len();
    let mut w = c.begin(&req).unwrap();
    w.write(b"hello").unwrap();
    w.write(b"").unwrap();
    w.write(&[b'x'; 26]).unwrap();
    let mut buf = [0u8; 128];
    let r = w.finish().unwrap().receive(&mut buf).unwrap();
    assert_eq!(r.connection, ConnectionOutcome::Reusable);
    let sent = c.into_parts().0.sent;
    let body = String::from_utf8(sent[head_len..].to_vec()).unwrap();
    assert_eq!(
        body,
        format!("5\r\nhello\r\n1a\r\n{}\r\n0\r\n\r\n", "x".repeat(26))
    );
}

#[test]
fn uploads_known_length_in_pieces_and_checks_it() {
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Post, "/t", "h")
        .unwrap()
        .finish(BodyFraming::ContentLength(6))
        .unwrap();

    let mut c = client(Scripted::whole(OK_EMPTY));
    let mut w = c.begin(&req).unwrap();
    w.write(b"abc").unwrap();
    w.write(b"def").unwrap();
    let mut buf = [0u8; 128];
    assert!(w.finish().unwrap().receive(&mut buf).is_ok());
    assert!(c.into_parts().0.sent.ends_with(b"\r\n\r\nabcdef"));

    let mut c = client(Scripted::whole(OK_EMPTY));
    let mut w = c.begin(&req).unwrap();
    w.write(b"abcd").unwrap();
    assert_eq!(
        w.write(b"efg").err(),
        Some(Error::Request(RequestError::BodyLengthMismatch))
    );
    assert_eq!(
        w.finish().err(),
        Some(Error::Request(RequestError::BodyLengthMismatch))
    );
    assert!(!c.is_reusable());
}

#[test]
fn body_slice_must_match_declared_length() {
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Post, "/t", "h")
        .unwrap()
        .finish_for_body(b"abc")
        .unwrap();
    let mut c = client(Scripted::whole(OK_EMPTY));
    let mut buf = [0u8; 128];
    assert_eq!(
        c.send(&req, b"ab", &mut buf).err(),
        Some(Error::Request(RequestError::BodyLengthMismatch))
    );
}

#[test]
fn body_slice_with_chunked_request_is_one_chunk() {
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Post, "/t", "h")
        .unwrap()
        .finish(BodyFraming::Chunked)
        .unwrap();
    let mut c = client(Scripted::whole(OK_EMPTY));
    let mut buf = [0u8; 128];
    c.send(&req, b"payload", &mut buf).unwrap();
    assert!(
        c.into_parts()
            .0
            .sent
            .ends_with(b"\r\n\r\n7\r\npayload\r\n0\r\n\r\n")
    );
}

#[test]
fn abandoned_upload_spoils_the_connection() {
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Put, "/f", "h")
        .unwrap()
        .finish(BodyFraming::Chunked)
        .unwrap();
    let mut c = client(Scripted::whole(OK_EMPTY));
    let _abandoned = c.begin(&req).unwrap();
    assert!(!c.is_reusable());
    assert_eq!(
        c.begin(&req).err().map(|e| e.to_string()),
        Some("connection is not reusable".into())
    );
}

#[test]
fn idle_hook_runs_on_every_would_block() {
    use std::cell::Cell;
    use std::rc::Rc;

    struct CountingClock(support::TestClock, Rc<Cell<u32>>);
    impl iot_http::Clock for CountingClock {
        fn now(&self) -> Duration {
            self.0.now()
        }
        fn idle(&self) {
            self.1.set(self.1.get() + 1);
        }
    }

    let mut t = Scripted::new(vec![
        Rx::WouldBlock,
        Rx::WouldBlock,
        Rx::Data(OK_EMPTY.to_vec()),
    ]);
    t.tx = vec![Tx::WouldBlock].into();
    let idles = Rc::new(Cell::new(0));
    let clock = CountingClock(t.clock.clone(), idles.clone());
    let mut c: iot_http::HttpClient<_, _> = iot_http::HttpClient::new(t, clock, Config::default());
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    assert_eq!(idles.get(), 3);
}

#[test]
fn config_can_change_between_requests() {
    let two = [OK_EMPTY, OK_EMPTY].concat();
    let mut c = client(Scripted::pieces(&two, &[OK_EMPTY.len()]));
    let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 128]);
    c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
    let longer = Config {
        request_timeout: None,
        ..*c.config()
    };
    c.set_config(longer);
    assert_eq!(c.config().request_timeout, None);
    c.send(&get(&mut req_buf), b"", &mut buf).unwrap();
}

#[test]
fn each_chunk_costs_two_sends() {
    // Over TLS every send is a record: the size line and the previous chunk's CRLF go
    // together, then the data.
    let mut c = client(Scripted::whole(OK_EMPTY));
    let mut req_buf = [0u8; 128];
    let req = RequestBuilder::new(&mut req_buf, Method::Put, "/f", "h")
        .unwrap()
        .finish(BodyFraming::Chunked)
        .unwrap();
    let mut w = c.begin(&req).unwrap();
    for piece in [&b"ab"[..], b"cde", b"f"] {
        w.write(piece).unwrap();
    }
    let mut buf = [0u8; 128];
    w.finish().unwrap().receive(&mut buf).unwrap();
    let t = c.into_parts().0;
    // head + 3 x (size line, data) + last chunk
    assert_eq!(t.send_calls, 1 + 3 * 2 + 1);
    assert!(
        t.sent
            .ends_with(b"\r\n\r\n2\r\nab\r\n3\r\ncde\r\n1\r\nf\r\n0\r\n\r\n")
    );
}
