//! In-memory transport and clock for driving the client in tests.
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use iot_http::{Clock, Config, Error, HttpClient, Method, Request, RequestBuilder};
use iot_transport::{Received, Sent, Transport};

/// A clock the transport advances, so timeouts are tested without sleeping.
#[derive(Clone, Default)]
pub struct TestClock(pub Rc<Cell<Duration>>);

impl TestClock {
    pub fn advance(&self, by: Duration) {
        self.0.set(self.0.get() + by);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Duration {
        self.0.get()
    }
}

/// What the next `recv` call does.
#[derive(Debug, Clone)]
pub enum Rx {
    Data(Vec<u8>),
    WouldBlock,
    Eof,
    Fail,
}

/// What the next `send` call does; once the plan is empty every send takes everything.
#[derive(Debug, Clone)]
pub enum Tx {
    Accept(usize),
    WouldBlock,
    Fail,
    /// A buggy transport that claims more than it was given.
    Overclaim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkDown;

impl fmt::Display for LinkDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("link down")
    }
}

pub struct Scripted {
    pub rx: VecDeque<Rx>,
    pub tx: VecDeque<Tx>,
    pub sent: Vec<u8>,
    pub clock: TestClock,
    /// Time one call takes (a would-block takes the transport's own timeout).
    pub per_call: Duration,
    pub per_would_block: Duration,
    pub recv_calls: usize,
    pub send_calls: usize,
}

impl Scripted {
    pub fn new(rx: Vec<Rx>) -> Self {
        Scripted {
            rx: rx.into(),
            tx: VecDeque::new(),
            sent: Vec::new(),
            clock: TestClock::default(),
            per_call: Duration::from_millis(1),
            per_would_block: Duration::from_millis(100),
            recv_calls: 0,
            send_calls: 0,
        }
    }

    /// The response arrives in one piece, then the stream ends.
    pub fn whole(response: &[u8]) -> Self {
        Self::new(vec![Rx::Data(response.to_vec())])
    }

    /// The response arrives in pieces of the given sizes (the last size repeats).
    pub fn pieces(response: &[u8], sizes: &[usize]) -> Self {
        let mut rx = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < response.len() {
            let size = sizes[i.min(sizes.len() - 1)].max(1);
            let end = at.saturating_add(size).min(response.len());
            rx.push(Rx::Data(response[at..end].to_vec()));
            at = end;
            i += 1;
        }
        Self::new(rx)
    }

    pub fn bytewise(response: &[u8]) -> Self {
        Self::pieces(response, &[1])
    }

    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(&self.sent).into_owned()
    }
}

impl Transport for Scripted {
    type Error = LinkDown;

    fn send(&mut self, data: &[u8]) -> Result<Sent, LinkDown> {
        self.clock.advance(self.per_call);
        self.send_calls += 1;
        if data.is_empty() {
            return Ok(Sent::WouldBlock);
        }
        match self.tx.pop_front() {
            None => {
                self.sent.extend_from_slice(data);
                Ok(Sent::Bytes(data.len()))
            }
            Some(Tx::Accept(n)) => {
                let n = n.min(data.len());
                self.sent.extend_from_slice(&data[..n]);
                Ok(if n == 0 {
                    Sent::WouldBlock
                } else {
                    Sent::Bytes(n)
                })
            }
            Some(Tx::WouldBlock) => {
                self.clock.advance(self.per_would_block);
                Ok(Sent::WouldBlock)
            }
            Some(Tx::Fail) => Err(LinkDown),
            Some(Tx::Overclaim) => {
                self.sent.extend_from_slice(data);
                Ok(Sent::Bytes(data.len() + 1000))
            }
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, LinkDown> {
        self.clock.advance(self.per_call);
        self.recv_calls += 1;
        if buf.is_empty() {
            return Ok(Received::WouldBlock);
        }
        match self.rx.pop_front() {
            None | Some(Rx::Eof) => Ok(Received::EndOfStream),
            Some(Rx::WouldBlock) => {
                self.clock.advance(self.per_would_block);
                Ok(Received::WouldBlock)
            }
            Some(Rx::Fail) => Err(LinkDown),
            Some(Rx::Data(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    self.rx.push_front(Rx::Data(bytes[n..].to_vec()));
                }
                Ok(Received::Data(n))
            }
        }
    }
}

pub type Client = HttpClient<Scripted, TestClock, 16>;

pub fn client(transport: Scripted) -> Client {
    let clock = transport.clock.clone();
    HttpClient::new(transport, clock, Config::default())
}

pub fn client_with(transport: Scripted, config: Config) -> Client {
    let clock = transport.clock.clone();
    HttpClient::new(transport, clock, config)
}

pub fn get(buf: &mut [u8]) -> Request<'_> {
    RequestBuilder::new(buf, Method::Get, "/", "device.test")
        .unwrap()
        .finish_for_body(b"")
        .unwrap()
}

/// Sends `GET /` on `client` with a response buffer of `response_buffer` bytes and returns
/// the error, if the exchange failed.
pub fn get_error(client: &mut Client, response_buffer: usize) -> Option<Error<LinkDown>> {
    let mut request_buffer = [0u8; 128];
    let mut buffer = vec![0u8; response_buffer];
    client
        .send(&get(&mut request_buffer), b"", &mut buffer)
        .err()
}

pub fn request(buf: &mut [u8], method: Method) -> Request<'_> {
    RequestBuilder::new(buf, method, "/r", "device.test")
        .unwrap()
        .finish_for_body(b"")
        .unwrap()
}

/// Chunked encoding of `body` in chunks of `size` bytes.
pub fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Reads a streamed body to the end with an `out` buffer of `step` bytes.
pub fn drain<T: Transport, C: Clock, const N: usize>(
    reader: &mut iot_http::BodyReader<'_, '_, T, C, N>,
    step: usize,
) -> Result<Vec<u8>, iot_http::Error<T::Error>> {
    let mut out = vec![0u8; step];
    let mut body = Vec::new();
    loop {
        let n = reader.read(&mut out)?;
        if n == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&out[..n]);
    }
}
