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
mod endpoint;
mod frame;
mod partition;
mod rt;
mod worker;

pub use command::Refusal;
pub use endpoint::{
    AudioIn, AudioOut, ControlIn, ControlOut, EndpointError, InputEndpoint, OutputEndpoint, PacketIn, PacketOut,
    PartitionIo,
};
pub use frame::{AudioFrame, FramePool, FrameTooLarge, PacketPool};
pub use partition::PartitionId;
pub use rt::{is_worker_thread, RtPriority};
pub use worker::Pacing;

use crate::stats::{PartitionStats, PartitionStatsCell, WorkerStats, WorkerStatsCell};
use crate::sync::command::{channel, ControlEnd};
use crate::sync::pool::Pool;
use command::{Command, Reply};
use partition::Partition;
use rvoip_media_graph::{CompiledGraph, NodeId, NodeSpec, Packet, PlanError, PlanExecutor, PortKind, Quantum};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use worker::{ThreadSetup, Worker, WorkerInfo};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The processing quantum.
    pub quantum: Quantum,
    /// Worker threads; 0 = cores − 1, at least 1. Ignored in driven mode (one virtual worker).
    pub workers: usize,
    /// Pin worker i to core i + 1 (core 0 is left to the host), wrapping around.
    pub pin_workers: bool,
    /// Ask for SCHED_FIFO at this priority (1..=99); `None` keeps normal scheduling.
    pub realtime: Option<u8>,
    /// How worker threads pace cycles.
    pub pacing: Pacing,
    /// Unanswered commands per worker before [`EngineError::CommandQueueFull`].
    pub command_capacity: usize,
    /// Commands a worker applies per cycle at most (the rest wait for the next cycle).
    pub max_commands_per_cycle: usize,
    /// Partitions one worker may run.
    pub max_partitions_per_worker: usize,
    /// Audio frames in the engine's frame pool (at most [`crate::sync::pool::MAX_CAPACITY`]).
    pub frame_pool: usize,
    /// Samples per pooled frame (the largest audio port's samples per quantum must fit).
    pub frame_capacity: usize,
    /// Packets in the engine's packet pool.
    pub packet_pool: usize,
    /// Slots of each endpoint ring.
    pub ring_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            quantum: Quantum::MS_10,
            workers: 0,
            pin_workers: true,
            realtime: Some(80),
            pacing: Pacing::Clock,
            command_capacity: 256,
            max_commands_per_cycle: 64,
            max_partitions_per_worker: 1024,
            frame_pool: 4096,
            frame_capacity: 48_000 / 50 * 2,
            packet_pool: 4096,
            ring_capacity: 16,
        }
    }
}

/// Errors of the control plane.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The worker's command ring holds `capacity` unanswered commands.
    #[error("command queue of worker {worker} is full ({capacity} commands unanswered)")]
    CommandQueueFull {
        /// Worker index.
        worker: usize,
        /// Its capacity.
        capacity: usize,
    },
    /// No such partition (never added, or removed).
    #[error("{0} does not exist (never added or already removed)")]
    UnknownPartition(PartitionId),
    /// No processing node with that id in the partition.
    #[error("{partition} has no processing node {node}")]
    UnknownNode {
        /// Partition.
        partition: PartitionId,
        /// Node.
        node: NodeId,
    },
    /// No node with that name in the partition.
    #[error("{partition} has no node named '{name}'")]
    UnknownNodeName {
        /// Partition.
        partition: PartitionId,
        /// Name.
        name: String,
    },
    /// A parameter id the node does not have, or a value out of its range.
    #[error("node '{node}': {source}")]
    Param {
        /// Node name.
        node: String,
        /// The refusal.
        source: rvoip_media_graph::ParamError,
    },
    /// Every worker runs `max_partitions_per_worker` partitions.
    #[error("all workers are full ({0} partitions each)")]
    WorkersFull(usize),
    /// A swapped-in plan whose graph inputs/outputs differ from the running one.
    #[error("the new plan's inputs/outputs differ from {partition}'s: {detail}")]
    PortsDiffer {
        /// Partition.
        partition: PartitionId,
        /// What differs.
        detail: String,
    },
    /// An audio port larger than a pooled frame.
    #[error("graph port '{port}' needs {samples} samples per quantum; frames hold {capacity}")]
    FrameTooSmall {
        /// Port name.
        port: String,
        /// Samples needed.
        samples: usize,
        /// Frame capacity.
        capacity: usize,
    },
    /// The graph was compiled for another quantum.
    #[error("graph compiled for {graph}, engine runs {engine}")]
    QuantumMismatch {
        /// The graph's quantum.
        graph: Quantum,
        /// The engine's.
        engine: Quantum,
    },
    /// The plan failed its load checks.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A worker thread could not be spawned.
    #[error("spawning worker thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// A worker index beyond the engine's workers.
    #[error("no worker {0}")]
    NoSuchWorker(usize),
    /// Waiting for an acknowledgement timed out.
    #[error("timed out waiting for the worker to acknowledge")]
    Timeout,
    /// The worker refused the command.
    #[error("worker refused: {0:?}")]
    Refused(Refusal),
}

/// Identifies a sent command; see [`Engine::wait`].
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

/// One worker as seen by [`Engine::status`].
#[derive(Clone, Debug)]
pub struct WorkerStatus {
    /// Worker index.
    pub index: usize,
    /// Core it is pinned to, if pinning succeeded.
    pub core: Option<usize>,
    /// Scheduling outcome.
    pub priority: RtPriority,
    /// Latest statistics.
    pub stats: WorkerStats,
}

/// Engine-wide status.
#[derive(Clone, Debug)]
pub struct EngineStatus {
    /// Whether worker threads run (false in driven mode).
    pub threaded: bool,
    /// The quantum.
    pub quantum: Quantum,
    /// Every worker.
    pub workers: Vec<WorkerStatus>,
    /// Partitions currently placed.
    pub partitions: usize,
    /// Commands refused by workers so far.
    pub refusals: u64,
    /// Frames in use / capacity of the frame pool.
    pub frames_in_use: (usize, usize),
    /// Frame acquisitions that failed (pool exhausted) so far.
    pub frame_pool_exhausted: u64,
}

impl EngineStatus {
    /// Whether every worker got real-time scheduling.
    pub fn all_realtime(&self) -> bool {
        self.workers.iter().all(|w| matches!(w.priority, RtPriority::Fifo(_)))
    }
}

struct WorkerHandle {
    end: ControlEnd<Command, Reply>,
    sent: u64,
    answered: u64,
    partitions: usize,
    load: usize,
    stats: Arc<WorkerStatsCell>,
    info: Arc<WorkerInfo>,
    thread: Option<JoinHandle<()>>,
}

struct PartitionRecord {
    worker: usize,
    inputs: Vec<PortKind>,
    outputs: Vec<PortKind>,
    nodes: Vec<(String, NodeSpec, bool)>,
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

impl Engine {
    fn build(config: EngineConfig, workers: usize) -> (Engine, Vec<Worker>) {
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
            });
        }
        let control =
            Control { workers: handles, partitions: HashMap::new(), next_id: 1, refusals: 0, last_refusal: None };
        let engine = Engine {
            config,
            threaded: false,
            control: Mutex::new(control),
            frames,
            packets,
            stop: Arc::new(AtomicBool::new(false)),
        };
        (engine, ws)
    }

    /// An engine whose single virtual worker runs when the host calls
    /// [`Driver::process_cycle`].
    pub fn driven(config: EngineConfig) -> Result<(Engine, Driver), EngineError> {
        let (engine, mut ws) = Self::build(config, 1);
        let worker = ws.pop().expect("one worker");
        engine.lock().workers[0].info.started.store(true, Ordering::Release);
        Ok((engine, Driver { worker }))
    }

    /// Starts worker threads and returns once each has finished its set-up.
    pub fn start(config: EngineConfig) -> Result<Engine, EngineError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = if config.workers == 0 { cores.saturating_sub(1).max(1) } else { config.workers };
        let (mut engine, ws) = Self::build(config, n);
        engine.threaded = true;
        let quantum_ns = engine.config.quantum.duration().as_nanos() as u64;
        {
            let mut control = engine.lock();
            for (i, w) in ws.into_iter().enumerate() {
                let setup = ThreadSetup {
                    core: engine.config.pin_workers.then_some((i + 1) % cores),
                    fifo_priority: engine.config.realtime,
                    pacing: engine.config.pacing,
                    quantum_ns,
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

    fn collect(c: &mut Control, worker: usize) {
        let Control { workers, refusals, last_refusal, .. } = c;
        let w = &mut workers[worker];
        let answered = w.end.poll(|reply| match reply {
            Reply::Refused(r) => {
                *refusals += 1;
                *last_refusal = Some(r);
            }
            // Whatever the worker let go of is dropped here, on the control side.
            Reply::AddRefused(p) => {
                *refusals += 1;
                drop(p);
            }
            Reply::SwapRefused(e) => {
                *refusals += 1;
                drop(e);
            }
            Reply::Removed(p) => drop(p),
            Reply::Swapped(e) => drop(e),
            Reply::Added | Reply::Done | Reply::Pong => {}
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

    /// Waits (on the control thread) until `ticket` is answered. In driven mode the host
    /// must keep calling [`Driver::process_cycle`] from another thread, or use
    /// [`Engine::is_done`] between cycles instead.
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

    fn ports_of(graph: &CompiledGraph) -> (Vec<PortKind>, Vec<PortKind>) {
        (graph.plan.inputs.iter().map(|p| p.kind).collect(), graph.plan.outputs.iter().map(|p| p.kind).collect())
    }

    fn check_graph(&self, graph: &CompiledGraph) -> Result<(), EngineError> {
        if graph.plan.quantum != self.config.quantum {
            return Err(EngineError::QuantumMismatch { graph: graph.plan.quantum, engine: self.config.quantum });
        }
        for p in graph.plan.inputs.iter().chain(&graph.plan.outputs) {
            let samples = p.buffer.len as usize;
            if matches!(p.kind, PortKind::Audio(_)) && samples > self.config.frame_capacity {
                return Err(EngineError::FrameTooSmall {
                    port: p.name.clone(),
                    samples,
                    capacity: self.config.frame_capacity,
                });
            }
        }
        Ok(())
    }

    /// Places a compiled graph on the least-loaded worker and returns its endpoints. The
    /// partition runs from the first cycle that applies the command.
    pub fn add_partition(&self, graph: CompiledGraph) -> Result<PartitionHandle, EngineError> {
        self.check_graph(&graph)?;
        let (inputs, outputs) = Self::ports_of(&graph);
        let nodes = graph.nodes.iter().map(|n| (n.name.clone(), n.spec.clone(), n.processor.is_some())).collect();
        let load = graph.plan.steps.len().max(1);
        let exec = Box::new(PlanExecutor::new(graph)?);
        let mut c = self.lock();
        let max = self.config.max_partitions_per_worker;
        let worker = (0..c.workers.len())
            .filter(|&i| c.workers[i].partitions < max)
            .min_by_key(|&i| (c.workers[i].load, i))
            .ok_or(EngineError::WorkersFull(max))?;
        let id = PartitionId(c.next_id);
        let cell = Arc::new(PartitionStatsCell::new());
        let window = (1_000_000 / u64::from(self.config.quantum.micros())).max(1);
        let (part, io) = Partition::new(
            id,
            exec,
            self.frames.clone(),
            self.packets.clone(),
            self.config.ring_capacity,
            window,
            cell.clone(),
        );
        let ticket = Self::send(&mut c, worker, Command::Add(Box::new(part)))?;
        c.next_id += 1;
        c.workers[worker].partitions += 1;
        c.workers[worker].load += load;
        c.partitions.insert(id, PartitionRecord { worker, inputs, outputs, nodes, stats: cell, load });
        Ok(PartitionHandle { id, worker, io, ticket })
    }

    /// Stops a partition; it is handed back and freed on the control side. Its endpoints
    /// stop producing and accepting data.
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

    /// Replaces a running partition's plan with a new compilation whose graph inputs and
    /// outputs are the same (names may differ; kinds and order must match). The swap
    /// happens at a cycle boundary: no quantum is lost or processed twice; the endpoints
    /// stay.
    pub fn swap_plan(&self, id: PartitionId, graph: CompiledGraph) -> Result<Ticket, EngineError> {
        self.check_graph(&graph)?;
        let (inputs, outputs) = Self::ports_of(&graph);
        let nodes: Vec<_> =
            graph.nodes.iter().map(|n| (n.name.clone(), n.spec.clone(), n.processor.is_some())).collect();
        let exec = Box::new(PlanExecutor::new(graph)?);
        let mut c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        if rec.inputs != inputs || rec.outputs != outputs {
            let detail = format!("inputs {:?} -> {:?}, outputs {:?} -> {:?}", rec.inputs, inputs, rec.outputs, outputs);
            return Err(EngineError::PortsDiffer { partition: id, detail });
        }
        let worker = rec.worker;
        let ticket = Self::send(&mut c, worker, Command::Swap(id, exec))?;
        if let Some(rec) = c.partitions.get_mut(&id) {
            rec.nodes = nodes;
        }
        Ok(ticket)
    }

    /// Changes a node parameter, validated here against the node's spec.
    pub fn set_param(&self, id: PartitionId, node: NodeId, param: u32, value: f32) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
        let (name, spec, has_processor) =
            rec.nodes.get(node.index()).ok_or(EngineError::UnknownNode { partition: id, node })?;
        if !has_processor {
            return Err(EngineError::UnknownNode { partition: id, node });
        }
        let p = spec.param(param).ok_or_else(|| EngineError::Param {
            node: name.clone(),
            source: rvoip_media_graph::ParamError::Unknown(param),
        })?;
        if !p.accepts(value) {
            let source = rvoip_media_graph::ParamError::OutOfRange { id: param, value };
            return Err(EngineError::Param { node: name.clone(), source });
        }
        let worker = rec.worker;
        Self::send(&mut c, worker, Command::SetParam { partition: id, node, param, value })
    }

    /// [`Engine::set_param`] by node name.
    pub fn set_param_by_name(
        &self,
        id: PartitionId,
        node: &str,
        param: u32,
        value: f32,
    ) -> Result<Ticket, EngineError> {
        let node_id = {
            let c = self.lock();
            let rec = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?;
            let i = rec.nodes.iter().position(|(n, _, _)| n == node);
            i.ok_or_else(|| EngineError::UnknownNodeName { partition: id, name: node.to_string() })?
        };
        self.set_param(id, NodeId(node_id as u32), param, value)
    }

    /// Resets every node of a partition at the next cycle boundary.
    pub fn reset_partition(&self, id: PartitionId) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        let worker = c.partitions.get(&id).ok_or(EngineError::UnknownPartition(id))?.worker;
        Self::send(&mut c, worker, Command::Reset(id))
    }

    /// Sends a no-op to `worker` (round-trip measurement, liveness checks).
    pub fn ping(&self, worker: usize) -> Result<Ticket, EngineError> {
        let mut c = self.lock();
        if worker >= c.workers.len() {
            return Err(EngineError::NoSuchWorker(worker));
        }
        Self::send(&mut c, worker, Command::Ping)
    }

    /// Latest statistics of a partition (a copy; never blocks the worker).
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
                    stats: WorkerStats::from_words(w.stats.read()),
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
