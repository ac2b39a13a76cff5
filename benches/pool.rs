//! Frame pool: acquire + release, uncontended and with a second thread churning the pool.

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_core::engine::AudioFrame;
use rvoip_media_core::sync::pool::Pool;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let pool = Pool::new(4096, |_| AudioFrame::with_capacity(1920));
    let mut g = c.benchmark_group("frame_pool");
    g.bench_function("acquire_release_uncontended", |b| {
        b.iter(|| drop(black_box(pool.acquire().unwrap())));
    });
    // Keep most frames out so the stack is deep, like a busy engine.
    let held: Vec<_> = (0..4000).map(|_| pool.acquire().unwrap()).collect();
    g.bench_function("acquire_release_mostly_in_use", |b| {
        b.iter(|| drop(black_box(pool.acquire().unwrap())));
    });
    drop(held);
    let stop = Arc::new(AtomicBool::new(false));
    let (p2, s2) = (pool.clone(), stop.clone());
    let churn = std::thread::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            drop(black_box(p2.acquire().ok()));
        }
    });
    g.bench_function("acquire_release_contended_2_threads", |b| {
        b.iter(|| drop(black_box(pool.acquire().unwrap())));
    });
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
