//! Modular exponentiation in Montgomery form, on the stack: the arithmetic behind
//! [`super::exp_mod_hook`] (RSA's public and private operations).
//!
//! Mbed TLS's own `mbedtls_mpi_exp_mod` takes its working memory from the heap: about 4 KB for
//! one RSA-2048 operation, allocated and freed while the server's certificate chain is being
//! verified, which is the handshake's heap peak. This module needs no heap: the operands are
//! slices of limbs (Mbed TLS's own limbs, read in place), and every temporary is a fixed array
//! on the caller's stack, sized for moduli up to [`MAX_BITS`] (about 4.6 KB in all on the
//! simulators, 2.4 KB on boards).
//!
//! Constant time with respect to the base and the exponent's value: a fixed window over the
//! exponent (a squaring per bit and a multiplication per window, whatever the bits), a table
//! lookup that reads every entry, and a Montgomery multiplication whose final subtraction is
//! done by masks. What it does leak is the exponent's bit length (as BoringSSL's and most
//! constant-time code does; RSA's private exponents are blinded with a random multiple, so
//! their length carries nothing) and the modulus, which is public. As with any such code, that
//! holds where the CPU's multiply instruction takes the same time for every operand: x86-64
//! and Cortex-M4/M7 (`UMULL`/`UMAAL`), not Cortex-M3, whose long multiply ends early on small
//! operands (Mbed TLS's own C has the same dependency).

use zeroize::Zeroize;

/// A limb: Mbed TLS's `mbedtls_mpi_uint` on the target (the FFI module checks they agree).
#[cfg(target_pointer_width = "64")]
pub(crate) type Limb = u64;
#[cfg(target_pointer_width = "64")]
type Wide = u128;
/// A limb: Mbed TLS's `mbedtls_mpi_uint` on the target (the FFI module checks they agree).
#[cfg(target_pointer_width = "32")]
pub(crate) type Limb = u32;
#[cfg(target_pointer_width = "32")]
type Wide = u64;

/// Bits in a limb.
pub(crate) const LIMB_BITS: usize = Limb::BITS as usize;
/// The largest modulus handled here; larger ones are refused (Mbed TLS's own code takes
/// them). The simulators: RSA-4096's public operation. Boards, where these buffers are on the
/// demo task's stack at its deepest point (the handshake's signature): 2048 bits, which covers
/// RSA-2048's public operation and the private halves of RSA-2048 to RSA-4096 keys, in about
/// 2.4 KB of stack instead of 4.6 KB.
#[cfg(not(target_os = "none"))]
pub(crate) const MAX_BITS: usize = 4096;
/// The largest modulus handled here (see the simulators' value).
#[cfg(target_os = "none")]
pub(crate) const MAX_BITS: usize = 2048;
/// Limbs of the largest modulus.
pub(crate) const MAX_LIMBS: usize = MAX_BITS / LIMB_BITS;
/// The window table's room: half a kilobyte per 1024 bits of [`MAX_BITS`] (2 KiB on the
/// simulators: 16 entries of 1024 bits, RSA-2048's private halves; 8 of 2048; 4 of 4096).
const TABLE_LIMBS: usize = 4 * MAX_LIMBS;
/// The table's room for a one-bit window over the largest modulus (a public exponent such as
/// 65537): two entries.
const SMALL_TABLE_LIMBS: usize = 2 * MAX_LIMBS;
/// The widest window used.
const MAX_WINDOW: u32 = 4;

/// A number below the modulus (or Montgomery's R), least significant limb first; only the
/// modulus' first `n` limbs are used.
type Number = [Limb; MAX_LIMBS];

/// Why [`exp_mod`] refused its operands (its caller then uses Mbed TLS's own code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The modulus is even, or below 3.
    ModulusNotOddAboveTwo,
    /// The modulus has more than [`MAX_BITS`] bits.
    ModulusTooLarge,
}

/// An odd modulus above 2, with what Montgomery multiplication needs.
struct Modulus<'a> {
    /// The modulus, without leading zero limbs.
    limbs: &'a [Limb],
    /// `-m^-1 mod 2^LIMB_BITS`.
    m_prime: Limb,
}

impl<'a> Modulus<'a> {
    fn new(limbs: &'a [Limb]) -> Result<Modulus<'a>, Refused> {
        let limbs = &limbs[..significant_limbs(limbs)];
        if limbs.len() > MAX_LIMBS {
            return Err(Refused::ModulusTooLarge);
        }
        let low = limbs.first().copied().unwrap_or(0);
        if low & 1 == 0 || (limbs.len() == 1 && low < 3) {
            return Err(Refused::ModulusNotOddAboveTwo);
        }
        // Newton's iteration for the inverse mod 2^LIMB_BITS: `low` is its own inverse mod 8,
        // and each step doubles the correct bits (3, 6, 12, 24, 48, 96).
        let mut inverse = low;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul((2 as Limb).wrapping_sub(low.wrapping_mul(inverse)));
        }
        debug_assert_eq!(low.wrapping_mul(inverse), 1);
        Ok(Modulus {
            limbs,
            m_prime: inverse.wrapping_neg(),
        })
    }

    fn n(&self) -> usize {
        self.limbs.len()
    }

    /// `out = a * b / R mod m` for `a < R` (any `n` limbs) and `b < m`; `out < m`.
    fn mul(&self, a: &[Limb], b: &[Limb], out: &mut [Limb]) {
        let n = self.n();
        let m = self.limbs;
        // t has n + 2 limbs: the running sum stays below 2m < 2R.
        let mut t = [0 as Limb; MAX_LIMBS + 2];
        for &a_limb in &a[..n] {
            let mut carry: Limb = 0;
            for j in 0..n {
                (t[j], carry) = mul_add(a_limb, b[j], t[j], carry);
            }
            let (sum, overflow) = t[n].overflowing_add(carry);
            t[n] = sum;
            t[n + 1] = Limb::from(overflow);
            // Add q*m, q chosen so that the lowest limb becomes zero, and shift down a limb.
            let q = t[0].wrapping_mul(self.m_prime);
            let (_, mut carry) = mul_add(q, m[0], t[0], 0);
            for j in 1..n {
                (t[j - 1], carry) = mul_add(q, m[j], t[j], carry);
            }
            let (sum, overflow) = t[n].overflowing_add(carry);
            t[n - 1] = sum;
            t[n] = t[n + 1] + Limb::from(overflow);
        }
        self.reduce_once(&t[..n + 1], out);
        t.zeroize();
    }

    /// `out = v mod m` for `v < 2m` given as n + 1 limbs, without a branch on `v`.
    fn reduce_once(&self, v: &[Limb], out: &mut [Limb]) {
        let n = self.n();
        let mut borrow: Limb = 0;
        for j in 0..n {
            (out[j], borrow) = sub_borrow(v[j], self.limbs[j], borrow);
        }
        // v - m is negative exactly when the top limb cannot cover the borrow.
        let (_, negative) = v[n].overflowing_sub(borrow);
        let keep_v = Limb::from(negative).wrapping_neg();
        for j in 0..n {
            out[j] = (v[j] & keep_v) | (out[j] & !keep_v);
        }
    }

    /// `a = a + b mod m` for `a, b < m`.
    fn add_assign(&self, a: &mut [Limb], b: &[Limb]) {
        let n = self.n();
        let mut sum = [0 as Limb; MAX_LIMBS + 1];
        let mut carry = false;
        for j in 0..n {
            let (partial, first) = a[j].overflowing_add(b[j]);
            let (total, second) = partial.overflowing_add(Limb::from(carry));
            sum[j] = total;
            carry = first | second;
        }
        sum[n] = Limb::from(carry);
        self.reduce_once(&sum[..n + 1], a);
        sum.zeroize();
    }

    /// `out = R mod m`, Montgomery's form of 1: the highest power of two below m, doubled
    /// until it is `2^(LIMB_BITS * n)` (m is public, so this may branch).
    fn one(&self, out: &mut [Limb]) {
        let n = self.n();
        let bits = bit_length(self.limbs);
        out[..n].fill(0);
        out[(bits - 1) / LIMB_BITS] = 1 << ((bits - 1) % LIMB_BITS);
        for _ in 0..(LIMB_BITS * n - (bits - 1)) {
            self.double(out);
        }
    }

    /// `v = 2v mod m` for `v < m`.
    fn double(&self, v: &mut [Limb]) {
        let n = self.n();
        let mut doubled = [0 as Limb; MAX_LIMBS + 1];
        let mut carry: Limb = 0;
        for j in 0..n {
            doubled[j] = (v[j] << 1) | carry;
            carry = v[j] >> (LIMB_BITS - 1);
        }
        doubled[n] = carry;
        self.reduce_once(&doubled[..n + 1], v);
    }

    /// `out = R^2 mod m`, which converts into Montgomery form: Montgomery's form of
    /// `2^(LIMB_BITS * n)`, built from that of 1 by squarings (which double the power) and
    /// doublings (which add one), along the bits of `LIMB_BITS * n`.
    fn r_squared(&self, out: &mut [Limb]) {
        let n = self.n();
        let power = LIMB_BITS * n;
        self.one(out);
        self.double(out);
        let mut squared = [0 as Limb; MAX_LIMBS];
        for bit in (0..usize::BITS - 1 - power.leading_zeros()).rev() {
            self.mul(&out[..n], &out[..n], &mut squared);
            out[..n].copy_from_slice(&squared[..n]);
            if power >> bit & 1 == 1 {
                self.double(out);
            }
        }
    }

    /// `out = x * R mod m` (Montgomery's form of `x mod m`) for any `x`, read n limbs at a
    /// time from the most significant (Horner's rule in base R).
    fn to_montgomery(&self, x: &[Limb], r_squared: &[Limb], out: &mut [Limb]) {
        let n = self.n();
        let x = &x[..significant_limbs(x)];
        out[..n].fill(0);
        // Two temporaries, not three: on a board this runs at the demo task's deepest point
        // (under the RSA-PSS verification of a TLS 1.3 CertificateVerify).
        let mut product = [0 as Limb; MAX_LIMBS];
        let mut chunk = [0 as Limb; MAX_LIMBS];
        for top in (0..x.len().div_ceil(n)).rev() {
            let start = top * n;
            let end = (start + n).min(x.len());
            chunk[..n].fill(0);
            chunk[..end - start].copy_from_slice(&x[start..end]);
            // out = out * R + chunk, in Montgomery form: (out * R^2 / R) + (chunk * R^2 / R).
            self.mul(&out[..n], r_squared, &mut product);
            out[..n].copy_from_slice(&product[..n]);
            self.mul(&chunk[..n], r_squared, &mut product);
            self.add_assign(&mut out[..n], &product[..n]);
        }
        chunk.zeroize();
        product.zeroize();
    }
}

/// `out = base^exponent mod modulus` (limbs least significant first, any lengths, leading
/// zero limbs allowed); returns how many limbs of `out` hold the result (the modulus'
/// significant ones). `0^0` is 1, as in Mbed TLS.
pub(crate) fn exp_mod(
    base: &[Limb],
    exponent: &[Limb],
    modulus: &[Limb],
    out: &mut Number,
) -> Result<usize, Refused> {
    let modulus = Modulus::new(modulus)?;
    let n = modulus.n();
    let exponent_bits = bit_length(exponent);
    let window = window_bits(exponent_bits, n);
    // A public exponent (one-bit windows: two entries) needs a table of half the room: its
    // own frame, 512 B smaller on a board, where an RSA verification is the demo task's
    // deepest point.
    if n << window <= SMALL_TABLE_LIMBS {
        exp_mod_with_table::<SMALL_TABLE_LIMBS>(&modulus, base, exponent, window, out);
    } else {
        exp_mod_with_table::<TABLE_LIMBS>(&modulus, base, exponent, window, out);
    }
    Ok(n)
}

/// [`exp_mod`] with a window table of `ROOM` limbs (at least `n << window`).
#[inline(never)]
fn exp_mod_with_table<const ROOM: usize>(
    modulus: &Modulus<'_>,
    base: &[Limb],
    exponent: &[Limb],
    window: usize,
    out: &mut Number,
) {
    let entries = modulus.n() << window;
    // table[i] = base^i in Montgomery form, i < 2^window. The table is the only array of
    // this frame; the set-up and the loop each have their own frame, one after the other, so
    // the stack holds the table and one of them at a time.
    let mut table = [0 as Limb; ROOM];
    fill_table(modulus, base, &mut table[..entries]);
    exponentiate(modulus, &table[..entries], exponent, window, out);
    table.zeroize();
}

/// The window table: Montgomery's forms of `base^0 .. base^(entries - 1)`.
#[inline(never)]
fn fill_table(modulus: &Modulus<'_>, base: &[Limb], table: &mut [Limb]) {
    let n = modulus.n();
    let mut r_squared = [0 as Limb; MAX_LIMBS];
    modulus.r_squared(&mut r_squared);
    modulus.one(&mut table[..n]);
    modulus.to_montgomery(base, &r_squared[..n], &mut table[n..2 * n]);
    for index in 2..table.len() / n {
        let (done, next) = table.split_at_mut(index * n);
        modulus.mul(&done[(index - 1) * n..], &done[n..2 * n], &mut next[..n]);
    }
    r_squared.zeroize();
}

/// `out = base^exponent` from the table, left to right, `window` bits at a time: `window`
/// squarings and one multiplication by the entry the bits select, whatever they are.
#[inline(never)]
fn exponentiate(
    modulus: &Modulus<'_>,
    table: &[Limb],
    exponent: &[Limb],
    window: usize,
    out: &mut Number,
) {
    let n = modulus.n();
    let mut accumulator = [0 as Limb; MAX_LIMBS];
    let mut product = [0 as Limb; MAX_LIMBS];
    let mut selected = [0 as Limb; MAX_LIMBS];
    modulus.one(&mut accumulator);
    for position in (0..bit_length(exponent).div_ceil(window)).rev() {
        for _ in 0..window {
            modulus.mul(&accumulator[..n], &accumulator[..n], &mut product);
            accumulator[..n].copy_from_slice(&product[..n]);
        }
        let index = window_value(exponent, position * window, window);
        select(table, n, index, &mut selected[..n]);
        modulus.mul(&accumulator[..n], &selected[..n], &mut product);
        accumulator[..n].copy_from_slice(&product[..n]);
    }
    // Out of Montgomery form: multiply by 1.
    selected.fill(0);
    selected[0] = 1;
    modulus.mul(&accumulator[..n], &selected[..n], out);
    accumulator.zeroize();
    product.zeroize();
}

/// The window: wide enough to save multiplications for long exponents, and only as wide as
/// the table's room for `n`-limb entries allows.
fn window_bits(exponent_bits: usize, n: usize) -> usize {
    let wanted = match exponent_bits {
        0..=24 => 1,
        25..=80 => 2,
        81..=240 => 3,
        _ => MAX_WINDOW as usize,
    };
    let mut window = wanted;
    while window > 1 && (n << window) > TABLE_LIMBS {
        window -= 1;
    }
    window
}

/// The `width` exponent bits from bit `start` up (bits past the end are zero). Which bits are
/// read depends only on the position, never on their values.
fn window_value(exponent: &[Limb], start: usize, width: usize) -> usize {
    let mut value = 0usize;
    for bit in (start..start + width).rev() {
        let limb = exponent.get(bit / LIMB_BITS).copied().unwrap_or(0);
        value = (value << 1) | ((limb >> (bit % LIMB_BITS)) & 1) as usize;
    }
    value
}

/// `out = table[index]` (entries of `n` limbs), reading every entry and choosing by mask.
fn select(table: &[Limb], n: usize, index: usize, out: &mut [Limb]) {
    out.fill(0);
    for (entry_index, entry) in table.chunks_exact(n).enumerate() {
        // All ones when this is the entry, all zeros otherwise, without a branch.
        let difference = (entry_index ^ index) as Limb;
        let is_other = (difference | difference.wrapping_neg()) >> (LIMB_BITS - 1);
        let mask = is_other.wrapping_sub(1);
        for (slot, &limb) in out.iter_mut().zip(entry) {
            *slot |= limb & mask;
        }
    }
}

/// `a * b + addend + carry` as (low limb, high limb); cannot overflow two limbs.
fn mul_add(a: Limb, b: Limb, addend: Limb, carry: Limb) -> (Limb, Limb) {
    let wide = Wide::from(a) * Wide::from(b) + Wide::from(addend) + Wide::from(carry);
    (wide as Limb, (wide >> LIMB_BITS) as Limb)
}

/// `a - b - borrow` as (difference, borrow out), borrow being 0 or 1.
fn sub_borrow(a: Limb, b: Limb, borrow: Limb) -> (Limb, Limb) {
    let (partial, first) = a.overflowing_sub(b);
    let (difference, second) = partial.overflowing_sub(borrow);
    (difference, Limb::from(first | second))
}

/// Limbs up to the most significant non-zero one.
fn significant_limbs(limbs: &[Limb]) -> usize {
    limbs
        .iter()
        .rposition(|&limb| limb != 0)
        .map_or(0, |top| top + 1)
}

/// Bits up to the most significant set one (0 for zero).
fn bit_length(limbs: &[Limb]) -> usize {
    match limbs.iter().rposition(|&limb| limb != 0) {
        Some(top) => top * LIMB_BITS + (LIMB_BITS - limbs[top].leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain square-and-multiply for one-limb moduli, in double-width arithmetic.
    fn reference(base: Limb, exponent: Limb, modulus: Limb) -> Limb {
        let m = Wide::from(modulus);
        let mut result: Wide = 1 % m;
        let mut power = Wide::from(base) % m;
        let mut e = exponent;
        while e != 0 {
            if e & 1 == 1 {
                result = result * power % m;
            }
            power = power * power % m;
            e >>= 1;
        }
        result as Limb
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self) -> Limb {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 as Limb
        }
    }

    fn one_limb(base: Limb, exponent: Limb, modulus: Limb) -> Limb {
        let mut out = [0; MAX_LIMBS];
        let n = exp_mod(&[base], &[exponent], &[modulus], &mut out).expect("an odd modulus");
        assert_eq!(n, 1);
        out[0]
    }

    #[test]
    fn one_limb_moduli_agree_with_square_and_multiply() {
        let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
        for case in 0..2000 {
            let modulus = random.next()
                | 1
                | if case % 2 == 0 {
                    1 << (LIMB_BITS - 1)
                } else {
                    0
                };
            let modulus = modulus.max(3);
            let base = random.next();
            let exponent = match case % 4 {
                0 => 65537,
                1 => random.next() & 0xff,
                _ => random.next(),
            };
            assert_eq!(
                one_limb(base, exponent, modulus),
                reference(base, exponent, modulus),
                "{base}^{exponent} mod {modulus}"
            );
        }
    }

    #[test]
    fn edge_values() {
        assert_eq!(one_limb(0, 0, 7), 1);
        assert_eq!(one_limb(5, 0, 7), 1);
        assert_eq!(one_limb(0, 5, 7), 0);
        assert_eq!(one_limb(7, 3, 7), 0);
        assert_eq!(one_limb(6, 1, 7), 6);
        assert_eq!(one_limb(Limb::MAX, 2, Limb::MAX), 0);
        assert_eq!(one_limb(2, 10, 3), 1);
    }

    #[test]
    fn bases_longer_than_the_modulus_are_reduced() {
        // (2^LIMB_BITS * 3 + 4) mod 11 computed by hand: 2^LIMB_BITS mod 11, times 3, plus 4.
        let two_to_limb_bits = reference(2, LIMB_BITS as Limb, 11);
        let expected = (Wide::from(two_to_limb_bits) * 3 + 4) % 11;
        let mut out = [0; MAX_LIMBS];
        exp_mod(&[4, 3], &[1], &[11, 0, 0], &mut out).expect("odd");
        assert_eq!(Wide::from(out[0]), expected);
    }

    #[test]
    fn refuses_even_tiny_and_oversized_moduli() {
        let mut out = [0; MAX_LIMBS];
        assert_eq!(
            exp_mod(&[2], &[3], &[10], &mut out),
            Err(Refused::ModulusNotOddAboveTwo)
        );
        assert_eq!(
            exp_mod(&[2], &[3], &[1], &mut out),
            Err(Refused::ModulusNotOddAboveTwo)
        );
        assert_eq!(
            exp_mod(&[2], &[3], &[0, 0], &mut out),
            Err(Refused::ModulusNotOddAboveTwo)
        );
        let mut huge = [1 as Limb; MAX_LIMBS + 1];
        huge[MAX_LIMBS] = 1;
        assert_eq!(
            exp_mod(&[2], &[3], &huge, &mut out),
            Err(Refused::ModulusTooLarge)
        );
    }

    #[test]
    fn windows_fit_the_table() {
        for n in [1, MAX_LIMBS / 4, MAX_LIMBS / 2, MAX_LIMBS] {
            for bits in [1, 17, 100, 1100, 4096] {
                let window = window_bits(bits, n);
                assert!((1..=MAX_WINDOW as usize).contains(&window));
                assert!(n << window <= TABLE_LIMBS, "n {n}, window {window}");
            }
        }
        assert_eq!(window_bits(17, MAX_LIMBS / 4), 1);
        assert_eq!(window_bits(1100, MAX_LIMBS / 4), 4);
    }

    #[test]
    fn select_takes_exactly_the_entry_asked_for() {
        let table: [Limb; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let mut out = [0; 3];
        for index in 0..4 {
            select(&table, 3, index, &mut out);
            assert_eq!(out, table[index * 3..index * 3 + 3]);
        }
    }
}
