extern crate std;

use super::*;
use proptest::prelude::*;
use std::string::{String, ToString};
use std::vec::Vec;

const HOST: &str = "abc-ats.iot.eu-west-1.amazonaws.com";

fn head_of(publish: &Publish<'_>, headers: &[(&str, &str)], payload: &[u8]) -> (String, String) {
    let mut buffer = std::vec![0u8; publish.buffer_len(HOST, headers, payload)];
    let built = publish
        .build(&mut buffer, HOST, headers, payload)
        .expect("fits in buffer_len");
    let head = String::from_utf8(built.request.head().to_vec()).expect("ASCII head");
    (built.path.to_string(), head)
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.split("\r\n")
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for &c in text.trim_end_matches('=').as_bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).expect("base64 digit");
        bits = (bits << 6) | u32::try_from(value).unwrap();
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).unwrap());
        }
    }
    out
}

#[test]
fn topics_follow_aws_iots_rules() {
    assert_eq!(Topic::new("a/b").map(|t| t.as_str()), Ok("a/b"));
    assert_eq!(Topic::new(""), Err(TopicError::Empty));
    assert_eq!(Topic::new("a/+/b"), Err(TopicError::Wildcard('+')));
    assert_eq!(Topic::new("a/#"), Err(TopicError::Wildcard('#')));
    assert_eq!(Topic::new("a\0b"), Err(TopicError::NulCharacter));
    let longest = "x".repeat(MAX_TOPIC_BYTES);
    assert!(Topic::new(&longest).is_ok());
    let too_long = "x".repeat(MAX_TOPIC_BYTES + 1);
    assert_eq!(
        Topic::new(&too_long),
        Err(TopicError::TooLong { bytes: 257 })
    );
    // Bytes, not characters: 128 two-byte characters are 256 bytes.
    assert!(Topic::new(&"\u{e9}".repeat(128)).is_ok());
    assert!(Topic::new(&"\u{e9}".repeat(129)).is_err());
    assert!(Topic::new("1/2/3/4/5/6/7/8").is_ok());
    assert_eq!(
        Topic::new("1/2/3/4/5/6/7/8/9"),
        Err(TopicError::TooManySlashes { slashes: 8 })
    );
    assert_eq!(
        TopicError::Wildcard('#').to_string(),
        "the topic holds the wildcard '#', which only a subscription may use"
    );
}

#[test]
fn the_payload_limit_is_128_kb() {
    assert_eq!(check_payload_size(MAX_PAYLOAD_BYTES), Ok(()));
    assert_eq!(
        check_payload_size(MAX_PAYLOAD_BYTES + 1),
        Err(PayloadError::TooLarge { bytes: 131_073 })
    );
    let publish = Publish::new(Topic::new("t").unwrap(), Qos::AtMostOnce);
    let payload = std::vec![b'x'; MAX_PAYLOAD_BYTES + 1];
    let mut buffer = [0u8; 256];
    assert_eq!(
        publish.build(&mut buffer, HOST, &[], &payload).err(),
        Some(BuildError::Payload(PayloadError::TooLarge {
            bytes: 131_073
        }))
    );
}

#[test]
fn a_plain_publish_is_the_demos_request() {
    let publish = Publish::new(Topic::new("freertos/demo/https").unwrap(), Qos::AtLeastOnce);
    let (path, head) = head_of(&publish, &[("User-Agent", "t/1")], b"{}");
    assert_eq!(path, "/topics/freertos%2Fdemo%2Fhttps?qos=1");
    assert_eq!(
        head,
        std::format!(
            "POST /topics/freertos%2Fdemo%2Fhttps?qos=1 HTTP/1.1\r\nHost: {HOST}\r\n\
             User-Agent: t/1\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n"
        )
    );
    let (path, _) = head_of(
        &Publish::new(Topic::new("a").unwrap(), Qos::AtMostOnce),
        &[],
        b"",
    );
    assert_eq!(path, "/topics/a?qos=0");
}

#[test]
fn every_parameter_and_header_is_written() {
    let properties = [
        UserProperty::new("device", "alpha").unwrap(),
        UserProperty::new("quote\"d", "back\\slash\nline").unwrap(),
        UserProperty::new("device", "again").unwrap(),
    ];
    let publish = Publish::new(Topic::new("dt/room 1").unwrap(), Qos::AtLeastOnce)
        .retain(true)
        .content_type("application/json; charset=utf-8")
        .unwrap()
        .message_expiry(3600)
        .response_topic("dt/room 1/reply")
        .unwrap()
        .user_properties(&properties)
        .unwrap()
        .payload_format(PayloadFormat::Utf8)
        .correlation_data(&[0, 1, 2, 0xff])
        .unwrap();
    let (path, head) = head_of(&publish, &[], "h\u{e9}".as_bytes());
    assert_eq!(
        path,
        "/topics/dt%2Froom%201?qos=1&retain=true\
         &contentType=application%2Fjson%3B%20charset%3Dutf-8&messageExpiry=3600\
         &responseTopic=dt%2Froom%201%2Freply"
    );
    let properties = header(&head, USER_PROPERTIES_HEADER).expect("user properties");
    assert_eq!(
        String::from_utf8(base64_decode(properties)).unwrap(),
        r#"[{"device":"alpha"},{"quote\"d":"back\\slash\nline"},{"device":"again"}]"#
    );
    assert_eq!(header(&head, PAYLOAD_FORMAT_HEADER), Some("UTF8_DATA"));
    assert_eq!(header(&head, CORRELATION_DATA_HEADER), Some("AAEC/w=="));
    assert_eq!(header(&head, "Content-Length"), Some("3"));
}

#[test]
fn retain_false_and_bytes_format_are_written_as_aws_defaults() {
    let publish = Publish::new(Topic::new("t").unwrap(), Qos::AtLeastOnce)
        .retain(false)
        .payload_format(PayloadFormat::Bytes);
    let (path, head) = head_of(&publish, &[], &[0xff]);
    assert_eq!(path, "/topics/t?qos=1");
    assert_eq!(
        header(&head, PAYLOAD_FORMAT_HEADER),
        Some("UNSPECIFIED_BYTES")
    );
    assert_eq!(header(&head, USER_PROPERTIES_HEADER), None);
}

#[test]
fn a_utf8_payload_format_needs_a_utf8_payload() {
    let publish = Publish::new(Topic::new("t").unwrap(), Qos::AtLeastOnce)
        .payload_format(PayloadFormat::Utf8);
    let mut buffer = [0u8; 256];
    assert_eq!(
        publish.build(&mut buffer, HOST, &[], b"ok\xffno").err(),
        Some(BuildError::Payload(PayloadError::NotUtf8 { at: 2 }))
    );
}

#[test]
fn properties_are_checked_when_set() {
    let topic = Topic::new("t").unwrap();
    assert_eq!(
        Publish::new(topic, Qos::AtMostOnce)
            .response_topic("r/#")
            .err(),
        Some(PropertyError::ResponseTopic(TopicError::Wildcard('#')))
    );
    assert_eq!(
        Publish::new(topic, Qos::AtMostOnce)
            .content_type("a\0b")
            .err(),
        Some(PropertyError::NulCharacter(Property::ContentType))
    );
    let long = "x".repeat(MAX_PROPERTY_BYTES + 1);
    assert_eq!(
        Publish::new(topic, Qos::AtMostOnce)
            .content_type(&long)
            .err(),
        Some(PropertyError::TooLong {
            property: Property::ContentType,
            bytes: 65_536
        })
    );
    assert_eq!(UserProperty::new("", "v"), Err(PropertyError::EmptyName));
    assert_eq!(
        UserProperty::new("n", &long).err(),
        Some(PropertyError::TooLong {
            property: Property::UserPropertyValue,
            bytes: 65_536
        })
    );
    assert!(UserProperty::new("n", "").is_ok());
    assert_eq!(
        Publish::new(topic, Qos::AtMostOnce)
            .correlation_data(long.as_bytes())
            .err()
            .map(|e| e.to_string()),
        Some("the correlation data is 65536 bytes; MQTT 5 takes at most 65535".into())
    );
}

#[test]
fn a_small_buffer_is_reported_with_what_is_needed() {
    let properties = [UserProperty::new("k", "v").unwrap()];
    let publish = Publish::new(Topic::new("t").unwrap(), Qos::AtLeastOnce)
        .user_properties(&properties)
        .unwrap();
    let needed = publish.buffer_len(HOST, &[], b"x");
    for size in [0, 10, needed / 2] {
        let mut buffer = std::vec![0u8; size];
        assert!(
            matches!(
                publish.build(&mut buffer, HOST, &[], b"x"),
                Err(BuildError::BufferTooSmall { available, .. }) if available == size
            ),
            "{size}"
        );
    }
}

#[test]
fn a_bad_host_or_header_is_a_request_error() {
    let publish = Publish::new(Topic::new("t").unwrap(), Qos::AtLeastOnce);
    let mut buffer = [0u8; 512];
    assert_eq!(
        publish.build(&mut buffer, "a b", &[], b"").err(),
        Some(BuildError::Request(RequestError::InvalidHost))
    );
    assert_eq!(
        publish
            .build(&mut buffer, HOST, &[("X", "a\r\nInjected: 1")], b"")
            .err(),
        Some(BuildError::Request(RequestError::InvalidHeaderValue))
    );
}

fn topic_strategy() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 /_$%&?=.\u{e9}-]{1,60}"
}

proptest! {
    /// Whatever the values, the path and headers are well-formed, carry every value back
    /// unchanged, and `buffer_len` is enough and at most a little more than what is used.
    #[test]
    fn any_request_round_trips(
        topic in topic_strategy(),
        content_type in proptest::option::of(any::<String>()),
        response in proptest::option::of(topic_strategy()),
        expiry in proptest::option::of(any::<u32>()),
        properties in proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        correlation in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        retain in any::<bool>(),
    ) {
        let Ok(topic) = Topic::new(&topic) else { return Ok(()) };
        let properties: Vec<UserProperty<'_>> = properties
            .iter()
            .filter_map(|(name, value)| UserProperty::new(name, value).ok())
            .collect();
        let mut publish = Publish::new(topic, Qos::AtLeastOnce)
            .retain(retain)
            .user_properties(&properties)
            .unwrap();
        if let Some(content_type) = content_type.as_deref() {
            let Ok(next) = publish.content_type(content_type) else { return Ok(()) };
            publish = next;
        }
        if let Some(response) = response.as_deref() {
            let Ok(next) = publish.response_topic(response) else { return Ok(()) };
            publish = next;
        }
        if let Some(seconds) = expiry {
            publish = publish.message_expiry(seconds);
        }
        if let Some(data) = correlation.as_deref() {
            publish = publish.correlation_data(data).unwrap();
        }
        let needed = publish.buffer_len(HOST, &[], b"p");
        let mut buffer = std::vec![0u8; needed];
        let built = publish.build(&mut buffer, HOST, &[], b"p").unwrap();
        let head = String::from_utf8(built.request.head().to_vec()).unwrap();
        prop_assert_eq!(built.path.len(), publish.path_len());
        let (path, query) = built.path.split_once('?').unwrap();
        prop_assert_eq!(decode(path.strip_prefix("/topics/").unwrap()), topic.as_str());
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap();
            let value = decode(value);
            match name {
                "qos" => prop_assert_eq!(value, "1"),
                "retain" => prop_assert!(retain && value == "true"),
                "contentType" => prop_assert_eq!(Some(value.as_str()), content_type.as_deref()),
                "responseTopic" => prop_assert_eq!(Some(value.as_str()), response.as_deref()),
                "messageExpiry" => prop_assert_eq!(value.parse::<u32>().ok(), expiry),
                other => prop_assert!(false, "unexpected {}", other),
            }
        }
        match header(&head, USER_PROPERTIES_HEADER) {
            None => prop_assert!(properties.is_empty()),
            Some(encoded) => {
                let json = String::from_utf8(base64_decode(encoded)).unwrap();
                let pairs = parse_properties(&json);
                let expected: Vec<(String, String)> = properties
                    .iter()
                    .map(|p| (p.name().to_string(), p.value().to_string()))
                    .collect();
                prop_assert_eq!(pairs, expected);
            }
        }
        if let Some(data) = correlation.as_deref() {
            prop_assert_eq!(base64_decode(header(&head, CORRELATION_DATA_HEADER).unwrap()), data);
        }
        // `buffer_len` is exact: the head, then room for the path and the longer base64 value.
        let scratch = publish
            .user_properties_header_len()
            .max(correlation.as_deref().map_or(0, |data| encode::base64_len(data.len())));
        prop_assert_eq!(needed, head.len() + publish.path_len() + scratch);
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Reads `[{"name":"value"},...]` with a strict JSON string decoder of its own.
fn parse_properties(json: &str) -> Vec<(String, String)> {
    let mut chars = json.chars().peekable();
    let mut out = Vec::new();
    let string = |chars: &mut core::iter::Peekable<core::str::Chars<'_>>| -> String {
        assert_eq!(chars.next(), Some('"'));
        let mut text = String::new();
        loop {
            match chars.next().expect("closed string") {
                '"' => return text,
                '\\' => match chars.next().unwrap() {
                    '"' => text.push('"'),
                    '\\' => text.push('\\'),
                    'n' => text.push('\n'),
                    'r' => text.push('\r'),
                    't' => text.push('\t'),
                    'b' => text.push('\u{8}'),
                    'f' => text.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        text.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                    }
                    other => panic!("bad escape {other}"),
                },
                c => {
                    assert!(u32::from(c) >= 0x20, "raw control character");
                    text.push(c);
                }
            }
        }
    };
    assert_eq!(chars.next(), Some('['));
    while chars.peek() != Some(&']') {
        if chars.peek() == Some(&',') {
            chars.next();
        }
        assert_eq!(chars.next(), Some('{'));
        let name = string(&mut chars);
        assert_eq!(chars.next(), Some(':'));
        let value = string(&mut chars);
        assert_eq!(chars.next(), Some('}'));
        out.push((name, value));
    }
    out
}
