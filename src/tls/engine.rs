//! The Mbed TLS session behind [`TlsTransport`]: the FFI module of the TLS layer.
//!
//! All Mbed TLS state of one connection lives in one heap block ([`Engine`]) that never moves:
//! Mbed TLS keeps pointers between its contexts and to the socket its I/O callbacks use.

#![allow(unsafe_code)]

use core::ffi::{CStr, c_char, c_int, c_uchar, c_void};
use core::mem::MaybeUninit;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::time::Duration;

use alloc::borrow::{Cow, ToOwned};
use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use iot_transport::{Received, Sent, Transport};
use mbedtls_rs_sys as sys;

use super::errors::{CredentialError, TlsError, VerifyFailure};
use super::session::{MAX_SESSION_BYTES, SavedSession, zeroize};
use super::{Credential, Credentials, Endpoint, MaxFragmentLength, TlsConfig, TlsVersion};
use crate::board;
use crate::net::{Connection, StreamError, TcpConnection, TcpIpStack, TcpOptions, TcpTransport};
use crate::rtos::critical::SchedulerSuspended;
use crate::rtos::heap::{self, HeapPhase};
use crate::rtos::sync::{Mutex, MutexGuard};
use crate::rtos::time::{Deadline, Instant};
use once_cell::race::OnceBox;

/// Mbed TLS's `net` module codes (the module itself is not built): what the I/O callbacks
/// return for a reset connection and failed sends.
const NET_CONN_RESET: c_int = -0x0050;
const NET_SEND_FAILED: c_int = -0x004E;

/// TLS alerts that mean "your certificate is not acceptable".
const CERTIFICATE_ALERTS: [u8; 7] = [42, 43, 44, 45, 46, 48, 116];

/// How long [`TlsTransport::close`] waits to send close_notify.
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// A random number drawn once per boot: a saved session made in this boot has the uptime
/// clock to date its ticket; one from an earlier boot needs the wall clock (see
/// [`SessionHeader`]). 32 bits (Cortex-M4 has no 64-bit atomics): should two boots draw the
/// same one, an old ticket's age is misjudged and the server, which dates its tickets itself,
/// refuses it if it is too old.
static BOOT_ID: AtomicU32 = AtomicU32::new(0);

fn boot_id() -> u64 {
    u64::from(BOOT_ID.load(Ordering::Relaxed))
}

/// Mbed TLS is built without `MBEDTLS_THREADING_C`: its PSA key store, shared by every
/// connection, is guarded by nothing. So every entry into Mbed TLS holds this kernel mutex
/// (see [`Io`]); a connection gives it back while it waits on its socket, inside the I/O
/// callbacks, where no PSA operation is under way, so that one connection waiting for the
/// network never stalls another.
static MBEDTLS_LOCK: OnceBox<Mutex<()>> = OnceBox::new();

/// The lock, made on first use.
fn mbedtls_lock() -> Result<&'static Mutex<()>, TlsError> {
    MBEDTLS_LOCK.get_or_try_init(|| {
        Mutex::new(())
            .map(Box::new)
            .map_err(|_| TlsError::OutOfMemory)
    })
}

/// Holds the Mbed TLS lock until dropped.
type MbedtlsGuard = MutexGuard<'static, ()>;

/// Takes the Mbed TLS lock (waiting as long as another connection is inside Mbed TLS).
fn lock_mbedtls() -> Result<MbedtlsGuard, TlsError> {
    Ok(mbedtls_lock()?.lock())
}

/// Process-wide Mbed TLS set-up, once: its heap on the FreeRTOS heap, the clock hooks for
/// certificate dates, and PSA crypto (which TLS 1.3 uses). Runs with the scheduler suspended
/// so that two tasks cannot race through it. Every connection calls it; call it first to keep
/// its one-time allocations (they stay for the program's life) out of a heap measurement.
pub fn initialise() -> Result<(), TlsError> {
    if INITIALISED.load(Ordering::Acquire) {
        return Ok(());
    }
    let _suspended = SchedulerSuspended::enter();
    if INITIALISED.load(Ordering::Acquire) {
        return Ok(());
    }
    // SAFETY: plain set-up calls with 'static arguments; nothing else uses Mbed TLS yet (the
    // flag is unset and no other task runs).
    unsafe {
        sys::mbedtls_platform_set_calloc_free(Some(heap::C_CALLOC), Some(heap::C_FREE));
        sys::hook::timer::hook_timer(Some(&BOARD_TIMER));
        sys::hook::wall_clock::hook_wall_clock(Some(&BOARD_WALL_CLOCK));
        super::ecp_hook::install();
        super::exp_mod_hook::install();
        if sys::psa_crypto_init() != 0 {
            return Err(TlsError::Entropy);
        }
    }
    mbedtls_lock()?;
    let mut boot_id = [0u8; 4];
    board::fill_entropy(&mut boot_id).map_err(|_| TlsError::Entropy)?;
    BOOT_ID.store(u32::from_be_bytes(boot_id) | 1, Ordering::Relaxed);
    INITIALISED.store(true, Ordering::Release);
    Ok(())
}

/// The board's uptime clock, for Mbed TLS's timers.
struct BoardTimer;

static BOARD_TIMER: BoardTimer = BoardTimer;

impl sys::hook::timer::MbedtlsTimer for BoardTimer {
    fn now(&self) -> sys::mbedtls_ms_time_t {
        i64::try_from(Instant::now().since_start().as_millis()).unwrap_or(i64::MAX)
    }
}

/// The board's calendar clock (UTC), for certificate validity dates. Without one, every date
/// check fails closed.
struct BoardWallClock;

static BOARD_WALL_CLOCK: BoardWallClock = BoardWallClock;

impl sys::hook::wall_clock::MbedtlsWallClock for BoardWallClock {
    fn instant(&self) -> Option<sys::tm> {
        utc_from_unix(board::services().wall_clock()?.as_secs())
    }
}

/// Broken-down UTC time for a Unix timestamp (days-from-civil, inverted).
fn utc_from_unix(seconds: u64) -> Option<sys::tm> {
    let days = i64::try_from(seconds / 86_400).ok()?;
    let second_of_day = (seconds % 86_400) as c_int;
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let is_leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const DAYS_BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let year_day = DAYS_BEFORE[(month - 1) as usize] + day - 1 + i64::from(is_leap && month > 2);
    Some(sys::tm {
        tm_sec: second_of_day % 60,
        tm_min: second_of_day / 60 % 60,
        tm_hour: second_of_day / 3600,
        tm_mday: day as c_int,
        tm_mon: (month - 1) as c_int,
        tm_year: c_int::try_from(year - 1900).ok()?,
        tm_wday: ((days + 4).rem_euclid(7)) as c_int,
        tm_yday: year_day as c_int,
        tm_isdst: 0,
    })
}

/// Mbed TLS's random number callback.
unsafe extern "C" fn random_bytes(
    _state: *mut c_void,
    output: *mut c_uchar,
    length: usize,
) -> c_int {
    if length == 0 {
        return 0;
    }
    if output.is_null() {
        return sys::MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    }
    // SAFETY: Mbed TLS passes a writable buffer of `length` bytes.
    let buffer = unsafe { core::slice::from_raw_parts_mut(output, length) };
    match board::fill_entropy(buffer) {
        Ok(()) => 0,
        Err(_) => sys::MBEDTLS_ERR_ENTROPY_SOURCE_FAILED,
    }
}

/// PSA crypto's random source (`MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG` in this build of Mbed TLS).
#[unsafe(no_mangle)]
unsafe extern "C" fn mbedtls_psa_external_get_random(
    _context: *mut c_void,
    output: *mut c_uchar,
    size: usize,
    written: *mut usize,
) -> c_int {
    const PSA_SUCCESS: c_int = 0;
    const PSA_ERROR_INVALID_ARGUMENT: c_int = -135;
    const PSA_ERROR_INSUFFICIENT_ENTROPY: c_int = -148;
    if written.is_null() || (output.is_null() && size != 0) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    // SAFETY: PSA passes a writable buffer of `size` bytes.
    let filled = size == 0
        || board::fill_entropy(unsafe { core::slice::from_raw_parts_mut(output, size) }).is_ok();
    if !filled {
        return PSA_ERROR_INSUFFICIENT_ENTROPY;
    }
    // SAFETY: `written` is a valid out-pointer (checked above).
    unsafe { *written = size };
    PSA_SUCCESS
}

/// The engine's connection, and the Mbed TLS lock while the engine is inside Mbed TLS. The
/// I/O callbacks reach it through their context pointer.
struct Io<T> {
    connection: Option<T>,
    lock: Option<MbedtlsGuard>,
    /// The peer closed the stream for our sends during the handshake: what Mbed TLS still
    /// sends is dropped, so that the handshake can go on to read why (see
    /// [`Engine::handshake`]). Never set once the handshake is over.
    discard_sends: bool,
}

impl<T> Io<T> {
    /// Runs `wait` (a socket call that may block) with the Mbed TLS lock given back, and takes
    /// it again afterwards.
    fn unlocked<R>(&mut self, wait: impl FnOnce(&mut T) -> R) -> Option<R> {
        let connection = self.connection.as_mut()?;
        let held = self.lock.take().is_some();
        let result = wait(connection);
        if held {
            self.lock = lock_mbedtls().ok();
        }
        Some(result)
    }
}

/// Sends for Mbed TLS through the connection. `context` is the engine's [`Io`].
unsafe extern "C" fn bio_send<T: Connection>(
    context: *mut c_void,
    data: *const c_uchar,
    length: usize,
) -> c_int {
    // SAFETY: `context` is the `Io<T>` inside the pinned engine, set by `set_bio`; Mbed TLS
    // passes `length` readable bytes.
    let (io, data) = unsafe {
        (
            &mut *context.cast::<Io<T>>(),
            core::slice::from_raw_parts(data, length),
        )
    };
    if io.discard_sends {
        return c_int::try_from(length).unwrap_or(c_int::MAX);
    }
    let Some(sent) = io.unlocked(|connection| connection.send(data)) else {
        return NET_SEND_FAILED;
    };
    match sent {
        Ok(Sent::Bytes(sent)) => c_int::try_from(sent).unwrap_or(c_int::MAX),
        Ok(Sent::WouldBlock) => sys::MBEDTLS_ERR_SSL_WANT_WRITE,
        Err(StreamError::Reset) => NET_CONN_RESET,
        Err(StreamError::Closed) => NET_SEND_FAILED,
    }
}

/// Receives for Mbed TLS through the connection. 0 means the peer closed the stream.
unsafe extern "C" fn bio_recv<T: Connection>(
    context: *mut c_void,
    buffer: *mut c_uchar,
    length: usize,
) -> c_int {
    // SAFETY: as in `bio_send`; Mbed TLS passes `length` writable bytes.
    let (io, buffer) = unsafe {
        (
            &mut *context.cast::<Io<T>>(),
            core::slice::from_raw_parts_mut(buffer, length),
        )
    };
    let Some(received) = io.unlocked(|connection| connection.recv(buffer)) else {
        return NET_CONN_RESET;
    };
    match received {
        Ok(Received::Data(count)) => c_int::try_from(count).unwrap_or(c_int::MAX),
        Ok(Received::WouldBlock) => sys::MBEDTLS_ERR_SSL_WANT_READ,
        Ok(Received::EndOfStream) => 0,
        Err(_) => NET_CONN_RESET,
    }
}

/// One connection's Mbed TLS state. Boxed and never moved: the contexts point at each other
/// and at `socket`, the connection it runs over.
struct Engine<T: Connection> {
    ssl: sys::mbedtls_ssl_context,
    config: sys::mbedtls_ssl_config,
    /// The trusted root(s): from the credentials' check until the server's chain is verified.
    root_ca: Option<Chain>,
    /// The device's certificate: from when the handshake writes it to the connection's end.
    client_cert: Option<Chain>,
    client_key: sys::mbedtls_pk_context,
    /// The connection and the lock, behind the I/O callbacks' context pointer.
    io: Io<T>,
    /// NUL-terminated ALPN names and the NULL-terminated list Mbed TLS reads them from.
    alpn_names: Vec<CString>,
    alpn_list: Vec<*const c_char>,
    /// The device's certificate and key are checked and freed again before the handshake,
    /// and parsed when the handshake needs them (`Engine::handshake`): still to do.
    own_cert_pending: bool,
    own_key_pending: bool,
    /// What resumption did on this connection, and the session to save, if any.
    resumption: Resumption,
    fresh_session: Option<SavedSession>,
    /// The handshake reached the server's Certificate, or a peer certificate was seen: it was
    /// a full handshake whatever was offered.
    full_handshake: bool,
    /// With [`TlsConfig::resumption`]: what a saved session must have been made for (see
    /// [`session_binding`]).
    binding: Option<[u8; 32]>,
}

/// A certificate chain in a heap block of its own, so that it can go, struct and all (about
/// 750 bytes on 64-bit hosts), as soon as the handshake is done with it. Freed when dropped.
struct Chain(Box<sys::mbedtls_x509_crt>);

impl Chain {
    /// An empty chain.
    fn new() -> Chain {
        let mut chain = Chain(Box::default());
        // SAFETY: initialising a fresh, boxed (never moved) context; Drop frees it.
        unsafe { sys::mbedtls_x509_crt_init(chain.as_ptr()) };
        chain
    }

    /// The context, for Mbed TLS (stable: the box never moves).
    fn as_ptr(&mut self) -> *mut sys::mbedtls_x509_crt {
        &mut *self.0
    }

    fn as_mut(&mut self) -> &mut sys::mbedtls_x509_crt {
        &mut self.0
    }

    /// Frees the parsed certificates, leaving an empty, valid chain at the same address.
    fn clear(&mut self) {
        // SAFETY: an initialised context; freeing leaves it empty (all zero) and valid.
        unsafe { sys::mbedtls_x509_crt_free(self.as_ptr()) };
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<T: Connection> Engine<T> {
    /// A boxed engine with every context initialised (empty).
    fn new() -> Box<Engine<T>> {
        // SAFETY: the Mbed TLS contexts are plain C structs for which all-zero bytes are a valid
        // state before their `_init` functions run; `socket` is `None` (a valid `Option` of a
        // type with a niche... so it is written explicitly below rather than zeroed).
        let mut engine: Box<MaybeUninit<Engine<T>>> = Box::new(MaybeUninit::zeroed());
        let raw = engine.as_mut_ptr();
        // SAFETY: `raw` points to the boxed engine; each field is initialised exactly once here
        // before the box is assumed initialised.
        unsafe {
            ptr::addr_of_mut!((*raw).io).write(Io {
                connection: None,
                lock: None,
                discard_sends: false,
            });
            ptr::addr_of_mut!((*raw).alpn_names).write(Vec::new());
            ptr::addr_of_mut!((*raw).alpn_list).write(Vec::new());
            ptr::addr_of_mut!((*raw).own_cert_pending).write(false);
            ptr::addr_of_mut!((*raw).own_key_pending).write(false);
            ptr::addr_of_mut!((*raw).resumption).write(Resumption::NotOffered);
            ptr::addr_of_mut!((*raw).fresh_session).write(None);
            ptr::addr_of_mut!((*raw).full_handshake).write(false);
            ptr::addr_of_mut!((*raw).binding).write(None);
            sys::mbedtls_ssl_init(ptr::addr_of_mut!((*raw).ssl));
            sys::mbedtls_ssl_config_init(ptr::addr_of_mut!((*raw).config));
            ptr::addr_of_mut!((*raw).root_ca).write(None);
            ptr::addr_of_mut!((*raw).client_cert).write(None);
            sys::mbedtls_pk_init(ptr::addr_of_mut!((*raw).client_key));
            Box::from_raw(Box::into_raw(engine).cast::<Engine<T>>())
        }
    }

    fn load_credentials(&mut self, credentials: &Credentials) -> Result<(), CredentialError> {
        let root_ca = self.root_ca.insert(Chain::new());
        parse_certificates(root_ca.as_mut(), &credentials.root_ca)?;
        let client_cert = self.client_cert.insert(Chain::new());
        parse_certificates(client_cert.as_mut(), &credentials.client_cert)?;
        parse_key(
            &mut self.client_key,
            &credentials.client_key,
            credentials.key_passphrase.as_deref(),
        )?;
        check_key(&self.client_key, &credentials.client_key)?;
        // SAFETY: both contexts are initialised and parsed; the RNG callback needs no state.
        let paired = unsafe {
            sys::mbedtls_pk_check_pair(
                &client_cert.as_mut().pk,
                &self.client_key,
                Some(random_bytes),
                ptr::null_mut(),
            )
        };
        if paired != 0 {
            return Err(CredentialError::KeyMismatch {
                source: credentials.client_key.source.clone(),
            });
        }
        Ok(())
    }

    fn configure(&mut self, config: &TlsConfig) -> Result<(), TlsError> {
        // SAFETY: the config context is initialised; the constants are Mbed TLS's own.
        let defaults = unsafe {
            sys::mbedtls_ssl_config_defaults(
                &mut self.config,
                sys::MBEDTLS_SSL_IS_CLIENT as c_int,
                sys::MBEDTLS_SSL_TRANSPORT_STREAM as c_int,
                sys::MBEDTLS_SSL_PRESET_DEFAULT as c_int,
            )
        };
        check(defaults)?;
        // SAFETY: all pointers are to contexts inside this pinned engine, which outlives the
        // config (they are freed together in Drop, the SSL context first).
        unsafe {
            sys::mbedtls_ssl_conf_authmode(
                &mut self.config,
                sys::MBEDTLS_SSL_VERIFY_REQUIRED as c_int,
            );
            let root_ca = self.root_ca.as_mut().map_or(ptr::null_mut(), Chain::as_ptr);
            sys::mbedtls_ssl_conf_ca_chain(&mut self.config, root_ca, ptr::null_mut());
        }
        // Without the device's certificate now (it is parsed when the handshake writes it),
        // `load_own_credentials_when_due` configures it then.
        if self.client_cert.is_some() {
            self.configure_own_certificate()?;
        }
        // SAFETY: as above.
        unsafe {
            sys::mbedtls_ssl_conf_rng(&mut self.config, Some(random_bytes), ptr::null_mut());
            if config.resumption {
                // TLS 1.2: ask for a ticket (a server without them gives a session ID). TLS
                // 1.3: offer psk_dhe_ke beside a plain (EC)DHE handshake, never PSK alone (a
                // resumed session keeps forward secrecy), and have Mbed TLS hand each
                // NewSessionTicket over (`TlsTransport::recv` saves it).
                sys::mbedtls_ssl_conf_session_tickets(
                    &mut self.config,
                    sys::MBEDTLS_SSL_SESSION_TICKETS_ENABLED as c_int,
                );
                sys::mbedtls_ssl_conf_tls13_key_exchange_modes(
                    &mut self.config,
                    sys::MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL as c_int,
                );
                sys::mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
                    &mut self.config,
                    sys::MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED as c_int,
                );
            } else {
                // No resumption: tickets would only cost memory. None asked for in TLS 1.2,
                // and in TLS 1.3 no PSK modes offered (without psk_key_exchange_modes a server
                // has no use for sending one).
                sys::mbedtls_ssl_conf_session_tickets(
                    &mut self.config,
                    sys::MBEDTLS_SSL_SESSION_TICKETS_DISABLED as c_int,
                );
                sys::mbedtls_ssl_conf_tls13_key_exchange_modes(
                    &mut self.config,
                    sys::MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL as c_int,
                );
            }
        }
        self.config.private_min_tls_version = protocol_version(config.min_version);
        self.config.private_max_tls_version = protocol_version(config.max_version);
        if let Some(length) = config.max_fragment_length {
            // SAFETY: a valid code on an initialised config.
            check(unsafe {
                sys::mbedtls_ssl_conf_max_frag_len(&mut self.config, fragment_code(length))
            })?;
        }
        if !config.alpn.is_empty() {
            self.alpn_names = config
                .alpn
                .iter()
                .map(|name| CString::new(name.as_str()))
                .collect::<Result<_, _>>()
                .map_err(|_| TlsError::Config("an ALPN name contains a NUL byte"))?;
            self.alpn_list = self
                .alpn_names
                .iter()
                .map(|name| name.as_ptr())
                .chain(Some(ptr::null()))
                .collect();
            // SAFETY: the list is NULL-terminated and, like the names, lives in this engine as
            // long as the config.
            check(unsafe {
                sys::mbedtls_ssl_conf_alpn_protocols(&mut self.config, self.alpn_list.as_mut_ptr())
            })?;
        }
        Ok(())
    }

    /// Binds the SSL context to the config and the socket, and sets the expected name.
    fn setup(&mut self, socket: T, server_name: &CStr, send_sni: bool) -> Result<(), TlsError> {
        // SAFETY: both contexts are initialised and live in this pinned engine.
        check(unsafe { sys::mbedtls_ssl_setup(&mut self.ssl, &self.config) })?;
        // With SNI the name is set on the context: Mbed TLS sends it and checks the certificate
        // against it. Without SNI, NULL tells Mbed TLS the check is done elsewhere:
        // `verify_name` runs it after the handshake, so the name is checked either way.
        let name = if send_sni {
            server_name.as_ptr()
        } else {
            ptr::null()
        };
        // SAFETY: Mbed TLS copies the name.
        check(unsafe { sys::mbedtls_ssl_set_hostname(&mut self.ssl, name) })?;
        self.io.connection = Some(socket);
        let bio = ptr::addr_of_mut!(self.io).cast::<c_void>();
        // SAFETY: `bio` is the socket slot of this pinned engine, which outlives the context.
        unsafe {
            sys::mbedtls_ssl_set_bio(
                &mut self.ssl,
                bio,
                Some(bio_send::<T>),
                Some(bio_recv::<T>),
                None,
            )
        };
        Ok(())
    }

    /// Runs the handshake until it completes or the deadline passes, one step at a time. With
    /// `release_when_verified`, the server's chain and the root CA are freed as soon as the
    /// handshake no longer needs them (see [`Engine::server_no_longer_needed`]): before the
    /// device signs its CertificateVerify, the handshake's peak.
    /// The device's certificate and key, if `Prepared::new` let them go, are parsed again from
    /// `credentials` when the handshake reaches the device's Certificate message.
    fn handshake(
        &mut self,
        deadline: Deadline,
        release_when_verified: bool,
        credentials: &Credentials,
    ) -> Result<(), TlsError> {
        let mut released = false;
        loop {
            if self.ssl.private_state == sys::mbedtls_ssl_states_MBEDTLS_SSL_HANDSHAKE_OVER as c_int
            {
                if self.io.discard_sends {
                    return Err(self.why_the_peer_stopped_listening(deadline));
                }
                return Ok(());
            }
            self.note_full_handshake();
            if release_when_verified && !released && self.server_no_longer_needed() {
                self.release_server_chain();
                released = true;
            }
            self.load_own_credentials_when_due(credentials)?;
            let remaining = deadline.remaining().ok_or(TlsError::HandshakeTimeout)?;
            if let Some(socket) = self.io.connection.as_mut() {
                let wait = remaining.as_duration().max(Duration::from_millis(1));
                socket.set_timeouts(wait, wait);
            }
            // SAFETY: the context is set up with its config and I/O callbacks.
            let result = unsafe { sys::mbedtls_ssl_handshake_step(&mut self.ssl) };
            match result {
                0 | sys::MBEDTLS_ERR_SSL_WANT_READ | sys::MBEDTLS_ERR_SSL_WANT_WRITE => continue,
                // The peer shut its receiving side (a TCP FIN; stacks such as FreeRTOS+TCP
                // refuse to send after one) while the device still sent its flight. In TLS 1.3
                // a server that rejects the device's certificate does exactly this, with its
                // reason in an encrypted alert: finish the flight into the void, so that the
                // alert is read and decrypted, and fail with what it says.
                NET_SEND_FAILED
                    if !self.io.discard_sends
                        && self.ssl.private_tls_version
                            == sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_3 =>
                {
                    self.io.discard_sends = true;
                    continue;
                }
                sys::MBEDTLS_ERR_X509_CERT_VERIFY_FAILED => {
                    // SAFETY: a handshake context; returns the verification flags.
                    let flags = unsafe { sys::mbedtls_ssl_get_verify_result(&self.ssl) };
                    return Err(TlsError::ServerNotTrusted(VerifyFailure { flags }));
                }
                sys::MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE | sys::MBEDTLS_ERR_SSL_ILLEGAL_PARAMETER
                    if self.unoffered_alpn_choice().is_some() =>
                {
                    return Err(TlsError::AlpnNotOffered {
                        chosen: self.unoffered_alpn_choice().unwrap_or_default(),
                        offered: self.alpn_offered(),
                    });
                }
                error => return Err(self.rejection_or(self.classify(error))),
            }
        }
    }

    /// The protocol the server's hello names in its ALPN extension, if that is one the device
    /// never offered. Mbed TLS refuses such a choice with a bare handshake failure; the
    /// message it refused is still in its input buffer: the ServerHello in TLS 1.2, the
    /// (decrypted) EncryptedExtensions in TLS 1.3. (Mbed TLS refuses it while parsing that
    /// message, so a hello in the buffer that names such a protocol is the cause.)
    fn unoffered_alpn_choice(&self) -> Option<String> {
        if self.ssl.private_in_msg.is_null() || self.alpn_names.is_empty() {
            return None;
        }
        // The handshake message's length, within the record content Mbed TLS holds.
        let length = self.ssl.private_in_hslen.min(self.ssl.private_in_msglen);
        // SAFETY: `in_msg` points into the context's input buffer, which holds the
        // `in_msglen` bytes of the current record's content (Mbed TLS set both when it read
        // the record), so `length` bytes are readable; the slice is only read, while the
        // context is borrowed.
        let message = unsafe { core::slice::from_raw_parts(self.ssl.private_in_msg, length) };
        let chosen = super::alpn::server_hello_choice(message)
            .or_else(|| super::alpn::encrypted_extensions_choice(message))?;
        let offered = self.alpn_names.iter().any(|name| name.as_bytes() == chosen);
        (!offered).then(|| String::from_utf8_lossy(chosen).into_owned())
    }

    /// The ALPN protocols offered, comma-separated.
    fn alpn_offered(&self) -> String {
        let names: Vec<String> = self
            .alpn_names
            .iter()
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        names.join(", ")
    }

    /// After a handshake whose last sends were dropped (the peer had stopped listening): reads
    /// what the peer sent, up to `deadline`, and names it; a close without an alert is
    /// [`TlsError::PeerClosed`]. Never a success: the server did not get the device's flight.
    fn why_the_peer_stopped_listening(&mut self, deadline: Deadline) -> TlsError {
        self.io.discard_sends = false;
        let mut scratch = [0u8; 64];
        loop {
            if let Some(socket) = self.io.connection.as_mut() {
                let wait = deadline
                    .remaining()
                    .map_or(Duration::from_millis(1), |left| left.as_duration())
                    .min(Duration::from_secs(1));
                socket.set_timeouts(wait, wait);
            }
            // SAFETY: a context whose handshake is over; the buffer is live and writable.
            let result = unsafe {
                sys::mbedtls_ssl_read(&mut self.ssl, scratch.as_mut_ptr(), scratch.len())
            };
            match result {
                sys::MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET => continue,
                sys::MBEDTLS_ERR_SSL_WANT_READ | sys::MBEDTLS_ERR_SSL_WANT_WRITE
                    if deadline.remaining().is_some() =>
                {
                    continue;
                }
                error if error < 0 => return self.classify(error),
                _ => return TlsError::PeerClosed,
            }
        }
    }

    /// When the server turns the device's certificate away in TLS 1.2, it sends an alert and
    /// closes at once, and the handshake may fail on a write before Mbed TLS has read that
    /// alert. The alert (a plaintext record `15 03 0x 00 02 level description`) is then still
    /// in the socket: look for it before reporting a bare network failure.
    fn rejection_or(&mut self, error: TlsError) -> TlsError {
        let network_failure = matches!(
            error,
            TlsError::Reset | TlsError::PeerClosed | TlsError::Protocol(NET_SEND_FAILED)
        );
        if !network_failure {
            return error;
        }
        let mut pending = [0u8; 512];
        let mut length = 0;
        let read = self.io.unlocked(|socket| {
            socket.set_timeouts(Duration::from_millis(200), Duration::from_millis(200));
            while length < pending.len() {
                match socket.recv(&mut pending[length..]) {
                    Ok(Received::Data(count)) => length += count,
                    _ => break,
                }
            }
        });
        if read.is_none() {
            return error;
        }
        let alert = pending[..length]
            .windows(7)
            .find(|record| {
                record[0] == sys::MBEDTLS_SSL_MSG_ALERT as u8
                    && record[1] == 3
                    && record[3..5] == [0, 2]
                    && record[5] == 2
            })
            .map(|record| record[6]);
        match alert {
            Some(alert) if CERTIFICATE_ALERTS.contains(&alert) => {
                TlsError::ClientRejected { alert: Some(alert) }
            }
            Some(alert) => TlsError::PeerAlert(alert),
            // The server went away while the device was still sending its flight, and left no
            // alert to read (nginx, for one, closes at once after rejecting a certificate).
            None if error == TlsError::Protocol(NET_SEND_FAILED) => TlsError::PeerClosed,
            None => error,
        }
    }

    /// Whether the handshake is past every use of the server's certificate chain and of the
    /// root CA: in TLS 1.2 once the ClientKeyExchange is written (the ServerKeyExchange
    /// signature is checked, and RSA or static-ECDH key exchanges have used the server's
    /// key), in TLS 1.3 once the server's CertificateVerify and Finished are processed.
    fn server_no_longer_needed(&self) -> bool {
        let state = self.ssl.private_state as sys::mbedtls_ssl_states;
        if self.ssl.private_tls_version
            == sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_2
        {
            // With ECDHE the server's key signed its key exchange, which is verified by now:
            // the device's own messages never read the server's certificate, so the chain can
            // go before the device's certificate is parsed. Other key exchanges (RSA, static
            // ECDH) use it in the ClientKeyExchange: it stays until that is written.
            let after_server_flight = self.negotiating_ecdhe()
                && matches!(
                    state,
                    sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_CERTIFICATE
                        | sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_KEY_EXCHANGE
                );
            after_server_flight
                || matches!(
                    state,
                    sys::mbedtls_ssl_states_MBEDTLS_SSL_CERTIFICATE_VERIFY
                        | sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_CHANGE_CIPHER_SPEC
                        | sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_FINISHED
                )
        } else {
            matches!(
                state,
                sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_CERTIFICATE
                    | sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_CERTIFICATE_VERIFY
                    | sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_FINISHED
            )
        }
    }

    /// Whether the TLS 1.2 handshake under way negotiated an ECDHE key exchange.
    fn negotiating_ecdhe(&self) -> bool {
        let session = self.ssl.private_session_negotiate;
        if session.is_null() {
            return false;
        }
        // SAFETY: `session` is the context's session being negotiated (checked non-NULL);
        // Mbed TLS's table lookup returns a static entry or NULL for an unknown id.
        let suite = unsafe { sys::mbedtls_ssl_ciphersuite_from_id((*session).private_ciphersuite) };
        if suite.is_null() {
            return false;
        }
        // SAFETY: a non-NULL entry of Mbed TLS's static ciphersuite table.
        let key_exchange =
            sys::mbedtls_key_exchange_type_t::from(unsafe { (*suite).private_key_exchange });
        matches!(
            key_exchange,
            sys::mbedtls_key_exchange_type_t_MBEDTLS_KEY_EXCHANGE_ECDHE_RSA
                | sys::mbedtls_key_exchange_type_t_MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA
        )
    }

    /// Frees the server's certificate chain (Mbed TLS is built with
    /// `MBEDTLS_SSL_KEEP_PEER_CERTIFICATE`, so it would keep the whole parsed chain for the
    /// connection's life) and the root CA, once they are no longer needed: the verification
    /// result stays in the session. Afterwards `mbedtls_ssl_get_peer_cert` returns NULL.
    fn release_server_chain(&mut self) {
        // During the handshake the chain is in the session being negotiated; once it is over
        // (without SNI the name is checked then), in the established session.
        let session = if self.ssl.private_session_negotiate.is_null() {
            self.ssl.private_session
        } else {
            self.ssl.private_session_negotiate
        };
        // SAFETY: `session` is the session being negotiated or the established one, owned by
        // the context; its `peer_cert` is NULL or a chain Mbed TLS allocated with the platform
        // calloc (our C_CALLOC) and initialised. Freeing it and storing NULL is what Mbed TLS
        // itself does before it parses a new chain. The root CA is ours; an emptied chain is a
        // valid (initialised) one, and the config no longer points at it.
        unsafe {
            if !session.is_null() && !(*session).private_peer_cert.is_null() {
                let chain = (*session).private_peer_cert;
                sys::mbedtls_x509_crt_free(chain);
                heap::C_FREE(chain.cast::<c_void>());
                (*session).private_peer_cert = ptr::null_mut();
            }
            sys::mbedtls_ssl_conf_ca_chain(&mut self.config, ptr::null_mut(), ptr::null_mut());
        }
        // Struct and all: nothing points at it any more.
        self.root_ca = None;
    }

    /// Gives the config the device's certificate (parsed) and key (the context, parsed now or
    /// later); Mbed TLS keeps the pointers, which stay valid: both are owned by this pinned
    /// engine, the certificate boxed.
    fn configure_own_certificate(&mut self) -> Result<(), TlsError> {
        let Some(client_cert) = self.client_cert.as_mut() else {
            return Err(TlsError::Config("the device's certificate is not loaded"));
        };
        // SAFETY: the config, the certificate and the key context are initialised and owned by
        // this engine, which outlives the config's use of them (freed in Drop, the SSL context
        // and the config first).
        check(unsafe {
            sys::mbedtls_ssl_conf_own_cert(
                &mut self.config,
                client_cert.as_ptr(),
                &mut self.client_key,
            )
        })
    }

    /// Parses the device's certificate when the handshake is about to send it, and its key
    /// when it is about to sign the CertificateVerify (each after the server's chain is
    /// freed): the key is then never held while the server's chain is verified.
    fn load_own_credentials_when_due(&mut self, credentials: &Credentials) -> Result<(), TlsError> {
        let state = self.ssl.private_state as sys::mbedtls_ssl_states;
        if self.own_cert_pending && state == sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_CERTIFICATE
        {
            let client_cert = self.client_cert.insert(Chain::new());
            parse_certificates(client_cert.as_mut(), &credentials.client_cert)?;
            self.configure_own_certificate()?;
            self.own_cert_pending = false;
        }
        let signing = if self.ssl.private_tls_version
            == sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_2
        {
            sys::mbedtls_ssl_states_MBEDTLS_SSL_CERTIFICATE_VERIFY
        } else {
            sys::mbedtls_ssl_states_MBEDTLS_SSL_CLIENT_CERTIFICATE_VERIFY
        };
        if self.own_key_pending && state == signing {
            // The device's Certificate message is written: Mbed TLS only checks from now on
            // that a certificate was configured (the pointer, which stays), so its parse goes
            // before the key's and the signature's temporaries come.
            if let Some(client_cert) = self.client_cert.as_mut() {
                client_cert.clear();
            }
            parse_key(&mut self.client_key, &credentials.client_key, None)?;
            self.own_key_pending = false;
        }
        Ok(())
    }

    /// Frees the device's certificate and key once the handshake is over: Mbed TLS needs them
    /// only to authenticate (renegotiation is off). The key's bytes are zeroed by Mbed TLS.
    /// The certificate's (emptied) struct stays while the config points at it.
    fn release_own_credentials(&mut self) {
        if let Some(client_cert) = self.client_cert.as_mut() {
            client_cert.clear();
        }
        // SAFETY: an initialised context owned by this engine; freeing leaves it empty and
        // valid (Drop frees it again, a no-op). The config still points at it but does not
        // read it after the handshake.
        unsafe { sys::mbedtls_pk_free(&mut self.client_key) };
    }

    /// Before the handshake, once the credentials are checked: the device's certificate goes,
    /// struct and all (the config does not point at it yet), and its key is emptied.
    fn drop_own_credentials_until_due(&mut self) {
        self.client_cert = None;
        self.release_own_credentials();
    }

    /// Checks the server certificate against `server_name` when the handshake did not (SNI off).
    fn verify_name(&mut self, server_name: &CStr) -> Result<(), TlsError> {
        // SAFETY: after a successful handshake the peer chain is kept by the context.
        let peer = unsafe { sys::mbedtls_ssl_get_peer_cert(&self.ssl) };
        if peer.is_null() {
            return Err(TlsError::ServerNotTrusted(VerifyFailure {
                flags: sys::MBEDTLS_X509_BADCERT_MISSING,
            }));
        }
        let mut flags = 0u32;
        // Without SNI the chain and the root are not released before this check.
        let Some(root_ca) = self.root_ca.as_mut() else {
            return Err(TlsError::Config(
                "the root CA was released before the name was checked",
            ));
        };
        // SAFETY: `peer` and the root CA are parsed chains owned by this engine; Mbed TLS only
        // reads them here despite the `*mut` in its signature.
        let verified = unsafe {
            sys::mbedtls_x509_crt_verify_with_profile(
                peer.cast_mut(),
                root_ca.as_ptr(),
                ptr::null_mut(),
                &sys::mbedtls_x509_crt_profile_default,
                server_name.as_ptr(),
                &mut flags,
                None,
                ptr::null_mut(),
            )
        };
        if verified == 0 {
            Ok(())
        } else {
            Err(TlsError::ServerNotTrusted(VerifyFailure { flags }))
        }
    }

    /// Turns an Mbed TLS error code into what it means for the user.
    fn classify(&self, code: c_int) -> TlsError {
        match code {
            sys::MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE => match self.last_alert() {
                Some(alert) if CERTIFICATE_ALERTS.contains(&alert) => {
                    TlsError::ClientRejected { alert: Some(alert) }
                }
                Some(alert) => TlsError::PeerAlert(alert),
                None => TlsError::ClientRejected { alert: None },
            },
            NET_CONN_RESET => TlsError::Reset,
            sys::MBEDTLS_ERR_SSL_CONN_EOF | sys::MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY => {
                TlsError::PeerClosed
            }
            sys::MBEDTLS_ERR_SSL_ALLOC_FAILED
            | sys::MBEDTLS_ERR_X509_ALLOC_FAILED
            | sys::MBEDTLS_ERR_PK_ALLOC_FAILED => TlsError::OutOfMemory,
            other => TlsError::Protocol(other),
        }
    }

    /// The description byte of the alert record just received, if the last record was one.
    fn last_alert(&self) -> Option<u8> {
        if self.ssl.private_in_msgtype != sys::MBEDTLS_SSL_MSG_ALERT as c_int
            || self.ssl.private_in_msg.is_null()
        {
            return None;
        }
        // SAFETY: for an alert record Mbed TLS has checked the message holds its two bytes.
        Some(unsafe { *self.ssl.private_in_msg.add(1) })
    }
}

impl<T: Connection> Engine<T> {
    /// Notes a full handshake: the server's Certificate is (about to be) read, or a peer
    /// certificate is held. A resumed handshake never has either; a full one always has both
    /// (verification is required). Called before every handshake step.
    fn note_full_handshake(&mut self) {
        if self.ssl.private_state == sys::mbedtls_ssl_states_MBEDTLS_SSL_SERVER_CERTIFICATE as c_int
        {
            self.full_handshake = true;
        }
        for session in [self.ssl.private_session_negotiate, self.ssl.private_session] {
            // SAFETY: NULL or a session owned by the context; only its pointer field is read.
            if !session.is_null() && unsafe { !(*session).private_peer_cert.is_null() } {
                self.full_handshake = true;
            }
        }
    }

    /// Offers `saved` for resumption on a context that is set up but has not started its
    /// handshake. A session that cannot be used is not offered, and [`Self::resumption`]
    /// says why.
    fn offer_session(&mut self, saved: &SavedSession) {
        let Some(binding) = self.binding else {
            return;
        };
        let offered = match SessionHeader::check(saved.as_bytes(), &binding) {
            Ok((header, serialized)) => self.set_session(&header, serialized),
            Err(unusable) => Err(unusable),
        };
        self.resumption = match offered {
            Ok(()) => Resumption::Rejected,
            Err(unusable) => unusable,
        };
    }

    fn set_session(&mut self, header: &SessionHeader, serialized: &[u8]) -> Result<(), Resumption> {
        let mut session = MaybeUninit::<sys::mbedtls_ssl_session>::zeroed();
        // SAFETY: `session` is initialised by `mbedtls_ssl_session_init` before any other use
        // and freed (zeroized by Mbed TLS) before it goes out of scope; `serialized` is live
        // for the call; the context is set up and its handshake not started.
        unsafe {
            let session = session.as_mut_ptr();
            sys::mbedtls_ssl_session_init(session);
            let mut result =
                sys::mbedtls_ssl_session_load(session, serialized.as_ptr(), serialized.len());
            if result == 0 {
                if (*session).private_tls_version
                    == sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_3
                {
                    // Mbed TLS dates a TLS 1.3 ticket on this boot's uptime clock.
                    (*session).private_ticket_reception_time =
                        uptime_ms() - header.age_ms().unwrap_or(0);
                }
                result = sys::mbedtls_ssl_set_session(&mut self.ssl, session);
            }
            sys::mbedtls_ssl_session_free(session);
            if result != 0 {
                return Err(Resumption::Unusable("Mbed TLS could not load it"));
            }
        }
        Ok(())
    }

    /// After the handshake: whether the offered session was resumed.
    fn settle_resumption(&mut self) {
        self.note_full_handshake();
        if self.resumption == Resumption::Rejected && !self.full_handshake {
            self.resumption = Resumption::Resumed;
        }
    }

    /// Serializes the connection's session (once per connection: Mbed TLS exports each session
    /// once), to be taken by [`TlsTransport::take_session`]. A TLS 1.2 session the server
    /// gave neither a ticket nor an ID cannot be resumed, and is not kept.
    fn capture_session(&mut self) {
        let Some(binding) = self.binding else {
            return;
        };
        if self.fresh_session.is_some() {
            return;
        }
        let mut session = MaybeUninit::<sys::mbedtls_ssl_session>::zeroed();
        // SAFETY: `session` is initialised before use and freed (zeroized) before it goes out
        // of scope; the context's handshake is over; the output buffer has the length passed.
        let bytes = unsafe {
            let session = session.as_mut_ptr();
            sys::mbedtls_ssl_session_init(session);
            let bytes = if sys::mbedtls_ssl_get_session(&self.ssl, session) == 0 {
                serialize_session(&*session, &binding)
            } else {
                None
            };
            sys::mbedtls_ssl_session_free(session);
            bytes
        };
        self.fresh_session = bytes.and_then(|bytes| SavedSession::from_bytes(bytes).ok());
    }
}

impl<T: Connection> Engine<T> {
    /// Runs `f`, which calls into Mbed TLS, holding the Mbed TLS lock (see `MBEDTLS_LOCK`); the
    /// I/O callbacks give it back while they wait on the socket.
    fn locked<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> Result<R, TlsError> {
        self.io.lock = Some(lock_mbedtls()?);
        let result = f(self);
        self.io.lock = None;
        Ok(result)
    }
}

impl<T: Connection> Drop for Engine<T> {
    fn drop(&mut self) {
        // Freeing destroys PSA keys, in the store other connections share. Without the lock
        // (it could only be missing if it never could be made) the frees go ahead anyway:
        // leaking them would be worse.
        let _lock = lock_mbedtls().ok();
        // SAFETY: each context was initialised in `new` and is freed once, the SSL context
        // (which points at the others) first.
        unsafe {
            sys::mbedtls_ssl_free(&mut self.ssl);
            sys::mbedtls_ssl_config_free(&mut self.config);
            sys::mbedtls_pk_free(&mut self.client_key);
        }
        // Under the lock too, after the contexts that point at them.
        self.root_ca = None;
        self.client_cert = None;
    }
}

/// What session resumption did on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumption {
    /// No session was offered (none saved, or resumption is off).
    NotOffered,
    /// The saved session was offered and the server resumed it: no certificates were
    /// exchanged, the trust comes from the full handshake that made the session.
    Resumed,
    /// The saved session was offered and the server did a full handshake instead (its ticket
    /// key changed, its cache forgot, or the ticket expired on its side).
    Rejected,
    /// The saved session's ticket had expired: not offered.
    Expired,
    /// The saved session could not be used (why): not offered.
    Unusable(&'static str),
}

impl Resumption {
    /// Whether the handshake resumed a session.
    pub fn resumed(self) -> bool {
        self == Resumption::Resumed
    }
}

/// The header of a [`SavedSession`], before Mbed TLS's serialized session:
///
/// | bytes | field |
/// |---|---|
/// | 1 | format (`SESSION_FORMAT`) |
/// | 32 | SHA-256 of what the session is for ([`session_binding`]) |
/// | 8 | the boot it was made in (`BOOT_ID`) |
/// | 8 | when its ticket arrived, on that boot's uptime clock (ms) |
/// | 8 | the same on the wall clock (ms since 1970; 0 without a wall clock) |
/// | 4 | the ticket's lifetime (s; 0 when the server gave none) |
struct SessionHeader {
    boot_id: u64,
    issued_uptime_ms: i64,
    issued_wall_ms: u64,
    lifetime_s: u32,
}

const SESSION_FORMAT: u8 = 1;
const SESSION_HEADER_BYTES: usize = 1 + 32 + 8 + 8 + 8 + 4;

impl SessionHeader {
    fn write(&self, binding: &[u8; 32], out: &mut Vec<u8>) {
        out.push(SESSION_FORMAT);
        out.extend_from_slice(binding);
        out.extend_from_slice(&self.boot_id.to_be_bytes());
        out.extend_from_slice(&self.issued_uptime_ms.to_be_bytes());
        out.extend_from_slice(&self.issued_wall_ms.to_be_bytes());
        out.extend_from_slice(&self.lifetime_s.to_be_bytes());
    }

    /// The header and the serialized session of `bytes`, if they are for `binding` and the
    /// ticket has not expired.
    fn check<'a>(
        bytes: &'a [u8],
        binding: &[u8; 32],
    ) -> Result<(SessionHeader, &'a [u8]), Resumption> {
        if bytes.len() <= SESSION_HEADER_BYTES || bytes[0] != SESSION_FORMAT {
            return Err(Resumption::Unusable(
                "it is damaged or from another version of the firmware",
            ));
        }
        if bytes[1..33] != binding[..] {
            return Err(Resumption::Unusable(
                "it was made for another server name, port, SNI setting, TLS versions, root CA or \
                 device certificate",
            ));
        }
        let field = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            word
        };
        let mut lifetime = [0u8; 4];
        lifetime.copy_from_slice(&bytes[57..61]);
        let header = SessionHeader {
            boot_id: u64::from_be_bytes(field(33)),
            issued_uptime_ms: i64::from_be_bytes(field(41)),
            issued_wall_ms: u64::from_be_bytes(field(49)),
            lifetime_s: u32::from_be_bytes(lifetime),
        };
        if let Some(age) = header.age_ms() {
            if header.lifetime_s > 0 && age > i64::from(header.lifetime_s) * 1000 {
                return Err(Resumption::Expired);
            }
        }
        Ok((header, &bytes[SESSION_HEADER_BYTES..]))
    }

    /// How old the ticket is: on the uptime clock if it was made in this boot, else on the
    /// wall clock if both boots had one; `None` if that cannot be known (the server then
    /// judges its age alone).
    fn age_ms(&self) -> Option<i64> {
        if self.boot_id == boot_id() {
            return Some((uptime_ms() - self.issued_uptime_ms).max(0));
        }
        let now = wall_ms()?;
        if self.issued_wall_ms == 0 {
            return None;
        }
        Some(i64::try_from(now.saturating_sub(self.issued_wall_ms)).unwrap_or(i64::MAX))
    }
}

/// Milliseconds since boot: Mbed TLS's clock ([`BoardTimer`]).
fn uptime_ms() -> i64 {
    i64::try_from(Instant::now().since_start().as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds since 1970 on the board's wall clock, if it has one.
fn wall_ms() -> Option<u64> {
    board::services()
        .wall_clock()
        .and_then(|since_epoch| u64::try_from(since_epoch.as_millis()).ok())
}

/// A header and Mbed TLS's serialization of `session`, unless it cannot be resumed or is larger
/// than a store holds.
fn serialize_session(session: &sys::mbedtls_ssl_session, binding: &[u8; 32]) -> Option<Vec<u8>> {
    let tls13 =
        session.private_tls_version == sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_3;
    if !tls13 && session.private_id_len == 0 && session.private_ticket_len == 0 {
        return None;
    }
    let now = uptime_ms();
    let issued_uptime_ms = if tls13 {
        session.private_ticket_reception_time
    } else {
        now
    };
    let header = SessionHeader {
        boot_id: boot_id(),
        issued_uptime_ms,
        issued_wall_ms: wall_ms().map_or(0, |wall| {
            wall.saturating_sub(u64::try_from(now - issued_uptime_ms).unwrap_or(0))
        }),
        lifetime_s: session.private_ticket_lifetime,
    };
    let mut needed = 0usize;
    // SAFETY: a NULL buffer of length 0 asks only for the size.
    unsafe { sys::mbedtls_ssl_session_save(session, ptr::null_mut(), 0, &mut needed) };
    if needed == 0 || SESSION_HEADER_BYTES + needed > MAX_SESSION_BYTES {
        log::debug!("A TLS session of {needed} bytes is too large to keep.");
        return None;
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(SESSION_HEADER_BYTES + needed)
        .ok()?;
    header.write(binding, &mut bytes);
    bytes.resize(SESSION_HEADER_BYTES + needed, 0);
    let mut written = 0usize;
    // SAFETY: the buffer has `needed` writable bytes after the header.
    let saved = unsafe {
        sys::mbedtls_ssl_session_save(
            session,
            bytes[SESSION_HEADER_BYTES..].as_mut_ptr(),
            needed,
            &mut written,
        )
    };
    if saved != 0 || written != needed {
        zeroize(&mut bytes);
        return None;
    }
    Some(bytes)
}

/// SHA-256 over what a saved session is for: the server name, port and SNI setting, the TLS
/// versions allowed, the root CA and the device certificate. A session made under other
/// settings is never offered.
fn session_binding(
    config: &TlsConfig,
    port: u16,
    send_sni: bool,
    credentials: &Credentials,
) -> Option<[u8; 32]> {
    let parts: [&[u8]; 7] = [
        b"freertos-https TLS session 1\0",
        config.server_name.as_bytes(),
        &[
            0,
            u8::from(send_sni),
            version_byte(config.min_version),
            version_byte(config.max_version),
        ],
        &port.to_be_bytes(),
        &(credentials.root_ca.bytes.len() as u64).to_be_bytes(),
        &credentials.root_ca.bytes,
        &credentials.client_cert.bytes,
    ];
    let mut digest = [0u8; 32];
    let mut context = MaybeUninit::<sys::mbedtls_sha256_context>::zeroed();
    // SAFETY: the context is initialised before use and freed after; every input is a live
    // slice for its call; the output has the 32 bytes SHA-256 writes.
    unsafe {
        let context = context.as_mut_ptr();
        sys::mbedtls_sha256_init(context);
        let mut result = sys::mbedtls_sha256_starts(context, 0);
        for part in parts {
            if result == 0 {
                result = sys::mbedtls_sha256_update(context, part.as_ptr(), part.len());
            }
        }
        if result == 0 {
            result = sys::mbedtls_sha256_finish(context, digest.as_mut_ptr());
        }
        sys::mbedtls_sha256_free(context);
        (result == 0).then_some(digest)
    }
}

fn version_byte(version: TlsVersion) -> u8 {
    match version {
        TlsVersion::Tls12 => 2,
        TlsVersion::Tls13 => 3,
    }
}

/// A static NUL-terminated name from Mbed TLS ("" for NULL, "?" if not UTF-8).
///
/// # Safety
/// `pointer` is NULL or points to a NUL-terminated string that lives for the whole program.
unsafe fn static_text(pointer: *const c_char) -> &'static str {
    if pointer.is_null() {
        return "";
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(pointer) }.to_str().unwrap_or("?")
}

/// A static NUL-terminated name from Mbed TLS as text ("" for NULL).
fn c_text(pointer: *const c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: Mbed TLS returns static NUL-terminated names.
    unsafe { CStr::from_ptr(pointer) }
        .to_string_lossy()
        .into_owned()
}

fn check(code: c_int) -> Result<(), TlsError> {
    match code {
        0 => Ok(()),
        sys::MBEDTLS_ERR_SSL_ALLOC_FAILED
        | sys::MBEDTLS_ERR_X509_ALLOC_FAILED
        | sys::MBEDTLS_ERR_PK_ALLOC_FAILED => Err(TlsError::OutOfMemory),
        sys::MBEDTLS_ERR_SSL_BAD_INPUT_DATA => {
            Err(TlsError::Config("rejected by Mbed TLS (bad input)"))
        }
        other => Err(TlsError::Protocol(other)),
    }
}

fn protocol_version(version: TlsVersion) -> sys::mbedtls_ssl_protocol_version {
    match version {
        TlsVersion::Tls12 => sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_2,
        TlsVersion::Tls13 => sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_3,
    }
}

fn fragment_code(length: MaxFragmentLength) -> c_uchar {
    (match length {
        MaxFragmentLength::Bytes512 => sys::MBEDTLS_SSL_MAX_FRAG_LEN_512,
        MaxFragmentLength::Bytes1024 => sys::MBEDTLS_SSL_MAX_FRAG_LEN_1024,
        MaxFragmentLength::Bytes2048 => sys::MBEDTLS_SSL_MAX_FRAG_LEN_2048,
        MaxFragmentLength::Bytes4096 => sys::MBEDTLS_SSL_MAX_FRAG_LEN_4096,
    }) as c_uchar
}

/// PEM must reach Mbed TLS with its terminating NUL counted; DER as it is.
fn parser_input(credential: &Credential) -> Cow<'_, [u8]> {
    let source: &[u8] = &credential.bytes;
    let needs_nul =
        source.windows(10).any(|window| window == b"-----BEGIN") && source.last() != Some(&0);
    if !needs_nul {
        // DER, or PEM that ends in its NUL (a board's build embeds it so): parsed in place.
        return Cow::Borrowed(source);
    }
    // Sized exactly: a clone and a push would double the capacity, and this copy is made
    // at the handshake's busiest point (the key's PEM is ~1.7 KB).
    let mut bytes = Vec::with_capacity(source.len() + 1);
    bytes.extend_from_slice(source);
    bytes.push(0);
    Cow::Owned(bytes)
}

/// Whether `name` is an IP address rather than a DNS name: an IPv4 literal, or anything with
/// a `:` (an IPv6 literal; no DNS name has one). Cheaper in flash than parsing an `IpAddr`.
fn is_ip_literal(name: &str) -> bool {
    name.contains(':') || name.parse::<core::net::Ipv4Addr>().is_ok()
}

fn parse_certificates(
    chain: &mut sys::mbedtls_x509_crt,
    credential: &Credential,
) -> Result<(), CredentialError> {
    let input = parser_input(credential);
    // SAFETY: the chain is initialised; the buffer is live for the call and copied by Mbed TLS.
    let code = unsafe { sys::mbedtls_x509_crt_parse(chain, input.as_ptr(), input.len()) };
    let source = credential.source.clone();
    match code {
        0 => Ok(()),
        sys::MBEDTLS_ERR_PK_UNKNOWN_PK_ALG => Err(CredentialError::UnsupportedKey {
            source,
            what: "an algorithm this build of Mbed TLS cannot use, e.g. Ed25519".into(),
        }),
        code => Err(CredentialError::BadCertificate { source, code }),
    }
}

fn parse_key(
    key: &mut sys::mbedtls_pk_context,
    credential: &Credential,
    passphrase: Option<&str>,
) -> Result<(), CredentialError> {
    let mut input = parser_input(credential);
    let mut code = parse_key_bytes(key, &input, passphrase);
    // Mbed TLS only spots a wrong passphrase when the decrypted bytes' padding is wrong or they
    // do not start like DER. About 1 wrong passphrase in 256 decrypts into bytes that pass that
    // check and then fail to parse. A key that needs a passphrase and fails with one given is
    // reported as a wrong passphrase, whatever code the parse ended on.
    let failed_with_passphrase =
        code != 0 && passphrase.is_some() && code != sys::MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
    if failed_with_passphrase && key_needs_passphrase(&input) {
        code = sys::MBEDTLS_ERR_PK_PASSWORD_MISMATCH;
    }
    // A copy of the key's bytes is not kept around longer than needed (the credential itself
    // stays: the key is parsed again for every handshake).
    if let Cow::Owned(copy) = &mut input {
        copy.fill(0);
    }
    let source = credential.source.clone();
    match code {
        0 => Ok(()),
        sys::MBEDTLS_ERR_PK_PASSWORD_REQUIRED => {
            Err(CredentialError::PassphraseRequired { source })
        }
        sys::MBEDTLS_ERR_PK_PASSWORD_MISMATCH => Err(CredentialError::WrongPassphrase { source }),
        sys::MBEDTLS_ERR_PK_UNKNOWN_PK_ALG | sys::MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE => {
            Err(CredentialError::UnsupportedKey {
                source,
                what: "an algorithm this build of Mbed TLS cannot use".into(),
            })
        }
        code => Err(CredentialError::BadKey { source, code }),
    }
}

/// Whether `input` is an encrypted key: parsed without a passphrase, Mbed TLS asks for one.
fn key_needs_passphrase(input: &[u8]) -> bool {
    let mut probe = core::mem::MaybeUninit::<sys::mbedtls_pk_context>::uninit();
    // SAFETY: the context is initialised before the parse uses it and freed after; it lives on
    // this frame for the whole of that.
    unsafe {
        sys::mbedtls_pk_init(probe.as_mut_ptr());
        let code = parse_key_bytes(&mut *probe.as_mut_ptr(), input, None);
        sys::mbedtls_pk_free(probe.as_mut_ptr());
        code == sys::MBEDTLS_ERR_PK_PASSWORD_REQUIRED
    }
}

/// Mbed TLS's key parse of `input` into `key`; its status code.
fn parse_key_bytes(
    key: &mut sys::mbedtls_pk_context,
    input: &[u8],
    passphrase: Option<&str>,
) -> i32 {
    let (password, password_length) =
        passphrase.map_or((ptr::null(), 0), |text| (text.as_ptr(), text.len()));
    // SAFETY: the key context is initialised; the buffers are live for the call.
    unsafe {
        sys::mbedtls_pk_parse_key(
            key,
            input.as_ptr(),
            input.len(),
            password,
            password_length,
            Some(random_bytes),
            ptr::null_mut(),
        )
    }
}

/// Accepts RSA 2048 to 4096 bits and EC P-256/P-384 keys.
fn check_key(
    key: &sys::mbedtls_pk_context,
    credential: &Credential,
) -> Result<(), CredentialError> {
    // SAFETY: a parsed key context.
    let (kind, bits) = unsafe {
        (
            sys::mbedtls_pk_get_type(key),
            sys::mbedtls_pk_get_bitlen(key),
        )
    };
    let supported = match kind {
        sys::mbedtls_pk_type_t_MBEDTLS_PK_RSA => (2048..=4096).contains(&bits),
        sys::mbedtls_pk_type_t_MBEDTLS_PK_ECKEY | sys::mbedtls_pk_type_t_MBEDTLS_PK_ECDSA => {
            bits == 256 || bits == 384
        }
        _ => false,
    };
    if supported {
        return Ok(());
    }
    let what = match kind {
        sys::mbedtls_pk_type_t_MBEDTLS_PK_RSA => format!("RSA-{bits}"),
        sys::mbedtls_pk_type_t_MBEDTLS_PK_ECKEY | sys::mbedtls_pk_type_t_MBEDTLS_PK_ECDSA => {
            format!("EC {bits}-bit")
        }
        _ => "an algorithm this build of Mbed TLS cannot use".to_owned(),
    };
    Err(CredentialError::UnsupportedKey {
        source: credential.source.clone(),
        what,
    })
}

/// How long the connection took to come up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectTimings {
    /// TCP handshake.
    pub tcp_connect: Duration,
    /// TLS handshake.
    pub tls_handshake: Duration,
    /// Processor time the TLS handshake cost outside the idle task, on boards that count it
    /// ([`board::BoardServices::busy_time`]).
    pub tls_handshake_busy: Option<Duration>,
}

/// A mutually authenticated TLS connection over the connection `T`, as a [`Transport`].
/// Dropping it sends close_notify and closes the connection gracefully;
/// [`close`](Self::close) does the same and reports whether close_notify went out.
pub struct TlsTransport<T: Connection> {
    engine: Box<Engine<T>>,
    timeouts: TcpOptions,
    timings: ConnectTimings,
}

impl<C: TcpConnection> TlsTransport<TcpTransport<C>> {
    /// Connects to `endpoint` on `stack`, verifies the server as `config.server_name`, and
    /// authenticates with `credentials`. The TCP connect and the handshake together get
    /// `config.handshake_timeout`; afterwards reads and writes use `socket.recv_timeout` and
    /// `socket.send_timeout`. Call from a task.
    pub fn connect<S: TcpIpStack<Socket = C>>(
        stack: &'static S,
        endpoint: Endpoint,
        config: &TlsConfig,
        credentials: &Credentials,
        socket: TcpOptions,
    ) -> Result<TlsTransport<TcpTransport<C>>, TlsError> {
        Self::connect_resuming(stack, endpoint, config, credentials, socket, None)
    }

    /// As [`connect`](Self::connect), offering `session` (saved from an earlier connection to
    /// the same server name and port, see [`super::SessionStore`]) for resumption when
    /// `config.resumption` is on. A session that is damaged, expired or made for other
    /// settings is not offered, and one the server refuses gives a full handshake: neither is
    /// an error ([`TlsTransport::resumption`] says what happened).
    pub fn connect_resuming<S: TcpIpStack<Socket = C>>(
        stack: &'static S,
        endpoint: Endpoint,
        config: &TlsConfig,
        credentials: &Credentials,
        socket: TcpOptions,
        session: Option<&SavedSession>,
    ) -> Result<TlsTransport<TcpTransport<C>>, TlsError> {
        // Credentials and configuration are checked before anything goes on the network.
        heap::mark_phase(HeapPhase::Credentials);
        let prepared = Prepared::new(config, credentials, endpoint.port)?;
        heap::mark_phase(HeapPhase::TcpConnect);
        let deadline = Deadline::after(config.handshake_timeout);
        let started = Instant::now();
        let connect_timeout = socket.connect_timeout.min(config.handshake_timeout);
        let tcp = stack.connect(
            endpoint.address,
            endpoint.port,
            TcpOptions {
                connect_timeout,
                ..socket
            },
        )?;
        let tcp_connect = started.elapsed();
        heap::mark_phase(HeapPhase::TlsHandshake);
        let mut transport = prepared.handshake(
            TcpTransport::new(tcp),
            deadline,
            socket,
            credentials,
            session,
        )?;
        transport.timings.tcp_connect = tcp_connect;
        Ok(transport)
    }
}

/// An engine with credentials loaded and configuration applied, not yet bound to a
/// connection.
struct Prepared<T: Connection> {
    engine: Box<Engine<T>>,
    server_name: CString,
    send_sni: bool,
    /// The ALPN protocols offered, comma-separated ("" for none), for error messages.
    alpn_offered: String,
}

impl<T: Connection> Prepared<T> {
    fn new(
        config: &TlsConfig,
        credentials: &Credentials,
        port: u16,
    ) -> Result<Prepared<T>, TlsError> {
        initialise()?;
        let server_name = CString::new(config.server_name.as_str())
            .map_err(|_| TlsError::Config("the server name contains a NUL byte"))?;
        // SNI carries DNS names only (RFC 6066): an IP address is checked but not sent.
        let send_sni = config.send_sni && !is_ip_literal(&config.server_name);
        let mut engine = Engine::new();
        engine.locked(|engine| {
            engine.load_credentials(credentials)?;
            // Checked now, before anything goes on the network; loaded again only when the
            // handshake reaches the device's Certificate (`Engine::handshake`), so that they
            // are not held while the server's chain is verified, the handshake's other peak.
            // An encrypted key stays: decrypting it twice would double its key derivation.
            if credentials.key_passphrase.is_none() {
                engine.drop_own_credentials_until_due();
                engine.own_cert_pending = true;
                engine.own_key_pending = true;
            }
            engine.configure(config)?;
            if config.resumption {
                engine.binding = session_binding(config, port, send_sni, credentials);
            }
            Ok::<(), TlsError>(())
        })??;
        Ok(Prepared {
            engine,
            server_name,
            send_sni,
            alpn_offered: config.alpn.join(","),
        })
    }

    fn handshake(
        self,
        connection: T,
        deadline: Deadline,
        timeouts: TcpOptions,
        credentials: &Credentials,
        session: Option<&SavedSession>,
    ) -> Result<TlsTransport<T>, TlsError> {
        let Prepared {
            mut engine,
            server_name,
            send_sni,
            alpn_offered,
        } = self;
        let started = Instant::now();
        let busy_started = board::services().busy_time();
        engine
            .locked(|engine| {
                engine.setup(connection, &server_name, send_sni)?;
                if let Some(session) = session {
                    engine.offer_session(session);
                }
                // Without SNI, `verify_name` needs the chain and the root after the handshake.
                engine.handshake(deadline, send_sni, credentials)?;
                engine.settle_resumption();
                if !send_sni {
                    // A resumed session has no certificate to check: its name was verified by
                    // the full handshake that made it, which the session is bound to
                    // (`session_binding`). Every full handshake is checked here.
                    if !engine.resumption.resumed() {
                        engine.verify_name(&server_name)?;
                    }
                    engine.release_server_chain();
                }
                engine.release_own_credentials();
                // A TLS 1.2 session is complete now; TLS 1.3 tickets come after the handshake.
                if engine.ssl.private_tls_version
                    == sys::mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_2
                {
                    engine.capture_session();
                }
                Ok(())
            })?
            .map_err(|error| match error {
                // no_application_protocol: the server knows none of the protocols offered.
                TlsError::PeerAlert(120) if !alpn_offered.is_empty() => TlsError::AlpnRefused {
                    offered: alpn_offered,
                },
                other => other,
            })?;
        let tls_handshake = started.elapsed();
        let tls_handshake_busy = board::services()
            .busy_time()
            .zip(busy_started)
            .map(|(now, before)| now.saturating_sub(before));
        if let Some(connection) = engine.io.connection.as_mut() {
            connection.set_timeouts(timeouts.send_timeout, timeouts.recv_timeout);
        }
        Ok(TlsTransport {
            engine,
            timeouts,
            timings: ConnectTimings {
                tcp_connect: Duration::ZERO,
                tls_handshake,
                tls_handshake_busy,
            },
        })
    }
}

impl<T: Connection> TlsTransport<T> {
    /// Runs the handshake over `connection`, already connected, verifying the server as
    /// `config.server_name` and authenticating with `credentials`, within
    /// `config.handshake_timeout`. Afterwards reads and writes wait up to
    /// `timeouts.recv_timeout` and `timeouts.send_timeout`. Call from a task.
    pub fn handshake(
        connection: T,
        config: &TlsConfig,
        credentials: &Credentials,
        timeouts: TcpOptions,
    ) -> Result<TlsTransport<T>, TlsError> {
        let deadline = Deadline::after(config.handshake_timeout);
        Prepared::new(config, credentials, 0)?.handshake(
            connection,
            deadline,
            timeouts,
            credentials,
            None,
        )
    }

    /// What session resumption did on this connection.
    pub fn resumption(&self) -> Resumption {
        self.engine.resumption
    }

    /// The connection's session, serialized for a [`super::SessionStore`], once the server has
    /// given one (with `TlsConfig::resumption`): in TLS 1.2 after the handshake, in TLS 1.3
    /// once its first ticket has been read (tickets come with the first reads after the
    /// handshake). Taken once.
    pub fn take_session(&mut self) -> Option<SavedSession> {
        self.engine.fresh_session.take()
    }

    /// The negotiated protocol version, e.g. `TLSv1.3` (Mbed TLS's static name).
    pub fn version(&self) -> &'static str {
        // SAFETY: a connected context; Mbed TLS returns a static name.
        unsafe { static_text(sys::mbedtls_ssl_get_version(&self.engine.ssl)) }
    }

    /// The negotiated cipher suite, e.g. `TLS1-3-AES-128-GCM-SHA256` (Mbed TLS's static name).
    pub fn cipher_suite(&self) -> &'static str {
        // SAFETY: a connected context; Mbed TLS returns a static name (or NULL).
        unsafe { static_text(sys::mbedtls_ssl_get_ciphersuite(&self.engine.ssl)) }
    }

    /// The ALPN protocol the server chose, if any.
    pub fn alpn_protocol(&self) -> Option<String> {
        // SAFETY: a connected context.
        let protocol = unsafe { sys::mbedtls_ssl_get_alpn_protocol(&self.engine.ssl) };
        (!protocol.is_null()).then(|| c_text(protocol))
    }

    /// How long the TCP connect and the TLS handshake took.
    pub fn timings(&self) -> ConnectTimings {
        self.timings
    }

    /// Sends close_notify, then closes the TCP connection gracefully. Returns whether
    /// close_notify was sent.
    pub fn close(mut self) -> bool {
        self.shut_down()
    }

    fn shut_down(&mut self) -> bool {
        let Some(socket) = self.engine.io.connection.as_mut() else {
            return false;
        };
        socket.set_timeouts(CLOSE_NOTIFY_TIMEOUT, CLOSE_NOTIFY_TIMEOUT);
        let deadline = Instant::now() + CLOSE_NOTIFY_TIMEOUT;
        let sent = self.engine.locked(|engine| {
            loop {
                // SAFETY: a connected context whose socket is still in place.
                match unsafe { sys::mbedtls_ssl_close_notify(&mut engine.ssl) } {
                    0 => break true,
                    sys::MBEDTLS_ERR_SSL_WANT_WRITE | sys::MBEDTLS_ERR_SSL_WANT_READ
                        if Instant::now() < deadline =>
                    {
                        continue;
                    }
                    _ => break false,
                }
            }
        });
        let sent = sent.unwrap_or(false);
        if let Some(socket) = self.engine.io.connection.take() {
            socket.close();
        }
        sent
    }

    fn read_error(&self, code: c_int) -> TlsError {
        self.engine.classify(code)
    }
}

impl<T: Connection> Drop for TlsTransport<T> {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl<T: Connection> Transport for TlsTransport<T> {
    type Error = TlsError;

    fn send(&mut self, data: &[u8]) -> Result<Sent, TlsError> {
        if data.is_empty() {
            return Ok(Sent::WouldBlock);
        }
        let result = self.engine.locked(|engine| {
            // SAFETY: a connected context; the buffer is live for the call.
            unsafe { sys::mbedtls_ssl_write(&mut engine.ssl, data.as_ptr(), data.len()) }
        })?;
        match result {
            written if written > 0 => Ok(Sent::Bytes(written as usize)),
            sys::MBEDTLS_ERR_SSL_WANT_WRITE | sys::MBEDTLS_ERR_SSL_WANT_READ => {
                Ok(Sent::WouldBlock)
            }
            error => Err(self.read_error(error)),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Received, TlsError> {
        if buf.is_empty() {
            return Ok(Received::WouldBlock);
        }
        loop {
            let result = self.engine.locked(|engine| {
                // SAFETY: a connected context; the buffer is live and writable for the call.
                let result =
                    unsafe { sys::mbedtls_ssl_read(&mut engine.ssl, buf.as_mut_ptr(), buf.len()) };
                // The ticket stays readable until the next read: keep it now.
                if result == sys::MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET {
                    engine.capture_session();
                }
                result
            })?;
            return match result {
                count if count > 0 => Ok(Received::Data(count as usize)),
                sys::MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY => Ok(Received::EndOfStream),
                sys::MBEDTLS_ERR_SSL_WANT_READ | sys::MBEDTLS_ERR_SSL_WANT_WRITE => {
                    Ok(Received::WouldBlock)
                }
                // A TLS 1.3 ticket (kept above) is not application data: read on.
                sys::MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET => continue,
                // The stream ended without close_notify: possibly truncated, so not an orderly end.
                0 => Err(TlsError::Truncated),
                error => Err(self.read_error(error)),
            };
        }
    }
}

impl<T: Connection> TlsTransport<T> {
    /// The socket timeouts in force after the handshake.
    pub fn timeouts(&self) -> TcpOptions {
        self.timeouts
    }
}

// -- reuse: whether an idle kept-alive connection can carry another request.
/// What an idle connection holds when it is looked at between two requests
/// ([`TlsTransport::idle_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleState {
    /// Nothing arrived: the connection looks usable.
    Open,
    /// The server ended it: close_notify, a TCP FIN or reset, or a TLS error.
    Closed,
    /// Application data arrived although no request was outstanding: the stream can no longer
    /// be trusted to line up with the next request.
    UnexpectedData,
}

impl<T: Connection> TlsTransport<T> {
    /// Looks, without waiting, at what has arrived on the connection since the last response
    /// was read: a server that closed a kept-alive connection (an idle timeout, a limit of
    /// requests per connection) is seen here before the next request is sent into it. TLS
    /// 1.3 session tickets are read and pass. The socket's timeouts are restored afterwards.
    pub fn idle_state(&mut self) -> IdleState {
        let timeouts = self.timeouts;
        let Some(socket) = self.engine.io.connection.as_mut() else {
            return IdleState::Closed;
        };
        socket.set_timeouts(timeouts.send_timeout, Duration::ZERO);
        let mut byte = [0u8; 1];
        let state = match Transport::recv(self, &mut byte) {
            Ok(Received::WouldBlock) => IdleState::Open,
            Ok(Received::Data(_)) => IdleState::UnexpectedData,
            Ok(Received::EndOfStream) | Err(_) => IdleState::Closed,
        };
        if let Some(socket) = self.engine.io.connection.as_mut() {
            socket.set_timeouts(timeouts.send_timeout, timeouts.recv_timeout);
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    #[test]
    fn unix_time_converts_to_utc_calendar_fields() {
        let epoch = utc_from_unix(0).expect("representable");
        assert_eq!(
            (
                epoch.tm_year,
                epoch.tm_mon,
                epoch.tm_mday,
                epoch.tm_wday,
                epoch.tm_yday
            ),
            (70, 0, 1, 4, 0)
        );
        // 2024-02-29 12:34:56 UTC, a Thursday, day 59 of a leap year.
        let leap = utc_from_unix(1_709_210_096).expect("representable");
        assert_eq!(
            (
                leap.tm_year,
                leap.tm_mon,
                leap.tm_mday,
                leap.tm_hour,
                leap.tm_min,
                leap.tm_sec
            ),
            (124, 1, 29, 12, 34, 56)
        );
        assert_eq!((leap.tm_wday, leap.tm_yday), (4, 59));
        // 2026-11-29 00:00:00 UTC, a Sunday.
        let day = utc_from_unix(1_795_910_400).expect("representable");
        assert_eq!(
            (
                day.tm_year,
                day.tm_mon,
                day.tm_mday,
                day.tm_wday,
                day.tm_yday
            ),
            (126, 10, 29, 0, 332)
        );
    }

    #[test]
    fn pem_gets_its_nul_and_der_does_not() {
        let pem = Credential {
            bytes: b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
                .to_vec()
                .into(),
            source: super::super::Source::Memory("test"),
        };
        assert_eq!(parser_input(&pem).last(), Some(&0));
        assert!(matches!(parser_input(&pem), Cow::Owned(_)));
        let der = Credential {
            bytes: vec![0x30, 0x82, 0x01].into(),
            source: super::super::Source::Memory("test"),
        };
        assert_eq!(&*parser_input(&der), &[0x30, 0x82, 0x01]);
        assert!(matches!(parser_input(&der), Cow::Borrowed(_)));
        // PEM that already ends in its NUL (as a board embeds it) is parsed where it is.
        let terminated = Credential {
            bytes: Cow::Borrowed(
                b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n\0",
            ),
            source: super::super::Source::Memory("test"),
        };
        assert!(matches!(parser_input(&terminated), Cow::Borrowed(_)));
    }
}
