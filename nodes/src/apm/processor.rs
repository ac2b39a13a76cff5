//! [`AudioProcessor`]: the modules chained behind one configuration.

use super::{check_rate, NsLevel};
use super::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, ApmError, NoiseSuppressor, NsConfig,
    RnnoiseSuppressor, Vad,
};

/// Which modules [`AudioProcessor`] runs, and their settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AudioProcessingConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Echo cancellation settings, `None` = off.
    pub aec: Option<AdvancedAecConfig>,
    /// Noise suppression level, `None` = off.
    pub ns: Option<NsLevel>,
    /// With `ns` on: the neural suppressor ([`RnnoiseSuppressor`], after the canceller)
    /// instead of the classic one (inside the canceller's post-filter, or alone).
    pub neural_ns: bool,
    /// Gain control settings, `None` = off.
    pub agc: Option<AdvancedAgcConfig>,
    /// Voice activity detection settings, `None` = off.
    pub vad: Option<AdvancedVadConfig>,
}

impl AudioProcessingConfig {
    /// Everything off at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        AudioProcessingConfig { sample_rate, aec: None, ns: None, neural_ns: false, agc: None, vad: None }
    }
    /// Echo cancellation with default settings on or off.
    pub fn with_aec(mut self, on: bool) -> Self {
        self.aec = on.then(|| AdvancedAecConfig::new(self.sample_rate));
        self
    }
    /// Echo cancellation with explicit settings.
    pub fn with_aec_config(mut self, c: AdvancedAecConfig) -> Self {
        self.aec = Some(c);
        self
    }
    /// Noise suppression at the default level on or off.
    pub fn with_ns(mut self, on: bool) -> Self {
        self.ns = on.then_some(NsLevel::High);
        self
    }
    /// Noise suppression at `level`.
    pub fn with_ns_level(mut self, level: NsLevel) -> Self {
        self.ns = Some(level);
        self
    }
    /// The neural noise suppressor ([`RnnoiseSuppressor`] with its defaults) on, or back to
    /// the classic one; switching it on also switches noise suppression on. A thread that runs
    /// it calls [`crate::prepare_thread`] first (engine workers do), or allocates once on its
    /// first frame there (see [`RnnoiseSuppressor`'s module docs](super::ns::rnnoise)).
    pub fn with_neural_ns(mut self, on: bool) -> Self {
        self.neural_ns = on;
        if on && self.ns.is_none() {
            self.ns = Some(NsLevel::High);
        }
        self
    }
    /// Gain control with default settings on or off.
    pub fn with_agc(mut self, on: bool) -> Self {
        self.agc = on.then(|| AdvancedAgcConfig::new(self.sample_rate));
        self
    }
    /// Gain control with explicit settings.
    pub fn with_agc_config(mut self, c: AdvancedAgcConfig) -> Self {
        self.agc = Some(c);
        self
    }
    /// Voice activity detection with default settings on or off.
    pub fn with_vad(mut self, on: bool) -> Self {
        self.vad = on.then(|| AdvancedVadConfig::new(self.sample_rate));
        self
    }
    /// Voice activity detection with explicit settings.
    pub fn with_vad_config(mut self, c: AdvancedVadConfig) -> Self {
        self.vad = Some(c);
        self
    }
}

/// What one capture frame produced besides the processed audio.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CaptureResult {
    /// Speech probability (0 without VAD).
    pub speech_probability: f32,
    /// VAD decision (false without VAD).
    pub is_speech: bool,
    /// Whether the input held non-finite samples (replaced by zero).
    pub bad_input: bool,
}

/// AEC → NS → AGC on the capture path, with the VAD on the echo-cancelled, noise-suppressed
/// signal gating the AGC. Frames are 10 ms. With both AEC and NS on, the noise suppressor runs
/// inside the echo canceller's post-filter at the configured NS level
/// ([`AdvancedAecConfig::denoise`]): one transform for both. With the neural suppressor
/// ([`AudioProcessingConfig::with_neural_ns`]) RNNoise runs after the canceller instead. The
/// capture output is delayed by 10 ms when AEC or NS is on (their overlap-add), plus the
/// neural suppressor's latency ([`RnnoiseSuppressor::latency`]) and the AGC limiter's
/// look-ahead.
pub struct AudioProcessor {
    cfg: AudioProcessingConfig,
    hop: usize,
    aec: Option<Aec>,
    ns: Option<NoiseSuppressor>,
    rnn: Option<RnnoiseSuppressor>,
    agc: Option<Agc>,
    vad: Option<Vad>,
}

impl AudioProcessor {
    /// Builds the enabled modules; fails when a module's settings are invalid or their rates
    /// disagree with `sample_rate`.
    pub fn new(cfg: AudioProcessingConfig) -> Result<Self, ApmError> {
        let hop = check_rate(cfg.sample_rate)?;
        let same = |r: u32| {
            if r == cfg.sample_rate {
                Ok(())
            } else {
                Err(ApmError::Config("module rate differs from sample_rate"))
            }
        };
        if let Some(c) = &cfg.aec {
            same(c.sample_rate)?;
        }
        if let Some(c) = &cfg.agc {
            same(c.sample_rate)?;
        }
        if let Some(c) = &cfg.vad {
            same(c.sample_rate)?;
        }
        Ok(AudioProcessor {
            cfg,
            hop,
            aec: cfg
                .aec
                .map(|c| match (cfg.ns, cfg.neural_ns) {
                    (Some(_), true) => Aec::new(c.with_denoise(None)),
                    (Some(_), false) => Aec::new(c.with_denoise(cfg.ns)),
                    (None, _) => Aec::new(c),
                })
                .transpose()?,
            ns: match (cfg.aec, cfg.ns, cfg.neural_ns) {
                (None, Some(l), false) => Some(NoiseSuppressor::new(NsConfig::new(cfg.sample_rate).with_level(l))?),
                _ => None,
            },
            rnn: match (cfg.ns, cfg.neural_ns) {
                (Some(_), true) => Some(RnnoiseSuppressor::new(cfg.sample_rate)?),
                _ => None,
            },
            agc: cfg.agc.map(Agc::new).transpose()?,
            vad: cfg.vad.map(Vad::new).transpose()?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AudioProcessingConfig {
        &self.cfg
    }

    /// Samples per frame (10 ms).
    pub fn frame_len(&self) -> usize {
        self.hop
    }

    /// Feeds one 10 ms far-end (render) frame to the echo canceller; the render signal itself
    /// is not modified. Returns `false` on non-finite or wrongly sized input.
    pub fn process_render_audio(&mut self, far: &[f32]) -> bool {
        match self.aec.as_mut() {
            Some(a) => a.process_render_frame(far),
            None => far.len() == self.hop && far.iter().all(|v| v.is_finite()),
        }
    }

    /// Processes one 10 ms capture (microphone) frame in place. A frame of the wrong length
    /// is zeroed and reported as bad input.
    pub fn process_capture_audio(&mut self, mic: &mut [f32]) -> CaptureResult {
        let mut r = CaptureResult::default();
        if mic.len() != self.hop {
            mic.fill(0.0);
            r.bad_input = true;
            return r;
        }
        for v in mic.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
                r.bad_input = true;
            }
        }
        if let Some(a) = self.aec.as_mut() {
            a.process_capture_frame(mic);
        }
        if let Some(n) = self.ns.as_mut() {
            n.process_frame(mic);
        }
        if let Some(n) = self.rnn.as_mut() {
            n.process_frame(mic);
        }
        let mut gate = None;
        if let Some(v) = self.vad.as_mut() {
            let d = v.process_frame(mic);
            r.speech_probability = d.probability;
            r.is_speech = d.is_speech;
            gate = Some(d.is_speech);
        }
        if let Some(g) = self.agc.as_mut() {
            g.process_frame(mic, gate);
        }
        r
    }

    /// Resets every module.
    pub fn reset(&mut self) {
        if let Some(a) = self.aec.as_mut() {
            a.reset();
        }
        if let Some(n) = self.ns.as_mut() {
            n.reset();
        }
        if let Some(n) = self.rnn.as_mut() {
            n.reset();
        }
        if let Some(g) = self.agc.as_mut() {
            g.reset();
        }
        if let Some(v) = self.vad.as_mut() {
            v.reset();
        }
    }
}
