//! The common imports: `use rvoip_media_core::prelude::*;`.

pub use crate::engine::{
    AudioFrame, AudioIn, AudioOut, Driver, Engine, EngineConfig, EngineError, EngineStatus, Pacing, PacketIn,
    PacketOut, PartitionHandle, PartitionId, PartitionIo, RtPriority, Ticket,
};
pub use crate::stats::{PartitionStats, WorkerStats};
pub use rvoip_media_graph::{
    AudioFormat, CompiledGraph, GraphBuilder, GraphError, NodeId, NodeSpec, Packet, PacketFormat, PacketMeta, PortKind,
    PortSpec, ProcessIo, Processor, Quantum,
};
