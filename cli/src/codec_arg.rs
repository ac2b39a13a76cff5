//! The `--codec` values of `call`, `transcode`, `bridge`, `jitter`, `bench` and `demo` (one
//! list, one mapping to [`CodecId`]).

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

    /// The codec's widest audio rate (G.711 and G.729 8 kHz, G.722 16 kHz, Opus 48 kHz).
    pub fn rate(self) -> u32 {
        self.id().capability().sample_rates.iter().copied().max().unwrap_or(8000)
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
