//! Fuzzes certificate and private-key loading through Mbed TLS's parsers, called the way the
//! device's TLS engine (`src/tls/engine.rs`, `Engine::load_credentials`) calls them.
//!
//! The device crate itself cannot be linked here: it builds the FreeRTOS kernel, and its
//! Mbed TLS heap is the kernel's. So this target links the same `mbedtls-rs-sys` build the
//! simulator uses (same version and features, see fuzz/Cargo.toml) and repeats the engine's
//! preparation of each credential: PEM (any input holding `-----BEGIN`) gets a terminating
//! NUL unless it ends in one, DER goes as it is; certificates go to
//! `mbedtls_x509_crt_parse`, keys to `mbedtls_pk_parse_key` with the passphrase's bytes (or
//! none) and an RNG callback; a parsed key is checked for type and size and, with a
//! certificate, for being its pair (`mbedtls_pk_check_pair`). What differs: Mbed TLS
//! allocates with the C heap (so AddressSanitizer sees every allocation; leaks are found
//! too: every context is freed), and the RNG is a counter (only blinding depends on it).
//!
//! Input: byte 0 chooses the case, the rest is the credential:
//! - `0`: a CA or client certificate chain (PEM or DER);
//! - `1`: a private key without passphrase;
//! - `2`: a private key with a passphrase: the next byte is its length (at most 64), then
//!   the passphrase, then the key;
//! - `3`: a certificate and its key: two bytes (big-endian) of certificate length, the
//!   certificate, then the key (no passphrase).
#![no_main]

use core::ffi::{c_int, c_uchar, c_void};
use core::ptr;
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use mbedtls_rs_sys as sys;

/// The engine's `parser_input`: PEM reaches Mbed TLS with its terminating NUL counted.
fn parser_input(bytes: &[u8]) -> Vec<u8> {
    let mut input = bytes.to_vec();
    if input.windows(10).any(|window| window == b"-----BEGIN") && input.last() != Some(&0) {
        input.push(0);
    }
    input
}

/// A counter as Mbed TLS's random source: reproducible runs.
unsafe extern "C" fn counter_bytes(
    _state: *mut c_void,
    output: *mut c_uchar,
    length: usize,
) -> c_int {
    static mut NEXT: u8 = 0;
    if length == 0 {
        return 0;
    }
    // SAFETY: Mbed TLS passes a writable buffer of `length` bytes; libFuzzer runs inputs on
    // one thread.
    let buffer = unsafe { core::slice::from_raw_parts_mut(output, length) };
    for byte in buffer {
        // SAFETY: one thread (above).
        unsafe {
            NEXT = NEXT.wrapping_add(1);
            *byte = NEXT;
        }
    }
    0
}

/// PSA crypto's random source in this build of Mbed TLS (the device's is its entropy).
#[unsafe(no_mangle)]
unsafe extern "C" fn mbedtls_psa_external_get_random(
    _context: *mut c_void,
    output: *mut c_uchar,
    size: usize,
    written: *mut usize,
) -> c_int {
    // SAFETY: PSA passes a writable buffer of `size` bytes and a valid `written`.
    unsafe {
        counter_bytes(ptr::null_mut(), output, size);
        *written = size;
    }
    0
}

/// A parsed certificate chain, freed on drop.
struct Chain(Box<sys::mbedtls_x509_crt>);

impl Chain {
    fn parse(bytes: &[u8]) -> Result<Chain, c_int> {
        // SAFETY: all-zero is a valid state before `_init`.
        let mut chain = Chain(Box::new(unsafe { core::mem::zeroed() }));
        let input = parser_input(bytes);
        // SAFETY: the context is initialised once, then parsed from a live buffer.
        let code = unsafe {
            sys::mbedtls_x509_crt_init(&mut *chain.0);
            sys::mbedtls_x509_crt_parse(&mut *chain.0, input.as_ptr(), input.len())
        };
        if code == 0 { Ok(chain) } else { Err(code) }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        // SAFETY: an initialised context.
        unsafe { sys::mbedtls_x509_crt_free(&mut *self.0) };
    }
}

/// A parsed private key, freed on drop.
struct Key(Box<sys::mbedtls_pk_context>);

impl Key {
    fn parse(bytes: &[u8], passphrase: Option<&[u8]>) -> Result<Key, c_int> {
        // SAFETY: all-zero is a valid state before `_init`.
        let mut key = Key(Box::new(unsafe { core::mem::zeroed() }));
        let mut input = parser_input(bytes);
        let (password, password_length) =
            passphrase.map_or((ptr::null(), 0), |text| (text.as_ptr(), text.len()));
        // SAFETY: the context is initialised once, then parsed from live buffers.
        let code = unsafe {
            sys::mbedtls_pk_init(&mut *key.0);
            sys::mbedtls_pk_parse_key(
                &mut *key.0,
                input.as_ptr(),
                input.len(),
                password,
                password_length,
                Some(counter_bytes),
                ptr::null_mut(),
            )
        };
        input.fill(0);
        if code != 0 {
            return Err(code);
        }
        // The engine's `check_key` reads the type and size of every parsed key.
        // SAFETY: a parsed key context.
        let (kind, bits) = unsafe {
            (
                sys::mbedtls_pk_get_type(&*key.0),
                sys::mbedtls_pk_get_bitlen(&*key.0),
            )
        };
        assert!(
            kind != sys::mbedtls_pk_type_t_MBEDTLS_PK_NONE,
            "a parsed key has a type"
        );
        assert!(bits > 0, "a parsed key has a size");
        Ok(key)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: an initialised context.
        unsafe { sys::mbedtls_pk_free(&mut *self.0) };
    }
}

fuzz_target!(|input: &[u8]| {
    static PSA: Once = Once::new();
    // SAFETY: once, before any other Mbed TLS call (as the engine's `initialise`).
    PSA.call_once(|| assert_eq!(unsafe { sys::psa_crypto_init() }, 0));

    let Some((&case, data)) = input.split_first() else {
        return;
    };
    match case % 4 {
        0 => {
            let _ = Chain::parse(data);
        }
        1 => {
            let _ = Key::parse(data, None);
        }
        2 => {
            let Some((&length, rest)) = data.split_first() else {
                return;
            };
            let length = usize::from(length % 65).min(rest.len());
            let (passphrase, key) = rest.split_at(length);
            let _ = Key::parse(key, Some(passphrase));
        }
        _ => {
            let Some((length, rest)) = data.split_first_chunk::<2>() else {
                return;
            };
            let length = usize::from(u16::from_be_bytes(*length)).min(rest.len());
            let (certificate, key) = rest.split_at(length);
            let (Ok(chain), Ok(key)) = (Chain::parse(certificate), Key::parse(key, None)) else {
                return;
            };
            // SAFETY: a parsed chain's first certificate and a parsed key.
            let _ = unsafe {
                sys::mbedtls_pk_check_pair(
                    &chain.0.pk,
                    &*key.0,
                    Some(counter_bytes),
                    ptr::null_mut(),
                )
            };
        }
    }
});
