//! The publish API over HTTPS with mutual TLS to the real endpoint (loopback only): every
//! parameter and header accepted and logged, retained messages stored, read back with
//! GetRetainedMessage and deleted, and each kind of bad input refused with its status and an
//! AWS-style JSON message naming the cause.

use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
mod support;
use support::Response;

use iot_server::certs::{self, CertPaths, DeviceKey};
use iot_server::{EndpointConfig, RunningEndpoint, start};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One development PKI (P-256 device) per test binary, in cargo's per-target temp dir.
fn pki() -> &'static CertPaths {
    static PKI: OnceLock<(tempfile::TempDir, CertPaths)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("publish-api-test-pki-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let paths = certs::generate_into(dir.path(), DeviceKey::P256).expect("PKI");
        (dir, paths)
    })
    .1
}

/// The endpoint's log records, captured for the whole test binary.
fn log_lines() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            log_lines()
                .lock()
                .expect("log lock")
                .push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn serve() -> RunningEndpoint {
    static CAPTURE: Capture = Capture;
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Info);
    let pki = pki();
    let config = EndpointConfig::new(&pki.server_cert, &pki.server_key, &pki.ca_cert, 0);
    assert_eq!(
        config.bind.ip(),
        Ipv4Addr::LOCALHOST,
        "tests stay on loopback"
    );
    start(config).expect("endpoint starts")
}

fn client_config(with_certificate: bool) -> Arc<ClientConfig> {
    let pki = pki();
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.ca_cert).expect("ca") {
        roots.add(cert.expect("ca pem")).expect("ca added");
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
    let config = if with_certificate {
        builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(&pki.device_cert)
                    .expect("cert")
                    .map(|cert| cert.expect("cert pem"))
                    .collect(),
                PrivateKeyDer::from_pem_file(&pki.device_key).expect("key"),
            )
            .expect("client identity")
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(config)
}

fn connect(endpoint: &RunningEndpoint, with_certificate: bool) -> io::Result<Tls> {
    let name = ServerName::try_from("localhost").expect("name");
    let connection =
        ClientConnection::new(client_config(with_certificate), name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, endpoint.port()))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = StreamOwned::new(connection, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// What the tests read in an AWS-style JSON body.
trait AwsBody {
    fn json(&self) -> serde_json::Value;
    /// The `message` of an AWS-style error body, checking it has a `traceId` too.
    fn message(&self) -> String;
}

impl AwsBody for Response {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn message(&self) -> String {
        let json = self.json();
        assert!(
            json["traceId"].as_str().is_some_and(|id| !id.is_empty()),
            "{}",
            self.body
        );
        json["message"].as_str().expect("message").to_owned()
    }
}

fn exchange(
    tls: &mut Tls,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()?;
    support::read_response(tls)
}

/// One request on a fresh mutual-TLS connection.
fn once(
    endpoint: &RunningEndpoint,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut tls = connect(endpoint, true).expect("mutual TLS");
    exchange(&mut tls, method, target, headers, body).expect("answer")
}

/// The captured log lines that contain `needle`.
fn logged(needle: &str) -> Vec<String> {
    log_lines()
        .lock()
        .expect("log lock")
        .iter()
        .filter(|line| line.contains(needle))
        .cloned()
        .collect()
}

#[test]
fn a_publish_with_every_parameter_and_header_is_accepted_recorded_and_logged() {
    let endpoint = serve();
    let properties = b64(br#"[{"deviceName": "alpha"}, {"deviceCnt": "45"}]"#);
    let correlation = b64(b"req-42");
    let response = once(
        &endpoint,
        "POST",
        "/topics/every%2Fparam?qos=1&retain=false&contentType=application%2Fjson\
         &messageExpiry=60&responseTopic=every%2Fparam%2Freply",
        &[
            ("x-amz-mqtt5-user-properties", &properties),
            ("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA"),
            ("x-amz-mqtt5-correlation-data", &correlation),
        ],
        br#"{"t":21}"#,
    );
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.message(), "OK");

    let requests = endpoint
        .observations()
        .requests
        .lock()
        .expect("lock")
        .clone();
    let publish = requests[0]
        .publish
        .clone()
        .expect("the publish is recorded");
    assert_eq!(publish.topic, "every/param");
    assert_eq!(publish.qos, 1);
    assert_eq!(publish.content_type.as_deref(), Some("application/json"));
    assert_eq!(publish.message_expiry, Some(60));
    assert_eq!(publish.response_topic.as_deref(), Some("every/param/reply"));
    assert_eq!(
        publish.user_properties,
        Some(vec![
            ("deviceName".to_owned(), "alpha".to_owned()),
            ("deviceCnt".to_owned(), "45".to_owned())
        ])
    );
    assert_eq!(publish.correlation_data.as_deref(), Some(&b"req-42"[..]));
    assert_eq!(publish.payload, br#"{"t":21}"#);

    let lines = logged("topic=\"every/param\"");
    assert_eq!(
        lines,
        vec![
            "freertos-https-device: publish topic=\"every/param\" qos=1 retain=false \
             contentType=\"application/json\" messageExpiry=60 \
             responseTopic=\"every/param/reply\" \
             userProperties=[{\"deviceName\":\"alpha\"},{\"deviceCnt\":\"45\"}] \
             payloadFormat=UTF8_DATA correlationData=6B payload=8B retained=- -> 200"
                .to_owned()
        ]
    );
    // The request line the board scripts count is still there.
    assert_eq!(
        logged("freertos-https-device: POST /topics/every%2Fparam?qos=1&retain=false").len(),
        1
    );
    assert!(
        !logged(": mutual TLS with freertos-https-device (").is_empty(),
        "the verified client certificate is logged"
    );
}

#[test]
fn a_retained_message_is_stored_read_back_and_deleted_by_an_empty_retained_publish() {
    let endpoint = serve();
    let target = "/topics/room%2F1%2Ftemperature?qos=1&retain=true";
    let properties = b64(br#"[{"unit":"C"}]"#);
    let stored = once(
        &endpoint,
        "POST",
        target,
        &[("x-amz-mqtt5-user-properties", &properties)],
        b"21.5",
    );
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_eq!(logged("topic=\"room/1/temperature\"").len(), 1);
    assert!(logged("topic=\"room/1/temperature\"")[0].ends_with("retained=stored -> 200"));

    // A later publish without retain leaves it alone, on another connection too.
    let mut tls = connect(&endpoint, true).expect("mutual TLS");
    let plain = exchange(
        &mut tls,
        "POST",
        "/topics/room%2F1%2Ftemperature?qos=0",
        &[],
        b"99",
    )
    .expect("answer");
    assert_eq!(plain.status, 200);
    let read = exchange(
        &mut tls,
        "GET",
        "/retainedMessage/room%2F1%2Ftemperature",
        &[],
        b"",
    )
    .expect("answer");
    assert_eq!(read.status, 200, "{}", read.body);
    let document = read.json();
    assert_eq!(document["topic"], "room/1/temperature");
    assert_eq!(document["payload"], b64(b"21.5"));
    assert_eq!(document["qos"], 1);
    assert_eq!(document["userProperties"], b64(br#"[{"unit":"C"}]"#));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let modified = document["lastModifiedTime"]
        .as_u64()
        .expect("lastModifiedTime");
    assert!(
        modified <= now_ms && now_ms - modified < 60_000,
        "{modified} vs {now_ms}"
    );

    let list = exchange(&mut tls, "GET", "/retainedMessage", &[], b"").expect("answer");
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json()["retainedTopics"][0]["topic"],
        "room/1/temperature"
    );
    assert_eq!(list.json()["retainedTopics"][0]["payloadSize"], 4);

    let deleted = exchange(&mut tls, "POST", target, &[], b"").expect("answer");
    assert_eq!(deleted.status, 200);
    assert!(
        logged("topic=\"room/1/temperature\"")
            .iter()
            .any(|line| line.ends_with("payload=0B retained=deleted -> 200"))
    );
    let gone = exchange(
        &mut tls,
        "GET",
        "/retainedMessage/room%2F1%2Ftemperature",
        &[],
        b"",
    )
    .expect("answer");
    assert_eq!(gone.status, 404);
    assert!(
        gone.message().contains("room/1/temperature"),
        "{}",
        gone.body
    );
}

#[test]
fn reading_retained_messages_needs_the_client_certificate_too() {
    let endpoint = serve();
    let outcome = connect(&endpoint, false)
        .and_then(|mut tls| exchange(&mut tls, "GET", "/retainedMessage", &[], b""));
    assert!(
        outcome.is_err(),
        "answered without a client certificate: {outcome:?}"
    );
}

#[test]
fn each_kind_of_bad_input_gets_its_status_and_a_message_naming_the_cause() {
    let endpoint = serve();
    let long_topic = "a".repeat(257);
    let deep_topic = ["a"; 9].join("%2F");
    let not_json = b64(b"deviceName=alpha");
    let not_strings = b64(br#"[{"deviceCnt": 45}]"#);
    let large = vec![b'x'; 128 * 1024 + 1];
    // Target, headers, body, status, and what the message must say.
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a [u8], u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "/topics/?qos=1".into(),
            vec![],
            b"x",
            400,
            "Invalid topic: empty",
        ),
        (
            "/topics/a%2F%2B?qos=1".into(),
            vec![],
            b"x",
            400,
            "wildcard '+'",
        ),
        ("/topics/a%2F%23".into(), vec![], b"x", 400, "wildcard '#'"),
        (
            format!("/topics/{long_topic}"),
            vec![],
            b"x",
            400,
            "257 bytes, more than 256",
        ),
        (
            format!("/topics/{deep_topic}"),
            vec![],
            b"x",
            400,
            "8 forward slashes, more than 7",
        ),
        ("/topics/a%zz".into(), vec![], b"x", 400, "percent-encoding"),
        (
            "/topics/t?qos=2".into(),
            vec![],
            b"x",
            400,
            "Invalid qos: 2",
        ),
        (
            "/topics/t?retain=yes".into(),
            vec![],
            b"x",
            400,
            "Invalid retain: yes",
        ),
        (
            "/topics/t?messageExpiry=-5".into(),
            vec![],
            b"x",
            400,
            "Invalid messageExpiry: -5",
        ),
        (
            "/topics/t?responseTopic=r%2F%23".into(),
            vec![],
            b"x",
            400,
            "Invalid responseTopic",
        ),
        (
            "/topics/t?retained=true".into(),
            vec![],
            b"x",
            400,
            "Unknown query parameter: retained",
        ),
        (
            "/topics/t?qos=1&qos=1".into(),
            vec![],
            b"x",
            400,
            "Repeated query parameter: qos",
        ),
        (
            "/topics/t?correlationData=AQ%3D%3D".into(),
            vec![],
            b"x",
            400,
            "x-amz-mqtt5-correlation-data header",
        ),
        (
            "/topics/t".into(),
            vec![("x-amz-mqtt5-user-properties", not_json.as_str())],
            b"x",
            400,
            "not JSON",
        ),
        (
            "/topics/t".into(),
            vec![("x-amz-mqtt5-user-properties", not_strings.as_str())],
            b"x",
            400,
            "\"deviceCnt\" is not a string",
        ),
        (
            "/topics/t".into(),
            vec![("x-amz-mqtt5-payload-format-indicator", "TEXT")],
            b"x",
            400,
            "must be UNSPECIFIED_BYTES or UTF8_DATA",
        ),
        (
            "/topics/t".into(),
            vec![("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA")],
            &[0xc3, 0x28],
            400,
            "not valid UTF-8",
        ),
        (
            "/topics/t".into(),
            vec![("x-amz-mqtt5-correlation-data", "%%%")],
            b"x",
            400,
            "x-amz-mqtt5-correlation-data: not base64",
        ),
        (
            "/topics/t?qos=1".into(),
            vec![],
            &large,
            413,
            "Payload too large",
        ),
    ];
    for (target, headers, body, status, cause) in &cases {
        let response = once(&endpoint, "POST", target, headers, body);
        assert_eq!(response.status, *status, "{target}: {}", response.body);
        let message = response.message();
        assert!(
            message.contains(cause),
            "{target}: {message:?} does not say {cause:?}"
        );
        assert!(
            !logged(&format!("({message})")).is_empty(),
            "the refusal is logged with its cause: {message}"
        );
    }
    // The boundaries themselves pass.
    let ok_topic = "a".repeat(256);
    let ok_depth = ["a"; 8].join("%2F");
    for target in [format!("/topics/{ok_topic}"), format!("/topics/{ok_depth}")] {
        assert_eq!(
            once(&endpoint, "POST", &target, &[], b"x").status,
            200,
            "{target}"
        );
    }
    let limit = vec![b'x'; 128 * 1024];
    assert_eq!(
        once(&endpoint, "POST", "/topics/t", &[], &limit).status,
        200
    );
    // No refused publish was taken as one.
    let requests = endpoint
        .observations()
        .requests
        .lock()
        .expect("lock")
        .clone();
    assert_eq!(
        requests.iter().filter(|r| r.publish.is_some()).count(),
        3,
        "{requests:?}"
    );
    assert!(endpoint.observations().retained.list().is_empty());
}

#[test]
fn the_retained_message_routes_refuse_other_methods_and_bad_topics() {
    let endpoint = serve();
    let post = once(&endpoint, "POST", "/retainedMessage/a", &[], b"x");
    assert_eq!(post.status, 405);
    assert!(post.message().contains("POST"), "{}", post.body);
    let wildcard = once(&endpoint, "GET", "/retainedMessage/a%2F%23", &[], b"");
    assert_eq!(wildcard.status, 400);
    assert!(wildcard.message().contains("wildcard"), "{}", wildcard.body);
    let missing = once(&endpoint, "GET", "/retainedMessage/never%2Fset", &[], b"");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.message(), "No retained message for topic never/set");
}
