//! HTTP/1.1 for the endpoint: read one request, and answer it as AWS IoT's publish API does.

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::{ServerConnection, StreamOwned};

use crate::server::{Behaviour, read_some};

/// AWS IoT's message size limit: larger bodies get 413.
pub const MAX_BODY: usize = 128 * 1024;
/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The path, query included.
    pub path: String,
    /// The body (empty if it was too large; `too_large` is then set).
    pub body: Vec<u8>,
    /// The body exceeded [`MAX_BODY`].
    pub too_large: bool,
    /// The client asked to close after this request.
    pub wants_close: bool,
    /// The head could not be parsed.
    pub malformed: bool,
}

/// The answer to send.
pub struct Exchange {
    /// Status code.
    pub status: u16,
    /// The whole response.
    pub bytes: Vec<u8>,
    /// Close after sending.
    pub close: bool,
}

/// Reads the next request from `tls`, using `buffer` for bytes read ahead. `Ok(None)` when the
/// client ended the connection with close_notify before a new request.
pub fn read_request(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
    let Some((mut request, length)) = read_head(tls, buffer)? else {
        return Ok(None);
    };
    if request.malformed {
        return Ok(Some(request));
    }
    let body = read_body(tls, buffer, length)?;
    if !request.too_large {
        request.body = body;
    }
    Ok(Some(request))
}

/// Reads the next request head from `tls` (via `buffer`), and leaves its body unread. Returns
/// the request with an empty body and the body's length; `Ok(None)` when the client ended the
/// connection with close_notify before a new request.
pub fn read_head(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<(Request, usize)>> {
    let head_length = loop {
        if let Some(end) = find_head_end(buffer) {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            buffer.clear();
            return Ok(Some((malformed(), 0)));
        }
        if !fill(tls, buffer)? {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "request cut short",
                ))
            };
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = parsed.parse(&buffer[..head_length]) else {
        buffer.clear();
        return Ok(Some((malformed(), 0)));
    };
    let method = parsed.method.unwrap_or_default().to_owned();
    let path = parsed.path.unwrap_or_default().to_owned();
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| String::from_utf8_lossy(header.value).trim().to_owned())
    };
    let wants_close = header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"))
        || parsed.version == Some(0);
    let length = match header("content-length").map(|value| value.parse::<usize>()) {
        None => 0,
        Some(Ok(length)) => length,
        Some(Err(_)) => {
            buffer.clear();
            return Ok(Some((malformed(), 0)));
        }
    };
    buffer.drain(..head_length);
    let too_large = length > MAX_BODY;
    let request = Request {
        method,
        path,
        body: Vec::new(),
        too_large,
        wants_close: wants_close || too_large,
        malformed: false,
    };
    Ok(Some((request, length)))
}

/// Reads and drops `length` body bytes.
pub fn skip_body(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut Vec<u8>,
    length: usize,
) -> io::Result<()> {
    let mut remaining = length;
    loop {
        let take = remaining.min(buffer.len());
        buffer.drain(..take);
        remaining -= take;
        if remaining == 0 {
            return Ok(());
        }
        if !fill(tls, buffer)? {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "body cut short"));
        }
    }
}

fn malformed() -> Request {
    Request {
        method: String::new(),
        path: String::new(),
        body: Vec::new(),
        too_large: false,
        wants_close: true,
        malformed: true,
    }
}

/// Reads `length` body bytes (keeping at most [`MAX_BODY`] of them).
fn read_body(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut Vec<u8>,
    length: usize,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(length.min(MAX_BODY));
    let mut remaining = length;
    loop {
        let take = remaining.min(buffer.len());
        if body.len() + take <= MAX_BODY {
            body.extend_from_slice(&buffer[..take]);
        }
        buffer.drain(..take);
        remaining -= take;
        if remaining == 0 {
            return Ok(body);
        }
        if !fill(tls, buffer)? {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "body cut short"));
        }
    }
}

/// Reads more bytes into `buffer`; false on close_notify.
fn fill(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut Vec<u8>,
) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let count = read_some(tls, &mut chunk)?;
    buffer.extend_from_slice(&chunk[..count]);
    Ok(count > 0)
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

static TRACE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique trace id, like AWS IoT's.
fn trace_id() -> String {
    let count = TRACE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!(
        "{:08x}-{:04x}-{:04x}-{:012x}",
        (nanos >> 32) as u32,
        (nanos >> 16) as u16,
        count as u16,
        (nanos as u64 ^ count.rotate_left(17)) & 0xffff_ffff_ffff
    )
}

/// The answer to `request`, as AWS IoT's HTTPS publish API gives it.
pub fn answer(request: &Request, behaviour: Behaviour) -> Exchange {
    let (status, message) = route(request, behaviour);
    let body = format!(
        "{{\"message\":\"{}\",\"traceId\":\"{}\"}}",
        json_escape(&message),
        trace_id()
    );
    let close = request.wants_close || status >= 500;
    let bytes = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{body}",
        reason(status),
        body.len(),
        if close { "close" } else { "keep-alive" }
    );
    Exchange {
        status,
        bytes: bytes.into_bytes(),
        close,
    }
}

fn route(request: &Request, behaviour: Behaviour) -> (u16, String) {
    if request.malformed {
        return (400, "Malformed request".into());
    }
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let Some(encoded_topic) = path.strip_prefix("/topics/") else {
        return (404, "Not Found".into());
    };
    if request.method != "POST" {
        return (
            405,
            format!("Method {} is not allowed on /topics", request.method),
        );
    }
    let Some(topic) = percent_decode(encoded_topic).filter(|topic| !topic.is_empty()) else {
        return (400, "Invalid topic".into());
    };
    if let Some(why) = invalid_query(query) {
        return (400, why);
    }
    if request.too_large {
        return (413, "Payload too large".into());
    }
    match behaviour {
        Behaviour::ForceStatus(status) => (status, format!("Forced status for topic {topic}")),
        Behaviour::Normal
        | Behaviour::CloseWithoutAnswer
        | Behaviour::CloseWithoutAnswerAfter(_)
        | Behaviour::CloseDelimitedBody { .. }
        | Behaviour::Fault(_) => (200, "OK".into()),
    }
}

/// Checks the query parameters AWS IoT's publish API takes.
fn invalid_query(query: &str) -> Option<String> {
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "qos" if !matches!(value, "0" | "1") => return Some(format!("Invalid qos: {value}")),
            "retain" if !matches!(value, "true" | "false") => {
                return Some(format!("Invalid retain: {value}"));
            }
            "messageExpiry" if value.parse::<u64>().is_err() => {
                return Some(format!("Invalid messageExpiry: {value}"));
            }
            "qos"
            | "retain"
            | "messageExpiry"
            | "contentType"
            | "responseTopic"
            | "correlationData"
            | "payloadFormatIndicator"
            | "userProperties" => {}
            other => return Some(format!("Unknown query parameter: {other}")),
        }
    }
    None
}

/// Percent-decodes a path segment; `None` for a bad escape or text that is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn json_escape(text: &str) -> String {
    text.chars()
        .flat_map(|character| match character {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            control if control.is_control() => {
                format!("\\u{:04x}", control as u32).chars().collect()
            }
            other => vec![other],
        })
        .collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            body: Vec::new(),
            too_large: false,
            wants_close: false,
            malformed: false,
        }
    }

    #[test]
    fn publishes_are_answered_like_aws_iot() {
        assert_eq!(
            route(&request("POST", "/topics/a%2Fb?qos=1"), Behaviour::Normal).0,
            200
        );
        assert_eq!(
            route(
                &request("POST", "/topics/sensors?qos=0&retain=true"),
                Behaviour::Normal
            )
            .0,
            200
        );
        assert_eq!(
            route(&request("POST", "/topics/a?qos=2"), Behaviour::Normal).0,
            400
        );
        assert_eq!(
            route(&request("POST", "/topics/a?qos=abc"), Behaviour::Normal).0,
            400
        );
        assert_eq!(
            route(&request("POST", "/topics/%zz"), Behaviour::Normal).0,
            400
        );
        assert_eq!(
            route(&request("GET", "/topics/a?qos=1"), Behaviour::Normal).0,
            405
        );
        assert_eq!(
            route(&request("POST", "/things/a"), Behaviour::Normal).0,
            404
        );
        assert_eq!(
            route(
                &request("POST", "/topics/a?qos=1"),
                Behaviour::ForceStatus(403)
            )
            .0,
            403
        );
    }

    #[test]
    fn answers_carry_a_json_body_with_a_trace_id() {
        let exchange = answer(&request("POST", "/topics/a?qos=1"), Behaviour::Normal);
        let text = String::from_utf8(exchange.bytes).expect("text");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("{\"message\":\"OK\",\"traceId\":\""),
            "{text}"
        );
        assert_ne!(trace_id(), trace_id());
    }

    #[test]
    fn topics_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
