//! Parsing a response head with `httparse`, and reading its headers back.

use crate::{Error, Method, StatusCode, Version};

/// How the response body is delimited, decided from the status, the request method and
/// the framing headers, in the order RFC 9112 (section 6.3) gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: a response to `HEAD`, or a `1xx`, `204` or `304` status.
    Empty,
    /// `Content-Length` bytes follow.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
    /// Neither header (or a transfer coding other than chunked): the body runs until the
    /// server closes the connection, which therefore cannot be reused.
    UntilClose,
}

/// What the client keeps from a parsed head; no borrow of the buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadInfo {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    /// Length of the head including the empty line.
    pub(crate) len: usize,
    pub(crate) framing: ResponseFraming,
    /// The headers or version say the server will close the connection.
    pub(crate) close: bool,
}

/// Where a head ends, scanning at or after `from`: just past the first empty line (LF LF or
/// LF CR LF; a line ends with LF, optionally preceded by CR), or just past a CR that is not
/// followed by LF, which `httparse` then rejects (a bare CR is never a line end).
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    // Both patterns are at most three bytes long: starting two bytes back finds one that
    // straddles `from`.
    let start = from.saturating_sub(2);
    let tail = buf.get(start..)?;
    let mut after_lf = false;
    let mut cr = false;
    for (i, &b) in tail.iter().enumerate() {
        match b {
            b'\n' if after_lf => return start.checked_add(i + 1),
            b'\n' => {
                after_lf = true;
                cr = false;
            }
            _ if cr => return start.checked_add(i + 1),
            b'\r' => cr = true,
            _ => after_lf = false,
        }
    }
    None
}

/// How many CR and LF bytes precede the status line: httparse skips blank lines there, so
/// the head's empty line is looked for after them.
pub(crate) fn leading_blank_lines(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len())
}

/// Replaces each obs-fold (a line end followed by SP or HTAB, inside a header field) of the
/// complete head at the front of `buf` with SP bytes, as RFC 9112 (section 5.2) asks of a
/// user agent, so that `httparse` and [`Headers`] see one line per field. The head keeps its
/// length. Whitespace before the first header line is not a fold (the status line cannot be
/// continued) and is left for `httparse` to reject; so is anything after the head's empty
/// line. Does nothing until `buf` holds a whole head.
pub(crate) fn unfold(buf: &mut [u8]) {
    let blank = leading_blank_lines(buf);
    let head = buf.get_mut(blank..).unwrap_or_default();
    let Some(end) = find_head_end(head, 0) else {
        return;
    };
    let Some(status_end) = head.iter().position(|&b| b == b'\n') else {
        return;
    };
    // LFs strictly inside the header fields: after the status line's, before the last one.
    for lf in status_end + 1..end.saturating_sub(1) {
        let folds = head.get(lf) == Some(&b'\n') && matches!(head.get(lf + 1), Some(b' ' | b'\t'));
        if !folds {
            continue;
        }
        if let Some(byte) = head.get_mut(lf) {
            *byte = b' ';
        }
        if let Some(byte) = lf.checked_sub(1).and_then(|cr| head.get_mut(cr)) {
            if *byte == b'\r' {
                *byte = b' ';
            }
        }
    }
}

/// Parses a complete head in `buf` (which ends at an empty line).
///
/// Returns `Ok(None)` when `httparse` still wants more bytes (only possible when the
/// empty line found was part of leading blank lines).
pub(crate) fn parse_head<E, const N: usize>(
    buf: &[u8],
    method: Method,
) -> Result<Option<HeadInfo>, Error<E>> {
    let mut headers = [httparse::EMPTY_HEADER; N];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_parse_error(e)),
    };
    let status = response
        .code
        .and_then(StatusCode::new)
        .ok_or(Error::MalformedStatusLine)?;
    let version = match response.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(Error::MalformedStatusLine),
    };
    let fields = FramingFields::scan(response.headers)?;
    let framing = fields.framing(status, version, method)?;
    let close = fields.close || (version == Version::Http10 && !fields.keep_alive);
    Ok(Some(HeadInfo {
        status,
        version,
        len,
        framing,
        close,
    }))
}

fn map_parse_error<E>(e: httparse::Error) -> Error<E> {
    match e {
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        httparse::Error::Status | httparse::Error::Version | httparse::Error::Token => {
            Error::MalformedStatusLine
        }
        _ => Error::MalformedHeader,
    }
}

/// The headers that decide framing and persistence.
#[derive(Default)]
struct FramingFields {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked_last: bool,
    close: bool,
    keep_alive: bool,
}

impl FramingFields {
    fn scan<E>(headers: &[httparse::Header<'_>]) -> Result<Self, Error<E>> {
        let mut fields = FramingFields::default();
        for header in headers {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                fields.add_content_length(header.value)?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                fields.transfer_encoding = true;
                if let Some(last) = list_items(header.value).last() {
                    fields.chunked_last = last.eq_ignore_ascii_case(b"chunked");
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for token in list_items(header.value) {
                    fields.close |= token.eq_ignore_ascii_case(b"close");
                    fields.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        Ok(fields)
    }

    /// Accepts `n`, `n, n` and repeated headers with one value; anything else is an error.
    fn add_content_length<E>(&mut self, value: &[u8]) -> Result<(), Error<E>> {
        let mut items = 0;
        for item in value.split(|&b| b == b',') {
            let n = parse_decimal(trim(item)).ok_or(Error::InvalidContentLength)?;
            if self.content_length.is_some_and(|seen| seen != n) {
                return Err(Error::InvalidContentLength);
            }
            self.content_length = Some(n);
            items += 1;
        }
        if items == 0 {
            Err(Error::InvalidContentLength)
        } else {
            Ok(())
        }
    }

    fn framing<E>(
        &self,
        status: StatusCode,
        version: Version,
        method: Method,
    ) -> Result<ResponseFraming, Error<E>> {
        if method == Method::Head || status.forbids_body() {
            return Ok(ResponseFraming::Empty);
        }
        match (self.transfer_encoding, self.content_length) {
            (true, Some(_)) => Err(Error::InvalidFraming),
            (true, None) if version == Version::Http10 => Err(Error::InvalidFraming),
            (true, None) if self.chunked_last => Ok(ResponseFraming::Chunked),
            (true, None) => Ok(ResponseFraming::UntilClose),
            (false, Some(n)) => Ok(ResponseFraming::Length(n)),
            (false, None) => Ok(ResponseFraming::UntilClose),
        }
    }
}

/// A strict `1*DIGIT` that fits in `u64`: no sign, no spaces, no hex, not empty.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// The non-empty, whitespace-trimmed items of a comma-separated header value.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|item| !item.is_empty())
}

/// Strips optional whitespace (SP, HTAB) from both ends.
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The status line and headers of a response.
///
/// **Buffer ownership:** borrows the response buffer immutably for `'b`; the head is the
/// front of that buffer, as received except that each obs-fold (a header value continued
/// on a line starting with SP or HTAB) has had its line end replaced with SP bytes. Header
/// names and values are slices of it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'b> {
    raw: &'b [u8],
    status: StatusCode,
    version: Version,
    framing: ResponseFraming,
    close: bool,
}

impl<'b> ResponseHead<'b> {
    pub(crate) fn new(raw: &'b [u8], info: &HeadInfo) -> Self {
        ResponseHead {
            raw,
            status: info.status,
            version: info.version,
            framing: info.framing,
            close: info.close,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The protocol version of the response.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The reason phrase as sent; empty when the server sent none (which is allowed), or
    /// when it is not UTF-8.
    pub fn reason(&self) -> &'b str {
        let line = self.status_line();
        // "HTTP/1.1 200 " is 13 bytes; httparse has checked that shape.
        let reason = line.get(13..).unwrap_or_default();
        core::str::from_utf8(reason).unwrap_or_default()
    }

    /// How the body is delimited.
    pub fn framing(&self) -> ResponseFraming {
        self.framing
    }

    /// The body length announced by `Content-Length`, when that framed the body.
    pub fn content_length(&self) -> Option<u64> {
        match self.framing {
            ResponseFraming::Length(n) => Some(n),
            _ => None,
        }
    }

    /// Whether the headers or the version say the connection closes after this response
    /// (coreHTTP's "connection close" response flag).
    pub fn connection_close(&self) -> bool {
        self.close
    }

    /// The value of the first header named `name` (compared without regard to case),
    /// trimmed of surrounding whitespace; may be empty. `None` when absent.
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Like [`header`](Self::header), as text; `None` also when the value is not UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'b str> {
        self.header(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// All headers in order, as `(name, value)`.
    pub fn headers(&self) -> Headers<'b> {
        Headers {
            rest: self.fields(),
        }
    }

    /// The raw head bytes: status line, headers and the empty line (folded lines unfolded,
    /// see the type's documentation).
    pub fn raw(&self) -> &'b [u8] {
        self.raw
    }

    fn status_line(&self) -> &'b [u8] {
        let (line, _) = split_line(skip_blank_lines(self.raw));
        line
    }

    fn fields(&self) -> &'b [u8] {
        let (_, rest) = split_line(skip_blank_lines(self.raw));
        rest
    }
}

/// httparse accepts blank lines before the status line; skip them the same way.
fn skip_blank_lines(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Splits at the first LF: the line without its CR, and what follows.
fn split_line(s: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match s.iter().position(|&b| b == b'\n') {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i + 1..).unwrap_or_default(),
        ),
        None => (s, &[][..]),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), rest)
}

/// Iterator over the headers of a [`ResponseHead`], yielding `(name, value)` slices of the
/// response buffer (lifetime `'b`).
#[derive(Debug, Clone)]
pub struct Headers<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for Headers<'b> {
    type Item = (&'b str, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, rest) = split_line(self.rest);
            self.rest = rest;
            if line.is_empty() {
                self.rest = &[];
                return None;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = line.get(..colon).and_then(|n| core::str::from_utf8(n).ok());
            let value = trim(line.get(colon + 1..).unwrap_or_default());
            if let Some(name) = name {
                return Some((name, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type E = Error<()>;

    fn parse(text: &str, method: Method) -> Result<HeadInfo, E> {
        let mut raw = text.as_bytes().to_vec();
        unfold(&mut raw);
        parse_head::<(), 8>(&raw, method).map(|h| h.expect("complete"))
    }

    fn unfolded(text: &[u8]) -> std::vec::Vec<u8> {
        let mut raw = text.to_vec();
        unfold(&mut raw);
        raw
    }

    fn framing(text: &str) -> Result<ResponseFraming, E> {
        parse(text, Method::Get).map(|h| h.framing)
    }

    #[test]
    fn finds_the_empty_line_with_crlf_or_lf() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nbody", 0), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\r\nbody", 0), Some(18));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\nbody", 0), Some(18));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"\r\n\r\n", 3), Some(4));
        assert_eq!(find_head_end(b"", 10), None);
    }

    #[test]
    fn a_bare_cr_stops_the_scan_wherever_the_input_was_split() {
        let head = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\r\n";
        assert_eq!(find_head_end(head, 0), Some(25));
        // Scanning resumes where the previous scan stopped, as the client does.
        for from in 0..head.len() {
            assert_eq!(find_head_end(head, from), Some(25), "from {from}");
        }
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\rX", 0), Some(17));
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nA: b\r\n\r\r\n", Method::Get).err(),
            Some(Error::MalformedHeader)
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", Method::Get).err(),
            Some(Error::MalformedHeader)
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\rA: b\r\n\r\n", Method::Get).err(),
            Some(Error::MalformedStatusLine)
        );
    }

    #[test]
    fn folds_become_spaces_and_nothing_else_changes() {
        assert_eq!(
            unfolded(b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\td\r\nE: f\r\n\r\n x"),
            b"HTTP/1.1 200 OK\r\nA: b   c  \td\r\nE: f\r\n\r\n x"
        );
        assert_eq!(
            unfolded(b"\r\nHTTP/1.1 200 OK\nA: b\n c\n\n"),
            b"\r\nHTTP/1.1 200 OK\nA: b  c\n\n"
        );
        // The status line is not continued; an incomplete head is left alone.
        let untouched: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\n A: b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n c",
            b"\r\n\r\n",
        ];
        for raw in untouched {
            assert_eq!(unfolded(raw), raw, "{raw:?}");
        }
    }

    #[test]
    fn parses_status_without_reason_phrase() {
        let h = parse("HTTP/1.1 200\r\n\r\n", Method::Get).unwrap();
        assert_eq!(h.status, StatusCode::OK);
        let h = parse("HTTP/1.1 204 \r\n\r\n", Method::Get).unwrap();
        assert_eq!(h.status.as_u16(), 204);
    }

    #[test]
    fn rejects_malformed_status_lines() {
        for bad in [
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/2.0 200 OK\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "ICY 200 OK\r\n\r\n",
            "HTTP/1.1 099 X\r\n\r\n",
            "HTTP/1.1 600 X\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad, Method::Get).err(),
                Some(Error::MalformedStatusLine),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_zero_length_header_name() {
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\n: value\r\n\r\n", Method::Get).err(),
            Some(Error::MalformedHeader)
        );
    }

    #[test]
    fn unfolds_folded_lines_and_rejects_spaced_names() {
        let raw = unfolded(b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\nContent-Length: 0\r\n\r\n");
        let info = parse_head::<(), 8>(&raw, Method::Get).unwrap().unwrap();
        let head = ResponseHead::new(&raw, &info);
        assert_eq!(head.header("a"), Some(&b"b   c"[..]));
        assert_eq!(head.headers().count(), 2);
        assert_eq!(info.framing, ResponseFraming::Length(0));
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", Method::Get).err(),
            Some(Error::MalformedHeader)
        );
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\n c\r\n\r\n", Method::Get).err(),
            Some(Error::MalformedHeader)
        );
    }

    #[test]
    fn limits_header_count() {
        let many = "HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\ng: 7\r\nh: 8\r\ni: 9\r\n\r\n";
        assert_eq!(parse(many, Method::Get).err(), Some(Error::TooManyHeaders));
    }

    #[test]
    fn strict_content_length() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"),
            Ok(ResponseFraming::Length(42))
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 42, 42\r\n\r\n"),
            Ok(ResponseFraming::Length(42))
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n"),
            Ok(ResponseFraming::Length(7))
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"),
            Ok(ResponseFraming::Length(u64::MAX))
        );
    }

    #[test]
    fn rejects_invalid_overflowing_or_conflicting_content_length() {
        for bad in [
            "",
            "-1",
            "+1",
            "0x10",
            "1 2",
            "4a",
            "42,",
            ",42",
            "42, 43",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            let text = std::format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(framing(&text), Err(Error::InvalidContentLength), "{bad:?}");
        }
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(Error::InvalidContentLength)
        );
    }

    #[test]
    fn chunked_must_be_the_final_coding() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"),
            Ok(ResponseFraming::Chunked)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Ok(ResponseFraming::UntilClose)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            Ok(ResponseFraming::Chunked)
        );
    }

    #[test]
    fn rejects_transfer_encoding_with_content_length_or_in_http10() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            Err(Error::InvalidFraming)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Error::InvalidFraming)
        );
    }

    #[test]
    fn no_body_for_head_204_304_and_1xx() {
        let with_length = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(
            parse(with_length, Method::Head).map(|h| h.framing),
            Ok(ResponseFraming::Empty)
        );
        for status in [
            "204 No Content",
            "304 Not Modified",
            "100 Continue",
            "101 Switching Protocols",
        ] {
            let text = std::format!("HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n");
            assert_eq!(framing(&text), Ok(ResponseFraming::Empty), "{status}");
        }
    }

    #[test]
    fn body_until_close_without_framing_headers() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\n\r\n"),
            Ok(ResponseFraming::UntilClose)
        );
    }

    #[test]
    fn persistence_follows_version_and_connection_tokens() {
        let close = |t: &str| parse(t, Method::Get).unwrap().close;
        assert!(!close("HTTP/1.1 200 OK\r\n\r\n"));
        assert!(close(
            "HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n\r\n"
        ));
        assert!(close("HTTP/1.0 200 OK\r\n\r\n"));
        assert!(!close("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_allows_empty_values() {
        let raw = b"\r\nHTTP/1.1 200 Fine Thanks\r\nX-Empty:\r\nContent-Type:  text/plain \r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n";
        let info = parse_head::<(), 8>(raw, Method::Get).unwrap().unwrap();
        let head = ResponseHead::new(raw, &info);
        assert_eq!(head.reason(), "Fine Thanks");
        assert_eq!(head.header("content-type"), Some(&b"text/plain"[..]));
        assert_eq!(head.header_str("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(head.header("x-empty"), Some(&b""[..]));
        assert_eq!(head.header("x-dup"), Some(&b"1"[..]));
        assert_eq!(head.header("missing"), None);
        assert_eq!(head.headers().count(), 4);
    }

    #[test]
    fn reason_is_empty_when_absent() {
        let raw = b"HTTP/1.1 200\r\n\r\n";
        let info = parse_head::<(), 8>(raw, Method::Get).unwrap().unwrap();
        assert_eq!(ResponseHead::new(raw, &info).reason(), "");
    }

    #[test]
    fn header_iterator_survives_arbitrary_bytes() {
        let head = Headers {
            rest: b"no colon\r\n\xff\xfe: v\r\nok: 1\n\nafter: x\r\n",
        };
        let all: std::vec::Vec<_> = head.collect();
        assert_eq!(all, [("ok", &b"1"[..])]);
    }
}
