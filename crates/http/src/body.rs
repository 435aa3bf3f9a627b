//! Request bodies written in pieces, and response bodies read whole or streamed.

use iot_transport::Transport;

use crate::chunked::ChunkedDecoder;
use crate::request::Decimal;
use crate::response::{HeadInfo, ResponseFraming, ResponseHead};
use crate::{
    BodyFraming, Clock, ConnectionOutcome, Error, HttpClient, Method, Request, RequestError,
    StatusCode,
};

/// Writes a request body after [`HttpClient::begin`] sent the head.
///
/// Borrows the client until [`finish`](Self::finish) hands it on to read the response,
/// so nothing else can be sent in between. Dropping the writer abandons the request and
/// leaves the connection unusable.
pub struct BodyWriter<'c, T, C, const N: usize> {
    client: &'c mut HttpClient<T, C, N>,
    framing: BodyFraming,
    written: u64,
    method: Method,
    request_close: bool,
}

impl<'c, T: Transport, C: Clock, const N: usize> BodyWriter<'c, T, C, N> {
    /// A writer for `request`'s body, `written` bytes of which have already been sent.
    pub(crate) fn new(
        client: &'c mut HttpClient<T, C, N>,
        request: &Request<'_>,
        written: u64,
    ) -> Self {
        BodyWriter {
            client,
            framing: request.framing(),
            written,
            method: request.method(),
            request_close: request.closes_connection(),
        }
    }

    /// Sends the next piece of the body. `data` is only borrowed for the call.
    ///
    /// With chunked framing each non-empty piece becomes one chunk. With
    /// `Content-Length: n`, writing past `n` bytes in total fails before anything is sent.
    ///
    /// # Errors
    /// [`RequestError::BodyLengthMismatch`] (as [`Error::Request`]), or a send error.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Error<T::Error>> {
        let len = u64::try_from(data.len()).map_err(|_| RequestError::BodyLengthMismatch)?;
        let total = self
            .written
            .checked_add(len)
            .ok_or(RequestError::BodyLengthMismatch)?;
        match self.framing {
            BodyFraming::ContentLength(declared) if total > declared => {
                return Err(RequestError::BodyLengthMismatch.into());
            }
            BodyFraming::Chunked if !data.is_empty() => {
                let mut line = ChunkLine::new();
                self.client.send_all(line.start(self.written > 0, len))?;
                self.client.send_all(data)?;
            }
            _ => self.client.send_all(data)?,
        }
        self.written = total;
        Ok(())
    }

    /// Ends the body (the last chunk, for chunked framing) and returns the handle that
    /// reads the response.
    ///
    /// # Errors
    /// [`RequestError::BodyLengthMismatch`] when fewer bytes than the declared
    /// `Content-Length` were written; a send error.
    pub fn finish(self) -> Result<AwaitingResponse<'c, T, C, N>, Error<T::Error>> {
        match self.framing {
            BodyFraming::ContentLength(declared) if self.written != declared => {
                return Err(RequestError::BodyLengthMismatch.into());
            }
            BodyFraming::Chunked if self.written > 0 => self.client.send_all(b"\r\n0\r\n\r\n")?,
            BodyFraming::Chunked => self.client.send_all(b"0\r\n\r\n")?,
            _ => {}
        }
        Ok(AwaitingResponse {
            client: self.client,
            method: self.method,
            request_close: self.request_close,
        })
    }
}

/// The framing sent before a chunk's data: the CRLF closing the previous chunk, if any,
/// then the size line. One send instead of three, so that over TLS a chunk costs two
/// records, not four.
struct ChunkLine {
    bytes: [u8; 20],
}

impl ChunkLine {
    fn new() -> Self {
        ChunkLine { bytes: [0; 20] }
    }

    fn start(&mut self, close_previous: bool, size: u64) -> &[u8] {
        let mut digits = Decimal::new();
        let parts: [&[u8]; 3] = [
            if close_previous { b"\r\n" } else { b"" },
            digits.hex(size),
            b"\r\n",
        ];
        let mut len = 0;
        for part in parts {
            for &b in part {
                if let Some(slot) = self.bytes.get_mut(len) {
                    *slot = b;
                    len += 1;
                }
            }
        }
        self.bytes.get(..len).unwrap_or_default()
    }
}

/// A request that has been sent completely; read its response whole or streamed.
pub struct AwaitingResponse<'c, T, C, const N: usize> {
    client: &'c mut HttpClient<T, C, N>,
    method: Method,
    request_close: bool,
}

impl<'c, T: Transport, C: Clock, const N: usize> AwaitingResponse<'c, T, C, N> {
    /// Reads the whole response (head and body) into `buf`. See [`HttpClient::send`].
    ///
    /// # Errors
    /// Any [`Error`]; [`Error::HeaderTooLarge`] or [`Error::BufferTooSmall`] when `buf` is
    /// too small for the head or the body.
    pub fn receive<'b>(self, buf: &'b mut [u8]) -> Result<Response<'b>, Error<T::Error>> {
        let (info, filled) = self.client.read_head(buf, self.method)?;
        let (head, rest) = buf
            .split_at_mut_checked(info.len)
            .ok_or(Error::HeaderTooLarge)?;
        let early = filled.saturating_sub(info.len);
        let (body_len, clean) = read_whole_body(self.client, rest, early, info.framing)?;
        let rest: &'b [u8] = rest;
        let reusable = clean && allows_reuse(&info, self.request_close);
        let connection = self.client.complete(reusable);
        let head: &'b [u8] = head;
        // A 101 has no body: every byte after its head is the new protocol's.
        let upgrade = if info.status == StatusCode::SWITCHING_PROTOCOLS {
            rest.get(..early).unwrap_or_default()
        } else {
            &[]
        };
        Ok(Response {
            head: ResponseHead::new(head, &info),
            body: rest.get(..body_len).unwrap_or_default(),
            connection,
            upgrade,
        })
    }

    /// Reads the response head into `buf` and returns a reader for the body. See
    /// [`HttpClient::send_streaming`].
    ///
    /// # Errors
    /// Any [`Error`] up to the end of the head.
    pub fn receive_streaming<'b>(
        self,
        buf: &'b mut [u8],
    ) -> Result<StreamingResponse<'c, 'b, T, C, N>, Error<T::Error>> {
        let (info, filled) = self.client.read_head(buf, self.method)?;
        let (head, pending) = buf
            .split_at_mut_checked(info.len)
            .ok_or(Error::HeaderTooLarge)?;
        let head: &'b [u8] = head;
        let body = BodyReader {
            client: self.client,
            pending,
            pending_at: 0,
            pending_end: filled.saturating_sub(info.len),
            state: BodyState::from(info.framing),
            reuse_allowed: allows_reuse(&info, self.request_close),
            outcome: None,
            switched: info.status == StatusCode::SWITCHING_PROTOCOLS,
        };
        let mut response = StreamingResponse {
            head: ResponseHead::new(head, &info),
            body,
        };
        if matches!(response.body.state, BodyState::Done) {
            let clean = response.body.pending_end == 0;
            response.body.end(clean);
        }
        Ok(response)
    }
}

/// Whether the head and the request leave the connection usable, body permitting.
fn allows_reuse(info: &HeadInfo, request_close: bool) -> bool {
    !info.close
        && !request_close
        && info.framing != ResponseFraming::UntilClose
        && info.status != StatusCode::SWITCHING_PROTOCOLS
}

/// Reads the body into `rest`, which already holds `filled` early bytes.
/// Returns the body length and whether the response ended exactly (no extra bytes).
fn read_whole_body<T: Transport, C: Clock, const N: usize>(
    client: &mut HttpClient<T, C, N>,
    rest: &mut [u8],
    filled: usize,
    framing: ResponseFraming,
) -> Result<(usize, bool), Error<T::Error>> {
    match framing {
        ResponseFraming::Empty => Ok((0, filled == 0)),
        ResponseFraming::Length(n) => {
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= rest.len())
                .ok_or(Error::BufferTooSmall)?;
            let mut filled = filled;
            while filled < n {
                let free = rest.get_mut(filled..n).unwrap_or_default();
                filled += client.recv_some(free)?.ok_or(Error::UnexpectedEof)?;
            }
            Ok((n, filled == n))
        }
        ResponseFraming::UntilClose => read_until_close(client, rest, filled),
        ResponseFraming::Chunked => read_chunked(client, rest, filled),
    }
}

fn read_until_close<T: Transport, C: Clock, const N: usize>(
    client: &mut HttpClient<T, C, N>,
    rest: &mut [u8],
    mut filled: usize,
) -> Result<(usize, bool), Error<T::Error>> {
    loop {
        let received = match rest.get_mut(filled..).filter(|f| !f.is_empty()) {
            Some(free) => client.recv_some(free)?,
            // Full: one more byte means the body is too large; end of stream means it fit.
            None => match client.recv_some(&mut [0u8; 1])? {
                Some(_) => return Err(Error::BufferTooSmall),
                None => None,
            },
        };
        match received {
            Some(n) => filled += n,
            None => return Ok((filled, false)),
        }
    }
}

fn read_chunked<T: Transport, C: Clock, const N: usize>(
    client: &mut HttpClient<T, C, N>,
    rest: &mut [u8],
    filled: usize,
) -> Result<(usize, bool), Error<T::Error>> {
    let mut decoder = ChunkedDecoder::new();
    let early = rest.get_mut(..filled).unwrap_or_default();
    let step = decoder
        .decode_in_place(early)
        .map_err(|_| Error::MalformedChunk)?;
    let mut body_len = step.decoded;
    let mut clean = step.consumed == filled;
    while !decoder.is_done() {
        let mut spare = [0u8; 8];
        let into_rest = body_len < rest.len();
        let free = match rest.get_mut(body_len..).filter(|f| !f.is_empty()) {
            Some(free) => free,
            // Full: read on into a scratch buffer; only framing may follow.
            None => &mut spare[..],
        };
        let n = client.recv_some(free)?.ok_or(Error::UnexpectedEof)?;
        let piece = free.get_mut(..n).unwrap_or_default();
        let step = decoder
            .decode_in_place(piece)
            .map_err(|_| Error::MalformedChunk)?;
        if !into_rest && step.decoded > 0 {
            return Err(Error::BufferTooSmall);
        }
        if into_rest {
            body_len += step.decoded;
        }
        clean = step.consumed == n;
    }
    Ok((body_len, clean))
}

/// A complete response whose head and body share the caller's buffer.
///
/// **Buffer ownership:** `head` and `body` borrow the response buffer immutably for `'b`:
/// the head at its front, the body right after it (decoded, for chunked responses).
/// Bytes of the buffer past the body are unspecified.
#[derive(Debug, Clone, Copy)]
pub struct Response<'b> {
    /// Status line and headers.
    pub head: ResponseHead<'b>,
    /// The whole body; empty for `HEAD`, `1xx`, `204` and `304`.
    pub body: &'b [u8],
    /// Whether the connection can be reused (see [`ConnectionOutcome`]).
    pub connection: ConnectionOutcome,
    /// For a `101 Switching Protocols` response: the first bytes of the new protocol, which
    /// arrived with the head and so were already read from the transport (the client reads
    /// ahead). Process them before reading the transport again
    /// ([`HttpClient::transport_mut`]): what the transport still holds follows them. Empty
    /// for every other response.
    pub upgrade: &'b [u8],
}

impl<'b> Response<'b> {
    /// The status code (shortcut for `head.status()`).
    pub fn status(&self) -> StatusCode {
        self.head.status()
    }
}

/// A response whose head has been read; pull the body from [`body`](Self::body).
///
/// **Buffer ownership:** `head` borrows the front of the response buffer immutably for
/// `'b`; the rest of that buffer belongs to the body reader until it is dropped.
pub struct StreamingResponse<'c, 'b, T, C, const N: usize> {
    /// Status line and headers.
    pub head: ResponseHead<'b>,
    /// The body reader; it borrows the client (`'c`).
    pub body: BodyReader<'c, 'b, T, C, N>,
}

#[derive(Debug, Clone)]
enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
    Done,
}

impl From<ResponseFraming> for BodyState {
    fn from(framing: ResponseFraming) -> Self {
        match framing {
            ResponseFraming::Empty | ResponseFraming::Length(0) => BodyState::Done,
            ResponseFraming::Length(n) => BodyState::Length(n),
            ResponseFraming::Chunked => BodyState::Chunked(ChunkedDecoder::new()),
            ResponseFraming::UntilClose => BodyState::UntilClose,
        }
    }
}

/// Pulls a response body in pieces, for bodies larger than RAM (firmware images, say).
///
/// **Buffer ownership:** holds the client (`'c`) and the part of the response buffer after
/// the head (`'b`), where body bytes that arrived with the head wait to be read. The bytes
/// [`read`](Self::read) returns are written to the caller's `out` buffer, borrowed only for
/// the call. Chunked bodies are decoded in `out` itself, so no extra buffer is needed.
///
/// Dropping the reader before the end leaves the connection unusable.
pub struct BodyReader<'c, 'b, T, C, const N: usize> {
    client: &'c mut HttpClient<T, C, N>,
    pending: &'b mut [u8],
    pending_at: usize,
    pending_end: usize,
    state: BodyState,
    reuse_allowed: bool,
    outcome: Option<ConnectionOutcome>,
    /// The response is a `101`: the waiting bytes are the new protocol's.
    switched: bool,
}

impl<'b, T: Transport, C: Clock, const N: usize> BodyReader<'_, 'b, T, C, N> {
    /// For a `101 Switching Protocols` response: the first bytes of the new protocol, which
    /// arrived with the head (see [`Response::upgrade`]). The body of a `101` is empty, so
    /// [`read`](Self::read) never returns them. Empty for every other response.
    pub fn upgrade(&self) -> &[u8] {
        self.upgrade_range()
            .and_then(|range| self.pending.get(range))
            .unwrap_or_default()
    }

    /// Ends the reader and returns [`upgrade`](Self::upgrade)'s bytes, borrowed from the
    /// response buffer only: the client is free again, so the caller can go on with the new
    /// protocol on [`HttpClient::transport_mut`].
    pub fn into_upgrade(self) -> &'b [u8] {
        let range = self.upgrade_range();
        let pending: &'b [u8] = self.pending;
        range
            .and_then(|range| pending.get(range))
            .unwrap_or_default()
    }

    fn upgrade_range(&self) -> Option<core::ops::Range<usize>> {
        self.switched.then_some(self.pending_at..self.pending_end)
    }

    /// Reads the next body bytes into `out` and returns how many; `Ok(0)` means the body
    /// has ended (or `out` is empty).
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] when the connection closes early, [`Error::MalformedChunk`],
    /// a timeout or a transport error.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Error<T::Error>> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let produced = match &self.state {
                BodyState::Done => return Ok(0),
                BodyState::Length(remaining) => self.read_length(out, *remaining)?,
                BodyState::UntilClose => self.read_until_close(out)?,
                BodyState::Chunked(_) => self.read_chunked(out)?,
            };
            if produced > 0 || matches!(self.state, BodyState::Done) {
                return Ok(produced);
            }
        }
    }

    /// `Some` once the body has ended: whether the connection can be reused.
    pub fn connection(&self) -> Option<ConnectionOutcome> {
        self.outcome
    }

    /// Whether the whole body has been read.
    pub fn is_complete(&self) -> bool {
        self.outcome.is_some()
    }

    fn read_length(&mut self, out: &mut [u8], remaining: u64) -> Result<usize, Error<T::Error>> {
        let limit = usize::try_from(remaining).map_or(out.len(), |r| r.min(out.len()));
        let out = out.get_mut(..limit).unwrap_or_default();
        let n = self
            .take_pending_or_recv(out)?
            .ok_or(Error::UnexpectedEof)?;
        // n <= limit <= remaining, so this cannot underflow.
        let left = remaining.saturating_sub(n as u64);
        self.state = BodyState::Length(left);
        if left == 0 {
            let clean = self.pending_at >= self.pending_end;
            self.end(clean);
        }
        Ok(n)
    }

    fn read_until_close(&mut self, out: &mut [u8]) -> Result<usize, Error<T::Error>> {
        match self.take_pending_or_recv(out)? {
            Some(n) => Ok(n),
            None => {
                self.end(false);
                Ok(0)
            }
        }
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> Result<usize, Error<T::Error>> {
        let n = self
            .take_pending_or_recv(out)?
            .ok_or(Error::UnexpectedEof)?;
        let BodyState::Chunked(decoder) = &mut self.state else {
            return Ok(0);
        };
        let piece = out.get_mut(..n).unwrap_or_default();
        let step = decoder
            .decode_in_place(piece)
            .map_err(|_| Error::MalformedChunk)?;
        if decoder.is_done() {
            let clean = step.consumed == n && self.pending_at >= self.pending_end;
            self.end(clean);
        }
        Ok(step.decoded)
    }

    /// Copies waiting bytes into `out`, or receives into it. `None` at end of stream.
    fn take_pending_or_recv(&mut self, out: &mut [u8]) -> Result<Option<usize>, Error<T::Error>> {
        let waiting = self
            .pending
            .get(self.pending_at..self.pending_end)
            .unwrap_or_default();
        if waiting.is_empty() {
            return self.client.recv_some(out);
        }
        let n = waiting.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), waiting.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pending_at += n;
        Ok(Some(n))
    }

    fn end(&mut self, clean: bool) {
        self.state = BodyState::Done;
        self.outcome = Some(self.client.complete(clean && self.reuse_allowed));
    }
}
