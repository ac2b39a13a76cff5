//! A bounded single-producer single-consumer ring.
//!
//! Used for the command and reply rings between the control side and a worker. (Endpoint
//! rings for audio frames and packets use [`rtrb`](https://docs.rs/rtrb); this one exists so that the command
//! protocol can be model-checked with loom end to end.) Each side caches the other's index
//! and reloads it only when the ring looks full/empty, so the common case touches no
//! shared cache line but its own.

use super::atomic::{AtomicUsize, Ordering};
use super::{Arc, Cell};
use crossbeam_utils::CachePadded;
use std::mem::MaybeUninit;

struct Shared<T> {
    slots: Box<[Cell<MaybeUninit<T>>]>,
    mask: usize,
    /// Next position the consumer reads (written by the consumer only).
    head: CachePadded<AtomicUsize>,
    /// Next position the producer writes (written by the producer only).
    tail: CachePadded<AtomicUsize>,
}

// SAFETY: slots are handed from producer to consumer through the Release/Acquire pair on
// `tail` (and back through `head`); each slot is accessed by one side at a time.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above; the `Producer`/`Consumer` split enforces one thread per side.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let (mut head, tail) = (self.head.load(Ordering::Relaxed), self.tail.load(Ordering::Relaxed));
        while head != tail {
            // SAFETY: positions in [head, tail) hold initialised values that were never read.
            self.slots[head & self.mask].with_mut(|p| unsafe { (*p).assume_init_drop() });
            head = head.wrapping_add(1);
        }
    }
}

/// The writing half.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
    head_cache: usize,
}

/// The reading half.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
    tail_cache: usize,
}

/// A ring of at least `capacity` slots (rounded up to a power of two), split into halves.
/// Allocates here, never afterwards.
///
/// ```
/// let (mut tx, mut rx) = rvoip_media_sync::spsc::ring::<u32>(2);
/// tx.push(1).unwrap();
/// tx.push(2).unwrap();
/// assert_eq!(tx.push(3), Err(3)); // full: the value comes back, nothing is lost
/// assert_eq!(rx.pop(), Some(1));
/// assert_eq!(rx.pop(), Some(2));
/// assert_eq!(rx.pop(), None);
/// ```
pub fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let cap = capacity.max(1).next_power_of_two();
    let slots = (0..cap).map(|_| Cell::new(MaybeUninit::uninit())).collect();
    let shared = Arc::new(Shared {
        slots,
        mask: cap - 1,
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
    });
    (Producer { shared: shared.clone(), tail: 0, head_cache: 0 }, Consumer { shared, head: 0, tail_cache: 0 })
}

impl<T> Producer<T> {
    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Appends `value`, or gives it back when the ring is full.
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.tail.wrapping_sub(self.head_cache) == self.capacity() {
            self.head_cache = self.shared.head.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.head_cache) == self.capacity() {
                return Err(value);
            }
        }
        // SAFETY: the slot at `tail` is free: the consumer released it (Acquire on `head`
        // above or earlier) and will not read it before our Release store below.
        self.shared.slots[self.tail & self.shared.mask].with_mut(|p| unsafe { (*p).write(value) });
        self.tail = self.tail.wrapping_add(1);
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Free slots as far as this side knows (a lower bound).
    pub fn slots(&mut self) -> usize {
        self.head_cache = self.shared.head.load(Ordering::Acquire);
        self.capacity() - self.tail.wrapping_sub(self.head_cache)
    }
}

impl<T> Consumer<T> {
    /// Removes the oldest value, if any.
    pub fn pop(&mut self) -> Option<T> {
        if self.head == self.tail_cache {
            self.tail_cache = self.shared.tail.load(Ordering::Acquire);
            if self.head == self.tail_cache {
                return None;
            }
        }
        // SAFETY: the slot at `head` was initialised by the producer before its Release
        // store of `tail`, which our Acquire load observed; we read it exactly once.
        let v = self.shared.slots[self.head & self.shared.mask].with(|p| unsafe { (*p).assume_init_read() });
        self.head = self.head.wrapping_add(1);
        self.shared.head.store(self.head, Ordering::Release);
        Some(v)
    }

    /// Whether the ring looks empty from this side.
    pub fn is_empty(&mut self) -> bool {
        self.tail_cache = self.shared.tail.load(Ordering::Acquire);
        self.head == self.tail_cache
    }
}
