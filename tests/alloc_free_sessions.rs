//! Invariant 1 with the call layer: media sessions created, started, muted, switched to
//! another codec (of the same audio rate, or G.722's 16 kHz and Opus's 48 kHz through
//! resamplers) and stopped while the workers run, with RTP flowing between pairs of
//! sessions over loopback, cost the worker threads no allocation and no free. (The
//! transport's I/O threads and the control side allocate; workers only run graphs.) Every
//! session receives through its jitter buffer; the last round passes the packets through an
//! impairing relay (loss, reordering, jitter, duplicates) so the buffer's concealment,
//! reordering and time-scale paths run on the workers too.

#[path = "support/call_pair.rs"]
mod call_pair;
#[path = "support/impair.rs"]
mod impair;

use call_pair::start_pair;
use impair::{Impairment, Relay};

use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[path = "support/worker_alloc.rs"]
mod worker_alloc;

use worker_alloc::{WorkerCounting, WORKER_ALLOCS, WORKER_FREES};

#[global_allocator]
static ALLOC: WorkerCounting = WorkerCounting;

#[test]
fn sessions_churn_without_worker_allocations() {
    let config = MediaEngineConfig::builder()
        .workers(2)
        .realtime(None)
        .pin_workers(false)
        .rtcp_interval(Duration::from_millis(100))
        .build();
    let engine = MediaEngine::start(config).unwrap();
    // Let the workers settle, then count from here.
    std::thread::sleep(Duration::from_millis(50));
    WORKER_ALLOCS.store(0, Ordering::SeqCst);
    WORKER_FREES.store(0, Ordering::SeqCst);
    let any = "127.0.0.1:0".parse().unwrap();
    let wait = Duration::from_secs(5);
    let mut received = 0;
    let mut sessions = 0;
    for round in 0..4 {
        let mut pairs = Vec::new();
        for i in 0..6 {
            pairs.push(start_pair(&engine, &format!("{round}-{i}"), wait));
            sessions += 2;
        }
        std::thread::sleep(Duration::from_millis(150));
        for (a, b) in &mut pairs {
            b.set_muted(true).unwrap().wait(wait).unwrap();
            // Rounds 1 and 3 switch the audio rate too, through resamplers: G.722 (16 kHz),
            // Opus (48 kHz, and its 48 kHz RTP clock mapped by the transport).
            let to = match round {
                1 => CodecId::G722,
                3 => CodecId::Opus,
                _ => CodecId::Pcma,
            };
            let n = negotiated(to, None).unwrap();
            b.set_codec(n.clone(), 20).unwrap().wait(wait).unwrap();
            a.set_codec(n, 20).unwrap().wait(wait).unwrap();
        }
        std::thread::sleep(Duration::from_millis(150));
        for (mut a, mut b) in pairs {
            received += a.rtp_statistics().received.received + b.rtp_statistics().received.received;
            b.stop().unwrap().wait(wait).unwrap();
            a.stop().unwrap().wait(wait).unwrap();
        }
        engine.engine().poll();
    }
    assert_eq!(sessions, 48);
    assert!(received > 48 * 5, "packets flowed: {received}");
    // Impaired: 4 pairs, each direction through its own relay, with a codec switch while
    // packets are reordered in flight.
    let mut pairs = Vec::new();
    let mut relays = Vec::new();
    for i in 0..4u64 {
        let a_params = MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap();
        let mut a = engine.create_media_session(DialogId::new(format!("ia{i}")), a_params).unwrap();
        let to_a = Relay::start(a.local_addr(), Impairment::moderate(11 + i));
        let b_params = MediaSessionParams::new(any, Some(to_a.addr()), CodecId::Pcmu).unwrap();
        let mut b = engine.create_media_session(DialogId::new(format!("ib{i}")), b_params).unwrap();
        let to_b = Relay::start(b.local_addr(), Impairment::moderate(21 + i));
        let mut p = a.params().clone();
        p.remote = rvoip_media_core::transport::Remote::Fixed(to_b.addr());
        a.update(p).unwrap().wait(wait).unwrap();
        a.start().unwrap().wait(wait).unwrap();
        b.start().unwrap().wait(wait).unwrap();
        pairs.push((a, b));
        relays.push((to_a, to_b));
    }
    std::thread::sleep(Duration::from_millis(600));
    for (a, b) in &mut pairs {
        let pcma = negotiated(CodecId::Pcma, None).unwrap();
        b.set_codec(pcma.clone(), 20).unwrap().wait(wait).unwrap();
        a.set_codec(pcma, 20).unwrap().wait(wait).unwrap();
    }
    std::thread::sleep(Duration::from_millis(600));
    let (mut concealed, mut switches, mut reordered) = (0, 0, 0);
    for (mut a, mut b) in pairs {
        for s in [&a, &b] {
            let j = s.statistics().receive.stats;
            concealed += j.concealment_events;
            switches += j.codec_switches;
        }
        b.stop().unwrap().wait(wait).unwrap();
        a.stop().unwrap().wait(wait).unwrap();
    }
    for (x, y) in &relays {
        reordered += x.stats().reordered + y.stats().reordered;
    }
    engine.engine().poll();
    assert!(concealed >= 8 && reordered >= 20, "impairment ran: {concealed} concealments, {reordered} reordered");
    assert_eq!(switches, 8, "every receiver switched to PCMA through its buffer");
    assert_eq!(WORKER_ALLOCS.load(Ordering::SeqCst), 0, "allocations on worker threads");
    assert_eq!(WORKER_FREES.load(Ordering::SeqCst), 0, "frees on worker threads");
}
