//! Level nodes: [`Gain`], [`Mute`] and [`LevelMeter`].
//!
//! All three validate their input with [`kernels::all_sane`]: a quantum holding NaN, ±Inf
//! or a magnitude beyond [`kernels::MAX_SANE`] is replaced by silence and reported with
//! `report_error`, so nothing non-finite leaves them.

use crate::kernels;
use rvoip_media_graph::{AudioFormat, NodeSpec, ParamError, ParamSpec, PortKind, PortSpec, ProcessIo, Processor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Lowest level the meters report, in dB.
pub const FLOOR_DB: f32 = -120.0;

/// The RFC 6464 audio level of a block whose mean square is `mean_square` (samples in
/// `[-1, 1]`): the level in −dBov, 0 (a full-scale square wave) to 127 (−127 dBov or
/// quieter, and digital silence), as carried in the client-to-mixer header extension and,
/// per source, in RFC 6465's. Non-finite input reads as silence.
///
/// ```
/// use rvoip_media_nodes::level::audio_level;
/// assert_eq!(audio_level(1.0), 0);
/// assert_eq!(audio_level(0.5), 3); // a full-scale sine: -3 dBov
/// assert_eq!(audio_level(1e-4), 40);
/// assert_eq!(audio_level(0.0), 127);
/// assert_eq!(audio_level(f32::NAN), 127);
/// ```
pub fn audio_level(mean_square: f32) -> u8 {
    if mean_square.is_nan() || mean_square <= 1e-13 {
        return 127;
    }
    let dbov = 10.0 * mean_square.min(1.0).log10();
    (-dbov).round().clamp(0.0, 127.0) as u8
}

/// Whether an RFC 6464 extension byte (`V` in bit 7, as
/// [`PacketMeta::audio_level`](rvoip_media_graph::PacketMeta::audio_level) carries it) says
/// silence at `skip_at`: V clear and a level of `skip_at` −dBov or quieter. The one test the
/// decoders' silent-packet skip applies. No level says nothing.
///
/// ```
/// use rvoip_media_nodes::level::says_silence;
/// assert!(says_silence(Some(127), 50));
/// assert!(says_silence(Some(50), 50));
/// assert!(!says_silence(Some(49), 50)); // louder than the threshold
/// assert!(!says_silence(Some(0x80 | 127), 50)); // V set: the sender heard voice
/// assert!(!says_silence(None, 50));
/// ```
pub fn says_silence(level: Option<u8>, skip_at: u8) -> bool {
    level.is_some_and(|b| b & 0x80 == 0 && b >= skip_at)
}

/// Mean square of `x` (0 for an empty slice), its energy summed on the SIMD kernel
/// ([`crate::kernels::energy`]).
///
/// ```
/// assert_eq!(rvoip_media_nodes::level::mean_square(&[0.5, -0.5]), 0.25);
/// ```
pub fn mean_square(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    crate::kernels::energy(x) / x.len() as f32
}

fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Gain in dB with a per-quantum linear ramp.
///
/// Parameter 0 (`"gain_db"`, -96..=+40 dB, default 0). A change takes effect over the next
/// quantum: the linear gain moves in a straight line from the old value to the new one,
/// reaching it on the last sample, which avoids the "zipper" clicks of a step change. (On
/// interleaved multichannel input the ramp advances per sample rather than per frame; the
/// channels of one frame differ by 1/n of the change, inaudible.)
///
/// Ports: input `"in"`, output `"out"`, the format given at construction.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Processor, Quantum};
/// use rvoip_media_nodes::Gain;
///
/// let mut h = NodeHarness::new(Box::new(Gain::new(AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
/// h.processor_mut().set_param(Gain::PARAM_GAIN_DB, -6.0206).unwrap();
/// h.audio_in_mut(0).fill(1.0);
/// h.run(); // ramp from 1.0 to 0.5
/// assert!((h.audio_out(0)[79] - 0.5).abs() < 1e-4);
/// h.run(); // steady
/// assert!(h.audio_out(0).iter().all(|&s| (s - 0.5).abs() < 1e-4));
/// ```
#[derive(Clone, Debug)]
pub struct Gain {
    format: AudioFormat,
    initial_db: f32,
    current: f32,
    target: f32,
}

impl Gain {
    /// Parameter id of the gain in dB.
    pub const PARAM_GAIN_DB: u32 = 0;
    /// Smallest gain, dB.
    pub const MIN_DB: f32 = -96.0;
    /// Largest gain, dB.
    pub const MAX_DB: f32 = 40.0;

    /// Unity gain for `format`.
    pub fn new(format: AudioFormat) -> Self {
        Gain { format, initial_db: 0.0, current: 1.0, target: 1.0 }
    }

    /// Starts at `db` instead of 0 dB (no ramp from unity).
    pub fn with_gain_db(mut self, db: f32) -> Result<Self, ParamError> {
        self.set_db(db)?;
        self.initial_db = db;
        self.current = self.target;
        Ok(self)
    }

    fn set_db(&mut self, db: f32) -> Result<(), ParamError> {
        if !(db.is_finite() && (Self::MIN_DB..=Self::MAX_DB).contains(&db)) {
            return Err(ParamError::OutOfRange { id: Self::PARAM_GAIN_DB, value: db });
        }
        self.target = db_to_linear(db);
        Ok(())
    }

    /// The linear gain the node is moving to (or at).
    pub fn target_linear(&self) -> f32 {
        self.target
    }
}

impl Processor for Gain {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        NodeSpec::new("gain")
            .with_input(PortSpec::required("in", a))
            .with_output(PortSpec::required("out", a))
            .with_param(ParamSpec {
                id: Self::PARAM_GAIN_DB,
                name: "gain_db",
                min: Self::MIN_DB,
                max: Self::MAX_DB,
                default: 0.0,
            })
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let x = io.audio_in(0);
        let ok = kernels::all_sane(x);
        let out = io.audio_out(0);
        if !ok {
            out.fill(0.0);
            self.current = self.target;
            io.report_error();
        } else if self.current == self.target || x.is_empty() {
            kernels::gain(out, x, self.target);
            self.current = self.target;
        } else {
            let step = (self.target - self.current) / x.len() as f32;
            kernels::gain_ramp(out, x, self.current, step);
            self.current = self.target;
        }
    }

    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        match id {
            Self::PARAM_GAIN_DB => self.set_db(value),
            _ => Err(ParamError::Unknown(id)),
        }
    }

    fn reset(&mut self) {
        self.target = db_to_linear(self.initial_db);
        self.current = self.target;
    }
}

/// A shared, lock-free count of the quanta a [`Mute`] node has muted. Clone it before the
/// node goes into a graph; read it from any thread while the graph runs.
#[derive(Clone, Debug, Default)]
pub struct MuteCounter(Arc<AtomicU64>);

impl MuteCounter {
    /// Muted quanta so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Mutes a stream. Parameter 0 (`"muted"`, 0..=1): values of 0.5 and above mute, below
/// unmute. Muted, the output is exact zeros and each quantum is counted.
///
/// Ports: input `"in"`, output `"out"`, the format given at construction.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Processor, Quantum};
/// use rvoip_media_nodes::Mute;
///
/// let mute = Mute::new(AudioFormat::mono(8000));
/// let counter = mute.counter(); // readable from the control thread
/// let mut h = NodeHarness::new(Box::new(mute), Quantum::MS_10).unwrap();
/// h.audio_in_mut(0).fill(0.3);
/// h.processor_mut().set_param(Mute::PARAM_MUTED, 1.0).unwrap();
/// h.run();
/// h.run();
/// assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
/// assert_eq!(counter.get(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Mute {
    format: AudioFormat,
    muted: bool,
    initially_muted: bool,
    counter: MuteCounter,
}

impl Mute {
    /// Parameter id: 1.0 muted, 0.0 unmuted.
    pub const PARAM_MUTED: u32 = 0;

    /// An unmuted node for `format`.
    pub fn new(format: AudioFormat) -> Self {
        Mute { format, muted: false, initially_muted: false, counter: MuteCounter::default() }
    }

    /// Starts muted.
    pub fn muted(mut self) -> Self {
        self.muted = true;
        self.initially_muted = true;
        self
    }

    /// Whether the node is muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Muted quanta so far.
    pub fn muted_quanta(&self) -> u64 {
        self.counter.get()
    }

    /// A handle on the muted-quanta counter.
    pub fn counter(&self) -> MuteCounter {
        self.counter.clone()
    }
}

impl Processor for Mute {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        NodeSpec::new("mute")
            .with_input(PortSpec::required("in", a))
            .with_output(PortSpec::required("out", a))
            .with_param(ParamSpec { id: Self::PARAM_MUTED, name: "muted", min: 0.0, max: 1.0, default: 0.0 })
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let x = io.audio_in(0);
        if self.muted {
            io.audio_out(0).fill(0.0);
            self.counter.0.fetch_add(1, Ordering::Relaxed);
        } else if kernels::all_sane(x) {
            io.audio_out(0).copy_from_slice(x);
        } else {
            io.audio_out(0).fill(0.0);
            io.report_error();
        }
    }

    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        match id {
            Self::PARAM_MUTED if (0.0..=1.0).contains(&value) => {
                self.muted = value >= 0.5;
                Ok(())
            }
            Self::PARAM_MUTED => Err(ParamError::OutOfRange { id, value }),
            _ => Err(ParamError::Unknown(id)),
        }
    }

    /// Restores the initial mute state; the counter keeps counting (it is a statistic).
    fn reset(&mut self) {
        self.muted = self.initially_muted;
    }
}

/// Measures a stream: RMS and peak level in dBFS per quantum, on two control outputs.
///
/// The meter is a tap, not an insert: it has no audio output. A graph output can feed any
/// number of inputs, so metering a signal costs no copy; connect the meter beside the
/// consumer.
///
/// * RMS: `10·log10(mean(x²))` dBFS, so a full-scale square wave reads 0 dB and a
///   full-scale sine −3.01 dB.
/// * Peak: `20·log10(max |x|)` dBFS.
/// * Both are floored at [`FLOOR_DB`] (−120 dB); silence reads −120.
/// * A quantum with NaN / ±Inf / huge values reads as silence and is reported.
///
/// Ports: input `"in"` (format given at construction); control outputs `"rms_db"` (0) and
/// `"peak_db"` (1).
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
/// use rvoip_media_nodes::LevelMeter;
///
/// let mut h = NodeHarness::new(Box::new(LevelMeter::new(AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
/// h.audio_in_mut(0).fill(-0.5);
/// h.run();
/// assert!((h.control_out(0) - (-6.0206)).abs() < 1e-3);
/// assert!((h.control_out(1) - (-6.0206)).abs() < 1e-3);
/// ```
#[derive(Clone, Debug)]
pub struct LevelMeter {
    format: AudioFormat,
    rms_db: f32,
    peak_db: f32,
}

impl LevelMeter {
    /// A meter for `format`.
    pub fn new(format: AudioFormat) -> Self {
        LevelMeter { format, rms_db: FLOOR_DB, peak_db: FLOOR_DB }
    }

    /// RMS level of the last quantum, dBFS.
    pub fn rms_db(&self) -> f32 {
        self.rms_db
    }

    /// Peak level of the last quantum, dBFS.
    pub fn peak_db(&self) -> f32 {
        self.peak_db
    }

    /// `(rms_db, peak_db)` of `x`, with the meter's floor; `None` if `x` is not sane.
    pub fn measure(x: &[f32]) -> Option<(f32, f32)> {
        if !kernels::all_sane(x) {
            return None;
        }
        if x.is_empty() {
            return Some((FLOOR_DB, FLOOR_DB));
        }
        let (mut sq, mut peak) = (0.0f64, 0.0f32);
        for &v in x {
            sq += f64::from(v) * f64::from(v);
            peak = peak.max(v.abs());
        }
        let mean = sq / x.len() as f64;
        let rms_db = if mean > 0.0 { (10.0 * mean.log10()) as f32 } else { FLOOR_DB };
        let peak_db = if peak > 0.0 { 20.0 * peak.log10() } else { FLOOR_DB };
        Some((rms_db.max(FLOOR_DB), peak_db.max(FLOOR_DB)))
    }
}

impl Processor for LevelMeter {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("level-meter")
            .with_telemetry(&["rms_db", "peak_db"])
            .with_input(PortSpec::required("in", PortKind::Audio(self.format)))
            .with_output(PortSpec::required("rms_db", PortKind::Control))
            .with_output(PortSpec::required("peak_db", PortKind::Control))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let (rms, peak) = match Self::measure(io.audio_in(0)) {
            Some(m) => m,
            None => {
                io.report_error();
                (FLOOR_DB, FLOOR_DB)
            }
        };
        self.rms_db = rms;
        self.peak_db = peak;
        io.set_control(0, rms);
        io.set_control(1, peak);
    }

    fn reset(&mut self) {
        self.rms_db = FLOOR_DB;
        self.peak_db = FLOOR_DB;
    }

    fn telemetry(&self, out: &mut [f64]) {
        for (o, v) in out.iter_mut().zip([self.rms_db, self.peak_db]) {
            *o = f64::from(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::{NodeHarness, Quantum};

    #[test]
    fn gain_steady_ramp_and_range() {
        let f = AudioFormat::mono(16_000);
        let mut h = NodeHarness::new(Box::new(Gain::new(f).with_gain_db(20.0).unwrap()), Quantum::MS_10).unwrap();
        h.audio_in_mut(0).fill(0.01);
        assert_eq!(h.run(), 0);
        assert!(h.audio_out(0).iter().all(|&s| (s - 0.1).abs() < 1e-6));
        // Ramp down to -20 dB: monotonic, ends at the target.
        h.processor_mut().set_param(0, -20.0).unwrap();
        h.run();
        let o = h.audio_out(0);
        assert!(o.windows(2).all(|w| w[1] < w[0]));
        assert!((o[159] - 0.001).abs() < 1e-7, "{}", o[159]);
        assert!((o[79] - 0.0505).abs() < 1e-4, "midpoint {}", o[79]);
        // Range and unknown ids.
        for bad in [-97.0, 41.0, f32::NAN, f32::INFINITY] {
            assert!(matches!(h.processor_mut().set_param(0, bad), Err(ParamError::OutOfRange { .. })));
        }
        assert_eq!(h.processor_mut().set_param(1, 0.0), Err(ParamError::Unknown(1)));
        assert!(Gain::new(f).with_gain_db(50.0).is_err());
        // NaN input: zeros and an error.
        h.audio_in_mut(0)[3] = f32::NAN;
        assert_eq!(h.run(), 1);
        assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
        // Measured -96 dB.
        h.processor_mut().set_param(0, -96.0).unwrap();
        h.audio_in_mut(0).fill(1.0);
        h.run();
        h.run();
        let db = 20.0 * f64::from(h.audio_out(0)[0]).log10();
        assert!((db + 96.0).abs() < 1e-3, "{db}");
        h.processor_mut().reset();
        h.run();
        assert!(h.audio_out(0).iter().all(|&s| (s - 10.0).abs() < 1e-5));
    }

    /// Tone -> Gain -> LevelMeter in a compiled graph: the meter reads the tone's level
    /// lowered by the gain.
    #[test]
    fn tone_gain_meter_graph() {
        use crate::ToneSource;
        use rvoip_media_graph::{GraphBuilder, PlanExecutor};
        let f = AudioFormat::mono(16_000);
        let mut b = GraphBuilder::new(Quantum::MS_10);
        // 1 kHz at 16 kHz: exactly 10 periods per quantum.
        let t = b.add_node("tone", Box::new(ToneSource::new(f, 1000.0, 0.5).unwrap()));
        let g = b.add_node("gain", Box::new(Gain::new(f).with_gain_db(-20.0).unwrap()));
        let m = b.add_node("meter", Box::new(LevelMeter::new(f)));
        let rms = b.add_output("rms", PortKind::Control);
        let peak = b.add_output("peak", PortKind::Control);
        b.connect(t, 0, g, 0).unwrap();
        b.connect(g, 0, m, 0).unwrap();
        b.connect(m, 0, rms, 0).unwrap();
        b.connect(m, 1, peak, 0).unwrap();
        let mut x = PlanExecutor::new(b.build().unwrap()).unwrap();
        for _ in 0..3 {
            assert_eq!(x.run_cycle().errors, 0);
        }
        let want_rms = 20.0 * (0.5f64 / 2f64.sqrt()).log10() - 20.0; // -29.03 dB
        let want_peak = 20.0 * 0.5f64.log10() - 20.0; // -26.02 dB
        assert!((f64::from(x.output_control(0)) - want_rms).abs() < 1e-3, "{}", x.output_control(0));
        assert!((f64::from(x.output_control(1)) - want_peak).abs() < 1e-3, "{}", x.output_control(1));
    }

    #[test]
    fn mute_counts_and_passes() {
        let m = Mute::new(AudioFormat::mono(8000));
        let c = m.counter();
        let mut h = NodeHarness::new(Box::new(m), Quantum::MS_10).unwrap();
        h.audio_in_mut(0).fill(0.2);
        assert_eq!(h.run(), 0);
        assert!(h.audio_out(0).iter().all(|&s| s == 0.2));
        h.processor_mut().set_param(0, 1.0).unwrap();
        for _ in 0..5 {
            h.run();
            assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
        }
        h.processor_mut().set_param(0, 0.0).unwrap();
        h.run();
        assert!(h.audio_out(0).iter().all(|&s| s == 0.2));
        assert_eq!(c.get(), 5);
        assert!(h.processor_mut().set_param(0, 2.0).is_err());
        h.audio_in_mut(0)[0] = f32::INFINITY;
        assert_eq!(h.run(), 1);
        assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
    }

    #[test]
    fn meter_measures_sine_and_floor() {
        let rate = 48_000;
        let mut h = NodeHarness::new(Box::new(LevelMeter::new(AudioFormat::mono(rate))), Quantum::MS_10).unwrap();
        // 1 kHz: exactly 10 periods in 10 ms.
        for (k, s) in h.audio_in_mut(0).iter_mut().enumerate() {
            *s = (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * k as f64 / f64::from(rate)).sin()) as f32;
        }
        h.run();
        let want_rms = 20.0 * (0.5f64 / 2f64.sqrt()).log10(); // -9.03 dB
        assert!((f64::from(h.control_out(0)) - want_rms).abs() < 1e-3, "{}", h.control_out(0));
        assert!((f64::from(h.control_out(1)) - 20.0 * 0.5f64.log10()).abs() < 1e-3);
        h.audio_in_mut(0).fill(0.0);
        h.run();
        assert_eq!((h.control_out(0), h.control_out(1)), (FLOOR_DB, FLOOR_DB));
        h.audio_in_mut(0).fill(1e-9); // -180 dB: floored
        h.run();
        assert_eq!(h.control_out(0), FLOOR_DB);
        h.audio_in_mut(0)[1] = f32::NAN;
        assert_eq!(h.run(), 1);
        assert_eq!(h.control_out(1), FLOOR_DB);
    }
}
