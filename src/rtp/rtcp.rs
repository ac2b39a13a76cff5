//! Compound RTCP reports (RFC 3550 §6): build from typed values, parse back into them.
//!
//! A report is SR (when we sent RTP since the last report) or RR, then SDES with our CNAME,
//! then optionally XR (RFC 3611, VoIP metrics) and BYE. Parsing walks any compound packet
//! and gives one [`RtcpItem`] per thing we use; packet types we do not use (APP, feedback)
//! are skipped and named.
//!
//! ```
//! use rvoip_media_core::rtp::*;
//! let report = RtcpReport {
//!     ssrc: 0x1111,
//!     sender: Some(SenderInfo { ntp: 0x0000_0001_8000_0000, rtp_timestamp: 160, packets: 10, octets: 1600 }),
//!     blocks: vec![ReportBlockInfo { ssrc: 0x2222, fraction_lost: 64, cumulative_lost: -1, ..Default::default() }],
//!     cname: "alice@example".into(),
//!     voip_metrics: None,
//!     bye: Some("done".into()),
//! };
//! let mut buf = [0u8; 512];
//! let n = build_report(&report, &mut buf)?;
//! let items = parse_rtcp(&buf[..n])?;
//! assert!(matches!(&items[0], RtcpItem::Sender { ssrc: 0x1111, blocks, .. } if blocks[0].cumulative_lost == -1));
//! assert!(matches!(&items[1], RtcpItem::Cname { ssrc: 0x1111, cname } if cname == "alice@example"));
//! assert!(matches!(&items[2], RtcpItem::Bye { ssrcs, reason: Some(r) } if ssrcs == &[0x1111] && r == "done"));
//! assert!(matches!(parse_rtcp(&buf[..7]), Err(RtcpError::Malformed(_))));
//! # Ok::<(), RtcpError>(())
//! ```

use super::xr::{VoipMetricsBlock, VoipMetricsBuilder};
use super::VoipMetrics;
use rtcp_types::prelude::*;
use rtcp_types::{
    Bye, Compound, Packet as RtcpPacketKind, ReceiverReport, ReportBlock, ReportBlockBuilder, RtcpParseError,
    RtcpWriteError, Sdes, SdesChunk, SdesItem, SenderReport, Xr,
};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp (32.32 fixed point since 1900) from ns since the Unix epoch.
///
/// ```
/// use rvoip_media_core::rtp::ntp_from_unix_ns;
/// assert_eq!(ntp_from_unix_ns(1_500_000_000), (2_208_988_801u64 << 32) | 0x8000_0000);
/// ```
pub fn ntp_from_unix_ns(unix_ns: u64) -> u64 {
    let secs = unix_ns / 1_000_000_000 + NTP_UNIX_OFFSET;
    let frac = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The sender half of an SR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// NTP timestamp of the report (see [`ntp_from_unix_ns`]).
    pub ntp: u64,
    /// The RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start.
    pub packets: u32,
    /// Payload octets sent since the start.
    pub octets: u32,
}

/// One report block (RFC 3550 §6.4.1), as [`super::ReceiverStats::report_block`] makes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportBlockInfo {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, /256.
    pub fraction_lost: u8,
    /// Cumulative lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    /// Highest extended sequence number received.
    pub extended_sequence: u32,
    /// Interarrival jitter, RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp (0: none).
    pub last_sr: u32,
    /// Delay since that SR, 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// A compound report to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtcpReport {
    /// Our SSRC.
    pub ssrc: u32,
    /// Present: an SR; absent: an RR.
    pub sender: Option<SenderInfo>,
    /// Report blocks (at most 31).
    pub blocks: Vec<ReportBlockInfo>,
    /// Our CNAME (at most 255 bytes).
    pub cname: String,
    /// An XR VoIP metrics block — the hook the jitter buffer fills.
    pub voip_metrics: Option<VoipMetrics>,
    /// Present: end with a BYE for our SSRC, with this reason (empty: none).
    pub bye: Option<String>,
}

/// What a received compound packet said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcpItem {
    /// A sender report.
    Sender {
        /// The sender.
        ssrc: u32,
        /// Its sender information.
        info: SenderInfo,
        /// Its report blocks.
        blocks: Vec<ReportBlockInfo>,
    },
    /// A receiver report.
    Receiver {
        /// The reporter.
        ssrc: u32,
        /// Its report blocks.
        blocks: Vec<ReportBlockInfo>,
    },
    /// An SDES CNAME.
    Cname {
        /// The source.
        ssrc: u32,
        /// Its CNAME (lossy UTF-8).
        cname: String,
    },
    /// A BYE.
    Bye {
        /// The sources leaving.
        ssrcs: Vec<u32>,
        /// The reason, if given.
        reason: Option<String>,
    },
    /// An XR VoIP metrics block.
    VoipMetrics {
        /// The XR packet's sender.
        sender_ssrc: u32,
        /// The block.
        metrics: VoipMetrics,
    },
    /// A packet type we do not use (APP 204, feedback 205/206, other XR blocks, unknown).
    Other {
        /// Its RTCP packet type.
        packet_type: u8,
    },
}

/// Why RTCP could not be parsed or written.
///
/// ```
/// use rvoip_media_core::rtp::{parse_rtcp, RtcpError};
/// // A one-block receiver report cut after its SSRC: counted as malformed, the call goes on.
/// let err = parse_rtcp(&[0x81, 201, 0, 7, 0, 0, 0, 1]).unwrap_err();
/// assert!(matches!(err, RtcpError::Malformed(_)));
/// assert!(err.to_string().starts_with("malformed RTCP"));
/// ```
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// The bytes are not a valid compound RTCP packet (short, wrong version, lying length or
    /// padding, bad items).
    ///
    /// ```
    /// use rvoip_media_core::rtp::{parse_rtcp, RtcpError};
    /// // An RR claiming 2 words more than present.
    /// assert!(matches!(parse_rtcp(&[0x80, 201, 0, 3, 0, 0, 0, 1]), Err(RtcpError::Malformed(_))));
    /// ```
    #[error("malformed RTCP: {0}")]
    Malformed(#[from] RtcpParseError),
    /// The report could not be written (buffer too small, too many blocks, CNAME too long).
    ///
    /// ```
    /// use rvoip_media_core::rtp::{build_report, RtcpError, RtcpReport};
    /// let r = RtcpReport { ssrc: 1, cname: "x".into(), ..Default::default() };
    /// assert!(matches!(build_report(&r, &mut [0u8; 8]), Err(RtcpError::Write(_))));
    /// ```
    #[error("cannot write RTCP: {0}")]
    Write(#[from] RtcpWriteError),
}

fn block_builder(b: &ReportBlockInfo) -> ReportBlockBuilder {
    ReportBlock::builder(b.ssrc)
        .fraction_lost(b.fraction_lost)
        .cumulative_lost((b.cumulative_lost as u32) & 0x00ff_ffff)
        .extended_sequence_number(b.extended_sequence)
        .interarrival_jitter(b.jitter)
        .last_sender_report_timestamp(b.last_sr)
        .delay_since_last_sender_report_timestamp(b.delay_since_last_sr)
}

fn block_info(b: &ReportBlock<'_>) -> ReportBlockInfo {
    let raw = b.cumulative_lost();
    // Sign-extend the 24-bit field.
    let cumulative_lost = ((raw << 8) as i32) >> 8;
    ReportBlockInfo {
        ssrc: b.ssrc(),
        fraction_lost: b.fraction_lost(),
        cumulative_lost,
        extended_sequence: b.extended_sequence_number(),
        jitter: b.interarrival_jitter(),
        last_sr: b.last_sender_report_timestamp(),
        delay_since_last_sr: b.delay_since_last_sender_report_timestamp(),
    }
}

/// Writes `report` as one compound packet into `buf`; returns its length.
///
/// # Errors
/// [`RtcpError::Write`]: the buffer is too small, more than 31 blocks, a CNAME over 255
/// bytes or a BYE reason over 255 bytes.
pub fn build_report(report: &RtcpReport, buf: &mut [u8]) -> Result<usize, RtcpError> {
    let mut compound = Compound::builder();
    match report.sender {
        Some(s) => {
            let mut sr = SenderReport::builder(report.ssrc)
                .ntp_timestamp(s.ntp)
                .rtp_timestamp(s.rtp_timestamp)
                .packet_count(s.packets)
                .octet_count(s.octets);
            for b in &report.blocks {
                sr = sr.add_report_block(block_builder(b));
            }
            compound = compound.add_packet(sr);
        }
        None => {
            let mut rr = ReceiverReport::builder(report.ssrc);
            for b in &report.blocks {
                rr = rr.add_report_block(block_builder(b));
            }
            compound = compound.add_packet(rr);
        }
    }
    let sdes = Sdes::builder()
        .add_chunk(SdesChunk::builder(report.ssrc).add_item(SdesItem::builder(SdesItem::CNAME, &report.cname)));
    compound = compound.add_packet(sdes);
    if let Some(m) = report.voip_metrics {
        compound = compound.add_packet(Xr::builder().sender_ssrc(report.ssrc).add_block(VoipMetricsBuilder(m)));
    }
    if let Some(reason) = &report.bye {
        let mut bye = Bye::builder().add_source(report.ssrc);
        if !reason.is_empty() {
            bye = bye.reason(reason.as_str());
        }
        compound = compound.add_packet(bye);
    }
    Ok(compound.write_into(buf)?)
}

/// Parses a compound RTCP packet. Never panics, whatever the bytes.
///
/// # Errors
/// [`RtcpError::Malformed`] with `rtcp-types`' reason.
pub fn parse_rtcp(data: &[u8]) -> Result<Vec<RtcpItem>, RtcpError> {
    let mut items = Vec::new();
    for packet in Compound::parse(data)? {
        match packet? {
            RtcpPacketKind::Sr(sr) => items.push(RtcpItem::Sender {
                ssrc: sr.ssrc(),
                info: SenderInfo {
                    ntp: sr.ntp_timestamp(),
                    rtp_timestamp: sr.rtp_timestamp(),
                    packets: sr.packet_count(),
                    octets: sr.octet_count(),
                },
                blocks: sr.report_blocks().map(|b| block_info(&b)).collect(),
            }),
            RtcpPacketKind::Rr(rr) => items.push(RtcpItem::Receiver {
                ssrc: rr.ssrc(),
                blocks: rr.report_blocks().map(|b| block_info(&b)).collect(),
            }),
            RtcpPacketKind::Sdes(sdes) => {
                for chunk in sdes.chunks() {
                    for item in chunk.items().filter(|i| i.type_() == SdesItem::CNAME) {
                        let cname = String::from_utf8_lossy(item.value()).into_owned();
                        items.push(RtcpItem::Cname { ssrc: chunk.ssrc(), cname });
                    }
                }
            }
            RtcpPacketKind::Bye(bye) => items.push(RtcpItem::Bye {
                ssrcs: bye.ssrcs().collect(),
                reason: bye.reason().map(|r| String::from_utf8_lossy(r).into_owned()),
            }),
            RtcpPacketKind::Xr(xr) => {
                for block in xr.block_iter() {
                    match block.parse_into::<VoipMetricsBlock<'_>>().ok().and_then(|b| VoipMetrics::from_bytes(b.0)) {
                        Some(metrics) => items.push(RtcpItem::VoipMetrics { sender_ssrc: xr.sender_ssrc(), metrics }),
                        None => items.push(RtcpItem::Other { packet_type: Xr::PACKET_TYPE }),
                    }
                }
            }
            other => items.push(RtcpItem::Other { packet_type: other.type_() }),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3550 §6.4.2 RR with one block, written by hand.
    #[test]
    fn receiver_report_exact_bytes() {
        let r = RtcpReport {
            ssrc: 0x0102_0304,
            blocks: vec![ReportBlockInfo {
                ssrc: 0x0a0b_0c0d,
                fraction_lost: 0x40,
                cumulative_lost: 3,
                extended_sequence: 0x0001_0005,
                jitter: 17,
                last_sr: 0x1234_5678,
                delay_since_last_sr: 0x0001_0000,
            }],
            cname: "ab".into(),
            ..Default::default()
        };
        let mut buf = [0u8; 128];
        let n = build_report(&r, &mut buf).unwrap();
        #[rustfmt::skip]
        let want = [
            0x81, 201, 0, 7, 1, 2, 3, 4,            // RR header, RC=1, length 7 words
            0x0a, 0x0b, 0x0c, 0x0d, 0x40, 0, 0, 3,  // block: SSRC, fraction, cumulative
            0, 1, 0, 5, 0, 0, 0, 17,                // extended seq, jitter
            0x12, 0x34, 0x56, 0x78, 0, 1, 0, 0,     // LSR, DLSR
            0x81, 202, 0, 3, 1, 2, 3, 4,            // SDES, one chunk, length 3 words
            1, 2, b'a', b'b', 0, 0, 0, 0,           // CNAME "ab", end, pad to 32 bits
        ];
        assert_eq!(&buf[..n], &want);
        let items = parse_rtcp(&want).unwrap();
        assert_eq!(items[0], RtcpItem::Receiver { ssrc: 0x0102_0304, blocks: r.blocks.clone() });
        assert_eq!(items[1], RtcpItem::Cname { ssrc: 0x0102_0304, cname: "ab".into() });
    }

    #[test]
    fn sender_report_and_xr_round_trip() {
        let m = VoipMetrics { loss_rate: 5, jb_nominal_ms: 60, ..VoipMetrics::unavailable(9) };
        let r = RtcpReport {
            ssrc: 7,
            sender: Some(SenderInfo {
                ntp: ntp_from_unix_ns(1_700_000_000_250_000_000),
                rtp_timestamp: 1,
                packets: 2,
                octets: 3,
            }),
            blocks: vec![ReportBlockInfo { ssrc: 9, cumulative_lost: -8_388_608, ..Default::default() }],
            cname: "c".repeat(255),
            voip_metrics: Some(m),
            bye: Some(String::new()),
        };
        let mut buf = [0u8; 1024];
        let n = build_report(&r, &mut buf).unwrap();
        let items = parse_rtcp(&buf[..n]).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0], RtcpItem::Sender { ssrc: 7, info: r.sender.unwrap(), blocks: r.blocks.clone() });
        assert_eq!(items[2], RtcpItem::VoipMetrics { sender_ssrc: 7, metrics: m });
        assert_eq!(items[3], RtcpItem::Bye { ssrcs: vec![7], reason: None });
    }

    #[test]
    fn garbage_never_panics() {
        let r = RtcpReport {
            ssrc: 7,
            sender: Some(SenderInfo::default()),
            blocks: vec![ReportBlockInfo::default(); 2],
            cname: "host".into(),
            voip_metrics: Some(VoipMetrics::unavailable(1)),
            bye: Some("x".into()),
        };
        let mut good = [0u8; 512];
        let n = build_report(&r, &mut good).unwrap();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut parsed = 0;
        for i in 0..100_000 {
            let mut d = good[..n].to_vec();
            if i % 3 == 0 {
                d = (0..(next() % 120) as usize).map(|_| next() as u8).collect();
                if !d.is_empty() {
                    d[0] = 0x80 | (d[0] & 0x3f);
                }
            } else {
                for _ in 0..1 + next() % 3 {
                    let at = (next() as usize) % d.len();
                    d[at] = next() as u8;
                }
                d.truncate(1 + (next() as usize) % d.len());
            }
            if parse_rtcp(&d).is_ok() {
                parsed += 1;
            }
        }
        assert!(parsed > 100, "{parsed}");
    }
}
