//! The client: sends a request over a [`Transport`] and reads the response.

use core::time::Duration;

use iot_transport::{Received, Sent, Transport};

use crate::body::{BodyWriter, Response, StreamingResponse};
use crate::response::{HeadInfo, find_head_end, leading_blank_lines, parse_head, unfold};
use crate::{BodyFraming, Error, Method, Request, TimeoutKind};

/// A monotonic clock. The device backs it with the FreeRTOS tick count; tests script it.
pub trait Clock {
    /// Time since an arbitrary fixed point; must never go backwards.
    fn now(&self) -> Duration;

    /// Called each time the transport reports would-block, before trying again.
    ///
    /// The transport contract lets a transport return would-block without waiting; a
    /// retry loop over such a transport would spin and starve lower-priority FreeRTOS
    /// tasks. A device whose transport can do that should `vTaskDelay(1)` here. The
    /// default does nothing, which is right for transports that block up to a timeout.
    fn idle(&self) {}
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Duration {
        (**self).now()
    }

    fn idle(&self) {
        (**self).idle()
    }
}

/// Time limits of one exchange. The only place these tunables live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Longest time the transport may accept no byte of the request before
    /// [`TimeoutKind::Send`]. Default 10 s: long enough for a TLS record over a slow link.
    pub send_timeout: Duration,
    /// Longest gap between received bytes before [`TimeoutKind::RecvGap`]. Default 10 s.
    pub recv_gap_timeout: Duration,
    /// Deadline for the whole exchange, from the first byte sent to the last body byte
    /// read, before [`TimeoutKind::Request`]. Default 30 s. `None` means no deadline; use
    /// that (or a large value) for streamed downloads that take longer.
    pub request_timeout: Option<Duration>,
}

impl Config {
    /// The defaults listed on each field.
    pub const DEFAULT: Config = Config {
        send_timeout: Duration::from_secs(10),
        recv_gap_timeout: Duration::from_secs(10),
        request_timeout: Some(Duration::from_secs(30)),
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// Whether the connection can carry another request: the answer to "keep-alive or close?"
/// after each exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionOutcome {
    /// The response allowed it and was read completely; send the next request.
    Reusable,
    /// The connection must be closed: `Connection: close` (either side), HTTP/1.0 without
    /// keep-alive, a body framed by connection close, a `101` protocol switch, or bytes
    /// after the end of the response.
    MustClose,
}

/// An HTTP/1.1 client on one connection.
///
/// It owns the transport `T` (pass `&mut transport` to keep ownership) and the clock `C`.
/// `MAX_HEADERS` bounds the number of response headers, and so the stack used to parse
/// them (`MAX_HEADERS` x 2 slices, 512 B on Cortex-M for the default 32).
///
/// One request at a time: a request borrows the client until its response is read. After
/// a response that leaves the connection unusable (see [`ConnectionOutcome`]) or after any
/// error, further requests fail with [`Error::ConnectionNotReusable`]; close the transport
/// and make a new client.
pub struct HttpClient<T, C, const MAX_HEADERS: usize = 32> {
    transport: T,
    clock: C,
    config: Config,
    reusable: bool,
    deadline: Option<Duration>,
}

impl<T: Transport, C: Clock, const MAX_HEADERS: usize> HttpClient<T, C, MAX_HEADERS> {
    /// A client on a freshly connected transport.
    pub fn new(transport: T, clock: C, config: Config) -> Self {
        HttpClient {
            transport,
            clock,
            config,
            reusable: true,
            deadline: None,
        }
    }

    /// The time limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the time limits, e.g. a longer deadline before a large streamed download.
    /// Takes effect at the next request.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// Whether another request may be sent on this connection.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// The transport, e.g. to close it, or to speak another protocol after a `101`.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives back the transport and the clock.
    pub fn into_parts(self) -> (T, C) {
        (self.transport, self.clock)
    }

    /// Sends `request` with `body` and reads the whole response into `response_buf`
    /// (coreHTTP's `HTTPClient_Send`).
    ///
    /// The head and the body share `response_buf`: the returned [`Response`]
    /// borrows it for `'b`. A body framed by `Content-Length` must equal the declared
    /// length; with chunked framing `body` is sent as one chunk.
    ///
    /// # Errors
    /// Any [`Error`]; [`Error::BufferTooSmall`] when the body does not fit, in which case
    /// [`send_streaming`](Self::send_streaming) is the way to read it.
    pub fn send<'b>(
        &mut self,
        request: &Request<'_>,
        body: &[u8],
        response_buf: &'b mut [u8],
    ) -> Result<Response<'b>, Error<T::Error>> {
        let head = request.head();
        let body_len = u64::try_from(body.len()).ok();
        let declared =
            matches!(request.framing(), BodyFraming::ContentLength(n) if Some(n) == body_len);
        let whole = head.len().saturating_add(body.len());
        if declared && !body.is_empty() && whole <= response_buf.len() {
            // The head and the body leave in one transport write (one TLS record, one TCP
            // segment if it fits), staged in the response buffer, which is free until the
            // answer comes: a server that answers as soon as it has the head, and closes
            // once the rest arrives, never sees a body still on its way.
            response_buf[..head.len()].copy_from_slice(head);
            response_buf[head.len()..whole].copy_from_slice(body);
            let upload = self.begin_with(request, &response_buf[..whole], body.len())?;
            return upload.finish()?.receive(response_buf);
        }
        let mut upload = self.begin(request)?;
        upload.write(body)?;
        upload.finish()?.receive(response_buf)
    }

    /// Sends `request` with `body`, reads the response head into `response_buf`, and
    /// returns a reader the caller pulls the body from, for bodies larger than RAM.
    ///
    /// # Errors
    /// Any [`Error`] up to the end of the head.
    pub fn send_streaming<'c, 'b>(
        &'c mut self,
        request: &Request<'_>,
        body: &[u8],
        response_buf: &'b mut [u8],
    ) -> Result<StreamingResponse<'c, 'b, T, C, MAX_HEADERS>, Error<T::Error>> {
        let mut upload = self.begin(request)?;
        upload.write(body)?;
        upload.finish()?.receive_streaming(response_buf)
    }

    /// Sends the head of `request` and returns a writer for its body, written in pieces
    /// (chunked, or a known `Content-Length`). The overall deadline starts now.
    ///
    /// # Errors
    /// [`Error::ConnectionNotReusable`], or a send error.
    pub fn begin(
        &mut self,
        request: &Request<'_>,
    ) -> Result<BodyWriter<'_, T, C, MAX_HEADERS>, Error<T::Error>> {
        self.begin_with(request, request.head(), 0)
    }

    /// Starts an exchange by sending `first`: the request's head, followed by its first
    /// `body_bytes` body bytes.
    fn begin_with(
        &mut self,
        request: &Request<'_>,
        first: &[u8],
        body_bytes: usize,
    ) -> Result<BodyWriter<'_, T, C, MAX_HEADERS>, Error<T::Error>> {
        if !self.reusable {
            return Err(Error::ConnectionNotReusable);
        }
        // Until a response completes cleanly the connection counts as spoiled, so an
        // error or an abandoned exchange anywhere below leaves it unusable.
        self.reusable = false;
        self.deadline = self
            .config
            .request_timeout
            .and_then(|t| self.clock.now().checked_add(t));
        self.send_all(first)?;
        Ok(BodyWriter::new(self, request, body_bytes as u64))
    }

    /// Called by the body readers when the response ended; decides reuse.
    pub(crate) fn complete(&mut self, reusable: bool) -> ConnectionOutcome {
        self.reusable = reusable;
        if reusable {
            ConnectionOutcome::Reusable
        } else {
            ConnectionOutcome::MustClose
        }
    }

    fn check_deadline(&self, now: Duration) -> Result<(), Error<T::Error>> {
        match self.deadline {
            Some(deadline) if now >= deadline => Err(Error::Timeout(TimeoutKind::Request)),
            _ => Ok(()),
        }
    }

    /// Sends all of `data`, retrying partial writes and would-block.
    pub(crate) fn send_all(&mut self, mut data: &[u8]) -> Result<(), Error<T::Error>> {
        let mut last_progress = self.clock.now();
        while !data.is_empty() {
            let sent = self.transport.send(data).map_err(Error::Transport)?;
            let now = self.clock.now();
            match sent {
                // A transport claiming more than it was given is clamped, not trusted.
                Sent::Bytes(n) if n > 0 => {
                    data = data.get(n..).unwrap_or_default();
                    last_progress = now;
                }
                _ if now.saturating_sub(last_progress) >= self.config.send_timeout => {
                    return Err(Error::Timeout(TimeoutKind::Send));
                }
                _ => self.clock.idle(),
            }
            self.check_deadline(now)?;
        }
        Ok(())
    }

    /// Receives at least one byte into `buf` (`Some(n)`), or `None` at end of stream.
    /// `buf` must not be empty.
    pub(crate) fn recv_some(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error<T::Error>> {
        let started = self.clock.now();
        loop {
            let received = self.transport.recv(buf).map_err(Error::Transport)?;
            let now = self.clock.now();
            match received {
                Received::Data(n) if n > 0 => return Ok(Some(n.min(buf.len()))),
                Received::EndOfStream => return Ok(None),
                _ if now.saturating_sub(started) >= self.config.recv_gap_timeout => {
                    return Err(Error::Timeout(TimeoutKind::RecvGap));
                }
                _ => self.clock.idle(),
            }
            self.check_deadline(now)?;
        }
    }

    /// Reads a final (non-`1xx`, or `101`) response head into the front of `buf`.
    ///
    /// Interim `1xx` heads are dropped and the bytes after them moved to the front.
    /// Returns the head and how many bytes of `buf` hold data (head plus early body bytes).
    pub(crate) fn read_head(
        &mut self,
        buf: &mut [u8],
        method: Method,
    ) -> Result<(HeadInfo, usize), Error<T::Error>> {
        let mut filled = 0;
        let mut scanned: usize = 0;
        loop {
            // The head is parsed once its empty line (after any blank lines before the status
            // line) has arrived, or a bare CR has: never a part of it, so that a fold is
            // unfolded before httparse sees it, wherever the input was split.
            let data = buf.get(..filled).unwrap_or_default();
            let blank = leading_blank_lines(data);
            let found = find_head_end(
                data.get(blank..).unwrap_or_default(),
                scanned.saturating_sub(blank),
            );
            if let Some(end) = found.and_then(|end| end.checked_add(blank)) {
                scanned = end;
                unfold(buf.get_mut(..filled).unwrap_or_default());
                let head = buf.get(..filled).unwrap_or_default();
                if let Some(info) = parse_head::<T::Error, MAX_HEADERS>(head, method)? {
                    if !info.status.is_informational() || info.status.as_u16() == 101 {
                        return Ok((info, filled));
                    }
                    filled = drop_front(buf, info.len, filled);
                    scanned = 0;
                    continue;
                }
            } else {
                scanned = filled;
            }
            let free = buf
                .get_mut(filled..)
                .filter(|f| !f.is_empty())
                .ok_or(Error::HeaderTooLarge)?;
            filled += self.recv_some(free)?.ok_or(Error::UnexpectedEof)?;
        }
    }
}

/// Moves `buf[n..filled]` to the front and returns its length.
///
/// A forward byte loop instead of `copy_within`, which would link a 1.5 KB memmove into
/// a Cortex-M image for a move that happens once per interim response.
fn drop_front(buf: &mut [u8], n: usize, filled: usize) -> usize {
    let kept = filled.saturating_sub(n);
    for i in 0..kept {
        if let Some(byte) = buf.get(i + n).copied() {
            if let Some(slot) = buf.get_mut(i) {
                *slot = byte;
            }
        }
    }
    kept
}
