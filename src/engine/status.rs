//! What [`super::Engine::status`] reports.

use super::rt::RtPriority;
use crate::stats::WorkerStats;
use rvoip_media_graph::Quantum;

/// One worker as seen by [`super::Engine::status`].
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
