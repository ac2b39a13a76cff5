//! Rows of samples shared by the workers of a room spread over several workers.
//!
//! Each worker runs a *shard* of the room. Once a cycle a shard writes one row of samples
//! (one quantum) and one gain per port it owns (port `p` belongs to shard `p % shards`) into
//! its [`ShardRows`]; then it waits, for a bounded time, for the other shards' rows of the
//! same cycle, and sums every row of every shard that made it **in port order** — so every
//! shard computes the same total, bit for bit. A spread conference room gives each shard one
//! port (`SharedRows::new(W, W, quantum)`): the row is the partial total of the shard's own
//! legs, so what crosses cores is one quantum per shard per cycle.
//!
//! No lock, no allocation, no waiting without a bound:
//!
//! - Each shard has two buffers, used on alternate cycles. A buffer's `stamp` is the cycle
//!   whose rows it holds (0: none), stored with release once the rows are written; a reader
//!   that loads it with acquire and finds its own cycle reads the rows.
//! - A shard may write a buffer again only when every other shard has *released* the cycle
//!   the buffer holds (finished the sum that may have read it; stored with release after
//!   the sum, loaded with acquire before the writes). When one has not — it is late, or
//!   stalled in its sum — the writer fills a spare buffer of its own that nobody reads, so
//!   a slow reader never sees a row change under it (no torn read) and the writer never
//!   waits for it; the writer's legs are left out of the others' mix for that cycle.
//! - A reader waits for a partner's rows with a deadline ([`SharedRows::wait`]); a partner
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

/// One shard's rows for one cycle: a row of samples and an input gain per port it owns, in
/// the order of the ports (slot `p / shards` for port `p`). A gain that is NaN leaves the
/// port out of the mix.
///
/// ```
/// use rvoip_media_core::sync::rows::ShardRows;
/// let mut r = ShardRows::new(2, 3);
/// r.set(1, 0.5, &[1.0, 2.0, 3.0]);
/// assert_eq!(r.row(1), (0.5, &[1.0f32, 2.0, 3.0][..]));
/// r.clear();
/// assert!(r.row(1).0.is_nan());
/// ```
#[derive(Debug)]
pub struct ShardRows {
    row_len: usize,
    rows: Box<[f32]>,
    gains: Box<[f32]>,
}

impl ShardRows {
    /// Rows for `slots` ports of `row_len` samples, every port out of the mix.
    pub fn new(slots: usize, row_len: usize) -> ShardRows {
        ShardRows {
            row_len,
            rows: vec![0.0; slots * row_len].into_boxed_slice(),
            gains: vec![f32::NAN; slots].into_boxed_slice(),
        }
    }

    /// Leaves every port out of the mix.
    pub fn clear(&mut self) {
        self.gains.fill(f32::NAN);
    }

    /// Puts slot `slot` in the mix with `gain` and `row` (its first `row_len` samples; a
    /// shorter row is padded with zeros). A slot beyond the rows is ignored.
    pub fn set(&mut self, slot: usize, gain: f32, row: &[f32]) {
        let n = self.row_len;
        let (Some(g), Some(dst)) = (self.gains.get_mut(slot), self.rows.get_mut(slot * n..(slot + 1) * n)) else {
            return;
        };
        *g = gain;
        let k = row.len().min(n);
        dst[..k].copy_from_slice(&row[..k]);
        dst[k..].fill(0.0);
    }

    /// Slot `slot`'s gain (NaN: out of the mix) and row.
    pub fn row(&self, slot: usize) -> (f32, &[f32]) {
        let n = self.row_len;
        (self.gains[slot], &self.rows[slot * n..(slot + 1) * n])
    }

    /// Every slot's row, one after the other (slot `s` at `s * row_len`).
    ///
    /// ```
    /// use rvoip_media_core::sync::rows::ShardRows;
    /// let mut r = ShardRows::new(2, 2);
    /// r.set(1, 1.0, &[3.0, 4.0]);
    /// assert_eq!(r.samples(), &[0.0, 0.0, 3.0, 4.0]);
    /// ```
    pub fn samples(&self) -> &[f32] {
        &self.rows
    }

    /// The rows (as [`ShardRows::samples`]) and the gains (one per slot, NaN: out of the
    /// mix), to be written in place: a shard decodes straight into its rows instead of
    /// copying each row with [`ShardRows::set`].
    ///
    /// ```
    /// use rvoip_media_core::sync::rows::ShardRows;
    /// let mut r = ShardRows::new(2, 2);
    /// let (samples, gains) = r.split_mut();
    /// samples[2..].copy_from_slice(&[3.0, 4.0]);
    /// gains[1] = 0.5;
    /// assert_eq!(r.row(1), (0.5, &[3.0f32, 4.0][..]));
    /// assert!(r.row(0).0.is_nan());
    /// ```
    pub fn split_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.rows, &mut self.gains)
    }
}

/// What [`SharedRows::sum`] reads: `reader`'s rows of `cycle` (or `spare`) and those of the
/// shards in `from`.
#[derive(Clone, Copy)]
struct Reading<'a> {
    reader: usize,
    cycle: u64,
    from: u64,
    spare: Option<&'a ShardRows>,
}

/// Rows summed per pass over the total: `total` is loaded and stored once per block, and
/// each sample still gets its rows added one at a time in the same order.
const SUM_BLOCK: usize = 4;

/// `total[i] += g × row[i]` for each `(g, row)` of `block`, in order (the same operations,
/// in the same order, as adding the rows one by one: the same bits).
fn add_rows(total: &mut [f32], block: &[(f32, &[f32])]) {
    match *block {
        [(g0, r0), (g1, r1), (g2, r2), (g3, r3)] => {
            let rows = r0.iter().zip(r1).zip(r2).zip(r3);
            for (t, (((a, b), c), d)) in total.iter_mut().zip(rows) {
                *t = (((*t + g0 * a) + g1 * b) + g2 * c) + g3 * d;
            }
        }
        _ => {
            for &(g, row) in block {
                for (t, x) in total.iter_mut().zip(row) {
                    *t += g * x;
                }
            }
        }
    }
}

/// One of a shard's two buffers.
#[derive(Debug)]
struct Buffer {
    /// The cycle whose rows it holds (0: none).
    stamp: AtomicU64,
    data: Cell<ShardRows>,
}

/// The rows of every shard of a room (see the [module docs](self)).
///
/// ```
/// use rvoip_media_core::sync::rows::{ShardRows, SharedRows};
/// // Two shards, four ports (0 and 2 on shard 0, 1 and 3 on shard 1), rows of 2 samples.
/// let rows = SharedRows::new(2, 4, 2).unwrap();
/// let mut spare = ShardRows::new(rows.slots(), 2);
/// let r = rows.next_cycle(0, 0);
/// assert_eq!(r, 1);
/// let ((), published) = rows.write(0, r, &mut spare, |w| w.set(rows.slot(2), 1.0, &[0.25, 0.5]));
/// assert!(published);
/// // Shard 1 never comes: shard 0 waits a bounded time, then sums without it.
/// let mut spins = 0;
/// assert!(!rows.wait(1, r, || { spins += 1; spins < 100 }));
/// let mut total = [0.0f32; 2];
/// rows.sum(0, r, 0, None, &mut total);
/// assert_eq!(total, [0.25, 0.5]);
/// rows.finish_cycle(0, r);
/// assert!(SharedRows::new(65, 4, 2).is_none());
/// ```
#[derive(Debug)]
pub struct SharedRows {
    shards: usize,
    ports: usize,
    row_len: usize,
    /// Shard `s`'s buffer for cycle `c`: `2 * s + c % 2`.
    buffers: Box<[Buffer]>,
    /// Per shard: 2 × the cycle it is in, + 1 once that cycle is finished.
    progress: Box<[AtomicU64]>,
    /// Per shard: the last cycle whose sum it has finished (it reads no older rows).
    released: Box<[AtomicU64]>,
}

impl SharedRows {
    /// Rows for `ports` ports over `shards` shards, `row_len` samples each; `None` for 0 or
    /// more than [`MAX_SHARDS`] shards or rows of 0 samples.
    pub fn new(shards: usize, ports: usize, row_len: usize) -> Option<SharedRows> {
        if shards == 0 || shards > MAX_SHARDS || row_len == 0 {
            return None;
        }
        let slots = ports.div_ceil(shards);
        let buffers = (0..2 * shards)
            .map(|_| Buffer { stamp: AtomicU64::new(0), data: Cell::new(ShardRows::new(slots, row_len)) })
            .collect();
        let counters = || (0..shards).map(|_| AtomicU64::new(0)).collect();
        Some(SharedRows { shards, ports, row_len, buffers, progress: counters(), released: counters() })
    }

    /// Shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Ports.
    pub fn ports(&self) -> usize {
        self.ports
    }

    /// Samples per row.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// Port slots per shard (what a spare [`ShardRows`] needs).
    pub fn slots(&self) -> usize {
        self.ports.div_ceil(self.shards)
    }

    /// The shard that owns port `port`.
    pub fn owner(&self, port: usize) -> usize {
        port % self.shards
    }

    /// Port `port`'s slot in its shard's rows.
    pub fn slot(&self, port: usize) -> usize {
        port / self.shards
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

    /// Shard `shard` writes its rows for `cycle`: `f` fills them (every port out of the mix
    /// to begin with). They are the shared buffer's, published when `f` returns, if every
    /// other shard has finished reading what that buffer last held; else `spare`, which
    /// nobody else reads (pass it to [`SharedRows::sum`]). Returns `f`'s result and whether
    /// the rows were published. Only the shard's own worker may call this.
    pub fn write<R>(
        &self,
        shard: usize,
        cycle: u64,
        spare: &mut ShardRows,
        f: impl FnOnce(&mut ShardRows) -> R,
    ) -> (R, bool) {
        let b = self.buffer(shard, cycle);
        // Only this shard stores the stamp.
        let held = b.stamp.load(Ordering::Relaxed);
        let free = (0..self.shards).all(|j| j == shard || self.released[j].load(Ordering::Acquire) >= held);
        if !free {
            spare.clear();
            return (f(spare), false);
        }
        // SAFETY: the buffer is this shard's: no other shard writes it, and every other shard
        // has released the cycle it holds (acquire above, release after its reads), so none
        // reads it until the stamp below says `cycle`.
        let r = b.data.with_mut(|p| {
            let rows = unsafe { &mut *p };
            rows.clear();
            f(rows)
        });
        b.stamp.store(cycle, Ordering::Release);
        (r, true)
    }

    /// Spins until shard `of` has published its rows for `cycle` (true), or it has gone
    /// past that cycle or `patience` returns false (false). Bounded by `patience`.
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

    /// Shard `reader`'s total for `cycle`: `total[i] = Σ gain × row[i]` over the ports in
    /// the mix, in port order, of its own rows (the published ones, or `spare` when
    /// [`SharedRows::write`] did not publish) and of the shards in `from` (a bit per shard,
    /// each one [`SharedRows::wait`] returned true for, for this cycle). Then releases the
    /// cycle: `reader` reads no rows of it or before it again.
    pub fn sum(&self, reader: usize, cycle: u64, from: u64, spare: Option<&ShardRows>, total: &mut [f32]) {
        total.fill(0.0);
        let n = self.row_len.min(total.len());
        let mut rows: [*const ShardRows; MAX_SHARDS] = [std::ptr::null(); MAX_SHARDS];
        let what = Reading { reader, cycle, from, spare };
        self.with_rows(what, 0, &mut rows, &mut |rows| {
            // SAFETY: every pointer is a buffer `with_rows` holds access to for this call
            // (or `spare`), none written meanwhile; null for a shard not in the sum.
            let rows = rows.map(|p| unsafe { p.as_ref() });
            let mut block: [(f32, &[f32]); SUM_BLOCK] = [(0.0, &[]); SUM_BLOCK];
            let mut len = 0;
            // Ports in order: slot by slot, each shard's port of the slot in turn (no division
            // per port: this loop runs once per port of the room every cycle).
            let (mut port, mut slot) = (0, 0);
            while port < self.ports {
                for shard_rows in rows[..self.shards.min(self.ports - port)].iter().flatten() {
                    let (g, row) = shard_rows.row(slot);
                    if g.is_nan() {
                        continue;
                    }
                    block[len] = (g, &row[..n]);
                    len += 1;
                    if len == SUM_BLOCK {
                        add_rows(&mut total[..n], &block);
                        len = 0;
                    }
                }
                port += self.shards;
                slot += 1;
            }
            add_rows(&mut total[..n], &block[..len]);
        });
        self.released[reader].store(cycle, Ordering::Release);
    }

    /// Runs `f` with the rows `sum` reads (a pointer per shard, null for one not read),
    /// holding each shared buffer's cell access (which loom tracks) for the whole of `f`:
    /// one level per shard from `shard` on. Recursion at most [`MAX_SHARDS`] deep; no
    /// allocation.
    fn with_rows(
        &self,
        what: Reading<'_>,
        shard: usize,
        rows: &mut [*const ShardRows; MAX_SHARDS],
        f: &mut dyn FnMut(&[*const ShardRows; MAX_SHARDS]),
    ) {
        let Reading { reader, cycle, from, spare } = what;
        if shard == self.shards {
            return f(rows);
        }
        let mut next = |rows: &mut [*const ShardRows; MAX_SHARDS]| self.with_rows(what, shard + 1, rows, f);
        match spare {
            Some(own) if shard == reader => {
                rows[shard] = own;
                next(rows)
            }
            _ if shard != reader && from & (1u64 << shard) == 0 => next(rows),
            // SAFETY (of the reads through the pointer, in `sum`): the reader's own buffer is
            // written only by itself; a partner's holds `cycle` (its stamp, loaded with
            // acquire by `wait`) and is not written again before this reader releases
            // `cycle` in `sum`.
            _ => self.buffer(shard, cycle).data.with(|p| {
                rows[shard] = p;
                next(rows)
            }),
        }
    }

    /// Runs `f` on the rows shard `shard` published for `cycle` (its own buffer: what it
    /// reads back of its own legs after the sum). Only the shard's own worker may call
    /// this, after [`SharedRows::write`] published its rows for `cycle` (when it did not,
    /// its rows are in the spare it passed).
    ///
    /// ```
    /// use rvoip_media_core::sync::rows::{ShardRows, SharedRows};
    /// let rows = SharedRows::new(2, 4, 2).unwrap();
    /// let mut spare = ShardRows::new(rows.slots(), 2);
    /// let c = rows.next_cycle(1, 0);
    /// let ((), published) = rows.write(1, c, &mut spare, |w| w.set(rows.slot(3), 1.0, &[0.5, 0.25]));
    /// assert!(published);
    /// rows.own_rows(1, c, |r| assert_eq!(r.row(rows.slot(3)), (1.0, &[0.5f32, 0.25][..])));
    /// ```
    pub fn own_rows<R>(&self, shard: usize, cycle: u64, f: impl FnOnce(&ShardRows) -> R) -> R {
        // SAFETY: the shard's own buffer is written only by its own worker (the caller), in
        // `write`; other shards only read it.
        self.buffer(shard, cycle).data.with(|p| f(unsafe { &*p }))
    }
}

// SAFETY: the rows are shared under the protocol above (each buffer written by its shard
// only while no other shard may read it).
unsafe impl Sync for SharedRows {}
unsafe impl Send for SharedRows {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{ShardRows, SharedRows};

    /// Rows whose sums round (values over many octaves, gains that are not powers of two).
    fn row(port: usize, len: usize) -> (f32, Vec<f32>) {
        // Scales from a table, not `powi` (whose last bit Miri varies from call to call).
        let scale = [0.01f32, 0.1, 1.0, 10.0, 100.0][port % 5];
        let v = (0..len).map(|i| ((port * 7919 + i * 104_729) % 1000) as f32 * 1.37e-3 * scale);
        (0.3 + 0.1 * (port % 4) as f32, v.collect())
    }

    /// The total one shard computes when every shard of `shards` published its rows.
    fn total(shards: usize, ports: usize, len: usize) -> Vec<u32> {
        let rows = SharedRows::new(shards, ports, len).unwrap();
        let mut spare = ShardRows::new(rows.slots(), len);
        for s in 0..shards {
            let c = rows.next_cycle(s, 0);
            rows.write(s, c, &mut spare, |w| {
                for port in (0..ports).filter(|p| rows.owner(*p) == s && p % 5 != 3) {
                    let (g, r) = row(port, len);
                    w.set(rows.slot(port), g, &r);
                }
            });
        }
        let mut t = vec![0.0f32; len];
        rows.sum(0, 1, (1u64 << shards) - 2, None, &mut t);
        t.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn totals_are_the_same_bits_whatever_the_number_of_shards() {
        let one = total(1, 37, 16);
        for shards in [2, 3, 5, 8] {
            assert_eq!(total(shards, 37, 16), one, "{shards} shards");
        }
        // Row by row in port order (what `sum` does a block of rows at a time): the same bits.
        // The order matters for these rows: summed backwards, some sample rounds otherwise.
        let one_by_one = |ports: &mut dyn Iterator<Item = usize>| {
            let mut t = [0.0f32; 16];
            for port in ports.filter(|p| p % 5 != 3) {
                let (g, r) = row(port, 16);
                for (t, x) in t.iter_mut().zip(&r) {
                    *t += g * x;
                }
            }
            t.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(one_by_one(&mut (0..37)), one);
        assert_ne!(one_by_one(&mut (0..37).rev()), one, "the test's rows must round");
    }

    #[test]
    fn a_shard_reads_back_the_rows_it_published_or_its_spare() {
        let rows = SharedRows::new(2, 4, 2).unwrap();
        let mut spare = ShardRows::new(rows.slots(), 2);
        let c1 = rows.next_cycle(0, 0);
        let ((), published) = rows.write(0, c1, &mut spare, |w| w.set(1, 1.0, &[1.0, 2.0]));
        assert!(published);
        rows.own_rows(0, c1, |r| assert_eq!(r.samples(), &[0.0, 0.0, 1.0, 2.0]));
        rows.finish_cycle(0, c1);
        // Shard 1 has not released cycle 1: cycle 3's rows (cycle 1's buffer) go to the spare,
        // and the shared buffer still holds cycle 1's.
        let c2 = rows.next_cycle(0, c1);
        rows.finish_cycle(0, c2);
        let c3 = rows.next_cycle(0, c2);
        assert_eq!(c3, 3);
        let ((), published) = rows.write(0, c3, &mut spare, |w| w.split_mut().0[..2].copy_from_slice(&[5.0, 6.0]));
        assert!(!published);
        assert_eq!(spare.samples(), &[5.0, 6.0, 0.0, 0.0]);
        rows.own_rows(0, c3, |r| assert_eq!(r.samples(), &[0.0, 0.0, 1.0, 2.0]));
    }
}
