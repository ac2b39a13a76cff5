//! A graph's control values between the host and a worker: a latest-value atomic
//! ([`ControlShared`]) and the worker's handle on it ([`ControlCell`]), whose drop tells the
//! host that the worker's end is gone (the engine re-exports both as
//! `rvoip_media_core::engine::{ControlCell, ControlShared}`).

use super::atomic::{AtomicBool, AtomicU32, Ordering};
use super::Arc;

/// A control value shared by the host's endpoint and the worker, with the flag that tells
/// the host its worker end is gone. Written against the shim (loom-checked:
/// `loom-tests/tests/abandon.rs`).
#[derive(Debug, Default)]
pub struct ControlShared {
    value: AtomicU32,
    abandoned: AtomicBool,
}

impl ControlShared {
    /// A value of 0.0, not abandoned.
    pub fn new() -> Self {
        ControlShared { value: AtomicU32::new(0), abandoned: AtomicBool::new(false) }
    }

    /// Stores a value.
    pub fn set(&self, v: f32) {
        self.value.store(v.to_bits(), Ordering::Relaxed);
    }

    /// The latest value.
    pub fn get(&self) -> f32 {
        f32::from_bits(self.value.load(Ordering::Relaxed))
    }

    /// Whether the worker's end was dropped.
    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }
}

/// The worker's handle on a [`ControlShared`]. Dropping it (on the control side, once the
/// graph input or output came back from the worker) marks the value abandoned, so the host
/// learns that its endpoint is gone.
///
/// ```
/// use rvoip_media_sync::control::{ControlCell, ControlShared};
/// use std::sync::Arc;
/// let shared = Arc::new(ControlShared::new());
/// let worker_end = ControlCell::new(shared.clone());
/// worker_end.set(0.5);
/// assert_eq!(shared.get(), 0.5);
/// assert!(!shared.is_abandoned());
/// drop(worker_end);
/// assert!(shared.is_abandoned());
/// ```
#[derive(Debug)]
pub struct ControlCell(Arc<ControlShared>);

impl ControlCell {
    /// The worker's handle on `shared`.
    pub fn new(shared: Arc<ControlShared>) -> Self {
        ControlCell(shared)
    }

    /// Stores a value (worker: a graph control output).
    pub fn set(&self, v: f32) {
        self.0.set(v);
    }

    /// Loads the value (worker: a graph control input).
    pub fn get(&self) -> f32 {
        self.0.get()
    }
}

impl Drop for ControlCell {
    fn drop(&mut self) {
        self.0.abandoned.store(true, Ordering::Release);
    }
}
