//! The suppressor's noise power tracker.

use super::fastmath::fast_exp;

/// Noise power tracking by the speech-presence-probability MMSE estimator (Gerkmann &
/// Hendriks 2012), bounded from above by the MCRA minimum.
///
/// Per bin, the posterior speech-presence probability is computed with a fixed "typical
/// speech" a-priori SNR (15 dB) and equal priors; the noise periodogram is then estimated as
/// `E[|N|²|Y] = (1−P)|Y|² + P·σ²` and recursively averaged (0.8 per 16 ms, i.e. a time
/// constant of about 70 ms), so the estimate follows rising or falling noise within a few
/// hundred milliseconds. Should `P` stay near 1 for long (a noise step the probability
/// mistakes for speech), it is capped at 0.99 so the estimate still moves.
///
/// Weak speech components that stay below the presence threshold leak into such an
/// estimate, most at high SNR where they distort the speech the suppressor should leave
/// alone. The minimum of the smoothed periodogram over the last 0.75–1.5 s (from MCRA's
/// search) is a lower-biased noise estimate that speech cannot lift while it pauses at least
/// once per window; capping the tracker at [`MIN_BIAS`] times that minimum removes the leak
/// and costs only a slower follow-up of noise that rises by more than that factor.
/// Finally the estimate is smoothed over about 30 ms so that its own fluctuations do not
/// turn into gain fluctuations (musical noise).
#[derive(Clone, Debug)]
pub(crate) struct SppNoise {
    /// Tracker state.
    raw: Vec<f32>,
    /// Smoothed output.
    out: Vec<f32>,
    /// Recursively smoothed presence probability (stagnation guard).
    p_avg: Vec<f32>,
    frames: u32,
}

/// Frames (10 ms) averaged for the initial estimate.
const SPP_INIT_FRAMES: u32 = 10;
/// A-priori SNR assumed under speech presence (15 dB).
const SPP_XI_H1: f32 = 31.622_776;
/// Recursive averaging of the noise periodogram per 10 ms frame (0.8 per 16 ms).
const SPP_ALPHA: f32 = 0.87;
/// Output smoothing per 10 ms frame.
const SPP_OUT_ALPHA: f32 = 0.7;
/// Upper bound on the estimate as a multiple of the tracked minimum (partial bias
/// compensation of the minimum, which for a 1.5 s search underestimates the mean of
/// stationary noise by 2–3 dB).
const MIN_BIAS: f32 = 1.5;

impl SppNoise {
    pub(crate) fn new(bins: usize) -> Self {
        SppNoise { raw: vec![0.0; bins], out: vec![0.0; bins], p_avg: vec![0.0; bins], frames: 0 }
    }

    /// Updates with one power spectrum and the tracked minimum of the same bins.
    #[inline(always)]
    pub(crate) fn update(&mut self, power: &[f32], minimum: &[f32]) {
        self.frames = self.frames.saturating_add(1);
        if self.frames <= SPP_INIT_FRAMES {
            let w = 1.0 / self.frames as f32;
            for (n, p) in self.raw.iter_mut().zip(power) {
                *n += w * (*p - *n);
            }
            self.out.copy_from_slice(&self.raw);
            return;
        }
        let c = SPP_XI_H1 / (1.0 + SPP_XI_H1);
        // Slices of one length, so the loop has no bounds checks and vectorises.
        let n = self.raw.len().min(power.len()).min(minimum.len());
        let (raw, out, p_avg) = (&mut self.raw[..n], &mut self.out[..n], &mut self.p_avg[..n]);
        for ((((raw, out), p_avg), &y), &m) in
            raw.iter_mut().zip(out.iter_mut()).zip(p_avg.iter_mut()).zip(&power[..n]).zip(&minimum[..n])
        {
            let noise = raw.max(1e-20);
            let p = 1.0 / (1.0 + (1.0 + SPP_XI_H1) * fast_exp(-(y / noise * c).min(80.0)));
            *p_avg = 0.9 * *p_avg + 0.1 * p;
            let p = if *p_avg > 0.99 { p.min(0.99) } else { p };
            let e = (1.0 - p) * y + p * noise;
            let v = (SPP_ALPHA * noise + (1.0 - SPP_ALPHA) * e).min(MIN_BIAS * m);
            *raw = if v.is_finite() { v } else { 1e-20 }.max(1e-20);
            *out = SPP_OUT_ALPHA * *out + (1.0 - SPP_OUT_ALPHA) * *raw;
        }
    }

    pub(crate) fn noise(&self) -> &[f32] {
        &self.out
    }

    pub(crate) fn reset(&mut self) {
        self.raw.fill(0.0);
        self.out.fill(0.0);
        self.p_avg.fill(0.0);
        self.frames = 0;
    }
}
