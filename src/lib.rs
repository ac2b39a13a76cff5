//! # rvoip-media-core
//!
//! A real-time, lock-free audio graph runtime for VoIP media. Hosts describe a graph of nodes
//! (`decode → AEC → AGC → VAD → mix → encode`) with
//! [`GraphBuilder`](rvoip_media_graph::GraphBuilder); it compiles into a fixed-schedule
//! [`Plan`](rvoip_media_graph::Plan) that pinned real-time workers run every quantum, fed
//! through per-endpoint SPSC rings from preallocated pools. Control (partitions, parameters,
//! plan swaps) travels through a command ring and never blocks audio.
//!
//! See [`engine`] for the runtime and [`prelude`] for the common imports.
#![deny(missing_docs)]

pub mod conference;
pub mod engine;
pub mod prelude;
pub mod quality;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod stats;
pub mod transcoder;
pub mod transport;

pub use engine::{
    AudioFrame, Driver, Engine, EngineConfig, EngineError, EngineStatus, Pacing, PartitionHandle, PartitionId,
    PartitionIo, Ticket,
};
pub use rvoip_media_graph as graph;
/// The runtime's own lock-free structures (the `rvoip-media-sync` crate, loom-checked).
pub use rvoip_media_sync as sync;

/// The README's code examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
pub use rvoip_media_nodes as nodes;
