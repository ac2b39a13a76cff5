//! Command round trip: control sends, the worker applies and replies, control collects.
//!
//! - `protocol_same_thread`: the ring protocol alone (send, serve, poll) on one thread.
//! - `cross_thread_spinning_worker`: a second thread serves commands in a busy loop, as a
//!   worker's cycle does; the time is send -> reply observed by the control thread.
//! - `engine_ping_free_run_worker`: `Engine::ping` through the public API to a worker in
//!   `Pacing::FreeRun`, spinning on `Engine::is_done` (includes the control-side mutex and
//!   the worker's per-cycle bookkeeping).

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_core::prelude::*;
use rvoip_media_core::sync::command::channel;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("command_round_trip");
    let (mut control, mut worker) = channel::<u64, u64>(256);
    g.bench_function("protocol_same_thread", |b| {
        b.iter(|| {
            control.send(black_box(7)).unwrap();
            worker.serve(64, |c| c + 1);
            let mut got = 0;
            control.poll(|r| got = r);
            black_box(got)
        })
    });

    let (mut control, mut worker) = channel::<u64, u64>(256);
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            if worker.serve(64, |c| c + 1) == 0 {
                std::hint::spin_loop();
            }
        }
    });
    g.bench_function("cross_thread_spinning_worker", |b| {
        b.iter(|| {
            control.send(black_box(7)).unwrap();
            let mut got = None;
            while got.is_none() {
                control.poll(|r| got = Some(r));
            }
            black_box(got)
        })
    });
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();

    let cfg = EngineConfig { workers: 1, pacing: Pacing::FreeRun, realtime: None, ..EngineConfig::default() };
    let engine = Engine::start(cfg).unwrap();
    g.bench_function("engine_ping_free_run_worker", |b| {
        b.iter(|| {
            let t = engine.ping(0).unwrap();
            while !engine.is_done(t) {
                std::hint::spin_loop();
            }
        })
    });
    engine.shutdown();
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
