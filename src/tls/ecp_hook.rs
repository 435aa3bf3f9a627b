//! Elliptic-curve scalar multiplication behind Mbed TLS's ECP hook: the FFI module of the TLS
//! layer's one CPU-specific part.
//!
//! Mbed TLS 3.6 funnels every elliptic-curve scalar multiplication (ECDHE key generation and
//! shared secret, ECDSA signing, and both halves of each ECDSA verification) through one
//! internal function, which `mbedtls-rs-sys` lets a program replace
//! ([`sys::hook::ecp::hook_ecp_mul`]). The crate always builds Mbed TLS `-Os` without
//! `MBEDTLS_HAVE_ASM`, and its bignum code allocates temporaries on the heap at every step
//! (on the POSIX simulator each allocation costs two signal-mask system calls). So the
//! multiplications of the curves that matter go to constant-time code written for the CPU:
//!
//! | target | P-256 | Curve25519 (X25519) |
//! |---|---|---|
//! | Cortex-M4/M33 boards | `p256-cm4` (P256-Cortex-M4 in Rust and assembly, UMAAL) | not in the board's Mbed TLS |
//! | the simulators (x86-64 hosts) | RustCrypto's `p256` | `curve25519-dalek` |
//!
//! Other curves (P-384) stay with Mbed TLS. What is handed over, and what is not:
//!
//! * P-256: a point in affine form (Z = 1, as every public key and the generator are) and a
//!   scalar in 1..n-1; the backend also checks that the point is on the curve;
//! * X25519: a u-coordinate below p (Z = 1) and a scalar already clamped as RFC 7748 and Mbed
//!   TLS's own key checks want it; a result of zero (a low-order peer point) is not accepted;
//! * never a restart context.
//!
//! Whatever is not handed over, or a backend refuses, goes to Mbed TLS's own code, which then
//! reports the error it always did: the hook never accepts what Mbed TLS would refuse. The
//! result is written as Mbed TLS's own code leaves it (affine, Z = 1; for X25519 no Y), so
//! its callers (`mbedtls_ecp_muladd` adds two results) work unchanged. Scalars are wiped
//! after use.
//!
//! [`check_against_mbed_tls`] multiplies random scalars both ways and compares: a unit test
//! runs it on the simulator, the board's scenarios under QEMU, and a product can run it as a
//! power-on self-test.
#![allow(unsafe_code)]

use core::ffi::c_void;
use core::fmt;

use mbedtls_rs_sys as sys;
use sys::MbedtlsError;
use sys::hook::ecp::{MbedtlsEcpMul, MbedtlsEcpRestartCtx, MbedtlsFRng, ecp_mul_soft};

use super::mpi::Mpi;

/// 32 bytes of a coordinate or a scalar: big-endian for P-256, little-endian for X25519 (each
/// curve's own convention).
type Bytes32 = [u8; 32];

/// The hook's implementation: stateless.
struct Accelerated;

static ACCELERATED: Accelerated = Accelerated;

/// Routes Mbed TLS's multiplications on the curves above to this module. Called once, by
/// [`super::initialise`], before any other use of Mbed TLS.
pub(super) fn install() {
    // SAFETY: the hook is a 'static stateless value; installing it only stores the reference
    // (inside a critical section), and no multiplication runs yet.
    unsafe { sys::hook::ecp::hook_ecp_mul(Some(&ACCELERATED)) }
}

impl MbedtlsEcpMul for Accelerated {
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
        if rs_ctx.is_null() {
            if let Some(result) = accelerated_mul(grp, r, m, p) {
                return result;
            }
        }
        // SAFETY: the arguments are Mbed TLS's own, passed on unchanged to its own code.
        unsafe { ecp_mul_soft(grp, r, m, p, f_rng, p_rng, rs_ctx) }
    }
}

/// `r = m * p` by the backend, or `None` when it is not handed over (see the module's docs).
fn accelerated_mul(
    grp: &sys::mbedtls_ecp_group,
    r: &mut sys::mbedtls_ecp_point,
    m: &sys::mbedtls_mpi,
    p: &sys::mbedtls_ecp_point,
) -> Option<Result<(), MbedtlsError>> {
    // SAFETY: `p.Z` is an initialised MPI owned by the caller; comparing only reads it.
    if unsafe { sys::mbedtls_mpi_cmp_int(&p.private_Z, 1) } != 0 || m.private_s < 0 {
        return None;
    }
    match grp.id {
        sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_SECP256R1 => {
            let scalar = Wiped(read_be(m)?);
            let x = read_be(&p.private_X)?;
            let y = read_be(&p.private_Y)?;
            let is_generator = (x, y) == (read_be(&grp.G.private_X)?, read_be(&grp.G.private_Y)?);
            let point = (!is_generator).then_some((&x, &y));
            let (x, y) = backend::p256_mul(&scalar.0, point)?;
            Some(write_p256(r, &x, &y))
        }
        #[cfg(not(target_os = "none"))]
        sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_CURVE25519 => {
            if !is_clamped_x25519_scalar(m) {
                return None;
            }
            // SAFETY: both are initialised MPIs; comparing only reads them.
            if unsafe { sys::mbedtls_mpi_cmp_mpi(&p.private_X, &grp.P) } >= 0 {
                return None;
            }
            let scalar = Wiped(read_le(m)?);
            let u = read_le(&p.private_X)?;
            let result = backend::x25519(&scalar.0, &u)?;
            Some(write_x25519(r, &result))
        }
        _ => None,
    }
}

/// RFC 7748's clamping, which Mbed TLS's own key checks demand: bits 0-2 clear, bit 254 the
/// highest set.
#[cfg(not(target_os = "none"))]
fn is_clamped_x25519_scalar(m: &sys::mbedtls_mpi) -> bool {
    // SAFETY: `m` is an initialised MPI; these calls only read it.
    unsafe {
        sys::mbedtls_mpi_bitlen(m) == 255 && (0..3).all(|bit| sys::mbedtls_mpi_get_bit(m, bit) == 0)
    }
}

/// An MPI of at most 256 bits, big-endian; `None` if it is larger.
fn read_be(mpi: &sys::mbedtls_mpi) -> Option<Bytes32> {
    let mut bytes = [0u8; 32];
    // SAFETY: `mpi` is an initialised MPI; Mbed TLS writes at most the 32 bytes given.
    let code = unsafe { sys::mbedtls_mpi_write_binary(mpi, bytes.as_mut_ptr(), bytes.len()) };
    (code == 0).then_some(bytes)
}

/// An MPI of at most 256 bits, little-endian; `None` if it is larger.
#[cfg(not(target_os = "none"))]
fn read_le(mpi: &sys::mbedtls_mpi) -> Option<Bytes32> {
    let mut bytes = [0u8; 32];
    // SAFETY: `mpi` is an initialised MPI; Mbed TLS writes at most the 32 bytes given.
    let code = unsafe { sys::mbedtls_mpi_write_binary_le(mpi, bytes.as_mut_ptr(), bytes.len()) };
    (code == 0).then_some(bytes)
}

/// Stores a P-256 result in `r` as an affine point (Z = 1).
fn write_p256(
    r: &mut sys::mbedtls_ecp_point,
    x: &Bytes32,
    y: &Bytes32,
) -> Result<(), MbedtlsError> {
    // SAFETY: `r`'s coordinates are initialised MPIs owned by the caller; Mbed TLS copies the
    // 32 bytes it is given (and may allocate on its heap, which can fail: reported).
    let code = unsafe {
        match sys::mbedtls_mpi_read_binary(&mut r.private_X, x.as_ptr(), x.len()) {
            0 => match sys::mbedtls_mpi_read_binary(&mut r.private_Y, y.as_ptr(), y.len()) {
                0 => sys::mbedtls_mpi_lset(&mut r.private_Z, 1),
                code => code,
            },
            code => code,
        }
    };
    mbed_tls_result(code)
}

/// Stores an X25519 result in `r` as Mbed TLS's Montgomery ladder leaves one: X, Z = 1, no Y.
#[cfg(not(target_os = "none"))]
fn write_x25519(r: &mut sys::mbedtls_ecp_point, u: &Bytes32) -> Result<(), MbedtlsError> {
    // SAFETY: as in `write_p256`; freeing Y leaves it an empty, valid MPI.
    let code = unsafe {
        match sys::mbedtls_mpi_read_binary_le(&mut r.private_X, u.as_ptr(), u.len()) {
            0 => {
                sys::mbedtls_mpi_free(&mut r.private_Y);
                sys::mbedtls_mpi_lset(&mut r.private_Z, 1)
            }
            code => code,
        }
    };
    mbed_tls_result(code)
}

fn mbed_tls_result(code: i32) -> Result<(), MbedtlsError> {
    if code == 0 {
        Ok(())
    } else {
        Err(MbedtlsError::new(code))
    }
}

/// Secret bytes that are zeroed when dropped.
struct Wiped(Bytes32);

impl Drop for Wiped {
    fn drop(&mut self) {
        // SAFETY: `self.0` is a valid, aligned, exclusively borrowed value; a volatile write
        // keeps the compiler from dropping the store of a value never read again.
        unsafe { core::ptr::write_volatile(&mut self.0, [0; 32]) };
    }
}

/// Cortex-M4/M33: `p256-cm4`, which works on little-endian 32-bit words.
#[cfg(all(target_arch = "arm", target_os = "none"))]
mod backend {
    use super::Bytes32;

    type Words = [u32; 8];

    fn words(bytes: &Bytes32) -> Words {
        let mut words = [0u32; 8];
        for (index, word) in words.iter_mut().enumerate() {
            let at = 28 - 4 * index;
            *word = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        }
        words
    }

    fn bytes(words: &Words) -> Bytes32 {
        let mut bytes = [0u8; 32];
        for (index, word) in words.iter().enumerate() {
            let at = 28 - 4 * index;
            bytes[at..at + 4].copy_from_slice(&word.to_be_bytes());
        }
        bytes
    }

    /// `scalar * point` (the generator for `None`), affine; `None` if `p256-cm4` refuses the
    /// scalar (not in 1..n-1) or the point (not on the curve).
    pub(super) fn p256_mul(
        scalar: &Bytes32,
        point: Option<(&Bytes32, &Bytes32)>,
    ) -> Option<(Bytes32, Bytes32)> {
        let mut k = words(scalar);
        let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
        let done = match point {
            None => p256_cm4::scalarmult_base(&mut x, &mut y, &k),
            Some((px, py)) => {
                p256_cm4::scalarmult_generic(&mut x, &mut y, &k, &words(px), &words(py))
            }
        };
        // SAFETY: `k` is a valid, aligned local; a volatile store the optimiser keeps wipes
        // the scalar's copy.
        unsafe { core::ptr::write_volatile(&mut k, [0; 8]) };
        done.then(|| (bytes(&x), bytes(&y)))
    }
}

/// x86-64 hosts (the simulators): RustCrypto's `p256` and `curve25519-dalek`.
#[cfg(not(target_os = "none"))]
mod backend {
    use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
    use p256::{AffinePoint, EncodedPoint, ProjectivePoint, Scalar};

    use super::Bytes32;

    /// `scalar * point` (the generator for `None`), affine; `None` if the scalar is not in
    /// 1..n-1 or the point is not on the curve.
    pub(super) fn p256_mul(
        scalar: &Bytes32,
        point: Option<(&Bytes32, &Bytes32)>,
    ) -> Option<(Bytes32, Bytes32)> {
        use p256::elliptic_curve::{Field, PrimeField};
        let k = Option::<Scalar>::from(Scalar::from_repr((*scalar).into()))?;
        if bool::from(k.is_zero()) {
            return None;
        }
        let base = match point {
            None => ProjectivePoint::GENERATOR,
            Some((x, y)) => {
                let encoded = EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
                ProjectivePoint::from(Option::<AffinePoint>::from(
                    AffinePoint::from_encoded_point(&encoded),
                )?)
            }
        };
        let result = (base * k).to_affine().to_encoded_point(false);
        Some(((*result.x()?).into(), (*result.y()?).into()))
    }

    /// X25519 of a clamped scalar and a u-coordinate (little-endian); `None` for an all-zero
    /// result (a low-order point).
    pub(super) fn x25519(scalar: &Bytes32, u: &Bytes32) -> Option<Bytes32> {
        let result = curve25519_dalek::montgomery::MontgomeryPoint(*u).mul_clamped(*scalar);
        (result.0 != [0; 32]).then_some(result.0)
    }
}

/// Why [`check_against_mbed_tls`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcpCheckError {
    /// An Mbed TLS call failed (its error code), e.g. out of heap.
    MbedTls(i32),
    /// The two implementations disagreed.
    Disagree {
        /// The curve's name.
        curve: &'static str,
        /// The case, counting from 1.
        case: u32,
        /// `true` for a multiple of the generator, `false` for a multiple of another point.
        generator: bool,
    },
    /// The accelerated code refused a valid scalar and point (it handed them back to Mbed
    /// TLS).
    Refused {
        /// The curve's name.
        curve: &'static str,
        /// The case, counting from 1.
        case: u32,
    },
}

impl fmt::Display for EcpCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EcpCheckError::MbedTls(code) => write!(f, "Mbed TLS error -0x{:04x}", -code),
            EcpCheckError::Disagree {
                curve,
                case,
                generator,
            } => write!(
                f,
                "{curve}, case {case}: the accelerated multiplication of {} disagrees with Mbed \
                 TLS's",
                if *generator {
                    "the generator"
                } else {
                    "a point"
                }
            ),
            EcpCheckError::Refused { curve, case } => write!(
                f,
                "{curve}, case {case}: the accelerated multiplication refused a valid input"
            ),
        }
    }
}

/// The curves this target accelerates: Mbed TLS's id, a name, and whether scalars are
/// little-endian and clamped (X25519) rather than reduced mod n (P-256).
const ACCELERATED_CURVES: &[(sys::mbedtls_ecp_group_id, &str, bool)] = &[
    (
        sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_SECP256R1,
        "P-256",
        false,
    ),
    #[cfg(not(target_os = "none"))]
    (
        sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_CURVE25519,
        "X25519",
        true,
    ),
];

/// For each accelerated curve, multiplies `cases` random scalars by the generator and by a
/// random point with the hook's code and with Mbed TLS's own, and fails on the first
/// difference. `random` fills a buffer with random bytes (the board's entropy, or a seeded
/// generator in a test). Needs about 2 KB of Mbed TLS's heap.
pub fn check_against_mbed_tls(
    cases: u32,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<(), EcpCheckError> {
    for &(id, curve, montgomery) in ACCELERATED_CURVES {
        let mut group = Group::load(id)?;
        for case in 1..=cases {
            let scalar = group.random_scalar(montgomery, random)?;
            for generator in [true, false] {
                let point = if generator {
                    Point::copy_of(&group.inner.G)?
                } else {
                    // Another point: a random multiple of the generator, by Mbed TLS.
                    let factor = group.random_scalar(montgomery, random)?;
                    group.soft_mul(&factor, &Point::copy_of(&group.inner.G)?, random)?
                };
                let expected = group.soft_mul(&scalar, &point, random)?;
                let mut got = Point::new();
                match accelerated_mul(&group.inner, &mut got.0, &scalar.0, &point.0) {
                    None => return Err(EcpCheckError::Refused { curve, case }),
                    Some(result) => result.map_err(|error| EcpCheckError::MbedTls(error.code()))?,
                }
                // SAFETY: both points are initialised, owned here; comparing only reads them.
                let same = unsafe {
                    sys::mbedtls_mpi_cmp_mpi(&got.0.private_X, &expected.0.private_X) == 0
                        && sys::mbedtls_mpi_cmp_mpi(&got.0.private_Y, &expected.0.private_Y) == 0
                        && sys::mbedtls_mpi_cmp_mpi(&got.0.private_Z, &expected.0.private_Z) == 0
                };
                if !same {
                    return Err(EcpCheckError::Disagree {
                        curve,
                        case,
                        generator,
                    });
                }
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
    fn load(id: sys::mbedtls_ecp_group_id) -> Result<Group, EcpCheckError> {
        let mut group = Group {
            inner: sys::mbedtls_ecp_group::default(),
        };
        // SAFETY: the group is initialised before it is loaded; Drop frees it.
        let code = unsafe {
            sys::mbedtls_ecp_group_init(&mut group.inner);
            sys::mbedtls_ecp_group_load(&mut group.inner, id)
        };
        check_code(code)?;
        Ok(group)
    }

    /// A random valid private scalar: reduced mod n and not zero, or clamped (X25519).
    fn random_scalar(
        &self,
        montgomery: bool,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Mpi, EcpCheckError> {
        let mut bytes = Wiped([0u8; 32]);
        random(&mut bytes.0);
        let mut scalar = Mpi::new();
        // SAFETY: all MPIs are initialised and owned here; the buffer is live for each call.
        let code = unsafe {
            if montgomery {
                bytes.0[0] &= 0xf8;
                bytes.0[31] = (bytes.0[31] & 0x7f) | 0x40;
                sys::mbedtls_mpi_read_binary_le(&mut scalar.0, bytes.0.as_ptr(), 32)
            } else {
                let mut wide = Mpi::new();
                match sys::mbedtls_mpi_read_binary(&mut wide.0, bytes.0.as_ptr(), 32) {
                    0 => match sys::mbedtls_mpi_mod_mpi(&mut scalar.0, &wide.0, &self.inner.N) {
                        0 if sys::mbedtls_mpi_cmp_int(&scalar.0, 0) == 0 => {
                            sys::mbedtls_mpi_lset(&mut scalar.0, 1)
                        }
                        code => code,
                    },
                    code => code,
                }
            }
        };
        check_code(code)?;
        Ok(scalar)
    }

    /// `m * p` by Mbed TLS's own code (the hook bypassed).
    fn soft_mul(
        &mut self,
        m: &Mpi,
        p: &Point,
        mut random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Point, EcpCheckError> {
        let mut r = Point::new();
        // SAFETY: all operands are initialised and owned here; the RNG state (for Mbed TLS's
        // blinding) is `random`, borrowed for the call, as `closure_rng` expects.
        unsafe {
            ecp_mul_soft(
                &mut self.inner,
                &mut r.0,
                &m.0,
                &p.0,
                Some(closure_rng),
                (&mut random as *mut &mut dyn FnMut(&mut [u8])).cast::<c_void>(),
                core::ptr::null_mut(),
            )
        }
        .map_err(|error| EcpCheckError::MbedTls(error.code()))?;
        Ok(r)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: initialised in `load`, freed once.
        unsafe { sys::mbedtls_ecp_group_free(&mut self.inner) }
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

    fn copy_of(source: &sys::mbedtls_ecp_point) -> Result<Point, EcpCheckError> {
        let mut point = Point::new();
        // SAFETY: both points are initialised; the copy allocates on Mbed TLS's heap.
        check_code(unsafe { sys::mbedtls_ecp_copy(&mut point.0, source) })?;
        Ok(point)
    }
}

impl Drop for Point {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, freed once.
        unsafe { sys::mbedtls_ecp_point_free(&mut self.0) }
    }
}

/// Mbed TLS's RNG callback over a `&mut dyn FnMut(&mut [u8])` passed as its state.
unsafe extern "C" fn closure_rng(state: *mut c_void, output: *mut u8, length: usize) -> i32 {
    if length == 0 {
        return 0;
    }
    // SAFETY: `state` is the `&mut &mut dyn FnMut` given with this callback in `soft_mul`,
    // live for the call; Mbed TLS passes a writable buffer of `length` bytes.
    let (random, output) = unsafe {
        (
            &mut *state.cast::<&mut dyn FnMut(&mut [u8])>(),
            core::slice::from_raw_parts_mut(output, length),
        )
    };
    random(output);
    0
}

fn check_code(code: i32) -> Result<(), EcpCheckError> {
    if code == 0 {
        Ok(())
    } else {
        Err(EcpCheckError::MbedTls(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded generator (SplitMix64): the cases are the same on every run.
    fn seeded(mut state: u64) -> impl FnMut(&mut [u8]) {
        move |buffer: &mut [u8]| {
            for byte in buffer.iter_mut() {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                *byte = (z ^ (z >> 31)) as u8;
            }
        }
    }

    #[test]
    fn the_hosts_multiplications_agree_with_mbed_tls() {
        check_against_mbed_tls(16, &mut seeded(20261201)).unwrap();
    }

    #[test]
    fn what_mbed_tls_would_refuse_is_not_taken() {
        let mut group = Group::load(sys::mbedtls_ecp_group_id_MBEDTLS_ECP_DP_SECP256R1).unwrap();
        let generator = Point::copy_of(&group.inner.G).unwrap();
        let mut out = Point::new();
        // Zero, and n itself: not in 1..n-1.
        let zero = Mpi::new();
        assert!(accelerated_mul(&group.inner, &mut out.0, &zero.0, &generator.0).is_none());
        let mut n = Mpi::new();
        // SAFETY: initialised MPIs owned here.
        let copied = unsafe { sys::mbedtls_mpi_copy(&mut n.0, &group.inner.N) };
        assert_eq!(copied, 0);
        assert!(accelerated_mul(&group.inner, &mut out.0, &n.0, &generator.0).is_none());
        // A point off the curve: the generator with y + 1.
        let mut off = Point::copy_of(&group.inner.G).unwrap();
        // SAFETY: initialised MPIs owned here.
        let added =
            unsafe { sys::mbedtls_mpi_add_int(&mut off.0.private_Y, &generator.0.private_Y, 1) };
        assert_eq!(added, 0);
        let scalar = group.random_scalar(false, &mut seeded(7)).unwrap();
        assert!(accelerated_mul(&group.inner, &mut out.0, &scalar.0, &off.0).is_none());
        // A point not in affine form.
        let mut projective = Point::copy_of(&group.inner.G).unwrap();
        // SAFETY: an initialised MPI owned here.
        let set = unsafe { sys::mbedtls_mpi_lset(&mut projective.0.private_Z, 2) };
        assert_eq!(set, 0);
        assert!(accelerated_mul(&group.inner, &mut out.0, &scalar.0, &projective.0).is_none());
        // And Mbed TLS's own code, reached through the hook, still names the error.
        let mut random = seeded(8);
        let mut random: &mut dyn FnMut(&mut [u8]) = &mut random;
        // SAFETY: operands initialised and owned here; the RNG state is `random`, as
        // `closure_rng` expects; no restart context.
        let refused = unsafe {
            ACCELERATED.mul(
                &mut group.inner,
                &mut out.0,
                &scalar.0,
                &off.0,
                Some(closure_rng),
                (&mut random as *mut &mut dyn FnMut(&mut [u8])).cast::<c_void>(),
                core::ptr::null_mut(),
            )
        };
        assert_eq!(
            refused.map_err(|error| error.code()),
            Err(sys::MBEDTLS_ERR_ECP_INVALID_KEY)
        );
    }
}
