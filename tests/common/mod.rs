//! Processors for runtime tests, independent of the node library.
#![allow(dead_code)]

use rvoip_media_core::prelude::*;
use rvoip_media_graph::{ParamError, ParamSpec};

/// Multiplies by a linear gain (param 0, -100..=100).
pub struct Scale {
    pub format: AudioFormat,
    pub gain: f32,
}

impl Processor for Scale {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        NodeSpec::new("scale")
            .with_input(PortSpec::required("in", a))
            .with_output(PortSpec::required("out", a))
            .with_param(ParamSpec { id: 0, name: "gain", min: -100.0, max: 100.0, default: 1.0 })
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let input = io.audio_in(0);
        let g = self.gain;
        for (o, i) in io.audio_out(0).iter_mut().zip(input) {
            *o = *i * g;
        }
    }
    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        match id {
            0 => {
                self.gain = value;
                Ok(())
            }
            _ => Err(ParamError::Unknown(id)),
        }
    }
}

/// Panics on the given cycle.
pub struct PanicAt {
    pub format: AudioFormat,
    pub cycle: u64,
}

impl Processor for PanicAt {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        NodeSpec::new("panic-at").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        assert!(io.cycle() != self.cycle, "deliberate test panic");
        let input = io.audio_in(0);
        io.audio_out(0).copy_from_slice(input);
    }
}

pub fn mono8k() -> AudioFormat {
    AudioFormat::mono(8000)
}

/// input "in" -> `k` Scale nodes (gain `g` each, named s0..) -> output "out".
pub fn chain(quantum: Quantum, k: usize, g: f32) -> CompiledGraph {
    let f = mono8k();
    let a = PortKind::Audio(f);
    let mut b = GraphBuilder::new(quantum);
    let mut prev = b.add_input("in", a);
    for i in 0..k {
        let n = b.add_node(format!("s{i}"), Box::new(Scale { format: f, gain: g }));
        b.connect(prev, 0, n, 0).unwrap();
        prev = n;
    }
    let out = b.add_output("out", a);
    b.connect(prev, 0, out, 0).unwrap();
    b.build().unwrap()
}

/// Busy-waits `micros` on every `every`-th cycle (to overrun a quantum on purpose).
pub struct Spin {
    pub format: AudioFormat,
    pub every: u64,
    pub micros: u64,
}

impl Processor for Spin {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        NodeSpec::new("spin").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        if io.cycle() % self.every == self.every - 1 {
            let t = std::time::Instant::now();
            while t.elapsed().as_micros() < u128::from(self.micros) {
                std::hint::spin_loop();
            }
        }
        let input = io.audio_in(0);
        io.audio_out(0).copy_from_slice(input);
    }
}
