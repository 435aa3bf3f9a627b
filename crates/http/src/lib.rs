//! An HTTP/1.1 client engine for devices: `no_std`, no allocation, no `unsafe`, and no
//! input that can make it panic.
//!
//! It is the Rust counterpart of FreeRTOS's coreHTTP, and goes past coreHTTP's known gaps:
//! it streams bodies both ways, reads bodies that end at connection close, skips `1xx`
//! interim responses, checks framing strictly (RFC 9112), and rejects what coreHTTP once
//! asserted on (a zero-length header name).
//!
//! # How a request flows
//!
//! 1. **Build** the head into a buffer you own with [`RequestBuilder`]: method
//!    ([`Method`]), path (percent-encode parts with [`PathBuilder`] or
//!    [`encode_path_segment`]), `Host`, optional `User-Agent`, other headers, `Range`
//!    ([`ByteRange`]), then [`finish`](RequestBuilder::finish) with a [`BodyFraming`]
//!    (or [`finish_for_body`](RequestBuilder::finish_for_body) for an automatic
//!    `Content-Length`). The result, [`Request`], is immutable: no header can follow.
//! 2. **Send** it with an [`HttpClient`], which owns (or borrows) a transport implementing
//!    [`iot_transport::Transport`] and a [`Clock`]. Partial writes and would-block are
//!    retried within the limits in [`Config`]: a send timeout, a receive gap timeout, and
//!    an overall request deadline. A body is given as one slice
//!    ([`HttpClient::send`]) or written in pieces ([`HttpClient::begin`], [`BodyWriter`]).
//! 3. **Receive** the response, parsed with `httparse`: the whole of it in your buffer
//!    ([`Response`]), or the head there and the body pulled through a [`BodyReader`]
//!    ([`HttpClient::send_streaming`]). Bodies may be framed by `Content-Length`, chunked
//!    coding ([`ChunkedDecoder`]) or connection close ([`ResponseFraming`]).
//! 4. **Reuse or close**: each response reports a [`ConnectionOutcome`]. After `MustClose`
//!    or any [`Error`], the client refuses more requests; close the transport.
//!
//! # Conformance (RFC 9112)
//!
//! What the response side accepts where RFC 9112 leaves a recipient a choice, and what it
//! does where it gives a user agent a duty:
//!
//! - **Line ends: one policy everywhere.** A line ends with LF, and a CR right before that
//!   LF is ignored (section 2.2 allows a recipient to accept LF alone). This holds for the
//!   status line and the header lines, as for every line of a chunked body: size lines,
//!   the line end after each chunk's data, trailer lines and the final empty line. A CR
//!   that is not followed by LF is an error everywhere ([`Error::MalformedStatusLine`] or
//!   [`Error::MalformedHeader`] in the head, [`Error::MalformedChunk`] in the body), found
//!   as soon as the byte after it arrives.
//! - **obs-fold** (a header value continued on a line that starts with SP or HTAB): its
//!   line end is replaced with SP bytes in the response buffer before the head is parsed
//!   (section 5.2), so the value reads as one line, e.g. `first   second`. Whitespace
//!   before the first header line is still an error (the status line cannot be continued),
//!   as is whitespace between a header name and its colon.
//! - **Chunk extensions** must follow `*( BWS ";" BWS token [ BWS "=" BWS ( token /
//!   quoted-string ) ] )` and are then ignored; **trailer fields** must be field lines (a
//!   token, a colon, a value of visible characters, obs-text, SP and HTAB; obs-fold
//!   allowed) and are then ignored. A size line may be at most
//!   [`ChunkedDecoder::MAX_SIZE_LINE`] bytes and the trailer section at most
//!   [`ChunkedDecoder::MAX_TRAILERS`], so an endless extension or trailer fails early.
//! - **`101 Switching Protocols`**: the bytes that arrived after the head belong to the new
//!   protocol. They are handed over as [`Response::upgrade`] (or
//!   [`BodyReader::upgrade`] / [`BodyReader::into_upgrade`] when streaming); the rest
//!   follows on the transport ([`HttpClient::transport_mut`]).
//!
//! # Buffers
//!
//! The crate owns no memory. The request head lives in the buffer given to
//! [`RequestBuilder::new`] for as long as the [`Request`] lives; the response head and body
//! share the buffer given to [`HttpClient::send`], for as long as the [`Response`] lives.
//! Each type's documentation says what it borrows and for how long.
//!
//! # Example
//!
//! Publishing to an AWS IoT topic over an in-memory transport that plays the server:
//!
//! ```
//! use core::time::Duration;
//! use iot_http::{Clock, Config, ConnectionOutcome, HttpClient, Method, PathBuilder, RequestBuilder};
//! use iot_transport::{Received, Sent, Transport};
//!
//! /// Accepts every byte sent and answers with a canned response.
//! struct Canned { reply: &'static [u8] }
//! impl Transport for Canned {
//!     type Error = core::convert::Infallible;
//!     fn send(&mut self, data: &[u8]) -> Result<Sent, Self::Error> {
//!         Ok(if data.is_empty() { Sent::WouldBlock } else { Sent::Bytes(data.len()) })
//!     }
//!     fn recv(&mut self, buf: &mut [u8]) -> Result<Received, Self::Error> {
//!         let n = self.reply.len().min(buf.len());
//!         if n == 0 { return Ok(Received::EndOfStream) }
//!         buf[..n].copy_from_slice(&self.reply[..n]);
//!         self.reply = &self.reply[n..];
//!         Ok(Received::Data(n))
//!     }
//! }
//! struct Fixed;
//! impl Clock for Fixed { fn now(&self) -> Duration { Duration::ZERO } }
//!
//! let transport = Canned {
//!     reply: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n\
//!              {\"message\":\"OK\"}",
//! };
//! let mut client: HttpClient<_, _> = HttpClient::new(transport, Fixed, Config::default());
//!
//! let mut path_buf = [0u8; 128];
//! let mut path = PathBuilder::new(&mut path_buf);
//! path.literal("/topics/")?.segment("sensors/room 1")?.literal("?qos=1")?;
//!
//! let mut head_buf = [0u8; 256];
//! let mut builder = RequestBuilder::new(&mut head_buf, Method::Post, path.as_str(), "abc-ats.iot.example.com")?;
//! builder.user_agent("iot-device/0.1")?;
//! let payload = br#"{"temperature":21}"#;
//! let request = builder.finish_for_body(payload)?;
//!
//! let mut response_buf = [0u8; 512];
//! let response = client.send(&request, payload, &mut response_buf).expect("exchange");
//! assert!(response.status().is_success());
//! assert_eq!(response.head.header_str("content-type"), Some("application/json"));
//! assert_eq!(response.body, br#"{"message":"OK"}"#);
//! assert_eq!(response.connection, ConnectionOutcome::Reusable);
//! # Ok::<(), iot_http::RequestError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod body;
mod chunked;
mod client;
mod error;
mod method;
mod path;
mod request;
mod response;
mod status;

pub use body::{AwaitingResponse, BodyReader, BodyWriter, Response, StreamingResponse};
pub use chunked::{ChunkedDecoder, Decoded, InPlace, MalformedChunk};
pub use client::{Clock, Config, ConnectionOutcome, HttpClient};
pub use error::{Error, RequestError, TimeoutKind};
pub use method::Method;
pub use path::{PathBuilder, encode_path_segment};
pub use request::{BodyFraming, ByteRange, ConnectionMode, Request, RequestBuilder};
pub use response::{Headers, ResponseFraming, ResponseHead};
pub use status::{StatusCode, Version};
