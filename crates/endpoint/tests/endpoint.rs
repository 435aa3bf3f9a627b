//! The endpoint seen from a rustls client over loopback: mutual TLS on both versions,
//! rejected clients, the AWS-IoT-like routes, limits, keep-alive, close_notify and the
//! test knobs.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod support;
use support::{Response, read_response};

use iot_server::certs::{DeviceKey, TestPki, generate_test_pki};
use iot_server::{Behaviour, EndpointConfig, RunningEndpoint, TlsVersions, start};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// One PKI per test binary (RSA key generation is the slow part), inside cargo's
/// per-target temp dir so nothing lands in the repository.
fn pki() -> &'static TestPki {
    static PKI: OnceLock<(tempfile::TempDir, TestPki)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("endpoint-test-pki-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let pki = generate_test_pki(dir.path()).expect("test PKI");
        (dir, pki)
    })
    .1
}

fn config(pki: &TestPki) -> EndpointConfig {
    EndpointConfig::new(&pki.server.0, &pki.server.1, &pki.ca_cert, 0)
}

fn serve(config: EndpointConfig) -> RunningEndpoint {
    assert_eq!(
        config.bind.ip(),
        Ipv4Addr::LOCALHOST,
        "tests stay on loopback"
    );
    start(config).expect("endpoint starts")
}

/// What a client presents and accepts.
struct Client<'a> {
    identity: Option<(&'a Path, &'a Path)>,
    versions: &'static [&'static SupportedProtocolVersion],
    alpn: &'a [&'a [u8]],
    trust: PathBuf,
}

impl<'a> Client<'a> {
    fn device(cert: &'a Path, key: &'a Path) -> Self {
        Client {
            identity: Some((cert, key)),
            versions: rustls::ALL_VERSIONS,
            alpn: &[],
            trust: pki().ca_cert.clone(),
        }
    }

    fn config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.trust).expect("ca") {
            roots.add(cert.expect("ca pem")).expect("ca added");
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(self.versions)
                .expect("versions")
                .with_root_certificates(roots);
        let mut config = match self.identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_file_iter(cert)
                        .expect("cert")
                        .map(|c| c.expect("cert pem"))
                        .collect(),
                    PrivateKeyDer::from_pem_file(key).expect("key"),
                )
                .expect("client identity"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// Connects and completes the handshake (for TLS 1.3 a rejected client certificate
    /// only shows on the first read).
    fn connect(&self, endpoint: &RunningEndpoint) -> io::Result<Tls> {
        let name = ServerName::try_from("localhost").expect("name");
        let conn = ClientConnection::new(self.config(), name).map_err(io::Error::other)?;
        let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, endpoint.port()))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(tls)
    }
}

/// A version list with only `version` in it.
fn only(
    version: &'static SupportedProtocolVersion,
) -> &'static [&'static SupportedProtocolVersion] {
    static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    if version.version == rustls::ProtocolVersion::TLSv1_2 {
        &TLS12
    } else {
        &TLS13
    }
}

fn p256() -> (PathBuf, PathBuf) {
    pki().device(DeviceKey::P256)
}

fn connect_p256(endpoint: &RunningEndpoint) -> Tls {
    let (cert, key) = p256();
    Client::device(&cert, &key).connect(endpoint).expect("mTLS")
}

fn send(tls: &mut Tls, method: &str, target: &str, extra: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()
}

fn exchange(tls: &mut Tls, method: &str, target: &str, body: &[u8]) -> Response {
    send(tls, method, target, "", body).expect("request sent");
    read_response(tls).expect("response")
}

fn publish_once(endpoint: &RunningEndpoint, target: &str) -> Response {
    exchange(&mut connect_p256(endpoint), "POST", target, b"{\"t\":21}")
}

/// The `traceId` value of an AWS-style JSON body.
fn trace_id(body: &str) -> Option<&str> {
    let start = body.find("\"traceId\":\"")? + "\"traceId\":\"".len();
    let end = start + body[start..].find('"')?;
    Some(&body[start..end])
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn mutual_tls_works_with_every_device_key_on_tls_1_2_and_1_3() {
    let endpoint = serve(config(pki()));
    let kinds = [
        DeviceKey::Rsa2048,
        DeviceKey::Rsa3072,
        DeviceKey::P256,
        DeviceKey::P384,
    ];
    for kind in kinds {
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let (cert, key) = pki().device(kind);
            let mut client = Client::device(&cert, &key);
            client.versions = only(version);
            let mut tls = client
                .connect(&endpoint)
                .unwrap_or_else(|e| panic!("{kind:?} {:?}: {e}", version.version));
            assert_eq!(tls.conn.protocol_version(), Some(version.version));
            let response = exchange(&mut tls, "POST", "/topics/demo?qos=1", b"x");
            assert_eq!(response.status, 200, "{kind:?} {:?}", version.version);
        }
    }
    assert_eq!(endpoint.observations().handshakes.load(Ordering::SeqCst), 8);
}

#[test]
fn each_single_version_setting_refuses_the_other_version() {
    let (cert, key) = p256();
    for (setting, other) in [
        (TlsVersions::Tls12Only, &rustls::version::TLS13),
        (TlsVersions::Tls13Only, &rustls::version::TLS12),
    ] {
        let mut config = config(pki());
        config.versions = setting;
        let endpoint = serve(config);
        let mut client = Client::device(&cert, &key);
        assert!(
            client.connect(&endpoint).is_ok(),
            "{setting:?} with any version"
        );
        client.versions = only(other);
        assert!(
            client.connect(&endpoint).is_err(),
            "{setting:?} accepted {other:?}"
        );
    }
}

/// A rejected client fails in the handshake (TLS 1.2) or at the first read (TLS 1.3).
fn assert_rejected(client: &Client<'_>, endpoint: &RunningEndpoint) {
    if let Ok(mut tls) = client.connect(endpoint) {
        let outcome = send(&mut tls, "POST", "/topics/a?qos=1", "", b"x")
            .and_then(|()| read_response(&mut tls));
        assert!(outcome.is_err(), "the endpoint answered: {outcome:?}");
    }
}

#[test]
fn untrusted_and_missing_client_certificates_are_rejected_on_both_versions() {
    let endpoint = serve(config(pki()));
    let (cert, key) = &pki().device_untrusted;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut untrusted = Client::device(cert, key);
        untrusted.versions = only(version);
        assert_rejected(&untrusted, &endpoint);
        let mut anonymous = Client::device(cert, key);
        anonymous.identity = None;
        anonymous.versions = untrusted.versions;
        assert_rejected(&anonymous, &endpoint);
    }
    let observations = endpoint.observations();
    wait_until("four failed handshakes", || {
        observations.failed_handshakes.load(Ordering::SeqCst) == 4
    });
    assert_eq!(observations.handshakes.load(Ordering::SeqCst), 0);
    assert!(observations.requests.lock().expect("lock").is_empty());
}

#[test]
fn publish_answers_200_with_a_json_ok_and_a_trace_id() {
    let endpoint = serve(config(pki()));
    let first = publish_once(&endpoint, "/topics/a%2Fb?qos=1");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert!(
        first.body.starts_with("{\"message\":\"OK\""),
        "{}",
        first.body
    );
    let first_id = trace_id(&first.body).expect("traceId").to_owned();
    assert!(!first_id.is_empty());
    let second = publish_once(&endpoint, "/topics/a%2Fb?qos=0&retain=false");
    assert_eq!(second.status, 200);
    assert_ne!(trace_id(&second.body), Some(first_id.as_str()));

    let requests = endpoint
        .observations()
        .requests
        .lock()
        .expect("lock")
        .clone();
    assert_eq!(requests[0].client, "device-p256");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/topics/a%2Fb?qos=1");
    assert_eq!(requests[0].body, b"{\"t\":21}");
}

#[test]
fn optional_aws_query_parameters_are_tolerated() {
    let endpoint = serve(config(pki()));
    let target =
        "/topics/t?qos=1&retain=true&contentType=text%2Fplain&messageExpiry=60&responseTopic=r";
    assert_eq!(publish_once(&endpoint, target).status, 200);
}

#[test]
fn invalid_qos_gets_400_with_an_aws_style_json_error() {
    let endpoint = serve(config(pki()));
    for qos in ["2", "abc"] {
        let response = publish_once(&endpoint, &format!("/topics/a?qos={qos}"));
        assert_eq!(response.status, 400, "qos={qos}");
        assert!(response.body.contains("\"message\":"), "{}", response.body);
        assert!(trace_id(&response.body).is_some(), "{}", response.body);
    }
}

#[test]
fn bad_percent_encoding_in_the_topic_gets_400() {
    let endpoint = serve(config(pki()));
    for target in [
        "/topics/a%2?qos=1",
        "/topics/a%zz?qos=1",
        "/topics/%ff?qos=1",
    ] {
        assert_eq!(publish_once(&endpoint, target).status, 400, "{target}");
    }
}

#[test]
fn unknown_path_gets_404_and_wrong_method_gets_405() {
    let endpoint = serve(config(pki()));
    assert_eq!(publish_once(&endpoint, "/things/a?qos=1").status, 404);
    let mut tls = connect_p256(&endpoint);
    assert_eq!(
        exchange(&mut tls, "GET", "/topics/a?qos=1", b"").status,
        405
    );
    assert_eq!(
        exchange(&mut tls, "PUT", "/topics/a?qos=1", b"x").status,
        405
    );
}

#[test]
fn bodies_up_to_128_kib_are_accepted_and_larger_get_413() {
    let endpoint = serve(config(pki()));
    let limit = 128 * 1024;
    let mut tls = connect_p256(&endpoint);
    let ok = exchange(&mut tls, "POST", "/topics/big?qos=1", &vec![b'x'; limit]);
    assert_eq!(ok.status, 200);
    let mut tls = connect_p256(&endpoint);
    let too_big = exchange(
        &mut tls,
        "POST",
        "/topics/big?qos=1",
        &vec![b'x'; limit + 1],
    );
    assert_eq!(too_big.status, 413);
}

#[test]
fn forced_status_knob_answers_every_publish_with_that_status() {
    for status in [403, 503] {
        let mut config = config(pki());
        config.behaviour = Behaviour::ForceStatus(status);
        let endpoint = serve(config);
        let response = publish_once(&endpoint, "/topics/a?qos=1");
        assert_eq!(response.status, status);
        assert!(trace_id(&response.body).is_some(), "{}", response.body);
    }
}

#[test]
fn close_without_answer_knob_closes_before_any_response() {
    let mut config = config(pki());
    config.behaviour = Behaviour::CloseWithoutAnswer;
    let endpoint = serve(config);
    let mut tls = connect_p256(&endpoint);
    send(&mut tls, "POST", "/topics/a?qos=1", "", b"x").expect("sent");
    assert!(read_response(&mut tls).is_err());
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let endpoint = serve(config(pki()));
    let mut tls = connect_p256(&endpoint);
    for _ in 0..2 {
        let response = exchange(&mut tls, "POST", "/topics/a?qos=1", b"x");
        assert_eq!(response.status, 200);
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
    assert_eq!(endpoint.observations().handshakes.load(Ordering::SeqCst), 1);
}

#[test]
fn connection_close_is_honoured_with_a_close_notify() {
    let endpoint = serve(config(pki()));
    let mut tls = connect_p256(&endpoint);
    send(
        &mut tls,
        "POST",
        "/topics/a?qos=1",
        "Connection: close\r\n",
        b"x",
    )
    .expect("sent");
    let response = read_response(&mut tls).expect("response");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    let mut rest = [0u8; 16];
    // rustls reads 0 only after the server's close_notify (a bare TCP close is an error).
    assert_eq!(tls.read(&mut rest).expect("clean end"), 0);
}

#[test]
fn the_endpoint_counts_close_notify_and_abrupt_closes_apart() {
    let endpoint = serve(config(pki()));
    let observations = endpoint.observations();

    let mut polite = connect_p256(&endpoint);
    assert_eq!(
        exchange(&mut polite, "POST", "/topics/a?qos=1", b"x").status,
        200
    );
    polite.conn.send_close_notify();
    polite.flush().expect("close_notify sent");
    wait_until("a close_notify", || {
        observations.close_notifies.load(Ordering::SeqCst) == 1
    });

    let mut abrupt = connect_p256(&endpoint);
    assert_eq!(
        exchange(&mut abrupt, "POST", "/topics/a?qos=1", b"x").status,
        200
    );
    drop(abrupt);
    wait_until("an abrupt close", || {
        observations.abrupt_closes.load(Ordering::SeqCst) == 1
    });
    assert_eq!(observations.close_notifies.load(Ordering::SeqCst), 1);
}

#[test]
fn alpn_x_amzn_http_ca_http_1_1_and_none_are_accepted_by_default() {
    let endpoint = serve(config(pki()));
    let (cert, key) = p256();
    for alpn in [&[b"x-amzn-http-ca".as_slice()][..], &[b"http/1.1"], &[]] {
        let mut client = Client::device(&cert, &key);
        client.alpn = alpn;
        let mut tls = client.connect(&endpoint).expect("handshake");
        assert_eq!(tls.conn.alpn_protocol(), alpn.first().copied());
        assert_eq!(
            exchange(&mut tls, "POST", "/topics/a?qos=1", b"x").status,
            200
        );
    }
}

#[test]
fn required_alpn_refuses_clients_without_x_amzn_http_ca() {
    let mut config = config(pki());
    config.require_alpn = true;
    let endpoint = serve(config);
    let (cert, key) = p256();
    let mut client = Client::device(&cert, &key);
    client.alpn = &[b"x-amzn-http-ca"];
    let mut tls = client.connect(&endpoint).expect("handshake");
    assert_eq!(
        exchange(&mut tls, "POST", "/topics/a?qos=1", b"x").status,
        200
    );

    client.alpn = &[];
    if let Ok(mut tls) = client.connect(&endpoint) {
        let outcome = send(&mut tls, "POST", "/topics/a?qos=1", "", b"x")
            .and_then(|()| read_response(&mut tls));
        assert!(outcome.is_err(), "answered without ALPN: {outcome:?}");
    }
}

#[test]
fn a_silent_client_is_dropped_after_the_idle_timeout() {
    let mut config = config(pki());
    config.idle_timeout = Duration::from_millis(300);
    let endpoint = serve(config);
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, endpoint.port())).expect("tcp");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    // The server sends nothing before the ClientHello and closes after the timeout.
    let outcome = tcp.read(&mut buf);
    assert!(
        matches!(outcome, Ok(0)) || outcome.is_err(),
        "unexpected bytes: {outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_bad_server_certificates_of_the_test_pki_are_refused_by_a_verifying_client() {
    let pki = pki();
    let (cert, key) = p256();
    let cases = [
        (&pki.server_expired, "expired"),
        (&pki.server_not_yet_valid, "not valid yet"),
        (&pki.server_wrong_name, "not valid for name"),
        (&pki.server_untrusted, "UnknownIssuer"),
    ];
    for ((server_cert, server_key), expected) in cases {
        let endpoint = serve(EndpointConfig::new(
            server_cert,
            server_key,
            &pki.ca_cert,
            0,
        ));
        let error = Client::device(&cert, &key)
            .connect(&endpoint)
            .expect_err("bad server accepted");
        let text = format!("{error:?} {error}");
        assert!(
            text.to_lowercase().contains(&expected.to_lowercase()),
            "{expected}: {text}"
        );
    }
}

#[test]
fn a_missing_credential_file_is_named_in_the_start_error() {
    let pki = pki();
    let missing = pki.ca_cert.with_file_name("no-such-ca.pem");
    let Err(error) = start(EndpointConfig::new(
        &pki.server.0,
        &pki.server.1,
        &missing,
        0,
    )) else {
        panic!("started without a CA file");
    };
    assert!(
        error.to_string().contains("no-such-ca.pem"),
        "error does not name the file: {error}"
    );
}

// -- reuse: a server that ends kept-alive connections (test knob).
#[test]
fn close_after_ends_each_connection_after_its_requests_announced_or_not() {
    for announced in [true, false] {
        let mut config = config(pki());
        config.close_after = Some(iot_server::CloseAfter {
            requests: 2,
            announced,
        });
        let endpoint = serve(config);
        let mut tls = connect_p256(&endpoint);
        let first = exchange(&mut tls, "POST", "/topics/a?qos=1", b"x");
        assert_eq!(first.header("connection"), Some("keep-alive"));
        let second = exchange(&mut tls, "POST", "/topics/a?qos=1", b"x");
        assert_eq!(second.status, 200);
        let expected = if announced { "close" } else { "keep-alive" };
        assert_eq!(second.header("connection"), Some(expected), "{announced}");
        let mut rest = [0u8; 16];
        assert_eq!(tls.read(&mut rest).expect("close_notify"), 0, "{announced}");
        assert_eq!(endpoint.observations().requests.lock().unwrap().len(), 2);
    }
    assert_eq!(
        iot_server::CloseAfter::parse("3,silent"),
        Some(iot_server::CloseAfter {
            requests: 3,
            announced: false
        })
    );
    for bad in ["0", "x", "2,loud", ""] {
        assert_eq!(iot_server::CloseAfter::parse(bad), None, "{bad}");
    }
}
