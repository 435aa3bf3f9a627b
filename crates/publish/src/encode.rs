//! The encodings the publish request needs, written into caller buffers: RFC 4648 base64,
//! RFC 8259 JSON strings, and the length of RFC 3986 percent-encoding.

/// Where encoded bytes go: a caller's buffer, or a counter that only measures.
pub(crate) trait Sink {
    /// Appends `bytes`, or fails (and writes nothing) when they do not fit.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full>;
}

/// The buffer could not take the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// Appends to the front of a caller's buffer.
pub(crate) struct SliceSink<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> SliceSink<'o> {
    pub(crate) fn new(out: &'o mut [u8]) -> Self {
        SliceSink { out, len: 0 }
    }

    /// The bytes written, borrowing the buffer for as long as it lives.
    pub(crate) fn into_written(self) -> &'o [u8] {
        let len = self.len;
        self.out.get(..len).unwrap_or_default()
    }
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len.checked_add(bytes.len()).ok_or(Full)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(Full)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// Counts what would be written.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(())
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 (RFC 4648 section 4: the standard alphabet, with `=` padding) of everything
/// written to it, streamed to `inner`: the input never needs a buffer of its own.
pub(crate) struct Base64<S> {
    inner: S,
    pending: [u8; 3],
    pending_len: usize,
}

impl<S: Sink> Base64<S> {
    pub(crate) fn new(inner: S) -> Self {
        Base64 {
            inner,
            pending: [0; 3],
            pending_len: 0,
        }
    }

    /// Writes the last group, padded, and gives back the inner sink.
    pub(crate) fn finish(mut self) -> Result<S, Full> {
        if self.pending_len > 0 {
            let quad = encode_group(self.pending, self.pending_len);
            self.inner.put(&quad)?;
        }
        Ok(self.inner)
    }
}

impl<S: Sink> Sink for Base64<S> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        for &byte in bytes {
            if let Some(slot) = self.pending.get_mut(self.pending_len) {
                *slot = byte;
            }
            self.pending_len += 1;
            if self.pending_len == 3 {
                let quad = encode_group(self.pending, 3);
                self.inner.put(&quad)?;
                self.pending_len = 0;
            }
        }
        Ok(())
    }
}

/// Four base64 characters for the first `len` (1 to 3) bytes of `group`.
fn encode_group(group: [u8; 3], len: usize) -> [u8; 4] {
    let [a, b, c] = group;
    let (b, c) = match len {
        1 => (0, 0),
        2 => (b, 0),
        _ => (b, c),
    };
    let value = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
    let char_at = |shift: u32| {
        let index = usize::try_from((value >> shift) & 0x3f).unwrap_or(0);
        BASE64.get(index).copied().unwrap_or(b'A')
    };
    let mut quad = [char_at(18), char_at(12), char_at(6), char_at(0)];
    if len < 3 {
        quad[3] = b'=';
    }
    if len < 2 {
        quad[2] = b'=';
    }
    quad
}

/// Length of the base64 of `len` bytes.
pub(crate) fn base64_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

/// Writes `text` as a JSON string (RFC 8259 section 7), quotes included: `"` and `\` are
/// escaped, and so is every control character U+0000 to U+001F (with its short form where
/// JSON has one, `\u00XX` otherwise). Everything else is copied as UTF-8.
pub(crate) fn json_string<S: Sink>(text: &str, sink: &mut S) -> Result<(), Full> {
    sink.put(b"\"")?;
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            _ => None,
        };
        if short.is_none() && byte >= 0x20 {
            continue;
        }
        sink.put(bytes.get(run_start..i).unwrap_or_default())?;
        match short {
            Some(escape) => sink.put(escape)?,
            None => sink.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                hex_digit(byte >> 4),
                hex_digit(byte & 0xf),
            ])?,
        }
        run_start = i + 1;
    }
    sink.put(bytes.get(run_start..).unwrap_or_default())?;
    sink.put(b"\"")
}

fn hex_digit(nibble: u8) -> u8 {
    b"0123456789abcdef"
        .get(usize::from(nibble))
        .copied()
        .unwrap_or(b'0')
}

/// Length of `text` percent-encoded as `iot_http::encode_path_segment` does it (every byte
/// but RFC 3986's unreserved characters becomes `%XX`).
pub(crate) fn percent_encoded_len(text: &str) -> usize {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                1
            } else {
                3
            }
        })
        .sum()
}

/// Digits of `value` in decimal, in a small buffer (32-bit division only: a Cortex-M4 has
/// it in hardware, where 64-bit division would pull in a runtime routine).
pub(crate) struct Decimal {
    digits: [u8; 10],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(mut value: u32) -> Decimal {
        let mut digits = [b'0'; 10];
        let mut start = digits.len();
        loop {
            start -= 1;
            if let Some(slot) = digits.get_mut(start) {
                *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
            }
            value /= 10;
            if value == 0 || start == 0 {
                break;
            }
        }
        Decimal { digits, start }
    }

    pub(crate) fn as_str(&self) -> &str {
        let bytes = self.digits.get(self.start..).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or("0")
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    fn base64(input: &[u8]) -> String {
        let mut out = [0u8; 512];
        let mut encoder = Base64::new(SliceSink::new(&mut out));
        encoder.put(input).unwrap();
        let written = encoder.finish().unwrap().into_written();
        String::from_utf8(written.to_vec()).unwrap()
    }

    fn json(text: &str) -> String {
        let mut out = [0u8; 1024];
        let mut sink = SliceSink::new(&mut out);
        json_string(text, &mut sink).unwrap();
        String::from_utf8(sink.into_written().to_vec()).unwrap()
    }

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
            assert_eq!(base64_len(input.len()), expected.len());
        }
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn base64_streamed_in_pieces_is_the_same() {
        let mut out = [0u8; 64];
        let mut encoder = Base64::new(SliceSink::new(&mut out));
        for piece in [&b"fo"[..], b"", b"ob", b"a", b"r!"] {
            encoder.put(piece).unwrap();
        }
        let written = encoder.finish().unwrap().into_written();
        assert_eq!(written, b"Zm9vYmFyIQ==");
    }

    #[test]
    fn base64_reports_a_full_buffer() {
        let mut out = [0u8; 7];
        let mut encoder = Base64::new(SliceSink::new(&mut out));
        encoder.put(b"foobar").unwrap_err();
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(json("plain"), r#""plain""#);
        assert_eq!(json(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(json("\u{0}\u{1f}x\u{1}"), r#""\u0000\u001fx\u0001""#);
        assert_eq!(
            json("caf\u{e9} \u{2603} \u{7f}"),
            "\"caf\u{e9} \u{2603} \u{7f}\""
        );
        assert_eq!(json(""), r#""""#);
    }

    #[test]
    fn decimals() {
        for value in [0u32, 7, 10, 3600, 1_000_000_000, u32::MAX] {
            assert_eq!(Decimal::new(value).as_str(), std::format!("{value}"));
        }
    }

    /// Decodes what `json_string` wrote, by a reference reading of RFC 8259.
    fn unescape(json: &str) -> Option<String> {
        let inner = json.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                },
                c if u32::from(c) < 0x20 || c == '"' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    fn base64_decode(text: &str) -> Option<Vec<u8>> {
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for &c in text.trim_end_matches('=').as_bytes() {
            let value = BASE64.iter().position(|&a| a == c)?;
            bits = (bits << 6) | u32::try_from(value).ok()?;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push(u8::try_from((bits >> count) & 0xff).ok()?);
            }
        }
        Some(out)
    }

    proptest! {
        #[test]
        fn any_string_survives_json_escaping(text in any::<String>()) {
            let mut out = std::vec![0u8; text.len() * 6 + 2];
            let mut sink = SliceSink::new(&mut out);
            json_string(&text, &mut sink).unwrap();
            let written = std::str::from_utf8(sink.into_written()).unwrap();
            prop_assert!(!written.bytes().any(|b| b < 0x20), "raw control byte in {:?}", written);
            prop_assert_eq!(unescape(written), Some(text.clone()));
            let mut counter = Counter::default();
            json_string(&text, &mut counter).unwrap();
            prop_assert_eq!(counter.0, written.len());
        }

        #[test]
        fn any_bytes_survive_base64(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded = base64(&bytes);
            prop_assert_eq!(encoded.len(), base64_len(bytes.len()));
            prop_assert_eq!(base64_decode(&encoded), Some(bytes));
        }
    }
}
