//! A typed request for AWS IoT's HTTPS publish API, `POST /topics/{topic}`, for devices:
//! `no_std`, no allocation, no `unsafe`.
//!
//! What AWS IoT would refuse is refused here first, before a connection is spent on it:
//!
//! - the topic ([`Topic`]): not empty, no `+` or `#` wildcard, at most
//!   [`MAX_TOPIC_BYTES`] bytes and [`MAX_TOPIC_SLASHES`] slashes;
//! - the payload: at most [`MAX_PAYLOAD_BYTES`] ([`PayloadError`]);
//! - the MQTT 5 properties ([`PropertyError`]): the response topic follows the topic rules,
//!   and the strings and binary data fit MQTT 5's length fields.
//!
//! [`Publish`] then writes the request into one caller buffer through `iot-http`'s
//! [`RequestBuilder`]: the query parameters `qos`, `retain`, `contentType`, `messageExpiry`
//! and `responseTopic` (percent-encoded), and the MQTT 5 properties as the headers
//! `x-amz-mqtt5-user-properties` (base64 of the JSON array of one-member objects that AWS
//! documents, e.g. `[{"deviceName":"alpha"},{"deviceCnt":"45"}]`),
//! `x-amz-mqtt5-payload-format-indicator` (`UNSPECIFIED_BYTES` or `UTF8_DATA`) and
//! `x-amz-mqtt5-correlation-data` (base64).
//!
//! [`classify`] reads the answer: published, or refused with the status, the server's
//! message and a [`Retry`] decision.
//!
//! ```
//! use iot_publish::{PayloadFormat, Publish, Qos, Topic, UserProperty};
//!
//! let properties = [UserProperty::new("deviceName", "alpha")?];
//! let publish = Publish::new(Topic::new("dt/room 1/temp")?, Qos::AtLeastOnce)
//!     .retain(true)
//!     .message_expiry(3600)
//!     .user_properties(&properties)?
//!     .payload_format(PayloadFormat::Utf8);
//! let payload = br#"{"celsius":21.5}"#;
//! let mut buffer = [0u8; 512];
//! assert!(publish.buffer_len("example-ats.iot.eu-west-1.amazonaws.com", &[], payload) <= 512);
//! let built = publish.build(&mut buffer, "example-ats.iot.eu-west-1.amazonaws.com", &[], payload)?;
//! assert_eq!(built.path, "/topics/dt%2Froom%201%2Ftemp?qos=1&retain=true&messageExpiry=3600");
//! let head = core::str::from_utf8(built.request.head()).unwrap();
//! assert!(head.contains("x-amz-mqtt5-user-properties: W3siZGV2aWNlTmFtZSI6ImFscGhhIn1d\r\n"));
//! assert!(head.contains("x-amz-mqtt5-payload-format-indicator: UTF8_DATA\r\n"));
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
//!
//! # Where the limits come from
//!
//! - Topic size (256 bytes of UTF-8), slashes in a topic (7) and the message size (128 KB):
//!   AWS IoT Core's message broker quotas ("AWS IoT Core endpoints and quotas", AWS General
//!   Reference), also applied client-side by the AWS IoT Device SDKs' "AWS IoT Core
//!   defaults" validation.
//! - Wildcards: AWS IoT's publish API says the topic (and the response topic) must not
//!   contain wildcard characters; MQTT 5.0 section 4.7 reserves `+` and `#` for filters.
//! - 65,535 bytes for each string and for the correlation data, and no U+0000 in strings:
//!   MQTT 5.0 sections 1.5.4 (UTF-8 Encoded String) and 1.5.6 (Binary Data), the types these
//!   properties have once AWS IoT turns the request into an MQTT 5 PUBLISH.
//! - Message expiry: MQTT 5.0 section 3.3.2.3.3 makes it a four-byte integer, so it is a
//!   `u32` here. AWS IoT's own maximum for it is in its quotas page ("message broker and
//!   protocol limits") and is left to the server, which refuses a larger value.
//! - AWS documents 1,024-character limits for the content type, correlation data, message
//!   expiry and response topic only for the rules engine's republish action
//!   (`MqttHeaders` in the AWS IoT API reference), not for the publish API: they are not
//!   applied here.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod encode;
mod status;

use core::fmt;

use iot_http::{Method, PathBuilder, Request, RequestBuilder, RequestError};

use encode::{Base64, Counter, Decimal, Sink, SliceSink, base64_len, json_string};
pub use status::{
    MESSAGE_CHARS, PublishOutcome, Rejection, Retry, ServerMessage, classify, retry_for,
};

/// Longest topic AWS IoT accepts, in bytes of UTF-8 (AWS IoT Core quotas: topic size).
pub const MAX_TOPIC_BYTES: usize = 256;
/// Most `/` a topic may hold (AWS IoT Core quotas: "maximum number of slashes in topic and
/// topic filter"), that is at most 8 levels.
pub const MAX_TOPIC_SLASHES: usize = 7;
/// Largest payload AWS IoT accepts: 128 KB (AWS IoT Core quotas: message size).
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;
/// Longest string property (content type, user property name or value) and correlation
/// data: MQTT 5.0 sections 1.5.4 and 1.5.6 (a two-byte length).
pub const MAX_PROPERTY_BYTES: usize = 65_535;

/// Why a topic cannot be published to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// The topic is empty.
    Empty,
    /// The topic holds a wildcard, which only subscriptions may use.
    Wildcard(char),
    /// The topic holds U+0000, which MQTT forbids in strings.
    NulCharacter,
    /// The topic is longer than [`MAX_TOPIC_BYTES`].
    TooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// The topic has more than [`MAX_TOPIC_SLASHES`] slashes.
    TooManySlashes {
        /// How many it has.
        slashes: usize,
    },
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::Empty => f.write_str("the topic is empty"),
            TopicError::Wildcard(c) => write!(
                f,
                "the topic holds the wildcard '{c}', which only a subscription may use"
            ),
            TopicError::NulCharacter => f.write_str("the topic holds U+0000 (NUL)"),
            TopicError::TooLong { bytes } => write!(
                f,
                "the topic is {bytes} bytes long; AWS IoT takes at most {MAX_TOPIC_BYTES}"
            ),
            TopicError::TooManySlashes { slashes } => write!(
                f,
                "the topic has {slashes} slashes; AWS IoT takes at most {MAX_TOPIC_SLASHES}"
            ),
        }
    }
}

impl core::error::Error for TopicError {}

/// A topic AWS IoT accepts for a publish (see [`TopicError`] for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a>(&'a str);

impl<'a> Topic<'a> {
    /// Checks `name` against AWS IoT's rules.
    ///
    /// # Errors
    /// The first rule `name` breaks, in the order of [`TopicError`]'s variants.
    pub fn new(name: &'a str) -> Result<Topic<'a>, TopicError> {
        if name.is_empty() {
            return Err(TopicError::Empty);
        }
        if let Some(c) = name.chars().find(|c| matches!(c, '+' | '#')) {
            return Err(TopicError::Wildcard(c));
        }
        if name.contains('\0') {
            return Err(TopicError::NulCharacter);
        }
        if name.len() > MAX_TOPIC_BYTES {
            return Err(TopicError::TooLong { bytes: name.len() });
        }
        let slashes = name.bytes().filter(|&b| b == b'/').count();
        if slashes > MAX_TOPIC_SLASHES {
            return Err(TopicError::TooManySlashes { slashes });
        }
        Ok(Topic(name))
    }

    /// The topic's name.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The payload cannot be sent as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// [`PayloadFormat::Utf8`] was declared and the payload is not UTF-8 (MQTT 5.0 section
    /// 3.3.2.3.2: a payload marked so must be UTF-8).
    NotUtf8 {
        /// Where the first byte that is not UTF-8 is.
        at: usize,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::TooLarge { bytes } => write!(
                f,
                "the payload is {bytes} bytes; AWS IoT takes at most {MAX_PAYLOAD_BYTES} (128 KB)"
            ),
            PayloadError::NotUtf8 { at } => write!(
                f,
                "the payload is declared UTF-8 (payload format utf8) but byte {at} is not UTF-8"
            ),
        }
    }
}

impl core::error::Error for PayloadError {}

/// Checks a payload's size against [`MAX_PAYLOAD_BYTES`] (the rest of the payload checks
/// need the request: see [`Publish::build`]).
///
/// # Errors
/// [`PayloadError::TooLarge`].
pub fn check_payload_size(bytes: usize) -> Result<(), PayloadError> {
    if bytes > MAX_PAYLOAD_BYTES {
        Err(PayloadError::TooLarge { bytes })
    } else {
        Ok(())
    }
}

/// Which MQTT 5 property a [`PropertyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// `contentType`.
    ContentType,
    /// `responseTopic`.
    ResponseTopic,
    /// A user property's name.
    UserPropertyName,
    /// A user property's value.
    UserPropertyValue,
    /// `correlationData`.
    CorrelationData,
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Property::ContentType => "the content type",
            Property::ResponseTopic => "the response topic",
            Property::UserPropertyName => "a user property's name",
            Property::UserPropertyValue => "a user property's value",
            Property::CorrelationData => "the correlation data",
        })
    }
}

/// Why an MQTT 5 property cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyError {
    /// Longer than [`MAX_PROPERTY_BYTES`].
    TooLong {
        /// Which property.
        property: Property,
        /// Its length in bytes.
        bytes: usize,
    },
    /// A string holding U+0000, which MQTT forbids.
    NulCharacter(Property),
    /// An empty user property name.
    EmptyName,
    /// The response topic breaks a topic rule.
    ResponseTopic(TopicError),
}

impl fmt::Display for PropertyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyError::TooLong { property, bytes } => write!(
                f,
                "{property} is {bytes} bytes; MQTT 5 takes at most {MAX_PROPERTY_BYTES}"
            ),
            PropertyError::NulCharacter(property) => {
                write!(f, "{property} holds U+0000 (NUL), which MQTT forbids")
            }
            PropertyError::EmptyName => f.write_str("a user property's name is empty"),
            PropertyError::ResponseTopic(error) => write!(f, "response topic: {error}"),
        }
    }
}

impl core::error::Error for PropertyError {}

fn check_string(text: &str, property: Property) -> Result<(), PropertyError> {
    if text.len() > MAX_PROPERTY_BYTES {
        return Err(PropertyError::TooLong {
            property,
            bytes: text.len(),
        });
    }
    if text.contains('\0') {
        return Err(PropertyError::NulCharacter(property));
    }
    Ok(())
}

/// One MQTT 5 user property: a name and a value (names may repeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserProperty<'a> {
    name: &'a str,
    value: &'a str,
}

impl<'a> UserProperty<'a> {
    /// A property; the name must not be empty, and both must be MQTT strings.
    ///
    /// # Errors
    /// [`PropertyError::EmptyName`], [`PropertyError::TooLong`],
    /// [`PropertyError::NulCharacter`].
    pub fn new(name: &'a str, value: &'a str) -> Result<UserProperty<'a>, PropertyError> {
        if name.is_empty() {
            return Err(PropertyError::EmptyName);
        }
        check_string(name, Property::UserPropertyName)?;
        check_string(value, Property::UserPropertyValue)?;
        Ok(UserProperty { name, value })
    }

    /// The name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value.
    pub fn value(&self) -> &'a str {
        self.value
    }
}

/// The MQTT QoS of the publish (AWS IoT has no QoS 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    /// QoS 0 (`qos=0`).
    AtMostOnce,
    /// QoS 1 (`qos=1`).
    AtLeastOnce,
}

/// What the payload is, for subscribers (`x-amz-mqtt5-payload-format-indicator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// `UNSPECIFIED_BYTES`: any bytes.
    Bytes,
    /// `UTF8_DATA`: UTF-8 text (checked by [`Publish::build`]).
    Utf8,
}

impl PayloadFormat {
    /// The header value AWS IoT expects.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Bytes => "UNSPECIFIED_BYTES",
            PayloadFormat::Utf8 => "UTF8_DATA",
        }
    }
}

/// Why the request could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildError {
    /// The payload is refused.
    Payload(PayloadError),
    /// The buffer is smaller than [`Publish::buffer_len`].
    BufferTooSmall {
        /// What [`Publish::buffer_len`] asks for.
        needed: usize,
        /// What was given.
        available: usize,
    },
    /// The HTTP head could not be written (a bad host or extra header).
    Request(RequestError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Payload(error) => error.fmt(f),
            BuildError::BufferTooSmall { needed, available } => write!(
                f,
                "the request needs a {needed}-byte buffer, {available} bytes were given"
            ),
            BuildError::Request(error) => write!(f, "cannot write the request head: {error}"),
        }
    }
}

impl core::error::Error for BuildError {}

impl From<RequestError> for BuildError {
    fn from(error: RequestError) -> BuildError {
        BuildError::Request(error)
    }
}

impl From<PayloadError> for BuildError {
    fn from(error: PayloadError) -> BuildError {
        BuildError::Payload(error)
    }
}

/// The header carrying the user properties.
pub const USER_PROPERTIES_HEADER: &str = "x-amz-mqtt5-user-properties";
/// The header carrying the payload format indicator.
pub const PAYLOAD_FORMAT_HEADER: &str = "x-amz-mqtt5-payload-format-indicator";
/// The header carrying the correlation data.
pub const CORRELATION_DATA_HEADER: &str = "x-amz-mqtt5-correlation-data";

/// A publish: the topic, QoS and optional MQTT 5 properties, every one checked when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    topic: Topic<'a>,
    qos: Qos,
    retain: bool,
    content_type: Option<&'a str>,
    message_expiry: Option<u32>,
    response_topic: Option<Topic<'a>>,
    user_properties: &'a [UserProperty<'a>],
    payload_format: Option<PayloadFormat>,
    correlation_data: Option<&'a [u8]>,
}

/// A written request: the head to send (then the payload), and its path for logs.
#[derive(Debug, Clone, Copy)]
pub struct Built<'b> {
    /// The request head, for [`iot_http::HttpClient::send`] with the payload as body.
    pub request: Request<'b>,
    /// The path and query it was sent to.
    pub path: &'b str,
}

impl<'a> Publish<'a> {
    /// A publish to `topic` with `qos`, no retain flag and no properties.
    pub fn new(topic: Topic<'a>, qos: Qos) -> Publish<'a> {
        Publish {
            topic,
            qos,
            retain: false,
            content_type: None,
            message_expiry: None,
            response_topic: None,
            user_properties: &[],
            payload_format: None,
            correlation_data: None,
        }
    }

    /// Sets MQTT's RETAIN flag (`retain=true`): AWS IoT keeps the message for the topic's
    /// future subscribers. The device's policy then also needs `iot:RetainPublish`.
    pub fn retain(mut self, retain: bool) -> Publish<'a> {
        self.retain = retain;
        self
    }

    /// The payload's content type (`contentType`), e.g. `application/json`.
    ///
    /// # Errors
    /// [`PropertyError::TooLong`], [`PropertyError::NulCharacter`].
    pub fn content_type(mut self, content_type: &'a str) -> Result<Publish<'a>, PropertyError> {
        check_string(content_type, Property::ContentType)?;
        self.content_type = Some(content_type);
        Ok(self)
    }

    /// How long, in seconds, AWS IoT keeps the message for subscribers that have not had it
    /// (`messageExpiry`). Without it the message does not expire.
    pub fn message_expiry(mut self, seconds: u32) -> Publish<'a> {
        self.message_expiry = Some(seconds);
        self
    }

    /// The topic a receiver should answer on (`responseTopic`).
    ///
    /// # Errors
    /// [`PropertyError::ResponseTopic`] when `topic` breaks a topic rule.
    pub fn response_topic(mut self, topic: &'a str) -> Result<Publish<'a>, PropertyError> {
        self.response_topic = Some(Topic::new(topic).map_err(PropertyError::ResponseTopic)?);
        Ok(self)
    }

    /// The user properties, sent in the order given.
    ///
    /// # Errors
    /// None today: each [`UserProperty`] was checked when made. It returns a `Result` so
    /// that a limit on the whole set can be added without breaking callers.
    pub fn user_properties(
        mut self,
        properties: &'a [UserProperty<'a>],
    ) -> Result<Publish<'a>, PropertyError> {
        self.user_properties = properties;
        Ok(self)
    }

    /// Declares what the payload is.
    pub fn payload_format(mut self, format: PayloadFormat) -> Publish<'a> {
        self.payload_format = Some(format);
        self
    }

    /// Correlation data for the receiver's answer (any bytes; sent base64-encoded).
    ///
    /// # Errors
    /// [`PropertyError::TooLong`].
    pub fn correlation_data(mut self, data: &'a [u8]) -> Result<Publish<'a>, PropertyError> {
        if data.len() > MAX_PROPERTY_BYTES {
            return Err(PropertyError::TooLong {
                property: Property::CorrelationData,
                bytes: data.len(),
            });
        }
        self.correlation_data = Some(data);
        Ok(self)
    }

    /// The topic.
    pub fn topic(&self) -> Topic<'a> {
        self.topic
    }

    /// The path and query: `/topics/<topic>?qos=N`, then `&retain=true`, `&contentType=`,
    /// `&messageExpiry=` and `&responseTopic=` for what is set, percent-encoded.
    ///
    /// # Errors
    /// [`RequestError::BufferTooSmall`] when `out` is shorter than [`path_len`](Self::path_len).
    pub fn write_path<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, RequestError> {
        let len = {
            let mut path = PathBuilder::new(&mut *out);
            path.literal("/topics/")?.segment(self.topic.as_str())?;
            path.literal(match self.qos {
                Qos::AtMostOnce => "?qos=0",
                Qos::AtLeastOnce => "?qos=1",
            })?;
            if self.retain {
                path.literal("&retain=true")?;
            }
            if let Some(content_type) = self.content_type {
                path.literal("&contentType=")?.segment(content_type)?;
            }
            if let Some(seconds) = self.message_expiry {
                path.literal("&messageExpiry=")?
                    .literal(Decimal::new(seconds).as_str())?;
            }
            if let Some(topic) = self.response_topic {
                path.literal("&responseTopic=")?.segment(topic.as_str())?;
            }
            path.as_str().len()
        };
        let written: &'o [u8] = out;
        core::str::from_utf8(written.get(..len).unwrap_or_default())
            .map_err(|_| RequestError::InvalidPath)
    }

    /// The length of [`write_path`](Self::write_path)'s result.
    pub fn path_len(&self) -> usize {
        use encode::percent_encoded_len as encoded;
        let mut len = "/topics/".len() + encoded(self.topic.as_str()) + "?qos=N".len();
        if self.retain {
            len += "&retain=true".len();
        }
        if let Some(content_type) = self.content_type {
            len += "&contentType=".len() + encoded(content_type);
        }
        if let Some(seconds) = self.message_expiry {
            len += "&messageExpiry=".len() + Decimal::new(seconds).as_str().len();
        }
        if let Some(topic) = self.response_topic {
            len += "&responseTopic=".len() + encoded(topic.as_str());
        }
        len
    }

    /// Writes the user properties' JSON, `[{"name":"value"},...]`, into `sink`.
    fn write_user_properties<S: Sink>(&self, sink: &mut S) -> Result<(), encode::Full> {
        sink.put(b"[")?;
        for (i, property) in self.user_properties.iter().enumerate() {
            sink.put(if i == 0 { b"{" } else { b",{" })?;
            json_string(property.name, sink)?;
            sink.put(b":")?;
            json_string(property.value, sink)?;
            sink.put(b"}")?;
        }
        sink.put(b"]")
    }

    /// The base64 of the user properties' JSON, 0 without properties.
    fn user_properties_header_len(&self) -> usize {
        if self.user_properties.is_empty() {
            return 0;
        }
        let mut counter = Counter::default();
        // A counter never fills up.
        let _ = self.write_user_properties(&mut counter);
        base64_len(counter.0)
    }

    /// The buffer [`build`](Self::build) needs for this request to `host` with `headers`
    /// and `payload`: the head, plus room for the path and the longest base64 value while
    /// they are written. An upper bound by a few bytes at most.
    pub fn buffer_len(&self, host: &str, headers: &[(&str, &str)], payload: &[u8]) -> usize {
        let header = |name: &str, value_len: usize| name.len() + 2 + value_len + 2;
        let mut head = "POST ".len() + self.path_len() + " HTTP/1.1\r\n".len();
        head += header("Host", host.len());
        head += headers
            .iter()
            .map(|(name, value)| header(name, value.len()))
            .sum::<usize>();
        let properties = self.user_properties_header_len();
        if properties > 0 {
            head += header(USER_PROPERTIES_HEADER, properties);
        }
        if let Some(format) = self.payload_format {
            head += header(PAYLOAD_FORMAT_HEADER, format.as_str().len());
        }
        let correlation = self
            .correlation_data
            .map_or(0, |data| base64_len(data.len()));
        if self.correlation_data.is_some() {
            head += header(CORRELATION_DATA_HEADER, correlation);
        }
        head += header("Connection", "keep-alive".len());
        head += header(
            "Content-Length",
            Decimal::new(u32::try_from(payload.len()).unwrap_or(u32::MAX))
                .as_str()
                .len(),
        );
        head += 2;
        head + self.path_len() + properties.max(correlation)
    }

    /// Checks `payload` and writes the request for it into `buffer`: request line, `Host`,
    /// the caller's `headers` (for example `User-Agent` and the HTTP `Content-Type`), the
    /// MQTT 5 property headers, `Connection` and `Content-Length`. Send the returned
    /// request with `payload` as its body.
    ///
    /// `buffer` needs [`buffer_len`](Self::buffer_len) bytes. Its back part is used to
    /// write the path and the base64 values before they are copied into the head.
    ///
    /// # Errors
    /// [`BuildError::Payload`] when `payload` is too large, or declared UTF-8 and is not;
    /// [`BuildError::BufferTooSmall`]; [`BuildError::Request`] for a bad `host` or header.
    pub fn build<'b>(
        &self,
        buffer: &'b mut [u8],
        host: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<Built<'b>, BuildError> {
        check_payload_size(payload.len())?;
        if self.payload_format == Some(PayloadFormat::Utf8) {
            core::str::from_utf8(payload).map_err(|error| PayloadError::NotUtf8 {
                at: error.valid_up_to(),
            })?;
        }
        let needed = self.buffer_len(host, headers, payload);
        let available = buffer.len();
        let too_small = BuildError::BufferTooSmall { needed, available };
        let path_len = self.path_len();
        let scratch_len = self.user_properties_header_len().max(
            self.correlation_data
                .map_or(0, |data| base64_len(data.len())),
        );
        let back_len = path_len + scratch_len;
        let split = available.checked_sub(back_len).ok_or(too_small)?;
        let (front, back) = buffer.split_at_mut(split);
        let (path_buffer, scratch) = back.split_at_mut(path_len);
        let path_len = self
            .write_path(&mut *path_buffer)
            .map_err(|_| too_small)?
            .len();
        let path_bytes: &'b [u8] = path_buffer;
        let path = core::str::from_utf8(path_bytes.get(..path_len).unwrap_or_default())
            .map_err(|_| BuildError::Request(RequestError::InvalidPath))?;
        let full = |_: RequestError| too_small;
        let mut builder =
            RequestBuilder::new(front, Method::Post, path, host).map_err(|error| match error {
                RequestError::BufferTooSmall => too_small,
                other => BuildError::Request(other),
            })?;
        let header_error = |error: RequestError| match error {
            RequestError::BufferTooSmall => too_small,
            other => BuildError::Request(other),
        };
        for (name, value) in headers {
            builder.header(name, value).map_err(header_error)?;
        }
        if !self.user_properties.is_empty() {
            let mut encoder = Base64::new(SliceSink::new(&mut *scratch));
            self.write_user_properties(&mut encoder)
                .map_err(|_| too_small)?;
            let value = encoder.finish().map_err(|_| too_small)?.into_written();
            let value = core::str::from_utf8(value).map_err(|_| too_small)?;
            builder
                .header(USER_PROPERTIES_HEADER, value)
                .map_err(header_error)?;
        }
        if let Some(format) = self.payload_format {
            builder
                .header(PAYLOAD_FORMAT_HEADER, format.as_str())
                .map_err(header_error)?;
        }
        if let Some(data) = self.correlation_data {
            let mut encoder = Base64::new(SliceSink::new(&mut *scratch));
            encoder.put(data).map_err(|_| too_small)?;
            let value = encoder.finish().map_err(|_| too_small)?.into_written();
            let value = core::str::from_utf8(value).map_err(|_| too_small)?;
            builder
                .header(CORRELATION_DATA_HEADER, value)
                .map_err(header_error)?;
        }
        let request = builder.finish_for_body(payload).map_err(full)?;
        Ok(Built { request, path })
    }
}

#[cfg(test)]
mod tests;
