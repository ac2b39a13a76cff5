//! The engine: real-time workers, partitions, the control plane.
//!
//! - [`Engine::start`] spawns W workers (default: cores − 1, at least 1), each pinned to a
//!   core and promoted to SCHED_FIFO when the system permits (when not, it keeps running and
//!   [`Engine::status`] says so). Workers pace cycles on absolute deadlines.
//! - [`Engine::driven`] runs no threads: the host calls [`Driver::process_cycle`] (offline
//!   processing, deterministic tests, benchmarks). The command path is identical.
//! - A partition (an independent graph: a call, a room) is compiled on the control side and
//!   placed on the least-loaded worker with [`Engine::add_partition`], which returns its
//!   [`PartitionIo`] endpoints.
//! - A running partition is changed by an [`Edit`] ([`Engine::edit`]): nodes, graph inputs
//!   and outputs added or removed, ports connected or disconnected, messages to nodes — all
//!   compiled on the control side and applied by the worker at one cycle boundary. Nodes the
//!   edit does not touch keep their state; only new processors travel to the worker and
//!   removed ones come back to be freed on the control side.
//! - Nodes take typed messages ([`Engine::send_message`]) and publish telemetry
//!   ([`Engine::telemetry`]) that the control side reads at any time.
//! - Every control call sends a command over the worker's command ring and returns a
//!   [`Ticket`] at once; the worker applies commands at the start of a cycle (a bounded
//!   number per cycle) and answers each on its reply ring; the control side drops whatever
//!   comes back. A full command ring is [`EngineError::CommandQueueFull`].
//!
//! ```
//! use rvoip_media_core::prelude::*;
//!
//! // A pass-through graph: one audio input wired to one output.
//! let a = PortKind::Audio(AudioFormat::mono(8000));
//! let mut b = GraphBuilder::new(Quantum::MS_10);
//! let mic = b.add_input("mic", a);
//! let out = b.add_output("out", a);
//! b.connect(mic, 0, out, 0).unwrap();
//!
//! let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
//! let mut part = engine.add_partition(b.build().unwrap()).unwrap();
//! let mut mic_in = part.io.take_audio_in("mic").unwrap();
//! let mut out_rx = part.io.take_audio_out("out").unwrap();
//!
//! mic_in.push(&[0.5; 80]).unwrap();
//! driver.process_cycle(); // applies the add command, then runs the partition
//! let frame = out_rx.pop().unwrap();
//! assert_eq!(frame.samples(), &[0.5; 80]);
//! assert!(engine.is_done(part.ticket));
//! ```

mod command;
mod config;
mod cycle_clock;
mod edit;
mod endpoint;
mod error;
mod frame;
mod partition;
pub(crate) mod rt;
mod status;
mod worker;

pub use command::Refusal;
pub use config::EngineConfig;
pub use cycle_clock::CycleClock;
pub use edit::{Committed, Edit};
pub use endpoint::{
    AudioIn, AudioOut, ControlCell, ControlIn, ControlOut, ControlShared, EndpointError, InputEndpoint, OutputEndpoint,
    PacketIn, PacketOut, PartitionIo,
};
pub use error::EngineError;
pub use frame::{AudioFrame, FramePool, FrameTooLarge, PacketPool};
pub use partition::PartitionId;
pub use rt::{is_worker_thread, thread_cpu_ns, RtPriority};
pub use status::{EngineStatus, WorkerStatus};
pub use worker::Pacing;

use crate::stats::{PartitionStats, PartitionStatsCell, WorkerStatsCell};
use crate::sync::command::{channel, ControlEnd};
use crate::sync::pool::Pool;
use crate::sync::seqlock::SeqLockSlice;
use command::{Command, Reply};
use partition::{EditPayload, LivePlan, Partition, PartitionParts, SlotState, WorkerEnd};
use rvoip_media_graph::{
    Change, CompiledGraph, LiveGraph, NodeKey, NodeRole, NodeSpec, Packet, Plan, Planner, PortKind, Processor,
};
use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use worker::{ThreadSetup, Worker, WorkerInfo};

/// Identifies a sent command; see [`Engine::wait`] and [`Engine::outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    worker: usize,
    seq: u64,
}

/// A partition placed on a worker.
pub struct PartitionHandle {
    /// Its id, for later commands.
    pub id: PartitionId,
    /// The worker it runs on.
    pub worker: usize,
    /// Its endpoints.
    pub io: PartitionIo,
    /// The add command.
    pub ticket: Ticket,
}

/// A node's latest published values, as [`Engine::telemetry`] returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeTelemetry {
    /// The names, in the node's order ([`NodeSpec::telemetry`]).
    pub names: &'static [&'static str],
    /// The values, one per name.
    pub values: Vec<f64>,
}

impl NodeTelemetry {
    /// The value called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names.iter().position(|n| *n == name).map(|i| self.values[i])
    }
}

/// Refusals remembered for [`Engine::outcome`], per worker.
const OUTCOMES_KEPT: usize = 1024;

struct WorkerHandle {
    end: ControlEnd<Command, Reply>,
    sent: u64,
    answered: u64,
    partitions: usize,
    load: usize,
    stats: Arc<WorkerStatsCell>,
    info: Arc<WorkerInfo>,
    thread: Option<JoinHandle<()>>,
    /// (ticket seq, refusal) of the latest refused commands.
    refused: VecDeque<(u64, Refusal)>,
}

/// The control side's record of a partition: the live graph the worker runs, the slots'
/// telemetry cells, and the size of the worker's stores.
struct PartitionRecord {
    worker: usize,
    graph: LiveGraph,
    /// The schedule of `graph`, kept up to date edit by edit.
    planner: Planner,
    /// The graph as it was before the last committed edit, with that edit's change: the
    /// next edit's working copy, brought up to date by replaying the change (instead of
    /// copying the whole graph).
    spare: Option<(LiveGraph, Change)>,
    telemetry: HashMap<usize, Arc<SeqLockSlice>>,
    /// Slots in the worker's stores.
    capacity: usize,
    /// Bumped by every committed edit (see [`EngineError::EditConflict`]).
    version: u64,
    stats: Arc<PartitionStatsCell>,
    load: usize,
}

struct Control {
    workers: Vec<WorkerHandle>,
    partitions: HashMap<PartitionId, PartitionRecord>,
    next_id: u64,
    refusals: u64,
    last_refusal: Option<Refusal>,
}

/// The control handle: `Send + Sync`; every method returns without waiting for a worker.
pub struct Engine {
    config: EngineConfig,
    threaded: bool,
    /// When the threads' first cycle starts (their grid; 0 for a driven engine).
    epoch_ns: u64,
    control: Mutex<Control>,
    frames: FramePool,
    packets: PacketPool,
    stop: Arc<AtomicBool>,
}

/// Runs the single virtual worker of a driven engine on the caller's thread.
pub struct Driver {
    worker: Worker,
}

impl Driver {
    /// Applies pending commands, then runs every partition for one quantum.
    pub fn process_cycle(&mut self) {
        self.worker.cycle(None);
    }

    /// Replies the worker could not deliver (always 0 unless the protocol is broken).
    pub fn lost_replies(&self) -> u64 {
        self.worker.lost_replies()
    }
}

/// Store size for `needed` slots when an edit outgrows a partition's stores: room to grow,
/// so most later edits need no new store.
fn store_capacity(needed: usize) -> usize {
    (needed * 2).max(16)
}

/// Hands the schedule an edit brought back (the one it replaced, or its own if refused) to
/// its partition's planner for reuse; the rest of the payload is dropped here.
fn recycle(partitions: &mut HashMap<PartitionId, PartitionRecord>, e: EditPayload) {
    let EditPayload { partition: id, plan, .. } = e;
    let LivePlan { schedule } = *plan;
    if let Some(rec) = partitions.get_mut(&id) {
        rec.planner.recycle(schedule);
    }
}

impl Engine {
    fn build(config: EngineConfig, workers: usize) -> Result<(Engine, Vec<Worker>), EngineError> {
        config.validate()?;
        let frame_capacity = config.frame_capacity;
        let frames = Pool::new(config.frame_pool, |_| AudioFrame::with_capacity(frame_capacity));
        let packets = Pool::new(config.packet_pool, |_| Packet::new());
        let window = (1_000_000 / u64::from(config.quantum.micros())).max(1);
        let mut handles = Vec::with_capacity(workers);
        let mut ws = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (end, wend) = channel(config.command_capacity);
            let stats = Arc::new(WorkerStatsCell::new());
            ws.push(Worker::new(
                wend,
                config.max_partitions_per_worker,
                config.max_commands_per_cycle,
                window,
                stats.clone(),
            ));
            handles.push(WorkerHandle {
                end,
                sent: 0,
                answered: 0,
                partitions: 0,
                load: 0,
                stats,
                info: Arc::new(WorkerInfo::default()),
                thread: None,
                refused: VecDeque::new(),
            });
        }
        let control =
            Control { workers: handles, partitions: HashMap::new(), next_id: 1, refusals: 0, last_refusal: None };
        let engine = Engine {
            config,
            threaded: false,
            epoch_ns: 0,
            control: Mutex::new(control),
            frames,
            packets,
            stop: Arc::new(AtomicBool::new(false)),
        };
        Ok((engine, ws))
    }

    /// An engine whose single virtual worker runs when the host calls
    /// [`Driver::process_cycle`].
    ///
    /// # Errors
    /// [`EngineError::InvalidConfig`] for settings it cannot run with (see
    /// [`EngineConfig::validate`]).
    pub fn driven(config: EngineConfig) -> Result<(Engine, Driver), EngineError> {
        let (engine, mut ws) = Self::driven_workers(config, 1)?;
        let driver = ws.pop().ok_or(EngineError::NoSuchWorker(0))?;
        Ok((engine, driver))
    }

    /// An engine of `workers` virtual workers, each run by its own [`Driver`] when the host
    /// calls it (driver `i` runs worker `i`; a [`Driver`] can move to another thread). What a
    /// room spread over several workers ([`crate::conference::RoomConfig::with_kernel_workers`])
    /// is tested and measured on: the host runs the drivers side by side, a cycle each.
    ///
    /// ```
    /// use rvoip_media_core::prelude::*;
    /// let (engine, drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// assert_eq!((engine.workers(), drivers.len()), (2, 2));
    /// assert!(matches!(Engine::driven_workers(EngineConfig::default(), 0), Err(EngineError::InvalidConfig { setting: "workers", .. })));
    /// ```
    ///
    /// # Errors
    /// [`EngineError::InvalidConfig`] for 0 workers or settings it cannot run with (see
    /// [`EngineConfig::validate`]).
    pub fn driven_workers(config: EngineConfig, workers: usize) -> Result<(Engine, Vec<Driver>), EngineError> {
        if workers == 0 {
            return Err(EngineError::InvalidConfig { setting: "workers", value: 0, allowed: "at least 1".into() });
        }
        let (engine, ws) = Self::build(config, workers)?;
        for w in &engine.lock().workers {
            w.info.started.store(true, Ordering::Release);
        }
        Ok((engine, ws.into_iter().map(|worker| Driver { worker }).collect()))
    }

    /// Workers (threads, or a driven engine's virtual workers).
    pub fn workers(&self) -> usize {
        self.lock().workers.len()
    }

    /// Starts worker threads and returns once each has finished its set-up.
    ///
    /// # Errors
    /// [`EngineError::InvalidConfig`], or [`EngineError::Spawn`] if a thread could not be
    /// started.
    pub fn start(config: EngineConfig) -> Result<Engine, EngineError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = if config.workers == 0 { cores.saturating_sub(1).max(1) } else { config.workers };
        let (mut engine, ws) = Self::build(config, n)?;
        engine.threaded = true;
        let quantum_ns = engine.config.quantum.duration().as_nanos() as u64;
        // Every worker's cycles start on one grid of the monotonic clock, so the shards of a
        // room spread over several workers run their cycles side by side.
        let epoch_ns = rt::now_ns() + 2 * quantum_ns;
        engine.epoch_ns = epoch_ns;
        {
            let mut control = engine.lock();
            for (i, w) in ws.into_iter().enumerate() {
                let setup = ThreadSetup {
                    core: engine.config.pin_workers.then_some((i + 1) % cores),
                    fifo_priority: engine.config.realtime,
                    pacing: engine.config.pacing,
                    quantum_ns,
                    epoch_ns,
                    info: control.workers[i].info.clone(),
                    stop: engine.stop.clone(),
                };
                let t = std::thread::Builder::new()
                    .name(format!("rvoip-worker-{i}"))
                    .spawn(move || worker::run_thread(w, setup))?;
                control.workers[i].thread = Some(t);
            }
            while !control.workers.iter().all(|w| w.info.started.load(Ordering::Acquire)) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(engine)
    }

    fn lock(&self) -> MutexGuard<'_, Control> {
        // A panic while holding the lock leaves consistent bookkeeping (every update is a
        // single assignment after the fallible part), so poisoning is not fatal.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cycle grid of worker thread `worker` ([`CycleClock`]); `None` for a driven
    /// engine, free-running workers ([`Pacing::FreeRun`]) or no such worker.
    pub fn cycle_clock(&self, worker: usize) -> Option<CycleClock> {
        if !self.threaded || self.config.pacing != Pacing::Clock {
            return None;
        }
        let info = self.lock().workers.get(worker)?.info.clone();
        Some(CycleClock::new(self.epoch_ns, self.config.quantum.duration().as_nanos() as u64, info))
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's frame pool (input endpoints draw from it).
    pub fn frame_pool(&self) -> &FramePool {
        &self.frames
    }

    /// The engine's packet pool.
    pub fn packet_pool(&self) -> &PacketPool {
        &self.packets
    }

    /// The worker's and the host's ends of a packet input and of a packet output, outside
    /// any graph, at the configured ring capacity: for a node that serves its legs' rings
    /// itself (a kernel room's; `conference`).
    /// A kernel room leg's packet input and output through lane `lane` of the slabs `inn`
    /// and `out` (control side; see `endpoint::packet_lanes`).
    pub(crate) fn packet_lanes(
        &self,
        inn: &Arc<crate::sync::lanes::Lanes>,
        out: &Arc<crate::sync::lanes::Lanes>,
        lane: usize,
    ) -> (endpoint::PacketLaneIn, endpoint::PacketLaneOut) {
        endpoint::packet_lanes(inn, out, lane, &self.packets)
    }

    fn collect(c: &mut Control, worker: usize) {
        let Control { workers, refusals, last_refusal, partitions, .. } = c;
        let w = &mut workers[worker];
        let mut seq = w.answered;
        let mut refuse = |seq: u64, r: Refusal, w_refused: &mut VecDeque<(u64, Refusal)>| {
            *refusals += 1;
            *last_refusal = Some(r.clone());
            if w_refused.len() == OUTCOMES_KEPT {
                w_refused.pop_front();
            }
            w_refused.push_back((seq, r));
        };
        let refused = &mut w.refused;
        let answered = w.end.poll(|reply| {
            seq += 1;
            // Whatever the worker let go of is dropped here, on the control side.
            match reply {
                Reply::Refused(r) => refuse(seq, r, refused),
                Reply::AddRefused(p) => {
                    let id = p.id;
                    drop(p);
                    refuse(seq, Refusal::UnknownPartition(id), refused);
                }
                Reply::EditRefused(e) => {
                    let id = e.partition;
                    recycle(partitions, *e);
                    refuse(seq, Refusal::UnknownPartition(id), refused);
                }
                Reply::Edited(e) => {
                    if let Some(Err(m)) = e.messages.iter().map(|m| m.result).find(|r| r.is_err()) {
                        refuse(seq, Refusal::Message(m), refused);
                    }
                    recycle(partitions, *e);
                }
                Reply::Delivered(payload, result) => {
                    drop(payload);
                    if let Err(m) = result {
                        refuse(seq, Refusal::Message(m), refused);
                    }
                }
                Reply::Removed(p) => drop(p),
                Reply::Added | Reply::Done | Reply::Pong => {}
            }
        });
        w.answered += answered as u64;
    }

    fn send(c: &mut Control, worker: usize, cmd: Command) -> Result<Ticket, EngineError> {
        Self::collect(c, worker);
        let w = &mut c.workers[worker];
        let capacity = w.end.capacity();
        w.end.send(cmd).map_err(|_| EngineError::CommandQueueFull { worker, capacity })?;
        w.sent += 1;
        Ok(Ticket { worker, seq: w.sent })
    }

    /// Collects every reply that has arrived and drops what workers let go of.
    pub fn poll(&self) {
        let mut c = self.lock();
        for i in 0..c.workers.len() {
            Self::collect(&mut c, i);
        }
    }

    /// Whether the command behind `ticket` has been answered.
    pub fn is_done(&self, ticket: Ticket) -> bool {
        let mut c = self.lock();
        Self::collect(&mut c, ticket.worker);
        c.workers[ticket.worker].answered >= ticket.seq
    }

    /// How the command behind `ticket` ended: `None` while unanswered, `Some(Ok(()))` when
    /// applied, `Some(Err(refusal))` when the worker refused it (a node refusing a message
    /// or a parameter, a partition removed meanwhile). Refusals are remembered for the last
    /// 1,024 refused commands per worker.
    pub fn outcome(&self, ticket: Ticket) -> Option<Result<(), Refusal>> {
        let mut c = self.lock();
        Self::collect(&mut c, ticket.worker);
        let w = &c.workers[ticket.worker];
        if w.answered < ticket.seq {
            return None;
        }
        Some(match w.refused.iter().find(|(s, _)| *s == ticket.seq) {
            Some((_, r)) => Err(r.clone()),
            None => Ok(()),
        })
    }

    /// Waits (on the control thread) until `ticket` is answered. In driven mode the host
    /// must keep calling [`Driver::process_cycle`] from another thread, or use
    /// [`Engine::is_done`] between cycles instead.
    ///
    /// # Errors
    /// [`EngineError::Timeout`] if the worker has not answered within `timeout`.
    pub fn wait(&self, ticket: Ticket, timeout: Duration) -> Result<(), EngineError> {
        let until = Instant::now() + timeout;
        while !self.is_done(ticket) {
            if Instant::now() >= until {
                return Err(EngineError::Timeout);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }

    fn check_ports<'p>(&self, ports: impl Iterator<Item = (&'p str, PortKind, usize)>) -> Result<(), EngineError> {
        for (name, kind, samples) in ports {
            if matches!(kind, PortKind::Audio(_)) && samples > self.config.frame_capacity {
                return Err(EngineError::FrameTooSmall {
                    port: name.to_string(),
                    samples,
                    capacity: self.config.frame_capacity,
                });
            }
        }
        Ok(())
    }

    fn check_graph(&self, graph: &CompiledGraph) -> Result<(), EngineError> {
        if graph.plan.quantum != self.config.quantum {
            return Err(EngineError::QuantumMismatch { graph: graph.plan.quantum, engine: self.config.quantum });
        }
        let ports = graph.plan.inputs.iter().chain(&graph.plan.outputs);
        self.check_ports(ports.map(|p| (p.name.as_str(), p.kind, p.buffer.len as usize)))
    }

    /// The planner of a new live graph, from its full compilation.
    fn planner(&self, graph: &LiveGraph, mut plan: Plan) -> Result<Planner, EngineError> {
        plan.buffers.packet_burst = self.config.packets_per_cycle;
        Ok(Planner::from_plan(graph, &plan)?)
    }

    /// Places a compiled graph on the least-loaded worker and returns its endpoints. The
    /// partition runs from the first cycle that applies the command. Node `NodeId(i)` of
    /// the compiled graph becomes the node with key slot `i` (see [`Engine::node_key`]).
    ///
    /// # Errors
    /// [`EngineError::QuantumMismatch`], [`EngineError::FrameTooSmall`],
    /// [`EngineError::Plan`], [`EngineError::WorkersFull`],
    /// [`EngineError::CommandQueueFull`].
    pub fn add_partition(&self, graph: CompiledGraph) -> Result<PartitionHandle, EngineError> {
        self.place(graph, None)
    }

    /// As [`Engine::add_partition`], on worker `worker` (the shards of a room spread over
    /// several workers each go to their own).
    ///
    /// ```
    /// use rvoip_media_core::prelude::*;
    /// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// let empty = || GraphBuilder::new(Quantum::MS_10).build().unwrap();
    /// assert_eq!(engine.add_partition_to(empty(), 1).unwrap().worker, 1);
    /// assert!(matches!(engine.add_partition_to(empty(), 2), Err(EngineError::NoSuchWorker(2))));
    /// ```
    ///
    /// # Errors
    /// [`EngineError::NoSuchWorker`], [`EngineError::WorkersFull`] when that worker runs
    /// `max_partitions_per_worker` partitions, and those of [`Engine::add_partition`].
    pub fn add_partition_to(&self, graph: CompiledGraph, worker: usize) -> Result<PartitionHandle, EngineError> {
        if worker >= self.workers() {
            return Err(EngineError::NoSuchWorker(worker));
        }
        self.place(graph, Some(worker))
    }

    /// Places `graph` on `worker`, or on the least-loaded worker.
    fn place(&self, graph: CompiledGraph, worker: Option<usize>) -> Result<PartitionHandle, EngineError> {
        self.check_graph(&graph)?;
        let live = LiveGraph::from_compiled(&graph);
        let load = graph.plan.steps.len().max(1);
        let CompiledGraph { plan, nodes, .. } = graph;
        let mut planner = self.planner(&live, plan)?;
        let plan = Box::new(LivePlan { schedule: planner.schedule() });
        // Stores sized exactly: most partitions (sessions) are never edited; the first edit
        // that adds slots sends stores with room to grow (`store_capacity`).
        let capacity = live.slot_count();
        let mut processors: Vec<Option<Box<dyn Processor>>> = Vec::with_capacity(capacity);
        let mut slots: Vec<SlotState> = Vec::with_capacity(capacity);
        let mut io = PartitionIo { inputs: Vec::new(), outputs: Vec::new() };
        let mut telemetry = HashMap::new();
        for n in nodes {
            let mut state = SlotState::default();
            if !n.spec.telemetry.is_empty() {
                let cell = Arc::new(SeqLockSlice::new(n.spec.telemetry.len()));
                telemetry.insert(processors.len(), cell.clone());
                state.telemetry = Some(cell);
            }
            self.make_endpoint(&n.name, n.role, &n.spec, &mut state, &mut io);
            processors.push(n.processor);
            slots.push(state);
        }
        processors.resize_with(capacity, || None);
        slots.resize_with(capacity, SlotState::default);
        let mut c = self.lock();
        let max = self.config.max_partitions_per_worker;
        let worker = (0..c.workers.len())
            .filter(|&i| c.workers[i].partitions < max && worker.map_or(true, |w| w == i))
            .min_by_key(|&i| (c.workers[i].load, i))
            .ok_or(EngineError::WorkersFull(max))?;
        let id = PartitionId(c.next_id);
        let cell = Arc::new(PartitionStatsCell::new());
        let part = Partition::new(PartitionParts {
            id,
            plan,
            processors,
            slots,
            frames: self.frames.clone(),
            packets: self.packets.clone(),
            window_cycles: (1_000_000 / u64::from(self.config.quantum.micros())).max(1),
            cell: cell.clone(),
            telemetry_every: u64::from(self.config.telemetry_interval),
        });
        let ticket = Self::send(&mut c, worker, Command::Add(Box::new(part)))?;
        c.next_id += 1;
        c.workers[worker].partitions += 1;
        c.workers[worker].load += load;
        let record = PartitionRecord {
            worker,
            graph: live,
            planner,
            spare: None,
            telemetry,
            capacity,
            version: 0,
            stats: cell,
            load,
        };
        c.partitions.insert(id, record);
        Ok(PartitionHandle { id, worker, io, ticket })
    }

    /// For a graph input or output, creates its rings: the worker's end into `state`, the
    /// host's end into `io` (in slot order, which is the plan's port order).
    fn make_endpoint(&self, name: &str, role: NodeRole, spec: &NodeSpec, state: &mut SlotState, io: &mut PartitionIo) {
        let samples = |kind: PortKind| match kind {
            PortKind::Audio(f) => f.samples_per_quantum(self.config.quantum).unwrap_or(0),
            _ => 1,
        };
        match role {
            NodeRole::Input => {
                let kind = spec.outputs[0].kind;
                let (w, h) =
                    endpoint::input_pair(kind, samples(kind), &self.frames, &self.packets, self.config.ring_capacity);
                state.end = Some(WorkerEnd::Input(w));
                io.inputs.push((name.to_string(), kind, h));
            }
            NodeRole::Output => {
                let kind = spec.inputs[0].kind;
                let (w, h) = endpoint::output_pair(kind, self.config.ring_capacity);
                state.end = Some(WorkerEnd::Output(w));
                io.outputs.push((name.to_string(), kind, h));
            }
            NodeRole::Process => {}
        }
    }

    /// Stops a partition; it is handed back and freed on the control side. Its endpoints
    /// stop producing and accepting data (they report `is_abandoned`).
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`], [`EngineError::CommandQueueFull`].
    pub fn remove_partition(&self, id: PartitionId) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        let worker = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?.worker;
        let ticket = Self::send(&mut c, worker, Command::Remove(id))?;
        if let Some(rec) = c.partitions.remove(&id) {
            c.workers[worker].partitions -= 1;
            c.workers[worker].load -= rec.load;
        }
        Ok(ticket)
    }

    /// Starts an edit of a running partition: a copy of its live graph to change, then
    /// [`Edit::commit`] to compile it and send it. See [`Edit`].
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`].
    pub fn edit(&self, id: PartitionId) -> Result<Edit<'_>, EngineError> {
        let mut c = self.lock();
        let rec = c.partitions.get_mut(&id).ok_or(EngineError::UnknownPartition(id))?;
        let replayed = rec.spare.take().and_then(|(mut g, change)| g.replay(&change).is_ok().then_some(g));
        let mut graph = replayed.unwrap_or_else(|| rec.graph.clone());
        graph.record_changes();
        Ok(Edit::new(self, id, graph, rec.version))
    }

    /// Replaces every processing node of a running partition with those of a new
    /// compilation whose graph inputs and outputs are the same (same names and kinds): an
    /// [`Edit`] that removes all processing nodes and adds the new ones, applied at one
    /// cycle boundary. No quantum is lost or processed twice; the endpoints stay. (To keep
    /// nodes and their state, edit only what changes instead.)
    ///
    /// # Errors
    /// [`EngineError::PortsDiffer`], and those of [`Engine::edit`] and [`Edit::commit`].
    pub fn swap_plan(&self, id: PartitionId, graph: CompiledGraph) -> Result<Ticket, EngineError> {
        self.check_graph(&graph)?;
        let mut edit = self.edit(id)?;
        let ports = |g: &LiveGraph, role| -> Vec<(String, NodeSpec)> {
            g.nodes().filter(|(_, n)| n.role == role).map(|(_, n)| (n.name.clone(), n.spec.clone())).collect()
        };
        let new_ports = |role| -> Vec<(String, NodeSpec)> {
            let mut v: Vec<_> =
                graph.nodes.iter().filter(|n| n.role == role).map(|n| (n.name.clone(), n.spec.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        for role in [NodeRole::Input, NodeRole::Output] {
            let mut old = ports(edit.graph(), role);
            old.sort_by(|a, b| a.0.cmp(&b.0));
            let new = new_ports(role);
            if old != new {
                let names = |v: &[(String, NodeSpec)]| v.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
                let detail = format!("{role:?}s [{}] -> [{}]", names(&old), names(&new));
                return Err(EngineError::PortsDiffer { partition: id, detail });
            }
        }
        let old: Vec<NodeKey> =
            edit.graph().nodes().filter(|(_, n)| n.role == NodeRole::Process).map(|(k, _)| k).collect();
        for k in old {
            edit.remove(k)?;
        }
        let CompiledGraph { nodes, edges, .. } = graph;
        let mut keys = Vec::with_capacity(nodes.len());
        for n in nodes {
            let key = match (n.role, n.processor) {
                (NodeRole::Process, Some(p)) => edit.add_node(n.name, p)?,
                _ => edit.key(&n.name).ok_or_else(|| EngineError::PortsDiffer {
                    partition: id,
                    detail: format!("'{}' is missing", n.name),
                })?,
            };
            keys.push(key);
        }
        for e in edges {
            edit.connect(keys[e.from.index()], e.from_port, keys[e.to.index()], e.to_port)?;
        }
        Ok(edit.commit()?.ticket)
    }

    /// How a partition's schedule has been kept up to date: edits compiled incrementally,
    /// full compiles, schedules recycled (see [`rvoip_media_graph::Planner`]).
    ///
    /// ```
    /// use rvoip_media_core::prelude::*;
    /// let a = PortKind::Audio(AudioFormat::mono(8000));
    /// let mut b = GraphBuilder::new(Quantum::MS_10);
    /// let mic = b.add_input("mic", a);
    /// let out = b.add_output("out", a);
    /// b.connect(mic, 0, out, 0).unwrap();
    /// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let part = engine.add_partition(b.build().unwrap()).unwrap();
    /// let mut edit = engine.edit(part.id).unwrap();
    /// let tap = edit.add_output("tap", a).unwrap();
    /// edit.connect(edit.key("mic").unwrap(), 0, tap, 0).unwrap();
    /// edit.commit().unwrap();
    /// let stats = engine.plan_stats(part.id).unwrap();
    /// assert_eq!((stats.layouts, stats.incremental), (1, 1));
    /// ```
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`].
    pub fn plan_stats(&self, id: PartitionId) -> Result<rvoip_media_graph::PlannerStats, EngineError> {
        let c = self.lock();
        Ok(c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?.planner.stats())
    }

    /// The key of the node called `name` in a partition.
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`], [`EngineError::UnknownNodeName`].
    pub fn node_key(&self, id: PartitionId, name: &str) -> Result<NodeKey, EngineError> {
        let c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        rec.graph.key(name).ok_or_else(|| EngineError::UnknownNodeName { partition: id, name: name.to_string() })
    }

    /// The processing node behind `key`: its name and spec.
    fn process_node(graph: &LiveGraph, id: PartitionId, key: NodeKey) -> Result<(&str, &NodeSpec), EngineError> {
        match graph.node(key) {
            Ok(n) if n.role == NodeRole::Process => Ok((n.name.as_str(), &n.spec)),
            _ => Err(EngineError::UnknownNode { partition: id, node: key }),
        }
    }

    /// Changes a node parameter, validated here against the node's spec.
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`], [`EngineError::UnknownNode`],
    /// [`EngineError::Param`], [`EngineError::CommandQueueFull`].
    pub fn set_param(&self, id: PartitionId, node: NodeKey, param: u32, value: f32) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        let (name, spec) = Self::process_node(&rec.graph, id, node)?;
        let p = spec.param(param).ok_or_else(|| EngineError::Param {
            node: name.to_string(),
            source: rvoip_media_graph::ParamError::Unknown(param),
        })?;
        if !p.accepts(value) {
            let source = rvoip_media_graph::ParamError::OutOfRange { id: param, value };
            return Err(EngineError::Param { node: name.to_string(), source });
        }
        let worker = rec.worker;
        Self::send(&mut c, worker, Command::SetParam { partition: id, slot: node.slot() as u32, param, value })
    }

    /// [`Engine::set_param`] by node name.
    ///
    /// # Errors
    /// As [`Engine::set_param`], and [`EngineError::UnknownNodeName`].
    pub fn set_param_by_name(
        &self,
        id: PartitionId,
        node: &str,
        param: u32,
        value: f32,
    ) -> Result<Ticket, EngineError> {
        let key = self.node_key(id, node)?;
        self.set_param(id, key, param, value)
    }

    /// Checks that the node behind `key` accepts messages of type `T`.
    fn check_message<T: Any>(graph: &LiveGraph, id: PartitionId, key: NodeKey) -> Result<(), EngineError> {
        let (name, spec) = Self::process_node(graph, id, key)?;
        if spec.accepts_message(TypeId::of::<T>()) {
            return Ok(());
        }
        let accepted = spec.messages.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
        Err(EngineError::MessageType {
            node: name.to_string(),
            got: std::any::type_name::<T>(),
            accepted: if accepted.is_empty() { "none".into() } else { accepted },
        })
    }

    /// Hands `message` to a node at the next cycle boundary (see
    /// [`rvoip_media_graph::Processor::message`]); whatever the node lets go of comes back
    /// and is dropped on the control side. The type is checked here against the types the
    /// node declares; whether the node took the content is [`Engine::outcome`].
    ///
    /// ```
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::{Mixer, MixerMembership};
    ///
    /// let mut b = GraphBuilder::new(Quantum::MS_10);
    /// b.add_node("mixer", Box::new(Mixer::with_capacity(4, AudioFormat::mono(8000))));
    /// let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let part = engine.add_partition(b.build().unwrap()).unwrap();
    /// let mixer = engine.node_key(part.id, "mixer").unwrap();
    /// let t = engine.send_message(part.id, mixer, MixerMembership::Join(2)).unwrap();
    /// driver.process_cycle();
    /// assert_eq!(engine.outcome(t), Some(Ok(())));
    /// assert_eq!(engine.telemetry_value(part.id, "mixer", "members").unwrap(), 1.0);
    /// // A type the mixer does not take is refused here, naming what it takes.
    /// let e = engine.send_message(part.id, mixer, 5u32).unwrap_err();
    /// assert!(matches!(e, EngineError::MessageType { .. }));
    /// // A port beyond its capacity is refused by the node: the ticket says so.
    /// let t = engine.send_message(part.id, mixer, MixerMembership::Join(9)).unwrap();
    /// driver.process_cycle();
    /// assert!(matches!(engine.outcome(t), Some(Err(Refusal::Message(_)))));
    /// // A name the node does not publish.
    /// let e = engine.telemetry_value(part.id, "mixer", "loudness").unwrap_err();
    /// assert!(matches!(e, EngineError::UnknownTelemetry { .. }));
    /// ```
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`], [`EngineError::UnknownNode`],
    /// [`EngineError::MessageType`], [`EngineError::CommandQueueFull`].
    pub fn send_message<T: Any + Send>(
        &self,
        id: PartitionId,
        node: NodeKey,
        message: T,
    ) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        Self::check_message::<T>(&rec.graph, id, node)?;
        let worker = rec.worker;
        let cmd = Command::Message { partition: id, slot: node.slot() as u32, payload: Box::new(message) };
        Self::send(&mut c, worker, cmd)
    }

    /// A node's latest published values (a copy; never blocks the worker). Values are at
    /// most `telemetry_interval` cycles old; before the node's first publication they are 0.
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`], [`EngineError::UnknownNode`].
    pub fn telemetry(&self, id: PartitionId, node: NodeKey) -> Result<NodeTelemetry, EngineError> {
        let c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        let (_, spec) = Self::process_node(&rec.graph, id, node)?;
        let names = spec.telemetry;
        let mut words = vec![0u64; names.len()];
        if let Some(cell) = rec.telemetry.get(&node.slot()) {
            cell.read_into(&mut words);
        }
        Ok(NodeTelemetry { names, values: words.into_iter().map(f64::from_bits).collect() })
    }

    /// One telemetry value, by node name and value name.
    ///
    /// # Errors
    /// As [`Engine::telemetry`], and [`EngineError::UnknownNodeName`],
    /// [`EngineError::UnknownTelemetry`].
    pub fn telemetry_value(&self, id: PartitionId, node: &str, name: &str) -> Result<f64, EngineError> {
        let t = self.telemetry(id, self.node_key(id, node)?)?;
        t.get(name).ok_or_else(|| EngineError::UnknownTelemetry {
            node: node.to_string(),
            name: name.to_string(),
            published: if t.names.is_empty() { "nothing".into() } else { t.names.join(", ") },
        })
    }

    /// Resets every node of a partition at the next cycle boundary.
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`], [`EngineError::CommandQueueFull`].
    pub fn reset_partition(&self, id: PartitionId) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        let worker = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?.worker;
        Self::send(&mut c, worker, Command::Reset(id))
    }

    /// Sends a no-op to `worker` (round-trip measurement, liveness checks).
    ///
    /// # Errors
    /// [`EngineError::NoSuchWorker`], [`EngineError::CommandQueueFull`].
    pub fn ping(&self, worker: usize) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        if worker >= c.workers.len() {
            return Err(EngineError::NoSuchWorker(worker));
        }
        Self::send(&mut c, worker, Command::Ping)
    }

    /// Latest statistics of a partition (a copy; never blocks the worker).
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`].
    pub fn partition_stats(&self, id: PartitionId) -> Result<PartitionStats, EngineError> {
        let c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        Ok(PartitionStats::from_words(rec.stats.read()))
    }

    /// Workers, their scheduling and statistics (copies; never blocks a worker).
    pub fn status(&self) -> EngineStatus {
        let mut c = self.lock();
        for i in 0..c.workers.len() {
            Self::collect(&mut c, i);
        }
        let workers = c
            .workers
            .iter()
            .enumerate()
            .map(|(index, w)| {
                let core = w.info.core.load(Ordering::Relaxed);
                WorkerStatus {
                    index,
                    core: (core >= 0).then_some(core as usize),
                    priority: w.info.priority(),
                    stats: crate::stats::WorkerStats::from_words(w.stats.read()),
                }
            })
            .collect();
        EngineStatus {
            threaded: self.threaded,
            quantum: self.config.quantum,
            workers,
            partitions: c.partitions.len(),
            refusals: c.refusals,
            frames_in_use: (self.frames.in_use(), self.frames.capacity()),
            frame_pool_exhausted: self.frames.exhausted_count(),
        }
    }

    /// The last refusal a worker reported, if any.
    pub fn last_refusal(&self) -> Option<Refusal> {
        self.lock().last_refusal.clone()
    }

    /// Stops the workers and joins them. Partitions still placed are dropped with their
    /// worker (tear-down is not real-time). Also done on drop.
    pub fn shutdown(mut self) {
        self.stop_workers();
    }

    fn stop_workers(&mut self) {
        self.stop.store(true, Ordering::Release);
        let c = self.control.get_mut().unwrap_or_else(|e| e.into_inner());
        for w in &mut c.workers {
            if let Some(t) = w.thread.take() {
                // A worker that panicked outside the per-partition guard has nothing left
                // to clean up; joining reports nothing more useful than that.
                if t.join().is_err() {
                    c.refusals += 1;
                }
            }
        }
        for i in 0..c.workers.len() {
            Self::collect(c, i);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_workers();
    }
}
