//! [`GraphBuilder`]: add nodes, connect ports, declare graph inputs and outputs.

use crate::compile;
use crate::error::GraphError;
use crate::exec::{CompiledGraph, CompiledNode};
use crate::format::{PortKind, Quantum};
use crate::node::{NodeId, NodeSpec, PortSpec};
use crate::processor::Processor;

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

pub(crate) struct BuilderNode {
    pub(crate) name: String,
    pub(crate) spec: NodeSpec,
    pub(crate) role: Role,
    pub(crate) processor: Option<Box<dyn Processor>>,
}

/// An edge from an output port to an input port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) from: NodeId,
    pub(crate) from_port: usize,
    pub(crate) to: NodeId,
    pub(crate) to_port: usize,
}

/// Describes a graph: nodes, edges, graph inputs and outputs.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphBuilder, PortKind, Quantum};
/// let a = PortKind::Audio(AudioFormat::mono(8000));
/// let b16 = PortKind::Audio(AudioFormat::mono(16000));
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let i = b.add_input("in", a);
/// let o = b.add_output("out", b16);
/// let err = b.connect(i, 0, o, 0).unwrap_err();
/// assert!(err.to_string().contains("8000 Hz"));
/// ```
pub struct GraphBuilder {
    pub(crate) quantum: Quantum,
    pub(crate) nodes: Vec<BuilderNode>,
    pub(crate) edges: Vec<Edge>,
}

impl GraphBuilder {
    /// An empty graph for `quantum`.
    pub fn new(quantum: Quantum) -> Self {
        GraphBuilder { quantum, nodes: Vec::new(), edges: Vec::new() }
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
        n.spec.outputs.iter().position(|p| p.name == port).ok_or_else(|| GraphError::NoSuchPort {
            node: n.name.clone(),
            direction: "output",
            port: port.to_string(),
        })
    }

    /// Index of the input port called `port` on `node`.
    pub fn input_port(&self, node: NodeId, port: &str) -> Result<usize, GraphError> {
        let n = self.node(node)?;
        n.spec.inputs.iter().position(|p| p.name == port).ok_or_else(|| GraphError::NoSuchPort {
            node: n.name.clone(),
            direction: "input",
            port: port.to_string(),
        })
    }

    /// Connects output `from_port` of `from` to input `to_port` of `to`. Refuses unknown
    /// nodes and ports, different formats, and duplicate edges; a packet input accepts at
    /// most one edge. Audio and control inputs accept several (they are summed).
    pub fn connect(&mut self, from: NodeId, from_port: usize, to: NodeId, to_port: usize) -> Result<(), GraphError> {
        let (src, dst) = (self.node(from)?, self.node(to)?);
        let sp = src.spec.outputs.get(from_port).ok_or_else(|| GraphError::NoSuchPort {
            node: src.name.clone(),
            direction: "output",
            port: from_port.to_string(),
        })?;
        let dp = dst.spec.inputs.get(to_port).ok_or_else(|| GraphError::NoSuchPort {
            node: dst.name.clone(),
            direction: "input",
            port: to_port.to_string(),
        })?;
        if sp.kind != dp.kind {
            return Err(GraphError::FormatMismatch {
                from_node: src.name.clone(),
                from_port: sp.name.to_string(),
                from_format: sp.kind,
                to_node: dst.name.clone(),
                to_port: dp.name.to_string(),
                to_format: dp.kind,
            });
        }
        let edge = Edge { from, from_port, to, to_port };
        if self.edges.contains(&edge) {
            return Err(GraphError::DuplicateEdge {
                from_node: src.name.clone(),
                from_port: sp.name.to_string(),
                to_node: dst.name.clone(),
                to_port: dp.name.to_string(),
            });
        }
        let fan_in = self.edges.iter().filter(|e| e.to == to && e.to_port == to_port).count();
        if matches!(dp.kind, PortKind::Packet(_)) && fan_in >= 1 {
            return Err(GraphError::PacketFanIn {
                node: dst.name.clone(),
                port: dp.name.to_string(),
                edges: fan_in + 1,
            });
        }
        self.edges.push(edge);
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

    /// Validates and compiles the graph into a plan with its nodes.
    pub fn build(self) -> Result<CompiledGraph, GraphError> {
        let plan = compile::compile(&self)?;
        let nodes = self
            .nodes
            .into_iter()
            .map(|n| CompiledNode { name: n.name, spec: n.spec, processor: n.processor })
            .collect();
        Ok(CompiledGraph { plan, nodes })
    }
}
