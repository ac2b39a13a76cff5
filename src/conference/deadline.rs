//! How long a shard of a spread room waits for its partners' rows each cycle.
//!
//! A shard decodes its legs (pass 1), publishes their rows, waits for the other shards' rows
//! of the same cycle, sums them and then encodes and sends (pass 2). A partner whose rows
//! are not there by the deadline is left out of this cycle's total: its legs go unheard by
//! this shard's listeners for that cycle. So the deadline should be as late as the cycle
//! allows — the quantum after the cycle's start, less the time pass 2 still needs — and no
//! later, so that a stalled partner costs a cycle's mix, never the quantum.
//!
//! [`PartnerDeadline`] keeps a slowly decaying maximum of the shard's own pass-2 times
//! (measured on the worker, no allocation) and puts the deadline at
//! `start + quantum − (pass 2 + margin)`, never before `start + quantum / 4` (a shard whose
//! pass 2 alone takes most of the quantum is over its budget either way; it still gives its
//! partners that long) and never past `start + quantum`. A fixed wait from the cycle's start
//! ([`super::RoomConfig::with_kernel_wait`]) replaces it when set.
//!
//! The pass-2 times are the worker thread's CPU time (the kernel measures them so), and the
//! maximum rises only to what two cycles in a row needed. Until session 35 it took every
//! cycle's wall-clock time at once: one pass 2 preempted past the quantum (a VM's vCPU
//! taken away, another thread on the core) put the deadline at a quarter quantum, and with
//! each shard's pass 1 taking 3–5 ms of a 10 ms quantum every partner was then late until
//! the maximum had decayed (up to 15–25 cycles) — each shard's listeners did not hear the
//! other shards' legs, from one stall that cost the shard itself one cycle (with stalls
//! injected at 48,000 legs on two workers, 3–4.6 late partners a stall; 0.3–0.4 since). A
//! stall is not work pass 2 will need again; a room that grew is, and its longer pass 2
//! counts from its second cycle.

/// The estimate decays by this fraction per cycle (1/32: half-life ≈ 22 cycles, so a
/// preempted pass 2 shortens the waits for a fraction of a second, not for seconds).
const DECAY_SHIFT: u32 = 5;
/// The margin: an eighth of the pass-2 estimate...
const MARGIN_SHIFT: u32 = 3;
/// ...plus this fraction of the quantum (1/50: 200 µs at 10 ms), for the sum and the cycle's
/// end.
const MARGIN_PER_QUANTUM: u64 = 50;

/// A shard's deadline for its partners' rows (see the [module docs](self)).
#[derive(Clone, Copy, Debug)]
pub(crate) enum PartnerDeadline {
    /// A fixed wait after the cycle's start (ns).
    Fixed(u64),
    /// The quantum less the shard's pass 2 and a margin.
    Pass2 {
        /// The quantum (ns).
        quantum_ns: u64,
        /// A slowly decaying maximum of the recent pass-2 times (ns).
        pass2_ns: u64,
        /// The last cycle's pass-2 time (ns): a rise is to the smaller of two in a row.
        last_ns: u64,
    },
}

impl PartnerDeadline {
    /// The deadline that leaves pass 2 its time in a cycle of `quantum_ns` (its first cycle,
    /// before pass 2 was measured, only the margin).
    pub(crate) fn pass2(quantum_ns: u64) -> PartnerDeadline {
        PartnerDeadline::Pass2 { quantum_ns, pass2_ns: 0, last_ns: 0 }
    }

    /// The deadline (same clock as `start`) for a cycle that started at `start`.
    pub(crate) fn at(&self, start: u64) -> u64 {
        match *self {
            PartnerDeadline::Fixed(wait) => start.saturating_add(wait),
            PartnerDeadline::Pass2 { quantum_ns, pass2_ns, .. } => {
                let budget = pass2_ns + (pass2_ns >> MARGIN_SHIFT) + quantum_ns / MARGIN_PER_QUANTUM;
                let wait = quantum_ns.saturating_sub(budget).max(quantum_ns / 4);
                start.saturating_add(wait)
            }
        }
    }

    /// Takes a cycle's pass-2 time (ns; the worker's CPU time, see the
    /// [module docs](self)): the estimate rises at once to the smaller of this and the last
    /// cycle's (to the quantum at most), so a one-cycle stall does not move it, and decays by
    /// a 32nd (at least 1 ns) per cycle otherwise.
    pub(crate) fn record_pass2(&mut self, ns: u64) {
        if let PartnerDeadline::Pass2 { pass2_ns, quantum_ns, last_ns } = self {
            let decayed = pass2_ns.saturating_sub((*pass2_ns >> DECAY_SHIFT).max(1));
            *pass2_ns = ns.min(*last_ns).min(*quantum_ns).max(decayed);
            *last_ns = ns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PartnerDeadline;

    const Q: u64 = 10_000_000;

    #[test]
    fn the_deadline_leaves_pass_2_its_time_and_a_margin() {
        let mut d = PartnerDeadline::pass2(Q);
        // Before any measurement: the margin only.
        assert_eq!(d.at(1_000), 1_000 + Q - 200_000);
        d.record_pass2(3_000_000);
        d.record_pass2(3_000_000);
        assert_eq!(d.at(0), Q - (3_000_000 + 375_000 + 200_000));
        // A shorter pass 2 lowers the estimate slowly: 1/32 a cycle.
        d.record_pass2(1_000_000);
        assert_eq!(d.at(0), Q - (2_906_250 + 363_281 + 200_000));
        for _ in 0..2000 {
            d.record_pass2(1_000_000);
        }
        assert_eq!(d.at(0), Q - (1_000_000 + 125_000 + 200_000));
        // A longer one twice in a row (a room that grew) raises it at once, from the second.
        d.record_pass2(4_000_000);
        assert_eq!(d.at(0), Q - (1_000_000 + 125_000 + 200_000));
        d.record_pass2(4_000_000);
        assert_eq!(d.at(0), Q - (4_000_000 + 500_000 + 200_000));
        // Two different ones: the smaller.
        d.record_pass2(7_000_000);
        d.record_pass2(6_000_000);
        assert_eq!(d.at(0), Q - (6_000_000 + 750_000 + 200_000));
    }

    #[test]
    fn a_stall_of_one_cycle_leaves_the_partners_their_wait() {
        // Pass 1 and pass 2 of 4 ms each: a partner's row comes ~4 ms into the cycle.
        let mut d = PartnerDeadline::pass2(Q);
        for _ in 0..100 {
            d.record_pass2(4_000_000);
        }
        let steady = d.at(0);
        assert_eq!(steady, Q - (4_000_000 + 500_000 + 200_000));
        // One pass 2 stalled for 30 ms: the next cycles still wait for the partners until
        // 5.3 ms, where a rise to it would have cut them off at a quarter quantum (2.5 ms)
        // for the 15-odd cycles the estimate takes to decay back under 5 ms.
        d.record_pass2(30_000_000);
        for c in 0..30 {
            assert_eq!(d.at(0), steady, "cycle {c} after the stall");
            d.record_pass2(4_000_000);
        }
    }

    #[test]
    fn the_deadline_stays_between_a_quarter_quantum_and_the_quantum() {
        let mut d = PartnerDeadline::pass2(Q);
        d.record_pass2(9_000_000);
        d.record_pass2(9_000_000);
        assert_eq!(d.at(5), 5 + Q / 4, "pass 2 over budget: a quarter quantum still");
        // Pass 2 over the quantum twice counts as one quantum: back to 3 ms of pass 2
        // within 39 cycles.
        d.record_pass2(50_000_000);
        d.record_pass2(50_000_000);
        for _ in 0..39 {
            d.record_pass2(3_000_000);
        }
        assert!(d.at(0) > Q / 4 && d.at(0) < Q - 3_000_000, "{}", d.at(0));
        let mut d = PartnerDeadline::pass2(Q);
        for _ in 0..5000 {
            d.record_pass2(0);
        }
        assert_eq!(d.at(0), Q - Q / 50, "a pass 2 of nothing: the margin is left");
        assert!(d.at(u64::MAX - 5) == u64::MAX, "no overflow");
        let mut f = PartnerDeadline::Fixed(2_000_000);
        f.record_pass2(9_000_000);
        assert_eq!(f.at(7), 2_000_007, "a fixed wait ignores pass 2");
    }
}
