//! Sessions on an engine with two I/O threads (`MediaEngineConfig::io_threads`): the pool
//! deals the streams out evenly, every session sends and receives through it, a stopped
//! session's RTCP BYE reaches its peer, and the pool serves no stream once all stopped.

#[path = "support/call_pair.rs"]
mod call_pair;

use call_pair::start_pair;
use rvoip_media_core::session::*;
use std::time::{Duration, Instant};

#[test]
fn two_io_threads_share_the_sessions_and_finish_them() {
    let config = MediaEngineConfig::builder().workers(1).realtime(None).pin_workers(false).io_threads(2).build();
    let engine = MediaEngine::start(config).unwrap();
    let pool = engine.io_pool().clone();
    assert_eq!(pool.threads(), 2);
    let wait = Duration::from_secs(10);
    let mut sessions = Vec::new();
    for i in 0..3 {
        let (a, b) = start_pair(&engine, &i.to_string(), wait);
        sessions.push(a);
        sessions.push(b);
    }
    assert_eq!((pool.thread_streams(0), pool.thread_streams(1)), (Some(3), Some(3)));
    std::thread::sleep(Duration::from_millis(500));
    for s in &sessions {
        let st = s.rtp_statistics();
        assert!(st.packets_sent >= 10 && st.received.received >= 10, "{:?}: {st:?}", s.dialog());
    }
    // Stopping A of the first pair: its thread sends a BYE, which B receives on its RTCP port.
    let mut b = sessions.remove(1);
    let mut a = sessions.remove(0);
    a.stop().unwrap().wait(wait).unwrap();
    assert_eq!(pool.streams(), 5);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut bye = false;
    while !bye && Instant::now() < deadline {
        match b.poll_event() {
            Some(SessionEvent::RemoteBye { .. }) => bye = true,
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert!(bye, "B heard A's BYE");
    b.stop().unwrap().wait(wait).unwrap();
    for mut s in sessions {
        s.stop().unwrap().wait(wait).unwrap();
    }
    assert_eq!(pool.streams(), 0);
    assert_eq!((pool.thread_streams(0), pool.thread_streams(1)), (Some(0), Some(0)));
}
