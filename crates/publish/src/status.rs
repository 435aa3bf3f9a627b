//! What AWS IoT's answer means: published, or refused with a status, the server's message,
//! and whether trying again can help.

use core::fmt;

/// Whether a refused publish is worth another try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The refusal can pass by itself (throttling, a server fault): try again after an
    /// exponential backoff with jitter, so that many devices do not come back together.
    WithBackoff,
    /// The same request will be refused again (bad request, credentials, policy, size):
    /// trying again only costs a connection.
    Never,
}

/// The retry decision for a status that is not a success.
///
/// - **Retried with backoff:** 429 (throttled), 500 (internal failure) and 503 (service
///   unavailable), the transient errors AWS IoT's data plane documents; also 502 and 504,
///   which a proxy or load balancer in front of a server gives for the same reasons (the
///   demo retried them before this crate, and still does).
/// - **Never retried:** 400, 401, 403, 404, 409, 413 and 422 (what AWS IoT documents for
///   requests that are wrong in themselves), and every other status: 1xx/3xx answers, any
///   other 4xx, and any other 5xx (such as 501 or 505, which a retry cannot change).
pub fn retry_for(status: u16) -> Retry {
    match status {
        429 | 500 | 502 | 503 | 504 => Retry::WithBackoff,
        _ => Retry::Never,
    }
}

/// The answer to a publish, read from its status and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome<'a> {
    /// A 2xx status: the message was accepted.
    Published {
        /// The status, 200 from AWS IoT.
        status: u16,
    },
    /// Any other status.
    Rejected(Rejection<'a>),
}

/// A publish the server refused.
///
/// `Display` names the status, what it means and the server's message, e.g.
/// `403 forbidden (the device's policy does not allow this publish): Forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection<'a> {
    /// The HTTP status.
    pub status: u16,
    /// Whether to try again ([`retry_for`]).
    pub retry: Retry,
    /// What the server said.
    pub message: ServerMessage<'a>,
}

impl fmt::Display for Rejection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            meaning(self.status),
            self.message
        )
    }
}

impl core::error::Error for Rejection<'_> {}

/// Reads the answer to a publish: `status` and the response `body`.
///
/// A refusal's message is the `message` member of AWS IoT's JSON error body
/// (`{"message": "...", "traceId": "..."}`) when there is one, or else an excerpt of the
/// body. Any bytes are accepted: nothing in `body` can make this panic.
///
/// ```
/// use iot_publish::{classify, PublishOutcome, Retry};
/// let body = br#"{"message":"Rate exceeded","traceId":"1f2e"}"#;
/// let PublishOutcome::Rejected(rejection) = classify(429, body) else { unreachable!() };
/// assert_eq!(rejection.retry, Retry::WithBackoff);
/// assert_eq!(rejection.to_string(), "429 too many requests (throttled): Rate exceeded");
/// assert!(matches!(classify(200, b""), PublishOutcome::Published { status: 200 }));
/// ```
pub fn classify(status: u16, body: &[u8]) -> PublishOutcome<'_> {
    if (200..300).contains(&status) {
        return PublishOutcome::Published { status };
    }
    PublishOutcome::Rejected(Rejection {
        status,
        retry: retry_for(status),
        message: ServerMessage::from_body(body),
    })
}

/// What a status means, for people.
fn meaning(status: u16) -> &'static str {
    let known = match status {
        400 => "bad request",
        401 => "unauthorized (the device's credentials were not accepted)",
        403 => "forbidden (the device's policy does not allow this publish)",
        404 => "not found",
        409 => "conflict",
        413 => "request entity too large",
        422 => "unprocessable entity",
        429 => "too many requests (throttled)",
        500 => "internal server error",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        _ => "",
    };
    if !known.is_empty() {
        return known;
    }
    match status / 100 {
        1 => "informational answer where a final one was expected",
        3 => "redirection (not followed)",
        4 => "client error",
        5 => "server error",
        _ => "status outside HTTP's range",
    }
}

/// Longest message shown, in characters; longer ones end in `...`.
pub const MESSAGE_CHARS: usize = 200;

/// The server's explanation of a refusal.
///
/// `Display` writes it on one line: JSON escapes decoded, control characters shown as
/// spaces, at most [`MESSAGE_CHARS`] characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// The `message` string of a JSON body, still JSON-escaped (decoded when displayed).
    Json(&'a str),
    /// The start of a body that has no JSON `message` (any bytes).
    Excerpt(&'a [u8]),
    /// The body was empty.
    Empty,
}

impl<'a> ServerMessage<'a> {
    /// The `message` member of a JSON object body, or an excerpt of the body.
    pub fn from_body(body: &'a [u8]) -> ServerMessage<'a> {
        if let Some(message) = json_message(body) {
            return ServerMessage::Json(message);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return ServerMessage::Empty;
        }
        ServerMessage::Excerpt(body)
    }
}

impl fmt::Display for ServerMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Shown {
            f,
            chars: 0,
            truncated: false,
        };
        let written = match *self {
            ServerMessage::Json(raw) => unescape_into(raw, &mut out),
            ServerMessage::Excerpt(body) => excerpt_into(body, &mut out),
            ServerMessage::Empty => out.f.write_str("(empty body)").map_err(|_| Cut),
        };
        match written {
            Ok(()) => Ok(()),
            Err(Cut) if out.truncated => out.f.write_str("..."),
            Err(Cut) => Err(fmt::Error),
        }
    }
}

/// Writing stopped: the message is longer than shown, or the formatter failed.
struct Cut;

/// Writes characters on one line, up to [`MESSAGE_CHARS`].
struct Shown<'f, 'g> {
    f: &'f mut fmt::Formatter<'g>,
    chars: usize,
    truncated: bool,
}

impl Shown<'_, '_> {
    fn char(&mut self, c: char) -> Result<(), Cut> {
        if self.chars == MESSAGE_CHARS {
            self.truncated = true;
            return Err(Cut);
        }
        self.chars += 1;
        let c = if c.is_control() { ' ' } else { c };
        fmt::Write::write_char(self.f, c).map_err(|_| Cut)
    }
}

/// Any bytes, as lossy UTF-8 without the whitespace around them.
fn excerpt_into(body: &[u8], out: &mut Shown<'_, '_>) -> Result<(), Cut> {
    for chunk in body.trim_ascii().utf8_chunks() {
        for c in chunk.valid().chars() {
            out.char(c)?;
        }
        if !chunk.invalid().is_empty() {
            out.char(char::REPLACEMENT_CHARACTER)?;
        }
    }
    Ok(())
}

/// Decodes the escapes of a JSON string's content (checked by [`json_message`]); a lone
/// surrogate becomes U+FFFD.
fn unescape_into(raw: &str, out: &mut Shown<'_, '_>) -> Result<(), Cut> {
    let mut chars = raw.chars();
    let mut high_surrogate: Option<u32> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush_surrogate(&mut high_surrogate, out)?;
            out.char(c)?;
            continue;
        }
        let decoded = match chars.next() {
            Some('n' | 'r' | 't' | 'b' | 'f') => ' ',
            Some('u') => {
                let mut code = 0u32;
                for _ in 0..4 {
                    code = code * 16 + chars.next().and_then(|h| h.to_digit(16)).unwrap_or(0);
                }
                match (code, high_surrogate.take()) {
                    (0xdc00..=0xdfff, Some(high)) => {
                        let scalar = 0x10000 + ((high - 0xd800) << 10) + (code - 0xdc00);
                        out.char(char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER))?;
                        continue;
                    }
                    (0xd800..=0xdbff, previous) => {
                        if previous.is_some() {
                            out.char(char::REPLACEMENT_CHARACTER)?;
                        }
                        high_surrogate = Some(code);
                        continue;
                    }
                    (_, previous) => {
                        if previous.is_some() {
                            out.char(char::REPLACEMENT_CHARACTER)?;
                        }
                        char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
                    }
                }
            }
            Some(other) => other,
            None => break,
        };
        flush_surrogate(&mut high_surrogate, out)?;
        out.char(decoded)?;
    }
    flush_surrogate(&mut high_surrogate, out)
}

fn flush_surrogate(high: &mut Option<u32>, out: &mut Shown<'_, '_>) -> Result<(), Cut> {
    if high.take().is_some() {
        out.char(char::REPLACEMENT_CHARACTER)?;
    }
    Ok(())
}

/// The raw (still escaped) content of the string value of the top-level member `message`
/// of a JSON object, if `body` starts as one. Members before it are skipped whatever they
/// hold; nothing is recursed into, so no nesting depth can exhaust the stack.
fn json_message(body: &[u8]) -> Option<&str> {
    let mut at = skip_space(body, 0);
    if body.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_space(body, at);
        if body.get(at) != Some(&b'"') {
            return None;
        }
        let (key, after_key) = string_at(body, at)?;
        at = skip_space(body, after_key);
        if body.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(body, at + 1);
        if key == b"message" && body.get(at) == Some(&b'"') {
            let (value, _) = string_at(body, at)?;
            return core::str::from_utf8(value).ok();
        }
        at = skip_value(body, at)?;
        at = skip_space(body, at);
        match body.get(at) {
            Some(b',') => at += 1,
            _ => return None,
        }
    }
}

fn skip_space(body: &[u8], mut at: usize) -> usize {
    while body
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The content of the JSON string whose opening quote is at `at`, and the index after its
/// closing quote. `None` if it is not closed or holds a raw control byte.
fn string_at(body: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let start = at + 1;
    let mut i = start;
    loop {
        match *body.get(i)? {
            b'"' => return Some((body.get(start..i)?, i + 1)),
            b'\\' => i += 2,
            byte if byte < 0x20 => return None,
            _ => i += 1,
        }
    }
}

/// The index after the JSON value starting at `at` (a string, or anything up to the `,` or
/// `}` that ends it at its own nesting level).
fn skip_value(body: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    loop {
        match *body.get(i)? {
            b'"' => i = string_at(body, i)?.1,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b',' | b'}' if depth == 0 => return (i > at).then_some(i),
            _ => i += 1,
        }
        if depth == 0 && body.get(at) == Some(&b'"') {
            return Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    fn message(body: &str) -> std::string::String {
        ServerMessage::from_body(body.as_bytes()).to_string()
    }

    #[test]
    fn the_retry_decision_of_every_documented_status() {
        for status in [429, 500, 503, 502, 504] {
            assert_eq!(retry_for(status), Retry::WithBackoff, "{status}");
        }
        for status in [
            400, 401, 403, 404, 409, 413, 422, 405, 418, 501, 505, 301, 100,
        ] {
            assert_eq!(retry_for(status), Retry::Never, "{status}");
        }
        assert_eq!(
            classify(200, b"{}"),
            PublishOutcome::Published { status: 200 }
        );
        assert_eq!(
            classify(204, b""),
            PublishOutcome::Published { status: 204 }
        );
    }

    #[test]
    fn a_refusal_names_the_status_and_the_servers_message() {
        let PublishOutcome::Rejected(rejection) = classify(
            403,
            br#"{"message":"Not authorized to publish to topic a/b","traceId":"x-1"}"#,
        ) else {
            panic!("403 is a refusal");
        };
        assert_eq!(rejection.retry, Retry::Never);
        assert_eq!(
            rejection.to_string(),
            "403 forbidden (the device's policy does not allow this publish): \
             Not authorized to publish to topic a/b"
        );
    }

    #[test]
    fn the_message_member_is_found_wherever_it_is_and_decoded() {
        assert_eq!(message(r#"{"message":"OK"}"#), "OK");
        assert_eq!(
            message(
                r#" { "traceId" : "t", "n": -1.5e3, "x": {"message":"inner"}, "a": [1,{"b":"]"}], "message" : "outer" } "#
            ),
            "outer"
        );
        assert_eq!(
            message(r#"{"message":"a \"q\" \\ \/ \u00e9 \ud83d\ude00 \n end"}"#),
            "a \"q\" \\ / \u{e9} \u{1f600}   end"
        );
        assert_eq!(message(r#"{"message":"lone \ud800 x"}"#), "lone \u{fffd} x");
        assert_eq!(
            message(r#"{"message":"\ud800\ud800\udc00"}"#),
            "\u{fffd}\u{10000}"
        );
    }

    #[test]
    fn bodies_without_a_json_message_give_an_excerpt() {
        assert_eq!(message("Service Unavailable\r\n"), "Service Unavailable");
        assert_eq!(message(r#"{"error":"x"}"#), r#"{"error":"x"}"#);
        assert_eq!(message(r#"{"message":42}"#), r#"{"message":42}"#);
        assert_eq!(message("[\"message\"]"), "[\"message\"]");
        assert_eq!(message(""), "(empty body)");
        assert_eq!(message("  \n"), "(empty body)");
        assert_eq!(
            ServerMessage::from_body(b"bad \xff\x01 bytes").to_string(),
            "bad \u{fffd}  bytes"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(MESSAGE_CHARS + 50);
        let shown = message(&std::format!("{{\"message\":\"{long}\"}}"));
        assert_eq!(shown, std::format!("{}...", "x".repeat(MESSAGE_CHARS)));
        let exact = "y".repeat(MESSAGE_CHARS);
        assert_eq!(message(&exact), exact);
    }

    proptest! {
        #[test]
        fn no_body_makes_it_panic_and_the_text_is_one_bounded_line(
            body in proptest::collection::vec(any::<u8>(), 0..400),
            status in any::<u16>(),
        ) {
            let shown = match classify(status, &body) {
                PublishOutcome::Rejected(rejection) => rejection.to_string(),
                PublishOutcome::Published { .. } => std::string::String::new(),
            };
            prop_assert!(!shown.contains('\n') && !shown.contains('\r'));
            prop_assert!(shown.chars().count() < MESSAGE_CHARS + 120);
        }

        #[test]
        fn json_bodies_with_a_message_show_it(text in "[ -~]{0,80}", trace in "[a-z0-9]{0,10}") {
            let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
            let body = std::format!("{{\"traceId\":\"{trace}\",\"message\":\"{escaped}\"}}");
            prop_assert_eq!(message(&body), text);
        }
    }
}
