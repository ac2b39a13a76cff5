//! G.729 encode and decode time per 10 ms frame, Annex A and Annex A + B, on real speech
//! (`examples/data/speech_en_8k.wav`, 169 s of English speech with pauses; the first 60 s are
//! cycled through, so the encoder state evolves as in a call).
//!
//! Run: `cargo bench --bench g729` (add `-- --quick` for a short run). Criterion's time per
//! iteration is the time per frame.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rvoip_media_nodes::codec::CodecId;
use rvoip_media_nodes::g729::{G729Decoder, G729Encoder, FRAME_SAMPLES};
use std::hint::black_box;

/// The first 60 s of the bundled speech as 10 ms frames.
fn speech_frames() -> Vec<[i16; FRAME_SAMPLES]> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_8k.wav");
    let mut r = hound::WavReader::open(path).expect("examples/data/speech_en_8k.wav");
    assert_eq!((r.spec().sample_rate, r.spec().channels), (8000, 1));
    let pcm: Vec<i16> = r.samples::<i16>().take(60 * 8000).map(|s| s.expect("sample")).collect();
    pcm.chunks_exact(FRAME_SAMPLES).map(|c| c.try_into().expect("frame")).collect()
}

/// Encodes every frame with a fresh encoder: the payload of each frame (10, 2 or 0 bytes).
fn encode_stream(frames: &[[i16; FRAME_SAMPLES]], annex_b: bool) -> Vec<Vec<u8>> {
    let mut enc = G729Encoder::new(annex_b);
    let mut bits = [0u8; 10];
    frames
        .iter()
        .map(|f| {
            let n = enc.encode(f, &mut bits).len();
            bits[..n].to_vec()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let frames = speech_frames();
    let n = frames.len();
    let mut g = c.benchmark_group("g729");
    g.throughput(Throughput::Elements(1));
    for (name, annex_b) in [("annex_a", false), ("annex_ab", true)] {
        let stream = encode_stream(&frames, annex_b);
        let sent = stream.iter().filter(|f| f.len() == 10).count();
        eprintln!("g729 {name}: {n} frames, {sent} speech frames ({:.0} %)", 100.0 * sent as f64 / n as f64);

        let mut enc = G729Encoder::new(annex_b);
        let mut bits = [0u8; 10];
        let mut i = 0;
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                let kind = enc.encode(black_box(&frames[i % n]), &mut bits);
                i += 1;
                black_box(kind)
            })
        });

        let mut dec = G729Decoder::new();
        let mut out = [0i16; FRAME_SAMPLES];
        let mut i = 0;
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let r = dec.decode(Some(black_box(&stream[i % n][..])), &mut out);
                i += 1;
                black_box((r, out[0]))
            })
        });
    }

    // The same through the codec traits (f32 in and out, as the graph nodes call them).
    let f32_frames: Vec<Vec<f32>> =
        frames.iter().map(|f| f.iter().map(|&s| f32::from(s) / 32768.0).collect()).collect();
    let stream = encode_stream(&frames, false);
    let mut enc = CodecId::G729.encoder(8000, 1, false).expect("encoder");
    let mut dec = CodecId::G729.decoder(8000, 1).expect("decoder");
    let (mut bits, mut out, mut i) = ([0u8; 10], [0f32; FRAME_SAMPLES], 0);
    g.bench_function("encode/annex_a_trait_f32", |b| {
        b.iter(|| {
            let r = enc.encode(black_box(&f32_frames[i % n]), &mut bits);
            i += 1;
            black_box(r)
        })
    });
    let mut i = 0;
    g.bench_function("decode/annex_a_trait_f32", |b| {
        b.iter(|| {
            let r = dec.decode(Some(black_box(&stream[i % n][..])), &mut out);
            i += 1;
            black_box((r, out[0]))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
