//! SIMD kernels on [`wide`]'s 8-lane vectors: SSE2 on x86_64 (two `__m128` per vector, or
//! one `__m256` when built with AVX enabled), NEON on aarch64 (two `float32x4_t`).
//!
//! Each function walks the slices in blocks of 8 and finishes the tail (0..7 samples) with
//! its scalar twin from [`super::scalar`]. Only operations whose results IEEE-754 fixes
//! exactly are used (add, sub, mul, compare, bitwise), so the output equals the scalar
//! twin bit for bit; in [`f32_to_i16`] NaN is zeroed before the clamp because `min`/`max`
//! treat NaN differently on SSE and NEON, and the conversion rounds ties to even on both
//! (`cvtps2dq` under the default MXCSR, `fcvtns`).
//! All functions process `min` of the slice lengths and never panic.

use super::{scalar, MAX_SANE, SCALE_FROM_I16, SCALE_TO_I16};
use crate::g711::ulaw::{BIAS as ULAW_BIAS, CLIP as ULAW_CLIP, TOP_OFFSET as ULAW_TOP_OFFSET};
use wide::{f32x8, i16x8, i32x8, u8x16};

const L: usize = 8;

#[inline(always)]
fn load(c: &[f32]) -> f32x8 {
    // `c` comes from `chunks_exact(L)`; the fallback is unreachable and optimised out.
    let a: [f32; L] = c.try_into().unwrap_or([0.0; L]);
    f32x8::new(a)
}

#[inline(always)]
fn store(c: &mut [f32], v: f32x8) {
    for (d, s) in c.iter_mut().zip(v.to_array()) {
        *d = s;
    }
}

/// `acc[i] += x[i]`; see [`scalar::accumulate`].
///
/// ```
/// use rvoip_media_nodes::kernels::simd;
/// let mut acc = vec![1.0f32; 11];
/// simd::accumulate(&mut acc, &[0.5; 11]);
/// assert!(acc.iter().all(|&v| v == 1.5));
/// ```
pub fn accumulate(acc: &mut [f32], x: &[f32]) {
    let n = acc.len().min(x.len());
    let (acc, x) = (&mut acc[..n], &x[..n]);
    let mut a = acc.chunks_exact_mut(L);
    let mut b = x.chunks_exact(L);
    for (ca, cb) in (&mut a).zip(&mut b) {
        store(ca, load(ca) + load(cb));
    }
    scalar::accumulate(a.into_remainder(), b.remainder());
}

/// `acc[i] += x[i]`, returning whether `x` is sane; see [`scalar::accumulate_sane`].
pub fn accumulate_sane(acc: &mut [f32], x: &[f32]) -> bool {
    let n = acc.len().min(x.len());
    let (acc, x) = (&mut acc[..n], &x[..n]);
    let limit = f32x8::splat(MAX_SANE);
    let mut ok = f32x8::splat(0.0).simd_eq(f32x8::splat(0.0));
    let mut a = acc.chunks_exact_mut(L);
    let mut b = x.chunks_exact(L);
    for (ca, cb) in (&mut a).zip(&mut b) {
        let v = load(cb);
        ok &= v.abs().simd_le(limit);
        store(ca, load(ca) + v);
    }
    ok.all() & scalar::accumulate_sane(a.into_remainder(), b.remainder())
}

/// Four inputs at once; see [`scalar::accumulate4_sane`].
pub fn accumulate4_sane(acc: &mut [f32], x: [&[f32]; 4]) -> [bool; 4] {
    let n = x.iter().fold(acc.len(), |n, s| n.min(s.len()));
    let acc = &mut acc[..n];
    let [x0, x1, x2, x3] = x.map(|s| &s[..n]);
    let limit = f32x8::splat(MAX_SANE);
    let all = f32x8::splat(0.0).simd_eq(f32x8::splat(0.0));
    let mut ok = [all; 4];
    let full = n - n % L;
    let mut a = acc.chunks_exact_mut(L);
    let it = x0.chunks_exact(L).zip(x1.chunks_exact(L)).zip(x2.chunks_exact(L)).zip(x3.chunks_exact(L));
    for (ca, (((c0, c1), c2), c3)) in (&mut a).zip(it) {
        let v = [load(c0), load(c1), load(c2), load(c3)];
        for (o, s) in ok.iter_mut().zip(v) {
            *o &= s.abs().simd_le(limit);
        }
        store(ca, load(ca) + v[0] + v[1] + v[2] + v[3]);
    }
    let tail = scalar::accumulate4_sane(a.into_remainder(), [&x0[full..], &x1[full..], &x2[full..], &x3[full..]]);
    [ok[0].all() & tail[0], ok[1].all() & tail[1], ok[2].all() & tail[2], ok[3].all() & tail[3]]
}

/// `out[i] = total[i] - own[i]`; see [`scalar::minus_own`].
pub fn minus_own(out: &mut [f32], total: &[f32], own: &[f32]) {
    let n = out.len().min(total.len()).min(own.len());
    let (out, total, own) = (&mut out[..n], &total[..n], &own[..n]);
    let mut o = out.chunks_exact_mut(L);
    let mut t = total.chunks_exact(L);
    let mut w = own.chunks_exact(L);
    for ((co, ct), cw) in (&mut o).zip(&mut t).zip(&mut w) {
        store(co, load(ct) - load(cw));
    }
    scalar::minus_own(o.into_remainder(), t.remainder(), w.remainder());
}

/// `out[i] = input[i] * gain`; see [`scalar::gain`].
pub fn gain(out: &mut [f32], input: &[f32], gain: f32) {
    let n = out.len().min(input.len());
    let (out, input) = (&mut out[..n], &input[..n]);
    let g = f32x8::splat(gain);
    let mut o = out.chunks_exact_mut(L);
    let mut i = input.chunks_exact(L);
    for (co, ci) in (&mut o).zip(&mut i) {
        store(co, load(ci) * g);
    }
    scalar::gain(o.into_remainder(), i.remainder(), gain);
}

/// `buf[i] *= gain`; see [`scalar::gain_in_place`].
pub fn gain_in_place(buf: &mut [f32], gain: f32) {
    let g = f32x8::splat(gain);
    let mut o = buf.chunks_exact_mut(L);
    for co in &mut o {
        store(co, load(co) * g);
    }
    scalar::gain_in_place(o.into_remainder(), gain);
}

/// Linear gain ramp; see [`scalar::gain_ramp`].
pub fn gain_ramp(out: &mut [f32], input: &[f32], g0: f32, step: f32) {
    let n = out.len().min(input.len());
    let (out, input) = (&mut out[..n], &input[..n]);
    let lane = f32x8::new([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    let (g0v, stepv) = (f32x8::splat(g0), f32x8::splat(step));
    let mut o = out.chunks_exact_mut(L);
    let mut i = input.chunks_exact(L);
    let mut base = 0usize;
    for (co, ci) in (&mut o).zip(&mut i) {
        // `base as f32 + k` is exact below 2^24, matching the scalar `(i + 1) as f32`.
        let idx = f32x8::splat(base as f32) + lane;
        store(co, load(ci) * (g0v + stepv * idx));
        base += L;
    }
    // The tail continues the same ramp: index `base + k + 1`.
    for (k, (d, &v)) in o.into_remainder().iter_mut().zip(i.remainder()).enumerate() {
        *d = v * (g0 + step * (base + k + 1) as f32);
    }
}

/// `out[i] = input[i] / 32768`; see [`scalar::i16_to_f32`].
pub fn i16_to_f32(out: &mut [f32], input: &[i16]) {
    let n = out.len().min(input.len());
    let (out, input) = (&mut out[..n], &input[..n]);
    let s = f32x8::splat(SCALE_FROM_I16);
    let mut o = out.chunks_exact_mut(L);
    let mut i = input.chunks_exact(L);
    for (co, ci) in (&mut o).zip(&mut i) {
        let a: [i16; L] = ci.try_into().unwrap_or([0; L]);
        let v = i32x8::from_i16x8(i16x8::new(a)).round_float();
        store(co, v * s);
    }
    scalar::i16_to_f32(o.into_remainder(), i.remainder());
}

/// [`f32_to_i16`]'s sample in each 32-bit lane: scaled, NaN to +0, clamped to the i16 range
/// and rounded to even (the one conversion [`f32_to_i16`] and [`f32_to_ulaw`] share).
#[inline(always)]
fn i16_lanes(x: f32x8) -> i32x8 {
    let m = x * f32x8::splat(SCALE_TO_I16);
    // All-ones lanes where `m` is a number, zero where NaN: NaN lanes become +0.0.
    let m = m & m.simd_eq(m);
    // No NaN or overflow is left for `round_int`'s fix-ups.
    m.fast_max(f32x8::splat(-32768.0)).fast_min(f32x8::splat(32767.0)).fast_round_int()
}

/// Round to nearest (ties to even), clamp to `[-32768, 32767]`, NaN -> 0; see
/// [`scalar::f32_to_i16`]. Identical to the scalar twin for every input.
///
/// ```
/// use rvoip_media_nodes::kernels::simd;
/// let x = [0.5f32, -1.0, 2.0, f32::NAN, f32::NEG_INFINITY, 1.5 / 32768.0, 2.5 / 32768.0, -0.0, 1.0];
/// let mut y = [0i16; 9];
/// simd::f32_to_i16(&mut y, &x);
/// assert_eq!(y, [16384, -32768, 32767, 0, -32768, 2, 2, 0, 32767]);
/// ```
pub fn f32_to_i16(out: &mut [i16], input: &[f32]) {
    let n = out.len().min(input.len());
    let (out, input) = (&mut out[..n], &input[..n]);
    let convert = |x: f32x8| i16x8::from_i32x8_saturate(i16_lanes(x)).to_array();
    let mut o = out.chunks_exact_mut(L);
    let mut i = input.chunks_exact(L);
    for (co, ci) in (&mut o).zip(&mut i) {
        co.copy_from_slice(&convert(load(ci)));
    }
    // The tail (a 20-sample G.711 frame leaves 4) goes through one padded vector too: the
    // scalar twin's rounding is a libm call per sample on SSE2.
    let (ro, ri) = (o.into_remainder(), i.remainder());
    if !ri.is_empty() {
        let mut pad = [0.0f32; L];
        pad[..ri.len()].copy_from_slice(ri);
        ro.copy_from_slice(&convert(load(&pad))[..ro.len()]);
    }
}

/// `f32` to G.711 μ-law codes in one pass: [`f32_to_i16`]'s conversion, then the μ-law
/// encoder's arithmetic on the same 32-bit lanes (no `i16` buffer in between), 16 samples
/// per step; see [`scalar::f32_to_ulaw`]. Returns the count.
///
/// ```
/// use rvoip_media_nodes::kernels::simd;
/// let mut codes = [0u8; 3];
/// simd::f32_to_ulaw(&mut codes, &[0.0, 1000.0 / 32768.0, f32::NAN]);
/// assert_eq!(codes, [0xFF, 0xCE, 0xFF]);
/// ```
pub fn f32_to_ulaw(out: &mut [u8], input: &[f32]) -> usize {
    const B: usize = 2 * L;
    let n = out.len().min(input.len());
    let (out, input) = (&mut out[..n], &input[..n]);
    let codes = |x: f32x8| {
        let v = i16_lanes(x);
        // As `g711::ulaw`'s encoder: magnitude (one's complement of a negative sample),
        // biased and clipped, its f32 exponent and top 4 mantissa bits giving segment and
        // mantissa; the code is those 7 bits inverted, with 0x80 for a non-negative sample.
        // The clip is taken on the f32 (exact: integers below 2^24), where SSE2 has a `min`.
        let negative = v >> 31_i32;
        let biased = (((v ^ negative) >> 2_i32) + i32x8::splat(ULAW_BIAS)).round_float();
        let clipped = biased.fast_min(f32x8::splat(ULAW_CLIP as f32));
        let top = wide::bytemuck::cast::<f32x8, i32x8>(clipped) >> 19_i32;
        let seg_mantissa = top - i32x8::splat(ULAW_TOP_OFFSET);
        i16x8::from_i32x8_saturate(seg_mantissa ^ (i32x8::splat(0xFF) ^ (negative & i32x8::splat(0x80))))
    };
    let block = |c: &[f32]| u8x16::narrow_i16x8(codes(load(&c[..L])), codes(load(&c[L..]))).to_array();
    let mut o = out.chunks_exact_mut(B);
    let mut i = input.chunks_exact(B);
    for (co, ci) in (&mut o).zip(&mut i) {
        co.copy_from_slice(&block(ci));
    }
    // The tail (a 10 ms frame at 8 kHz leaves none) through one padded block too.
    let (ro, ri) = (o.into_remainder(), i.remainder());
    if !ri.is_empty() {
        let mut pad = [0.0f32; B];
        pad[..ri.len()].copy_from_slice(ri);
        ro.copy_from_slice(&block(&pad)[..ro.len()]);
    }
    n
}

/// Whether every sample is finite with magnitude at most [`MAX_SANE`]; see
/// [`scalar::all_sane`].
pub fn all_sane(x: &[f32]) -> bool {
    let limit = f32x8::splat(MAX_SANE);
    let mut ok = f32x8::splat(0.0).simd_eq(f32x8::splat(0.0));
    let mut c = x.chunks_exact(L);
    for ci in &mut c {
        // Compare is false for NaN, so NaN, ±Inf and huge values all clear the mask.
        ok &= load(ci).abs().simd_le(limit);
    }
    ok.all() && scalar::all_sane(c.remainder())
}

/// `x` to `out` with non-finite samples zeroed and the rest clamped to `±limit`, returning
/// the energy; see [`scalar::clamp_finite_energy`] (same lanes, same order of additions).
pub fn clamp_finite_energy(out: &mut [f32], x: &[f32], limit: f32) -> f32 {
    let n = out.len().min(x.len());
    let (lo, hi) = (f32x8::splat(-limit), f32x8::splat(limit));
    let mut e = f32x8::splat(0.0);
    let mut blocks = out[..n].chunks_exact_mut(L);
    let mut src = x[..n].chunks_exact(L);
    for (b, s) in (&mut blocks).zip(&mut src) {
        let v = load(s);
        // Finite lanes are numbers, so `fast_max` / `fast_min` clamp them exactly as the
        // scalar `max` / `min`; the mask zeroes NaN and ±Inf lanes (+0.0, as the twin).
        let y = v.fast_max(lo).fast_min(hi) & v.is_finite();
        store(b, y);
        e += y * y;
    }
    let mut e = e.to_array();
    // The tail goes into lane 0 one sample at a time, as in the twin.
    for (o, v) in blocks.into_remainder().iter_mut().zip(src.remainder()) {
        let y = scalar::clamp_finite(*v, limit);
        *o = y;
        e[0] += y * y;
    }
    e.iter().sum()
}

/// `Σ x²` in eight lanes; see [`scalar::energy`] (same lanes, same order of additions).
pub fn energy(x: &[f32]) -> f32 {
    let mut e = f32x8::splat(0.0);
    let mut blocks = x.chunks_exact(L);
    for b in &mut blocks {
        let v = load(b);
        e += v * v;
    }
    let mut e = e.to_array();
    for v in blocks.remainder() {
        e[0] += v * v;
    }
    e.iter().sum()
}

/// Number of sign changes along `x`, starting from `prev`; see [`scalar::sign_changes`].
pub fn sign_changes(prev: f32, x: &[f32]) -> u32 {
    let zero = f32x8::splat(0.0);
    let mut last = u32::from(prev >= 0.0);
    let mut n = 0;
    let mut blocks = x.chunks_exact(L);
    for b in &mut blocks {
        // Bit i set where sample i is ≥ 0 (compare is false for NaN, as in the twin).
        let m = load(b).simd_ge(zero).to_bitmask();
        let before = ((m << 1) | last) & 0xff;
        n += (m ^ before).count_ones();
        last = (m >> 7) & 1;
    }
    let rest = blocks.remainder();
    let prev = if last == 1 { 0.0 } else { -1.0 };
    n + scalar::sign_changes(prev, rest)
}

/// The largest positive local maximum and its index; see [`scalar::largest_local_max`].
pub fn largest_local_max(x: &[f32]) -> Option<(usize, f32)> {
    let windows = x.len().saturating_sub(2);
    let full = windows / L;
    // Candidate values of block `j`: `x[i]` where it is a local maximum, else +0.0 (never
    // NaN: a NaN centre or neighbour fails the compares).
    let candidates = |j: usize| {
        let s = j * L;
        let (a, b, c) = (load(&x[s..s + L]), load(&x[s + 1..s + 1 + L]), load(&x[s + 2..s + 2 + L]));
        b & (b.simd_gt(a) & b.simd_ge(c))
    };
    let mut top = f32x8::splat(0.0);
    for j in 0..full {
        top = top.fast_max(candidates(j));
    }
    let top = top.to_array().iter().fold(0.0f32, |m, &v| if v > m { v } else { m });
    // The windows after the whole blocks, through the twin (its indices are relative).
    let tail = scalar::largest_local_max(&x[full * L..]).map(|(i, v)| (i + full * L, v));
    if top > 0.0 && tail.map_or(true, |(_, v)| top >= v) {
        // The first lane holding the maximum: same index as the twin's first strict maximum.
        let t = f32x8::splat(top);
        for j in 0..full {
            let m = candidates(j).simd_eq(t).to_bitmask();
            if m != 0 {
                return Some((j * L + m.trailing_zeros() as usize + 1, top));
            }
        }
    }
    tail
}
