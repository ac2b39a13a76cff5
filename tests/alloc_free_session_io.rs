//! The sessions' I/O thread allocates nothing per packet: ten PCMU sessions (five pairs
//! calling each other over loopback, 50 packets a second each way) on an engine with one
//! I/O thread, whose allocations and frees are counted over a second of traffic once all
//! run (RTCP reports, which build their compound, are every 60 s here, so none falls in the
//! window): none, while every session sent and received.

#![cfg(target_os = "linux")]

#[path = "support/call_pair.rs"]
mod call_pair;
#[path = "support/worker_alloc.rs"]
mod worker_alloc;

use call_pair::start_pair;
use rvoip_media_core::session::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use worker_alloc::{tid_of, watch_thread, WorkerCounting, WATCHED_ALLOCS, WATCHED_FREES};

#[global_allocator]
static ALLOC: WorkerCounting = WorkerCounting;

#[test]
fn the_session_io_thread_allocates_nothing_per_packet() {
    let config = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None)
        .pin_workers(false)
        .rtcp_interval(Duration::from_secs(60))
        .build();
    let engine = MediaEngine::start(config).unwrap();
    let wait = Duration::from_secs(10);
    let mut sessions = Vec::new();
    for i in 0..5 {
        let (a, b) = start_pair(&engine, &i.to_string(), wait);
        sessions.push(a);
        sessions.push(b);
    }
    // Latching (an event) and the first packets happen before the window.
    std::thread::sleep(Duration::from_millis(300));
    let before: Vec<_> = sessions.iter().map(|s| s.rtp_statistics()).collect();
    let tid = tid_of("rvoip-rtp-io").expect("the I/O thread");
    WATCHED_ALLOCS.store(0, Ordering::SeqCst);
    WATCHED_FREES.store(0, Ordering::SeqCst);
    watch_thread(tid);
    std::thread::sleep(Duration::from_secs(1));
    watch_thread(0);
    let (allocs, frees) = (WATCHED_ALLOCS.load(Ordering::SeqCst), WATCHED_FREES.load(Ordering::SeqCst));
    for (s, b) in sessions.iter().zip(&before) {
        let a = s.rtp_statistics();
        let (sent, received) = (a.packets_sent - b.packets_sent, a.received.received - b.received.received);
        assert!(sent >= 20 && received >= 20, "{:?} moved {sent} / {received} packets in the window", s.dialog());
    }
    assert_eq!((allocs, frees), (0, 0), "allocations and frees on the I/O thread");
    for mut s in sessions {
        s.stop().unwrap().wait(wait).unwrap();
    }
}
