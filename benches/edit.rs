//! Live edits on a running conference room of N G.711 legs (N = 10, 100, 1000), one leg
//! joining and leaving in turn:
//!
//! * `edit/worker_apply/N`: what applying one join or one leave costs the worker — the time
//!   its cycle spends on commands (`WorkerStats::commands_last_ns`): new processors and
//!   endpoints moved into their slots, removed ones moved out, the mixer's membership
//!   message, the schedule swapped. Nothing here depends on the room's size.
//! * `edit/control/N`: what the same join or leave costs the control side — copy of the live
//!   graph, compilation, schedule and arena allocation, rings, the command.
//!
//! Run: `cargo bench --bench edit` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::G711Law;
use std::time::{Duration, Instant};

fn leg(i: u32) -> LegMedia {
    LegMedia::g711(G711Law::Ulaw, 20_000, i)
}

/// A driven engine with a room of `n` legs (and a free port for the one that comes and goes).
fn room(n: usize) -> (Engine, Driver, Room) {
    let cfg = EngineConfig { packet_pool: 16_384, frame_pool: 64, ..Default::default() };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let mut room = Room::new(&engine, AudioFormat::mono(8000), n + 1).unwrap();
    room.join_many(&engine, (0..n).map(|i| (format!("p{i}"), leg(i as u32)))).unwrap();
    driver.process_cycle();
    (engine, driver, room)
}

/// Joins or leaves the extra leg (alternately); returns the control-side time.
fn toggle(engine: &Engine, room: &mut Room, k: u64) -> Duration {
    let t = Instant::now();
    if k % 2 == 0 {
        room.join(engine, "x", leg(9999)).unwrap();
    } else {
        room.leave(engine, "x").unwrap();
    }
    t.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("edit");
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for n in [10usize, 100, 1000, 2000] {
        let (engine, mut driver, mut room) = room(n);
        let mut k = 0u64;
        g.bench_function(BenchmarkId::new("worker_apply", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    toggle(&engine, &mut room, k);
                    k += 1;
                    driver.process_cycle();
                    total += Duration::from_nanos(engine.status().workers[0].stats.commands_last_ns);
                }
                total
            })
        });
        g.bench_function(BenchmarkId::new("control", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += toggle(&engine, &mut room, k);
                    k += 1;
                    driver.process_cycle();
                    engine.poll();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
