//! What can go wrong, and whose fault it was.

use core::fmt;

use super::Source;
use crate::net::ConnectError;
use crate::rtos::console::Quoted;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// A credential could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// The file could not be read.
    Unreadable {
        /// Which file.
        source: Source,
        /// The operating system's reason.
        reason: String,
    },
    /// Not a certificate Mbed TLS can parse (bad PEM or DER).
    BadCertificate {
        /// Which file.
        source: Source,
        /// Mbed TLS's error code.
        code: i32,
    },
    /// Not a private key Mbed TLS can parse.
    BadKey {
        /// Which file.
        source: Source,
        /// Mbed TLS's error code.
        code: i32,
    },
    /// The key is encrypted and no passphrase was given.
    PassphraseRequired {
        /// Which file.
        source: Source,
    },
    /// The passphrase does not decrypt the key.
    WrongPassphrase {
        /// Which file.
        source: Source,
    },
    /// The key type or size is not supported (RSA 2048/3072 and EC P-256/P-384 are).
    UnsupportedKey {
        /// Which file.
        source: Source,
        /// What it is.
        what: String,
    },
    /// The private key does not belong to the certificate.
    KeyMismatch {
        /// The key's file.
        source: Source,
    },
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialError::Unreadable { source, reason } => {
                write!(f, "cannot read {source}: {reason}")
            }
            CredentialError::BadCertificate { source, code } => {
                write!(
                    f,
                    "{source} is not a valid certificate in PEM or DER (Mbed TLS error -0x{:04x})",
                    code.unsigned_abs()
                )
            }
            CredentialError::BadKey { source, code } => {
                write!(
                    f,
                    "{source} is not a valid private key in PEM or DER (Mbed TLS error -0x{:04x})",
                    code.unsigned_abs()
                )
            }
            CredentialError::PassphraseRequired { source } => {
                write!(f, "{source} is an encrypted key: a passphrase is needed")
            }
            CredentialError::WrongPassphrase { source } => {
                write!(f, "the passphrase does not decrypt {source}")
            }
            CredentialError::UnsupportedKey { source, what } => {
                write!(
                    f,
                    "{source}: unsupported key ({what}); use RSA 2048-4096 or EC P-256/P-384"
                )
            }
            CredentialError::KeyMismatch { source } => write!(
                f,
                "the private key in {source} does not match the client certificate"
            ),
        }
    }
}

impl core::error::Error for CredentialError {}

/// Why the server's certificate was not accepted: Mbed TLS's verification flags, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The raw `MBEDTLS_X509_BADCERT_*` flags.
    pub flags: u32,
}

/// The verification flags and what each means.
const VERIFY_REASONS: &[(u32, &str)] = &[
    (mbedtls_rs_sys::MBEDTLS_X509_BADCERT_EXPIRED, "expired"),
    (mbedtls_rs_sys::MBEDTLS_X509_BADCERT_FUTURE, "not yet valid"),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_CN_MISMATCH,
        "name mismatch",
    ),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_NOT_TRUSTED,
        "unknown CA (not signed by the configured root CA)",
    ),
    (mbedtls_rs_sys::MBEDTLS_X509_BADCERT_REVOKED, "revoked"),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_MISSING,
        "no certificate",
    ),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_KEY_USAGE,
        "key usage does not allow TLS",
    ),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_EXT_KEY_USAGE,
        "extended key usage does not allow server authentication",
    ),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_BAD_MD,
        "signature hash not allowed",
    ),
    (
        mbedtls_rs_sys::MBEDTLS_X509_BADCERT_BAD_PK,
        "public key algorithm not allowed",
    ),
    (mbedtls_rs_sys::MBEDTLS_X509_BADCERT_BAD_KEY, "key too weak"),
    (mbedtls_rs_sys::MBEDTLS_X509_BADCERT_OTHER, "other problem"),
];

impl VerifyFailure {
    /// The reasons, in words.
    pub fn reasons(&self) -> Vec<&'static str> {
        let known: Vec<&'static str> = VERIFY_REASONS
            .iter()
            .filter(|(flag, _)| self.flags & flag != 0)
            .map(|(_, reason)| *reason)
            .collect();
        if known.is_empty() {
            vec!["unspecified"]
        } else {
            known
        }
    }

    /// Whether the certificate had expired.
    pub fn expired(&self) -> bool {
        self.flags & mbedtls_rs_sys::MBEDTLS_X509_BADCERT_EXPIRED != 0
    }

    /// Whether the certificate was not yet valid.
    pub fn not_yet_valid(&self) -> bool {
        self.flags & mbedtls_rs_sys::MBEDTLS_X509_BADCERT_FUTURE != 0
    }

    /// Whether the name did not match.
    pub fn name_mismatch(&self) -> bool {
        self.flags & mbedtls_rs_sys::MBEDTLS_X509_BADCERT_CN_MISMATCH != 0
    }

    /// Whether the chain does not lead to the configured root CA.
    pub fn unknown_ca(&self) -> bool {
        self.flags & mbedtls_rs_sys::MBEDTLS_X509_BADCERT_NOT_TRUSTED != 0
    }
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reasons().join(", "))
    }
}

/// Why a TLS connection failed. Each says whose fault it was, and [`TlsError::is_retryable`]
/// says whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The TCP connection could not be made.
    Connect(ConnectError),
    /// The handshake did not finish within the timeout.
    HandshakeTimeout,
    /// The server's certificate is not trusted.
    ServerNotTrusted(VerifyFailure),
    /// The server rejected the device's certificate. In TLS 1.3 this can only be seen on the
    /// first read or write after a handshake that looked successful. `alert` is the TLS alert
    /// code received, if any (42 bad certificate, 48 unknown CA, 116 certificate required).
    ClientRejected {
        /// The alert received.
        alert: Option<u8>,
    },
    /// A credential could not be used (configuration problem).
    Credentials(CredentialError),
    /// The configuration is invalid (a server name with a NUL byte, say).
    Config(&'static str),
    /// The server accepts none of the ALPN protocols offered (TLS alert 120,
    /// no_application_protocol): a configuration mismatch, not worth a retry.
    AlpnRefused {
        /// The protocols offered, comma-separated.
        offered: String,
    },
    /// The server picked an ALPN protocol the device never offered (Mbed TLS refuses the
    /// handshake): a server misconfigured or not what it claims to be.
    AlpnNotOffered {
        /// The protocol the server picked.
        chosen: String,
        /// The protocols offered, comma-separated.
        offered: String,
    },
    /// The peer sent a fatal alert for another reason.
    PeerAlert(u8),
    /// The peer closed the connection during the handshake.
    PeerClosed,
    /// After the handshake, the peer ended the TCP connection without TLS close_notify: what
    /// it sent may have been cut short (by the network, or by an attacker), so the stream is
    /// not taken as complete.
    Truncated,
    /// The TCP connection was reset.
    Reset,
    /// The FreeRTOS heap could not hold the TLS state.
    OutOfMemory,
    /// Entropy could not be obtained.
    Entropy,
    /// Any other Mbed TLS failure, with its code.
    Protocol(i32),
}

impl TlsError {
    /// Whether a new attempt later can succeed: network trouble can pass; authentication and
    /// configuration errors cannot.
    pub fn is_retryable(&self) -> bool {
        match self {
            TlsError::Connect(error) => error.is_retryable(),
            TlsError::HandshakeTimeout
            | TlsError::PeerClosed
            | TlsError::Truncated
            | TlsError::Reset
            | TlsError::OutOfMemory => true,
            TlsError::ServerNotTrusted(_)
            | TlsError::ClientRejected { .. }
            | TlsError::Credentials(_)
            | TlsError::Config(_)
            | TlsError::AlpnRefused { .. }
            | TlsError::AlpnNotOffered { .. }
            | TlsError::PeerAlert(_)
            | TlsError::Entropy
            | TlsError::Protocol(_) => false,
        }
    }
}

/// The name RFC 8446 (and RFC 5246 before it) gives a TLS alert description.
pub fn alert_name(alert: u8) -> Option<&'static str> {
    Some(match alert {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// `alert N (name)`, or `alert N` for a number without a name.
struct Alert(u8);

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match alert_name(self.0) {
            Some(name) => write!(f, "TLS alert {} ({name})", self.0),
            None => write!(f, "TLS alert {}", self.0),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Connect(error) => write!(f, "TCP connect failed: {error}"),
            TlsError::HandshakeTimeout => f.write_str("TLS handshake timed out"),
            TlsError::ServerNotTrusted(failure) => {
                write!(f, "server certificate not trusted: {failure}")
            }
            TlsError::ClientRejected { alert: Some(alert) } => {
                write!(
                    f,
                    "the server rejected the device certificate ({})",
                    Alert(*alert)
                )
            }
            TlsError::ClientRejected { alert: None } => {
                f.write_str("the server rejected the device certificate")
            }
            TlsError::Credentials(error) => write!(f, "{error}"),
            TlsError::Config(what) => write!(f, "invalid TLS configuration: {what}"),
            TlsError::AlpnRefused { offered } => write!(
                f,
                "the server accepts none of the ALPN protocols offered ({offered}): TLS alert \
                 120, no_application_protocol"
            ),
            TlsError::AlpnNotOffered { chosen, offered } => write!(
                f,
                "the server picked the ALPN protocol {}, which the device never offered \
                 (it offered {offered})",
                Quoted(chosen)
            ),
            TlsError::PeerAlert(alert) => {
                write!(f, "the server ended the connection with {}", Alert(*alert))
            }
            TlsError::PeerClosed => f.write_str(
                "the server closed the connection during the handshake (a server that rejects \
                 the device's certificate may do so without an alert the device can read)",
            ),
            TlsError::Truncated => f.write_str(
                "the server ended the TCP connection without TLS close_notify: what it sent may \
                 be cut short, so it is not taken as complete",
            ),
            TlsError::Reset => f.write_str("the connection was reset"),
            TlsError::OutOfMemory => f.write_str("not enough FreeRTOS heap for TLS"),
            TlsError::Entropy => f.write_str("no entropy for TLS"),
            TlsError::Protocol(code) => write!(
                f,
                "TLS failure (Mbed TLS error -0x{:04x})",
                code.unsigned_abs()
            ),
        }
    }
}

impl core::error::Error for TlsError {}

impl From<CredentialError> for TlsError {
    fn from(error: CredentialError) -> TlsError {
        TlsError::Credentials(error)
    }
}

impl From<ConnectError> for TlsError {
    fn from(error: ConnectError) -> TlsError {
        TlsError::Connect(error)
    }
}
