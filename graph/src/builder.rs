//! [`GraphBuilder`]: add nodes, connect ports, declare graph inputs and outputs.

use crate::compile;
use crate::error::{FormatMismatch, GraphError};
use crate::exec::{CompiledGraph, CompiledNode};
use crate::format::{AudioFormat, PortKind, Quantum};
use crate::node::{NodeId, NodeSpec, PortSpec};
use crate::plan::Plan;
use crate::processor::Processor;
use std::collections::{HashMap, HashSet};

/// What a builder node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A processing node.
    Process,
    /// A graph input (one output port, written by the host).
    Input,
    /// A graph output (one input port, read by the host).
    Output,
}

/// A node as the builder holds it.
pub(crate) struct BuilderNode {
    pub(crate) name: String,
    pub(crate) spec: NodeSpec,
    pub(crate) role: Role,
    pub(crate) processor: Option<Box<dyn Processor>>,
}

/// An edge from an output port to an input port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    /// Source node.
    pub from: NodeId,
    /// Output port index on the source.
    pub from_port: usize,
    /// Destination node.
    pub to: NodeId,
    /// Input port index on the destination.
    pub to_port: usize,
}

/// The error for an edge from `sp` of `src` to `dp` of `dst`, whose formats differ.
pub(crate) fn format_mismatch(src: &BuilderNode, sp: &PortSpec, dst: &BuilderNode, dp: &PortSpec) -> GraphError {
    GraphError::FormatMismatch(Box::new(FormatMismatch {
        from_node: src.name.clone(),
        from_port: sp.name.to_string(),
        from_format: sp.kind,
        to_node: dst.name.clone(),
        to_port: dp.name.to_string(),
        to_format: dp.kind,
    }))
}

/// Port `index` of `ports` (a node's inputs or outputs), or [`GraphError::NoSuchPort`].
pub(crate) fn port_at<'a>(
    node: &str,
    ports: &'a [PortSpec],
    direction: &'static str,
    index: usize,
) -> Result<&'a PortSpec, GraphError> {
    ports.get(index).ok_or_else(|| GraphError::NoSuchPort {
        node: node.to_string(),
        direction,
        port: index.to_string(),
    })
}

/// Index of the port called `name` in `ports`, or [`GraphError::NoSuchPort`].
pub(crate) fn port_named(
    node: &str,
    ports: &[PortSpec],
    direction: &'static str,
    name: &str,
) -> Result<usize, GraphError> {
    ports.iter().position(|p| p.name == name).ok_or_else(|| GraphError::NoSuchPort {
        node: node.to_string(),
        direction,
        port: name.to_string(),
    })
}

/// The checks every new edge passes once its ports exist and their formats match: not a
/// duplicate (`exists`), and at most one edge into a packet input (`fan_in` edges so far).
pub(crate) fn check_new_edge(
    (src, sp): (&str, &PortSpec),
    (dst, dp): (&str, &PortSpec),
    exists: bool,
    fan_in: usize,
) -> Result<(), GraphError> {
    if exists {
        return Err(GraphError::DuplicateEdge {
            from_node: src.to_string(),
            from_port: sp.name.to_string(),
            to_node: dst.to_string(),
            to_port: dp.name.to_string(),
        });
    }
    if matches!(dp.kind, PortKind::Packet(_)) && fan_in >= 1 {
        return Err(GraphError::PacketFanIn { node: dst.to_string(), port: dp.name.to_string(), edges: fan_in + 1 });
    }
    Ok(())
}

/// Describes a graph: nodes, edges, graph inputs and outputs; [`GraphBuilder::build`]
/// validates and compiles it.
///
/// Graph inputs and outputs are nodes too ([`GraphBuilder::add_input`],
/// [`GraphBuilder::add_output`]); [`NodeId`]s are dense in the order nodes are added, and
/// inputs and outputs appear in the plan in that (declaration) order. [`GraphBuilder::connect`]
/// refuses an edge at once when its ends do not exist, their formats differ, it already
/// exists, or it would be a second edge into a packet input; several edges into an audio or
/// control input are summed.
///
/// # Compilation
///
/// [`GraphBuilder::build`] runs these passes:
///
/// 1. **validate**: unique node names; every audio format holds a whole number of frames per
///    quantum; every required input has an edge; the edge checks of `connect` again.
/// 2. **sort**: Kahn's topological order; among ready nodes the smallest id goes first. A
///    cycle is reported with the names of the nodes on one cycle, in edge order.
/// 3. **schedule**: one [`Step::Node`](crate::Step::Node) per processing node in that order,
///    preceded by a [`Step::Sum`](crate::Step::Sum) for each of its input ports with more
///    than one edge; a graph output with several edges gets a sum step at its place.
/// 4. **buffers**: each buffer kind has its own arena; a buffer goes back to the free list
///    after its last reader, and the lowest free index is taken first. Graph inputs get the
///    first buffers, in declaration order; a step's outputs are allocated before its inputs
///    are released, so no step reads and writes the same buffer; what a graph output reads
///    stays live to the end of the cycle; an output port nobody reads gets a scratch buffer
///    freed right after its step; an unconnected optional input reads the silent buffer. The
///    arena size per kind is the largest number of values live at once.
/// 5. **latency**: each graph output reports the largest sum of
///    [`NodeSpec::latency_ns`](crate::NodeSpec::latency_ns) over the paths into it.
///
/// Graph-input buffers are reused once read, so a graph output may share an index with a
/// graph input: every cycle, write all inputs, run, then read the outputs.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, BufferRef, GraphBuilder, PortKind, Quantum};
/// let a = PortKind::Audio(AudioFormat::mono(8000));
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let mic = b.add_input("mic", a);
/// let spk = b.add_output("spk", a);
/// let tone = b.add_input("tone", PortKind::Audio(AudioFormat::mono(16_000)));
/// // Formats must match exactly.
/// let err = b.connect(tone, 0, spk, 0).unwrap_err();
/// assert!(err.to_string().contains("produces audio 16000 Hz x1 but 'spk.in' expects audio 8000 Hz x1"));
/// b.connect(mic, 0, spk, 0).unwrap();
/// let graph = b.build().unwrap();
/// // No processing node: no step; the output reads the input's buffer.
/// assert!(graph.plan.steps.is_empty());
/// assert_eq!(graph.plan.outputs[0].buffer, BufferRef::audio(0, 80));
/// ```
pub struct GraphBuilder {
    pub(crate) quantum: Quantum,
    pub(crate) nodes: Vec<BuilderNode>,
    /// Edges in the order they were added (a sum lists its inputs in this order).
    pub(crate) edges: Vec<Edge>,
    /// The same edges, for constant-time duplicate checks in `connect`.
    edge_set: HashSet<Edge>,
    /// Number of edges into each `(node, input port)` that has any.
    fan_in: HashMap<(NodeId, usize), usize>,
    /// Builds a format converter when `connect` joins audio ports of different rates.
    converter: Option<Converter>,
    /// Converters already inserted, by (source node, source port, target format), so one
    /// output feeding several readers at another rate is converted once.
    converters: HashMap<(NodeId, usize, AudioFormat), NodeId>,
}

/// Makes a processor that converts audio from one format to another (one input `"in"`,
/// one output `"out"`), or `None` when it cannot. See [`GraphBuilder::with_converter`].
pub type Converter = fn(from: AudioFormat, to: AudioFormat) -> Option<Box<dyn Processor>>;

impl GraphBuilder {
    /// An empty graph for `quantum`.
    pub fn new(quantum: Quantum) -> Self {
        GraphBuilder {
            quantum,
            nodes: Vec::new(),
            edges: Vec::new(),
            edge_set: HashSet::new(),
            fan_in: HashMap::new(),
            converter: None,
            converters: HashMap::new(),
        }
    }

    /// Allows [`GraphBuilder::connect`] to join audio ports whose formats differ (a sample
    /// rate change, typically) by inserting the processor `converter` makes, e.g.
    /// `rvoip_media_nodes::resample::converter`. The inserted node is named
    /// `"{source}.{port}@{rate}Hz"`, and one source output feeding several readers of the
    /// same format shares one converter. Without a converter, such a connection is a
    /// [`GraphError::FormatMismatch`].
    pub fn with_converter(mut self, converter: Converter) -> Self {
        self.converter = Some(converter);
        self
    }

    /// The quantum the graph is built for.
    pub fn quantum(&self) -> Quantum {
        self.quantum
    }

    fn push(&mut self, name: String, spec: NodeSpec, role: Role, processor: Option<Box<dyn Processor>>) -> NodeId {
        self.nodes.push(BuilderNode { name, spec, role, processor });
        NodeId(self.nodes.len() as u32 - 1)
    }

    /// Adds a processing node; its ports come from [`Processor::spec`].
    pub fn add_node(&mut self, name: impl Into<String>, processor: Box<dyn Processor>) -> NodeId {
        let spec = processor.spec();
        self.push(name.into(), spec, Role::Process, Some(processor))
    }

    /// Declares a graph input: a node with one output port `"out"` that the host fills
    /// every cycle.
    pub fn add_input(&mut self, name: impl Into<String>, kind: PortKind) -> NodeId {
        let spec = NodeSpec::new("graph-input").with_output(PortSpec::required("out", kind));
        self.push(name.into(), spec, Role::Input, None)
    }

    /// Declares a graph output: a node with one required input port `"in"` that the host
    /// reads after every cycle.
    pub fn add_output(&mut self, name: impl Into<String>, kind: PortKind) -> NodeId {
        let spec = NodeSpec::new("graph-output").with_input(PortSpec::required("in", kind));
        self.push(name.into(), spec, Role::Output, None)
    }

    fn node(&self, id: NodeId) -> Result<&BuilderNode, GraphError> {
        self.nodes.get(id.index()).ok_or(GraphError::NoSuchNode(id))
    }

    /// Index of the output port called `port` on `node`.
    pub fn output_port(&self, node: NodeId, port: &str) -> Result<usize, GraphError> {
        let n = self.node(node)?;
        port_named(&n.name, &n.spec.outputs, "output", port)
    }

    /// Index of the input port called `port` on `node`.
    pub fn input_port(&self, node: NodeId, port: &str) -> Result<usize, GraphError> {
        let n = self.node(node)?;
        port_named(&n.name, &n.spec.inputs, "input", port)
    }

    /// Connects output `from_port` of `from` to input `to_port` of `to`. Refuses unknown
    /// nodes and ports, different formats, and duplicate edges; a packet input accepts at
    /// most one edge. Audio and control inputs accept several (they are summed).
    pub fn connect(&mut self, from: NodeId, from_port: usize, to: NodeId, to_port: usize) -> Result<(), GraphError> {
        let (src, dst) = (self.node(from)?, self.node(to)?);
        let sp = port_at(&src.name, &src.spec.outputs, "output", from_port)?;
        let dp = port_at(&dst.name, &dst.spec.inputs, "input", to_port)?;
        if sp.kind != dp.kind {
            if let (PortKind::Audio(a), PortKind::Audio(b), Some(make)) = (sp.kind, dp.kind, self.converter) {
                if let Some(&conv) = self.converters.get(&(from, from_port, b)) {
                    return self.connect(conv, 0, to, to_port);
                }
                if let Some(p) = make(a, b) {
                    let spec = p.spec();
                    let fits = spec.inputs.first().map(|i| i.kind) == Some(sp.kind)
                        && spec.outputs.first().map(|o| o.kind) == Some(dp.kind);
                    if fits {
                        let name = format!("{}.{}@{}Hz", src.name, sp.name, b.rate);
                        let conv = self.add_node(name, p);
                        self.converters.insert((from, from_port, b), conv);
                        self.connect(from, from_port, conv, 0)?;
                        return self.connect(conv, 0, to, to_port);
                    }
                }
            }
            return Err(format_mismatch(src, sp, dst, dp));
        }
        let edge = Edge { from, from_port, to, to_port };
        let fan_in = self.fan_in.get(&(to, to_port)).copied().unwrap_or(0);
        check_new_edge((&src.name, sp), (&dst.name, dp), self.edge_set.contains(&edge), fan_in)?;
        self.edges.push(edge);
        self.edge_set.insert(edge);
        *self.fan_in.entry((to, to_port)).or_default() += 1;
        Ok(())
    }

    /// Connects by port names.
    pub fn connect_named(
        &mut self,
        from: NodeId,
        from_port: &str,
        to: NodeId,
        to_port: &str,
    ) -> Result<(), GraphError> {
        let fp = self.output_port(from, from_port)?;
        let tp = self.input_port(to, to_port)?;
        self.connect(from, fp, to, tp)
    }

    /// Number of nodes added so far, graph inputs and outputs included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Validates and compiles the graph into a [`Plan`] without consuming the builder: to
    /// inspect a schedule, or to check a graph before [`GraphBuilder::build`].
    ///
    /// ```
    /// use rvoip_media_graph::{AudioFormat, BufferRef, GraphBuilder, PortKind, Quantum};
    /// let a = PortKind::Audio(AudioFormat::mono(8000));
    /// let mut b = GraphBuilder::new(Quantum::MS_10);
    /// let (x, y) = (b.add_input("x", a), b.add_input("y", a));
    /// let out = b.add_output("out", a);
    /// b.connect(x, 0, out, 0).unwrap();
    /// b.connect(y, 0, out, 0).unwrap();
    /// let plan = b.plan().unwrap();
    /// // Fan-in into the output became a sum of the two input buffers into a third one.
    /// assert_eq!(plan.outputs[0].buffer, BufferRef::audio(2, 80));
    /// assert_eq!(plan.buffers.audio, 3);
    /// ```
    pub fn plan(&self) -> Result<Plan, GraphError> {
        compile::compile(self)
    }

    /// Validates and compiles the graph into a plan with its nodes. See [`crate::Plan`] for
    /// what the plan holds and [`GraphBuilder`] for the passes and buffer rules.
    ///
    /// # Errors
    /// The first problem found, naming the nodes and ports at fault: a duplicate node name,
    /// an audio rate that does not divide the quantum, a required input without an edge, or a
    /// cycle (its nodes listed in edge order).
    pub fn build(self) -> Result<CompiledGraph, GraphError> {
        let plan = compile::compile(&self)?;
        let nodes = self
            .nodes
            .into_iter()
            .map(|n| CompiledNode { name: n.name, spec: n.spec, role: n.role.into(), processor: n.processor })
            .collect();
        Ok(CompiledGraph { plan, nodes, edges: self.edges })
    }
}
