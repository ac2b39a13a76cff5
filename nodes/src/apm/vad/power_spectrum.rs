//! Power spectrum of a real frame from a half-length complex transform, computed only as
//! powers.
//!
//! A real frame of `n` samples, packed as `n / 2` complex samples (even samples as real
//! parts, odd as imaginary), goes through one complex FFT of `n / 2` points; the real
//! spectrum's bins follow from pairs `Z[k]`, `Z[n/2 − k]` and a twiddle (the usual packing).
//! This is what `realfft` does, with the same operations in the same order — so the powers
//! equal `|X[k]|²` of `realfft`'s spectrum bit for bit (test below) — but the pair loop runs in
//! blocks of eight lanes that vectorise and writes the powers directly, where the generic
//! post-processing ran one complex bin at a time and a second pass took the squared norms.

use super::super::fft::Cpx;
use realfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// `e^{−2πik/n}` for `k` = 1..n/4, computed as `realfft` computes its twiddles (in `f64`,
/// rounded to `f32`), so transforms built on them match `realfft` bit for bit.
pub(super) fn realfft_twiddles(n: usize) -> impl Iterator<Item = Cpx> {
    (1..n / 4).map(move |i| {
        let angle = -2.0 * std::f64::consts::PI / n as f64 * i as f64;
        Complex::new(angle.cos() as f32, angle.sin() as f32)
    })
}

/// A planned transform of `n` real samples and its buffers.
pub(crate) struct PowerSpectrum {
    fft: Arc<dyn Fft<f32>>,
    /// `e^{−2πik/n} / 2` for `k` = 1..n/4, as `realfft` computes them.
    twiddles: Vec<Cpx>,
    input: Vec<Cpx>,
    half: Vec<Cpx>,
    scratch: Vec<Cpx>,
}

impl PowerSpectrum {
    /// Plans a transform of `n` real samples (`n` a multiple of 4, ≥ 8).
    pub(crate) fn new(n: usize) -> Self {
        let m = n / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(m);
        let twiddles = realfft_twiddles(n).map(|t| t * 0.5).collect();
        let scratch = vec![Cpx::new(0.0, 0.0); fft.get_outofplace_scratch_len()];
        PowerSpectrum { fft, twiddles, input: vec![Cpx::new(0.0, 0.0); m], half: vec![Cpx::new(0.0, 0.0); m], scratch }
    }

    /// The packed input to fill before [`Self::power`]: sample `2j` in `[j].re`, `2j + 1` in
    /// `[j].im`. The transform uses it as scratch.
    pub(crate) fn input(&mut self) -> &mut [Cpx] {
        &mut self.input
    }

    /// `out[k] = |X[k]|²·scale + floor` for all `n / 2 + 1` bins.
    #[inline(always)]
    pub(crate) fn power(&mut self, scale: f32, floor: f32, out: &mut [f32]) {
        let m = self.half.len();
        if out.len() != m + 1 {
            return;
        }
        self.fft.process_outofplace_with_scratch(&mut self.input, &mut self.half, &mut self.scratch);
        let z = &self.half;
        let p = |re: f32, im: f32| (re * re + im * im) * scale + floor;
        // Bins 0 and n/2 from the first value; the centre bin is Z[m/2] conjugated.
        out[0] = p(z[0].re + z[0].im, 0.0);
        out[m] = p(z[0].re - z[0].im, 0.0);
        out[m / 2] = p(z[m / 2].re, -z[m / 2].im);
        // Pairs (k, m − k) for k = 1..m/2: both bins of a pair from Z[k], Z[m − k] and the
        // twiddle, in `realfft`'s order of operations.
        let pair = |zo: Cpx, zr: Cpx, t: Cpx| {
            let (sr, si) = (zo.re + zr.re, zo.im + zr.im);
            let (dr, di) = (zo.re - zr.re, zo.im - zr.im);
            let half_sum_re = 0.5 * sr;
            let half_diff_im = 0.5 * di;
            let twr = si * t.re + dr * t.im;
            let twi = si * t.im - dr * t.re;
            (p(half_sum_re + twr, half_diff_im + twi), p(half_sum_re - twr, twi - half_diff_im))
        };
        // Blocks of eight pairs (fixed trip counts, so the lanes vectorise); the last block
        // ends at the last pair and may overlap the one before it, rewriting the same values
        // (the input is `z`, not `out`). Fewer than eight pairs go one at a time.
        let pairs = self.twiddles.len();
        let last = (pairs >= 8 && pairs % 8 != 0).then(|| pairs - 7);
        for k in (1..pairs.saturating_sub(6)).step_by(8).chain(last) {
            let zo: &[Cpx; 8] = z[k..k + 8].try_into().unwrap_or(&[Cpx::ZERO; 8]);
            let zr: &[Cpx; 8] = z[m - k - 7..m - k + 1].try_into().unwrap_or(&[Cpx::ZERO; 8]);
            let tw: &[Cpx; 8] = self.twiddles[k - 1..k + 7].try_into().unwrap_or(&[Cpx::ZERO; 8]);
            let (mut po, mut pr) = ([0.0f32; 8], [0.0f32; 8]);
            for l in 0..8 {
                (po[l], pr[l]) = pair(zo[l], zr[7 - l], tw[l]);
            }
            out[k..k + 8].copy_from_slice(&po);
            for (o, v) in out[m - k - 7..m - k + 1].iter_mut().zip(pr.iter().rev()) {
                *o = *v;
            }
        }
        if pairs < 8 {
            for k in 1..=pairs {
                (out[k], out[m - k]) = pair(z[k], z[m - k], self.twiddles[k - 1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;
    use rvoip_media_graph::SplitMix64;

    /// Every size class of the pair loop: whole blocks only (n = 68: 16 pairs), blocks with
    /// an overlapping last one (256: 63 pairs, the analyser's size; 40: 9), fewer pairs than
    /// a block (24: 5).
    #[test]
    fn powers_equal_realfft_bit_for_bit() {
        for n in [256usize, 68, 40, 24] {
            let mut ps = PowerSpectrum::new(n);
            let r2c = RealFftPlanner::<f32>::new().plan_fft_forward(n);
            let mut s = SplitMix64::new(0x2545_f491);
            for trial in 0..50 {
                let x: Vec<f32> = (0..n)
                    .map(|i| {
                        let noise = 0.5 * s.bipolar();
                        let tone = (i as f32 * 0.05 * (trial + 1) as f32).sin();
                        if trial % 5 == 0 {
                            noise * 1e-6
                        } else {
                            tone + noise * 0.1 * trial as f32
                        }
                    })
                    .collect();
                for (c, p) in ps.input().iter_mut().zip(x.chunks_exact(2)) {
                    *c = Cpx::new(p[0], p[1]);
                }
                let mut got = vec![f32::NAN; n / 2 + 1];
                let scale = 1.0 / (n * n) as f32;
                ps.power(scale, 1e-14, &mut got);
                let mut buf = x.clone();
                let mut spec = vec![Cpx::new(0.0, 0.0); n / 2 + 1];
                r2c.process(&mut buf, &mut spec).unwrap();
                for (k, (g, c)) in got.iter().zip(&spec).enumerate() {
                    let want = c.norm_sqr() * scale + 1e-14;
                    assert_eq!(g.to_bits(), want.to_bits(), "n {n} trial {trial} bin {k}: {g:e} vs {want:e}");
                }
            }
        }
    }
}
