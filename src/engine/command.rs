//! What travels on the command and reply rings.

use super::partition::{Partition, PartitionId};
use rvoip_media_graph::{NodeId, PlanExecutor, SetParamError};

/// A command from the control side to one worker. Everything that needed allocating (a
/// partition, a plan) was built before sending.
pub(crate) enum Command {
    /// Start running a partition.
    Add(Box<Partition>),
    /// Stop running a partition and send it back.
    Remove(PartitionId),
    /// Replace a partition's plan at the next cycle boundary; send the old one back.
    Swap(PartitionId, Box<PlanExecutor>),
    /// Change a node parameter.
    SetParam {
        /// Partition.
        partition: PartitionId,
        /// Node in that partition's graph.
        node: NodeId,
        /// Parameter id.
        param: u32,
        /// New value.
        value: f32,
    },
    /// Reset every node of a partition.
    Reset(PartitionId),
    /// Answer at once (round-trip measurement, liveness).
    Ping,
}

/// Why a worker refused a command (the control side validates first, so these indicate a
/// race or a bug; they are counted and reported, never dropped).
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The partition is not on this worker.
    UnknownPartition(PartitionId),
    /// The node refused the parameter.
    Param(SetParamError),
}

/// One reply per command, in command order. Anything the worker let go of rides back here
/// to be dropped on the control side.
pub(crate) enum Reply {
    Added,
    AddRefused(Box<Partition>),
    Removed(Box<Partition>),
    Swapped(Box<PlanExecutor>),
    SwapRefused(Box<PlanExecutor>),
    Done,
    Refused(Refusal),
    Pong,
}
