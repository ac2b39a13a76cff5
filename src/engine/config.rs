//! [`EngineConfig`]: the engine's settings.

use super::worker::Pacing;
use super::EngineError;
use crate::sync::pool::MAX_CAPACITY;
use rvoip_media_graph::Quantum;

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
    /// Packets in the engine's packet pool (at most [`crate::sync::pool::MAX_CAPACITY`]).
    pub packet_pool: usize,
    /// Slots of each endpoint ring.
    pub ring_capacity: usize,
    /// Packets a graph packet input takes per cycle at most (a burst); the rest wait for
    /// the next cycle.
    pub packets_per_cycle: usize,
    /// Nodes publish their telemetry once per this many cycles (each at its own phase;
    /// default 10, every 100 ms at the default quantum: fresh enough for statistics read
    /// once a second, and half the cache traffic of publishing every 50 ms);
    /// 1 publishes every cycle.
    pub telemetry_interval: u32,
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
            packets_per_cycle: 4,
            telemetry_interval: 10,
        }
    }
}

impl EngineConfig {
    /// Checks the settings the engine cannot run with.
    ///
    /// ```
    /// use rvoip_media_core::{EngineConfig, EngineError};
    /// let too_big = EngineConfig { frame_pool: 1 << 20, ..Default::default() };
    /// assert!(matches!(too_big.validate(), Err(EngineError::InvalidConfig { setting: "frame_pool", .. })));
    /// assert!(EngineConfig::default().validate().is_ok());
    /// ```
    ///
    /// # Errors
    /// [`EngineError::InvalidConfig`] naming the setting: a pool beyond
    /// [`MAX_CAPACITY`] objects, or a capacity, count or interval of 0.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |setting: &'static str, value: usize, allowed: String| {
            Err(EngineError::InvalidConfig { setting, value, allowed })
        };
        for (setting, value) in [("frame_pool", self.frame_pool), ("packet_pool", self.packet_pool)] {
            if value == 0 || value > MAX_CAPACITY {
                return bad(setting, value, format!("1..={MAX_CAPACITY}"));
            }
        }
        for (setting, value) in [
            ("command_capacity", self.command_capacity),
            ("max_commands_per_cycle", self.max_commands_per_cycle),
            ("max_partitions_per_worker", self.max_partitions_per_worker),
            ("frame_capacity", self.frame_capacity),
            ("ring_capacity", self.ring_capacity),
            ("packets_per_cycle", self.packets_per_cycle),
            ("telemetry_interval", self.telemetry_interval as usize),
        ] {
            if value == 0 {
                return bad(setting, value, "at least 1".into());
            }
        }
        if self.realtime.is_some_and(|p| !(1..=99).contains(&p)) {
            return bad("realtime", usize::from(self.realtime.unwrap_or(0)), "1..=99".into());
        }
        Ok(())
    }
}
