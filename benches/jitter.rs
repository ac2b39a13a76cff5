//! The jitter buffer's own cost per stream per 10 ms tick, beside its decoder's.
//!
//! A 20 s stream of 20 ms packets with moderate jitter (exponential, mean 15 ms, some
//! reordering) and 2 % loss, as PCMU and as Opus (16 kHz, FEC on; also with libopus's
//! neural concealment, decoder complexity 5, as a call's buffer runs it), is played through a
//! `JitterBuffer` in 10 ms ticks (insert what has arrived, pull 10 ms). Beside it, the
//! same packets decoded in order by the bare decoder. Throughput is per 10 ms tick, so the
//! time per element is the cost per stream per tick; the buffer's own cost is the
//! difference of the two.
//!
//! The live path: the session's receive node, `JitterBufferNode` (buffer + decoder), in a
//! `NodeHarness` cycle of 10 ms with the cycle's packets on its input, against the node the
//! sessions used before, `DecodeNode` (decoder, no buffer), fed the same packets in the
//! same cycles — what a session's worker pays per stream per cycle for the buffer.
//!
//! Run: `cargo bench --bench jitter` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Processor, Quantum};
use rvoip_media_nodes::codec::{DecodeNode, Decoder, G711CodecDecoder};
use rvoip_media_nodes::jitter::{JitterBuffer, JitterBufferNode, JitterConfig};
use rvoip_media_nodes::opus::{OpusCodecDecoder, OpusEncoderConfig};
use rvoip_media_nodes::G711Law;
use std::hint::black_box;

const PACKETS: u32 = 1000;
const TICKS: u64 = 2 * PACKETS as u64 + 20;

fn speech(i: u32, n: u32, rate: f32) -> Vec<f32> {
    (0..n)
        .map(|k| {
            let t = (i * n + k) as f32 / rate;
            let env = (2.0 * std::f32::consts::PI * 3.0 * t).sin().max(0.0);
            0.2 * env
                * ((2.0 * std::f32::consts::PI * 140.0 * t).sin()
                    + 0.5 * (2.0 * std::f32::consts::PI * 420.0 * t).sin())
        })
        .collect()
}

/// The stream: packets in arrival order.
fn stream(opus: bool) -> Vec<Packet> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut uni = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut enc = OpusEncoderConfig::new(16_000, 1).inband_fec(true).packet_loss_percent(10).build().unwrap();
    let mut buf = [0u8; 1500];
    let mut v = Vec::new();
    for i in 0..PACKETS {
        let (payload, pt, ticks) = if opus {
            let n = enc.encode(&speech(i, 320, 16_000.0), &mut buf).unwrap().len;
            (buf[..n].to_vec(), 111, 960)
        } else {
            let mut p = vec![0u8; 160];
            G711Law::Ulaw.encode_f32(&speech(i, 160, 8000.0), &mut p);
            (p, 0, 160)
        };
        let lost = uni() < 0.02;
        let arrival_ms = f64::from(i) * 20.0 + 20.0 - 15.0 * (1.0 - uni()).ln();
        if !lost {
            let meta = PacketMeta {
                payload_type: pt,
                sequence: i as u16,
                timestamp: i * ticks,
                ssrc: 1,
                marker: false,
                arrival_ns: (arrival_ms * 1e6) as u64,
                audio_level: None,
            };
            v.push(Packet::from_payload(meta, &payload).unwrap());
        }
    }
    v.sort_by_key(|p| p.meta.arrival_ns);
    v
}

/// The three streams: (name, Opus, Opus with libopus's neural concealment as a call's
/// buffer runs it: `OpusCodecDecoder::with_deep_plc`).
const CASES: [(&str, bool, bool); 3] =
    [("pcmu", false, false), ("opus16k", true, false), ("opus16k_deep_plc", true, true)];

fn decoder(opus: bool, deep_plc: bool) -> Box<dyn Decoder> {
    if opus {
        let d = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap();
        Box::new(if deep_plc { d.with_deep_plc() } else { d })
    } else {
        Box::new(G711CodecDecoder::new(G711Law::Ulaw))
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("jitter");
    g.throughput(Throughput::Elements(TICKS));
    for (name, opus, deep) in CASES {
        let pk = stream(opus);
        let q = if opus { 160 } else { 80 };
        g.bench_function(format!("{name}/buffer+decoder per 10 ms"), |b| {
            b.iter_batched(
                || {
                    let jb = JitterBuffer::new(decoder(opus, deep), JitterConfig::default()).unwrap();
                    if opus {
                        jb.with_payload_type(111)
                    } else {
                        jb
                    }
                },
                |mut jb| {
                    let mut out = vec![0f32; q];
                    let mut next = 0;
                    for k in 0..TICKS {
                        let now = k * 10_000_000;
                        while next < pk.len() && pk[next].meta.arrival_ns <= now {
                            jb.insert(&pk[next]);
                            next += 1;
                        }
                        jb.pull(now, &mut out);
                        black_box(&out);
                    }
                    jb
                },
                BatchSize::LargeInput,
            )
        });
        // The decoder alone: the same packets in sequence order, losses concealed.
        let mut in_order = pk.clone();
        in_order.sort_by_key(|p| p.meta.sequence);
        g.bench_function(format!("{name}/decoder alone per 10 ms"), |b| {
            b.iter_batched(
                || decoder(opus, deep),
                |mut dec| {
                    let mut out = vec![0f32; 2 * q * 6];
                    let mut expect = 0u16;
                    for p in &in_order {
                        while expect < p.meta.sequence {
                            let _ = dec.decode(None, &mut out);
                            expect += 1;
                        }
                        let _ = dec.decode(Some(p.payload()), &mut out);
                        expect = p.meta.sequence.wrapping_add(1);
                        black_box(&out);
                    }
                    dec
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    live_path(c);
}

/// One cycle per 10 ms: the packets that arrived in it go on the node's input, then it runs.
fn run_cycles(node: Box<dyn Processor>, pk: &[Packet]) -> NodeHarness {
    let mut h = NodeHarness::new(node, Quantum::MS_10).unwrap();
    let mut next = 0;
    for k in 0..TICKS {
        let now = k * 10_000_000;
        let input = h.packet_in_mut(0);
        input.clear();
        while next < pk.len() && pk[next].meta.arrival_ns <= now {
            input.put(&pk[next]);
            next += 1;
        }
        black_box(h.run());
    }
    h
}

fn live_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("live");
    g.throughput(Throughput::Elements(TICKS));
    for (name, opus, deep) in CASES {
        let pk = stream(opus);
        let pt = if opus { 111 } else { 0 };
        g.bench_function(format!("{name}/JitterBufferNode per 10 ms cycle"), |b| {
            b.iter_batched(
                || {
                    let n =
                        JitterBufferNode::new(decoder(opus, deep), JitterConfig::default(), Quantum::MS_10).unwrap();
                    Box::new(n.with_payload_type(pt)) as Box<dyn Processor>
                },
                |n| run_cycles(n, &pk),
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("{name}/DecodeNode per 10 ms cycle"), |b| {
            b.iter_batched(
                || {
                    Box::new(DecodeNode::new(decoder(opus, deep), Quantum::MS_10).unwrap().with_payload_type(pt))
                        as Box<dyn Processor>
                },
                |n| run_cycles(n, &pk),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
