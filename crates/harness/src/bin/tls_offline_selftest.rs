//! `tls-offline-selftest`: Mbed TLS through the real kernel without a network, one scenario per
//! process, on any simulator (the Windows one under wine included, which has no network card
//! yet).
//!
//! The credentials come from files in the directory named by `TLS_OFFLINE_CERTS` (`ca.pem`,
//! `device.pem`, `device.key`, as `iot-server gen-certs --dir DIR` writes them), read in `main`
//! before the kernel starts. The handshake runs over an in-memory connection that keeps what
//! the client sends and then ends the stream, so a scenario sees the client's first flight
//! and the error the engine gives for a peer that goes away.

use std::process::ExitCode;

use freertos_https::net::{Connection, StreamError, TcpOptions};
use freertos_https::tls::{Credentials, TlsConfig, TlsError, TlsTransport};
use freertos_https_harness::{self as selftest_support, Outcome, Scenario, check};
use iot_transport::{Received, Sent, Transport};

/// The directory the credentials are read from.
const CERTS_ENV: &str = "TLS_OFFLINE_CERTS";

/// The name the client asks for (SNI) and checks in the server's certificate.
const SERVER_NAME: &str = "localhost";

/// The credential files, read before the kernel starts.
struct Files {
    ca: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
}

const SCENARIOS: &[Scenario<&'static Files>] = &[
    ("client_hello", client_hello),
    ("bad_key_is_named", bad_key_is_named),
    ("rsa_exponentiation", rsa_exponentiation),
];

fn main() -> ExitCode {
    selftest_support::run("tls-offline-selftest", SCENARIOS, 8, || {
        let dir = std::env::var(CERTS_ENV)
            .map_err(|_| format!("set {CERTS_ENV} to a directory of test credentials"))?;
        let read = |name: &str| {
            let path = std::path::Path::new(&dir).join(name);
            std::fs::read(&path).map_err(|error| format!("{}: {error}", path.display()))
        };
        let files = Files {
            ca: read("ca.pem")?,
            cert: read("device.pem")?,
            key: read("device.key")?,
        };
        Ok(&*Box::leak(Box::new(files)))
    })
}

/// A connection whose peer reads the client's first flight and then goes away.
#[derive(Default)]
struct PeerThatLeaves {
    sent: Vec<u8>,
}

impl Transport for &mut PeerThatLeaves {
    type Error = StreamError;

    fn send(&mut self, data: &[u8]) -> Result<Sent, StreamError> {
        self.sent.extend_from_slice(data);
        Ok(Sent::Bytes(data.len()))
    }

    fn recv(&mut self, _buf: &mut [u8]) -> Result<Received, StreamError> {
        if self.sent.is_empty() {
            Ok(Received::WouldBlock)
        } else {
            Ok(Received::EndOfStream)
        }
    }
}

impl Connection for &mut PeerThatLeaves {
    fn set_timeouts(&mut self, _send: core::time::Duration, _recv: core::time::Duration) {}

    fn close(self) {}
}

/// Runs one handshake against a peer that leaves; returns the error and the client's bytes.
fn handshake_with_leaving_peer(credentials: &Credentials) -> (Result<(), TlsError>, Vec<u8>) {
    let mut peer = PeerThatLeaves::default();
    let config = TlsConfig::new(SERVER_NAME);
    let result =
        TlsTransport::handshake(&mut peer, &config, credentials, TcpOptions::default()).map(|_| ());
    (result, peer.sent)
}

/// The client's first flight is a TLS ClientHello naming the server (SNI) with fresh random
/// bytes each time, and a peer that leaves mid-handshake is `PeerClosed`, not a success.
fn client_hello(files: &'static Files) -> Outcome {
    let credentials = Credentials::from_memory(&files.ca, &files.cert, &files.key, None);
    let (first, hello) = handshake_with_leaving_peer(&credentials);
    check(matches!(first, Err(TlsError::PeerClosed)), || {
        format!("a peer that left mid-handshake gave {first:?}, not PeerClosed")
    })?;
    // Record: handshake (22), version 3.x, length; then handshake type 1 (ClientHello).
    check(hello.len() > 43, || {
        format!("the client sent {} bytes", hello.len())
    })?;
    check(hello[0] == 22 && hello[1] == 3 && hello[5] == 1, || {
        format!(
            "the first record is not a ClientHello: {:02x?}",
            &hello[..6]
        )
    })?;
    let record_length = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
    check(hello.len() >= 5 + record_length, || {
        format!(
            "the record says {record_length} bytes, {} came",
            hello.len() - 5
        )
    })?;
    check(
        hello
            .windows(SERVER_NAME.len())
            .any(|w| w == SERVER_NAME.as_bytes()),
        || "the ClientHello does not name the server (SNI)".into(),
    )?;
    let (_, second) = handshake_with_leaving_peer(&credentials);
    // The client random: 32 bytes after the record header (5), handshake header (4), version (2).
    let random = |bytes: &[u8]| bytes.get(11..43).map(<[u8]>::to_vec);
    check(random(&hello) != random(&second), || {
        "two handshakes sent the same client random".into()
    })?;
    Ok(format!(
        "ClientHello of {} B naming {SERVER_NAME}, fresh random; peer leaving: PeerClosed",
        5 + record_length
    ))
}

/// A device key that is not a key fails before anything is sent, naming the client key.
fn bad_key_is_named(files: &'static Files) -> Outcome {
    let credentials = Credentials::from_memory(&files.ca, &files.cert, b"not a key", None);
    let (result, sent) = handshake_with_leaving_peer(&credentials);
    let Err(TlsError::Credentials(error)) = result else {
        return Err(format!("a bad key gave {result:?}, not a credential error"));
    };
    let text = error.to_string();
    check(text.contains("client key"), || {
        format!("the error does not name the client key: {text}")
    })?;
    check(sent.is_empty(), || {
        format!("{} bytes were sent with a bad key", sent.len())
    })?;
    Ok(format!("refused before sending: {text}"))
}

/// RSA's exponentiation on the stack against Mbed TLS's own, on random operands, the first
/// through `mbedtls_mpi_exp_mod_unsafe` as Mbed TLS's RSA public operation calls it: the
/// binary must be linked with the wrap (crates/harness/build.rs), on every simulator.
fn rsa_exponentiation(_: &'static Files) -> Outcome {
    const CASES: u32 = 3;
    freertos_https::tls::initialise().map_err(|error| format!("TLS set-up: {error}"))?;
    let mut entropy_failed = false;
    let mut random = |buffer: &mut [u8]| {
        entropy_failed |= freertos_https::board::fill_entropy(buffer).is_err();
    };
    let checked = freertos_https::tls::check_exp_mod_hook_against_mbed_tls(CASES, &mut random);
    check(!entropy_failed, || {
        "the board's entropy source failed".to_string()
    })?;
    checked.map_err(|error| error.to_string())?;
    Ok(format!(
        "{CASES} cases per modulus size agree with Mbed TLS's; the public operation is routed \
         here ({} exponentiations on the stack)",
        freertos_https::tls::exponentiations_on_the_stack()
    ))
}
