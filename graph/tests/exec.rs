//! Runs compiled plans with fan-in through `PlanExecutor` and checks the samples.

mod common;

use common::*;
use rvoip_media_graph::{GraphBuilder, NodeSpec, PortSpec, ProcessIo, Processor, Quantum, Step};

/// Writes `scale * (j + 1)` to sample `j`.
struct Ramp(f32);

impl Processor for Ramp {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("ramp").with_output(PortSpec::required("out", A8))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        for (j, s) in io.audio_out(0).iter_mut().enumerate() {
            *s = self.0 * (j + 1) as f32;
        }
    }
}

/// `out = in * (gain + extra)`; an unconnected `extra` reads silence, 0.0.
struct Gain(f32);

impl Processor for Gain {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("gain")
            .with_input(PortSpec::required("in", A8))
            .with_input(PortSpec::optional("extra", CTL))
            .with_output(PortSpec::required("out", A8))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let g = self.0 + io.control_in(1);
        let input = io.audio_in(0);
        for (o, i) in io.audio_out(0).iter_mut().zip(input) {
            *o = *i * g;
        }
    }
}

/// Emits a fixed control value.
struct Level(f32);

impl Processor for Level {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("level").with_output(PortSpec::required("out", CTL))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        io.set_control(0, self.0);
    }
}

#[test]
fn fan_in_sums_sample_by_sample() {
    // mic -> g1(x0.5) -> mix ; ramp -> mix ; mic -> mix   (3 edges into mix.in)
    // mix(x1, extra = l1 + l2) -> spk ; l1 + l2 -> level (graph output with fan-in)
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let mic = b.add_input("mic", A8);
    let g1 = b.add_node("g1", Box::new(Gain(0.5)));
    let ramp = b.add_node("ramp", Box::new(Ramp(1.0 / 256.0)));
    let mix = b.add_node("mix", Box::new(Gain(1.0)));
    let l1 = b.add_node("l1", Box::new(Level(0.25)));
    let l2 = b.add_node("l2", Box::new(Level(0.5)));
    let spk = b.add_output("spk", A8);
    let level = b.add_output("level", CTL);
    b.connect(mic, 0, g1, 0).unwrap();
    b.connect(g1, 0, mix, 0).unwrap();
    b.connect(ramp, 0, mix, 0).unwrap();
    b.connect(mic, 0, mix, 0).unwrap();
    b.connect(l1, 0, mix, 1).unwrap();
    b.connect(l2, 0, mix, 1).unwrap();
    b.connect(mix, 0, spk, 0).unwrap();
    b.connect(l1, 0, level, 0).unwrap();
    b.connect(l2, 0, level, 0).unwrap();
    let graph = b.build().unwrap();
    let sums = graph.plan.steps.iter().filter(|s| matches!(s, Step::Sum { .. })).count();
    assert_eq!(sums, 3, "two sums before mix, one for the level output");
    let mut exec = rvoip_media_graph::PlanExecutor::new(graph).unwrap();

    for cycle in 0..3 {
        let offset = cycle as f32;
        for (j, s) in exec.input_audio_mut(0).iter_mut().enumerate() {
            *s = (j as f32 - 40.0 + offset) / 128.0;
        }
        let report = exec.run_cycle();
        assert_eq!(report.errors, 0);
        let out = exec.output_audio(0);
        assert_eq!(out.len(), 80);
        for (j, &y) in out.iter().enumerate() {
            let m = (j as f32 - 40.0 + offset) / 128.0;
            // The sum adds in edge order: g1, ramp, mic. Then mix's gain is 1 + 0.25 + 0.5.
            // Every term is dyadic, so the float result is exact.
            let expected = (0.5 * m + (j + 1) as f32 / 256.0 + m) * 1.75;
            assert_eq!(y, expected, "cycle {cycle}, sample {j}");
        }
        assert_eq!(exec.output_control(1), 0.75);
    }
    assert_eq!(exec.cycles(), 3);
}

#[test]
fn unconnected_optional_control_reads_zero() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let mic = b.add_input("mic", A8);
    let g = b.add_node("g", Box::new(Gain(2.0)));
    let spk = b.add_output("spk", A8);
    b.connect(mic, 0, g, 0).unwrap();
    b.connect(g, 0, spk, 0).unwrap();
    let mut exec = rvoip_media_graph::PlanExecutor::new(b.build().unwrap()).unwrap();
    exec.input_audio_mut(0).fill(0.125);
    exec.run_cycle();
    assert!(exec.output_audio(0).iter().all(|&s| s == 0.25));
}
