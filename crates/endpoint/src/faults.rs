//! Faults the endpoint can commit on purpose, so that tests (and users, with `iot-server serve
//! --behaviour NAME`) see how a device copes with servers that misbehave.
//!
//! Each [`Fault`] changes how a publish is answered; the request is read and checked as usual
//! first (except by [`Fault::AnswerBeforeBody`], which does not wait for the body). The names
//! that [`Behaviour::from_str`](std::str::FromStr) reads are in [`BEHAVIOUR_NAMES`].

use std::fmt;
use std::io::{self, Write};
use std::net::TcpStream;
use std::str::FromStr;
use std::thread;
use std::time::Duration;

use rustls::{ServerConnection, StreamOwned};

use crate::http::{self, Exchange, Request};
use crate::retained::RetainedStore;
use crate::server::Behaviour;

/// A way of answering that is wrong, late or unusual (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The answer comes after this pause. Valid.
    SlowAnswer(Duration),
    /// The request is read and never answered; the connection stays open until the client
    /// leaves (or the idle timeout).
    NeverAnswer,
    /// The head (announcing a body) is sent, then close_notify and the end of the connection.
    CloseAfterHeaders,
    /// The head and half the body are sent, then close_notify.
    TruncateBody,
    /// The head and half the body are sent, then a TCP reset.
    ResetMidBody,
    /// The status line is not HTTP's (`HTTP/1.1 2OO OK`).
    MalformedStatusLine,
    /// A header line without a colon.
    MalformedHeader,
    /// A header line with an empty name (`: value`).
    EmptyHeaderName,
    /// A chunked body whose chunk size is not hexadecimal.
    BadChunkSize,
    /// Two `Content-Length` headers that disagree.
    ConflictingContentLength,
    /// A `Content-Length` beyond 64 bits.
    OverflowingContentLength,
    /// A header of 8 KiB, more than a device keeps for a response head.
    OversizedHeader,
    /// `100 Continue` before the final response. Valid.
    Informational,
    /// The body in chunks, with a chunk extension and a trailer. Valid.
    Chunked,
    /// The response one byte per TLS record. Valid.
    OneByteAtATime,
    /// Instead of an answer, a fatal TLS alert (`bad_record_mac`), as a server sends when a
    /// record does not decrypt.
    AlertAfterHandshake,
    /// The answer as soon as the request head is in, before the body; then the body is read
    /// and the connection reset, like servers that drop a connection once they are done with
    /// it. The answer was sent first, so a client must still get it. Valid.
    AnswerBeforeBody,
}

/// The names [`Behaviour`] parses from, for help texts.
pub const BEHAVIOUR_NAMES: &str = "normal, status=NNN, close-without-answer, \
close-without-answer-after=N, close-delimited, close-delimited-without-close-notify, \
slow=MS, never-answer, close-after-headers, truncate-body, reset-mid-body, \
malformed-status-line, malformed-header, empty-header-name, bad-chunk-size, \
conflicting-content-length, overflowing-content-length, oversized-header, informational, \
chunked, one-byte-at-a-time, alert-after-handshake, answer-before-body";

/// A behaviour name that is not one of [`BEHAVIOUR_NAMES`], or has a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownBehaviour(pub String);

impl fmt::Display for UnknownBehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown behaviour {:?} (known: {BEHAVIOUR_NAMES})",
            self.0
        )
    }
}

impl std::error::Error for UnknownBehaviour {}

impl FromStr for Behaviour {
    type Err = UnknownBehaviour;

    fn from_str(text: &str) -> Result<Behaviour, UnknownBehaviour> {
        let unknown = || UnknownBehaviour(text.to_owned());
        let (name, value) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        let number = |value: Option<&str>| value.and_then(|value| value.parse::<u64>().ok());
        let fault = |fault| Ok(Behaviour::Fault(fault));
        match (name, value) {
            ("normal", None) => Ok(Behaviour::Normal),
            ("status", value) => number(value)
                .and_then(|status| u16::try_from(status).ok())
                .filter(|status| (200..600).contains(status))
                .map(Behaviour::ForceStatus)
                .ok_or_else(unknown),
            ("close-without-answer", None) => Ok(Behaviour::CloseWithoutAnswer),
            ("close-without-answer-after", value) => number(value)
                .and_then(|count| usize::try_from(count).ok())
                .map(Behaviour::CloseWithoutAnswerAfter)
                .ok_or_else(unknown),
            ("close-delimited", None) => Ok(Behaviour::CloseDelimitedBody { close_notify: true }),
            ("close-delimited-without-close-notify", None) => Ok(Behaviour::CloseDelimitedBody {
                close_notify: false,
            }),
            ("slow", value) => number(value)
                .map(|ms| Behaviour::Fault(Fault::SlowAnswer(Duration::from_millis(ms))))
                .ok_or_else(unknown),
            ("never-answer", None) => fault(Fault::NeverAnswer),
            ("close-after-headers", None) => fault(Fault::CloseAfterHeaders),
            ("truncate-body", None) => fault(Fault::TruncateBody),
            ("reset-mid-body", None) => fault(Fault::ResetMidBody),
            ("malformed-status-line", None) => fault(Fault::MalformedStatusLine),
            ("malformed-header", None) => fault(Fault::MalformedHeader),
            ("empty-header-name", None) => fault(Fault::EmptyHeaderName),
            ("bad-chunk-size", None) => fault(Fault::BadChunkSize),
            ("conflicting-content-length", None) => fault(Fault::ConflictingContentLength),
            ("overflowing-content-length", None) => fault(Fault::OverflowingContentLength),
            ("oversized-header", None) => fault(Fault::OversizedHeader),
            ("informational", None) => fault(Fault::Informational),
            ("chunked", None) => fault(Fault::Chunked),
            ("one-byte-at-a-time", None) => fault(Fault::OneByteAtATime),
            ("alert-after-handshake", None) => fault(Fault::AlertAfterHandshake),
            ("answer-before-body", None) => fault(Fault::AnswerBeforeBody),
            _ => Err(unknown()),
        }
    }
}

/// A TLS stream to the client.
type Tls = StreamOwned<ServerConnection, TcpStream>;

/// The head of `exchange` (status line and headers, without the empty line) and its body.
fn split(exchange: &Exchange) -> (&[u8], &[u8]) {
    let end = exchange
        .bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(exchange.bytes.len());
    let body = exchange.bytes.get(end + 4..).unwrap_or_default();
    (&exchange.bytes[..end], body)
}

/// The answer's text with `fault`, for the faults that only change the bytes.
fn faulty_bytes(exchange: &Exchange, fault: Fault) -> Option<Vec<u8>> {
    let (head, body) = split(exchange);
    let head = String::from_utf8_lossy(head);
    let status_line = head.lines().next().unwrap_or_default();
    let body_text = String::from_utf8_lossy(body);
    let length = body.len();
    let text = match fault {
        Fault::MalformedStatusLine => {
            let rest = head.split_once("\r\n").map_or("", |(_, rest)| rest);
            format!("HTTP/1.1 2OO OK\r\n{rest}\r\n\r\n{body_text}")
        }
        Fault::MalformedHeader => format!(
            "{status_line}\r\nContent-Type application/json\r\nContent-Length: {length}\r\n\r\n{body_text}"
        ),
        Fault::EmptyHeaderName => {
            format!("{status_line}\r\n: no-name\r\nContent-Length: {length}\r\n\r\n{body_text}")
        }
        Fault::BadChunkSize => format!(
            "{status_line}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{body_text}\r\n0\r\n\r\n"
        ),
        Fault::ConflictingContentLength => format!(
            "{status_line}\r\nContent-Length: {length}\r\nContent-Length: {}\r\n\r\n{body_text}",
            length + 1
        ),
        Fault::OverflowingContentLength => {
            format!("{status_line}\r\nContent-Length: 184467440737095516160\r\n\r\n{body_text}")
        }
        Fault::OversizedHeader => format!(
            "{head}\r\nX-Padding: {}\r\n\r\n{body_text}",
            "a".repeat(8 * 1024)
        ),
        Fault::Informational => format!(
            "HTTP/1.1 100 Continue\r\n\r\n{}",
            String::from_utf8_lossy(&exchange.bytes)
        ),
        Fault::Chunked => {
            let (first, second) = body_text.split_at(body_text.len() / 2);
            let without_length: Vec<&str> = head
                .split("\r\n")
                .filter(|line| !line.to_ascii_lowercase().starts_with("content-length:"))
                .collect();
            format!(
                "{}\r\nTransfer-Encoding: chunked\r\n\r\n{:x};part=one\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\nX-Trailer: done\r\n\r\n",
                without_length.join("\r\n"),
                first.len(),
                second.len()
            )
        }
        _ => return None,
    };
    Some(text.into_bytes())
}

/// Answers `exchange` with `fault`. Returns whether the connection may serve another request.
pub(crate) fn answer(tls: &mut Tls, exchange: &Exchange, fault: Fault) -> bool {
    if let Some(bytes) = faulty_bytes(exchange, fault) {
        let sent = tls.write_all(&bytes).and_then(|()| tls.flush()).is_ok();
        return sent && !exchange.close && !fault_breaks_framing(fault);
    }
    let (head, body) = split(exchange);
    let half = body.get(..body.len() / 2).unwrap_or_default();
    match fault {
        Fault::SlowAnswer(pause) => {
            thread::sleep(pause);
            tls.write_all(&exchange.bytes)
                .and_then(|()| tls.flush())
                .is_ok()
                && !exchange.close
        }
        Fault::NeverAnswer => {
            // Wait for the client to give up: reading returns at its close or the idle timeout.
            let mut sink = [0u8; 512];
            while matches!(std::io::Read::read(tls, &mut sink), Ok(count) if count > 0) {}
            false
        }
        Fault::CloseAfterHeaders | Fault::TruncateBody => {
            let cut = if fault == Fault::CloseAfterHeaders {
                &[][..]
            } else {
                half
            };
            let _ = write_parts(tls, &[head, b"\r\n\r\n", cut]);
            tls.conn.send_close_notify();
            let _ = tls.flush();
            false
        }
        Fault::ResetMidBody => {
            let _ = write_parts(tls, &[head, b"\r\n\r\n", half]);
            reset(tls);
            false
        }
        Fault::OneByteAtATime => {
            for byte in &exchange.bytes {
                if tls
                    .write_all(std::slice::from_ref(byte))
                    .and_then(|()| tls.flush())
                    .is_err()
                {
                    return false;
                }
            }
            !exchange.close
        }
        Fault::AlertAfterHandshake => {
            send_fatal_alert(tls);
            false
        }
        // Handled before the request body is read (see `answer_before_body`), or above.
        _ => false,
    }
}

/// Faults after which the stream's framing is lost: the connection must end.
fn fault_breaks_framing(fault: Fault) -> bool {
    !matches!(fault, Fault::Informational | Fault::Chunked)
}

fn write_parts(tls: &mut Tls, parts: &[&[u8]]) -> io::Result<()> {
    for part in parts {
        tls.write_all(part)?;
    }
    tls.flush()
}

/// Ends the connection with a TCP reset (SO_LINGER 0, then close).
fn reset(tls: &mut Tls) {
    let _ = socket2::SockRef::from(&tls.sock).set_linger(Some(Duration::ZERO));
    let _ = tls.sock.shutdown(std::net::Shutdown::Read);
}

/// Makes rustls send a genuine, encrypted fatal alert: it is fed a record that cannot decrypt,
/// as if the client had sent it, and answers with `bad_record_mac`.
fn send_fatal_alert(tls: &mut Tls) {
    // An application-data record header and 32 bytes that are no valid ciphertext.
    let mut forged: Vec<u8> = vec![0x17, 0x03, 0x03, 0x00, 0x20];
    forged.extend_from_slice(&[0x5a; 32]);
    let _ = tls.conn.read_tls(&mut forged.as_slice());
    let _ = tls.conn.process_new_packets();
    while tls.conn.wants_write() {
        if tls.conn.write_tls(&mut tls.sock).is_err() {
            break;
        }
    }
    let _ = tls.sock.shutdown(std::net::Shutdown::Write);
    // Let the client read the alert before the socket closes (see `lingering_close`).
    let _ = tls.sock.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 512];
    while matches!(std::io::Read::read(&mut tls.sock, &mut sink), Ok(count) if count > 0) {}
}

/// [`Fault::AnswerBeforeBody`]: reads the request head from `buffer` (filled from `tls`),
/// answers at once, then reads the body and resets the connection. Returns the request (its
/// body empty) and the status sent, or `None` if the client left first.
pub(crate) fn answer_before_body(
    tls: &mut Tls,
    buffer: &mut Vec<u8>,
    retained: &RetainedStore,
) -> io::Result<Option<(Request, u16)>> {
    let Some((request, body_length)) = http::read_head(tls, buffer)? else {
        return Ok(None);
    };
    // Answered before the body is read, so the publish is checked (and retained) as if it had
    // an empty payload: only for testing how clients cope with early answers.
    let exchange = http::answer(&request, Behaviour::Normal, retained);
    tls.write_all(&exchange.bytes)?;
    tls.flush()?;
    // Now the body, which the answer did not wait for; then the connection is dropped hard.
    let _ = http::skip_body(tls, buffer, body_length);
    reset(tls);
    Ok(Some((request, exchange.status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_parses_and_unknown_ones_are_refused() {
        for name in BEHAVIOUR_NAMES.split(", ") {
            let name = name
                .replace("NNN", "503")
                .replace("=N", "=2")
                .replace("MS", "100");
            assert!(name.parse::<Behaviour>().is_ok(), "{name}");
        }
        assert_eq!(
            "slow=250".parse::<Behaviour>(),
            Ok(Behaviour::Fault(Fault::SlowAnswer(Duration::from_millis(
                250
            ))))
        );
        assert_eq!(
            "status=404".parse::<Behaviour>(),
            Ok(Behaviour::ForceStatus(404))
        );
        for bad in [
            "",
            "slow",
            "status=99",
            "status=x",
            "never-answer=1",
            "explode",
        ] {
            let error = bad.parse::<Behaviour>().unwrap_err();
            assert!(error.to_string().contains("known: normal"), "{bad}");
        }
    }

    fn exchange() -> Exchange {
        let body = r#"{"message":"OK","traceId":"t"}"#;
        Exchange {
            status: 200,
            bytes: format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
            close: false,
            publish: None,
            retained: crate::retained::RetainOutcome::Untouched,
            refusal: None,
        }
    }

    fn text(fault: Fault) -> String {
        String::from_utf8(faulty_bytes(&exchange(), fault).expect("a byte fault")).unwrap()
    }

    #[test]
    fn the_byte_faults_break_exactly_one_rule() {
        assert!(text(Fault::MalformedStatusLine).starts_with("HTTP/1.1 2OO OK\r\nContent-Type"));
        assert!(text(Fault::MalformedHeader).contains("\r\nContent-Type application/json\r\n"));
        assert!(text(Fault::EmptyHeaderName).contains("\r\n: no-name\r\n"));
        assert!(text(Fault::BadChunkSize).contains("\r\n\r\nzz\r\n"));
        let conflicting = text(Fault::ConflictingContentLength);
        assert!(conflicting.contains("Content-Length: 30\r\nContent-Length: 31\r\n"));
        assert!(text(Fault::OverflowingContentLength).contains("184467440737095516160"));
        assert!(text(Fault::OversizedHeader).len() > 8 * 1024);
        assert!(
            text(Fault::Informational).starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200")
        );
    }

    #[test]
    fn the_chunked_answer_is_valid_chunked_framing_of_the_same_body() {
        let chunked = text(Fault::Chunked);
        let (head, body) = chunked.split_once("\r\n\r\n").unwrap();
        assert!(!head.to_ascii_lowercase().contains("content-length"));
        assert!(head.ends_with("Transfer-Encoding: chunked"));
        assert_eq!(
            body,
            "f;part=one\r\n{\"message\":\"OK\"\r\nf\r\n,\"traceId\":\"t\"}\r\n0\r\nX-Trailer: done\r\n\r\n"
        );
    }
}
