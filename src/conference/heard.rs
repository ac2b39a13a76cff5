//! [`HeardBoard`]: who a room's mixer mixed in its last cycle, published on the worker
//! without a lock ([`HeardSink`]) and read by the transport that writes RFC 6465
//! mixer-to-client levels ([`BatchIo::with_heard`](crate::transport::BatchIo::with_heard)).
//!
//! The list is one [`SeqLock`] snapshot (the protocol and its loom model are the seqlock's):
//! word 0 the length, words 1..=15 `port << 8 | level`. A reader that keeps racing the
//! writer gives up after a few tries instead of waiting.

use crate::sync::seqlock::SeqLock;
use rvoip_media_nodes::mixer::{HeardSink, MAX_HEARD};

/// Tries a reader makes before it gives up on a list the writer keeps replacing.
const READ_TRIES: usize = 4;

/// Who the mixer mixed last cycle: mixer ports and their levels (−dBov, 0..=127).
///
/// ```
/// use rvoip_media_core::conference::HeardBoard;
/// use rvoip_media_nodes::mixer::HeardSink;
/// let board = HeardBoard::new();
/// let mut got = [(0u32, 0u8); 15];
/// assert_eq!(board.read(&mut got), Some(0));
/// board.publish(&[(2, 30), (5, 41)]);
/// assert_eq!(board.read(&mut got), Some(2));
/// assert_eq!(got[..2], [(2, 30), (5, 41)]);
/// ```
#[derive(Debug)]
pub struct HeardBoard(SeqLock<{ MAX_HEARD + 1 }>);

impl HeardBoard {
    /// An empty board.
    pub fn new() -> Self {
        HeardBoard(SeqLock::new())
    }

    /// Copies the last published list into `out`; its length, or `None` when a publish
    /// kept overlapping the read. Never blocks.
    pub fn read(&self, out: &mut [(u32, u8); MAX_HEARD]) -> Option<usize> {
        let words = (0..READ_TRIES).find_map(|_| self.0.try_read())?;
        let n = (words[0] as usize).min(MAX_HEARD);
        for (o, &w) in out.iter_mut().zip(&words[1..=n]) {
            *o = ((w >> 8) as u32, (w & 0xff) as u8);
        }
        Some(n)
    }
}

impl Default for HeardBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl HeardSink for HeardBoard {
    /// Publishes the first [`MAX_HEARD`] pairs, levels capped at 127 (the one writer: the
    /// mixer, on its worker; wait-free, allocates nothing).
    fn publish(&self, heard: &[(u32, u8)]) {
        let mut words = [0u64; MAX_HEARD + 1];
        let heard = &heard[..heard.len().min(MAX_HEARD)];
        words[0] = heard.len() as u64;
        for (w, &(port, level)) in words[1..].iter_mut().zip(heard) {
            *w = u64::from(port) << 8 | u64::from(level.min(127));
        }
        self.0.write(&words);
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
        // The writer starts once the reader is reading: on a loaded machine it could
        // otherwise finish before the reader's first look (CI saw 0 reads).
        let reading = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let go = reading.clone();
        let writer = std::thread::spawn(move || {
            while !go.load(std::sync::atomic::Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let mut list = [(0u32, 0u8); MAX_HEARD];
            for k in 0..200_000u32 {
                let n = (k % 16) as usize;
                list.iter_mut().for_each(|e| *e = (k % 128, (k % 128) as u8));
                w.publish(&list[..n.min(MAX_HEARD)]);
            }
        });
        let mut out = [(0, 0); MAX_HEARD];
        let (mut reads, mut gave_up) = (0, 0);
        loop {
            let done = writer.is_finished();
            match board.read(&mut out) {
                Some(n) => {
                    reads += 1;
                    assert!(out[..n].iter().all(|&(p, l)| p == out[0].0 && u32::from(l) == p), "{:?}", &out[..n]);
                }
                None => gave_up += 1,
            }
            reading.store(true, std::sync::atomic::Ordering::Release);
            if done {
                break;
            }
        }
        writer.join().unwrap();
        assert!(reads > 0, "{reads} reads, {gave_up} gave up");
    }

    #[test]
    fn long_lists_keep_fifteen_and_levels_cap_at_127() {
        let board = HeardBoard::new();
        let list: Vec<(u32, u8)> = (0..20).map(|p| (p * 1000, 200)).collect();
        board.publish(&list);
        let mut out = [(0, 0); MAX_HEARD];
        assert_eq!(board.read(&mut out), Some(MAX_HEARD));
        assert_eq!(out[14], (14_000, 127));
    }
}
