//! [`ResamplerNode`]: the resampler as a graph node.

use super::{ResampleError, Resampler};
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};

/// Graph node converting audio at one rate to another: input port `in` (audio at `rate_in`),
/// output port `out` (audio at `rate_out`), the same channel count on both, one quantum each.
///
/// Every quantum of `rate_in · q` input frames yields exactly `rate_out · q` output frames
/// (the filter is causal: its first output needs only the first input sample). The fixed delay
/// of [`Resampler::latency`] is reported in the spec's `latency_ns`.
///
/// Like every node of this crate, a quantum with NaN or infinite input samples yields a silent
/// output quantum and a [`ProcessIo::report_error`]; the bad samples enter the filter history as
/// zeros, so the following quanta are clean. A quantum whose size does not match the ports is
/// also reported (the output is completed with zeros).
///
/// ```
/// use rvoip_media_graph::{NodeHarness, Quantum};
/// use rvoip_media_nodes::resample::ResamplerNode;
///
/// let node = ResamplerNode::new(16_000, 48_000, 1)?;
/// let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
/// assert_eq!(h.spec().latency_ns, 3_229_167); // 155 samples at 48 kHz
/// h.audio_in_mut(0).fill(0.5);
/// for _ in 0..3 {
///     assert_eq!(h.run(), 0);
/// }
/// assert_eq!(h.audio_out(0).len(), 480);
/// assert!(h.audio_out(0).iter().all(|s| (s - 0.5).abs() < 1e-5));
/// # Ok::<(), rvoip_media_nodes::resample::ResampleError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ResamplerNode {
    rs: Resampler,
    nonfinite_seen: u64,
}

impl ResamplerNode {
    /// A node converting `channels`-channel audio from `rate_in` to `rate_out` Hz.
    pub fn new(rate_in: u32, rate_out: u32, channels: u16) -> Result<Self, ResampleError> {
        Ok(ResamplerNode { rs: Resampler::new(rate_in, rate_out, usize::from(channels))?, nonfinite_seen: 0 })
    }

    /// The underlying resampler.
    pub fn resampler(&self) -> &Resampler {
        &self.rs
    }

    /// The fixed delay from input to output, in nanoseconds (rounded to the nearest ns).
    pub fn latency_ns(&self) -> u64 {
        let d = self.rs.latency() as u64;
        let r = u64::from(self.rs.rate_out());
        (d * 1_000_000_000 + r / 2) / r
    }
}

impl Processor for ResamplerNode {
    fn spec(&self) -> NodeSpec {
        let ch = self.rs.channels() as u16;
        let fin = AudioFormat { rate: self.rs.rate_in(), channels: ch };
        let fout = AudioFormat { rate: self.rs.rate_out(), channels: ch };
        NodeSpec::new("resample")
            .with_input(PortSpec::required("in", PortKind::Audio(fin)))
            .with_output(PortSpec::required("out", PortKind::Audio(fout)))
            .with_latency_ns(self.latency_ns())
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let input = io.audio_in(0);
        let out = io.audio_out(0);
        let (consumed, produced) = self.rs.process(input, out);
        let mut bad = consumed != input.len() || produced != out.len();
        if produced < out.len() {
            out[produced..].fill(0.0);
        }
        let nf = self.rs.nonfinite_count();
        if nf != self.nonfinite_seen {
            self.nonfinite_seen = nf;
            out.fill(0.0);
            bad = true;
        }
        if bad {
            io.report_error();
        }
    }

    fn reset(&mut self) {
        self.rs.reset();
        self.nonfinite_seen = 0;
    }
}

/// A [`Converter`](rvoip_media_graph::Converter) for
/// [`GraphBuilder::with_converter`](rvoip_media_graph::GraphBuilder::with_converter): a
/// [`ResamplerNode`] between two formats with the same channel count and supported rates,
/// `None` otherwise.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphBuilder, PortKind, Quantum};
/// use rvoip_media_nodes::resample::converter;
///
/// let mut b = GraphBuilder::new(Quantum::MS_10).with_converter(converter);
/// let narrow = b.add_input("pstn", PortKind::Audio(AudioFormat::mono(8000)));
/// let wide = b.add_output("webrtc", PortKind::Audio(AudioFormat::mono(48_000)));
/// b.connect(narrow, 0, wide, 0).unwrap(); // a resampler is inserted
/// let g = b.build().unwrap();
/// assert_eq!(g.plan.node_steps(), 1);
/// assert!(g.plan.outputs[0].latency_ns > 0);
/// ```
pub fn converter(from: AudioFormat, to: AudioFormat) -> Option<Box<dyn Processor>> {
    if from.channels != to.channels {
        return None;
    }
    let node = ResamplerNode::new(from.rate, to.rate, from.channels).ok()?;
    Some(Box::new(node))
}
