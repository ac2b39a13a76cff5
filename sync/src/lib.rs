//! # rvoip-media-sync
//!
//! rvoip-media-core's own lock-free structures, written against a small shim so the same
//! code runs on `std` atomics in production and on [loom](https://docs.rs/loom)'s
//! model-checked atomics under `--cfg loom` (see `loom-tests/`). A crate of their own so the
//! loom models and Miri build only these structures, not the media code around them;
//! `rvoip_media_core::sync` re-exports this crate.
//!
//! - [`spsc`]: a bounded single-producer single-consumer ring (commands and replies).
//! - [`command`]: the control <-> worker command/reply protocol over two rings, with credit
//!   accounting that makes a full reply ring impossible.
//! - [`lanes`]: a slab of SPSC packet lanes with the payloads inline (a kernel room's packet
//!   path in and out).
//! - [`pool`]: a fixed-capacity lock-free object pool (audio frames, packets).
//! - [`seqlock`]: latest-value publication of statistics, written by a worker without ever
//!   blocking, read by anyone.
//! - [`rows`]: the rows of samples the shards of a room spread over several workers
//!   publish to each other once a cycle, with bounded waits.
//! - [`control`]: a graph's control values between the host and a worker, and the flag that
//!   tells the host the worker's end is gone.
#![deny(missing_docs)]

pub mod command;
pub mod control;
pub mod lanes;
pub mod pool;
pub mod rows;
pub mod seqlock;
pub mod spsc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic;
#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic;
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

/// Hint for a retry loop: a CPU spin hint normally, a scheduler yield under loom (which
/// must see the loop give way to the other thread).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// `UnsafeCell` with loom's closure-based access API, so loom can track every access.
#[derive(Debug)]
pub(crate) struct Cell<T>(#[cfg(loom)] loom::cell::UnsafeCell<T>, #[cfg(not(loom))] std::cell::UnsafeCell<T>);

impl<T> Cell<T> {
    pub(crate) fn new(v: T) -> Self {
        #[cfg(loom)]
        return Cell(loom::cell::UnsafeCell::new(v));
        #[cfg(not(loom))]
        Cell(std::cell::UnsafeCell::new(v))
    }

    /// Runs `f` with a shared raw pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with(f);
        #[cfg(not(loom))]
        f(self.0.get())
    }

    /// Runs `f` with a mutable raw pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with_mut(f);
        #[cfg(not(loom))]
        f(self.0.get())
    }
}

/// The structures on real threads, small enough for Miri (`cargo +nightly miri test -p
/// rvoip-media-sync --lib`), which checks the unsafe code for undefined behaviour and
/// data races; loom checks the orderings exhaustively under `--cfg loom`.
#[cfg(all(test, not(loom)))]
mod threaded_tests {
    use super::{command, lanes, pool, rows, seqlock, spsc};
    use std::thread;

    /// Items per test: Miri runs each thread interleaving slowly.
    const N: u64 = if cfg!(miri) { 200 } else { 20_000 };

    #[test]
    fn lanes_hand_every_packet_across_threads_once_whole_and_give_pooled_ones_back() {
        use rvoip_media_graph::{Packet, PacketMeta};
        let packets = pool::Pool::new(4, |_| Packet::new());
        let slab = lanes::Lanes::new(2, 4);
        let (mut tx, mut rx) = lanes::Lanes::claim(&slab, 1).unwrap();
        let p = packets.clone();
        let producer = thread::spawn(move || {
            for i in 0..N {
                // Every 7th over the inline bytes: through a pooled packet.
                let len = if i % 7 == 0 { 400 } else { 1 + (i % 160) as usize };
                let meta = PacketMeta { timestamp: i as u32, ..PacketMeta::default() };
                while tx.push(&meta, &vec![i as u8; len], &p).is_err() {
                    thread::yield_now();
                }
            }
            tx
        });
        let mut next = 0;
        while next < N {
            let got = rx.pop_with(|s| {
                let i = u64::from(s.meta.timestamp);
                let len = if i % 7 == 0 { 400 } else { 1 + (i % 160) as usize };
                assert_eq!(s.payload(), &vec![i as u8; len][..]);
                i
            });
            match got {
                Some(i) => {
                    assert_eq!(i, next);
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        let mut tx = producer.join().unwrap();
        // Left queued when both ends go: the pooled payload goes back.
        tx.push(&PacketMeta::default(), &[1; 500], &packets).unwrap();
        drop((tx, rx));
        assert_eq!(packets.in_use(), 0);
    }

    #[test]
    fn spsc_hands_every_value_across_threads_once_and_drops_the_rest() {
        let (mut tx, mut rx) = spsc::ring::<Box<u64>>(8);
        let producer = thread::spawn(move || {
            for i in 0..N {
                let mut v = Box::new(i);
                while let Err(back) = tx.push(v) {
                    v = back;
                    thread::yield_now();
                }
            }
            tx
        });
        let mut next = 0;
        while next < N {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(*v, next);
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        let mut tx = producer.join().unwrap();
        // Values still in the ring when it goes are dropped exactly once (Miri sees leaks
        // and double frees).
        tx.push(Box::new(1)).unwrap();
        tx.push(Box::new(2)).unwrap();
        drop((tx, rx));
    }

    #[test]
    fn pool_objects_move_between_threads_and_all_come_back() {
        let p = pool::Pool::new(4, |i| vec![i as u8; 3]);
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let p = p.clone();
                thread::spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..N {
                        if let Ok(mut v) = p.acquire() {
                            v[0] = t;
                            held.push(v);
                        }
                        if i % 3 == 0 {
                            held.clear();
                        }
                    }
                    held
                })
            })
            .collect();
        let mut held: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        assert!(held.len() <= 4);
        assert_eq!(p.in_use(), held.len());
        held.clear();
        assert_eq!(p.in_use(), 0);
        // Every object is still there, each acquired once.
        let all: Vec<_> = (0..4).map(|_| p.acquire().unwrap()).collect();
        assert!(p.acquire().is_err());
        drop(all);
    }

    #[test]
    fn seqlock_readers_never_see_a_torn_snapshot() {
        let lock = std::sync::Arc::new(seqlock::SeqLockSlice::new(4));
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || {
                for i in 1..=N {
                    lock.write(&[i, i, i, i]);
                }
            })
        };
        let mut out = [0u64; 4];
        let mut last = 0;
        while last < N {
            lock.read_into(&mut out);
            assert!(out.iter().all(|&w| w == out[0]), "torn read {out:?}");
            assert!(out[0] >= last, "went back from {last} to {}", out[0]);
            last = out[0];
            thread::yield_now();
        }
        writer.join().unwrap();
    }

    /// Two shards of a room on two threads, each with a deadline on its wait: every total a
    /// shard computes holds its own row and, of its partner's, the row of the same cycle or
    /// nothing (never a row of another cycle, never half a row); when both were on time the
    /// two totals of a cycle are equal.
    #[test]
    fn shared_rows_give_whole_rows_of_the_same_cycle_or_none() {
        const CYCLES: u64 = if cfg!(miri) { 40 } else { 5_000 };
        const LEN: usize = 8;
        let shared = std::sync::Arc::new(rows::SharedRows::new(2, LEN).unwrap());
        // Shard s's row for cycle c: every sample (s + 1) * c (exact in f32 at these sizes).
        let value = |s: usize, c: u64| ((s as u64 + 1) * c) as f32;
        let shards: Vec<_> = (0..2)
            .map(|s| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (mut last, mut totals) = (0, Vec::new());
                    while last < CYCLES {
                        let c = shared.next_cycle(s, last);
                        let own = [value(s, c); LEN];
                        let published = shared.publish(s, c, &own);
                        let mut tries = 0;
                        let on_time = shared.wait(1 - s, c, || {
                            tries += 1;
                            thread::yield_now();
                            tries < 50
                        });
                        let mut total = [0.0f32; LEN];
                        let from = if on_time { 1 << (1 - s) } else { 0 };
                        shared.sum(s, c, from, &own, &mut total);
                        assert!(total.iter().all(|&t| t == total[0]), "torn row {total:?}");
                        let partner = total[0] - own[0];
                        assert!(partner == 0.0 || partner == value(1 - s, c), "cycle {c}: {total:?}");
                        totals.push((c, on_time && published, total[0]));
                        shared.finish_cycle(s, c);
                        last = c;
                    }
                    totals
                })
            })
            .collect();
        let [a, b]: [Vec<_>; 2] = shards.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>().try_into().unwrap();
        for (c, whole, t) in &a {
            if let Some((_, true, u)) = b.iter().find(|(d, _, _)| d == c) {
                if *whole {
                    assert_eq!(t, u, "cycle {c}: both on time, different totals");
                }
            }
        }
    }

    #[test]
    fn every_command_gets_one_reply_across_threads() {
        let (mut control, mut worker) = command::channel::<u64, u64>(4);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let w = {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Acquire) {
                    worker.serve(2, |c| c + 1);
                    thread::yield_now();
                }
            })
        };
        let (mut sent, mut got) = (0u64, Vec::new());
        while got.len() < N as usize {
            if sent < N && control.send_or_poll(sent, |r| got.push(r)).is_ok() {
                sent += 1;
            } else {
                control.poll(|r| got.push(r));
                thread::yield_now();
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        w.join().unwrap();
        assert_eq!(got, (1..=N).collect::<Vec<_>>());
        assert_eq!(control.in_flight(), 0);
    }
}
