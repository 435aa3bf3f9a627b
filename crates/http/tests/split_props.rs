//! Property tests: a response parses the same however it is split, and no input panics.

mod support;

use iot_http::{ChunkedDecoder, ConnectionOutcome, Error, Method, StatusCode};
use proptest::prelude::*;
use support::{LinkDown, Scripted, chunked, client, drain, get, request};

#[derive(Debug, Clone)]
enum Framing {
    Length,
    Chunked(usize),
    UntilClose,
}

#[derive(Debug, Clone)]
struct Case {
    interim: bool,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
}

impl Case {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.interim {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        out.extend_from_slice(format!("HTTP/1.1 {} Some Reason\r\n", self.status).as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        match self.framing {
            Framing::Length => out.extend_from_slice(
                format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes(),
            ),
            Framing::Chunked(_) => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n"),
            Framing::UntilClose => out.extend_from_slice(b"\r\n"),
        }
        // A 204 or 304 has no body whatever its headers say, so the server sends none.
        match self.framing {
            _ if self.forbids_body() => {}
            Framing::Chunked(size) => out.extend_from_slice(&chunked(&self.body, size)),
            _ => out.extend_from_slice(&self.body),
        }
        out
    }

    fn forbids_body(&self) -> bool {
        StatusCode::new(self.status).unwrap().forbids_body()
    }

    fn expected_body(&self) -> &[u8] {
        if self.forbids_body() { b"" } else { &self.body }
    }
}

fn case() -> impl Strategy<Value = Case> {
    let header =
        ("X-[A-Za-z0-9-]{1,12}", "[ -~]{0,20}").prop_map(|(n, v)| (n, v.trim().to_string()));
    let framing = prop_oneof![
        Just(Framing::Length),
        (1usize..64).prop_map(Framing::Chunked),
        Just(Framing::UntilClose)
    ];
    (
        any::<bool>(),
        prop::sample::select(vec![200u16, 201, 204, 206, 304, 403, 404, 429, 500, 503]),
        prop::collection::vec(header, 0..6),
        prop_oneof![1 => Just(Vec::new()), 4 => prop::collection::vec(any::<u8>(), 0..400)],
        framing,
    )
        .prop_map(|(interim, status, headers, body, framing)| Case {
            interim,
            status,
            headers,
            body,
            framing,
        })
}

type Outcome = (u16, Vec<(String, Vec<u8>)>, Vec<u8>, ConnectionOutcome);

fn run_whole(bytes: &[u8], sizes: &[usize]) -> Result<Outcome, Error<LinkDown>> {
    let mut c = client(Scripted::pieces(bytes, sizes));
    let (mut req_buf, mut buf) = ([0u8; 128], vec![0u8; 2048]);
    let r = c.send(&get(&mut req_buf), b"", &mut buf)?;
    let headers = r
        .head
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect();
    Ok((r.status().as_u16(), headers, r.body.to_vec(), r.connection))
}

fn run_streaming(bytes: &[u8], sizes: &[usize], step: usize) -> Result<Vec<u8>, Error<LinkDown>> {
    let mut c = client(Scripted::pieces(bytes, sizes));
    let (mut req_buf, mut buf) = ([0u8; 128], vec![0u8; 512]);
    let mut r = c.send_streaming(&get(&mut req_buf), b"", &mut buf)?;
    drain(&mut r.body, step)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_split_parses_the_same(case in case(), sizes in prop::collection::vec(1usize..40, 1..30)) {
        let bytes = case.bytes();
        let reference = run_whole(&bytes, &[usize::MAX]).unwrap();
        prop_assert_eq!(&reference.2[..], case.expected_body());
        prop_assert_eq!(reference.0, case.status);
        prop_assert_eq!(run_whole(&bytes, &sizes).unwrap(), reference);
    }

    #[test]
    fn streaming_matches_whole_reads(case in case(), sizes in prop::collection::vec(1usize..40, 1..30), step in 1usize..100) {
        let bytes = case.bytes();
        prop_assert_eq!(run_streaming(&bytes, &sizes, step).unwrap(), case.expected_body());
    }

    #[test]
    fn chunked_decoding_is_split_independent(body in prop::collection::vec(any::<u8>(), 0..300), size in 1usize..50, cut in prop::collection::vec(1usize..20, 1..20)) {
        let encoded = chunked(&body, size);
        let mut decoder = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < encoded.len() {
            let end = (at + cut[i % cut.len()]).min(encoded.len());
            let mut piece = encoded[at..end].to_vec();
            let step = decoder.decode_in_place(&mut piece).unwrap();
            out.extend_from_slice(&piece[..step.decoded]);
            prop_assert_eq!(step.consumed, end - at);
            at = end;
            i += 1;
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(out, body);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), sizes in prop::collection::vec(1usize..64, 1..8), head in any::<bool>()) {
        let method = if head { Method::Head } else { Method::Get };
        let mut c = client(Scripted::pieces(&bytes, &sizes));
        let (mut req_buf, mut buf) = ([0u8; 128], [0u8; 256]);
        let _ = c.send(&request(&mut req_buf, method), b"", &mut buf);
        let mut c = client(Scripted::pieces(&bytes, &sizes));
        if let Ok(mut r) = c.send_streaming(&get(&mut req_buf), b"", &mut buf) {
            let _ = drain(&mut r.body, 16);
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_head_never_panic(tail in prop::collection::vec(any::<u8>(), 0..300), te in any::<bool>()) {
        let head: &[u8] = if te { b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" } else { b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" };
        let bytes = [head, &tail].concat();
        let _ = run_whole(&bytes, &[7]);
        let _ = run_streaming(&bytes, &[5], 3);
    }
}

#[test]
fn every_two_way_split_of_fixed_responses() {
    let responses: [&[u8]; 3] = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: \r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.0 200\r\n\r\nuntil close",
    ];
    for bytes in responses {
        let reference = run_whole(bytes, &[usize::MAX]).unwrap();
        for cut in 1..bytes.len() {
            assert_eq!(
                run_whole(bytes, &[cut, usize::MAX]).unwrap(),
                reference,
                "cut at {cut}"
            );
            assert_eq!(
                run_streaming(bytes, &[cut, usize::MAX], 2).unwrap(),
                reference.2,
                "cut at {cut}"
            );
        }
    }
}
