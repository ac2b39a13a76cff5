//! [`JitterBufferNode`]: a [`JitterBuffer`] and its decoder as a graph node.

use super::playout::{JitterBuffer, JitterConfig, JitterError, JitterStats};
use crate::codec::Decoder;
use rvoip_media_graph::{
    AudioFormat, MessageError, NodeSpec, PacketMeta, PortKind, PortSpec, ProcessIo, Processor, Quantum,
};
use std::any::Any;

/// The telemetry names of [`JitterBufferNode`], W3C `RTCInboundRtpStreamStats` first.
pub const JITTER_TELEMETRY: &[&str] = &[
    "packetsReceived",
    "packetsLost",
    "packetsDiscarded",
    "jitter",
    "jitterBufferDelay",
    "jitterBufferTargetDelay",
    "jitterBufferMinimumDelay",
    "jitterBufferEmittedCount",
    "totalSamplesReceived",
    "concealedSamples",
    "silentConcealedSamples",
    "concealmentEvents",
    "insertedSamplesForDeceleration",
    "removedSamplesForAcceleration",
    "fecPacketsRecovered",
    "latePackets",
    "duplicatePackets",
    "badPackets",
    "resets",
    "currentDelayMs",
    "targetDelayMs",
    "burstDensity",
    "gapDensity",
    "burstDurationMs",
    "gapDurationMs",
    "codecSwitches",
    "playedPackets",
    "missedPackets",
    "lossRuns",
    "skippedDecodes",
    "foreignPackets",
];

/// A message for [`JitterBufferNode`]: a decoder for another payload type (a live codec
/// switch, see [`JitterBuffer::set_alternate`]). After delivery it holds the alternate
/// decoder it replaced (if any), to be dropped on the control side.
///
/// ```
/// use rvoip_media_graph::{Processor, Quantum};
/// use rvoip_media_nodes::codec::G711CodecDecoder;
/// use rvoip_media_nodes::jitter::{JitterBufferNode, JitterConfig, JitterSwitch};
/// use rvoip_media_nodes::G711Law;
///
/// let dec = Box::new(G711CodecDecoder::new(G711Law::Ulaw));
/// let mut node = JitterBufferNode::new(dec, JitterConfig::default(), Quantum::MS_10).unwrap();
/// let mut switch = JitterSwitch::new(Box::new(G711CodecDecoder::new(G711Law::Alaw)), 8);
/// node.message(&mut switch).unwrap();
/// assert!(switch.decoder().is_none()); // no alternate before
/// ```
pub struct JitterSwitch {
    decoder: Option<Box<dyn Decoder>>,
    payload_type: u8,
}

impl JitterSwitch {
    /// A switch to `decoder` for packets of `payload_type`.
    pub fn new(decoder: Box<dyn Decoder>, payload_type: u8) -> Self {
        JitterSwitch { decoder: Some(decoder), payload_type }
    }

    /// What the message holds: before delivery the new decoder, after it the alternate it
    /// replaced (if any).
    pub fn decoder(&self) -> Option<&dyn Decoder> {
        self.decoder.as_deref()
    }
}

/// Packets in, audio out: an adaptive jitter buffer in front of a decoder (the buffer
/// drives the decoder, as in NetEQ), one stream per node.
///
/// Each cycle the node takes every packet of the burst on its input (their
/// [`PacketMeta::arrival_ns`] is the arrival time; unstamped packets count as arriving at
/// the cycle), then plays one quantum. The playout clock is the cycle: it starts at the
/// newest arrival of the first burst and advances by one quantum per cycle, so the node
/// never reads a clock. Telemetry: [`JITTER_TELEMETRY`], readable at any time.
///
/// [`PacketMeta::arrival_ns`]: rvoip_media_graph::PacketMeta::arrival_ns
///
/// ```
/// use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
/// use rvoip_media_nodes::codec::G711CodecDecoder;
/// use rvoip_media_nodes::jitter::{JitterBufferNode, JitterConfig, JITTER_TELEMETRY};
/// use rvoip_media_nodes::G711Law;
///
/// let dec = Box::new(G711CodecDecoder::new(G711Law::Ulaw));
/// let node = JitterBufferNode::new(dec, JitterConfig::default(), Quantum::MS_10).unwrap();
/// let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
/// for k in 0..50u64 {
///     if k % 2 == 0 {
///         let seq = (k / 2) as u16;
///         let meta = PacketMeta { sequence: seq, timestamp: u32::from(seq) * 160, arrival_ns: k * 10_000_000, ..Default::default() };
///         h.packet_in_mut(0).put(&Packet::from_payload(meta, &[0x7f; 160]).unwrap());
///     } else {
///         h.packet_in_mut(0).clear();
///     }
///     assert_eq!(h.run(), 0);
/// }
/// let mut t = vec![0.0; JITTER_TELEMETRY.len()];
/// use rvoip_media_graph::Processor;
/// h.processor_mut().telemetry(&mut t);
/// assert_eq!(t[0], 25.0); // packetsReceived
/// ```
pub struct JitterBufferNode {
    jb: JitterBuffer,
    quantum_ns: u64,
    /// Time of the current cycle, ns (valid once a packet arrived).
    now_ns: u64,
    started: bool,
}

impl JitterBufferNode {
    /// A node around `decoder` for a graph running at `quantum`.
    ///
    /// # Errors
    /// As [`JitterBuffer::new`].
    pub fn new(decoder: Box<dyn Decoder>, cfg: JitterConfig, quantum: Quantum) -> Result<Self, JitterError> {
        let jb = JitterBuffer::new(decoder, cfg)?;
        Ok(JitterBufferNode { jb, quantum_ns: u64::from(quantum.micros()) * 1000, now_ns: 0, started: false })
    }

    /// With a negotiated payload type.
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.jb = self.jb.with_payload_type(pt);
        self
    }

    /// RFC 6464 silent-leg skip ([`JitterBuffer::with_silence_skip`]).
    pub fn with_silence_skip(mut self, level: u8) -> Self {
        self.jb = self.jb.with_silence_skip(level);
        self
    }

    /// The buffer (statistics).
    pub fn buffer(&self) -> &JitterBuffer {
        &self.jb
    }

    /// One cycle: takes the cycle's `packets` (header facts and payload, in arrival order)
    /// and writes the cycle's audio into `out`; what [`Processor::process`] does with its
    /// input and output ports, for a host that keeps its packets elsewhere (a room kernel's
    /// lanes). The buffer's clock starts at the newest arrival of the first packets and
    /// then advances a quantum per cycle; a packet stamped 0 or ahead of the clock counts as
    /// arriving now. Returns the bad-input events: packets the buffer found bad this
    /// cycle (as `report_error` would count them; also in [`JitterStats::packets_bad`]).
    ///
    /// ```
    /// use rvoip_media_graph::{Packet, PacketMeta, Quantum};
    /// use rvoip_media_nodes::codec::G711CodecDecoder;
    /// use rvoip_media_nodes::jitter::{JitterBufferNode, JitterConfig};
    /// use rvoip_media_nodes::G711Law;
    /// let dec = Box::new(G711CodecDecoder::new(G711Law::Ulaw));
    /// let mut node = JitterBufferNode::new(dec, JitterConfig::default(), Quantum::MS_10).unwrap();
    /// let meta = PacketMeta { arrival_ns: 1, ..PacketMeta::default() };
    /// let good = Packet::from_payload(meta, &[0xff; 80]).unwrap();
    /// let empty = Packet::from_payload(PacketMeta { sequence: 1, timestamp: 80, ..meta }, &[]).unwrap();
    /// let mut out = [0.0f32; 80];
    /// assert_eq!(node.play_cycle([(&good.meta, good.payload())].into_iter(), &mut out), 0);
    /// assert_eq!(node.play_cycle([(&empty.meta, empty.payload())].into_iter(), &mut out), 1);
    /// assert_eq!(node.buffer().stats().packets_bad, 1);
    /// ```
    pub fn play_cycle<'p>(
        &mut self,
        packets: impl Iterator<Item = (&'p PacketMeta, &'p [u8])> + Clone,
        out: &mut [f32],
    ) -> u32 {
        let bad_before = self.jb.packets_bad();
        if self.started {
            self.now_ns = self.now_ns.saturating_add(self.quantum_ns);
        } else if let Some(newest) = packets.clone().map(|(m, _)| m.arrival_ns).max() {
            // The clock starts at the newest arrival of the first burst, the closest to this
            // cycle. An older one (a packet the transport held on RFC 3550 probation comes
            // with its own arrival, a packet earlier) would leave the clock behind the
            // arrivals for the whole stream: every later packet would then count as arriving
            // at its cycle, in 10 ms steps, a spread that made a loopback stream look jittery.
            self.started = true;
            self.now_ns = newest;
        }
        for (meta, payload) in packets {
            let arrival = meta.arrival_ns;
            if arrival == 0 || arrival > self.now_ns {
                // Unstamped, or stamped on another clock ahead of ours: it arrived now.
                let now = PacketMeta { arrival_ns: self.now_ns, ..*meta };
                self.jb.insert_parts(&now, payload);
            } else {
                self.jb.insert_parts(meta, payload);
            }
        }
        self.jb.pull(self.now_ns, out);
        u32::try_from(self.jb.packets_bad() - bad_before).unwrap_or(u32::MAX)
    }
}

impl Processor for JitterBufferNode {
    fn spec(&self) -> NodeSpec {
        let info = self.jb.info();
        NodeSpec::new("jitter_buffer")
            .with_message::<JitterSwitch>()
            .with_telemetry(JITTER_TELEMETRY)
            .with_input(PortSpec::required("in", PortKind::Packet(info.packet_format())))
            .with_output(PortSpec::required("out", PortKind::Audio(AudioFormat::mono(info.sample_rate))))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let packets = io.packets_in(0);
        let errors = self.play_cycle(packets.iter().map(|p| (&p.meta, p.payload())), io.audio_out(0));
        for _ in 0..errors {
            io.report_error();
        }
    }

    fn reset(&mut self) {
        self.jb.reset();
        self.started = false;
    }

    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let switch = msg.downcast_mut::<JitterSwitch>().ok_or(MessageError::WrongType)?;
        self.jb.set_alternate(&mut switch.decoder, switch.payload_type).map_err(|e| match e {
            JitterError::Decoder(why) | JitterError::Config(why) => MessageError::Invalid(why),
            JitterError::Codec(_) => MessageError::Invalid("codec"),
        })
    }

    fn telemetry(&self, out: &mut [f64]) {
        JitterReport::of(&self.jb).write(out);
    }
}

/// What [`JitterBufferNode`] publishes as telemetry, as a struct: the W3C counters and
/// the RFC 3611 burst / gap metrics. [`JitterReport::write`] and [`JitterReport::read`]
/// are the one mapping to and from [`JITTER_TELEMETRY`] order.
///
/// ```
/// use rvoip_media_nodes::codec::G711CodecDecoder;
/// use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig, JitterReport, JITTER_TELEMETRY};
/// use rvoip_media_nodes::G711Law;
///
/// let jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
/// let r = JitterReport::of(&jb);
/// let mut values = vec![0.0; JITTER_TELEMETRY.len()];
/// r.write(&mut values);
/// assert_eq!(JitterReport::read(&values), r);
/// assert_eq!(r.burst_ratio(), 1.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JitterReport {
    /// The W3C `RTCInboundRtpStreamStats` counters and the buffer's own.
    pub stats: JitterStats,
    /// RFC 3611 burst density (Gmin 16), 0..1.
    pub burst_density: f64,
    /// RFC 3611 gap density, 0..1.
    pub gap_density: f64,
    /// Mean burst duration, ms.
    pub burst_duration_ms: f64,
    /// Mean gap duration, ms.
    pub gap_duration_ms: f64,
    /// Packets due in sequence order so far: played, lost or discarded.
    pub played_packets: u64,
    /// Of those, the ones the listener missed (lost or discarded).
    pub missed_packets: u64,
    /// Runs of consecutive missed packets.
    pub loss_runs: u64,
}

impl JitterReport {
    /// The report of `jb` now.
    pub fn of(jb: &JitterBuffer) -> Self {
        let b = jb.burst_gap();
        JitterReport {
            stats: jb.stats(),
            burst_density: b.burst_density,
            gap_density: b.gap_density,
            burst_duration_ms: b.burst_duration_ms,
            gap_duration_ms: b.gap_duration_ms,
            played_packets: b.packets,
            missed_packets: b.lost,
            loss_runs: b.loss_runs,
        }
    }

    /// The values in [`JITTER_TELEMETRY`] order (as many as `out` holds).
    pub fn write(&self, out: &mut [f64]) {
        let s = &self.stats;
        let v = [
            s.packets_received as f64,
            s.packets_lost as f64,
            s.packets_discarded as f64,
            s.jitter,
            s.jitter_buffer_delay,
            s.jitter_buffer_target_delay,
            s.jitter_buffer_minimum_delay,
            s.jitter_buffer_emitted_count as f64,
            s.total_samples_received as f64,
            s.concealed_samples as f64,
            s.silent_concealed_samples as f64,
            s.concealment_events as f64,
            s.inserted_samples_for_deceleration as f64,
            s.removed_samples_for_acceleration as f64,
            s.fec_recovered as f64,
            s.packets_late as f64,
            s.packets_duplicate as f64,
            s.packets_bad as f64,
            s.resets as f64,
            s.current_delay_ms,
            s.target_delay_ms,
            self.burst_density,
            self.gap_density,
            self.burst_duration_ms,
            self.gap_duration_ms,
            s.codec_switches as f64,
            self.played_packets as f64,
            self.missed_packets as f64,
            self.loss_runs as f64,
            s.skipped_decodes as f64,
            s.packets_foreign as f64,
        ];
        for (o, v) in out.iter_mut().zip(v) {
            *o = v;
        }
    }

    /// Reads values in [`JITTER_TELEMETRY`] order back (missing ones are 0).
    pub fn read(values: &[f64]) -> Self {
        let v = |i: usize| values.get(i).copied().unwrap_or(0.0);
        let n = |i: usize| v(i).max(0.0) as u64;
        JitterReport {
            stats: JitterStats {
                packets_received: n(0),
                packets_lost: v(1) as i64,
                packets_discarded: n(2),
                jitter: v(3),
                jitter_buffer_delay: v(4),
                jitter_buffer_target_delay: v(5),
                jitter_buffer_minimum_delay: v(6),
                jitter_buffer_emitted_count: n(7),
                total_samples_received: n(8),
                concealed_samples: n(9),
                silent_concealed_samples: n(10),
                concealment_events: n(11),
                inserted_samples_for_deceleration: n(12),
                removed_samples_for_acceleration: n(13),
                fec_recovered: n(14),
                packets_late: n(15),
                packets_duplicate: n(16),
                packets_bad: n(17),
                resets: n(18),
                current_delay_ms: v(19),
                target_delay_ms: v(20),
                codec_switches: n(25),
                skipped_decodes: n(29),
                packets_foreign: n(30),
            },
            burst_density: v(21),
            gap_density: v(22),
            burst_duration_ms: v(23),
            gap_duration_ms: v(24),
            played_packets: n(26),
            missed_packets: n(27),
            loss_runs: n(28),
        }
    }

    /// Packets the listener missed (lost or discarded) over packets due, 0..1.
    pub fn effective_loss_rate(&self) -> f64 {
        super::loss_rate(self.played_packets, self.missed_packets)
    }

    /// The E-model's burst ratio of those losses ([`burst_ratio`](super::burst_ratio)).
    pub fn burst_ratio(&self) -> f64 {
        super::burst_ratio(self.played_packets, self.missed_packets, self.loss_runs)
    }

    /// What happened between `earlier` and this report (both of one stream): the counters'
    /// differences, so rates and means over a window; the delays and RFC 3611 densities are
    /// this report's.
    ///
    /// ```
    /// use rvoip_media_nodes::jitter::{JitterReport, JitterStats};
    /// let a = JitterReport { played_packets: 100, missed_packets: 1, loss_runs: 1, ..JitterReport::default() };
    /// let b = JitterReport { played_packets: 200, missed_packets: 21, loss_runs: 6, ..JitterReport::default() };
    /// let w = b.since(&a);
    /// assert_eq!((w.played_packets, w.missed_packets, w.loss_runs), (100, 20, 5));
    /// assert!((w.effective_loss_rate() - 0.2).abs() < 1e-12);
    /// ```
    pub fn since(&self, earlier: &JitterReport) -> JitterReport {
        let (s, e) = (&self.stats, &earlier.stats);
        let mut w = *self;
        w.stats.packets_received = s.packets_received.saturating_sub(e.packets_received);
        w.stats.packets_lost = s.packets_lost - e.packets_lost;
        w.stats.packets_discarded = s.packets_discarded.saturating_sub(e.packets_discarded);
        w.stats.jitter_buffer_delay = (s.jitter_buffer_delay - e.jitter_buffer_delay).max(0.0);
        w.stats.jitter_buffer_target_delay = (s.jitter_buffer_target_delay - e.jitter_buffer_target_delay).max(0.0);
        w.stats.jitter_buffer_minimum_delay = (s.jitter_buffer_minimum_delay - e.jitter_buffer_minimum_delay).max(0.0);
        w.stats.jitter_buffer_emitted_count =
            s.jitter_buffer_emitted_count.saturating_sub(e.jitter_buffer_emitted_count);
        w.stats.total_samples_received = s.total_samples_received.saturating_sub(e.total_samples_received);
        w.stats.concealed_samples = s.concealed_samples.saturating_sub(e.concealed_samples);
        w.stats.silent_concealed_samples = s.silent_concealed_samples.saturating_sub(e.silent_concealed_samples);
        w.stats.concealment_events = s.concealment_events.saturating_sub(e.concealment_events);
        w.stats.inserted_samples_for_deceleration =
            s.inserted_samples_for_deceleration.saturating_sub(e.inserted_samples_for_deceleration);
        w.stats.removed_samples_for_acceleration =
            s.removed_samples_for_acceleration.saturating_sub(e.removed_samples_for_acceleration);
        w.stats.fec_recovered = s.fec_recovered.saturating_sub(e.fec_recovered);
        w.stats.packets_late = s.packets_late.saturating_sub(e.packets_late);
        w.stats.packets_duplicate = s.packets_duplicate.saturating_sub(e.packets_duplicate);
        w.stats.packets_bad = s.packets_bad.saturating_sub(e.packets_bad);
        w.stats.packets_foreign = s.packets_foreign.saturating_sub(e.packets_foreign);
        w.played_packets = self.played_packets.saturating_sub(earlier.played_packets);
        w.missed_packets = self.missed_packets.saturating_sub(earlier.missed_packets);
        w.loss_runs = self.loss_runs.saturating_sub(earlier.loss_runs);
        w
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::pcmu;
    use super::*;
    use crate::codec::G711CodecDecoder;
    use crate::g711::G711Law;
    use rvoip_media_graph::NodeHarness;

    /// Runs a node with `cfg` over 20 ms packets 0..n sent every 20 ms, packet k arriving
    /// `transit_us(k)` later, cycles every 10 ms at 10c + 9 ms: each cycle delivers, in one
    /// burst, every packet that arrived since the previous one. With `probation`, packet 0
    /// is held until packet 1 arrives and delivered with it, as the transport does on RFC
    /// 3550 probation, each with its own arrival. Returns the buffer's counters after the
    /// last packet.
    fn run(cfg: JitterConfig, n: u64, probation: bool, transit_us: impl Fn(u64) -> u64) -> JitterStats {
        let node = JitterBufferNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), cfg, Quantum::MS_10).unwrap();
        let mut h = NodeHarness::with_packet_burst(Box::new(node), Quantum::MS_10, 4).unwrap();
        let arrival = |k: u64| 20_000 * k + transit_us(k);
        let delivery = |k: u64| if probation && k == 0 { arrival(1) } else { arrival(k) };
        let (mut next, mut c) = (0, 0);
        // Until the cycle that delivers the last packet: the buffer never runs dry.
        while next < n {
            let at = 10_000 * c + 9_000;
            c += 1;
            let slot = h.packet_in_mut(0);
            slot.clear();
            while next < n && delivery(next) <= at {
                slot.push(&pcmu(next as u16, next as u32 * 160, 0, arrival(next) * 1000)).unwrap();
                next += 1;
            }
            h.run();
        }
        let mut t = vec![0.0; JITTER_TELEMETRY.len()];
        h.processor_mut().telemetry(&mut t);
        JitterReport::read(&t).stats
    }

    #[test]
    fn a_margin_of_one_cycle_holds_on_a_steady_stream() {
        // Packets arrive 0.1 ms before a cycle: 0.2 ms of delay would make one a cycle (10
        // ms) later, which the jitter's margin (1 ms) does not cover. Sessions set a margin
        // of one cycle: the target is that much higher, and the stream still starts early
        // and plays without a timeline move.
        let s = run(JitterConfig::default(), 150, false, |_| 8_900);
        assert!(s.target_delay_ms <= 2.0, "{s:?}");
        let cfg = JitterConfig { min_margin_ms: 10, ..JitterConfig::default() };
        let t = run(cfg, 150, false, |_| 8_900);
        assert!((t.target_delay_ms - s.target_delay_ms - 9.0).abs() <= 1.0, "{s:?} {t:?}");
        for s in [s, t] {
            assert_eq!((s.packets_late, s.concealment_events), (0, 0), "{s:?}");
            assert_eq!((s.removed_samples_for_acceleration, s.inserted_samples_for_deceleration), (0, 0), "{s:?}");
        }
        assert_eq!(s.jitter_buffer_delay, t.jitter_buffer_delay, "the same start");
    }

    #[test]
    fn a_probation_held_first_packet_does_not_delay_the_clock() {
        // The transport holds a new stream's first packet on RFC 3550 probation and hands it
        // on with the second, in one burst, each with its own arrival (20 ms apart). The
        // playout clock must start at the newest of them: started at the held packet's, it
        // ran 20 ms behind every later arrival, and a perfectly steady stream looked late
        // (a higher target, twice the mean delay, a timeline cut). So the held start must
        // play like the same stream without probation, at any phase of the cycles.
        let cfg = JitterConfig { min_margin_ms: 10, ..JitterConfig::default() };
        for transit in [1_000, 5_000, 8_900] {
            let steady = run(cfg, 300, false, |_| transit);
            let held = run(cfg, 300, true, |_| transit);
            let mean_ms = |s: &JitterStats| 1000.0 * s.jitter_buffer_delay / s.jitter_buffer_emitted_count as f64;
            assert_eq!(held.target_delay_ms, steady.target_delay_ms, "transit {transit} us: {held:?} {steady:?}");
            assert!((mean_ms(&held) - mean_ms(&steady)).abs() <= 1.0, "transit {transit} us: {held:?} {steady:?}");
            assert_eq!(
                (held.removed_samples_for_acceleration, held.inserted_samples_for_deceleration),
                (0, 0),
                "transit {transit} us: {held:?}"
            );
            assert_eq!((held.packets_late, held.concealment_events), (0, 0), "transit {transit} us: {held:?}");
        }
    }
}
