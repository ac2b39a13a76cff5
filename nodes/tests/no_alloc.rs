//! Real-time rule check: no node allocates in `process`, `set_param` or `reset`, on good or
//! bad input. A counting global allocator counts allocations made by this test's own thread
//! while armed.

use rvoip_media_graph::{AudioFormat, NodeHarness, Packet, PacketMeta, Processor, Quantum};
use rvoip_media_nodes::codec::{
    DecodeNode, EncodeNode, G711CodecDecoder, G711CodecEncoder, SwitchDecoder, SwitchEncoder, PLAIN_ENCODE_TELEMETRY,
};
use rvoip_media_nodes::{
    G711Law, Gain, LevelMeter, Mixer, MixerMembership, Mute, NoiseSource, Sum, Tee, ToneSource, WavSink, WavSource,
};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

/// Runs a node for a few cycles: normal input, NaN, Inf, then a param change and a reset.
fn exercise(node: Box<dyn Processor>, q: Quantum, params: &[(u32, f32)]) -> u64 {
    let mut h = NodeHarness::new(node, q).unwrap();
    let audio_inputs: Vec<usize> = h
        .spec()
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, rvoip_media_graph::PortKind::Audio(_)))
        .map(|(i, _)| i)
        .collect();
    allocations(|| {
        for cycle in 0..6 {
            for &i in &audio_inputs {
                let x = h.audio_in_mut(i);
                for (k, s) in x.iter_mut().enumerate() {
                    *s = ((k + i) as f32 * 0.01).sin() * 0.5;
                }
                match cycle {
                    2 => x[0] = f32::NAN,
                    3 => x[1] = f32::INFINITY,
                    _ => {}
                }
            }
            h.run();
            if cycle == 4 {
                for &(id, v) in params {
                    let _ = h.processor_mut().set_param(id, v);
                }
                h.processor_mut().reset();
            }
        }
    })
}

const MONO: AudioFormat = AudioFormat::mono(8000);
const STEREO: AudioFormat = AudioFormat { rate: 48_000, channels: 2 };

type Factory = fn() -> Box<dyn Processor>;
/// A node to build, its name, and parameter changes to apply mid-run.
type Case = (&'static str, Factory, &'static [(u32, f32)]);

#[test]
fn audio_nodes_do_not_allocate() {
    let cases: [Case; 12] = [
        ("mixer-partial", || Box::new(Mixer::with_capacity(6, MONO).with_members([0, 2, 3])), &[]),
        ("mixer", || Box::new(Mixer::new(5, MONO)), &[]),
        ("mixer-stereo", || Box::new(Mixer::new(3, STEREO)), &[]),
        ("sum", || Box::new(Sum::new(4, MONO)), &[]),
        ("tee", || Box::new(Tee::new(4, MONO)), &[]),
        ("gain", || Box::new(Gain::new(STEREO)), &[(0, -12.0)]),
        ("mute", || Box::new(Mute::new(MONO)), &[(0, 1.0)]),
        ("meter", || Box::new(LevelMeter::new(MONO)), &[]),
        ("tone", || Box::new(ToneSource::new(STEREO, 440.0, 0.5).unwrap()), &[(0, 1000.0), (1, 0.1)]),
        ("noise", || Box::new(NoiseSource::new(MONO, 0.5, 3).unwrap()), &[(0, 0.2)]),
        ("wav-source", || Box::new(WavSource::from_samples(8000, vec![0.25; 300])), &[]),
        ("wav-sink", || Box::new(WavSink::new(MONO, 200)), &[]),
    ];
    for (name, make, params) in cases {
        for q in [Quantum::MS_2_5, Quantum::MS_10, Quantum::MS_20] {
            assert_eq!(exercise(make(), q, params), 0, "{name} allocated at {q}");
        }
    }
}

#[test]
fn messages_and_telemetry_do_not_allocate() {
    let q = Quantum::MS_20;
    // Mixer membership.
    let mut mixer = NodeHarness::new(Box::new(Mixer::with_capacity(8, MONO)), q).unwrap();
    let mut joins: Vec<MixerMembership> = (0..8).map(MixerMembership::Join).collect();
    let mut leaves: Vec<MixerMembership> = (0..8).rev().map(MixerMembership::Leave).collect();
    // Codec switches, built before counting (on the control side).
    let ulaw = || Box::new(G711CodecEncoder::new(G711Law::Ulaw));
    let mut enc = NodeHarness::new(Box::new(EncodeNode::new(ulaw(), 20_000, q).unwrap()), q).unwrap();
    let mut enc_switch = SwitchEncoder::new(Box::new(G711CodecEncoder::new(G711Law::Alaw)), 20_000, q).unwrap();
    let dec_node = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), q).unwrap();
    let mut dec = NodeHarness::new(Box::new(dec_node), q).unwrap();
    let mut dec_switch = SwitchDecoder::new(Box::new(G711CodecDecoder::new(G711Law::Alaw)), q).unwrap();
    let good = Packet::from_payload(PacketMeta::default(), &[0x55; 160]).unwrap();
    let alaw_meta = PacketMeta { payload_type: 8, sequence: 1, timestamp: 160, ..PacketMeta::default() };
    let alaw = Packet::from_payload(alaw_meta, &[0xd5; 160]).unwrap();
    let mut values = [0.0f64; 8];
    let n = allocations(|| {
        for m in joins.iter_mut() {
            mixer.processor_mut().message(m).unwrap();
            mixer.run();
        }
        for m in leaves.iter_mut() {
            mixer.processor_mut().message(m).unwrap();
            mixer.run();
        }
        mixer.processor_mut().telemetry(&mut values[..2]);
        enc.run();
        enc.processor_mut().message(&mut enc_switch).unwrap();
        enc.run();
        enc.processor_mut().telemetry(&mut values[..PLAIN_ENCODE_TELEMETRY]);
        dec.packet_in_mut(0).put(&good);
        dec.run();
        dec.processor_mut().message(&mut dec_switch).unwrap();
        dec.packet_in_mut(0).put(&alaw);
        dec.run();
        dec.processor_mut().telemetry(&mut values[..5]);
    });
    assert_eq!(n, 0);
    assert_eq!(values[4], 1.0, "one decoder switch, on the first A-law packet");
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations(|| {
        std::hint::black_box(vec![1u8; 10]);
    });
    assert_eq!(n, 1);
}
