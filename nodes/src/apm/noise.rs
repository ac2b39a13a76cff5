//! Per-bin noise power tracking by minima-controlled recursive averaging (MCRA, Cohen &
//! Berdugo 2002). The noise suppressor uses its minimum statistic to bound its own tracker;
//! the VAD runs a band-limited, vectorised copy of the same algorithm (`vad/noise_floor.rs`),
//! and the echo canceller a slower minimum-statistics floor of its own (`aec/noise_floor.rs`)
//! that does not learn continuous near-end talk.
//!
//! The smoothed periodogram `S` is searched for its minimum over a window of two sub-windows
//! (each `subwin` frames); where `S` stays within `delta` of that minimum the bin is taken as
//! noise-only, and the noise estimate follows the periodogram with a speech-presence-controlled
//! smoothing constant. All buffers are allocated in [`NoiseTracker::new`].

/// MCRA noise tracker over `bins` frequency bins.
#[derive(Clone, Debug)]
pub struct NoiseTracker {
    s: Vec<f32>,
    smin: Vec<f32>,
    stmp: Vec<f32>,
    presence: Vec<f32>,
    noise: Vec<f32>,
    frames: u32,
    subwin: u32,
    count: u32,
    /// Smoothing of the periodogram (per frame).
    alpha_s: f32,
    /// Base smoothing of the noise estimate.
    alpha_d: f32,
    /// Smoothing of the presence probability.
    alpha_p: f32,
    /// Ratio `S / Smin` above which a bin counts as speech.
    delta: f32,
    /// Frames used for the initial noise estimate (simple mean).
    init_frames: u32,
    /// Largest factor the estimate may grow by per frame (∞ = unlimited).
    max_rise: f32,
    frame_ms: f32,
    /// Below this power the rise limit does not apply (start-up after digital silence).
    rise_floor: f32,
}

impl NoiseTracker {
    /// A tracker for `bins` bins and frames of `frame_ms` milliseconds. The minimum search
    /// spans about 1.5 s.
    pub fn new(bins: usize, frame_ms: f32) -> Self {
        let subwin = ((750.0 / frame_ms.max(1.0)) as u32).max(4);
        NoiseTracker {
            s: vec![0.0; bins],
            smin: vec![0.0; bins],
            stmp: vec![0.0; bins],
            presence: vec![0.0; bins],
            noise: vec![0.0; bins],
            frames: 0,
            subwin,
            count: 0,
            alpha_s: 0.8,
            alpha_d: 0.95,
            alpha_p: 0.2,
            delta: 5.0,
            init_frames: (100.0 / frame_ms.max(1.0)) as u32,
            max_rise: f32::INFINITY,
            frame_ms: frame_ms.max(1.0),
            // About -100 dBFS per bin for an unnormalised FFT of `2·(bins−1)` points.
            rise_floor: 1e-10 * (2 * bins) as f32 * (2 * bins) as f32,
        }
    }

    /// Limits how fast the estimate may rise, in dB per second. Continuous speech can lift
    /// the tracked minimum within one search window; a rise limit keeps such passages from
    /// being learnt as noise, at the cost of following genuine noise increases more slowly.
    pub fn set_max_rise_db_per_s(&mut self, db_per_s: f32) {
        self.max_rise = if db_per_s.is_finite() && db_per_s > 0.0 {
            10f32.powf(db_per_s * self.frame_ms / 1000.0 / 10.0)
        } else {
            f32::INFINITY
        };
    }

    /// Sets the speech-presence threshold `delta` (ratio to the tracked minimum).
    pub fn set_delta(&mut self, delta: f32) {
        self.delta = delta.max(1.5);
    }

    /// Updates the estimate with one power spectrum `p` (`bins` values, non-negative).
    pub fn update(&mut self, p: &[f32]) {
        let n = self.s.len().min(p.len());
        self.frames = self.frames.saturating_add(1);
        if self.frames <= self.init_frames.max(1) {
            let w = 1.0 / self.frames as f32;
            for k in 0..n {
                let v = p[k].max(1e-20);
                self.noise[k] += w * (v - self.noise[k]);
                self.s[k] = self.noise[k];
                self.smin[k] = self.noise[k];
                self.stmp[k] = self.noise[k];
            }
            return;
        }
        self.count += 1;
        let roll = self.count >= self.subwin;
        if roll {
            self.count = 0;
        }
        let (a_s, a_d, a_p, delta) = (self.alpha_s, self.alpha_d, self.alpha_p, self.delta);
        for k in 0..n {
            // Frequency smoothing over three bins, then time smoothing.
            let lo = p[k.saturating_sub(1)];
            let hi = p[(k + 1).min(n - 1)];
            let sf = 0.25 * lo + 0.5 * p[k] + 0.25 * hi;
            let s = a_s * self.s[k] + (1.0 - a_s) * sf;
            self.s[k] = s;
            self.smin[k] = self.smin[k].min(s);
            self.stmp[k] = self.stmp[k].min(s);
            if roll {
                self.smin[k] = self.stmp[k].min(s);
                self.stmp[k] = s;
            }
            let ind = if s > delta * self.smin[k] { 1.0 } else { 0.0 };
            let pr = a_p * self.presence[k] + (1.0 - a_p) * ind;
            self.presence[k] = pr;
            let ad = a_d + (1.0 - a_d) * pr;
            let mut v = ad * self.noise[k] + (1.0 - ad) * p[k];
            if self.noise[k] > self.rise_floor {
                v = v.min(self.noise[k] * self.max_rise);
            }
            self.noise[k] = if v.is_finite() { v.max(1e-20) } else { 1e-20 };
        }
    }

    /// The noise power estimate per bin.
    pub fn noise(&self) -> &[f32] {
        &self.noise
    }

    /// The tracked minimum of the smoothed periodogram per bin (the minimum over the last one
    /// to two search sub-windows, about 0.75–1.5 s). It is a biased-low estimate of the mean
    /// noise power (Martin 2001), and an upper bound on it that speech cannot lift as long
    /// as speech pauses at least once per search window.
    pub fn minimum(&self) -> &[f32] {
        &self.smin
    }

    /// The smoothed speech-presence probability per bin.
    pub fn presence(&self) -> &[f32] {
        &self.presence
    }

    /// Frames seen since construction or reset.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        for v in [&mut self.s, &mut self.smin, &mut self.stmp, &mut self.presence, &mut self.noise] {
            v.fill(0.0);
        }
        self.frames = 0;
        self.count = 0;
    }
}
