//! The codec model: [`Encoder`] / [`Decoder`] traits every speech codec implements, the graph
//! nodes [`EncodeNode`] / [`DecodeNode`] that packetise any of them, and the SDP side: the
//! [`registry`] of capabilities and [`negotiate`].
//!
//! * A codec works in *frames* of [`CodecInfo::frame_samples`] samples per channel
//!   ([`Encoder::encode`] takes exactly one frame). G.729 frames are its 10 ms frames; G.711 has
//!   no frames, so its implementation works in 2.5 ms blocks (the smallest graph quantum), as
//!   does G.722's.
//! * Decoding a *missing* packet is part of the contract: [`Decoder::decode`]`(None, out)`
//!   conceals one frame (G.711 and G.722: pitch-period repetition with fade-out, or silence;
//!   G.729: its own concealment / comfort noise).
//! * [`EncodeNode`] collects quanta into packets of the configured ptime (10 ms quantum, 20 ms
//!   ptime: one packet every second cycle) and handles discontinuous transmission;
//!   [`DecodeNode`] turns packets back into successive quanta, concealing when no packet covers
//!   a quantum.
//! * [`registry`] lists what can be offered in SDP; [`negotiate`] picks a codec from local
//!   preferences and a remote offer; [`Negotiated::encoder`] / [`Negotiated::decoder`] build
//!   the codec.
//!
//! ```
//! use rvoip_media_graph::{NodeHarness, Quantum};
//! use rvoip_media_nodes::codec::{self, CodecId, DecodeNode, EncodeNode, LocalCodec, RemoteFormat};
//!
//! // The remote offers G.729 without Annex B and PCMU; we prefer G.729.
//! let remote = [RemoteFormat::new(18, "G729", 8000, 1, "annexb=no"), RemoteFormat::new(0, "PCMU", 8000, 1, "")];
//! let chosen = codec::negotiate(&[LocalCodec::new(CodecId::G729), LocalCodec::new(CodecId::Pcmu)], &remote).unwrap();
//! assert_eq!((chosen.codec, chosen.payload_type, chosen.annexb), (CodecId::G729, 18, Some(false)));
//!
//! // 20 ms packets from a 10 ms graph: one packet of two G.729 frames every second cycle.
//! let enc = EncodeNode::new(chosen.encoder().unwrap(), 20_000, Quantum::MS_10).unwrap();
//! let mut h = NodeHarness::new(Box::new(enc), Quantum::MS_10).unwrap();
//! h.audio_in_mut(0).iter_mut().enumerate().for_each(|(i, s)| *s = (i as f32 * 0.3).sin() * 0.3);
//! h.run();
//! assert!(h.packet_out(0).is_none());
//! h.run();
//! assert_eq!(h.packet_out(0).unwrap().len(), 20);
//!
//! let dec = DecodeNode::new(chosen.decoder().unwrap(), Quantum::MS_10).unwrap();
//! let mut d = NodeHarness::new(Box::new(dec), Quantum::MS_10).unwrap();
//! d.packet_in_mut(0).put(h.packet_out(0).unwrap());
//! assert_eq!(d.run(), 0);
//! ```

mod decode_node;
mod encode_node;
mod g711;
mod g722;
mod g729;
mod lead;
mod plc;
mod sdp;

pub use decode_node::{DecodeNode, SwitchDecoder, DECODE_TELEMETRY};
pub use encode_node::{EncodeNode, SwitchEncoder, ENCODE_TELEMETRY, PLAIN_ENCODE_TELEMETRY};
pub use g711::{G711CodecDecoder, G711CodecEncoder};
pub use g722::{G722CodecDecoder, G722CodecEncoder};
pub use g729::{G729CodecDecoder, G729CodecEncoder};
pub use plc::Concealment;
pub use sdp::{
    negotiate, parse_fmtp, registry, Capability, CodecId, LocalCodec, Negotiated, NegotiationError, OpusParams,
    RemoteFormat,
};

use crate::display::{List, Ms, MsList};
use rvoip_media_graph::{AudioFormat, PacketFormat, Quantum};

/// The audio an encoder takes and a decoder gives.
fn audio_format(info: &CodecInfo) -> AudioFormat {
    AudioFormat { rate: info.sample_rate, channels: info.channels }
}

/// Interleaved samples of one quantum of this codec's audio.
fn quantum_len(info: &CodecInfo, quantum: Quantum) -> Result<usize, CodecError> {
    audio_format(info).samples_per_quantum(quantum).filter(|&n| n > 0).ok_or(CodecError::UnsupportedRate {
        codec: info.encoding,
        got: info.sample_rate,
        supported: &[8000, 16_000, 24_000, 32_000, 48_000],
    })
}

/// Static facts about a codec configuration, shared by its encoder and decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodecInfo {
    /// SDP / RTP encoding name, e.g. `"PCMU"`.
    pub encoding: &'static str,
    /// Audio sample rate in Hz.
    pub sample_rate: u32,
    /// RTP timestamp clock rate in Hz (differs from the sample rate for G.722 and Opus).
    pub rtp_clock_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Samples per channel of one frame (one [`Encoder::encode`] call).
    pub frame_samples: usize,
    /// Largest encoded size of one frame in bytes.
    pub max_frame_bytes: usize,
    /// Packet durations (ptime) the codec allows, in microseconds, ascending.
    pub ptimes_us: &'static [u32],
    /// The usual ptime, in microseconds.
    pub default_ptime_us: u32,
    /// Static RTP payload type, or the default dynamic one.
    pub payload_type: u8,
    /// Nominal bit rate in bit/s of continuous speech.
    pub bitrate: u32,
    /// Algorithmic delay of encoding then decoding, in samples per channel at
    /// [`CodecInfo::sample_rate`] (look-ahead, filter banks): what a decoded signal lags its
    /// input by, packetisation aside. Counted in [`EncodeNode`]'s latency.
    pub delay_samples: u32,
}

impl CodecInfo {
    /// The packet-port format for this codec (encoding, RTP clock rate, channels).
    pub fn packet_format(&self) -> PacketFormat {
        PacketFormat { encoding: self.encoding, clock_rate: self.rtp_clock_rate, channels: self.channels }
    }

    /// Duration of one frame in microseconds.
    pub fn frame_us(&self) -> u32 {
        (self.frame_samples as u64 * 1_000_000 / u64::from(self.sample_rate.max(1))) as u32
    }

    /// Interleaved samples of one frame.
    pub fn frame_len(&self) -> usize {
        self.frame_samples * usize::from(self.channels)
    }

    /// RTP timestamp ticks spanned by `samples` samples per channel.
    pub fn rtp_ticks(&self, samples: usize) -> u32 {
        (samples as u64 * u64::from(self.rtp_clock_rate) / u64::from(self.sample_rate.max(1))) as u32
    }

    /// `Ok` if `ptime_us` is one of [`CodecInfo::ptimes_us`].
    pub fn check_ptime(&self, ptime_us: u32) -> Result<(), CodecError> {
        if self.ptimes_us.contains(&ptime_us) {
            Ok(())
        } else {
            Err(CodecError::UnsupportedPtime { codec: self.encoding, got_us: ptime_us, supported_us: self.ptimes_us })
        }
    }
}

/// What [`Encoder::encode`] produced for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    /// Active speech (or, for codecs without DTX, any audio).
    Speech,
    /// A silence-insertion descriptor: comfort-noise parameters. It must be the last frame of
    /// its packet (RFC 3551 §4.5.6 for G.729).
    Sid,
    /// Nothing to send for this frame (discontinuous transmission); the length is 0.
    NoTransmission,
}

/// One encoded frame: its type and length in the output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Type of the frame.
    pub kind: FrameType,
    /// Bytes written (0 for [`FrameType::NoTransmission`]).
    pub len: usize,
}

/// The first `n` elements of `buf`, or [`CodecError::BufferSize`] naming both lengths: the
/// output-buffer check every encoder and decoder makes before writing.
pub(crate) fn prefix_mut<T>(buf: &mut [T], n: usize) -> Result<&mut [T], CodecError> {
    let got = buf.len();
    buf.get_mut(..n).ok_or(CodecError::BufferSize { needed: n, got })
}

/// Errors of codec construction and of encode / decode calls.
///
/// ```
/// use rvoip_media_nodes::codec::{CodecError, CodecId};
/// // G.711 runs at 8 kHz only.
/// let err = CodecId::Pcmu.decoder(16000, 1).err().unwrap();
/// assert!(matches!(err, CodecError::UnsupportedRate { got: 16000, .. }));
/// // A 20 ms G.711 decoder given 10 ms of room for its output.
/// let mut dec = CodecId::Pcmu.decoder(8000, 1).unwrap();
/// let mut out = [0.0f32; 80];
/// let err = dec.decode(Some(&[0xFF; 160]), &mut out).unwrap_err();
/// assert_eq!(err, CodecError::BufferSize { needed: 160, got: 80 });
/// // G.711 packets are 2.5, 5 or a multiple of 10 ms up to 60: not 25.
/// assert!(matches!(dec.info().check_ptime(25_000), Err(CodecError::UnsupportedPtime { .. })));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The codec does not run at this sample rate.
    #[error("{codec} does not support a sample rate of {got} Hz (supported: {} Hz)", List(supported))]
    UnsupportedRate {
        /// Encoding name.
        codec: &'static str,
        /// Requested rate.
        got: u32,
        /// Supported rates.
        supported: &'static [u32],
    },
    /// The codec does not support this channel count.
    #[error("{codec} does not support {got} channel(s) (supported: {})", List(supported))]
    UnsupportedChannels {
        /// Encoding name.
        codec: &'static str,
        /// Requested channels.
        got: u16,
        /// Supported channel counts.
        supported: &'static [u16],
    },
    /// The codec does not allow this packet duration.
    #[error("{codec} does not support a ptime of {} ms (supported: {} ms)", Ms(*got_us), MsList(supported_us))]
    UnsupportedPtime {
        /// Encoding name.
        codec: &'static str,
        /// Requested ptime in µs.
        got_us: u32,
        /// Supported ptimes in µs.
        supported_us: &'static [u32],
    },
    /// The codec's frames depend on encoder state, or the quantum does not hold whole frames,
    /// so one encode cannot serve several streams ([`EncodeNode::with_shared_input`]).
    #[error("{codec}: frames cannot be shared between streams")]
    NotShareable {
        /// Encoding name.
        codec: &'static str,
    },
    /// The packet duration is not a whole number of graph quanta (packets leave at cycle ends).
    #[error("{codec}: a ptime of {} ms is not a whole number of {} ms quanta", Ms(*ptime_us), Ms(*quantum_us))]
    QuantumMismatch {
        /// Encoding name.
        codec: &'static str,
        /// Graph quantum in µs.
        quantum_us: u32,
        /// Packet duration in µs.
        ptime_us: u32,
    },
    /// The codec is known (it can be negotiated) but no implementation is available yet.
    #[error("{0} is not implemented yet")]
    NotImplemented(&'static str),
    /// A payload that cannot be decoded; nothing was written and the decoder state is unchanged.
    #[error("bad {codec} payload of {len} bytes: {reason}")]
    BadPayload {
        /// Encoding name.
        codec: &'static str,
        /// Payload length.
        len: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A sample buffer of the wrong size was passed.
    #[error("buffer of {got} samples where {needed} are needed")]
    BufferSize {
        /// Samples needed.
        needed: usize,
        /// Samples given.
        got: usize,
    },
    /// A helper attached to a codec node hears another rate than the codec's (or the codec
    /// is not mono): a VAD for [`EncodeNode::with_voice_activity`].
    #[error("{what} runs at {got} Hz where the encoder takes mono audio at {needed} Hz")]
    RateMismatch {
        /// The helper.
        what: &'static str,
        /// Its rate.
        got: u32,
        /// The encoder's rate.
        needed: u32,
    },
}

/// A speech encoder: one frame of `f32` samples in, one encoded frame out.
///
/// `encode` and `reset` run in [`Processor::process`](rvoip_media_graph::Processor::process):
/// they must not allocate, lock or panic.
pub trait Encoder: Send {
    /// The codec's static facts.
    fn info(&self) -> &CodecInfo;

    /// Encodes exactly one frame ([`CodecInfo::frame_len`] interleaved samples, nominally in
    /// `[-1, 1)`; NaN encodes as 0 and out-of-range values clip) into `out`, which must hold
    /// at least [`CodecInfo::max_frame_bytes`] bytes.
    fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<EncodedFrame, CodecError>;

    /// Returns to the initial state.
    fn reset(&mut self);

    /// For codecs whose frames are independent speech frames of a fixed size (G.711): encodes
    /// several whole frames in one call, exactly as many `encode` calls would, and returns
    /// the bytes written. `None` (the default) when the codec cannot, or `out` is too small;
    /// [`EncodeNode`] then encodes frame by frame.
    fn encode_frames(&mut self, pcm: &[f32], out: &mut [u8]) -> Option<usize> {
        let _ = (pcm, out);
        None
    }

    /// RTP clock rate (shortcut for `info().rtp_clock_rate`).
    fn rtp_clock_rate(&self) -> u32 {
        self.info().rtp_clock_rate
    }

    /// Nominal bit rate in bit/s (shortcut for `info().bitrate`).
    fn bitrate(&self) -> u32 {
        self.info().bitrate
    }

    /// A new encoder of the same settings whose frames can be spliced into this encoder's
    /// stream (a conference's shared encode, see [`EncodeNode::with_shared_input`]): G.711,
    /// G.722, G.729 without Annex B, Opus without DTX. `None` (the default) for a codec
    /// that cannot (its frames are not sent every quantum). For codecs with state
    /// ([`Encoder::stateless`] false: G.722's ADPCM, G.729, Opus) the peer's decoder follows
    /// the shared encoder's history while it hears the shared stream; `EncodeNode` primes its
    /// own encoder when it takes the stream back ([`Encoder::handoff_priming_us`]).
    fn share(&self) -> Option<Box<dyn Encoder>> {
        None
    }

    /// The codec's frames do not depend on the encoder's state (G.711): a stream can move
    /// between this encoder's frames and another's at any frame with nothing to hand over.
    fn stateless(&self) -> bool {
        false
    }

    /// How much of the audio a shared encoder encoded (µs) this encoder should encode, from
    /// a reset, before it takes a stream over from that shared encoder (see
    /// [`EncodeNode::with_shared_input`]): enough for its state to come near the shared
    /// encoder's, so the peer's decoder is not thrown off. 0 (the default): it resumes from
    /// its own last state. Measured (`tests/codec_handoff.rs`): G.722 and G.729 gain from
    /// 60 ms; Opus does better resuming.
    fn handoff_priming_us(&self) -> u32 {
        0
    }

    /// A key of the settings that make two encoders of one codec (same [`CodecInfo`])
    /// produce different streams (Opus: bit rate, complexity, FEC, bandwidth, ...): encoders
    /// whose `info` and key match can share one encode. 0 (the default) for codecs whose
    /// `info` says everything.
    fn settings_key(&self) -> u64 {
        0
    }
}

/// A speech decoder: a whole packet payload (or its absence) in, `f32` samples out.
///
/// `decode` and `reset` must not allocate, lock or panic.
pub trait Decoder: Send {
    /// The codec's static facts.
    fn info(&self) -> &CodecInfo;

    /// Decodes a packet into `out` and returns the samples written (interleaved).
    ///
    /// * `Some(payload)`: every frame of the payload. Errors ([`CodecError::BadPayload`],
    ///   [`CodecError::BufferSize`] when `out` is too small) leave `out` and the decoder
    ///   state unchanged; the caller conceals instead.
    /// * `None`: the packet is missing. Conceals exactly one frame
    ///   ([`CodecInfo::frame_len`] samples); `out` must hold at least that.
    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, CodecError>;

    /// Returns to the initial state.
    fn reset(&mut self);

    /// Samples per channel the payload decodes to, without decoding it (same validation
    /// as [`Decoder::decode`]).
    fn samples_in(&self, payload: &[u8]) -> Result<usize, CodecError>;

    /// Rebuilds the `samples` samples per channel that precede `next` (a lost packet) from
    /// the forward error correction data `next` carries (Opus in-band FEC), writing them
    /// interleaved to `out`. `None` (the default) when the codec has no such data; the
    /// caller conceals instead. Decode `next` normally afterwards.
    fn decode_fec(&mut self, next: &[u8], samples: usize, out: &mut [f32]) -> Option<Result<usize, CodecError>> {
        let _ = (next, samples, out);
        None
    }

    /// Says that the next `samples` samples per channel to be concealed (by
    /// `decode(None)`) are the whole rest of a loss and that `next`, the packet after it,
    /// has already arrived: a decoder may conceal toward it (interpolate) instead of only
    /// extrapolating the past. Decode `next` normally afterwards. The default ignores it.
    fn conceal_toward(&mut self, next: &[u8], samples: usize) {
        let _ = (next, samples);
    }

    /// The bytes of `payload` that decode to exactly `frames` samples per channel, where
    /// the payload may be decoded a piece at a time: decoding it in consecutive pieces of
    /// that many bytes gives the same samples, and leaves the same state, as decoding it
    /// whole — outside a loss (a decoder ending a concealment is given whole packets).
    /// `None` (the default) where that does not hold: frames coded together (Opus), or a
    /// payload that does not divide into such pieces.
    ///
    /// ```
    /// use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder};
    /// use rvoip_media_nodes::G711Law;
    /// let dec = G711CodecDecoder::new(G711Law::Ulaw);
    /// assert_eq!(dec.piece_bytes(&[0xFF; 160], 80), Some(80));
    /// assert_eq!(dec.piece_bytes(&[0xFF; 100], 80), None);
    /// ```
    fn piece_bytes(&self, payload: &[u8], frames: usize) -> Option<usize> {
        let _ = (payload, frames);
        None
    }
}

/// `piece` when it is a whole, non-zero divisor of `len` (the pieces of
/// [`Decoder::piece_bytes`]).
pub(crate) fn whole_pieces(len: usize, piece: usize) -> Option<usize> {
    (piece > 0 && len % piece == 0).then_some(piece)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_what_is_supported() {
        let e = CodecError::UnsupportedRate { codec: "PCMU", got: 16000, supported: &[8000] };
        assert_eq!(e.to_string(), "PCMU does not support a sample rate of 16000 Hz (supported: 8000 Hz)");
        let e = CodecError::UnsupportedPtime { codec: "G729", got_us: 25_000, supported_us: &[10_000, 20_000] };
        assert_eq!(e.to_string(), "G729 does not support a ptime of 25 ms (supported: 10, 20 ms)");
        let e = CodecError::QuantumMismatch { codec: "G729", quantum_us: 20_000, ptime_us: 10_000 };
        assert_eq!(e.to_string(), "G729: a ptime of 10 ms is not a whole number of 20 ms quanta");
        let e = CodecError::UnsupportedPtime { codec: "PCMU", got_us: 7_500, supported_us: &[2_500, 5_000] };
        assert!(e.to_string().contains("7.5 ms (supported: 2.5, 5 ms)"), "{e}");
    }
}
