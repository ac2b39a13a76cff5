//! Signal sources: [`ToneSource`] (sine) and [`NoiseSource`] (white noise). Both have no
//! inputs and one audio output of the format given at construction; on multichannel
//! formats every channel of a frame carries the same sample.

use rvoip_media_graph::{
    AudioFormat, NodeSpec, ParamError, ParamSpec, PortKind, PortSpec, ProcessIo, Processor, SplitMix64,
};

/// A sine tone, phase-continuous across quanta and across frequency changes.
///
/// The phase is kept in `f64` cycles in `[0, 1)` and advanced by `frequency / rate` per
/// frame, so it neither drifts nor loses precision over hours (an `f32` phase accumulator
/// would lose about 1e-7 cycles per sample). Parameter 0 is the frequency in Hz
/// (`0..=rate/2`), parameter 1 the linear amplitude (`0..=1`).
///
/// Ports: output `"out"`.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
/// use rvoip_media_nodes::ToneSource;
///
/// let tone = ToneSource::new(AudioFormat::mono(8000), 1000.0, 0.5).unwrap();
/// let mut h = NodeHarness::new(Box::new(tone), Quantum::MS_10).unwrap();
/// h.run();
/// // 1 kHz at 8 kHz: 0, +0.354, +0.5, +0.354, 0, ...
/// assert!((h.audio_out(0)[2] - 0.5).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct ToneSource {
    format: AudioFormat,
    frequency: f64,
    amplitude: f64,
    initial: (f64, f64),
    phase: f64,
}

impl ToneSource {
    /// Parameter id of the frequency in Hz.
    pub const PARAM_FREQUENCY: u32 = 0;
    /// Parameter id of the linear amplitude.
    pub const PARAM_AMPLITUDE: u32 = 1;

    /// A tone of `frequency` Hz (`0..=rate/2`) and linear `amplitude` (`0..=1`).
    pub fn new(format: AudioFormat, frequency: f32, amplitude: f32) -> Result<Self, ParamError> {
        let mut t = ToneSource { format, frequency: 0.0, amplitude: 0.0, initial: (0.0, 0.0), phase: 0.0 };
        t.set_param(Self::PARAM_FREQUENCY, frequency)?;
        t.set_param(Self::PARAM_AMPLITUDE, amplitude)?;
        t.initial = (t.frequency, t.amplitude);
        Ok(t)
    }

    fn nyquist(&self) -> f32 {
        self.format.rate as f32 / 2.0
    }

    /// Current phase in cycles, `[0, 1)`.
    pub fn phase(&self) -> f64 {
        self.phase
    }
}

impl Processor for ToneSource {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("tone")
            .with_output(PortSpec::required("out", PortKind::Audio(self.format)))
            .with_param(ParamSpec {
                id: Self::PARAM_FREQUENCY,
                name: "frequency",
                min: 0.0,
                max: self.nyquist(),
                default: self.initial.0 as f32,
            })
            .with_param(ParamSpec {
                id: Self::PARAM_AMPLITUDE,
                name: "amplitude",
                min: 0.0,
                max: 1.0,
                default: self.initial.1 as f32,
            })
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let ch = usize::from(self.format.channels.max(1));
        let inc = if self.format.rate == 0 { 0.0 } else { self.frequency / f64::from(self.format.rate) };
        let out = io.audio_out(0);
        for frame in out.chunks_mut(ch) {
            let s = (self.amplitude * (std::f64::consts::TAU * self.phase).sin()) as f32;
            frame.fill(s);
            self.phase += inc;
            if self.phase >= 1.0 {
                self.phase -= 1.0;
            }
        }
    }

    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        let range = match id {
            Self::PARAM_FREQUENCY => 0.0..=self.nyquist(),
            Self::PARAM_AMPLITUDE => 0.0..=1.0,
            _ => return Err(ParamError::Unknown(id)),
        };
        if !range.contains(&value) {
            return Err(ParamError::OutOfRange { id, value });
        }
        if id == Self::PARAM_FREQUENCY {
            self.frequency = f64::from(value);
        } else {
            self.amplitude = f64::from(value);
        }
        Ok(())
    }

    fn reset(&mut self) {
        (self.frequency, self.amplitude) = self.initial;
        self.phase = 0.0;
    }
}

/// White noise, uniform in `[-amplitude, amplitude)`, from a seeded [`SplitMix64`]: the
/// same seed gives the same samples, and [`Processor::reset`] restarts the sequence.
/// Uniform white noise of amplitude `a` has an RMS of `a / √3` (−4.77 dB re `a`).
///
/// Parameter 0 is the linear amplitude (`0..=1`). Ports: output `"out"`.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
/// use rvoip_media_nodes::NoiseSource;
///
/// let mut h = NodeHarness::new(Box::new(NoiseSource::new(AudioFormat::mono(8000), 0.1, 7).unwrap()), Quantum::MS_10).unwrap();
/// h.run();
/// assert!(h.audio_out(0).iter().all(|s| s.abs() <= 0.1));
/// ```
#[derive(Clone, Debug)]
pub struct NoiseSource {
    format: AudioFormat,
    amplitude: f32,
    initial_amplitude: f32,
    seed: u64,
    rng: SplitMix64,
}

impl NoiseSource {
    /// Parameter id of the linear amplitude.
    pub const PARAM_AMPLITUDE: u32 = 0;

    /// Noise of linear `amplitude` (`0..=1`) from generator seed `seed`.
    pub fn new(format: AudioFormat, amplitude: f32, seed: u64) -> Result<Self, ParamError> {
        if !(0.0..=1.0).contains(&amplitude) {
            return Err(ParamError::OutOfRange { id: Self::PARAM_AMPLITUDE, value: amplitude });
        }
        Ok(NoiseSource { format, amplitude, initial_amplitude: amplitude, seed, rng: SplitMix64::new(seed) })
    }
}

impl Processor for NoiseSource {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("noise").with_output(PortSpec::required("out", PortKind::Audio(self.format))).with_param(
            ParamSpec {
                id: Self::PARAM_AMPLITUDE,
                name: "amplitude",
                min: 0.0,
                max: 1.0,
                default: self.initial_amplitude,
            },
        )
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let ch = usize::from(self.format.channels.max(1));
        for frame in io.audio_out(0).chunks_mut(ch) {
            frame.fill(self.amplitude * self.rng.bipolar());
        }
    }

    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        match id {
            Self::PARAM_AMPLITUDE if (0.0..=1.0).contains(&value) => {
                self.amplitude = value;
                Ok(())
            }
            Self::PARAM_AMPLITUDE => Err(ParamError::OutOfRange { id, value }),
            _ => Err(ParamError::Unknown(id)),
        }
    }

    fn reset(&mut self) {
        self.amplitude = self.initial_amplitude;
        self.rng = SplitMix64::new(self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::{NodeHarness, Quantum};

    #[test]
    fn tone_is_phase_continuous_and_accurate() {
        let f = AudioFormat { rate: 48_000, channels: 2 };
        let mut h = NodeHarness::new(Box::new(ToneSource::new(f, 997.0, 0.8).unwrap()), Quantum::MS_10).unwrap();
        let mut n = 0u64;
        let mut worst = 0.0f64;
        for _ in 0..300 {
            h.run();
            for frame in h.audio_out(0).chunks(2) {
                assert_eq!(frame[0], frame[1]);
                let want = 0.8 * (std::f64::consts::TAU * 997.0 * n as f64 / 48_000.0).sin();
                worst = worst.max((f64::from(frame[0]) - want).abs());
                n += 1;
            }
        }
        assert!(worst < 1e-6, "max error {worst}");
        // Frequency change keeps the waveform continuous (no jump bigger than one step).
        h.processor_mut().set_param(0, 2000.0).unwrap();
        let last = h.audio_out(0)[958];
        h.run();
        let first = h.audio_out(0)[0];
        let max_step = 0.8 * std::f64::consts::TAU * 2000.0 / 48_000.0;
        assert!(f64::from((first - last).abs()) <= max_step + 1e-6);
        assert!(h.processor_mut().set_param(0, 24_001.0).is_err());
        assert!(h.processor_mut().set_param(1, 1.5).is_err());
    }

    #[test]
    fn noise_is_seeded_and_has_uniform_rms() {
        let f = AudioFormat::mono(16_000);
        let run = |seed| {
            let mut h = NodeHarness::new(Box::new(NoiseSource::new(f, 0.5, seed).unwrap()), Quantum::MS_20).unwrap();
            let mut v = Vec::new();
            for _ in 0..100 {
                h.run();
                v.extend_from_slice(h.audio_out(0));
            }
            h.processor_mut().reset();
            h.run();
            assert_eq!(h.audio_out(0), &v[..320], "reset restarts the sequence");
            v
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        let rms = (a.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
        assert!((rms - 0.5 / 3f64.sqrt()).abs() < 0.005, "rms {rms}");
        let mean = a.iter().map(|&s| f64::from(s)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.01);
        assert!(a.iter().all(|s| (-0.5..0.5).contains(s)));
    }
}
