//! Errors of graph building, validation and plan loading.

use crate::format::{AudioFormat, PortKind};
use crate::live::NodeKey;
use crate::node::NodeId;

/// A graph the builder or compiler refuses, with the nodes and ports at fault named.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphBuilder, GraphError, PortKind, Quantum};
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let mic = b.add_input("mic", PortKind::Audio(AudioFormat::mono(8000)));
/// let spk = b.add_output("spk", PortKind::Audio(AudioFormat::mono(16000)));
/// // 8 kHz into a 16 kHz port: refused at the edge, both ends named.
/// let err = b.connect(mic, 0, spk, 0).unwrap_err();
/// assert!(matches!(err, GraphError::FormatMismatch(_)));
/// assert!(err.to_string().contains("'mic.") && err.to_string().contains("'spk."));
/// // The output is left with nothing feeding it.
/// assert!(matches!(b.build(), Err(GraphError::DanglingInput { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A node id that the builder never handed out.
    #[error("no node {0}")]
    NoSuchNode(NodeId),
    /// A port index or name the node does not have.
    #[error("node '{node}' has no {direction} port {port}")]
    NoSuchPort {
        /// Node name.
        node: String,
        /// `"input"` or `"output"`.
        direction: &'static str,
        /// The index or name asked for.
        port: String,
    },
    /// Two nodes with the same name.
    #[error("two nodes are named '{0}'")]
    DuplicateName(String),
    /// An edge between ports of different kinds or formats. Boxed, so that `GraphError` stays
    /// small enough to return by value.
    #[error(
        "format mismatch: '{}.{}' produces {} but '{}.{}' expects {}",
        .0.from_node, .0.from_port, .0.from_format, .0.to_node, .0.to_port, .0.to_format
    )]
    FormatMismatch(Box<FormatMismatch>),
    /// A required input with no incoming edge.
    #[error("required input '{node}.{port}' is not connected")]
    DanglingInput {
        /// Node name.
        node: String,
        /// Port name.
        port: String,
    },
    /// More than one edge into a packet input (packets cannot be summed).
    #[error("packet input '{node}.{port}' has {edges} incoming edges; packets cannot be mixed")]
    PacketFanIn {
        /// Node name.
        node: String,
        /// Port name.
        port: String,
        /// Number of edges.
        edges: usize,
    },
    /// The same edge added twice.
    #[error("edge '{from_node}.{from_port}' -> '{to_node}.{to_port}' already exists")]
    DuplicateEdge {
        /// Source node name.
        from_node: String,
        /// Source port name.
        from_port: String,
        /// Destination node name.
        to_node: String,
        /// Destination port name.
        to_port: String,
    },
    /// The edges form a cycle; the nodes on it are listed in edge order.
    #[error("cycle through nodes {}", .nodes.join(" -> "))]
    Cycle {
        /// Names of the nodes on the cycle, in edge order.
        nodes: Vec<String>,
    },
    /// An audio format that carries no samples (rate or channel count 0), or more samples
    /// per quantum than a buffer can index.
    #[error("'{node}.{port}' has unusable format {format}: {reason}")]
    InvalidAudioFormat {
        /// Node name.
        node: String,
        /// Port name.
        port: String,
        /// The format.
        format: AudioFormat,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A live-graph key whose node was removed (or that never named a node).
    #[error("node {0} does not exist (removed, or never added)")]
    StaleKey(NodeKey),
    /// An edge to remove that does not exist.
    #[error("there is no edge '{from_node}.{from_port}' -> '{to_node}.{to_port}'")]
    NoSuchEdge {
        /// Source node name.
        from_node: String,
        /// Source port name.
        from_port: String,
        /// Destination node name.
        to_node: String,
        /// Destination port name.
        to_port: String,
    },
    /// An audio port whose rate does not hold a whole number of frames per quantum.
    #[error("'{node}.{port}' runs at {rate} Hz, which does not divide into {quantum_us} us quanta")]
    QuantumMismatch {
        /// Node name.
        node: String,
        /// Port name.
        port: String,
        /// Sample rate.
        rate: u32,
        /// Quantum in microseconds.
        quantum_us: u32,
    },
}

impl GraphError {
    /// The same error with node ids mapped through `ids` (dense compiler ids to slots).
    pub(crate) fn remap(self, ids: &[NodeId]) -> Self {
        match self {
            GraphError::NoSuchNode(id) => GraphError::NoSuchNode(ids.get(id.index()).copied().unwrap_or(id)),
            other => other,
        }
    }
}

/// Both ends of an edge [`GraphError::FormatMismatch`] refused, with their formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatMismatch {
    /// Source node name.
    pub from_node: String,
    /// Source port name.
    pub from_port: String,
    /// Source format.
    pub from_format: PortKind,
    /// Destination node name.
    pub to_node: String,
    /// Destination port name.
    pub to_port: String,
    /// Destination format.
    pub to_format: PortKind,
}

/// A plan that cannot be loaded for execution (only possible for a hand-made or corrupted
/// [`crate::Plan`]; the compiler's plans always load).
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphBuilder, NodeSpec, PlanError, PortKind, PortSpec};
/// use rvoip_media_graph::{ProcessIo, Processor, Quantum, Schedule};
/// struct Pass;
/// impl Processor for Pass {
///     fn spec(&self) -> NodeSpec {
///         let a = PortKind::Audio(AudioFormat::mono(8000));
///         NodeSpec::new("pass").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a))
///     }
///     fn process(&mut self, _io: &mut ProcessIo<'_>) {}
/// }
/// let a = PortKind::Audio(AudioFormat::mono(8000));
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let (mic, pass, spk) = (b.add_input("mic", a), b.add_node("pass", Box::new(Pass)), b.add_output("spk", a));
/// b.connect(mic, 0, pass, 0).unwrap();
/// b.connect(pass, 0, spk, 0).unwrap();
/// let compiled = b.build().unwrap();
/// // The compiler's plan loaded without the node's spec, as a plan from elsewhere might be.
/// let err = Schedule::new(&compiled.plan, |_| None).unwrap_err();
/// assert!(matches!(err, PlanError::MissingProcessor { step: 0, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A step names a node without a processor (a graph input/output, or out of range).
    #[error("step {step} runs node {node} which has no processor")]
    MissingProcessor {
        /// Step index.
        step: usize,
        /// Node.
        node: NodeId,
    },
    /// A step's ports do not match the node's spec.
    #[error("step {step}: {detail}")]
    PortMismatch {
        /// Step index.
        step: usize,
        /// What is wrong.
        detail: String,
    },
    /// A step's buffers break the arena's rules.
    #[error("step {step}: {detail}")]
    BadBuffer {
        /// Step index.
        step: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// A graph input or output refers to a bad buffer.
    #[error("graph port '{0}' refers to a bad buffer")]
    BadPortBuffer(String),
}
