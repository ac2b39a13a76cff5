//! Statistics published by workers and read by anyone without blocking them.
//!
//! A worker keeps plain counters and a cycle-time histogram on its own stack of state and
//! publishes a snapshot through a [`SeqLock`] every cycle; readers copy the latest snapshot.

use crate::sync::seqlock::SeqLock;

/// A histogram bucket's count: `u32` for general use, `u16` where a window bounds the
/// count (a partition's cycle-time window keeps two histograms per partition, so their size
/// is part of every session's memory).
pub trait BucketCount: Copy + Default + std::fmt::Debug + 'static {
    /// One more, saturating.
    fn inc(self) -> Self;
    /// The count.
    fn get(self) -> u64;
}

impl BucketCount for u32 {
    fn inc(self) -> Self {
        self.saturating_add(1)
    }
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl BucketCount for u16 {
    fn inc(self) -> Self {
        self.saturating_add(1)
    }
    fn get(self) -> u64 {
        u64::from(self)
    }
}

/// Buckets of a [`Histogram`]: 16 log-linear sub-buckets per power of two.
const BUCKETS: usize = 16 * 38;

/// Cycle-time histogram with 16 log-linear sub-buckets per power of two (≤ 6.25 % error),
/// from 1 ns to about 18 minutes. Fixed size; recording never allocates. `C` is the
/// bucket count's type (a bucket saturates at its maximum).
#[derive(Clone, Debug)]
pub struct Histogram<C: BucketCount = u32> {
    buckets: Box<[C; BUCKETS]>,
    count: u64,
}

impl Histogram<u32> {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::empty()
    }
}

impl<C: BucketCount> Histogram<C> {
    const SUB_BITS: u32 = 4;
    const SUB: u64 = 1 << Self::SUB_BITS;

    /// An empty histogram of any bucket type.
    ///
    /// ```
    /// use rvoip_media_core::stats::Histogram;
    /// let mut h = Histogram::<u16>::empty();
    /// h.record(1000);
    /// assert_eq!(h.count(), 1);
    /// ```
    pub fn empty() -> Self {
        Histogram { buckets: Box::new([C::default(); BUCKETS]), count: 0 }
    }

    fn bucket(v: u64) -> usize {
        if v < Self::SUB {
            return v as usize;
        }
        let e = 63 - u64::from(v.leading_zeros()); // >= SUB_BITS
        let m = (v >> (e - u64::from(Self::SUB_BITS))) & (Self::SUB - 1);
        (((e - u64::from(Self::SUB_BITS) + 1) * Self::SUB + m) as usize).min(BUCKETS - 1)
    }

    fn lower_bound(b: usize) -> u64 {
        let b = b as u64;
        if b < Self::SUB {
            return b;
        }
        let e = b / Self::SUB + u64::from(Self::SUB_BITS) - 1;
        let m = b % Self::SUB;
        (Self::SUB + m) << (e - u64::from(Self::SUB_BITS))
    }

    /// Records one value.
    pub fn record(&mut self, v: u64) {
        let b = Self::bucket(v);
        self.buckets[b] = self.buckets[b].inc();
        self.count += 1;
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.buckets.fill(C::default());
        self.count = 0;
    }

    /// The `q`-quantile (0..=1) over this histogram and `other` together, as the midpoint of
    /// the bucket it falls in; 0 when both are empty.
    ///
    /// ```
    /// use rvoip_media_core::stats::Histogram;
    /// let mut h = Histogram::new();
    /// for v in 1..=1000u64 { h.record(v * 1000); }
    /// let p50 = h.quantile_with(&Histogram::new(), 0.5) as f64;
    /// assert!((p50 / 500_000.0 - 1.0).abs() < 0.07);
    /// ```
    pub fn quantile_with(&self, other: &Histogram<C>, q: f64) -> u64 {
        let total = self.count + other.count;
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for b in 0..BUCKETS {
            seen += self.buckets[b].get() + other.buckets[b].get();
            if seen >= rank {
                let lo = Self::lower_bound(b);
                let hi = Self::lower_bound(b + 1).max(lo + 1);
                return lo + (hi - lo) / 2;
            }
        }
        Self::lower_bound(BUCKETS - 1)
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Cycle times over a sliding window of one to two periods of `window` cycles: two
/// histograms, the older one dropped when the newer fills. Preallocated; recording and
/// quantiles never allocate. A histogram holds at most `window` values (one second of
/// cycles, clamped to what a `u16` bucket counts), so its buckets are `u16`: 1.2 KiB each
/// instead of 2.4.
#[derive(Clone, Debug)]
pub(crate) struct CycleWindow {
    hist: [Histogram<u16>; 2],
    window: u64,
}

impl CycleWindow {
    pub(crate) fn new(window: u64) -> Self {
        CycleWindow { hist: [Histogram::empty(), Histogram::empty()], window: window.clamp(1, u64::from(u16::MAX)) }
    }

    pub(crate) fn record(&mut self, ns: u64) {
        if self.hist[0].count() >= self.window {
            self.hist.swap(0, 1);
            self.hist[0].clear();
        }
        self.hist[0].record(ns);
    }

    /// (p50, p99) over both windows, neither above `max` (quantiles are bucket midpoints, and
    /// a midpoint can lie above every value recorded).
    pub(crate) fn p50_p99(&self, max: u64) -> (u64, u64) {
        let p99 = self.hist[0].quantile_with(&self.hist[1], 0.99).min(max);
        (self.hist[0].quantile_with(&self.hist[1], 0.50).min(p99), p99)
    }
}

/// Defines a statistics struct of `u64` fields together with its conversion to and from
/// the flat word array a [`SeqLock`] publishes, so the field order is written once.
macro_rules! published_stats {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: u64,)* }) => {
        $(#[$m])*
        pub struct $name {
            $($(#[$fm])* pub $f: u64,)*
        }

        impl $name {
            pub(crate) const WORDS: usize = [$(stringify!($f)),*].len();

            pub(crate) fn to_words(self) -> [u64; Self::WORDS] {
                [$(self.$f),*]
            }

            pub(crate) fn from_words(w: [u64; Self::WORDS]) -> Self {
                let mut words = w.into_iter();
                $name { $($f: words.next().unwrap_or(0),)* }
            }
        }
    };
}

published_stats! {
    /// One worker's statistics.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct WorkerStats {
        /// Cycles run.
        pub cycles: u64,
        /// Duration of the last cycle (commands + all partitions), ns.
        pub last_ns: u64,
        /// Longest cycle since start, ns.
        pub max_ns: u64,
        /// Median cycle time over the last one to two seconds, ns.
        pub p50_ns: u64,
        /// 99th percentile cycle time over the last one to two seconds, ns.
        pub p99_ns: u64,
        /// Cycles that finished after their deadline (the next cycle's start).
        pub deadline_misses: u64,
        /// Commands applied.
        pub commands: u64,
        /// Time the last cycle spent applying commands (edits, messages, ...), ns.
        pub commands_last_ns: u64,
        /// Longest time one cycle spent applying commands, ns.
        pub commands_max_ns: u64,
        /// Partitions currently placed on this worker.
        pub partitions: u64,
        /// Frames and packets dropped on this worker (full output ring, exhausted pool), summed
        /// over its partitions, removed ones included.
        pub drops: u64,
        /// Cycles in which an audio input had no frame (silence was used), summed likewise.
        pub underruns: u64,
        /// Bad-input events reported by nodes or endpoints, summed likewise.
        pub errors: u64,
        /// Partitions stopped because a node panicked.
        pub faults: u64,
    }
}

published_stats! {
    /// One partition's statistics.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PartitionStats {
        /// Cycles run (with the current or earlier plans).
        pub cycles: u64,
        /// Time of the last cycle (input copy, plan, output copy), ns.
        pub last_ns: u64,
        /// Longest cycle, ns.
        pub max_ns: u64,
        /// Median cycle time over the last one to two seconds, ns (refreshed every 32 cycles).
        pub p50_ns: u64,
        /// 99th percentile cycle time over the last one to two seconds, ns (refreshed every 32
        /// cycles).
        pub p99_ns: u64,
        /// Cycles in which this partition finished after its worker's deadline.
        pub deadline_misses: u64,
        /// Cycles in which an audio input ring was empty (silence was used instead).
        pub underruns: u64,
        /// Frames or packets dropped because an output ring was full.
        pub ring_full_drops: u64,
        /// Outputs dropped because the frame or packet pool was exhausted.
        pub pool_exhausted_drops: u64,
        /// Bad-input events (node reports, input frames of the wrong length).
        pub errors: u64,
        /// Edits applied while running (each swaps in a new schedule; whole-plan swaps
        /// count too).
        pub edits: u64,
        /// Messages delivered to nodes.
        pub messages: u64,
        /// 1 when a node panicked and the partition was stopped.
        pub faulted: u64,
    }
}

impl PartitionStats {
    /// Drops of every kind.
    pub fn drops(&self) -> u64 {
        self.ring_full_drops + self.pool_exhausted_drops
    }
}

/// Where a worker publishes its [`WorkerStats`].
pub(crate) type WorkerStatsCell = SeqLock<{ WorkerStats::WORDS }>;
/// Where a partition publishes its [`PartitionStats`].
pub(crate) type PartitionStatsCell = SeqLock<{ PartitionStats::WORDS }>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounds_contain_values() {
        let mut prev = 0;
        for v in (0..200_000u64).chain([1 << 30, u64::MAX >> 30]) {
            let b = Histogram::<u32>::bucket(v);
            assert!(b >= prev || v > 200_000, "bucket order at {v}");
            prev = b;
            if b + 1 < BUCKETS {
                assert!(
                    Histogram::<u32>::lower_bound(b) <= v && v < Histogram::<u32>::lower_bound(b + 1),
                    "v={v} b={b}"
                );
            }
        }
    }

    #[test]
    fn a_u16_histogram_gives_the_u32_quantiles_within_its_window() {
        let (mut a, mut b) = (Histogram::new(), Histogram::<u16>::empty());
        for v in 0..60_000u64 {
            let x = 1000 + (v * 7919) % 200_000;
            a.record(x);
            b.record(x);
        }
        for q in [0.01, 0.5, 0.99] {
            assert_eq!(a.quantile_with(&Histogram::new(), q), b.quantile_with(&Histogram::empty(), q));
        }
        let mut w = CycleWindow::new(100);
        for v in 0..250 {
            w.record(if v < 150 { 1_000 } else { 1_000_000 });
        }
        // The window holds the last 100-200 values: the 1 µs ones before the last 100 are gone.
        let (p50, p99) = w.p50_p99(u64::MAX);
        assert!(p50 > 900_000 && p99 > 900_000, "{p50} {p99}");
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record(10_000);
        }
        for _ in 0..10 {
            h.record(5_000_000);
        }
        let empty = Histogram::new();
        let p50 = h.quantile_with(&empty, 0.5);
        let p99 = h.quantile_with(&empty, 0.99);
        let p999 = h.quantile_with(&empty, 0.999);
        assert!((9_500..10_700).contains(&p50), "{p50}");
        assert!((9_500..10_700).contains(&p99), "{p99}");
        assert!((4_700_000..5_400_000).contains(&p999), "{p999}");
    }

    #[test]
    fn snapshots_round_trip_through_words() {
        let w = WorkerStats {
            cycles: 1,
            last_ns: 2,
            max_ns: 3,
            p50_ns: 4,
            p99_ns: 5,
            deadline_misses: 6,
            commands: 7,
            commands_last_ns: 13,
            commands_max_ns: 14,
            partitions: 8,
            drops: 9,
            underruns: 10,
            errors: 11,
            faults: 12,
        };
        assert_eq!(WorkerStats::from_words(w.to_words()), w);
        let p = PartitionStats {
            cycles: 1,
            last_ns: 2,
            max_ns: 3,
            p50_ns: 4,
            p99_ns: 5,
            deadline_misses: 6,
            underruns: 7,
            ring_full_drops: 8,
            pool_exhausted_drops: 9,
            errors: 10,
            edits: 11,
            messages: 12,
            faulted: 13,
        };
        assert_eq!(PartitionStats::from_words(p.to_words()), p);
    }
}
