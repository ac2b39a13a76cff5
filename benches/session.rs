//! Media session cost on a running engine (1 worker): create + start + stop of a session (UDP
//! sockets bound, graph compiled and placed, the stream handed to the engine's I/O thread, then
//! stopped: the thread woken, its RTCP BYE sent and awaited, partition removed), timed on the
//! control side (the worker applies the commands at its next cycles); and the heap a session
//! holds, counted by a global allocator (printed once before the timings).
//!
//! Also printed once: a literal run of 1,000 sessions (10 rounds of 100 alive at once),
//! each created, started and stopped on the running engine: the control calls' time per
//! session, and the wall time per session with the workers' acknowledgements awaited.
//!
//! Run: `cargo bench --bench session` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as i64 - l.size() as i64, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn engine() -> MediaEngine {
    let c = MediaEngineConfig::builder().workers(1).realtime(None).pin_workers(false).build();
    MediaEngine::start(c).unwrap()
}

fn params(codec: CodecId) -> MediaSessionParams {
    MediaSessionParams::new("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:9".parse().unwrap()), codec).unwrap()
}

/// Heap bytes per session: `n` sessions of `p` created and started, minus the heap before.
fn memory(engine: &MediaEngine, p: &MediaSessionParams, n: usize) -> i64 {
    let wait = Duration::from_secs(5);
    engine.engine().poll();
    let before = LIVE.load(Ordering::SeqCst);
    let mut v = Vec::new();
    for i in 0..n {
        let mut s = engine.create_media_session(DialogId::new(format!("m{i}")), p.clone()).unwrap();
        s.start().unwrap().wait(wait).unwrap();
        v.push(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    engine.engine().poll();
    let per = (LIVE.load(Ordering::SeqCst) - before) / n as i64;
    for mut s in v {
        s.stop().unwrap().wait(wait).unwrap();
    }
    engine.engine().poll();
    per
}

/// 1,000 sessions of `p` in 10 rounds of 100 alive at once: (control calls' time, wall
/// time) per session. The control time sums the create, start and stop calls alone (they
/// return once the command is queued); the wall time also waits for every acknowledgement.
fn thousand(engine: &MediaEngine, p: &MediaSessionParams) -> (Duration, Duration) {
    let wait = Duration::from_secs(10);
    let mut control = Duration::ZERO;
    let wall = Instant::now();
    for round in 0..10 {
        let mut alive = Vec::with_capacity(100);
        let mut acks = Vec::with_capacity(100);
        for i in 0..100 {
            let t = Instant::now();
            let mut s = engine.create_media_session(DialogId::new(format!("k{round}-{i}")), p.clone()).unwrap();
            acks.push(s.start().unwrap());
            control += t.elapsed();
            alive.push(s);
        }
        for a in acks.drain(..) {
            a.wait(wait).unwrap();
        }
        for s in &mut alive {
            let t = Instant::now();
            acks.push(s.stop().unwrap());
            control += t.elapsed();
        }
        for a in acks {
            a.wait(wait).unwrap();
        }
        let t = Instant::now();
        drop(alive);
        control += t.elapsed();
        engine.engine().poll();
    }
    (control / 1000, wall.elapsed() / 1000)
}

fn bench(c: &mut Criterion) {
    let engine = engine();
    let (control, wall) = thousand(&engine, &params(CodecId::Pcmu));
    println!("session/thousand_pcmu: 1,000 sessions created, started and stopped: control calls {control:?} per session, wall {wall:?} per session (acknowledgements awaited)");
    for codec in [CodecId::Pcmu, CodecId::G722, CodecId::Opus] {
        let per = memory(&engine, &params(codec), 100);
        println!("session/memory_{codec}: {per} heap bytes per started session ({:.1} KiB)", per as f64 / 1024.0);
    }
    let vad = ProcessingDefaults { vad: true, ..ProcessingDefaults::default() };
    for codec in [CodecId::Pcmu, CodecId::G722] {
        let per = memory(&engine, &MediaSessionParams { processing: Some(vad), ..params(codec) }, 100);
        println!("session/memory_{codec}_vad: {per} heap bytes per started session ({:.1} KiB)", per as f64 / 1024.0);
    }
    let all = ProcessingDefaults { aec: true, ns: true, agc: true, vad: false };
    for codec in [CodecId::Pcmu, CodecId::G722] {
        let p = MediaSessionParams { processing: Some(all), ..params(codec) };
        let per = memory(&engine, &p, 20);
        println!(
            "session/memory_{codec}_aec_ns_agc: {per} heap bytes per started session ({:.1} KiB)",
            per as f64 / 1024.0
        );
    }
    let wait = Duration::from_secs(5);
    c.bench_function("session/create_start_stop_pcmu", |b| {
        // Only the control calls are timed; every 50 sessions (100 commands) and at the end the bench
        // waits, untimed, for the worker to catch up, so the command ring never fills.
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut last = None;
            for i in 0..iters {
                let t = Instant::now();
                let mut s = engine.create_media_session(DialogId::new(format!("b{i}")), params(CodecId::Pcmu)).unwrap();
                let _started = s.start().unwrap();
                let stopped = s.stop().unwrap();
                drop(s);
                elapsed += t.elapsed();
                if i % 50 == 49 {
                    stopped.wait(wait).unwrap();
                    engine.engine().poll();
                } else {
                    last = Some(stopped);
                }
            }
            if let Some(a) = last {
                a.wait(wait).unwrap();
            }
            engine.engine().poll();
            elapsed
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
