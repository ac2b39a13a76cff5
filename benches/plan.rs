//! Plan execution overhead: a chain of K gain nodes run by the plan executor, against the
//! same kernels the `Gain` node runs (`all_sane` on the input, then `gain`) called K times
//! directly on the same buffers, in the same run. The difference divided by K is the
//! executor's cost per node per cycle.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvoip_media_graph::{AudioFormat, GraphBuilder, PlanExecutor, PortKind, Quantum};
use rvoip_media_nodes::{kernels, Gain};
use std::hint::black_box;

const FRAMES: usize = 80; // 10 ms at 8 kHz

fn chain(k: usize) -> PlanExecutor {
    let f = AudioFormat::mono(8000);
    let a = PortKind::Audio(f);
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let mut prev = b.add_input("in", a);
    for i in 0..k {
        let g = Gain::new(f).with_gain_db(-0.01).expect("valid gain");
        let n = b.add_node(format!("g{i}"), Box::new(g));
        b.connect(prev, 0, n, 0).unwrap();
        prev = n;
    }
    let out = b.add_output("out", a);
    b.connect(prev, 0, out, 0).unwrap();
    PlanExecutor::new(b.build().unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan_overhead");
    for k in [1usize, 10, 100, 1000] {
        g.throughput(Throughput::Elements(k as u64));
        let mut exec = chain(k);
        // Settle the gain ramps so both sides run the steady-state kernel.
        for _ in 0..4 {
            exec.input_audio_mut(0).fill(0.25);
            exec.run_cycle();
        }
        // Both sides refill their input every iteration: buffers are reused along the
        // chain, and a decaying signal would otherwise turn denormal and time the FPU.
        g.bench_with_input(BenchmarkId::new("plan_executor", k), &k, |b, _| {
            b.iter(|| {
                exec.input_audio_mut(0).fill(0.25);
                black_box(exec.run_cycle())
            });
        });
        let gain = 10f32.powf(-0.01 / 20.0);
        let mut bufs = [vec![0.25f32; FRAMES], vec![0.0f32; FRAMES]];
        // With an odd K the result lands in bufs[1]; either way the input is bufs[0].
        g.bench_with_input(BenchmarkId::new("direct_kernel_calls", k), &k, |b, &k| {
            b.iter(|| {
                bufs[0].fill(0.25);
                for i in 0..k {
                    let (x, y) = bufs.split_at_mut(1);
                    let (src, dst) = if i % 2 == 0 { (&x[0], &mut y[0]) } else { (&y[0], &mut x[0]) };
                    if kernels::all_sane(src) {
                        kernels::gain(dst, src, black_box(gain));
                    } else {
                        dst.fill(0.0);
                    }
                }
                black_box(&bufs);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
