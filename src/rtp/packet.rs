//! One RTP datagram ↔ [`PacketMeta`] + payload, over borrowed buffers (no allocation).

use super::MAX_CSRCS;
use rtp_types::{RtpPacket, RtpPacketBuilder, RtpParseError, RtpWriteError};
use rvoip_media_graph::{PacketMeta, MAX_PAYLOAD};

/// Why a datagram is not an RTP packet this core takes, or could not be written.
///
/// A receive loop on a muxed port sorts what [`parse_rtp`] says:
///
/// ```
/// use rvoip_media_core::rtp::{parse_rtp, RtpError};
/// let sort = |datagram: &[u8]| match parse_rtp(datagram, 0) {
///     Ok(_) => "rtp",
///     Err(RtpError::IsRtcp) => "rtcp", // RFC 5761: hand it to parse_rtcp
///     Err(RtpError::Truncated { .. } | RtpError::Version(_)) => "not rtp",
///     Err(_) => "refused",
/// };
/// assert_eq!(sort(&[0x80, 0, 0, 1, 0, 0, 0, 0xa0, 0, 0, 0, 1, 0xff]), "rtp");
/// assert_eq!(sort(&[0x80, 201, 0, 1, 0, 0, 0, 1]), "rtcp");
/// assert_eq!(sort(&[0x80, 0, 0, 1]), "not rtp");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than its header, CSRC list, extension or padding say.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{parse_rtp, RtpError};
    /// // Extension bit set, extension length 2 words, but nothing follows the header.
    /// let p = [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2];
    /// assert_eq!(parse_rtp(&p, 0), Err(RtpError::Truncated { expected: 24, actual: 16 }));
    /// ```
    #[error("RTP packet truncated: {actual} bytes where {expected} are needed")]
    Truncated {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        actual: usize,
    },
    /// Not version 2.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{parse_rtp, RtpError};
    /// assert_eq!(parse_rtp(&[0x40; 12], 0), Err(RtpError::Version(1)));
    /// ```
    #[error("RTP version {0} (only 2 exists)")]
    Version(u8),
    /// The padding count is 0 (RFC 3550 §5.1: it counts itself).
    ///
    /// ```
    /// use rvoip_media_core::rtp::{parse_rtp, RtpError};
    /// let p = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0];
    /// assert_eq!(parse_rtp(&p, 0), Err(RtpError::Padding(0)));
    /// ```
    #[error("RTP padding count {0} is invalid")]
    Padding(u8),
    /// The payload is larger than a graph packet holds.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{parse_rtp, RtpError};
    /// let mut p = vec![0u8; 12 + 1501];
    /// p[0] = 0x80;
    /// assert_eq!(parse_rtp(&p, 0), Err(RtpError::PayloadTooLarge { len: 1501 }));
    /// ```
    #[error("RTP payload of {len} bytes exceeds a packet's capacity")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
    },
    /// A payload type nobody negotiated (see [`super::ReceiverStats`]'s counters; the
    /// transport drops and counts these).
    ///
    /// ```
    /// use rvoip_media_core::rtp::RtpError;
    /// assert_eq!(RtpError::UnknownPayloadType(77).to_string(), "RTP payload type 77 was not negotiated");
    /// ```
    #[error("RTP payload type {0} was not negotiated")]
    UnknownPayloadType(u8),
    /// The datagram is RTCP (a muxed port, RFC 5761), not RTP.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{parse_rtp, RtpError};
    /// let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
    /// assert_eq!(parse_rtp(&rr, 0), Err(RtpError::IsRtcp));
    /// ```
    #[error("the datagram is RTCP")]
    IsRtcp,
    /// Writing: the buffer is too small for the packet (`needed` bytes).
    ///
    /// ```
    /// use rvoip_media_core::rtp::{write_rtp, RtpError};
    /// let mut buf = [0u8; 20];
    /// assert_eq!(write_rtp(&Default::default(), &[0; 10], &mut buf), Err(RtpError::BufferTooSmall { needed: 22 }));
    /// ```
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// Writing: a payload type above 127.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{write_rtp, RtpError};
    /// use rvoip_media_core::graph::PacketMeta;
    /// let meta = PacketMeta { payload_type: 200, ..Default::default() };
    /// assert_eq!(write_rtp(&meta, &[], &mut [0; 64]), Err(RtpError::InvalidPayloadType(200)));
    /// ```
    #[error("payload type {0} does not fit in 7 bits")]
    InvalidPayloadType(u8),
    /// An RFC 8285 one-byte extension id outside 1..=14.
    ///
    /// ```
    /// use rvoip_media_core::rtp::{write_rtp_with_audio_level, AudioLevel, RtpError};
    /// // 15 is reserved in the one-byte form (RFC 8285 §4.2): an `a=extmap:15` cannot be sent.
    /// let r = write_rtp_with_audio_level(&Default::default(), AudioLevel::from_byte(30), 15, &[0; 160], &mut [0; 256]);
    /// assert_eq!(r, Err(RtpError::InvalidExtensionId(15)));
    /// ```
    #[error("RTP header extension id {0} is outside 1..=14")]
    InvalidExtensionId(u8),
}

/// Whether a datagram on a muxed port is RTCP: its second byte is an RTCP packet type
/// (192–223, RFC 5761 §4), which no RTP payload type and marker combination in use reaches
/// (payload types 64–95 are excluded from RTP for this reason).
///
/// ```
/// use rvoip_media_core::rtp::is_rtcp;
/// assert!(is_rtcp(&[0x81, 200, 0, 6]));  // SR
/// assert!(!is_rtcp(&[0x80, 0x80, 0, 1])); // PCMU with the marker bit
/// assert!(!is_rtcp(&[0x80]));
/// ```
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 2 && (192..=223).contains(&datagram[1])
}

/// Parses one RTP datagram into its metadata (with `arrival_ns` stamped) and payload
/// (padding, CSRCs and header extension stripped). Never panics.
///
/// # Errors
/// [`RtpError::IsRtcp`], [`RtpError::Truncated`], [`RtpError::Version`],
/// [`RtpError::Padding`], [`RtpError::PayloadTooLarge`].
///
/// ```
/// use rvoip_media_core::rtp::parse_rtp;
/// // Marker, PT 8, seq 0x1234, ts 0x0000_00a0, SSRC 0xdeadbeef, one CSRC, 2-byte payload, 2 bytes padding.
/// let p = [0xa1, 0x88, 0x12, 0x34, 0, 0, 0, 0xa0, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9, 0x55, 0xd5, 0, 2];
/// let (meta, payload) = parse_rtp(&p, 5).unwrap();
/// assert_eq!((meta.payload_type, meta.sequence, meta.timestamp, meta.ssrc, meta.marker), (8, 0x1234, 160, 0xdeadbeef, true));
/// assert_eq!(payload, &[0x55, 0xd5]);
/// ```
pub fn parse_rtp(datagram: &[u8], arrival_ns: u64) -> Result<(PacketMeta, &[u8]), RtpError> {
    parse_rtp_parts(datagram, arrival_ns).map(|p| (p.meta, p.payload))
}

/// [`parse_rtp`]'s result with the parts of the header the header-extension readers need
/// (`audio_level`, `csrc_level`), so they read them without parsing the header again.
pub(crate) struct RtpParts<'d> {
    /// The fixed header's fields, `audio_level` unset.
    pub(crate) meta: PacketMeta,
    /// The payload (CSRCs, extension and padding stripped).
    pub(crate) payload: &'d [u8],
    /// The CSRC list, 4 bytes (big-endian) per source.
    pub(crate) csrcs: &'d [u8],
    /// The header extension (`profile`, its data), if any.
    pub(crate) extension: Option<(u16, &'d [u8])>,
}

/// [`parse_rtp`] with the CSRC list and the header extension (see [`RtpParts`]).
pub(crate) fn parse_rtp_parts(datagram: &[u8], arrival_ns: u64) -> Result<RtpParts<'_>, RtpError> {
    if is_rtcp(datagram) {
        return Err(RtpError::IsRtcp);
    }
    let p = RtpPacket::parse(datagram).map_err(|e| match e {
        RtpParseError::UnsupportedVersion(v) => RtpError::Version(v),
        RtpParseError::Truncated { expected, actual } => RtpError::Truncated { expected, actual },
        RtpParseError::PaddingInvalid(v) => RtpError::Padding(v),
    })?;
    // `RtpPacket::parse` checked header + CSRCs + extension + padding ≤ length.
    let (offset, len) = (p.payload_offset(), p.payload_len());
    let payload = datagram
        .get(offset..offset + len)
        .ok_or(RtpError::Truncated { expected: offset + len, actual: datagram.len() })?;
    if payload.len() > MAX_PAYLOAD {
        return Err(RtpError::PayloadTooLarge { len: payload.len() });
    }
    let meta = PacketMeta {
        payload_type: p.payload_type(),
        sequence: p.sequence_number(),
        timestamp: p.timestamp(),
        ssrc: p.ssrc(),
        marker: p.marker_bit(),
        arrival_ns,
        audio_level: None,
    };
    // The CSRCs follow the fixed header, the extension's data the CSRCs and its own 4-byte
    // header; `RtpPacket::parse` checked that both lie inside the datagram.
    let csrc_end = 12 + 4 * usize::from(p.n_csrcs());
    let csrcs = datagram.get(12..csrc_end).unwrap_or_default();
    let extension = p.extension().and_then(|(profile, data)| {
        let at = csrc_end + 4;
        Some((profile, datagram.get(at..at + data.len())?))
    });
    Ok(RtpParts { meta, payload, csrcs, extension })
}

/// Writes an RTP packet (version 2, no CSRC, extension or padding) with `meta`'s fields and
/// `payload` into `buf`; returns its length (12 + payload). Allocates nothing.
///
/// # Errors
/// [`RtpError::BufferTooSmall`], [`RtpError::InvalidPayloadType`].
///
/// ```
/// use rvoip_media_core::rtp::write_rtp;
/// use rvoip_media_core::graph::PacketMeta;
/// let meta = PacketMeta { payload_type: 9, sequence: 0xfffe, timestamp: 0x01020304, ssrc: 0xa1b2c3d4, marker: true, arrival_ns: 0, audio_level: None };
/// let mut buf = [0u8; 16];
/// assert_eq!(write_rtp(&meta, &[1, 2], &mut buf), Ok(14));
/// assert_eq!(buf[..14], [0x80, 0x89, 0xff, 0xfe, 1, 2, 3, 4, 0xa1, 0xb2, 0xc3, 0xd4, 1, 2]);
/// ```
pub fn write_rtp(meta: &PacketMeta, payload: &[u8], buf: &mut [u8]) -> Result<usize, RtpError> {
    write_rtp_with_extension(meta, &[], None, payload, buf)
}

/// [`write_rtp`] with a CSRC list (at most [`MAX_CSRCS`]) and an optional RFC 3550 header extension
/// (`profile`, `data`; `data` a whole number of 32-bit words).
pub(crate) fn write_rtp_with_extension(
    meta: &PacketMeta,
    csrcs: &[u32],
    extension: Option<(u16, &[u8])>,
    payload: &[u8],
    buf: &mut [u8],
) -> Result<usize, RtpError> {
    let mut b = RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(meta.payload_type)
        .sequence_number(meta.sequence)
        .timestamp(meta.timestamp)
        .ssrc(meta.ssrc)
        .marker_bit(meta.marker)
        .payload(payload);
    for &c in csrcs.iter().take(MAX_CSRCS) {
        b = b.add_csrc(c);
    }
    let ext_len = 4 * csrcs.len().min(MAX_CSRCS) + extension.map_or(0, |(_, d)| 4 + d.len());
    if let Some((profile, data)) = extension {
        b = b.extension(profile, data);
    }
    b.write_into(buf).map_err(|e| match e {
        RtpWriteError::OutputTooSmall(needed) => RtpError::BufferTooSmall { needed },
        RtpWriteError::InvalidPayloadType(pt) => RtpError::InvalidPayloadType(pt),
        // At most MAX_CSRCS CSRCs, no padding, and the extension is whole words, so nothing else
        // can fail; report the size we would have needed.
        _ => RtpError::BufferTooSmall { needed: 12 + ext_len + payload.len() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(seq: u16) -> PacketMeta {
        PacketMeta {
            payload_type: 0,
            sequence: seq,
            timestamp: 8000,
            ssrc: 0x0102_0304,
            marker: false,
            arrival_ns: 0,
            audio_level: None,
        }
    }

    #[test]
    fn exact_header_bytes() {
        let mut buf = [0u8; 64];
        let n = write_rtp(&meta(1), &[0x7f, 0xff], &mut buf).unwrap();
        assert_eq!(&buf[..n], &[0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x1f, 0x40, 1, 2, 3, 4, 0x7f, 0xff]);
    }

    #[test]
    fn extension_is_skipped() {
        // X=1, one-byte header profile 0xBEDE with 1 word, then payload 0xAA.
        let p = [0x90, 0x00, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 0x33, 0, 0, 0xaa];
        let (m, payload) = parse_rtp(&p, 0).unwrap();
        assert_eq!((m.sequence, m.timestamp, m.ssrc), (5, 1, 2));
        assert_eq!(payload, &[0xaa]);
    }

    #[test]
    fn lying_lengths_are_errors() {
        // CSRC count 15 with no CSRCs present.
        let mut p = [0u8; 12];
        p[0] = 0x8f;
        assert_eq!(parse_rtp(&p, 0), Err(RtpError::Truncated { expected: 72, actual: 12 }));
        // Padding count larger than the packet.
        let p = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 200];
        assert!(matches!(parse_rtp(&p, 0), Err(RtpError::Truncated { .. })));
        // Padding consuming exactly the payload leaves an empty payload.
        let p = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3];
        assert_eq!(parse_rtp(&p, 0).unwrap().1, &[] as &[u8]);
        // Version 0 and 3.
        assert_eq!(parse_rtp(&[0u8; 12], 0), Err(RtpError::Version(0)));
        let mut v3 = [0u8; 12];
        v3[0] = 0xc0;
        assert_eq!(parse_rtp(&v3, 0), Err(RtpError::Version(3)));
        assert!(matches!(parse_rtp(&[], 0), Err(RtpError::Truncated { expected: 12, actual: 0 })));
    }

    #[test]
    fn round_trip_every_field() {
        let mut buf = [0u8; 1600];
        for (pt, seq, ts, ssrc, marker) in [
            (0u8, 0u16, 0u32, 0u32, false),
            (127, 0xffff, u32::MAX, u32::MAX, true),
            (96, 0x8000, 0x8000_0000, 1, true),
        ] {
            let m = PacketMeta {
                payload_type: pt,
                sequence: seq,
                timestamp: ts,
                ssrc,
                marker,
                arrival_ns: 0,
                audio_level: None,
            };
            let payload: Vec<u8> = (0..MAX_PAYLOAD).map(|i| i as u8).collect();
            let n = write_rtp(&m, &payload, &mut buf).unwrap();
            let (got, p) = parse_rtp(&buf[..n], 0).unwrap();
            assert_eq!(got, m);
            assert_eq!(p, &payload[..]);
        }
    }

    /// Random bytes and random corruptions of a valid packet: errors, never a panic, and a
    /// parsed payload always lies inside the datagram.
    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut good = [0u8; 200];
        let n = write_rtp(&meta(9), &[0x55; 100], &mut good).unwrap();
        let mut ok = 0;
        for i in 0..200_000 {
            let mut d = good[..n].to_vec();
            if i % 2 == 0 {
                let len = (next() % 80) as usize;
                d = (0..len).map(|_| next() as u8).collect();
                if !d.is_empty() && i % 4 == 0 {
                    d[0] = 0x80 | (d[0] & 0x3f);
                }
            } else {
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % d.len();
                    d[at] = next() as u8;
                }
                d.truncate(1 + (next() as usize) % d.len());
            }
            if let Ok((_, p)) = parse_rtp(&d, 0) {
                assert!(p.len() + 12 <= d.len());
                ok += 1;
            }
        }
        assert!(ok > 1000, "some corruptions still parse: {ok}");
    }
}
