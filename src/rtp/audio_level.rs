//! RFC 6464 client-to-mixer audio level, carried in an RFC 8285 header extension: read on
//! input (a conference can skip decoding a leg whose level says silence) and written on
//! output. The level value itself is `rvoip_media_nodes::level::audio_level`.
//!
//! Wire form (one-byte header, profile `0xBEDE`): one element, `ID | len-1 = 0`, then
//! `V | level` (V: the sender's voice-activity flag, level: 0..127 in −dBov), padded to a
//! 32-bit word. Two-byte headers (profile `0x100x`) are read too.

use super::packet::{parse_rtp, parse_rtp_parts, write_rtp_with_extension, RtpError};
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
/// [`parse_rtp`] plus the negotiated elements into [`PacketMeta`],
/// [`HeaderExtensions::write`] is [`write_rtp`](super::write_rtp) plus the elements the
/// meta carries. The default (nothing negotiated) parses and writes plain RTP.
///
/// ```
/// use rvoip_media_core::rtp::HeaderExtensions;
/// use rvoip_media_core::graph::PacketMeta;
/// let ext = HeaderExtensions { audio_level: Some(1), ..HeaderExtensions::default() };
/// let meta = PacketMeta { audio_level: Some(0x80 | 20), ..PacketMeta::default() };
/// let mut buf = [0u8; 64];
/// let n = ext.write(&meta, &[7; 4], &mut buf).unwrap();
/// assert_eq!(n, 12 + 8 + 4);
/// let (got, payload) = ext.parse(&buf[..n], 0).unwrap();
/// assert_eq!((got.audio_level, payload), (Some(0x80 | 20), &[7u8; 4][..]));
/// // Not negotiated: plain RTP out, and a level on the wire is not read.
/// let plain = HeaderExtensions::default();
/// assert_eq!(plain.write(&meta, &[7; 4], &mut buf).unwrap(), 16);
/// assert_eq!(plain.parse(&buf[..16], 0).unwrap().0.audio_level, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderExtensions {
    /// The one-byte-header id (1..=14) of RFC 6464 `ssrc-audio-level`
    /// ([`AUDIO_LEVEL_URI`](crate::sdp::AUDIO_LEVEL_URI)).
    pub audio_level: Option<u8>,
    /// The one-byte-header id (1..=14) of RFC 6465 `csrc-audio-level`
    /// ([`CSRC_AUDIO_LEVEL_URI`](crate::sdp::CSRC_AUDIO_LEVEL_URI)): written by
    /// [`HeaderExtensions::write_mixed`], read with
    /// [`csrc_levels_of`](super::csrc_levels_of).
    pub csrc_audio_level: Option<u8>,
}

impl HeaderExtensions {
    /// Parses a datagram as [`parse_rtp`] does, with the negotiated elements read into the
    /// meta. Never panics.
    ///
    /// # Errors
    /// As [`parse_rtp`].
    pub fn parse<'d>(&self, datagram: &'d [u8], arrival_ns: u64) -> Result<(PacketMeta, &'d [u8]), RtpError> {
        match self.audio_level {
            Some(id) => parse_rtp_with_audio_level(datagram, arrival_ns, id),
            None => parse_rtp(datagram, arrival_ns),
        }
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

/// The data of element `id` (1..=14 one-byte, 1..=255 two-byte) of a header extension
/// (`profile`, its data): the one walk over RFC 8285 elements (one-byte `0xBEDE` and
/// two-byte `0x100x` headers, padding skipped, a reserved id 15 ends a one-byte list); an
/// element that claims more bytes than there are is cut to what there is. `None` when
/// there is no such element, or it is empty. Never panics.
pub(crate) fn element(profile: u16, data: &[u8], id: u8) -> Option<&[u8]> {
    let mut i = 0;
    let (header, len_of): (usize, fn(u8) -> usize) = if profile == 0xBEDE {
        (1, |b| usize::from(b & 0x0f) + 1)
    } else if profile & 0xfff0 == 0x1000 {
        (2, usize::from)
    } else {
        return None;
    };
    while i + header <= data.len() {
        let (eid, len) = if header == 1 { (data[i] >> 4, len_of(data[i])) } else { (data[i], len_of(data[i + 1])) };
        if eid == 0 {
            i += 1; // padding
            continue;
        }
        if header == 1 && eid == 15 {
            return None;
        }
        if eid == id {
            let body = data.get(i + header..)?;
            return Some(&body[..len.min(body.len())]).filter(|b| !b.is_empty());
        }
        i += header + len;
    }
    None
}

/// [`parse_rtp`] for a stream that negotiated the audio level as extension element `id`:
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
/// As [`parse_rtp`].
pub fn parse_rtp_with_audio_level(datagram: &[u8], arrival_ns: u64, id: u8) -> Result<(PacketMeta, &[u8]), RtpError> {
    let (mut meta, payload, ext) = parse_rtp_parts(datagram, arrival_ns)?;
    meta.audio_level = ext.and_then(|(profile, data)| level_in_extension(profile, data, id)).map(AudioLevel::to_byte);
    Ok((meta, payload))
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
