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

/// Maps a received stream's timestamps into one RTP clock, for a stream that switched
/// clocks (a re-INVITE from PCMU, 8000 Hz, to Opus, 48000 Hz, and back): the stream is a
/// run of segments, one per payload type in turn; a sender that switches continues its
/// timestamp counter (RFC 3550 §5.1), so a new segment starts where the last packet of the
/// previous one ended, its gap converted from the previous clock, and its packets are placed
/// by their distance from that start in their own clock, converted. A stream that never
/// changes clock passes unchanged. A packet of the previous segment's type older than the
/// newest one (still in flight at the switch) is placed by its own segment. Distances over
/// 2³⁰ ticks move a segment's start forward.
///
/// ```
/// use rvoip_media_core::rtp::ClockMap;
/// let mut m = ClockMap::new(8000);
/// assert_eq!(m.map(0, 8000, 1600), 1600); // PCMU: as it is
/// assert_eq!(m.map(0, 8000, 1760), 1760);
/// // Opus continues the counter: 1920 is 20 ms (160 ticks) after the last PCMU packet...
/// assert_eq!(m.map(111, 48_000, 1920), 1920);
/// // ...and its next packet 20 ms (960 ticks at 48 kHz) later is 160 ticks later here.
/// assert_eq!(m.map(111, 48_000, 1920 + 960), 2080);
/// assert_eq!(m.map(0, 8000, 1760), 1760); // a PCMU packet still in flight
/// // Back to PCMU, 20 ms (960 Opus ticks) after the last Opus packet.
/// assert_eq!(m.map(0, 8000, 1920 + 2 * 960), 2240);
/// assert_eq!(m.map(0, 8000, 1920 + 2 * 960 + 160), 2400);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockMap {
    clock: u32,
    /// The segment of the newest packet, and the one before it.
    current: Option<Segment>,
    previous: Option<Segment>,
    /// Timestamp of the newest packet as received, and as mapped.
    last: (u32, u32),
}

/// A run of one payload type: its clock and where it starts, as received and as mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    pt: u8,
    clock: u32,
    from: u32,
    to: u32,
}

impl Segment {
    fn place(&self, ts: u32, clock: u32) -> u32 {
        let delta = i64::from(ts.wrapping_sub(self.from) as i32);
        self.to.wrapping_add((delta * i64::from(clock) / i64::from(self.clock.max(1))) as i32 as u32)
    }
}

impl ClockMap {
    /// A map into `clock` Hz.
    pub fn new(clock: u32) -> Self {
        ClockMap { clock, current: None, previous: None, last: (0, 0) }
    }

    /// The clock timestamps are mapped into.
    pub fn clock(&self) -> u32 {
        self.clock
    }

    /// The timestamp `ts` of a packet of payload type `pt` on a `clock` Hz RTP clock, in
    /// this map's clock.
    pub fn map(&mut self, pt: u8, clock: u32, ts: u32) -> u32 {
        let newer = ts.wrapping_sub(self.last.0) as i32 > 0;
        let Some(mut cur) = self.current else {
            self.current = Some(Segment { pt, clock, from: ts, to: ts });
            self.last = (ts, ts);
            return ts;
        };
        if pt != cur.pt {
            if let Some(prev) = self.previous.filter(|p| p.pt == pt && !newer) {
                return prev.place(ts, self.clock);
            }
            if newer {
                // A new segment, after the gap from the newest packet (in the old clock).
                let to =
                    Segment { pt: cur.pt, clock: cur.clock, from: self.last.0, to: self.last.1 }.place(ts, self.clock);
                self.previous = Some(cur);
                cur = Segment { pt, clock, from: ts, to };
                self.current = Some(cur);
            }
        }
        let mapped = cur.place(ts, self.clock);
        if newer {
            self.last = (ts, mapped);
            if ts.wrapping_sub(cur.from) > 1 << 30 {
                self.current = Some(Segment { from: ts, to: mapped, ..cur });
            }
        }
        mapped
    }
}
