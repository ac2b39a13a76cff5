//! WAV files in and out of the CLI: mono 16-bit PCM or 32-bit float, any rate.

use super::CliError;
use rvoip_media_graph::AudioFormat;
use rvoip_media_nodes::kernels;
use rvoip_media_nodes::wav::{WavSampleFormat, WavSource};
use std::path::Path;

/// A whole mono WAV file as `f32` in [-1, 1].
pub struct WavData {
    /// Rate and channels.
    pub format: AudioFormat,
    /// The file's sample format (outputs keep it).
    pub sample_format: WavSampleFormat,
    /// The samples.
    pub samples: Vec<f32>,
}

/// Reads `path`; unsupported formats are an error naming the format. NaN, ±Inf and absurd
/// samples of a float file are replaced by zeros (counted, and reported on stderr).
pub fn read(path: &Path) -> Result<WavData, CliError> {
    let wav_err =
        |e: rvoip_media_nodes::WavError| CliError::Wav { path: path.display().to_string(), detail: e.to_string() };
    let spec = hound::WavReader::open(path)
        .map_err(|e| CliError::Wav { path: path.display().to_string(), detail: e.to_string() })?
        .spec();
    let src = WavSource::open(path).map_err(wav_err)?;
    let sample_format = if spec.sample_format == hound::SampleFormat::Float {
        WavSampleFormat::Float32
    } else {
        WavSampleFormat::Int16
    };
    if src.sanitized() > 0 {
        eprintln!(
            "rvoip-media: {}: {} non-finite or out-of-range samples replaced by 0",
            path.display(),
            src.sanitized()
        );
    }
    Ok(WavData { format: src.format(), sample_format, samples: src.samples().to_vec() })
}

/// A mono WAV file being written, sample block by sample block: 16-bit through the exact
/// rounding/clamping kernel, or 32-bit float (non-finite samples written as 0). The header's
/// lengths are filled in by [`WavOut::finish`].
pub struct WavOut {
    path: String,
    format: WavSampleFormat,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    pcm: Vec<i16>,
}

impl WavOut {
    /// Starts a mono WAV at `rate` in `file` (normally from [`crate::output::Outputs::create`]);
    /// `path` names it in errors.
    pub fn new(file: std::fs::File, path: &Path, rate: u32, format: WavSampleFormat) -> Result<Self, CliError> {
        let (bits, sample_format) = match format {
            WavSampleFormat::Int16 => (16, hound::SampleFormat::Int),
            WavSampleFormat::Float32 => (32, hound::SampleFormat::Float),
        };
        let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: bits, sample_format };
        let path = path.display().to_string();
        let writer = hound::WavWriter::new(std::io::BufWriter::new(file), spec)
            .map_err(|e| CliError::Wav { path: path.clone(), detail: e.to_string() })?;
        Ok(WavOut { path, format, writer, pcm: Vec::new() })
    }

    /// Appends `samples`.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), CliError> {
        let path = &self.path;
        let err = |e: hound::Error| CliError::Wav { path: path.clone(), detail: e.to_string() };
        match self.format {
            WavSampleFormat::Int16 => {
                self.pcm.resize(samples.len(), 0);
                kernels::f32_to_i16(&mut self.pcm, samples);
                let mut w16 = self.writer.get_i16_writer(self.pcm.len() as u32);
                for &s in &self.pcm {
                    w16.write_sample(s);
                }
                w16.flush().map_err(err)?;
            }
            WavSampleFormat::Float32 => {
                for &s in samples {
                    self.writer.write_sample(if s.is_finite() { s } else { 0.0 }).map_err(err)?;
                }
            }
        }
        Ok(())
    }

    /// Completes the header and flushes the file.
    pub fn finish(self) -> Result<(), CliError> {
        let path = self.path;
        self.writer.finalize().map_err(|e| CliError::Wav { path, detail: e.to_string() })
    }
}

/// Writes mono `samples` at `rate` to `file` in one go (see [`WavOut`]).
pub fn write(
    file: std::fs::File,
    path: &Path,
    rate: u32,
    samples: &[f32],
    format: WavSampleFormat,
) -> Result<(), CliError> {
    let mut w = WavOut::new(file, path, rate, format)?;
    w.write(samples)?;
    w.finish()
}
