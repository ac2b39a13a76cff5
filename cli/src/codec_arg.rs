//! The `--codec` values of `call` and `transcode` (one list, one mapping to [`CodecId`]).

use rvoip_media_nodes::codec::CodecId;

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
}
