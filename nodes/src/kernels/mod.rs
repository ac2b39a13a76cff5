//! Sample kernels: the inner loops of the mixer, gain and codec edges.
//!
//! Every kernel exists twice: a SIMD version in [`simd`] (8-lane vectors from the `wide`
//! crate, which compile to SSE2 on x86_64 and NEON on aarch64) and a scalar twin in
//! [`scalar`]. The twins perform the same IEEE-754 operations in the same order, so their
//! results are identical bit for bit (NaN payloads aside, which no caller relies on); the
//! tests below check that on random data with NaN, ±Inf, huge values, subnormals and every
//! tail length.
//!
//! ## Dispatch
//! The functions at this module's top level are the ones the nodes call. The choice between
//! [`simd`] and [`scalar`] is made **once, at compile time** (see [`ACTIVE`]): SSE2 is part
//! of the x86_64 baseline and NEON of the aarch64 baseline, so there is nothing to detect
//! at run time, and a compile-time choice lets the kernels inline into their callers, which
//! matters for 80-sample frames where a call through a function pointer would cost as much
//! as the work. A build with `-C target-cpu=...` enabling AVX makes `wide` use 256-bit
//! registers automatically. Other architectures get the scalar twins.
//!
//! ## Conversions
//! * `i16 -> f32`: `x / 32768`, exact.
//! * `f32 -> i16`: `x * 32768`, NaN -> 0, clamp to `[-32768, 32767]`, round to nearest with
//!   ties to even. The clamp happens here, at the integer edge; everything upstream in the
//!   graph (notably the mixer) stays unclamped `f32`.
//!
//! ```
//! use rvoip_media_nodes::kernels;
//! let mut total = [0.0f32; 80];
//! let a = [0.25f32; 80];
//! let b = [0.5f32; 80];
//! kernels::accumulate(&mut total, &a);
//! kernels::accumulate(&mut total, &b);
//! let mut for_a = [0.0f32; 80];
//! kernels::minus_own(&mut for_a, &total, &a); // A hears everybody but A
//! assert!(for_a.iter().all(|&s| s == 0.5));
//! let mut pcm = [0i16; 80];
//! kernels::f32_to_i16(&mut pcm, &for_a);
//! assert!(pcm.iter().all(|&s| s == 16384));
//! ```

pub mod scalar;
pub mod simd;

/// Largest sample magnitude [`all_sane`] accepts: 2^20, about +120 dBFS. Legitimate audio
/// is within ±1 (plus the headroom of a few gain stages); anything beyond is garbage, and
/// bounding it keeps every sum of a realistic number of inputs finite.
pub const MAX_SANE: f32 = 1_048_576.0;

/// `i16 -> f32` scale, 1/32768.
pub const SCALE_FROM_I16: f32 = 1.0 / 32768.0;

/// `f32 -> i16` scale, 32768.
pub const SCALE_TO_I16: f32 = 32768.0;

/// Which kernel set the top-level functions use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSet {
    /// 8-lane `wide` vectors on SSE2 (x86_64).
    Sse2,
    /// 8-lane `wide` vectors on NEON (aarch64).
    Neon,
    /// The portable scalar twins.
    Scalar,
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use simd as active;
/// The kernel set chosen at compile time.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub const ACTIVE: KernelSet = KernelSet::Sse2;

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
use simd as active;
/// The kernel set chosen at compile time.
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub const ACTIVE: KernelSet = KernelSet::Neon;

#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
use scalar as active;
/// The kernel set chosen at compile time.
#[cfg(not(any(
    all(target_arch = "x86_64", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon")
)))]
pub const ACTIVE: KernelSet = KernelSet::Scalar;

/// `acc[i] += x[i]` over `min(acc.len(), x.len())` samples.
#[inline]
pub fn accumulate(acc: &mut [f32], x: &[f32]) {
    active::accumulate(acc, x)
}

/// `acc[i] += x[i]` and, in the same pass, [`all_sane`]`(x)`. On `false` the caller must
/// rebuild `acc` without `x`.
#[inline]
pub fn accumulate_sane(acc: &mut [f32], x: &[f32]) -> bool {
    active::accumulate_sane(acc, x)
}

/// Four inputs accumulated in one pass, each checked with [`all_sane`]; bit-identical to four
/// [`accumulate_sane`] calls in order, with a quarter of the accumulator traffic. The mixer's
/// main loop.
#[inline]
pub fn accumulate4_sane(acc: &mut [f32], x: [&[f32]; 4]) -> [bool; 4] {
    active::accumulate4_sane(acc, x)
}

/// `out[i] = total[i] - own[i]`: one participant's N-1 mix from the total of all inputs.
#[inline]
pub fn minus_own(out: &mut [f32], total: &[f32], own: &[f32]) {
    active::minus_own(out, total, own)
}

/// `out[i] = input[i] * gain`.
///
/// ```
/// let mut out = [0.0f32; 3];
/// rvoip_media_nodes::kernels::gain(&mut out, &[1.0, -0.5, 0.25], 2.0);
/// assert_eq!(out, [2.0, -1.0, 0.5]);
/// ```
#[inline]
pub fn gain(out: &mut [f32], input: &[f32], gain: f32) {
    active::gain(out, input, gain)
}

/// `buf[i] *= gain`.
#[inline]
pub fn gain_in_place(buf: &mut [f32], gain: f32) {
    active::gain_in_place(buf, gain)
}

/// `out[i] = input[i] * (g0 + step * (i + 1))`: a linear gain ramp that reaches
/// `g0 + step * n` on the last of `n` samples.
#[inline]
pub fn gain_ramp(out: &mut [f32], input: &[f32], g0: f32, step: f32) {
    active::gain_ramp(out, input, g0, step)
}

/// `out[i] = input[i] / 32768`, exact.
#[inline]
pub fn i16_to_f32(out: &mut [f32], input: &[i16]) {
    active::i16_to_f32(out, input)
}

/// `f32 -> i16`: scale by 32768, NaN -> 0, clamp to `[-32768, 32767]`, round ties to even.
///
/// ```
/// let mut out = [0i16; 4];
/// rvoip_media_nodes::kernels::f32_to_i16(&mut out, &[1.0, -1.0, f32::NAN, 0.5 / 32768.0]);
/// assert_eq!(out, [32767, -32768, 0, 0]);
/// ```
#[inline]
pub fn f32_to_i16(out: &mut [i16], input: &[f32]) {
    active::f32_to_i16(out, input)
}

/// `f32` to G.711 μ-law codes: [`f32_to_i16`]'s conversion (NaN -> 0, clamp, ties to
/// even), then the μ-law code of each sample, in one pass. Returns the count,
/// `min(out.len(), input.len())`.
///
/// ```
/// let mut codes = [0u8; 4];
/// let n = rvoip_media_nodes::kernels::f32_to_ulaw(&mut codes, &[0.0, 1000.0 / 32768.0, -1.0, 1.0]);
/// assert_eq!((n, codes), (4, [0xFF, 0xCE, 0x00, 0x80]));
/// ```
#[inline]
pub fn f32_to_ulaw(out: &mut [u8], input: &[f32]) -> usize {
    active::f32_to_ulaw(out, input)
}

/// Whether every sample is finite with magnitude at most [`MAX_SANE`].
///
/// ```
/// use rvoip_media_nodes::kernels::all_sane;
/// assert!(all_sane(&[0.0, 1.0, -3.5]));
/// assert!(!all_sane(&[0.0, f32::NAN]));
/// assert!(!all_sane(&[f32::INFINITY]));
/// assert!(!all_sane(&[1.0e30]));
/// ```
#[inline]
pub fn all_sane(x: &[f32]) -> bool {
    active::all_sane(x)
}

/// Non-finite samples to zero, the rest clamped to `±limit` (positive, finite), returning
/// the energy `Σ x²` of the result (summed in eight lanes; see
/// [`scalar::clamp_finite_energy`]). The VAD's input stage.
///
/// ```
/// let mut y = [0.0f32; 3];
/// let e = rvoip_media_nodes::kernels::clamp_finite_energy(&mut y, &[0.5, f32::INFINITY, -8.0], 4.0);
/// assert_eq!((y, e), ([0.5, 0.0, -4.0], 16.25));
/// ```
#[inline]
pub fn clamp_finite_energy(out: &mut [f32], x: &[f32], limit: f32) -> f32 {
    active::clamp_finite_energy(out, x, limit)
}

/// `Σ x²` (summed in eight lanes; see [`scalar::energy`]): a quantum's energy, for its
/// level ([`crate::level::mean_square`]).
///
/// ```
/// assert_eq!(rvoip_media_nodes::kernels::energy(&[0.5; 10]), 2.5);
/// assert!(rvoip_media_nodes::kernels::energy(&[0.0, f32::NAN]).is_nan());
/// ```
#[inline]
pub fn energy(x: &[f32]) -> f32 {
    active::energy(x)
}

/// Number of sign changes along `x` (`≥ 0` or not; NaN counts as negative), the first sample
/// compared with `prev`: a frame's zero crossings.
///
/// ```
/// assert_eq!(rvoip_media_nodes::kernels::sign_changes(0.0, &[-1.0, 1.0, 2.0, -0.5]), 3);
/// ```
#[inline]
pub fn sign_changes(prev: f32, x: &[f32]) -> u32 {
    active::sign_changes(prev, x)
}

/// The largest positive local maximum of `x` (`x[i] > x[i − 1]`, `x[i] ≥ x[i + 1]`, first
/// index among equals) and its value, or `None`: the VAD's pitch search over the
/// autocorrelation.
///
/// ```
/// let r = [1.0f32, 0.2, 0.5, 0.4, 0.7, 0.7, 0.1];
/// assert_eq!(rvoip_media_nodes::kernels::largest_local_max(&r), Some((4, 0.7)));
/// ```
#[inline]
pub fn largest_local_max(x: &[f32]) -> Option<(usize, f32)> {
    active::largest_local_max(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::SplitMix64;

    /// Deterministic test data.
    struct Rng(SplitMix64);
    impl Rng {
        /// Mostly ordinary samples, with NaN, ±Inf, huge, tiny, subnormal and exact
        /// rounding-tie values mixed in.
        fn sample(&mut self) -> f32 {
            let r = self.0.next_u64();
            match r % 16 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => f32::from_bits((r >> 32) as u32), // any bit pattern
                4 => ((r >> 40) as f32 - 8_388_608.0) * 1.0e30,
                5 => f32::from_bits((r >> 40) as u32 & 0x007f_ffff), // subnormal
                6 => (((r >> 40) as i32 % 70_000) as f32 + 0.5) / 32768.0, // ties
                7 => -0.0,
                _ => ((r >> 40) as f32 / 8_388_608.0 - 1.0) * 1.5,
            }
        }
        fn vec(&mut self, n: usize) -> Vec<f32> {
            (0..n).map(|_| self.sample()).collect()
        }
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn assert_same(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(same(*x, *y), "{what}: index {i}: simd {x:e} vs scalar {y:e}");
        }
    }

    const LENGTHS: [usize; 12] = [0, 1, 3, 7, 8, 9, 15, 16, 17, 80, 161, 1023];
    /// Random trials per length: fewer under Miri, which interprets every intrinsic.
    const TRIALS: usize = if cfg!(miri) { 2 } else { 20 };

    #[test]
    fn accumulate_and_minus_own_match_scalar() {
        let mut rng = Rng(SplitMix64::new(0x1234_5678_9abc_def1));
        for &n in &LENGTHS {
            for _ in 0..TRIALS {
                let x = rng.vec(n);
                let acc0 = rng.vec(n);
                let (mut a, mut b) = (acc0.clone(), acc0.clone());
                simd::accumulate(&mut a, &x);
                scalar::accumulate(&mut b, &x);
                assert_same(&a, &b, "accumulate");
                let (mut fa, mut fb) = (acc0.clone(), acc0.clone());
                let ra = simd::accumulate_sane(&mut fa, &x);
                let rb = scalar::accumulate_sane(&mut fb, &x);
                assert_eq!(ra, rb, "accumulate_sane flag");
                assert_eq!(ra, scalar::all_sane(&x), "accumulate_sane vs all_sane");
                assert_same(&fa, &a, "accumulate_sane vs accumulate");
                assert_same(&fb, &b, "accumulate_sane scalar");
                let sane: Vec<f32> = x.iter().map(|&v| if v.abs() <= 4.0 { v } else { 0.25 }).collect();
                let (mut fa, mut fb) = (acc0.clone(), acc0.clone());
                assert!(simd::accumulate_sane(&mut fa, &sane) && scalar::accumulate_sane(&mut fb, &sane));
                assert_same(&fa, &fb, "accumulate_sane on sane data");
                let xs = [rng.vec(n), sane.clone(), rng.vec(n), x.clone()];
                let xr = [&xs[0][..], &xs[1][..], &xs[2][..], &xs[3][..]];
                let (mut qa, mut qb, mut seq) = (acc0.clone(), acc0.clone(), acc0.clone());
                let fa = simd::accumulate4_sane(&mut qa, xr);
                let fb = scalar::accumulate4_sane(&mut qb, xr);
                let fs = xr.map(|x| scalar::accumulate_sane(&mut seq, x));
                assert_eq!(fa, fb, "accumulate4_sane flags");
                assert_eq!(fa, fs, "accumulate4_sane flags vs sequential");
                assert_same(&qa, &qb, "accumulate4_sane");
                assert_same(&qa, &seq, "accumulate4_sane vs sequential");
                let (mut oa, mut ob) = (vec![7.0; n], vec![7.0; n]);
                simd::minus_own(&mut oa, &acc0, &x);
                scalar::minus_own(&mut ob, &acc0, &x);
                assert_same(&oa, &ob, "minus_own");
            }
        }
    }

    #[test]
    fn gains_match_scalar() {
        let mut rng = Rng(SplitMix64::new(42));
        for &n in &LENGTHS {
            for _ in 0..TRIALS {
                let x = rng.vec(n);
                let g = rng.sample();
                let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
                simd::gain(&mut a, &x, g);
                scalar::gain(&mut b, &x, g);
                assert_same(&a, &b, "gain");
                let (mut a2, mut b2) = (x.clone(), x.clone());
                simd::gain_in_place(&mut a2, g);
                scalar::gain_in_place(&mut b2, g);
                assert_same(&a2, &b2, "gain_in_place");
                assert_same(&a2, &a, "gain vs gain_in_place");
                let (g0, step) = (rng.sample(), rng.sample() * 1.0e-3);
                simd::gain_ramp(&mut a, &x, g0, step);
                scalar::gain_ramp(&mut b, &x, g0, step);
                assert_same(&a, &b, "gain_ramp");
            }
        }
    }

    #[test]
    fn conversions_match_scalar_on_random_data() {
        let mut rng = Rng(SplitMix64::new(7));
        for &n in &LENGTHS {
            for _ in 0..TRIALS * 5 / 2 {
                let x = rng.vec(n);
                let (mut a, mut b) = (vec![1i16; n], vec![2i16; n]);
                simd::f32_to_i16(&mut a, &x);
                scalar::f32_to_i16(&mut b, &x);
                assert_eq!(a, b, "f32_to_i16 on {x:?}");
                let pcm: Vec<i16> = (0..n).map(|_| rng.0.next_u64() as i16).collect();
                let (mut fa, mut fb) = (vec![0.0; n], vec![0.0; n]);
                simd::i16_to_f32(&mut fa, &pcm);
                scalar::i16_to_f32(&mut fb, &pcm);
                assert_same(&fa, &fb, "i16_to_f32");
                assert_eq!(simd::all_sane(&x), scalar::all_sane(&x));
            }
        }
    }

    /// Every one of the 2^32 `f32` bit patterns would take too long in a debug test; this
    /// walks every pattern with a stride coprime to 2^32 plus the whole neighbourhood of the
    /// i16 range, where rounding and clamping decide.
    #[test]
    fn f32_to_i16_exact_over_bit_patterns() {
        // Under Miri a sparser walk of both (each stride still coprime to 2^32).
        let (stride, step) = if cfg!(miri) { (65_537 * 257, 61) } else { (65_537, 1) };
        let mut inputs: Vec<f32> = (0u64..(1 << 32)).step_by(stride).map(|b| f32::from_bits(b as u32)).collect();
        for k in (-32770i32..=32770).step_by(step) {
            let base = k as f32;
            for d in [-0.5f32, -0.25, 0.0, 0.25, 0.5] {
                inputs.push((base + d) / 32768.0);
            }
            inputs.push(f32::from_bits((base / 32768.0).to_bits().wrapping_add(1)));
            inputs.push(f32::from_bits((base / 32768.0).to_bits().wrapping_sub(1)));
        }
        let (mut a, mut b) = (vec![0i16; inputs.len()], vec![0i16; inputs.len()]);
        simd::f32_to_i16(&mut a, &inputs);
        scalar::f32_to_i16(&mut b, &inputs);
        for (i, x) in inputs.iter().enumerate() {
            assert_eq!(a[i], b[i], "input {x:e} ({:#x})", x.to_bits());
        }
        // The fused μ-law encoder on the same inputs: the G.191 code of the exact i16.
        let (mut ua, mut ub) = (vec![0u8; inputs.len()], vec![1u8; inputs.len()]);
        assert_eq!(simd::f32_to_ulaw(&mut ua, &inputs), inputs.len());
        assert_eq!(scalar::f32_to_ulaw(&mut ub, &inputs), inputs.len());
        for (i, x) in inputs.iter().enumerate() {
            let want = crate::g711::ulaw::encode_sample(b[i]);
            assert_eq!((ua[i], ub[i]), (want, want), "μ-law of {x:e} ({:#x})", x.to_bits());
        }
    }

    #[test]
    fn f32_to_ulaw_matches_scalar_at_every_tail_length() {
        let mut rng = Rng(SplitMix64::new(11));
        for n in (0..40).chain(LENGTHS) {
            for _ in 0..TRIALS {
                let x = rng.vec(n);
                // One byte more than the input: it must stay untouched.
                let (mut a, mut b) = (vec![0x55u8; n + 1], vec![0x55u8; n + 1]);
                assert_eq!(simd::f32_to_ulaw(&mut a, &x), n);
                assert_eq!(scalar::f32_to_ulaw(&mut b, &x), n);
                assert_eq!(a, b, "f32_to_ulaw on {x:?}");
                assert_eq!(a[n], 0x55);
            }
        }
    }

    #[test]
    fn f32_to_i16_reference_values() {
        // Independent expectations: f64 arithmetic, written out.
        let cases: [(f32, i16); 14] = [
            (0.0, 0),
            (-0.0, 0),
            (1.0, 32767),
            (-1.0, -32768),
            (0.5, 16384),
            (0.5 / 32768.0, 0),   // 0.5 -> even 0
            (1.5 / 32768.0, 2),   // 1.5 -> even 2
            (-2.5 / 32768.0, -2), // -2.5 -> even -2
            (32766.5 / 32768.0, 32766),
            (f32::NAN, 0),
            (f32::INFINITY, 32767),
            (f32::NEG_INFINITY, -32768),
            (f32::MAX, 32767),
            (1.0e-40, 0),
        ];
        for (x, want) in cases {
            let mut o = [0i16; 9];
            let input = [x; 9];
            f32_to_i16(&mut o, &input);
            assert!(o.iter().all(|&v| v == want), "{x:e}: got {o:?}, want {want}");
            assert_eq!(scalar::f32_to_i16_sample(x), want);
        }
    }

    #[test]
    fn i16_round_trip_is_exact() {
        // Every value; under Miri (which checks the kernels' memory accesses, not their
        // arithmetic, and takes minutes for all 65,536) every 251st: 262 values, so the
        // kernels' scalar tails run too.
        let stride = if cfg!(miri) { 251 } else { 1 };
        let pcm: Vec<i16> = (i16::MIN..=i16::MAX).step_by(stride).collect();
        let mut f = vec![0.0; pcm.len()];
        i16_to_f32(&mut f, &pcm);
        for (&p, &v) in pcm.iter().zip(&f) {
            assert_eq!(f64::from(v), f64::from(p) / 32768.0);
        }
        let mut back = vec![0i16; pcm.len()];
        f32_to_i16(&mut back, &f);
        assert_eq!(back, pcm);
    }

    #[test]
    fn all_sane_flags_each_position() {
        for n in [1usize, 7, 8, 9, 33] {
            for pos in 0..n {
                for bad in [f32::NAN, f32::INFINITY, -f32::INFINITY, 2.0 * MAX_SANE] {
                    let mut x = vec![0.5f32; n];
                    x[pos] = bad;
                    assert!(!simd::all_sane(&x) && !scalar::all_sane(&x), "n {n} pos {pos} {bad}");
                }
            }
            let mut x = vec![-MAX_SANE; n];
            assert!(simd::all_sane(&x) && scalar::all_sane(&x));
            x[n - 1] = MAX_SANE;
            assert!(all_sane(&x));
        }
        assert!(all_sane(&[]));
    }

    #[test]
    fn ramp_reaches_target() {
        let x = [1.0f32; 80];
        let mut o = [0.0f32; 80];
        gain_ramp(&mut o, &x, 0.0, 1.0 / 80.0);
        assert_eq!(o[79], 1.0);
        assert_eq!(o[39], 0.5);
        assert!(o.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn vad_kernels_match_scalar() {
        let mut rng = Rng(SplitMix64::new(0x5eed_0013));
        for &n in &LENGTHS {
            for _ in 0..TRIALS {
                // clamp_finite_energy: random data with every special value.
                let x = rng.vec(n);
                let (mut a, mut b) = (vec![f32::NAN; n], vec![f32::NAN; n]);
                let (ea, eb) =
                    (simd::clamp_finite_energy(&mut a, &x, 4.0), scalar::clamp_finite_energy(&mut b, &x, 4.0));
                assert_same(&a, &b, "clamp_finite_energy output");
                assert!(same(ea, eb), "clamp_finite_energy energy: simd {ea:e} vs scalar {eb:e}");
                assert!(b.iter().all(|v| v.is_finite() && v.abs() <= 4.0));
                // energy on the raw data and on the clamped.
                let (ea, eb) = (simd::energy(&x), scalar::energy(&x));
                assert!(same(ea, eb), "energy: simd {ea:e} vs scalar {eb:e}");
                assert!(same(simd::energy(&b), scalar::energy(&b)), "energy of sane data");
                // sign_changes on the raw data (NaN, ±0) and on speech-like data.
                let prev = rng.sample();
                assert_eq!(simd::sign_changes(prev, &x), scalar::sign_changes(prev, &x), "sign_changes");
                assert_eq!(simd::sign_changes(prev, &b), scalar::sign_changes(prev, &b), "sign_changes sane");
                // largest_local_max: raw data, and a smooth curve with ties and several
                // equal peaks (the first must win in both).
                assert_eq!(simd::largest_local_max(&x), scalar::largest_local_max(&x), "largest_local_max raw");
                let q: Vec<f32> = (0..n)
                    .map(|i| ((i as f32 * 0.7 + rng.sample().abs().min(3.0)).sin() * 4.0).round() / 4.0)
                    .collect();
                let (sa, sb) = (simd::largest_local_max(&q), scalar::largest_local_max(&q));
                assert_eq!(sa, sb, "largest_local_max on {q:?}");
            }
        }
        // Independent expectations for the search: the first of two equal peaks, a peak in
        // the tail after whole blocks, a plateau (x[i] ≥ x[i + 1] holds at its first sample).
        let mut r = vec![0.0f32; 30];
        r[5] = 2.0;
        r[20] = 2.0;
        assert_eq!(largest_local_max(&r), Some((5, 2.0)));
        r[27] = 3.0;
        assert_eq!(largest_local_max(&r), Some((27, 3.0)));
        r[12] = 5.0;
        r[13] = 5.0;
        assert_eq!(largest_local_max(&r), Some((12, 5.0)));
        assert_eq!(largest_local_max(&[0.0, -1.0, -0.5, -2.0]), None);
        assert_eq!(largest_local_max(&[1.0, 2.0]), None);
        // Crossings: a sine of 8 periods over 160 samples crosses 16 times.
        let s: Vec<f32> =
            (0..160).map(|i| (2.0 * std::f32::consts::PI * 8.0 * (i as f32 + 0.5) / 160.0).sin()).collect();
        assert_eq!(sign_changes(-1.0, &s), 16);
    }
}
