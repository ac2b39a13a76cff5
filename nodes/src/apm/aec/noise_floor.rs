//! Background-noise floor of the echo canceller's error signal, by minimum statistics.
//!
//! The post-filter needs the stationary background so that it can attenuate it and fill
//! with comfort noise, but it must never learn near-end speech or residual echo as noise:
//! either would make the post-filter cut the near-end talker. A speech-presence tracker with
//! a short minimum window (as used for stand-alone noise suppression) learns continuous
//! near-end speech within a second, so the canceller uses plain minimum statistics (Martin
//! 2001) over a longer window instead:
//!
//! * the power spectrum is smoothed over three bins and in time, with `α = 0.85` (~60 ms)
//!   near the floor and down to 0.3 far above it (Martin's optimal smoothing, simplified),
//!   so the smoothed power falls to the background within a short pause;
//! * the minimum of the smoothed power is kept per sub-window of 1 s, and the floor is the
//!   smallest of the last four sub-window minima and the running one (a 4–5 s window),
//!   times a bias factor that turns the minimum of a smoothed periodogram back into its mean;
//! * the floor may fall at once but rise by at most 3 dB/s (except from near-silence).
//!
//! Read speech often has no pause down to the background within one or two seconds, so a
//! shorter window learns it; four seconds plus the rise limit keep the floor at the
//! background through continuous talk, while a genuine rise of the background is followed
//! after one window at 3 dB/s (20 dB in about 12 s).

/// Number of sub-window minima kept.
const SUBWINDOWS: usize = 4;
/// Frames per sub-window (10 ms frames: 1 s).
const SUBWINDOW_FRAMES: u32 = 100;
/// Largest rise of the floor per frame: 3 dB/s.
const MAX_RISE: f32 = 1.006_932_4; // 10^(0.03 / 10)
/// Time smoothing of the periodogram in stationary noise …
const ALPHA: f32 = 0.85;
/// … and the smallest smoothing constant, used far above the floor.
const ALPHA_MIN: f32 = 0.3;
/// Mean over minimum of the smoothed periodogram of stationary noise (≈ 3.8 dB; simulated
/// for sqrt-Hann windowed white noise with this smoothing and window, checked by the unit
/// test below).
const BIAS: f32 = 2.4;
/// The same for the DC and Nyquist bins: twice `BIAS` (≈ 6.8 dB). Their spectra are real, so
/// their periodogram has one degree of freedom instead of two (twice the relative variance;
/// at the edges the three-bin smoothing also averages only two bins), and its minimum lies
/// further under the mean: with `BIAS` the DC bin came out 3.6 dB low in white noise (unit test
/// below) and more in brown noise, whose power is concentrated there, and the post-filter
/// left that noise nearly unattenuated.
const BIAS_REAL: f32 = 2.0 * BIAS;

/// Minimum-statistics noise floor per bin. All memory is allocated in [`NoiseFloor::new`].
#[derive(Clone, Debug)]
pub struct NoiseFloor {
    smooth: Vec<f32>,
    cur_min: Vec<f32>,
    mins: Vec<[f32; SUBWINDOWS]>,
    floor: Vec<f32>,
    slot: usize,
    count: u32,
    frames: u32,
    rise_from: f32,
}

impl NoiseFloor {
    /// A tracker for `bins` bins (spectra of `2·(bins−1)`-point sqrt-Hann windowed FFTs) of
    /// 10 ms frames.
    pub fn new(bins: usize) -> Self {
        NoiseFloor {
            smooth: vec![0.0; bins],
            cur_min: vec![f32::MAX; bins],
            mins: vec![[f32::MAX; SUBWINDOWS]; bins],
            floor: vec![0.0; bins],
            slot: 0,
            count: 0,
            frames: 0,
            // About −97 dBFS white noise per bin: below it the floor may jump up at once
            // (start-up after digital silence).
            rise_from: 1e-10 * (2 * bins.max(1)) as f32,
        }
    }

    /// Feeds one power spectrum (non-negative, finite).
    #[inline(always)]
    pub fn update(&mut self, p: &[f32]) {
        let n = self.smooth.len().min(p.len());
        if n == 0 {
            return;
        }
        let first = self.frames == 0;
        self.frames = self.frames.saturating_add(1);
        self.count += 1;
        let roll = self.count >= SUBWINDOW_FRAMES;
        for k in 0..n {
            let sf = 0.25 * p[k.saturating_sub(1)] + 0.5 * p[k] + 0.25 * p[(k + 1).min(n - 1)];
            let sf = if sf.is_finite() { sf.max(1e-20) } else { 1e-20 };
            // Smoothing after Martin (2001): close to ALPHA where the smoothed power is near
            // the floor (stationary noise), much faster where it is far above it, so that the
            // smoothed power reaches the background within a short speech pause.
            let prev = self.smooth[k];
            let q = prev / self.floor[k].max(1e-20) - 1.0;
            let a = (ALPHA / (1.0 + q * q)).max(ALPHA_MIN);
            let s = if first { sf } else { a * prev + (1.0 - a) * sf };
            self.smooth[k] = s;
            let m = self.cur_min[k].min(s);
            self.cur_min[k] = m;
            let mut all = m;
            for &v in &self.mins[k] {
                all = all.min(v);
            }
            // Rises are rate-limited (except from nothing), falls are immediate.
            let bias = if k == 0 || k == n - 1 { BIAS_REAL } else { BIAS };
            let nf = bias * all;
            self.floor[k] = if self.floor[k] > self.rise_from { nf.min(self.floor[k] * MAX_RISE) } else { nf };
            if roll {
                self.mins[k][self.slot] = m;
                self.cur_min[k] = f32::MAX;
            }
        }
        if roll {
            self.count = 0;
            self.slot = (self.slot + 1) % SUBWINDOWS;
        }
    }

    /// The noise power estimate per bin.
    pub fn noise(&self) -> &[f32] {
        &self.floor
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.smooth.fill(0.0);
        self.cur_min.fill(f32::MAX);
        self.mins.iter_mut().for_each(|m| *m = [f32::MAX; SUBWINDOWS]);
        self.floor.fill(0.0);
        self.slot = 0;
        self.count = 0;
        self.frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::SplitMix64;

    /// Deterministic white noise (uniform), unit variance.
    fn noise(rng: &mut SplitMix64) -> f32 {
        rng.bipolar() * 3f32.sqrt()
    }

    /// Power spectra of sqrt-Hann windowed 320-point frames (hop 160) of `x`.
    fn spectra(x: &[f32]) -> Vec<Vec<f32>> {
        let n = 320;
        let mut fft = crate::apm::fft::RealFft::new(n);
        let win = crate::apm::fft::sqrt_hann(n);
        let mut buf = vec![0.0f32; n];
        let mut spec = vec![crate::apm::fft::Cpx::new(0.0, 0.0); n / 2 + 1];
        let mut out = Vec::new();
        let mut t = 0;
        while t + n <= x.len() {
            for i in 0..n {
                buf[i] = x[t + i] * win[i];
            }
            fft.forward(&buf, &mut spec);
            out.push(spec.iter().map(|c| c.norm_sqr()).collect());
            t += 160;
        }
        out
    }

    #[test]
    fn stationary_noise_is_estimated_within_two_db() {
        let mut st = SplitMix64::new(1);
        let x: Vec<f32> = (0..16000 * 8).map(|_| 0.01 * noise(&mut st)).collect();
        let mut nf = NoiseFloor::new(161);
        for p in spectra(&x) {
            nf.update(&p);
        }
        // Expected power per bin: variance · Σ win² = 1e-4 · 160.
        let want = 1e-4 * 160.0;
        for k in (8..160).step_by(8) {
            let db = 10.0 * (nf.noise()[k] / want).log10();
            assert!(db.abs() < 2.0, "bin {k}: {db:.1} dB");
        }
    }

    #[test]
    fn dc_and_nyquist_bins_are_estimated_within_one_db() {
        // Real-valued bins: with the complex bins' bias the DC bin came out 3.6 dB low.
        let mut st = SplitMix64::new(5);
        let x: Vec<f32> = (0..16000 * 12).map(|_| 0.01 * noise(&mut st)).collect();
        let mut nf = NoiseFloor::new(161);
        let want = 1e-4 * 160.0;
        let (mut sum, mut frames) = ([0.0f32; 2], 0);
        for (i, p) in spectra(&x).iter().enumerate() {
            nf.update(p);
            if i >= 600 {
                sum[0] += nf.noise()[0];
                sum[1] += nf.noise()[160];
                frames += 1;
            }
        }
        for (k, s) in [0, 160].into_iter().zip(sum) {
            let db = 10.0 * (s / frames as f32 / want).log10();
            assert!(db.abs() < 1.0, "bin {k}: {db:.1} dB");
        }
    }

    #[test]
    fn continuous_talk_is_not_learnt() {
        // Background at unit level; from 3 s on a "talker" 12 to 30 dB above it (syllable-rate
        // modulation) whose only dips are 300 ms breath pauses every 2.5 s. A tracker with a
        // 1–1.5 s window learns it; the floor must stay within 4 dB of the background.
        let mut st = SplitMix64::new(7);
        let x: Vec<f32> = (0..16000 * 14)
            .map(|i| {
                let t = i as f32 / 16000.0;
                let pause = (t - 3.0).rem_euclid(2.5) < 0.3;
                let talk = if t >= 3.0 && !pause {
                    4.0 + 28.0 * (0.5 + 0.5 * (std::f32::consts::TAU * 4.0 * t).sin())
                } else {
                    0.0
                };
                (0.01 + 0.01 * talk) * noise(&mut st)
            })
            .collect();
        let mut nf = NoiseFloor::new(161);
        let want = 1e-4 * 160.0;
        let mut worst = f32::MIN;
        for (i, p) in spectra(&x).iter().enumerate() {
            nf.update(p);
            if i > 100 {
                worst = worst.max(10.0 * (nf.noise()[64] / want).log10());
            }
        }
        assert!(worst < 4.0, "floor up to {worst:.1} dB above the background");
    }

    #[test]
    fn a_louder_background_is_followed_and_reset_forgets() {
        let mut st = SplitMix64::new(3);
        let x: Vec<f32> = (0..16000 * 20).map(|i| if i < 16000 * 4 { 0.001 } else { 0.01 } * noise(&mut st)).collect();
        let mut nf = NoiseFloor::new(161);
        for p in spectra(&x) {
            nf.update(&p);
        }
        let db = 10.0 * (nf.noise()[64] / (1e-4 * 160.0)).log10();
        assert!(db.abs() < 2.0, "{db:.1} dB after a 20 dB rise");
        nf.reset();
        assert!(nf.noise().iter().all(|&v| v == 0.0));
    }
}
