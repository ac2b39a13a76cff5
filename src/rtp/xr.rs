//! The RFC 3611 §4.7 VoIP metrics report block (XR block type 7), which `rtcp-types` does
//! not provide. This module only carries the values; the jitter buffer and quality code fill
//! them (see [`super::RtcpReport::voip_metrics`]).

use rtcp_types::{RtcpPacketWriter, RtcpParseError, RtcpWriteError, XrBlockBuilder, XrBlockParser, XrBlockStaticType};

/// Wire length of the block, header included.
pub const VOIP_METRICS_LEN: usize = 36;

/// The values of an RFC 3611 VoIP metrics block (§4.7), as they go on the wire: rates in
/// 1/256, levels in dBm0 (127 = unavailable), R and MOS×10 (127 = unavailable).
///
/// ```
/// use rvoip_media_core::rtp::VoipMetrics;
/// let m = VoipMetrics { ssrc: 0x11223344, loss_rate: 13, mos_lq: 41, jb_nominal_ms: 40, ..VoipMetrics::unavailable(0x11223344) };
/// let bytes = m.to_bytes();
/// assert_eq!(bytes[..8], [7, 0, 0, 8, 0x11, 0x22, 0x33, 0x44]);
/// assert_eq!(VoipMetrics::from_bytes(&bytes), Some(m));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoipMetrics {
    /// SSRC of the stream reported on.
    pub ssrc: u32,
    /// Fraction of packets lost in the network, /256.
    pub loss_rate: u8,
    /// Fraction discarded by the jitter buffer (late or early), /256.
    pub discard_rate: u8,
    /// Density of loss and discard within bursts, /256.
    pub burst_density: u8,
    /// Density within gaps, /256.
    pub gap_density: u8,
    /// Mean burst duration, ms.
    pub burst_duration_ms: u16,
    /// Mean gap duration, ms.
    pub gap_duration_ms: u16,
    /// Round-trip delay, ms (from RTCP LSR/DLSR).
    pub round_trip_delay_ms: u16,
    /// End-system delay, ms.
    pub end_system_delay_ms: u16,
    /// Signal level, dBm0 (127: unavailable).
    pub signal_level: i8,
    /// Noise level, dBm0 (127: unavailable).
    pub noise_level: i8,
    /// Residual echo return loss, dB (127: unavailable).
    pub rerl: u8,
    /// Gap threshold (16 recommended).
    pub gmin: u8,
    /// R factor (127: unavailable).
    pub r_factor: u8,
    /// External R factor (127: unavailable).
    pub ext_r_factor: u8,
    /// MOS-LQ × 10 (127: unavailable).
    pub mos_lq: u8,
    /// MOS-CQ × 10 (127: unavailable).
    pub mos_cq: u8,
    /// Receiver configuration byte (PLC, jitter buffer adaptivity and rate).
    pub rx_config: u8,
    /// Jitter buffer nominal delay, ms.
    pub jb_nominal_ms: u16,
    /// Jitter buffer maximum delay, ms.
    pub jb_maximum_ms: u16,
    /// Jitter buffer absolute maximum delay, ms.
    pub jb_abs_max_ms: u16,
}

impl VoipMetrics {
    /// A block for `ssrc` whose optional values say "unavailable" (127) and whose rates and
    /// delays are 0, Gmin 16.
    pub fn unavailable(ssrc: u32) -> Self {
        VoipMetrics {
            ssrc,
            signal_level: 127,
            noise_level: 127,
            rerl: 127,
            gmin: 16,
            r_factor: 127,
            ext_r_factor: 127,
            mos_lq: 127,
            mos_cq: 127,
            ..Default::default()
        }
    }

    /// The block's 36 bytes (header: BT 7, reserved 0, length 8 words).
    pub fn to_bytes(&self) -> [u8; VOIP_METRICS_LEN] {
        let mut b = [0u8; VOIP_METRICS_LEN];
        b[0] = 7;
        b[3] = 8;
        b[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        b[8..12].copy_from_slice(&[self.loss_rate, self.discard_rate, self.burst_density, self.gap_density]);
        b[12..14].copy_from_slice(&self.burst_duration_ms.to_be_bytes());
        b[14..16].copy_from_slice(&self.gap_duration_ms.to_be_bytes());
        b[16..18].copy_from_slice(&self.round_trip_delay_ms.to_be_bytes());
        b[18..20].copy_from_slice(&self.end_system_delay_ms.to_be_bytes());
        b[20..24].copy_from_slice(&[self.signal_level as u8, self.noise_level as u8, self.rerl, self.gmin]);
        b[24..28].copy_from_slice(&[self.r_factor, self.ext_r_factor, self.mos_lq, self.mos_cq]);
        b[28] = self.rx_config;
        b[30..32].copy_from_slice(&self.jb_nominal_ms.to_be_bytes());
        b[32..34].copy_from_slice(&self.jb_maximum_ms.to_be_bytes());
        b[34..36].copy_from_slice(&self.jb_abs_max_ms.to_be_bytes());
        b
    }

    /// Reads a block from its bytes (header included); `None` when it is not a 36-byte
    /// type-7 block.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < VOIP_METRICS_LEN || b[0] != 7 || u16::from_be_bytes([b[2], b[3]]) != 8 {
            return None;
        }
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(VoipMetrics {
            ssrc: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            loss_rate: b[8],
            discard_rate: b[9],
            burst_density: b[10],
            gap_density: b[11],
            burst_duration_ms: u16_at(12),
            gap_duration_ms: u16_at(14),
            round_trip_delay_ms: u16_at(16),
            end_system_delay_ms: u16_at(18),
            signal_level: b[20] as i8,
            noise_level: b[21] as i8,
            rerl: b[22],
            gmin: b[23],
            r_factor: b[24],
            ext_r_factor: b[25],
            mos_lq: b[26],
            mos_cq: b[27],
            rx_config: b[28],
            jb_nominal_ms: u16_at(30),
            jb_maximum_ms: u16_at(32),
            jb_abs_max_ms: u16_at(34),
        })
    }
}

/// The block as `rtcp-types`' XR builder takes it.
#[derive(Debug)]
pub(crate) struct VoipMetricsBuilder(pub VoipMetrics);

impl RtcpPacketWriter for VoipMetricsBuilder {
    fn calculate_size(&self) -> Result<usize, RtcpWriteError> {
        Ok(VOIP_METRICS_LEN)
    }

    fn write_into_unchecked(&self, buf: &mut [u8]) -> usize {
        buf[..VOIP_METRICS_LEN].copy_from_slice(&self.0.to_bytes());
        VOIP_METRICS_LEN
    }

    fn get_padding(&self) -> Option<u8> {
        None
    }
}

impl XrBlockBuilder<'static> for VoipMetricsBuilder {
    fn type_specific_byte(&self) -> u8 {
        0
    }
}

/// The block as `rtcp-types`' XR parser hands it over.
pub(crate) struct VoipMetricsBlock<'a>(pub &'a [u8]);

impl<'a> XrBlockParser<'a> for VoipMetricsBlock<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, RtcpParseError> {
        if data.len() < VOIP_METRICS_LEN {
            return Err(RtcpParseError::Truncated { expected: VOIP_METRICS_LEN, actual: data.len() });
        }
        Ok(VoipMetricsBlock(data))
    }

    fn header_data(&self) -> [u8; 4] {
        [self.0[0], self.0[1], self.0[2], self.0[3]]
    }
}

impl XrBlockStaticType for VoipMetricsBlock<'_> {
    const BLOCK_TYPE: u8 = 7;
}
