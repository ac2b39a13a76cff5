//! [`Sum`] (N inputs into one) and [`Tee`] (one input to N outputs).

use crate::kernels;
use crate::ports::{input_name, output_name};
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};

/// N audio inputs summed into one output (unclamped `f32`). Bad inputs (NaN, ±Inf, beyond
/// [`crate::kernels::MAX_SANE`]) are left out and reported, as in the [`Mixer`](super::Mixer).
///
/// Ports: optional inputs `"in0"`..`"in{N-1}"`, output `"out"`.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
/// let mut h = NodeHarness::new(Box::new(rvoip_media_nodes::Sum::new(2, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
/// h.audio_in_mut(0).fill(0.75);
/// h.audio_in_mut(1).fill(0.5);
/// h.run();
/// assert!(h.audio_out(0).iter().all(|&s| s == 1.25));
/// ```
#[derive(Clone, Debug)]
pub struct Sum {
    format: AudioFormat,
    inputs: usize,
}

impl Sum {
    /// A sum of `inputs` streams of `format`.
    pub fn new(inputs: usize, format: AudioFormat) -> Self {
        Sum { format, inputs }
    }
}

impl Processor for Sum {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        let mut s = NodeSpec::new("sum").with_output(PortSpec::required("out", a));
        for i in 0..self.inputs {
            s = s.with_input(PortSpec::optional(input_name(i), a));
        }
        s
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        io.audio_out(0).fill(0.0);
        for i in 0..io.num_inputs() {
            let x = io.audio_in(i);
            if kernels::all_sane(x) {
                kernels::accumulate(io.audio_out(0), x);
            } else {
                io.report_error();
            }
        }
    }
}

/// One audio input copied to N outputs. A bad input (NaN, ±Inf, beyond
/// [`crate::kernels::MAX_SANE`]) gives silence on every output and one reported error.
///
/// Ports: input `"in"`, outputs `"out0"`..`"out{N-1}"`.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
/// let mut h = NodeHarness::new(Box::new(rvoip_media_nodes::Tee::new(3, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
/// h.audio_in_mut(0).fill(0.5);
/// h.run();
/// assert!((0..3).all(|o| h.audio_out(o).iter().all(|&s| s == 0.5)));
/// ```
#[derive(Clone, Debug)]
pub struct Tee {
    format: AudioFormat,
    outputs: usize,
}

impl Tee {
    /// A tee of one `format` stream into `outputs` copies.
    pub fn new(outputs: usize, format: AudioFormat) -> Self {
        Tee { format, outputs }
    }
}

impl Processor for Tee {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        let mut s = NodeSpec::new("tee").with_input(PortSpec::required("in", a));
        for i in 0..self.outputs {
            s = s.with_output(PortSpec::required(output_name(i), a));
        }
        s
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let x = io.audio_in(0);
        let ok = kernels::all_sane(x);
        if !ok {
            io.report_error();
        }
        for o in 0..io.num_outputs() {
            let out = io.audio_out(o);
            if ok {
                out.copy_from_slice(x);
            } else {
                out.fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::{NodeHarness, Quantum};

    #[test]
    fn sum_and_tee() {
        let f = AudioFormat::mono(8000);
        let mut s = NodeHarness::new(Box::new(Sum::new(3, f)), Quantum::MS_10).unwrap();
        s.audio_in_mut(0).fill(0.25);
        s.audio_in_mut(1).fill(f32::NAN);
        s.audio_in_mut(2).fill(1.0);
        assert_eq!(s.run(), 1);
        assert!(s.audio_out(0).iter().all(|&v| v == 1.25));
        let mut t = NodeHarness::new(Box::new(Tee::new(2, f)), Quantum::MS_10).unwrap();
        for (k, v) in t.audio_in_mut(0).iter_mut().enumerate() {
            *v = k as f32 / 100.0;
        }
        assert_eq!(t.run(), 0);
        assert!(t.audio_out(1).iter().enumerate().all(|(k, &v)| v == k as f32 / 100.0));
        t.audio_in_mut(0)[3] = f32::NEG_INFINITY;
        assert_eq!(t.run(), 1);
        assert!(t.audio_out(0).iter().chain(t.audio_out(1)).all(|&v| v == 0.0));
    }
}
