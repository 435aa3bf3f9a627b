//! TLS session resumption: where saved sessions are kept between connections. Portable.
//!
//! After a full handshake the server hands the device a way back in: a TLS 1.3 ticket, or in
//! TLS 1.2 a ticket or a session ID. The next connection to the same server offers it, and if
//! the server accepts, the handshake skips the certificates, their verification and the
//! device's signature (see the README's figures). [`TlsTransport`](super::TlsTransport) turns
//! a session into bytes ([`SavedSession`], Mbed TLS's serialized session behind a small header
//! of ours) and back; a [`SessionStore`] keeps them. [`RamSessionStore`] keeps one in RAM (the
//! default on every board: the second cycle of a run resumes); the simulator has a
//! file-backed store (`--session-file`), and a board can back the trait with flash so that a
//! session survives a reboot.
//!
//! # What a store must know
//!
//! * **The bytes are secret.** They hold the session's resumption secret: whoever has them
//!   can resume the session as the device, until the server's ticket expires. Keep them where
//!   the device's private key is kept (a flash sector readable only by the application, an
//!   encrypted file system, a file of mode 0600), never log them, and erase them when asked to
//!   [`forget`](SessionStore::forget).
//! * **Their size is bounded**: at most [`MAX_SESSION_BYTES`] (a TLS 1.3 ticket from a server
//!   that puts the device's certificate in it is about 1 KB; most are a few hundred bytes). A
//!   flash-backed store reserves that much per key.
//! * **They may be stale or damaged**, and that is never an error: the engine checks its header
//!   (format version, the server name, port, SNI setting, root CA and device certificate it
//!   was made for, the ticket's lifetime), and Mbed TLS checks the rest. Anything that does not
//!   fit is dropped, and the connection does a full handshake. So a store may return whatever
//!   it read back, and need not checksum it (a checksum still helps it tell a torn write from
//!   a good one).
//! * Only the same server name and port get a session back ([`SessionKey`]); the header makes
//!   sure the root CA and device certificate are the same too.
//!
//! # Backing a store with flash
//!
//! Reserve one slot per key (most devices talk to one server: one slot) of
//! [`MAX_SESSION_BYTES`] plus a length and a sequence number, in two sectors used
//! alternately, so that a power cut during a write leaves the previous session readable.
//! `save` writes the next sector and bumps the sequence number; `load` reads the valid slot
//! with the higher sequence number; `forget` erases both. Saves come at most once per
//! connection (after a successful exchange), which a flash sector's endurance allows for
//! years at a connection a minute; a device that connects more often can skip saves whose
//! ticket is younger than some interval.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The largest serialized session a store must be able to hold, in bytes.
pub const MAX_SESSION_BYTES: usize = 4096;

/// Whom a saved session is for: the server name (as verified in its certificate) and the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionKey<'a> {
    /// The server name the certificate was verified against.
    pub server_name: &'a str,
    /// The TCP port.
    pub port: u16,
}

/// A serialized TLS session, ready to store: secret bytes, at most [`MAX_SESSION_BYTES`].
/// Zeroed when dropped; never printed.
pub struct SavedSession {
    bytes: Vec<u8>,
}

/// A session larger than [`MAX_SESSION_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTooLarge {
    /// Its size.
    pub bytes: usize,
}

impl fmt::Display for SessionTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a saved TLS session of {} bytes is larger than the {MAX_SESSION_BYTES} bytes a store holds",
            self.bytes
        )
    }
}

impl core::error::Error for SessionTooLarge {}

impl SavedSession {
    /// Wraps bytes a store read back (they are checked when the session is offered).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SavedSession, SessionTooLarge> {
        if bytes.len() > MAX_SESSION_BYTES {
            let mut bytes = bytes;
            let length = bytes.len();
            bytes.fill(0);
            return Err(SessionTooLarge { bytes: length });
        }
        Ok(SavedSession { bytes })
    }

    /// Copies `bytes` (at most [`MAX_SESSION_BYTES`]).
    pub fn copy_from(bytes: &[u8]) -> Result<SavedSession, SessionTooLarge> {
        if bytes.len() > MAX_SESSION_BYTES {
            return Err(SessionTooLarge { bytes: bytes.len() });
        }
        Ok(SavedSession {
            bytes: bytes.to_vec(),
        })
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Their length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl Drop for SavedSession {
    fn drop(&mut self) {
        zeroize(&mut self.bytes);
    }
}

impl fmt::Debug for SavedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SavedSession {{ {} secret bytes }}", self.bytes.len())
    }
}

/// Overwrites `bytes` with zeros (`black_box` keeps the compiler from dropping the stores).
pub(crate) fn zeroize(bytes: &mut [u8]) {
    bytes.fill(0);
    core::hint::black_box(&*bytes);
}

/// Where saved sessions are kept between connections (see the [module docs](self) for the
/// contract: the bytes are secret, at most [`MAX_SESSION_BYTES`], and may come back stale).
/// Called from the demo task, one call at a time, never from an interrupt.
pub trait SessionStore {
    /// The session saved for `key`, if any.
    fn load(&mut self, key: &SessionKey<'_>) -> Option<SavedSession>;
    /// Keeps `session` for `key`, replacing what was there.
    fn save(&mut self, key: &SessionKey<'_>, session: &SavedSession);
    /// Erases the session kept for `key` (it was refused, expired or damaged).
    fn forget(&mut self, key: &SessionKey<'_>);
}

/// One session in RAM, on the heap (so it is in the heap figures), for the life of the run: the
/// default store on every board. Saving for another key replaces it. Its buffer is kept when a
/// session is replaced or forgotten (and zeroed), so that the heap does not change from one
/// cycle to the next.
#[derive(Default)]
pub struct RamSessionStore {
    server_name: String,
    port: u16,
    /// The session's bytes (`len` of them are valid; none when `held` is false).
    bytes: Vec<u8>,
    held: bool,
}

/// Buffers grow in steps of this, so that tickets a few bytes apart share one allocation.
const RAM_STORE_STEP: usize = 512;

impl RamSessionStore {
    /// An empty store.
    pub fn new() -> RamSessionStore {
        RamSessionStore::default()
    }

    /// Bytes of heap the stored session's buffer holds (its capacity).
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    fn holds(&self, key: &SessionKey<'_>) -> bool {
        self.held && self.port == key.port && self.server_name == key.server_name
    }
}

impl SessionStore for RamSessionStore {
    fn load(&mut self, key: &SessionKey<'_>) -> Option<SavedSession> {
        if !self.holds(key) {
            return None;
        }
        SavedSession::copy_from(&self.bytes).ok()
    }

    fn save(&mut self, key: &SessionKey<'_>, session: &SavedSession) {
        let bytes = session.as_bytes();
        zeroize(&mut self.bytes);
        self.bytes.clear();
        if self.bytes.capacity() < bytes.len() {
            let wanted = bytes.len().div_ceil(RAM_STORE_STEP) * RAM_STORE_STEP;
            // The old buffer was zeroed above; a new one replaces it.
            let mut grown = Vec::new();
            if grown.try_reserve_exact(wanted).is_err() {
                self.held = false;
                return;
            }
            self.bytes = grown;
        }
        self.bytes.extend_from_slice(bytes);
        if self.server_name != key.server_name {
            self.server_name.clear();
            self.server_name.push_str(key.server_name);
        }
        self.port = key.port;
        self.held = true;
    }

    fn forget(&mut self, key: &SessionKey<'_>) {
        if self.holds(key) {
            zeroize(&mut self.bytes);
            self.bytes.clear();
            self.held = false;
        }
    }
}

impl Drop for RamSessionStore {
    fn drop(&mut self) {
        zeroize(&mut self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    const KEY: SessionKey<'static> = SessionKey {
        server_name: "example.com",
        port: 8443,
    };

    #[test]
    fn the_ram_store_gives_a_session_back_to_its_own_key_only() {
        let mut store = RamSessionStore::new();
        assert!(store.load(&KEY).is_none());
        store.save(&KEY, &SavedSession::copy_from(b"secret").unwrap());
        assert_eq!(store.load(&KEY).unwrap().as_bytes(), b"secret");
        let other_port = SessionKey { port: 443, ..KEY };
        let other_name = SessionKey {
            server_name: "example.org",
            ..KEY
        };
        assert!(store.load(&other_port).is_none());
        assert!(store.load(&other_name).is_none());
        store.forget(&other_port);
        assert!(store.load(&KEY).is_some(), "forgetting another key kept it");
        store.forget(&KEY);
        assert!(store.load(&KEY).is_none());
    }

    #[test]
    fn the_ram_store_keeps_its_buffer_across_saves_and_forgets() {
        let mut store = RamSessionStore::new();
        store.save(&KEY, &SavedSession::copy_from(&[7; 300]).unwrap());
        let capacity = store.capacity();
        assert_eq!(capacity, 512);
        store.save(&KEY, &SavedSession::copy_from(&[8; 310]).unwrap());
        store.forget(&KEY);
        store.save(&KEY, &SavedSession::copy_from(&[9; 290]).unwrap());
        assert_eq!(store.capacity(), capacity);
        assert_eq!(store.load(&KEY).unwrap().as_bytes(), &[9; 290][..]);
    }

    #[test]
    fn sessions_are_bounded_and_never_printed() {
        assert!(SavedSession::from_bytes(vec![1; MAX_SESSION_BYTES]).is_ok());
        assert_eq!(
            SavedSession::from_bytes(vec![1; MAX_SESSION_BYTES + 1]).unwrap_err(),
            SessionTooLarge {
                bytes: MAX_SESSION_BYTES + 1
            }
        );
        let session = SavedSession::copy_from(b"topsecret").unwrap();
        assert_eq!(format!("{session:?}"), "SavedSession { 9 secret bytes }");
    }
}
