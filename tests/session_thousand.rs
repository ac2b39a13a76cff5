//! Issue 11's measure "create + start + stop of 1,000 sessions on a running engine, 0
//! allocations on workers": 1,000 PCMU sessions in 10 rounds of 100 alive at once (50 pairs
//! calling each other over loopback, so every worker decodes and encodes while sessions
//! come and go), each created, started and stopped while the engine runs. The workers
//! allocate and free nothing over the whole run, every session received media, and the
//! engine is back to its partitions, frames and packets of before. (The control side's
//! time per session is in `benches/session.rs`.)
//!
//! All of them are served by the engine's one I/O thread (its `IoPool`): the pool serves
//! exactly the sessions alive, and the process runs one `rvoip-rtp-io` thread however many
//! there are.
//!
//! Limits: 100 sessions alive at once here keep the test within a default open-file limit
//! (each session holds its RTP and RTCP sockets); the engine itself places up to
//! `max_partitions_per_worker` (1,024) sessions per worker.

#[path = "support/call_pair.rs"]
mod call_pair;
#[path = "support/worker_alloc.rs"]
mod worker_alloc;

use call_pair::start_pair;
use rvoip_media_core::session::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use worker_alloc::{WorkerCounting, ALL_ALLOCS, WORKER_ALLOCS, WORKER_FREES};

#[global_allocator]
static ALLOC: WorkerCounting = WorkerCounting;

const ROUNDS: usize = 10;
const PAIRS: usize = 50;

#[test]
fn a_thousand_sessions_start_and_stop_without_worker_allocations() {
    let config = MediaEngineConfig::builder().workers(2).realtime(None).pin_workers(false).build();
    let engine = MediaEngine::start(config).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let before = engine.engine().status();
    let packets_before = engine.engine().packet_pool().in_use();
    WORKER_ALLOCS.store(0, Ordering::SeqCst);
    WORKER_FREES.store(0, Ordering::SeqCst);
    let all_before = ALL_ALLOCS.load(Ordering::SeqCst);
    let wait = Duration::from_secs(10);
    let (mut sessions, mut silent) = (0, 0);
    for round in 0..ROUNDS {
        let mut alive = Vec::with_capacity(2 * PAIRS);
        for i in 0..PAIRS {
            let (a, b) = start_pair(&engine, &format!("{round}-{i}"), wait);
            alive.push(a);
            alive.push(b);
        }
        assert_eq!(engine.engine().status().partitions, before.partitions + 2 * PAIRS);
        assert_eq!(engine.io_pool().streams(), 2 * PAIRS, "every session served by the pool");
        if let Some(n) = io_threads() {
            assert_eq!(n, 1, "I/O threads of the process with {} sessions alive", 2 * PAIRS);
        }
        // Long enough for a few 20 ms packets each way on a loaded machine.
        std::thread::sleep(Duration::from_millis(300));
        for mut s in alive {
            if s.rtp_statistics().received.received == 0 {
                silent += 1;
            }
            s.stop().unwrap().wait(wait).unwrap();
            sessions += 1;
        }
        engine.engine().poll();
    }
    let after = engine.engine().status();
    assert_eq!(engine.io_pool().streams(), 0, "every stream finished");
    assert_eq!(sessions, 1000);
    assert_eq!(silent, 0, "sessions that received no RTP");
    assert_eq!(after.partitions, before.partitions, "every session's partition removed");
    assert_eq!(after.frames_in_use, before.frames_in_use, "frames back in the pool");
    assert_eq!(engine.engine().packet_pool().in_use(), packets_before, "packets back in the pool");
    assert_eq!(after.refusals, before.refusals, "no command refused");
    assert!(ALL_ALLOCS.load(Ordering::SeqCst) > all_before + 1000, "the counter counts");
    assert_eq!(WORKER_ALLOCS.load(Ordering::SeqCst), 0, "allocations on worker threads");
    assert_eq!(WORKER_FREES.load(Ordering::SeqCst), 0, "frees on worker threads");
}

/// The process's RTP I/O threads (named `rvoip-rtp-io-K`), where /proc tells.
fn io_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let comm = |t: &std::fs::DirEntry| std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
    Some(tasks.flatten().filter(|t| comm(t).starts_with("rvoip-rtp-io")).count())
}
