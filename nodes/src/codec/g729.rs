//! G.729 Annex A (and A + B) behind the [`Encoder`] / [`Decoder`] traits.

use super::{prefix_mut, CodecError, CodecInfo, Decoder, EncodedFrame, Encoder, FrameType};
use crate::g729::{FrameKind, G729Decoder, G729Encoder, FRAME_SAMPLES, SID_BYTES, SPEECH_BYTES};
use crate::kernels;

/// Packet durations offered for G.729, µs.
const PTIMES: &[u32] = &[10_000, 20_000, 30_000, 40_000, 50_000, 60_000];

fn info() -> CodecInfo {
    CodecInfo {
        encoding: "G729",
        sample_rate: 8000,
        rtp_clock_rate: 8000,
        channels: 1,
        frame_samples: FRAME_SAMPLES,
        max_frame_bytes: SPEECH_BYTES,
        ptimes_us: PTIMES,
        default_ptime_us: 20_000,
        payload_type: crate::g729::RTP_PAYLOAD_TYPE,
        bitrate: 8_000,
        // 5 ms look-ahead of the LP analysis (measured: the decode lags the input by 40 samples).
        delay_samples: 40,
    }
}

/// G.729 Annex A encoder, optionally with Annex B (VAD, DTX, SID frames); the bitstream is
/// bit-exact with bcg729 for the same 16-bit input.
///
/// With Annex B, [`Encoder::encode`] returns [`FrameType::Sid`] (2 bytes) and
/// [`FrameType::NoTransmission`] (0 bytes) frames during silence.
pub struct G729CodecEncoder {
    enc: G729Encoder,
    annex_b: bool,
    info: CodecInfo,
}

impl G729CodecEncoder {
    /// An encoder; `annex_b` enables VAD / DTX.
    pub fn new(annex_b: bool) -> Self {
        G729CodecEncoder { enc: G729Encoder::new(annex_b), annex_b, info: info() }
    }

    /// Whether Annex B is on.
    pub fn annex_b(&self) -> bool {
        self.annex_b
    }
}

impl Encoder for G729CodecEncoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<EncodedFrame, CodecError> {
        if pcm.len() != FRAME_SAMPLES {
            return Err(CodecError::BufferSize { needed: FRAME_SAMPLES, got: pcm.len() });
        }
        let Some(out) = out.first_chunk_mut::<SPEECH_BYTES>() else {
            return Err(CodecError::BufferSize { needed: SPEECH_BYTES, got: out.len() });
        };
        let mut x = [0i16; FRAME_SAMPLES];
        kernels::f32_to_i16(&mut x, pcm);
        let kind = match self.enc.encode(&x, out) {
            FrameKind::Speech => FrameType::Speech,
            FrameKind::Sid => FrameType::Sid,
            FrameKind::NoTransmission => FrameType::NoTransmission,
        };
        let len = match kind {
            FrameType::Speech => SPEECH_BYTES,
            FrameType::Sid => SID_BYTES,
            FrameType::NoTransmission => 0,
        };
        Ok(EncodedFrame { kind, len })
    }

    fn reset(&mut self) {
        self.enc.reset();
    }

    /// Without Annex B only: with it, silence sends SID or nothing, not a frame per quantum.
    fn share(&self) -> Option<Box<dyn Encoder>> {
        (!self.annex_b).then(|| Box::new(G729CodecEncoder::new(false)) as Box<dyn Encoder>)
    }

    /// 60 ms: the LSP, gain and pitch predictors follow the shared stream's.
    fn handoff_priming_us(&self) -> u32 {
        60_000
    }
}

/// G.729 decoder (Annex A, and Annex B SID / untransmitted frames), bit-exact with bcg729.
///
/// A payload is zero or more 10-byte speech frames optionally followed by one 2-byte SID
/// frame (RFC 3551 §4.5.6); any other length is [`CodecError::BadPayload`]. A missing packet
/// (`None`) is decoded as one erased frame: after speech this is the G.729 concealment
/// (repeated pitch and attenuated gains), during silence it continues the comfort noise —
/// the same as an untransmitted Annex B frame, so DTX gaps need no special handling.
pub struct G729CodecDecoder {
    dec: G729Decoder,
    info: CodecInfo,
}

impl Default for G729CodecDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G729CodecDecoder {
    /// A decoder in its initial state.
    pub fn new() -> Self {
        G729CodecDecoder { dec: G729Decoder::new(), info: info() }
    }

    fn frames(&self, payload: &[u8]) -> Result<(usize, bool), CodecError> {
        let bad = |reason| CodecError::BadPayload { codec: "G729", len: payload.len(), reason };
        if payload.is_empty() {
            return Err(bad("empty payload"));
        }
        match payload.len() % SPEECH_BYTES {
            0 => Ok((payload.len() / SPEECH_BYTES, false)),
            SID_BYTES => Ok((payload.len() / SPEECH_BYTES, true)),
            _ => Err(bad("not a sequence of 10-byte frames with an optional 2-byte SID at the end")),
        }
    }

    fn frame(&mut self, bits: Option<&[u8]>, out: &mut [f32]) {
        let mut y = [0i16; FRAME_SAMPLES];
        // Lengths are validated by `frames`; an error here cannot occur and would still have
        // written concealment into `y`.
        let _ = self.dec.decode(bits, &mut y);
        kernels::i16_to_f32(out, &y);
    }
}

impl Decoder for G729CodecDecoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn samples_in(&self, payload: &[u8]) -> Result<usize, CodecError> {
        let (speech, sid) = self.frames(payload)?;
        Ok((speech + usize::from(sid)) * FRAME_SAMPLES)
    }

    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, CodecError> {
        let Some(p) = payload else {
            let o = prefix_mut(out, FRAME_SAMPLES)?;
            self.frame(None, o);
            return Ok(FRAME_SAMPLES);
        };
        let n = self.samples_in(p)?;
        if out.len() < n {
            return Err(CodecError::BufferSize { needed: n, got: out.len() });
        }
        for (bits, o) in p.chunks(SPEECH_BYTES).zip(out.chunks_exact_mut(FRAME_SAMPLES)) {
            self.frame(Some(bits), o);
        }
        Ok(n)
    }

    fn piece_bytes(&self, payload: &[u8], frames: usize) -> Option<usize> {
        // Whole 10 ms speech frames only: a payload ending in a SID frame is decoded whole.
        if frames % FRAME_SAMPLES != 0 || payload.len() % SPEECH_BYTES != 0 {
            return None;
        }
        super::whole_pieces(payload.len(), frames / FRAME_SAMPLES * SPEECH_BYTES)
    }

    fn reset(&mut self) {
        self.dec.reset();
    }
}
