//! One-pass spectral analysis at the analysis rate (8 kHz for the usual rates): statistical
//! model likelihood ratio, SNR, centroid, rolloff, band flux, and harmonicity / pitch from the
//! same power spectrum.
//!
//! The last `N` = 256 samples (32 ms at 8 kHz) are windowed and transformed once. The window
//! rises over 24 ms and falls over the last 8 ms (halves of two Hann windows), so it peaks
//! 8 ms before the newest sample: an onset weighs in the frame it occurs in instead of one or
//! two frames later, at the price of slightly wider spectral leakage. The noise power per bin
//! comes from an MCRA tracker ([`NoiseFloor`]); until the history holds `N` samples the
//! periodogram is scaled by the share of the window's energy on real samples, so the first
//! frames, which initialise that tracker, give unbiased power estimates. One pass over the analysis band then
//! accumulates
//! * the log-likelihood ratio of the Gaussian statistical model (Sohn, Kim & Sung 1999),
//!   `γ·ξ/(1+ξ) − ln(1+ξ)` per bin with the decision-directed a-priori SNR `ξ`, averaged,
//! * signal and noise power (segmental SNR) and the power-weighted bin index (centroid).
//!
//! Sixteen sub-band energies give the flux (mean positive dB change) and locate the 85 %
//! rolloff, which is then refined inside one sub-band.
//!
//! Harmonicity needs the autocorrelation, the inverse transform of the power spectrum.
//! Harmonics that matter lie below 2 kHz, so the bins up to 2 kHz go through a 128-point
//! inverse transform (a quarter of the forward work): the autocorrelation sampled at half the
//! analysis rate. The bins enter as the posterior SNR `γ = P / N` floored at one — the
//! spectrum whitened by the noise floor, with everything at or below the floor flattened —
//! so neither the noise colour (brown noise looks periodic in the raw autocorrelation) nor
//! a mismatched noise estimate shapes it; only harmonic peaks standing out of the noise do.
//! On the development set this separates speech from noise frames better than the raw or
//! the noise-subtracted power (mean AUC 0.87 against 0.82 and 0.63). The largest local
//! maximum for lags of 2.5–14 ms (70–400 Hz), refined by parabolic interpolation and
//! normalised by the zero lag, is the harmonicity, and its lag the pitch.

use super::super::fft::{hann, Cpx};
use super::fastmath::{ln_pos, max_num, min_num};
use super::inverse_real::InverseReal;
use super::noise_floor::NoiseFloor;
use super::power_spectrum::PowerSpectrum;
use crate::kernels;

/// Analysis window and forward transform length.
pub(crate) const N: usize = 256;
/// Length of the window's falling part (8 ms): the window peaks 8 ms before the newest
/// sample, so an onset weighs in the frame it occurs in rather than one or two frames later.
const WINDOW_FALL: usize = 64;
/// Inverse transform length for the autocorrelation.
const NA: usize = 128;
/// Number of sub-bands for the flux.
const FLUX_BANDS: usize = 16;

/// Spectral features of one frame.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Spectral {
    pub llr: f32,
    pub signal: f32,
    pub noise: f32,
    pub centroid_hz: f32,
    pub rolloff_hz: f32,
    pub flux: f32,
    pub harmonicity: f32,
    pub pitch_hz: f32,
}

/// Asymmetric analysis window: the rising half of a Hann window of `2·(N − fall)` samples
/// followed by the falling half of one of `2·fall` samples.
fn window(fall: usize) -> Vec<f32> {
    let fall = fall.clamp(1, N - 1);
    let rise = N - fall;
    let up = hann(2 * rise);
    let down = hann(2 * fall);
    up[..rise].iter().chain(&down[fall..]).copied().collect()
}

/// Eight-lane partial sums of the band pass.
struct Lanes {
    llr: [f32; 8],
    signal: [f32; 8],
    noise: [f32; 8],
    moment: [f32; 8],
    /// Product of `1 + ξ` over the blocks since the last logarithm (see [`GROWTH_BLOCKS`]).
    growth: [f32; 8],
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes { llr: [0.0; 8], signal: [0.0; 8], noise: [0.0; 8], moment: [0.0; 8], growth: [1.0; 8] }
    }
}

/// Blocks of eight bins whose `1 + ξ` factors are multiplied before one logarithm: the
/// LLR's `Σ ln(1 + ξ)` as `ln Π(1 + ξ)`, a quarter of the logarithms. `ξ ≤ 1000`, so a
/// product of four stays below 1.1e12, far inside `f32`.
const GROWTH_BLOCKS: usize = 4;

/// Statistical-model LLR of eight bins (power `p`, noise `n`, previous clean-power estimate
/// `c`, updated in place), accumulated with the powers and the first moment into `acc`; the
/// `−ln(1 + ξ)` terms are gathered in `acc.growth` until [`flush_growth`].
#[inline(always)]
fn llr_block(p: &[f32; 8], n: &[f32; 8], c: &mut [f32; 8], first_bin: f32, acc: &mut Lanes) {
    for l in 0..8 {
        let inv = 1.0 / max_num(n[l], 1e-14);
        let gamma = min_num(p[l] * inv, 1e4);
        let xi = min_num(max_num(0.98 * c[l] * inv + 0.02 * max_num(gamma - 1.0, 0.0), 0.003), 1e3);
        let g = xi / (1.0 + xi);
        acc.llr[l] += gamma * g;
        acc.growth[l] *= 1.0 + xi;
        c[l] = g * g * p[l];
        acc.signal[l] += p[l];
        acc.noise[l] += n[l];
        acc.moment[l] += p[l] * (first_bin + l as f32);
    }
}

/// Subtracts the logarithm of the gathered `1 + ξ` product from the LLR lanes.
#[inline(always)]
fn flush_growth(acc: &mut Lanes) {
    for (l, g) in acc.llr.iter_mut().zip(acc.growth.iter_mut()) {
        *l -= ln_pos(*g);
        *g = 1.0;
    }
}

/// Analysis state: window history, transforms, noise tracker and per-bin memories.
pub(crate) struct Analyzer {
    hist: Vec<f32>,
    /// Samples in `hist` that came from the input (at most `N`).
    filled: usize,
    win: Vec<f32>,
    /// `tail_energy[k]`: energy of the window's last `k` taps (`k` = 0..=N).
    tail_energy: Vec<f32>,
    spectrum: PowerSpectrum,
    ifft: InverseReal,
    power: Vec<f32>,
    clean_prev: Vec<f32>,
    band_prev: [f32; FLUX_BANDS],
    acorr_spec: Vec<Cpx>,
    acorr: Vec<f32>,
    noise: NoiseFloor,
    lo: usize,
    hi: usize,
    acorr_hi: usize,
    bin_hz: f32,
    acorr_rate: f32,
    lag_lo: usize,
    lag_hi: usize,
}

impl Analyzer {
    /// An analyser for the band `lo_hz..hi_hz` (already validated, `hi_hz` < 4 kHz).
    pub(crate) fn new(rate: f32, lo_hz: f32, hi_hz: f32) -> Self {
        let bins = N / 2 + 1;
        let bin_hz = rate / N as f32;
        // The autocorrelation has `NA` points spanning the bins up to `NA / 2`.
        let acorr_rate = rate * NA as f32 / N as f32;
        // At least FLUX_BANDS bins (a narrow band is widened downwards), and a whole number
        // of eight-bin blocks, which keeps the per-bin loops free of remainders.
        let hi = ((hi_hz / bin_hz) as usize).clamp(FLUX_BANDS + 1, bins - 2);
        let lo = ((lo_hz / bin_hz).ceil() as usize).clamp(1, hi + 1 - FLUX_BANDS);
        let hi = lo + (hi + 1 - lo) / 8 * 8 - 1;
        let win = window(WINDOW_FALL);
        let mut tail_energy = vec![0.0f32; N + 1];
        for k in 1..=N {
            tail_energy[k] = tail_energy[k - 1] + win[N - k] * win[N - k];
        }
        Analyzer {
            hist: vec![0.0; N],
            filled: 0,
            win,
            tail_energy,
            spectrum: PowerSpectrum::new(N),
            ifft: InverseReal::new(NA),
            power: vec![0.0; bins],
            clean_prev: vec![0.0; bins],
            band_prev: [0.0; FLUX_BANDS],
            acorr_spec: vec![Cpx::new(0.0, 0.0); NA / 2 + 1],
            acorr: vec![0.0; NA],
            noise: NoiseFloor::new(hi + 1 - lo),
            lo,
            hi,
            acorr_hi: ((2000.0 / bin_hz) as usize).min(NA / 2).min(hi),
            bin_hz,
            acorr_rate,
            lag_lo: ((acorr_rate / 400.0) as usize).clamp(2, NA / 2 - 2),
            lag_hi: ((acorr_rate / 70.0) as usize).clamp(3, NA / 2 - 1),
        }
    }

    /// Analyses the newest `x` (80 samples at 8 kHz).
    #[inline(always)]
    pub(crate) fn analyze(&mut self, x: &[f32]) -> Spectral {
        let h = x.len().min(N);
        self.hist.copy_within(h.., 0);
        self.hist[N - h..].copy_from_slice(&x[..h]);
        // Windowed and packed as complex pairs for the half-length transform (which uses
        // its input as scratch: it is rebuilt every frame).
        let packed = self.spectrum.input();
        for ((b, s), w) in packed.iter_mut().zip(self.hist.chunks_exact(2)).zip(self.win.chunks_exact(2)) {
            *b = Cpx::new(s[0] * w[0], s[1] * w[1]);
        }
        let (lo, hi) = (self.lo, self.hi);
        // Until the history is full the window covers some zeros: scale the periodogram by
        // the share of the window's energy on real samples, so the first frames give an
        // unbiased power estimate (they initialise the noise floor).
        self.filled = (self.filled + h).min(N);
        let partial = self.tail_energy[N] / self.tail_energy[self.filled].max(1e-6);
        let norm = partial / (N as f32 * N as f32);
        self.spectrum.power(norm, 1e-14, &mut self.power);
        self.noise.update(&self.power[lo - 1..=hi + 1]);
        let noise = self.noise.noise();

        // One pass over the band: LLR, powers, centroid, in blocks of eight independent
        // lanes so the loop vectorises.
        let mut acc = Lanes::default();
        let blocks = self.power[lo..=hi]
            .chunks_exact(8)
            .zip(noise.chunks_exact(8))
            .zip(self.clean_prev[lo..=hi].chunks_exact_mut(8))
            .enumerate();
        for (b, ((pc, nc), cc)) in blocks {
            let (mut p, mut n, mut c) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
            p.copy_from_slice(pc);
            n.copy_from_slice(nc);
            c.copy_from_slice(cc);
            llr_block(&p, &n, &mut c, (lo + 8 * b) as f32, &mut acc);
            cc.copy_from_slice(&c);
            if b % GROWTH_BLOCKS == GROWTH_BLOCKS - 1 {
                flush_growth(&mut acc);
            }
        }
        flush_growth(&mut acc);
        let acc = [acc.llr, acc.signal, acc.noise, acc.moment];
        let sum = |a: &[f32; 8]| a.iter().sum::<f32>();
        let nb = (hi - lo + 1) as f32;
        let llr = sum(&acc[0]) / nb;
        let (ps, pn, cen) = (sum(&acc[1]), sum(&acc[2]), sum(&acc[3]));
        let bin_hz = self.bin_hz;
        let centroid_hz = if ps > 0.0 { cen / ps * bin_hz } else { 0.0 };

        // Flux over sub-bands of the analysis band (dB increase, mean over bands); the
        // sub-band energies also locate the rolloff without a second pass over every bin.
        // Each band's bins summed in bin order (one contiguous run per band); the
        // logarithms and increases lane-wise, the increases summed in band order.
        let width = (hi - lo + 1) / FLUX_BANDS;
        let mut bands = [0.0f32; FLUX_BANDS];
        for (e, c) in bands.iter_mut().zip(self.power[lo..].chunks_exact(width)) {
            for v in c {
                *e += v;
            }
        }
        let mut rise = [0.0f32; FLUX_BANDS];
        for ((r, e), prev) in rise.iter_mut().zip(&bands).zip(self.band_prev.iter_mut()) {
            let l = ln_pos(max_num(*e, 1e-30));
            *r = max_num(l - *prev, 0.0);
            *prev = l;
        }
        let flux: f32 = rise.iter().sum();
        let flux = flux * (10.0 / std::f32::consts::LN_10) / FLUX_BANDS as f32;

        // Rolloff: first bin where the cumulative power reaches 85 %.
        let target = 0.85 * ps;
        let mut c = 0.0;
        let mut roll = hi;
        let mut first = lo + FLUX_BANDS * width;
        for (b, e) in bands.iter().enumerate() {
            if c + e >= target {
                first = lo + b * width;
                break;
            }
            c += e;
        }
        for j in first..=hi {
            c += self.power[j];
            if c >= target {
                roll = j;
                break;
            }
        }

        let (harmonicity, lag) = self.harmonicity();
        Spectral {
            llr,
            signal: ps,
            noise: pn,
            centroid_hz,
            rolloff_hz: roll as f32 * bin_hz,
            flux,
            harmonicity,
            pitch_hz: if lag > 0.0 && harmonicity > 0.3 { self.acorr_rate / lag } else { 0.0 },
        }
    }

    /// Normalised autocorrelation peak of the noise-subtracted spectrum below 2 kHz and its
    /// lag in 4 kHz samples.
    #[inline(always)]
    fn harmonicity(&mut self) -> (f32, f32) {
        let noise = self.noise.noise();
        // Posterior SNR floored at one: bins at or below the noise floor all look alike, so
        // neither the noise colour nor a mismatched noise estimate shapes the
        // autocorrelation — only harmonic peaks standing out of the noise do. (The inverse
        // transform uses its input as scratch, so the zeros are rewritten every frame.)
        let (lo, top) = (self.lo, self.acorr_hi);
        if top < lo + 2 {
            return (0.0, 0.0);
        }
        self.acorr_spec[..lo].fill(Cpx::new(0.0, 0.0));
        self.acorr_spec[top + 1..].fill(Cpx::new(0.0, 0.0));
        let band = self.acorr_spec[lo..=top].iter_mut().zip(&self.power[lo..=top]).zip(&noise[..=top - lo]);
        for ((c, p), n) in band {
            *c = Cpx::new(max_num(p / max_num(*n, 1e-14), 1.0), 0.0);
        }
        // Unnormalised inverse: only ratios to the zero lag are used.
        self.ifft.process(&self.acorr_spec, &mut self.acorr);
        let r0 = self.acorr[0];
        if r0.is_nan() || r0 <= 1e-18 {
            return (0.0, 0.0);
        }
        let (lag_lo, lag_hi) = (self.lag_lo, self.lag_hi);
        // Largest local maximum (raw value; a vector kernel with a scalar twin), then
        // parabolic refinement of that one peak.
        let Some((i, _)) = kernels::largest_local_max(&self.acorr[lag_lo - 1..=lag_hi + 1]) else {
            return (0.0, 0.0);
        };
        let top_l = lag_lo - 1 + i;
        let (a, b, c) = (self.acorr[top_l - 1], self.acorr[top_l], self.acorr[top_l + 1]);
        let den = a - 2.0 * b + c;
        let (d, peak) = if den < 0.0 {
            let d = (0.5 * (a - c) / den).clamp(-0.5, 0.5);
            (d, b - 0.25 * (a - c) * d)
        } else {
            (0.0, b)
        };
        ((peak / r0).clamp(0.0, 1.0), top_l as f32 + d)
    }

    /// Forgets all state.
    pub(crate) fn reset(&mut self) {
        self.hist.fill(0.0);
        self.filled = 0;
        self.clean_prev.fill(0.0);
        self.band_prev = [0.0; FLUX_BANDS];
        self.noise.reset();
    }
}
