//! What travels on the command and reply rings.

use super::partition::{EditPayload, Partition, PartitionId};
use rvoip_media_graph::{MessageError, ParamError};
use std::any::Any;

/// A command from the control side to one worker. Everything that needed allocating (a
/// partition, a schedule, new processors, a message) was built before sending.
pub(crate) enum Command {
    /// Start running a partition.
    Add(Box<Partition>),
    /// Stop running a partition and send it back.
    Remove(PartitionId),
    /// Apply an edit to a partition at the next cycle boundary; send back what it replaced.
    Edit(PartitionId, Box<EditPayload>),
    /// Hand a message to one node.
    Message {
        /// Partition.
        partition: PartitionId,
        /// The node's slot.
        slot: u32,
        /// The message; comes back holding what the node let go of.
        payload: Box<dyn Any + Send>,
    },
    /// Change a node parameter.
    SetParam {
        /// Partition.
        partition: PartitionId,
        /// The node's slot.
        slot: u32,
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

/// Why a worker refused a command (the control side validates first, so most of these
/// indicate a race with a removal or a bug; they are counted and reported, never dropped).
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The partition is not on this worker.
    UnknownPartition(PartitionId),
    /// The node refused the parameter.
    Param(ParamError),
    /// The node refused the message.
    Message(MessageError),
}

/// One reply per command, in command order. Anything the worker let go of rides back here
/// to be dropped on the control side.
pub(crate) enum Reply {
    Added,
    AddRefused(Box<Partition>),
    Removed(Box<Partition>),
    Edited(Box<EditPayload>),
    EditRefused(Box<EditPayload>),
    Delivered(Box<dyn Any + Send>, Result<(), MessageError>),
    Done,
    Refused(Refusal),
    Pong,
}
