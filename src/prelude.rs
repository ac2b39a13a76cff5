//! The common imports: `use rvoip_media_core::prelude::*;`.

pub use crate::engine::{
    AudioFrame, AudioIn, AudioOut, Committed, Driver, Edit, Engine, EngineConfig, EngineError, EngineStatus,
    NodeTelemetry, Pacing, PacketIn, PacketOut, PartitionHandle, PartitionId, PartitionIo, Refusal, RtPriority, Ticket,
};
pub use crate::stats::{PartitionStats, WorkerStats};
pub use rvoip_media_graph::{
    AudioFormat, CompiledGraph, GraphBuilder, GraphError, MessageError, NodeId, NodeKey, NodeSpec, Packet,
    PacketFormat, PacketMeta, PortKind, PortSpec, ProcessIo, Processor, Quantum,
};
