//! The graph builder inserts resamplers where audio rates differ, when allowed to.

use rvoip_media_graph::{AudioFormat, GraphBuilder, GraphError, PlanExecutor, PortKind, Quantum};
use rvoip_media_nodes::resample::converter;
use rvoip_media_nodes::{Gain, ToneSource};

const Q: Quantum = Quantum::MS_10;

#[test]
fn without_a_converter_different_rates_are_a_format_mismatch() {
    let mut b = GraphBuilder::new(Q);
    let i = b.add_input("in", PortKind::Audio(AudioFormat::mono(8000)));
    let o = b.add_output("out", PortKind::Audio(AudioFormat::mono(16000)));
    assert!(matches!(b.connect(i, 0, o, 0), Err(GraphError::FormatMismatch(_))));
}

#[test]
fn channel_changes_are_not_converted() {
    let mut b = GraphBuilder::new(Q).with_converter(converter);
    let i = b.add_input("in", PortKind::Audio(AudioFormat::mono(8000)));
    let o = b.add_output("out", PortKind::Audio(AudioFormat { rate: 8000, channels: 2 }));
    assert!(matches!(b.connect(i, 0, o, 0), Err(GraphError::FormatMismatch(_))));
}

/// An 8 kHz tone feeds two 16 kHz readers and a 48 kHz one: two converters are inserted
/// (one per target rate, shared by readers of the same rate), the plan reports their
/// latency, and the 16 kHz output carries the same tone at the new rate.
#[test]
fn inserted_resamplers_are_shared_per_rate_and_carry_the_signal() {
    let n8 = AudioFormat::mono(8000);
    let n16 = AudioFormat::mono(16_000);
    let n48 = AudioFormat::mono(48_000);
    let mut b = GraphBuilder::new(Q).with_converter(converter);
    let tone = b.add_node("tone", Box::new(ToneSource::new(n8, 1000.0, 0.5).unwrap()));
    let g16a = b.add_node("a16", Box::new(Gain::new(n16)));
    let g16b = b.add_node("b16", Box::new(Gain::new(n16)));
    let g48 = b.add_node("c48", Box::new(Gain::new(n48)));
    let out16 = b.add_output("out16", PortKind::Audio(n16));
    let out48 = b.add_output("out48", PortKind::Audio(n48));
    for (dst, _) in [(g16a, 0), (g16b, 0), (g48, 0)] {
        b.connect(tone, 0, dst, 0).unwrap();
    }
    b.connect(g16a, 0, out16, 0).unwrap();
    b.connect(g16b, 0, out16, 0).unwrap(); // fan-in: summed
    b.connect(g48, 0, out48, 0).unwrap();
    let g = b.build().unwrap();
    let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    assert!(names.contains(&"tone.out@16000Hz") && names.contains(&"tone.out@48000Hz"), "{names:?}");
    assert_eq!(g.nodes.iter().filter(|n| n.spec.type_name == "resample").count(), 2);
    // Gains add no latency, so each output reports exactly its resampler's.
    let conv_latency = |name: &str| g.nodes.iter().find(|n| n.name == name).unwrap().spec.latency_ns;
    assert!(conv_latency("tone.out@16000Hz") > 0);
    assert_eq!(g.plan.outputs[0].latency_ns, conv_latency("tone.out@16000Hz"));
    assert_eq!(g.plan.outputs[1].latency_ns, conv_latency("tone.out@48000Hz"));
    let mut exec = PlanExecutor::new(g).unwrap();
    let mut y = Vec::new();
    for _ in 0..30 {
        exec.run_cycle();
        y.extend_from_slice(exec.output_audio(0));
    }
    // After the filter settles: two summed unity copies of a 0.5 tone -> amplitude 1.0 at
    // 1 kHz, i.e. 16 samples per period at 16 kHz.
    let tail = &y[y.len() - 1600..];
    let peak = tail.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!((peak - 1.0).abs() < 0.01, "peak {peak}");
    let crossings = tail.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    assert_eq!(crossings, 100, "1 kHz over 0.1 s");
}
