//! The call quality of one received stream, from what its jitter buffer measured: the
//! E-model's R and MOS (G.107 for narrowband codecs, G.107.1 for G.722 and Opus) with the
//! mouth-to-ear delay and the loss pattern observed, and the RFC 3611 VoIP-metrics block
//! that carries them in RTCP XR.
//!
//! Mouth-to-ear delay = the mean jitter-buffer delay (W3C `jitterBufferDelay /
//! jitterBufferEmittedCount`) + the packet time (packetisation) + the codec's look-ahead +
//! half the RTCP round trip (the network, one way). Loss = what the listener missed: packets
//! lost in the network or discarded late by the buffer, less those rebuilt from in-band FEC,
//! over the packets due; its burst ratio from the runs of losses
//! ([`burst_ratio`]).
//! Nothing is estimated before [`MIN_PACKETS`] packets: "unknown", never a default score.
//!
//! Codec impairments ([`codec_impairment`]): see the table in ARCHITECTURE.md ("Call
//! quality") for each value's source.
//!
//! ```
//! use rvoip_media_core::nodes::codec::CodecId;
//! use rvoip_media_core::nodes::jitter::{JitterReport, JitterStats};
//! use rvoip_media_core::quality::emodel::Connection;
//! use rvoip_media_core::quality::stream::estimate;
//!
//! let mut rx = JitterReport::default();
//! assert!(estimate(CodecId::Pcmu, 20, None, &rx).is_none()); // nothing received: unknown
//! // 500 packets of 20 ms, 40 ms in the buffer on average, 1 % missed at random.
//! rx.stats = JitterStats { packets_received: 500, jitter_buffer_delay: 0.04 * 80_000.0, jitter_buffer_emitted_count: 80_000, ..JitterStats::default() };
//! (rx.played_packets, rx.missed_packets, rx.loss_runs) = (500, 5, 5);
//! let q = estimate(CodecId::Pcmu, 20, Some(60.0), &rx).unwrap();
//! assert!((q.mouth_to_ear_ms - (40.0 + 20.0 + 30.0)).abs() < 1e-9);
//! // G.711 with PLC at 1 % random loss: Ie,eff = 95 / 26.1 = 3.64; at 90 ms no absolute
//! // delay impairment yet, but G.107's talker echo (TELR 65 dB, T 90 ms) costs about 1.8.
//! let c = Connection { bpl: 25.1, ppl: 1.0, ta: 90.0, t: 90.0, ..Connection::default() };
//! assert!((q.r - c.r()).abs() < 1e-9 && (c.ie_eff() - 95.0 / 26.1).abs() < 1e-9);
//! assert!(q.r > 93.2 - 3.64 - 2.0 && q.r < 93.2 - 3.64, "{}", q.r);
//! assert!(q.mos_cq > 4.2 && q.mos_cq < 4.4 && q.mos_lq > q.mos_cq);
//! ```

use super::emodel::{mos_from_r, mos_from_wideband_r, wideband_r, Connection};
use crate::rtp::VoipMetrics;
use rvoip_media_nodes::codec::CodecId;
use rvoip_media_nodes::jitter::{burst_ratio, loss_rate, JitterReport};

/// Packets that must have been due (played, lost or discarded, in sequence order) before a
/// stream's quality is estimated (2 s of 20 ms packets): before that, the loss pattern and
/// the buffer delay are not known.
pub const MIN_PACKETS: u64 = 100;

/// A codec's E-model parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor Ie (narrowband) or Ie,WB (wideband, on the 129 scale).
    pub ie: f64,
    /// Packet-loss robustness factor Bpl.
    pub bpl: f64,
    /// Rated on the G.107.1 wideband scale.
    pub wideband: bool,
    /// Algorithmic delay beyond the packet time (look-ahead, filter delay), ms.
    pub lookahead_ms: f64,
}

/// The E-model parameters of `codec` with the concealment our decoders use.
///
/// ```
/// use rvoip_media_core::nodes::codec::CodecId;
/// use rvoip_media_core::quality::stream::codec_impairment;
/// let g711 = codec_impairment(CodecId::Pcma);
/// assert_eq!((g711.ie, g711.bpl, g711.wideband), (0.0, 25.1, false));
/// assert!(codec_impairment(CodecId::G722).wideband);
/// ```
pub fn codec_impairment(codec: CodecId) -> CodecImpairment {
    match codec {
        // G.113 Appendix I: G.711 with packet-loss concealment (Ie 0, Bpl 25.1).
        CodecId::Pcmu | CodecId::Pcma => CodecImpairment { ie: 0.0, bpl: 25.1, wideband: false, lookahead_ms: 0.0 },
        // G.113 Appendix I: G.729A (+ VAD) (Ie 11, Bpl 19); 5 ms look-ahead.
        CodecId::G729 => CodecImpairment { ie: 11.0, bpl: 19.0, wideband: false, lookahead_ms: 5.0 },
        // G.113 Appendix IV Table IV.1: G.722 at 64 kbit/s, Ie,WB 13. Bpl: provisional,
        // G.711's 25.1 (our G.722 decoder conceals by the same repeat-and-fade as G.711);
        // about 1.5 ms of QMF delay.
        CodecId::G722 => CodecImpairment { ie: 13.0, bpl: 25.1, wideband: true, lookahead_ms: 1.5 },
        // Opus: no G.113 value. Provisional: G.722's Ie,WB (libopus at 32 kbit/s scores
        // PESQ-WB 4.52 against G.722's 4.56 on our set) and Bpl (5 % loss costs both the
        // same PESQ); FEC-rebuilt packets do not count as lost. 6.5 ms look-ahead.
        CodecId::Opus => CodecImpairment { ie: 13.0, bpl: 25.1, wideband: true, lookahead_ms: 6.5 },
    }
}

/// One stream's estimated quality.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamQuality {
    /// The transmission rating R: G.107 (0..100) or, when `wideband`, G.107.1 (0..129).
    pub r: f64,
    /// Conversational MOS (delay included; G.107 Annex B, G.107.1 Annex A).
    pub mos_cq: f64,
    /// Listening-quality MOS: the same without the delay impairment Id.
    pub mos_lq: f64,
    /// R on the G.107.1 wideband scale.
    pub wideband: bool,
    /// Mouth-to-ear delay the rating used, ms.
    pub mouth_to_ear_ms: f64,
    /// Whether half the RTCP round trip is in it (no RTT known yet: the network's share is
    /// taken as 0).
    pub rtt_known: bool,
    /// Packets the listener missed, % (Ppl).
    pub loss_percent: f64,
    /// Burst ratio of those losses.
    pub burst_ratio: f64,
}

impl StreamQuality {
    /// R on the narrowband 0..100 scale (a wideband R divided by 1.29), as RFC 3611's
    /// R factor field carries it.
    pub fn r_narrowband(&self) -> f64 {
        if self.wideband {
            self.r / 1.29
        } else {
            self.r
        }
    }
}

/// The quality of a stream of `codec` in `ptime_ms` packets, from its jitter buffer's
/// report and the RTCP round trip (`None` until known); `None` before [`MIN_PACKETS`]
/// packets were due or before anything was played.
pub fn estimate(codec: CodecId, ptime_ms: u32, rtt_ms: Option<f64>, rx: &JitterReport) -> Option<StreamQuality> {
    let s = &rx.stats;
    if rx.played_packets < MIN_PACKETS || s.jitter_buffer_emitted_count == 0 {
        return None;
    }
    let imp = codec_impairment(codec);
    let buffer_ms = 1000.0 * s.jitter_buffer_delay / s.jitter_buffer_emitted_count as f64;
    let m2e = buffer_ms + f64::from(ptime_ms) + imp.lookahead_ms + rtt_ms.unwrap_or(0.0).max(0.0) / 2.0;
    // FEC-rebuilt packets were counted as missed by the loss runs; the listener heard them.
    let missed = rx.missed_packets.saturating_sub(s.fec_recovered);
    let ppl = 100.0 * loss_rate(rx.played_packets, missed);
    let burst_r = burst_ratio(rx.played_packets, missed, rx.loss_runs);
    let c = Connection { ie: imp.ie, bpl: imp.bpl, ppl, burst_r, ta: m2e, t: m2e, ..Connection::default() };
    let listening = Connection { ta: 0.0, t: 0.0, ..c };
    let (r, r_lq, mos) = if imp.wideband {
        (wideband_r(&c, imp.ie), wideband_r(&listening, imp.ie), mos_from_wideband_r as fn(f64) -> f64)
    } else {
        (c.r(), listening.r(), mos_from_r as fn(f64) -> f64)
    };
    Some(StreamQuality {
        r,
        mos_cq: mos(r),
        mos_lq: mos(r_lq),
        wideband: imp.wideband,
        mouth_to_ear_ms: m2e,
        rtt_known: rtt_ms.is_some(),
        loss_percent: ppl,
        burst_ratio: burst_r,
    })
}

/// What the buffer measured, as an RFC 3611 §4.7 VoIP-metrics block about the stream
/// `ssrc`: loss and discard rates, burst / gap density and duration (Gmin 16), round-trip
/// and end-system delay, R and MOS-LQ/CQ (127, "unavailable", while the quality is
/// unknown), the receiver configuration (enhanced PLC, adaptive buffer) and the buffer's
/// nominal (target), maximum (current) and absolute maximum delay.
///
/// End-system delay is this end's share of the round trip: the buffer's mean delay, two
/// packet times (packetising ours, the peer's) and the codec's look-ahead both ways.
///
/// ```
/// use rvoip_media_core::nodes::codec::CodecId;
/// use rvoip_media_core::nodes::jitter::{JitterReport, JitterStats};
/// use rvoip_media_core::quality::stream::voip_metrics;
///
/// let mut rx = JitterReport { burst_density: 0.5, gap_density: 0.01, ..JitterReport::default() };
/// rx.stats = JitterStats { packets_received: 40, packets_lost: 10, target_delay_ms: 45.2, ..JitterStats::default() };
/// let m = voip_metrics(7, CodecId::Pcmu, 20, Some(80.0), 1000, &rx);
/// assert_eq!((m.ssrc, m.loss_rate, m.burst_density, m.gap_density, m.gmin), (7, 51, 128, 3, 16));
/// assert_eq!((m.round_trip_delay_ms, m.jb_nominal_ms, m.jb_abs_max_ms), (80, 45, 1000));
/// assert_eq!((m.r_factor, m.mos_lq, m.mos_cq), (127, 127, 127)); // 40 packets: unknown
/// ```
pub fn voip_metrics(
    ssrc: u32,
    codec: CodecId,
    ptime_ms: u32,
    rtt_ms: Option<f64>,
    jb_abs_max_ms: u32,
    rx: &JitterReport,
) -> VoipMetrics {
    let s = &rx.stats;
    let due = (s.packets_received as i64 + s.packets_lost.max(0)).max(1) as f64;
    let per256 = |x: f64| (x * 256.0).round().clamp(0.0, 255.0) as u8;
    let ms16 = |x: f64| x.round().clamp(0.0, 65535.0) as u16;
    let imp = codec_impairment(codec);
    let buffer_ms = if s.jitter_buffer_emitted_count > 0 {
        1000.0 * s.jitter_buffer_delay / s.jitter_buffer_emitted_count as f64
    } else {
        0.0
    };
    let q = estimate(codec, ptime_ms, rtt_ms, rx);
    let mut m = VoipMetrics::unavailable(ssrc);
    m.loss_rate = per256(s.packets_lost.max(0) as f64 / due);
    m.discard_rate = per256(s.packets_discarded as f64 / due);
    m.burst_density = per256(rx.burst_density);
    m.gap_density = per256(rx.gap_density);
    m.burst_duration_ms = ms16(rx.burst_duration_ms);
    m.gap_duration_ms = ms16(rx.gap_duration_ms);
    m.round_trip_delay_ms = ms16(rtt_ms.unwrap_or(0.0));
    m.end_system_delay_ms = ms16(buffer_ms + 2.0 * f64::from(ptime_ms) + 2.0 * imp.lookahead_ms);
    if let Some(q) = q {
        m.r_factor = q.r_narrowband().round().clamp(0.0, 100.0) as u8;
        m.mos_lq = (q.mos_lq * 10.0).round().clamp(10.0, 50.0) as u8;
        m.mos_cq = (q.mos_cq * 10.0).round().clamp(10.0, 50.0) as u8;
    }
    // PLC enhanced (10: codec concealment merged with time-scale modification), jitter
    // buffer adaptive (11), adjustment rate unspecified (0).
    m.rx_config = 0b1011_0000;
    m.jb_nominal_ms = ms16(s.target_delay_ms);
    m.jb_maximum_ms = ms16(s.current_delay_ms.max(s.target_delay_ms));
    m.jb_abs_max_ms = ms16(f64::from(jb_abs_max_ms));
    m
}
