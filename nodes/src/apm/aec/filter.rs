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
        // Four partitions a pass over the bins: each bin still adds partition k, then k + 1, …
        // (the same sums in the same order), but `out` is read and written once per four
        // partitions instead of once per partition.
        let mut k = 0;
        while k + 4 <= self.parts {
            let n = out.len().min(self.bins);
            let (x0, x1, x2, x3) = (&x(k)[..n], &x(k + 1)[..n], &x(k + 2)[..n], &x(k + 3)[..n]);
            let (w0, w1, w2, w3) =
                (&self.part(k)[..n], &self.part(k + 1)[..n], &self.part(k + 2)[..n], &self.part(k + 3)[..n]);
            for (f, o) in out[..n].iter_mut().enumerate() {
                *o = *o + w0[f] * x0[f] + w1[f] * x1[f] + w2[f] * x2[f] + w3[f] * x3[f];
            }
            k += 4;
        }
        for k in k..self.parts {
            for ((o, w), xv) in out.iter_mut().zip(self.part(k)).zip(x(k)) {
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
        // Without an early exit inside a chunk the test vectorises (it runs every block over
        // every weight: an `all` over single values was 8 % of the canceller's instructions).
        self.w.chunks(16).all(|c| c.iter().fold(true, |ok, v| ok & v.re.is_finite() & v.im.is_finite()))
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
        let mut k = 0;
        while k < n {
            // Up to four partitions' sums side by side: each is still summed bin by bin in
            // order (the same bits), but four running sums do not wait on one another.
            let m = (n - k).min(4);
            let mut e = [0.0f32; 4];
            let parts: [&[Cpx]; 4] = std::array::from_fn(|j| if j < m { self.part(k + j) } else { &[] });
            for f in 0..self.bins {
                for (ej, p) in e.iter_mut().zip(&parts).take(m) {
                    *ej += p[f].norm_sqr();
                }
            }
            for (gk, ej) in g[k..k + m].iter_mut().zip(e) {
                *gk = if ej.is_finite() { ej.sqrt() } else { 0.0 };
                sum += *gk;
            }
            k += m;
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
            for (((wv, xv), e), m) in wk.iter_mut().zip(xs).zip(err).zip(mu_over_p) {
                *wv += xv.conj() * e * (g * m);
            }
        }
        self.constrain(w);
    }

    /// The time-domain constraint (second half of the impulse response zero) on the next
    /// `per_block` partitions in rotation.
    #[inline(always)]
    fn constrain(&mut self, w: &mut Weights) {
        let bins = w.bins;
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

/// How the background (adaptive) filter of the echo canceller updates its weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FilterUpdate {
    /// The proportionate NLMS-type step ([`Adapter::adapt`]) with the canceller's own step
    /// control (the default).
    #[default]
    Nlms,
    /// The frequency-domain Kalman filter ([`Kalman`]; experimental, session 29: opt-in
    /// until it is scored).
    Kalman,
}

/// Transition factor `A` of the Kalman filter's state model `W ← A·W + noise`.
const KALMAN_A: f32 = 0.9999;
/// The initial (and raised, after an echo-path change) state error variance `P₀` per bin and
/// partition, on the scale of a partition's `|W|²` (for the lab sets' level and ERL; the
/// offline model `scripts/aec_fdkf.py` measured 0.003–0.03 as about equal, 1 and 10 as 5–10 dB
/// shallower). The canceller raises it with the measured echo-path gain
/// ([`Kalman::set_p0`]; `Aec` uses `max(KALMAN_P0, 0.1 · mic power / far power)`).
pub const KALMAN_P0: f32 = 0.01;
/// Floor of the observation-noise estimate Ψ and of the gain's denominator.
const KALMAN_FLOOR: f32 = 1e-10;
/// Smoothing of Ψ (the previous estimate's weight).
const KALMAN_BETA: f32 = 0.5;

/// State of the partitioned-block frequency-domain Kalman filter (Enzner & Vary 2006, in the
/// diagonal partitioned form of Kuech et al. 2014) that [`FilterUpdate::Kalman`] uses instead
/// of the NLMS step. Per bin `f` and partition `k` the state error variance `P_k(f)`, per bin
/// the observation noise (near end + background noise) `Ψ(f)`. Per block, with `E` the error
/// spectrum and `|X_k|²` the far power the canceller already holds:
///
/// ```text
/// Ψ   = β Ψ + (1 − β) max(|E|² − ½ Σ_k P_k |X_k|², floor)
/// μ_k = P_k / (Σ_j P_j |X_j|² + 2 Ψ)
/// W_k ← A (W_k + μ_k X_k* E), then the time constraint on 4 partitions in rotation
/// P_k ← A² (1 − ½ μ_k |X_k|²) P_k + (1 − A²) |W_k|²
/// ```
///
/// (the ½: a zero-padded `N`-sample error holds half the `2N`-point misalignment). Everything
/// is allocated up front for `max_parts` partitions; an update allocates nothing.
///
/// ```
/// use rvoip_media_nodes::apm::aec::{Kalman, KALMAN_P0};
/// let k = Kalman::new(32, 161);
/// assert!(k.p.iter().all(|&p| p == KALMAN_P0));
/// ```
#[derive(Clone, Debug)]
pub struct Kalman {
    /// State error variance, partition-major like [`Weights::w`].
    pub p: Vec<f32>,
    psi: Vec<f32>,
    /// `1 / (Σ_j P_j |X_j|² + 2Ψ + floor)` per bin (scratch).
    inv_den: Vec<f32>,
    bins: usize,
    /// The `P₀` that [`Kalman::reset`], [`Kalman::raise`] and [`Kalman::shift`] use.
    p0: f32,
}

impl Kalman {
    /// State for up to `max_parts` partitions of `bins` bins, at `P₀` ([`KALMAN_P0`]).
    pub fn new(max_parts: usize, bins: usize) -> Self {
        Kalman {
            p: vec![KALMAN_P0; max_parts * bins],
            psi: vec![0.0; bins],
            inv_den: vec![0.0; bins],
            bins,
            p0: KALMAN_P0,
        }
    }

    /// Sets the `P₀` that later resets, raises and shifts use (the state is left as it is).
    /// A loud echo path (low ERL) has a larger `|W|²` per partition, and at the fixed
    /// [`KALMAN_P0`] the filter took the unexplained echo for noise and converged 5–15 dB
    /// shallower over the first 10 s (session 30, the `loudecho` cases). Non-finite or
    /// non-positive values are ignored.
    ///
    /// ```
    /// use rvoip_media_nodes::apm::aec::{Kalman, KALMAN_P0};
    /// let mut k = Kalman::new(4, 161);
    /// k.set_p0(0.1);
    /// assert_eq!(k.p0(), 0.1);
    /// k.reset();
    /// assert!(k.p.iter().all(|&p| p == 0.1));
    /// k.set_p0(f32::NAN);
    /// assert_eq!(k.p0(), 0.1);
    /// ```
    pub fn set_p0(&mut self, p0: f32) {
        if p0.is_finite() && p0 > 0.0 {
            self.p0 = p0;
        }
    }

    /// The `P₀` in use ([`Kalman::set_p0`]; [`KALMAN_P0`] until set).
    pub fn p0(&self) -> f32 {
        self.p0
    }

    /// Back to the start: `P = P₀`, `Ψ = 0` (a restart of the filter).
    pub fn reset(&mut self) {
        self.p.fill(self.p0);
        self.psi.fill(0.0);
    }

    /// Raises every `P` to at least `P₀`: the filter's confidence is dropped (an echo-path
    /// change suspected), so the gain grows again and the filter follows the new path.
    pub fn raise(&mut self) {
        for p in &mut self.p {
            *p = p.max(self.p0);
        }
    }

    /// Partitions `from..to`, grown onto the filter with zero weights (a longer room), start
    /// at partition `from − 1`'s state error variance, bin by bin: at `P₀` beside converged
    /// partitions they took most of the gain, and the error went into gradient noise there
    /// (session 30: kit `d120_r03` 22–32 s 23.3 dB grown from 160 to 320 ms against 28.9 dB
    /// not grown; the offline model, 32 partitions from the start, 30.6 dB).
    ///
    /// ```
    /// use rvoip_media_nodes::apm::aec::Kalman;
    /// let mut k = Kalman::new(4, 2);
    /// k.p[2..4].copy_from_slice(&[0.5, 0.25]);
    /// k.grow(2, 4);
    /// assert_eq!(&k.p[4..8], &[0.5, 0.25, 0.5, 0.25]);
    /// ```
    pub fn grow(&mut self, from: usize, to: usize) {
        let b = self.bins;
        let to = to.min(self.p.len() / b.max(1));
        if from == 0 || from >= to {
            return;
        }
        for k in from..to {
            self.p.copy_within((from - 1) * b..from * b, k * b);
        }
    }

    /// Shifts the partitions as [`Weights::shift`] does (over the first `parts`), the vacated
    /// ones at `P₀`.
    pub fn shift(&mut self, delta: isize, parts: usize) {
        let (p, b) = (parts.min(self.p.len() / self.bins.max(1)) as isize, self.bins);
        let p0 = self.p0;
        let mut copy = |k: isize, src: isize| {
            let dst = k as usize * b..(k as usize + 1) * b;
            if (0..p).contains(&src) {
                self.p.copy_within(src as usize * b..(src as usize + 1) * b, dst.start);
            } else {
                self.p[dst].fill(p0);
            }
        };
        if delta > 0 {
            for k in 0..p {
                copy(k, k + delta);
            }
        } else if delta < 0 {
            for k in (0..p).rev() {
                copy(k, k + delta);
            }
        }
    }

    /// One Kalman update of `w` (see the type docs): `x(k)` the far spectrum and `xpow(k)` its
    /// power for partition `k`, `err` the error spectrum `FFT([0_N, e])`; the constraint is
    /// `adapter`'s (the same rotation as [`Adapter::adapt`]).
    #[inline(always)]
    pub fn adapt<'a>(
        &mut self,
        adapter: &mut Adapter,
        w: &mut Weights,
        x: impl Fn(usize) -> &'a [Cpx],
        xpow: impl Fn(usize) -> &'a [f32],
        err: &[Cpx],
    ) {
        let bins = w.bins;
        self.inv_den.fill(0.0);
        for k in 0..w.parts {
            let pk = &self.p[k * bins..(k + 1) * bins];
            for ((m, p), x2) in self.inv_den.iter_mut().zip(pk).zip(xpow(k)) {
                *m += p * x2;
            }
        }
        for ((d, s), e) in self.inv_den.iter_mut().zip(&mut self.psi).zip(err) {
            observe_noise(s, e.norm_sqr(), *d);
            *d = 1.0 / (*d + 2.0 * *s + KALMAN_FLOOR);
        }
        for k in 0..w.parts {
            let (xs, pk) = (x(k), &self.p[k * bins..(k + 1) * bins]);
            let wk = &mut w.w[k * bins..(k + 1) * bins];
            for ((((wv, xv), e), p), d) in wk.iter_mut().zip(xs).zip(err).zip(pk).zip(&self.inv_den) {
                let mu = p * d;
                *wv = (*wv + xv.conj() * e * mu) * KALMAN_A;
            }
        }
        adapter.constrain(w);
        let (a2, q) = (KALMAN_A * KALMAN_A, 1.0 - KALMAN_A * KALMAN_A);
        for k in 0..w.parts {
            let (x2, wk) = (xpow(k), &w.w[k * bins..(k + 1) * bins]);
            let pk = &mut self.p[k * bins..(k + 1) * bins];
            for (((p, d), x2), wv) in pk.iter_mut().zip(&self.inv_den).zip(x2).zip(wk) {
                let mu = *p * d;
                *p = a2 * (1.0 - 0.5 * mu * x2) * *p + q * wv.norm_sqr();
            }
        }
    }
}

/// The observation noise `Ψ` (near end and background) of one bin, after an error of power
/// `e2` where the state predicted `predicted` of residual echo:
/// `Ψ ← β Ψ + (1 − β) max(e2 − ½ predicted, floor)` ([`Kalman`] and [`StepVariance`] alike).
#[inline(always)]
fn observe_noise(psi: &mut f32, e2: f32, predicted: f32) {
    *psi = KALMAN_BETA * *psi + (1.0 - KALMAN_BETA) * (e2 - 0.5 * predicted).max(KALMAN_FLOOR);
}

/// Process noise `q` of [`StepVariance`]: 0.3 of the Kalman update's `1 − A²`. With the full
/// `1 − A²` the variance grew back so fast that the step after double talk stayed large: the
/// `apm_aec` guard `near_end_louder_than_the_echo_does_not_move_the_delay_estimate` fell to
/// 36.9 dB after double talk against 43.6 without the near end (needs within 3 dB), and two
/// guards at their bound dropped under it; at 0.3 all pass, and double-talk PESQ-WB is
/// 0.004–0.047 under the full `q`'s on the kit and h5–h8, −0.028…+0.019 on h1–h4 (session 43;
/// 0.1 kept about a third of the gain).
pub const STEP_VARIANCE_Q: f32 = 0.3 * (1.0 - KALMAN_A * KALMAN_A);

/// The Kalman filter's view of the NLMS background (the default update's step, next to the
/// Valin-style one of `Aec`): per bin `f` one state error variance `P(f)` for the whole filter,
/// spread over the partitions as the proportionate step spreads it (`P_k = g_k·P`, so the
/// a-priori residual echo is `P·Σ_k g_k|X_k|²`, the far power the NLMS step is normalised by),
/// the observation noise `Ψ(f)` (near end and background noise) estimated as [`Kalman`] does,
/// and the Kalman gain's share `ρ(f) = P·Σ g|X|² / (P·Σ g|X|² + 2Ψ)`: the step a Kalman filter
/// of the same weights would take. `P` is propagated by the Kalman recursion with that gain
/// (averaged over the partitions):
///
/// ```text
/// Ψ ← β Ψ + (1 − β) max(|E|² − ½ P Σ g|X|², floor)
/// P ← A² (P − ½ P² Σ_k g_k²|X_k|² / ((P Σ g|X|² + 2Ψ) · parts)) + q Σ_k |W_k|² / parts
/// ```
///
/// with `A` and `β` the [`Kalman`] update's and the process noise `q` 0.3 of its `1 − A²`
/// ([`STEP_VARIANCE_Q`]).
///
/// `Aec` steps by at least `ρ` (see its module docs, 3.): the Valin-style step underestimated
/// the residual echo of a filter still converging, so the NLMS filter stayed 3–5 dB shallower
/// than the Kalman update's before and through double talk, and the residual echo that the
/// post-filter leaves in double talk was the whole of the Kalman update's double-talk lead
/// (session 43). Allocated up front; an update allocates nothing.
///
/// ```
/// use rvoip_media_nodes::apm::aec::{StepVariance, KALMAN_P0};
/// let v = StepVariance::new(161);
/// assert!(v.p().iter().all(|&p| p == KALMAN_P0));
/// assert!(v.ratio.iter().all(|&r| r == 0.0));
/// ```
#[derive(Clone, Debug)]
pub struct StepVariance {
    /// `P` and `Ψ` per bin, and `P₀`: a one-partition [`Kalman`] state, whose `P₀`, reset and
    /// raise this shares (its `P` on the scale of a partition's `|W|²`).
    var: Kalman,
    /// The Kalman gain's share `ρ(f)` of the last update (0 before the first).
    pub ratio: Vec<f32>,
    /// `Σ_k g_k²|X_k|²` and `Σ_k |W_k|²` per bin (scratch).
    g2x: Vec<f32>,
    w2: Vec<f32>,
}

impl StepVariance {
    /// State for `bins` bins at [`KALMAN_P0`].
    pub fn new(bins: usize) -> Self {
        StepVariance { var: Kalman::new(1, bins), ratio: vec![0.0; bins], g2x: vec![0.0; bins], w2: vec![0.0; bins] }
    }

    /// The state error variance per bin.
    pub fn p(&self) -> &[f32] {
        &self.var.p
    }

    /// Sets the `P₀` that later resets and raises use ([`Kalman::set_p0`]).
    pub fn set_p0(&mut self, p0: f32) {
        self.var.set_p0(p0);
    }

    /// Back to the start: `P = P₀`, `Ψ = 0`, `ρ = 0`.
    pub fn reset(&mut self) {
        self.var.reset();
        self.ratio.fill(0.0);
    }

    /// Raises every `P` to at least `P₀` (the window moved: what the weights learnt is
    /// uncertain again; [`Kalman::raise`]).
    pub fn raise(&mut self) {
        self.var.raise();
    }

    /// One block: `pxsum` is `Σ_k g_k|X_k|²` per bin, `epow` the error's power spectrum,
    /// `g` the proportionate factors, `xpow(k)` partition `k`'s far power, `w` the weights
    /// (their first `w.parts` partitions). Updates `Ψ`, `ρ` and `P`.
    #[inline(always)]
    pub fn update<'a>(
        &mut self,
        pxsum: &[f32],
        epow: &[f32],
        g: &[f32],
        xpow: impl Fn(usize) -> &'a [f32],
        w: &Weights,
    ) {
        let bins = w.bins;
        self.g2x.fill(0.0);
        self.w2.fill(0.0);
        for k in 0..w.parts {
            let gk = g.get(k).copied().unwrap_or(1.0);
            let g2 = gk * gk;
            for ((s, x2), (a, wv)) in self.g2x.iter_mut().zip(xpow(k)).zip(self.w2.iter_mut().zip(w.part(k))) {
                *s += g2 * x2;
                *a += wv.norm_sqr();
            }
        }
        let (a2, q) = (KALMAN_A * KALMAN_A, STEP_VARIANCE_Q);
        let np = w.parts.max(1) as f32;
        let Kalman { p: ps, psi, .. } = &mut self.var;
        for f in 0..bins.min(ps.len()) {
            let p = ps[f];
            let r = p * pxsum[f];
            let s = &mut psi[f];
            observe_noise(s, epow[f], r);
            let den = r + 2.0 * *s + KALMAN_FLOOR;
            self.ratio[f] = r / den;
            ps[f] = a2 * (p - 0.5 * p * p * self.g2x[f] / (den * np)).max(0.0) + q * self.w2[f] / np;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ERLE (dB: echo over the residual echo, the noise left out) over the last quarter of
    /// 10 s of a synthetic room (white far end, a decaying random 60 ms response with an ERL of
    /// about 12 dB, white noise 10 dB under the echo) for the NLMS step `Some(μ)` (normalised
    /// by the far power over the partitions) or the Kalman update (`None`), with our geometry
    /// (160-sample blocks, 8 partitions, 4 constrained per block).
    fn erle(nlms_step: Option<f32>) -> f32 {
        const N: usize = 160;
        const PARTS: usize = 8;
        const BLOCKS: usize = 1000;
        let mut seed = 0x1234_5678u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        let h: Vec<f32> = (0..960).map(|i| rnd() * 0.05 * (-(i as f32) / 150.0).exp()).collect();
        let far: Vec<f32> = (0..BLOCKS * N).map(|_| rnd() * 0.3).collect();
        let echo: Vec<f32> =
            (0..far.len()).map(|n| h.iter().enumerate().take(n + 1).map(|(i, hv)| hv * far[n - i]).sum()).collect();
        let echo_pow = echo.iter().map(|v| v * v).sum::<f32>() / echo.len() as f32;
        let noise_amp = (echo_pow * 0.1 * 3.0).sqrt(); // uniform: variance amp²/3
        let noise: Vec<f32> = (0..far.len()).map(|_| rnd() * noise_amp).collect();
        let bins = N + 1;
        let mut fft = RealFft::new(2 * N);
        let mut w = Weights::new(PARTS, bins);
        let mut ad = Adapter::new(2 * N, 4);
        let mut kal = Kalman::new(PARTS, bins);
        let mut xs = vec![vec![Cpx::new(0.0, 0.0); bins]; PARTS];
        let mut x2 = vec![vec![0.0f32; bins]; PARTS];
        let (mut y, mut yt, mut tb) = (vec![Cpx::new(0.0, 0.0); bins], vec![0.0f32; 2 * N], vec![0.0f32; 2 * N]);
        let mut espec = vec![Cpx::new(0.0, 0.0); bins];
        let mut mu_p = vec![0.0f32; bins];
        let (mut se, mut sr) = (0.0f64, 0.0f64);
        for t in 1..BLOCKS {
            xs.rotate_right(1);
            x2.rotate_right(1);
            fft.forward(&far[(t - 1) * N..(t + 1) * N], &mut xs[0]);
            for (p, c) in x2[0].iter_mut().zip(&xs[0]) {
                *p = c.norm_sqr();
            }
            w.filter(|k| &xs[k], &mut y);
            fft.inverse(&y, &mut yt);
            let mut e = [0.0f32; N];
            for i in 0..N {
                let n = t * N + i;
                e[i] = echo[n] + noise[n] - yt[N + i];
                if t >= BLOCKS * 3 / 4 {
                    se += (echo[n] as f64).powi(2);
                    sr += ((e[i] - noise[n]) as f64).powi(2);
                }
            }
            tb[..N].fill(0.0);
            tb[N..].copy_from_slice(&e);
            fft.forward(&tb, &mut espec);
            if let Some(mu) = nlms_step {
                for f in 0..bins {
                    let px: f32 = x2.iter().map(|p| p[f]).sum();
                    mu_p[f] = mu / (px + 1e-3);
                }
                ad.adapt(&mut w, |k| &xs[k], &espec, &mu_p, &[]);
            } else {
                kal.adapt(&mut ad, &mut w, |k| &xs[k], |k| &x2[k], &espec);
            }
        }
        (10.0 * (se / sr).log10()) as f32
    }

    /// The Kalman update against NLMS in noise: a fast step (0.5) stops at its misadjustment,
    /// a slow one (0.2) converges later and still shallower (the numpy model, aec_fdkf.py, on
    /// a like room: 17.5 / 21.7 / 25.4 dB; this port 17.6 / 22.1 / 25.7).
    #[test]
    fn kalman_update_converges_deeper_than_nlms_in_noise() {
        let (fast, slow, kal) = (erle(Some(0.5)), erle(Some(0.2)), erle(None));
        println!("ERLE: NLMS step 0.5 {fast:.1} dB, step 0.2 {slow:.1} dB, Kalman {kal:.1} dB");
        assert!(fast > 14.0, "NLMS reference too shallow: {fast:.1} dB");
        assert!(kal > fast + 5.0, "Kalman {kal:.1} dB against NLMS 0.5 {fast:.1} dB");
        assert!(kal > slow + 2.0, "Kalman {kal:.1} dB against NLMS 0.2 {slow:.1} dB");
    }
}
