//! [`CycleClock`]: when a worker thread's cycles run, for threads that pace themselves by them.

use super::rt::now_ns;
use super::worker::WorkerInfo;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The cycle grid of one worker thread of a running engine: its cycles start every quantum
/// from an epoch of the monotonic clock ([`CycleClock::now`]), and the worker records the
/// start of every cycle it finishes. An I/O thread that feeds the worker's legs paces itself
/// by it ([`BatchConfig::clock`](crate::transport::BatchConfig::clock)): it collects
/// arrivals just before a cycle starts and sends just after it finished, a few wake-ups per
/// cycle instead of one per arrival or per millisecond. Reading it costs an atomic load.
///
/// Where no worker thread runs the legs (a driven engine, free-running workers),
/// [`CycleClock::free`] is a grid of its own whose every cycle counts as finished as soon
/// as it starts.
///
/// ```
/// use rvoip_media_core::prelude::*;
/// use std::time::{Duration, Instant};
///
/// let config = EngineConfig { workers: 1, pin_workers: false, realtime: None, ..Default::default() };
/// let engine = Engine::start(config).unwrap();
/// let clock = engine.cycle_clock(0).unwrap();
/// let q = clock.quantum_ns();
/// let now = clock.now();
/// let next = clock.next_start(now);
/// assert!(next >= now && clock.next_start(next) == next && clock.next_start(next + 1) == next + q);
/// // The worker finishes the cycle that starts at `next`, then the ones after it.
/// let t = Instant::now();
/// while !matches!(clock.finished(), Some(done) if done >= next) && t.elapsed() < Duration::from_secs(5) {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// let done = clock.finished().unwrap();
/// assert!(done >= next && (done - next) % q == 0);
/// assert!(engine.cycle_clock(1).is_none()); // one worker only
/// ```
#[derive(Clone)]
pub struct CycleClock {
    epoch_ns: u64,
    quantum_ns: u64,
    /// The worker whose cycles these are; `None` for a free grid.
    info: Option<Arc<WorkerInfo>>,
}

impl CycleClock {
    pub(super) fn new(epoch_ns: u64, quantum_ns: u64, info: Arc<WorkerInfo>) -> CycleClock {
        CycleClock { epoch_ns, quantum_ns: quantum_ns.max(1), info: Some(info) }
    }

    /// A grid of cycles every `quantum` (at least 1 ns) from the monotonic clock's zero,
    /// followed by no worker: each cycle counts as finished from its start on.
    ///
    /// ```
    /// use rvoip_media_core::engine::CycleClock;
    /// use std::time::Duration;
    ///
    /// let clock = CycleClock::free(Duration::from_millis(10));
    /// assert_eq!(clock.quantum_ns(), 10_000_000);
    /// let now = clock.now();
    /// let start = clock.finished().unwrap();
    /// assert!(start <= now && start + 10_000_000 > now && start % 10_000_000 == 0);
    /// assert_eq!(clock, CycleClock::free(Duration::from_millis(10)));
    /// ```
    pub fn free(quantum: Duration) -> CycleClock {
        CycleClock { epoch_ns: 0, quantum_ns: (quantum.as_nanos() as u64).max(1), info: None }
    }

    /// The monotonic clock the grid is on, ns (`CLOCK_MONOTONIC`).
    pub fn now(&self) -> u64 {
        now_ns()
    }

    /// The worker's quantum, ns.
    pub fn quantum_ns(&self) -> u64 {
        self.quantum_ns
    }

    /// The start of the first cycle at or after `now_ns`.
    pub fn next_start(&self, now_ns: u64) -> u64 {
        if now_ns <= self.epoch_ns {
            return self.epoch_ns;
        }
        self.epoch_ns + (now_ns - self.epoch_ns).div_ceil(self.quantum_ns) * self.quantum_ns
    }

    /// The start of the last cycle the worker finished, or `None` before its first (on a
    /// [`CycleClock::free`] grid: the start of the cycle running now).
    pub fn finished(&self) -> Option<u64> {
        let Some(info) = &self.info else {
            let now = now_ns();
            return Some(now - (now - self.epoch_ns.min(now)) % self.quantum_ns);
        };
        match info.finished_cycle.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }
}

impl PartialEq for CycleClock {
    /// The same worker's clock, or free grids of the same quantum.
    fn eq(&self, other: &CycleClock) -> bool {
        match (&self.info, &other.info) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => (self.epoch_ns, self.quantum_ns) == (other.epoch_ns, other.quantum_ns),
            _ => false,
        }
    }
}

impl Eq for CycleClock {}

impl fmt::Debug for CycleClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycleClock")
            .field("epoch_ns", &self.epoch_ns)
            .field("quantum_ns", &self.quantum_ns)
            .field("finished", &self.finished())
            .finish()
    }
}
