//! WAV files in and out of the CLI. In: every encoding [`WavReader`] decodes (8/16/24/32-bit
//! integer, 32/64-bit float, μ-law, A-law, any channel count mixed down to mono), read block
//! by block; what the reader had to do (mix down, repair samples, stop at a truncated data
//! chunk) is said on stderr. Out: mono 16-bit PCM or 32-bit float.

use super::CliError;
use rvoip_media_graph::AudioFormat;
use rvoip_media_nodes::wav::{WavEncoding, WavReader, WavSampleFormat, WavWriter};
use std::path::{Path, PathBuf};

/// A WAV file being read as mono `f32` blocks.
pub struct WavIn {
    path: PathBuf,
    reader: WavReader<std::io::BufReader<std::fs::File>>,
    /// Samples read so far.
    read: u64,
    reported: bool,
}

impl WavIn {
    /// Opens `path` and reads its header; errors name the file, what was found and what is
    /// supported. Says on stderr when several channels will be mixed down.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        let reader = WavReader::open(path)
            .map_err(|e| CliError::Wav { path: path.display().to_string(), detail: e.to_string() })?;
        let info = *reader.info();
        if info.channels > 1 {
            eprintln!(
                "rvoip-media: {}: {} channels of {} mixed down to mono (their average)",
                path.display(),
                info.channels,
                info.encoding
            );
        }
        Ok(WavIn { path: path.to_path_buf(), reader, read: 0, reported: false })
    }

    /// The file's name, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rate; the stream is mono.
    pub fn format(&self) -> AudioFormat {
        AudioFormat::mono(self.reader.info().rate)
    }

    /// The sample format outputs derived from this file keep: 16-bit for 8/16-bit integer and
    /// G.711 files, 32-bit float for 24/32-bit integer and float files (no precision lost).
    pub fn sample_format(&self) -> WavSampleFormat {
        match self.reader.info().encoding {
            WavEncoding::Int(8 | 16) | WavEncoding::Ulaw | WavEncoding::Alaw => WavSampleFormat::Int16,
            _ => WavSampleFormat::Float32,
        }
    }

    /// Samples the header declares (`None` if it leaves the size open).
    pub fn declared_len(&self) -> Option<u64> {
        self.reader.info().frames_declared
    }

    /// Reads up to `out.len()` samples; fewer only at the end, 0 after it. At the end, says
    /// on stderr how many samples were repaired and whether the data chunk was cut short.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError> {
        if out.is_empty() {
            return Ok(0);
        }
        let n = self
            .reader
            .read(out)
            .map_err(|e| CliError::Wav { path: self.path.display().to_string(), detail: e.to_string() })?;
        self.read += n as u64;
        if n < out.len() && !self.reported {
            self.reported = true;
            let r = &self.reader;
            if r.sanitized() > 0 {
                eprintln!(
                    "rvoip-media: {}: {} non-finite or out-of-range samples replaced by 0",
                    self.path.display(),
                    r.sanitized()
                );
            }
            if r.truncated() {
                eprintln!(
                    "rvoip-media: {}: truncated: the header declares {} samples, the file holds {}; \
                     read what is there",
                    self.path.display(),
                    r.info().frames_declared.unwrap_or(0),
                    self.read
                );
            }
        }
        Ok(n)
    }
}

/// A whole mono WAV file as `f32` in [-1, 1].
pub struct WavData {
    /// Rate (mono).
    pub format: AudioFormat,
    /// The samples.
    pub samples: Vec<f32>,
}

/// Reads the whole of `path` (see [`WavIn`]).
pub fn read(path: &Path) -> Result<WavData, CliError> {
    let mut w = WavIn::open(path)?;
    let mut samples = Vec::new();
    let mut block = vec![0f32; 1 << 14];
    loop {
        let n = w.read(&mut block)?;
        samples.extend_from_slice(&block[..n]);
        if n < block.len() {
            break;
        }
    }
    Ok(WavData { format: w.format(), samples })
}

/// A mono WAV file being written, sample block by sample block ([`WavWriter`]: 16-bit
/// through the exact rounding/clamping kernel, or 32-bit float with non-finite samples
/// written as 0; RF64 past RIFF's 4 GiB). The header's lengths are filled in by
/// [`WavOut::finish`].
pub struct WavOut {
    path: String,
    writer: WavWriter<std::io::BufWriter<std::fs::File>>,
}

impl WavOut {
    /// Starts a mono WAV at `rate` in `file` (normally from [`crate::output::Outputs::create`]);
    /// `path` names it in errors.
    pub fn new(file: std::fs::File, path: &Path, rate: u32, format: WavSampleFormat) -> Result<Self, CliError> {
        let path = path.display().to_string();
        let writer = WavWriter::new(std::io::BufWriter::with_capacity(1 << 16, file), rate, 1, format)
            .map_err(|e| CliError::Wav { path: path.clone(), detail: e.to_string() })?;
        Ok(WavOut { path, writer })
    }

    /// Appends `samples`.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), CliError> {
        self.writer.write(samples).map_err(|e| CliError::Wav { path: self.path.clone(), detail: e.to_string() })
    }

    /// Completes the header and flushes the file.
    pub fn finish(self) -> Result<(), CliError> {
        let path = self.path;
        self.writer.finish().map(drop).map_err(|e| CliError::Wav { path, detail: e.to_string() })
    }
}
