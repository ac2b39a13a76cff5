//! Command round trip: control sends, the worker applies and replies, control collects.
//!
//! - `protocol_same_thread`: the ring protocol alone (send, serve, poll) on one thread.
//! - `engine_ping_free_run_worker`: `Engine::ping` through the public API to a worker in
//!   `Pacing::FreeRun` (cycles back to back), pinned and SCHED_FIFO as in production,
//!   spinning on `Engine::is_done`. Includes the control-side mutex, the worker's cycle
//!   bookkeeping and the cross-core hand-off both ways. Without real-time priority on a
//!   loaded 2-core machine, the worker is preempted for whole scheduler slices and the
//!   figure measures the scheduler, not the protocol.

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_core::prelude::*;
use rvoip_media_core::sync::command::channel;
use std::hint::black_box;

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

    let cfg = EngineConfig { workers: 1, pacing: Pacing::FreeRun, realtime: Some(80), ..EngineConfig::default() };
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
