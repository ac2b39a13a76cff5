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
/// and costs only a slower follow-up of noise that rises by more than that factor — except
/// for a rise of the whole band by a common factor, a level step, which is taken at once
/// ([`SppNoise::follow_level_step`]).
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
    /// Frames in a row that looked like a level step of the noise.
    step_run: u32,
    /// Scratch: the smoothed periodogram over the estimate per bin (the step test).
    ratio: Vec<f32>,
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
/// A level step of the noise: the smoothed periodogram above the estimate by this ratio
/// (3 dB; on the session 21 sets the gain is flat from 1.7 to 2.5, while at 1.35 speech over
/// white and pink noise passes the test and costs up to 0.04 PESQ-WB there)...
const STEP_RISE: f32 = 2.0;
/// ... in at least this fraction of the bins (a step under speech raises the bins speech
/// leaves alone too)...
const STEP_FRACTION: f32 = 0.8;
/// ... by a common factor: the ratio that 60 % of the bins stay under is within this factor
/// of the one a fifth stay under (the noise's own scatter, a smoothed periodogram's, gives
/// well under two; speech raises its harmonics and formants by tens of dB more than the bins
/// between them, and a loud talker over coloured noise raises most bins, by very different
/// factors: without this test car noise lost half its gain)...
const STEP_SPREAD: f32 = 2.0;
/// ... for this many frames in a row (see [`SppNoise::follow_level_step`]).
const STEP_FRAMES: u32 = 3;

impl SppNoise {
    pub(crate) fn new(bins: usize) -> Self {
        SppNoise {
            raw: vec![0.0; bins],
            out: vec![0.0; bins],
            p_avg: vec![0.0; bins],
            frames: 0,
            step_run: 0,
            ratio: vec![0.0; bins],
        }
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

    /// A change of the noise's level keeps its spectral shape: every bin's smoothed power
    /// `smoothed` moves by about the same factor. The estimate cannot follow a rise of more
    /// than [`MIN_BIAS`] until the minimum search has passed it (0.75–1.5 s), and the
    /// presence probability reads the rise as speech in every bin. When at least
    /// [`STEP_FRACTION`] of the bins sit [`STEP_RISE`] or more above the estimate, by a
    /// common factor ([`STEP_SPREAD`]), for [`STEP_FRAMES`] frames, the estimate takes the
    /// ratio that a fifth of the bins stay under (a low quantile, so that speech in the
    /// other bins, up to 40 % of them, does not inflate it) at once,
    /// and the returned factor (1 otherwise) is for the caller to lift the minimum, and so
    /// the bound, by. While the rise goes on, the next frames add the rest. Falls need
    /// nothing: the minimum follows them at once. (The VAD's tracker does the same,
    /// `vad::noise_floor`.)
    #[inline(always)]
    pub(crate) fn follow_level_step(&mut self, smoothed: &[f32]) -> f32 {
        let n = self.raw.len().min(smoothed.len()).min(self.ratio.len());
        if self.frames <= SPP_INIT_FRAMES || n == 0 {
            return 1.0;
        }
        // Eight lanes of counts, without a division, so the loop vectorises.
        let mut above = [0.0f32; 8];
        let (s, raw) = (&smoothed[..n], &self.raw[..n]);
        for (sc, rc) in s.chunks_exact(8).zip(raw.chunks_exact(8)) {
            for l in 0..8 {
                above[l] += if sc[l] > STEP_RISE * rc[l] { 1.0 } else { 0.0 };
            }
        }
        let tail = n / 8 * 8;
        for (&sv, &rv) in s[tail..].iter().zip(&raw[tail..]) {
            above[0] += if sv > STEP_RISE * rv { 1.0 } else { 0.0 };
        }
        // The ratios and their low and middle quantiles, only on frames that pass the count
        // (so the partial sorts run rarely): a fifth of the bins stay under `lo`, 60 % under
        // `mid`.
        let mut lo = 1.0;
        if above.iter().sum::<f32>() >= STEP_FRACTION * n as f32 {
            let ratio = &mut self.ratio[..n];
            for ((q, &sv), &rv) in ratio.iter_mut().zip(s).zip(raw) {
                *q = sv / rv.max(1e-20);
            }
            let k = (((1.0 - STEP_FRACTION) * n as f32) as usize).min(n - 1);
            let (_, &mut l, upper) = ratio.select_nth_unstable_by(k, f32::total_cmp);
            let j = ((0.6 * n as f32) as usize).saturating_sub(k + 1).min(upper.len().saturating_sub(1));
            let mid = if upper.is_empty() { l } else { *upper.select_nth_unstable_by(j, f32::total_cmp).1 };
            lo = if mid < STEP_SPREAD * l { l } else { 1.0 };
        }
        self.step_run = if lo > STEP_RISE { self.step_run + 1 } else { 0 };
        if self.step_run < STEP_FRAMES {
            return 1.0;
        }
        let factor = lo;
        if !(factor.is_finite() && factor > 1.0) {
            return 1.0;
        }
        for v in self.raw.iter_mut().chain(self.out.iter_mut()) {
            *v *= factor;
        }
        factor
    }

    pub(crate) fn noise(&self) -> &[f32] {
        &self.out
    }

    pub(crate) fn reset(&mut self) {
        self.raw.fill(0.0);
        self.out.fill(0.0);
        self.p_avg.fill(0.0);
        self.frames = 0;
        self.step_run = 0;
    }
}
