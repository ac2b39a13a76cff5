//! Opus encode / decode cost per 20 ms frame of speech (examples/data/speech_en_16k.wav, MIT,
//! Silero team; resampled with the crate's resampler for 48 kHz and 8 kHz), through our
//! wrapper (`rvoip_media_nodes::opus`) and through the `opus` crate directly — the same
//! libopus calls with the same settings — in the same run.
//!
//! After the criterion groups, a paired measurement alternates wrapper and direct blocks of
//! the same frames and prints the median ratio (the wrapper's overhead over libopus).
//!
//! Then, for the 16 kHz and 8 kHz cases and 48 kHz at complexity 5, the decoder's cost with
//! losses: classic against neural concealment (`plc_cost`).
//!
//! Run: `cargo bench --bench opus` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rvoip_media_nodes::opus::{
    needs_sanitising, Bitrate, OpusDecoder, OpusEncoder, OpusEncoderConfig, DEEP_PLC_COMPLEXITY, MAX_PACKET_BYTES,
};
use rvoip_media_nodes::resample::Resampler;
use std::hint::black_box;
use std::time::Instant;

/// One benchmarked setting.
struct Case {
    name: &'static str,
    rate: u32,
    bitrate: u32,
    complexity: u8,
}

const CASES: [Case; 4] = [
    Case { name: "48k_32kbps_c5", rate: 48_000, bitrate: 32_000, complexity: 5 },
    Case { name: "48k_32kbps_c10", rate: 48_000, bitrate: 32_000, complexity: 10 },
    Case { name: "16k_24kbps_c10", rate: 16_000, bitrate: 24_000, complexity: 10 },
    Case { name: "8k_16kbps_c10", rate: 8_000, bitrate: 16_000, complexity: 10 },
];

/// 10 s of the speech clip at `rate`.
fn speech(rate: u32) -> Vec<f32> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_16k.wav");
    let x: Vec<f32> = hound::WavReader::open(path)
        .unwrap()
        .into_samples::<i16>()
        .take(160_000)
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    if rate == 16_000 {
        return x;
    }
    let mut r = Resampler::new(16_000, rate, 1).unwrap();
    let mut out = vec![0.0; r.output_len_for(x.len()) + 64];
    let (mut pos, mut produced) = (0, 0);
    while pos < x.len() {
        let (c, p) = r.process(&x[pos..], &mut out[produced..]);
        pos += c;
        produced += p;
    }
    out.truncate(produced);
    out
}

fn ours(c: &Case) -> OpusEncoder {
    OpusEncoderConfig::new(c.rate, 1).bitrate(Bitrate::Bits(c.bitrate)).complexity(c.complexity).build().unwrap()
}

/// The same settings as [`ours`] (VoIP, constrained VBR, auto signal, no FEC / DTX) set on
/// the `opus` crate's encoder directly.
fn direct(c: &Case) -> opus::Encoder {
    let mut e = opus::Encoder::new(c.rate, opus::Channels::Mono, opus::Application::Voip).unwrap();
    e.set_signal(opus::Signal::Auto).unwrap();
    e.set_vbr(true).unwrap();
    e.set_vbr_constraint(true).unwrap();
    e.set_bitrate(opus::Bitrate::Bits(c.bitrate as i32)).unwrap();
    e.set_complexity(i32::from(c.complexity)).unwrap();
    e.set_inband_fec(false).unwrap();
    e.set_packet_loss_perc(0).unwrap();
    e.set_dtx(false).unwrap();
    e
}

fn bench(cr: &mut Criterion) {
    println!("libopus version: {}", opus::version());
    for case in &CASES {
        let x = speech(case.rate);
        let flen = case.rate as usize / 50;
        let frames: Vec<&[f32]> = x.chunks_exact(flen).collect();
        let mut buf = [0u8; MAX_PACKET_BYTES];

        // The two encoders must produce the same packets, or the comparison is meaningless.
        let mut a = ours(case);
        let mut b = direct(case);
        let mut packets = Vec::new();
        for f in &frames {
            let n = a.encode(f, &mut buf).unwrap().len;
            let mut other = [0u8; MAX_PACKET_BYTES];
            let m = b.encode_float(f, &mut other).unwrap();
            assert_eq!(buf[..n], other[..m], "wrapper and direct encoders disagree");
            packets.push(buf[..n].to_vec());
        }

        let mut g = cr.benchmark_group(format!("opus/{}", case.name));
        g.throughput(Throughput::Elements(1));
        let mut enc = ours(case);
        let mut i = 0;
        g.bench_function("encode_20ms/wrapper", |bn| {
            bn.iter(|| {
                i = (i + 1) % frames.len();
                black_box(enc.encode(black_box(frames[i]), &mut buf).unwrap())
            })
        });
        let mut enc = direct(case);
        let mut i = 0;
        g.bench_function("encode_20ms/direct", |bn| {
            bn.iter(|| {
                i = (i + 1) % frames.len();
                black_box(enc.encode_float(black_box(frames[i]), &mut buf).unwrap())
            })
        });
        let mut out = vec![0f32; flen];
        let mut dec = OpusDecoder::new(case.rate, 1).unwrap();
        let mut i = 0;
        g.bench_function("decode_20ms/wrapper", |bn| {
            bn.iter(|| {
                i = (i + 1) % packets.len();
                black_box(dec.decode(Some(black_box(&packets[i])), &mut out).unwrap())
            })
        });
        let mut dec = opus::Decoder::new(case.rate, opus::Channels::Mono).unwrap();
        let mut i = 0;
        g.bench_function("decode_20ms/direct", |bn| {
            bn.iter(|| {
                i = (i + 1) % packets.len();
                black_box(dec.decode_float(black_box(&packets[i]), &mut out, false).unwrap())
            })
        });
        g.finish();

        paired(case, &frames, &packets);
        if case.complexity == 10 || case.rate == 48_000 && case.complexity == 5 {
            plc_cost(case, &packets);
        }

        if case.rate == 48_000 && case.complexity == 5 {
            // The wrapper's own per-frame work, alone: the non-finite scan of the input and the
            // payload check (TOC parse) before decoding.
            let mut g = cr.benchmark_group("opus/wrapper_extra_48k");
            g.bench_function("input_scan_20ms", |bn| bn.iter(|| black_box(needs_sanitising(black_box(frames[7])))));
            let dec = OpusDecoder::new(48_000, 1).unwrap();
            g.bench_function("payload_check", |bn| bn.iter(|| black_box(dec.samples_in(black_box(&packets[7])))));
            g.finish();
        }
    }
}

/// Alternates blocks of the whole clip through wrapper and direct (fresh state each block,
/// the order swapped every round) and prints per-frame times (minimum and median over the
/// rounds; the minimum is the least disturbed by other load on the machine) and the ratios.
fn paired(case: &Case, frames: &[&[f32]], packets: &[Vec<u8>]) {
    const ROUNDS: usize = 25;
    let flen = frames[0].len();
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut out = vec![0f32; flen];
    let (mut ew, mut ed, mut dw, mut dd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for side in [round % 2, 1 - round % 2] {
            if side == 0 {
                let mut e = ours(case);
                let t = Instant::now();
                for f in frames {
                    black_box(e.encode(black_box(f), &mut buf).unwrap());
                }
                ew.push(t.elapsed().as_secs_f64());
                let mut d = OpusDecoder::new(case.rate, 1).unwrap();
                let t = Instant::now();
                for p in packets {
                    black_box(d.decode(Some(black_box(p)), &mut out).unwrap());
                }
                dw.push(t.elapsed().as_secs_f64());
            } else {
                let mut e = direct(case);
                let t = Instant::now();
                for f in frames {
                    black_box(e.encode_float(black_box(f), &mut buf).unwrap());
                }
                ed.push(t.elapsed().as_secs_f64());
                let mut d = opus::Decoder::new(case.rate, opus::Channels::Mono).unwrap();
                let t = Instant::now();
                for p in packets {
                    black_box(d.decode_float(black_box(p), &mut out, false).unwrap());
                }
                dd.push(t.elapsed().as_secs_f64());
            }
        }
    }
    let n = frames.len() as f64;
    // (minimum, median) per frame in µs.
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0] / n * 1e6, v[v.len() / 2] / n * 1e6)
    };
    let (ew, ed, dw, dd) = (stats(&mut ew), stats(&mut ed), stats(&mut dw), stats(&mut dd));
    let pct = |a: f64, b: f64| (a / b - 1.0) * 100.0;
    println!(
        "paired {}: encode wrapper {:.2} / direct {:.2} µs per 20 ms frame (min, {:+.2} %; median {:.2} / {:.2}, {:+.2} %); \
         decode wrapper {:.2} / direct {:.2} µs (min, {:+.2} %; median {:.2} / {:.2}, {:+.2} %)",
        case.name,
        ew.0,
        ed.0,
        pct(ew.0, ed.0),
        ew.1,
        ed.1,
        pct(ew.1, ed.1),
        dw.0,
        dd.0,
        pct(dw.0, dd.0),
        dw.1,
        dd.1,
        pct(dw.1, dd.1),
    );
}

/// Decoder cost with losses, classic PLC (decoder complexity 0) against libopus's neural PLC
/// (DEEP_PLC_COMPLEXITY): the clip's packets decoded with none lost, every other one lost
/// (each concealed frame the first of its gap: the neural PLC's analysis of the history plus
/// one synthesis) and 5 of every 10 lost (frames 2–5 of a gap: synthesis only), fresh state
/// each block, blocks alternated; prints µs per decoded frame and the extra µs per concealed
/// frame (block time less its decoded frames at the no-loss rate), minimum over the rounds.
fn plc_cost(case: &Case, packets: &[Vec<u8>]) {
    const ROUNDS: usize = 15;
    let flen = case.rate as usize / 50;
    let mut out = vec![0f32; flen];
    // Which packets are lost: none, every other one, 5 of every 10.
    let patterns: [fn(usize) -> bool; 3] = [|_| false, |k| k % 2 == 1, |k| k % 10 >= 5];
    let mut t = [[f64::MAX; 3]; 2];
    for round in 0..ROUNDS {
        for c in [round % 2, 1 - round % 2] {
            for (pi, lost) in patterns.iter().enumerate() {
                let mut d = OpusDecoder::new(case.rate, 1).unwrap();
                d.set_complexity(if c == 0 { 0 } else { DEEP_PLC_COMPLEXITY }).unwrap();
                let t0 = Instant::now();
                for (k, p) in packets.iter().enumerate() {
                    let pl = if lost(k) { None } else { Some(black_box(p.as_slice())) };
                    black_box(d.decode(pl, &mut out).unwrap());
                }
                t[c][pi] = t[c][pi].min(t0.elapsed().as_secs_f64());
            }
        }
    }
    let n = packets.len();
    for (c, name) in [(0, "classic PLC (c0)"), (1, "neural PLC (c5)")] {
        let per = t[c][0] / n as f64;
        let lost = |pi: usize| (0..n).filter(|&k| patterns[pi](k)).count();
        let extra = |pi: usize| (t[c][pi] - per * (n - lost(pi)) as f64) / lost(pi) as f64 * 1e6;
        println!(
            "plc {} {name}: decode {:.2} µs per 20 ms frame; per concealed frame {:.1} µs (first of a gap), \
             {:.1} µs (5-frame gaps)",
            case.name,
            per * 1e6,
            extra(1),
            extra(2),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
