//! Cheap transcendental approximations for the per-bin loops.

/// Natural logarithm for positive normal `x`, accurate to about 1e-5 absolute (exponent
/// split plus a minimax polynomial for `ln(1 + t)` on [0, 1)); returns −87.3 for `x ≤ 0`
/// or NaN.
#[inline]
pub fn fast_ln(x: f32) -> f32 {
    if x.is_nan() || x <= 1.0e-38 {
        return -87.3;
    }
    ln_pos(x.min(f32::MAX))
}

/// [`fast_ln`] without the range checks, for `x` known to be positive, finite and normal.
/// Branch-free, so loops calling it vectorise.
#[inline(always)]
pub(crate) fn ln_pos(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let t = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000) - 1.0;
    let p = t * (0.999_495_56 + t * (-0.491_908_96 + t * (0.289_474_8 + t * (-0.136_062_75 + t * 0.032_158_45))));
    e as f32 * std::f32::consts::LN_2 + p
}

/// Logistic function `1 / (1 + e^−z)`, finite for every input (0 for NaN).
#[inline]
pub(crate) fn sigmoid(z: f32) -> f32 {
    if z.is_nan() {
        return 0.0;
    }
    1.0 / (1.0 + (-z.clamp(-60.0, 60.0)).exp())
}

/// `10·log10(x)` through [`fast_ln`] (about 5e-5 dB absolute error); −379 dB for `x ≤ 0`.
#[inline]
pub(crate) fn fast_db(x: f32) -> f32 {
    fast_ln(x) * (10.0 / std::f32::consts::LN_10)
}

/// `min(a, b)` as one `minps`-style compare and select: equal to [`f32::min`] unless `b` is
/// NaN (then `b`, where `f32::min` gives `a`). The per-bin loops' operands are finite, and
/// `f32::min`'s NaN handling costs three extra instructions per vector there.
#[inline(always)]
pub(crate) fn min_num(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// `max(a, b)` as one compare and select: equal to [`f32::max`] unless `b` is NaN (see
/// [`min_num`]).
#[inline(always)]
pub(crate) fn max_num(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}
