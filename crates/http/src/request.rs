//! Building a request head into a caller buffer.

use crate::path::{validate_host, validate_path};
use crate::{Method, RequestError};

/// How the request body is framed, which decides the framing header the builder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No framing header at all: coreHTTP's "disable Content-Length" flag. Use it for a
    /// request without a body whose method does not expect one (the default for `GET`).
    /// A body sent anyway goes out unframed, so only do that if the server expects it.
    NoHeader,
    /// `Content-Length: n`. Exactly `n` body bytes must then be sent, in one slice or
    /// in pieces; the client checks this.
    ContentLength(u64),
    /// `Transfer-Encoding: chunked`, for a body of unknown length written in pieces.
    Chunked,
}

/// Whether the connection should stay open after this exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionMode {
    /// `Connection: keep-alive` (the default): reuse the connection for the next request
    /// if the response allows it.
    KeepAlive,
    /// `Connection: close`: the server closes after the response; so will the client.
    Close,
}

/// A byte range for the `Range` header (RFC 9110, section 14.1.2), in its three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`, both inclusive; `first <= last`.
    FromTo {
        /// Offset of the first byte wanted.
        first: u64,
        /// Offset of the last byte wanted (inclusive).
        last: u64,
    },
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes; `n > 0`.
    Last(u64),
}

/// Writes a request head into a caller buffer, header by header.
///
/// The request line and `Host` are written by [`RequestBuilder::new`]; other headers are
/// appended in call order; `Connection` and the body framing header are written by
/// [`RequestBuilder::finish`], which consumes the builder and returns a [`Request`]. So
/// no header can be added after the head is closed.
///
/// **Buffer ownership:** `buf` is borrowed mutably until `finish`, then immutably by the
/// `Request` until that is dropped. Only the front of `buf` is used; the rest is untouched.
/// On any error the builder is still usable and the buffer holds the head so far (the
/// failed header is not half-written).
pub struct RequestBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    method: Method,
    mode: ConnectionMode,
}

impl<'b> RequestBuilder<'b> {
    /// Starts a request: writes `METHOD path HTTP/1.1` and `Host: host`.
    ///
    /// `path` must already be percent-encoded (see [`PathBuilder`](crate::PathBuilder)).
    ///
    /// # Errors
    /// [`RequestError::InvalidPath`], [`RequestError::InvalidHost`],
    /// [`RequestError::BufferTooSmall`].
    pub fn new(
        buf: &'b mut [u8],
        method: Method,
        path: &str,
        host: &str,
    ) -> Result<Self, RequestError> {
        validate_path(method, path)?;
        validate_host(host)?;
        let mut builder = RequestBuilder {
            buf,
            len: 0,
            method,
            mode: ConnectionMode::KeepAlive,
        };
        builder.write_all(&[
            method.as_str().as_bytes(),
            b" ",
            path.as_bytes(),
            b" HTTP/1.1\r\n",
        ])?;
        builder.write_all(&[b"Host: ", host.as_bytes(), b"\r\n"])?;
        Ok(builder)
    }

    /// Adds `User-Agent: agent`. Optional, as with coreHTTP's "no user agent" flag.
    ///
    /// # Errors
    /// As for [`header`](Self::header).
    pub fn user_agent(&mut self, agent: &str) -> Result<&mut Self, RequestError> {
        self.write_header("User-Agent", agent.as_bytes())?;
        Ok(self)
    }

    /// Chooses the `Connection` header written at [`finish`](Self::finish).
    pub fn connection(&mut self, mode: ConnectionMode) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Adds `name: value`.
    ///
    /// # Errors
    /// [`RequestError::InvalidHeaderName`] when `name` is empty or not a token (this covers
    /// `:`, CR, LF and spaces); [`RequestError::InvalidHeaderValue`] when `value` holds CR,
    /// LF or another control byte except TAB; [`RequestError::ReservedHeader`] for `Host`,
    /// `Connection`, `Content-Length` and `Transfer-Encoding`;
    /// [`RequestError::BufferTooSmall`].
    pub fn header(&mut self, name: &str, value: &str) -> Result<&mut Self, RequestError> {
        const RESERVED: [&str; 4] = ["host", "connection", "content-length", "transfer-encoding"];
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(RequestError::ReservedHeader);
        }
        self.write_header(name, value.as_bytes())?;
        Ok(self)
    }

    /// Adds `Range: bytes=...` (coreHTTP's "add range header").
    ///
    /// # Errors
    /// [`RequestError::InvalidRange`] for `first > last` or `Last(0)`;
    /// [`RequestError::BufferTooSmall`].
    pub fn range(&mut self, range: ByteRange) -> Result<&mut Self, RequestError> {
        let mut first = Decimal::new();
        let mut last = Decimal::new();
        let parts: [&[u8]; 4] = match range {
            ByteRange::FromTo { first: a, last: b } if a <= b => {
                [b"bytes=", first.of(a), b"-", last.of(b)]
            }
            ByteRange::From(a) => [b"bytes=", first.of(a), b"-", b""],
            ByteRange::Last(n) if n > 0 => [b"bytes=", b"", b"-", last.of(n)],
            _ => return Err(RequestError::InvalidRange),
        };
        self.write_all(&[b"Range: ", parts[0], parts[1], parts[2], parts[3], b"\r\n"])?;
        Ok(self)
    }

    /// Closes the head: writes `Connection`, the framing header chosen by `framing`, and
    /// the empty line. Returns the finished [`Request`].
    ///
    /// # Errors
    /// [`RequestError::BufferTooSmall`]; the builder is consumed either way.
    pub fn finish(mut self, framing: BodyFraming) -> Result<Request<'b>, RequestError> {
        let connection: &[u8] = match self.mode {
            ConnectionMode::KeepAlive => b"keep-alive",
            ConnectionMode::Close => b"close",
        };
        self.write_all(&[b"Connection: ", connection, b"\r\n"])?;
        let mut digits = Decimal::new();
        match framing {
            BodyFraming::NoHeader => {}
            BodyFraming::ContentLength(n) => {
                self.write_all(&[b"Content-Length: ", digits.of(n), b"\r\n"])?
            }
            BodyFraming::Chunked => self.write_all(&[b"Transfer-Encoding: chunked\r\n"])?,
        }
        self.write_all(&[b"\r\n"])?;
        let RequestBuilder {
            buf,
            len,
            method,
            mode,
        } = self;
        let head: &'b [u8] = buf;
        let head = head.get(..len).ok_or(RequestError::BufferTooSmall)?;
        Ok(Request {
            head,
            method,
            framing,
            close: mode == ConnectionMode::Close,
        })
    }

    /// Closes the head for a body given as one slice, with an automatic `Content-Length`:
    /// written when the body is not empty or the method expects content (`POST`, `PUT`,
    /// `PATCH`), left out otherwise. Use [`finish`](Self::finish) to choose yourself.
    ///
    /// # Errors
    /// As for [`finish`](Self::finish).
    pub fn finish_for_body(self, body: &[u8]) -> Result<Request<'b>, RequestError> {
        let framing = if body.is_empty() && !self.method.expects_body() {
            BodyFraming::NoHeader
        } else {
            // usize always fits in u64 on supported targets; saturate rather than panic.
            BodyFraming::ContentLength(u64::try_from(body.len()).unwrap_or(u64::MAX))
        };
        self.finish(framing)
    }

    fn write_header(&mut self, name: &str, value: &[u8]) -> Result<(), RequestError> {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(RequestError::InvalidHeaderName);
        }
        if !value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        {
            return Err(RequestError::InvalidHeaderValue);
        }
        self.write_all(&[name.as_bytes(), b": ", value, b"\r\n"])
    }

    /// Appends all `parts` or nothing.
    fn write_all(&mut self, parts: &[&[u8]]) -> Result<(), RequestError> {
        let mut end = self.len;
        for part in parts {
            let next = end
                .checked_add(part.len())
                .ok_or(RequestError::BufferTooSmall)?;
            self.buf
                .get_mut(end..next)
                .ok_or(RequestError::BufferTooSmall)?
                .copy_from_slice(part);
            end = next;
        }
        self.len = end;
        Ok(())
    }
}

/// RFC 9110 `tchar`: the bytes allowed in a header name.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A `u64` written in decimal or hexadecimal without `core::fmt` and without 64-bit
/// division: both would pull about a kilobyte of runtime support into a Cortex-M image.
pub(crate) struct Decimal {
    digits: [u8; 20],
}

/// Powers of ten from 10^19 down to 10^0: decimal digits by repeated subtraction.
const POWERS_OF_TEN: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 19;
    while i > 0 {
        i -= 1;
        table[i] = table[i + 1] * 10;
    }
    table
};

impl Decimal {
    pub(crate) fn new() -> Self {
        Decimal { digits: [0; 20] }
    }

    /// Writes `n` in base 10 and returns the digits.
    pub(crate) fn of(&mut self, n: u64) -> &[u8] {
        let mut rest = n;
        let mut len = 0;
        for power in POWERS_OF_TEN {
            let mut digit = b'0';
            while rest >= power {
                rest -= power;
                digit += 1;
            }
            if len > 0 || digit != b'0' || power == 1 {
                self.push(len, digit);
                len += 1;
            }
        }
        self.digits.get(..len).unwrap_or_default()
    }

    /// Writes `n` in lower-case hexadecimal and returns the digits.
    pub(crate) fn hex(&mut self, n: u64) -> &[u8] {
        let mut len = 0;
        for shift in (0..16).rev() {
            let nibble = (n >> (shift * 4)) & 0xf;
            if len > 0 || nibble != 0 || shift == 0 {
                let digit = b"0123456789abcdef"
                    .get(nibble as usize)
                    .copied()
                    .unwrap_or(b'0');
                self.push(len, digit);
                len += 1;
            }
        }
        self.digits.get(..len).unwrap_or_default()
    }

    fn push(&mut self, at: usize, digit: u8) {
        if let Some(slot) = self.digits.get_mut(at) {
            *slot = digit;
        }
    }
}

/// A finished request head, ready to send with [`HttpClient`](crate::HttpClient).
///
/// **Buffer ownership:** borrows the builder's buffer immutably (`'b`); the head bytes are
/// `buf[..len]` and stay valid and unchanged while the `Request` lives. Sending does not
/// consume it, so one head can be sent again (a retry) on a new connection.
#[derive(Debug, Clone, Copy)]
pub struct Request<'b> {
    head: &'b [u8],
    method: Method,
    framing: BodyFraming,
    close: bool,
}

impl<'b> Request<'b> {
    /// The complete head: request line, headers and the empty line.
    pub fn head(&self) -> &'b [u8] {
        self.head
    }

    /// The method, which decides whether the response can have a body.
    pub fn method(&self) -> Method {
        self.method
    }

    /// How the body must be sent.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Whether the request asked for `Connection: close`.
    pub fn closes_connection(&self) -> bool {
        self.close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Request<'_>) -> String {
        String::from_utf8(r.head().to_vec()).unwrap()
    }

    use std::string::String;
    use std::vec;

    #[test]
    fn writes_request_line_host_connection_and_content_length() {
        let mut buf = [0u8; 256];
        let mut b =
            RequestBuilder::new(&mut buf, Method::Post, "/topics/t?qos=1", "example.com").unwrap();
        b.user_agent("dev/1").unwrap();
        let r = b.finish_for_body(b"hello").unwrap();
        assert_eq!(
            text(&r),
            "POST /topics/t?qos=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: dev/1\r\n\
             Connection: keep-alive\r\nContent-Length: 5\r\n\r\n"
        );
        assert_eq!(r.framing(), BodyFraming::ContentLength(5));
        assert!(!r.closes_connection());
    }

    #[test]
    fn empty_post_still_sends_content_length_zero() {
        let mut buf = [0u8; 128];
        let r = RequestBuilder::new(&mut buf, Method::Post, "/", "h")
            .unwrap()
            .finish_for_body(b"")
            .unwrap();
        assert!(text(&r).contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn get_without_body_has_no_content_length() {
        let mut buf = [0u8; 128];
        let r = RequestBuilder::new(&mut buf, Method::Get, "/", "h")
            .unwrap()
            .finish_for_body(b"")
            .unwrap();
        assert_eq!(
            text(&r),
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
        );
        assert_eq!(r.framing(), BodyFraming::NoHeader);
    }

    #[test]
    fn content_length_can_be_disabled() {
        let mut buf = [0u8; 128];
        let r = RequestBuilder::new(&mut buf, Method::Put, "/", "h")
            .unwrap()
            .finish(BodyFraming::NoHeader)
            .unwrap();
        assert!(!text(&r).contains("Content-Length"));
    }

    #[test]
    fn chunked_and_close_headers() {
        let mut buf = [0u8; 128];
        let mut b = RequestBuilder::new(&mut buf, Method::Put, "/f", "h").unwrap();
        b.connection(ConnectionMode::Close);
        let r = b.finish(BodyFraming::Chunked).unwrap();
        assert!(text(&r).ends_with("Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(r.closes_connection());
    }

    #[test]
    fn range_header_in_three_forms() {
        let mut buf = [0u8; 256];
        let mut b = RequestBuilder::new(&mut buf, Method::Get, "/fw.bin", "h").unwrap();
        b.range(ByteRange::FromTo {
            first: 0,
            last: 1023,
        })
        .unwrap();
        b.range(ByteRange::From(18_446_744_073_709_551_615))
            .unwrap();
        b.range(ByteRange::Last(500)).unwrap();
        let r = b.finish(BodyFraming::NoHeader).unwrap();
        let t = text(&r);
        assert!(t.contains("Range: bytes=0-1023\r\n"));
        assert!(t.contains("Range: bytes=18446744073709551615-\r\n"));
        assert!(t.contains("Range: bytes=-500\r\n"));
    }

    #[test]
    fn rejects_empty_or_reversed_ranges() {
        let mut buf = [0u8; 128];
        let mut b = RequestBuilder::new(&mut buf, Method::Get, "/", "h").unwrap();
        assert_eq!(
            b.range(ByteRange::FromTo { first: 5, last: 4 }).err(),
            Some(RequestError::InvalidRange)
        );
        assert_eq!(
            b.range(ByteRange::Last(0)).err(),
            Some(RequestError::InvalidRange)
        );
        assert!(b.range(ByteRange::FromTo { first: 4, last: 4 }).is_ok());
    }

    #[test]
    fn rejects_header_injection() {
        let mut buf = [0u8; 128];
        let mut b = RequestBuilder::new(&mut buf, Method::Get, "/", "h").unwrap();
        assert_eq!(
            b.header("", "v").err(),
            Some(RequestError::InvalidHeaderName)
        );
        assert_eq!(
            b.header("X:Y", "v").err(),
            Some(RequestError::InvalidHeaderName)
        );
        assert_eq!(
            b.header("X\r\nEvil", "v").err(),
            Some(RequestError::InvalidHeaderName)
        );
        assert_eq!(
            b.header("X Y", "v").err(),
            Some(RequestError::InvalidHeaderName)
        );
        assert_eq!(
            b.header("X", "a\r\nEvil: 1").err(),
            Some(RequestError::InvalidHeaderValue)
        );
        assert_eq!(
            b.header("X", "a\nb").err(),
            Some(RequestError::InvalidHeaderValue)
        );
        assert_eq!(
            b.header("X", "a\0b").err(),
            Some(RequestError::InvalidHeaderValue)
        );
        assert_eq!(
            b.user_agent("a\rb").err(),
            Some(RequestError::InvalidHeaderValue)
        );
        b.header("X-Empty", "").unwrap();
        b.header("X-Tab", "a\tb").unwrap();
        let r = b.finish(BodyFraming::NoHeader).unwrap();
        assert_eq!(
            text(&r),
            "GET / HTTP/1.1\r\nHost: h\r\nX-Empty: \r\nX-Tab: a\tb\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn rejects_headers_the_builder_owns() {
        let mut buf = [0u8; 128];
        let mut b = RequestBuilder::new(&mut buf, Method::Get, "/", "h").unwrap();
        for name in ["Host", "connection", "Content-Length", "TRANSFER-ENCODING"] {
            assert_eq!(
                b.header(name, "x").err(),
                Some(RequestError::ReservedHeader)
            );
        }
    }

    #[test]
    fn small_buffer_is_an_error_at_every_stage() {
        let full = "GET / HTTP/1.1\r\nHost: h\r\nX: y\r\nConnection: keep-alive\r\n\r\n".len();
        for size in 0..full {
            let mut buf = vec![0u8; size];
            let result = RequestBuilder::new(&mut buf, Method::Get, "/", "h")
                .and_then(|mut b| b.header("X", "y").map(|_| ()).map(|()| b))
                .and_then(|b| b.finish(BodyFraming::NoHeader).map(|_| ()));
            assert_eq!(result, Err(RequestError::BufferTooSmall), "size {size}");
        }
        let mut buf = vec![0u8; full];
        let mut b = RequestBuilder::new(&mut buf, Method::Get, "/", "h").unwrap();
        b.header("X", "y").unwrap();
        assert_eq!(b.finish(BodyFraming::NoHeader).unwrap().head().len(), full);
    }

    #[test]
    fn failed_header_leaves_no_partial_line() {
        let mut buf = [0u8; 60];
        let mut b = RequestBuilder::new(&mut buf, Method::Get, "/", "h").unwrap();
        assert_eq!(
            b.header("X-Long", "0123456789abcdef0123456789abcdef01234567")
                .err(),
            Some(RequestError::BufferTooSmall)
        );
        let r = b.finish(BodyFraming::NoHeader).unwrap();
        assert_eq!(
            text(&r),
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn decimal_and_hex_digits() {
        let mut d = Decimal::new();
        assert_eq!(d.of(0), b"0");
        assert_eq!(d.of(u64::MAX), b"18446744073709551615");
        assert_eq!(d.hex(255), b"ff");
        assert_eq!(d.hex(u64::MAX), b"ffffffffffffffff");
        assert_eq!(d.hex(0), b"0");
        assert_eq!(d.hex(0x1a), b"1a");
        for n in [
            1u64,
            9,
            10,
            99,
            100,
            1_000_000_007,
            10_000_000_000_000_000_000,
        ] {
            assert_eq!(d.of(n), std::format!("{n}").as_bytes());
        }
    }
}
