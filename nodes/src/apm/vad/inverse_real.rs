//! The inverse real transform of the harmonicity's autocorrelation: `realfft`'s even-length
//! complex-to-real transform (a half-length complex FFT after a pre-processing pass over
//! pairs of bins), with that pass done out of place in blocks of eight pairs so it
//! vectorises. Each value is computed in `realfft`'s order of operations, so the output is
//! bit-identical (`tests::equals_realfft_bit_for_bit`).

use super::super::fft::Cpx;
use super::power_spectrum::realfft_twiddles;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// A planned inverse transform to `n` real samples and its buffers.
pub(crate) struct InverseReal {
    fft: Arc<dyn Fft<f32>>,
    /// `conj(e^{−2πik/n})` for `k` = 1..n/4, as `realfft` computes them.
    twiddles: Vec<Cpx>,
    packed: Vec<Cpx>,
    out: Vec<Cpx>,
    scratch: Vec<Cpx>,
}

impl InverseReal {
    /// Plans a transform to `n` real samples (`n` a multiple of 4, ≥ 40: at least eight pairs).
    pub(crate) fn new(n: usize) -> Self {
        let m = n / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_inverse(m);
        let twiddles = realfft_twiddles(n).map(|t| t.conj()).collect();
        let scratch = vec![Cpx::new(0.0, 0.0); fft.get_outofplace_scratch_len()];
        let zero = Cpx::new(0.0, 0.0);
        InverseReal { fft, twiddles, packed: vec![zero; m], out: vec![zero; m], scratch }
    }

    /// The unnormalised inverse of the `n / 2 + 1` bins `spec` (imaginary parts of the first
    /// and last taken as zero, as they must be) into `out` (`n` values). Does nothing if a
    /// length is wrong.
    #[inline(always)]
    pub(crate) fn process(&mut self, spec: &[Cpx], out: &mut [f32]) {
        let m = self.packed.len();
        let pairs = self.twiddles.len();
        if spec.len() != m + 1 || out.len() != 2 * m || pairs < 8 {
            return;
        }
        let (first, last) = (Cpx::new(spec[0].re, 0.0), Cpx::new(spec[m].re, 0.0));
        let (s, d) = (first + last, first - last);
        self.packed[0] = Cpx::new(s.re - s.im, d.re - d.im);
        let c = spec[m / 2];
        self.packed[m / 2] = Cpx::new(c.re + c.re, -(c.im + c.im));
        // Pairs (k, m − k) for k = 1..=pairs in blocks of eight; the last block ends at the
        // last pair and may overlap the one before it (out of place, so it rewrites the same
        // values).
        let tail = (pairs % 8 != 0).then(|| pairs - 7);
        for k in (1..pairs.saturating_sub(6)).step_by(8).chain(tail) {
            let a: &[Cpx; 8] = spec[k..k + 8].try_into().unwrap_or(&[Cpx::ZERO; 8]);
            let b: &[Cpx; 8] = spec[m - k - 7..m - k + 1].try_into().unwrap_or(&[Cpx::ZERO; 8]);
            let tw: &[Cpx; 8] = self.twiddles[k - 1..k + 7].try_into().unwrap_or(&[Cpx::ZERO; 8]);
            let (mut lo, mut hi) = ([Cpx::ZERO; 8], [Cpx::ZERO; 8]);
            for l in 0..8 {
                let (x, y, t) = (a[l], b[7 - l], tw[l]);
                let (sum, diff) = (x + y, x - y);
                let re = sum.im * t.re + diff.re * t.im;
                let im = sum.im * t.im - diff.re * t.re;
                lo[l] = Cpx::new(sum.re - re, diff.im - im);
                hi[7 - l] = Cpx::new(sum.re + re, -im - diff.im);
            }
            self.packed[k..k + 8].copy_from_slice(&lo);
            self.packed[m - k - 7..m - k + 1].copy_from_slice(&hi);
        }
        self.fft.process_outofplace_with_scratch(&mut self.packed, &mut self.out, &mut self.scratch);
        for (o, z) in out.chunks_exact_mut(2).zip(&self.out) {
            o[0] = z.re;
            o[1] = z.im;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    #[test]
    fn equals_realfft_bit_for_bit() {
        for n in [40usize, 64, 128, 256] {
            let c2r = RealFftPlanner::<f32>::new().plan_fft_inverse(n);
            let mut ours = InverseReal::new(n);
            let mut s = 0x2545_F491_4F6C_DD1Du64;
            for _ in 0..20 {
                let spec: Vec<Cpx> = (0..=n / 2)
                    .map(|k| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        let re = (s >> 40) as f32 / (1u64 << 24) as f32 * 50.0;
                        let im = if k == 0 || k == n / 2 { 0.0 } else { ((s & 0xffff) as f32 - 32768.0) / 1000.0 };
                        Cpx::new(re, im)
                    })
                    .collect();
                let mut want = vec![0.0f32; n];
                let mut input = spec.clone();
                c2r.process(&mut input, &mut want).unwrap();
                let mut got = vec![f32::NAN; n];
                ours.process(&spec, &mut got);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "n = {n}");
            }
        }
    }
}
