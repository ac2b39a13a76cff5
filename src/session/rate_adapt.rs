//! A codec at another audio rate than the session's graph: the encoder and decoder wrapped
//! with a resampler each, so a live switch ([`MediaSession::set_codec`]) from an 8 kHz codec
//! to a 16 kHz or 48 kHz one (PCMU ↔ G.722 ↔ Opus) keeps the graph, its nodes and their
//! state — the encoder's RTP stream (SSRC, sequence, timestamps continuing in the new
//! codec's clock) and the jitter buffer's timeline — and only the codec inside them changes.
//! The session's graph runs at the rate of the codec it was created with, so audio through
//! a switched codec is band-limited to that rate. The decoder declares the graph's RTP
//! clock: the transport maps a codec's other clock into it (`ClockMap`).
//!
//! Everything is allocated when a wrapper is built (on the control side); encoding and
//! decoding allocate nothing.
//!
//! [`MediaSession::set_codec`]: super::MediaSession::set_codec

use rvoip_media_nodes::codec::{CodecError, CodecInfo, Decoder, EncodedFrame, Encoder};
use rvoip_media_nodes::resample::{ResampleError, Resampler, SampleFifo};

/// Samples held back at the start of a decoded stream so the resampler's output, whose
/// count per packet may differ by a sample from the exact ratio, never runs short.
const DECODE_SLACK: usize = 16;

/// `info` as seen at `rate` Hz: same codec, RTP clock and bytes, frames (and the codec's
/// delay) of as many samples as last as long at `rate`.
fn at_rate(info: &CodecInfo, rate: u32) -> Result<CodecInfo, ResampleError> {
    let scaled = info.frame_samples * rate as usize;
    if info.channels != 1 || scaled % info.sample_rate as usize != 0 {
        return Err(ResampleError::UnsupportedRate(rate));
    }
    let delay_samples = (u64::from(info.delay_samples) * u64::from(rate) / u64::from(info.sample_rate)) as u32;
    Ok(CodecInfo { sample_rate: rate, frame_samples: scaled / info.sample_rate as usize, delay_samples, ..*info })
}

/// A FIFO starting `prefill` samples of silence ahead.
fn fifo(capacity: usize, prefill: usize) -> SampleFifo {
    let mut f = SampleFifo::new(capacity);
    f.clear_to(prefill);
    f
}

/// An encoder taking audio at the graph's rate for a codec at another one.
pub(crate) struct RateAdaptedEncoder {
    inner: Box<dyn Encoder>,
    info: CodecInfo,
    rs: Resampler,
    fifo: SampleFifo,
    frame: Box<[f32]>,
}

impl RateAdaptedEncoder {
    /// `inner` fed with audio at `rate` Hz.
    pub(crate) fn new(inner: Box<dyn Encoder>, rate: u32) -> Result<Self, ResampleError> {
        let inner_info = *inner.info();
        let info = at_rate(&inner_info, rate)?;
        let frame = inner_info.frame_samples;
        Ok(RateAdaptedEncoder {
            rs: Resampler::new(rate, inner_info.sample_rate, 1)?,
            // One frame held back: the resampler's output per frame may be a sample short.
            fifo: fifo(3 * frame + 8, frame),
            frame: vec![0.0; frame].into_boxed_slice(),
            inner,
            info,
        })
    }
}

impl Encoder for RateAdaptedEncoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<EncodedFrame, CodecError> {
        self.fifo.push_resampled(&mut self.rs, pcm);
        self.fifo.pop_into(&mut self.frame);
        self.inner.encode(&self.frame, out)
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.rs.reset();
        self.fifo.clear_to(self.frame.len());
    }
}

/// A decoder producing audio at the graph's rate for a codec at another one.
pub(crate) struct RateAdaptedDecoder {
    inner: Box<dyn Decoder>,
    info: CodecInfo,
    rs: Resampler,
    fifo: SampleFifo,
    /// The inner decoder's output (its longest packet).
    scratch: Box<[f32]>,
    /// Graph rate, inner rate.
    rates: (usize, usize),
}

impl RateAdaptedDecoder {
    /// `inner`'s audio delivered at `rate` Hz; packets of up to `max_ms` ms whose
    /// timestamps reach the decoder's owner in a `clock` Hz RTP clock (the transport maps
    /// them there when the codec's own clock differs, `StreamParams::graph_clock`).
    pub(crate) fn new(inner: Box<dyn Decoder>, rate: u32, max_ms: usize, clock: u32) -> Result<Self, ResampleError> {
        let inner_info = *inner.info();
        let info = CodecInfo { rtp_clock_rate: clock, ..at_rate(&inner_info, rate)? };
        let longest = (inner_info.sample_rate as usize * max_ms / 1000).max(inner_info.frame_samples);
        let out_longest = longest * rate as usize / inner_info.sample_rate as usize;
        Ok(RateAdaptedDecoder {
            rs: Resampler::new(inner_info.sample_rate, rate, 1)?,
            fifo: fifo(out_longest + 2 * DECODE_SLACK + 8, DECODE_SLACK),
            scratch: vec![0.0; longest].into_boxed_slice(),
            rates: (rate as usize, inner_info.sample_rate as usize),
            inner,
            info,
        })
    }

    /// Resamples the inner decoder's `n` samples and hands out as many at the graph rate.
    fn deliver(&mut self, n: usize, out: &mut [f32]) -> Result<usize, CodecError> {
        let m = n * self.rates.0 / self.rates.1;
        if m > out.len() {
            return Err(CodecError::BufferSize { needed: m, got: out.len() });
        }
        self.fifo.push_resampled(&mut self.rs, &self.scratch[..n]);
        self.fifo.pop_into(&mut out[..m]);
        Ok(m)
    }
}

impl Decoder for RateAdaptedDecoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, CodecError> {
        let n = self.inner.decode(payload, &mut self.scratch)?;
        self.deliver(n.min(self.scratch.len()), out)
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.rs.reset();
        self.fifo.clear_to(DECODE_SLACK);
    }

    fn samples_in(&self, payload: &[u8]) -> Result<usize, CodecError> {
        Ok(self.inner.samples_in(payload)? * self.rates.0 / self.rates.1)
    }

    fn decode_fec(&mut self, next: &[u8], samples: usize, out: &mut [f32]) -> Option<Result<usize, CodecError>> {
        let inner_samples = samples * self.rates.1 / self.rates.0;
        if inner_samples > self.scratch.len() {
            return Some(Err(CodecError::BufferSize { needed: inner_samples, got: self.scratch.len() }));
        }
        match self.inner.decode_fec(next, inner_samples, &mut self.scratch)? {
            Ok(n) => Some(self.deliver(n.min(self.scratch.len()), out)),
            Err(e) => Some(Err(e)),
        }
    }

    fn conceal_toward(&mut self, next: &[u8], samples: usize) {
        self.inner.conceal_toward(next, samples * self.rates.1 / self.rates.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_nodes::codec::{G722CodecDecoder, G722CodecEncoder};

    fn tone(n: usize, rate: f32, phase: &mut usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *phase += 1;
                0.5 * (2.0 * std::f32::consts::PI * 1000.0 * *phase as f32 / rate).sin()
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn g722_at_8_khz_round_trips_a_tone_at_its_level() {
        let mut enc = RateAdaptedEncoder::new(Box::new(G722CodecEncoder::new()), 8000).unwrap();
        let mut dec = RateAdaptedDecoder::new(Box::new(G722CodecDecoder::new()), 8000, 120, 8000).unwrap();
        let (ei, di) = (*enc.info(), *dec.info());
        assert_eq!((ei.sample_rate, ei.frame_samples, ei.rtp_clock_rate, ei.payload_type), (8000, 20, 8000, 9));
        assert_eq!((di.sample_rate, di.frame_samples), (8000, 20));
        let mut phase = 0;
        let (mut bytes, mut pcm, mut got) = ([0u8; 64], [0f32; 160], Vec::new());
        for _ in 0..100 {
            // A 20 ms packet: 8 frames of 2.5 ms.
            let mut packet = Vec::new();
            for chunk in tone(160, 8000.0, &mut phase).chunks(20) {
                let f = enc.encode(chunk, &mut bytes).unwrap();
                packet.extend_from_slice(&bytes[..f.len]);
            }
            assert_eq!((packet.len(), dec.samples_in(&packet).unwrap()), (160, 160));
            assert_eq!(dec.decode(Some(&packet), &mut pcm).unwrap(), 160);
            got.extend_from_slice(&pcm);
        }
        let level = rms(&got[8000..]);
        assert!((level - 0.5 / 2f32.sqrt()).abs() < 0.02, "{level}");
        assert_eq!(dec.decode(None, &mut pcm).unwrap(), 20, "a concealed frame, at the graph rate");
        assert!(matches!(dec.decode(Some(&[0; 160]), &mut [0f32; 100]), Err(CodecError::BufferSize { .. })));
    }
}
