//! Receiver statistics of RFC 3550 appendix A, sans-I/O: the caller passes every packet's
//! arrival time (ns on any monotonic clock); nothing here reads a clock.
//!
//! * A.1: a source is valid after [`MIN_SEQUENTIAL`] packets in sequence (probation); a jump
//!   of more than [`MAX_DROPOUT`] ahead or [`MAX_MISORDER`] behind is dropped unless the next
//!   packet follows it (the sender restarted), which re-synchronises.
//! * A.3: expected = highest extended sequence − base + 1, lost = expected − received
//!   (negative with duplicates), the fraction lost over each report interval.
//! * A.8: interarrival jitter J += (|D| − J) / 16, in RTP timestamp units.
//!
//! ```
//! use rvoip_media_core::rtp::{ReceiverStats, SequenceCheck};
//! let mut rx = ReceiverStats::new(8000);
//! // 20 ms packets (160 ticks) arriving exactly on time, packet 3 lost.
//! for seq in [1u16, 2, 4, 5] {
//!     let t = u64::from(seq) * 20_000_000;
//!     rx.on_packet(0xabc, seq, u32::from(seq) * 160, 172, t);
//! }
//! let c = rx.counters();
//! assert_eq!((c.expected, c.received, c.lost), (4, 3, 1)); // seq 1 was probation
//! assert_eq!(c.jitter_ticks, 0.0);
//! ```

/// Largest forward jump accepted as loss (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward step accepted as reordering (RFC 3550 A.1).
pub const MAX_MISORDER: u16 = 100;
/// Packets in sequence before a source is valid (RFC 3550 A.1).
pub const MIN_SEQUENTIAL: u32 = 2;

const SEQ_MOD: u32 = 1 << 16;

/// What [`ReceiverStats::on_packet`] made of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// A packet of the valid source (in order, late, duplicate, or after a loss): play it.
    Valid,
    /// The source is still on probation (A.1); the packet is counted, not valid yet.
    Probation,
    /// A large jump of the sequence number, kept out until confirmed by the next packet.
    Jump,
}

/// Counters of one received stream, as [`ReceiverStats::counters`] gives them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RtpReceiveCounters {
    /// SSRC of the stream (0 before the first packet).
    pub ssrc: u32,
    /// Datagrams seen (valid or not).
    pub packets: u64,
    /// Bytes of those datagrams.
    pub bytes: u64,
    /// Valid packets received (A.1's `received`, since the source became valid).
    pub received: u64,
    /// Packets expected (A.3).
    pub expected: u64,
    /// Cumulative lost (A.3: expected − received; negative with duplicates).
    pub lost: i64,
    /// Fraction lost in the last report interval, /256.
    pub fraction_lost: u8,
    /// Highest extended sequence number.
    pub extended_max: u32,
    /// Interarrival jitter, RTP timestamp units (A.8).
    pub jitter_ticks: f64,
    /// Interarrival jitter in ms.
    pub jitter_ms: f64,
    /// Mean of the jitter after each valid packet, ms (what Wireshark's RTP stream
    /// analysis calls "Mean Jitter").
    pub jitter_mean_ms: f64,
    /// Largest jitter seen, ms.
    pub jitter_max_ms: f64,
    /// Packets counted during probation.
    pub probation: u64,
    /// Packets dropped as an unconfirmed sequence jump.
    pub jumps: u64,
    /// Times the sender restarted its sequence (a confirmed jump) or changed SSRC.
    pub restarts: u64,
}

/// RFC 3550 appendix A receiver state for one source; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct ReceiverStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    fraction_lost: u8,
    transit: Option<i64>,
    jitter: f64,
    jitter_sum: f64,
    jitter_n: u64,
    jitter_max: f64,
    packets: u64,
    bytes: u64,
    probation_count: u64,
    jumps: u64,
    restarts: u64,
}

impl ReceiverStats {
    /// Statistics for a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        ReceiverStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            fraction_lost: 0,
            transit: None,
            jitter: 0.0,
            jitter_sum: 0.0,
            jitter_n: 0,
            jitter_max: 0.0,
            packets: 0,
            bytes: 0,
            probation_count: 0,
            jumps: 0,
            restarts: 0,
        }
    }

    /// Changes the RTP clock (a codec switch to another clock); jitter restarts from the next
    /// packet's transit time.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        if clock_rate != self.clock_rate {
            self.clock_rate = clock_rate.max(1);
            self.transit = None;
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq`.
    fn update_seq(&mut self, seq: u16) -> SequenceCheck {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SequenceCheck::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SequenceCheck::Probation;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: the other side restarted without telling us.
                self.init_seq(seq);
                self.restarts += 1;
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return SequenceCheck::Jump;
            }
        }
        // else: duplicate or reordered packet.
        self.received += 1;
        SequenceCheck::Valid
    }

    /// Accounts one RTP packet of `len` bytes from `ssrc` arriving at `arrival_ns`. A new
    /// SSRC restarts the statistics (with probation) and counts a restart.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16, timestamp: u32, len: usize, arrival_ns: u64) -> SequenceCheck {
        self.packets += 1;
        self.bytes += len as u64;
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.restarts += 1;
            }
            let (packets, bytes, restarts) = (self.packets, self.bytes, self.restarts);
            *self = ReceiverStats { packets, bytes, restarts, ..ReceiverStats::new(self.clock_rate) };
            self.ssrc = Some(ssrc);
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let check = self.update_seq(seq);
        match check {
            SequenceCheck::Probation => self.probation_count += 1,
            SequenceCheck::Jump => self.jumps += 1,
            SequenceCheck::Valid => self.jitter_update(timestamp, arrival_ns),
        }
        check
    }

    /// RFC 3550 A.8.
    fn jitter_update(&mut self, timestamp: u32, arrival_ns: u64) {
        let arrival = (u128::from(arrival_ns) * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
        self.jitter_sum += self.jitter;
        self.jitter_n += 1;
        self.jitter_max = self.jitter_max.max(self.jitter);
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u64 {
        if self.ssrc.is_none() || self.probation > 0 {
            return 0;
        }
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    /// The current counters.
    pub fn counters(&self) -> RtpReceiveCounters {
        let expected = self.expected();
        RtpReceiveCounters {
            ssrc: self.ssrc.unwrap_or(0),
            packets: self.packets,
            bytes: self.bytes,
            received: self.received,
            expected,
            lost: expected as i64 - self.received as i64,
            fraction_lost: self.fraction_lost,
            extended_max: self.extended_max(),
            jitter_ticks: self.jitter,
            jitter_ms: self.jitter * 1000.0 / f64::from(self.clock_rate),
            jitter_mean_ms: self.jitter_sum / self.jitter_n.max(1) as f64 * 1000.0 / f64::from(self.clock_rate),
            jitter_max_ms: self.jitter_max * 1000.0 / f64::from(self.clock_rate),
            probation: self.probation_count,
            jumps: self.jumps,
            restarts: self.restarts,
        }
    }

    /// Closes a report interval (A.3): the values of an RTCP report block for this source,
    /// `None` before the source is valid. `last_sr` is the middle 32 bits of the last SR's NTP
    /// time and the delay since it arrived, in 1/65536 s, if an SR arrived.
    ///
    /// ```
    /// use rvoip_media_core::rtp::ReceiverStats;
    /// let mut rx = ReceiverStats::new(8000);
    /// for seq in 0..10u16 {
    ///     if seq != 5 && seq != 6 {
    ///         rx.on_packet(7, seq, u32::from(seq) * 160, 172, u64::from(seq) * 20_000_000);
    ///     }
    /// }
    /// let rb = rx.report_block(None).unwrap();
    /// // Base is seq 1 (0 was probation): expected 9, received 7.
    /// assert_eq!((rb.cumulative_lost, rb.fraction_lost, rb.extended_sequence), (2, 56, 9));
    /// assert_eq!(rx.report_block(None).unwrap().fraction_lost, 0); // nothing new since
    /// ```
    pub fn report_block(&mut self, last_sr: Option<(u32, u32)>) -> Option<super::ReportBlockInfo> {
        let ssrc = self.ssrc?;
        if self.probation > 0 {
            return None;
        }
        let expected = self.expected();
        let lost = expected as i64 - self.received as i64;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        self.fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (lsr, dlsr) = last_sr.unwrap_or((0, 0));
        Some(super::ReportBlockInfo {
            ssrc,
            fraction_lost: self.fraction_lost,
            // 24-bit signed, clamped (RFC 3550 §6.4.1).
            cumulative_lost: lost.clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_sequence: self.extended_max(),
            jitter: self.jitter as u32,
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn probation_then_valid() {
        let mut rx = ReceiverStats::new(8000);
        assert_eq!(rx.on_packet(1, 100, 0, 10, 0), SequenceCheck::Probation);
        assert_eq!(rx.on_packet(1, 101, 160, 10, 20 * MS), SequenceCheck::Valid);
        assert_eq!(rx.on_packet(1, 102, 320, 10, 40 * MS), SequenceCheck::Valid);
        let c = rx.counters();
        assert_eq!((c.received, c.expected, c.lost, c.probation, c.packets, c.bytes), (2, 2, 0, 1, 3, 30));
        // Out of sequence during probation restarts it.
        let mut rx = ReceiverStats::new(8000);
        assert_eq!(rx.on_packet(1, 10, 0, 10, 0), SequenceCheck::Probation);
        assert_eq!(rx.on_packet(1, 20, 0, 10, 0), SequenceCheck::Probation);
        assert_eq!(rx.on_packet(1, 21, 0, 10, 0), SequenceCheck::Valid);
    }

    #[test]
    fn wrap_counts_cycles() {
        let mut rx = ReceiverStats::new(8000);
        for (i, seq) in (65530u16..=65535).chain(0..5).enumerate() {
            rx.on_packet(9, seq, i as u32 * 160, 10, i as u64 * 20 * MS);
        }
        let c = rx.counters();
        assert_eq!(c.extended_max, 65536 + 4);
        assert_eq!((c.expected, c.received, c.lost), (10, 10, 0));
    }

    #[test]
    fn jump_then_restart() {
        let mut rx = ReceiverStats::new(8000);
        for seq in 0..5u16 {
            rx.on_packet(9, seq, 0, 10, 0);
        }
        assert_eq!(rx.on_packet(9, 20_000, 0, 10, 0), SequenceCheck::Jump);
        assert_eq!(rx.on_packet(9, 5, 0, 10, 0), SequenceCheck::Valid); // stream went on: jump ignored
        assert_eq!(rx.on_packet(9, 30_000, 0, 10, 0), SequenceCheck::Jump);
        assert_eq!(rx.on_packet(9, 30_001, 0, 10, 0), SequenceCheck::Valid); // confirmed: restart
        let c = rx.counters();
        assert_eq!((c.jumps, c.restarts, c.received, c.expected), (2, 1, 1, 1));
        // A late packet within MAX_MISORDER is a duplicate/reorder: valid, lost goes negative.
        assert_eq!(rx.on_packet(9, 30_001, 0, 10, 0), SequenceCheck::Valid);
        assert_eq!(rx.counters().lost, -1);
    }

    #[test]
    fn new_ssrc_restarts() {
        let mut rx = ReceiverStats::new(8000);
        for seq in 0..5u16 {
            rx.on_packet(1, seq, 0, 10, 0);
        }
        assert_eq!(rx.on_packet(2, 500, 0, 10, 0), SequenceCheck::Probation);
        let c = rx.counters();
        assert_eq!((c.ssrc, c.restarts, c.received, c.packets), (2, 1, 0, 6));
    }

    /// A.8 by hand: transit times (ticks) 0, 8, 0, 16 → D = 8, 8, 16.
    #[test]
    fn jitter_exact() {
        let mut rx = ReceiverStats::new(8000);
        let ts = [0u32, 160, 320, 480, 640];
        // arrival ticks = ts + transit; 1 tick = 125 µs.
        let transit = [0u64, 0, 8, 0, 16];
        for i in 0..5 {
            rx.on_packet(3, i as u16, ts[i], 10, (u64::from(ts[i]) + transit[i]) * 125_000);
        }
        // Packet 0 is probation, packet 1 sets the first transit; then D = 8, 8, 16.
        let mut j = 0.0f64;
        for d in [8.0, 8.0, 16.0] {
            j += (d - j) / 16.0;
        }
        assert!((rx.counters().jitter_ticks - j).abs() < 1e-12, "{} vs {j}", rx.counters().jitter_ticks);
        assert!((rx.counters().jitter_ms - j / 8.0).abs() < 1e-12);
        // Mean and max over the valid packets (J after packets 1..=4: 0, 0.5, 0.96875, j).
        let js = [0.0, 0.5, 0.5 + (8.0 - 0.5) / 16.0, j];
        assert!((rx.counters().jitter_mean_ms - js.iter().sum::<f64>() / 4.0 / 8.0).abs() < 1e-12);
        assert!((rx.counters().jitter_max_ms - j / 8.0).abs() < 1e-12);
    }
}
