//! [`LiveGraph`]: the control side's picture of a running graph, edited in place.
//!
//! A live graph names its nodes with [`NodeKey`]s: a slot index plus a generation, so a key
//! stays valid exactly as long as its node exists and is never confused with a node that
//! later reuses the slot. The slot index is also where the node's processor lives in the
//! runtime's processor store, so a compiled plan ([`LiveGraph::plan`]) refers to
//! processors by slot: an edit produces a new plan, and only the processors that changed
//! move.
//!
//! The live graph holds no processors, only names, specs, roles and edges; the same
//! compiler passes as [`crate::GraphBuilder`] turn it into a [`Plan`].
//!
//! ```
//! use rvoip_media_graph::{AudioFormat, GraphError, LiveGraph, NodeSpec, PortKind, PortSpec, Quantum};
//! let a = PortKind::Audio(AudioFormat::mono(8000));
//! let mut g = LiveGraph::new(Quantum::MS_10);
//! let mic = g.add_input("mic", a).unwrap();
//! let out = g.add_output("out", a).unwrap();
//! g.connect(mic, 0, out, 0).unwrap();
//! let gain = NodeSpec::new("gain").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a));
//! let k = g.add_node("gain", gain).unwrap();
//! // An edit that leaves a required input dangling does not compile ...
//! assert!(matches!(g.plan(), Err(GraphError::DanglingInput { .. })));
//! g.connect(mic, 0, k, 0).unwrap();
//! g.connect(k, 0, out, 0).unwrap();
//! let plan = g.plan().unwrap();
//! assert_eq!(plan.node_steps(), 1);
//! // ... and a removed node's key is refused, also after its slot is reused.
//! g.remove(k).unwrap();
//! let again = g.add_input("other", a).unwrap();
//! assert_eq!(again.slot(), k.slot());
//! assert!(matches!(g.remove(k), Err(GraphError::StaleKey(_))));
//! ```

use crate::builder::{check_new_edge, format_mismatch, port_at, port_named, BuilderNode, Edge, GraphBuilder, Role};
use crate::compile;
use crate::error::GraphError;
use crate::exec::CompiledGraph;
use crate::format::{PortKind, Quantum};
use crate::node::{NodeId, NodeSpec, PortSpec};
use crate::plan::{Plan, Step};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// A stable name for a node of a live graph: its slot and the slot's generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    slot: u32,
    generation: u32,
}

impl NodeKey {
    /// The slot: where the node's processor lives in the runtime's store, and the node id
    /// the compiled plan uses for it.
    pub fn slot(self) -> usize {
        self.slot as usize
    }

    /// How many nodes held this slot before this one.
    pub fn generation(self) -> u32 {
        self.generation
    }

    /// The node id a live plan uses for this node.
    pub fn node_id(self) -> NodeId {
        NodeId(self.slot)
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}v{}", self.slot, self.generation)
    }
}

/// What a node of a graph stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeRole {
    /// A processing node.
    Process,
    /// A graph input (one output port `"out"`, written by the host).
    Input,
    /// A graph output (one input port `"in"`, read by the host).
    Output,
}

impl From<Role> for NodeRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Process => NodeRole::Process,
            Role::Input => NodeRole::Input,
            Role::Output => NodeRole::Output,
        }
    }
}

impl From<NodeRole> for Role {
    fn from(r: NodeRole) -> Self {
        match r {
            NodeRole::Process => Role::Process,
            NodeRole::Input => Role::Input,
            NodeRole::Output => Role::Output,
        }
    }
}

/// One node of a live graph, as [`LiveGraph::node`] shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveNode {
    /// Unique name.
    pub name: String,
    /// Ports, parameters, messages, telemetry.
    pub spec: NodeSpec,
    /// What it stands for.
    pub role: NodeRole,
}

/// A node is shared between a graph and its copies (an edit begins with a copy of the
/// running graph): copying a graph copies no names or specs.
#[derive(Clone, Debug)]
struct Slot {
    generation: u32,
    node: Option<Arc<LiveNode>>,
    /// Every edge into or out of the node.
    links: Vec<Edge>,
}

/// The edges into one input port: how many, and the first one's source (slot, output port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PortSources {
    pub(crate) count: u32,
    pub(crate) first: (u32, u32),
}

/// What changed in a graph since [`LiveGraph::record_changes`]: what a [`crate::Planner`]
/// needs to bring a schedule up to date without looking at the rest of the graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    /// Nodes added (and still there).
    pub(crate) added: Vec<NodeKey>,
    /// Nodes of the graph as it was that were removed.
    pub(crate) removed: Vec<NodeKey>,
    /// Input ports (slot, port) whose edges changed.
    pub(crate) inputs: Vec<(u32, u32)>,
    /// The operations, in order (see [`LiveGraph::replay`]).
    ops: Vec<GraphOp>,
}

/// One recorded operation on a live graph.
#[derive(Clone, Debug, PartialEq)]
enum GraphOp {
    Add(Arc<LiveNode>),
    Remove(NodeKey),
    Connect(NodeKey, usize, NodeKey, usize),
    Disconnect(NodeKey, usize, NodeKey, usize),
}

impl Change {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.inputs.is_empty()
    }
}

/// The control side's editable picture of a running graph: nodes under [`NodeKey`]s, with their
/// names, specs, roles and edges, compiled by [`LiveGraph::plan`] into a plan over slots.
///
/// A copy is cheap (the nodes are shared, the edge tables are plain data), so an edit can
/// work on a copy of the running graph.
#[derive(Clone, Debug)]
pub struct LiveGraph {
    quantum: Quantum,
    slots: Vec<Slot>,
    free: Vec<u32>,
    names: HashMap<Arc<str>, u32>,
    /// Edges between slots (`NodeId` = slot), by the order they were added in.
    edges: BTreeMap<u64, Edge>,
    /// Every edge's place in `edges`.
    edge_seq: HashMap<Edge, u64>,
    next_seq: u64,
    /// The edges into every connected input port, by (slot, port).
    sources: HashMap<(u32, u32), PortSources>,
    /// Changes since [`LiveGraph::record_changes`], if recording.
    change: Option<Change>,
}

impl LiveGraph {
    /// An empty graph for `quantum`.
    pub fn new(quantum: Quantum) -> Self {
        LiveGraph {
            quantum,
            slots: Vec::new(),
            free: Vec::new(),
            names: HashMap::new(),
            edges: BTreeMap::new(),
            edge_seq: HashMap::new(),
            next_seq: 0,
            sources: HashMap::new(),
            change: None,
        }
    }

    /// Starts recording what changes (nodes added and removed, input ports whose edges
    /// change), forgetting what was recorded before.
    pub fn record_changes(&mut self) {
        self.change = Some(Change::default());
    }

    /// What changed since [`LiveGraph::record_changes`] (empty if not recording); stops
    /// recording.
    pub fn take_changes(&mut self) -> Change {
        self.change.take().unwrap_or_default()
    }

    /// The edges into input `port` of the node in `slot`.
    pub(crate) fn port_sources(&self, slot: u32, port: u32) -> Option<PortSources> {
        self.sources.get(&(slot, port)).copied()
    }

    /// Whether the edge exists.
    pub(crate) fn has_edge(&self, e: &Edge) -> bool {
        self.edge_seq.contains_key(e)
    }

    /// Every edge, in the order they were added.
    pub(crate) fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.edges.values()
    }

    fn add_edge(&mut self, e: Edge) {
        self.edges.insert(self.next_seq, e);
        self.edge_seq.insert(e, self.next_seq);
        self.next_seq += 1;
        self.slots[e.from.index()].links.push(e);
        if e.to != e.from {
            self.slots[e.to.index()].links.push(e);
        }
        self.add_source(&e);
    }

    /// Forgets `e` everywhere but in the links of the node in `except`.
    fn remove_edge(&mut self, e: &Edge, except: Option<NodeId>) {
        if let Some(seq) = self.edge_seq.remove(e) {
            self.edges.remove(&seq);
        }
        for end in [e.from, e.to] {
            if Some(end) != except {
                let links = &mut self.slots[end.index()].links;
                if let Some(i) = links.iter().position(|x| x == e) {
                    links.swap_remove(i);
                }
            }
        }
        self.remove_source(e);
    }

    /// The key of the node in `slot`, if there is one.
    pub(crate) fn slot_key(&self, slot: u32) -> Option<NodeKey> {
        let s = self.slots.get(slot as usize)?;
        s.node.as_ref().map(|_| NodeKey { slot, generation: s.generation })
    }

    /// The node in `slot`, whatever its generation.
    pub(crate) fn slot_node(&self, slot: u32) -> Option<&LiveNode> {
        self.slots.get(slot as usize).and_then(|s| s.node.as_deref())
    }

    fn add_source(&mut self, e: &Edge) {
        let key = (e.to.0, e.to_port as u32);
        self.sources
            .entry(key)
            .and_modify(|s| s.count += 1)
            .or_insert(PortSources { count: 1, first: (e.from.0, e.from_port as u32) });
    }

    /// Forgets `e` (already gone from `edges`) in the port's sources.
    fn remove_source(&mut self, e: &Edge) {
        let key = (e.to.0, e.to_port as u32);
        let Some(s) = self.sources.get_mut(&key) else { return };
        s.count -= 1;
        if s.count == 0 {
            self.sources.remove(&key);
        } else if s.first == (e.from.0, e.from_port as u32) {
            // Rare (a summed port lost its first edge): find the next one.
            let links = &self.slots[e.to.index()].links;
            let mut next: Vec<&Edge> = links.iter().filter(|x| x.to == e.to && x.to_port == e.to_port).collect();
            next.sort_by_key(|x| self.edge_seq.get(x));
            if let Some(next) = next.first() {
                s.first = (next.from.0, next.from_port as u32);
            }
        }
    }

    /// The picture of a compiled graph: node `NodeId(i)` gets slot `i`, generation 0.
    pub fn from_compiled(g: &CompiledGraph) -> Self {
        let mut live = LiveGraph::new(g.plan.quantum);
        // Sized exactly: most graphs (a session's) are never edited, and vectors grown by
        // pushing kept up to twice the slots and links they hold.
        let mut links = vec![0usize; g.nodes.len()];
        for e in &g.edges {
            links[e.from.index()] += 1;
            if e.to != e.from {
                links[e.to.index()] += 1;
            }
        }
        live.slots.reserve_exact(g.nodes.len());
        for (n, &count) in g.nodes.iter().zip(&links) {
            let slot = live.slots.len() as u32;
            live.names.insert(n.name.as_str().into(), slot);
            live.slots.push(Slot {
                generation: 0,
                node: Some(Arc::new(LiveNode { name: n.name.clone(), spec: n.spec.clone(), role: n.role })),
                links: Vec::with_capacity(count),
            });
        }
        for e in &g.edges {
            live.add_edge(Edge { from: e.from, from_port: e.from_port, to: e.to, to_port: e.to_port });
        }
        live
    }

    /// The quantum.
    pub fn quantum(&self) -> Quantum {
        self.quantum
    }

    /// Slots in use or freed so far: every key's slot is below this.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Number of nodes (graph inputs and outputs included).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The key of the node called `name`.
    pub fn key(&self, name: &str) -> Option<NodeKey> {
        let slot = *self.names.get(name)?;
        Some(NodeKey { slot, generation: self.slots[slot as usize].generation })
    }

    /// The node behind `key`.
    ///
    /// # Errors
    /// [`GraphError::StaleKey`] for a key whose node was removed (or never existed).
    pub fn node(&self, key: NodeKey) -> Result<&LiveNode, GraphError> {
        match self.slots.get(key.slot as usize) {
            Some(Slot { generation, node: Some(n), .. }) if *generation == key.generation => Ok(&**n),
            _ => Err(GraphError::StaleKey(key)),
        }
    }

    /// Every node with its key, in slot order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeKey, &LiveNode)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.node.as_deref().map(|n| (NodeKey { slot: i as u32, generation: s.generation }, n)))
    }

    /// Adds a node with this spec and role, in the lowest free slot.
    ///
    /// # Errors
    /// [`GraphError::DuplicateName`] if a node already has the name.
    pub fn add_node_with_role(
        &mut self,
        name: impl Into<String>,
        spec: NodeSpec,
        role: NodeRole,
    ) -> Result<NodeKey, GraphError> {
        let name = name.into();
        if self.names.contains_key(name.as_str()) {
            return Err(GraphError::DuplicateName(name));
        }
        self.insert(Arc::new(LiveNode { name, spec, role }))
    }

    /// Puts a node (whose name is free) in the lowest free slot.
    fn insert(&mut self, node: Arc<LiveNode>) -> Result<NodeKey, GraphError> {
        if self.names.contains_key(node.name.as_str()) {
            return Err(GraphError::DuplicateName(node.name.clone()));
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot { generation: 0, node: None, links: Vec::new() });
                self.slots.len() as u32 - 1
            }
        };
        let s = &mut self.slots[slot as usize];
        self.names.insert(node.name.as_str().into(), slot);
        s.node = Some(node.clone());
        let key = NodeKey { slot, generation: s.generation };
        if let Some(c) = self.change.as_mut() {
            c.added.push(key);
            c.ops.push(GraphOp::Add(node));
        }
        Ok(key)
    }

    /// Applies to this graph what `change` recorded on another graph that was equal to this
    /// one when the recording began: a copy of a running graph is brought up to date by
    /// what changed since, without copying the rest.
    ///
    /// ```
    /// use rvoip_media_graph::{AudioFormat, LiveGraph, PortKind, Quantum};
    /// let a = PortKind::Audio(AudioFormat::mono(8000));
    /// let mut running = LiveGraph::new(Quantum::MS_10);
    /// running.add_input("mic", a).unwrap();
    /// let mut copy = running.clone();
    /// running.record_changes();
    /// let out = running.add_output("out", a).unwrap();
    /// running.connect(running.key("mic").unwrap(), 0, out, 0).unwrap();
    /// let change = running.take_changes();
    /// copy.replay(&change).unwrap();
    /// assert_eq!(copy.key("out"), Some(out));
    /// assert_eq!(copy.plan().unwrap(), running.plan().unwrap());
    /// ```
    ///
    /// # Errors
    /// [`GraphError`] if this graph was not in that state (nothing is promised about it
    /// then), e.g. [`GraphError::DuplicateName`] when replayed twice.
    pub fn replay(&mut self, change: &Change) -> Result<(), GraphError> {
        for op in &change.ops {
            match op {
                GraphOp::Add(node) => {
                    self.insert(node.clone())?;
                }
                GraphOp::Remove(key) => {
                    self.remove(*key)?;
                }
                GraphOp::Connect(from, fp, to, tp) => self.connect(*from, *fp, *to, *tp)?,
                GraphOp::Disconnect(from, fp, to, tp) => self.disconnect(*from, *fp, *to, *tp)?,
            }
        }
        Ok(())
    }

    /// Adds a processing node with `spec`.
    ///
    /// # Errors
    /// As [`LiveGraph::add_node_with_role`].
    pub fn add_node(&mut self, name: impl Into<String>, spec: NodeSpec) -> Result<NodeKey, GraphError> {
        self.add_node_with_role(name, spec, NodeRole::Process)
    }

    /// Adds a graph input (one output port `"out"`).
    ///
    /// # Errors
    /// As [`LiveGraph::add_node_with_role`].
    pub fn add_input(&mut self, name: impl Into<String>, kind: PortKind) -> Result<NodeKey, GraphError> {
        let spec = NodeSpec::new("graph-input").with_output(PortSpec::required("out", kind));
        self.add_node_with_role(name, spec, NodeRole::Input)
    }

    /// Adds a graph output (one required input port `"in"`).
    ///
    /// # Errors
    /// As [`LiveGraph::add_node_with_role`].
    pub fn add_output(&mut self, name: impl Into<String>, kind: PortKind) -> Result<NodeKey, GraphError> {
        let spec = NodeSpec::new("graph-output").with_input(PortSpec::required("in", kind));
        self.add_node_with_role(name, spec, NodeRole::Output)
    }

    /// Removes a node and every edge into or out of it; its slot is reused by a later
    /// node under the next generation. Returns what was removed.
    ///
    /// # Errors
    /// [`GraphError::StaleKey`] if `key` names no node.
    pub fn remove(&mut self, key: NodeKey) -> Result<LiveNode, GraphError> {
        self.node(key)?;
        let s = &mut self.slots[key.slot as usize];
        let node = s.node.take().ok_or(GraphError::StaleKey(key))?;
        s.generation = s.generation.wrapping_add(1);
        self.names.remove(node.name.as_str());
        self.free.push(key.slot);
        let id = key.node_id();
        let gone = std::mem::take(&mut self.slots[key.slot as usize].links);
        for e in &gone {
            self.remove_edge(e, Some(id));
        }
        if let Some(c) = self.change.as_mut() {
            match c.added.iter().position(|k| *k == key) {
                // Added and removed within the recording: it never existed outside it.
                Some(i) => {
                    c.added.swap_remove(i);
                }
                None => c.removed.push(key),
            }
            c.ops.push(GraphOp::Remove(key));
            c.inputs.extend(gone.iter().filter(|e| e.to != id).map(|e| (e.to.0, e.to_port as u32)));
        }
        Ok(Arc::unwrap_or_clone(node))
    }

    fn ports(&self, from: NodeKey, from_port: usize, to: NodeKey, to_port: usize) -> Result<PortPair<'_>, GraphError> {
        let (src, dst) = (self.node(from)?, self.node(to)?);
        let sp = port_at(&src.name, &src.spec.outputs, "output", from_port)?;
        let dp = port_at(&dst.name, &dst.spec.inputs, "input", to_port)?;
        Ok(PortPair { src, sp, dst, dp })
    }

    /// Connects output `from_port` of `from` to input `to_port` of `to`, with the same
    /// rules as [`crate::GraphBuilder::connect`] (no converters are inserted: formats must
    /// match). A cycle is found when the graph is compiled.
    ///
    /// # Errors
    /// [`GraphError::StaleKey`], [`GraphError::NoSuchPort`], [`GraphError::FormatMismatch`],
    /// [`GraphError::DuplicateEdge`], [`GraphError::PacketFanIn`].
    pub fn connect(&mut self, from: NodeKey, from_port: usize, to: NodeKey, to_port: usize) -> Result<(), GraphError> {
        let PortPair { src, sp, dst, dp } = self.ports(from, from_port, to, to_port)?;
        if sp.kind != dp.kind {
            return Err(format_mismatch(&builder_node(src), sp, &builder_node(dst), dp));
        }
        let edge = Edge { from: from.node_id(), from_port, to: to.node_id(), to_port };
        let fan_in = self.port_sources(to.slot, to_port as u32).map_or(0, |s| s.count as usize);
        check_new_edge((&src.name, sp), (&dst.name, dp), self.has_edge(&edge), fan_in)?;
        self.add_edge(edge);
        if let Some(c) = self.change.as_mut() {
            c.inputs.push((to.slot, to_port as u32));
            c.ops.push(GraphOp::Connect(from, from_port, to, to_port));
        }
        Ok(())
    }

    /// Connects by port names.
    ///
    /// # Errors
    /// As [`LiveGraph::connect`].
    pub fn connect_named(
        &mut self,
        from: NodeKey,
        from_port: &str,
        to: NodeKey,
        to_port: &str,
    ) -> Result<(), GraphError> {
        let (src, dst) = (self.node(from)?, self.node(to)?);
        let fp = port_named(&src.name, &src.spec.outputs, "output", from_port)?;
        let tp = port_named(&dst.name, &dst.spec.inputs, "input", to_port)?;
        self.connect(from, fp, to, tp)
    }

    /// Removes the edge from output `from_port` of `from` to input `to_port` of `to`.
    ///
    /// # Errors
    /// [`GraphError::StaleKey`], [`GraphError::NoSuchPort`], or [`GraphError::NoSuchEdge`].
    pub fn disconnect(
        &mut self,
        from: NodeKey,
        from_port: usize,
        to: NodeKey,
        to_port: usize,
    ) -> Result<(), GraphError> {
        let PortPair { src, sp, dst, dp } = self.ports(from, from_port, to, to_port)?;
        let edge = Edge { from: from.node_id(), from_port, to: to.node_id(), to_port };
        if !self.has_edge(&edge) {
            return Err(GraphError::NoSuchEdge {
                from_node: src.name.clone(),
                from_port: sp.name.to_string(),
                to_node: dst.name.clone(),
                to_port: dp.name.to_string(),
            });
        }
        self.remove_edge(&edge, None);
        if let Some(c) = self.change.as_mut() {
            c.inputs.push((to.slot, to_port as u32));
            c.ops.push(GraphOp::Disconnect(from, from_port, to, to_port));
        }
        Ok(())
    }

    /// Validates and compiles the graph. The plan's node ids are slots
    /// ([`NodeKey::node_id`]); graph inputs and outputs appear in slot order.
    ///
    /// # Errors
    /// As [`crate::GraphBuilder::build`]: duplicate names cannot happen here, but dangling
    /// required inputs, unusable formats and cycles are reported with the nodes named.
    pub fn plan(&self) -> Result<Plan, GraphError> {
        // Dense ids for the compiler, in slot order; `slot_of[dense]` maps back.
        let mut dense = vec![u32::MAX; self.slots.len()];
        let mut slot_of = Vec::with_capacity(self.names.len());
        let mut b = GraphBuilder::new(self.quantum);
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(n) = &s.node {
                dense[i] = slot_of.len() as u32;
                slot_of.push(NodeId(i as u32));
                b.nodes.push(BuilderNode {
                    name: n.name.clone(),
                    spec: n.spec.clone(),
                    role: n.role.into(),
                    processor: None,
                });
            }
        }
        b.edges = self
            .edges
            .values()
            .map(|e| Edge {
                from: NodeId(dense[e.from.index()]),
                from_port: e.from_port,
                to: NodeId(dense[e.to.index()]),
                to_port: e.to_port,
            })
            .collect();
        let mut plan = compile::compile(&b).map_err(|e| e.remap(&slot_of))?;
        let back = |id: &mut NodeId| *id = slot_of[id.index()];
        plan.order.iter_mut().for_each(back);
        for s in &mut plan.steps {
            if let Step::Node { node, .. } = s {
                back(node);
            }
        }
        plan.inputs.iter_mut().chain(plan.outputs.iter_mut()).for_each(|p| back(&mut p.node));
        Ok(plan)
    }
}

struct PortPair<'a> {
    src: &'a LiveNode,
    sp: &'a PortSpec,
    dst: &'a LiveNode,
    dp: &'a PortSpec,
}

fn builder_node(n: &LiveNode) -> BuilderNode {
    BuilderNode { name: n.name.clone(), spec: NodeSpec::new(n.spec.type_name), role: n.role.into(), processor: None }
}
