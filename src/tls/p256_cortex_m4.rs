//! P-256 point multiplication in Cortex-M4 assembly, behind Mbed TLS's ECP hook: the FFI
//! module of the TLS layer's one CPU-specific part.
//!
//! Mbed TLS 3.6 funnels every elliptic-curve scalar multiplication (ECDHE key generation and
//! shared secret, ECDSA signing, and both halves of each ECDSA verification) through one
//! internal function, which `mbedtls-rs-sys` lets a program replace
//! ([`sys::hook::ecp::hook_ecp_mul`]). On a Cortex-M4 or M33 the crate `p256-cm4` (the
//! P256-Cortex-M4 implementation in Rust and inline assembly, constant time, UMAAL
//! multiplies) does a P-256 multiplication in a fraction of the instructions Mbed TLS's
//! portable C needs (built `-Os` without `MBEDTLS_HAVE_ASM`, which the crate cannot change).
//!
//! What is handed over, and what is not:
//!
//! * only curve P-256 (`MBEDTLS_ECP_DP_SECP256R1`); P-384 stays with Mbed TLS;
//! * only a point in affine form (Z = 1, as every public key and the generator are), a
//!   non-negative scalar of at most 256 bits, and no restart context;
//! * `p256-cm4` checks the scalar is in 1..n-1 and the point is on the curve. Whatever it
//!   refuses goes back to Mbed TLS's own code, which then reports the error it always did
//!   (an invalid key or point): the hook never accepts what Mbed TLS would refuse.
//!
//! The result is written affine (Z = 1), as Mbed TLS's own multiplication leaves it, so its
//! callers (`mbedtls_ecp_muladd` adds two results) work unchanged. Scalars are wiped from the
//! stack after use.
//!
//! [`check_against_mbed_tls`] multiplies random scalars both ways and compares: the board's
//! scenarios run it in CI, and a product can run it as a power-on self-test.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::fmt;

use mbedtls_rs_sys as sys;
use sys::MbedtlsError;
use sys::hook::ecp::{MbedtlsEcpMul, MbedtlsEcpRestartCtx, MbedtlsFRng, ecp_mul_soft};

use super::engine::random_bytes;

/// The hook's implementation: stateless.
struct CortexM4P256;

static CORTEX_M4_P256: CortexM4P256 = CortexM4P256;

/// Routes Mbed TLS's P-256 multiplications to `p256-cm4`. Called once, by
/// [`super::initialise`], before any other use of Mbed TLS.
pub(super) fn install() {
    // SAFETY: the hook is a 'static stateless value; installing it only stores the reference
    // (inside a critical section), and no multiplication runs yet.
    unsafe { sys::hook::ecp::hook_ecp_mul(Some(&CORTEX_M4_P256)) }
}

/// A P-256 coordinate or scalar: 8 little-endian 32-bit words, as `p256-cm4` wants them.
type Words = [u32; 8];

impl MbedtlsEcpMul for CortexM4P256 {
    unsafe fn mul(
        &self,
        grp: &mut sys::mbedtls_ecp_group,
        r: &mut sys::mbedtls_ecp_point,
        m: &sys::mbedtls_mpi,
        p: &sys::mbedtls_ecp_point,
        f_rng: MbedtlsFRng,
        p_rng: *mut c_void,
        rs_ctx: *mut MbedtlsEcpRestartCtx,
    ) -> Result<(), MbedtlsError> {
        if grp.id == sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_SECP256R1 && rs_ctx.is_null() {
            if let Some((x, y)) = multiply_p256(grp, m, p) {
                return write_affine(r, &x, &y);
            }
        }
        // SAFETY: the arguments are Mbed TLS's own, passed on unchanged to its own code.
        unsafe { ecp_mul_soft(grp, r, m, p, f_rng, p_rng, rs_ctx) }
    }
}

/// `m * p` on P-256 by `p256-cm4`, as affine coordinates; `None` for anything it does not
/// take (see the module's docs).
fn multiply_p256(
    grp: &sys::mbedtls_ecp_group,
    m: &sys::mbedtls_mpi,
    p: &sys::mbedtls_ecp_point,
) -> Option<(Words, Words)> {
    // SAFETY: `p.Z` is an initialised MPI owned by the caller; comparing only reads it.
    if unsafe { sys::mbedtls_mpi_cmp_int(&p.private_Z, 1) } != 0 || m.private_s < 0 {
        return None;
    }
    let mut scalar = Wiped(read_words(m)?);
    let (px, py) = (read_words(&p.private_X)?, read_words(&p.private_Y)?);
    let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
    let is_generator = (px, py) == (read_words(&grp.G.private_X)?, read_words(&grp.G.private_Y)?);
    let done = if is_generator {
        p256_cm4::scalarmult_base(&mut x, &mut y, &scalar.0)
    } else {
        p256_cm4::scalarmult_generic(&mut x, &mut y, &scalar.0, &px, &py)
    };
    scalar.wipe();
    done.then_some((x, y))
}

/// An MPI of at most 256 bits as words; `None` if it is larger.
fn read_words(mpi: &sys::mbedtls_mpi) -> Option<Words> {
    let mut bytes = Wiped([0u8; 32]);
    // SAFETY: `mpi` is an initialised MPI; Mbed TLS writes at most the 32 bytes given.
    let code =
        unsafe { sys::mbedtls_mpi_write_binary_le(mpi, bytes.0.as_mut_ptr(), bytes.0.len()) };
    if code != 0 {
        return None;
    }
    let mut words = [0u32; 8];
    for (word, chunk) in words.iter_mut().zip(bytes.0.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    bytes.wipe();
    Some(words)
}

/// Stores `(x, y)` in `r` as an affine point (Z = 1).
fn write_affine(r: &mut sys::mbedtls_ecp_point, x: &Words, y: &Words) -> Result<(), MbedtlsError> {
    let as_bytes = |words: &Words| {
        let mut bytes = [0u8; 32];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    };
    let (x, y) = (as_bytes(x), as_bytes(y));
    // SAFETY: `r`'s coordinates are initialised MPIs owned by the caller; Mbed TLS copies the
    // 32 bytes it is given (and may allocate on its heap, which can fail: reported).
    let code = unsafe {
        match sys::mbedtls_mpi_read_binary_le(&mut r.private_X, x.as_ptr(), x.len()) {
            0 => match sys::mbedtls_mpi_read_binary_le(&mut r.private_Y, y.as_ptr(), y.len()) {
                0 => sys::mbedtls_mpi_lset(&mut r.private_Z, 1),
                code => code,
            },
            code => code,
        }
    };
    if code == 0 {
        Ok(())
    } else {
        Err(MbedtlsError::new(code))
    }
}

/// Secret bytes or words that are zeroed when done with, and at the latest when dropped.
struct Wiped<T: Copy + Default>(T);

impl<T: Copy + Default> Wiped<T> {
    fn wipe(&mut self) {
        // SAFETY: `self.0` is a valid, aligned, exclusively borrowed value; a volatile write
        // keeps the compiler from dropping the store of a value never read again.
        unsafe { core::ptr::write_volatile(&mut self.0, T::default()) };
    }
}

impl<T: Copy + Default> Drop for Wiped<T> {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Why [`check_against_mbed_tls`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P256CheckError {
    /// The board's entropy source gave no random scalar.
    Entropy,
    /// An Mbed TLS call failed (its error code), e.g. out of heap.
    MbedTls(i32),
    /// The two implementations disagreed on case `case` (which multiplication: the
    /// generator's or another point's).
    Disagree {
        /// The case, counting from 1.
        case: u32,
        /// `true` for a multiple of the generator, `false` for a multiple of another point.
        generator: bool,
    },
    /// `p256-cm4` refused a valid scalar and point (it handed them back to Mbed TLS).
    Refused {
        /// The case, counting from 1.
        case: u32,
    },
}

impl fmt::Display for P256CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            P256CheckError::Entropy => f.write_str("no entropy for the random scalars"),
            P256CheckError::MbedTls(code) => write!(f, "Mbed TLS error -0x{:04x}", -code),
            P256CheckError::Disagree { case, generator } => write!(
                f,
                "case {case}: the Cortex-M4 multiplication of {} disagrees with Mbed TLS's",
                if *generator {
                    "the generator"
                } else {
                    "a point"
                }
            ),
            P256CheckError::Refused { case } => {
                write!(
                    f,
                    "case {case}: the Cortex-M4 multiplication refused a valid input"
                )
            }
        }
    }
}

/// Multiplies `cases` random scalars by the generator, and by a random point, with the hook's
/// code and with Mbed TLS's own, and fails on the first difference. Needs the TLS layer
/// initialised ([`super::initialise`]) and about 1 KB of heap.
pub fn check_against_mbed_tls(cases: u32) -> Result<(), P256CheckError> {
    let mut group = Group::p256()?;
    for case in 1..=cases {
        let scalar = random_scalar(&group)?;
        for generator in [true, false] {
            let point = if generator {
                Point::copy_of(&group.inner.G)?
            } else {
                // Another point: a random multiple of the generator, by Mbed TLS.
                let factor = random_scalar(&group)?;
                group.soft_mul(&factor, &Point::copy_of(&group.inner.G)?)?
            };
            let expected = group.soft_mul(&scalar, &point)?;
            let Some((x, y)) = multiply_p256(&group.inner, &scalar.0, &point.0) else {
                return Err(P256CheckError::Refused { case });
            };
            let mut got = Point::new();
            write_affine(&mut got.0, &x, &y)
                .map_err(|error| P256CheckError::MbedTls(error.code()))?;
            // SAFETY: both points are initialised, owned here; comparing only reads them.
            if unsafe { sys::mbedtls_ecp_point_cmp(&got.0, &expected.0) } != 0 {
                return Err(P256CheckError::Disagree { case, generator });
            }
        }
    }
    Ok(())
}

/// An Mbed TLS group, freed when dropped.
struct Group {
    inner: sys::mbedtls_ecp_group,
}

impl Group {
    fn p256() -> Result<Group, P256CheckError> {
        let mut group = Group {
            inner: sys::mbedtls_ecp_group::default(),
        };
        // SAFETY: the group is initialised before it is loaded; Drop frees it.
        let code = unsafe {
            sys::mbedtls_ecp_group_init(&mut group.inner);
            sys::mbedtls_ecp_group_load(
                &mut group.inner,
                sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_SECP256R1,
            )
        };
        mbed_tls(code)?;
        Ok(group)
    }

    /// `m * p` by Mbed TLS's own code (the hook bypassed).
    fn soft_mul(&mut self, m: &Mpi, p: &Point) -> Result<Point, P256CheckError> {
        let mut r = Point::new();
        // SAFETY: all operands are initialised and owned here; the RNG callback is the
        // board's, which needs no state.
        unsafe {
            ecp_mul_soft(
                &mut self.inner,
                &mut r.0,
                &m.0,
                &p.0,
                Some(random_bytes),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        }
        .map_err(|error| P256CheckError::MbedTls(error.code()))?;
        Ok(r)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: initialised in `p256`, freed once.
        unsafe { sys::mbedtls_ecp_group_free(&mut self.inner) }
    }
}

/// An Mbed TLS MPI, freed when dropped.
struct Mpi(sys::mbedtls_mpi);

impl Drop for Mpi {
    fn drop(&mut self) {
        // SAFETY: initialised when made, freed once (Mbed TLS zeroes its limbs).
        unsafe { sys::mbedtls_mpi_free(&mut self.0) }
    }
}

/// An Mbed TLS point, freed when dropped.
struct Point(sys::mbedtls_ecp_point);

impl Point {
    fn new() -> Point {
        let mut point = Point(sys::mbedtls_ecp_point::default());
        // SAFETY: initialising a fresh point; Drop frees it.
        unsafe { sys::mbedtls_ecp_point_init(&mut point.0) };
        point
    }

    fn copy_of(source: &sys::mbedtls_ecp_point) -> Result<Point, P256CheckError> {
        let mut point = Point::new();
        // SAFETY: both points are initialised; the copy allocates on Mbed TLS's heap.
        mbed_tls(unsafe { sys::mbedtls_ecp_copy(&mut point.0, source) })?;
        Ok(point)
    }
}

impl Drop for Point {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, freed once.
        unsafe { sys::mbedtls_ecp_point_free(&mut self.0) }
    }
}

/// A random scalar in 1..n-1 from the board's entropy.
fn random_scalar(group: &Group) -> Result<Mpi, P256CheckError> {
    let mut scalar = Mpi(sys::mbedtls_mpi::default());
    // SAFETY: the MPI is initialised before use; Drop frees it. `gen_privkey` draws from the
    // board's entropy through `random_bytes` until the value is in range.
    let code = unsafe {
        sys::mbedtls_mpi_init(&mut scalar.0);
        sys::mbedtls_ecp_gen_privkey(
            &group.inner,
            &mut scalar.0,
            Some(random_bytes),
            core::ptr::null_mut(),
        )
    };
    if code == sys::MBEDTLS_ERR_ENTROPY_SOURCE_FAILED {
        return Err(P256CheckError::Entropy);
    }
    mbed_tls(code)?;
    Ok(scalar)
}

fn mbed_tls(code: i32) -> Result<(), P256CheckError> {
    if code == 0 {
        Ok(())
    } else {
        Err(P256CheckError::MbedTls(code))
    }
}
