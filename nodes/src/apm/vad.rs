//! Voice activity detection from spectral features with an adaptive noise floor.
//!
//! Per 10 ms frame the detector windows the last ~32 ms, tracks the noise spectrum with
//! [`NoiseTracker`] (MCRA), and computes
//! * the mean log-likelihood ratio of the statistical-model test (Sohn et al. 1999) over the
//!   voice band, with a decision-directed a-priori SNR,
//! * harmonicity and pitch from the normalised autocorrelation of the noise-reduced spectrum,
//! * frame energy, zero-crossing rate, spectral centroid, 85 % rolloff and spectral flux.
//!
//! A logistic model turns the features into a speech probability; the decision uses
//! a threshold with a hangover. [`Vad`] is a plain struct ([`Vad::process_frame`]) and a graph
//! node: input `"in"` (mono audio), control outputs `"probability"` and `"speech"` (0/1).
//!
//! ```
//! use rvoip_media_nodes::apm::{AdvancedVadConfig, Vad};
//! let mut vad = Vad::new(AdvancedVadConfig::new(16_000)).unwrap();
//! let silence = [0.0f32; 160];
//! for _ in 0..50 {
//!     assert!(!vad.process_frame(&silence).is_speech);
//! }
//! ```

use super::fft::{hann, Cpx, RealFft};
use super::noise::NoiseTracker;
use super::{check_rate, ApmError};
use rvoip_media_graph::{AudioFormat, NodeSpec, ParamError, ParamSpec, PortKind, PortSpec, ProcessIo, Processor};

/// Natural logarithm for positive normal `x`, accurate to about 1e-5 absolute (exponent
/// split plus a minimax polynomial for `ln(1 + t)` on [0, 1)); returns −87.3 for `x ≤ 0`.
#[inline]
pub fn fast_ln(x: f32) -> f32 {
    if x.is_nan() || x <= 1.0e-38 {
        return -87.3;
    }
    let x = x.min(f32::MAX);
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let t = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000) - 1.0;
    let p = t * (0.999_495_56 + t * (-0.491_908_96 + t * (0.289_474_8 + t * (-0.136_062_75 + t * 0.032_158_45))));
    e as f32 * std::f32::consts::LN_2 + p
}

/// Configuration of [`Vad`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdvancedVadConfig {
    /// Sample rate in Hz (8000, 16000, 32000 or 48000; any rate divisible into 10 ms works).
    pub sample_rate: u32,
    /// Probability above which a frame is speech (0..1).
    pub threshold: f32,
    /// Frames kept as speech after the probability falls below the threshold.
    pub hangover_frames: u32,
    /// Lower edge of the analysis band, Hz.
    pub band_low_hz: f32,
    /// Upper edge of the analysis band, Hz.
    pub band_high_hz: f32,
}

impl AdvancedVadConfig {
    /// Defaults for `sample_rate`: threshold 0.5, 10 frames (100 ms) hangover, band 100–4000 Hz.
    pub fn new(sample_rate: u32) -> Self {
        AdvancedVadConfig { sample_rate, threshold: 0.5, hangover_frames: 10, band_low_hz: 100.0, band_high_hz: 4000.0 }
    }
    /// Sets the decision threshold.
    pub fn with_threshold(mut self, t: f32) -> Self {
        self.threshold = t;
        self
    }
    /// Sets the hangover in 10 ms frames.
    pub fn with_hangover_frames(mut self, n: u32) -> Self {
        self.hangover_frames = n;
        self
    }
    /// Sets the analysis band.
    pub fn with_band(mut self, low_hz: f32, high_hz: f32) -> Self {
        self.band_low_hz = low_hz;
        self.band_high_hz = high_hz;
        self
    }
}

/// Per-frame features.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VadFeatures {
    /// Frame RMS, dBFS.
    pub energy_db: f32,
    /// Zero crossings per sample.
    pub zcr: f32,
    /// Spectral centroid, Hz.
    pub centroid_hz: f32,
    /// 85 % spectral rolloff, Hz.
    pub rolloff_hz: f32,
    /// Positive log-spectral flux (mean dB increase per bin).
    pub flux: f32,
    /// Peak normalised autocorrelation in the pitch range (0..1).
    pub harmonicity: f32,
    /// Pitch estimate, Hz (0 when unvoiced).
    pub pitch_hz: f32,
    /// Mean log-likelihood ratio over the band (nats).
    pub llr: f32,
    /// Segmental SNR over the band against the tracked noise floor, dB.
    pub snr_db: f32,
}

/// One frame's result.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VadDecision {
    /// Speech probability (0..1).
    pub probability: f32,
    /// Decision after threshold and hangover.
    pub is_speech: bool,
    /// The features behind it.
    pub features: VadFeatures,
}

/// The voice activity detector. See the [module docs](self).
pub struct Vad {
    cfg: AdvancedVadConfig,
    hop: usize,
    win: Vec<f32>,
    hist: Vec<f32>,
    buf: Vec<f32>,
    fft: RealFft,
    spec: Vec<Cpx>,
    power: Vec<f32>,
    prev_logp: Vec<f32>,
    clean_prev: Vec<f32>,
    acorr_spec: Vec<Cpx>,
    acorr: Vec<f32>,
    noise: NoiseTracker,
    lo: usize,
    hi: usize,
    lag_lo: usize,
    lag_hi: usize,
    z_smooth: f32,
    llr_q: f32,
    hang: u32,
    frames: u64,
    last: VadDecision,
}

impl Vad {
    /// Parameter id of the decision threshold (0..1).
    pub const PARAM_THRESHOLD: u32 = 0;
    /// Parameter id of the hangover in frames (0..100).
    pub const PARAM_HANGOVER: u32 = 1;

    /// A detector; fails on a rate that does not divide into 10 ms frames or a bad band.
    pub fn new(cfg: AdvancedVadConfig) -> Result<Self, ApmError> {
        let hop = check_rate(cfg.sample_rate)?;
        if !(0.0..=1.0).contains(&cfg.threshold) || cfg.hangover_frames > 100 {
            return Err(ApmError::Config("VAD threshold must be in 0..1 and hangover ≤ 100 frames"));
        }
        let fs = cfg.sample_rate as f32;
        let n = (2 * hop).next_power_of_two().max(3 * hop).next_power_of_two();
        let n = if n >= 4 * hop { n / 2 } else { n }.max(2 * hop);
        let bins = n / 2 + 1;
        let bin_hz = fs / n as f32;
        let hi_hz = cfg.band_high_hz.min(0.47 * fs);
        if !(cfg.band_low_hz.is_finite()
            && hi_hz.is_finite()
            && cfg.band_low_hz >= 0.0
            && hi_hz > cfg.band_low_hz + 200.0)
        {
            return Err(ApmError::Config("VAD band must span at least 200 Hz below Nyquist"));
        }
        let lo = ((cfg.band_low_hz / bin_hz).ceil() as usize).max(1);
        let hi = ((hi_hz / bin_hz) as usize).min(bins - 1);
        Ok(Vad {
            cfg,
            hop,
            win: hann(n),
            hist: vec![0.0; n],
            buf: vec![0.0; n],
            fft: RealFft::new(n),
            spec: vec![Cpx::new(0.0, 0.0); bins],
            power: vec![0.0; bins],
            prev_logp: vec![0.0; bins],
            clean_prev: vec![0.0; bins],
            acorr_spec: vec![Cpx::new(0.0, 0.0); bins],
            acorr: vec![0.0; n],
            noise: NoiseTracker::new((hi + 2).min(bins), 10.0),
            lo,
            hi,
            lag_lo: (fs / 400.0) as usize,
            lag_hi: ((fs / 70.0) as usize).min(n / 2),
            z_smooth: -6.0,
            llr_q: 0.0,
            hang: 0,
            frames: 0,
            last: VadDecision::default(),
        })
    }

    /// Samples per frame (10 ms).
    pub fn frame_len(&self) -> usize {
        self.hop
    }

    /// The configuration.
    pub fn config(&self) -> &AdvancedVadConfig {
        &self.cfg
    }

    /// The last decision.
    pub fn last(&self) -> VadDecision {
        self.last
    }

    /// Analyses one 10 ms frame (`frame_len()` samples; shorter frames are zero-padded,
    /// longer ones truncated, non-finite samples read as zero).
    pub fn process_frame(&mut self, frame: &[f32]) -> VadDecision {
        let n = self.hist.len();
        let h = self.hop;
        self.hist.copy_within(h.., 0);
        let m = frame.len().min(h);
        let mut e = 0.0f32;
        let mut zc = 0u32;
        let mut prev = self.hist[n - h - 1];
        for i in 0..h {
            let v = if i < m && frame[i].is_finite() { frame[i].clamp(-4.0, 4.0) } else { 0.0 };
            self.hist[n - h + i] = v;
            e += v * v;
            if (v >= 0.0) != (prev >= 0.0) {
                zc += 1;
            }
            prev = v;
        }
        for i in 0..n {
            self.buf[i] = self.hist[i] * self.win[i];
        }
        self.fft.forward(&self.buf, &mut self.spec);
        let norm = 1.0 / (n as f32 * n as f32);
        for (p, c) in self.power.iter_mut().zip(&self.spec) {
            *p = c.norm_sqr() * norm + 1e-14;
        }
        let tracked = (self.hi + 2).min(self.power.len());
        self.noise.update(&self.power[..tracked]);
        let noise = self.noise.noise();
        let fs = self.cfg.sample_rate as f32;
        let bin_hz = fs / n as f32;

        // Statistical-model LLR, SNR, centroid, rolloff and flux over the band.
        let (lo, hi) = (self.lo, self.hi);
        let (mut llr, mut ps, mut pn, mut cen_num, mut tot, mut flux) =
            (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for k in lo..=hi {
            let p = self.power[k];
            let nk = noise[k].max(1e-14);
            let gamma = (p / nk).min(1e4);
            let xi = (0.98 * self.clean_prev[k] / nk + 0.02 * (gamma - 1.0).max(0.0)).clamp(0.003, 1e3);
            llr += gamma * xi / (1.0 + xi) - fast_ln(1.0 + xi);
            let g = xi / (1.0 + xi);
            self.clean_prev[k] = g * g * p;
            ps += p;
            pn += nk;
            cen_num += p * k as f32;
            tot += p;
            let lp = fast_ln(p);
            let d = lp - self.prev_logp[k];
            if d > 0.0 {
                flux += d;
            }
            self.prev_logp[k] = lp;
        }
        let nb = (hi - lo + 1) as f32;
        llr /= nb;
        flux = flux * 4.343 / nb;
        let centroid = if tot > 0.0 { cen_num / tot * bin_hz } else { 0.0 };
        let mut acc = 0.0;
        let mut roll = hi;
        for k in lo..=hi {
            acc += self.power[k];
            if acc >= 0.85 * tot {
                roll = k;
                break;
            }
        }
        let snr_db = 10.0 * ((ps / pn.max(1e-20)).max(1e-6)).log10();

        // Harmonicity: normalised autocorrelation of the band-limited frame.
        for (k, c) in self.acorr_spec.iter_mut().enumerate() {
            let v = if k >= lo && k <= hi { self.power[k] } else { 0.0 };
            *c = Cpx::new(v, 0.0);
        }
        self.fft.inverse(&self.acorr_spec, &mut self.acorr);
        let r0 = self.acorr[0];
        let (mut best, mut lag) = (0.0f32, 0usize);
        if r0 > 1e-12 {
            for l in self.lag_lo.max(1)..self.lag_hi {
                let r = self.acorr[l] / r0;
                if r > best && self.acorr[l] >= self.acorr[l - 1] && self.acorr[l] >= self.acorr[l + 1] {
                    best = r;
                    lag = l;
                }
            }
        }
        let harm = best.clamp(0.0, 1.0);
        let energy_db = 10.0 * (e / h as f32 + 1e-12).log10();

        // Logistic model. The LLR is the main cue (saturating: beyond 4 nats more evidence
        // adds little); harmonicity adds evidence for voiced speech. Frames with a high
        // centroid and no periodicity (keyboard clicks, hiss) are capped below threshold, and
        // when even the quieter frames carry a high LLR (the 35th percentile, tracked
        // over several seconds, is high: speech-like background such as babble) the
        // evidence required rises accordingly.
        let llr_c = llr.clamp(-1.0, 12.0);
        let u = llr.max(0.0).ln_1p();
        self.llr_q += 0.01 * (0.35 - if u < self.llr_q { 1.0 } else { 0.0 });
        let mut z = -1.0 + 4.0 * llr_c.min(4.0) + 0.35 * (llr_c - 4.0).max(0.0) + 5.0 * (harm - 0.2);
        z -= 16.0 * (self.llr_q - 0.3).max(0.0);
        if centroid > 1800.0 && harm < 0.25 {
            z = z.min(-2.0);
        }
        if energy_db < -75.0 {
            z = z.min(-4.0);
        }
        self.z_smooth = 0.45 * self.z_smooth + 0.55 * z;
        let prob = 1.0 / (1.0 + (-self.z_smooth).exp());
        let prob = if prob.is_finite() { prob } else { 0.0 };
        self.frames += 1;
        let warm = self.frames > 5;
        let speech = if warm && prob > self.cfg.threshold {
            self.hang = self.cfg.hangover_frames;
            true
        } else if self.hang > 0 {
            self.hang -= 1;
            true
        } else {
            false
        };
        let features = VadFeatures {
            energy_db,
            zcr: zc as f32 / h as f32,
            centroid_hz: centroid,
            rolloff_hz: roll as f32 * bin_hz,
            flux,
            harmonicity: harm,
            pitch_hz: if lag > 0 && harm > 0.3 { fs / lag as f32 } else { 0.0 },
            llr,
            snr_db,
        };
        self.last = VadDecision { probability: prob, is_speech: speech, features };
        self.last
    }

    /// Forgets all state.
    pub fn reset(&mut self) {
        self.hist.fill(0.0);
        self.prev_logp.fill(0.0);
        self.clean_prev.fill(0.0);
        self.noise.reset();
        self.z_smooth = -6.0;
        self.llr_q = 0.0;
        self.hang = 0;
        self.frames = 0;
        self.last = VadDecision::default();
    }
}

impl Processor for Vad {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("vad")
            .with_input(PortSpec::required("in", PortKind::Audio(AudioFormat::mono(self.cfg.sample_rate))))
            .with_output(PortSpec::required("probability", PortKind::Control))
            .with_output(PortSpec::required("speech", PortKind::Control))
            .with_param(ParamSpec { id: Self::PARAM_THRESHOLD, name: "threshold", min: 0.0, max: 1.0, default: 0.5 })
            .with_param(ParamSpec {
                id: Self::PARAM_HANGOVER,
                name: "hangover_frames",
                min: 0.0,
                max: 100.0,
                default: 10.0,
            })
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let x = io.audio_in(0);
        if !x.iter().all(|v| v.is_finite()) {
            io.report_error();
        }
        let mut d = self.last;
        let mut any = false;
        for c in x.chunks(self.hop) {
            d = self.process_frame(c);
            any |= d.is_speech;
        }
        io.set_control(0, d.probability);
        io.set_control(1, if any { 1.0 } else { 0.0 });
    }

    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        match id {
            Self::PARAM_THRESHOLD if value.is_finite() && (0.0..=1.0).contains(&value) => self.cfg.threshold = value,
            Self::PARAM_HANGOVER if value.is_finite() && (0.0..=100.0).contains(&value) => {
                self.cfg.hangover_frames = value as u32
            }
            Self::PARAM_THRESHOLD | Self::PARAM_HANGOVER => return Err(ParamError::OutOfRange { id, value }),
            _ => return Err(ParamError::Unknown(id)),
        }
        Ok(())
    }

    fn reset(&mut self) {
        Vad::reset(self);
    }
}
