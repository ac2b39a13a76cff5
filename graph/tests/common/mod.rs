//! Helpers shared by the integration tests: formats and processors that only have a spec.
#![allow(dead_code)]

use rvoip_media_graph::{
    AudioFormat, GraphBuilder, NodeId, NodeSpec, PacketFormat, PortKind, PortSpec, ProcessIo, Processor,
};

/// Mono 8 kHz: 80 samples per 10 ms.
pub const A8: PortKind = PortKind::Audio(AudioFormat::mono(8000));
/// Mono 16 kHz: 160 samples per 10 ms.
pub const A16: PortKind = PortKind::Audio(AudioFormat::mono(16_000));
/// Stereo 48 kHz: 960 samples per 10 ms.
pub const A48S: PortKind = PortKind::Audio(AudioFormat { rate: 48_000, channels: 2 });
/// PCMU packets.
pub const PCMU: PortKind = PortKind::Packet(PacketFormat { encoding: "PCMU", clock_rate: 8000, channels: 1 });
/// Control values.
pub const CTL: PortKind = PortKind::Control;

const IN_NAMES: [&str; 4] = ["in0", "in1", "in2", "in3"];
const OUT_NAMES: [&str; 4] = ["out0", "out1", "out2", "out3"];

/// A processor that has a spec and does nothing.
pub struct Dummy(pub NodeSpec);

impl Processor for Dummy {
    fn spec(&self) -> NodeSpec {
        self.0.clone()
    }
    fn process(&mut self, _io: &mut ProcessIo<'_>) {}
}

/// A spec with required inputs `in0..` and outputs `out0..` of the given kinds.
pub fn spec(ins: &[PortKind], outs: &[PortKind]) -> NodeSpec {
    let mut s = NodeSpec::new("dummy");
    for (name, &k) in IN_NAMES.iter().zip(ins) {
        s = s.with_input(PortSpec::required(name, k));
    }
    for (name, &k) in OUT_NAMES.iter().zip(outs) {
        s = s.with_output(PortSpec::required(name, k));
    }
    s
}

/// Adds a [`Dummy`] with required inputs `in0..` and outputs `out0..`.
pub fn dummy(b: &mut GraphBuilder, name: &str, ins: &[PortKind], outs: &[PortKind]) -> NodeId {
    b.add_node(name, Box::new(Dummy(spec(ins, outs))))
}

/// As [`dummy`], with a latency in ns.
pub fn dummy_lat(b: &mut GraphBuilder, name: &str, ins: &[PortKind], outs: &[PortKind], ns: u64) -> NodeId {
    b.add_node(name, Box::new(Dummy(spec(ins, outs).with_latency_ns(ns))))
}

/// Node ids from raw numbers.
pub fn ids(raw: &[u32]) -> Vec<NodeId> {
    raw.iter().map(|&i| NodeId(i)).collect()
}
