//! Portable scalar kernels: the reference twins of [`super::simd`].
//!
//! Every function here computes, element by element, exactly the IEEE-754 operations its SIMD
//! twin performs lane by lane (same operations, same order, no fused multiply-add), so the two
//! agree bit for bit on every input; the equivalence tests in `kernels` check that.
//! All functions process `min` of the slice lengths and never panic.

use super::{MAX_SANE, SCALE_FROM_I16, SCALE_TO_I16};

/// `acc[i] += x[i]`.
///
/// ```
/// let mut acc = [1.0f32, 2.0];
/// rvoip_media_nodes::kernels::scalar::accumulate(&mut acc, &[0.5, -2.0]);
/// assert_eq!(acc, [1.5, 0.0]);
/// ```
pub fn accumulate(acc: &mut [f32], x: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += v;
    }
}

/// `acc[i] += x[i]`, returning [`all_sane`]`(x)`: the mixer's accumulate and input check
/// in one pass. When it returns `false`, `acc` has absorbed the bad values and must be
/// rebuilt by the caller.
pub fn accumulate_sane(acc: &mut [f32], x: &[f32]) -> bool {
    let n = acc.len().min(x.len());
    let mut ok = true;
    for (a, &v) in acc[..n].iter_mut().zip(&x[..n]) {
        ok &= v.abs() <= MAX_SANE;
        *a += v;
    }
    ok
}

/// Four inputs at once: `acc[i] = (((acc[i] + x0[i]) + x1[i]) + x2[i]) + x3[i]` — the same
/// additions in the same order as four calls to [`accumulate_sane`], so the same result —
/// returning [`all_sane`] of each input. The accumulator is loaded and stored once per four
/// inputs instead of four times.
pub fn accumulate4_sane(acc: &mut [f32], x: [&[f32]; 4]) -> [bool; 4] {
    let n = x.iter().fold(acc.len(), |n, s| n.min(s.len()));
    let mut ok = [true; 4];
    for (i, a) in acc[..n].iter_mut().enumerate() {
        let v = [x[0][i], x[1][i], x[2][i], x[3][i]];
        for (o, s) in ok.iter_mut().zip(v) {
            *o &= s.abs() <= MAX_SANE;
        }
        *a = *a + v[0] + v[1] + v[2] + v[3];
    }
    ok
}

/// `out[i] = total[i] - own[i]`: the N-1 mix of one participant.
pub fn minus_own(out: &mut [f32], total: &[f32], own: &[f32]) {
    for ((o, &t), &v) in out.iter_mut().zip(total).zip(own) {
        *o = t - v;
    }
}

/// `out[i] = input[i] * gain`.
pub fn gain(out: &mut [f32], input: &[f32], gain: f32) {
    for (o, &v) in out.iter_mut().zip(input) {
        *o = v * gain;
    }
}

/// `buf[i] *= gain`.
pub fn gain_in_place(buf: &mut [f32], gain: f32) {
    for v in buf.iter_mut() {
        *v *= gain;
    }
}

/// Linear gain ramp: `out[i] = input[i] * (g0 + step * (i + 1))`, so the last of `n` samples
/// gets `g0 + step * n`. Callers pass `step = (g1 - g0) / n` to reach `g1` at the end.
pub fn gain_ramp(out: &mut [f32], input: &[f32], g0: f32, step: f32) {
    for (i, (o, &v)) in out.iter_mut().zip(input).enumerate() {
        *o = v * (g0 + step * (i + 1) as f32);
    }
}

/// `out[i] = input[i] / 32768` (exact: every `i16` is representable and the scale is a power
/// of two).
pub fn i16_to_f32(out: &mut [f32], input: &[i16]) {
    for (o, &v) in out.iter_mut().zip(input) {
        *o = f32::from(v) * SCALE_FROM_I16;
    }
}

/// One sample of [`f32_to_i16`].
#[inline]
pub fn f32_to_i16_sample(x: f32) -> i16 {
    let m = x * SCALE_TO_I16;
    // NaN -> 0 first, so that the clamp below only ever sees numbers.
    let m = if m.is_nan() { 0.0 } else { m };
    let m = if m < -32768.0 { -32768.0 } else { m };
    let m = if m > 32767.0 { 32767.0 } else { m };
    m.round_ties_even() as i16
}

/// `out[i] = round_ties_even(clamp(input[i] * 32768, -32768, 32767))`, NaN -> 0.
pub fn f32_to_i16(out: &mut [i16], input: &[f32]) {
    for (o, &v) in out.iter_mut().zip(input) {
        *o = f32_to_i16_sample(v);
    }
}

/// One sample of [`f32_to_ulaw`]: the μ-law code of [`f32_to_i16_sample`]`(x)` (the
/// loop-free encoder of [`crate::g711::ulaw`], equal to the G.191 segment search on every
/// input).
#[inline]
pub fn f32_to_ulaw_sample(x: f32) -> u8 {
    crate::g711::ulaw::enc(f32_to_i16_sample(x))
}

/// `f32` to G.711 μ-law codes: [`f32_to_i16`] then the μ-law encoder, per sample. Returns
/// the count, `min(out.len(), input.len())`.
pub fn f32_to_ulaw(out: &mut [u8], input: &[f32]) -> usize {
    let n = out.len().min(input.len());
    for (o, &v) in out[..n].iter_mut().zip(&input[..n]) {
        *o = f32_to_ulaw_sample(v);
    }
    n
}

/// Whether every sample is finite with magnitude at most [`MAX_SANE`].
pub fn all_sane(x: &[f32]) -> bool {
    // `<=` is false for NaN, so NaN is caught without a separate test.
    x.iter().fold(true, |ok, v| ok & (v.abs() <= MAX_SANE))
}

/// One sample of [`clamp_finite_energy`]: zero for NaN and ±Inf, else `x` clamped to
/// `±limit`.
#[inline(always)]
pub(super) fn clamp_finite(x: f32, limit: f32) -> f32 {
    if x.is_finite() {
        x.max(-limit).min(limit)
    } else {
        0.0
    }
}

/// Writes `x` to `out` with every non-finite sample replaced by zero and the rest clamped to
/// `±limit` (`limit` positive and finite), over `min` of the two lengths, returning the
/// energy `Σ out²`. The squares are summed in eight lanes — sample `i` of each whole block of
/// eight into lane `i % 8`, the tail into lane 0 — and the lanes added in order at the end.
///
/// ```
/// let mut y = [0.0f32; 4];
/// let e = rvoip_media_nodes::kernels::scalar::clamp_finite_energy(&mut y, &[3.0, f32::NAN, -9.0, 1.0], 4.0);
/// assert_eq!(y, [3.0, 0.0, -4.0, 1.0]);
/// assert_eq!(e, 26.0);
/// ```
pub fn clamp_finite_energy(out: &mut [f32], x: &[f32], limit: f32) -> f32 {
    let n = out.len().min(x.len());
    let mut e = [0.0f32; 8];
    let mut blocks = out[..n].chunks_exact_mut(8);
    let mut src = x[..n].chunks_exact(8);
    for (b, v) in (&mut blocks).zip(&mut src) {
        for ((o, v), acc) in b.iter_mut().zip(v).zip(e.iter_mut()) {
            let y = clamp_finite(*v, limit);
            *o = y;
            *acc += y * y;
        }
    }
    for (o, v) in blocks.into_remainder().iter_mut().zip(src.remainder()) {
        let y = clamp_finite(*v, limit);
        *o = y;
        e[0] += y * y;
    }
    e.iter().sum()
}

/// `Σ x²`, summed in eight lanes (sample `k` into lane `k % 8` for the whole blocks, the
/// tail into lane 0) and the lanes added in order: the order the SIMD twin adds in. NaN or
/// ±Inf in `x` gives NaN or +Inf, as a plain sum would.
///
/// ```
/// assert_eq!(rvoip_media_nodes::kernels::scalar::energy(&[3.0, -4.0]), 25.0);
/// ```
pub fn energy(x: &[f32]) -> f32 {
    let mut e = [0.0f32; 8];
    let mut blocks = x.chunks_exact(8);
    for b in &mut blocks {
        for (acc, v) in e.iter_mut().zip(b) {
            *acc += v * v;
        }
    }
    for v in blocks.remainder() {
        e[0] += v * v;
    }
    e.iter().sum()
}

/// Number of sign changes along `x` (each sample `≥ 0` or not, NaN counting as negative),
/// the first sample compared with `prev`: the zero-crossing count of a frame.
///
/// ```
/// use rvoip_media_nodes::kernels::scalar::sign_changes;
/// assert_eq!(sign_changes(1.0, &[0.5, -0.5, -1.0, 0.0]), 2);
/// assert_eq!(sign_changes(-1.0, &[0.5]), 1);
/// ```
pub fn sign_changes(prev: f32, x: &[f32]) -> u32 {
    let mut last = prev >= 0.0;
    let mut n = 0;
    for &v in x {
        let s = v >= 0.0;
        n += u32::from(s != last);
        last = s;
    }
    n
}

/// The largest positive local maximum of `x`: the index `i` (`1 ≤ i ≤ len − 2`) with
/// `x[i] > x[i − 1]`, `x[i] ≥ x[i + 1]` and the largest such `x[i] > 0` (the first among
/// equals), with its value; `None` if there is none. The pitch search of the VAD.
///
/// ```
/// use rvoip_media_nodes::kernels::scalar::largest_local_max;
/// assert_eq!(largest_local_max(&[0.0, 2.0, 1.0, 3.0, 3.0, 0.0]), Some((3, 3.0)));
/// assert_eq!(largest_local_max(&[3.0, 2.0, 1.0]), None);
/// ```
pub fn largest_local_max(x: &[f32]) -> Option<(usize, f32)> {
    let (mut top_v, mut top_i) = (0.0f32, 0usize);
    for (i, w) in x.windows(3).enumerate() {
        let v = if w[1] > w[0] && w[1] >= w[2] { w[1] } else { 0.0 };
        if v > top_v {
            top_v = v;
            top_i = i + 1;
        }
    }
    (top_i > 0).then_some((top_i, top_v))
}
