//! Real FFT helpers shared by the spectral modules: a pre-planned forward / inverse pair with
//! its scratch space, and the analysis windows.
//!
//! Planning (and all allocation) happens in [`RealFft::new`]; [`RealFft::forward`] and
//! [`RealFft::inverse`] only use the buffers allocated there.

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// A complex spectrum bin.
pub type Cpx = Complex32;

/// Forward and inverse real FFT of one size, with scratch buffers.
pub struct RealFft {
    n: usize,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch: Vec<Cpx>,
    tmp_in: Vec<f32>,
    tmp_spec: Vec<Cpx>,
}

impl RealFft {
    /// Plans a transform of `n` real samples (`n` even, ≥ 2) producing `n / 2 + 1` bins.
    pub fn new(n: usize) -> Self {
        let n = n.max(2) & !1;
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let s = fwd.get_scratch_len().max(inv.get_scratch_len());
        RealFft {
            n,
            fwd,
            inv,
            scratch: vec![Cpx::new(0.0, 0.0); s],
            tmp_in: vec![0.0; n],
            tmp_spec: vec![Cpx::new(0.0, 0.0); n / 2 + 1],
        }
    }

    /// Transform length in samples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Number of spectrum bins, `len() / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// Whether the transform is empty (never: the length is at least 2).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Unnormalised forward transform of `input` (`len()` samples) into `out` (`bins()`).
    /// `input` is left untouched. Slices of the wrong length produce a zero spectrum.
    pub fn forward(&mut self, input: &[f32], out: &mut [Cpx]) {
        if input.len() != self.n || out.len() != self.n / 2 + 1 {
            out.fill(Cpx::new(0.0, 0.0));
            return;
        }
        self.tmp_in.copy_from_slice(input);
        if self.fwd.process_with_scratch(&mut self.tmp_in, out, &mut self.scratch).is_err() {
            out.fill(Cpx::new(0.0, 0.0));
        }
    }

    /// Inverse transform of `spec` (`bins()`) into `out` (`len()` samples), scaled by
    /// `1 / len()` so that `inverse(forward(x)) == x`. `spec` is left untouched.
    pub fn inverse(&mut self, spec: &[Cpx], out: &mut [f32]) {
        if spec.len() != self.n / 2 + 1 || out.len() != self.n {
            out.fill(0.0);
            return;
        }
        self.tmp_spec.copy_from_slice(spec);
        let last = self.n / 2;
        self.tmp_spec[0].im = 0.0;
        self.tmp_spec[last].im = 0.0;
        if self.inv.process_with_scratch(&mut self.tmp_spec, out, &mut self.scratch).is_err() {
            out.fill(0.0);
            return;
        }
        let s = 1.0 / self.n as f32;
        for v in out.iter_mut() {
            *v *= s;
        }
    }
}

/// Periodic Hann window of length `n`.
pub fn hann(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).map(|v| v as f32).collect()
}

/// Square root of the periodic Hann window: applied at analysis and synthesis with 50 %
/// overlap, the product sums to exactly one (perfect reconstruction).
pub fn sqrt_hann(n: usize) -> Vec<f32> {
    hann(n).into_iter().map(f32::sqrt).collect()
}

/// Replaces every non-finite value of `x` by zero and clamps magnitudes to `limit`; returns
/// whether everything was already finite and within the limit.
pub fn sanitize(x: &mut [f32], limit: f32) -> bool {
    let mut ok = true;
    for v in x.iter_mut() {
        if !v.is_finite() {
            *v = 0.0;
            ok = false;
        } else if v.abs() > limit {
            *v = v.clamp(-limit, limit);
            ok = false;
        }
    }
    ok
}

/// Whether every sample is finite.
pub fn all_finite(x: &[f32]) -> bool {
    x.iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_parseval() {
        for n in [160usize, 320, 512, 960] {
            let mut f = RealFft::new(n);
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 113) as f32 / 113.0 - 0.5).collect();
            let mut s = vec![Cpx::new(0.0, 0.0); f.bins()];
            f.forward(&x, &mut s);
            let mut y = vec![0.0; n];
            f.inverse(&s, &mut y);
            for (a, b) in x.iter().zip(&y) {
                assert!((a - b).abs() < 1e-5);
            }
            let et: f32 = x.iter().map(|v| v * v).sum();
            let mut ef = s[0].norm_sqr() + s[n / 2].norm_sqr();
            for c in &s[1..n / 2] {
                ef += 2.0 * c.norm_sqr();
            }
            assert!((ef / n as f32 - et).abs() < 1e-3 * et);
        }
    }

    #[test]
    fn sqrt_hann_overlap_adds_to_one() {
        let w = sqrt_hann(320);
        for i in 0..160 {
            let s = w[i] * w[i] + w[i + 160] * w[i + 160];
            assert!((s - 1.0).abs() < 1e-6);
        }
    }
}
