//! WAV file endpoints: [`WavSource`] plays a file into a graph, [`WavSink`] records a
//! stream. Both do their file I/O on the control side — the source reads the whole file at
//! construction, the sink writes after the run — so `process` only copies samples.
//!
//! The sink records into a buffer preallocated at construction and shared with a
//! [`WavSinkHandle`]: samples are stored as `AtomicU32` bit patterns and published by a
//! release store of the length, so the control thread can read what has been recorded so
//! far while the graph runs, without locks and without `unsafe`. A recording longer than
//! the capacity is truncated and the dropped samples are counted; the sink never
//! allocates in `process`.
//!
//! ```no_run
//! use rvoip_media_graph::{GraphBuilder, PlanExecutor, Quantum};
//! use rvoip_media_nodes::wav::{WavSampleFormat, WavSink, WavSource};
//!
//! let src = WavSource::open("in.wav")?;
//! let format = src.format();
//! let seconds = src.len() / format.rate as usize + 1;
//! let sink = WavSink::new(format, seconds * format.rate as usize);
//! let recording = sink.handle();
//! let mut b = GraphBuilder::new(Quantum::MS_10);
//! let s = b.add_node("src", Box::new(src));
//! let k = b.add_node("sink", Box::new(sink));
//! b.connect(s, 0, k, 0)?;
//! let mut exec = PlanExecutor::new(b.build()?)?;
//! for _ in 0..seconds * 100 {
//!     exec.run_cycle();
//! }
//! recording.write_wav("out.wav", WavSampleFormat::Int16)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::kernels;
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Errors of the WAV endpoints.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// Reading or writing failed (I/O, or not a valid WAV file).
    #[error("WAV I/O: {0}")]
    Io(#[from] hound::Error),
    /// The file is valid but not a format the source plays.
    #[error(
        "unsupported WAV format: {channels} channel(s), {bits} bit {sample_format} \
         (supported: mono 16-bit integer PCM or mono 32-bit float)"
    )]
    UnsupportedFormat {
        /// Channel count of the file.
        channels: u16,
        /// Bits per sample of the file.
        bits: u16,
        /// `"integer"` or `"float"`.
        sample_format: &'static str,
    },
}

/// Plays a mono WAV file (16-bit integer PCM or 32-bit float, any sample rate): one quantum
/// per cycle, zeros after the end, when [`WavSource::finished`] turns true.
///
/// Non-finite or absurd samples in a float file (see [`kernels::MAX_SANE`]) are replaced by
/// zeros at load time and counted in [`WavSource::sanitized`].
///
/// Ports: output `"out"`, mono at the file's rate.
#[derive(Debug)]
pub struct WavSource {
    format: AudioFormat,
    samples: Vec<f32>,
    position: usize,
    sanitized: usize,
    finished: Arc<AtomicBool>,
}

impl WavSource {
    /// Reads the whole file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WavError> {
        Self::from_reader(std::io::BufReader::new(std::fs::File::open(path).map_err(hound::Error::IoError)?))
    }

    /// Reads a whole WAV stream.
    pub fn from_reader<R: Read>(reader: R) -> Result<Self, WavError> {
        let mut r = hound::WavReader::new(reader)?;
        let spec = r.spec();
        let unsupported = || WavError::UnsupportedFormat {
            channels: spec.channels,
            bits: spec.bits_per_sample,
            sample_format: match spec.sample_format {
                hound::SampleFormat::Int => "integer",
                hound::SampleFormat::Float => "float",
            },
        };
        if spec.channels != 1 {
            return Err(unsupported());
        }
        let mut sanitized = 0;
        let samples = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Int, 16) => {
                let pcm = r.samples::<i16>().collect::<Result<Vec<_>, _>>()?;
                let mut v = vec![0.0; pcm.len()];
                kernels::i16_to_f32(&mut v, &pcm);
                v
            }
            (hound::SampleFormat::Float, 32) => r
                .samples::<f32>()
                .map(|s| {
                    s.map(|x| {
                        if x.is_finite() && x.abs() <= kernels::MAX_SANE {
                            x
                        } else {
                            sanitized += 1;
                            0.0
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(unsupported()),
        };
        Ok(WavSource {
            format: AudioFormat::mono(spec.sample_rate),
            finished: Arc::new(AtomicBool::new(samples.is_empty())),
            samples,
            position: 0,
            sanitized,
        })
    }

    /// A source playing `samples` (full scale ±1.0) at `rate` Hz, mono.
    pub fn from_samples(rate: u32, samples: Vec<f32>) -> Self {
        WavSource {
            format: AudioFormat::mono(rate),
            finished: Arc::new(AtomicBool::new(samples.is_empty())),
            samples,
            position: 0,
            sanitized: 0,
        }
    }

    /// The output format (mono, the file's rate).
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Samples in the file.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the file has no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The decoded samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Samples replaced by zeros at load time.
    pub fn sanitized(&self) -> usize {
        self.sanitized
    }

    /// Whether every sample has been played.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// A flag that turns true when the last sample has been played, readable from any
    /// thread while the node runs in a graph.
    pub fn finished_flag(&self) -> Arc<AtomicBool> {
        self.finished.clone()
    }
}

impl Processor for WavSource {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("wav-source").with_output(PortSpec::required("out", PortKind::Audio(self.format)))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let out = io.audio_out(0);
        let rest = self.samples.get(self.position..).unwrap_or(&[]);
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        out[n..].fill(0.0);
        self.position += n;
        if self.position >= self.samples.len() {
            self.finished.store(true, Ordering::Relaxed);
        }
    }

    fn reset(&mut self) {
        self.position = 0;
        self.finished.store(self.samples.is_empty(), Ordering::Relaxed);
    }
}

/// Sample format [`WavSinkHandle::write_wav`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavSampleFormat {
    /// 16-bit integer PCM, through the exact [`kernels::f32_to_i16`] conversion.
    Int16,
    /// 32-bit IEEE float.
    Float32,
}

#[derive(Debug)]
struct SinkShared {
    format: AudioFormat,
    samples: Box<[AtomicU32]>,
    len: AtomicUsize,
    overflow: AtomicU64,
}

/// Records a stream into a buffer of fixed capacity. See the [module docs](self).
///
/// A quantum with NaN / ±Inf / absurd values is recorded as silence and reported.
///
/// Ports: input `"in"`, of the format given at construction.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
/// use rvoip_media_nodes::WavSink;
///
/// let sink = WavSink::new(AudioFormat::mono(8000), 100);
/// let rec = sink.handle();
/// let mut h = NodeHarness::new(Box::new(sink), Quantum::MS_10).unwrap();
/// h.audio_in_mut(0).fill(0.5);
/// h.run(); // 80 samples
/// h.run(); // 20 fit, 60 dropped
/// assert_eq!(rec.samples().len(), 100);
/// assert_eq!(rec.overflow(), 60);
/// ```
#[derive(Debug)]
pub struct WavSink {
    shared: Arc<SinkShared>,
}

/// The control side's view of a [`WavSink`]'s recording.
#[derive(Clone, Debug)]
pub struct WavSinkHandle {
    shared: Arc<SinkShared>,
}

impl WavSink {
    /// A sink for `format` that holds up to `capacity` samples (frames × channels).
    pub fn new(format: AudioFormat, capacity: usize) -> Self {
        let samples = (0..capacity).map(|_| AtomicU32::new(0)).collect();
        WavSink {
            shared: Arc::new(SinkShared { format, samples, len: AtomicUsize::new(0), overflow: AtomicU64::new(0) }),
        }
    }

    /// A handle on the recording.
    pub fn handle(&self) -> WavSinkHandle {
        WavSinkHandle { shared: self.shared.clone() }
    }

    /// The samples recorded so far.
    pub fn samples(&self) -> Vec<f32> {
        self.handle().samples()
    }

    /// Writes the recording to `path`.
    pub fn into_wav(self, path: impl AsRef<Path>, format: WavSampleFormat) -> Result<(), WavError> {
        self.handle().write_wav(path, format)
    }
}

impl WavSinkHandle {
    /// The samples recorded so far (a copy).
    pub fn samples(&self) -> Vec<f32> {
        let s = &self.shared;
        let n = s.len.load(Ordering::Acquire);
        s.samples[..n].iter().map(|a| f32::from_bits(a.load(Ordering::Relaxed))).collect()
    }

    /// Samples recorded so far.
    pub fn len(&self) -> usize {
        self.shared.len.load(Ordering::Acquire)
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Capacity in samples.
    pub fn capacity(&self) -> usize {
        self.shared.samples.len()
    }

    /// Samples dropped because the buffer was full.
    pub fn overflow(&self) -> u64 {
        self.shared.overflow.load(Ordering::Relaxed)
    }

    /// The recorded stream's format.
    pub fn format(&self) -> AudioFormat {
        self.shared.format
    }

    /// Writes the recording so far to a WAV file.
    pub fn write_wav(&self, path: impl AsRef<Path>, format: WavSampleFormat) -> Result<(), WavError> {
        let f = self.shared.format;
        let (bits, sample_format) = match format {
            WavSampleFormat::Int16 => (16, hound::SampleFormat::Int),
            WavSampleFormat::Float32 => (32, hound::SampleFormat::Float),
        };
        let spec = hound::WavSpec { channels: f.channels, sample_rate: f.rate, bits_per_sample: bits, sample_format };
        let mut w = hound::WavWriter::create(path, spec)?;
        let samples = self.samples();
        match format {
            WavSampleFormat::Int16 => {
                let mut pcm = vec![0i16; samples.len()];
                kernels::f32_to_i16(&mut pcm, &samples);
                let mut w16 = w.get_i16_writer(pcm.len() as u32);
                for s in pcm {
                    w16.write_sample(s);
                }
                w16.flush()?;
            }
            WavSampleFormat::Float32 => {
                for s in samples {
                    w.write_sample(s)?;
                }
            }
        }
        w.finalize()?;
        Ok(())
    }
}

impl Processor for WavSink {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("wav-sink").with_input(PortSpec::required("in", PortKind::Audio(self.shared.format)))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let x = io.audio_in(0);
        let ok = kernels::all_sane(x);
        if !ok {
            io.report_error();
        }
        let s = &*self.shared;
        // Only this node writes `len`, so a relaxed load of our own last store is exact.
        let start = s.len.load(Ordering::Relaxed).min(s.samples.len());
        let room = s.samples.len() - start;
        let n = x.len().min(room);
        for (dst, &v) in s.samples[start..start + n].iter().zip(x) {
            dst.store(if ok { v } else { 0.0 }.to_bits(), Ordering::Relaxed);
        }
        // Publish: a reader that sees the new length also sees the samples stored above.
        s.len.store(start + n, Ordering::Release);
        if n < x.len() {
            s.overflow.fetch_add((x.len() - n) as u64, Ordering::Relaxed);
        }
    }

    /// Empties the recording (the overflow count is kept: it is a statistic).
    fn reset(&mut self) {
        self.shared.len.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::{GraphBuilder, NodeHarness, PlanExecutor, Quantum};

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("rvoip-nodes-{}-{name}", std::process::id()))
    }

    fn write(path: &Path, spec: hound::WavSpec, n: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..n {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(i as f32 / 1000.0).unwrap(),
                (_, 8) => w.write_sample((i % 100) as i8).unwrap(),
                (_, 16) => w.write_sample((i as i16).wrapping_mul(97)).unwrap(),
                _ => w.write_sample(i as i32).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn source_plays_16_bit_and_float_then_finishes() {
        let p = tmp("s16.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        write(&p, spec, 250);
        let src = WavSource::open(&p).unwrap();
        assert_eq!(src.format(), AudioFormat::mono(16_000));
        let flag = src.finished_flag();
        let mut h = NodeHarness::new(Box::new(src), Quantum::MS_10).unwrap();
        let mut got = Vec::new();
        for k in 0..3 {
            h.run();
            got.extend_from_slice(h.audio_out(0));
            assert_eq!(flag.load(Ordering::Relaxed), k >= 1, "cycle {k}");
        }
        assert_eq!(got.len(), 480);
        for (i, &g) in got.iter().enumerate() {
            let want = if i < 250 { f32::from((i as i16).wrapping_mul(97)) / 32768.0 } else { 0.0 };
            assert_eq!(g, want, "{i}");
        }
        h.processor_mut().reset();
        assert!(!flag.load(Ordering::Relaxed));

        let pf = tmp("f32.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        write(&pf, spec, 100);
        let src = WavSource::open(&pf).unwrap();
        assert_eq!(src.samples()[50], 0.05);
        assert_eq!(src.len(), 100);
        std::fs::remove_file(p).ok();
        std::fs::remove_file(pf).ok();
    }

    #[test]
    fn unsupported_formats_are_named() {
        let cases = [
            (2u16, 16u16, hound::SampleFormat::Int, "2 channel(s), 16 bit integer"),
            (1, 24, hound::SampleFormat::Int, "1 channel(s), 24 bit integer"),
            (1, 8, hound::SampleFormat::Int, "8 bit integer"),
        ];
        for (i, (channels, bits, sf, text)) in cases.into_iter().enumerate() {
            let p = tmp(&format!("bad{i}.wav"));
            write(&p, hound::WavSpec { channels, sample_rate: 8000, bits_per_sample: bits, sample_format: sf }, 16);
            let e = WavSource::open(&p).unwrap_err();
            assert!(matches!(e, WavError::UnsupportedFormat { .. }), "{e}");
            assert!(e.to_string().contains(text), "{e}");
            std::fs::remove_file(p).ok();
        }
        assert!(matches!(WavSource::from_reader(&b"not a wav file"[..]), Err(WavError::Io(_))));
    }

    #[test]
    fn sink_records_through_a_graph_and_writes_both_formats() {
        let f = AudioFormat::mono(8000);
        let samples: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.05).sin() * 0.9).collect();
        let src = WavSource::from_samples(8000, samples.clone());
        let sink = WavSink::new(f, 960);
        let rec = sink.handle();
        let mut b = GraphBuilder::new(Quantum::MS_10);
        let s = b.add_node("src", Box::new(src));
        let k = b.add_node("sink", Box::new(sink));
        b.connect(s, 0, k, 0).unwrap();
        let mut x = PlanExecutor::new(b.build().unwrap()).unwrap();
        for _ in 0..13 {
            x.run_cycle();
        }
        assert_eq!(rec.samples(), &samples[..960]);
        assert_eq!(rec.overflow(), 13 * 80 - 960);

        let p16 = tmp("out16.wav");
        rec.write_wav(&p16, WavSampleFormat::Int16).unwrap();
        let back = WavSource::open(&p16).unwrap();
        let mut want = vec![0i16; 960];
        kernels::f32_to_i16(&mut want, &samples[..960]);
        for (a, w) in back.samples().iter().zip(&want) {
            assert_eq!(*a, f32::from(*w) / 32768.0);
        }
        let p32 = tmp("out32.wav");
        rec.write_wav(&p32, WavSampleFormat::Float32).unwrap();
        assert_eq!(WavSource::open(&p32).unwrap().samples(), &samples[..960]);
        std::fs::remove_file(p16).ok();
        std::fs::remove_file(p32).ok();
    }

    #[test]
    fn sink_silences_bad_quanta() {
        let sink = WavSink::new(AudioFormat::mono(8000), 1000);
        let rec = sink.handle();
        let mut h = NodeHarness::new(Box::new(sink), Quantum::MS_10).unwrap();
        h.audio_in_mut(0).fill(0.25);
        h.audio_in_mut(0)[7] = f32::NAN;
        assert_eq!(h.run(), 1);
        assert!(rec.samples().iter().all(|&s| s == 0.0));
        assert_eq!(rec.len(), 80);
        h.processor_mut().reset();
        assert!(rec.is_empty());
    }
}
