//! `tls-selftest`: mutual TLS through the real kernel, smoltcp, the card (slirp, or the gateway
//! with `FREERTOS_HTTPS_CARD=gateway`) and Mbed TLS, against
//! the bundled endpoint (rustls) on the host's 127.0.0.1, one scenario per process.
//!
//! Before the kernel starts, `main` generates a test PKI in a temporary directory (rcgen) and
//! starts one endpoint per server configuration the scenarios need. `tests/tls.rs` runs each
//! scenario.

use freertos_https_harness as selftest_support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use freertos_https::board::hosted::card::CardKind;
use freertos_https::board::posix::files::read_credentials;
use freertos_https::demo;
use freertos_https::link::ring::RingCard;
use freertos_https::net::{
    self, DefaultSocket as TcpSocket, DefaultStack as Stack, NetConfig, TcpOptions, TcpTransport,
};
use freertos_https::rtos::heap::HeapStats;
use freertos_https::rtos::time;
use freertos_https::tls::{
    CredentialError, Credentials, Endpoint, TlsConfig, TlsError, TlsTransport, TlsVersion,
};
use iot_http::{Config as HttpConfig, HttpClient, Method, RequestBuilder};
use iot_server::certs::{DeviceKey, ENCRYPTED_KEY_PASSPHRASE, TestPki, generate_test_pki};
use iot_server::{EndpointConfig, RunningEndpoint, TlsVersions};
use selftest_support::{Outcome, Scenario, check};

const SCENARIOS: &[Scenario<Context>] = &[
    ("mtls_matrix", mtls_matrix),
    ("key_formats", key_formats),
    (
        "encrypted_der_and_unsupported_keys",
        encrypted_der_and_unsupported_keys,
    ),
    ("server_not_trusted", server_not_trusted),
    ("client_rejected", client_rejected),
    ("bad_credentials", bad_credentials),
    ("sni_off_still_verifies", sni_off_still_verifies),
    ("alpn", alpn),
    ("no_heap_leak", no_heap_leak),
    ("two_tasks_at_once", two_tasks_at_once),
];

const APP_PRIORITY: u8 = 3;
/// Wrong passphrases tried on the encrypted key (see `encrypted_der_and_unsupported_keys`).
const WRONG_PASSPHRASE_ATTEMPTS: usize = 600;

/// What `main` prepares before the kernel starts.
struct Context {
    port: RingCard,
    pki: TestPki,
    /// Kept so the directory lives as long as the process.
    _dir: PathBuf,
    both: RunningEndpoint,
    tls12: RunningEndpoint,
    tls13: RunningEndpoint,
    expired: RunningEndpoint,
    not_yet_valid: RunningEndpoint,
    wrong_name: RunningEndpoint,
    untrusted: RunningEndpoint,
    alpn_required: RunningEndpoint,
}

/// TLS over the default stack's TCP socket.
type Tls = TlsTransport<TcpTransport<TcpSocket>>;

fn main() -> ExitCode {
    selftest_support::run("tls-selftest", SCENARIOS, APP_PRIORITY, setup)
}

fn setup() -> Result<Context, String> {
    // The endpoints' threads inherit this mask: host threads keep the kernel's signals out.
    freertos_https::board::posix::host_thread::block_kernel_signals();
    let dir = std::env::temp_dir().join(format!("tls-selftest-{}", std::process::id()));
    let pki = generate_test_pki(&dir).map_err(|e| e.to_string())?;
    let endpoint = |(cert, key): &(PathBuf, PathBuf), versions: TlsVersions, require_alpn: bool| {
        let mut config = EndpointConfig::new(cert, key, &pki.ca_cert, 0);
        config.versions = versions;
        config.require_alpn = require_alpn;
        iot_server::start(config).map_err(|e| e.to_string())
    };
    Ok(Context {
        both: endpoint(&pki.server, TlsVersions::Both, false)?,
        tls12: endpoint(&pki.server, TlsVersions::Tls12Only, false)?,
        tls13: endpoint(&pki.server, TlsVersions::Tls13Only, false)?,
        expired: endpoint(&pki.server_expired, TlsVersions::Both, false)?,
        not_yet_valid: endpoint(&pki.server_not_yet_valid, TlsVersions::Both, false)?,
        wrong_name: endpoint(&pki.server_wrong_name, TlsVersions::Both, false)?,
        untrusted: endpoint(&pki.server_untrusted, TlsVersions::Both, false)?,
        alpn_required: endpoint(&pki.server, TlsVersions::Both, true)?,
        port: CardKind::from_env()
            .map_err(|e| e.to_string())?
            .start(0)
            .map_err(|e| e.to_string())?,
        pki,
        _dir: dir,
    })
}

fn start_stack(port: RingCard) -> Result<&'static Stack, String> {
    let stack = net::start(Box::new(port), NetConfig::default()).map_err(|e| e.to_string())?;
    stack
        .wait_until_up(Duration::from_secs(5))
        .ok_or("no IPv4 address within 5 s")?;
    Ok(stack)
}

fn credentials(pki: &TestPki, cert: &Path, key: &Path) -> Result<Credentials, String> {
    read_credentials(&pki.ca_cert, cert, key, None).map_err(|e| e.to_string())
}

fn endpoint_of(server: &RunningEndpoint) -> Endpoint {
    Endpoint {
        address: net::USER_MODE_HOST,
        port: server.port(),
    }
}

fn connect(
    stack: &'static Stack,
    server: &RunningEndpoint,
    config: &TlsConfig,
    credentials: &Credentials,
) -> Result<Tls, TlsError> {
    TlsTransport::connect(
        stack,
        endpoint_of(server),
        config,
        credentials,
        TcpOptions::default(),
    )
}

/// POSTs a message to a topic and returns the status and body.
fn publish(transport: &mut Tls, topic_path: &str) -> Result<(u16, String), String> {
    let mut head = [0u8; 512];
    let body = br#"{"message":"Hello, world"}"#;
    let request = RequestBuilder::new(&mut head, Method::Post, topic_path, "localhost")
        .and_then(|builder| builder.finish_for_body(body))
        .map_err(|e| format!("request: {e}"))?;
    let mut client: HttpClient<_, _> =
        HttpClient::new(transport, demo::KernelClock, HttpConfig::default());
    let mut buffer = [0u8; 2048];
    let response = client
        .send(&request, body, &mut buffer)
        .map_err(|e| format!("exchange: {e}"))?;
    Ok((
        response.head.status().as_u16(),
        String::from_utf8_lossy(response.body).into_owned(),
    ))
}

/// Every device key type on TLS 1.2 and TLS 1.3: handshake, a publish answered 200, and a
/// close_notify the server sees.
fn mtls_matrix(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let mut report = Vec::new();
    for kind in [
        DeviceKey::Rsa2048,
        DeviceKey::Rsa3072,
        DeviceKey::P256,
        DeviceKey::P384,
    ] {
        let (cert, key) = context.pki.device(kind);
        let credentials = credentials(&context.pki, &cert, &key)?;
        for (server, version) in [
            (&context.tls12, TlsVersion::Tls12),
            (&context.tls13, TlsVersion::Tls13),
        ] {
            let notifies_before = server.observations().close_notifies.load(Ordering::SeqCst);
            let config = TlsConfig::new("localhost").only(version);
            let mut transport = connect(stack, server, &config, &credentials)
                .map_err(|e| format!("{kind:?} {version:?}: {e}"))?;
            let negotiated = transport.version();
            let (status, body) = publish(&mut transport, "/topics/devices%2Fdemo?qos=1")?;
            check(status == 200 && body.contains("\"message\":\"OK\""), || {
                format!("{kind:?} {version:?}: status {status}, body {body}")
            })?;
            check(transport.close(), || {
                format!("{kind:?} {version:?}: close_notify not sent")
            })?;
            wait_until(|| {
                server.observations().close_notifies.load(Ordering::SeqCst) > notifies_before
            })
            .map_err(|_| format!("{kind:?} {version:?}: the server never saw close_notify"))?;
            report.push(format!("{kind:?}/{negotiated}"));
        }
    }
    Ok(report.join(" "))
}

/// Waits up to 3 s (on the host clock, sleeping in ticks) for `condition`.
fn wait_until(condition: impl Fn() -> bool) -> Result<(), ()> {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > Duration::from_secs(3) {
            return Err(());
        }
        time::delay(Duration::from_millis(5));
    }
    Ok(())
}

/// PKCS#1 (RSA) and SEC1 (EC) private keys work as well as PKCS#8.
fn key_formats(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    for (kind, key) in [
        (DeviceKey::Rsa2048, &context.pki.device_key_pkcs1),
        (DeviceKey::P256, &context.pki.device_key_sec1),
    ] {
        let (cert, _) = context.pki.device(kind);
        let credentials = credentials(&context.pki, &cert, key)?;
        let mut transport = connect(
            stack,
            &context.both,
            &TlsConfig::new("localhost"),
            &credentials,
        )
        .map_err(|e| format!("{}: {e}", key.display()))?;
        let (status, _) = publish(&mut transport, "/topics/formats?qos=0")?;
        check(status == 200, || {
            format!("{}: status {status}", key.display())
        })?;
    }
    Ok("PKCS#1 and SEC1 keys accepted".into())
}

/// Tells whether a verification failure has the expected reason.
type VerifyCheck = fn(&freertos_https::tls::VerifyFailure) -> bool;

/// An encrypted PKCS#8 key needs its passphrase (a clear error without it, or with a wrong
/// one); DER certificates and keys work; an Ed25519 key and an RSA-1024 key are refused as
/// unsupported, naming the
/// file.
fn encrypted_der_and_unsupported_keys(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let pki = &context.pki;
    let (cert, _) = pki.device(DeviceKey::P256);
    let config = TlsConfig::new("localhost");
    let with_passphrase = |passphrase: Option<&str>| {
        read_credentials(&pki.ca_cert, &cert, &pki.device_key_encrypted, passphrase)
            .map_err(|e| e.to_string())
    };
    match connect(stack, &context.both, &config, &with_passphrase(None)?) {
        Err(TlsError::Credentials(error @ CredentialError::PassphraseRequired { .. })) => check(
            error.to_string().contains("device-p256-encrypted.key"),
            || error.to_string(),
        )?,
        other => {
            return Err(format!(
                "encrypted key without passphrase: {:?}",
                other.err()
            ));
        }
    }
    // About 1 wrong passphrase in 256 decrypts into bytes with valid padding, which Mbed TLS
    // then fails to parse as a key: trying many makes that case all but certain to be met.
    for attempt in 0..WRONG_PASSPHRASE_ATTEMPTS {
        let wrong = format!("wrong-{attempt}");
        match connect(
            stack,
            &context.both,
            &config,
            &with_passphrase(Some(&wrong))?,
        ) {
            Err(TlsError::Credentials(CredentialError::WrongPassphrase { .. })) => {}
            other => {
                return Err(format!(
                    "encrypted key with the wrong passphrase {wrong:?}: {:?}",
                    other.err()
                ));
            }
        }
    }
    let mut transport = connect(
        stack,
        &context.both,
        &config,
        &with_passphrase(Some(ENCRYPTED_KEY_PASSPHRASE))?,
    )
    .map_err(|e| format!("encrypted key with its passphrase: {e}"))?;
    let (status, _) = publish(&mut transport, "/topics/encrypted?qos=1")?;
    check(status == 200, || format!("status {status}"))?;
    drop(transport);
    let (der_cert, der_key) = &pki.device_der;
    let mut transport = connect(
        stack,
        &context.both,
        &config,
        &credentials(pki, der_cert, der_key)?,
    )
    .map_err(|e| format!("DER credentials: {e}"))?;
    let (status, _) = publish(&mut transport, "/topics/der?qos=1")?;
    check(status == 200, || format!("status {status}"))?;
    drop(transport);
    let (ed_cert, ed_key) = &pki.device_ed25519;
    match connect(
        stack,
        &context.both,
        &config,
        &credentials(pki, ed_cert, ed_key)?,
    ) {
        Err(TlsError::Credentials(
            error @ (CredentialError::UnsupportedKey { .. } | CredentialError::BadKey { .. }),
        )) => check(error.to_string().contains("device-ed25519"), || {
            error.to_string()
        })?,
        other => return Err(format!("Ed25519 key: {:?}", other.err())),
    }
    // Too weak: RSA keys below 2048 bits are refused before anything goes on the network.
    match connect(
        stack,
        &context.both,
        &config,
        &credentials(pki, &cert, &pki.device_key_rsa1024)?,
    ) {
        Err(TlsError::Credentials(error @ CredentialError::UnsupportedKey { .. })) => {
            check(error.to_string().contains("RSA-1024"), || error.to_string())?
        }
        other => return Err(format!("RSA-1024 key: {:?}", other.err())),
    }
    Ok("passphrase required / wrong / right; DER accepted; Ed25519 and RSA-1024 refused".into())
}

/// Untrusted CA, expired, not yet valid, wrong name: each its own decoded reason, at once,
/// and never worth a retry.
fn server_not_trusted(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let (cert, key) = context.pki.device(DeviceKey::P256);
    let credentials = credentials(&context.pki, &cert, &key)?;
    let cases: [(&RunningEndpoint, &str, VerifyCheck); 4] = [
        (&context.untrusted, "unknown CA", |failure| {
            failure.unknown_ca()
        }),
        (&context.expired, "expired", |failure| failure.expired()),
        (&context.not_yet_valid, "not yet valid", |failure| {
            failure.not_yet_valid()
        }),
        (&context.wrong_name, "name mismatch", |failure| {
            failure.name_mismatch()
        }),
    ];
    // Results are kept without allocating until the heap has been checked.
    let mut seen = Vec::with_capacity(cases.len());
    // One successful connection and one round of failures first: Mbed TLS keeps process-wide
    // state (PSA key slots) that it grows on first use, which belongs in the baseline.
    drop(
        connect(
            stack,
            &context.both,
            &TlsConfig::new("localhost"),
            &credentials,
        )
        .map_err(|e| e.to_string())?,
    );
    for (server, _, _) in &cases {
        let _ = connect(stack, server, &TlsConfig::new("localhost"), &credentials);
    }
    let before = settled_heap(stack, None);
    for (server, expected, matches) in cases {
        let start = Instant::now();
        let result = connect(stack, server, &TlsConfig::new("localhost"), &credentials);
        let took = start.elapsed();
        match result {
            Err(TlsError::ServerNotTrusted(failure)) if matches(&failure) => {
                check(!TlsError::ServerNotTrusted(failure).is_retryable(), || {
                    "marked retryable".into()
                })?;
                check(took < Duration::from_secs(5), || {
                    format!("{expected}: took {took:?}")
                })?;
                seen.push((expected, failure));
            }
            Err(other) => return Err(format!("{expected}: got {other}")),
            Ok(_) => return Err(format!("{expected}: the connection was accepted")),
        }
    }
    let after = settled_heap(stack, Some(before.free));
    check(after.free == before.free, || {
        format!(
            "failed handshakes leaked: {} B free before, {} B after",
            before.free, after.free
        )
    })?;
    let report: Vec<String> = seen
        .iter()
        .map(|(expected, failure)| format!("{expected} ({failure})"))
        .collect();
    Ok(report.join("; "))
}

/// A device certificate the server does not trust is reported as a rejection: in TLS 1.2
/// during the handshake, in TLS 1.3 possibly only on the first read.
fn client_rejected(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let (cert, key) = &context.pki.device_untrusted;
    let credentials = credentials(&context.pki, cert, key)?;
    let mut report = Vec::new();
    for (server, version) in [
        (&context.tls12, TlsVersion::Tls12),
        (&context.tls13, TlsVersion::Tls13),
    ] {
        let config = TlsConfig::new("localhost").only(version);
        let error = match connect(stack, server, &config, &credentials) {
            Err(error) => error,
            Ok(mut transport) => match publish_error(&mut transport) {
                Some(error) => error,
                None => return Err(format!("{version:?}: an untrusted device was served")),
            },
        };
        check(matches!(error, TlsError::ClientRejected { .. }), || {
            format!("{version:?}: got {error}")
        })?;
        check(!error.is_retryable(), || "marked retryable".into())?;
        report.push(format!("{version:?}: {error}"));
    }
    Ok(report.join("; "))
}

/// The TLS error of a publish attempt, if it failed with one.
fn publish_error(transport: &mut Tls) -> Option<TlsError> {
    use iot_transport::{Received, Transport};
    let _ = transport
        .send(b"POST /topics/x?qos=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    let mut buffer = [0u8; 256];
    for _ in 0..3 {
        match transport.recv(&mut buffer) {
            Err(error) => return Some(error),
            Ok(Received::WouldBlock) => continue,
            Ok(_) => return None,
        }
    }
    None
}

/// Missing, unreadable and invalid credential files give errors naming the file.
fn bad_credentials(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let pki = &context.pki;
    let (cert, key) = pki.device(DeviceKey::P256);
    let missing = Path::new("/nonexistent/device.key");
    match read_credentials(&pki.ca_cert, &cert, missing, None) {
        Err(error @ CredentialError::Unreadable { .. }) => check(
            error.to_string().contains("/nonexistent/device.key"),
            || error.to_string(),
        )?,
        other => return Err(format!("missing key: {other:?}")),
    }
    let garbage = pki.ca_cert.with_file_name("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .map_err(|e| e.to_string())?;
    let bad_cert =
        read_credentials(&pki.ca_cert, &garbage, &key, None).map_err(|e| e.to_string())?;
    match connect(
        stack,
        &context.both,
        &TlsConfig::new("localhost"),
        &bad_cert,
    ) {
        Err(TlsError::Credentials(error @ CredentialError::BadCertificate { .. })) => {
            check(error.to_string().contains("garbage.pem"), || {
                error.to_string()
            })?
        }
        other => return Err(format!("garbage certificate: {:?}", other.err())),
    }
    let (_, other_key) = pki.device(DeviceKey::P384);
    let mismatched =
        read_credentials(&pki.ca_cert, &cert, &other_key, None).map_err(|e| e.to_string())?;
    match connect(
        stack,
        &context.both,
        &TlsConfig::new("localhost"),
        &mismatched,
    ) {
        Err(TlsError::Credentials(CredentialError::KeyMismatch { .. })) => {}
        other => return Err(format!("mismatched key: {:?}", other.err())),
    }
    Ok("missing file, garbage certificate and mismatched key each named".into())
}

/// With SNI off the name is still checked: the right name passes, a wrong one fails.
fn sni_off_still_verifies(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let (cert, key) = context.pki.device(DeviceKey::P256);
    let credentials = credentials(&context.pki, &cert, &key)?;
    let mut config = TlsConfig::new("localhost");
    config.send_sni = false;
    let mut transport =
        connect(stack, &context.both, &config, &credentials).map_err(|e| e.to_string())?;
    let (status, _) = publish(&mut transport, "/topics/sni?qos=1")?;
    check(status == 200, || format!("status {status}"))?;
    drop(transport);
    let mut wrong = TlsConfig::new("other.example");
    wrong.send_sni = false;
    match connect(stack, &context.both, &wrong, &credentials) {
        Err(TlsError::ServerNotTrusted(failure)) if failure.name_mismatch() => {}
        other => return Err(format!("wrong name without SNI: {:?}", other.err())),
    }
    // An IP address is verified against the certificate's IP names.
    let mut transport = connect(
        stack,
        &context.both,
        &TlsConfig::new("10.0.2.2"),
        &credentials,
    )
    .map_err(|e| format!("10.0.2.2: {e}"))?;
    let (status, _) = publish(&mut transport, "/topics/ip?qos=1")?;
    check(status == 200, || format!("status {status}"))?;
    Ok("name verified without SNI; IP name verified".into())
}

/// ALPN x-amzn-http-ca is offered and negotiated; a server that requires it turns away a
/// client that does not offer it.
fn alpn(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let (cert, key) = context.pki.device(DeviceKey::P256);
    let credentials = credentials(&context.pki, &cert, &key)?;
    let config = TlsConfig::new("localhost").with_alpn(&["x-amzn-http-ca"]);
    let mut transport =
        connect(stack, &context.alpn_required, &config, &credentials).map_err(|e| e.to_string())?;
    let chosen = transport.alpn_protocol();
    check(chosen.as_deref() == Some("x-amzn-http-ca"), || {
        format!("ALPN {chosen:?}")
    })?;
    let (status, _) = publish(&mut transport, "/topics/alpn?qos=1")?;
    check(status == 200, || format!("status {status}"))?;
    drop(transport);
    let refused = connect(
        stack,
        &context.alpn_required,
        &TlsConfig::new("localhost"),
        &credentials,
    )
    .ok()
    .and_then(|mut transport| publish(&mut transport, "/topics/alpn?qos=1").ok());
    check(refused.is_none(), || {
        "a client without ALPN was served".into()
    })?;
    Ok("x-amzn-http-ca negotiated; a client without it is turned away".into())
}

/// Twenty connections, each with a publish: the heap returns to where it was.
fn no_heap_leak(context: Context) -> Outcome {
    let stack = start_stack(context.port)?;
    let (cert, key) = context.pki.device(DeviceKey::Rsa2048);
    let credentials = credentials(&context.pki, &cert, &key)?;
    let config = TlsConfig::new("localhost");
    let round = || -> Result<(), String> {
        let mut transport =
            connect(stack, &context.both, &config, &credentials).map_err(|e| e.to_string())?;
        let (status, _) = publish(&mut transport, "/topics/leak?qos=1")?;
        check(status == 200, || format!("status {status}"))?;
        check(transport.close(), || "close_notify not sent".into())
    };
    // The first connection sets up Mbed TLS's process-wide state, which stays.
    round()?;
    let before = settled_heap(stack, None);
    let mut peak_used = 0;
    for _ in 0..20 {
        round()?;
        peak_used = peak_used.max(HeapStats::now().peak_used());
    }
    let after = settled_heap(stack, Some(before.free));
    check(after.free == before.free, || {
        format!(
            "heap: {} B free before, {} B after 20 connections",
            before.free, after.free
        )
    })?;
    Ok(format!(
        "20 mTLS connections; free heap back to {} B; peak used {} B",
        after.free, peak_used
    ))
}

/// The heap once closed sockets are freed (the IP task does it once the peer answers FIN).
fn settled_heap(stack: &'static Stack, expected: Option<usize>) -> HeapStats {
    let start = Instant::now();
    // Closed sockets keep their buffers until the peer has answered the FIN (or for the
    // linger time): wait for them first, or a slow close passes for a settled heap.
    while stack.tcp_sockets_in_use() > 0 && start.elapsed() < Duration::from_secs(10) {
        time::delay(Duration::from_millis(10));
    }
    let mut heap = HeapStats::now();
    loop {
        time::delay(Duration::from_millis(100));
        let next = HeapStats::now();
        let settled = expected.map_or(next.free == heap.free, |free| next.free == free);
        heap = next;
        if settled || start.elapsed() > Duration::from_secs(10) {
            return heap;
        }
    }
}

/// Two tasks of the same priority, each with its own mutual-TLS connections (TLS 1.2 for
/// one, TLS 1.3 for the other), handshake and publish at the same time, pre-empting each other
/// at every tick: both complete every round, so Mbed TLS's shared state survives them.
fn two_tasks_at_once(context: Context) -> Outcome {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex as HostMutex};

    const ROUNDS: usize = 10;
    let stack = start_stack(context.port)?;
    let (cert, key) = context.pki.device(DeviceKey::P256);
    let credentials = Arc::new(credentials(&context.pki, &cert, &key)?);
    let port = context.both.port();
    let done = Arc::new(AtomicUsize::new(0));
    let failures: Arc<HostMutex<Vec<String>>> = Arc::new(HostMutex::new(Vec::new()));
    for (name, version) in [("tls-a", TlsVersion::Tls12), ("tls-b", TlsVersion::Tls13)] {
        let (credentials, done, failures) = (credentials.clone(), done.clone(), failures.clone());
        freertos_https::rtos::task::TaskBuilder::new(name)
            .priority(freertos_https::rtos::task::Priority::new(APP_PRIORITY - 1).expect("valid"))
            .stack_bytes(16 * 1024)
            .spawn(move || {
                let endpoint = Endpoint {
                    address: net::USER_MODE_HOST,
                    port,
                };
                let config = TlsConfig::new("localhost").only(version);
                for round in 0..ROUNDS {
                    let outcome = TlsTransport::connect(
                        stack,
                        endpoint,
                        &config,
                        &credentials,
                        TcpOptions::default(),
                    )
                    .map_err(|e| e.to_string())
                    .and_then(|mut transport| {
                        let (status, _) = publish(&mut transport, "/topics/both?qos=1")?;
                        check(status == 200, || format!("status {status}"))?;
                        check(transport.close(), || "close_notify not sent".into())
                    });
                    if let Err(why) = outcome {
                        failures
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push(format!("{name} round {round}: {why}"));
                        break;
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
            .map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    while done.load(Ordering::SeqCst) < 2 && start.elapsed() < Duration::from_secs(60) {
        time::delay(Duration::from_millis(10));
    }
    let failures = failures
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    check(done.load(Ordering::SeqCst) == 2, || {
        "the two tasks did not finish within 60 s".into()
    })?;
    check(failures.is_empty(), || failures.join("; "))?;
    Ok(format!("2 tasks x {ROUNDS} mutual-TLS publishes at once"))
}
