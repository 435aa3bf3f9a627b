//! RSA's modular exponentiation behind Mbed TLS's `mbedtls_mpi_exp_mod` hook: the FFI module
//! around [`super::montgomery`].
//!
//! Every RSA operation of a handshake goes through `mbedtls_mpi_exp_mod`: the verification of
//! each RSA signature in the server's chain and of its key exchange (public exponent), and
//! the device's own RSA signature (its private key's two CRT halves, blinded). Mbed TLS's
//! code takes about 4 KB of heap temporaries for each RSA-2048 verification, while the
//! parsed chain and the 16 KiB record buffer are held: the handshake's heap peak. The hook
//! does the same arithmetic on the stack ([`super::montgomery`], constant time), reading the
//! operands' limbs in place, so the only heap it touches is the result's (which Mbed TLS's
//! caller usually has already: `X` is most often the base itself).
//!
//! Mbed TLS reaches the hook only for secret exponents: its RSA public operation calls
//! `mbedtls_mpi_exp_mod_unsafe`, which the crate's hook does not cover. The images link with
//! `--wrap=mbedtls_mpi_exp_mod_unsafe` (build.rs, and the harness's), which sends Mbed TLS's
//! calls of it to [`__wrap_mbedtls_mpi_exp_mod_unsafe`] here: the same code. A program linked
//! without that flag keeps Mbed TLS's own public operation (correct, with its heap use).
//!
//! Handed over: a positive odd modulus of 3 up to [`montgomery::MAX_BITS`] bits (4096 on the
//! simulators, 2048 on boards), a non-negative base of any size (the CRT halves raise a base
//! of the whole modulus' size) and a non-negative exponent. Anything else goes to Mbed TLS's own code, which reports the
//! error it always did. The cache of R^2 that Mbed TLS's callers offer (`prec_RR`) is neither
//! read nor filled: it would be one more heap block per key, and computing it costs about a
//! dozen multiplications.
//!
//! [`check_against_mbed_tls`] compares the two on random operands: a unit test runs it on the
//! simulator, a board scenario under QEMU.
#![allow(unsafe_code)]

use core::ffi::c_int;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use mbedtls_rs_sys as sys;
use sys::MbedtlsError;
use sys::hook::exp_mod::{MbedtlsMpiExpMod, hook_exp_mod};
use zeroize::Zeroize;

use super::montgomery::{self, Limb};
use super::mpi::Mpi;

// The hook reads Mbed TLS's limbs as this module's: they must be the same type.
const _: () =
    assert!(core::mem::size_of::<sys::mbedtls_mpi_uint>() == core::mem::size_of::<Limb>());

unsafe extern "C" {
    /// Mbed TLS's public-exponent exponentiation (its bignum_internal.h, not in the bindings),
    /// declared to call it the way rsa.c does: the linker's `--wrap` sends this call, like
    /// rsa.c's, to [`__wrap_mbedtls_mpi_exp_mod_unsafe`].
    fn mbedtls_mpi_exp_mod_unsafe(
        x: *mut sys::mbedtls_mpi,
        a: *const sys::mbedtls_mpi,
        e: *const sys::mbedtls_mpi,
        n: *const sys::mbedtls_mpi,
        prec_rr: *mut sys::mbedtls_mpi,
    ) -> c_int;
}

/// The hook's implementation: stateless.
struct OnTheStack;

static ON_THE_STACK: OnTheStack = OnTheStack;

/// Routes Mbed TLS's modular exponentiations to this module. Called once, by
/// [`super::initialise`], before any other use of Mbed TLS.
pub(super) fn install() {
    // SAFETY: the hook is a 'static stateless value; installing it only stores the reference
    // (inside a critical section), and no exponentiation runs yet.
    unsafe { hook_exp_mod(Some(&ON_THE_STACK)) }
}

/// Exponentiations done here (both entry points) since boot.
static HANDLED: AtomicU32 = AtomicU32::new(0);

/// How many exponentiations this module has done since boot (the rest went to Mbed TLS's
/// own code): lets a test see that both entry points are routed here.
pub fn exponentiations_on_the_stack() -> u32 {
    HANDLED.load(Ordering::Relaxed)
}

/// Mbed TLS's RSA public operation (`X = A^E mod N`, E public), routed here by the linker's
/// `--wrap=mbedtls_mpi_exp_mod_unsafe`. What is not handed over goes to Mbed TLS's
/// constant-time `mbedtls_mpi_exp_mod_soft`: the same result, as the unwrapped function
/// would give, without the need for the linker's `__real_` symbol.
///
/// # Safety
///
/// Mbed TLS's contract for `mbedtls_mpi_exp_mod_unsafe`: initialised MPIs; `x` may be the
/// same MPI as `a`; `prec_rr` NULL or an initialised MPI.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __wrap_mbedtls_mpi_exp_mod_unsafe(
    x: *mut sys::mbedtls_mpi,
    a: *const sys::mbedtls_mpi,
    e: *const sys::mbedtls_mpi,
    n: *const sys::mbedtls_mpi,
    prec_rr: *mut sys::mbedtls_mpi,
) -> c_int {
    // SAFETY: Mbed TLS's pointers, valid and initialised (the contract above). A result that
    // is also the base is read in full before it is written (see `exp_mod_on_the_stack`).
    let result = unsafe {
        match exp_mod_on_the_stack(&mut *x, &*a, &*e, &*n) {
            Some(result) => result,
            None => mbed_tls_result(sys::mbedtls_mpi_exp_mod_soft(x, a, e, n, prec_rr)),
        }
    };
    result.map_or_else(|error| error.code(), |()| 0)
}

impl MbedtlsMpiExpMod for OnTheStack {
    fn exp_mod(
        &self,
        z: &mut sys::mbedtls_mpi,
        x: &sys::mbedtls_mpi,
        y: &sys::mbedtls_mpi,
        m: &sys::mbedtls_mpi,
        prec_rr: Option<&mut sys::mbedtls_mpi>,
    ) -> Result<(), MbedtlsError> {
        match exp_mod_on_the_stack(z, x, y, m) {
            Some(result) => result,
            // SAFETY: the arguments are Mbed TLS's own, passed on unchanged to its own code.
            None => mbed_tls_result(unsafe {
                sys::mbedtls_mpi_exp_mod_soft(
                    z,
                    x,
                    y,
                    m,
                    prec_rr.map_or(core::ptr::null_mut(), |rr| rr as *mut _),
                )
            }),
        }
    }
}

/// `z = x^y mod m` by [`montgomery::exp_mod`], or `None` when it is not handed over (see the
/// module's docs).
fn exp_mod_on_the_stack(
    z: &mut sys::mbedtls_mpi,
    x: &sys::mbedtls_mpi,
    y: &sys::mbedtls_mpi,
    m: &sys::mbedtls_mpi,
) -> Option<Result<(), MbedtlsError>> {
    if x.private_s < 0 || y.private_s < 0 || m.private_s < 0 {
        return None;
    }
    let mut result = [0 as Limb; montgomery::MAX_LIMBS];
    // SAFETY: each is an initialised MPI of the caller's; its `p` holds `n` limbs (or is NULL
    // with n = 0). `z` may be the same MPI as `x` (or `y`), so the slices are dropped before
    // `z` is written.
    let computed = unsafe { montgomery::exp_mod(limbs(x), limbs(y), limbs(m), &mut result) };
    let written = match computed {
        Ok(n) => write_limbs(z, &result[..n]),
        Err(_) => return None,
    };
    HANDLED.fetch_add(1, Ordering::Relaxed);
    result.zeroize();
    Some(written)
}

/// The limbs of `mpi`, least significant first.
///
/// # Safety
///
/// `mpi` is an initialised MPI, not written while the slice lives.
unsafe fn limbs(mpi: &sys::mbedtls_mpi) -> &[Limb] {
    if mpi.private_p.is_null() {
        return &[];
    }
    // SAFETY: an initialised MPI's `p` points at `n` limbs it owns (the caller's promise).
    unsafe { core::slice::from_raw_parts(mpi.private_p, usize::from(mpi.private_n)) }
}

/// `z = value` (non-negative), as Mbed TLS's own code leaves a result.
fn write_limbs(z: &mut sys::mbedtls_mpi, value: &[Limb]) -> Result<(), MbedtlsError> {
    // SAFETY: `z` is an initialised MPI of the caller's. `lset` zeroes its limbs and makes it
    // non-negative, `grow` makes room for `value` (it may allocate, which can fail: reported);
    // afterwards `p` holds at least `value.len()` limbs, which are written in place.
    unsafe {
        mbed_tls_result(sys::mbedtls_mpi_lset(z, 0))?;
        mbed_tls_result(sys::mbedtls_mpi_grow(z, value.len()))?;
        core::slice::from_raw_parts_mut(z.private_p, value.len()).copy_from_slice(value);
    }
    Ok(())
}

fn mbed_tls_result(code: i32) -> Result<(), MbedtlsError> {
    if code == 0 {
        Ok(())
    } else {
        Err(MbedtlsError::new(code))
    }
}

/// Why [`check_against_mbed_tls`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpModCheckError {
    /// An Mbed TLS call failed (its error code), e.g. out of heap.
    MbedTls(i32),
    /// The two implementations disagreed.
    Disagree {
        /// The modulus' size in bits.
        bits: usize,
        /// The case, counting from 1.
        case: u32,
    },
    /// Mbed TLS's public operation (`mbedtls_mpi_exp_mod_unsafe`) did not reach this module:
    /// the image was linked without `--wrap=mbedtls_mpi_exp_mod_unsafe`.
    NotRouted,
    /// The stack code refused operands it is meant to take.
    Refused {
        /// The modulus' size in bits.
        bits: usize,
        /// The case, counting from 1.
        case: u32,
    },
}

impl fmt::Display for ExpModCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpModCheckError::MbedTls(code) => write!(f, "Mbed TLS error -0x{:04x}", -code),
            ExpModCheckError::Disagree { bits, case } => write!(
                f,
                "{bits}-bit modulus, case {case}: the stack exponentiation disagrees with Mbed \
                 TLS's"
            ),
            ExpModCheckError::NotRouted => write!(
                f,
                "Mbed TLS's RSA public operation does not reach the stack exponentiation (link \
                 with --wrap=mbedtls_mpi_exp_mod_unsafe)"
            ),
            ExpModCheckError::Refused { bits, case } => write!(
                f,
                "{bits}-bit modulus, case {case}: the stack exponentiation refused valid operands"
            ),
        }
    }
}

/// The modulus sizes checked, those up to [`montgomery::MAX_BITS`] (larger ones are Mbed
/// TLS's): RSA-2048's CRT halves and modulus, RSA-3072's and RSA-4096's moduli, and two that
/// are not a whole number of limbs.
const CHECKED_BITS: &[usize] = &[1024, 2048, 3072, 4096, 1000, 97];

/// For each size above, raises `cases` random bases to random exponents both ways (the hook's
/// code and Mbed TLS's own) and fails on the first difference. The cases cycle through
/// RSA's shapes: public exponent 65537 with a base below the modulus, a long exponent with a
/// base twice the modulus' length (a CRT half), and a short random exponent with a base above
/// the modulus. The first case goes in through `mbedtls_mpi_exp_mod_unsafe`, as Mbed TLS's
/// RSA public operation does, and fails with [`ExpModCheckError::NotRouted`] if the linker's
/// wrap is missing. `random` fills a buffer with random bytes (the board's entropy, or a seeded
/// generator in a test). Needs about 3 KB of Mbed TLS's heap.
pub fn check_against_mbed_tls(
    cases: u32,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<(), ExpModCheckError> {
    let mut bytes = [0u8; 2 * montgomery::MAX_BITS / 8];
    for &bits in CHECKED_BITS
        .iter()
        .filter(|&&bits| bits <= montgomery::MAX_BITS)
    {
        let length = bits.div_ceil(8);
        for case in 1..=cases {
            // An odd modulus of exactly `bits` bits.
            random(&mut bytes[..length]);
            let top_bits = bits - 8 * (length - 1);
            bytes[0] &= (1u16 << top_bits).wrapping_sub(1) as u8;
            bytes[0] |= 1 << (top_bits - 1);
            bytes[length - 1] |= 1;
            let modulus = Mpi::from_be(&bytes[..length]).map_err(ExpModCheckError::MbedTls)?;
            // A CRT half's exponent is about its modulus' size (RSA-4096's halves are 2048
            // bits: longer ones are not met).
            let (base_length, exponent_length) = match case % 3 {
                0 => (length, 0),
                1 => (2 * length, (length + 4).min(260)),
                _ => (length + 3, 3),
            };
            random(&mut bytes[..base_length]);
            let base = Mpi::from_be(&bytes[..base_length]).map_err(ExpModCheckError::MbedTls)?;
            let exponent = if exponent_length == 0 {
                Mpi::from_be(&[0x01, 0x00, 0x01]).map_err(ExpModCheckError::MbedTls)?
            } else {
                random(&mut bytes[..exponent_length]);
                Mpi::from_be(&bytes[..exponent_length]).map_err(ExpModCheckError::MbedTls)?
            };
            let expected = raise(sys::mbedtls_mpi_exp_mod_soft, &base, &exponent, &modulus)?;
            let got = if case == 1 {
                // The way rsa.c asks for its public operation (through the linker's wrap).
                let before = exponentiations_on_the_stack();
                let got = raise(mbedtls_mpi_exp_mod_unsafe, &base, &exponent, &modulus)?;
                if exponentiations_on_the_stack() == before {
                    return Err(ExpModCheckError::NotRouted);
                }
                got
            } else {
                let mut got = Mpi::new();
                match exp_mod_on_the_stack(&mut got.0, &base.0, &exponent.0, &modulus.0) {
                    None => return Err(ExpModCheckError::Refused { bits, case }),
                    Some(result) => {
                        result.map_err(|error| ExpModCheckError::MbedTls(error.code()))?
                    }
                }
                got
            };
            // SAFETY: both are initialised MPIs owned here; comparing only reads them.
            if unsafe { sys::mbedtls_mpi_cmp_mpi(&got.0, &expected.0) } != 0 {
                return Err(ExpModCheckError::Disagree { bits, case });
            }
        }
    }
    Ok(())
}

/// Mbed TLS's signature of a modular exponentiation (`X, A, E, N, prec_RR`).
type ExpModFunction = unsafe extern "C" fn(
    *mut sys::mbedtls_mpi,
    *const sys::mbedtls_mpi,
    *const sys::mbedtls_mpi,
    *const sys::mbedtls_mpi,
    *mut sys::mbedtls_mpi,
) -> c_int;

/// `base^exponent mod modulus` by `function`, without an R^2 cache.
fn raise(
    function: ExpModFunction,
    base: &Mpi,
    exponent: &Mpi,
    modulus: &Mpi,
) -> Result<Mpi, ExpModCheckError> {
    let mut result = Mpi::new();
    // SAFETY: `function` is one of Mbed TLS's exponentiations; all four are initialised MPIs
    // owned by the caller or here, the result a distinct one.
    let code = unsafe {
        function(
            &mut result.0,
            &base.0,
            &exponent.0,
            &modulus.0,
            core::ptr::null_mut(),
        )
    };
    mbed_tls_result(code).map_err(|error| ExpModCheckError::MbedTls(error.code()))?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded generator (xorshift) so that a failure reproduces.
    fn seeded(seed: u64) -> impl FnMut(&mut [u8]) {
        let mut state = seed;
        move |buffer: &mut [u8]| {
            for byte in buffer {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = (state >> 24) as u8;
            }
        }
    }

    #[test]
    fn agrees_with_mbed_tls_on_random_operands() {
        check_against_mbed_tls(12, &mut seeded(0x2545_f491_4f6c_dd1d)).expect("agree");
    }

    #[test]
    fn refused_operands_are_left_to_mbed_tls() {
        let modulus_even = Mpi::from_be(&[0x10, 0x00]).expect("mpi");
        let modulus_odd = Mpi::from_be(&[0x10, 0x01]).expect("mpi");
        let base = Mpi::from_be(&[0x07]).expect("mpi");
        let exponent = Mpi::from_be(&[0x03]).expect("mpi");
        let mut out = Mpi::new();
        assert!(exp_mod_on_the_stack(&mut out.0, &base.0, &exponent.0, &modulus_even.0).is_none());
        let mut negative = Mpi::from_be(&[0x07]).expect("mpi");
        negative.0.private_s = -1;
        assert!(
            exp_mod_on_the_stack(&mut out.0, &negative.0, &exponent.0, &modulus_odd.0).is_none()
        );
        // Through the hook, an even modulus gets Mbed TLS's own error.
        let refused = ON_THE_STACK.exp_mod(&mut out.0, &base.0, &exponent.0, &modulus_even.0, None);
        assert_eq!(
            refused.map_err(|error| error.code()),
            Err(sys::MBEDTLS_ERR_MPI_BAD_INPUT_DATA)
        );
    }

    #[test]
    fn the_result_may_overwrite_the_base_through_mbed_tls_s_entry_point() {
        install();
        // A 65-bit modulus (two limbs on every target), 3^5 = 243 below it.
        let modulus = Mpi::from_be(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0x0d]).expect("mpi");
        let exponent = Mpi::from_be(&[0x05]).expect("mpi");
        let mut value = Mpi::from_be(&[0x03]).expect("mpi");
        let value_pointer: *mut sys::mbedtls_mpi = &mut value.0;
        // SAFETY: Mbed TLS's own callers pass the same MPI as result and base
        // (`exp_mod(&T, &T, ...)`); all are initialised MPIs owned here.
        let code = unsafe {
            sys::mbedtls_mpi_exp_mod(
                value_pointer,
                value_pointer,
                &exponent.0,
                &modulus.0,
                core::ptr::null_mut(),
            )
        };
        assert_eq!(code, 0);
        let expected = Mpi::from_be(&[243]).expect("mpi");
        // SAFETY: initialised MPIs, only read.
        let comparison = unsafe { sys::mbedtls_mpi_cmp_mpi(&value.0, &expected.0) };
        assert_eq!(comparison, 0);
    }

    #[test]
    fn mbed_tls_s_public_operation_is_routed_here_by_the_linker() {
        let modulus = Mpi::from_be(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0x0d]).expect("mpi");
        let exponent = Mpi::from_be(&[0x01, 0x00, 0x01]).expect("mpi");
        let base = Mpi::from_be(&[0x02]).expect("mpi");
        let expected = raise(sys::mbedtls_mpi_exp_mod_soft, &base, &exponent, &modulus);
        let before = exponentiations_on_the_stack();
        let got = raise(mbedtls_mpi_exp_mod_unsafe, &base, &exponent, &modulus);
        assert!(
            exponentiations_on_the_stack() > before,
            "mbedtls_mpi_exp_mod_unsafe did not reach the wrapper: is the image linked with \
             --wrap=mbedtls_mpi_exp_mod_unsafe?"
        );
        let (got, expected) = (got.expect("computed"), expected.expect("computed"));
        // SAFETY: initialised MPIs, only read.
        assert_eq!(unsafe { sys::mbedtls_mpi_cmp_mpi(&got.0, &expected.0) }, 0);
    }
}
