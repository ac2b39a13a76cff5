//! [`WavWriter`]: a WAV file written as a stream, of any length.
//!
//! A RIFF file's sizes are 32-bit: a recording past 4 GiB (12 hours of 48 kHz 16-bit mono,
//! 6 of 32-bit float) cannot be described by them, and a writer that lets them wrap leaves a
//! file whose header names a few seconds of it. This writer reserves a `JUNK` chunk of
//! 28 bytes before `fmt ` (EBU Tech 3306's placeholder) and, if the data outgrows the RIFF
//! sizes, turns the file into RF64 when it finishes: `RIFF` becomes `RF64`, the placeholder
//! a `ds64` chunk holding the 64-bit sizes, the 32-bit ones `0xFFFFFFFF`. Files within the
//! RIFF limits stay plain RIFF/WAVE (every reader skips the `JUNK` chunk).

use super::{WavError, WavSampleFormat};
use crate::kernels;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes before the first sample: RIFF header 12, `JUNK` 8 + 28, `fmt ` 8 + 16, `data` 8.
const HEADER_BYTES: u64 = 80;
/// Offset of the `JUNK` (later `ds64`) chunk.
const JUNK_AT: u64 = 12;
/// Offset of the `data` chunk's size.
const DATA_SIZE_AT: u64 = 76;

/// A WAV file written sample block by sample block, in bounded memory, whatever its length:
/// 16-bit integer PCM through the exact [`kernels::f32_to_i16`] conversion, or 32-bit float
/// (non-finite samples written as 0); RIFF/WAVE, or RF64 once the data outgrows RIFF's
/// 32-bit sizes (see the module docs). [`WavWriter::finish`] completes the header; a writer
/// dropped without it leaves sizes of 0.
///
/// ```
/// use rvoip_media_nodes::wav::{WavReader, WavSampleFormat, WavWriter};
/// use std::io::Cursor;
/// let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, 1, WavSampleFormat::Int16)?;
/// w.write(&[0.0, 0.5, -1.0])?;
/// let file = w.finish()?.into_inner();
/// let mut r = WavReader::new(&file[..])?;
/// let mut x = [0.0f32; 4];
/// assert_eq!(r.read(&mut x)?, 3);
/// assert_eq!(x[..3], [0.0, 0.5, -1.0]);
/// # Ok::<(), rvoip_media_nodes::wav::WavError>(())
/// ```
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    out: W,
    format: WavSampleFormat,
    /// Bytes of one frame (all channels), the header's block align.
    frame_bytes: u64,
    data_bytes: u64,
    /// The largest RIFF size the file may have before it becomes RF64 (u32::MAX; smaller
    /// in tests).
    riff_limit: u64,
    /// Scratch for one block's bytes (grows to the largest block written).
    bytes: Vec<u8>,
    pcm: Vec<i16>,
}

impl WavWriter<std::io::BufWriter<std::fs::File>> {
    /// Creates (or truncates) the file at `path` and writes its header.
    ///
    /// # Errors
    /// [`WavError::Write`] if the file cannot be created or written.
    pub fn create(path: impl AsRef<Path>, rate: u32, channels: u16, format: WavSampleFormat) -> Result<Self, WavError> {
        let f = std::fs::File::create(path).map_err(WavError::Write)?;
        Self::new(std::io::BufWriter::with_capacity(1 << 16, f), rate, channels, format)
    }
}

impl<W: Write + Seek> WavWriter<W> {
    /// Starts a WAV stream in `out` (at its current position, normally 0).
    ///
    /// # Errors
    /// [`WavError::Write`] if the header cannot be written; [`WavError::Invalid`] for 0
    /// channels or a rate of 0 Hz.
    pub fn new(out: W, rate: u32, channels: u16, format: WavSampleFormat) -> Result<Self, WavError> {
        if channels == 0 || rate == 0 {
            return Err(WavError::Invalid(format!("a WAV file of {channels} channel(s) at {rate} Hz")));
        }
        let (tag, bits): (u16, u16) = match format {
            WavSampleFormat::Int16 => (1, 16),
            WavSampleFormat::Float32 => (3, 32),
        };
        let align = channels * (bits / 8);
        let mut w = WavWriter {
            out,
            format,
            frame_bytes: u64::from(align),
            data_bytes: 0,
            riff_limit: u64::from(u32::MAX),
            bytes: Vec::new(),
            pcm: Vec::new(),
        };
        let mut h = Vec::with_capacity(HEADER_BYTES as usize);
        h.extend(b"RIFF\0\0\0\0WAVEJUNK");
        h.extend(28u32.to_le_bytes());
        h.extend([0u8; 28]);
        h.extend(b"fmt ");
        h.extend(16u32.to_le_bytes());
        h.extend(tag.to_le_bytes());
        h.extend(channels.to_le_bytes());
        h.extend(rate.to_le_bytes());
        h.extend((rate * u32::from(align)).to_le_bytes());
        h.extend(align.to_le_bytes());
        h.extend(bits.to_le_bytes());
        h.extend(b"data\0\0\0\0");
        debug_assert_eq!(h.len() as u64, HEADER_BYTES);
        w.out.write_all(&h).map_err(WavError::Write)?;
        Ok(w)
    }

    /// Appends `samples` (interleaved when there are several channels; full scale ±1.0).
    ///
    /// # Errors
    /// [`WavError::Write`] if writing fails.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), WavError> {
        self.bytes.clear();
        match self.format {
            WavSampleFormat::Int16 => {
                self.pcm.resize(samples.len(), 0);
                kernels::f32_to_i16(&mut self.pcm, samples);
                self.bytes.extend(self.pcm.iter().flat_map(|s| s.to_le_bytes()));
            }
            WavSampleFormat::Float32 => {
                self.bytes.extend(samples.iter().flat_map(|&s| if s.is_finite() { s } else { 0.0 }.to_le_bytes()));
            }
        }
        self.out.write_all(&self.bytes).map_err(WavError::Write)?;
        self.data_bytes += self.bytes.len() as u64;
        Ok(())
    }

    /// Frames written so far (samples per channel).
    pub fn frames(&self) -> u64 {
        self.data_bytes / self.frame_bytes
    }

    /// Completes the header (as RF64 if the data outgrew RIFF's sizes), flushes and
    /// returns the stream.
    ///
    /// # Errors
    /// [`WavError::Write`] if writing or seeking fails.
    pub fn finish(mut self) -> Result<W, WavError> {
        // Every sample is 2 or 4 bytes: the data never needs a pad byte.
        let riff_size = HEADER_BYTES - 8 + self.data_bytes;
        let frames = self.frames();
        let o = &mut self.out;
        let at = |o: &mut W, pos: u64, bytes: &[u8]| -> std::io::Result<()> {
            o.seek(SeekFrom::Start(pos))?;
            o.write_all(bytes)
        };
        let done = if riff_size <= self.riff_limit {
            at(o, 4, &(riff_size as u32).to_le_bytes())
                .and_then(|()| at(o, DATA_SIZE_AT, &(self.data_bytes as u32).to_le_bytes()))
        } else {
            let mut ds64 = b"ds64".to_vec();
            ds64.extend(28u32.to_le_bytes());
            ds64.extend(riff_size.to_le_bytes());
            ds64.extend(self.data_bytes.to_le_bytes());
            ds64.extend(frames.to_le_bytes());
            ds64.extend(0u32.to_le_bytes()); // no table
            at(o, 0, b"RF64\xff\xff\xff\xff")
                .and_then(|()| at(o, JUNK_AT, &ds64))
                .and_then(|()| at(o, DATA_SIZE_AT, &u32::MAX.to_le_bytes()))
        };
        done.and_then(|()| o.seek(SeekFrom::End(0)).map(drop)).and_then(|()| o.flush()).map_err(WavError::Write)?;
        Ok(self.out)
    }

    #[cfg(test)]
    fn with_riff_limit(mut self, limit: u64) -> Self {
        self.riff_limit = limit;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::WavReader;
    use super::*;
    use std::io::Cursor;

    fn read_all(file: &[u8]) -> (super::super::WavInfo, Vec<f32>) {
        let mut r = WavReader::new(file).unwrap();
        let mut x = vec![0.0; 4096];
        let n = r.read(&mut x).unwrap();
        x.truncate(n);
        (*r.info(), x)
    }

    #[test]
    fn writes_riff_that_our_reader_and_hound_read_back() {
        let x: Vec<f32> = (0..999).map(|i| ((i as f32) * 0.01).sin() * 0.8).collect();
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 16_000, 1, WavSampleFormat::Float32).unwrap();
        w.write(&x[..500]).unwrap();
        w.write(&[f32::NAN]).unwrap();
        w.write(&x[501..]).unwrap();
        assert_eq!(w.frames(), 999);
        let file = w.finish().unwrap().into_inner();
        assert_eq!(&file[..4], b"RIFF");
        assert_eq!(file.len() as u64, HEADER_BYTES + 4 * 999);
        let (info, y) = read_all(&file);
        assert_eq!((info.rate, info.channels, info.frames_declared), (16_000, 1, Some(999)));
        let mut want = x.clone();
        want[500] = 0.0;
        assert_eq!(y, want);
        let h = hound::WavReader::new(&file[..]).unwrap();
        assert_eq!(h.spec().sample_format, hound::SampleFormat::Float);
        assert_eq!(h.into_samples::<f32>().map(Result::unwrap).collect::<Vec<_>>(), want);
        // 16-bit stereo, through the exact kernel.
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, 2, WavSampleFormat::Int16).unwrap();
        w.write(&[1.0, -1.0, 0.25, 2.0]).unwrap();
        let file = w.finish().unwrap().into_inner();
        let h = hound::WavReader::new(&file[..]).unwrap();
        assert_eq!(h.spec().channels, 2);
        assert_eq!(h.into_samples::<i16>().map(Result::unwrap).collect::<Vec<_>>(), [32767, -32768, 8192, 32767]);
    }

    #[test]
    fn data_past_the_riff_limit_makes_an_rf64_file() {
        // The limit lowered to 1000 bytes stands for RIFF's 4 GiB.
        let x: Vec<f32> = (0..700).map(|i| (i as f32 - 350.0) / 512.0).collect();
        let mut w =
            WavWriter::new(Cursor::new(Vec::new()), 8000, 1, WavSampleFormat::Int16).unwrap().with_riff_limit(1000);
        w.write(&x).unwrap();
        let file = w.finish().unwrap().into_inner();
        assert_eq!(&file[..16], b"RF64\xff\xff\xff\xffWAVEds64");
        assert_eq!(u64::from_le_bytes(file[20..28].try_into().unwrap()), HEADER_BYTES - 8 + 1400);
        assert_eq!(u64::from_le_bytes(file[28..36].try_into().unwrap()), 1400);
        assert_eq!(u64::from_le_bytes(file[36..44].try_into().unwrap()), 700);
        assert_eq!(&file[72..80], b"data\xff\xff\xff\xff");
        let (info, y) = read_all(&file);
        assert_eq!(info.frames_declared, Some(700));
        assert_eq!(y, x);
        // Just under the limit it stays RIFF.
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, 1, WavSampleFormat::Int16)
            .unwrap()
            .with_riff_limit(72 + 1400);
        w.write(&x).unwrap();
        assert_eq!(&w.finish().unwrap().into_inner()[..4], b"RIFF");
    }

    #[test]
    fn a_bad_format_is_refused() {
        let e = WavWriter::new(Cursor::new(Vec::new()), 0, 1, WavSampleFormat::Int16).unwrap_err();
        assert!(e.to_string().contains("1 channel(s) at 0 Hz"), "{e}");
    }
}
