//! [`CyclePacer`]: when an I/O thread paced by a worker's cycles wakes, and what it does then
//! ([`BatchConfig::clock`](super::BatchConfig::clock)).
//!
//! Per cycle of the worker (starting at T, every quantum) the thread wakes to collect what
//! arrived every quarter of a quantum back from T − lead, the last of them at T − lead, so
//! that the cycle finds it in the legs' rings and the collection just before the cycle is
//! short (a whole cycle's arrivals collected at once, 2,000 legs' at 2,000 legs, ran into
//! the cycle's start and delayed it, jittering the output); and once more when the worker
//! has finished the cycle (first looked for at T + [`SETTLE_NS`], then every [`RETRY_NS`]),
//! to collect again and send everything the cycle produced in one sweep. Every wake-up
//! collects; only that one sends. A worker still not done a lead before its next cycle is
//! not waited for: what it produced is sent, the rest goes with the next sweep.

use crate::engine::CycleClock;

/// How long after a cycle's start its output is first looked for. On the worker's own core
/// the thread cannot run before the worker sleeps again anyway, so this is short.
pub(super) const SETTLE_NS: u64 = 250_000;
/// How often a cycle not yet finished is looked at again (worker on another core).
pub(super) const RETRY_NS: u64 = 250_000;
/// Collections per quantum (one every quarter of it).
pub(super) const COLLECTS_PER_CYCLE: u64 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Next wake-up: collect (at `collect_at`), before the cycle starts.
    Collect,
    /// Next wake-up: send what the cycle produced, once it finished.
    Send,
}

/// The wake-ups of one thread following one worker's cycle grid.
#[derive(Debug)]
pub(super) struct CyclePacer {
    quantum: u64,
    lead: u64,
    /// Time between collections.
    step: u64,
    /// The next collection (in the `Collect` phase).
    collect_at: u64,
    /// The start of the cycle being served.
    next: u64,
    phase: Phase,
    /// When to look for the cycle's output (in the `Send` phase).
    send_at: u64,
}

impl CyclePacer {
    /// Follows `clock` from `now`, collecting last `lead_ns` before each cycle (at most half
    /// a quantum).
    pub(super) fn new(clock: &CycleClock, lead_ns: u64, now: u64) -> CyclePacer {
        let quantum = clock.quantum_ns();
        let lead = lead_ns.min(quantum / 2);
        Self::on_grid(quantum, lead, clock.next_start(now + lead), now)
    }

    /// The pacer for cycles every `quantum` ns from `next` (the first served), at `now`.
    pub(super) fn on_grid(quantum: u64, lead: u64, next: u64, now: u64) -> CyclePacer {
        let lead = lead.min(quantum / 2);
        let step = (quantum / COLLECTS_PER_CYCLE).max(1);
        let mut p = CyclePacer { quantum, lead, step, collect_at: 0, next, phase: Phase::Collect, send_at: 0 };
        p.collect_at = p.next_collect(now);
        p
    }

    /// The first collection after `now`: T − lead, or a whole number of steps before it.
    fn next_collect(&self, now: u64) -> u64 {
        let last = self.next - self.lead;
        if now >= last {
            return last;
        }
        last - (last - now - 1) / self.step * self.step
    }

    /// When the thread wakes next (monotonic ns).
    pub(super) fn wake_at(&self) -> u64 {
        match self.phase {
            Phase::Collect => self.collect_at,
            Phase::Send => self.send_at,
        }
    }

    /// At a wake-up at `now` (after collecting), with the start of the last cycle the worker
    /// finished: whether to send now.
    pub(super) fn on_wake(&mut self, now: u64, finished: Option<u64>) -> bool {
        match self.phase {
            Phase::Collect => {
                if now >= self.next - self.lead {
                    self.phase = Phase::Send;
                    self.send_at = self.next + SETTLE_NS;
                } else {
                    self.collect_at = self.next_collect(now);
                }
                false
            }
            Phase::Send => {
                if now < self.send_at {
                    return false;
                }
                let done = finished.is_some_and(|f| f >= self.next);
                if !done && now + self.lead < self.next + self.quantum {
                    self.send_at = now + RETRY_NS;
                    return false;
                }
                // This sweep sent what every cycle started so far produced. Cycles this
                // thread slept through are not served one by one: if the latest one started
                // is still running, its output is waited for next; else the cycle after it
                // is collected for (at once if its lead has begun).
                let latest = self.next + (now - self.next) / self.quantum * self.quantum;
                if latest > self.next && !finished.is_some_and(|f| f >= latest) {
                    self.next = latest;
                    self.send_at = now + RETRY_NS;
                } else {
                    self.next = latest + self.quantum;
                    self.phase = Phase::Collect;
                    self.collect_at = self.next_collect(now);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: u64 = 20_000_000;
    const LEAD: u64 = 2_000_000;

    #[test]
    fn collects_every_quarter_cycle_up_to_a_lead_before_it_and_sends_once_it_finished() {
        // Just after the previous cycle's sweep.
        let mut p = CyclePacer::on_grid(Q, LEAD, 100 * Q, 99 * Q + SETTLE_NS);
        let step = Q / COLLECTS_PER_CYCLE;
        for k in 0..3 {
            let t = (100 + k) * Q;
            for j in (0..COLLECTS_PER_CYCLE).rev() {
                let at = t - LEAD - j * step;
                assert_eq!(p.wake_at(), at, "cycle {k}, collection {j}");
                assert!(!p.on_wake(at, Some(t - Q)));
            }
            assert_eq!(p.wake_at(), t + SETTLE_NS);
            assert!(p.on_wake(t + SETTLE_NS, Some(t)));
        }
        assert_eq!(p.wake_at(), 103 * Q - LEAD - 3 * step);
    }

    #[test]
    fn a_cycle_not_finished_is_looked_at_again_until_a_lead_before_the_next() {
        let t = 100 * Q;
        let mut p = CyclePacer::on_grid(Q, LEAD, t, t - LEAD);
        assert_eq!(p.wake_at(), t - LEAD);
        assert!(!p.on_wake(t - LEAD, None));
        let mut now = t + SETTLE_NS;
        let mut looks = 0;
        while !p.on_wake(now, Some(t - Q)) {
            looks += 1;
            assert_eq!(p.wake_at(), now + RETRY_NS);
            now = p.wake_at();
        }
        // Given up on at the first look at or after T + Q - lead: (Q - lead - settle) / retry
        // looks in vain before it.
        assert_eq!(looks, (Q - LEAD - SETTLE_NS).div_ceil(RETRY_NS));
        assert!(now + LEAD >= t + Q && now < t + Q - LEAD + RETRY_NS);
        // The next cycle's collection is due (at once): then its output is looked for.
        assert_eq!(p.wake_at(), t + Q - LEAD);
        assert!(!p.on_wake(now, Some(t)));
        assert_eq!(p.wake_at(), t + Q + SETTLE_NS);
    }

    #[test]
    fn an_early_wake_up_changes_nothing_and_late_ones_skip_missed_cycles() {
        let t = 100 * Q;
        let mut p = CyclePacer::on_grid(Q, LEAD, t, t - 3 * LEAD);
        assert_eq!(p.wake_at(), t - LEAD);
        assert!(!p.on_wake(t - 3 * LEAD, Some(t)));
        assert_eq!(p.wake_at(), t - LEAD);
        assert!(!p.on_wake(t - LEAD, None));
        assert!(!p.on_wake(t, Some(t)));
        assert_eq!(p.wake_at(), t + SETTLE_NS);
        // The thread ran again only 3.5 cycles later: it sends, and serves the next cycle
        // not yet started, from its next collection on.
        let late = t + 3 * Q + Q / 2;
        assert!(p.on_wake(late, Some(t + 3 * Q)));
        assert_eq!(p.wake_at(), t + 4 * Q - LEAD - Q / 4);
        assert!(!p.on_wake(p.wake_at(), Some(t + 3 * Q)));
        // Again, with the latest cycle started still running: its output is waited for.
        let t = t + 4 * Q;
        assert!(!p.on_wake(t - LEAD, None));
        let late = t + 2 * Q + SETTLE_NS;
        assert!(p.on_wake(late, Some(t + Q)));
        assert_eq!(p.wake_at(), late + RETRY_NS);
        assert!(!p.on_wake(late + RETRY_NS, Some(t + Q)));
        assert!(p.on_wake(late + 2 * RETRY_NS, Some(t + 2 * Q)));
        assert_eq!(p.wake_at(), t + 3 * Q - LEAD - 3 * (Q / 4));
    }

    #[test]
    fn the_lead_is_at_most_half_a_quantum() {
        let p = CyclePacer::on_grid(Q, Q, 100 * Q, 100 * Q - Q / 2);
        assert_eq!(p.wake_at(), 100 * Q - Q / 2);
    }
}
