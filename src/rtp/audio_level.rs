//! RFC 6464 client-to-mixer audio level, carried in an RFC 8285 header extension: read on
//! input (a conference can skip decoding a leg whose level says silence) and written on
//! output. The level value itself is `rvoip_media_nodes::level::audio_level`.
//!
//! Wire form (one-byte header, profile `0xBEDE`): one element, `ID | len-1 = 0`, then
//! `V | level` (V: the sender's voice-activity flag, level: 0..127 in −dBov), padded to a
//! 32-bit word. Two-byte headers (profile `0x100x`) are read too.

use super::csrc_level::{levels_of, CsrcLevels};
use super::packet::{parse_rtp_parts, write_rtp_with_extension, RtpError};
use rtp_types::RtpPacket;
use rvoip_media_graph::PacketMeta;

/// The energy gate that sets the V bit on what this crate sends when no VAD decides: a level
/// below 50 (louder than −50 dBov) is voice, as the talker policy's default gate
/// (`TalkerPolicy::gate_dbfs`) and a session's talking detection hear it.
///
/// ```
/// assert_eq!(rvoip_media_core::rtp::audio_level::VOICE_BELOW_DBOV, 50);
/// ```
pub const VOICE_BELOW_DBOV: u8 = 50;

/// An RFC 6464 audio level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioLevel {
    /// The sender's voice-activity flag (V).
    pub voice: bool,
    /// Level in −dBov, 0 (loudest) to 127 (silence).
    pub level: u8,
}

impl AudioLevel {
    /// The level of an extension byte (`V` in bit 7, the level below), as
    /// [`PacketMeta::audio_level`] carries it.
    ///
    /// ```
    /// use rvoip_media_core::rtp::AudioLevel;
    /// let l = AudioLevel::from_byte(0x80 | 42);
    /// assert_eq!(l, AudioLevel { voice: true, level: 42 });
    /// assert_eq!(l.to_byte(), 0x80 | 42);
    /// ```
    pub fn from_byte(b: u8) -> Self {
        AudioLevel { voice: b & 0x80 != 0, level: b & 0x7f }
    }

    /// The extension byte (level clamped to 127).
    pub fn to_byte(self) -> u8 {
        u8::from(self.voice) << 7 | self.level.min(127)
    }
}

/// The RTP header extensions one direction of a stream negotiated (RFC 8285 ids from
/// `a=extmap`), applied by a transport on every packet: [`HeaderExtensions::parse`] is
/// [`parse_rtp`](super::parse_rtp) plus the negotiated elements (the RFC 6464 level into
/// [`PacketMeta`], the RFC 6465 list into [`ReceivedRtp::csrc_levels`]) in one pass over
/// the header;
/// [`HeaderExtensions::write`] is [`write_rtp`](super::write_rtp) plus the elements the
/// meta carries. The default (nothing negotiated) parses and writes plain RTP.
///
/// ```
/// use rvoip_media_core::rtp::{HeaderExtensions, ReceivedRtp};
/// use rvoip_media_core::graph::PacketMeta;
/// let ext = HeaderExtensions { audio_level: Some(1), ..HeaderExtensions::default() };
/// let meta = PacketMeta { audio_level: Some(0x80 | 20), ..PacketMeta::default() };
/// let mut buf = [0u8; 64];
/// let n = ext.write(&meta, &[7; 4], &mut buf).unwrap();
/// assert_eq!(n, 12 + 8 + 4);
/// let ReceivedRtp { meta: got, payload, csrc_levels } = ext.parse(&buf[..n], 0).unwrap();
/// assert_eq!((got.audio_level, payload, csrc_levels), (Some(0x80 | 20), &[7u8; 4][..], None));
/// // Not negotiated: plain RTP out, and a level on the wire is not read.
/// let plain = HeaderExtensions::default();
/// assert_eq!(plain.write(&meta, &[7; 4], &mut buf).unwrap(), 16);
/// assert_eq!(plain.parse(&buf[..16], 0).unwrap().meta.audio_level, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderExtensions {
    /// The one-byte-header id (1..=14) of RFC 6464 `ssrc-audio-level`
    /// ([`AUDIO_LEVEL_URI`](crate::sdp::AUDIO_LEVEL_URI)).
    pub audio_level: Option<u8>,
    /// The one-byte-header id (1..=14) of RFC 6465 `csrc-audio-level`
    /// ([`CSRC_AUDIO_LEVEL_URI`](crate::sdp::CSRC_AUDIO_LEVEL_URI)): written by
    /// [`HeaderExtensions::write_mixed`], read by [`HeaderExtensions::parse`].
    pub csrc_audio_level: Option<u8>,
}

/// One received RTP packet as [`HeaderExtensions::parse`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedRtp<'d> {
    /// The header's fields, with the RFC 6464 level when that extension was negotiated and
    /// the packet carries it.
    pub meta: PacketMeta,
    /// The payload (CSRCs, extension and padding stripped).
    pub payload: &'d [u8],
    /// The packet's CSRCs paired with their RFC 6465 levels when `csrc-audio-level` was
    /// negotiated and the packet carries both (as [`csrc_levels_of`](super::csrc_levels_of)
    /// reads them); `None` otherwise.
    pub csrc_levels: Option<CsrcLevels>,
}

impl HeaderExtensions {
    /// Parses a datagram as [`parse_rtp`](super::parse_rtp) does, with the negotiated
    /// elements read in the same pass: the header is parsed once and the extension's
    /// elements walked once, whichever of the two levels were negotiated. Never panics,
    /// allocates nothing.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{csrc_levels_of, CsrcLevels, HeaderExtensions};
    /// use rvoip_media_core::graph::PacketMeta;
    /// // A mixer's packet: two talkers with their levels (id 2) and its own level (id 1).
    /// let ext = HeaderExtensions { audio_level: Some(1), csrc_audio_level: Some(2) };
    /// let mut talkers = CsrcLevels::new();
    /// talkers.push(0xa1, 30);
    /// talkers.push(0xb2, 60);
    /// let meta = PacketMeta { audio_level: Some(0x80 | 25), ..PacketMeta::default() };
    /// let mut buf = [0u8; 64];
    /// let n = ext.write_mixed(&meta, &talkers, &[9; 3], &mut buf).unwrap();
    /// let got = ext.parse(&buf[..n], 0).unwrap();
    /// assert_eq!((got.meta.audio_level, got.payload), (Some(0x80 | 25), &[9u8; 3][..]));
    /// assert_eq!(got.csrc_levels, Some(talkers));
    /// assert_eq!(got.csrc_levels, csrc_levels_of(&buf[..n], 2));
    /// ```
    ///
    /// # Errors
    /// As [`parse_rtp`](super::parse_rtp).
    pub fn parse<'d>(&self, datagram: &'d [u8], arrival_ns: u64) -> Result<ReceivedRtp<'d>, RtpError> {
        let parts = parse_rtp_parts(datagram, arrival_ns)?;
        let mut got = ReceivedRtp { meta: parts.meta, payload: parts.payload, csrc_levels: None };
        let (Some((profile, data)), true) =
            (parts.extension, self.audio_level.is_some() || self.csrc_audio_level.is_some())
        else {
            return Ok(got);
        };
        // The first element of each negotiated id is the one read, as `element` finds it.
        let (mut level, mut csrc) = (self.audio_level, self.csrc_audio_level);
        for (id, body) in elements(profile, data) {
            if level == Some(id) {
                got.meta.audio_level = body.first().copied();
                level = None;
            }
            if csrc == Some(id) {
                got.csrc_levels = levels_of(parts.csrcs.chunks_exact(4).map(be_u32), body);
                csrc = None;
            }
            if level.is_none() && csrc.is_none() {
                break;
            }
        }
        Ok(got)
    }

    /// Writes a packet as [`write_rtp`](super::write_rtp) does, with the negotiated elements
    /// the meta carries (a packet without a level goes out without the extension).
    /// Allocates nothing.
    ///
    /// # Errors
    /// As [`write_rtp_with_audio_level`].
    pub fn write(&self, meta: &PacketMeta, payload: &[u8], buf: &mut [u8]) -> Result<usize, RtpError> {
        match (self.audio_level, meta.audio_level) {
            (Some(id), Some(b)) => write_rtp_with_audio_level(meta, AudioLevel::from_byte(b), id, payload, buf),
            _ => write_rtp_with_extension(meta, &[], None, payload, buf),
        }
    }

    /// [`HeaderExtensions::write`] for a mixer's packet: when `csrc-audio-level` is
    /// negotiated, `levels`' sources as the CSRC list and their levels as its element,
    /// beside the RFC 6464 level (RFC 6465). Without sources, or without that extension
    /// negotiated, exactly [`HeaderExtensions::write`]. Allocates nothing.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{csrc_levels_of, CsrcLevels, HeaderExtensions};
    /// use rvoip_media_core::graph::PacketMeta;
    /// let mut talkers = CsrcLevels::new();
    /// talkers.push(0x1234, 25);
    /// let ext = HeaderExtensions { csrc_audio_level: Some(4), ..HeaderExtensions::default() };
    /// let mut buf = [0u8; 64];
    /// let n = ext.write_mixed(&PacketMeta::default(), &talkers, &[0; 2], &mut buf).unwrap();
    /// assert_eq!(n, 12 + 4 + 8 + 2);
    /// assert_eq!(csrc_levels_of(&buf[..n], 4), Some(talkers));
    /// ```
    ///
    /// # Errors
    /// As [`HeaderExtensions::write`].
    pub fn write_mixed(
        &self,
        meta: &PacketMeta,
        levels: &super::CsrcLevels,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, RtpError> {
        match self.csrc_audio_level {
            Some(id) if !levels.is_empty() => {
                let level = self.audio_level.zip(meta.audio_level);
                super::csrc_level::write_mixed(meta, levels, id, level, payload, buf)
            }
            _ => self.write(meta, payload, buf),
        }
    }
}

/// The audio level that extension element `id` (1..=14, negotiated with `a=extmap`) of an RTP
/// datagram carries; `None` when there is none (or the datagram is not RTP). Never panics.
///
/// ```
/// use rvoip_media_core::rtp::{audio_level_of, write_rtp_with_audio_level, AudioLevel};
/// use rvoip_media_core::graph::PacketMeta;
/// let mut buf = [0u8; 64];
/// let level = AudioLevel { voice: true, level: 30 };
/// let n = write_rtp_with_audio_level(&PacketMeta::default(), level, 1, &[0xff; 20], &mut buf).unwrap();
/// assert_eq!(n, 12 + 8 + 20);
/// assert_eq!(audio_level_of(&buf[..n], 1), Some(level));
/// assert_eq!(audio_level_of(&buf[..n], 2), None); // another id
/// assert_eq!(audio_level_of(&buf[..5], 1), None); // truncated
/// ```
pub fn audio_level_of(datagram: &[u8], id: u8) -> Option<AudioLevel> {
    let p = RtpPacket::parse(datagram).ok()?;
    let (profile, data) = p.extension()?;
    level_in_extension(profile, data, id)
}

/// The level element `id` of a header extension (`profile`, its data) carries.
fn level_in_extension(profile: u16, data: &[u8], id: u8) -> Option<AudioLevel> {
    element(profile, data, id)?.first().copied().map(AudioLevel::from_byte)
}

/// A CSRC (or any big-endian word) from its 4 bytes.
fn be_u32(b: &[u8]) -> u32 {
    b.iter().fold(0, |w, &x| w << 8 | u32::from(x))
}

/// The data of element `id` (1..=14 one-byte, 1..=255 two-byte) of a header extension
/// (`profile`, its data): the first such element of [`elements`], `None` when there is
/// none or it is empty. Never panics.
pub(crate) fn element(profile: u16, data: &[u8], id: u8) -> Option<&[u8]> {
    elements(profile, data).find(|&(e, _)| e == id).map(|(_, body)| body).filter(|b| !b.is_empty())
}

/// The elements (id, data) of a header extension (`profile`, its data), in order: the one
/// walk over RFC 8285 elements, shared by the RFC 6464 and RFC 6465 readers (one-byte
/// `0xBEDE` and two-byte `0x100x` headers, padding skipped, a reserved id 15 ends a
/// one-byte list, any other profile has none); an element that claims more bytes than
/// there are is cut to what there is. Never panics.
pub(crate) fn elements(profile: u16, data: &[u8]) -> Elements<'_> {
    let two_byte = profile & 0xfff0 == 0x1000;
    let at = if profile == 0xBEDE || two_byte { 0 } else { data.len() };
    Elements { data, at, two_byte }
}

/// The iterator [`elements`] returns.
pub(crate) struct Elements<'d> {
    data: &'d [u8],
    at: usize,
    two_byte: bool,
}

impl<'d> Iterator for Elements<'d> {
    type Item = (u8, &'d [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let header = if self.two_byte { 2 } else { 1 };
        while self.at + header <= self.data.len() {
            let b = self.data[self.at];
            let (id, len) = if self.two_byte {
                (b, usize::from(self.data[self.at + 1]))
            } else {
                (b >> 4, usize::from(b & 0x0f) + 1)
            };
            if id == 0 {
                self.at += 1; // padding
                continue;
            }
            if !self.two_byte && id == 15 {
                self.at = self.data.len();
                return None;
            }
            let start = self.at + header;
            self.at = start + len;
            return Some((id, &self.data[start..self.at.min(self.data.len())]));
        }
        None
    }
}

/// [`parse_rtp`](super::parse_rtp) for a stream that negotiated the audio level as
/// extension element `id` (that is, [`HeaderExtensions::parse`] with this one element):
/// the meta carries the level's byte in [`PacketMeta::audio_level`] (a decoder can then skip
/// a packet that says silence, `DecodeNode::with_silence_skip`).
///
/// ```
/// use rvoip_media_core::rtp::{parse_rtp_with_audio_level, write_rtp_with_audio_level, AudioLevel};
/// use rvoip_media_core::graph::PacketMeta;
/// let mut buf = [0u8; 64];
/// let n = write_rtp_with_audio_level(&PacketMeta::default(), AudioLevel { voice: false, level: 90 }, 3, &[1, 2], &mut buf).unwrap();
/// let (meta, payload) = parse_rtp_with_audio_level(&buf[..n], 0, 3).unwrap();
/// assert_eq!((meta.audio_level, payload), (Some(90), &[1u8, 2][..]));
/// assert_eq!(parse_rtp_with_audio_level(&buf[..n], 0, 4).unwrap().0.audio_level, None);
/// ```
///
/// # Errors
/// As [`parse_rtp`](super::parse_rtp).
pub fn parse_rtp_with_audio_level(datagram: &[u8], arrival_ns: u64, id: u8) -> Result<(PacketMeta, &[u8]), RtpError> {
    let got = HeaderExtensions { audio_level: Some(id), csrc_audio_level: None }.parse(datagram, arrival_ns)?;
    Ok((got.meta, got.payload))
}

/// [`write_rtp`](super::write_rtp) with an RFC 6464 audio level as one-byte extension
/// element `id` (1..=14). Allocates nothing.
///
/// # Errors
/// [`RtpError::BufferTooSmall`], [`RtpError::InvalidPayloadType`], and
/// [`RtpError::InvalidExtensionId`] for an id outside 1..=14.
pub fn write_rtp_with_audio_level(
    meta: &PacketMeta,
    level: AudioLevel,
    id: u8,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<usize, RtpError> {
    if !(1..=14).contains(&id) {
        return Err(RtpError::InvalidExtensionId(id));
    }
    let data = [id << 4, level.to_byte(), 0, 0];
    write_rtp_with_extension(meta, &[], Some((0xBEDE, &data)), payload, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::parse_rtp;

    #[test]
    fn other_elements_padding_and_two_byte_headers() {
        // One-byte: element 3 (2 bytes), padding, element 1 (the level), in two words.
        let ext = [0x31, 0xaa, 0xbb, 0x00, 0x10, 0x85, 0x00, 0x00];
        let mut buf = [0u8; 64];
        let n = write_rtp_with_extension(&PacketMeta::default(), &[], Some((0xBEDE, &ext)), &[1, 2], &mut buf).unwrap();
        assert_eq!(audio_level_of(&buf[..n], 1), Some(AudioLevel { voice: true, level: 5 }));
        assert_eq!(audio_level_of(&buf[..n], 3), Some(AudioLevel { voice: true, level: 0x2a }));
        // Two-byte header: id 7, length 1.
        let ext = [0x07, 0x01, 0x7f, 0x00];
        let n = write_rtp_with_extension(&PacketMeta::default(), &[], Some((0x1000, &ext)), &[], &mut buf).unwrap();
        assert_eq!(audio_level_of(&buf[..n], 7), Some(AudioLevel { voice: false, level: 127 }));
        // With a CSRC before the extension (X = 1, CC = 1): the element is found past it, by
        // the transports' parse and by the standalone reader alike.
        let p =
            [0x91, 0, 0, 7, 0, 0, 0, 160, 0, 0, 0, 9, 0xca, 0xfe, 0xba, 0xbe, 0xbe, 0xde, 0, 1, 0x20, 0x85, 0, 0, 0xaa];
        assert_eq!(
            parse_rtp_with_audio_level(&p, 0, 2).unwrap(),
            (
                PacketMeta { sequence: 7, timestamp: 160, ssrc: 9, audio_level: Some(0x85), ..PacketMeta::default() },
                &[0xaa][..]
            )
        );
        assert_eq!(audio_level_of(&p, 2), Some(AudioLevel { voice: true, level: 5 }));
        assert_eq!(parse_rtp_with_audio_level(&p, 0, 1).unwrap().0.audio_level, None);
        // No extension, a bad id, garbage: nothing, no panic.
        let n = super::super::write_rtp(&PacketMeta::default(), &[1], &mut buf).unwrap();
        assert_eq!(audio_level_of(&buf[..n], 1), None);
        assert!(write_rtp_with_audio_level(
            &PacketMeta::default(),
            AudioLevel { voice: false, level: 0 },
            15,
            &[],
            &mut buf
        )
        .is_err());
        let mut x = 1u32;
        for _ in 0..2000 {
            let len = (x % 40) as usize;
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let mut d = d;
            if !d.is_empty() {
                d[0] = 0x90; // version 2 with the extension bit
            }
            // The standalone reader and the transports' parse agree on every input.
            let via_parse = parse_rtp_with_audio_level(&d, 0, 1).ok().and_then(|(m, _)| m.audio_level);
            let standalone = audio_level_of(&d, 1).map(AudioLevel::to_byte);
            if parse_rtp(&d, 0).is_ok() {
                assert_eq!(via_parse, standalone, "{d:?}");
            }
        }
    }
}
