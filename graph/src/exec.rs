//! Single-threaded execution of a [`Plan`]: the piece of the runtime that needs no threads.
//! The root crate's workers own [`PlanExecutor`]s and call [`PlanExecutor::run_cycle`] every
//! quantum.

use crate::arena::Arena;
use crate::builder::Edge;
use crate::error::PlanError;
use crate::format::{BufferKind, PortKind, Quantum};
use crate::live::NodeRole;
use crate::node::{NodeId, NodeSpec};
use crate::packet::{Packet, PacketSlot};
use crate::plan::{BufferRef, Plan, Step};
use crate::processor::{prefetch, prefetch_value, ParamError, ProcessIo, Processor};

/// One node of a compiled graph.
pub struct CompiledNode {
    /// Name given to the builder.
    pub name: String,
    /// The node's spec as reported when it was added.
    pub spec: NodeSpec,
    /// Processing node, graph input or graph output.
    pub role: NodeRole,
    /// The processor; `None` for graph inputs and outputs.
    pub processor: Option<Box<dyn Processor>>,
}

impl std::fmt::Debug for CompiledNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledNode").field("name", &self.name).field("type", &self.spec.type_name).finish()
    }
}

/// A plan with the nodes it runs, indexed by [`NodeId`].
#[derive(Debug)]
pub struct CompiledGraph {
    /// The schedule.
    pub plan: Plan,
    /// All nodes, indexed by `NodeId`.
    pub nodes: Vec<CompiledNode>,
    /// The edges, in the order they were added.
    pub edges: Vec<Edge>,
}

impl CompiledGraph {
    /// The node with this name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(|i| NodeId(i as u32))
    }
}

/// Errors returned by [`PlanExecutor::set_param`].
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphBuilder, NodeId, ParamError, PlanExecutor, PortKind, Quantum, SetParamError};
/// let a = PortKind::Audio(AudioFormat::mono(8000));
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let (mic, spk) = (b.add_input("mic", a), b.add_output("spk", a));
/// b.connect(mic, 0, spk, 0).unwrap();
/// let mut exec = PlanExecutor::new(b.build().unwrap()).unwrap();
/// // A graph input declares no parameters; and there is no node 9.
/// assert_eq!(exec.set_param(mic, 0, 1.0), Err(SetParamError::Param(ParamError::Unknown(0))));
/// assert_eq!(exec.set_param(NodeId(9), 0, 1.0), Err(SetParamError::NoSuchNode(NodeId(9))));
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SetParamError {
    /// No such node, or a node without a processor.
    #[error("no processing node {0}")]
    NoSuchNode(NodeId),
    /// The processor refused.
    #[error(transparent)]
    Param(#[from] ParamError),
}

/// A compiled plan made ready to run: the flattened schedule and the arena it runs on,
/// without the processors. The processors live apart, in a slot store indexed by the
/// plan's node ids, so that a live graph can replace its schedule while every processor
/// keeps its state ([`Schedule::run_cycle`] takes the store). [`PlanExecutor`] pairs a
/// schedule with its own store for offline use.
pub struct Schedule {
    /// The schedule flattened for execution: no per-step heap data to chase. A live
    /// partition's schedule may hold [`Op::Nop`] holes, places a later edit can fill.
    pub(crate) steps: Vec<ExecStep>,
    /// Every step's buffer references, contiguous per step.
    pub(crate) refs: Vec<BufferRef>,
    /// Graph inputs and outputs as the host side of a cycle visits them: node and buffer,
    /// contiguous (a [`crate::PlanPort`] is much larger, and a thousand legs visit two each).
    pub(crate) in_ports: Vec<PortRef>,
    pub(crate) out_ports: Vec<PortRef>,
    pub(crate) arena: Arena,
    /// Nodes whose telemetry is published, with how many values each (a live partition's;
    /// empty for a schedule built by [`Schedule::new`]).
    pub(crate) publish: Vec<(u32, u8)>,
    pub(crate) cycle: u64,
    /// Which state of its [`crate::Planner`] this schedule mirrors (0 for other schedules).
    pub(crate) version: u64,
}

/// A graph input or output: its node and its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PortRef {
    pub(crate) node: NodeId,
    pub(crate) buffer: BufferRef,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule").field("steps", &self.steps.len()).field("cycle", &self.cycle).finish()
    }
}

/// The processors a schedule runs, indexed by node id (a live partition's slot index);
/// `None` for graph inputs, outputs and free slots.
pub type ProcessorSlots = [Option<Box<dyn Processor>>];

impl Schedule {
    /// Checks the plan against the node specs (`spec_of(node)` is `Some` for every node
    /// with a processor) and the arena rules, then allocates the arena.
    pub fn new<'s>(plan: &Plan, spec_of: impl Fn(NodeId) -> Option<&'s NodeSpec>) -> Result<Self, PlanError> {
        // Graph packet inputs take bursts; their slots are the first ones of the packet arena.
        let burst_slots = plan
            .inputs
            .iter()
            .filter(|p| p.buffer.kind == BufferKind::Packet && !p.buffer.is_silence())
            .map(|p| p.buffer.index as usize + 1)
            .max()
            .unwrap_or(0);
        let arena = Arena::with_burst_slots(plan.buffers, burst_slots);
        for (step, s) in plan.steps.iter().enumerate() {
            match s {
                Step::Node { node, inputs, outputs } => {
                    let spec = spec_of(*node).ok_or(PlanError::MissingProcessor { step, node: *node })?;
                    check_ports(step, spec, plan.quantum, inputs, outputs)?;
                    arena.check_step(inputs, outputs).map_err(|detail| PlanError::BadBuffer { step, detail })?;
                }
                Step::Sum { inputs, output } => {
                    let same_kind = inputs.iter().all(|r| r.kind == output.kind) && output.kind != BufferKind::Packet;
                    if !same_kind {
                        return Err(PlanError::BadBuffer { step, detail: "sum of mixed or packet buffers" });
                    }
                    arena
                        .check_step(inputs, std::slice::from_ref(output))
                        .map_err(|detail| PlanError::BadBuffer { step, detail })?;
                }
            }
        }
        for p in &plan.inputs {
            if !arena.is_writable(&p.buffer) || p.buffer.kind != p.kind.buffer_kind() {
                return Err(PlanError::BadPortBuffer(p.name.clone()));
            }
        }
        for p in &plan.outputs {
            if !arena.is_readable(&p.buffer) || p.buffer.kind != p.kind.buffer_kind() {
                return Err(PlanError::BadPortBuffer(p.name.clone()));
            }
        }
        let mut steps = Vec::with_capacity(plan.steps.len());
        let mut refs = Vec::new();
        for s in &plan.steps {
            let first = refs.len() as u32;
            let (op, node, inputs, outputs) = match s {
                Step::Node { node, inputs, outputs } => {
                    let clears = outputs.iter().any(|o| o.kind == BufferKind::Packet);
                    (if clears { Op::NodeClearingPackets } else { Op::Node }, node.0, &inputs[..], &outputs[..])
                }
                Step::Sum { inputs, output } => {
                    let op = if output.kind == BufferKind::Audio { Op::SumAudio } else { Op::SumControl };
                    (op, u32::MAX, &inputs[..], std::slice::from_ref(output))
                }
            };
            refs.extend_from_slice(inputs);
            refs.extend_from_slice(outputs);
            steps.push(ExecStep { op, node, first, inputs: inputs.len() as u16, outputs: outputs.len() as u16 });
        }
        let port = |p: &crate::PlanPort| PortRef { node: p.node, buffer: p.buffer };
        let in_ports = plan.inputs.iter().map(port).collect();
        let out_ports = plan.outputs.iter().map(port).collect();
        Ok(Schedule { steps, refs, in_ports, out_ports, arena, publish: Vec::new(), cycle: 0, version: 0 })
    }

    /// Number of graph inputs (see [`Schedule::input_node`]).
    pub fn inputs(&self) -> usize {
        self.in_ports.len()
    }

    /// Number of graph outputs (see [`Schedule::output_node`]).
    pub fn outputs(&self) -> usize {
        self.out_ports.len()
    }

    /// Steps that run a node or a sum (holes left for later edits not counted).
    pub fn active_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.op != Op::Nop).count()
    }

    /// The nodes whose telemetry a live partition publishes (node id, number of values),
    /// kept by its [`crate::Planner`].
    pub fn publish(&self) -> &[(u32, u8)] {
        &self.publish
    }

    /// The arena this schedule runs on.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The node standing for graph input `i` (for a schedule built by [`Schedule::new`],
    /// [`Plan::inputs`]`[i].node`; a live partition's order is its own).
    ///
    /// # Panics
    /// If input `i` does not exist.
    pub fn input_node(&self, i: usize) -> NodeId {
        self.in_ports[i].node
    }

    /// The node standing for graph output `i` (as [`Schedule::input_node`]).
    ///
    /// # Panics
    /// If output `i` does not exist.
    pub fn output_node(&self, i: usize) -> NodeId {
        self.out_ports[i].node
    }

    /// Cycles run so far (continued from the schedule it replaced, see
    /// [`Schedule::continue_from`]).
    pub fn cycles(&self) -> u64 {
        self.cycle
    }

    /// Takes over the cycle count of the schedule this one replaces, so that
    /// [`ProcessIo::cycle`] counts on across an edit. Real-time safe.
    pub fn continue_from(&mut self, previous: &Schedule) {
        self.cycle = previous.cycle;
    }

    /// Audio buffer of graph input `i`, to fill before [`Schedule::run_cycle`].
    ///
    /// # Panics
    /// If input `i` does not exist or is not audio.
    pub fn input_audio_mut(&mut self, i: usize) -> &mut [f32] {
        let r = self.in_ports[i].buffer;
        assert_eq!(r.kind, BufferKind::Audio, "graph input {i} is not audio");
        self.arena.audio_mut(&r)
    }

    /// Packet slot of graph input `i`; fill or clear it before each cycle.
    ///
    /// # Panics
    /// If input `i` does not exist or is not a packet input.
    pub fn input_packet_mut(&mut self, i: usize) -> &mut PacketSlot {
        let r = self.in_ports[i].buffer;
        assert_eq!(r.kind, BufferKind::Packet, "graph input {i} is not a packet input");
        self.arena.packet_mut(&r)
    }

    /// Control value of graph input `i`.
    ///
    /// # Panics
    /// If input `i` does not exist or is not a control input.
    pub fn input_control_mut(&mut self, i: usize) -> &mut f32 {
        let r = self.in_ports[i].buffer;
        assert_eq!(r.kind, BufferKind::Control, "graph input {i} is not a control input");
        self.arena.control_mut(&r)
    }

    /// Audio of graph output `i` after a cycle.
    ///
    /// # Panics
    /// If output `i` does not exist or is not audio.
    pub fn output_audio(&self, i: usize) -> &[f32] {
        let r = self.out_ports[i].buffer;
        assert_eq!(r.kind, BufferKind::Audio, "graph output {i} is not audio");
        self.arena.audio(&r)
    }

    /// Packets of graph output `i` after a cycle (empty if none was produced).
    ///
    /// # Panics
    /// If output `i` does not exist or is not a packet output.
    pub fn output_packets(&self, i: usize) -> &[crate::Packet] {
        let r = self.out_ports[i].buffer;
        assert_eq!(r.kind, BufferKind::Packet, "graph output {i} is not a packet output");
        self.arena.packet(&r).packets()
    }

    /// Control value of graph output `i` after a cycle.
    ///
    /// # Panics
    /// If output `i` does not exist or is not a control output.
    pub fn output_control(&self, i: usize) -> f32 {
        let r = self.out_ports[i].buffer;
        assert_eq!(r.kind, BufferKind::Control, "graph output {i} is not a control output");
        self.arena.control(&r)
    }

    /// Runs every step once with the processors in `processors` (indexed by the plan's
    /// node ids). Real-time safe: no allocation. A step whose processor is missing from
    /// the store is skipped and counted as an error (the control side never sends such a
    /// pair).
    pub fn run_cycle(&mut self, processors: &mut ProcessorSlots) -> CycleReport {
        let mut errors = 0u32;
        let cycle = self.cycle;
        for (i, step) in self.steps.iter().enumerate() {
            // Software pipelining over heap objects: the node two steps ahead is fetched,
            // the next one (fetched a step ago) starts fetching what it points to.
            prefetch_processor(processors, self.steps.get(i + 2));
            if let Some(p) =
                self.steps.get(i + 1).and_then(|s| processors.get(s.node as usize)).and_then(|p| p.as_deref())
            {
                p.prefetch();
            }
            prefetch_packet_input(&self.arena, &self.refs, self.steps.get(i + 1));
            let first = step.first as usize;
            let mid = first + usize::from(step.inputs);
            let (inputs, outputs) = (&self.refs[first..mid], &self.refs[mid..mid + usize::from(step.outputs)]);
            match step.op {
                Op::Node | Op::NodeClearingPackets => {
                    if step.op == Op::NodeClearingPackets {
                        for o in outputs.iter().filter(|o| o.kind == BufferKind::Packet) {
                            self.arena.packet_mut(o).clear();
                        }
                    }
                    let Some(p) = processors.get_mut(step.node as usize).and_then(|p| p.as_deref_mut()) else {
                        errors = errors.saturating_add(1);
                        continue;
                    };
                    // SAFETY: `new` ran `check_step` on exactly these references against this
                    // arena, and the arena is not touched while `io` lives.
                    let mut io = unsafe { ProcessIo::new(&mut self.arena, inputs, outputs, cycle) };
                    p.process(&mut io);
                    errors = errors.saturating_add(io.errors());
                }
                Op::Nop => {}
                Op::SumAudio => self.arena.sum_audio(inputs, &outputs[0]),
                Op::SumControl => {
                    let v: f32 = inputs.iter().map(|r| self.arena.control(r)).sum();
                    *self.arena.control_mut(&outputs[0]) = v;
                }
            }
        }
        self.cycle += 1;
        CycleReport { errors }
    }
}

/// Runs a compiled plan with its own processors over its own preallocated arena: a
/// [`Schedule`] and its processor store in one, for offline processing and tests.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphBuilder, PlanExecutor, PortKind, Quantum};
/// let a = PortKind::Audio(AudioFormat::mono(8000));
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let i = b.add_input("mic", a);
/// let o = b.add_output("spk", a);
/// b.connect(i, 0, o, 0).unwrap();
/// let mut exec = PlanExecutor::new(b.build().unwrap()).unwrap();
/// exec.input_audio_mut(0).fill(0.5);
/// exec.run_cycle();
/// assert_eq!(exec.output_audio(0).len(), 80);
/// assert!(exec.output_audio(0).iter().all(|&s| s == 0.5));
/// ```
pub struct PlanExecutor {
    plan: Plan,
    schedule: Schedule,
    /// Processors indexed by node, kept apart from names and specs for locality.
    processors: Vec<Option<Box<dyn Processor>>>,
    names: Vec<String>,
    specs: Vec<NodeSpec>,
}

/// One step of [`Schedule`]'s flattened schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExecStep {
    pub(crate) op: Op,
    pub(crate) node: u32,
    /// Inputs are `refs[first..first + inputs]`, outputs follow them.
    pub(crate) first: u32,
    pub(crate) inputs: u16,
    pub(crate) outputs: u16,
}

impl ExecStep {
    /// A hole: nothing runs.
    pub(crate) const NOP: ExecStep = ExecStep { op: Op::Nop, node: u32::MAX, first: 0, inputs: 0, outputs: 0 };

    /// A step running `node` over `refs[first..]` (`outputs` to clear when they are packets).
    pub(crate) fn node(node: NodeId, first: u32, inputs: usize, outputs: &[BufferRef]) -> Self {
        let clears = outputs.iter().any(|o| o.kind == BufferKind::Packet);
        let op = if clears { Op::NodeClearingPackets } else { Op::Node };
        ExecStep { op, node: node.0, first, inputs: inputs as u16, outputs: outputs.len() as u16 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// A hole left for a later edit: skipped.
    Nop,
    /// A node without packet outputs.
    Node,
    /// A node with packet outputs, which are cleared before it runs.
    NodeClearingPackets,
    SumAudio,
    SumControl,
}

/// What one cycle reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Bad-input events the nodes reported.
    pub errors: u32,
}

impl PlanExecutor {
    /// Checks the plan against the nodes and the arena rules, then allocates the arena.
    pub fn new(graph: CompiledGraph) -> Result<Self, PlanError> {
        let CompiledGraph { plan, nodes, .. } = graph;
        let schedule =
            Schedule::new(&plan, |node| nodes.get(node.index()).filter(|n| n.processor.is_some()).map(|n| &n.spec))?;
        let mut processors = Vec::with_capacity(nodes.len());
        let mut names = Vec::with_capacity(nodes.len());
        let mut specs = Vec::with_capacity(nodes.len());
        for n in nodes {
            processors.push(n.processor);
            names.push(n.name);
            specs.push(n.spec);
        }
        Ok(PlanExecutor { plan, schedule, processors, names, specs })
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Name of a node.
    pub fn node_name(&self, node: NodeId) -> Option<&str> {
        self.names.get(node.index()).map(String::as_str)
    }

    /// Spec of a node.
    pub fn node_spec(&self, node: NodeId) -> Option<&NodeSpec> {
        self.specs.get(node.index())
    }

    /// The processor of a node, e.g. to read its counters offline.
    pub fn processor(&self, node: NodeId) -> Option<&dyn Processor> {
        self.processors.get(node.index()).and_then(|p| p.as_deref())
    }

    /// Cycles run so far.
    pub fn cycles(&self) -> u64 {
        self.schedule.cycles()
    }

    /// Audio buffer of graph input `i`, to fill before [`PlanExecutor::run_cycle`].
    ///
    /// # Panics
    /// If input `i` does not exist or is not audio.
    pub fn input_audio_mut(&mut self, i: usize) -> &mut [f32] {
        self.schedule.input_audio_mut(i)
    }

    /// Packet slot of graph input `i`; fill or clear it before each cycle.
    ///
    /// # Panics
    /// If input `i` does not exist or is not a packet input.
    pub fn input_packet_mut(&mut self, i: usize) -> &mut PacketSlot {
        self.schedule.input_packet_mut(i)
    }

    /// Control value of graph input `i`.
    ///
    /// # Panics
    /// If input `i` does not exist or is not a control input.
    pub fn input_control_mut(&mut self, i: usize) -> &mut f32 {
        self.schedule.input_control_mut(i)
    }

    /// Audio of graph output `i` after a cycle.
    ///
    /// # Panics
    /// If output `i` does not exist or is not audio.
    pub fn output_audio(&self, i: usize) -> &[f32] {
        self.schedule.output_audio(i)
    }

    /// The first packet of graph output `i` after a cycle, if one was produced.
    ///
    /// # Panics
    /// If output `i` does not exist or is not a packet output.
    pub fn output_packet(&self, i: usize) -> Option<&crate::Packet> {
        self.schedule.output_packets(i).first()
    }

    /// Control value of graph output `i` after a cycle.
    ///
    /// # Panics
    /// If output `i` does not exist or is not a control output.
    pub fn output_control(&self, i: usize) -> f32 {
        self.schedule.output_control(i)
    }

    /// Runs every step once. Real-time safe: no allocation.
    pub fn run_cycle(&mut self) -> CycleReport {
        self.schedule.run_cycle(&mut self.processors)
    }

    /// Forwards a parameter change to a node, range-checked against its spec. Real-time safe.
    pub fn set_param(&mut self, node: NodeId, id: u32, value: f32) -> Result<(), SetParamError> {
        let spec = self.specs.get(node.index()).ok_or(SetParamError::NoSuchNode(node))?;
        let param = spec.param(id).ok_or(ParamError::Unknown(id))?;
        if !param.accepts(value) {
            return Err(ParamError::OutOfRange { id, value }.into());
        }
        let p = self.processors[node.index()].as_deref_mut().ok_or(SetParamError::NoSuchNode(node))?;
        Ok(p.set_param(id, value)?)
    }

    /// Resets every processor.
    pub fn reset(&mut self) {
        for p in self.processors.iter_mut().flatten() {
            p.reset();
        }
    }
}

pub(crate) fn check_ports(
    step: usize,
    spec: &NodeSpec,
    quantum: Quantum,
    inputs: &[BufferRef],
    outputs: &[BufferRef],
) -> Result<(), PlanError> {
    let mismatch = |detail: String| PlanError::PortMismatch { step, detail };
    if inputs.len() != spec.inputs.len() || outputs.len() != spec.outputs.len() {
        return Err(mismatch(format!(
            "'{}' has {} inputs and {} outputs, the step gives {} and {}",
            spec.type_name,
            spec.inputs.len(),
            spec.outputs.len(),
            inputs.len(),
            outputs.len()
        )));
    }
    for (r, p) in inputs.iter().zip(&spec.inputs).chain(outputs.iter().zip(&spec.outputs)) {
        if r.kind != p.kind.buffer_kind() {
            return Err(mismatch(format!("port '{}' is {} but gets a {:?} buffer", p.name, p.kind, r.kind)));
        }
        if let PortKind::Audio(f) = p.kind {
            if f.samples_per_quantum(quantum) != Some(r.len as usize) {
                return Err(mismatch(format!(
                    "port '{}' is {} but gets a buffer of {} samples",
                    p.name, p.kind, r.len
                )));
            }
        }
    }
    Ok(())
}

/// Hints the CPU to start loading the next node's processor while this one runs (its
/// first [`PREFETCH_VALUE_LINES`](crate::PREFETCH_VALUE_LINES) lines): the processors are
/// separate heap objects, and in long chains fetching them dominates the executor's own cost.
#[inline(always)]
fn prefetch_processor(processors: &ProcessorSlots, next: Option<&ExecStep>) {
    if let Some(p) = next.and_then(|s| processors.get(s.node as usize)).and_then(|p| p.as_deref()) {
        prefetch_value(p);
    }
}

/// Asks the CPU to start loading the first packet of the next step's first input when it
/// is a packet port (a decoder's input): with a thousand legs the packets copied in at the
/// start of the cycle are no longer in the near caches when their decoder runs.
#[inline(always)]
fn prefetch_packet_input(arena: &Arena, refs: &[BufferRef], next: Option<&ExecStep>) {
    let Some(r) = next.filter(|s| s.inputs > 0).and_then(|s| refs.get(s.first as usize)) else { return };
    if r.kind == BufferKind::Packet {
        if let Some(p) = arena.packet(r).packets().first() {
            prefetch(p as *const Packet as *const u8);
        }
    }
}
