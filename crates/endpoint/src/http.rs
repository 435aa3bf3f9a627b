//! HTTP/1.1 for the endpoint: read one request, and answer it as AWS IoT's publish API does.

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::{ServerConnection, StreamOwned};

pub use crate::publish_api::percent_decode;
use crate::publish_api::{
    Publish, PublishRequest, Rejection, base64_encode, decode_topic, parse_publish,
    user_properties_json,
};
use crate::retained::{RetainOutcome, RetainedStore};
use crate::server::{Behaviour, read_some};

/// AWS IoT's message size limit: larger bodies get 413 (see [`crate::publish_api`]).
pub const MAX_BODY: usize = crate::publish_api::MAX_PAYLOAD;
/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The path, query included.
    pub path: String,
    /// The headers, name and value (the value trimmed; bytes that are not UTF-8 replaced).
    pub headers: Vec<(String, String)>,
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
    /// The publish, if the request was one that passed every check.
    pub publish: Option<Publish>,
    /// What the publish did to the retained messages.
    pub retained: RetainOutcome,
    /// Why the request was refused (the JSON body's message), for a status of 300 or more.
    pub refusal: Option<String>,
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
    let http_1_0 = parsed.version == Some(0);
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|header| {
            (
                header.name.to_owned(),
                String::from_utf8_lossy(header.value).trim().to_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let wants_close =
        header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close")) || http_1_0;
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
        headers,
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
        headers: Vec::new(),
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

/// The answer to `request`, as AWS IoT's HTTPS data plane gives it: `POST /topics/{topic}`
/// (Publish), `GET /retainedMessage/{topic}` (GetRetainedMessage) and `GET /retainedMessage`
/// (ListRetainedMessages). An accepted publish is applied to `retained`.
pub fn answer(request: &Request, behaviour: Behaviour, retained: &RetainedStore) -> Exchange {
    let routed = route(request, behaviour, retained);
    let body = match &routed.body {
        Body::Message(message) => format!(
            "{{\"message\":\"{}\",\"traceId\":\"{}\"}}",
            json_escape(message),
            trace_id()
        ),
        Body::Json(json) => json.clone(),
    };
    let status = routed.status;
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
        publish: routed.publish,
        retained: routed.retained,
        refusal: match routed.body {
            Body::Message(message) if status >= 300 => Some(message),
            _ => None,
        },
    }
}

/// A response body: AWS's `{"message":...,"traceId":...}`, or a JSON document.
enum Body {
    Message(String),
    Json(String),
}

struct Routed {
    status: u16,
    body: Body,
    publish: Option<Publish>,
    retained: RetainOutcome,
}

impl Routed {
    fn message(status: u16, message: impl Into<String>) -> Routed {
        Routed {
            status,
            body: Body::Message(message.into()),
            publish: None,
            retained: RetainOutcome::Untouched,
        }
    }
}

impl From<Rejection> for Routed {
    fn from(rejection: Rejection) -> Routed {
        Routed::message(rejection.status, rejection.message)
    }
}

/// The path of the data plane's retained-message operations.
const RETAINED_PATH: &str = "/retainedMessage";

fn route(request: &Request, behaviour: Behaviour, retained: &RetainedStore) -> Routed {
    if request.malformed {
        return Routed::message(400, "Malformed request");
    }
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    if let Some(encoded_topic) = path.strip_prefix("/topics/") {
        if request.method != "POST" {
            return Routed::message(
                405,
                format!("Method {} is not allowed on /topics", request.method),
            );
        }
        return publish(request, encoded_topic, query, behaviour, retained);
    }
    if path == RETAINED_PATH || path.starts_with("/retainedMessage/") {
        if request.method != "GET" {
            return Routed::message(
                405,
                format!(
                    "Method {} is not allowed on {RETAINED_PATH}",
                    request.method
                ),
            );
        }
        return match path.strip_prefix("/retainedMessage/") {
            Some(encoded_topic) => get_retained(encoded_topic, retained),
            None => Routed {
                status: 200,
                body: Body::Json(list_retained(retained)),
                publish: None,
                retained: RetainOutcome::Untouched,
            },
        };
    }
    Routed::message(404, format!("No such resource: {path}"))
}

fn publish(
    request: &Request,
    encoded_topic: &str,
    query: &str,
    behaviour: Behaviour,
    retained: &RetainedStore,
) -> Routed {
    let parsed = parse_publish(&PublishRequest {
        encoded_topic,
        query,
        headers: &request.headers,
        body: &request.body,
        too_large: request.too_large,
    });
    let publish = match parsed {
        Ok(publish) => publish,
        Err(rejection) => return rejection.into(),
    };
    let (status, message) = match behaviour {
        Behaviour::ForceStatus(status) => {
            (status, format!("Forced status for topic {}", publish.topic))
        }
        Behaviour::Normal
        | Behaviour::CloseWithoutAnswer
        | Behaviour::CloseWithoutAnswerAfter(_)
        | Behaviour::CloseDelimitedBody { .. }
        | Behaviour::Fault(_) => (200, "OK".to_owned()),
    };
    // A publish that AWS would have refused changes nothing.
    let outcome = if (200..300).contains(&status) {
        retained.apply(&publish)
    } else {
        RetainOutcome::Untouched
    };
    Routed {
        status,
        body: Body::Message(message),
        publish: Some(publish),
        retained: outcome,
    }
}

/// GetRetainedMessage: `{"topic","payload" (base64),"qos","lastModifiedTime" (ms since the
/// epoch),"userProperties" (base64 of the JSON array, only if it had some)}`; 404 if the topic
/// has no retained message (ResourceNotFoundException).
fn get_retained(encoded_topic: &str, retained: &RetainedStore) -> Routed {
    let topic = match decode_topic(encoded_topic) {
        Ok(topic) => topic,
        Err(rejection) => return rejection.into(),
    };
    let Some(message) = retained.get(&topic) else {
        return Routed::message(404, format!("No retained message for topic {topic}"));
    };
    let mut document = serde_json::json!({
        "topic": message.topic,
        "payload": base64_encode(&message.payload),
        "qos": message.qos,
        "lastModifiedTime": message.last_modified_ms,
    });
    if let Some(properties) = &message.user_properties {
        document["userProperties"] =
            base64_encode(user_properties_json(properties).as_bytes()).into();
    }
    Routed {
        status: 200,
        body: Body::Json(document.to_string()),
        publish: None,
        retained: RetainOutcome::Untouched,
    }
}

/// ListRetainedMessages, in one page: `{"retainedTopics":[{"topic","payloadSize","qos",
/// "lastModifiedTime"}]}`.
fn list_retained(retained: &RetainedStore) -> String {
    let topics: Vec<serde_json::Value> = retained
        .list()
        .into_iter()
        .map(|message| {
            serde_json::json!({
                "topic": message.topic,
                "payloadSize": message.payload.len(),
                "qos": message.qos,
                "lastModifiedTime": message.last_modified_ms,
            })
        })
        .collect();
    serde_json::json!({ "retainedTopics": topics }).to_string()
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
            headers: Vec::new(),
            body: Vec::new(),
            too_large: false,
            wants_close: false,
            malformed: false,
        }
    }

    fn status(method: &str, path: &str, behaviour: Behaviour) -> u16 {
        route(&request(method, path), behaviour, &RetainedStore::default()).status
    }

    #[test]
    fn publishes_are_answered_like_aws_iot() {
        let normal = Behaviour::Normal;
        assert_eq!(status("POST", "/topics/a%2Fb?qos=1", normal), 200);
        assert_eq!(
            status("POST", "/topics/sensors?qos=0&retain=true", normal),
            200
        );
        assert_eq!(status("POST", "/topics/a?qos=2", normal), 400);
        assert_eq!(status("POST", "/topics/%zz", normal), 400);
        assert_eq!(status("GET", "/topics/a?qos=1", normal), 405);
        assert_eq!(status("POST", "/things/a", normal), 404);
        assert_eq!(
            status("POST", "/topics/a?qos=1", Behaviour::ForceStatus(403)),
            403
        );
        // The forced status comes after validation.
        assert_eq!(
            status("POST", "/topics/a?qos=5", Behaviour::ForceStatus(403)),
            400
        );
    }

    #[test]
    fn retained_messages_are_kept_read_and_deleted() {
        let store = RetainedStore::default();
        let mut publish = request("POST", "/topics/a%2Fb?qos=1&retain=true");
        publish.body = b"hi".to_vec();
        let exchange = answer(&publish, Behaviour::Normal, &store);
        assert_eq!(exchange.retained, RetainOutcome::Stored);
        assert_eq!(exchange.publish.expect("parsed").topic, "a/b");
        let read = answer(
            &request("GET", "/retainedMessage/a%2Fb"),
            Behaviour::Normal,
            &store,
        );
        let text = String::from_utf8(read.bytes).expect("text");
        let body = &text[text.find("\r\n\r\n").expect("head") + 4..];
        let document: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(document["topic"], "a/b");
        assert_eq!(document["payload"], "aGk=");
        assert_eq!(document["qos"], 1);
        assert!(
            document["lastModifiedTime"]
                .as_u64()
                .is_some_and(|ms| ms > 0)
        );
        assert!(document.get("userProperties").is_none());
        // Refused publishes change nothing.
        publish.body.clear();
        let forced = answer(&publish, Behaviour::ForceStatus(503), &store);
        assert_eq!(forced.retained, RetainOutcome::Untouched);
        assert!(store.get("a/b").is_some());
        assert_eq!(
            answer(&publish, Behaviour::Normal, &store).retained,
            RetainOutcome::Deleted
        );
        assert_eq!(
            route(
                &request("GET", "/retainedMessage/a%2Fb"),
                Behaviour::Normal,
                &store
            )
            .status,
            404
        );
        assert_eq!(status("POST", "/retainedMessage/a", Behaviour::Normal), 405);
        assert_eq!(
            status("GET", "/retainedMessage/a%2B", Behaviour::Normal),
            400
        );
        assert_eq!(status("GET", "/retainedMessage", Behaviour::Normal), 200);
    }

    #[test]
    fn answers_carry_a_json_body_with_a_trace_id() {
        let exchange = answer(
            &request("POST", "/topics/a?qos=1"),
            Behaviour::Normal,
            &RetainedStore::default(),
        );
        let text = String::from_utf8(exchange.bytes).expect("text");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("{\"message\":\"OK\",\"traceId\":\""),
            "{text}"
        );
        assert_ne!(trace_id(), trace_id());
    }

    #[test]
    fn refusals_name_their_cause() {
        let exchange = answer(
            &request("POST", "/topics/a?qos=7"),
            Behaviour::Normal,
            &RetainedStore::default(),
        );
        assert_eq!(exchange.status, 400);
        assert_eq!(
            exchange.refusal.as_deref(),
            Some("Invalid qos: 7 (must be 0 or 1)")
        );
        let text = String::from_utf8(exchange.bytes).expect("text");
        assert!(
            text.contains("\"message\":\"Invalid qos: 7 (must be 0 or 1)\""),
            "{text}"
        );
    }
}
