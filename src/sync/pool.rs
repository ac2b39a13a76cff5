//! A fixed-capacity, lock-free object pool.
//!
//! All objects are created up front. [`Pool::acquire`] pops a free slot index off a Treiber
//! stack and returns a [`Pooled`] handle with exclusive access to it; dropping the handle
//! pushes the index back. Any thread may acquire or release (host network threads acquire
//! input frames, workers release them; workers acquire output frames, hosts release them).
//!
//! The stack head packs a 32-bit tag with the 32-bit top index in one `AtomicU64`; every
//! successful push or pop bumps the tag, so a pop that read a stale `next` (the ABA case)
//! fails its compare-exchange and retries. `next` links are atomics, so that stale read is
//! not a data race. Exhaustion is an error ([`PoolExhausted`]) and a counter, never an
//! allocation.

use super::atomic::{AtomicU32, AtomicU64, Ordering};
use super::{Arc, Cell};
use std::fmt;
use std::ops::{Deref, DerefMut};

const NIL: u32 = u32::MAX;

/// Every object of the pool is in use.
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
    in_use: AtomicU32,
}

// SAFETY: a slot is reachable only through the one `Pooled` handle that popped its index,
// and the index moves between threads through the AcqRel compare-exchange on `head`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Inner<T> {}

/// A shared handle to a pool; clone it freely (clones share the objects).
pub struct Pool<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool { inner: self.inner.clone() }
    }
}

/// Exclusive access to one pooled object; returns it to the pool on drop.
pub struct Pooled<T> {
    inner: Arc<Inner<T>>,
    index: u32,
}

fn pack(tag: u64, index: u32) -> u64 {
    (tag << 32) | u64::from(index)
}

impl<T> Pool<T> {
    /// A pool of `capacity` objects made by `make` (allocates here, never afterwards).
    ///
    /// ```
    /// use rvoip_media_core::sync::pool::Pool;
    /// let pool = Pool::new(2, |_| [0.0f32; 160]);
    /// let mut a = pool.acquire().unwrap();
    /// a[0] = 1.0;
    /// let _b = pool.acquire().unwrap();
    /// assert!(pool.acquire().is_err()); // exhausted: an error and a counter
    /// assert_eq!(pool.exhausted_count(), 1);
    /// drop(a);
    /// assert!(pool.acquire().is_ok());
    /// ```
    pub fn new(capacity: usize, mut make: impl FnMut(usize) -> T) -> Self {
        assert!(capacity < NIL as usize, "pool capacity must be below 2^32 - 1");
        let slots = (0..capacity).map(|i| Cell::new(make(i))).collect();
        let next = (0..capacity).map(|i| AtomicU32::new(if i + 1 < capacity { i as u32 + 1 } else { NIL })).collect();
        let top = if capacity == 0 { NIL } else { 0 };
        let inner = Inner {
            slots,
            next,
            head: AtomicU64::new(pack(0, top)),
            exhausted: AtomicU64::new(0),
            in_use: AtomicU32::new(0),
        };
        Pool { inner: Arc::new(inner) }
    }

    /// Number of objects.
    pub fn capacity(&self) -> usize {
        self.inner.slots.len()
    }

    /// Objects currently handed out.
    pub fn in_use(&self) -> usize {
        self.inner.in_use.load(Ordering::Relaxed) as usize
    }

    /// Failed acquisitions so far.
    pub fn exhausted_count(&self) -> u64 {
        self.inner.exhausted.load(Ordering::Relaxed)
    }

    /// Takes a free object. Lock-free; never allocates. Its contents are whatever the last
    /// user left.
    pub fn acquire(&self) -> Result<Pooled<T>, PoolExhausted> {
        let inner = &*self.inner;
        let mut head = inner.head.load(Ordering::Acquire);
        loop {
            let index = head as u32;
            if index == NIL {
                inner.exhausted.fetch_add(1, Ordering::Relaxed);
                return Err(PoolExhausted { capacity: inner.slots.len() });
            }
            let next = inner.next[index as usize].load(Ordering::Relaxed);
            let new = pack((head >> 32).wrapping_add(1), next);
            match inner.head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    inner.in_use.fetch_add(1, Ordering::Relaxed);
                    return Ok(Pooled { inner: self.inner.clone(), index });
                }
                Err(h) => {
                    head = h;
                    super::spin_hint();
                }
            }
        }
    }
}

impl<T> Inner<T> {
    fn release(&self, index: u32) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            self.next[index as usize].store(head as u32, Ordering::Relaxed);
            let new = pack((head >> 32).wrapping_add(1), index);
            match self.head.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(h) => {
                    head = h;
                    super::spin_hint();
                }
            }
        }
    }
}

impl<T> Pooled<T> {
    /// The slot index (stable for the pool's life; useful in tests and statistics).
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Runs `f` on the object (the loom-trackable way to touch it).
    pub fn with_mut<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: this handle is the only owner of slot `index` until it is dropped.
        self.inner.slots[self.index as usize].with_mut(|p| f(unsafe { &mut *p }))
    }
}

impl<T> Deref for Pooled<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: exclusive ownership of the slot, as in `with_mut`.
        self.inner.slots[self.index as usize].with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: exclusive ownership of the slot, as in `with_mut`.
        self.inner.slots[self.index as usize].with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for Pooled<T> {
    fn drop(&mut self) {
        self.inner.release(self.index);
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
