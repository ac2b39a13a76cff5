//! [`JitterBufferNode`]: a [`JitterBuffer`] and its decoder as a graph node.

use super::playout::{JitterBuffer, JitterConfig, JitterError};
use crate::codec::Decoder;
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor, Quantum};

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
];

/// Packets in, audio out: an adaptive jitter buffer in front of a decoder (the buffer
/// drives the decoder, as in NetEQ), one stream per node.
///
/// Each cycle the node takes every packet of the burst on its input (their
/// [`PacketMeta::arrival_ns`] is the arrival time; unstamped packets count as arriving at
/// the cycle), then plays one quantum. The playout clock is the cycle: it starts at the
/// first packet's arrival and advances by one quantum per cycle, so the node never reads a
/// clock. Telemetry: [`JITTER_TELEMETRY`], readable at any time.
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

    /// The buffer (statistics).
    pub fn buffer(&self) -> &JitterBuffer {
        &self.jb
    }
}

impl Processor for JitterBufferNode {
    fn spec(&self) -> NodeSpec {
        let info = self.jb.info();
        NodeSpec::new("jitter_buffer")
            .with_telemetry(JITTER_TELEMETRY)
            .with_input(PortSpec::required("in", PortKind::Packet(info.packet_format())))
            .with_output(PortSpec::required("out", PortKind::Audio(AudioFormat::mono(info.sample_rate))))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let packets = io.packets_in(0);
        if self.started {
            self.now_ns = self.now_ns.saturating_add(self.quantum_ns);
        }
        for p in packets {
            let arrival = p.meta.arrival_ns;
            if !self.started {
                self.started = true;
                self.now_ns = arrival;
            }
            if arrival == 0 || arrival > self.now_ns {
                // Unstamped, or stamped on another clock ahead of ours: it arrived now.
                let mut q = p.clone();
                q.meta.arrival_ns = self.now_ns;
                self.jb.insert(&q);
            } else {
                self.jb.insert(p);
            }
        }
        let out = io.audio_out(0);
        self.jb.pull(self.now_ns, out);
    }

    fn reset(&mut self) {
        self.jb.reset();
        self.started = false;
    }

    fn telemetry(&self, out: &mut [f64]) {
        let s = self.jb.stats();
        let b = self.jb.burst_gap();
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
            b.burst_density,
            b.gap_density,
            b.burst_duration_ms,
            b.gap_duration_ms,
        ];
        for (o, v) in out.iter_mut().zip(v) {
            *o = v;
        }
    }
}
