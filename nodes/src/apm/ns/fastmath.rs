//! Fast transcendental functions for the per-bin gain arithmetic: branch-free so the
//! per-bin loops vectorise, checked against the standard library in the tests.

/// Exponential integral E1(x) for x > 0 (Abramowitz & Stegun 5.1.53 / 5.1.56, |error| < 5e-5).
#[inline]
pub fn expint_e1(x: f32) -> f32 {
    let x = x.max(1e-8);
    if x < 1.0 {
        -0.577_215_7 - x.ln() + x * (1.0 - x * (0.25 - x * (1.0 / 18.0 - x * (1.0 / 96.0 - x / 600.0))))
    } else {
        let num = x * x + 2.334_733 * x + 0.250_621;
        let den = x * x + 3.330_657 * x + 1.681_534;
        (-x).exp() / x * num / den
    }
}

/// `exp(x)` for the per-bin gain arithmetic: `2^round(t)` from the exponent bits times a
/// degree-5 Taylor polynomial of `2^f` on `|f| ≤ 0.5` (relative error < 1e-5); saturates
/// outside ±87.
#[inline]
pub(crate) fn fast_exp(x: f32) -> f32 {
    let t = (x * std::f32::consts::LOG2_E).clamp(-126.0, 126.0);
    // Round to nearest by adding 1.5·2^23 (the integer lands in the low mantissa bits);
    // `f32::round` is a library call on baseline x86-64.
    const MAGIC: f32 = 12_582_912.0;
    let r = t + MAGIC;
    let i = r - MAGIC;
    let f = t - i;
    let p = 1.0
        + f * (std::f32::consts::LN_2
            + f * (0.240_226_5 + f * (0.055_504_11 + f * (0.009_618_129 + f * 0.001_333_355))));
    // `i` is in [-126, 126], so the biased exponent is a valid normal exponent.
    f32::from_bits(((i as i32 + 127) as u32) << 23) * p
}

/// Natural logarithm for the per-bin gain arithmetic: exponent bits plus the atanh series of
/// the mantissa reduced to `[√½, √2)` (relative error < 1e-6 away from 1). Inputs below
/// 1e-37 (and NaN) are treated as 1e-37.
#[inline]
pub(crate) fn fast_ln(x: f32) -> f32 {
    let x = x.max(1e-37);
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Branch-free reduction to [√½, √2) so the per-bin loops vectorise.
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let e = e + i32::from(big);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    e as f32 * std::f32::consts::LN_2 + 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0))))
}

/// [`expint_e1`] with the fast `exp`/`ln` above; both branches are evaluated and one is
/// selected, so the per-bin loop vectorises.
#[inline]
pub(crate) fn fast_e1(x: f32) -> f32 {
    let x = x.max(1e-8);
    let small = -0.577_215_7 - fast_ln(x) + x * (1.0 - x * (0.25 - x * (1.0 / 18.0 - x * (1.0 / 96.0 - x / 600.0))));
    let num = x * x + 2.334_733 * x + 0.250_621;
    let den = x * x + 3.330_657 * x + 1.681_534;
    let large = fast_exp(-x) * num / (x * den);
    if x < 1.0 {
        small
    } else {
        large
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_ln_and_e1_match_the_library() {
        let mut x = -80.0f32;
        while x < 80.0 {
            let (a, b) = (fast_exp(x), x.exp());
            assert!((a - b).abs() <= 1e-5 * b, "exp({x}): {a} vs {b}");
            x += 0.0137;
        }
        let mut x = 1e-30f32;
        while x < 1e30 {
            let (a, b) = (fast_ln(x), x.ln());
            assert!((a - b).abs() <= 2e-6 * b.abs().max(1.0), "ln({x}): {a} vs {b}");
            x *= 1.0173;
        }
        let mut x = 1e-6f32;
        while x < 80.0 {
            let (a, b) = (fast_e1(x), expint_e1(x));
            assert!((a - b).abs() <= 1e-5 * b.abs() + 1e-30, "E1({x}): {a} vs {b}");
            x *= 1.013;
        }
        assert_eq!(fast_ln(f32::NAN), fast_ln(1e-37));
        assert!(fast_exp(-1000.0) >= 0.0 && fast_exp(1000.0).is_finite());
    }
}
