//! Request-target validation and percent-encoding of path segments.

use crate::{Method, RequestError};

/// Checks a request target in origin form (`/path?query`), or `*` for `OPTIONS`.
///
/// Accepted bytes are visible ASCII (`!` to `~`); every `%` must start a `%XX` escape.
/// Spaces, control characters (so CR and LF) and non-ASCII bytes are rejected, so a path
/// can never inject a header or break the request line.
pub(crate) fn validate_path(method: Method, path: &str) -> Result<(), RequestError> {
    let bytes = path.as_bytes();
    if path == "*" && method == Method::Options {
        return Ok(());
    }
    if bytes.first() != Some(&b'/') {
        return Err(RequestError::InvalidPath);
    }
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if !(0x21..=0x7e).contains(&b) {
            return Err(RequestError::InvalidPath);
        }
        if b == b'%' {
            let escape_ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !escape_ok {
                return Err(RequestError::InvalidPath);
            }
        }
        i += 1;
    }
    Ok(())
}

/// Checks a `Host` value: `name[:port]` or `[v6]:port`, visible ASCII without `/`, `?`, `#`, `@`.
pub(crate) fn validate_host(host: &str) -> Result<(), RequestError> {
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\'));
    if ok {
        Ok(())
    } else {
        Err(RequestError::InvalidHost)
    }
}

/// Whether `b` may appear unescaped in a path segment. Only RFC 3986 "unreserved"
/// characters qualify, so `/`, `?`, `#`, `%`, `+` and everything else are escaped.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes one path segment (for example an MQTT topic placed in
/// `/topics/<topic>`) into `out`, and returns the encoded text, which borrows `out`.
///
/// Every byte that is not an RFC 3986 unreserved character is written as `%XX`, including
/// `/`, so a topic such as `sensors/room 1` becomes `sensors%2Froom%201` and stays one
/// segment. `out` needs at most three bytes per input byte.
///
/// # Errors
/// [`RequestError::BufferTooSmall`] when `out` cannot hold the result.
///
/// # Example
/// ```
/// let mut out = [0u8; 64];
/// let topic = iot_http::encode_path_segment("sensors/room 1", &mut out).unwrap();
/// assert_eq!(topic, "sensors%2Froom%201");
/// ```
pub fn encode_path_segment<'o>(segment: &str, out: &'o mut [u8]) -> Result<&'o str, RequestError> {
    let mut len = 0;
    for b in segment.bytes() {
        len = if is_unreserved(b) {
            put(out, len, &[b])?
        } else {
            let escape = [b'%', hex_digit(b >> 4), hex_digit(b & 0xf)];
            put(out, len, &escape)?
        };
    }
    let written = out.get(..len).ok_or(RequestError::BufferTooSmall)?;
    // Only ASCII was written, so this never fails; map it anyway rather than unwrap.
    core::str::from_utf8(written).map_err(|_| RequestError::BufferTooSmall)
}

fn hex_digit(nibble: u8) -> u8 {
    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')
}

/// Copies `bytes` to `out[at..]` and returns the new end, or `BufferTooSmall`.
fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> Result<usize, RequestError> {
    let end = at
        .checked_add(bytes.len())
        .ok_or(RequestError::BufferTooSmall)?;
    let dst = out.get_mut(at..end).ok_or(RequestError::BufferTooSmall)?;
    dst.copy_from_slice(bytes);
    Ok(end)
}

/// Builds a request path from literal parts and percent-encoded segments, in a caller
/// buffer.
///
/// The buffer is borrowed for the builder's lifetime and the finished path (from
/// [`PathBuilder::as_str`]) borrows it too; pass that to
/// [`RequestBuilder::new`](crate::RequestBuilder::new), which copies it.
///
/// ```
/// use iot_http::PathBuilder;
/// let mut buf = [0u8; 96];
/// let mut path = PathBuilder::new(&mut buf);
/// path.literal("/topics/")?.segment("dt/room 1")?.literal("?qos=1")?;
/// assert_eq!(path.as_str(), "/topics/dt%2Froom%201?qos=1");
/// # Ok::<(), iot_http::RequestError>(())
/// ```
pub struct PathBuilder<'o> {
    /// Caller's buffer; `out[..len]` holds the path so far (ASCII only).
    out: &'o mut [u8],
    len: usize,
}

impl<'o> PathBuilder<'o> {
    /// Starts an empty path in `out`.
    pub fn new(out: &'o mut [u8]) -> Self {
        PathBuilder { out, len: 0 }
    }

    /// Appends `text` unchanged. It is checked when the request is built, not here.
    ///
    /// # Errors
    /// [`RequestError::BufferTooSmall`]; [`RequestError::InvalidPath`] if `text` is not ASCII.
    pub fn literal(&mut self, text: &str) -> Result<&mut Self, RequestError> {
        if !text.is_ascii() {
            return Err(RequestError::InvalidPath);
        }
        self.len = put(self.out, self.len, text.as_bytes())?;
        Ok(self)
    }

    /// Appends `segment` percent-encoded as by [`encode_path_segment`].
    ///
    /// # Errors
    /// [`RequestError::BufferTooSmall`].
    pub fn segment(&mut self, segment: &str) -> Result<&mut Self, RequestError> {
        let rest = self
            .out
            .get_mut(self.len..)
            .ok_or(RequestError::BufferTooSmall)?;
        let added = encode_path_segment(segment, rest)?.len();
        self.len = self
            .len
            .checked_add(added)
            .ok_or(RequestError::BufferTooSmall)?;
        Ok(self)
    }

    /// The path written so far.
    pub fn as_str(&self) -> &str {
        let bytes = self.out.get(..self.len).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_origin_form_with_query() {
        assert_eq!(validate_path(Method::Post, "/topics/a%2Fb?qos=1"), Ok(()));
        assert_eq!(validate_path(Method::Get, "/"), Ok(()));
    }

    #[test]
    fn accepts_asterisk_only_for_options() {
        assert_eq!(validate_path(Method::Options, "*"), Ok(()));
        assert_eq!(
            validate_path(Method::Get, "*"),
            Err(RequestError::InvalidPath)
        );
    }

    #[test]
    fn rejects_paths_that_could_break_the_request_line() {
        for bad in [
            "",
            "topics",
            "/a b",
            "/a\r\nX: y",
            "/a\n",
            "/\u{e9}",
            "/a\tb",
            "/%4",
            "/%zz",
            "/%",
        ] {
            assert_eq!(
                validate_path(Method::Get, bad),
                Err(RequestError::InvalidPath),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_hosts() {
        for bad in ["", "a b", "a\r\n", "a/b", "user@host", "h?x"] {
            assert_eq!(
                validate_host(bad),
                Err(RequestError::InvalidHost),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_host("abc-ats.iot.eu-west-1.amazonaws.com:8443"),
            Ok(())
        );
        assert_eq!(validate_host("[::1]:8443"), Ok(()));
    }

    #[test]
    fn encodes_everything_but_unreserved() {
        let mut out = [0u8; 64];
        assert_eq!(encode_path_segment("a-Z_0.~", &mut out), Ok("a-Z_0.~"));
        assert_eq!(
            encode_path_segment("a/b c%+#?", &mut out),
            Ok("a%2Fb%20c%25%2B%23%3F")
        );
        assert_eq!(encode_path_segment("\u{e9}", &mut out), Ok("%C3%A9"));
        assert_eq!(encode_path_segment("", &mut out), Ok(""));
    }

    #[test]
    fn encoding_reports_a_small_buffer() {
        let mut small = [0u8; 4];
        assert_eq!(
            encode_path_segment("a/b", &mut small),
            Err(RequestError::BufferTooSmall)
        );
        let mut exact = [0u8; 5];
        assert_eq!(encode_path_segment("a/b", &mut exact), Ok("a%2Fb"));
    }

    #[test]
    fn path_builder_joins_literals_and_segments() {
        let mut buf = [0u8; 40];
        let mut p = PathBuilder::new(&mut buf);
        p.literal("/topics/")
            .unwrap()
            .segment("x/y")
            .unwrap()
            .literal("?qos=1")
            .unwrap();
        assert_eq!(p.as_str(), "/topics/x%2Fy?qos=1");
        let mut small = [0u8; 4];
        let mut p = PathBuilder::new(&mut small);
        assert_eq!(
            p.literal("/topics").err(),
            Some(RequestError::BufferTooSmall)
        );
        assert_eq!(p.literal("/\u{e9}").err(), Some(RequestError::InvalidPath));
    }
}
