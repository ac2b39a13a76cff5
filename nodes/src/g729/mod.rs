//! G.729 Annex A speech codec (8 kbit/s CS-ACELP, 8 kHz, 10 ms frames of 80 samples -> 10 bytes)
//! with Annex B VAD / DTX / comfort-noise generation, in pure Rust.
//!
//! Written from the ITU-T G.729, G.729 Annex A and Annex B descriptions. The numeric tables of the
//! standard are data (the private `tables` module). The fixed-point arithmetic is arranged so
//! that the output is bit-exact with the bcg729 reference implementation (itself bit-exact with the
//! ITU-T G.729A test vectors), including its quirks where they change bits (documented at the
//! places concerned: the SID L2 packing, the encoder LSF lower bound on the second coefficient,
//! shift counts taken modulo 32 in the DTX energy averaging, the SID L3 candidate row).
//!
//! * [`G729Encoder`]: pre-processing high-pass, LP analysis, LSP quantisation, open-loop and
//!   closed-loop pitch search, algebraic codebook search, gain quantisation; with
//!   `G729Encoder::new(true)` also VAD, DTX and SID frames.
//! * [`G729Decoder`]: speech frames, SID frames, untransmitted frames (comfort noise), erased
//!   frames (concealment), post-filter and post-processing; wrong frame sizes give
//!   [`G729Error::InvalidFrameLength`] and concealment.
//!
//! Neither allocates nor panics in `encode`/`decode`.
//!
//! ```
//! use rvoip_media_nodes::g729::{G729Decoder, G729Encoder, FRAME_SAMPLES};
//! let mut enc = G729Encoder::new(true);
//! let mut dec = G729Decoder::new();
//! let pcm: Vec<i16> = (0..8000).map(|n| ((n as f32 * 0.05).sin() * 8000.0) as i16).collect();
//! let (mut bits, mut out) = ([0u8; 10], [0i16; FRAME_SAMPLES]);
//! for frame in pcm.chunks_exact(FRAME_SAMPLES) {
//!     let kind = enc.encode(frame.try_into().unwrap(), &mut bits);
//!     dec.decode(Some(&bits[..kind.len()]), &mut out).unwrap();
//! }
//! ```
//!
//! # Status (measured against bcg729 1.1.1, Debian `libbcg729-dev`)
//!
//! Done and bit-exact on every frame of the committed vectors (`nodes/tests/g729_*.rs`, 400
//! frames per signal; speech at normal, x4-clipped and -42 dB levels, plus full-scale noise):
//! * Annex A encoder bitstream (4 x 400 frames).
//! * Annex A + B encoder bitstream, with speech, SID and untransmitted frames (4 x 400 frames).
//! * Decoder PCM for all eight streams, and for the same streams with ~9 % of the frames erased
//!   (single losses and a burst of five).
//!
//! Checked by hand (not committed) against the same library on 26 MB of further input (the whole
//! 169 s speech file at six levels, 16 kHz speech decimated, the FSDD digit set, white noise,
//! silence, DC, square waves, sweeps, pulse trains, 60 000 randomised frames) and 120 000 decoder
//! frames of random bytes with random SID/erased/untransmitted frames: all bit-exact.
//!
//! Not included: RFC 3389 comfort-noise payloads; the ITU reference's reconstruction of a lost SID
//! frame (bcg729 cannot tell lost from untransmitted frames, neither can this decoder).
#![allow(clippy::needless_range_loop)]

mod acelp;
mod basic_ops;
mod bitstream;
mod cng;
mod decoder;
mod dtx;
mod encoder;
mod gain;
mod lpc;
mod lsp;
mod pitch;
mod postfilter;
mod tables;
mod vad;

pub use decoder::G729Decoder;
pub use encoder::G729Encoder;

/// Samples per 10 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = L_FRAME;
/// Bytes of a speech frame (80 bits).
pub const SPEECH_BYTES: usize = 10;
/// Bytes of an Annex B SID frame (15 bits, padded).
pub const SID_BYTES: usize = 2;
/// Sample rate (and RTP clock rate) of G.729.
pub const SAMPLE_RATE: u32 = 8000;
/// Channels.
pub const CHANNELS: u16 = 1;
/// Duration of one frame in microseconds.
pub const FRAME_DURATION_US: u32 = 10_000;
/// Static RTP payload type of G.729 (RFC 3551).
pub const RTP_PAYLOAD_TYPE: u8 = 18;

pub(crate) const L_FRAME: usize = 80;
pub(crate) const L_SUBFRAME: usize = 40;
pub(crate) const LP_ORDER: usize = 10;
pub(crate) const MA_ORDER: usize = 4;
pub(crate) const MAX_PITCH: usize = 143;
pub(crate) const PAST_EXCITATION: usize = 154;

/// What the encoder produced for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A 10-byte speech frame.
    Speech,
    /// A 2-byte Annex B SID (silence insertion descriptor) frame.
    Sid,
    /// Nothing to transmit (Annex B DTX); the receiver continues comfort noise.
    NoTransmission,
}

impl FrameKind {
    /// Payload length in bytes: 10, 2 or 0.
    pub const fn len(self) -> usize {
        match self {
            FrameKind::Speech => SPEECH_BYTES,
            FrameKind::Sid => SID_BYTES,
            FrameKind::NoTransmission => 0,
        }
    }

    /// True for [`FrameKind::NoTransmission`].
    pub const fn is_empty(self) -> bool {
        matches!(self, FrameKind::NoTransmission)
    }
}

/// Errors of the G.729 codec.
///
/// ```
/// use rvoip_media_nodes::g729::{G729Decoder, G729Error, FRAME_SAMPLES};
/// let mut dec = G729Decoder::new();
/// let mut out = [0i16; FRAME_SAMPLES];
/// // 7 bytes: neither a speech frame (10), a SID frame (2) nor an untransmitted one (0).
/// assert_eq!(dec.decode(Some(&[0u8; 7]), &mut out), Err(G729Error::InvalidFrameLength(7)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum G729Error {
    /// A frame whose length is none of 10 (speech), 2 (SID) or 0 (untransmitted) bytes.
    /// The decoder output for it is concealment, as for an erased frame.
    #[error("invalid G.729 frame length {0} (expected 10, 2 or 0 bytes)")]
    InvalidFrameLength(usize),
}
