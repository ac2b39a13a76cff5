//! The compiler: a [`GraphBuilder`]'s nodes and edges become a [`Plan`].
//!
//! Compilation is a pipeline of small passes, each in its own module and tested on its own:
//!
//! 1. [`validate`]: refuses graphs no schedule can run, naming the nodes and ports at fault:
//!    duplicate node names, audio formats that do not hold a whole number of frames per
//!    quantum (44.1 kHz at 2.5 ms) or carry no samples, required inputs without an edge.
//!    [`GraphBuilder::connect`] already refuses unknown ports, format mismatches, duplicate
//!    edges and packet fan-in; the pass checks those again, so a plan is never built from
//!    edges that bypassed `connect`.
//! 2. [`topology`]: adjacency lists (sources of every input port, successors of every node)
//!    built once, so later passes never scan the edge list.
//! 3. [`sort`]: Kahn's topological sort. Among ready nodes the smallest [`NodeId`] goes
//!    first, so the order depends only on the graph, never on hashing or edge order. When
//!    nodes remain, they contain a cycle; the error names the nodes of one actual cycle in
//!    edge order, starting from its smallest id.
//! 4. [`schedule`]: walks the order and emits one [`Step::Node`] per processing node, with a
//!    [`Step::Sum`] immediately before it for every input port that has more than one
//!    incoming edge (ports in index order). A graph output with fan-in gets its sum step
//!    where the output stands in the order. Graph inputs and outputs are not steps: the host
//!    writes the former before the cycle and reads the latter after it. The pass names
//!    buffers by *value* (one per output port, one per sum), not by index yet.
//! 5. [`buffers`]: gives every value an arena index. See *Buffer rules* below.
//! 6. [`latency`]: for every node, the largest sum of [`NodeSpec::latency_ns`] over the
//!    paths that end in it (the node included); a graph output reports its own.
//!
//! # Buffer rules
//!
//! Each buffer kind (audio, packet, control) has its own arena and is allocated on its own.
//! A value is *live* from the step that writes it to the last step that reads it:
//!
//! * Allocation takes the lowest free index of the value's kind.
//! * Graph-input buffers are allocated first, before step 0, in declaration order. They stay
//!   reserved until their last reader; an input nobody reads keeps its buffer for the whole
//!   cycle, so the host's write never lands in a buffer a step uses.
//! * At each step the outputs are allocated (in port order) *before* the buffers the step
//!   reads for the last time are released, so a step never reads and writes the same buffer
//!   ([`crate::Arena::check_step`] and [`crate::ProcessIo`] rely on it). A sum step follows
//!   the same rule.
//! * A value read by a graph output stays live to the end of the cycle.
//! * An output port nobody reads still gets a buffer (the node writes it), released right
//!   after its step, so the next step can reuse it as scratch.
//! * An unconnected optional input reads the arena's read-only silent slot
//!   ([`BufferRef::silence`]).
//!
//! Because values are allocated in the order they start and released right after they end,
//! the number of buffers of each kind equals the largest number of values of that kind live
//! at the same time: no smaller assignment exists.
//!
//! Graph-input buffers are reused after their last reader, and a graph output may get the
//! index an input had: per cycle, write every input, run, then read the outputs.
//!
//! [`GraphBuilder`]: crate::GraphBuilder
//! [`GraphBuilder::connect`]: crate::GraphBuilder::connect
//! [`NodeId`]: crate::NodeId
//! [`NodeSpec::latency_ns`]: crate::NodeSpec::latency_ns

mod buffers;
mod latency;
mod schedule;
mod sort;
mod topology;
pub(crate) mod validate;

use crate::builder::GraphBuilder;
use crate::error::GraphError;
use crate::format::{PortKind, Quantum};
use crate::node::NodeId;
use crate::plan::{BufferCounts, BufferRef, Plan, PlanPort, Step};
use buffers::Assignment;
use schedule::{Operand, Schedule, VStep};
use topology::Topology;

/// Runs every pass and assembles the plan.
pub(crate) fn compile(g: &GraphBuilder) -> Result<Plan, GraphError> {
    validate::validate(g)?;
    let topo = Topology::new(g);
    let order = sort::topological_order(g, &topo)?;
    let sched = schedule::schedule(g, &topo, &order);
    let assignment = buffers::assign(&sched);
    let latency = latency::node_latencies(g, &topo, &order);
    Ok(assemble(g, order, &sched, &assignment, &latency))
}

/// Samples per quantum of an audio port (1 for packet and control ports). Validation has
/// checked that every audio format divides the quantum and fits in `u32`.
pub(crate) fn port_len(kind: PortKind, quantum: Quantum) -> u32 {
    match kind {
        PortKind::Audio(f) => f.samples_per_quantum(quantum).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        PortKind::Packet(_) | PortKind::Control => 1,
    }
}

/// Last pass: replaces values by their buffers and fills in the plan's ports and sizes.
fn assemble(g: &GraphBuilder, order: Vec<NodeId>, sched: &Schedule, assignment: &Assignment, latency: &[u64]) -> Plan {
    let buf = |op: &Operand| match *op {
        Operand::Value(v) => assignment.buffer(v),
        Operand::Silence(shape) => BufferRef::silence(shape.kind, shape.len),
    };
    let steps = sched
        .steps
        .iter()
        .map(|s| match s {
            VStep::Node { node, inputs, outputs } => Step::Node {
                node: *node,
                inputs: inputs.iter().map(buf).collect(),
                outputs: outputs.iter().map(|&v| assignment.buffer(v)).collect(),
            },
            VStep::Sum { inputs, output } => Step::Sum {
                inputs: inputs.iter().map(|&v| assignment.buffer(v)).collect(),
                output: assignment.buffer(*output),
            },
        })
        .collect();
    let port = |node: NodeId, kind: PortKind, buffer: BufferRef, latency_ns: u64| PlanPort {
        name: g.nodes[node.index()].name.clone(),
        node,
        kind,
        buffer,
        latency_ns,
    };
    let inputs = sched
        .graph_inputs
        .iter()
        .map(|&(node, v)| port(node, g.nodes[node.index()].spec.outputs[0].kind, assignment.buffer(v), 0))
        .collect();
    let outputs = sched
        .graph_outputs
        .iter()
        .map(|(node, op)| port(*node, g.nodes[node.index()].spec.inputs[0].kind, buf(op), latency[node.index()]))
        .collect();
    // Every audio buffer is as long as the longest audio port of the graph, connected or not.
    let audio_len = g
        .nodes
        .iter()
        .flat_map(|n| n.spec.inputs.iter().chain(&n.spec.outputs))
        .filter(|p| matches!(p.kind, PortKind::Audio(_)))
        .map(|p| port_len(p.kind, g.quantum) as usize)
        .max()
        .unwrap_or(0);
    let counts = assignment.counts();
    let buffers = BufferCounts { audio: counts[0], packet: counts[1], control: counts[2], audio_len, packet_burst: 1 };
    Plan { quantum: g.quantum, order, steps, buffers, inputs, outputs }
}

/// Small graphs for the passes' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::builder::GraphBuilder;
    use crate::format::{AudioFormat, PacketFormat, PortKind, Quantum};
    use crate::node::{NodeId, NodeSpec, PortSpec};
    use crate::processor::{ProcessIo, Processor};

    /// Mono 8 kHz audio.
    pub(crate) const A: PortKind = PortKind::Audio(AudioFormat::mono(8000));
    /// PCMU packets.
    pub(crate) const P: PortKind = PortKind::Packet(PacketFormat { encoding: "PCMU", clock_rate: 8000, channels: 1 });
    /// Control.
    pub(crate) const C: PortKind = PortKind::Control;

    /// A processor that only has a spec.
    pub(crate) struct Dummy(pub(crate) NodeSpec);

    impl Processor for Dummy {
        fn spec(&self) -> NodeSpec {
            self.0.clone()
        }
        fn process(&mut self, _io: &mut ProcessIo<'_>) {}
    }

    /// A node with `ins` required inputs and `outs` outputs of kind `k`.
    pub(crate) fn node(b: &mut GraphBuilder, name: &str, ins: usize, outs: usize, k: PortKind) -> NodeId {
        node_lat(b, name, ins, outs, k, 0)
    }

    /// As [`node`], with a latency.
    pub(crate) fn node_lat(
        b: &mut GraphBuilder,
        name: &str,
        ins: usize,
        outs: usize,
        k: PortKind,
        latency_ns: u64,
    ) -> NodeId {
        const NAMES: [&str; 4] = ["p0", "p1", "p2", "p3"];
        let mut spec = NodeSpec::new("dummy").with_latency_ns(latency_ns);
        for name in &NAMES[..ins] {
            spec = spec.with_input(PortSpec::required(name, k));
        }
        for name in &NAMES[..outs] {
            spec = spec.with_output(PortSpec::required(name, k));
        }
        b.add_node(name, Box::new(Dummy(spec)))
    }

    /// A builder at 10 ms.
    pub(crate) fn builder() -> GraphBuilder {
        GraphBuilder::new(Quantum::MS_10)
    }
}
