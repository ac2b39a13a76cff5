//! Resampler throughput per input sample: 1 s of a multitone signal fed in 20 ms chunks, for
//! the conversions a VoIP media core does most, with the detected kernel and the scalar twin,
//! and the `rubato` crate's sinc resampler (`SincFixedIn`, the parameters of its README
//! example: 256 taps, cutoff 0.95, oversampling 256, linear interpolation,
//! Blackman-Harris²) on the same input in the same run.
//!
//! Run: `cargo bench --bench resample` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rubato::{Resampler as _, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction};
use rvoip_media_nodes::resample::{Kernel, Resampler};
use std::hint::black_box;

fn multitone(rate: u32) -> Vec<f32> {
    (0..rate as usize)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let v: f64 =
                [220.0, 1000.0, 2500.0, 3300.0].iter().map(|f| (2.0 * std::f64::consts::PI * f * t).sin()).sum();
            (0.1 * v) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("resample");
    for (a, b) in [(8000, 48000), (48000, 8000), (16000, 48000), (48000, 16000), (44100, 48000), (48000, 44100)] {
        let x = multitone(a);
        let chunk = (a / 50) as usize;
        let mut out = vec![0.0f32; (b / 50) as usize + 64];
        g.throughput(Throughput::Elements(u64::from(a)));
        for kernel in [Kernel::detect(), Kernel::Scalar] {
            let mut rs = Resampler::with_kernel(a, b, 1, kernel).unwrap();
            g.bench_function(format!("{a}to{b}/{kernel:?}"), |bch| {
                bch.iter(|| {
                    for c in x.chunks(chunk) {
                        black_box(rs.process(black_box(c), &mut out));
                    }
                })
            });
        }
        let params = SincInterpolationParameters {
            sinc_len: 256,
            f_cutoff: 0.95,
            interpolation: SincInterpolationType::Linear,
            oversampling_factor: 256,
            window: WindowFunction::BlackmanHarris2,
        };
        let mut rb = SincFixedIn::<f32>::new(f64::from(b) / f64::from(a), 1.0, params, chunk, 1).unwrap();
        let mut rb_out = vec![vec![0f32; rb.output_frames_max()]; 1];
        g.bench_function(format!("{a}to{b}/rubato_sinc"), |bch| {
            bch.iter(|| {
                for c in x.chunks_exact(chunk) {
                    black_box(rb.process_into_buffer(&[black_box(c)], &mut rb_out, None).unwrap());
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
