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

mod writer;

pub use writer::WavWriter;

use crate::kernels;
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Errors of the WAV endpoints.
///
/// ```
/// use rvoip_media_nodes::wav::{WavError, WavReader};
/// // Not a RIFF/WAVE header at all.
/// let err = WavReader::new(&b"OggS, not a WAV file"[..]).err().unwrap();
/// assert!(matches!(err, WavError::Invalid(_)));
/// // A WAV header for 4-bit IMA ADPCM (format tag 0x0011): well formed, not decoded.
/// let mut adpcm = Vec::new();
/// adpcm.extend_from_slice(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0");
/// adpcm.extend_from_slice(&[0x11, 0, 1, 0, 0x40, 0x1f, 0, 0, 0xa0, 0x0f, 0, 0, 0, 1, 4, 0]);
/// adpcm.extend_from_slice(b"data\0\0\0\0");
/// let err = WavReader::new(&adpcm[..]).err().unwrap();
/// assert!(matches!(err, WavError::Unsupported { .. }));
/// assert!(err.to_string().contains("IMA ADPCM"));
/// // A missing file.
/// assert!(matches!(WavReader::open("/nonexistent/x.wav"), Err(WavError::Read(_))));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// Writing the file failed (I/O).
    #[error("writing failed: {0}")]
    Write(#[source] std::io::Error),
    /// Reading the file failed (I/O).
    #[error("reading failed: {0}")]
    Read(#[source] std::io::Error),
    /// The file is not a WAV file, or its header is damaged: what was found.
    #[error("not a readable WAV file: {0}")]
    Invalid(String),
    /// The file is a WAV file in an encoding the reader does not decode.
    #[error("unsupported WAV format: {found} (supported: {SUPPORTED_FORMATS})")]
    Unsupported {
        /// What the header says, in words ("4-bit IMA ADPCM (format tag 0x0011)").
        found: String,
    },
}

/// The encodings [`WavReader`] decodes, in words (for messages).
pub const SUPPORTED_FORMATS: &str = "8, 16, 24 or 32-bit integer PCM, 32 or 64-bit float, \
    8-bit μ-law or A-law; any number of channels, mixed down to mono";

/// How a WAV file's samples are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavEncoding {
    /// Integer PCM of this many bits (8 unsigned; 16, 24, 32 signed little-endian).
    Int(u16),
    /// IEEE float of this many bits (32 or 64).
    Float(u16),
    /// G.711 μ-law, 8 bits.
    Ulaw,
    /// G.711 A-law, 8 bits.
    Alaw,
}

impl std::fmt::Display for WavEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WavEncoding::Int(b) => write!(f, "{b}-bit integer PCM"),
            WavEncoding::Float(b) => write!(f, "{b}-bit float"),
            WavEncoding::Ulaw => f.write_str("8-bit μ-law"),
            WavEncoding::Alaw => f.write_str("8-bit A-law"),
        }
    }
}

/// What a WAV header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavInfo {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channels in the file ([`WavReader`] mixes them down to mono).
    pub channels: u16,
    /// Sample encoding.
    pub encoding: WavEncoding,
    /// Frames the data chunk declares (`None` when the header leaves the size open, as
    /// streaming writers do). A truncated file holds fewer.
    pub frames_declared: Option<u64>,
}

impl WavInfo {
    /// Bytes of one frame (all channels).
    fn frame_bytes(&self) -> usize {
        let bits = match self.encoding {
            WavEncoding::Int(b) | WavEncoding::Float(b) => b,
            WavEncoding::Ulaw | WavEncoding::Alaw => 8,
        };
        usize::from(bits / 8) * usize::from(self.channels)
    }
}

/// Reads a WAV file block by block as mono `f32` (full scale ±1.0), in bounded memory:
/// integer PCM of 8/16/24/32 bits, 32/64-bit float, μ-law and A-law, plain or
/// `WAVE_FORMAT_EXTENSIBLE` headers, RIFF or RF64/BW64 (the 64-bit sizes of long
/// recordings, from their "ds64" chunk), any number of channels (averaged to mono). A data
/// chunk that declares more bytes than the file holds is read as far as it goes and
/// [`WavReader::truncated`] turns true; non-finite or absurd float samples (see
/// [`kernels::MAX_SANE`]) become zeros, counted in [`WavReader::sanitized`].
///
/// ```
/// use rvoip_media_nodes::wav::{WavEncoding, WavReader};
/// // A 2-channel μ-law file of two frames: (0xFF, 0xFF) and (0x80, 0x00).
/// let mut f = b"RIFF\0\0\0\0WAVEfmt \x12\0\0\0\x07\0\x02\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x08\0\0\0".to_vec();
/// f.extend_from_slice(b"data\x04\0\0\0\xff\xff\x80\x00");
/// let mut r = WavReader::new(&f[..])?;
/// assert_eq!(r.info().encoding, WavEncoding::Ulaw);
/// assert_eq!((r.info().rate, r.info().channels), (8000, 2));
/// let mut x = [1.0f32; 4];
/// assert_eq!(r.read(&mut x)?, 2);
/// assert_eq!(x[0], 0.0); // 0xFF is μ-law zero
/// assert_eq!(x[1], 0.0); // +8031/32768 and -8031/32768 average to zero
/// assert!(!r.truncated());
/// # Ok::<(), rvoip_media_nodes::wav::WavError>(())
/// ```
#[derive(Debug)]
pub struct WavReader<R> {
    reader: R,
    info: WavInfo,
    /// Data bytes still to read (u64::MAX when the size is open).
    remaining: u64,
    truncated: bool,
    sanitized: u64,
    bytes: Vec<u8>,
    law: Vec<f32>,
}

const EXTENSIBLE: u16 = 0xFFFE;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full<R: std::io::Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, WavError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WavError::Read(e)),
        }
    }
    Ok(n)
}

/// Skips `n` bytes; false if the stream ended first.
fn skip<R: std::io::Read>(r: &mut R, n: u64) -> Result<bool, WavError> {
    let copied = std::io::copy(&mut r.by_ref().take(n), &mut std::io::sink()).map_err(WavError::Read)?;
    Ok(copied == n)
}

/// What a file that is not a WAV one seems to be, as advice to append to the error.
fn container_hint(head: &[u8]) -> &'static str {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"fLaC") {
        "; it looks like a FLAC file: convert it to WAV first (e.g. `ffmpeg -i IN.flac OUT.wav`)"
    } else if starts(b"FORM") && head.get(8..12).is_some_and(|t| t == b"AIFF" || t == b"AIFC") {
        "; it looks like an AIFF file: convert it to WAV first (e.g. `ffmpeg -i IN.aiff OUT.wav`)"
    } else if starts(b"OggS") {
        "; it looks like an Ogg (Vorbis or Opus) file: convert it to WAV first (e.g. `ffmpeg -i IN.ogg OUT.wav`)"
    } else if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        "; it looks like an MP3 file: convert it to WAV first (e.g. `ffmpeg -i IN.mp3 OUT.wav`)"
    } else {
        ""
    }
}

fn format_name(tag: u16) -> String {
    let name = match tag {
        0x0002 => "Microsoft ADPCM",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x0064 | 0x0065 => "G.721/G.723 ADPCM",
        _ => "an unknown encoding",
    };
    format!("{name} (format tag 0x{tag:04X})")
}

impl WavReader<std::io::BufReader<std::fs::File>> {
    /// Opens the file at `path` and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WavError> {
        let f = std::fs::File::open(path).map_err(WavError::Read)?;
        Self::new(std::io::BufReader::with_capacity(1 << 16, f))
    }
}

impl<R: std::io::Read> WavReader<R> {
    /// Reads the header from `reader`, leaving it at the first sample.
    pub fn new(mut reader: R) -> Result<Self, WavError> {
        let mut head = [0u8; 12];
        let n = read_full(&mut reader, &mut head)?;
        if n == 0 {
            return Err(WavError::Invalid("the file is empty (0 bytes)".into()));
        }
        // RF64 and BW64 (EBU Tech 3306, ITU-R BS.2088): a RIFF/WAVE whose 32-bit sizes may be
        // u32::MAX, the real ones being in a "ds64" chunk.
        let rf64 = matches!(&head[..4], b"RF64" | b"BW64");
        if n < 12 || !(rf64 || &head[..4] == b"RIFF") || &head[8..12] != b"WAVE" {
            let shown: String =
                head[..n.min(4)].iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect();
            return Err(WavError::Invalid(format!(
                "{n} byte(s) found where a RIFF/WAVE header starts with \"RIFF\" (found \"{shown}\"){}",
                container_hint(&head[..n])
            )));
        }
        let mut fmt: Option<(u16, u16, u32, u16, u16)> = None;
        // The data chunk's size from "ds64", for a data chunk whose own size is u32::MAX.
        let mut ds64_data: Option<u64> = None;
        loop {
            let mut ch = [0u8; 8];
            let got = read_full(&mut reader, &mut ch)?;
            if got < 8 {
                return Err(WavError::Invalid(if fmt.is_none() {
                    "the header ends before a \"fmt \" chunk".into()
                } else {
                    "no \"data\" chunk: the file holds no samples".into()
                }));
            }
            let size = u32_at(&ch, 4);
            match &ch[..4] {
                b"fmt " => {
                    if size < 16 {
                        return Err(WavError::Invalid(format!(
                            "a \"fmt \" chunk of {size} bytes (at least 16 needed)"
                        )));
                    }
                    let mut b = vec![0u8; size.min(64) as usize];
                    if read_full(&mut reader, &mut b)? < b.len()
                        || !skip(&mut reader, u64::from(size - b.len() as u32) + u64::from(size & 1))?
                    {
                        return Err(WavError::Invalid("the file ends inside its \"fmt \" chunk".into()));
                    }
                    let mut tag = u16_at(&b, 0);
                    if tag == EXTENSIBLE {
                        if b.len() < 26 {
                            return Err(WavError::Invalid(
                                "an extensible \"fmt \" chunk without its sub-format".into(),
                            ));
                        }
                        tag = u16_at(&b, 24);
                    }
                    fmt = Some((tag, u16_at(&b, 2), u32_at(&b, 4), u16_at(&b, 12), u16_at(&b, 14)));
                }
                b"data" => {
                    let Some((tag, channels, rate, block_align, bits)) = fmt else {
                        return Err(WavError::Invalid("the \"data\" chunk comes before the \"fmt \" chunk".into()));
                    };
                    let encoding = match (tag, bits) {
                        (1, 8 | 16 | 24 | 32) => WavEncoding::Int(bits),
                        (3, 32 | 64) => WavEncoding::Float(bits),
                        (6, 8) => WavEncoding::Alaw,
                        (7, 8) => WavEncoding::Ulaw,
                        (1, b) => return Err(WavError::Unsupported { found: format!("{b}-bit integer PCM") }),
                        (3, b) => return Err(WavError::Unsupported { found: format!("{b}-bit float") }),
                        (6 | 7, b) => return Err(WavError::Unsupported { found: format!("{b}-bit G.711") }),
                        (t, _) => return Err(WavError::Unsupported { found: format_name(t) }),
                    };
                    if channels == 0 {
                        return Err(WavError::Invalid("the header declares 0 channels".into()));
                    }
                    if rate == 0 {
                        return Err(WavError::Invalid("the header declares a sample rate of 0 Hz".into()));
                    }
                    let info = WavInfo { rate, channels, encoding, frames_declared: None };
                    let fb = info.frame_bytes();
                    if usize::from(block_align) != fb {
                        return Err(WavError::Invalid(format!(
                            "{channels} channel(s) of {encoding} make {fb}-byte frames, the header says {block_align}"
                        )));
                    }
                    // u32::MAX: the size is in "ds64" (RF64), or not known (a RIFF written to a
                    // pipe, read to the end of the stream).
                    let size = if size == u32::MAX { ds64_data } else { Some(u64::from(size)) };
                    let info = WavInfo { frames_declared: size.map(|s| s / fb as u64), ..info };
                    return Ok(WavReader {
                        reader,
                        info,
                        remaining: size.unwrap_or(u64::MAX),
                        truncated: false,
                        sanitized: 0,
                        bytes: Vec::new(),
                        law: Vec::new(),
                    });
                }
                b"ds64" if rf64 => {
                    // riffSize, dataSize, sampleCount (u64 each), then a table this reader
                    // does not need.
                    let mut b = [0u8; 16];
                    if size < 24
                        || read_full(&mut reader, &mut b)? < 16
                        || !skip(&mut reader, u64::from(size - 16) + u64::from(size & 1))?
                    {
                        return Err(WavError::Invalid("a \"ds64\" chunk cut short".into()));
                    }
                    ds64_data = Some(u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")));
                }
                _ => {
                    if !skip(&mut reader, u64::from(size) + u64::from(size & 1))? {
                        return Err(WavError::Invalid(format!(
                            "the file ends inside its \"{}\" chunk, before any samples",
                            String::from_utf8_lossy(&ch[..4])
                        )));
                    }
                }
            }
        }
    }

    /// The header.
    pub fn info(&self) -> &WavInfo {
        &self.info
    }

    /// Whether the data chunk ended before the size its header declares (known once
    /// [`WavReader::read`] has returned 0).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Float samples replaced by zeros so far (NaN, ±Inf, magnitude above
    /// [`kernels::MAX_SANE`]).
    pub fn sanitized(&self) -> u64 {
        self.sanitized
    }

    /// Reads up to `out.len()` mono samples (each frame's channels averaged); returns how
    /// many, 0 at the end of the data. Fills `out` completely unless the data ends.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, WavError> {
        let fb = self.info.frame_bytes();
        let ch = usize::from(self.info.channels);
        let want_frames = (out.len() as u64).min(self.remaining / fb as u64) as usize;
        self.bytes.resize(want_frames * fb, 0);
        let got = read_full(&mut self.reader, &mut self.bytes)?;
        let frames = got / fb;
        if got < self.bytes.len() {
            // The data ends here (a partial last frame is dropped).
            if self.remaining != u64::MAX {
                self.truncated = true;
            }
            self.remaining = 0;
        } else if self.remaining != u64::MAX {
            self.remaining -= got as u64;
        }
        let bytes = &self.bytes[..frames * fb];
        let out = &mut out[..frames];
        let sanitize = |x: f32, bad: &mut u64| {
            if x.is_finite() && x.abs() <= kernels::MAX_SANE {
                x
            } else {
                *bad += 1;
                0.0
            }
        };
        let mut bad = 0u64;
        match self.info.encoding {
            WavEncoding::Int(16) if ch == 1 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0;
                }
            }
            WavEncoding::Float(32) if ch == 1 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = sanitize(f32::from_le_bytes([b[0], b[1], b[2], b[3]]), &mut bad);
                }
            }
            enc => {
                let width = fb / ch;
                if matches!(enc, WavEncoding::Ulaw | WavEncoding::Alaw) {
                    self.law.resize(bytes.len(), 0.0);
                    if enc == WavEncoding::Ulaw {
                        crate::g711::ulaw::decode_f32(bytes, &mut self.law);
                    } else {
                        crate::g711::alaw::decode_f32(bytes, &mut self.law);
                    }
                }
                let law = &self.law;
                let sample = |i: usize, bad: &mut u64| -> f32 {
                    let b = &bytes[i * width..(i + 1) * width];
                    match enc {
                        WavEncoding::Int(8) => (f32::from(b[0]) - 128.0) / 128.0,
                        WavEncoding::Int(16) => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
                        WavEncoding::Int(24) => (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0,
                        WavEncoding::Int(_) => {
                            (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32
                        }
                        WavEncoding::Float(32) => sanitize(f32::from_le_bytes([b[0], b[1], b[2], b[3]]), bad),
                        WavEncoding::Float(_) => {
                            let v = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                            sanitize(v as f32, bad)
                        }
                        WavEncoding::Ulaw | WavEncoding::Alaw => law[i],
                    }
                };
                for (f, o) in out.iter_mut().enumerate() {
                    if ch == 1 {
                        *o = sample(f, &mut bad);
                    } else {
                        let sum: f32 = (0..ch).map(|c| sample(f * ch + c, &mut bad)).sum();
                        *o = sum / ch as f32;
                    }
                }
            }
        }
        self.sanitized += bad;
        Ok(frames)
    }
}

/// Plays a WAV file (any encoding [`WavReader`] decodes, mixed down to mono, any sample rate):
/// one quantum per cycle, zeros after the end, when [`WavSource::finished`] turns true.
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
        Self::from_reader(std::io::BufReader::new(std::fs::File::open(path).map_err(WavError::Read)?))
    }

    /// Reads a whole WAV stream (any encoding [`WavReader`] decodes, mixed down to mono).
    pub fn from_reader<R: Read>(reader: R) -> Result<Self, WavError> {
        let mut r = WavReader::new(reader)?;
        let mut samples = Vec::new();
        let mut block = vec![0.0f32; 1 << 14];
        loop {
            let n = r.read(&mut block)?;
            if n == 0 {
                break;
            }
            samples.extend_from_slice(&block[..n]);
        }
        Ok(WavSource {
            format: AudioFormat::mono(r.info().rate),
            finished: Arc::new(AtomicBool::new(samples.is_empty())),
            samples,
            position: 0,
            sanitized: r.sanitized() as usize,
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

/// Sample format a [`WavWriter`] (and so [`WavSinkHandle::write_wav`]) writes.
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

    /// Writes the recording so far to a WAV file ([`WavWriter`]).
    ///
    /// # Errors
    /// [`WavError::Write`] if the file cannot be written.
    pub fn write_wav(&self, path: impl AsRef<Path>, format: WavSampleFormat) -> Result<(), WavError> {
        let f = self.shared.format;
        let mut w = WavWriter::create(path, f.rate, f.channels, format)?;
        w.write(&self.samples())?;
        w.finish()?;
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

    /// A WAV file's bytes: `fmt` with `tag` (as WAVE_FORMAT_EXTENSIBLE with that sub-format
    /// when `extensible`), a `LIST` chunk to skip, then `data` declaring `declared` bytes
    /// (default: `data.len()`).
    fn wav_bytes(tag: u16, channels: u16, bits: u16, data: &[u8], extensible: bool, declared: Option<u32>) -> Vec<u8> {
        let rate = 8000u32;
        let align = channels * bits / 8;
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&(if extensible { EXTENSIBLE } else { tag }).to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        fmt.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        fmt.extend_from_slice(&align.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        if extensible {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&bits.to_le_bytes());
            fmt.extend_from_slice(&0u32.to_le_bytes());
            fmt.extend_from_slice(&tag.to_le_bytes());
            fmt.extend_from_slice(&[0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]);
        }
        let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        v.extend_from_slice(&fmt);
        v.extend_from_slice(b"LIST\x03\0\0\0abc\0"); // odd size: one pad byte
        v.extend_from_slice(b"data");
        v.extend_from_slice(&declared.unwrap_or(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    /// What reading a whole file told.
    struct Read {
        info: WavInfo,
        truncated: bool,
        sanitized: u64,
    }

    impl Read {
        fn info(&self) -> &WavInfo {
            &self.info
        }
        fn truncated(&self) -> bool {
            self.truncated
        }
        fn sanitized(&self) -> u64 {
            self.sanitized
        }
    }

    fn read_all(bytes: &[u8]) -> Result<(Read, Vec<f32>), WavError> {
        let mut r = WavReader::new(bytes)?;
        let mut all = Vec::new();
        let mut block = [0f32; 3]; // small blocks: frames straddle reads
        loop {
            let n = r.read(&mut block)?;
            if n == 0 {
                break;
            }
            all.extend_from_slice(&block[..n]);
        }
        Ok((Read { info: *r.info(), truncated: r.truncated(), sanitized: r.sanitized() }, all))
    }

    #[test]
    fn reader_decodes_every_supported_encoding_exactly() {
        // 8-bit unsigned: 0 -> -1, 128 -> 0, 255 -> 127/128.
        let (_, x) = read_all(&wav_bytes(1, 1, 8, &[0, 128, 255, 64], false, None)).unwrap();
        assert_eq!(x, [-1.0, 0.0, 127.0 / 128.0, -0.5]);
        // 16-bit.
        let pcm: Vec<u8> = [-32768i16, -1, 0, 12345, 32767].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (_, x) = read_all(&wav_bytes(1, 1, 16, &pcm, false, None)).unwrap();
        assert_eq!(x, [-1.0, -1.0 / 32768.0, 0.0, 12345.0 / 32768.0, 32767.0 / 32768.0]);
        // 24-bit, plain and extensible.
        let v24 = [-8_388_608i32, -1, 0, 4_194_304, 8_388_607];
        let b24: Vec<u8> = v24.iter().flat_map(|v| v.to_le_bytes()[..3].to_vec()).collect();
        let want: Vec<f32> = v24.iter().map(|&v| v as f32 / 8_388_608.0).collect();
        for ext in [false, true] {
            let (r, x) = read_all(&wav_bytes(1, 1, 24, &b24, ext, None)).unwrap();
            assert_eq!(r.info().encoding, WavEncoding::Int(24));
            assert_eq!(x, want, "extensible {ext}");
        }
        // 32-bit integer.
        let b32: Vec<u8> = [i32::MIN, 1 << 30, -(1 << 29)].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (_, x) = read_all(&wav_bytes(1, 1, 32, &b32, false, None)).unwrap();
        assert_eq!(x, [-1.0, 0.5, -0.25]);
        // 64-bit float, with a NaN and an Inf replaced and counted.
        let b64: Vec<u8> =
            [0.25f64, -0.75, f64::NAN, f64::INFINITY, 1e-3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (r, x) = read_all(&wav_bytes(3, 1, 64, &b64, false, None)).unwrap();
        assert_eq!(x, [0.25, -0.75, 0.0, 0.0, 1e-3f64 as f32]);
        assert_eq!(r.sanitized(), 2);
        // μ-law and A-law, through the G.711 tables.
        let codes = [0x00u8, 0x7F, 0x80, 0xFF, 0x2A, 0xD5];
        for (tag, enc) in [(7u16, WavEncoding::Ulaw), (6, WavEncoding::Alaw)] {
            let (r, x) = read_all(&wav_bytes(tag, 1, 8, &codes, false, None)).unwrap();
            assert_eq!(r.info().encoding, enc);
            let mut want = [0f32; 6];
            if enc == WavEncoding::Ulaw {
                crate::g711::ulaw::decode_f32(&codes, &mut want);
            } else {
                crate::g711::alaw::decode_f32(&codes, &mut want);
            }
            assert_eq!(x, want, "{enc}");
            assert!(x.iter().any(|&v| v.abs() > 0.9), "{enc}: full-scale codes decoded");
        }
    }

    #[test]
    fn reader_mixes_channels_down_and_reads_a_truncated_file() {
        // Stereo 16-bit: (L + R) / 2; three channels of 32-bit float.
        let st: Vec<u8> = [1000i16, 3000, -32768, 0, 5, 6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (r, x) = read_all(&wav_bytes(1, 2, 16, &st, false, None)).unwrap();
        assert_eq!(r.info().channels, 2);
        assert_eq!(x, [2000.0 / 32768.0, -0.5, 5.5 / 32768.0]);
        let f3: Vec<u8> = [0.3f32, 0.3, 0.3, 0.6, 0.0, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (_, x) = read_all(&wav_bytes(3, 3, 32, &f3, false, None)).unwrap();
        assert_eq!(x, [(0.3f32 + 0.3 + 0.3) / 3.0, 0.6 / 3.0]);
        // The header declares 10 frames, the file holds 4 and half of a fifth.
        let pcm: Vec<u8> = (1..=9i16).flat_map(|v| v.to_le_bytes()).take(9).collect();
        let (r, x) = read_all(&wav_bytes(1, 1, 16, &pcm, false, Some(20))).unwrap();
        assert_eq!(r.info().frames_declared, Some(10));
        assert!(r.truncated());
        assert_eq!(x, [1.0 / 32768.0, 2.0 / 32768.0, 3.0 / 32768.0, 4.0 / 32768.0]);
        // A whole file is not truncated; the source reads the same samples.
        let (r, _) = read_all(&wav_bytes(1, 1, 16, &pcm[..8], false, None)).unwrap();
        assert!(!r.truncated());
        let src = WavSource::from_reader(&wav_bytes(1, 2, 16, &st, false, None)[..]).unwrap();
        assert_eq!(src.samples(), [2000.0 / 32768.0, -0.5, 5.5 / 32768.0]);
    }

    #[test]
    fn reader_takes_rf64_sizes_from_ds64() {
        // RF64 as ffmpeg writes it (`-rf64 always`): RIFF and data sizes u32::MAX, the real
        // ones in "ds64"; the data chunk declares 3 frames, the file holds them and more.
        let mut f = b"RF64\xff\xff\xff\xffWAVEds64\x1c\0\0\0".to_vec();
        f.extend(0u64.to_le_bytes()); // riffSize (not needed)
        f.extend(6u64.to_le_bytes()); // dataSize
        f.extend(3u64.to_le_bytes()); // sampleCount
        f.extend(0u32.to_le_bytes()); // table length
        f.extend(b"fmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0");
        f.extend(b"data\xff\xff\xff\xff");
        f.extend([1i16, 2, 3, 4].iter().flat_map(|v| v.to_le_bytes()));
        let (r, x) = read_all(&f).unwrap();
        assert_eq!(r.info().frames_declared, Some(3));
        assert_eq!(x, [1.0 / 32768.0, 2.0 / 32768.0, 3.0 / 32768.0]);
        // BW64 is the same layout; a ds64 cut short is an error.
        f[..4].copy_from_slice(b"BW64");
        assert_eq!(read_all(&f).unwrap().1.len(), 3);
        let e = WavReader::new(&f[..30]).unwrap_err().to_string();
        assert!(e.contains("\"ds64\" chunk cut short"), "{e}");
    }

    #[test]
    fn reader_names_what_it_found_and_what_is_supported() {
        let cases: [(Vec<u8>, &str); 11] = [
            (Vec::new(), "the file is empty (0 bytes)"),
            (
                b"ID3\x04junk".to_vec(),
                "where a RIFF/WAVE header starts with \"RIFF\" (found \"ID3.\"); it looks like an MP3",
            ),
            (b"fLaC\0\0\0\x22\x10\0\x10\0".to_vec(), "(found \"fLaC\"); it looks like a FLAC file"),
            (b"FORM\0\0\0\x40AIFFCOMM".to_vec(), "(found \"FORM\"); it looks like an AIFF file"),
            (b"OggS\0\x02\0\0\0\0\0\0".to_vec(), "it looks like an Ogg (Vorbis or Opus) file"),
            (wav_bytes(0x11, 1, 4, &[0; 4], false, None), "IMA ADPCM (format tag 0x0011)"),
            (wav_bytes(0x55, 1, 16, &[0; 4], true, None), "MP3 (format tag 0x0055)"),
            (wav_bytes(1, 1, 12, &[0; 4], false, None), "unsupported WAV format: 12-bit integer PCM"),
            (wav_bytes(3, 1, 16, &[0; 4], false, None), "unsupported WAV format: 16-bit float"),
            (wav_bytes(1, 1, 16, &[], false, None)[..36].to_vec(), "no \"data\" chunk"),
            (b"RIFF\0\0\0\0WAVE".to_vec(), "before a \"fmt \" chunk"),
        ];
        for (bytes, want) in cases {
            let e = WavReader::new(&bytes[..]).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            if e.contains("unsupported") {
                assert!(e.contains("supported: 8, 16, 24 or 32-bit integer PCM, 32 or 64-bit float"), "{e}");
            }
        }
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
