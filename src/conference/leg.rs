//! A participant's leg: how it connects ([`LegMedia`]) and what the room remembers of it.

use rvoip_media_graph::NodeKey;
use rvoip_media_nodes::codec::{Decoder, Encoder, G711CodecDecoder, G711CodecEncoder};
use rvoip_media_nodes::G711Law;

/// How a participant's leg connects to the room.
pub enum LegMedia {
    /// Host audio at the room's format: `{name}.in` and `{name}.out`.
    Audio,
    /// RTP through a codec: packets in on `{name}.rx`, the leg's mix out on `{name}.tx`.
    Rtp {
        /// Encodes what the participant hears.
        encoder: Box<dyn Encoder>,
        /// Decodes what the participant sends.
        decoder: Box<dyn Decoder>,
        /// Packet duration of the outgoing stream, µs.
        ptime_us: u32,
        /// SSRC of the outgoing stream.
        ssrc: u32,
    },
}

impl LegMedia {
    /// An RTP leg speaking G.711 (`law`) both ways, with packets of `ptime_us`.
    ///
    /// ```
    /// use rvoip_media_core::conference::LegMedia;
    /// use rvoip_media_nodes::G711Law;
    /// assert!(matches!(LegMedia::g711(G711Law::Ulaw, 20_000, 7), LegMedia::Rtp { ptime_us: 20_000, ssrc: 7, .. }));
    /// ```
    pub fn g711(law: G711Law, ptime_us: u32, ssrc: u32) -> LegMedia {
        LegMedia::Rtp {
            encoder: Box::new(G711CodecEncoder::new(law)),
            decoder: Box::new(G711CodecDecoder::new(law)),
            ptime_us,
            ssrc,
        }
    }
}

/// A leg as the room remembers it.
#[derive(Clone, Debug)]
pub(super) struct Leg {
    pub(super) port: usize,
    /// Every node of the leg, endpoints included.
    pub(super) nodes: Vec<NodeKey>,
    /// The node that feeds the mixer's input, and the one that reads its output.
    pub(super) to_mixer: NodeKey,
    pub(super) from_mixer: NodeKey,
    pub(super) decode: Option<NodeKey>,
    pub(super) encode: Option<NodeKey>,
}
