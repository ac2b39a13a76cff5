//! Fixed-point primitives of the codec.
//!
//! The arithmetic of the reference implementation we are bit-exact with (bcg729, itself bit-exact
//! with the ITU-T G.729A test vectors) is a set of plain 16/32/64-bit integer operations in which
//! saturation is applied explicitly at the places where the algorithm needs it, rather than in
//! every add and multiply as in the ITU `basic_op` library. The helpers here reproduce exactly that
//! arithmetic: 32-bit accumulations wrap (two's complement) instead of trapping, shifts are
//! arithmetic, and every narrowing to 16 bits is spelled out. All helpers are `#[inline]` and total
//! (no panics for any argument: shifts are clamped, divisions by zero yield 0).
//!
//! Naming: `qN` = truncating shift right by N after the product, `pN` = rounding shift.

/// Largest `i16` as `i32`.
pub(crate) const MAX16: i32 = i16::MAX as i32;

/// Saturates to `[-(a+1), a]`.
#[inline(always)]
pub(crate) fn saturate(x: i32, a: i32) -> i32 {
    if x > a {
        a
    } else if x < -a - 1 {
        -a - 1
    } else {
        x
    }
}

/// Arithmetic shift right, tolerant of any shift count.
#[inline(always)]
pub(crate) fn shr(a: i32, s: i32) -> i32 {
    if s >= 32 {
        if a < 0 {
            -1
        } else {
            0
        }
    } else if s <= 0 {
        shl(a, -s)
    } else {
        a >> s
    }
}

/// Shift left with wrap-around, tolerant of any shift count.
#[inline(always)]
pub(crate) fn shl(a: i32, s: i32) -> i32 {
    if s >= 32 {
        0
    } else if s <= 0 {
        if s == 0 {
            a
        } else {
            shr(a, -s)
        }
    } else {
        a.wrapping_shl(s as u32)
    }
}

/// Sign-symmetric left shift: shifts the magnitude, keeps the sign.
#[inline(always)]
pub(crate) fn sshl(a: i32, s: i32) -> i32 {
    if a < 0 {
        shl(a.wrapping_neg(), s).wrapping_neg()
    } else {
        shl(a, s)
    }
}

/// Rounding shift right (`(a + 2^(s-1)) >> s`).
#[inline(always)]
pub(crate) fn pshr(a: i32, s: i32) -> i32 {
    if s <= 0 {
        return a;
    }
    shr(a.wrapping_add((1i32 << (s.min(31))) >> 1), s)
}

/// Variable shift right: a positive count shifts right, a negative one shifts left.
#[inline(always)]
pub(crate) fn vshr32(a: i32, s: i32) -> i32 {
    if s > 0 {
        shr(a, s)
    } else {
        shl(a, -s)
    }
}

/// Variable shift right with a sign-symmetric left shift for negative counts.
#[inline(always)]
pub(crate) fn svshr32(a: i32, s: i32) -> i32 {
    if s > 0 {
        shr(a, s)
    } else {
        sshl(a, -s)
    }
}

/// 16-bit add: both operands and the result are narrowed to 16 bits.
#[inline(always)]
pub(crate) fn add16(a: i32, b: i32) -> i16 {
    (a as i16).wrapping_add(b as i16)
}

/// 16-bit subtract: operands narrowed to 16 bits, result kept on 32 bits.
#[inline(always)]
pub(crate) fn sub16(a: i32, b: i32) -> i32 {
    (a as i16 as i32) - (b as i16 as i32)
}

/// Wrapping 32-bit add.
#[inline(always)]
pub(crate) fn add32(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

/// Wrapping 32-bit subtract.
#[inline(always)]
pub(crate) fn sub32(a: i32, b: i32) -> i32 {
    a.wrapping_sub(b)
}

/// 16x16 product on 32 bits (operands are not narrowed, as in the reference).
#[inline(always)]
pub(crate) fn mult16_16(a: i32, b: i32) -> i32 {
    a.wrapping_mul(b)
}

/// Multiply-accumulate.
#[inline(always)]
pub(crate) fn mac16_16(c: i32, a: i32, b: i32) -> i32 {
    c.wrapping_add(a.wrapping_mul(b))
}

/// Multiply-subtract.
#[inline(always)]
pub(crate) fn msu16_16(c: i32, a: i32, b: i32) -> i32 {
    c.wrapping_sub(a.wrapping_mul(b))
}

/// `(a*b) >> n`.
#[inline(always)]
pub(crate) fn mult16_16_q(a: i32, b: i32, n: i32) -> i32 {
    shr(a.wrapping_mul(b), n)
}

/// `(a*b + 2^(n-1)) >> n`.
#[inline(always)]
pub(crate) fn mult16_16_p(a: i32, b: i32, n: i32) -> i32 {
    shr(a.wrapping_mul(b).wrapping_add(1 << (n - 1)), n)
}

/// `(a*b) >> 15`.
#[inline(always)]
pub(crate) fn mult16_16_q15(a: i32, b: i32) -> i32 {
    mult16_16_q(a, b, 15)
}

/// `(a*b + 2^14) >> 15`.
#[inline(always)]
pub(crate) fn mult16_16_p15(a: i32, b: i32) -> i32 {
    mult16_16_p(a, b, 15)
}

/// 16x32 product shifted right by `n` with the low part truncated (the 16-bit operand is narrowed).
#[inline(always)]
pub(crate) fn mult16_32_q(a: i32, b: i32, n: i32) -> i32 {
    let a = a as i16 as i32;
    let mask = (1i32 << n) - 1;
    a.wrapping_mul(shr(b, n)).wrapping_add(shr(a.wrapping_mul(b & mask), n))
}

/// 16x32 product shifted right by `n` with the low part rounded.
#[inline(always)]
pub(crate) fn mult16_32_p(a: i32, b: i32, n: i32) -> i32 {
    let a = a as i16 as i32;
    let mask = (1i32 << n) - 1;
    a.wrapping_mul(shr(b, n)).wrapping_add(pshr(a.wrapping_mul(b & mask), n))
}

/// `mult16_32_q(a, b, 15)`.
#[inline(always)]
pub(crate) fn mult16_32_q15(a: i32, b: i32) -> i32 {
    mult16_32_q(a, b, 15)
}

/// 16x32 product without shift (16-bit operand narrowed).
#[inline(always)]
pub(crate) fn mult16_32(a: i32, b: i32) -> i32 {
    (a as i16 as i32).wrapping_mul(b)
}

/// 32x32 product shifted right by `n`, narrowed to 32 bits.
#[inline(always)]
pub(crate) fn mult32_32_q(a: i32, b: i32, n: u32) -> i32 {
    ((a as i64 * b as i64) >> n) as i32
}

/// Integer division truncating towards zero; 0 when dividing by zero.
#[inline(always)]
pub(crate) fn div32(a: i32, b: i32) -> i32 {
    if b == 0 {
        0
    } else {
        a.wrapping_div(b)
    }
}

/// Unsigned division; 0 when dividing by zero.
#[inline(always)]
pub(crate) fn udiv32(a: u32, b: u32) -> u32 {
    a.checked_div(b).unwrap_or(0)
}

/// 64-bit division truncating towards zero; 0 when dividing by zero.
#[inline(always)]
pub(crate) fn div64(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.wrapping_div(b)
    }
}

/// Number of leading zeros of a positive value, sign bit excluded (`0x0080_0000` -> 8); 31 for 0.
///
/// For a negative value (reachable only with out-of-range intermediate results) this returns the
/// number of left shifts after which the wrapped value reaches `0x4000_0000` or more, which is
/// what the reference's shift loop computes; it gives up after 31 shifts where that loop would
/// not terminate.
#[inline(always)]
pub(crate) fn norm_l(x: i32) -> i32 {
    if x == 0 {
        31
    } else if x > 0 {
        x.leading_zeros() as i32 - 1
    } else {
        let mut v = x;
        let mut n = 0;
        while v < 0x4000_0000 && n < 31 {
            v = v.wrapping_shl(1);
            n += 1;
        }
        n
    }
}

/// Number of leading zeros of an unsigned value (32 for 0).
#[inline(always)]
pub(crate) fn norm_u(x: u32) -> i32 {
    x.leading_zeros() as i32
}

/// log2(x) for x > 0 in Q0, result in Q16 (third-order polynomial on the mantissa).
#[inline]
pub(crate) fn log2_q0_q16(x: i32) -> i32 {
    let lz = norm_l(x);
    let ret = shl(30 - lz, 16);
    let acc = vshr32(x, 16 - lz) as i16 as i32;
    const KL0: i32 = -135003;
    const KL1: i32 = 378194;
    const KL2: i32 = -252129;
    const KL3: i32 = 74705;
    let p = add32(KL0, mult16_32_q15(acc, add32(KL1, mult16_32_q15(acc, add32(KL2, mult16_32_q15(acc, KL3))))));
    add32(ret, p)
}

/// 2^x for x in Q11, result in Q16.
#[inline]
pub(crate) fn exp2_q11_q16(x: i16) -> i32 {
    let integer = (x as i32) >> 11;
    if integer > 14 {
        return i32::MAX;
    }
    if integer < -15 {
        return 0;
    }
    const E0: i32 = 16384;
    const E1: i32 = 11356;
    const E2: i32 = 3726;
    const E3: i32 = 1301;
    let frac = (((x as i32) - (integer << 11)) << 3) as i16 as i32;
    let f = add16(E2, mult16_16_q(E3, frac, 14)) as i32;
    let f = add16(E1, mult16_16_q(frac, f, 14)) as i32;
    let f = add16(E0, mult16_16_q(frac, f, 14)) as i32;
    vshr32(f, -integer - 2)
}

/// sqrt(x) for unsigned x in Q0, result in Q7.
#[inline]
pub(crate) fn sqrt_q0_q7(x: u32) -> i32 {
    if x == 0 {
        return 0;
    }
    let k = (19 - norm_u(x)) >> 1;
    let x = if k * 2 > 0 { x >> (k * 2) } else { x.wrapping_shl((-k * 2) as u32) } as i32;
    const C0: i32 = 3634;
    const C1: i32 = 21173;
    const C2: i32 = -12627;
    const C3: i32 = 4204;
    let r = add16(C2, mult16_16_q(x, C3, 14)) as i32;
    let r = add16(C1, mult16_16_q(x, r, 14)) as i32;
    let r = add16(C0, mult16_16_q(x, r, 14)) as i32;
    vshr32(r, -k)
}

/// 1/sqrt(x) for x in [1, 2^31[, result in Q31.
#[inline]
pub(crate) fn inv_sqrt_q0_q31(x: i32) -> i32 {
    if x == 1 {
        return i32::MAX;
    }
    if x <= 0 {
        return i32::MAX;
    }
    ((sqrt_q0_q7(x as u32) as i64) << 24).wrapping_div(x as i64) as i32
}

/// cos(x) for x in Q13 in [0, pi], result in Q15.
#[inline]
pub(crate) fn cos_q13_q15(x: i16) -> i16 {
    const KC1: i32 = 32768;
    const KC2: i32 = -16384;
    const KC3: i32 = 1365;
    const KC4: i32 = -46;
    const KS1: i32 = 32768;
    const KS2: i32 = -5461;
    const KS3: i32 = 273;
    const KS4: i32 = -7;
    let x = x as i32;
    let cos_poly =
        |x2: i32| add32(KC1, mult16_16_p15(x2, add32(KC2, mult16_16_p15(x2, add32(KC3, mult16_16_p15(KC4, x2))))));
    let sin_poly =
        |x2: i32| add32(KS1, mult16_16_p15(x2, add32(KS2, mult16_16_p15(x2, add32(KS3, mult16_16_p15(KS4, x2))))));
    if x < 12868 {
        if x < 6434 {
            let x2 = mult16_16_p(x, x, 11) as i16 as i32;
            saturate(cos_poly(x2), MAX16) as i16
        } else {
            let xs = sub16(12868, x) as i16 as i32;
            let x2 = mult16_16_p(xs, xs, 11) as i16 as i32;
            mult16_16_p(xs, sin_poly(x2), 13) as i16
        }
    } else {
        let xs = sub16(25736, x) as i16 as i32;
        if x < 19302 {
            let xs = sub16(12868, xs) as i16 as i32;
            let x2 = mult16_16_p(xs, xs, 11) as i16 as i32;
            mult16_16_p(-xs, sin_poly(x2), 13) as i16
        } else {
            let x2 = mult16_16_p(xs, xs, 11) as i16 as i32;
            sub32(-KC1, mult16_16_p15(x2, add32(KC2, mult16_16_p15(x2, add32(KC3, mult16_16_p15(KC4, x2)))))) as i16
        }
    }
}

/// atan(x) for x in Q15, result in Q13.
#[inline]
pub(crate) fn atan_q15_q13(x: i32) -> i16 {
    const KPI6: i32 = 17157;
    const KTAN_PI6: i32 = 18919;
    const KTAN_PI12: i32 = 8780;
    const ATAN_B: i32 = 8453;
    const ATAN_C: i32 = 19373;
    let mut x = x;
    let mut sign = false;
    let mut complement = false;
    let mut high = false;
    if x < 0 {
        x = x.wrapping_neg();
        sign = true;
    }
    if x > 32768 {
        complement = true;
        x = div32(1 << 30, x);
    }
    if x > KTAN_PI12 {
        high = true;
        x = div32(sshl(x - KTAN_PI6, 15), mult16_16_q15(KTAN_PI6, x) + 32768);
    }
    let x2 = mult16_16_q15(x, x) as i16 as i32;
    let mut angle = div32(mult16_16(x, 32768 + mult16_16_q15(ATAN_B, x2)), 32768 + mult16_16_q15(ATAN_C, x2));
    if high {
        angle += KPI6;
    }
    if complement {
        angle = 51472 - angle;
    }
    let angle = pshr(angle, 2);
    if sign {
        (-angle) as i16
    } else {
        angle as i16
    }
}

/// asin(x) for x in Q15 in ]-1, 1[, result in Q13.
#[inline]
pub(crate) fn asin_q15_q13(x: i16) -> i16 {
    let x = x as i32;
    let root = pshr(sqrt_q0_q7(sub32(1 << 30, x * x) as u32), 7);
    atan_q15_q13(div32(sshl(x, 15), root))
}

/// acos(x) for x in Q15 in ]-1, 1[, result in Q13.
#[inline]
pub(crate) fn acos_q15_q13(x: i16) -> i16 {
    (12868 - asin_q15_q13(x) as i32) as i16
}

/// Pseudo-random generator of G.729 (eq. 96): `seed = seed*31821 + 13849` on 16 bits.
#[inline(always)]
pub(crate) fn pseudo_random(seed: &mut u16) -> u16 {
    *seed = seed.wrapping_mul(31821).wrapping_add(13849);
    *seed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_functions_are_close_to_float() {
        for x in [1i32, 2, 3, 100, 1000, 12345, 1 << 20, i32::MAX] {
            let got = log2_q0_q16(x) as f64 / 65536.0;
            assert!((got - (x as f64).log2()).abs() < 0.01, "log2({x}) = {got}");
        }
        for x in [-20000i16, -2048, 0, 2048, 10000, 28000] {
            let got = exp2_q11_q16(x) as f64 / 65536.0;
            let want = 2f64.powf(x as f64 / 2048.0);
            assert!((got - want).abs() / want < 0.01, "exp2({x}) = {got} vs {want}");
        }
        for x in [1u32, 4, 1000, 1 << 20, u32::MAX] {
            let got = sqrt_q0_q7(x) as f64 / 128.0;
            assert!((got - (x as f64).sqrt()).abs() / (x as f64).sqrt() < 0.01, "sqrt({x})");
        }
        for x in (0..25736).step_by(997) {
            let got = cos_q13_q15(x as i16) as f64 / 32768.0;
            assert!((got - (x as f64 / 8192.0).cos()).abs() < 0.002, "cos({x})");
        }
        for x in (-32000..32000).step_by(1999) {
            let got = acos_q15_q13(x as i16) as f64 / 8192.0;
            assert!((got - (x as f64 / 32768.0).acos()).abs() < 0.002, "acos({x})");
        }
    }

    #[test]
    fn pseudo_random_follows_the_recurrence() {
        let mut s = 21845u16;
        assert_eq!(pseudo_random(&mut s), (21845u32 * 31821 + 13849) as u16);
    }
}
