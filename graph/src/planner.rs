//! [`Planner`]: a live graph's schedule kept up to date edit by edit, on the control side.
//!
//! A full compile ([`LiveGraph::plan`]) sorts, schedules and assigns buffers for the whole
//! graph; in a room of a thousand legs that is milliseconds per join or leave. The planner
//! keeps the compiled schedule (steps, buffer references, ports, arena sizes) as its
//! *master copy* and changes only what an edit touches ([`Change`]):
//!
//! * **Steps.** The master's step list keeps *holes* (steps that do nothing): a full layout
//!   starts with a block of them (from its first edit on, see below), and a removed node leaves
//!   one where its step was. A new node takes the first hole after every step that feeds it,
//!   and must land before every step it feeds (else at the end, if it feeds none); new nodes
//!   are placed in a topological order of their own. A room's joining leg thus takes the holes
//!   a leaving leg left or the leading block. An edge between two nodes already placed must go
//!   forward.
//! * **Buffers.** A value written by a new node gets a buffer of its own (one no other value
//!   uses), from the buffers freed by removed nodes or a new one; a running value that gets
//!   a new reader and shares its buffer with other values (a full compile reuses buffers
//!   after their last reader) moves to a buffer of its own, its writer and readers
//!   rewritten. A value with a buffer of its own conflicts with nothing, wherever its
//!   readers are.
//! * **Checks.** Added nodes' audio formats and required inputs are checked as the full
//!   compile checks them ([`GraphError`]); every step written is checked against the
//!   arena's sizes and for aliasing (for a wide step such as a mixer, the ports that
//!   changed), and new steps against their node's spec.
//!
//! What the incremental path does not handle falls back to a full compile and a new layout:
//! sums (an input port with several edges, before or after), an edge that would go
//! backwards (it may be a cycle: the full compile names it), a new node with no hole where
//! it must go, an audio port longer than the arena's buffers, or more holes than steps.
//!
//! **Schedules for the worker.** [`Planner::schedule`] hands out a [`Schedule`] equal to the
//! master copy. Schedules come back from the worker when replaced ([`Planner::recycle`]);
//! a returned one is brought up to date by copying only the entries changed since its
//! version (a log of changed indices), so its arena, already faulted in, is reused and
//! nothing of size N is allocated or copied per edit. A new schedule (no spare left) is a
//! copy of the master with a fresh arena, with headroom so that growing rooms do not need
//! a new arena per join. The schedule a layout makes keeps the compile's exact arena (a
//! graph that is never edited carries no headroom); it gets one with headroom the first
//! time an edit needs more buffers than it has.
//!
//! **Nothing for edits until the first edit.** A layout is the compile's schedule as it is:
//! the master copy and the schedule handed out have no holes, and none of the bookkeeping
//! above (where each node is, buffer use counts, free buffers and refs, the holes, the
//! telemetry index) exists. The first [`Planner::update`] builds it and puts the block of
//! holes in front (the schedule then running is replaced, not brought up to date), so a
//! graph that is never edited — a session's — carries none of it, on the control side or
//! on the worker. A fallback to a full compile during an edit lays out with the
//! bookkeeping at once.
//!
//! ```
//! use rvoip_media_graph::{AudioFormat, LiveGraph, NodeSpec, Planner, PortKind, PortSpec, Quantum};
//! let a = PortKind::Audio(AudioFormat::mono(8000));
//! let gain = || NodeSpec::new("gain").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a));
//! let mut g = LiveGraph::new(Quantum::MS_10);
//! let mic = g.add_input("mic", a).unwrap();
//! let out = g.add_output("out", a).unwrap();
//! g.connect(mic, 0, out, 0).unwrap();
//! let mut planner = Planner::new(&g, 1).unwrap();
//! let first = planner.schedule();
//! assert_eq!(first.active_steps(), 0);
//!
//! // An edit: a gain between mic and a second output.
//! let mut edit = g.clone();
//! edit.record_changes();
//! let k = edit.add_node("gain", gain()).unwrap();
//! let quiet = edit.add_output("quiet", a).unwrap();
//! edit.connect(mic, 0, k, 0).unwrap();
//! edit.connect(k, 0, quiet, 0).unwrap();
//! let change = edit.take_changes();
//! assert!(planner.update(&g, &edit, &change).unwrap(), "incremental");
//! let second = planner.schedule();
//! assert_eq!((second.active_steps(), second.outputs()), (1, 2));
//!
//! // A bad edit is refused with the full compile's error, and changes nothing.
//! let mut bad = edit.clone();
//! bad.record_changes();
//! bad.add_node("dangling", gain()).unwrap();
//! let change = bad.take_changes();
//! assert!(planner.update(&edit, &bad, &change).is_err());
//! ```

use crate::arena::{check_step, readable, Arena};
use crate::builder::Edge;
use crate::compile::port_len;
use crate::compile::validate::check_audio_port;
use crate::error::{GraphError, PlanError};
use crate::exec::{check_ports, ExecStep, Op, PortRef, Schedule};
use crate::format::{BufferKind, PortKind, Quantum};
use crate::live::{Change, LiveGraph, LiveNode, NodeKey, NodeRole};
use crate::node::{NodeId, NodeSpec};
use crate::plan::{BufferCounts, BufferRef, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Why [`Planner::update`] refused an edit.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, GraphError, LiveGraph, Planner, PlannerError, PortKind, Quantum};
/// let mut g = LiveGraph::new(Quantum::MS_10);
/// g.add_output("spk", PortKind::Audio(AudioFormat::mono(8000))).unwrap();
/// // Nothing feeds the output: the planner refuses the graph as the compiler would.
/// assert!(matches!(Planner::new(&g, 1), Err(PlannerError::Graph(GraphError::DanglingInput { .. }))));
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlannerError {
    /// The edited graph is not valid (dangling input, cycle, bad format, ...).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The compiled plan failed the executor's checks (a node whose spec does not match).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// How a planner has been keeping up, for benches and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlannerStats {
    /// Edits applied incrementally.
    pub incremental: u64,
    /// Full compiles and layouts (the first one included).
    pub layouts: u64,
    /// Schedules handed out that were recycled ones brought up to date.
    pub recycled: u64,
    /// Schedules handed out that were new copies (a new arena).
    pub fresh: u64,
    /// Steps that run a node or a sum.
    pub active_steps: usize,
    /// Holes in the step list.
    pub holes: usize,
    /// Buffers in use: audio, packet, control.
    pub buffers: [usize; 3],
}

/// Where a node stands in the master copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Empty,
    Step(u32),
    Input(u32),
    Output(u32),
}

/// An index of the master copy changed at some version.
#[derive(Clone, Copy, Debug)]
enum Entry {
    Step(u32),
    Ref(u32),
    InPort(u32),
    OutPort(u32),
    Burst(u32),
    Publish(u32),
}

/// Spare schedules kept for reuse.
const SPARES: usize = 3;

fn kind_index(kind: BufferKind) -> usize {
    match kind {
        BufferKind::Audio => 0,
        BufferKind::Packet => 1,
        BufferKind::Control => 2,
    }
}

/// A live graph's compiled schedule, kept up to date by edits (see the module docs).
pub struct Planner {
    quantum: Quantum,
    packet_burst: usize,
    // The master copy.
    steps: Vec<ExecStep>,
    refs: Vec<BufferRef>,
    in_ports: Vec<PortRef>,
    out_ports: Vec<PortRef>,
    /// Buffers handed out per kind, and the buffer length.
    counts: BufferCounts,
    /// Packet buffers that carry bursts (graph packet inputs).
    burst: Vec<bool>,
    /// Nodes that publish telemetry (slot, values), and where each is in that list.
    publish: Vec<(u32, u8)>,
    publish_at: HashMap<u32, u32>,
    // Layout bookkeeping.
    place: Vec<Place>,
    holes: BTreeSet<u32>,
    active: usize,
    /// Free regions of `refs`, by length.
    free_refs: HashMap<u32, Vec<u32>>,
    /// Whether the steps have their holes and the bookkeeping above (and `burst`,
    /// `publish_at`) is built: not until the first edit of a layout ([`Planner::index`]).
    indexed: bool,
    /// Values per buffer, per kind.
    uses: [Vec<u32>; 3],
    /// Buffers no value uses, per kind (packets: those without bursts).
    free: [Vec<u32>; 3],
    free_burst: Vec<u32>,
    // Mirroring.
    version: u64,
    /// Version of the last layout: older schedules cannot be brought up to date.
    base: u64,
    log: Vec<(u64, Entry)>,
    /// Schedules handed out and not recycled, by version.
    out: BTreeMap<u64, u32>,
    spares: Vec<Schedule>,
    stats: PlannerStats,
}

/// A port of a node: (slot, port index).
type Port = (u32, u32);

/// A running value that moves to a buffer of its own, with every reader.
struct Move {
    value: Port,
    readers: Vec<Port>,
}

/// What [`Planner::try_incremental`] decided before changing anything.
struct Prepared<'g> {
    added: Vec<(NodeKey, &'g LiveNode)>,
    removed: Vec<NodeKey>,
    /// Changed input ports of nodes that stay, (slot, port).
    ports: Vec<(u32, u32)>,
    /// Step position of every added processing node, by slot.
    position: HashMap<u32, u32>,
    /// Running values that move to a buffer of their own.
    moves: Vec<Move>,
}

impl Planner {
    /// Compiles `graph` in full and lays it out. `packet_burst` is the packets a graph packet
    /// input carries per cycle.
    ///
    /// # Errors
    /// Those of [`LiveGraph::plan`] and of [`Schedule::new`].
    pub fn new(graph: &LiveGraph, packet_burst: usize) -> Result<Self, PlannerError> {
        let mut plan = graph.plan()?;
        plan.buffers.packet_burst = packet_burst;
        Ok(Self::from_plan(graph, &plan)?)
    }

    /// Lays out `plan`, already compiled from `graph` (its `packet_burst` is kept).
    ///
    /// # Errors
    /// Those of [`Schedule::new`].
    pub fn from_plan(graph: &LiveGraph, plan: &Plan) -> Result<Self, PlanError> {
        let mut p = Planner {
            quantum: plan.quantum,
            packet_burst: plan.buffers.packet_burst,
            steps: Vec::new(),
            refs: Vec::new(),
            in_ports: Vec::new(),
            out_ports: Vec::new(),
            counts: plan.buffers,
            burst: Vec::new(),
            publish: Vec::new(),
            publish_at: HashMap::new(),
            place: Vec::new(),
            holes: BTreeSet::new(),
            active: 0,
            free_refs: HashMap::new(),
            indexed: false,
            uses: Default::default(),
            free: Default::default(),
            free_burst: Vec::new(),
            version: 0,
            base: 0,
            log: Vec::new(),
            out: BTreeMap::new(),
            spares: Vec::new(),
            stats: PlannerStats::default(),
        };
        p.layout(graph, plan)?;
        Ok(p)
    }

    /// How the planner has been keeping up.
    pub fn stats(&self) -> PlannerStats {
        PlannerStats {
            active_steps: self.active,
            holes: self.holes.len(),
            buffers: [self.counts.audio, self.counts.packet, self.counts.control],
            ..self.stats
        }
    }

    /// Brings the master copy from `old` (the graph it was made for) to `new`, which is
    /// `old` edited as `change` records. Returns whether that was done incrementally (else
    /// by a full compile and a new layout). On an error nothing changed.
    ///
    /// # Errors
    /// [`PlannerError::Graph`]: what the full compile would refuse (a dangling required
    /// input, a cycle, an audio format the quantum cannot carry).
    pub fn update(&mut self, old: &LiveGraph, new: &LiveGraph, change: &Change) -> Result<bool, PlannerError> {
        self.index(old.slot_count());
        if let Some(prepared) = self.try_incremental(old, new, change)? {
            if self.apply(new, prepared) {
                self.stats.incremental += 1;
                return Ok(true);
            }
        }
        self.rebuild(new)?;
        // A graph edited once is likely edited again: ready for it.
        self.index(new.slot_count());
        Ok(false)
    }

    /// Compiles `graph` in full and lays it out afresh (schedules handed out before are not
    /// reused).
    ///
    /// # Errors
    /// Those of [`Planner::new`].
    pub fn rebuild(&mut self, graph: &LiveGraph) -> Result<(), PlannerError> {
        let mut plan = graph.plan()?;
        plan.buffers.packet_burst = self.packet_burst;
        Ok(self.layout(graph, &plan)?)
    }

    /// A schedule equal to the master copy, for the worker: a recycled one brought up to
    /// date if there is one, else a new copy.
    pub fn schedule(&mut self) -> Schedule {
        let base = self.base;
        self.spares.retain(|s| s.version >= base);
        let newest = self.spares.iter().enumerate().max_by_key(|(_, s)| s.version).map(|(i, _)| i);
        let mut s = match newest {
            Some(i) => {
                self.stats.recycled += 1;
                self.spares.swap_remove(i)
            }
            None => {
                self.stats.fresh += 1;
                self.fresh()
            }
        };
        self.bring_up_to_date(&mut s);
        *self.out.entry(self.version).or_default() += 1;
        self.trim_log();
        s
    }

    /// Takes back a schedule [`Planner::schedule`] handed out (the worker let go of it), to
    /// reuse it.
    pub fn recycle(&mut self, s: Schedule) {
        if let Some(n) = self.out.get_mut(&s.version) {
            *n -= 1;
            if *n == 0 {
                self.out.remove(&s.version);
            }
        }
        if s.version >= self.base && self.spares.len() < SPARES {
            self.spares.push(s);
        }
        self.trim_log();
    }

    /// A new copy of the master with an arena of its own.
    fn fresh(&self) -> Schedule {
        let mut s = Schedule {
            steps: self.steps.clone(),
            refs: self.refs.clone(),
            in_ports: self.in_ports.clone(),
            out_ports: self.out_ports.clone(),
            arena: Arena::new(BufferCounts::default()),
            publish: self.publish.clone(),
            cycle: 0,
            version: self.version,
        };
        s.arena = self.new_arena();
        s
    }

    /// An arena for the master's buffers with room to grow.
    fn new_arena(&self) -> Arena {
        let room = |n: usize| n + (n / 2).max(16);
        let c = self.counts;
        let counts = BufferCounts { audio: room(c.audio), packet: room(c.packet), control: room(c.control), ..c };
        // Before the first edit the packet buffers with bursts are the graph inputs' own.
        let inputs = if self.indexed { Vec::new() } else { self.input_bursts() };
        let burst = if self.indexed { &self.burst } else { &inputs };
        Arena::with_bursts(counts, |i| burst.get(i).copied().unwrap_or(false))
    }

    /// Per packet buffer of the master, whether it carries bursts as a layout has them: the
    /// graph's packet inputs' own buffers.
    fn input_bursts(&self) -> Vec<bool> {
        let mut burst = vec![false; self.counts.packet];
        for p in &self.in_ports {
            if p.buffer.kind == BufferKind::Packet && !p.buffer.is_silence() {
                burst[p.buffer.index as usize] = true;
            }
        }
        burst
    }

    fn bring_up_to_date(&self, s: &mut Schedule) {
        if s.version != self.version {
            s.steps.resize(self.steps.len(), ExecStep::NOP);
            s.refs.resize(self.refs.len(), BufferRef::silence(BufferKind::Control, 1));
            let filler = PortRef { node: NodeId(u32::MAX), buffer: BufferRef::silence(BufferKind::Control, 1) };
            s.in_ports.resize(self.in_ports.len(), filler);
            s.out_ports.resize(self.out_ports.len(), filler);
            s.publish.resize(self.publish.len(), (u32::MAX, 0));
            let from = self.log.partition_point(|(v, _)| *v <= s.version);
            for &(_, e) in &self.log[from..] {
                match e {
                    Entry::Step(i) => copy_at(&mut s.steps, &self.steps, i),
                    Entry::Ref(i) => copy_at(&mut s.refs, &self.refs, i),
                    Entry::InPort(i) => copy_at(&mut s.in_ports, &self.in_ports, i),
                    Entry::OutPort(i) => copy_at(&mut s.out_ports, &self.out_ports, i),
                    Entry::Burst(i) => s.arena.ensure_burst(i as usize),
                    Entry::Publish(i) => copy_at(&mut s.publish, &self.publish, i),
                }
            }
        }
        let (a, c) = (s.arena.counts(), self.counts);
        if a.audio < c.audio || a.packet < c.packet || a.control < c.control || a.audio_len != c.audio_len {
            s.arena = self.new_arena();
        }
        s.version = self.version;
    }

    /// Forgets log entries every schedule still out or spare already has (schedules older
    /// than the last layout are never brought up to date, so they keep nothing).
    fn trim_log(&mut self) {
        let out = self.out.range(self.base..).next().map(|(&v, _)| v);
        let oldest = out.into_iter().chain(self.spares.iter().map(|s| s.version)).min();
        match oldest {
            Some(v) => {
                let n = self.log.partition_point(|(lv, _)| *lv <= v);
                self.log.drain(..n);
            }
            None => self.log.clear(),
        }
    }

    /// A full layout of `plan`, compiled from `graph`: the master copy is replaced by the
    /// compile's schedule as it is (no holes, no bookkeeping: most graphs, a session's, are
    /// never edited); [`Planner::index`] adds both before the first edit.
    fn layout(&mut self, graph: &LiveGraph, plan: &Plan) -> Result<(), PlanError> {
        let mut specs: Vec<Option<&NodeSpec>> = vec![None; graph.slot_count()];
        for (k, n) in graph.nodes().filter(|(_, n)| n.role == NodeRole::Process) {
            specs[k.slot()] = Some(&n.spec);
        }
        let mut first = Schedule::new(plan, |id| specs.get(id.index()).copied().flatten())?;
        self.quantum = plan.quantum;
        self.counts = plan.buffers;
        self.steps.clone_from(&first.steps);
        self.refs.clone_from(&first.refs);
        self.in_ports.clone_from(&first.in_ports);
        self.out_ports.clone_from(&first.out_ports);
        self.publish.clear();
        for (k, n) in graph.nodes().filter(|(_, n)| n.role == NodeRole::Process && !n.spec.telemetry.is_empty()) {
            self.publish.push((k.slot() as u32, n.spec.telemetry.len() as u8));
        }
        first.publish.clone_from(&self.publish);
        self.active = plan.steps.len();
        self.forget_index();
        self.version += 1;
        self.base = self.version;
        self.log.clear();
        self.spares.clear();
        // The layout's own schedule keeps the compile's exact arena: most graphs (a
        // session's) are never edited, and headroom of 16 packet slots (1.5 KiB each) was
        // over a quarter of a session's heap. Growth comes with the first edit that needs
        // more buffers (`bring_up_to_date` then gives a schedule an arena with room).
        first.version = self.version;
        self.spares.push(first);
        self.stats.layouts += 1;
        Ok(())
    }

    /// Drops the live-edit bookkeeping (a layout has none until its first edit).
    fn forget_index(&mut self) {
        self.indexed = false;
        self.burst = Vec::new();
        self.publish_at = HashMap::new();
        self.place = Vec::new();
        self.holes = BTreeSet::new();
        self.free_refs = HashMap::new();
        self.uses = Default::default();
        self.free = Default::default();
        self.free_burst = Vec::new();
    }

    /// Before the first edit of a layout: a block of holes in front of the master's steps,
    /// and the bookkeeping edits use (where each node is, buffer use counts, free buffers,
    /// the holes, the telemetry index), for a graph of `slot_count` slots. The steps move:
    /// a spare schedule gets the same holes, one handed out is not brought up to date when
    /// it comes back but replaced (a session that is never edited carries neither).
    fn index(&mut self, slot_count: usize) {
        if self.indexed {
            return;
        }
        let lead = (self.active / 4).max(32);
        let with_holes = |steps: &[ExecStep]| {
            // Sized exactly: extending a vector of the holes alone doubled its capacity.
            let mut v = Vec::with_capacity(lead + steps.len());
            v.resize(lead, ExecStep::NOP);
            v.extend_from_slice(steps);
            v
        };
        self.steps = with_holes(&self.steps);
        let version = self.version;
        self.spares.retain(|s| s.version == version);
        for s in &mut self.spares {
            s.steps = with_holes(&s.steps);
            s.version = version + 1;
        }
        self.burst = self.input_bursts();
        self.publish_at = self.publish.iter().enumerate().map(|(i, &(slot, _))| (slot, i as u32)).collect();
        self.place = vec![Place::Empty; slot_count];
        self.holes = (0..lead as u32).collect();
        self.free_refs.clear();
        self.uses = [vec![0; self.counts.audio], vec![0; self.counts.packet], vec![0; self.counts.control]];
        for (i, st) in self.steps.iter().enumerate().filter(|(_, s)| s.op != Op::Nop) {
            if st.node != u32::MAX {
                self.place[st.node as usize] = Place::Step(i as u32);
            }
            let first = st.first as usize + usize::from(st.inputs);
            for r in &self.refs[first..first + usize::from(st.outputs)] {
                self.uses[kind_index(r.kind)][r.index as usize] += 1;
            }
        }
        for (i, p) in self.in_ports.iter().enumerate() {
            self.place[p.node.index()] = Place::Input(i as u32);
            if !p.buffer.is_silence() {
                self.uses[kind_index(p.buffer.kind)][p.buffer.index as usize] += 1;
            }
        }
        for (i, p) in self.out_ports.iter().enumerate() {
            self.place[p.node.index()] = Place::Output(i as u32);
        }
        for k in 0..3 {
            self.free[k] = (0..self.uses[k].len() as u32).filter(|&i| self.uses[k][i as usize] == 0).collect();
        }
        self.free_burst = self.free[1].iter().copied().filter(|&i| self.burst[i as usize]).collect();
        self.free[1].retain(|&i| !self.burst[i as usize]);
        self.indexed = true;
        self.version += 1;
        self.base = self.version;
        self.log.clear();
    }

    /// The first half of an incremental update: every check, nothing changed. `None` asks
    /// for a full compile.
    fn try_incremental<'g>(
        &self,
        old: &LiveGraph,
        new: &'g LiveGraph,
        change: &Change,
    ) -> Result<Option<Prepared<'g>>, GraphError> {
        if self.holes.len() > 2 * self.active.max(64) {
            return Ok(None); // compact
        }
        let added: Vec<(NodeKey, &LiveNode)> =
            change.added.iter().filter_map(|&k| new.node(k).ok().map(|n| (k, n))).collect();
        let added_slots: HashSet<u32> = added.iter().map(|(k, _)| k.slot() as u32).collect();
        let removed: Vec<NodeKey> = change.removed.iter().copied().filter(|&k| old.node(k).is_ok()).collect();
        let stays = |slot: u32| new.slot_key(slot).is_some_and(|k| old.slot_key(slot) == Some(k));
        let mut ports: Vec<(u32, u32)> =
            change.inputs.iter().copied().filter(|&(s, _)| !added_slots.contains(&s) && stays(s)).collect();
        ports.sort_unstable();
        ports.dedup();
        let fan_in = |g: &LiveGraph, s: u32, p: u32| g.port_sources(s, p).map_or(0, |x| x.count);

        // What the full compile's validation checks, for what changed.
        for (k, n) in &added {
            for p in n.spec.inputs.iter().chain(&n.spec.outputs) {
                check_audio_port(&n.name, p, self.quantum)?;
                if port_len(p.kind, self.quantum) as usize > self.counts.audio_len
                    && p.kind.buffer_kind() == BufferKind::Audio
                {
                    return Ok(None);
                }
            }
            for (pi, p) in n.spec.inputs.iter().enumerate() {
                match fan_in(new, k.slot() as u32, pi as u32) {
                    0 if p.required => return Err(dangling(n, pi)),
                    0 | 1 => {}
                    _ => return Ok(None),
                }
            }
        }
        for &(s, pi) in &ports {
            let Some(n) = new.slot_node(s) else { continue };
            match fan_in(new, s, pi) {
                0 if n.spec.inputs.get(pi as usize).is_some_and(|p| p.required) => {
                    return Err(dangling(n, pi as usize))
                }
                0 | 1 if fan_in(old, s, pi) <= 1 => {}
                _ => return Ok(None),
            }
        }
        for k in &removed {
            let Ok(n) = old.node(*k) else { continue };
            if (0..n.spec.inputs.len() as u32).any(|pi| fan_in(old, k.slot() as u32, pi) > 1) {
                return Ok(None);
            }
        }

        // Where the added processing nodes go: Kahn among themselves, then the first hole
        // after their sources, before the running steps they feed.
        let source = |s: u32, pi: u32| new.port_sources(s, pi).map(|x| x.first);
        let procs: Vec<(NodeKey, &LiveNode)> =
            added.iter().copied().filter(|(_, n)| n.role == NodeRole::Process).collect();
        let index: HashMap<u32, usize> = procs.iter().enumerate().map(|(i, (k, _))| (k.slot() as u32, i)).collect();
        let mut indegree = vec![0usize; procs.len()];
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); procs.len()];
        for (i, (k, n)) in procs.iter().enumerate() {
            for pi in 0..n.spec.inputs.len() as u32 {
                if let Some(&j) = source(k.slot() as u32, pi).and_then(|(u, _)| index.get(&u)) {
                    indegree[i] += 1;
                    succ[j].push(i);
                }
            }
        }
        // The lowest step each added node must stay below: the running steps it feeds.
        let mut upper = vec![u32::MAX; procs.len()];
        for &(s, pi) in &ports {
            if let (Some((u, _)), Place::Step(at)) = (source(s, pi), self.place_of(s)) {
                if let Some(&i) = index.get(&u) {
                    upper[i] = upper[i].min(at);
                }
            }
        }
        let mut ready: Vec<usize> = (0..procs.len()).filter(|&i| indegree[i] == 0).collect();
        let mut position: HashMap<u32, u32> = HashMap::with_capacity(procs.len());
        let mut taken: Vec<u32> = Vec::new();
        let mut append = self.steps.len() as u32;
        while let Some(i) = ready.pop() {
            let (k, n) = procs[i];
            let mut lower: Option<u32> = None;
            for pi in 0..n.spec.inputs.len() as u32 {
                let Some((u, _)) = source(k.slot() as u32, pi) else { continue };
                let at = match position.get(&u) {
                    Some(&at) => Some(at),
                    None if !added_slots.contains(&u) => match self.place_of(u) {
                        Place::Step(at) => Some(at),
                        _ => None,
                    },
                    None => None,
                };
                lower = lower.max(at);
            }
            let from = lower.map_or(0, |l| l + 1);
            let hole = self.holes.range(from..).find(|h| !taken.contains(h)).copied();
            let at = match hole {
                Some(h) if h < upper[i] => h,
                _ if upper[i] == u32::MAX && append >= from => {
                    append += 1;
                    append - 1
                }
                _ => return Ok(None),
            };
            taken.push(at);
            position.insert(k.slot() as u32, at);
            for &j in &succ[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(j);
                }
            }
        }
        if position.len() != procs.len() {
            return Ok(None); // a cycle among the new nodes: the full compile names it
        }
        // New edges between running nodes must go forward.
        for &(s, pi) in &ports {
            if let (Some((u, _)), Place::Step(to)) = (source(s, pi), self.place_of(s)) {
                if let (false, Place::Step(from)) = (added_slots.contains(&u), self.place_of(u)) {
                    if from >= to {
                        return Ok(None);
                    }
                }
            }
        }

        // Running values with a new reader that share their buffer move to one of their own.
        let mut gaining: Vec<(u32, u32)> = Vec::new();
        let mut new_edge = |v: u32, pi: u32, fresh: bool| {
            if let Some((u, po)) = source(v, pi) {
                let e = Edge { from: NodeId(u), from_port: po as usize, to: NodeId(v), to_port: pi as usize };
                if !added_slots.contains(&u) && (fresh || !old.has_edge(&e)) {
                    gaining.push((u, po));
                }
            }
        };
        for (k, n) in &added {
            for pi in 0..n.spec.inputs.len() as u32 {
                new_edge(k.slot() as u32, pi, true);
            }
        }
        for &(s, pi) in &ports {
            new_edge(s, pi, false);
        }
        gaining.sort_unstable();
        gaining.dedup();
        let shared: Vec<(u32, u32)> = gaining
            .into_iter()
            .filter(|&(u, po)| {
                self.value_ref(u, po)
                    .is_some_and(|r| !r.is_silence() && self.uses[kind_index(r.kind)][r.index as usize] > 1)
            })
            .collect();
        let mut moves: Vec<Move> = shared.iter().map(|&value| Move { value, readers: Vec::new() }).collect();
        if !moves.is_empty() {
            let at: HashMap<(u32, u32), usize> = shared.iter().enumerate().map(|(i, &v)| (v, i)).collect();
            for e in new.edges() {
                if let Some(&i) = at.get(&(e.from.0, e.from_port as u32)) {
                    if fan_in(new, e.to.0, e.to_port as u32) > 1 {
                        return Ok(None); // read through a sum
                    }
                    moves[i].readers.push((e.to.0, e.to_port as u32));
                }
            }
        }
        Ok(Some(Prepared { added, removed, ports, position, moves }))
    }

    /// The second half: changes the master copy. Returns false if a check of the result
    /// failed (a bug; the caller lays out afresh).
    fn apply(&mut self, new: &LiveGraph, p: Prepared<'_>) -> bool {
        let ver = self.version + 1;
        let mut log: Vec<Entry> = Vec::new();
        // Removed nodes let go of their step, refs, ports and buffers.
        for k in &p.removed {
            let slot = k.slot();
            match self.place_of(slot as u32) {
                Place::Step(at) => {
                    let st = self.steps[at as usize];
                    let (first, n) = (st.first as usize, usize::from(st.inputs) + usize::from(st.outputs));
                    for i in first + usize::from(st.inputs)..first + n {
                        let r = self.refs[i];
                        self.release(r);
                    }
                    self.free_refs.entry(n as u32).or_default().push(st.first);
                    self.steps[at as usize] = ExecStep::NOP;
                    self.holes.insert(at);
                    self.active -= 1;
                    log.push(Entry::Step(at));
                    if let Some(i) = self.publish_at.remove(&(slot as u32)) {
                        self.publish.swap_remove(i as usize);
                        if let Some(&(moved, _)) = self.publish.get(i as usize) {
                            self.publish_at.insert(moved, i);
                        }
                        log.push(Entry::Publish(i));
                    }
                }
                Place::Input(i) => {
                    let r = self.in_ports[i as usize].buffer;
                    self.release(r);
                    self.in_ports.swap_remove(i as usize);
                    if let Some(moved) = self.in_ports.get(i as usize) {
                        self.place[moved.node.index()] = Place::Input(i);
                    }
                    log.push(Entry::InPort(i));
                }
                Place::Output(i) => {
                    self.out_ports.swap_remove(i as usize);
                    if let Some(moved) = self.out_ports.get(i as usize) {
                        self.place[moved.node.index()] = Place::Output(i);
                    }
                    log.push(Entry::OutPort(i));
                }
                Place::Empty => {}
            }
            if let Some(pl) = self.place.get_mut(slot) {
                *pl = Place::Empty;
            }
        }
        if self.place.len() < new.slot_count() {
            self.place.resize(new.slot_count(), Place::Empty);
        }
        // Added nodes: steps with their outputs' buffers, graph inputs and outputs.
        let silence = |kind: PortKind, q: Quantum| BufferRef::silence(kind.buffer_kind(), port_len(kind, q));
        for &(k, n) in &p.added {
            let node = k.node_id();
            match n.role {
                NodeRole::Input => {
                    let kind = n.spec.outputs[0].kind;
                    let buffer = self.alloc(kind, true, &mut log);
                    self.place[k.slot()] = Place::Input(self.in_ports.len() as u32);
                    log.push(Entry::InPort(self.in_ports.len() as u32));
                    self.in_ports.push(PortRef { node, buffer });
                }
                NodeRole::Output => {
                    let buffer = silence(n.spec.inputs[0].kind, self.quantum);
                    self.place[k.slot()] = Place::Output(self.out_ports.len() as u32);
                    log.push(Entry::OutPort(self.out_ports.len() as u32));
                    self.out_ports.push(PortRef { node, buffer });
                }
                NodeRole::Process => {
                    let at = p.position[&(k.slot() as u32)];
                    let (ins, outs) = (n.spec.inputs.len(), n.spec.outputs.len());
                    let first = self.alloc_refs((ins + outs) as u32);
                    for (j, port) in n.spec.inputs.iter().enumerate() {
                        self.refs[first as usize + j] = silence(port.kind, self.quantum);
                    }
                    for (j, port) in n.spec.outputs.iter().enumerate() {
                        let r = self.alloc(port.kind, false, &mut log);
                        self.refs[first as usize + ins + j] = r;
                    }
                    log.extend((first..first + (ins + outs) as u32).map(Entry::Ref));
                    let o = first as usize + ins;
                    let step = ExecStep::node(node, first, ins, &self.refs[o..o + outs]);
                    if at as usize >= self.steps.len() {
                        // Appended; places between the end and `at` are holes until the
                        // other appended nodes fill them below.
                        let end = self.steps.len() as u32;
                        self.steps.resize(at as usize + 1, ExecStep::NOP);
                        self.holes.extend(end..at);
                    }
                    self.holes.remove(&at);
                    self.steps[at as usize] = step;
                    self.active += 1;
                    self.place[k.slot()] = Place::Step(at);
                    log.push(Entry::Step(at));
                    if !n.spec.telemetry.is_empty() {
                        let i = self.publish.len() as u32;
                        self.publish.push((k.slot() as u32, n.spec.telemetry.len() as u8));
                        self.publish_at.insert(k.slot() as u32, i);
                        log.push(Entry::Publish(i));
                    }
                }
            }
        }
        // Running values that move to a buffer of their own.
        for Move { value: (u, po), readers } in &p.moves {
            let Some(old) = self.value_ref(*u, *po) else { return false };
            let r = self.alloc_like(old, &mut log);
            self.release(old);
            self.set_value(*u, *po, r, &mut log);
            for &(v, pi) in readers {
                self.set_input(v, pi, r, &mut log);
            }
        }
        // Inputs of added nodes and changed ports.
        let mut changed: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(k, n) in &p.added {
            changed.insert(k.slot() as u32, (0..n.spec.inputs.len() as u32).collect());
        }
        for &(s, pi) in &p.ports {
            changed.entry(s).or_default().push(pi);
        }
        for (&v, ports) in &changed {
            let Some(n) = new.slot_node(v) else { continue };
            for &pi in ports {
                let Some(port) = n.spec.inputs.get(pi as usize) else { return false };
                let r = match new.port_sources(v, pi).map(|s| s.first) {
                    Some((u, po)) => match self.value_ref(u, po) {
                        Some(r) => r,
                        None => return false,
                    },
                    None => silence(port.kind, self.quantum),
                };
                self.set_input(v, pi, r, &mut log);
            }
        }
        // Checks of every step written.
        for (&v, ports) in &changed {
            let Place::Step(at) = self.place_of(v) else { continue };
            let st = self.steps[at as usize];
            let first = st.first as usize;
            let mid = first + usize::from(st.inputs);
            let (inputs, outputs) = (&self.refs[first..mid], &self.refs[mid..mid + usize::from(st.outputs)]);
            let ok = if p.position.contains_key(&v) || outputs.len() <= 16 {
                let spec_ok = new
                    .slot_node(v)
                    .is_some_and(|n| check_ports(at as usize, &n.spec, self.quantum, inputs, outputs).is_ok());
                spec_ok && check_step(&self.counts, inputs, outputs).is_ok()
            } else {
                ports.iter().all(|&pi| {
                    let r = inputs[pi as usize];
                    readable(&self.counts, &r)
                        && (r.is_silence() || !outputs.iter().any(|o| o.kind == r.kind && o.index == r.index))
                })
            };
            if !ok {
                return false;
            }
        }
        self.version = ver;
        self.log.extend(log.into_iter().map(|e| (ver, e)));
        true
    }

    fn place_of(&self, slot: u32) -> Place {
        self.place.get(slot as usize).copied().unwrap_or(Place::Empty)
    }

    /// The buffer of output `po` of the node in `slot`.
    fn value_ref(&self, slot: u32, po: u32) -> Option<BufferRef> {
        match self.place_of(slot) {
            Place::Step(at) => {
                let st = self.steps[at as usize];
                (po < u32::from(st.outputs))
                    .then(|| self.refs[st.first as usize + usize::from(st.inputs) + po as usize])
            }
            Place::Input(i) => (po == 0).then(|| self.in_ports[i as usize].buffer),
            _ => None,
        }
    }

    fn set_value(&mut self, slot: u32, po: u32, r: BufferRef, log: &mut Vec<Entry>) {
        match self.place_of(slot) {
            Place::Step(at) => {
                let st = self.steps[at as usize];
                let i = st.first + u32::from(st.inputs) + po;
                self.refs[i as usize] = r;
                log.push(Entry::Ref(i));
            }
            Place::Input(i) => {
                self.in_ports[i as usize].buffer = r;
                log.push(Entry::InPort(i));
            }
            _ => {}
        }
    }

    fn set_input(&mut self, slot: u32, pi: u32, r: BufferRef, log: &mut Vec<Entry>) {
        match self.place_of(slot) {
            Place::Step(at) => {
                let i = self.steps[at as usize].first + pi;
                self.refs[i as usize] = r;
                log.push(Entry::Ref(i));
            }
            Place::Output(i) => {
                self.out_ports[i as usize].buffer = r;
                log.push(Entry::OutPort(i));
            }
            _ => {}
        }
    }

    /// A region of `n` refs: a freed one of that length, or at the end.
    fn alloc_refs(&mut self, n: u32) -> u32 {
        if let Some(first) = self.free_refs.get_mut(&n).and_then(Vec::pop) {
            return first;
        }
        let first = self.refs.len() as u32;
        self.refs.resize(self.refs.len() + n as usize, BufferRef::silence(BufferKind::Control, 1));
        first
    }

    /// A buffer no other value uses, for a value of `kind` (`graph_input`: a graph packet
    /// input's, which carries bursts).
    fn alloc(&mut self, kind: PortKind, graph_input: bool, log: &mut Vec<Entry>) -> BufferRef {
        self.alloc_buffer(kind.buffer_kind(), port_len(kind, self.quantum), graph_input, log)
    }

    fn alloc_buffer(&mut self, kind: BufferKind, len: u32, burst: bool, log: &mut Vec<Entry>) -> BufferRef {
        let k = kind_index(kind);
        let burst = burst && k == 1;
        let index = if k == 1 {
            let (first, second) = if burst {
                (&mut self.free_burst, &mut self.free[1])
            } else {
                (&mut self.free[1], &mut self.free_burst)
            };
            first.pop().or_else(|| second.pop())
        } else {
            self.free[k].pop()
        };
        let index = index.unwrap_or_else(|| {
            let n = self.uses[k].len() as u32;
            self.uses[k].push(0);
            match k {
                0 => self.counts.audio += 1,
                1 => {
                    self.counts.packet += 1;
                    self.burst.push(false);
                }
                _ => self.counts.control += 1,
            }
            n
        });
        if burst && !self.burst[index as usize] {
            self.burst[index as usize] = true;
            log.push(Entry::Burst(index));
        }
        self.uses[k][index as usize] += 1;
        BufferRef { kind, index, len }
    }

    /// A buffer of its own for a value now in `r`.
    fn alloc_like(&mut self, r: BufferRef, log: &mut Vec<Entry>) -> BufferRef {
        let burst = r.kind == BufferKind::Packet && self.burst[r.index as usize];
        self.alloc_buffer(r.kind, r.len, burst, log)
    }

    fn release(&mut self, r: BufferRef) {
        if r.is_silence() {
            return;
        }
        let k = kind_index(r.kind);
        let u = &mut self.uses[k][r.index as usize];
        *u -= 1;
        if *u == 0 {
            if k == 1 && self.burst[r.index as usize] {
                self.free_burst.push(r.index);
            } else {
                self.free[k].push(r.index);
            }
        }
    }
}

fn copy_at<T: Copy>(dst: &mut [T], src: &[T], i: u32) {
    if let (Some(d), Some(s)) = (dst.get_mut(i as usize), src.get(i as usize)) {
        *d = *s;
    }
}

fn dangling(n: &LiveNode, pi: usize) -> GraphError {
    GraphError::DanglingInput { node: n.name.clone(), port: n.spec.inputs[pi].name.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{AudioFormat, PacketFormat};
    use crate::node::PortSpec;
    use crate::rng::SplitMix64;

    const A: PortKind = PortKind::Audio(AudioFormat { rate: 8000, channels: 1 });
    const P: PortKind = PortKind::Packet(PacketFormat { encoding: "PCMU", clock_rate: 8000, channels: 1 });
    const PORTS: usize = 24;

    fn chain(input: PortKind) -> NodeSpec {
        NodeSpec::new("chain")
            .with_input(PortSpec::required("in", input))
            .with_output(PortSpec::required("out", A))
            .with_telemetry(&["level"])
    }

    fn encoder() -> NodeSpec {
        NodeSpec::new("enc").with_input(PortSpec::required("in", A)).with_output(PortSpec::required("out", P))
    }

    /// A mixer-like node: `PORTS` optional inputs and as many outputs.
    fn mixer() -> NodeSpec {
        let mut s = NodeSpec::new("mixer");
        for _ in 0..PORTS {
            s = s.with_input(PortSpec::optional("in", A)).with_output(PortSpec::required("out", A));
        }
        s
    }

    /// Runs the master copy symbolically: every buffer holds the value last written into it;
    /// every read must find its source's value (so the order is topological and no value is
    /// overwritten while still needed), every graph output its source's at the end.
    fn check_master(p: &Planner, g: &LiveGraph) {
        let mut holds: HashMap<(u8, u32), (u32, u32)> = HashMap::new();
        let key = |r: &BufferRef| (r.kind as u8, r.index);
        let expect = |holds: &HashMap<(u8, u32), (u32, u32)>, r: &BufferRef, slot: u32, pi: u32, what: &str| match g
            .port_sources(slot, pi)
        {
            Some(s) => assert_eq!(holds.get(&key(r)), Some(&s.first), "{what} {slot}.{pi} reads the wrong value"),
            None => assert!(r.is_silence(), "{what} {slot}.{pi} unconnected but not silent"),
        };
        for port in &p.in_ports {
            holds.insert(key(&port.buffer), (port.node.0, 0));
        }
        let mut seen = HashSet::new();
        for st in p.steps.iter().filter(|s| s.op != Op::Nop) {
            assert!(seen.insert(st.node), "node {} has two steps", st.node);
            let first = st.first as usize;
            for pi in 0..st.inputs as u32 {
                expect(&holds, &p.refs[first + pi as usize], st.node, pi, "step");
            }
            for po in 0..st.outputs as u32 {
                let r = p.refs[first + st.inputs as usize + po as usize];
                assert!(readable(&p.counts, &r) && !r.is_silence());
                holds.insert(key(&r), (st.node, po));
            }
        }
        for port in &p.out_ports {
            expect(&holds, &port.buffer, port.node.0, 0, "output");
        }
        let processes = g.nodes().filter(|(_, n)| n.role == NodeRole::Process).count();
        assert_eq!(seen.len(), processes);
        assert_eq!(p.in_ports.len(), g.nodes().filter(|(_, n)| n.role == NodeRole::Input).count());
        assert_eq!(p.out_ports.len(), g.nodes().filter(|(_, n)| n.role == NodeRole::Output).count());
        assert_eq!(p.active, processes);
        let mut publishing: Vec<(u32, u8)> = g
            .nodes()
            .filter(|(_, n)| !n.spec.telemetry.is_empty())
            .map(|(k, n)| (k.slot() as u32, n.spec.telemetry.len() as u8))
            .collect();
        let mut listed = p.publish.clone();
        listed.sort_unstable();
        publishing.sort_unstable();
        assert_eq!(listed, publishing, "telemetry list");
    }

    fn same_as_master(p: &Planner, s: &Schedule) {
        assert_eq!((&s.steps, &s.refs), (&p.steps, &p.refs));
        assert_eq!((&s.in_ports, &s.out_ports), (&p.in_ports, &p.out_ports));
        assert_eq!(s.publish, p.publish);
        let (a, c) = (s.arena.counts(), p.counts);
        assert!(a.audio >= c.audio && a.packet >= c.packet && a.control >= c.control);
        for port in &s.in_ports {
            if port.buffer.kind == BufferKind::Packet {
                assert!(s.arena.packet(&port.buffer).capacity() >= c.packet_burst.max(1));
            }
        }
    }

    /// A leg: rx (packets) → decode → up → mixer port; mixer port → down → encode → tx.
    /// A full compile reuses buffers across legs (a decoder's output after the `up` that
    /// read it; an unread mixer output after the mixer), so taps and joins move values.
    fn join(g: &mut LiveGraph, mixer: NodeKey, name: usize, port: usize) {
        let rx = g.add_input(format!("{name}.rx"), P).unwrap();
        let dec = g.add_node(format!("{name}.dec"), chain(P)).unwrap();
        let up = g.add_node(format!("{name}.up"), chain(A)).unwrap();
        let down = g.add_node(format!("{name}.down"), chain(A)).unwrap();
        let enc = g.add_node(format!("{name}.enc"), encoder()).unwrap();
        let tx = g.add_output(format!("{name}.tx"), P).unwrap();
        g.connect(rx, 0, dec, 0).unwrap();
        g.connect(dec, 0, up, 0).unwrap();
        g.connect(up, 0, mixer, port).unwrap();
        g.connect(mixer, port, down, 0).unwrap();
        g.connect(down, 0, enc, 0).unwrap();
        g.connect(enc, 0, tx, 0).unwrap();
    }

    fn leave(g: &mut LiveGraph, name: usize) {
        for part in ["rx", "dec", "up", "down", "enc", "tx"] {
            let k = g.key(&format!("{name}.{part}")).unwrap();
            g.remove(k).unwrap();
        }
    }

    /// One edit as a running engine makes it: `edit` applied to a copy of `g` as one change,
    /// the planner updated, its new schedule swapped in for `running` (which goes back to
    /// the planner) and checked against the master. Whether the update was incremental.
    fn edit_and_swap(
        planner: &mut Planner,
        g: &mut LiveGraph,
        running: &mut Schedule,
        edit: impl FnOnce(&mut LiveGraph),
    ) -> bool {
        let mut e = g.clone();
        e.record_changes();
        edit(&mut e);
        let change = e.take_changes();
        let incremental = planner.update(g, &e, &change).unwrap();
        *g = e;
        let next = planner.schedule();
        planner.recycle(std::mem::replace(running, next));
        same_as_master(planner, running);
        incremental
    }

    /// Random joins, leaves and taps on a room: every schedule equals a correct master copy,
    /// whichever path (incremental or full) made it, and churn stays incremental.
    #[test]
    #[cfg_attr(miri, ignore = "no unsafe code of its own; hours under Miri")]
    fn random_room_edits_keep_a_correct_schedule() {
        let mut rng = SplitMix64::new(15);
        let mut g = LiveGraph::new(Quantum::MS_10);
        let mixer = g.add_node("mixer", mixer()).unwrap();
        let mut ports: Vec<Option<usize>> = vec![None; PORTS];
        for (i, port) in ports.iter_mut().enumerate().take(PORTS / 2) {
            join(&mut g, mixer, i, i);
            *port = Some(i);
        }
        let mut planner = Planner::new(&g, 4).unwrap();
        check_master(&planner, &g);
        let mut out: Vec<Schedule> = vec![planner.schedule()];
        let mut next = PORTS;
        let mut taps = 0;
        for round in 0..400 {
            let mut edited = g.clone();
            edited.record_changes();
            // One to three operations per edit, as a room coalesces them.
            for _ in 0..1 + rng.below(3) {
                let port = rng.below(PORTS as u64) as usize;
                match (ports[port], rng.below(10)) {
                    (Some(name), 0) => {
                        // A recording tap on a running leg's decoder.
                        let dec = edited.key(&format!("{name}.dec")).unwrap();
                        let tap = edited.add_output(format!("tap{taps}"), A).unwrap();
                        edited.connect(dec, 0, tap, 0).unwrap();
                        taps += 1;
                    }
                    (Some(name), _) => {
                        leave(&mut edited, name);
                        for t in 0..taps {
                            if let Some(k) = edited.key(&format!("tap{t}")) {
                                if edited.port_sources(k.slot() as u32, 0).is_none() {
                                    edited.remove(k).unwrap();
                                }
                            }
                        }
                        ports[port] = None;
                    }
                    (None, _) => {
                        join(&mut edited, mixer, next, port);
                        ports[port] = Some(next);
                        next += 1;
                    }
                }
            }
            let change = edited.take_changes();
            planner.update(&g, &edited, &change).unwrap();
            // The graph before the edit, replaying the change, is the graph after it.
            let mut replayed = g.clone();
            replayed.replay(&change).unwrap();
            let listing = |g: &LiveGraph| g.nodes().map(|(k, n)| (k, n.name.clone())).collect::<Vec<_>>();
            let edges = |g: &LiveGraph| g.edges().copied().collect::<Vec<_>>();
            assert_eq!((listing(&replayed), edges(&replayed)), (listing(&edited), edges(&edited)));
            g = edited;
            check_master(&planner, &g);
            let s = planner.schedule();
            same_as_master(&planner, &s);
            out.push(s);
            // The worker hands schedules back one or two edits late.
            while out.len() > 1 + (round % 2) {
                planner.recycle(out.remove(0));
            }
        }
        let stats = planner.stats();
        assert!(stats.incremental >= 380, "{stats:?}");
        assert!(stats.recycled >= 380, "{stats:?}");
        assert!(planner.log.len() < 200, "log trimmed: {}", planner.log.len());
    }

    /// The schedule a layout makes has the compile's exact arena (a graph never edited, a
    /// session's, carries no spare buffers); brought up to date after edits that need more
    /// buffers, it gets an arena with room to grow.
    #[test]
    #[cfg_attr(miri, ignore = "no unsafe code of its own; a minute of CI's Miri step")]
    fn a_layouts_schedule_is_sized_exactly_and_grows_when_an_edit_needs_it() {
        let mut g = LiveGraph::new(Quantum::MS_10);
        let mixer = g.add_node("mixer", mixer()).unwrap();
        join(&mut g, mixer, 0, 0);
        let mut planner = Planner::new(&g, 4).unwrap();
        let first = planner.schedule();
        assert_eq!(first.arena.counts(), planner.counts);
        same_as_master(&planner, &first);
        let mut running = first;
        for leg in 1..3 {
            let incremental = edit_and_swap(&mut planner, &mut g, &mut running, |e| join(e, mixer, leg, leg));
            assert!(incremental, "incremental");
        }
        // The second edit brought the layout's schedule back, grown, with headroom.
        let (a, c) = (running.arena.counts(), planner.counts);
        assert!(c.packet > 2 && a.packet >= c.packet + 16 && a.audio >= c.audio + 16, "{a:?} for {c:?}");
    }

    /// A schedule that never comes back (its command could not be sent) keeps the log
    /// growing only until the planner lays out afresh, as the engine then does.
    #[test]
    #[cfg_attr(miri, ignore = "no unsafe code of its own; a minute of CI's Miri step")]
    fn a_lost_schedule_does_not_keep_the_log_after_a_new_layout() {
        let mut g = LiveGraph::new(Quantum::MS_10);
        let mixer = g.add_node("mixer", mixer()).unwrap();
        join(&mut g, mixer, 0, 0);
        let mut planner = Planner::new(&g, 4).unwrap();
        drop(planner.schedule());
        planner.rebuild(&g).unwrap();
        let mut running = planner.schedule();
        for round in 0..50 {
            let incremental = edit_and_swap(&mut planner, &mut g, &mut running, |e| {
                if round % 2 == 0 {
                    join(e, mixer, 1, 1);
                } else {
                    leave(e, 1);
                }
            });
            assert!(incremental);
        }
        assert!(planner.log.len() < 40, "log of {} entries", planner.log.len());
    }

    #[test]
    #[cfg_attr(miri, ignore = "no unsafe code of its own; a minute of CI's Miri step")]
    fn bad_edits_are_refused_with_the_full_compiles_errors_and_change_nothing() {
        let mut g = LiveGraph::new(Quantum::MS_10);
        let mixer = g.add_node("mixer", mixer()).unwrap();
        join(&mut g, mixer, 0, 0);
        let mut planner = Planner::new(&g, 4).unwrap();
        planner.index(g.slot_count()); // as every update does first
        let before = (planner.steps.clone(), planner.refs.clone(), planner.version);

        // A dangling required input of a new node.
        let mut e = g.clone();
        e.record_changes();
        e.add_node("lonely", chain(A)).unwrap();
        let c = e.take_changes();
        assert_eq!(planner.update(&g, &e, &c), Err(e.plan().unwrap_err().into()));

        // A required input left dangling by a removal.
        let mut e = g.clone();
        e.record_changes();
        e.remove(e.key("0.rx").unwrap()).unwrap();
        let c = e.take_changes();
        let err = planner.update(&g, &e, &c).unwrap_err();
        assert_eq!(err, e.plan().unwrap_err().into());
        assert!(matches!(err, PlannerError::Graph(GraphError::DanglingInput { ref node, .. }) if node == "0.dec"));

        // A cycle through new nodes and the mixer: the full compile names it.
        let mut e = g.clone();
        e.record_changes();
        let x = e.add_node("x", chain(A)).unwrap();
        e.connect(mixer, 5, x, 0).unwrap();
        e.connect(x, 0, mixer, 5).unwrap();
        let c = e.take_changes();
        assert!(matches!(planner.update(&g, &e, &c), Err(PlannerError::Graph(GraphError::Cycle { .. }))));

        // A format the quantum cannot carry.
        let mut e = LiveGraph::new(Quantum::MS_2_5);
        let i = e.add_input("in", A).unwrap();
        let o = e.add_output("out", A).unwrap();
        e.connect(i, 0, o, 0).unwrap();
        let mut p2 = Planner::new(&e, 1).unwrap();
        let old = e.clone();
        e.record_changes();
        let cd = PortKind::Audio(AudioFormat::mono(44_100));
        e.add_node("cd", NodeSpec::new("cd").with_output(PortSpec::required("out", cd))).unwrap();
        let c = e.take_changes();
        assert!(matches!(p2.update(&old, &e, &c), Err(PlannerError::Graph(GraphError::QuantumMismatch { .. }))));

        assert_eq!((planner.steps.clone(), planner.refs.clone(), planner.version), before);
        check_master(&planner, &g);
    }
}
