//! [`OpusCodecEncoder`] / [`OpusCodecDecoder`]: Opus behind the codec model's
//! [`Encoder`] / [`Decoder`] traits.

use super::{
    OpusDecoder, OpusEncoder, OpusEncoderConfig, OpusError, DEEP_PLC_COMPLEXITY, FRAME_DURATIONS_US, MAX_PAYLOAD_BYTES,
    RTP_CLOCK_RATE,
};
use crate::codec::{prefix_mut, CodecError, CodecInfo, Decoder, EncodedFrame, Encoder, FrameType};
use rvoip_media_graph::MAX_PAYLOAD;

/// SDP encoding name (RFC 7587).
const ENCODING: &str = "opus";
/// The usual dynamic payload type.
const PAYLOAD_TYPE: u8 = 111;
/// Packet durations a decoder accepts, µs (RFC 7587 allows up to 120 ms).
const DECODE_PTIMES: &[u32] = &[10_000, 20_000, 40_000, 60_000, 80_000, 100_000, 120_000];

/// An encoder packet holds exactly one Opus packet (frames cannot be concatenated), so the
/// only ptime is the frame duration.
fn ptimes_for(frame_us: u32) -> &'static [u32] {
    match frame_us {
        10_000 => &[10_000],
        20_000 => &[20_000],
        40_000 => &[40_000],
        _ => &[60_000],
    }
}

/// Maps Opus errors onto the codec model's: unsupported rate / channels / frame duration
/// keep their meaning, buffer errors become [`CodecError::BufferSize`], payload errors
/// [`CodecError::BadPayload`]; settings errors (which a built encoder cannot produce) and other
/// libopus errors are reported as a bad payload with the reason `"libopus error"`.
impl From<OpusError> for CodecError {
    fn from(e: OpusError) -> Self {
        match e {
            OpusError::UnsupportedSampleRate { got, supported } => {
                CodecError::UnsupportedRate { codec: ENCODING, got, supported }
            }
            OpusError::UnsupportedChannels { got, supported } => {
                CodecError::UnsupportedChannels { codec: ENCODING, got, supported }
            }
            OpusError::UnsupportedFrameDuration { got_us, supported_us } => {
                CodecError::UnsupportedPtime { codec: ENCODING, got_us, supported_us }
            }
            OpusError::InputLength { needed, got } | OpusError::OutputTooSmall { needed, got } => {
                CodecError::BufferSize { needed, got }
            }
            OpusError::PayloadTooLarge { len, .. } => {
                CodecError::BadPayload { codec: ENCODING, len, reason: "payload over the size limit" }
            }
            OpusError::BadPayload { len, reason } => CodecError::BadPayload { codec: ENCODING, len, reason },
            OpusError::BitrateOutOfRange { .. }
            | OpusError::ComplexityOutOfRange { .. }
            | OpusError::PacketLossOutOfRange { .. }
            | OpusError::FecNeedsSilk
            | OpusError::BadConcealDuration { .. }
            | OpusError::Libopus { .. } => CodecError::BadPayload { codec: ENCODING, len: 0, reason: "libopus error" },
        }
    }
}

/// [`OpusEncoder`] as a codec-model [`Encoder`]: one frame per packet, ptime = frame
/// duration, RTP clock 48 kHz, DTX packets reported as [`FrameType::NoTransmission`].
///
/// Packets are capped at [`MAX_PAYLOAD`] bytes (libopus lowers the bit rate of a frame that
/// would not fit).
///
/// ```
/// use rvoip_media_nodes::codec::{Encoder, FrameType};
/// use rvoip_media_nodes::opus::{Bitrate, OpusCodecEncoder, OpusEncoderConfig};
///
/// let mut enc = OpusCodecEncoder::new(OpusEncoderConfig::new(48_000, 2).bitrate(Bitrate::Bits(64_000))).unwrap();
/// assert_eq!((enc.info().rtp_clock_rate, enc.info().frame_len()), (48_000, 1920));
/// let mut out = vec![0u8; enc.info().max_frame_bytes];
/// let f = enc.encode(&vec![0.1; 1920], &mut out).unwrap();
/// assert_eq!(f.kind, FrameType::Speech);
/// ```
#[derive(Debug)]
pub struct OpusCodecEncoder {
    enc: OpusEncoder,
    info: CodecInfo,
}

impl OpusCodecEncoder {
    /// Builds the encoder from `cfg` (validated).
    pub fn new(cfg: OpusEncoderConfig) -> Result<Self, OpusError> {
        Ok(Self::from_encoder(cfg.build()?))
    }

    /// Wraps an existing encoder.
    pub fn from_encoder(mut enc: OpusEncoder) -> Self {
        let cfg = *enc.config();
        let info = CodecInfo {
            encoding: ENCODING,
            sample_rate: cfg.get_sample_rate(),
            rtp_clock_rate: RTP_CLOCK_RATE,
            channels: cfg.get_channels(),
            frame_samples: cfg.frame_samples(),
            max_frame_bytes: enc.max_packet_bytes().min(MAX_PAYLOAD),
            ptimes_us: ptimes_for(cfg.get_frame_duration_us()),
            default_ptime_us: cfg.get_frame_duration_us(),
            payload_type: PAYLOAD_TYPE,
            bitrate: enc.current_bitrate(),
            // libopus's look-ahead (2.5 ms + 4 ms delay compensation at the API).
            delay_samples: enc.lookahead() as u32,
        };
        OpusCodecEncoder { enc, info }
    }

    /// The wrapped encoder (for run-time bit rate, FEC and loss changes).
    pub fn inner_mut(&mut self) -> &mut OpusEncoder {
        &mut self.enc
    }
}

impl Encoder for OpusCodecEncoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<EncodedFrame, CodecError> {
        let max = self.info.max_frame_bytes;
        let out = prefix_mut(out, max)?;
        let p = self.enc.encode(pcm, out).map_err(CodecError::from)?;
        if p.dtx {
            Ok(EncodedFrame { kind: FrameType::NoTransmission, len: 0 })
        } else {
            Ok(EncodedFrame { kind: FrameType::Speech, len: p.len })
        }
    }

    fn reset(&mut self) {
        self.enc.reset();
    }

    fn bitrate(&self) -> u32 {
        self.info.bitrate
    }

    /// Without DTX only (with it, silence sends nothing); the same settings, built anew.
    fn share(&self) -> Option<Box<dyn Encoder>> {
        let cfg = *self.enc.config();
        if cfg.get_dtx() {
            return None;
        }
        OpusCodecEncoder::new(cfg).ok().map(|e| Box::new(e) as Box<dyn Encoder>)
    }

    fn settings_key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.enc.config().hash(&mut h);
        h.finish()
    }
}

/// [`OpusDecoder`] as a codec-model [`Decoder`]: a payload decodes to its full duration (up
/// to 120 ms); a missing one conceals one frame of the configured duration.
///
/// ```
/// use rvoip_media_nodes::codec::Decoder;
/// use rvoip_media_nodes::opus::OpusCodecDecoder;
///
/// let mut dec = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap();
/// let mut out = vec![0f32; 320];
/// assert_eq!(dec.decode(None, &mut out).unwrap(), 320);
/// assert!(dec.decode(Some(&[]), &mut out).is_err());
/// ```
#[derive(Debug)]
pub struct OpusCodecDecoder {
    dec: OpusDecoder,
    info: CodecInfo,
}

impl OpusCodecDecoder {
    /// A decoder at `sample_rate` Hz with `channels` channels, concealing in frames of
    /// `frame_us` µs (one of [`FRAME_DURATIONS_US`]).
    pub fn new(sample_rate: u32, channels: u16, frame_us: u32) -> Result<Self, OpusError> {
        let dec = OpusDecoder::new(sample_rate, channels)?;
        if !FRAME_DURATIONS_US.contains(&frame_us) {
            return Err(OpusError::UnsupportedFrameDuration { got_us: frame_us, supported_us: FRAME_DURATIONS_US });
        }
        let info = CodecInfo {
            encoding: ENCODING,
            sample_rate,
            rtp_clock_rate: RTP_CLOCK_RATE,
            channels,
            frame_samples: (u64::from(sample_rate) * u64::from(frame_us) / 1_000_000) as usize,
            max_frame_bytes: MAX_PAYLOAD_BYTES,
            ptimes_us: DECODE_PTIMES,
            default_ptime_us: frame_us,
            payload_type: PAYLOAD_TYPE,
            bitrate: 0,
            // The delay belongs to the encoder's side of the pair (see CodecInfo::delay_samples).
            delay_samples: 0,
        };
        Ok(OpusCodecDecoder { dec, info })
    }

    /// The same decoder concealing lost packets with libopus's neural PLC
    /// ([`OpusDecoder::set_complexity`]`(`[`DEEP_PLC_COMPLEXITY`]`)`): what one call's jitter
    /// buffer plays through ([`CodecId::call_decoder`](crate::codec::CodecId::call_decoder)).
    /// Conference rooms leave it off: a concealed frame costs some hundred times a decoded one.
    ///
    /// ```
    /// use rvoip_media_nodes::opus::OpusCodecDecoder;
    ///
    /// let mut dec = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap().with_deep_plc();
    /// assert_eq!(dec.inner_mut().complexity(), 5);
    /// ```
    pub fn with_deep_plc(mut self) -> Self {
        // Cannot fail: DEEP_PLC_COMPLEXITY is within 0..=10.
        let _ = self.dec.set_complexity(DEEP_PLC_COMPLEXITY);
        self
    }

    /// The wrapped decoder (for [`OpusDecoder::decode_fec`]).
    pub fn inner_mut(&mut self) -> &mut OpusDecoder {
        &mut self.dec
    }
}

impl Decoder for OpusCodecDecoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, CodecError> {
        let ch = usize::from(self.info.channels);
        let n = match payload {
            Some(p) => self.dec.decode(Some(p), out),
            None => self.dec.conceal(self.info.frame_samples, out),
        };
        n.map(|n| n * ch).map_err(CodecError::from)
    }

    fn reset(&mut self) {
        self.dec.reset();
    }

    fn samples_in(&self, payload: &[u8]) -> Result<usize, CodecError> {
        self.dec.samples_in(payload).map_err(CodecError::from)
    }

    fn decode_fec(&mut self, next: &[u8], samples: usize, out: &mut [f32]) -> Option<Result<usize, CodecError>> {
        let ch = usize::from(self.info.channels);
        Some(self.dec.decode_fec_for(next, samples, out).map(|n| n * ch).map_err(CodecError::from))
    }
}
