//! Mutual TLS over any connected transport, with Mbed TLS 3.6 LTS. Portable.
//!
//! [`TlsTransport::handshake`] runs the handshake (with a deadline) over any
//! [`Connection`](crate::net::Connection), and [`TlsTransport::connect`] first dials a TCP
//! connection on any [`TcpIpStack`](crate::net::TcpIpStack). Either returns a
//! [`Transport`](iot_transport::Transport) the HTTP client uses. Both sides are authenticated:
//! the server's certificate must chain to the configured root CA and carry the server name
//! (verification cannot be turned off), and the device presents its own certificate and key.
//!
//! Mbed TLS allocates on the FreeRTOS heap (so its memory is in the heap figures), draws
//! randomness from the board's entropy source, and checks certificate dates against the
//! board's wall clock (see [`crate::board::BoardServices`]). Credentials are bytes: the
//! simulator board reads them from files, a board embeds them. The FFI lives in `engine`.
//!
//! Several tasks may hold connections at once. Mbed TLS is built without its threading
//! layer, so its shared state (the PSA key store) is guarded here: every call into Mbed TLS
//! holds one kernel mutex, which a connection gives back while it waits on its socket.
//!
//! # Configuring for AWS IoT
//!
//! ```no_run
//! # use freertos_https::tls::{Credentials, TlsConfig};
//! # let (ca, cert, key) = (&b""[..], &b""[..], &b""[..]);
//! // The three PEM files AWS IoT gives you, as bytes (read by the board).
//! let credentials = Credentials::from_memory(ca, cert, key, None);
//! // Port 8443: plain mutual TLS. On port 443 AWS IoT wants the ALPN protocol x-amzn-http-ca.
//! let config = TlsConfig::new("abc123-ats.iot.eu-west-1.amazonaws.com").with_alpn(&["x-amzn-http-ca"]);
//! ```
//!
//! # Memory
//!
//! The incoming record buffer is 16 KiB (any conforming server may send full-size records
//! unless a smaller maximum fragment length is negotiated); the outgoing one is 2 KiB (the
//! `ssl-out-content-len-*` features of `mbedtls-rs-sys`). [`TlsConfig::max_fragment_length`]
//! asks the server for smaller records.
//!
//! Nothing is held longer than the handshake needs it (measured with the RSA-2048 device key
//! against nginx, Apache httpd, HAProxy and the bundled endpoint: `scripts/bench-report.sh`):
//!
//! * The device's certificate and key are parsed and checked before anything goes on the
//!   network, then freed, and parsed again when the handshake sends the certificate and signs
//!   the CertificateVerify (an encrypted key stays loaded: decrypting it twice would double
//!   its key derivation). They are freed once the handshake is over. So they are never held
//!   while the server's chain is verified.
//! * The server's chain and the root CA are freed as soon as the handshake is past their last
//!   use (TLS 1.2 after the ClientKeyExchange, TLS 1.3 after the server's Finished), before
//!   the device signs, although Mbed TLS is built to keep the peer's chain
//!   (`MBEDTLS_SSL_KEEP_PEER_CERTIFICATE`). Without SNI the name is checked after the
//!   handshake, and the chain is freed then.
//! * Without [`TlsConfig::resumption`], no session tickets: none asked for in TLS 1.2, no PSK
//!   modes offered in TLS 1.3. With it, the session (without the server's chain, freed before
//!   it is saved) is serialized for a [`SessionStore`] (see [`session`]).
//!
//! What stays for the connection: the two record buffers, the session and the transforms;
//! in TLS 1.3 Mbed TLS 3.6 also keeps its handshake state until the connection is freed.

mod alpn;
mod ecp_hook;
mod engine;
mod errors;
mod exp_mod_hook;
mod montgomery;
mod mpi;
pub mod session;

pub use ecp_hook::{EcpCheckError, check_against_mbed_tls as check_ecp_hook_against_mbed_tls};
pub use exp_mod_hook::{
    ExpModCheckError, check_against_mbed_tls as check_exp_mod_hook_against_mbed_tls,
    exponentiations_on_the_stack,
};

use core::net::Ipv4Addr;
use core::time::Duration;

use alloc::borrow::{Cow, ToOwned};
use alloc::string::String;
use alloc::vec::Vec;

pub use engine::{ConnectTimings, IdleState, Resumption, TlsTransport, initialise};
pub use errors::{CredentialError, TlsError, VerifyFailure};
pub use session::{
    MAX_SESSION_BYTES, RamSessionStore, SavedSession, SessionKey, SessionStore, SessionTooLarge,
};

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Maximum fragment length to ask the server for (RFC 6066), to shrink its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFragmentLength {
    /// 512 bytes.
    Bytes512,
    /// 1024 bytes.
    Bytes1024,
    /// 2048 bytes.
    Bytes2048,
    /// 4096 bytes.
    Bytes4096,
}

/// How to connect: whom to expect, and what to offer. Verification is not optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The name the server's certificate must carry (DNS name or IP address). Also sent as
    /// SNI unless [`send_sni`](Self::send_sni) is off.
    pub server_name: String,
    /// Send the server name in the handshake (SNI). Default on. Off as the C demo allows; the
    /// certificate is still checked against the name.
    pub send_sni: bool,
    /// ALPN protocols to offer, in order of preference. Default none.
    pub alpn: Vec<String>,
    /// Lowest version accepted. Default TLS 1.2.
    pub min_version: TlsVersion,
    /// Highest version offered. Default TLS 1.3.
    pub max_version: TlsVersion,
    /// Time allowed for the TCP connect and the handshake together. Default 10 s.
    pub handshake_timeout: Duration,
    /// Ask the server for records no longer than this (TLS 1.2 extension). Default none.
    pub max_fragment_length: Option<MaxFragmentLength>,
    /// Session resumption: ask for TLS 1.2 tickets, offer TLS 1.3's PSK with (EC)DHE mode (never
    /// PSK alone: resumed sessions keep forward secrecy), and make the session available as a
    /// [`SavedSession`] ([`TlsTransport::take_session`]). Default off: nothing is asked for or
    /// kept.
    pub resumption: bool,
}

impl TlsConfig {
    /// Defaults for `server_name`.
    pub fn new(server_name: &str) -> TlsConfig {
        TlsConfig {
            server_name: server_name.to_owned(),
            send_sni: true,
            alpn: Vec::new(),
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            handshake_timeout: Duration::from_secs(10),
            max_fragment_length: None,
            resumption: false,
        }
    }

    /// Offers these ALPN protocols.
    pub fn with_alpn(mut self, protocols: &[&str]) -> TlsConfig {
        self.alpn = protocols
            .iter()
            .map(|protocol| (*protocol).to_owned())
            .collect();
        self
    }

    /// Accepts only `version`.
    pub fn only(mut self, version: TlsVersion) -> TlsConfig {
        self.min_version = version;
        self.max_version = version;
        self
    }
}

/// Where a credential came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file (its path as given), read by the board.
    File(String),
    /// Bytes handed over in memory, with a label.
    Memory(&'static str),
}

impl core::fmt::Display for Source {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Source::File(path) => f.write_str(path),
            Source::Memory(label) => write!(f, "<{label} in memory>"),
        }
    }
}

/// One credential: its bytes (PEM or DER) and where they came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// PEM text or DER bytes: read into the heap (a file), or where they are (built into the
    /// image: [`Credentials::from_static`]).
    pub bytes: Cow<'static, [u8]>,
    /// Where they came from.
    pub source: Source,
}

impl core::fmt::Debug for Credential {
    // Key material is never printed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Credential {{ {} bytes from {} }}",
            self.bytes.len(),
            self.source
        )
    }
}

/// The device's credentials: the root CA(s) that sign the server's certificate, and the
/// device's own certificate chain and private key. PEM or DER; RSA 2048/3072 or EC
/// P-256/P-384 keys in PKCS#1, SEC1 or PKCS#8 form (an encrypted PKCS#8 key needs the
/// passphrase).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Root CA certificate(s).
    pub root_ca: Credential,
    /// The device's certificate chain, its own certificate first.
    pub client_cert: Credential,
    /// The device's private key.
    pub client_key: Credential,
    /// Passphrase of an encrypted private key.
    pub key_passphrase: Option<String>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("root_ca", &self.root_ca)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field(
                "key_passphrase",
                &self.key_passphrase.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl Credentials {
    /// Credentials from bytes in memory (PEM or DER), copied.
    pub fn from_memory(
        root_ca: &[u8],
        client_cert: &[u8],
        client_key: &[u8],
        key_passphrase: Option<&str>,
    ) -> Credentials {
        Credentials::from_bytes(
            [
                Cow::Owned(root_ca.to_vec()),
                Cow::Owned(client_cert.to_vec()),
                Cow::Owned(client_key.to_vec()),
            ],
            key_passphrase,
        )
    }

    /// Credentials built into the image (PEM or DER), used where they are: nothing is copied to
    /// the heap, for the run or (for PEM ending in a NUL byte, as a board's build embeds it) to
    /// parse them. A board's flash holds them anyway; copies held 1.7 KB (P-256) to 4 KB
    /// (RSA-2048) of a board's heap for the whole run.
    pub fn from_static(
        root_ca: &'static [u8],
        client_cert: &'static [u8],
        client_key: &'static [u8],
        key_passphrase: Option<&str>,
    ) -> Credentials {
        Credentials::from_bytes(
            [
                Cow::Borrowed(root_ca),
                Cow::Borrowed(client_cert),
                Cow::Borrowed(client_key),
            ],
            key_passphrase,
        )
    }

    fn from_bytes(
        [root_ca, client_cert, client_key]: [Cow<'static, [u8]>; 3],
        key_passphrase: Option<&str>,
    ) -> Credentials {
        let memory = |bytes, label| Credential {
            bytes,
            source: Source::Memory(label),
        };
        Credentials {
            root_ca: memory(root_ca, "root CA"),
            client_cert: memory(client_cert, "client certificate"),
            client_key: memory(client_key, "client key"),
            key_passphrase: key_passphrase.map(str::to_owned),
        }
    }
}

/// Where to connect: the address dialled (`10.0.2.2` for the host, say) is separate from the
/// name checked in the certificate ([`TlsConfig::server_name`], `localhost` say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The IPv4 address to dial.
    pub address: Ipv4Addr,
    /// The TCP port.
    pub port: u16,
}
