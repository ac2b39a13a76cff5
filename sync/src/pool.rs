//! A fixed-capacity, lock-free object pool.
//!
//! All objects are created up front. [`Pool::acquire`] pops a free slot index off a Treiber
//! stack and returns a [`Pooled`] handle with exclusive access to it; dropping the handle
//! pushes the index back. Any thread may acquire or release (host network threads acquire
//! input frames, workers release them; workers acquire output frames, hosts release them).
//! Exhaustion is an error ([`PoolExhausted`]) and a counter, never an allocation.
//!
//! # The head word
//!
//! The whole state that changes on acquire and release lives in one `AtomicU64`:
//!
//! ```text
//! bit 63      | 62              | 61..41          | 40..20            | 19..0
//! orphaned    | (zero)          | pops (mod 2^21) | pushes (mod 2^21) | top index (NIL = 0xFFFFF)
//! ```
//!
//! - Every successful pop or push changes a counter, so a pop that read a stale `next`
//!   link (the ABA case) fails its compare-exchange and retries. The word could only repeat
//!   after 2^21 pops *and* 2^21 pushes while one thread sits between its load and its
//!   compare-exchange (two million acquire/release pairs by the other threads inside one
//!   thread's few-instruction window). `next` links are atomics, so the stale read itself
//!   is no data race.
//! - `pops − pushes` is exactly the number of objects handed out ([`Pool::in_use`]) at no
//!   extra cost.
//! - Handles hold a plain pointer to the storage, not a reference count: acquire and
//!   release are one compare-exchange each. When the last [`Pool`] clone is dropped, it sets
//!   the *orphaned* bit; whoever leaves the word orphaned with nothing handed out — that
//!   owner, or the release of the last outstanding handle — frees the storage. The bit sits
//!   in the same word as the counters, so exactly one party sees that state, and a releaser
//!   that does not free touches nothing after its compare-exchange.

use super::atomic::{AtomicU32, AtomicU64, Ordering};
use super::{Arc, Cell};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// 20 index bits: a million objects (a 20,000-leg room keeps 160,000 packets in flight).
const IDX_BITS: u32 = 20;
const CNT_BITS: u32 = 21;
const IDX_MASK: u64 = (1 << IDX_BITS) - 1;
const CNT_MASK: u64 = (1 << CNT_BITS) - 1;
const NIL: u32 = IDX_MASK as u32;
const ORPHANED: u64 = 1 << 63;
/// Largest capacity a pool may have.
pub const MAX_CAPACITY: usize = NIL as usize;

fn top(h: u64) -> u32 {
    (h & IDX_MASK) as u32
}
fn pushes(h: u64) -> u64 {
    (h >> IDX_BITS) & CNT_MASK
}
fn pops(h: u64) -> u64 {
    (h >> (IDX_BITS + CNT_BITS)) & CNT_MASK
}
fn outstanding(h: u64) -> u64 {
    pops(h).wrapping_sub(pushes(h)) & CNT_MASK
}
fn word(orphaned: u64, pops: u64, pushes: u64, top: u32) -> u64 {
    orphaned | (pops & CNT_MASK) << (IDX_BITS + CNT_BITS) | (pushes & CNT_MASK) << IDX_BITS | u64::from(top)
}

/// Every object of the pool is in use.
///
/// ```
/// use rvoip_media_sync::pool::{Pool, PoolExhausted};
/// let pool = Pool::new(2, |_| [0f32; 160]);
/// let (a, _b) = (pool.acquire().unwrap(), pool.acquire().unwrap());
/// assert_eq!(pool.acquire().err(), Some(PoolExhausted { capacity: 2 }));
/// drop(a); // back to the pool
/// assert!(pool.acquire().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pool of {capacity} objects exhausted")]
pub struct PoolExhausted {
    /// The pool's capacity.
    pub capacity: usize,
}

struct Inner<T> {
    slots: Box<[Cell<T>]>,
    next: Box<[AtomicU32]>,
    head: AtomicU64,
    exhausted: AtomicU64,
}

/// Owns the storage on behalf of all [`Pool`] clones; orphans it when the last goes.
struct Owner<T> {
    inner: NonNull<Inner<T>>,
}

// SAFETY: `Inner` is shared between threads only through atomics and through slots that
// exactly one `Pooled` handle owns at a time; moving or sharing the owner is safe when `T`
// may move between threads.
unsafe impl<T: Send> Send for Owner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Owner<T> {}

impl<T> Drop for Owner<T> {
    fn drop(&mut self) {
        // SAFETY: the storage is alive: only this owner or the last outstanding handle
        // frees it, and the owner has not set the orphaned bit yet.
        let inner = unsafe { self.inner.as_ref() };
        let mut h = inner.head.load(Ordering::Acquire);
        loop {
            match inner.head.compare_exchange_weak(h, h | ORPHANED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => h = now,
            }
        }
        if outstanding(h) == 0 {
            // SAFETY: orphaned with nothing handed out: no handle can release any more and
            // no pool clone can acquire; we are the only party left.
            drop(unsafe { Box::from_raw(self.inner.as_ptr()) });
        }
    }
}

/// A shared handle to a pool; clone it freely (clones share the objects).
pub struct Pool<T> {
    owner: Arc<Owner<T>>,
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool { owner: self.owner.clone() }
    }
}

/// Exclusive access to one pooled object; returns it to the pool on drop.
pub struct Pooled<T> {
    inner: NonNull<Inner<T>>,
    index: u32,
}

// SAFETY: the handle owns its slot exclusively; the storage outlives it (see the module
// docs), so it may move to another thread when `T` may.
unsafe impl<T: Send> Send for Pooled<T> {}
// SAFETY: `&Pooled<T>` only gives `&T`.
unsafe impl<T: Sync> Sync for Pooled<T> {}

impl<T> Pool<T> {
    /// A pool of `capacity` objects made by `make` (allocates here, never afterwards).
    ///
    /// # Panics
    /// If `capacity` exceeds [`MAX_CAPACITY`].
    ///
    /// ```
    /// use rvoip_media_sync::pool::Pool;
    /// let pool = Pool::new(2, |_| [0.0f32; 160]);
    /// let mut a = pool.acquire().unwrap();
    /// a[0] = 1.0;
    /// let _b = pool.acquire().unwrap();
    /// assert_eq!(pool.in_use(), 2);
    /// assert!(pool.acquire().is_err()); // exhausted: an error and a counter
    /// assert_eq!(pool.exhausted_count(), 1);
    /// drop(a);
    /// assert!(pool.acquire().is_ok());
    /// ```
    pub fn new(capacity: usize, mut make: impl FnMut(usize) -> T) -> Self {
        assert!(capacity <= MAX_CAPACITY, "pool capacity {capacity} exceeds {MAX_CAPACITY}");
        let slots = (0..capacity).map(|i| Cell::new(make(i))).collect();
        let next = (0..capacity).map(|i| AtomicU32::new(if i + 1 < capacity { i as u32 + 1 } else { NIL })).collect();
        let first = if capacity == 0 { NIL } else { 0 };
        let inner =
            Box::new(Inner { slots, next, head: AtomicU64::new(word(0, 0, 0, first)), exhausted: AtomicU64::new(0) });
        Pool { owner: Arc::new(Owner { inner: NonNull::from(Box::leak(inner)) }) }
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: a live `Pool` clone keeps the owner alive, and the owner frees the
        // storage only when dropped.
        unsafe { self.owner.inner.as_ref() }
    }

    /// Number of objects.
    pub fn capacity(&self) -> usize {
        self.inner().slots.len()
    }

    /// Objects currently handed out (exact at the moment of the read).
    pub fn in_use(&self) -> usize {
        outstanding(self.inner().head.load(Ordering::Relaxed)) as usize
    }

    /// Failed acquisitions so far.
    pub fn exhausted_count(&self) -> u64 {
        self.inner().exhausted.load(Ordering::Relaxed)
    }

    /// Takes a free object. Lock-free, one compare-exchange when uncontended; never
    /// allocates. Its contents are whatever the last user left.
    pub fn acquire(&self) -> Result<Pooled<T>, PoolExhausted> {
        let inner = self.inner();
        let mut h = inner.head.load(Ordering::Acquire);
        loop {
            let index = top(h);
            if index == NIL {
                inner.exhausted.fetch_add(1, Ordering::Relaxed);
                return Err(PoolExhausted { capacity: inner.slots.len() });
            }
            let next = inner.next[index as usize].load(Ordering::Relaxed);
            let new = word(h & ORPHANED, pops(h) + 1, pushes(h), next);
            match inner.head.compare_exchange_weak(h, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(Pooled { inner: self.owner.inner, index }),
                Err(now) => {
                    h = now;
                    super::spin_hint();
                }
            }
        }
    }
}

impl<T> Pool<T> {
    /// Returns every handle in `handles` to the pool with one compare-exchange (they are
    /// linked into a chain first, through the `next` links their slots own while handed
    /// out), leaving `handles` empty with its capacity: for a worker that lets go of many
    /// objects a cycle. Handles of another pool are dropped one by one (released to theirs).
    /// Never allocates or frees.
    ///
    /// ```
    /// use rvoip_media_sync::pool::Pool;
    /// let pool = Pool::new(4, |i| i);
    /// let mut batch = Vec::with_capacity(4);
    /// batch.extend([pool.acquire().unwrap(), pool.acquire().unwrap(), pool.acquire().unwrap()]);
    /// assert_eq!(pool.in_use(), 3);
    /// pool.release_all(&mut batch);
    /// assert_eq!((pool.in_use(), batch.len(), batch.capacity()), (0, 0, 4));
    /// let all: Vec<_> = (0..4).map(|_| pool.acquire().unwrap()).collect();
    /// let mut seen: Vec<usize> = all.iter().map(|h| h.index()).collect();
    /// seen.sort();
    /// assert_eq!(seen, [0, 1, 2, 3]); // every object once
    /// ```
    pub fn release_all(&self, handles: &mut Vec<Pooled<T>>) {
        let inner = self.inner();
        let (mut first, mut last, mut count) = (NIL, NIL, 0u64);
        for h in handles.drain(..) {
            if h.inner != self.owner.inner {
                drop(h);
                continue;
            }
            let index = h.index;
            // The slot goes back through the chain below, not through the handle's drop.
            std::mem::forget(h);
            if first == NIL {
                first = index;
            } else {
                inner.next[last as usize].store(index, Ordering::Relaxed);
            }
            last = index;
            count += 1;
        }
        if count == 0 {
            return;
        }
        // `self` is a live pool clone: the storage cannot be orphaned during this call.
        let mut h = inner.head.load(Ordering::Relaxed);
        loop {
            inner.next[last as usize].store(top(h), Ordering::Relaxed);
            let new = word(h & ORPHANED, pops(h), pushes(h) + count, first);
            match inner.head.compare_exchange_weak(h, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => {
                    h = now;
                    super::spin_hint();
                }
            }
        }
    }
}

impl<T> Pooled<T> {
    fn inner(&self) -> &Inner<T> {
        // SAFETY: an outstanding handle keeps the storage alive (see the module docs).
        unsafe { self.inner.as_ref() }
    }

    /// The slot index (stable for the pool's life; useful in tests and statistics).
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Runs `f` on the object (the loom-trackable way to touch it).
    pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: this handle is the only owner of slot `index` until it is dropped.
        self.inner().slots[self.index as usize].with_mut(|p| f(unsafe { &mut *p }))
    }
}

impl<T> Deref for Pooled<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: exclusive ownership of the slot, as in `with_mut`.
        self.inner().slots[self.index as usize].with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: exclusive ownership of the slot, as in `with_mut`.
        self.inner().slots[self.index as usize].with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for Pooled<T> {
    fn drop(&mut self) {
        let inner = self.inner();
        let mut h = inner.head.load(Ordering::Relaxed);
        loop {
            inner.next[self.index as usize].store(top(h), Ordering::Relaxed);
            let new = word(h & ORPHANED, pops(h), pushes(h) + 1, self.index);
            match inner.head.compare_exchange_weak(h, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    // Past this point the storage may be freed by the owner at any moment
                    // unless we are the one to free it: touch nothing else (the same rule
                    // as `Arc`'s drop).
                    if new & ORPHANED != 0 && outstanding(new) == 0 {
                        // SAFETY: the owner is gone and this was the last handle: nobody
                        // else can reach the storage.
                        drop(unsafe { Box::from_raw(self.inner.as_ptr()) });
                    }
                    return;
                }
                Err(now) => {
                    h = now;
                    super::spin_hint();
                }
            }
        }
    }
}

impl<T> fmt::Debug for Pooled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled").field("index", &self.index).finish()
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("capacity", &self.capacity()).field("in_use", &self.in_use()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn storage_freed_once_by_owner_when_nothing_is_out() {
        let drops = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(3, |_| Counted(drops.clone()));
        let a = pool.acquire().unwrap();
        drop(a);
        drop(pool);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn storage_freed_once_by_last_handle_after_owner() {
        let drops = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(3, |_| Counted(drops.clone()));
        let a = pool.acquire().unwrap();
        let b = pool.acquire().unwrap();
        let pool2 = pool.clone();
        drop(pool);
        drop(pool2);
        assert_eq!(drops.load(Ordering::SeqCst), 0, "handles still out");
        drop(a);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        let t = std::thread::spawn(move || drop(b));
        t.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }

    #[test]
    #[cfg_attr(miri, ignore = "2^CNT_BITS round trips: hours under Miri")]
    fn counters_wrap_without_breaking_in_use() {
        let pool = Pool::new(2, |_| ());
        let keep = pool.acquire().unwrap();
        for _ in 0..(1u64 << CNT_BITS) + 10 {
            drop(pool.acquire().unwrap());
        }
        assert_eq!(pool.in_use(), 1);
        drop(keep);
        assert_eq!(pool.in_use(), 0);
        assert!(pool.acquire().is_ok());
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn capacity_is_bounded() {
        let _ = Pool::new(MAX_CAPACITY + 1, |_| ());
    }
}
