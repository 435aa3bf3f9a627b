//! Development certificates, generated with rcgen: a CA, the endpoint's server certificate,
//! device certificates, and the broken ones tests need. Private keys are written with mode
//! 0600 and never leave the directory they are generated in.

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256,
    SanType,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use time::{Duration, OffsetDateTime};

/// Names the server certificate carries: what the device may dial.
pub const SERVER_DNS_NAMES: &[&str] = &["localhost"];
/// Addresses the server certificate carries: the host's loopback, and the address the
/// simulator's network (slirp) gives the host.
pub const SERVER_IP_ADDRESSES: &[Ipv4Addr] =
    &[Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(10, 0, 2, 2)];

/// The kind of key a device certificate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKey {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// EC on P-256.
    P256,
    /// EC on P-384.
    P384,
}

/// Why certificates could not be made or written.
#[derive(Debug)]
pub enum CertError {
    /// rcgen refused the parameters.
    Generate(rcgen::Error),
    /// RSA key generation or encoding failed.
    Rsa(String),
    /// A file could not be written or read.
    Io {
        /// Which file.
        path: PathBuf,
        /// What went wrong.
        error: io::Error,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Generate(error) => write!(f, "cannot generate a certificate: {error}"),
            CertError::Rsa(error) => write!(f, "cannot generate an RSA key: {error}"),
            CertError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for CertError {}

impl From<rcgen::Error> for CertError {
    fn from(error: rcgen::Error) -> CertError {
        CertError::Generate(error)
    }
}

/// A certificate with its key, in memory.
pub struct Identity {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    key: KeyPair,
    params: CertificateParams,
}

impl Identity {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

fn key_pair(kind: DeviceKey) -> Result<KeyPair, CertError> {
    match kind {
        DeviceKey::P256 => Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?),
        DeviceKey::P384 => Ok(KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384)?),
        DeviceKey::Rsa2048 => rsa_key_pair(2048),
        DeviceKey::Rsa3072 => rsa_key_pair(3072),
    }
}

/// An RSA private key of `bits` as PKCS#8 PEM, made by the `rsa` crate.
fn rsa_private_key_pem(bits: usize) -> Result<String, CertError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|error| CertError::Rsa(error.to_string()))?;
    key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|error| CertError::Rsa(error.to_string()))
}

/// rcgen cannot generate RSA keys with the ring backend: the `rsa` crate makes the key.
fn rsa_key_pair(bits: usize) -> Result<KeyPair, CertError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|error| CertError::Rsa(error.to_string()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|error| CertError::Rsa(error.to_string()))?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(
        &der,
        &PKCS_RSA_SHA256,
    )?)
}

fn base_params(common_name: &str, days_valid: i64) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days_valid);
    Ok(params)
}

/// A self-signed development CA.
pub fn make_ca(common_name: &str) -> Result<Identity, CertError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = base_params(common_name, 3650)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok(Identity {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key,
        params,
    })
}

/// Validity of a leaf certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid from an hour ago for a year.
    Current,
    /// Expired yesterday.
    Expired,
    /// Valid only from tomorrow.
    NotYetValid,
}

/// A server certificate for `dns_names` and `ip_addresses`, signed by `ca`.
pub fn make_server(
    ca: &Identity,
    dns_names: &[&str],
    ip_addresses: &[Ipv4Addr],
    validity: Validity,
) -> Result<Identity, CertError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = base_params(dns_names.first().copied().unwrap_or("server"), 365)?;
    for name in dns_names {
        params
            .subject_alt_names
            .push(SanType::DnsName((*name).try_into()?));
    }
    for address in ip_addresses {
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(*address)));
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    apply_validity(&mut params, validity);
    issue(params, key, ca)
}

/// Signs `params` for `key` with `ca`.
fn issue(params: CertificateParams, key: KeyPair, ca: &Identity) -> Result<Identity, CertError> {
    let cert = params.signed_by(&key, &ca.issuer())?;
    Ok(Identity {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key,
        params,
    })
}

/// A device (client) certificate with a `kind` key, signed by `ca`.
pub fn make_device(
    ca: &Identity,
    common_name: &str,
    kind: DeviceKey,
) -> Result<Identity, CertError> {
    make_device_with(ca, common_name, key_pair(kind)?)
}

/// A device certificate for a given key pair, signed by `ca`.
fn make_device_with(ca: &Identity, common_name: &str, key: KeyPair) -> Result<Identity, CertError> {
    let mut params = base_params(common_name, 365)?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue(params, key, ca)
}

fn apply_validity(params: &mut CertificateParams, validity: Validity) {
    let now = OffsetDateTime::now_utc();
    match validity {
        Validity::Current => {}
        Validity::Expired => {
            params.not_before = now - Duration::days(30);
            params.not_after = now - Duration::days(1);
        }
        Validity::NotYetValid => {
            params.not_before = now + Duration::days(1);
            params.not_after = now + Duration::days(30);
        }
    }
}

/// Writes `contents` to `path`; on Unix, keys (`private` true) get mode 0600. (On Windows a
/// file takes its directory's access control list; these are development keys.)
fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), CertError> {
    let io_error = |error| CertError::Io {
        path: path.to_owned(),
        error,
    };
    fs::write(path, contents).map_err(io_error)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_error)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// The files of the endpoint's development PKI in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// The CA certificate: the device trusts it, and the endpoint trusts devices it signed.
    pub ca_cert: PathBuf,
    /// The CA key (to sign more device certificates).
    pub ca_key: PathBuf,
    /// The endpoint's certificate.
    pub server_cert: PathBuf,
    /// The endpoint's key.
    pub server_key: PathBuf,
    /// The device's certificate.
    pub device_cert: PathBuf,
    /// The device's key.
    pub device_key: PathBuf,
}

impl CertPaths {
    /// The file names used in `dir`.
    pub fn in_dir(dir: &Path) -> CertPaths {
        CertPaths {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            device_cert: dir.join("device.pem"),
            device_key: dir.join("device.key"),
        }
    }

    /// Whether every file exists.
    pub fn all_exist(&self) -> bool {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.server_cert,
            &self.server_key,
            &self.device_cert,
            &self.device_key,
        ]
        .iter()
        .all(|path| path.is_file())
    }
}

/// Generates a CA, a server certificate (`localhost`, `127.0.0.1`, `10.0.2.2`) and a device
/// certificate with a `device_key` key into `dir`, replacing what is there.
pub fn generate_into(dir: &Path, device_key: DeviceKey) -> Result<CertPaths, CertError> {
    fs::create_dir_all(dir).map_err(|error| CertError::Io {
        path: dir.to_owned(),
        error,
    })?;
    let paths = CertPaths::in_dir(dir);
    let ca = make_ca("freertos-https development CA")?;
    let server = make_server(
        &ca,
        SERVER_DNS_NAMES,
        SERVER_IP_ADDRESSES,
        Validity::Current,
    )?;
    let device = make_device(&ca, "freertos-https-device", device_key)?;
    write_file(&paths.ca_cert, &ca.cert_pem, false)?;
    write_file(&paths.ca_key, &ca.key_pem, true)?;
    write_file(&paths.server_cert, &server.cert_pem, false)?;
    write_file(&paths.server_key, &server.key_pem, true)?;
    write_file(&paths.device_cert, &device.cert_pem, false)?;
    write_file(&paths.device_key, &device.key_pem, true)?;
    Ok(paths)
}

/// Uses the certificates in `dir` if they are all there, or generates them (EC device key).
pub fn ensure_in(dir: &Path) -> Result<CertPaths, CertError> {
    let paths = CertPaths::in_dir(dir);
    if paths.all_exist() {
        Ok(paths)
    } else {
        generate_into(dir, DeviceKey::P256)
    }
}

/// Everything the TLS tests need, written into one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    /// The trusted CA certificate.
    pub ca_cert: PathBuf,
    /// The good server certificate and key (`localhost`, `127.0.0.1`, `10.0.2.2`).
    pub server: (PathBuf, PathBuf),
    /// A server certificate that expired yesterday, and its key.
    pub server_expired: (PathBuf, PathBuf),
    /// A server certificate valid only from tomorrow, and its key.
    pub server_not_yet_valid: (PathBuf, PathBuf),
    /// A server certificate for `wrong.example` only, and its key.
    pub server_wrong_name: (PathBuf, PathBuf),
    /// A server certificate signed by a CA the device does not trust, and its key.
    pub server_untrusted: (PathBuf, PathBuf),
    /// Device certificates and keys (PKCS#8 PEM) by key type.
    pub devices: Vec<(DeviceKey, PathBuf, PathBuf)>,
    /// The RSA-2048 device key again in PKCS#1 PEM, and the P-256 one in SEC1 PEM.
    pub device_key_pkcs1: PathBuf,
    /// See [`device_key_pkcs1`](Self::device_key_pkcs1).
    pub device_key_sec1: PathBuf,
    /// A device certificate signed by the untrusted CA, and its key.
    pub device_untrusted: (PathBuf, PathBuf),
    /// The P-256 device key encrypted (PKCS#8, PBES2 with PBKDF2-SHA256 and AES-256-CBC)
    /// with [`ENCRYPTED_KEY_PASSPHRASE`].
    pub device_key_encrypted: PathBuf,
    /// The P-256 device certificate in DER, and its key in DER (PKCS#8).
    pub device_der: (PathBuf, PathBuf),
    /// A device certificate with an Ed25519 key, which the device does not support.
    pub device_ed25519: (PathBuf, PathBuf),
    /// An RSA-1024 private key (PKCS#8 PEM), too weak for the device to accept. No certificate
    /// comes with it (ring, which signs here, refuses keys that small); the device refuses
    /// the key before it compares it with any certificate.
    pub device_key_rsa1024: PathBuf,
}

/// The passphrase of [`TestPki::device_key_encrypted`].
pub const ENCRYPTED_KEY_PASSPHRASE: &str = "correct horse battery staple";

impl TestPki {
    /// The certificate and key of the device with `kind`.
    pub fn device(&self, kind: DeviceKey) -> (PathBuf, PathBuf) {
        self.devices
            .iter()
            .find(|(known, _, _)| *known == kind)
            .map(|(_, cert, key)| (cert.clone(), key.clone()))
            .expect("every key type is generated")
    }
}

/// Generates the whole test set into `dir`.
pub fn generate_test_pki(dir: &Path) -> Result<TestPki, CertError> {
    fs::create_dir_all(dir).map_err(|error| CertError::Io {
        path: dir.to_owned(),
        error,
    })?;
    let write_pair = |name: &str, identity: &Identity| -> Result<(PathBuf, PathBuf), CertError> {
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        write_file(&cert, &identity.cert_pem, false)?;
        write_file(&key, &identity.key_pem, true)?;
        Ok((cert, key))
    };
    let ca = make_ca("test CA")?;
    let untrusted_ca = make_ca("untrusted CA")?;
    let ca_cert = dir.join("ca.pem");
    write_file(&ca_cert, &ca.cert_pem, false)?;
    let server = write_pair(
        "server",
        &make_server(
            &ca,
            SERVER_DNS_NAMES,
            SERVER_IP_ADDRESSES,
            Validity::Current,
        )?,
    )?;
    let server_expired = write_pair(
        "server-expired",
        &make_server(
            &ca,
            SERVER_DNS_NAMES,
            SERVER_IP_ADDRESSES,
            Validity::Expired,
        )?,
    )?;
    let server_not_yet_valid = write_pair(
        "server-future",
        &make_server(
            &ca,
            SERVER_DNS_NAMES,
            SERVER_IP_ADDRESSES,
            Validity::NotYetValid,
        )?,
    )?;
    let server_wrong_name = write_pair(
        "server-wrong-name",
        &make_server(&ca, &["wrong.example"], &[], Validity::Current)?,
    )?;
    let server_untrusted = write_pair(
        "server-untrusted",
        &make_server(
            &untrusted_ca,
            SERVER_DNS_NAMES,
            SERVER_IP_ADDRESSES,
            Validity::Current,
        )?,
    )?;
    let mut devices = Vec::new();
    let mut rsa_2048_key = None;
    for (kind, name) in [
        (DeviceKey::Rsa2048, "device-rsa2048"),
        (DeviceKey::Rsa3072, "device-rsa3072"),
        (DeviceKey::P256, "device-p256"),
        (DeviceKey::P384, "device-p384"),
    ] {
        let identity = make_device(&ca, name, kind)?;
        let (cert, key) = write_pair(name, &identity)?;
        if kind == DeviceKey::Rsa2048 {
            rsa_2048_key = Some(identity.key_pem.clone());
        }
        if kind == DeviceKey::P256 {
            let sec1 = sec1_pem(&identity)?;
            write_file(&dir.join("device-p256-sec1.key"), &sec1, true)?;
            write_file(
                &dir.join("device-p256-encrypted.key"),
                &encrypted_pem(&identity)?,
                true,
            )?;
            write_bytes(
                &dir.join("device-p256.der"),
                &pem_body_der(&identity.cert_pem),
            )?;
            write_bytes(
                &dir.join("device-p256.key.der"),
                &identity.key.serialize_der(),
            )?;
        }
        devices.push((kind, cert, key));
    }
    let pkcs1 = pkcs1_pem(rsa_2048_key.as_deref().unwrap_or_default())?;
    let device_key_pkcs1 = dir.join("device-rsa2048-pkcs1.key");
    write_file(&device_key_pkcs1, &pkcs1, true)?;
    let device_untrusted = write_pair(
        "device-untrusted",
        &make_device(&untrusted_ca, "device-untrusted", DeviceKey::P256)?,
    )?;
    let device_ed25519 = write_pair(
        "device-ed25519",
        &make_device_with(&ca, "device-ed25519", KeyPair::generate_for(&PKCS_ED25519)?)?,
    )?;
    let device_key_rsa1024 = dir.join("device-rsa1024.key");
    write_file(&device_key_rsa1024, &rsa_private_key_pem(1024)?, true)?;
    Ok(TestPki {
        device_key_rsa1024,
        ca_cert,
        server,
        server_expired,
        server_not_yet_valid,
        server_wrong_name,
        server_untrusted,
        devices,
        device_key_pkcs1,
        device_key_sec1: dir.join("device-p256-sec1.key"),
        device_untrusted,
        device_key_encrypted: dir.join("device-p256-encrypted.key"),
        device_der: (dir.join("device-p256.der"), dir.join("device-p256.key.der")),
        device_ed25519,
    })
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), CertError> {
    fs::write(path, bytes).map_err(|error| CertError::Io {
        path: path.to_owned(),
        error,
    })
}

/// The DER inside a single-certificate PEM.
fn pem_body_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64_decode(&body)
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |byte: u8| -> Option<u32> {
        Some(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let bits = group.iter().enumerate().fold(0u32, |bits, (index, digit)| {
            bits | digit << (18 - 6 * index)
        });
        for index in 0..group.len().saturating_sub(1) {
            out.push((bits >> (16 - 8 * index)) as u8);
        }
    }
    out
}

/// A key encrypted as PKCS#8 with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), which Mbed TLS reads.
fn encrypted_pem(identity: &Identity) -> Result<String, CertError> {
    use pkcs8::der::Decode;
    let failed =
        |error: &dyn std::fmt::Display| CertError::Rsa(format!("cannot encrypt the key: {error}"));
    let der = identity.key.serialize_der();
    let info = pkcs8::PrivateKeyInfo::from_der(&der).map_err(|error| failed(&error))?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut iv);
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv)
        .map_err(|error| failed(&error))?;
    let document = info
        .encrypt_with_params(params, ENCRYPTED_KEY_PASSPHRASE)
        .map_err(|error| failed(&error))?;
    let pem = document
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .map_err(|error| failed(&error))?;
    Ok(pem.to_string())
}

/// An RSA key's PKCS#8 PEM re-encoded as PKCS#1 (`BEGIN RSA PRIVATE KEY`).
fn pkcs1_pem(pkcs8_pem: &str) -> Result<String, CertError> {
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pkcs8_pem)
        .map_err(|error| CertError::Rsa(error.to_string()))?;
    let pem = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|error| CertError::Rsa(error.to_string()))?;
    Ok(pem.to_string())
}

/// A P-256 key in SEC1 form (`BEGIN EC PRIVATE KEY`), rebuilt from its PKCS#8 encoding
/// with the curve named inside (PKCS#8 keeps the curve outside the inner key, which a SEC1
/// reader then cannot know).
fn sec1_pem(identity: &Identity) -> Result<String, CertError> {
    let pkcs8 = identity.key.serialize_der();
    let (private, public) = p256_parts(&pkcs8)
        .ok_or_else(|| CertError::Rsa("no P-256 key inside the PKCS#8 key".into()))?;
    // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] prime256v1, [1] publicKey }
    const PRIME256V1: [u8; 12] = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut content = vec![0x02, 0x01, 0x01, 0x04, 0x20];
    content.extend_from_slice(private);
    content.extend_from_slice(&PRIME256V1);
    content.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    content.extend_from_slice(public);
    let mut der = vec![0x30, content.len() as u8];
    der.extend_from_slice(&content);
    Ok(pem_encode("EC PRIVATE KEY", &der))
}

/// The 32-byte private scalar and 65-byte public point of a P-256 PKCS#8 key.
fn p256_parts(pkcs8: &[u8]) -> Option<(&[u8], &[u8])> {
    let private_at = pkcs8
        .windows(5)
        .position(|window| window == [0x02, 0x01, 0x01, 0x04, 0x20])?
        + 5;
    let private = pkcs8.get(private_at..private_at + 32)?;
    // The public key: a BIT STRING of 66 bytes (no unused bits, then the 65-byte point).
    let public_at = pkcs8
        .windows(3)
        .position(|window| window == [0x03, 0x42, 0x00])?
        + 3;
    let public = pkcs8.get(public_at..public_at + 65)?;
    Some((private, public))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |value, (index, byte)| {
            value | u32::from(*byte) << (16 - 8 * index)
        });
        for index in 0..4 {
            if index <= chunk.len() {
                text.push(ALPHABET[(value >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
