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
/// use rvoip_media_sync::seqlock::SeqLock;
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
        write_words(&self.seq, &self.words, values);
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
        let mut out = [0; N];
        try_read_words(&self.seq, &self.words, &mut out).then_some(out)
    }
}

/// The writer's half of the protocol over any word storage.
fn write_words(seq: &AtomicU64, words: &[AtomicU64], values: &[u64]) {
    let s = seq.load(Ordering::Relaxed);
    seq.store(s.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    for (w, v) in words.iter().zip(values) {
        w.store(*v, Ordering::Relaxed);
    }
    seq.store(s.wrapping_add(2), Ordering::Release);
}

/// The reader's half: fills `out` and returns whether the copy is consistent.
fn try_read_words(seq: &AtomicU64, words: &[AtomicU64], out: &mut [u64]) -> bool {
    let s1 = seq.load(Ordering::Acquire);
    if s1 & 1 == 1 {
        return false;
    }
    for (o, w) in out.iter_mut().zip(words) {
        *o = w.load(Ordering::Relaxed);
    }
    fence(Ordering::Acquire);
    seq.load(Ordering::Relaxed) == s1
}

/// A [`SeqLock`] whose length is chosen at run time: a node's telemetry (as many values as
/// its spec names). Same protocol, same guarantees; the words are allocated once, at
/// construction, on the control side.
///
/// ```
/// use rvoip_media_sync::seqlock::SeqLockSlice;
/// let s = SeqLockSlice::new(2);
/// s.write(&[7, 9]);
/// let mut out = [0; 2];
/// s.read_into(&mut out);
/// assert_eq!(out, [7, 9]);
/// assert_eq!(s.len(), 2);
/// ```
#[derive(Debug)]
pub struct SeqLockSlice {
    seq: AtomicU64,
    words: Box<[AtomicU64]>,
}

impl SeqLockSlice {
    /// `len` words, all zero. Allocates.
    pub fn new(len: usize) -> Self {
        SeqLockSlice { seq: AtomicU64::new(0), words: (0..len).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Where the words are, for a prefetch before a [`SeqLockSlice::write`] (their memory
    /// is allocated apart from the sequence word's).
    ///
    /// ```
    /// use rvoip_media_sync::seqlock::SeqLockSlice;
    /// assert!(!SeqLockSlice::new(2).words_addr().is_null());
    /// ```
    pub fn words_addr(&self) -> *const u8 {
        self.words.as_ptr().cast()
    }

    /// Publishes `values` (extra values are ignored, missing ones leave their word as it
    /// was). Only one thread may write. Wait-free, no allocation.
    pub fn write(&self, values: &[u64]) {
        write_words(&self.seq, &self.words, values);
    }

    /// A consistent copy of the latest snapshot into `out` (up to its length).
    pub fn read_into(&self, out: &mut [u64]) {
        while !try_read_words(&self.seq, &self.words, out) {
            super::spin_hint();
        }
    }
}

impl<const N: usize> Default for SeqLock<N> {
    fn default() -> Self {
        Self::new()
    }
}
