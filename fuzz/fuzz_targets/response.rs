//! Fuzzes the whole response path: head parsing, framing, bodies, in both read modes.
//!
//! Input: byte 0 chooses how the transport splits the bytes and the read sizes; the rest
//! is what the server sends. Checks: no panic; a response that parses in one piece
//! parses to the same status, headers and body when it arrives one byte at a time; after a
//! `101`, the upgrade bytes handed over followed by what the transport still holds are the
//! same whatever the split (nothing after the head is lost).
#![no_main]

use core::convert::Infallible;
use core::time::Duration;

use iot_http::{Clock, Config, HttpClient, Method, RequestBuilder};
use iot_transport::{Received, Sent, Transport};
use libfuzzer_sys::fuzz_target;

/// Plays back `data` in pieces of at most `piece` bytes, then ends the stream.
struct Replay<'a> {
    data: &'a [u8],
    piece: usize,
}

impl Transport for Replay<'_> {
    type Error = Infallible;

    fn send(&mut self, data: &[u8]) -> Result<Sent, Infallible> {
        Ok(if data.is_empty() {
            Sent::WouldBlock
        } else {
            Sent::Bytes(data.len())
        })
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, Infallible> {
        let n = self.data.len().min(buf.len()).min(self.piece);
        if n == 0 {
            return Ok(if buf.is_empty() {
                Received::WouldBlock
            } else {
                Received::EndOfStream
            });
        }
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(Received::Data(n))
    }
}

struct Still;

impl Clock for Still {
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// Status, headers, body and (for a `101`) every byte after the head, of a whole-body
/// read, or `None` on error.
type Whole = (u16, Vec<(String, Vec<u8>)>, Vec<u8>, Vec<u8>);

fn whole(data: &[u8], piece: usize, method: Method) -> Option<Whole> {
    let mut client: HttpClient<_, _, 16> =
        HttpClient::new(Replay { data, piece }, Still, Config::default());
    let mut head = [0u8; 128];
    let request = RequestBuilder::new(&mut head, method, "/", "fuzz")
        .ok()?
        .finish_for_body(b"")
        .ok()?;
    let mut buf = [0u8; 1024];
    let response = client.send(&request, b"", &mut buf).ok()?;
    assert!(response.body.len() <= 1024);
    let headers = response
        .head
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect();
    let _ = response.head.reason();
    let status = response.status().as_u16();
    let body = response.body.to_vec();
    let mut after = response.upgrade.to_vec();
    if status == 101 {
        after.extend_from_slice(client.transport_mut().data);
    } else {
        assert!(after.is_empty());
    }
    Some((status, headers, body, after))
}

/// Streams the body with `out`-sized reads; returns it, or `None` on error.
fn streamed(data: &[u8], piece: usize, out: usize) -> Option<Vec<u8>> {
    let mut client: HttpClient<_, _, 16> =
        HttpClient::new(Replay { data, piece }, Still, Config::default());
    let mut head = [0u8; 128];
    let request = RequestBuilder::new(&mut head, Method::Get, "/", "fuzz")
        .ok()?
        .finish_for_body(b"")
        .ok()?;
    let mut buf = [0u8; 256];
    let mut response = client.send_streaming(&request, b"", &mut buf).ok()?;
    let mut chunk = vec![0u8; out];
    let mut body = Vec::new();
    loop {
        let n = response.body.read(&mut chunk).ok()?;
        if n == 0 {
            return Some(body);
        }
        assert!(n <= out);
        body.extend_from_slice(&chunk[..n]);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let piece = usize::from(control & 0x0f) + 1;
    let out = usize::from(control >> 4) + 1;
    let method = if control & 0x80 != 0 {
        Method::Head
    } else {
        Method::Get
    };

    let at_once = whole(data, usize::MAX, method);
    let split = whole(data, piece, method);
    let bytewise = whole(data, 1, method);
    assert_eq!(at_once, split);
    assert_eq!(at_once, bytewise);

    let streamed_body = streamed(data, piece, out);
    if let (Some((_, _, body, _)), Some(streamed_body), Method::Get) =
        (&at_once, &streamed_body, method)
    {
        assert_eq!(body, streamed_body);
    }
});
