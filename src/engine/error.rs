//! [`EngineError`]: what the control plane refuses, and why.

use super::command::Refusal;
use super::partition::PartitionId;
use rvoip_media_graph::{NodeKey, PlanError, Quantum};

/// Errors of the control plane.
///
/// ```
/// use rvoip_media_core::prelude::*;
/// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap(); // 10 ms quanta
/// let pass_through = |q| {
///     let a = PortKind::Audio(AudioFormat::mono(8000));
///     let mut b = GraphBuilder::new(q);
///     let (mic, out) = (b.add_input("mic", a), b.add_output("out", a));
///     b.connect(mic, 0, out, 0).unwrap();
///     b.build().unwrap()
/// };
/// let wrong = engine.add_partition(pass_through(Quantum::MS_20));
/// assert!(matches!(wrong, Err(EngineError::QuantumMismatch { .. })));
/// let part = engine.add_partition(pass_through(Quantum::MS_10))?;
/// assert!(matches!(engine.node_key(part.id, "aec"), Err(EngineError::UnknownNodeName { .. })));
/// # Ok::<(), EngineError>(())
/// ```
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
    /// No processing node with that key in the partition (removed, or a graph input or
    /// output where a processing node is needed).
    #[error("{partition} has no processing node {node}")]
    UnknownNode {
        /// Partition.
        partition: PartitionId,
        /// Node.
        node: NodeKey,
    },
    /// A conference room is at its member limit.
    #[error("{partition}: the room is full ({limit} members)")]
    RoomFull {
        /// The room's partition.
        partition: PartitionId,
        /// Its member limit.
        limit: usize,
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
    /// A message of a type the node does not accept.
    #[error("node '{node}' does not accept messages of type {got} (it accepts: {accepted})")]
    MessageType {
        /// Node name.
        node: String,
        /// The message's type.
        got: &'static str,
        /// The types it accepts, comma-separated ("none" if none).
        accepted: String,
    },
    /// No telemetry value with that name on the node.
    #[error("node '{node}' publishes no value '{name}' (it publishes: {published})")]
    UnknownTelemetry {
        /// Node name.
        node: String,
        /// The name asked for.
        name: String,
        /// What it publishes, comma-separated ("nothing" if nothing).
        published: String,
    },
    /// An edit refused on the control side: missing node or port, a cycle, mismatched
    /// formats, a dangling required input. The running plan is untouched.
    #[error("edit refused: {0}")]
    Graph(#[from] rvoip_media_graph::GraphError),
    /// A node could not be built for what was asked (a codec refusing a ptime, a rate the
    /// resampler cannot convert); nothing was sent.
    #[error("node '{node}': {reason}")]
    NodeSetup {
        /// The node's name.
        node: String,
        /// What its constructor said.
        reason: String,
    },
    /// The partition was edited by someone else since this edit began.
    #[error("{0} changed since this edit began; start the edit again")]
    EditConflict(PartitionId),
    /// An engine setting it cannot run with.
    #[error("invalid engine setting {setting} = {value} (allowed: {allowed})")]
    InvalidConfig {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: usize,
        /// What is allowed.
        allowed: String,
    },
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
    /// More workers asked for (a room spread over several workers) than the engine has.
    #[error("{asked} workers asked for, the engine has {workers}")]
    TooFewWorkers {
        /// Workers asked for.
        asked: usize,
        /// The engine's workers.
        workers: usize,
    },
    /// Waiting for an acknowledgement timed out.
    #[error("timed out waiting for the worker to acknowledge")]
    Timeout,
    /// The worker refused the command.
    #[error("worker refused: {0:?}")]
    Refused(Refusal),
}

impl From<rvoip_media_graph::PlannerError> for EngineError {
    fn from(e: rvoip_media_graph::PlannerError) -> Self {
        match e {
            rvoip_media_graph::PlannerError::Graph(g) => EngineError::Graph(g),
            rvoip_media_graph::PlannerError::Plan(p) => EngineError::Plan(p),
        }
    }
}
