//! Latest-value publication: one writer (a worker) stores a snapshot of `N` words, any
//! number of readers load a consistent copy. The writer never waits; a reader that raced a
//! write retries.
//!
//! The classic sequence lock, with every word an atomic so that a torn read is a retry,
//! not a data race (Boehm, "Can seqlocks get along with programming language memory
//! models?", 2012): the writer makes the sequence odd, issues a release fence, stores the
//! words, then makes the sequence even with a release store; the reader loads the
//! sequence with acquire, loads the words, issues an acquire fence and re-checks the
//! sequence.

use super::atomic::{fence, AtomicU64, Ordering};

/// `N` words published together.
///
/// ```
/// use rvoip_media_core::sync::seqlock::SeqLock;
/// let s = SeqLock::<3>::new();
/// s.write(&[1, 2, 3]);
/// assert_eq!(s.read(), [1, 2, 3]);
/// ```
#[derive(Debug)]
pub struct SeqLock<const N: usize> {
    seq: AtomicU64,
    words: [AtomicU64; N],
}

impl<const N: usize> SeqLock<N> {
    /// All words zero.
    pub fn new() -> Self {
        SeqLock { seq: AtomicU64::new(0), words: std::array::from_fn(|_| AtomicU64::new(0)) }
    }

    /// Publishes a snapshot. Only one thread may write (the owning worker). Wait-free.
    pub fn write(&self, values: &[u64; N]) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (w, v) in self.words.iter().zip(values) {
            w.store(*v, Ordering::Relaxed);
        }
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// A consistent copy of the latest snapshot.
    pub fn read(&self) -> [u64; N] {
        loop {
            if let Some(v) = self.try_read() {
                return v;
            }
            super::spin_hint();
        }
    }

    /// One attempt: `None` if a write was in progress or overlapped.
    pub fn try_read(&self) -> Option<[u64; N]> {
        let s1 = self.seq.load(Ordering::Acquire);
        if s1 & 1 == 1 {
            return None;
        }
        let out = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == s1).then_some(out)
    }
}

impl<const N: usize> Default for SeqLock<N> {
    fn default() -> Self {
        Self::new()
    }
}
