//! Partitioned-block frequency-domain adaptive filter (PBFDAF / MDF, overlap-save).
//!
//! Block length `N` = partition length; every partition is a `2N`-point spectrum. The echo
//! estimate of a block is `IFFT(Σ_k W_k · X_{t−k})`, last `N` samples. Adaptation is
//! proportionate across partitions (IPNLMS in block form, [`Weights::proportionate_steps`]):
//! partition `k` gets the factor `g_k`, and the caller normalises per bin by the far-end power
//! weighted the same way, `Σ_k g_k·|X_{t−k}(f)|²` (PNLMS normalises by `xᵀGx`), with a
//! per-bin step size of its own. The time-domain constraint (second half of each partition's
//! impulse response zero) is enforced on a rotating subset of partitions every block
//! (alternating constraint), which keeps the cost at a few FFTs per block.

use crate::apm::fft::{Cpx, RealFft};

/// IPNLMS mixing parameter α (Benesty & Gay 2002): the share `(1 − α)/2` of the total step is
/// spread uniformly over the partitions, `(1 + α)/2` in proportion to their weight norms.
/// 0 (half and half) is the usual choice; measured on the lab scenarios it was also better
/// than −0.5 and 0.5.
const PROP_ALPHA: f32 = 0.0;

/// The weights of one PBFDAF: `parts` partitions of `bins` complex values.
#[derive(Clone, Debug)]
pub struct Weights {
    /// Partition-major weights.
    pub w: Vec<Cpx>,
    /// Bins per partition.
    pub bins: usize,
    /// Number of partitions.
    pub parts: usize,
}

impl Weights {
    /// All-zero weights.
    pub fn new(parts: usize, bins: usize) -> Self {
        Weights { w: vec![Cpx::new(0.0, 0.0); parts * bins], bins, parts }
    }

    /// Partition `k`.
    #[inline]
    pub fn part(&self, k: usize) -> &[Cpx] {
        &self.w[k * self.bins..(k + 1) * self.bins]
    }

    /// The strongest partition and its energy `‖W_k‖²`: the first of equals, `(0, 0.0)` when
    /// every partition is empty (non-finite energies never win).
    pub fn peak_partition(&self) -> (usize, f32) {
        let mut best = (0, 0.0f32);
        for k in 0..self.parts {
            let e: f32 = self.part(k).iter().map(|c| c.norm_sqr()).sum();
            if e > best.1 {
                best = (k, e);
            }
        }
        best
    }

    /// Echo estimate spectrum: `Σ_k W_k · X(k)` where `x(k)` returns the far spectrum for
    /// partition `k`.
    #[inline(always)]
    pub fn filter<'a>(&self, x: impl Fn(usize) -> &'a [Cpx], out: &mut [Cpx]) {
        out.fill(Cpx::new(0.0, 0.0));
        for k in 0..self.parts {
            let xs = x(k);
            for ((o, w), xv) in out.iter_mut().zip(self.part(k)).zip(xs) {
                *o += w * xv;
            }
        }
    }

    /// Shifts partitions by `delta` (positive: partition k takes k + delta), filling with zeros.
    pub fn shift(&mut self, delta: isize) {
        let (p, b) = (self.parts as isize, self.bins);
        if delta > 0 {
            for k in 0..p {
                let src = k + delta;
                if src < p {
                    self.w.copy_within(src as usize * b..(src as usize + 1) * b, k as usize * b);
                } else {
                    self.w[k as usize * b..(k as usize + 1) * b].fill(Cpx::new(0.0, 0.0));
                }
            }
        } else if delta < 0 {
            for k in (0..p).rev() {
                let src = k + delta;
                if src >= 0 {
                    self.w.copy_within(src as usize * b..(src as usize + 1) * b, k as usize * b);
                } else {
                    self.w[k as usize * b..(k as usize + 1) * b].fill(Cpx::new(0.0, 0.0));
                }
            }
        }
    }

    /// Whether every weight is finite.
    pub fn is_finite(&self) -> bool {
        self.w.iter().all(|c| c.re.is_finite() && c.im.is_finite())
    }

    /// Proportionate step factors `g_k` for the partitions (IPNLMS, Benesty & Gay 2002, with
    /// the partition as the unit, as in SpeexDSP's MDF):
    /// `g_k = (1 − α)/2 + (1 + α)/2 · parts · ‖W_k‖ / Σ_j ‖W_j‖`, so `Σ g_k = parts`.
    /// With all-zero weights (start-up) every `g_k` is 1, i.e. plain PBFDAF. Once the energy
    /// of the response sits in a few partitions (direct path, early reflections), those get
    /// several times the uniform step and the near-empty late ones about half of it, so a
    /// long filter converges on a sparse room response about as fast as a short one.
    /// The caller must normalise by the `g`-weighted far power (see the module docs) so the
    /// update stays stable however the factors are distributed. Non-finite partitions count
    /// as empty.
    #[inline(always)]
    pub fn proportionate_steps(&self, g: &mut [f32]) {
        let n = self.parts.min(g.len());
        if n == 0 {
            return;
        }
        let mut sum = 0.0f32;
        for (k, gk) in g.iter_mut().enumerate().take(n) {
            let e: f32 = self.part(k).iter().map(|c| c.norm_sqr()).sum();
            *gk = if e.is_finite() { e.sqrt() } else { 0.0 };
            sum += *gk;
        }
        let nf = n as f32;
        if sum <= 1e-20 {
            g[..n].fill(1.0);
            return;
        }
        for gk in g.iter_mut().take(n) {
            *gk = (1.0 - PROP_ALPHA) / 2.0 + (1.0 + PROP_ALPHA) / 2.0 * nf * *gk / sum;
        }
    }

    /// Zeroes the weights.
    pub fn clear(&mut self) {
        self.w.fill(Cpx::new(0.0, 0.0));
    }
}

/// Scratch for the adaptation step.
pub struct Adapter {
    fft: RealFft,
    time: Vec<f32>,
    next: usize,
    per_block: usize,
}

impl Adapter {
    /// Scratch for `2N`-point spectra; constrains `per_block` partitions per block.
    pub fn new(n2: usize, per_block: usize) -> Self {
        Adapter { fft: RealFft::new(n2), time: vec![0.0; n2], next: 0, per_block: per_block.max(1) }
    }

    /// One NLMS step: `W_k += g_k · mu(f) · conj(X_k) · E / (P(f) + δ)`, then the time
    /// constraint on the next partitions in rotation. `part_gain` holds the per-partition
    /// factors `g_k` (see [`Weights::proportionate_steps`]); missing entries count as 1.
    #[inline(always)]
    pub fn adapt<'a>(
        &mut self,
        w: &mut Weights,
        x: impl Fn(usize) -> &'a [Cpx],
        err: &[Cpx],
        mu_over_p: &[f32],
        part_gain: &[f32],
    ) {
        let bins = w.bins;
        for k in 0..w.parts {
            let xs = x(k);
            let g = part_gain.get(k).copied().unwrap_or(1.0);
            let wk = &mut w.w[k * bins..(k + 1) * bins];
            for f in 0..bins {
                wk[f] += xs[f].conj() * err[f] * (g * mu_over_p[f]);
            }
        }
        let n2 = self.time.len();
        for _ in 0..self.per_block.min(w.parts) {
            let k = self.next % w.parts;
            self.next = (self.next + 1) % w.parts;
            let wk = &mut w.w[k * bins..(k + 1) * bins];
            self.fft.inverse(wk, &mut self.time);
            self.time[n2 / 2..].fill(0.0);
            self.fft.forward(&self.time, wk);
        }
    }
}
