//! RTP clocks: each codec's timestamp rate and the extended sequence number.

use rvoip_media_nodes::codec::CodecId;

/// The RTP timestamp rate of `codec` (RFC 3551 §4.5, RFC 7587): 8000 Hz for G.711, G.729 and
/// G.722 (whose audio is 16 kHz: a historical error kept by RFC 3551 §4.5.2), 48000 Hz for
/// Opus whatever its audio rate.
///
/// ```
/// use rvoip_media_core::rtp::clock_rate;
/// use rvoip_media_core::nodes::codec::CodecId;
/// assert_eq!(clock_rate(CodecId::G722), 8000);
/// assert_eq!(clock_rate(CodecId::Opus), 48_000);
/// assert_eq!(clock_rate(CodecId::Pcmu), 8000);
/// ```
pub fn clock_rate(codec: CodecId) -> u32 {
    codec.capability().clock_rate
}

/// Unwraps 16-bit RTP sequence numbers into a monotonic 64-bit count (cycles × 65536 +
/// sequence), taking the nearest interpretation of each new number: a step of less than half
/// the space forward or back from the highest seen.
///
/// ```
/// use rvoip_media_core::rtp::ExtendedSequence;
/// let mut x = ExtendedSequence::default();
/// assert_eq!(x.extend(65534), 65534);
/// assert_eq!(x.extend(65535), 65535);
/// assert_eq!(x.extend(0), 65536);      // wrapped
/// assert_eq!(x.extend(65533), 65533);  // late packet from before the wrap
/// assert_eq!(x.extend(2), 65538);
/// assert_eq!(x.highest(), Some(65538));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtendedSequence {
    highest: Option<u64>,
}

impl ExtendedSequence {
    /// The extended value of `seq`; raises the highest seen when it is newer.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let Some(high) = self.highest else {
            self.highest = Some(u64::from(seq));
            return u64::from(seq);
        };
        let delta = seq.wrapping_sub(high as u16) as i16;
        let ext = (high as i64 + i64::from(delta)).max(0) as u64;
        if ext > high {
            self.highest = Some(ext);
        }
        ext
    }

    /// The highest extended sequence number seen.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}
