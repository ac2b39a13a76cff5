//! The compiler's output: a plain-data, fixed schedule.

use crate::format::{BufferKind, PortKind, Quantum};
use crate::node::NodeId;

/// A reference to one buffer of a plan's arenas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferRef {
    /// Which arena.
    pub kind: BufferKind,
    /// Index in that arena, or [`BufferRef::SILENCE`].
    pub index: u32,
    /// For audio: samples (frames × channels) this port uses per quantum; 1 otherwise.
    pub len: u32,
}

impl BufferRef {
    /// Index of the read-only silent buffer of each arena: zeros, no packet, 0.0. Unconnected
    /// optional inputs read it.
    pub const SILENCE: u32 = u32::MAX;

    /// An audio buffer.
    pub const fn audio(index: u32, len: u32) -> Self {
        BufferRef { kind: BufferKind::Audio, index, len }
    }

    /// A packet buffer.
    pub const fn packet(index: u32) -> Self {
        BufferRef { kind: BufferKind::Packet, index, len: 1 }
    }

    /// A control buffer.
    pub const fn control(index: u32) -> Self {
        BufferRef { kind: BufferKind::Control, index, len: 1 }
    }

    /// The silent buffer of `kind`.
    pub const fn silence(kind: BufferKind, len: u32) -> Self {
        BufferRef { kind, index: Self::SILENCE, len }
    }

    /// Whether this is the silent buffer.
    pub const fn is_silence(&self) -> bool {
        self.index == Self::SILENCE
    }
}

/// One step of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Run a node's processor.
    Node {
        /// The node.
        node: NodeId,
        /// One buffer per input port, in port order.
        inputs: Vec<BufferRef>,
        /// One buffer per output port, in port order.
        outputs: Vec<BufferRef>,
    },
    /// Fan-in: `output = Σ inputs` (audio sample-wise, control value-wise), feeding an input
    /// port that has more than one incoming edge.
    Sum {
        /// The summed buffers.
        inputs: Vec<BufferRef>,
        /// Where the sum goes.
        output: BufferRef,
    },
}

/// How many buffers of each kind a plan needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferCounts {
    /// Audio buffers.
    pub audio: usize,
    /// Packet slots.
    pub packet: usize,
    /// Control values.
    pub control: usize,
    /// Samples per audio buffer: the largest audio port's samples per quantum.
    pub audio_len: usize,
    /// Packets a graph packet input's slot holds per cycle (0 counts as 1): graph packet
    /// inputs carry bursts of up to this many. Other packet slots hold one.
    pub packet_burst: usize,
}

/// A graph input or output as seen by the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanPort {
    /// Name given to the builder.
    pub name: String,
    /// The node that stands for it in the graph.
    pub node: NodeId,
    /// Kind and format.
    pub kind: PortKind,
    /// The buffer the host writes (inputs) or reads (outputs).
    pub buffer: BufferRef,
    /// For outputs: the largest sum of node latencies on any path into it, in ns. 0 for inputs.
    pub latency_ns: u64,
}

/// A compiled graph: plain data, ready to execute every quantum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The quantum the plan was compiled for.
    pub quantum: Quantum,
    /// Topological (Kahn) order of all nodes, graph inputs and outputs included.
    pub order: Vec<NodeId>,
    /// The schedule.
    pub steps: Vec<Step>,
    /// Arena sizes.
    pub buffers: BufferCounts,
    /// Graph inputs in declaration order.
    pub inputs: Vec<PlanPort>,
    /// Graph outputs in declaration order.
    pub outputs: Vec<PlanPort>,
}

impl Plan {
    /// Number of [`Step::Node`] steps.
    pub fn node_steps(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s, Step::Node { .. })).count()
    }
}
