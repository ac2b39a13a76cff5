//! A participant's leg: how it connects ([`LegMedia`]), its processing chain
//! ([`LegOptions`]), and what the room remembers of it.

use rvoip_media_graph::NodeKey;
use rvoip_media_nodes::apm::NsLevel;
use rvoip_media_nodes::codec::{CodecError, CodecId, Decoder, Encoder, G711CodecDecoder, G711CodecEncoder};
use rvoip_media_nodes::jitter::JitterConfig;
use rvoip_media_nodes::mixer::MemberSettings;
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

    /// An RTP leg speaking `codec` both ways at the codec's own rate (G.711 and G.729 8 kHz,
    /// G.722 16 kHz, Opus 48 kHz; mono; G.729 without Annex B), with packets of `ptime_us`:
    /// the room resamples it to its mix rate and back.
    ///
    /// ```
    /// use rvoip_media_core::conference::LegMedia;
    /// use rvoip_media_nodes::codec::CodecId;
    /// let LegMedia::Rtp { encoder, .. } = LegMedia::codec(CodecId::Opus, 20_000, 7).unwrap() else { unreachable!() };
    /// assert_eq!(encoder.info().sample_rate, 48_000);
    /// ```
    ///
    /// # Errors
    /// The codec's, building its encoder or decoder (e.g. `CodecError::Opus`).
    pub fn codec(codec: CodecId, ptime_us: u32, ssrc: u32) -> Result<LegMedia, CodecError> {
        let rate = codec.native_rate();
        Ok(LegMedia::Rtp { encoder: codec.encoder(rate, 1, false)?, decoder: codec.decoder(rate, 1)?, ptime_us, ssrc })
    }
}

/// A leg's processing chain, chosen per member at join:
/// `rx → (jitter buffer | decode) → [resample] → [NS] → [AGC] → mixer`, with a VAD on the
/// same signal gating the member's talking state (a policy room), and the member's
/// [`MemberSettings`] from the first cycle. `Default`: decode only, default settings.
///
/// ```
/// use rvoip_media_core::conference::LegOptions;
/// use rvoip_media_nodes::apm::NsLevel;
/// let o = LegOptions { ns: Some(NsLevel::Moderate), vad: true, ..LegOptions::default() };
/// assert!(o.jitter.is_none() && !o.agc);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LegOptions {
    /// An adaptive jitter buffer (`JitterBufferNode`, which drives the decoder) instead of
    /// the plain `DecodeNode`: for legs fed straight from the network. Its leg takes no
    /// live codec switch ([`Room::switch_codec`](super::Room::switch_codec) is refused by the node).
    pub jitter: Option<JitterConfig>,
    /// Noise suppression at this level.
    pub ns: Option<NsLevel>,
    /// Automatic gain control (BS.1770 loudness target of the AGC's default).
    pub agc: bool,
    /// A VAD decides the member's talking state (else its level against the policy's gate).
    pub vad: bool,
    /// RFC 6464 silent-leg skip (RTP legs, with or without a jitter buffer): a packet whose audio
    /// level ([`PacketMeta::audio_level`](rvoip_media_graph::PacketMeta::audio_level)) says
    /// no voice at this level (−dBov, 0..=127) or quieter is not decoded (it plays as
    /// silence; [`MemberStats::skipped_decodes`](super::MemberStats::skipped_decodes)).
    pub skip_silent_at: Option<u8>,
    /// RFC 6464 levels on what the leg sends (RTP legs): each packet carries the level of the
    /// mix this member hears, V from the energy gate
    /// ([`VOICE_BELOW_DBOV`](crate::rtp::audio_level::VOICE_BELOW_DBOV)); a transport that
    /// negotiated the extension writes it
    /// ([`BatchIo::add_with_extensions`](crate::transport::BatchIo::add_with_extensions)).
    pub audio_level: bool,
    /// Mute, deaf, gains from the first cycle.
    pub settings: MemberSettings,
}

/// The codec variant a shared encode serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Variant {
    pub(super) encoding: &'static str,
    pub(super) rate: u32,
    pub(super) payload_type: u8,
    pub(super) channels: u16,
    /// Samples per channel of one frame (Opus: its frame duration).
    pub(super) frame_samples: usize,
    /// The encoder's other settings ([`Encoder::settings_key`]: Opus bit rate, FEC, ...).
    pub(super) settings: u64,
}

/// A leg as the room remembers it.
#[derive(Clone, Debug)]
pub(super) struct Leg {
    pub(super) port: usize,
    /// Every node of the leg, endpoints included.
    pub(super) nodes: Vec<NodeKey>,
    /// The node that feeds the mixer's input (none: a recorder), and the one that reads its
    /// output.
    pub(super) to_mixer: Option<NodeKey>,
    pub(super) from_mixer: NodeKey,
    pub(super) decode: Option<NodeKey>,
    pub(super) encode: Option<NodeKey>,
    /// The VAD whose `speech` flag goes to the mixer's `vad{port}`.
    pub(super) vad: Option<NodeKey>,
    /// The shared encode this leg's encoder splices from.
    pub(super) variant: Option<Variant>,
    /// The leg's codec (encoding name, rate), RTP legs.
    pub(super) codec: Option<(&'static str, u32)>,
    pub(super) settings: MemberSettings,
    /// A kernel room's leg: its counters (decoder, encoder, drops) as the kernel publishes them.
    pub(super) kernel: Option<std::sync::Arc<crate::sync::seqlock::SeqLockSlice>>,
}
