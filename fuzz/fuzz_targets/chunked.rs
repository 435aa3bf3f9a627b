//! Fuzzes the chunked decoder on its own.
//!
//! Input: byte 0 chooses the split size; the rest is a chunked body. Checks: no panic,
//! and decoding in pieces gives exactly what decoding in one piece gives.
#![no_main]

use iot_http::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

/// Decoded body, bytes consumed and whether the body ended; `None` on a framing error.
fn decode(data: &[u8], piece: usize) -> Option<(Vec<u8>, usize, bool)> {
    let mut decoder = ChunkedDecoder::new();
    let mut scratch = data.to_vec();
    let mut body = Vec::with_capacity(data.len());
    let mut consumed = 0;
    for part in scratch.chunks_mut(piece) {
        let step = decoder.decode_in_place(part).ok()?;
        assert!(step.decoded <= step.consumed && step.consumed <= part.len());
        body.extend_from_slice(&part[..step.decoded]);
        consumed += step.consumed;
        if decoder.is_done() {
            break;
        }
        assert_eq!(step.consumed, part.len());
    }
    Some((body, consumed, decoder.is_done()))
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let piece = usize::from(control) + 1;
    let whole = decode(data, data.len().max(1));
    assert_eq!(whole, decode(data, piece));
    assert_eq!(whole, decode(data, 1));
});
