//! Pure receive statistics of one RTP stream, sans I/O: RFC 3550 interarrival jitter and
//! cumulative loss ([`RtpReceiveStats`]) and the RFC 3611 VoIP-metrics burst / gap
//! densities and durations with Gmin 16 ([`BurstGapStats`]). Times are given by the caller;
//! nothing here reads a clock or allocates.

/// RFC 3550 §6.4.1 / Appendix A.3 and A.8 receiver statistics: extended highest sequence
/// number, expected and received packets, signed cumulative loss and the interarrival
/// jitter estimate (in RTP timestamp units, as in RTCP receiver reports).
///
/// ```
/// use rvoip_media_nodes::jitter::RtpReceiveStats;
///
/// let mut s = RtpReceiveStats::new(8000);
/// // 20 ms packets at 8 kHz; the second arrives 10 ms late, the third is lost.
/// s.update(100, 0, 0);
/// s.update(101, 160, 30_000);
/// s.update(103, 480, 60_000);
/// assert_eq!((s.expected(), s.received(), s.cumulative_lost()), (4, 3, 1));
/// // D = 80 ticks (10 ms), J = 80/16 = 5; then D = -80, J += (80 - 5)/16.
/// assert!((s.jitter_ticks() - (5.0 + 75.0 / 16.0)).abs() < 1e-9);
/// ```
#[derive(Clone, Debug)]
pub struct RtpReceiveStats {
    clock: u32,
    started: bool,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u64,
    transit: f64,
    jitter: f64,
}

impl RtpReceiveStats {
    /// Statistics for a stream whose RTP clock runs at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        RtpReceiveStats {
            clock: clock_rate.max(1),
            started: false,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            transit: 0.0,
            jitter: 0.0,
        }
    }

    /// Counts one received packet: its sequence number, RTP timestamp and arrival time in
    /// µs (any fixed origin). Duplicates count as received, as RFC 3550 A.3 says.
    pub fn update(&mut self, sequence: u16, timestamp: u32, arrival_us: i64) {
        let arrival_ticks = arrival_us as f64 * f64::from(self.clock) / 1e6;
        let transit = arrival_ticks - f64::from(timestamp);
        if !self.started {
            self.started = true;
            self.base_seq = u32::from(sequence);
            self.max_seq = sequence;
            self.transit = transit;
            self.received = 1;
            return;
        }
        self.received += 1;
        let delta = sequence.wrapping_sub(self.max_seq);
        if delta != 0 && delta < 0x8000 {
            if sequence < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = sequence;
        } else if delta >= 0x8000 {
            // Older than the highest: if it precedes the first packet (the stream's start
            // arrived reordered), the base moves back so it is expected.
            let ext = self.extended_max().wrapping_sub(u32::from(self.max_seq.wrapping_sub(sequence)));
            if (ext.wrapping_sub(self.base_seq) as i32) < 0 {
                self.base_seq = ext;
            }
        }
        // Wrap-safe: the timestamp difference of two packets is small.
        let mut d = transit - self.transit;
        if d.abs() > f64::from(u32::MAX) / 2.0 {
            d -= f64::from(u32::MAX) + 1.0;
        }
        self.transit = transit;
        self.jitter += (d.abs() - self.jitter) / 16.0;
    }

    /// Extended highest sequence number received (cycles × 65536 + highest).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected: extended highest − first + 1 (0 before the first packet).
    pub fn expected(&self) -> u64 {
        if !self.started {
            return 0;
        }
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    /// Packets received (duplicates included).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Signed cumulative loss: expected − received (negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in RTP timestamp units.
    pub fn jitter_ticks(&self) -> f64 {
        self.jitter
    }

    /// Interarrival jitter in seconds.
    pub fn jitter_seconds(&self) -> f64 {
        self.jitter / f64::from(self.clock)
    }
}

/// RFC 3611 §4.7.2 burst and gap metrics over the sequence of packet outcomes, with the
/// Gmin parameter (16 by default): a *burst* is a run that starts and ends with a lost or
/// discarded packet, holds at least two of them, and contains no run of Gmin or more
/// received packets; everything else (received packets and isolated losses) is *gap*.
///
/// Densities are fractions of the packets in bursts / gaps that were lost or discarded;
/// durations are mean lengths in ms. Bounded state: the current candidate burst only.
///
/// ```
/// use rvoip_media_nodes::jitter::BurstGapStats;
///
/// let mut m = BurstGapStats::new(16, 20.0);
/// // 20 received, lost, received, lost, 20 received: one burst of 3 packets (2 lost).
/// for _ in 0..20 { m.packet(true); }
/// m.packet(false); m.packet(true); m.packet(false);
/// for _ in 0..20 { m.packet(true); }
/// let r = m.report();
/// assert_eq!((r.burst_packets, r.burst_lost, r.gap_packets, r.gap_lost), (3, 2, 40, 0));
/// assert!((r.burst_density - 2.0 / 3.0).abs() < 1e-12 && r.gap_density == 0.0);
/// assert!((r.burst_duration_ms - 60.0).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct BurstGapStats {
    gmin: u32,
    packet_ms: f64,
    /// Received packets since the last loss.
    run: u64,
    /// Candidate burst: packets and losses from its first loss to its last loss.
    cand_packets: u64,
    cand_lost: u64,
    burst_packets: u64,
    burst_lost: u64,
    bursts: u64,
    gap_packets: u64,
    gap_lost: u64,
    gaps: u64,
    in_gap: bool,
    /// Packets counted, those lost or discarded, and runs of consecutive losses.
    packets: u64,
    lost: u64,
    loss_runs: u64,
    last_lost: bool,
}

/// A snapshot of [`BurstGapStats`] (the open candidate burst is counted as it stands).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BurstGapReport {
    /// Packets in bursts.
    pub burst_packets: u64,
    /// Lost or discarded packets in bursts.
    pub burst_lost: u64,
    /// Number of bursts.
    pub bursts: u64,
    /// Packets in gaps.
    pub gap_packets: u64,
    /// Lost or discarded packets in gaps (isolated losses).
    pub gap_lost: u64,
    /// Number of gaps.
    pub gaps: u64,
    /// Fraction of burst packets lost or discarded (0 without bursts).
    pub burst_density: f64,
    /// Fraction of gap packets lost or discarded.
    pub gap_density: f64,
    /// Mean burst length, ms.
    pub burst_duration_ms: f64,
    /// Mean gap length, ms.
    pub gap_duration_ms: f64,
    /// Packets counted (received, lost and discarded).
    pub packets: u64,
    /// Of those, lost or discarded.
    pub lost: u64,
    /// Runs of consecutive lost or discarded packets.
    pub loss_runs: u64,
}

impl BurstGapReport {
    /// Fraction of packets lost or discarded (what the listener missed), 0..1.
    pub fn loss_rate(&self) -> f64 {
        loss_rate(self.packets, self.lost)
    }

    /// The E-model's burst ratio of the losses ([`burst_ratio`]).
    pub fn burst_ratio(&self) -> f64 {
        burst_ratio(self.packets, self.lost, self.loss_runs)
    }
}

/// `lost / packets`, 0 without packets.
pub fn loss_rate(packets: u64, lost: u64) -> f64 {
    if packets == 0 {
        0.0
    } else {
        lost as f64 / packets as f64
    }
}

/// The E-model's burst ratio (G.107 §7.3: the mean length of loss runs observed over the
/// mean length expected for random loss at the same rate) of `lost` of `packets` lost in
/// `runs` runs, from a two-state Markov fit: with loss rate P and mean run length L,
/// BurstR = L · (1 − P). 1 for random loss (and without loss), above 1 for bursty loss.
///
/// ```
/// use rvoip_media_nodes::jitter::{burst_ratio, BurstGapStats};
/// let mut m = BurstGapStats::new(16, 20.0);
/// // 100 packets, 10 lost in runs of 2: P = 0.1, L = 2, BurstR = 1.8.
/// for k in 0..100 { m.packet(!(k % 20 == 0 || k % 20 == 1)); }
/// assert!((m.report().burst_ratio() - 1.8).abs() < 1e-12);
/// assert_eq!(burst_ratio(100, 10, 10), 1.0); // isolated losses: less than random, held at 1
/// ```
pub fn burst_ratio(packets: u64, lost: u64, runs: u64) -> f64 {
    if lost == 0 || runs == 0 {
        return 1.0;
    }
    let mean_run = lost as f64 / runs as f64;
    (mean_run * (1.0 - loss_rate(packets, lost))).max(1.0)
}

impl BurstGapStats {
    /// Metrics with parameter `gmin` (RFC 3611 recommends 16) for packets of `packet_ms` ms.
    pub fn new(gmin: u32, packet_ms: f64) -> Self {
        BurstGapStats {
            gmin: gmin.max(1),
            packet_ms,
            run: 0,
            cand_packets: 0,
            cand_lost: 0,
            burst_packets: 0,
            burst_lost: 0,
            bursts: 0,
            gap_packets: 0,
            gap_lost: 0,
            gaps: 0,
            in_gap: false,
            packets: 0,
            lost: 0,
            loss_runs: 0,
            last_lost: false,
        }
    }

    /// Sets the duration of the stream's packets, ms, which the report's burst and gap
    /// durations count in: a jitter buffer sets that of each packet it plays, so a stream in
    /// 10, 30, 40 or 60 ms packets is not reported in its codec's default packet time.
    ///
    /// ```
    /// use rvoip_media_nodes::jitter::BurstGapStats;
    /// let mut m = BurstGapStats::new(16, 20.0);
    /// m.set_packet_ms(60.0);
    /// for _ in 0..50 { m.packet(true); }
    /// assert!((m.report().gap_duration_ms - 3000.0).abs() < 1e-9);
    /// ```
    pub fn set_packet_ms(&mut self, packet_ms: f64) {
        if packet_ms.is_finite() && packet_ms > 0.0 {
            self.packet_ms = packet_ms;
        }
    }

    fn enter_gap(&mut self) {
        if !self.in_gap {
            self.in_gap = true;
            self.gaps += 1;
        }
    }

    /// Closes the candidate burst (a run of Gmin received packets followed it).
    fn close_candidate(&mut self) {
        if self.cand_lost >= 2 {
            self.burst_packets += self.cand_packets;
            self.burst_lost += self.cand_lost;
            self.bursts += 1;
            self.in_gap = false;
        } else if self.cand_lost == 1 {
            self.enter_gap();
            self.gap_packets += self.cand_packets;
            self.gap_lost += self.cand_lost;
        }
        self.cand_packets = 0;
        self.cand_lost = 0;
    }

    /// Counts the next packet in sequence order: `received` false for lost or discarded.
    pub fn packet(&mut self, received: bool) {
        self.packets += 1;
        if !received {
            self.lost += 1;
            self.loss_runs += u64::from(!self.last_lost);
        }
        self.last_lost = !received;
        if received {
            self.run += 1;
            if self.run == u64::from(self.gmin) {
                // The received run ends any candidate burst; it belongs to the gap.
                self.close_candidate();
                self.enter_gap();
                self.gap_packets += self.run;
            } else if self.run > u64::from(self.gmin) {
                self.gap_packets += 1;
            }
        } else {
            if self.run < u64::from(self.gmin) && (self.cand_lost > 0) {
                // Still inside the candidate: the short received run joins it.
                self.cand_packets += self.run;
            } else if self.run < u64::from(self.gmin) {
                // A loss after a short run with no candidate: the run is gap.
                if self.run > 0 {
                    self.enter_gap();
                    self.gap_packets += self.run;
                }
            }
            self.cand_packets += 1;
            self.cand_lost += 1;
            self.run = 0;
        }
    }

    /// The metrics so far, with the open candidate closed provisionally and a trailing
    /// received run shorter than Gmin counted as gap.
    pub fn report(&self) -> BurstGapReport {
        let mut s = self.clone();
        let tail = if s.run < u64::from(s.gmin) { s.run } else { 0 };
        s.close_candidate();
        if tail > 0 {
            s.enter_gap();
            s.gap_packets += tail;
        }
        let div = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        BurstGapReport {
            burst_packets: s.burst_packets,
            burst_lost: s.burst_lost,
            bursts: s.bursts,
            gap_packets: s.gap_packets,
            gap_lost: s.gap_lost,
            gaps: s.gaps,
            burst_density: div(s.burst_lost, s.burst_packets),
            gap_density: div(s.gap_lost, s.gap_packets),
            burst_duration_ms: div(s.burst_packets, s.bursts) * s.packet_ms,
            gap_duration_ms: div(s.gap_packets, s.gaps) * s.packet_ms,
            packets: s.packets,
            lost: s.lost,
            loss_runs: s.loss_runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_matches_a_hand_computed_sequence() {
        // 8 kHz, 20 ms packets (160 ticks), transit deviations 0, +5, -3, +12 ms.
        let mut s = RtpReceiveStats::new(8000);
        let dev_ms = [0i64, 5, -3, 12];
        let mut j = 0.0f64;
        let mut prev = 0.0f64;
        for (i, d) in dev_ms.iter().enumerate() {
            s.update(65_534u16.wrapping_add(i as u16), 160 * i as u32, (i as i64 * 20 + d) * 1000);
            let t = *d as f64 * 8.0;
            if i > 0 {
                j += ((t - prev).abs() - j) / 16.0;
            }
            prev = t;
        }
        // Hand values: |D| = 40, 64, 120 ticks.
        let hand = {
            let mut j = 0.0;
            for d in [40.0, 64.0, 120.0] {
                j += (d - j) / 16.0;
            }
            j
        };
        assert!((s.jitter_ticks() - hand).abs() < 1e-9 && (j - hand).abs() < 1e-9);
        // Sequence wrapped from 65534 to 1: 4 expected, none lost.
        assert_eq!((s.expected(), s.cumulative_lost(), s.extended_max()), (4, 0, 65_536 + 1));
    }

    #[test]
    fn duplicates_make_the_loss_negative_and_reordering_does_not_count() {
        let mut s = RtpReceiveStats::new(48_000);
        for seq in [10u16, 12, 11, 12, 13] {
            s.update(seq, u32::from(seq) * 960, i64::from(seq) * 20_000);
        }
        assert_eq!((s.expected(), s.received(), s.cumulative_lost()), (4, 5, -1));
        // The stream's first packet arriving second still counts as expected.
        let mut s = RtpReceiveStats::new(8000);
        for seq in [1u16, 0, 2, 4] {
            s.update(seq, u32::from(seq) * 160, i64::from(seq) * 20_000);
        }
        assert_eq!((s.expected(), s.received(), s.cumulative_lost()), (5, 4, 1));
    }

    #[test]
    fn isolated_losses_are_gap_and_close_losses_are_one_burst() {
        let mut m = BurstGapStats::new(16, 20.0);
        let mut pattern = vec![true; 30];
        pattern.push(false); // isolated: gap
        pattern.extend([true; 20]);
        pattern.extend([false, false, true, true, true, false]); // burst of 6, 3 lost
        pattern.extend([true; 16]);
        for p in &pattern {
            m.packet(*p);
        }
        let r = m.report();
        assert_eq!(r.burst_packets, 6);
        assert_eq!(r.burst_lost, 3);
        assert_eq!(r.bursts, 1);
        assert_eq!(r.gap_lost, 1);
        assert_eq!(r.gap_packets, 30 + 1 + 20 + 16);
        assert_eq!(r.burst_packets + r.gap_packets, pattern.len() as u64);
        assert!((r.burst_density - 0.5).abs() < 1e-12);
        assert!((r.gap_density - 1.0 / 67.0).abs() < 1e-12);
        assert!((r.burst_duration_ms - 120.0).abs() < 1e-12);
    }

    #[test]
    fn a_received_run_shorter_than_gmin_keeps_the_burst_open() {
        let mut m = BurstGapStats::new(16, 20.0);
        m.packet(false);
        for _ in 0..15 {
            m.packet(true);
        }
        m.packet(false);
        for _ in 0..16 {
            m.packet(true);
        }
        let r = m.report();
        assert_eq!((r.burst_packets, r.burst_lost, r.bursts), (17, 2, 1));
        assert_eq!((r.gap_packets, r.gap_lost), (16, 0));
    }
}
