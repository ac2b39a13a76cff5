//! The per-leg work a conference room adds, per cycle of 10 ms at 8 kHz.
//!
//! * `conference/mixer_plain/N` and `conference/mixer_policy/N`: the `Mixer` with N members,
//!   3 of them talking, without and with a `TalkerPolicy` (levels, talking states, loudest-3
//!   selection with hysteresis, dominant speaker, the shared `all` output and the `hear`
//!   marks) — the talker selection's cost per member is the difference.
//! * `conference/encode/own` and `conference/encode/shared`: a G.711 leg's `EncodeNode`
//!   encoding its 10 ms itself, and splicing it from the shared encode
//!   (`with_shared_input`, mark `Hear::Shared`): what a listener costs with shared encodes.
//!
//! Run: `cargo bench --bench conference` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvoip_media_graph::{AudioFormat, NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
use rvoip_media_nodes::mixer::{Hear, TalkerPolicy};
use rvoip_media_nodes::{G711Law, Mixer};
use std::hint::black_box;

const Q: Quantum = Quantum::MS_10;

fn mixers(c: &mut Criterion) {
    let mut g = c.benchmark_group("conference");
    let f = AudioFormat::mono(8000);
    for n in [100usize, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        let fill = |h: &mut NodeHarness| {
            for i in 0..n {
                let amp = if i < 3 { 0.1 * (i + 1) as f32 } else { 0.0 };
                for (k, v) in h.audio_in_mut(i).iter_mut().enumerate() {
                    *v = amp * (k as f32 * 0.1 * (i + 1) as f32).sin();
                }
            }
        };
        let mut plain = NodeHarness::new(Box::new(Mixer::new(n, f)), Q).unwrap();
        fill(&mut plain);
        g.bench_with_input(BenchmarkId::new("mixer_plain", n), &n, |b, _| b.iter(|| black_box(plain.run())));
        let policy = Mixer::with_capacity(n, f).with_members(0..n).with_policy(TalkerPolicy::default(), Q);
        let mut managed = NodeHarness::new(Box::new(policy), Q).unwrap();
        fill(&mut managed);
        g.bench_with_input(BenchmarkId::new("mixer_policy", n), &n, |b, _| b.iter(|| black_box(managed.run())));
    }
    g.throughput(Throughput::Elements(1));
    let enc = || EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 10_000, Q).unwrap();
    let mut own = NodeHarness::new(Box::new(enc()), Q).unwrap();
    for (k, v) in own.audio_in_mut(0).iter_mut().enumerate() {
        *v = (k as f32 * 0.1).sin() * 0.3;
    }
    g.bench_function("encode/own", |b| b.iter(|| black_box(own.run())));
    let mut shared = NodeHarness::new(Box::new(enc().with_shared_input().unwrap()), Q).unwrap();
    let p = Packet::from_payload(PacketMeta { payload_type: 0, ..PacketMeta::default() }, &[0x55; 80]).unwrap();
    shared.packet_in_mut(1).put(&p);
    *shared.control_in_mut(2) = Hear::Shared.value();
    g.bench_function("encode/shared", |b| b.iter(|| black_box(shared.run())));
    g.finish();
}

criterion_group!(benches, mixers);
criterion_main!(benches);
