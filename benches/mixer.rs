//! N-1 conference mix, per participant-sample, for N = 3, 10, 100, 1000 with 80-sample
//! frames (10 ms at 8 kHz).
//!
//! * `mixer/kernel/N`: the mixer's kernel passes alone: `accumulate4_sane` (four inputs per
//!   pass into the total, each checked for NaN/Inf), then `minus_own` for each participant.
//! * `mixer/node/N`: the `Mixer` processor through `NodeHarness`, i.e. with input
//!   validation (NaN/Inf screening), port access and chunking included.
//! * `mixer/policy_300ms/N` (N = 1,000 and 20,000 members, per member-cycle): a talker
//!   policy's 30 cycles of 10 ms — every member observed, the loudest three chosen, 15
//!   level frames and one dominant-speaker decision — with three talkers and quiet noise
//!   on every other member, as a room kernel runs it.
//!
//! Run: `cargo bench --bench mixer` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
use rvoip_media_nodes::mixer::{MemberSettings, TalkerPolicy, TalkerSelection};
use rvoip_media_nodes::{kernels, Mixer};
use std::hint::black_box;

const FRAME: usize = 80;

fn signal(i: usize, k: usize) -> f32 {
    (((i * 7919 + k * 104_729) % 2000) as f32 / 1000.0 - 1.0) * 0.1
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixer");
    for n in [3usize, 10, 100, 1000] {
        g.throughput(Throughput::Elements((n * FRAME) as u64));

        let inputs: Vec<Vec<f32>> = (0..n).map(|i| (0..FRAME).map(|k| signal(i, k)).collect()).collect();
        let mut outputs = vec![vec![0.0f32; FRAME]; n];
        let mut total = vec![0.0f32; FRAME];
        g.bench_with_input(BenchmarkId::new("kernel", n), &n, |b, _| {
            b.iter(|| {
                total.fill(0.0);
                let mut groups = inputs.chunks_exact(4);
                for g4 in &mut groups {
                    let x = [&g4[0][..], &g4[1][..], &g4[2][..], &g4[3][..]];
                    black_box(kernels::accumulate4_sane(&mut total, black_box(x)));
                }
                for x in groups.remainder() {
                    black_box(kernels::accumulate_sane(&mut total, black_box(x)));
                }
                for (o, x) in outputs.iter_mut().zip(&inputs) {
                    kernels::minus_own(o, &total, x);
                }
                black_box(&mut outputs);
            })
        });

        let mut h = NodeHarness::new(Box::new(Mixer::new(n, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
        for (i, x) in inputs.iter().enumerate() {
            h.audio_in_mut(i).copy_from_slice(x);
        }
        g.bench_with_input(BenchmarkId::new("node", n), &n, |b, _| b.iter(|| black_box(h.run())));
    }
    for n in [1000usize, 20_000] {
        g.throughput(Throughput::Elements((n * 30) as u64));
        let mut sel = TalkerSelection::new(TalkerPolicy::default(), n, Quantum::MS_10, FRAME);
        let members: Vec<usize> = (0..n).collect();
        let s = MemberSettings::default();
        // Three talkers, noise from −80 to −54 dBFS on the others.
        let rows: Vec<[f32; FRAME]> =
            (0..n).map(|p| [if p < 3 { 0.2 } else { 0.0001 * (1 + p % 20) as f32 }; FRAME]).collect();
        g.bench_with_input(BenchmarkId::new("policy_300ms", n), &n, |b, _| {
            b.iter(|| {
                for _ in 0..30 {
                    for (p, x) in rows.iter().enumerate() {
                        black_box(sel.observe(p, x, false, &s));
                    }
                    black_box(sel.select(&members, |_| false, FRAME));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
