//! G.711 codec throughput, per sample, on one second of synthetic 8 kHz speech-like audio.
//!
//! Run: `cargo bench --bench g711` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rvoip_media_nodes::g711::{alaw, ulaw};
use std::hint::black_box;

const RATE: usize = 8000;

/// One second of speech-like audio: a glottal-pulse-rich voiced signal (f0 gliding around
/// 120 Hz, harmonics with a -6 dB/octave tilt and two formant-like boosts) under a 4 Hz
/// syllabic envelope with pauses, plus low-level noise. Peaks near -6 dBFS, long-term level
/// around -20 dBFS, so the encoder sees all segments, as with real speech.
fn speech_like() -> Vec<f32> {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut phase = 0.0f64;
    (0..RATE)
        .map(|n| {
            let t = n as f64 / RATE as f64;
            let f0 = 120.0 + 20.0 * (2.0 * std::f64::consts::PI * 1.3 * t).sin();
            phase += f0 / RATE as f64;
            let mut v = 0.0;
            for h in 1..=25 {
                let fh = f0 * h as f64;
                let formant = 1.0
                    + 3.0 * (-((fh - 700.0) / 150.0).powi(2)).exp()
                    + 2.0 * (-((fh - 1200.0) / 200.0).powi(2)).exp();
                v += formant / h as f64 * (2.0 * std::f64::consts::PI * phase * h as f64).sin();
            }
            let syllable = (2.0 * std::f64::consts::PI * 4.0 * t).sin().max(0.0).powf(0.7);
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = ((seed >> 40) as f64 / 8_388_608.0 - 1.0) * 0.002;
            (0.1 * v * syllable + noise) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let f = speech_like();
    let pcm: Vec<i16> = f.iter().map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
    let mut codes_u = vec![0u8; RATE];
    let mut codes_a = vec![0u8; RATE];
    ulaw::encode(&pcm, &mut codes_u);
    alaw::encode(&pcm, &mut codes_a);
    let mut out_codes = vec![0u8; RATE];
    let mut out_pcm = vec![0i16; RATE];
    let mut out_f = vec![0f32; RATE];

    let mut g = c.benchmark_group("g711");
    g.throughput(Throughput::Elements(RATE as u64));
    g.bench_function("ulaw/encode_i16", |b| b.iter(|| ulaw::encode(black_box(&pcm), black_box(&mut out_codes))));
    g.bench_function("ulaw/encode_f32", |b| b.iter(|| ulaw::encode_f32(black_box(&f), black_box(&mut out_codes))));
    g.bench_function("ulaw/decode_i16", |b| b.iter(|| ulaw::decode(black_box(&codes_u), black_box(&mut out_pcm))));
    g.bench_function("ulaw/decode_f32", |b| b.iter(|| ulaw::decode_f32(black_box(&codes_u), black_box(&mut out_f))));
    g.bench_function("alaw/encode_i16", |b| b.iter(|| alaw::encode(black_box(&pcm), black_box(&mut out_codes))));
    g.bench_function("alaw/encode_f32", |b| b.iter(|| alaw::encode_f32(black_box(&f), black_box(&mut out_codes))));
    g.bench_function("alaw/decode_i16", |b| b.iter(|| alaw::decode(black_box(&codes_a), black_box(&mut out_pcm))));
    g.bench_function("alaw/decode_f32", |b| b.iter(|| alaw::decode_f32(black_box(&codes_a), black_box(&mut out_f))));
    // The per-sample algorithm (segment search), for comparison with the tables.
    g.bench_function("ulaw/encode_i16_algorithm", |b| {
        b.iter(|| {
            for (o, &x) in out_codes.iter_mut().zip(black_box(&pcm)) {
                *o = ulaw::encode_sample(x);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
