//! The `--codec` values of `call`, `transcode`, `bridge`, `jitter`, `bench` and `demo` (one
//! list, one mapping to [`CodecId`]), and the frame-by-frame encode the host-side senders
//! of `bench` and `demo` share.

use rvoip_media_nodes::codec::{CodecId, Encoder};

/// Encodes `pcm` (whole frames of `enc`, e.g. one packet's worth) frame by frame into
/// `out`; returns the bytes written (a frame that fails to encode adds none).
pub fn encode_frame_by_frame(enc: &mut dyn Encoder, pcm: &[f32], out: &mut [u8]) -> usize {
    let mut len = 0;
    for f in pcm.chunks(enc.info().frame_len().max(1)) {
        len += enc.encode(f, &mut out[len..]).map_or(0, |e| e.len);
    }
    len
}

/// A codec named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    /// G.711 μ-law (PT 0).
    Pcmu,
    /// G.711 A-law (PT 8).
    Pcma,
    /// G.722 at 64 kbit/s, 16 kHz audio (PT 9).
    G722,
    /// G.729 Annex A (PT 18; `transcode --vad`: Annex B VAD / DTX / comfort noise).
    G729,
    /// Opus, one frame per packet (dynamic PT, 111 unless --pt).
    Opus,
}

impl Codec {
    /// The library's identifier of the codec.
    pub fn id(self) -> CodecId {
        match self {
            Codec::Pcmu => CodecId::Pcmu,
            Codec::Pcma => CodecId::Pcma,
            Codec::G722 => CodecId::G722,
            Codec::G729 => CodecId::G729,
            Codec::Opus => CodecId::Opus,
        }
    }

    /// The codec's widest audio rate (G.711 and G.729 8 kHz, G.722 16 kHz, Opus 48 kHz).
    pub fn rate(self) -> u32 {
        self.id().native_rate()
    }

    /// The name on the command line (`pcmu`, `g722`, …).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "pcmu",
            Codec::Pcma => "pcma",
            Codec::G722 => "g722",
            Codec::G729 => "g729",
            Codec::Opus => "opus",
        }
    }
}
