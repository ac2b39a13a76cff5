//! From features to a speech probability, and from the probability to a decision with an
//! SNR-adaptive, burst-limited hangover.
//!
//! **Probability.** A logistic model of the evidence:
//! `z = 0.5 + 8·min(L, 4) + 0.35·max(L − 4, 0) + 16·(H − 0.2) − 16·max(Q − 0.3, 0)`,
//! where `L` is the mean log-likelihood ratio (clamped to −1..12 nats: beyond 4 nats more
//! evidence adds little), `H` the harmonicity and `Q` a running 35th percentile of
//! `ln(1 + max(L, 0))`. `Q` is near zero in stationary noise; when even the quieter frames
//! carry a high LLR (speech-like background such as babble) the evidence required rises
//! with it. Frames with a high centroid and little periodicity (keyboard clicks, hiss) are
//! capped below threshold, frames below −75 dBFS are never speech. `z` is limited to ±5
//! (the probability is then already 0.7 % from certainty, and a bounded `z` keeps the
//! release after loud speech as quick as after quiet speech) and smoothed over frames
//! (`z̄ ← 0.45·z̄ + 0.55·z`); the probability is `1 / (1 + e^−z̄)`.
//!
//! **Decision.** A frame is speech while the probability exceeds the threshold, and for a
//! hangover after it. The hangover exists to cover speech tails that are too weak to detect:
//! how much of a tail disappears below the noise depends on the SNR, so its length scales
//! with the long-term SNR — the full configured length at 15 dB and below, falling linearly
//! to a fifth of it at 30 dB and above. The speech level is a peak-following average of the
//! band power of speech frames (fast up, slow down), the noise level an average of the
//! tracked noise floor over non-speech frames. A hangover also never exceeds three times the length of the burst it
//! follows, so an isolated one- or two-frame trigger (a click) is not stretched to 100 ms.
//!
//! The constants were chosen on a development set built for this purpose (see the module
//! docs of [`super`]), not on any evaluation data.

use super::fastmath::{fast_db, fast_ln, sigmoid};

/// Bias of the logistic model.
const BIAS: f32 = 0.5;
/// Weight of the LLR up to 4 nats.
const W_LLR: f32 = 8.0;
/// Weight of the LLR beyond 4 nats.
const W_LLR_HIGH: f32 = 0.35;
/// Weight of the harmonicity, and the harmonicity that counts as neutral.
const W_HARM: f32 = 16.0;
const HARM_NEUTRAL: f32 = 0.2;
/// Weight of the background-LLR percentile above its neutral level.
const W_BACKGROUND: f32 = 16.0;
const BACKGROUND_NEUTRAL: f32 = 0.3;
/// Percentile (and step) of the background-LLR tracker.
const BACKGROUND_PERCENTILE: f32 = 0.35;
const BACKGROUND_STEP: f32 = 0.01;
/// Centroid and harmonicity limits of the click / hiss cap.
const CLICK_CENTROID_HZ: f32 = 1800.0;
const CLICK_HARM: f32 = 0.35;
/// Largest magnitude of the per-frame logit, and its smoothing.
const Z_MAX: f32 = 5.0;
const Z_SMOOTH: f32 = 0.45;
/// Long-term SNR (dB) at or below which the full hangover applies, at or above which the
/// shortest one applies, and the shortest as a fraction of the full one.
const SNR_FULL_HANG: f32 = 15.0;
const SNR_SHORT_HANG: f32 = 30.0;
const SHORT_HANG_FRACTION: f32 = 0.2;
/// The hangover is at most this many times the preceding burst's length.
const HANG_PER_BURST_FRAME: u32 = 3;
/// Speech level smoothing while rising and while falling, noise level smoothing.
const LEVEL_UP: f32 = 0.2;
const LEVEL_DOWN: f32 = 0.01;
const NOISE_LEVEL: f32 = 0.05;
/// Frames after start or reset before any frame can be speech.
const WARM_UP: u64 = 5;

/// Inputs of one decision.
pub(crate) struct Evidence {
    /// Mean log-likelihood ratio over the band, nats.
    pub llr: f32,
    /// Harmonicity, 0..1.
    pub harmonicity: f32,
    /// Spectral centroid, Hz.
    pub centroid_hz: f32,
    /// Frame energy, dBFS.
    pub energy_db: f32,
    /// Band power of the frame.
    pub signal: f32,
    /// Tracked band noise power.
    pub noise: f32,
}

/// Decision state.
pub(crate) struct Decider {
    z_smooth: f32,
    background: f32,
    hang: u32,
    burst: u32,
    speech_db: f32,
    noise_db: f32,
    frames: u64,
}

impl Decider {
    pub(crate) fn new() -> Self {
        Decider { z_smooth: -6.0, background: 0.0, hang: 0, burst: 0, speech_db: -30.0, noise_db: -70.0, frames: 0 }
    }

    /// Speech probability and decision for one frame.
    pub(crate) fn decide(&mut self, e: &Evidence, threshold: f32, hangover: u32) -> (f32, bool) {
        let llr = if e.llr.is_finite() { e.llr } else { 0.0 };
        let harm = if e.harmonicity.is_finite() { e.harmonicity } else { 0.0 };
        let llr_c = llr.clamp(-1.0, 12.0);
        let u = fast_ln(1.0 + llr.max(0.0));
        let below = if u < self.background { 1.0 } else { 0.0 };
        self.background += BACKGROUND_STEP * (BACKGROUND_PERCENTILE - below);
        let mut z =
            BIAS + W_LLR * llr_c.min(4.0) + W_LLR_HIGH * (llr_c - 4.0).max(0.0) + W_HARM * (harm - HARM_NEUTRAL)
                - W_BACKGROUND * (self.background - BACKGROUND_NEUTRAL).max(0.0);
        if e.centroid_hz > CLICK_CENTROID_HZ && harm < CLICK_HARM {
            z = z.min(-2.0);
        }
        if e.energy_db.is_nan() || e.energy_db < -75.0 {
            z = z.min(-4.0);
        }
        let z = z.clamp(-Z_MAX, Z_MAX);
        self.z_smooth = Z_SMOOTH * self.z_smooth + (1.0 - Z_SMOOTH) * z;
        let prob = sigmoid(self.z_smooth);

        self.frames += 1;
        let speech = if self.frames > WARM_UP && prob > threshold {
            let sd = fast_db(e.signal.max(1e-20));
            let a = if sd > self.speech_db { LEVEL_UP } else { LEVEL_DOWN };
            self.speech_db += a * (sd - self.speech_db);
            self.burst = self.burst.saturating_add(1);
            self.hang = self.hangover_len(hangover);
            true
        } else if self.hang > 0 {
            self.hang -= 1;
            self.burst = 0;
            true
        } else {
            self.burst = 0;
            false
        };
        // The noise level is taken from non-speech frames only: during speech the tracked
        // floor of the bins between harmonics also holds spectral leakage of the harmonics.
        if !speech {
            let nd = fast_db(e.noise.max(1e-20));
            self.noise_db = if self.frames < 10 { nd } else { self.noise_db + NOISE_LEVEL * (nd - self.noise_db) };
        }
        (prob, speech)
    }

    /// Hangover after the current burst: `max_frames` scaled by the long-term SNR, at most
    /// [`HANG_PER_BURST_FRAME`] per burst frame.
    fn hangover_len(&self, max_frames: u32) -> u32 {
        let snr = self.speech_db - self.noise_db;
        let frac = ((SNR_SHORT_HANG - snr) / (SNR_SHORT_HANG - SNR_FULL_HANG)).clamp(SHORT_HANG_FRACTION, 1.0);
        let frac = if frac.is_finite() { frac } else { 1.0 };
        let h = (max_frames as f32 * frac).round() as u32;
        h.min(self.burst.saturating_mul(HANG_PER_BURST_FRAME))
    }

    pub(crate) fn reset(&mut self) {
        *self = Decider::new();
    }
}
