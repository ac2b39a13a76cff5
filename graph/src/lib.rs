//! # rvoip-media-graph
//!
//! The graph language of rvoip-media-core. A host describes a graph of nodes with typed
//! ports ([`PortKind`]: audio, packet, control), connects them with a [`GraphBuilder`], and
//! compiles it into a [`Plan`]: a plain-data, fixed schedule with buffer assignment, fan-in
//! sums and per-output latency. A [`PlanExecutor`] runs a plan single-threaded; the root crate's
//! real-time workers own executors and call them every quantum.
//!
//! This crate has no threads and no DSP: nodes live in `rvoip-media-nodes`, the runtime in
//! `rvoip-media-core`.
//!
//! ```
//! use rvoip_media_graph::{AudioFormat, GraphBuilder, PlanExecutor, PortKind, Quantum};
//!
//! let a = PortKind::Audio(AudioFormat::mono(16_000));
//! let mut b = GraphBuilder::new(Quantum::MS_10);
//! let mic = b.add_input("mic", a);
//! let out = b.add_output("out", a);
//! b.connect(mic, 0, out, 0).unwrap();
//! let graph = b.build().unwrap();
//! assert_eq!(graph.plan.outputs[0].latency_ns, 0);
//! let mut exec = PlanExecutor::new(graph).unwrap();
//! exec.input_audio_mut(0)[0] = 0.5;
//! exec.run_cycle();
//! assert_eq!(exec.output_audio(0)[0], 0.5);
//! ```
#![deny(missing_docs)]

mod arena;
mod builder;
mod compile;
mod error;
mod exec;
mod format;
mod harness;
mod live;
mod node;
mod packet;
mod plan;
mod planner;
mod processor;
mod rng;

pub use arena::Arena;
pub use builder::{Converter, Edge, GraphBuilder};
pub use error::{FormatMismatch, GraphError, PlanError};
pub use exec::{CompiledGraph, CompiledNode, CycleReport, PlanExecutor, ProcessorSlots, Schedule, SetParamError};
pub use format::{AudioFormat, BufferKind, PacketFormat, PortKind, Quantum};
pub use harness::NodeHarness;
pub use live::{Change, LiveGraph, LiveNode, NodeKey, NodeRole};
pub use node::{MessageType, NodeId, NodeSpec, ParamSpec, PortSpec, MAX_TELEMETRY};
pub use packet::{Packet, PacketMeta, PacketSlot, PayloadTooLarge, SlotFull, MAX_PAYLOAD};
pub use plan::{BufferCounts, BufferRef, Plan, PlanPort, Step};
pub use planner::{Planner, PlannerError, PlannerStats};
pub use processor::{
    prefetch, prefetch_lines, prefetch_value, MessageError, ParamError, ProcessIo, Processor, PREFETCH_VALUE_LINES,
};
pub use rng::SplitMix64;
