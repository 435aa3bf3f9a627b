//! What the simulator reads from and writes to files: credentials and pcap captures. The
//! portable core never opens a file.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::link::pcap::{CaptureError, CaptureSink};
use crate::tls::{Credential, CredentialError, Credentials, Source};

/// Reads one credential file. A missing or unreadable file is an error naming it; its contents
/// are checked when the TLS session is set up.
pub fn read_credential(path: &Path) -> Result<Credential, CredentialError> {
    let source = Source::File(path.display().to_string());
    std::fs::read(path)
        .map(|bytes| Credential {
            bytes: bytes.into(),
            source: source.clone(),
        })
        .map_err(|error| CredentialError::Unreadable {
            source,
            reason: error.to_string(),
        })
}

/// Reads the root CA, the device certificate and its key from files (PEM or DER).
pub fn read_credentials(
    root_ca: &Path,
    client_cert: &Path,
    client_key: &Path,
    key_passphrase: Option<&str>,
) -> Result<Credentials, CredentialError> {
    Ok(Credentials {
        root_ca: read_credential(root_ca)?,
        client_cert: read_credential(client_cert)?,
        client_key: read_credential(client_key)?,
        key_passphrase: key_passphrase.map(str::to_owned),
    })
}

/// A pcap capture written to a file.
pub struct PcapFile {
    out: BufWriter<File>,
}

impl PcapFile {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> std::io::Result<PcapFile> {
        Ok(PcapFile {
            out: BufWriter::new(File::create(path)?),
        })
    }
}

impl CaptureSink for PcapFile {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.flush())
            .map_err(|_| CaptureError)
    }
}
