//! [`HeardBoard`]: who a policy [`Mixer`](super::Mixer) mixed in its last cycle (at most
//! [`MAX_HEARD`] members, with the level of each one's input), published by the worker
//! without a lock for a transport that writes RFC 6465 mixer-to-client levels (the CSRC
//! list of a listener's packet: the members mixed into what it hears, itself left out).
//!
//! A sequence lock over atomics: the one writer (the mixer, once per cycle) makes the
//! version odd, writes, makes it even; a reader retries a few times while the version is
//! odd or moved, and gives up (`None`) rather than wait.

use std::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};

/// Most members a board lists (RFC 3550's CSRC count).
pub const MAX_HEARD: usize = 15;

/// Who the mixer mixed last cycle: mixer ports and their levels (−dBov, 0..=127).
///
/// ```
/// use rvoip_media_nodes::mixer::HeardBoard;
/// let board = HeardBoard::new();
/// let mut got = [(0u32, 0u8); 15];
/// assert_eq!(board.read(&mut got), Some(0));
/// board.publish([(2, 30), (5, 41)].into_iter());
/// assert_eq!(board.read(&mut got), Some(2));
/// assert_eq!(got[..2], [(2, 30), (5, 41)]);
/// ```
#[derive(Debug, Default)]
pub struct HeardBoard {
    version: AtomicU32,
    len: AtomicU8,
    ports: [AtomicU32; MAX_HEARD],
    levels: [AtomicU8; MAX_HEARD],
}

impl HeardBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes `heard` (port, level) pairs, the first [`MAX_HEARD`] of them (the one
    /// writer: a mixer, on its worker; allocates nothing).
    pub fn publish(&self, heard: impl Iterator<Item = (u32, u8)>) {
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let mut n = 0;
        for (port, level) in heard.take(MAX_HEARD) {
            self.ports[n].store(port, Ordering::Relaxed);
            self.levels[n].store(level.min(127), Ordering::Relaxed);
            n += 1;
        }
        self.len.store(n as u8, Ordering::Relaxed);
        self.version.store(v.wrapping_add(2), Ordering::Release);
    }

    /// Copies the last published list into `out`; its length, or `None` when a publish
    /// kept overlapping the read (four tries). Never blocks.
    pub fn read(&self, out: &mut [(u32, u8); MAX_HEARD]) -> Option<usize> {
        for _ in 0..4 {
            let v = self.version.load(Ordering::Acquire);
            if v % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let n = usize::from(self.len.load(Ordering::Relaxed)).min(MAX_HEARD);
            for (k, o) in out[..n].iter_mut().enumerate() {
                *o = (self.ports[k].load(Ordering::Relaxed), self.levels[k].load(Ordering::Relaxed));
            }
            fence(Ordering::Acquire);
            if self.version.load(Ordering::Relaxed) == v {
                return Some(n);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_reader_never_sees_a_torn_list() {
        // The writer publishes lists whose every entry is (k, k) for one k; a reader must
        // only ever see such lists.
        let board = Arc::new(HeardBoard::new());
        let w = board.clone();
        let writer = std::thread::spawn(move || {
            for k in 0..200_000u32 {
                let n = (k % 16) as usize;
                w.publish((0..n).map(|_| (k % 128, (k % 128) as u8)));
            }
        });
        let mut out = [(0, 0); MAX_HEARD];
        let (mut reads, mut gave_up) = (0, 0);
        while !writer.is_finished() {
            match board.read(&mut out) {
                Some(n) => {
                    reads += 1;
                    assert!(out[..n].iter().all(|&(p, l)| p == out[0].0 && u32::from(l) == p), "{:?}", &out[..n]);
                }
                None => gave_up += 1,
            }
        }
        writer.join().unwrap();
        assert!(reads > 0, "{reads} reads, {gave_up} gave up");
    }
}
