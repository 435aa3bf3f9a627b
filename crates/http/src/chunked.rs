//! Incremental decoder for `Transfer-Encoding: chunked` (RFC 9112, section 7.1).

use core::ops::Range;

/// The chunked framing was broken: a missing or non-hex chunk size, a size that
/// overflows `u64`, a bad byte in a size line, or a chunk not followed by CRLF.
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
    Size {
        value: u64,
        digits: u8,
    },
    /// After the size: optional whitespace, then `;` (extension) or CR.
    SizeSpace {
        value: u64,
    },
    /// Inside chunk extensions, which are skipped up to CR.
    Extension {
        value: u64,
    },
    /// Saw CR after the size line; LF must follow.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data; `remaining > 0` bytes to go.
    Data {
        remaining: u64,
    },
    /// After chunk data: CR then LF must follow.
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    /// Inside a trailer field line, skipped up to CR.
    TrailerLine,
    /// Saw CR ending a trailer line; LF must follow.
    TrailerLf,
    /// Saw CR of the final empty line; LF must follow.
    EndLf,
    /// The message body is complete.
    Done,
    /// An error was reported; every later call reports it again.
    Failed,
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
/// Chunk extensions and trailer fields are accepted and skipped. Sizes are hexadecimal,
/// with any number of leading zeros, and must fit in `u64`. Line ends must be CRLF.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub const fn new() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
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
            self.state = match self.step(byte) {
                Ok(next) => next,
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e);
                }
            };
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

    fn step(&self, byte: u8) -> Result<State, MalformedChunk> {
        match self.state {
            State::Size { value, digits } => size_digit(value, digits, byte),
            State::SizeSpace { value } => match byte {
                b' ' | b'\t' => Ok(State::SizeSpace { value }),
                b';' => Ok(State::Extension { value }),
                b'\r' => Ok(State::SizeLf { value }),
                _ => Err(MalformedChunk),
            },
            State::Extension { value } => match byte {
                b'\r' => Ok(State::SizeLf { value }),
                b'\n' | 0 => Err(MalformedChunk),
                _ => Ok(State::Extension { value }),
            },
            State::SizeLf { value: 0 } => expect(byte, b'\n', State::TrailerStart),
            State::SizeLf { value } => expect(byte, b'\n', State::Data { remaining: value }),
            State::DataCr => expect(byte, b'\r', State::DataLf),
            State::DataLf => expect(
                byte,
                b'\n',
                State::Size {
                    value: 0,
                    digits: 0,
                },
            ),
            State::TrailerStart => match byte {
                b'\r' => Ok(State::EndLf),
                b'\n' | 0 => Err(MalformedChunk),
                _ => Ok(State::TrailerLine),
            },
            State::TrailerLine => match byte {
                b'\r' => Ok(State::TrailerLf),
                b'\n' | 0 => Err(MalformedChunk),
                _ => Ok(State::TrailerLine),
            },
            State::TrailerLf => expect(byte, b'\n', State::TrailerStart),
            State::EndLf => expect(byte, b'\n', State::Done),
            // Data and Done are handled by `feed` before stepping.
            State::Data { .. } | State::Done | State::Failed => Err(MalformedChunk),
        }
    }
}

fn size_digit(value: u64, digits: u8, byte: u8) -> Result<State, MalformedChunk> {
    let Some(digit) = (byte as char).to_digit(16) else {
        return match (digits, byte) {
            (0, _) => Err(MalformedChunk),
            (_, b' ' | b'\t') => Ok(State::SizeSpace { value }),
            (_, b';') => Ok(State::Extension { value }),
            (_, b'\r') => Ok(State::SizeLf { value }),
            _ => Err(MalformedChunk),
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
            b"1\n",
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
    fn rejects_missing_crlf_after_data() {
        let mut d = ChunkedDecoder::new();
        let mut buf = *b"3\r\nabcX\r\n0\r\n\r\n";
        assert_eq!(d.decode_in_place(&mut buf), Err(MalformedChunk));
        let mut d = ChunkedDecoder::new();
        let mut buf = *b"3\r\nabc\n0\r\n\r\n";
        assert_eq!(d.decode_in_place(&mut buf), Err(MalformedChunk));
    }

    #[test]
    fn rejects_bare_lf_in_trailers() {
        let mut d = ChunkedDecoder::new();
        let mut buf = *b"0\r\nX: y\n\r\n";
        assert_eq!(d.decode_in_place(&mut buf), Err(MalformedChunk));
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
