//! The simulator's file-backed TLS session store (`--session-file PATH`, `IOT_SESSION_FILE`): the
//! session of one run is resumed by the next.
//!
//! The file holds one session (for one server name and port), in this format:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | `IOTSESS1` (the format and its version) |
//! | 2 | length of the server name (big-endian), then the name |
//! | 2 | port |
//! | 4 | length of the session, then the session ([`SavedSession`]'s bytes) |
//! | 8 | FNV-1a of everything before it (a torn or damaged file is told from a good one) |
//!
//! It is written to `PATH.tmp` (mode 0600 on unix: it holds the session's secret) and renamed
//! over `PATH`, so that a crash leaves the old file or the new one, never half of one. A file
//! that is missing, unreadable, damaged, too large or for another server is not an error: the
//! store warns (naming the file and the cause, never its contents) and the connection does a
//! full handshake. The file system is reached with the scheduler suspended (host I/O takes host
//! locks; see the design notes on the POSIX port).

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, vec};

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::string::String;

use super::in_task;
use crate::rtos::critical::SchedulerSuspended;
use crate::tls::{MAX_SESSION_BYTES, SavedSession, SessionKey, SessionStore};

const MAGIC: &[u8; 8] = b"IOTSESS1";
/// The largest file the store reads: its fields around the largest session.
const MAX_FILE_BYTES: usize = MAGIC.len() + 2 + 255 + 2 + 4 + MAX_SESSION_BYTES + 8;

/// A TLS session store in one file.
#[derive(Debug)]
pub struct SessionFile {
    path: PathBuf,
    temporary: PathBuf,
}

/// Why a session file could not be used.
#[derive(Debug)]
enum FileError {
    Io(io::Error),
    TooLarge(u64),
    Damaged(&'static str),
}

impl core::fmt::Display for FileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FileError::Io(error) => write!(f, "{error}"),
            FileError::TooLarge(bytes) => {
                write!(
                    f,
                    "{bytes} bytes, more than {MAX_FILE_BYTES} bytes a session file has"
                )
            }
            FileError::Damaged(why) => write!(f, "damaged ({why})"),
        }
    }
}

impl SessionFile {
    /// The store in `path` (nothing is read or written yet).
    pub fn new(path: &Path) -> SessionFile {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        SessionFile {
            path: path.to_owned(),
            temporary: PathBuf::from(temporary),
        }
    }

    fn read(&self) -> Result<Option<(String, u16, Vec<u8>)>, FileError> {
        let file = match fs::File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(FileError::Io(error)),
        };
        let length = file.metadata().map_err(FileError::Io)?.len();
        if length > MAX_FILE_BYTES as u64 {
            return Err(FileError::TooLarge(length));
        }
        let mut bytes = Vec::with_capacity(length as usize);
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(FileError::Io)?;
        let parsed = decode(&bytes).map(Some);
        crate::tls::session::zeroize(&mut bytes);
        parsed
    }

    fn write(&self, key: &SessionKey<'_>, session: &SavedSession) -> io::Result<()> {
        let mut bytes = encode(key, session)?;
        let written = self.write_atomically(&bytes);
        crate::tls::session::zeroize(&mut bytes);
        written
    }

    fn write_atomically(&self, bytes: &[u8]) -> io::Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&self.temporary)?;
        // A temporary file left by an older run may have other permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        let result = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&self.temporary, &self.path));
        if result.is_err() {
            let _ = fs::remove_file(&self.temporary);
        }
        result
    }

    fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// Runs `io` (file system calls) so that no task switch can happen while the C library holds
/// its locks.
fn host_io<R>(io: impl FnOnce() -> R) -> R {
    let _suspended = in_task().then(SchedulerSuspended::enter);
    io()
}

impl SessionStore for SessionFile {
    fn load(&mut self, key: &SessionKey<'_>) -> Option<SavedSession> {
        let read = host_io(|| self.read());
        match read {
            Ok(None) => None,
            Ok(Some((name, port, session))) => {
                if name != key.server_name || port != key.port {
                    log::info!(
                        "The session file {} is for {name}:{port}, not {}:{}: not used.",
                        self.path.display(),
                        key.server_name,
                        key.port
                    );
                    return None;
                }
                SavedSession::from_bytes(session).ok()
            }
            Err(error) => {
                log::warn!(
                    "The session file {} cannot be used: {error}. Full TLS handshake.",
                    self.path.display()
                );
                None
            }
        }
    }

    fn save(&mut self, key: &SessionKey<'_>, session: &SavedSession) {
        if let Err(error) = host_io(|| self.write(key, session)) {
            log::warn!(
                "Cannot write the session file {}: {error}. The next run will do a full TLS \
                 handshake.",
                self.path.display()
            );
        }
    }

    fn forget(&mut self, _key: &SessionKey<'_>) {
        if let Err(error) = host_io(|| self.remove()) {
            log::warn!(
                "Cannot remove the session file {}: {error}.",
                self.path.display()
            );
        }
    }
}

fn encode(key: &SessionKey<'_>, session: &SavedSession) -> io::Result<Vec<u8>> {
    let name = key.server_name.as_bytes();
    let name_length = u16::try_from(name.len())
        .ok()
        .filter(|length| *length <= 255)
        .ok_or_else(|| io::Error::other("the server name is longer than 255 bytes"))?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 16 + name.len() + session.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&name_length.to_be_bytes());
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&key.port.to_be_bytes());
    bytes.extend_from_slice(&(session.len() as u32).to_be_bytes());
    bytes.extend_from_slice(session.as_bytes());
    let check = fnv1a(&bytes);
    bytes.extend_from_slice(&check.to_be_bytes());
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Result<(String, u16, Vec<u8>), FileError> {
    if bytes.len() < MAGIC.len() + 8 || !bytes.starts_with(MAGIC) {
        return Err(FileError::Damaged("not a session file of this version"));
    }
    let (body, check) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body).to_be_bytes() != check {
        return Err(FileError::Damaged("its checksum does not match"));
    }
    let mut fields = Fields(&body[MAGIC.len()..]);
    let name_length = usize::from(u16::from_be_bytes(fields.array()?));
    let name = String::from_utf8(fields.take(name_length)?.to_vec())
        .map_err(|_| FileError::Damaged("the server name is not UTF-8"))?;
    let port = u16::from_be_bytes(fields.array()?);
    let session_length = u32::from_be_bytes(fields.array()?) as usize;
    if session_length > MAX_SESSION_BYTES {
        return Err(FileError::Damaged(
            "the session is larger than a session can be",
        ));
    }
    let session = fields.take(session_length)?.to_vec();
    if !fields.0.is_empty() {
        return Err(FileError::Damaged("bytes after the session"));
    }
    Ok((name, port, session))
}

/// The fields of a file, read in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], FileError> {
        if self.0.len() < count {
            return Err(FileError::Damaged("it ends early"));
        }
        let (field, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(field)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FileError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }
}

/// 64-bit FNV-1a: detects damage, not tampering (whoever can write the file can also delete it).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: SessionKey<'static> = SessionKey {
        server_name: "localhost",
        port: 8443,
    };

    #[test]
    fn a_file_round_trips_and_any_damage_is_caught() {
        let session = SavedSession::copy_from(b"secret session bytes").unwrap();
        let bytes = encode(&KEY, &session).unwrap();
        let (name, port, read) = decode(&bytes).unwrap();
        assert_eq!(
            (name.as_str(), port, read.as_slice()),
            ("localhost", 8443, session.as_bytes())
        );
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(
                decode(&damaged).is_err(),
                "a flipped byte {at} went unnoticed"
            );
        }
        for length in 0..bytes.len() {
            assert!(
                decode(&bytes[..length]).is_err(),
                "a file cut at {length} was read"
            );
        }
    }

    #[test]
    fn the_store_writes_a_private_file_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.bin");
        let mut store = SessionFile::new(&path);
        assert!(store.load(&KEY).is_none());
        store.save(&KEY, &SavedSession::copy_from(b"one").unwrap());
        store.save(&KEY, &SavedSession::copy_from(b"two").unwrap());
        assert_eq!(store.load(&KEY).unwrap().as_bytes(), b"two");
        assert!(store.load(&SessionKey { port: 1, ..KEY }).is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.path().join("session.bin.tmp").exists());
        fs::write(&path, b"IOTSESS1 garbage").unwrap();
        assert!(store.load(&KEY).is_none());
        fs::write(&path, vec![0u8; MAX_FILE_BYTES + 1]).unwrap();
        assert!(store.load(&KEY).is_none());
        store.forget(&KEY);
        assert!(!path.exists());
        store.forget(&KEY);
    }
}
