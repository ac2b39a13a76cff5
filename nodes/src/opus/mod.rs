//! Opus (RFC 6716) through libopus 1.6.1 (built from the source bundled in `opusic-sys`,
//! whose calls `raw` wraps: the crate's one binding).
//!
//! * [`OpusEncoderConfig`] — validated settings: 8 / 12 / 16 / 24 / 48 kHz, mono or stereo,
//!   10 / 20 / 40 / 60 ms frames, bit rate, complexity 0–10, VBR / constrained VBR / CBR,
//!   DTX, in-band FEC with the expected loss, signal type and application (VoIP by default).
//! * [`OpusEncoder`] — one frame of `f32` (or `i16`) samples in, one packet out. Input
//!   clips to ±1 and NaN encodes as 0: a frame needing it is fixed up in a preallocated
//!   buffer, so NaN / ±Inf never reach libopus.
//! * [`OpusDecoder`] — a packet in, samples out; a missing packet is concealed
//!   ([`OpusDecoder::decode`] with `None`), or rebuilt from the in-band FEC data of the next
//!   packet ([`OpusDecoder::decode_fec`]). Every payload is checked before libopus sees it:
//!   empty, oversized, malformed or truncated payloads and output buffers of the wrong size
//!   give an [`OpusError`], never a panic, and leave the decoder state unchanged.
//! * [`OpusCodecEncoder`] / [`OpusCodecDecoder`] — the same behind the
//!   [`codec::Encoder`](crate::codec::Encoder) / [`codec::Decoder`](crate::codec::Decoder)
//!   traits, for [`EncodeNode`](crate::codec::EncodeNode) / [`DecodeNode`](crate::codec::DecodeNode).
//!
//! After construction nothing allocates: `encode`, `decode`, `decode_fec`, `conceal`, the
//! runtime setters and `reset` are real-time safe (libopus itself works on its own state and
//! the stack).
//!
//! ```
//! use rvoip_media_nodes::opus::{Bitrate, OpusDecoder, OpusEncoderConfig, MAX_PACKET_BYTES};
//!
//! let mut enc = OpusEncoderConfig::new(48_000, 1).bitrate(Bitrate::Bits(32_000)).build().unwrap();
//! let mut dec = OpusDecoder::new(48_000, 1).unwrap();
//! let pcm: Vec<f32> = (0..enc.frame_len()).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
//! let mut packet = [0u8; MAX_PACKET_BYTES];
//! let mut out = vec![0f32; enc.frame_len()];
//!
//! let p = enc.encode(&pcm, &mut packet).unwrap();
//! assert_eq!(dec.decode(Some(&packet[..p.len]), &mut out).unwrap(), 960); // 20 ms at 48 kHz
//! assert_eq!(dec.decode(None, &mut out).unwrap(), 960); // a lost packet, concealed
//! assert!(out.iter().all(|s| s.is_finite()));
//! ```

mod codec;
mod config;
mod decoder;
mod encoder;
mod fec_node;
mod raw;

pub use codec::{OpusCodecDecoder, OpusCodecEncoder};
pub use config::{
    Application, Bandwidth, Bitrate, BitrateMode, OpusEncoderConfig, Signal, MAX_BITRATE, MAX_COMPLEXITY, MIN_BITRATE,
};
pub use decoder::{OpusDecoder, DEEP_PLC_COMPLEXITY};
pub use encoder::{needs_sanitising, EncodedPacket, OpusEncoder};
pub use fec_node::OpusFecDecodeNode;

use crate::display::{List, Ms, MsList};

/// Sample rates libopus runs at, Hz.
pub const SAMPLE_RATES: &[u32] = &[8000, 12_000, 16_000, 24_000, 48_000];
/// Channel counts supported.
pub const CHANNELS: &[u16] = &[1, 2];
/// Frame durations the encoder produces, µs.
pub const FRAME_DURATIONS_US: &[u32] = &[10_000, 20_000, 40_000, 60_000];
/// Longest packet duration the decoder accepts, µs (RFC 6716 §3.2.5).
pub const MAX_PACKET_US: u32 = 120_000;
/// Largest packet the encoder writes: three 20 ms frames of at most 1275 bytes each
/// (a 60 ms packet), plus framing. A buffer this large never limits the bit rate.
pub const MAX_PACKET_BYTES: usize = 3 * 1275 + 7;
/// Largest payload the decoder accepts: 120 ms at the 510 kbit/s ceiling (7650 bytes) plus
/// framing. Anything longer is rejected with [`OpusError::PayloadTooLarge`].
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1275 + 7;
/// RTP clock rate of Opus, whatever the audio rate (RFC 7587 §4.1).
pub const RTP_CLOCK_RATE: u32 = 48_000;

/// The libopus version string, e.g. `"libopus 1.6"`.
pub fn libopus_version() -> &'static str {
    raw::version()
}

/// Errors of Opus configuration, encoding and decoding.
///
/// ```
/// use rvoip_media_nodes::opus::{OpusDecoder, OpusError};
/// assert!(matches!(OpusDecoder::new(44100, 1), Err(OpusError::UnsupportedSampleRate { got: 44100, .. })));
/// assert!(matches!(OpusDecoder::new(48000, 3), Err(OpusError::UnsupportedChannels { got: 3, .. })));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpusError {
    /// Sample rate not among [`SAMPLE_RATES`].
    #[error("Opus does not support a sample rate of {got} Hz (supported: {} Hz)", List(supported))]
    UnsupportedSampleRate {
        /// Requested rate.
        got: u32,
        /// Supported rates.
        supported: &'static [u32],
    },
    /// Channel count not among [`CHANNELS`].
    #[error("Opus does not support {got} channel(s) (supported: {})", List(supported))]
    UnsupportedChannels {
        /// Requested channels.
        got: u16,
        /// Supported counts.
        supported: &'static [u16],
    },
    /// Frame duration not among [`FRAME_DURATIONS_US`].
    #[error("Opus does not support a frame duration of {} ms (supported: {} ms)", Ms(*got_us), MsList(supported_us))]
    UnsupportedFrameDuration {
        /// Requested duration, µs.
        got_us: u32,
        /// Supported durations, µs.
        supported_us: &'static [u32],
    },
    /// Bit rate outside `min..=max`.
    #[error("Opus bit rate {got} bit/s is outside {min}..={max} bit/s")]
    BitrateOutOfRange {
        /// Requested bit rate.
        got: u32,
        /// Lowest allowed.
        min: u32,
        /// Highest allowed.
        max: u32,
    },
    /// Complexity above `max`.
    #[error("Opus complexity {got} is outside 0..={max}")]
    ComplexityOutOfRange {
        /// Requested complexity.
        got: u8,
        /// Highest allowed.
        max: u8,
    },
    /// Expected packet loss above 100 %.
    #[error("expected packet loss of {got} % is outside 0..=100 %")]
    PacketLossOutOfRange {
        /// Requested percentage.
        got: u8,
    },
    /// In-band FEC was asked for with the CELT-only low-delay application.
    #[error("in-band FEC needs the SILK layer, which the restricted-low-delay application does not use")]
    FecNeedsSilk,
    /// The input frame has the wrong number of samples.
    #[error("Opus input of {got} samples where one frame is {needed} (interleaved)")]
    InputLength {
        /// Samples of one frame, interleaved.
        needed: usize,
        /// Samples given.
        got: usize,
    },
    /// An output buffer too small for the result.
    #[error("Opus output buffer of {got} where {needed} are needed")]
    OutputTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements given.
        got: usize,
    },
    /// A concealment / FEC duration that is not a multiple of 2.5 ms up to 120 ms.
    #[error("cannot conceal {got} samples per channel: a multiple of {step} up to {max} is needed")]
    BadConcealDuration {
        /// Requested samples per channel.
        got: usize,
        /// 2.5 ms in samples.
        step: usize,
        /// 120 ms in samples.
        max: usize,
    },
    /// A payload longer than [`MAX_PAYLOAD_BYTES`].
    #[error("Opus payload of {len} bytes exceeds the {max}-byte limit")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A payload libopus cannot parse (empty, truncated, corrupt or over 120 ms).
    #[error("bad Opus payload of {len} bytes: {reason}")]
    BadPayload {
        /// Payload length.
        len: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Any other error reported by libopus.
    #[error("libopus error in {function}: {description}")]
    Libopus {
        /// The libopus function that failed.
        function: &'static str,
        /// libopus's description of the error code.
        description: &'static str,
    },
}

/// Samples per channel in 2.5 ms (the Opus duration granule) at `rate`.
pub(crate) fn granule(rate: u32) -> usize {
    rate as usize / 400
}
