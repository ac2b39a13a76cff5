//! Any-to-any transcoding: packets of one codec in, packets of another out, through one
//! graph — decode → resample (when the audio rates differ) → encode.
//!
//! A [`Transcoder`] runs that graph itself, one quantum per [`Transcoder::process`] call,
//! and keeps statistics (packets, errors, processing time per quantum). For thousands of
//! sessions, [`transcode_graph`] builds the same graph to place on an
//! [`Engine`](crate::Engine) as a partition instead.
//!
//! ```
//! use rvoip_media_core::transcoder::Transcoder;
//! use rvoip_media_graph::{Packet, PacketMeta, Quantum};
//! use rvoip_media_nodes::codec::CodecId;
//!
//! // PCMU (8 kHz) in, G.722 (16 kHz) out, 20 ms packets on both sides.
//! let mut t = Transcoder::between(CodecId::Pcmu, CodecId::G722, 20_000, Quantum::MS_10).unwrap();
//! let pcmu = Packet::from_payload(PacketMeta::default(), &[0xFF; 160]).unwrap(); // 20 ms of silence
//! let mut out = 0;
//! for cycle in 0..10 {
//!     // A 20 ms packet arrives every second 10 ms quantum.
//!     let input = (cycle % 2 == 0).then_some(&pcmu);
//!     if let Some(p) = t.process(input) {
//!         assert_eq!(p.len(), 160); // 20 ms of G.722: 320 samples, 1 byte per 2
//!         out += 1;
//!     }
//! }
//! assert_eq!((t.stats().packets_in, t.stats().packets_out), (5, out));
//! assert!(out >= 4);
//! ```

use rvoip_media_graph::{CompiledGraph, GraphBuilder, GraphError, Packet, PlanError, PlanExecutor, PortKind, Quantum};
use rvoip_media_nodes::codec::{CodecError, CodecId, DecodeNode, Decoder, EncodeNode, Encoder};
use rvoip_media_nodes::resample::{ResampleError, ResamplerNode};
use std::time::Instant;

/// Why a transcoder could not be built.
///
/// ```
/// use rvoip_media_core::transcoder::{TranscodeError, Transcoder};
/// use rvoip_media_graph::Quantum;
/// use rvoip_media_nodes::codec::{CodecError, CodecId};
/// // G.722 is not sent in 25 ms packets (the error lists the ptimes it takes).
/// let t = Transcoder::between(CodecId::Pcmu, CodecId::G722, 25_000, Quantum::MS_10);
/// assert!(matches!(t, Err(TranscodeError::Codec(CodecError::UnsupportedPtime { got_us: 25_000, .. }))));
/// // Stereo Opus in, mono PCMA out.
/// let (dec, enc) = (CodecId::Opus.decoder(48_000, 2)?, CodecId::Pcma.encoder(8000, 1, false)?);
/// let t = Transcoder::new(dec, enc, 20_000, Quantum::MS_10);
/// assert!(matches!(t, Err(TranscodeError::Channels { from: 2, to: 1 })));
/// # Ok::<(), CodecError>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// A codec refused its configuration (rate, channels, ptime), naming what it supports.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// No resampler between the two audio rates.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// The graph was refused.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The plan could not be loaded.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The two codecs carry different channel counts.
    #[error("channel counts differ: {from} in, {to} out")]
    Channels {
        /// Decoder channels.
        from: u16,
        /// Encoder channels.
        to: u16,
    },
}

/// What a [`Transcoder`] has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TranscodeStats {
    /// Quanta processed.
    pub cycles: u64,
    /// Packets fed in.
    pub packets_in: u64,
    /// Packets produced.
    pub packets_out: u64,
    /// Bad-input events (malformed or wrong-size payloads, non-finite audio) reported by the
    /// nodes; each was concealed, not propagated.
    pub errors: u64,
    /// Mean processing time per quantum, µs.
    pub avg_latency_us: f64,
    /// Longest processing time of a quantum, µs.
    pub max_latency_us: f64,
}

/// Builds the transcoding graph: packet input `"in"` (the decoder's format) → decode →
/// resample when the rates differ → encode with `ptime_us` packets → packet output `"out"`.
pub fn transcode_graph(
    decoder: Box<dyn Decoder>,
    encoder: Box<dyn Encoder>,
    ptime_us: u32,
    quantum: Quantum,
) -> Result<CompiledGraph, TranscodeError> {
    let (din, ein) = (*decoder.info(), *encoder.info());
    if din.channels != ein.channels {
        return Err(TranscodeError::Channels { from: din.channels, to: ein.channels });
    }
    let dec = DecodeNode::new(decoder, quantum)?;
    let enc = EncodeNode::new(encoder, ptime_us, quantum)?;
    let mut b = GraphBuilder::new(quantum);
    let input = b.add_input("in", PortKind::Packet(din.packet_format()));
    let d = b.add_node("decode", Box::new(dec));
    let e = b.add_node("encode", Box::new(enc));
    let output = b.add_output("out", PortKind::Packet(ein.packet_format()));
    b.connect(input, 0, d, 0)?;
    if din.sample_rate == ein.sample_rate {
        b.connect(d, 0, e, 0)?;
    } else {
        let r = b.add_node("resample", Box::new(ResamplerNode::new(din.sample_rate, ein.sample_rate, din.channels)?));
        b.connect(d, 0, r, 0)?;
        b.connect(r, 0, e, 0)?;
    }
    b.connect(e, 0, output, 0)?;
    Ok(b.build()?)
}

/// A transcoding session run in place, one quantum per call.
pub struct Transcoder {
    exec: PlanExecutor,
    stats: TranscodeStats,
    total_ns: u128,
    latency_ns: u64,
}

impl Transcoder {
    /// A session between any decoder and encoder; the encoder sends `ptime_us` packets.
    pub fn new(
        decoder: Box<dyn Decoder>,
        encoder: Box<dyn Encoder>,
        ptime_us: u32,
        quantum: Quantum,
    ) -> Result<Self, TranscodeError> {
        let graph = transcode_graph(decoder, encoder, ptime_us, quantum)?;
        let latency_ns = graph.plan.outputs[0].latency_ns;
        Ok(Transcoder { exec: PlanExecutor::new(graph)?, stats: TranscodeStats::default(), total_ns: 0, latency_ns })
    }

    /// A mono session between two codecs, each at its native (widest) audio rate; G.729
    /// without Annex B.
    pub fn between(from: CodecId, to: CodecId, ptime_us: u32, quantum: Quantum) -> Result<Self, TranscodeError> {
        let decoder = from.decoder(from.native_rate(), 1)?;
        let encoder = to.encoder(to.native_rate(), 1, false)?;
        Self::new(decoder, encoder, ptime_us, quantum)
    }

    /// Processes one quantum. `input` is the packet that arrived for this quantum, if any
    /// (packets longer than a quantum arrive every few calls; a missing one is concealed).
    /// Returns the packet the encoder completed this quantum, if any. Never allocates.
    pub fn process(&mut self, input: Option<&Packet>) -> Option<&Packet> {
        let t0 = Instant::now();
        let slot = self.exec.input_packet_mut(0);
        match input {
            Some(p) => {
                slot.put(p);
                self.stats.packets_in += 1;
            }
            None => slot.clear(),
        }
        let report = self.exec.run_cycle();
        let ns = t0.elapsed().as_nanos();
        let s = &mut self.stats;
        s.cycles += 1;
        s.errors += u64::from(report.errors);
        self.total_ns += ns;
        s.avg_latency_us = self.total_ns as f64 / s.cycles as f64 / 1e3;
        s.max_latency_us = s.max_latency_us.max(ns as f64 / 1e3);
        let out = self.exec.output_packet(0);
        s.packets_out += u64::from(out.is_some());
        out
    }

    /// Statistics so far.
    pub fn stats(&self) -> TranscodeStats {
        self.stats
    }

    /// Algorithmic delay from input to output (packetisation and resampling), ns.
    pub fn latency_ns(&self) -> u64 {
        self.latency_ns
    }
}
