//! Every codec through the codec model (`Encoder` / `Decoder`), per 20 ms of real speech at
//! its rates: PCMU, PCMA (8 kHz), G.722 (16 kHz), G.729 (8 kHz), Opus (8, 16, 48 kHz at
//! 32 kbit/s, complexity 10 and 5). Criterion reports time per 20 ms frame.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvoip_media_nodes::codec::{CodecId, Decoder, Encoder};
use rvoip_media_nodes::opus::{Bitrate, OpusCodecEncoder, OpusEncoderConfig};
use rvoip_media_nodes::resample::resample_whole;
use rvoip_media_nodes::wav::WavSource;
use std::hint::black_box;

/// 1 s of the bundled 16 kHz speech (from 2 s in) at `rate`.
fn speech(rate: u32) -> Vec<f32> {
    let src = WavSource::open(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_16k.wav")).unwrap();
    let x = &src.samples()[32_000..48_000];
    if rate == 16_000 {
        x.to_vec()
    } else {
        resample_whole(x, 16_000, rate, 1).unwrap()
    }
}

/// A named encoder/decoder pair.
type Case = (String, Box<dyn Encoder>, Box<dyn Decoder>);

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    for (name, id, rate) in [
        ("pcmu_8k", CodecId::Pcmu, 8000),
        ("pcma_8k", CodecId::Pcma, 8000),
        ("g722_16k", CodecId::G722, 16_000),
        ("g729_8k", CodecId::G729, 8000),
    ] {
        v.push((name.to_string(), id.encoder(rate, 1, false).unwrap(), id.decoder(rate, 1).unwrap()));
    }
    for rate in [8000, 16_000, 48_000] {
        for complexity in [10u8, 5] {
            let cfg = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(32_000)).complexity(complexity);
            let enc = Box::new(OpusCodecEncoder::new(cfg).unwrap());
            v.push((format!("opus_{}k_c{complexity}", rate / 1000), enc, CodecId::Opus.decoder(rate, 1).unwrap()));
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec_20ms");
    g.throughput(Throughput::Elements(1));
    for (name, mut enc, mut dec) in cases() {
        let info = *enc.info();
        let x = speech(info.sample_rate);
        let per20 = info.sample_rate as usize / 50;
        let frame = info.frame_samples;
        let chunks: Vec<&[f32]> = x.chunks_exact(per20).collect();
        let mut payload = vec![0u8; info.max_frame_bytes];
        // Pre-encode every frame for the decode side.
        let mut frames: Vec<Vec<Vec<u8>>> = Vec::new();
        for ch in &chunks {
            frames.push(
                ch.chunks_exact(frame)
                    .map(|f| {
                        let e = enc.encode(f, &mut payload).unwrap();
                        payload[..e.len].to_vec()
                    })
                    .collect(),
            );
        }
        enc.reset();
        let mut k = 0;
        g.bench_function(BenchmarkId::new("encode", &name), |b| {
            b.iter(|| {
                for f in chunks[k % chunks.len()].chunks_exact(frame) {
                    black_box(enc.encode(black_box(f), &mut payload).unwrap());
                }
                k += 1;
            })
        });
        let mut out = vec![0f32; frame];
        let mut k = 0;
        g.bench_function(BenchmarkId::new("decode", &name), |b| {
            b.iter(|| {
                for f in &frames[k % frames.len()] {
                    black_box(dec.decode(Some(black_box(f)), &mut out).unwrap());
                }
                k += 1;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
