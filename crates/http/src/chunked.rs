//! Incremental decoder for `Transfer-Encoding: chunked` (RFC 9112, section 7.1).

use core::ops::Range;

/// The chunked framing was broken: a missing or non-hex chunk size, a size that
/// overflows `u64`, a chunk extension or trailer field off the grammar, a size line or
/// trailer section over its limit, a CR not followed by LF, or a chunk not followed by a
/// line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedChunk;

impl core::fmt::Display for MalformedChunk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("malformed chunk")
    }
}

impl core::error::Error for MalformedChunk {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading chunk-size hex digits; `digits` counts those seen.
    Size { value: u64, digits: u8 },
    /// Whitespace (BWS) after the size or after an extension: `;`, more whitespace or the
    /// line end may follow.
    SizeSpace { value: u64 },
    /// After `;`: whitespace, then an extension name.
    ExtNameStart { value: u64 },
    /// Inside an extension name.
    ExtName { value: u64 },
    /// Whitespace after an extension name: `=`, `;` or the line end may follow.
    ExtAfterName { value: u64 },
    /// After `=`: whitespace, then a token or a quoted string.
    ExtValueStart { value: u64 },
    /// Inside an extension value that is a token.
    ExtToken { value: u64 },
    /// Inside a quoted-string extension value.
    ExtQuoted { value: u64 },
    /// After a backslash inside a quoted string.
    ExtQuotedPair { value: u64 },
    /// Saw CR ending the size line; LF must follow.
    SizeLf { value: u64 },
    /// Inside chunk data; `remaining > 0` bytes to go.
    Data { remaining: u64 },
    /// After chunk data: the line end (CR LF, or LF alone) must follow.
    DataCr,
    /// Saw CR after chunk data; LF must follow.
    DataLf,
    /// At the start of a trailer line, or of the final empty line; `field` tells whether a
    /// field line came before (which a folded line may continue).
    TrailerStart { field: bool },
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value (after the colon).
    TrailerValue,
    /// Saw CR ending a trailer line; LF must follow.
    TrailerLf,
    /// Saw CR of the final empty line; LF must follow.
    EndLf,
    /// The message body is complete.
    Done,
    /// An error was reported; every later call reports it again.
    Failed,
}

/// Which line a state belongs to, for the length limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// A chunk-size line (size, extensions), up to its line end.
    SizeLine,
    /// The trailer section, its final empty line included.
    Trailers,
    /// Data, the line end after it, a size line's LF, the end.
    Other,
}

impl State {
    fn section(self) -> Section {
        match self {
            State::Size { .. }
            | State::SizeSpace { .. }
            | State::ExtNameStart { .. }
            | State::ExtName { .. }
            | State::ExtAfterName { .. }
            | State::ExtValueStart { .. }
            | State::ExtToken { .. }
            | State::ExtQuoted { .. }
            | State::ExtQuotedPair { .. } => Section::SizeLine,
            State::TrailerStart { .. }
            | State::TrailerName
            | State::TrailerValue
            | State::TrailerLf
            | State::EndLf => Section::Trailers,
            State::SizeLf { .. }
            | State::Data { .. }
            | State::DataCr
            | State::DataLf
            | State::Done
            | State::Failed => Section::Other,
        }
    }
}

/// What one [`ChunkedDecoder::feed`] call did with its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// How many input bytes were used. Less than the input only when the body ended
    /// ([`ChunkedDecoder::is_done`]) or a data span was returned.
    pub consumed: usize,
    /// The span of the input (within `..consumed`) that is body data; may be empty.
    pub data: Range<usize>,
}

/// What [`ChunkedDecoder::decode_in_place`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPlace {
    /// Body bytes now at the front of the buffer.
    pub decoded: usize,
    /// Input bytes used; the rest (only when the body ended) follow the message.
    pub consumed: usize,
}

/// A byte-at-a-time state machine for chunked bodies: it needs no buffer of its own, so
/// input can arrive split anywhere, even one byte at a time.
///
/// What it accepts (RFC 9112, section 7.1; see also the crate's "Conformance" section):
/// - **Sizes** are hexadecimal, with any leading zeros, and must fit in `u64`.
/// - **Chunk extensions** must follow the grammar `*( BWS ";" BWS name [ BWS "=" BWS
///   value ] )`, a name being a token and a value a token or a quoted string; whitespace
///   (SP, HTAB) may also precede the line end. They are checked, then ignored.
/// - **Trailer fields** must be field lines: a token name, `:` right after it, and a value
///   of visible characters, obs-text, SP and HTAB. A line starting with SP or HTAB continues
///   the previous field (obs-fold). They are checked, then ignored.
/// - **Line ends** are CR LF or LF alone, in every line (size lines, after the data,
///   trailers, the final empty line), as in the head; a CR not followed by LF is an error.
/// - **Limits**: a size line (digits and extensions, without its line end) is at most
///   [`MAX_SIZE_LINE`](Self::MAX_SIZE_LINE) bytes and the trailer section at most
///   [`MAX_TRAILERS`](Self::MAX_TRAILERS) bytes, so a peer cannot keep the decoder busy
///   with an endless extension or trailer.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes read so far in the current size line or in the trailer section.
    section_len: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// The longest chunk-size line accepted: size digits, whitespace and extensions, not
    /// counting its line end.
    pub const MAX_SIZE_LINE: usize = 1024;

    /// The longest trailer section accepted: every trailer line with its line end, and the
    /// final empty line.
    pub const MAX_TRAILERS: usize = 4096;

    /// A decoder at the start of a chunked body.
    pub const fn new() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            section_len: 0,
        }
    }

    /// Whether the last chunk and the trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads framing bytes from `input` until the next data span, the end of the body, or
    /// the end of the input. Returns at most one data span; call again with the rest.
    ///
    /// # Errors
    /// [`MalformedChunk`]; the decoder then stays failed.
    pub fn feed(&mut self, input: &[u8]) -> Result<Decoded, MalformedChunk> {
        let mut at = 0;
        while let Some(&byte) = input.get(at) {
            if let State::Data { remaining } = self.state {
                let available = input.len() - at;
                let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                // `take as u64` cannot truncate: take <= remaining, a u64.
                let left = remaining - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining: left }
                };
                return Ok(Decoded {
                    consumed: at + take,
                    data: at..at + take,
                });
            }
            if self.state == State::Done {
                break;
            }
            match self.advance(byte) {
                Ok(next) => self.state = next,
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e);
                }
            }
            at += 1;
        }
        Ok(Decoded {
            consumed: at,
            data: at..at,
        })
    }

    /// Decodes `buf` in place: the body bytes it holds are moved to the front of `buf`,
    /// framing bytes are dropped.
    ///
    /// # Errors
    /// [`MalformedChunk`].
    pub fn decode_in_place(&mut self, buf: &mut [u8]) -> Result<InPlace, MalformedChunk> {
        let mut read = 0;
        let mut write = 0;
        while read < buf.len() && !self.is_done() {
            let input = buf.get(read..).unwrap_or_default();
            let step = self.feed(input)?;
            let span = read + step.data.start..read + step.data.end;
            // write <= span.start: decoded output never outruns the input it came from.
            // write <= span.start, so a forward copy never overwrites bytes still to read.
            // A plain loop rather than `copy_within`, which would link a 1.5 KB memmove.
            for from in span {
                if let (Some(&byte), true) = (buf.get(from), write <= from) {
                    if let Some(slot) = buf.get_mut(write) {
                        *slot = byte;
                    }
                    write += 1;
                }
            }
            if step.consumed == 0 {
                break;
            }
            read += step.consumed;
        }
        Ok(InPlace {
            decoded: write,
            consumed: read,
        })
    }

    /// The state after `byte`, counting it against the limit of its section.
    fn advance(&mut self, byte: u8) -> Result<State, MalformedChunk> {
        let section = self.state.section();
        let counted = match section {
            // A size line's limit leaves out its line end.
            Section::SizeLine => !matches!(byte, b'\r' | b'\n'),
            Section::Trailers => true,
            Section::Other => false,
        };
        if counted {
            self.section_len += 1;
            let limit = match section {
                Section::SizeLine => Self::MAX_SIZE_LINE,
                _ => Self::MAX_TRAILERS,
            };
            if self.section_len > limit {
                return Err(MalformedChunk);
            }
        }
        let next = self.step(byte)?;
        if next.section() != section {
            self.section_len = 0;
        }
        Ok(next)
    }

    fn step(&self, byte: u8) -> Result<State, MalformedChunk> {
        match self.state {
            State::Size { value, digits } => size_digit(value, digits, byte),
            State::SizeSpace { value } => match byte {
                b' ' | b'\t' => Ok(State::SizeSpace { value }),
                b';' => Ok(State::ExtNameStart { value }),
                _ => end_of_size_line(value, byte),
            },
            State::ExtNameStart { value } => match byte {
                b' ' | b'\t' => Ok(State::ExtNameStart { value }),
                _ if is_tchar(byte) => Ok(State::ExtName { value }),
                _ => Err(MalformedChunk),
            },
            State::ExtName { value } => match byte {
                _ if is_tchar(byte) => Ok(State::ExtName { value }),
                b' ' | b'\t' => Ok(State::ExtAfterName { value }),
                b'=' => Ok(State::ExtValueStart { value }),
                b';' => Ok(State::ExtNameStart { value }),
                _ => end_of_size_line(value, byte),
            },
            State::ExtAfterName { value } => match byte {
                b' ' | b'\t' => Ok(State::ExtAfterName { value }),
                b'=' => Ok(State::ExtValueStart { value }),
                b';' => Ok(State::ExtNameStart { value }),
                _ => end_of_size_line(value, byte),
            },
            State::ExtValueStart { value } => match byte {
                b' ' | b'\t' => Ok(State::ExtValueStart { value }),
                b'"' => Ok(State::ExtQuoted { value }),
                _ if is_tchar(byte) => Ok(State::ExtToken { value }),
                _ => Err(MalformedChunk),
            },
            State::ExtToken { value } => match byte {
                _ if is_tchar(byte) => Ok(State::ExtToken { value }),
                b' ' | b'\t' => Ok(State::SizeSpace { value }),
                b';' => Ok(State::ExtNameStart { value }),
                _ => end_of_size_line(value, byte),
            },
            State::ExtQuoted { value } => match byte {
                b'"' => Ok(State::SizeSpace { value }),
                b'\\' => Ok(State::ExtQuotedPair { value }),
                // qdtext: HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E, obs-text.
                b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => {
                    Ok(State::ExtQuoted { value })
                }
                _ => Err(MalformedChunk),
            },
            State::ExtQuotedPair { value } => match byte {
                // HTAB, SP, VCHAR, obs-text.
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => Ok(State::ExtQuoted { value }),
                _ => Err(MalformedChunk),
            },
            State::SizeLf { value } => expect(byte, b'\n', after_size_line(value)),
            State::DataCr => match byte {
                b'\r' => Ok(State::DataLf),
                b'\n' => Ok(next_size_line()),
                _ => Err(MalformedChunk),
            },
            State::DataLf => expect(byte, b'\n', next_size_line()),
            State::TrailerStart { field } => match byte {
                b'\r' => Ok(State::EndLf),
                b'\n' => Ok(State::Done),
                _ if is_tchar(byte) => Ok(State::TrailerName),
                // obs-fold: the line continues the previous field's value.
                b' ' | b'\t' if field => Ok(State::TrailerValue),
                _ => Err(MalformedChunk),
            },
            State::TrailerName => match byte {
                _ if is_tchar(byte) => Ok(State::TrailerName),
                b':' => Ok(State::TrailerValue),
                _ => Err(MalformedChunk),
            },
            State::TrailerValue => match byte {
                // field-vchar (VCHAR, obs-text), SP, HTAB.
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => Ok(State::TrailerValue),
                b'\r' => Ok(State::TrailerLf),
                b'\n' => Ok(State::TrailerStart { field: true }),
                _ => Err(MalformedChunk),
            },
            State::TrailerLf => expect(byte, b'\n', State::TrailerStart { field: true }),
            State::EndLf => expect(byte, b'\n', State::Done),
            // Data and Done are handled by `feed` before stepping.
            State::Data { .. } | State::Done | State::Failed => Err(MalformedChunk),
        }
    }
}

/// A size line's end: CR (LF must follow) or LF alone; anything else is an error.
fn end_of_size_line(value: u64, byte: u8) -> Result<State, MalformedChunk> {
    match byte {
        b'\r' => Ok(State::SizeLf { value }),
        b'\n' => Ok(after_size_line(value)),
        _ => Err(MalformedChunk),
    }
}

/// What follows a size line: the chunk's data, or the trailer section after the last chunk.
fn after_size_line(value: u64) -> State {
    match value {
        0 => State::TrailerStart { field: false },
        remaining => State::Data { remaining },
    }
}

fn next_size_line() -> State {
    State::Size {
        value: 0,
        digits: 0,
    }
}

/// A `tchar` of RFC 9110's token: letters, digits and ``!#$%&'*+-.^_`|~``.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn size_digit(value: u64, digits: u8, byte: u8) -> Result<State, MalformedChunk> {
    let Some(digit) = (byte as char).to_digit(16) else {
        return match (digits, byte) {
            (0, _) => Err(MalformedChunk),
            (_, b' ' | b'\t') => Ok(State::SizeSpace { value }),
            (_, b';') => Ok(State::ExtNameStart { value }),
            _ => end_of_size_line(value, byte),
        };
    };
    let value = value
        .checked_mul(16)
        .and_then(|v| v.checked_add(u64::from(digit)))
        .ok_or(MalformedChunk)?;
    Ok(State::Size {
        value,
        digits: digits.saturating_add(1),
    })
}

fn expect(byte: u8, wanted: u8, next: State) -> Result<State, MalformedChunk> {
    if byte == wanted {
        Ok(next)
    } else {
        Err(MalformedChunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Decodes `input` fed in pieces of `step` bytes; returns body and unused tail length.
    fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), MalformedChunk> {
        let mut d = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut at = 0;
        while at < input.len() && !d.is_done() {
            let end = (at + step).min(input.len());
            let mut piece = input[at..end].to_vec();
            let r = d.decode_in_place(&mut piece)?;
            body.extend_from_slice(&piece[..r.decoded]);
            at += r.consumed;
        }
        assert!(d.is_done(), "not done");
        Ok((body, input.len() - at))
    }

    #[test]
    fn decodes_chunks_in_any_split() {
        let msg = b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        for step in 1..=msg.len() {
            assert_eq!(
                decode(msg, step),
                Ok((b"hello, world".to_vec(), 0)),
                "step {step}"
            );
        }
    }

    #[test]
    fn tolerates_extensions_and_trailers() {
        let msg = b"4;name=val;q=\"x y\"\r\nWiki\r\n0 ; last\r\nExpires: never\r\nX: y\r\n\r\n";
        assert_eq!(decode(msg, 1), Ok((b"Wiki".to_vec(), 0)));
        assert_eq!(decode(msg, 64), Ok((b"Wiki".to_vec(), 0)));
    }

    #[test]
    fn accepts_upper_case_hex_and_leading_zeros() {
        let mut msg = b"000A\r\n".to_vec();
        msg.extend_from_slice(&[b'x'; 10]);
        msg.extend_from_slice(b"\r\n00\r\n\r\n");
        assert_eq!(decode(&msg, 3), Ok(([b'x'; 10].to_vec(), 0)));
    }

    #[test]
    fn reports_bytes_after_the_body() {
        assert_eq!(decode(b"0\r\n\r\nHTTP/1.1", 100), Ok((Vec::new(), 8)));
    }

    #[test]
    fn rejects_bad_chunk_sizes() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"-1\r\n",
            b"+1\r\n",
            b" 1\r\n",
            b"1 2\r\n",
            b"1\rx",
            b"0x10\r\n",
        ] {
            let mut d = ChunkedDecoder::new();
            assert_eq!(d.feed(bad), Err(MalformedChunk), "{bad:?}");
        }
    }

    #[test]
    fn rejects_overflowing_chunk_size() {
        let mut d = ChunkedDecoder::new();
        assert!(d.feed(b"ffffffffffffffff\r\n").is_ok());
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"10000000000000000\r\n"), Err(MalformedChunk));
    }

    #[test]
    fn rejects_missing_line_end_after_data() {
        let mut d = ChunkedDecoder::new();
        let mut buf = *b"3\r\nabcX\r\n0\r\n\r\n";
        assert_eq!(d.decode_in_place(&mut buf), Err(MalformedChunk));
        let mut d = ChunkedDecoder::new();
        let mut buf = *b"3\r\nabc\r0\r\n\r\n";
        assert_eq!(d.decode_in_place(&mut buf), Err(MalformedChunk));
    }

    #[test]
    fn lf_alone_ends_every_line_and_a_lone_cr_ends_none() {
        assert_eq!(decode(b"3\nabc\n0\nX: y\n\n", 1), Ok((b"abc".to_vec(), 0)));
        assert_eq!(
            decode(b"3\r\nabc\n0\r\nX: y\n\r\n", 2),
            Ok((b"abc".to_vec(), 0))
        );
        for bad in [&b"0\r\nX: y\r\r\n"[..], b"0\r\n\rX", b"3\r\nabc\r\r\n"] {
            let mut d = ChunkedDecoder::new();
            assert_eq!(
                d.decode_in_place(&mut bad.to_vec()),
                Err(MalformedChunk),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extension_and_trailer_limits_count_the_right_bytes() {
        // The size line's limit leaves out its line end; the trailers' counts everything.
        let mut line = std::vec![b'0'; ChunkedDecoder::MAX_SIZE_LINE - 1];
        line.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(decode(&line, 7), Ok((b"hello".to_vec(), 0)));
        let mut trailers = b"0\r\nX:".to_vec();
        trailers.resize(3 + ChunkedDecoder::MAX_TRAILERS - 4, b'v');
        trailers.extend_from_slice(b"\r\n\r\n");
        assert_eq!(decode(&trailers, 5), Ok((Vec::new(), 0)));
        trailers.insert(5, b'v');
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.decode_in_place(&mut trailers), Err(MalformedChunk));
    }

    #[test]
    fn stays_failed_after_an_error() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"z"), Err(MalformedChunk));
        assert_eq!(d.feed(b"0\r\n\r\n"), Err(MalformedChunk));
    }

    #[test]
    fn empty_input_makes_no_progress() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(
            d.feed(b""),
            Ok(Decoded {
                consumed: 0,
                data: 0..0
            })
        );
        assert_eq!(
            d.decode_in_place(&mut []),
            Ok(InPlace {
                decoded: 0,
                consumed: 0
            })
        );
    }

    #[test]
    fn huge_chunk_is_streamed_without_overflow() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"ffffffffffffffff\r\n").map(|r| r.consumed), Ok(18));
        let r = d.feed(&[7u8; 100]).unwrap();
        assert_eq!(
            r,
            Decoded {
                consumed: 100,
                data: 0..100
            }
        );
        assert!(!d.is_done());
    }
}
