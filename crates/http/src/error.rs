//! Errors: [`RequestError`] for building a request, [`Error`] for an exchange.

use core::fmt;

/// Why a request could not be built or its body could not be sent as declared.
///
/// Every one of these is an API misuse or a value the caller passed; none comes from the
/// network, so none is worth a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The caller's buffer cannot hold the request line, headers or encoded path.
    BufferTooSmall,
    /// The path is empty, does not start with `/` (or is `*` for a non-`OPTIONS` method),
    /// or contains a space, a control character, a non-ASCII byte or a broken `%XX` escape.
    InvalidPath,
    /// The host is empty or contains a space, a control character, `/` or a non-ASCII byte.
    InvalidHost,
    /// The header name is empty or not an RFC 9110 token (this rejects `:`, spaces, CR
    /// and LF, so no header can be injected through a name).
    InvalidHeaderName,
    /// The header value contains CR, LF, NUL or another control character other than TAB.
    InvalidHeaderValue,
    /// The header is one the builder writes itself (`Host`, `Connection`,
    /// `Content-Length`, `Transfer-Encoding`); use the typed builder methods instead.
    ReservedHeader,
    /// The range is empty or reversed (`first > last`, or a zero-length suffix).
    InvalidRange,
    /// More or fewer body bytes were written than the `Content-Length` declared.
    BodyLengthMismatch,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::BufferTooSmall => "request buffer too small",
            RequestError::InvalidPath => "invalid request path",
            RequestError::InvalidHost => "invalid host",
            RequestError::InvalidHeaderName => "invalid header name",
            RequestError::InvalidHeaderValue => "invalid header value (CR, LF or control byte)",
            RequestError::ReservedHeader => "header is set by the request builder",
            RequestError::InvalidRange => "invalid byte range",
            RequestError::BodyLengthMismatch => "body length differs from Content-Length",
        })
    }
}

impl core::error::Error for RequestError {}

/// Which time limit ran out. See [`Config`](crate::Config) for the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// The transport accepted no byte for [`Config::send_timeout`](crate::Config::send_timeout).
    Send,
    /// No byte arrived for [`Config::recv_gap_timeout`](crate::Config::recv_gap_timeout).
    RecvGap,
    /// The whole exchange outlived [`Config::request_timeout`](crate::Config::request_timeout).
    Request,
}

/// Why an HTTP exchange failed. `E` is the transport's error type, passed through as is.
///
/// After any of these the connection is not reusable: the client refuses further requests
/// with [`Error::ConnectionNotReusable`] and the caller should close the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed (reset, TLS alert, network down...).
    Transport(E),
    /// A time limit ran out.
    Timeout(TimeoutKind),
    /// The status line is not `HTTP/1.x NNN [reason]` with a code in `100..=599`.
    MalformedStatusLine,
    /// A header line is malformed: empty or invalid name, whitespace before the colon or
    /// before the first header, a bad byte in a value, a CR not followed by LF.
    MalformedHeader,
    /// The response has more headers than the client's `MAX_HEADERS` limit.
    TooManyHeaders,
    /// The chunked framing is malformed (see [`MalformedChunk`](crate::MalformedChunk)):
    /// a bad size line or extension, a bad trailer field, a missing line end after a
    /// chunk, a size overflowing `u64`, or a size line or trailer section over its limit.
    MalformedChunk,
    /// `Content-Length` is not a plain decimal number, overflows, or has conflicting values.
    InvalidContentLength,
    /// The framing headers contradict each other (`Transfer-Encoding` together with
    /// `Content-Length`, or `Transfer-Encoding` in an HTTP/1.0 response), which RFC 9112
    /// says must be treated as an error: it is how responses get smuggled.
    InvalidFraming,
    /// The response head does not fit in the response buffer.
    HeaderTooLarge,
    /// The body does not fit in the response buffer (use a streaming read instead).
    BufferTooSmall,
    /// The peer closed the connection before the response was complete.
    UnexpectedEof,
    /// The request was invalid or its body did not match its declared length.
    Request(RequestError),
    /// An earlier exchange on this connection left it unusable (error, `Connection: close`,
    /// a body framed by connection close, or a body not read to the end).
    ConnectionNotReusable,
}

impl<E> Error<E> {
    /// Whether the same request may succeed on a new connection (after a backoff delay):
    /// true for network trouble (transport errors, timeouts, a connection cut short),
    /// false for a peer that sent something malformed, a buffer that is too small, or a
    /// bad request, which a retry would only repeat.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Transport(_)
                | Error::Timeout(_)
                | Error::UnexpectedEof
                | Error::ConnectionNotReusable
        )
    }
}

impl<E> From<RequestError> for Error<E> {
    fn from(e: RequestError) -> Self {
        Error::Request(e)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Transport(e) => return write!(f, "transport error: {e}"),
            Error::Request(e) => return write!(f, "bad request: {e}"),
            Error::Timeout(TimeoutKind::Send) => "timed out sending",
            Error::Timeout(TimeoutKind::RecvGap) => "timed out waiting for response bytes",
            Error::Timeout(TimeoutKind::Request) => "request deadline passed",
            Error::MalformedStatusLine => "malformed status line",
            Error::MalformedHeader => "malformed response header",
            Error::TooManyHeaders => "too many response headers",
            Error::MalformedChunk => "malformed chunk",
            Error::InvalidContentLength => "invalid Content-Length",
            Error::InvalidFraming => "conflicting message framing headers",
            Error::HeaderTooLarge => "response head larger than the buffer",
            Error::BufferTooSmall => "response body larger than the buffer",
            Error::UnexpectedEof => "connection closed before the response was complete",
            Error::ConnectionNotReusable => "connection is not reusable",
        };
        f.write_str(text)
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for Error<E> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_trouble_is_retryable() {
        let retryable: [Error<()>; 4] = [
            Error::Transport(()),
            Error::Timeout(TimeoutKind::RecvGap),
            Error::UnexpectedEof,
            Error::ConnectionNotReusable,
        ];
        assert!(retryable.iter().all(Error::is_retryable));
        let final_: [Error<()>; 10] = [
            Error::MalformedStatusLine,
            Error::MalformedHeader,
            Error::TooManyHeaders,
            Error::MalformedChunk,
            Error::InvalidContentLength,
            Error::InvalidFraming,
            Error::HeaderTooLarge,
            Error::BufferTooSmall,
            Error::Request(RequestError::InvalidPath),
            Error::Request(RequestError::BodyLengthMismatch),
        ];
        assert!(!final_.iter().any(Error::is_retryable));
    }
}
