//! The rows of samples shared by the workers of a room spread over several workers.
//!
//! Each worker runs a *shard* of the room. Once a cycle a shard publishes one row of
//! samples (one quantum: the partial total of its own legs); then it waits, for a bounded
//! time, for the other shards' rows of the same cycle, and adds every row that made it **in
//! shard order** (its own from its local copy) — so every shard computes the same total,
//! bit for bit. What crosses cores is one quantum per shard per cycle.
//!
//! No lock, no allocation, no waiting without a bound:
//!
//! - Each shard has two buffers, used on alternate cycles. A buffer's `stamp` is the cycle
//!   whose row it holds (0: none), stored with release once the row is written; a reader
//!   that loads it with acquire and finds its own cycle reads the row.
//! - A shard may write a buffer again only when every other shard has *released* the cycle
//!   the buffer holds (finished the sum that may have read it; stored with release after
//!   the sum, loaded with acquire before the write). When one has not — it is late, or
//!   stalled in its sum — the writer does not publish that cycle (its legs are left out of
//!   the others' mix for that cycle), so a slow reader never sees a row change under it (no
//!   torn read) and the writer never waits for it.
//! - A reader waits for a partner's row with a deadline ([`SharedRows::wait`]); a partner
//!   that has not published by then is left out of this cycle's total. Nothing waits for a
//!   partner that never comes.
//! - Cycle numbers are agreed without a handshake ([`SharedRows::next_cycle`]): a shard
//!   takes the next cycle after its own last one, or the one a partner is in (or the next
//!   after the one a partner has finished) if that is later, so shards that start at
//!   different times, or one that fell behind, line up again on their next cycle.
//!
//! `loom-tests/tests/rows.rs` checks the protocol under every interleaving (no data race on
//! the rows, a total that holds each partner's row of the same cycle or none of it).

use super::atomic::{AtomicU64, Ordering};
use super::{spin_hint, Cell};

/// Shards at most (a shard set is a 64-bit mask).
pub const MAX_SHARDS: usize = 64;

/// One of a shard's two buffers.
#[derive(Debug)]
struct Buffer {
    /// The cycle whose row it holds (0: none).
    stamp: AtomicU64,
    row: Cell<Box<[f32]>>,
}

/// The rows of every shard of a room (see the [module docs](self)).
///
/// ```
/// use rvoip_media_sync::rows::SharedRows;
/// // Two shards, rows of 2 samples.
/// let rows = SharedRows::new(2, 2).unwrap();
/// let c = rows.next_cycle(0, 0);
/// assert_eq!(c, 1);
/// let own = [0.25, 0.5];
/// assert!(rows.publish(0, c, &own));
/// // Shard 1 never comes: shard 0 waits a bounded time, then sums without it.
/// let mut spins = 0;
/// assert!(!rows.wait(1, c, || { spins += 1; spins < 100 }));
/// let mut total = [0.0f32; 2];
/// rows.sum(0, c, 0, &own, &mut total);
/// assert_eq!(total, [0.25, 0.5]);
/// rows.finish_cycle(0, c);
/// assert!(SharedRows::new(65, 2).is_none());
/// ```
#[derive(Debug)]
pub struct SharedRows {
    shards: usize,
    row_len: usize,
    /// Shard `s`'s buffer for cycle `c`: `2 * s + c % 2`.
    buffers: Box<[Buffer]>,
    /// Per shard: 2 × the cycle it is in, + 1 once that cycle is finished.
    progress: Box<[AtomicU64]>,
    /// Per shard: the last cycle whose sum it has finished (it reads no older rows).
    released: Box<[AtomicU64]>,
}

impl SharedRows {
    /// A row of `row_len` samples for each of `shards` shards; `None` for 0 or more than
    /// [`MAX_SHARDS`] shards or rows of 0 samples.
    pub fn new(shards: usize, row_len: usize) -> Option<SharedRows> {
        if shards == 0 || shards > MAX_SHARDS || row_len == 0 {
            return None;
        }
        let buffers = (0..2 * shards)
            .map(|_| Buffer { stamp: AtomicU64::new(0), row: Cell::new(vec![0.0; row_len].into_boxed_slice()) })
            .collect();
        let counters = || (0..shards).map(|_| AtomicU64::new(0)).collect();
        Some(SharedRows { shards, row_len, buffers, progress: counters(), released: counters() })
    }

    /// Shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Samples per row.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    fn buffer(&self, shard: usize, cycle: u64) -> &Buffer {
        &self.buffers[2 * shard + (cycle & 1) as usize]
    }

    /// Shard `shard` starts a cycle after its cycle `last` (0 before its first): the next
    /// one, or a partner's if that is later (the next after it if the partner has finished
    /// it). Returns the cycle (at least 1).
    pub fn next_cycle(&self, shard: usize, last: u64) -> u64 {
        let partners = self.progress.iter().map(|p| p.load(Ordering::Relaxed).div_ceil(2));
        let cycle = partners.fold(last + 1, u64::max);
        self.progress[shard].store(2 * cycle, Ordering::Relaxed);
        // It reads rows of this cycle only from now on: a shard that jumped ahead frees the
        // buffers of the cycles it skipped for their writers.
        self.released[shard].store(cycle - 1, Ordering::Release);
        cycle
    }

    /// Shard `shard` has finished `cycle`.
    pub fn finish_cycle(&self, shard: usize, cycle: u64) {
        self.progress[shard].store(2 * cycle + 1, Ordering::Relaxed);
    }

    /// Shard `shard` publishes `row` (its first [`SharedRows::row_len`] samples; a shorter
    /// row is padded with zeros) as its row for `cycle`, if every other shard has finished
    /// reading what that buffer last held; returns whether it did (if not, the others mix
    /// without it this cycle). Only the shard's own worker may call this.
    pub fn publish(&self, shard: usize, cycle: u64, row: &[f32]) -> bool {
        let b = self.buffer(shard, cycle);
        // Only this shard stores the stamp.
        let held = b.stamp.load(Ordering::Relaxed);
        let free = (0..self.shards).all(|j| j == shard || self.released[j].load(Ordering::Acquire) >= held);
        if !free {
            return false;
        }
        // SAFETY: the buffer is this shard's: no other shard writes it, and every other shard
        // has released the cycle it holds (acquire above, release after its reads), so none
        // reads it until the stamp below says `cycle`.
        b.row.with_mut(|p| {
            let dst = unsafe { &mut *p };
            let k = row.len().min(dst.len());
            dst[..k].copy_from_slice(&row[..k]);
            dst[k..].fill(0.0);
        });
        b.stamp.store(cycle, Ordering::Release);
        true
    }

    /// Spins until shard `of` has published its row for `cycle` (true), or it has gone past
    /// that cycle or `patience` returns false (false). Bounded by `patience`.
    pub fn wait(&self, of: usize, cycle: u64, mut patience: impl FnMut() -> bool) -> bool {
        let b = self.buffer(of, cycle);
        loop {
            let s = b.stamp.load(Ordering::Acquire);
            if s == cycle {
                return true;
            }
            if s > cycle || !patience() {
                return false;
            }
            spin_hint();
        }
    }

    /// Shard `reader`'s total for `cycle`: `total[i] = Σ row[i]` in shard order, of its own
    /// row `own` and of the rows of the shards in `from` (a bit per shard, each one
    /// [`SharedRows::wait`] returned true for, for this cycle). Then releases the cycle:
    /// `reader` reads no rows of it or before it again.
    pub fn sum(&self, reader: usize, cycle: u64, from: u64, own: &[f32], total: &mut [f32]) {
        total.fill(0.0);
        let n = self.row_len.min(total.len());
        self.read(reader, cycle, from, own, |_, row| {
            for (t, x) in total[..n].iter_mut().zip(row) {
                *t += x;
            }
        });
    }

    /// Shard `reader`'s look at `cycle`'s rows: `f(shard, row)` in shard order for its own
    /// row `own` and the rows of the shards in `from` (as for [`SharedRows::sum`], which is
    /// this with an addition). Then releases the cycle.
    ///
    /// ```
    /// use rvoip_media_sync::rows::SharedRows;
    /// let rows = SharedRows::new(2, 1).unwrap();
    /// let (a, b) = (rows.next_cycle(0, 0), rows.next_cycle(1, 0));
    /// assert!(rows.publish(1, b, &[2.0]));
    /// assert!(rows.wait(1, a, || true));
    /// let mut seen = Vec::new();
    /// rows.read(0, a, 1 << 1, &[1.0], |s, row| seen.push((s, row[0])));
    /// assert_eq!(seen, [(0, 1.0), (1, 2.0)]);
    /// ```
    pub fn read(&self, reader: usize, cycle: u64, from: u64, own: &[f32], mut f: impl FnMut(usize, &[f32])) {
        let from = from & !(1 << reader);
        let empty: *const [f32] = &[];
        let mut rows = [empty; MAX_SHARDS];
        self.with_rows(cycle, from, 0, &mut rows, &mut |rows| {
            for (s, &row) in rows[..self.shards].iter().enumerate() {
                if s == reader {
                    f(s, own);
                } else if from & (1 << s) != 0 {
                    // SAFETY: a partner's row is a buffer `with_rows` holds access to for
                    // this call, not written meanwhile.
                    f(s, unsafe { &*row });
                }
            }
        });
        self.released[reader].store(cycle, Ordering::Release);
    }

    /// Runs `f` with the rows `sum` reads of the shards in `from` (empty for the others),
    /// holding each buffer's cell access (which loom tracks) for the whole of `f`: one
    /// level per shard from `shard` on. Recursion at most [`MAX_SHARDS`] deep; no
    /// allocation.
    fn with_rows(
        &self,
        cycle: u64,
        from: u64,
        shard: usize,
        rows: &mut [*const [f32]; MAX_SHARDS],
        f: &mut dyn FnMut(&[*const [f32]; MAX_SHARDS]),
    ) {
        if shard == self.shards {
            return f(rows);
        }
        let mut next = |rows: &mut [*const [f32]; MAX_SHARDS]| self.with_rows(cycle, from, shard + 1, rows, f);
        if from & (1u64 << shard) == 0 {
            return next(rows);
        }
        // SAFETY (of the reads through the pointer, in `sum`): a partner's buffer holds
        // `cycle` (its stamp, loaded with acquire by `wait`) and is not written again before
        // this reader releases `cycle` in `sum`.
        self.buffer(shard, cycle).row.with(|p| {
            rows[shard] = unsafe { &**p };
            next(rows)
        })
    }
}

// SAFETY: the rows are shared under the protocol above (each buffer written by its shard
// only while no other shard may read it).
unsafe impl Sync for SharedRows {}
unsafe impl Send for SharedRows {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::SharedRows;

    /// Rows whose sums round (values over many octaves).
    fn row(shard: usize, len: usize) -> Vec<f32> {
        // Scales from a table, not `powi` (whose last bit Miri varies from call to call).
        let scale = [0.01f32, 0.1, 1.0, 10.0, 100.0][shard % 5];
        (0..len).map(|i| ((shard * 7919 + i * 104_729) % 1000) as f32 * 1.37e-3 * scale).collect()
    }

    #[test]
    fn every_shard_computes_the_same_total_in_shard_order() {
        let (shards, len) = (5, 16);
        let rows = SharedRows::new(shards, len).unwrap();
        for s in 0..shards {
            let c = rows.next_cycle(s, 0);
            assert!(rows.publish(s, c, &row(s, len)));
        }
        let all = (1u64 << shards) - 1;
        let totals: Vec<Vec<u32>> = (0..shards)
            .map(|s| {
                let mut t = vec![0.0f32; len];
                rows.sum(s, 1, all, &row(s, len), &mut t);
                t.iter().map(|x| x.to_bits()).collect()
            })
            .collect();
        assert!(totals.iter().all(|t| *t == totals[0]));
        // Row by row in shard order: the same bits; backwards, some sample rounds otherwise.
        let in_order = |order: &mut dyn Iterator<Item = usize>| {
            let mut t = vec![0.0f32; len];
            for s in order {
                t.iter_mut().zip(row(s, len)).for_each(|(t, x)| *t += x);
            }
            t.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(in_order(&mut (0..shards)), totals[0]);
        assert_ne!(in_order(&mut (0..shards).rev()), totals[0], "the test's rows must round");
    }

    #[test]
    fn a_shard_does_not_publish_over_a_row_a_partner_may_still_read() {
        let rows = SharedRows::new(2, 2).unwrap();
        let c1 = rows.next_cycle(0, 0);
        assert!(rows.publish(0, c1, &[1.0]), "a shorter row is padded");
        rows.finish_cycle(0, c1);
        // Shard 1 has not released cycle 1: cycle 3 (cycle 1's buffer) is not published, and
        // shard 1 still reads cycle 1's row whole.
        let c2 = rows.next_cycle(0, c1);
        rows.finish_cycle(0, c2);
        let c3 = rows.next_cycle(0, c2);
        assert_eq!(c3, 3);
        assert!(!rows.publish(0, c3, &[5.0, 6.0]));
        let d1 = rows.next_cycle(1, 0);
        assert_eq!(d1, 3, "shard 1 joins the cycle shard 0 is in");
        assert!(!rows.wait(0, d1, || false), "shard 0 did not publish cycle 3");
        let mut t = [0.0f32; 2];
        rows.sum(1, d1, 0, &[0.5, 0.5], &mut t);
        assert_eq!(t, [0.5, 0.5]);
        // Now released: shard 0's next use of that buffer publishes.
        rows.finish_cycle(0, c3);
        let c4 = rows.next_cycle(0, c3);
        rows.finish_cycle(0, c4);
        let c5 = rows.next_cycle(0, c4);
        assert!(rows.publish(0, c5, &[7.0, 8.0]));
    }
}
