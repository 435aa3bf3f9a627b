//! AWS IoT's HTTPS publish request (`POST /topics/{topic}`), parsed and checked as AWS
//! documents it, into a typed [`Publish`]; or a [`Rejection`] with the status and the message
//! AWS would give.
//!
//! What is checked, and where each rule comes from:
//!
//! - **Topic** (the path segment, percent-decoded; also `responseTopic`): not empty, valid
//!   UTF-8 without U+0000 (MQTT 5 §1.5.4), no `+` or `#` wildcard (MQTT 5 §4.7: a topic *name*
//!   has none), at most [`MAX_TOPIC_BYTES`] bytes and [`MAX_TOPIC_SLASHES`] forward slashes
//!   (AWS IoT Core message broker quotas "Topic size" and "Maximum number of slashes in topic
//!   and topic filter"; the AWS IoT device SDKs' `AwsIotCoreDefaults` validation checks the
//!   same two numbers, "not counting any AWS rules prefix"). The `$aws/rules/<rule-name>/`
//!   prefix of Basic Ingest topics is left out of the slash count, as that says, and (our
//!   choice, by analogy) out of the size too.
//! - **Query** (Publish API reference): `qos` `0` or `1` (default 0), `retain` `true` or
//!   `false` (default false), `contentType` (UTF-8 string), `messageExpiry` (integer seconds;
//!   absent means the message does not expire), `responseTopic` (a topic, checked as above).
//!   Values are percent-decoded; `+` is a literal plus (RFC 3986), not a space.
//! - **Headers** (Publish API reference): `x-amz-mqtt5-user-properties`, base64 of a JSON
//!   array of JSON objects whose members are the properties, as in AWS's example
//!   `[{"deviceName": "alpha"}, {"deviceCnt": "45"}]`; `x-amz-mqtt5-payload-format-indicator`,
//!   `UNSPECIFIED_BYTES` or `UTF8_DATA`; `x-amz-mqtt5-correlation-data`, base64 binary.
//! - **Payload**: at most [`MAX_PAYLOAD`] bytes (quota "Message size": 128 KB), else 413. With
//!   `UTF8_DATA` it must be valid UTF-8 (MQTT 5 §3.3.2.3.2: a receiver may reject such a
//!   message as "Payload format invalid").
//!
//! Where AWS's documentation is silent this module chooses, and says so on the item:
//! unknown or repeated query parameters are refused (so that a typo such as `retained=true`
//! is not silently ignored); `correlationData`, `userProperties` and `payloadFormatIndicator`
//! given as query parameters are refused with a message naming the header to use; user
//! property values must be JSON strings (MQTT 5 user properties are UTF-8 string pairs); every
//! string is limited to MQTT 5's 65,535 bytes, and `messageExpiry` to MQTT 5's four-byte
//! integer. Every refusal is a 400 except the size (413).

use std::fmt;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Largest payload, in bytes: AWS IoT Core's "Message size" quota, 128 KB. One byte more
/// gets 413.
pub const MAX_PAYLOAD: usize = 128 * 1024;
/// Largest topic, in bytes of UTF-8: AWS IoT Core's "Topic size" quota.
pub const MAX_TOPIC_BYTES: usize = 256;
/// Most forward slashes in a topic: AWS IoT Core's "Maximum number of slashes in topic and
/// topic filter" quota.
pub const MAX_TOPIC_SLASHES: usize = 7;
/// Longest MQTT 5 UTF-8 string or binary data field, in bytes (MQTT 5 §1.5.4, §1.5.6): the
/// limit for `contentType`, user property names and values, and correlation data.
pub const MAX_MQTT_FIELD: usize = 65_535;

/// The header carrying MQTT 5 user properties.
pub const USER_PROPERTIES_HEADER: &str = "x-amz-mqtt5-user-properties";
/// The header carrying the MQTT 5 payload format indicator.
pub const PAYLOAD_FORMAT_HEADER: &str = "x-amz-mqtt5-payload-format-indicator";
/// The header carrying MQTT 5 correlation data.
pub const CORRELATION_DATA_HEADER: &str = "x-amz-mqtt5-correlation-data";

/// The prefix of AWS IoT Basic Ingest topics, left out of the topic size and slash count.
const BASIC_INGEST_PREFIX: &str = "$aws/rules/";

/// MQTT 5's payload format indicator, as the `x-amz-mqtt5-payload-format-indicator` header
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// `UNSPECIFIED_BYTES`: the payload is bytes.
    UnspecifiedBytes,
    /// `UTF8_DATA`: the payload is UTF-8 text (checked).
    Utf8Data,
}

impl PayloadFormat {
    /// The header's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::UnspecifiedBytes => "UNSPECIFIED_BYTES",
            PayloadFormat::Utf8Data => "UTF8_DATA",
        }
    }
}

/// A publish that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The topic, percent-decoded.
    pub topic: String,
    /// QoS, 0 or 1 (0 when absent, as AWS documents).
    pub qos: u8,
    /// The RETAIN flag (false when absent).
    pub retain: bool,
    /// `contentType`.
    pub content_type: Option<String>,
    /// `messageExpiry`, in seconds.
    pub message_expiry: Option<u32>,
    /// `responseTopic`.
    pub response_topic: Option<String>,
    /// The user properties, name then value, in the order sent; `None` when the header was
    /// absent (`Some(vec![])` for an empty array).
    pub user_properties: Option<Vec<(String, String)>>,
    /// The payload format indicator header.
    pub payload_format: Option<PayloadFormat>,
    /// The correlation data, decoded from base64.
    pub correlation_data: Option<Vec<u8>>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Why a request was refused: the status to answer and the message for the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 400 (InvalidRequestException) or 413 (RequestEntityTooLargeException).
    pub status: u16,
    /// Names the cause, e.g. `Invalid qos: 2 (must be 0 or 1)`.
    pub message: String,
}

impl Rejection {
    fn bad(message: impl Into<String>) -> Rejection {
        Rejection {
            status: 400,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Rejection {}

/// The parts of an HTTP request that make a publish.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    /// The path after `/topics/`, still percent-encoded.
    pub encoded_topic: &'a str,
    /// The query string, without `?` (may be empty).
    pub query: &'a str,
    /// The request headers, name and value.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
    /// The body was over [`MAX_PAYLOAD`] (and was not kept).
    pub too_large: bool,
}

/// Parses and checks a publish (see the module docs for the rules, in the order applied:
/// topic, query, headers, size, UTF-8).
pub fn parse_publish(request: &PublishRequest<'_>) -> Result<Publish, Rejection> {
    let topic = decode_topic(request.encoded_topic)?;
    let mut publish = Publish {
        topic,
        qos: 0,
        retain: false,
        content_type: None,
        message_expiry: None,
        response_topic: None,
        user_properties: None,
        payload_format: None,
        correlation_data: None,
        payload: Vec::new(),
    };
    apply_query(&mut publish, request.query)?;
    apply_headers(&mut publish, request.headers)?;
    if request.too_large || request.body.len() > MAX_PAYLOAD {
        return Err(Rejection {
            status: 413,
            message: format!("Payload too large: the limit is {MAX_PAYLOAD} bytes"),
        });
    }
    if publish.payload_format == Some(PayloadFormat::Utf8Data)
        && std::str::from_utf8(request.body).is_err()
    {
        return Err(Rejection::bad(format!(
            "Payload is not valid UTF-8 but {PAYLOAD_FORMAT_HEADER} is UTF8_DATA"
        )));
    }
    publish.payload = request.body.to_vec();
    Ok(publish)
}

/// Percent-decodes and checks the topic of a request path (also used by GetRetainedMessage).
pub fn decode_topic(encoded: &str) -> Result<String, Rejection> {
    let topic = percent_decode(encoded)
        .ok_or_else(|| Rejection::bad("Invalid topic: bad percent-encoding or not UTF-8"))?;
    check_topic(&topic).map_err(|why| Rejection::bad(format!("Invalid topic: {why}")))?;
    Ok(topic)
}

/// Checks a topic name against MQTT's and AWS IoT's rules (see the module docs); the error
/// names the rule broken.
pub fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("empty".into());
    }
    if topic.contains('\0') {
        return Err("contains U+0000".into());
    }
    if let Some(wildcard) = topic.chars().find(|c| matches!(c, '+' | '#')) {
        return Err(format!(
            "contains the wildcard {wildcard:?} (a topic name cannot)"
        ));
    }
    let counted = basic_ingest_rest(topic).unwrap_or(topic);
    if counted.len() > MAX_TOPIC_BYTES {
        return Err(format!(
            "{} bytes, more than {MAX_TOPIC_BYTES}",
            counted.len()
        ));
    }
    let slashes = counted.matches('/').count();
    if slashes > MAX_TOPIC_SLASHES {
        return Err(format!(
            "{slashes} forward slashes, more than {MAX_TOPIC_SLASHES}"
        ));
    }
    Ok(())
}

/// The part of a Basic Ingest topic after `$aws/rules/<rule-name>/`.
fn basic_ingest_rest(topic: &str) -> Option<&str> {
    let after = topic.strip_prefix(BASIC_INGEST_PREFIX)?;
    let (rule, rest) = after.split_once('/')?;
    (!rule.is_empty()).then_some(rest)
}

fn apply_query(publish: &mut Publish, query: &str) -> Result<(), Rejection> {
    let mut seen: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if seen.contains(&name) {
            return Err(Rejection::bad(format!("Repeated query parameter: {name}")));
        }
        seen.push(name);
        let value = percent_decode(raw).ok_or_else(|| {
            Rejection::bad(format!("Invalid {name}: bad percent-encoding or not UTF-8"))
        })?;
        match name {
            "qos" => {
                publish.qos = match value.as_str() {
                    "0" => 0,
                    "1" => 1,
                    _ => {
                        return Err(Rejection::bad(format!(
                            "Invalid qos: {value} (must be 0 or 1)"
                        )));
                    }
                }
            }
            "retain" => {
                publish.retain = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Rejection::bad(format!(
                            "Invalid retain: {value} (must be true or false)"
                        )));
                    }
                }
            }
            "messageExpiry" => publish.message_expiry = Some(message_expiry(&value)?),
            "contentType" => {
                check_mqtt_field("contentType", value.len())?;
                check_no_nul("contentType", &value)?;
                publish.content_type = Some(value);
            }
            "responseTopic" => {
                check_topic(&value)
                    .map_err(|why| Rejection::bad(format!("Invalid responseTopic: {why}")))?;
                publish.response_topic = Some(value);
            }
            "userProperties" | "payloadFormatIndicator" | "correlationData" => {
                let header = match name {
                    "userProperties" => USER_PROPERTIES_HEADER,
                    "payloadFormatIndicator" => PAYLOAD_FORMAT_HEADER,
                    _ => CORRELATION_DATA_HEADER,
                };
                return Err(Rejection::bad(format!(
                    "{name} is not a query parameter: send it in the {header} header"
                )));
            }
            other => {
                return Err(Rejection::bad(format!(
                    "Unknown query parameter: {other} (known: qos, retain, contentType, \
                     messageExpiry, responseTopic)"
                )));
            }
        }
    }
    Ok(())
}

/// `messageExpiry`: decimal digits, at most MQTT 5's four-byte integer (4,294,967,295 s).
fn message_expiry(value: &str) -> Result<u32, Rejection> {
    let invalid = || {
        Rejection::bad(format!(
            "Invalid messageExpiry: {value} (must be a number of seconds, 0 to {})",
            u32::MAX
        ))
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    value.parse::<u32>().map_err(|_| invalid())
}

fn check_mqtt_field(what: &str, length: usize) -> Result<(), Rejection> {
    if length > MAX_MQTT_FIELD {
        return Err(Rejection::bad(format!(
            "Invalid {what}: {length} bytes, more than MQTT's {MAX_MQTT_FIELD}"
        )));
    }
    Ok(())
}

fn check_no_nul(what: &str, text: &str) -> Result<(), Rejection> {
    if text.contains('\0') {
        return Err(Rejection::bad(format!("Invalid {what}: contains U+0000")));
    }
    Ok(())
}

fn apply_headers(publish: &mut Publish, headers: &[(String, String)]) -> Result<(), Rejection> {
    for name in [
        USER_PROPERTIES_HEADER,
        PAYLOAD_FORMAT_HEADER,
        CORRELATION_DATA_HEADER,
    ] {
        let mut values = headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str());
        let Some(value) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(Rejection::bad(format!("Repeated header: {name}")));
        }
        match name {
            USER_PROPERTIES_HEADER => publish.user_properties = Some(user_properties(value)?),
            PAYLOAD_FORMAT_HEADER => {
                publish.payload_format = Some(match value {
                    "UNSPECIFIED_BYTES" => PayloadFormat::UnspecifiedBytes,
                    "UTF8_DATA" => PayloadFormat::Utf8Data,
                    other => {
                        return Err(Rejection::bad(format!(
                            "Invalid {name}: {other:?} (must be UNSPECIFIED_BYTES or UTF8_DATA)"
                        )));
                    }
                })
            }
            _ => {
                let data = base64_decode(value)
                    .ok_or_else(|| Rejection::bad(format!("Invalid {name}: not base64")))?;
                check_mqtt_field(name, data.len())?;
                publish.correlation_data = Some(data);
            }
        }
    }
    Ok(())
}

/// Base64 with the standard alphabet; padding optional (AWS's SDKs pad, other clients may not).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(text).ok()
}

/// Base64 (standard alphabet, padded) of `bytes`, as AWS's JSON answers carry binary data.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The user properties header: base64 of a JSON array of objects, every member of which is
/// one property whose value must be a string. AWS documents only that shape by example
/// (`[{"deviceName": "alpha"}, {"deviceCnt": "45"}]`); an object with several members gives
/// several properties, in the object's order.
fn user_properties(header: &str) -> Result<Vec<(String, String)>, Rejection> {
    let shape = || {
        Rejection::bad(format!(
            "Invalid {USER_PROPERTIES_HEADER}: must be base64 of a JSON array of objects with \
             string values, like [{{\"deviceName\":\"alpha\"}}]"
        ))
    };
    let json = base64_decode(header)
        .ok_or_else(|| Rejection::bad(format!("Invalid {USER_PROPERTIES_HEADER}: not base64")))?;
    let value: serde_json::Value = serde_json::from_slice(&json).map_err(|error| {
        Rejection::bad(format!(
            "Invalid {USER_PROPERTIES_HEADER}: not JSON ({error})"
        ))
    })?;
    let serde_json::Value::Array(items) = value else {
        return Err(shape());
    };
    let mut properties = Vec::new();
    for item in items {
        let serde_json::Value::Object(members) = item else {
            return Err(shape());
        };
        for (name, value) in members {
            let serde_json::Value::String(value) = value else {
                return Err(Rejection::bad(format!(
                    "Invalid {USER_PROPERTIES_HEADER}: the value of {name:?} is not a string"
                )));
            };
            for field in [&name, &value] {
                check_mqtt_field("user property", field.len())?;
                check_no_nul("user property", field)?;
            }
            properties.push((name, value));
        }
    }
    Ok(properties)
}

/// User properties as AWS writes them: a JSON array of one-member objects.
pub fn user_properties_json(properties: &[(String, String)]) -> String {
    let items: Vec<serde_json::Value> = properties
        .iter()
        .map(|(name, value)| {
            let mut object = serde_json::Map::new();
            object.insert(name.clone(), serde_json::Value::String(value.clone()));
            serde_json::Value::Object(object)
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// Percent-decodes a path segment or query value; `None` for a bad escape or text that is
/// not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A JSON string literal of `text` (quotes included), for log lines that a test can match.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

impl Publish {
    /// The summary the endpoint logs for every accepted publish, after the client's name:
    ///
    /// ```text
    /// publish topic="a/b" qos=1 retain=true contentType="application/json" messageExpiry=60
    ///   responseTopic="a/b/reply" userProperties=[{"deviceName":"alpha"}]
    ///   payloadFormat=UTF8_DATA correlationData=4B payload=12B
    /// ```
    ///
    /// on one line, fields always in this order; strings are JSON literals, an absent field
    /// is `-`, sizes are in bytes.
    pub fn summary(&self) -> String {
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
        format!(
            "publish topic={} qos={} retain={} contentType={} messageExpiry={} responseTopic={} \
             userProperties={} payloadFormat={} correlationData={} payload={}B",
            quoted(&self.topic),
            self.qos,
            self.retain,
            or_dash(self.content_type.as_deref().map(quoted)),
            or_dash(self.message_expiry.map(|seconds| seconds.to_string())),
            or_dash(self.response_topic.as_deref().map(quoted)),
            or_dash(self.user_properties.as_deref().map(user_properties_json)),
            self.payload_format.map_or("-", PayloadFormat::as_str),
            or_dash(
                self.correlation_data
                    .as_ref()
                    .map(|data| format!("{}B", data.len()))
            ),
            self.payload.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    fn parse(
        topic: &str,
        query: &str,
        head: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Publish, Rejection> {
        let headers = headers(head);
        parse_publish(&PublishRequest {
            encoded_topic: topic,
            query,
            headers: &headers,
            body,
            too_large: false,
        })
    }

    fn status(topic: &str, query: &str, head: &[(&str, &str)], body: &[u8]) -> u16 {
        match parse(topic, query, head, body) {
            Ok(_) => 200,
            Err(rejection) => rejection.status,
        }
    }

    fn message(topic: &str, query: &str, head: &[(&str, &str)], body: &[u8]) -> String {
        parse(topic, query, head, body)
            .expect_err("refused")
            .message
    }

    #[test]
    fn every_parameter_and_header_is_read() {
        let properties = base64_encode(br#"[{"deviceName": "alpha"}, {"deviceCnt": "45"}]"#);
        let correlation = base64_encode(&[1, 2, 3, 4]);
        let publish = parse(
            "a%2Fb",
            "qos=1&retain=true&contentType=text%2Fplain&messageExpiry=60&responseTopic=a%2Fr",
            &[
                ("X-Amz-Mqtt5-User-Properties", &properties),
                ("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA"),
                ("x-amz-mqtt5-correlation-data", &correlation),
            ],
            "héllo".as_bytes(),
        )
        .expect("valid");
        assert_eq!(
            publish,
            Publish {
                topic: "a/b".into(),
                qos: 1,
                retain: true,
                content_type: Some("text/plain".into()),
                message_expiry: Some(60),
                response_topic: Some("a/r".into()),
                user_properties: Some(vec![
                    ("deviceName".into(), "alpha".into()),
                    ("deviceCnt".into(), "45".into())
                ]),
                payload_format: Some(PayloadFormat::Utf8Data),
                correlation_data: Some(vec![1, 2, 3, 4]),
                payload: "héllo".as_bytes().to_vec(),
            }
        );
        assert_eq!(
            publish.summary(),
            "publish topic=\"a/b\" qos=1 retain=true contentType=\"text/plain\" messageExpiry=60 \
             responseTopic=\"a/r\" userProperties=[{\"deviceName\":\"alpha\"},{\"deviceCnt\":\"45\"}] \
             payloadFormat=UTF8_DATA correlationData=4B payload=6B"
        );
    }

    #[test]
    fn defaults_are_aws_s() {
        let publish = parse("t", "", &[], b"").expect("valid");
        assert_eq!((publish.qos, publish.retain), (0, false));
        assert_eq!(publish.user_properties, None);
        assert_eq!(
            publish.summary(),
            "publish topic=\"t\" qos=0 retain=false contentType=- messageExpiry=- \
             responseTopic=- userProperties=- payloadFormat=- correlationData=- payload=0B"
        );
    }

    #[test]
    fn topic_size_is_limited_to_256_bytes_of_utf8() {
        assert_eq!(status(&"a".repeat(256), "", &[], b""), 200);
        assert_eq!(status(&"a".repeat(257), "", &[], b""), 400);
        // 128 two-byte characters are 256 bytes; one more ASCII byte is too many.
        let two_byte = "%C3%A9".repeat(128);
        assert_eq!(status(&two_byte, "", &[], b""), 200);
        assert_eq!(status(&format!("{two_byte}a"), "", &[], b""), 400);
        assert!(message(&"a".repeat(257), "", &[], b"").contains("257 bytes"));
    }

    #[test]
    fn topic_slashes_are_limited_to_7() {
        assert_eq!(status(&["a"; 8].join("%2F"), "", &[], b""), 200);
        assert_eq!(status(&["a"; 9].join("%2F"), "", &[], b""), 400);
        assert!(message(&["a"; 9].join("/"), "", &[], b"").contains("8 forward slashes"));
        // Empty levels count too.
        assert_eq!(status("%2F%2F%2F%2F%2F%2F%2F", "", &[], b""), 200);
        assert_eq!(status("%2F%2F%2F%2F%2F%2F%2F%2F", "", &[], b""), 400);
    }

    #[test]
    fn the_basic_ingest_prefix_does_not_count() {
        let rest = ["a"; 8].join("/");
        assert_eq!(check_topic(&format!("$aws/rules/rule/{rest}")), Ok(()));
        assert!(check_topic(&format!("$aws/rules/rule/{rest}/a")).is_err());
        let long = "a".repeat(256);
        assert_eq!(check_topic(&format!("$aws/rules/rule/{long}")), Ok(()));
        assert!(check_topic(&format!("$other/rules/rule/{long}")).is_err());
    }

    #[test]
    fn bad_topics_are_refused_naming_the_rule() {
        assert!(message("", "", &[], b"").contains("empty"));
        assert!(message("a%2B", "", &[], b"").contains("wildcard '+'"));
        assert!(message("a+b", "", &[], b"").contains("wildcard '+'"));
        assert!(message("a%23", "", &[], b"").contains("wildcard '#'"));
        assert!(message("a%00", "", &[], b"").contains("U+0000"));
        for bad in ["a%2", "a%zz", "%ff", "%+1"] {
            assert!(
                message(bad, "", &[], b"").contains("percent-encoding"),
                "{bad}"
            );
        }
    }

    #[test]
    fn query_values_are_checked() {
        for good in [
            "qos=0",
            "qos=1",
            "retain=true",
            "retain=false",
            "messageExpiry=0",
            "messageExpiry=4294967295",
            "contentType=",
            "responseTopic=r",
        ] {
            assert_eq!(status("t", good, &[], b""), 200, "{good}");
        }
        for bad in [
            "qos=2",
            "qos=",
            "qos=abc",
            "retain=1",
            "retain=TRUE",
            "messageExpiry=-1",
            "messageExpiry=+5",
            "messageExpiry=4294967296",
            "messageExpiry=",
            "responseTopic=",
            "responseTopic=a%2F%23",
            "contentType=%zz",
        ] {
            assert_eq!(status("t", bad, &[], b""), 400, "{bad}");
        }
        assert_eq!(
            message("t", "qos=2", &[], b""),
            "Invalid qos: 2 (must be 0 or 1)"
        );
        assert!(message("t", "responseTopic=a%2B", &[], b"").starts_with("Invalid responseTopic"));
    }

    #[test]
    fn unknown_repeated_and_misplaced_parameters_are_refused() {
        assert!(
            message("t", "retained=true", &[], b"")
                .starts_with("Unknown query parameter: retained")
        );
        assert_eq!(
            message("t", "qos=1&qos=0", &[], b""),
            "Repeated query parameter: qos"
        );
        for (name, header) in [
            ("correlationData", CORRELATION_DATA_HEADER),
            ("userProperties", USER_PROPERTIES_HEADER),
            ("payloadFormatIndicator", PAYLOAD_FORMAT_HEADER),
        ] {
            assert!(
                message("t", &format!("{name}=x"), &[], b"").contains(header),
                "{name}"
            );
        }
    }

    #[test]
    fn user_properties_must_be_base64_json_objects_of_strings() {
        let header = |json: &str| base64_encode(json.as_bytes());
        let ok = |json: &str| parse("t", "", &[(USER_PROPERTIES_HEADER, &header(json))], b"");
        assert_eq!(ok("[]").expect("empty").user_properties, Some(vec![]));
        assert_eq!(
            ok(r#"[{"a":"1","b":"2"},{"a":"3"}]"#)
                .expect("several")
                .user_properties,
            Some(vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("a".into(), "3".into())
            ])
        );
        let unpadded = header(r#"[{"a":"1"}]"#).trim_end_matches('=').to_owned();
        assert_eq!(
            status("t", "", &[(USER_PROPERTIES_HEADER, &unpadded)], b""),
            200
        );
        for bad in [
            r#"{"a":"1"}"#,
            r#"["a"]"#,
            r#"[{"a":1}]"#,
            r#"[{"a":null}]"#,
            "[",
            r#"[{"a":"\u0000"}]"#,
        ] {
            assert_eq!(ok(bad).map_err(|r| r.status), Err(400), "{bad}");
        }
        assert!(
            message("t", "", &[(USER_PROPERTIES_HEADER, "not base64!")], b"")
                .contains("not base64")
        );
        assert!(
            message(
                "t",
                "",
                &[(USER_PROPERTIES_HEADER, &header(r#"[{"n":2}]"#))],
                b""
            )
            .contains("\"n\" is not a string")
        );
        let long = "x".repeat(MAX_MQTT_FIELD + 1);
        assert_eq!(
            ok(&format!(r#"[{{"n":"{long}"}}]"#)).map_err(|r| r.status),
            Err(400)
        );
        assert_eq!(
            ok(&format!(r#"[{{"n":"{}"}}]"#, &long[1..])).map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn payload_format_and_correlation_data_headers_are_checked() {
        assert_eq!(
            status(
                "t",
                "",
                &[(PAYLOAD_FORMAT_HEADER, "UNSPECIFIED_BYTES")],
                &[0xff]
            ),
            200
        );
        assert_eq!(
            status("t", "", &[(PAYLOAD_FORMAT_HEADER, "UTF8_DATA")], &[0xff]),
            400
        );
        assert!(
            message("t", "", &[(PAYLOAD_FORMAT_HEADER, "UTF8_DATA")], &[0xff])
                .contains("not valid UTF-8")
        );
        assert!(
            message("t", "", &[(PAYLOAD_FORMAT_HEADER, "utf8")], b"")
                .contains("UNSPECIFIED_BYTES or UTF8_DATA")
        );
        assert_eq!(
            status("t", "", &[(CORRELATION_DATA_HEADER, "AQID")], b""),
            200
        );
        assert!(message("t", "", &[(CORRELATION_DATA_HEADER, "***")], b"").contains("not base64"));
        assert_eq!(
            message(
                "t",
                "",
                &[
                    (CORRELATION_DATA_HEADER, "AQID"),
                    (CORRELATION_DATA_HEADER, "AQID")
                ],
                b""
            ),
            format!("Repeated header: {CORRELATION_DATA_HEADER}")
        );
        let too_long = base64_encode(&vec![0; MAX_MQTT_FIELD + 1]);
        assert_eq!(
            status("t", "", &[(CORRELATION_DATA_HEADER, &too_long)], b""),
            400
        );
    }

    #[test]
    fn payload_is_limited_to_128_kib() {
        assert_eq!(status("t", "", &[], &vec![b'x'; MAX_PAYLOAD]), 200);
        assert_eq!(status("t", "", &[], &vec![b'x'; MAX_PAYLOAD + 1]), 413);
        let headers = Vec::new();
        let flagged = parse_publish(&PublishRequest {
            encoded_topic: "t",
            query: "",
            headers: &headers,
            body: b"",
            too_large: true,
        });
        assert_eq!(flagged.map_err(|r| r.status), Err(413));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%20c+d").as_deref(), Some("a/b c+d"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
