//! Single-channel noise suppression: STFT (sqrt-Hann, 50 % overlap, 20 ms window, 10 ms hop),
//! MCRA noise tracking, decision-directed a-priori SNR, and the optimally-modified log-spectral
//! amplitude gain (OM-LSA, Cohen 2001): the MMSE-LSA gain weighted by the per-bin speech
//! presence probability, with a level-dependent gain floor.
//!
//! Musical noise is controlled three ways: the decision-directed a-priori SNR (smoothing
//! 0.98) with a floor, the gain floor `G_min` that leaves a constant residual rather than
//! isolated spectral peaks, and a three-bin frequency smoothing of the presence probability.
//! Because MCRA follows only the slowly varying floor, non-stationary noise such as babble or
//! keyboard clicks is neither tracked nor over-suppressed: it passes at (close to) its
//! original level instead of being carved out of the speech.
//!
//! ```
//! use rvoip_media_nodes::apm::{NoiseSuppressor, NsConfig, NsLevel};
//! let mut ns = NoiseSuppressor::new(NsConfig::new(16_000).with_level(NsLevel::High)).unwrap();
//! let mut frame = [0.0f32; 160];
//! ns.process_frame(&mut frame);
//! assert!(frame.iter().all(|v| *v == 0.0));
//! ```

use super::fft::{sqrt_hann, Cpx, RealFft};
use super::noise::NoiseTracker;
use super::{check_rate, ApmError};
use rvoip_media_graph::{AudioFormat, NodeSpec, ParamError, ParamSpec, PortKind, PortSpec, ProcessIo, Processor};
use std::str::FromStr;

/// Suppression strength: the gain floor applied where no speech is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsLevel {
    /// −9 dB floor.
    Low,
    /// −13 dB floor.
    Moderate,
    /// −18 dB floor.
    High,
    /// −24 dB floor.
    VeryHigh,
}

impl NsLevel {
    /// The gain floor in dB.
    pub fn floor_db(self) -> f32 {
        match self {
            NsLevel::Low => -9.0,
            NsLevel::Moderate => -13.0,
            NsLevel::High => -18.0,
            NsLevel::VeryHigh => -24.0,
        }
    }
}

impl FromStr for NsLevel {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "low" | "0" => Ok(NsLevel::Low),
            "moderate" | "1" => Ok(NsLevel::Moderate),
            "high" | "2" => Ok(NsLevel::High),
            "very-high" | "veryhigh" | "3" => Ok(NsLevel::VeryHigh),
            _ => Err("expected low, moderate, high or very-high"),
        }
    }
}

/// Configuration of [`NoiseSuppressor`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NsConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Strength.
    pub level: NsLevel,
}

impl NsConfig {
    /// Defaults: [`NsLevel::High`].
    pub fn new(sample_rate: u32) -> Self {
        NsConfig { sample_rate, level: NsLevel::High }
    }
    /// Sets the level.
    pub fn with_level(mut self, level: NsLevel) -> Self {
        self.level = level;
        self
    }
}

/// Exponential integral E1(x) for x > 0 (Abramowitz & Stegun 5.1.53 / 5.1.56, |error| < 5e-5).
#[inline]
pub fn expint_e1(x: f32) -> f32 {
    let x = x.max(1e-8);
    if x < 1.0 {
        -0.577_215_7 - x.ln() + x * (1.0 - x * (0.25 - x * (1.0 / 18.0 - x * (1.0 / 96.0 - x / 600.0))))
    } else {
        let num = x * x + 2.334_733 * x + 0.250_621;
        let den = x * x + 3.330_657 * x + 1.681_534;
        (-x).exp() / x * num / den
    }
}

/// The noise suppressor. See the [module docs](self).
pub struct NoiseSuppressor {
    cfg: NsConfig,
    hop: usize,
    win: Vec<f32>,
    inbuf: Vec<f32>,
    frame: Vec<f32>,
    fft: RealFft,
    spec: Vec<Cpx>,
    power: Vec<f32>,
    gain: Vec<f32>,
    prev_clean: Vec<f32>,
    presence: Vec<f32>,
    overlap: Vec<f32>,
    out: Vec<f32>,
    noise: NoiseTracker,
    gmin: f32,
}

impl NoiseSuppressor {
    /// Parameter id of the level (0 = low … 3 = very high).
    pub const PARAM_LEVEL: u32 = 0;

    /// A suppressor; fails on an unsupported rate.
    pub fn new(cfg: NsConfig) -> Result<Self, ApmError> {
        let hop = check_rate(cfg.sample_rate)?;
        let n = 2 * hop;
        let bins = hop + 1;
        Ok(NoiseSuppressor {
            cfg,
            hop,
            win: sqrt_hann(n),
            inbuf: vec![0.0; n],
            frame: vec![0.0; n],
            fft: RealFft::new(n),
            spec: vec![Cpx::new(0.0, 0.0); bins],
            power: vec![0.0; bins],
            gain: vec![1.0; bins],
            prev_clean: vec![0.0; bins],
            presence: vec![0.0; bins],
            overlap: vec![0.0; hop],
            out: vec![0.0; n],
            noise: {
                let mut t = NoiseTracker::new(bins, 10.0);
                t.set_max_rise_db_per_s(4.0);
                t
            },
            gmin: 10f32.powf(cfg.level.floor_db() / 20.0),
        })
    }

    /// Samples per frame (10 ms).
    pub fn frame_len(&self) -> usize {
        self.hop
    }

    /// Delay from input to output, samples (one frame).
    pub fn latency(&self) -> usize {
        self.hop
    }

    /// Changes the level.
    pub fn set_level(&mut self, level: NsLevel) {
        self.cfg.level = level;
        self.gmin = 10f32.powf(level.floor_db() / 20.0);
    }

    /// The per-bin gains applied to the last frame.
    pub fn gains(&self) -> &[f32] {
        &self.gain
    }

    /// Processes one frame in place (`frame_len()` samples; the output is delayed by one
    /// frame). Returns `false` (and treats the frame as silence) when it held non-finite
    /// samples; a frame of the wrong length is passed through unchanged and also returns
    /// `false`.
    pub fn process_frame(&mut self, x: &mut [f32]) -> bool {
        let h = self.hop;
        if x.len() != h {
            return false;
        }
        let ok = x.iter().all(|v| v.is_finite());
        self.inbuf.copy_within(h.., 0);
        for (d, s) in self.inbuf[h..].iter_mut().zip(x.iter()) {
            *d = if ok { s.clamp(-4.0, 4.0) } else { 0.0 };
        }
        for ((f, i), w) in self.frame.iter_mut().zip(&self.inbuf).zip(&self.win) {
            *f = i * w;
        }
        self.fft.forward(&self.frame, &mut self.spec);
        for (p, c) in self.power.iter_mut().zip(&self.spec) {
            *p = c.norm_sqr() + 1e-12;
        }
        self.noise.update(&self.power);
        let noise = self.noise.noise();
        let bins = self.power.len();
        let gmin = self.gmin;
        for k in 0..bins {
            let nk = noise[k] * 1.3 + 1e-12;
            let gamma = (self.power[k] / nk).min(1e5);
            let xi = (0.98 * self.prev_clean[k] / nk + 0.02 * (gamma - 1.0).max(0.0)).max(0.003);
            let v = (gamma * xi / (1.0 + xi)).min(80.0);
            let g_lsa = (xi / (1.0 + xi) * (0.5 * expint_e1(v)).exp()).min(1.0);
            // Speech presence probability with an a-priori absence probability of 0.5.
            let p = 1.0 / (1.0 + (1.0 + xi) * (-v).exp());
            self.presence[k] = p;
            let g = (g_lsa.powf(p) * gmin.powf(1.0 - p)).max(gmin);
            self.gain[k] = g;
            self.prev_clean[k] = g_lsa * g_lsa * self.power[k];
        }
        // Smooth the gains across frequency a little (musical-noise control), never above 1.
        let mut prev = self.gain[0];
        for k in 1..bins - 1 {
            let cur = self.gain[k];
            self.gain[k] = (0.25 * prev + 0.5 * cur + 0.25 * self.gain[k + 1]).max(cur.min(gmin.max(cur * 0.5)));
            prev = cur;
        }
        for (c, g) in self.spec.iter_mut().zip(&self.gain) {
            *c *= *g;
        }
        self.fft.inverse(&self.spec, &mut self.out);
        for i in 0..h {
            x[i] = self.overlap[i] + self.out[i] * self.win[i];
            self.overlap[i] = self.out[h + i] * self.win[h + i];
        }
        ok
    }

    /// Forgets all state.
    pub fn reset(&mut self) {
        self.inbuf.fill(0.0);
        self.overlap.fill(0.0);
        self.prev_clean.fill(0.0);
        self.gain.fill(1.0);
        self.noise.reset();
    }
}

impl Processor for NoiseSuppressor {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(AudioFormat::mono(self.cfg.sample_rate));
        NodeSpec::new("noise_suppressor")
            .with_input(PortSpec::required("in", a))
            .with_output(PortSpec::required("out", a))
            .with_latency_ns(10_000_000)
            .with_param(ParamSpec { id: Self::PARAM_LEVEL, name: "level", min: 0.0, max: 3.0, default: 2.0 })
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let x = io.audio_in(0);
        let hop = self.hop;
        let out = io.audio_out(0);
        out.copy_from_slice(x);
        let mut ok = out.len() % hop == 0;
        if ok {
            for c in out.chunks_mut(hop) {
                ok &= self.process_frame(c);
            }
        } else {
            out.fill(0.0);
        }
        if !ok {
            io.report_error();
        }
    }

    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        if id != Self::PARAM_LEVEL {
            return Err(ParamError::Unknown(id));
        }
        let l = match value {
            v if !(0.0..=3.0).contains(&v) => return Err(ParamError::OutOfRange { id, value }),
            v if v < 0.5 => NsLevel::Low,
            v if v < 1.5 => NsLevel::Moderate,
            v if v < 2.5 => NsLevel::High,
            _ => NsLevel::VeryHigh,
        };
        self.set_level(l);
        Ok(())
    }

    fn reset(&mut self) {
        NoiseSuppressor::reset(self);
    }
}
