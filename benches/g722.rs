//! G.722 64 kbit/s throughput per 16 kHz sample on the 2 s speech clip shipped with the tests
//! (nodes/tests/data/g722/speech_16k_2s.wav, MIT, Silero team), 20 ms calls, SIMD kernel and
//! scalar twin.
//!
//! Run: `cargo bench --bench g722` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rvoip_media_nodes::g722::{G722Decoder, G722Encoder, G722Kernel};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/nodes/tests/data/g722/speech_16k_2s.wav");
    let pcm: Vec<i16> = hound::WavReader::open(path).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
    let mut bytes = vec![0u8; pcm.len() / 2];
    let mut out = vec![0i16; pcm.len()];
    G722Encoder::new().encode(&pcm, &mut bytes);

    let mut g = c.benchmark_group("g722");
    g.throughput(Throughput::Elements(pcm.len() as u64));
    for kernel in [G722Kernel::Simd, G722Kernel::Scalar] {
        g.bench_function(format!("encode/{kernel:?}"), |b| {
            b.iter(|| {
                let mut enc = G722Encoder::new().with_kernel(kernel);
                for (p, o) in pcm.chunks(320).zip(bytes.chunks_mut(160)) {
                    black_box(enc.encode(black_box(p), o));
                }
            })
        });
        let encoded = bytes.clone();
        g.bench_function(format!("decode/{kernel:?}"), |b| {
            b.iter(|| {
                let mut dec = G722Decoder::new().with_kernel(kernel);
                for (c, o) in encoded.chunks(160).zip(out.chunks_mut(320)) {
                    black_box(dec.decode(black_box(c), o));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
