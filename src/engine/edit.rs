//! [`Edit`]: a change to a running partition, compiled on the control side and applied by
//! its worker at one cycle boundary.

use super::command::Command;
use super::endpoint::PartitionIo;
use super::partition::{Delivery, EditPayload, LivePlan, SlotContent, SlotState};
use super::{store_capacity, Engine, EngineError, PartitionId, Ticket};
use crate::sync::seqlock::SeqLockSlice;
use rvoip_media_graph::{LiveGraph, NodeKey, PortKind, Processor};
use std::any::Any;
use std::sync::Arc;

/// A change to a running partition: add and remove nodes, graph inputs and outputs,
/// connect and disconnect ports, send messages to nodes — then [`Edit::commit`].
///
/// The edit works on a copy of the partition's live graph; every step is checked at once
/// (a missing node or port, mismatched formats, a duplicate name are typed errors), and
/// `commit` compiles the result (a cycle or a dangling required input is refused there).
/// A refused edit changes nothing: the running plan is untouched. On commit, only the new
/// processors travel to the worker; the processors the edit removes come back and are
/// dropped on the control side; every other node keeps its state. The worker applies the
/// whole edit, messages included, between two cycles: the cycle before runs entirely on
/// the old plan, the next entirely on the new one.
///
/// ```
/// use rvoip_media_core::prelude::*;
/// use rvoip_media_nodes::Gain;
///
/// let f = AudioFormat::mono(8000);
/// let a = PortKind::Audio(f);
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let mic = b.add_input("mic", a);
/// let out = b.add_output("out", a);
/// b.connect(mic, 0, out, 0).unwrap();
/// let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
/// let mut part = engine.add_partition(b.build().unwrap()).unwrap();
/// let mut mic_in = part.io.take_audio_in("mic").unwrap();
///
/// // Insert a -6 dB gain between the input and a new output, while it runs.
/// let mut edit = engine.edit(part.id).unwrap();
/// let mic = edit.key("mic").unwrap();
/// let gain = edit.add_node("gain", Box::new(Gain::new(f).with_gain_db(-6.0).unwrap())).unwrap();
/// let quiet = edit.add_output("quiet", a).unwrap();
/// edit.connect(mic, 0, gain, 0).unwrap();
/// edit.connect(gain, 0, quiet, 0).unwrap();
/// // Refused at once, with the names: the formats differ.
/// let wide = edit.add_input("wide", PortKind::Audio(AudioFormat::mono(16_000))).unwrap();
/// assert!(matches!(edit.connect(wide, 0, gain, 0), Err(EngineError::Graph(GraphError::FormatMismatch(_)))));
/// edit.remove(wide).unwrap();
/// let mut done = edit.commit().unwrap();
/// let mut quiet_rx = done.io.take_audio_out("quiet").unwrap();
///
/// mic_in.push(&[0.5; 80]).unwrap();
/// driver.process_cycle();
/// assert!((quiet_rx.pop().unwrap().samples()[0] - 0.2506).abs() < 1e-3);
/// ```
pub struct Edit<'e> {
    engine: &'e Engine,
    partition: PartitionId,
    graph: LiveGraph,
    version: u64,
    /// Processors to insert, by the key they were given.
    processors: Vec<(NodeKey, Box<dyn Processor>)>,
    /// Graph inputs and outputs added by this edit, with the worker halves of their rings.
    ports: Vec<(NodeKey, SlotState)>,
    /// The host halves of those rings, until the host takes them.
    io: PartitionIo,
    /// Keys of the running graph this edit removes.
    removes: Vec<NodeKey>,
    messages: Vec<(NodeKey, Box<dyn Any + Send>)>,
}

/// A committed edit: its ticket and the host ends of the graph inputs and outputs it added
/// (those not already taken from [`Edit::io`]).
pub struct Committed {
    /// The edit command (see [`Engine::wait`], [`Engine::outcome`]).
    pub ticket: Ticket,
    /// Endpoints of the added graph inputs and outputs, in the order they were added.
    pub io: PartitionIo,
}

impl<'e> Edit<'e> {
    pub(super) fn new(engine: &'e Engine, partition: PartitionId, graph: LiveGraph, version: u64) -> Self {
        Edit {
            engine,
            partition,
            graph,
            version,
            processors: Vec::new(),
            ports: Vec::new(),
            io: PartitionIo { inputs: Vec::new(), outputs: Vec::new() },
            removes: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// The graph as this edit has made it so far.
    pub fn graph(&self) -> &LiveGraph {
        &self.graph
    }

    /// The key of the node called `name`.
    pub fn key(&self, name: &str) -> Option<NodeKey> {
        self.graph.key(name)
    }

    /// Adds a processing node.
    ///
    /// # Errors
    /// [`EngineError::Graph`] ([`rvoip_media_graph::GraphError::DuplicateName`]).
    pub fn add_node(&mut self, name: impl Into<String>, processor: Box<dyn Processor>) -> Result<NodeKey, EngineError> {
        let key = self.graph.add_node(name, processor.spec())?;
        self.processors.push((key, processor));
        Ok(key)
    }

    /// Adds a graph input. Its host end exists at once, in [`Edit::io`] (so the host can
    /// queue data before the edit goes live) and, if not taken, in [`Committed::io`].
    ///
    /// # Errors
    /// [`EngineError::Graph`], [`EngineError::FrameTooSmall`].
    pub fn add_input(&mut self, name: impl Into<String>, kind: PortKind) -> Result<NodeKey, EngineError> {
        let name = name.into();
        self.check_port(&name, kind)?;
        let key = self.graph.add_input(name, kind)?;
        self.add_endpoint(key);
        Ok(key)
    }

    /// Adds a graph output; its host end is in [`Edit::io`] and, if not taken, in
    /// [`Committed::io`].
    ///
    /// # Errors
    /// [`EngineError::Graph`], [`EngineError::FrameTooSmall`].
    pub fn add_output(&mut self, name: impl Into<String>, kind: PortKind) -> Result<NodeKey, EngineError> {
        let name = name.into();
        self.check_port(&name, kind)?;
        let key = self.graph.add_output(name, kind)?;
        self.add_endpoint(key);
        Ok(key)
    }

    fn add_endpoint(&mut self, key: NodeKey) {
        let mut state = SlotState::default();
        if let Ok(node) = self.graph.node(key) {
            self.engine.make_endpoint(&node.name, node.role, &node.spec, &mut state, &mut self.io);
        }
        self.ports.push((key, state));
    }

    /// The host ends of the graph inputs and outputs this edit added so far. Data pushed
    /// into a new input before [`Edit::commit`] is there for the first cycle that runs it;
    /// if the edit is dropped or refused, the endpoints report `is_abandoned`.
    pub fn io(&mut self) -> &mut PartitionIo {
        &mut self.io
    }

    fn check_port(&self, name: &str, kind: PortKind) -> Result<(), EngineError> {
        let samples = match kind {
            PortKind::Audio(f) => f.samples_per_quantum(self.graph.quantum()).unwrap_or(0),
            _ => 1,
        };
        self.engine.check_ports(std::iter::once((name, kind, samples)))
    }

    /// Removes a node (a processing node, graph input or graph output) and its edges. A
    /// removed graph input or output tells its host end (`is_abandoned`).
    ///
    /// # Errors
    /// [`EngineError::Graph`] ([`rvoip_media_graph::GraphError::StaleKey`]).
    pub fn remove(&mut self, key: NodeKey) -> Result<(), EngineError> {
        let node = self.graph.remove(key)?;
        self.messages.retain(|(k, _)| *k != key);
        let before = self.processors.len() + self.ports.len();
        self.processors.retain(|(k, _)| *k != key);
        self.ports.retain(|(k, _)| *k != key);
        self.io.inputs.retain(|(n, _, _)| *n != node.name);
        self.io.outputs.retain(|(n, _, _)| *n != node.name);
        if before == self.processors.len() + self.ports.len() {
            // Not added by this edit: it runs now, so the worker must let it go.
            self.removes.push(key);
        }
        Ok(())
    }

    /// Removes the node called `name`.
    ///
    /// # Errors
    /// [`EngineError::UnknownNodeName`].
    pub fn remove_by_name(&mut self, name: &str) -> Result<(), EngineError> {
        let key = self
            .key(name)
            .ok_or_else(|| EngineError::UnknownNodeName { partition: self.partition, name: name.to_string() })?;
        self.remove(key)
    }

    /// Connects output `from_port` of `from` to input `to_port` of `to` (formats must
    /// match; a cycle is refused by [`Edit::commit`]).
    ///
    /// # Errors
    /// [`EngineError::Graph`]: stale key, missing port, format mismatch, duplicate edge,
    /// a second edge into a packet input.
    pub fn connect(&mut self, from: NodeKey, from_port: usize, to: NodeKey, to_port: usize) -> Result<(), EngineError> {
        Ok(self.graph.connect(from, from_port, to, to_port)?)
    }

    /// Connects by port names.
    ///
    /// # Errors
    /// As [`Edit::connect`].
    pub fn connect_named(
        &mut self,
        from: NodeKey,
        from_port: &str,
        to: NodeKey,
        to_port: &str,
    ) -> Result<(), EngineError> {
        Ok(self.graph.connect_named(from, from_port, to, to_port)?)
    }

    /// Removes an edge.
    ///
    /// # Errors
    /// [`EngineError::Graph`] ([`rvoip_media_graph::GraphError::NoSuchEdge`], stale key,
    /// missing port).
    pub fn disconnect(
        &mut self,
        from: NodeKey,
        from_port: usize,
        to: NodeKey,
        to_port: usize,
    ) -> Result<(), EngineError> {
        Ok(self.graph.disconnect(from, from_port, to, to_port)?)
    }

    /// Sends `message` to a node in the same cycle as the rest of the edit (after new
    /// nodes are in place). The type is checked against the node's declared messages.
    ///
    /// # Errors
    /// [`EngineError::UnknownNode`], [`EngineError::MessageType`].
    pub fn message<T: Any + Send>(&mut self, key: NodeKey, message: T) -> Result<(), EngineError> {
        Engine::check_message::<T>(&self.graph, self.partition, key)?;
        self.messages.push((key, Box::new(message)));
        Ok(())
    }

    /// Compiles the edited graph and sends the edit to the partition's worker.
    ///
    /// # Errors
    /// [`EngineError::Graph`] (a cycle, a dangling required input, ...; nothing was sent),
    /// [`EngineError::UnknownPartition`] (removed meanwhile),
    /// [`EngineError::EditConflict`] (edited by someone else since this edit began),
    /// [`EngineError::CommandQueueFull`].
    pub fn commit(self) -> Result<Committed, EngineError> {
        let Edit { engine, partition, mut graph, version, processors, ports, io, removes, messages } = self;
        let change = graph.take_changes();
        let needed = graph.slot_count();
        let mut inserts = Vec::with_capacity(processors.len() + ports.len());
        let mut cells = Vec::new();
        for (key, processor) in processors {
            let mut state = SlotState::default();
            let names = graph.node(key)?.spec.telemetry;
            if !names.is_empty() {
                let cell = Arc::new(SeqLockSlice::new(names.len()));
                cells.push((key.slot(), cell.clone()));
                state.telemetry = Some(cell);
            }
            inserts.push(SlotContent { slot: key.slot() as u32, processor: Some(processor), state });
        }
        for (key, state) in ports {
            inserts.push(SlotContent { slot: key.slot() as u32, processor: None, state });
        }
        let messages: Vec<Delivery> = messages
            .into_iter()
            .map(|(k, payload)| Delivery { slot: k.slot() as u32, payload, result: Ok(()) })
            .collect();
        let removed = Vec::with_capacity(removes.len());
        let removes: Vec<u32> = removes.iter().map(|k| k.slot() as u32).collect();

        let mut c = engine.lock();
        let rec = c.partitions.get_mut(&partition).ok_or(EngineError::UnknownPartition(partition))?;
        if rec.version != version {
            return Err(EngineError::EditConflict(partition));
        }
        // Only what the edit changed is compiled; a refusal leaves the planner as it was.
        rec.planner.update(&rec.graph, &graph, &change)?;
        let plan = Box::new(LivePlan { schedule: rec.planner.schedule() });
        let (worker, capacity) = (rec.worker, rec.capacity);
        let grow = (needed > capacity).then(|| {
            let cap = store_capacity(needed);
            let mut procs: Vec<Option<Box<dyn Processor>>> = Vec::with_capacity(cap);
            procs.resize_with(cap, || None);
            let mut states: Vec<SlotState> = Vec::with_capacity(cap);
            states.resize_with(cap, SlotState::default);
            (procs, states)
        });
        let new_capacity = grow.as_ref().map_or(capacity, |g| g.0.len());
        let payload = EditPayload { partition, plan, grow, removes, removed, inserts, messages, displaced: 0 };
        let removed_slots: Vec<usize> = payload.removes.iter().map(|&s| s as usize).collect();
        let ticket = match Engine::send(&mut c, worker, Command::Edit(partition, Box::new(payload))) {
            Ok(t) => t,
            Err(e) => {
                // Not sent: the planner goes back to the running graph.
                if let Some(rec) = c.partitions.get_mut(&partition) {
                    rec.planner.rebuild(&rec.graph)?;
                }
                return Err(e);
            }
        };
        if let Some(rec) = c.partitions.get_mut(&partition) {
            for s in removed_slots {
                rec.telemetry.remove(&s);
            }
            rec.telemetry.extend(cells);
            let old = std::mem::replace(&mut rec.graph, graph);
            rec.spare = Some((old, change));
            rec.capacity = new_capacity;
            rec.version += 1;
        }
        Ok(Committed { ticket, io })
    }
}
