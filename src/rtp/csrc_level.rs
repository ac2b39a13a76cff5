//! RFC 6465 mixer-to-client audio levels: a mixer lists the sources it mixed into a packet
//! in the RTP header's CSRC list (at most 15) and carries each one's level in an RFC 8285
//! header extension element, one byte per CSRC in the list's order (`0 | level`, the level
//! 0..=127 in −dBov as in RFC 6464, no V bit). Built by a conference room for each
//! listener (the talkers mixed into what it hears), read by a session receiving from a
//! mixer. Negotiated with `a=extmap:<id> urn:ietf:params:rtp-hdrext:csrc-audio-level`
//! ([`CSRC_AUDIO_LEVEL_URI`](crate::sdp::CSRC_AUDIO_LEVEL_URI)).
//!
//! Wire form (one-byte header, three sources): `0xBEDE`, length 1 word, then
//! `ID | len=2`, `0|level 1`, `0|level 2`, `0|level 3`; the two-byte form (`0x100x`) is
//! read too.

use super::audio_level::element;
use super::packet::{write_rtp_with_extension, RtpError};
use rtp_types::RtpPacket;
use rvoip_media_graph::PacketMeta;

/// Most sources one RTP packet lists (RFC 3550's 4-bit CSRC count).
///
/// ```
/// assert_eq!(rvoip_media_core::rtp::MAX_CSRCS, 15);
/// ```
pub const MAX_CSRCS: usize = 15;

/// The contributing sources of a mixed packet and their levels (−dBov, 0..=127), in order:
/// a fixed array, so building one allocates nothing.
///
/// ```
/// use rvoip_media_core::rtp::CsrcLevels;
/// let mut l = CsrcLevels::new();
/// assert!(l.push(0x1111, 20) && l.push(0x2222, 200)); // levels clamp to 127
/// assert_eq!(l.iter().collect::<Vec<_>>(), [(0x1111, 20), (0x2222, 127)]);
/// assert_eq!((l.len(), l.level_of(0x2222), l.level_of(9)), (2, Some(127), None));
/// for k in 0..20 {
///     l.push(k, 0);
/// }
/// assert_eq!(l.len(), 15); // at most MAX_CSRCS
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsrcLevels {
    len: u8,
    csrcs: [u32; MAX_CSRCS],
    levels: [u8; MAX_CSRCS],
}

impl CsrcLevels {
    /// An empty list.
    pub const fn new() -> Self {
        CsrcLevels { len: 0, csrcs: [0; MAX_CSRCS], levels: [0; MAX_CSRCS] }
    }

    /// Adds a source and its level (clamped to 127); false (nothing added) when the list
    /// already holds [`MAX_CSRCS`].
    pub fn push(&mut self, csrc: u32, level: u8) -> bool {
        let n = usize::from(self.len);
        if n == MAX_CSRCS {
            return false;
        }
        (self.csrcs[n], self.levels[n]) = (csrc, level.min(127));
        self.len += 1;
        true
    }

    /// Empties the list.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Sources listed.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no source is listed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sources, in order.
    pub fn csrcs(&self) -> &[u32] {
        &self.csrcs[..self.len()]
    }

    /// Their levels, in the same order.
    pub fn levels(&self) -> &[u8] {
        &self.levels[..self.len()]
    }

    /// (source, level) pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.csrcs().iter().copied().zip(self.levels().iter().copied())
    }

    /// The level of `csrc`, if listed.
    pub fn level_of(&self, csrc: u32) -> Option<u8> {
        self.iter().find(|(c, _)| *c == csrc).map(|(_, l)| l)
    }

    /// The extension element (one-byte header, id `id`) for these levels, followed by
    /// `level` (an RFC 6464 element, id and byte) when given, padded to whole words, into
    /// `out`; returns the bytes used (0 when there is nothing to write).
    pub(crate) fn element_into(&self, id: u8, level: Option<(u8, u8)>, out: &mut [u8; 20]) -> usize {
        let mut n = 0;
        if let Some((lid, b)) = level {
            out[..2].copy_from_slice(&[lid << 4, b]);
            n = 2;
        }
        if !self.is_empty() {
            out[n] = id << 4 | (self.len - 1);
            for (o, l) in out[n + 1..].iter_mut().zip(self.levels()) {
                *o = l & 0x7f;
            }
            n += 1 + self.len();
        }
        let words = n.div_ceil(4) * 4;
        out[n..words].fill(0);
        words
    }
}

/// [`write_rtp`](super::write_rtp) for a mixer: `levels`' sources as the CSRC list and their
/// levels as one-byte extension element `id` (1..=14). An empty list writes plain RTP (RFC
/// 6465: no element without CSRCs). Allocates nothing.
///
/// ```
/// use rvoip_media_core::rtp::{csrc_levels_of, write_rtp_with_csrc_levels, CsrcLevels};
/// use rvoip_media_core::graph::PacketMeta;
/// let mut l = CsrcLevels::new();
/// l.push(0xaaaa_0001, 10);
/// l.push(0xaaaa_0002, 63);
/// l.push(0xaaaa_0003, 127);
/// let meta = PacketMeta { ssrc: 7, ..PacketMeta::default() };
/// let mut buf = [0u8; 64];
/// let n = write_rtp_with_csrc_levels(&meta, &l, 3, &[0xff; 4], &mut buf).unwrap();
/// // Header with CC = 3, the three CSRCs, then the extension: 0xBEDE, one word,
/// // ID 3 | len-1 = 2, the levels, then the payload.
/// assert_eq!(buf[0], 0x93);
/// assert_eq!(buf[24..32], [0xbe, 0xde, 0, 1, 0x32, 10, 63, 127]);
/// assert_eq!(n, 12 + 12 + 8 + 4);
/// assert_eq!(csrc_levels_of(&buf[..n], 3), Some(l));
/// ```
///
/// # Errors
/// [`RtpError::BufferTooSmall`], [`RtpError::InvalidPayloadType`], and
/// [`RtpError::InvalidExtensionId`] for an id outside 1..=14.
pub fn write_rtp_with_csrc_levels(
    meta: &PacketMeta,
    levels: &CsrcLevels,
    id: u8,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<usize, RtpError> {
    write_mixed(meta, levels, id, None, payload, buf)
}

/// A mixer's packet: the CSRC list and its levels as element `id`, and an RFC 6464 level
/// (`level`: its id and byte) when given, in one extension.
pub(crate) fn write_mixed(
    meta: &PacketMeta,
    levels: &CsrcLevels,
    id: u8,
    level: Option<(u8, u8)>,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<usize, RtpError> {
    for i in std::iter::once(id).chain(level.map(|(i, _)| i)) {
        if !(1..=14).contains(&i) {
            return Err(RtpError::InvalidExtensionId(i));
        }
    }
    let mut data = [0u8; 20];
    let n = levels.element_into(id, level, &mut data);
    let ext = (n > 0).then_some((0xBEDE, &data[..n]));
    write_rtp_with_extension(meta, levels.csrcs(), ext, payload, buf)
}

/// The sources and levels an RTP datagram from a mixer carries: its CSRC list paired, in
/// order, with the levels of extension element `id` (negotiated with `a=extmap`; one-byte
/// or two-byte headers). A list longer than the levels keeps the sources that have one.
/// `None` when the datagram is not RTP, has no CSRCs or no such element. Never panics.
///
/// A transport reads the list with the rest of the packet in one pass
/// ([`HeaderExtensions::parse`](super::HeaderExtensions::parse)); this reads it on its own.
///
/// ```
/// use rvoip_media_core::rtp::csrc_levels_of;
/// // CC = 2 (CSRCs 0x11 and 0x22), two-byte header extension: id 9, two levels.
/// let p = [0x92, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0x11, 0, 0, 0, 0x22,
///          0x10, 0x00, 0, 1, 9, 2, 40, 127, 0xaa];
/// let l = csrc_levels_of(&p, 9).unwrap();
/// assert_eq!(l.iter().collect::<Vec<_>>(), [(0x11, 40), (0x22, 127)]);
/// assert_eq!(csrc_levels_of(&p, 8), None);
/// assert_eq!(csrc_levels_of(&p[..10], 9), None);
/// ```
pub fn csrc_levels_of(datagram: &[u8], id: u8) -> Option<CsrcLevels> {
    let p = RtpPacket::parse(datagram).ok()?;
    let (profile, data) = p.extension()?;
    levels_of(p.csrc(), element(profile, data, id)?)
}

/// `csrcs` paired, in order, with the level bytes of an RFC 6465 element (`body`); `None`
/// when that pairs nothing.
pub(crate) fn levels_of(csrcs: impl Iterator<Item = u32>, body: &[u8]) -> Option<CsrcLevels> {
    let mut out = CsrcLevels::new();
    for (c, l) in csrcs.zip(body) {
        out.push(c, l & 0x7f);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{audio_level_of, AudioLevel};

    #[test]
    fn rfc_6465_one_byte_and_two_byte_forms() {
        // RFC 6465 §3's one-byte form for three CSRCs: `ID | len=2`, then three
        // `0 | level` bytes — with id 1 and levels −0, −64, −127 dBov.
        let mut l = CsrcLevels::new();
        for (c, lv) in [(0x0102_0304, 0), (0x0506_0708, 64), (0x090a_0b0c, 127)] {
            assert!(l.push(c, lv));
        }
        let meta =
            PacketMeta { payload_type: 0, sequence: 1, timestamp: 160, ssrc: 0xcafe_babe, ..PacketMeta::default() };
        let mut buf = [0u8; 96];
        let n = write_rtp_with_csrc_levels(&meta, &l, 1, &[0xd5; 2], &mut buf).unwrap();
        let want: [u8; 38] = [
            0x93, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xa0, 0xca, 0xfe, 0xba, 0xbe, // V=2 X=1 CC=3
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, // CSRCs
            0xbe, 0xde, 0x00, 0x01, // one-byte header profile, one word
            0x12, 0x00, 0x40, 0x7f, // ID 1 | len-1 = 2, the three levels
            0xd5, 0xd5, 0, 0, 0, 0, // payload (and the rest of the buffer)
        ];
        assert_eq!(&buf[..n], &want[..34]);
        assert_eq!(csrc_levels_of(&buf[..n], 1), Some(l));
        // The same levels in the two-byte form (`0x1000`, `ID | len = 3`, a pad byte).
        let ext = [0x01, 0x03, 0x00, 0x40, 0x7f, 0x00, 0x00, 0x00];
        let n = write_rtp_with_extension(&meta, l.csrcs(), Some((0x1000, &ext)), &[0xd5; 2], &mut buf).unwrap();
        assert_eq!(csrc_levels_of(&buf[..n], 1), Some(l));
        // With the RFC 6464 level beside it (id 2): both read back from one extension.
        let n = write_mixed(&meta, &l, 1, Some((2, 0x80 | 30)), &[0xd5; 2], &mut buf).unwrap();
        assert_eq!(buf[24..36], [0xbe, 0xde, 0, 2, 0x20, 0x9e, 0x12, 0x00, 0x40, 0x7f, 0, 0]);
        assert_eq!(csrc_levels_of(&buf[..n], 1), Some(l));
        assert_eq!(audio_level_of(&buf[..n], 2), Some(AudioLevel { voice: true, level: 30 }));
        // Fifteen sources: `len` 14 in the nibble, 16 bytes, padded to 20.
        let mut full = CsrcLevels::new();
        (0..15).for_each(|k| assert!(full.push(k, k as u8)));
        assert!(!full.push(99, 0));
        let n = write_rtp_with_csrc_levels(&meta, &full, 14, &[], &mut buf).unwrap();
        assert_eq!((buf[0], n), (0x9f, 12 + 60 + 4 + 16));
        assert_eq!(buf[72..76], [0xbe, 0xde, 0, 4]);
        assert_eq!(buf[76], 0xee);
        assert_eq!(csrc_levels_of(&buf[..n], 14), Some(full));
        // No sources: plain RTP. A bad id: a typed error.
        assert_eq!(write_rtp_with_csrc_levels(&meta, &CsrcLevels::new(), 1, &[1], &mut buf), Ok(13));
        assert_eq!(write_rtp_with_csrc_levels(&meta, &l, 15, &[1], &mut buf), Err(RtpError::InvalidExtensionId(15)));
    }

    #[test]
    fn garbage_never_panics_and_levels_never_exceed_the_list() {
        let mut x = 7u32;
        let mut buf = [0u8; 96];
        for _ in 0..5000 {
            let len = (x % 90) as usize;
            for b in buf[..len].iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            if len > 0 {
                buf[0] = 0x90 | (buf[0] & 0x0f);
            }
            if let Some(l) = csrc_levels_of(&buf[..len], (x % 15) as u8) {
                assert!(l.len() <= usize::from(buf[0] & 0x0f) && l.levels().iter().all(|v| *v <= 127));
            }
        }
    }
}
