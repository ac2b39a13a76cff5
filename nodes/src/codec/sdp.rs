//! SDP capabilities and codec negotiation.

use super::g711::{G711CodecDecoder, G711CodecEncoder};
use super::g722::{G722CodecDecoder, G722CodecEncoder};
use super::g729::{G729CodecDecoder, G729CodecEncoder};
use super::{CodecError, Decoder, Encoder};
use crate::g711::G711Law;
use std::fmt;

/// The codecs this crate knows how to negotiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecId {
    /// G.711 μ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
    /// G.722, static payload type 9 (16 kHz audio, 8000 Hz RTP clock: RFC 3551 §4.5.2).
    G722,
    /// G.729 / G.729A (optionally Annex B), static payload type 18.
    G729,
    /// Opus, dynamic payload type, `opus/48000/2` (RFC 7587).
    Opus,
}

impl CodecId {
    /// Every known codec, in the default preference order.
    pub const ALL: [CodecId; 5] = [CodecId::Opus, CodecId::G722, CodecId::Pcmu, CodecId::Pcma, CodecId::G729];

    /// The capability row of this codec.
    pub fn capability(self) -> &'static Capability {
        // `REGISTRY` holds one row per id, in `ALL`'s order.
        match self {
            CodecId::Opus => &REGISTRY[0],
            CodecId::G722 => &REGISTRY[1],
            CodecId::Pcmu => &REGISTRY[2],
            CodecId::Pcma => &REGISTRY[3],
            CodecId::G729 => &REGISTRY[4],
        }
    }

    /// The audio rate the codec runs at when nothing else is asked: its widest supported rate
    /// (G.711 and G.729 8 kHz, G.722 16 kHz, Opus 48 kHz).
    ///
    /// ```
    /// use rvoip_media_nodes::codec::CodecId;
    /// assert_eq!((CodecId::Pcmu.native_rate(), CodecId::G722.native_rate(), CodecId::Opus.native_rate()), (8000, 16_000, 48_000));
    /// ```
    pub fn native_rate(self) -> u32 {
        self.capability().sample_rates.iter().copied().max().unwrap_or(8000)
    }

    /// Builds an encoder for audio at `sample_rate` Hz with `channels` channels.
    /// `annexb` enables G.729 Annex B (ignored by the other codecs).
    ///
    /// ```
    /// use rvoip_media_nodes::codec::{CodecError, CodecId};
    /// assert!(CodecId::Pcma.encoder(8000, 1, false).is_ok());
    /// let e = CodecId::G729.encoder(16000, 1, true).err().unwrap();
    /// assert_eq!(e.to_string(), "G729 does not support a sample rate of 16000 Hz (supported: 8000 Hz)");
    /// ```
    pub fn encoder(self, sample_rate: u32, channels: u16, annexb: bool) -> Result<Box<dyn Encoder>, CodecError> {
        self.check(sample_rate, channels)?;
        match self {
            CodecId::Pcmu => Ok(Box::new(G711CodecEncoder::new(G711Law::Ulaw))),
            CodecId::Pcma => Ok(Box::new(G711CodecEncoder::new(G711Law::Alaw))),
            CodecId::G722 => Ok(Box::new(G722CodecEncoder::new())),
            CodecId::G729 => Ok(Box::new(G729CodecEncoder::new(annexb))),
            CodecId::Opus => {
                let config = crate::opus::OpusEncoderConfig::new(sample_rate, channels);
                Ok(Box::new(crate::opus::OpusCodecEncoder::new(config)?))
            }
        }
    }

    /// Builds a decoder for audio at `sample_rate` Hz with `channels` channels (G.711 and G.722 with
    /// [`Concealment::RepeatAndFade`](super::Concealment::RepeatAndFade)).
    pub fn decoder(self, sample_rate: u32, channels: u16) -> Result<Box<dyn Decoder>, CodecError> {
        self.check(sample_rate, channels)?;
        match self {
            CodecId::Pcmu => Ok(Box::new(G711CodecDecoder::new(G711Law::Ulaw))),
            CodecId::Pcma => Ok(Box::new(G711CodecDecoder::new(G711Law::Alaw))),
            CodecId::G722 => Ok(Box::new(G722CodecDecoder::new())),
            CodecId::G729 => Ok(Box::new(G729CodecDecoder::new())),
            CodecId::Opus => Ok(Box::new(Self::opus_decoder(sample_rate, channels)?)),
        }
    }

    /// The Opus decoder both [`CodecId::decoder`] and [`CodecId::call_decoder`] build.
    fn opus_decoder(sample_rate: u32, channels: u16) -> Result<crate::opus::OpusCodecDecoder, CodecError> {
        Ok(crate::opus::OpusCodecDecoder::new(sample_rate, channels, 20_000)?)
    }

    /// [`CodecId::decoder`] for one call's jitter buffer: the same, except that Opus conceals
    /// lost packets with libopus's neural PLC
    /// ([`OpusCodecDecoder::with_deep_plc`](crate::opus::OpusCodecDecoder::with_deep_plc)),
    /// which sounds closer to the lost speech and costs far more per concealed frame
    /// (BENCHMARKS, session 22). Sessions and `rvoip-media jitter` use it; conference rooms'
    /// legs keep [`CodecId::decoder`].
    pub fn call_decoder(self, sample_rate: u32, channels: u16) -> Result<Box<dyn Decoder>, CodecError> {
        match self {
            CodecId::Opus => {
                self.check(sample_rate, channels)?;
                Ok(Box::new(Self::opus_decoder(sample_rate, channels)?.with_deep_plc()))
            }
            _ => self.decoder(sample_rate, channels),
        }
    }

    fn check(self, sample_rate: u32, channels: u16) -> Result<(), CodecError> {
        let c = self.capability();
        if !c.sample_rates.contains(&sample_rate) {
            return Err(CodecError::UnsupportedRate { codec: c.encoding, got: sample_rate, supported: c.sample_rates });
        }
        if !c.audio_channels.contains(&channels) {
            return Err(CodecError::UnsupportedChannels {
                codec: c.encoding,
                got: channels,
                supported: c.audio_channels,
            });
        }
        Ok(())
    }
}

impl fmt::Display for CodecId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.capability().encoding)
    }
}

/// One codec as SDP describes it (`a=rtpmap:<pt> <encoding>/<clock_rate>[/<channels>]`
/// and `a=fmtp:<pt> <fmtp>`), plus the audio it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// Which codec.
    pub id: CodecId,
    /// SDP encoding name (matched case-insensitively).
    pub encoding: &'static str,
    /// RTP clock rate written in SDP.
    pub clock_rate: u32,
    /// Channels written in SDP (Opus always says 2, RFC 7587).
    pub channels: u16,
    /// Static payload type, or `None` for a dynamic one.
    pub static_payload_type: Option<u8>,
    /// Payload type used when offering a dynamic codec.
    pub default_payload_type: u8,
    /// The fmtp line offered by default (empty: none).
    pub fmtp: &'static str,
    /// Audio sample rates the implementation accepts.
    pub sample_rates: &'static [u32],
    /// Audio channel counts the implementation accepts.
    pub audio_channels: &'static [u16],
    /// Whether an implementation is available in this crate (others can be negotiated but
    /// not built yet).
    pub implemented: bool,
}

static REGISTRY: [Capability; 5] = [
    Capability {
        id: CodecId::Opus,
        encoding: "opus",
        clock_rate: 48_000,
        channels: 2,
        static_payload_type: None,
        default_payload_type: 111,
        fmtp: "minptime=10;useinbandfec=1",
        sample_rates: &[8000, 12_000, 16_000, 24_000, 48_000],
        audio_channels: &[1, 2],
        implemented: true,
    },
    Capability {
        id: CodecId::G722,
        encoding: "G722",
        clock_rate: 8000,
        channels: 1,
        static_payload_type: Some(9),
        default_payload_type: 9,
        fmtp: "",
        sample_rates: &[16_000],
        audio_channels: &[1],
        implemented: true,
    },
    Capability {
        id: CodecId::Pcmu,
        encoding: "PCMU",
        clock_rate: 8000,
        channels: 1,
        static_payload_type: Some(0),
        default_payload_type: 0,
        fmtp: "",
        sample_rates: &[8000],
        audio_channels: &[1],
        implemented: true,
    },
    Capability {
        id: CodecId::Pcma,
        encoding: "PCMA",
        clock_rate: 8000,
        channels: 1,
        static_payload_type: Some(8),
        default_payload_type: 8,
        fmtp: "",
        sample_rates: &[8000],
        audio_channels: &[1],
        implemented: true,
    },
    Capability {
        id: CodecId::G729,
        encoding: "G729",
        clock_rate: 8000,
        channels: 1,
        static_payload_type: Some(18),
        default_payload_type: 18,
        fmtp: "annexb=yes",
        sample_rates: &[8000],
        audio_channels: &[1],
        implemented: true,
    },
];

/// Every codec this crate can put in SDP, in the default preference order.
///
/// ```
/// use rvoip_media_nodes::codec::{registry, CodecId};
/// let g722 = registry().iter().find(|c| c.id == CodecId::G722).unwrap();
/// assert_eq!((g722.static_payload_type, g722.clock_rate, g722.sample_rates), (Some(9), 8000, &[16000][..]));
/// ```
pub fn registry() -> &'static [Capability] {
    &REGISTRY
}

/// One entry of the remote side's offer (or answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFormat {
    /// RTP payload type (0–127).
    pub payload_type: u8,
    /// Encoding name from `a=rtpmap`; empty when the payload type is static and no rtpmap
    /// line was given.
    pub encoding: String,
    /// Clock rate from `a=rtpmap` (0 when absent).
    pub clock_rate: u32,
    /// Channels from `a=rtpmap` (1 when absent).
    pub channels: u16,
    /// The `a=fmtp` parameters (empty when absent).
    pub fmtp: String,
}

impl RemoteFormat {
    /// A format from its rtpmap and fmtp values.
    pub fn new(payload_type: u8, encoding: &str, clock_rate: u32, channels: u16, fmtp: &str) -> Self {
        RemoteFormat { payload_type, encoding: encoding.to_owned(), clock_rate, channels, fmtp: fmtp.to_owned() }
    }

    /// A static payload type listed on the `m=` line without an rtpmap.
    pub fn static_pt(payload_type: u8) -> Self {
        RemoteFormat { payload_type, encoding: String::new(), clock_rate: 0, channels: 1, fmtp: String::new() }
    }

    fn matches(&self, c: &Capability) -> bool {
        if self.payload_type > 127 {
            return false;
        }
        if self.encoding.is_empty() {
            return c.static_payload_type == Some(self.payload_type);
        }
        self.encoding.eq_ignore_ascii_case(c.encoding)
            && self.clock_rate == c.clock_rate
            && (self.channels == c.channels || (c.id != CodecId::Opus && self.channels == 0))
            && (c.static_payload_type.is_some() || (96..=127).contains(&self.payload_type))
    }

    fn describe(&self) -> String {
        if self.encoding.is_empty() {
            format!("{}", self.payload_type)
        } else if self.channels > 1 {
            format!("{} {}/{}/{}", self.payload_type, self.encoding, self.clock_rate, self.channels)
        } else {
            format!("{} {}/{}", self.payload_type, self.encoding, self.clock_rate)
        }
    }
}

/// A local preference: a codec and what we accept of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalCodec {
    /// The codec.
    pub id: CodecId,
    /// G.729: whether we use Annex B when the remote allows it.
    pub annexb: bool,
}

impl LocalCodec {
    /// A preference for `id` (G.729 with Annex B allowed).
    pub fn new(id: CodecId) -> Self {
        LocalCodec { id, annexb: true }
    }

    /// G.729: sets whether we use Annex B.
    pub fn with_annexb(mut self, annexb: bool) -> Self {
        self.annexb = annexb;
        self
    }
}

/// Opus fmtp parameters (RFC 7587 §6.1) the remote sent; absent ones are `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpusParams {
    /// `useinbandfec`: the receiver can use in-band FEC.
    pub useinbandfec: Option<bool>,
    /// `usedtx`: the receiver prefers DTX.
    pub usedtx: Option<bool>,
    /// `maxaveragebitrate` in bit/s, clamped to 6000–510000.
    pub maxaveragebitrate: Option<u32>,
    /// `stereo`: the receiver prefers stereo.
    pub stereo: Option<bool>,
    /// `sprop-stereo`: the sender is likely to send stereo.
    pub sprop_stereo: Option<bool>,
    /// `maxplaybackrate` in Hz, clamped to 8000–48000.
    pub maxplaybackrate: Option<u32>,
}

impl OpusParams {
    /// Parses an Opus fmtp line; unknown parameters and malformed values are ignored
    /// (RFC 7587: unknown parameters must be ignored).
    ///
    /// ```
    /// use rvoip_media_nodes::codec::OpusParams;
    /// let p = OpusParams::parse("maxplaybackrate=16000; useinbandfec=1;usedtx=0;maxaveragebitrate=900000;stereo=1");
    /// assert_eq!(p.maxplaybackrate, Some(16000));
    /// assert_eq!((p.useinbandfec, p.usedtx, p.stereo), (Some(true), Some(false), Some(true)));
    /// assert_eq!(p.maxaveragebitrate, Some(510000));
    /// ```
    pub fn parse(fmtp: &str) -> Self {
        let mut p = OpusParams::default();
        let flag = |v: &str| match v {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        };
        for (k, v) in parse_fmtp(fmtp) {
            match k.as_str() {
                "useinbandfec" => p.useinbandfec = flag(&v).or(p.useinbandfec),
                "usedtx" => p.usedtx = flag(&v).or(p.usedtx),
                "stereo" => p.stereo = flag(&v).or(p.stereo),
                "sprop-stereo" => p.sprop_stereo = flag(&v).or(p.sprop_stereo),
                "maxaveragebitrate" => {
                    if let Ok(b) = v.parse::<u32>() {
                        p.maxaveragebitrate = Some(b.clamp(6000, 510_000));
                    }
                }
                "maxplaybackrate" => {
                    if let Ok(r) = v.parse::<u32>() {
                        p.maxplaybackrate = Some(r.clamp(8000, 48_000));
                    }
                }
                _ => {}
            }
        }
        p
    }
}

/// Splits an fmtp value into `(key, value)` pairs: `;`-separated, whitespace trimmed, keys
/// lower-cased, values as written (a key without `=` gets an empty value).
///
/// ```
/// use rvoip_media_nodes::codec::parse_fmtp;
/// assert_eq!(parse_fmtp(" AnnexB=no ; x"), vec![("annexb".to_string(), "no".to_string()), ("x".to_string(), String::new())]);
/// ```
pub fn parse_fmtp(fmtp: &str) -> Vec<(String, String)> {
    fmtp.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
            None => (s.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// The outcome of [`negotiate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec.
    pub codec: CodecId,
    /// The payload type to use (the remote's, which matters for dynamic types).
    pub payload_type: u8,
    /// The SDP clock rate.
    pub clock_rate: u32,
    /// The SDP channel count.
    pub channels: u16,
    /// G.729: whether Annex B is in use (`None` for other codecs).
    pub annexb: Option<bool>,
    /// Opus: the remote's parameters (`None` for other codecs).
    pub opus: Option<OpusParams>,
    /// The fmtp line to answer with (empty: none).
    pub fmtp: String,
}

impl Negotiated {
    /// The audio sample rate the codec runs at (G.722: 16000 although SDP says 8000; Opus:
    /// 48000).
    pub fn sample_rate(&self) -> u32 {
        match self.codec {
            CodecId::G722 => 16_000,
            CodecId::Opus => 48_000,
            _ => 8000,
        }
    }

    /// Builds the encoder (mono at [`Negotiated::sample_rate`]).
    pub fn encoder(&self) -> Result<Box<dyn Encoder>, CodecError> {
        if let (CodecId::Opus, Some(params)) = (self.codec, &self.opus) {
            // The remote's fmtp (in-band FEC, DTX, bitrate and bandwidth caps) shapes what we send.
            let config = crate::opus::OpusEncoderConfig::new(self.sample_rate(), 1).with_remote_params(params);
            return Ok(Box::new(crate::opus::OpusCodecEncoder::new(config)?));
        }
        self.codec.encoder(self.sample_rate(), 1, self.annexb.unwrap_or(false))
    }

    /// Builds the decoder (mono at [`Negotiated::sample_rate`]).
    pub fn decoder(&self) -> Result<Box<dyn Decoder>, CodecError> {
        self.codec.decoder(self.sample_rate(), 1)
    }

    /// Builds the decoder for a call's jitter buffer ([`CodecId::call_decoder`]: Opus with its
    /// neural concealment; mono at [`Negotiated::sample_rate`]).
    pub fn call_decoder(&self) -> Result<Box<dyn Decoder>, CodecError> {
        self.codec.call_decoder(self.sample_rate(), 1)
    }
}

/// Why negotiation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// No local preference is in the remote's list.
    #[error("no codec in common: we support {}, the remote offers {}", .local.join(", "), .remote.join(", "))]
    NoCommonCodec {
        /// Our preferences, by encoding name.
        local: Vec<String>,
        /// The remote's formats, as `pt name/clock[/channels]`.
        remote: Vec<String>,
    },
}

/// Chooses the codec: the first local preference (in order) the remote offers. The remote's
/// payload type is used (so dynamic types are honoured); when the remote lists a codec more
/// than once, its first entry wins. Names match case-insensitively; clock rates must match
/// the capability (8000 for G.722, 48000 with 2 channels for Opus); a static payload type may
/// appear without rtpmap.
///
/// G.729 Annex B is used when we want it and the remote's fmtp does not say `annexb=no`
/// (absent means yes, RFC 4749 §4.1.9). Opus fmtp parameters are parsed into
/// [`OpusParams`].
///
/// ```
/// use rvoip_media_nodes::codec::{negotiate, CodecId, LocalCodec, NegotiationError, RemoteFormat};
/// let remote = [RemoteFormat::new(101, "OPUS", 48000, 2, "useinbandfec=1"), RemoteFormat::static_pt(8)];
/// let n = negotiate(&[LocalCodec::new(CodecId::Opus)], &remote).unwrap();
/// assert_eq!((n.codec, n.payload_type), (CodecId::Opus, 101));
/// assert_eq!(n.opus.unwrap().useinbandfec, Some(true));
/// assert!(matches!(negotiate(&[LocalCodec::new(CodecId::G729)], &remote), Err(NegotiationError::NoCommonCodec { .. })));
/// ```
pub fn negotiate(local: &[LocalCodec], remote: &[RemoteFormat]) -> Result<Negotiated, NegotiationError> {
    for pref in local {
        let cap = pref.id.capability();
        let Some(r) = remote.iter().find(|r| r.matches(cap)) else {
            continue;
        };
        let (annexb, opus, fmtp) = match pref.id {
            CodecId::G729 => {
                let remote_yes = parse_fmtp(&r.fmtp)
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "annexb")
                    .map_or(true, |(_, v)| !v.eq_ignore_ascii_case("no"));
                let on = pref.annexb && remote_yes;
                (Some(on), None, if on { "annexb=yes" } else { "annexb=no" }.to_owned())
            }
            CodecId::Opus => (None, Some(OpusParams::parse(&r.fmtp)), cap.fmtp.to_owned()),
            _ => (None, None, String::new()),
        };
        return Ok(Negotiated {
            codec: pref.id,
            payload_type: r.payload_type,
            clock_rate: cap.clock_rate,
            channels: cap.channels,
            annexb,
            opus,
            fmtp,
        });
    }
    Err(NegotiationError::NoCommonCodec {
        local: local.iter().map(|l| l.id.capability().encoding.to_owned()).collect(),
        remote: remote.iter().map(RemoteFormat::describe).collect(),
    })
}
