//! Exact plans for small graphs: order, steps with buffer indices, arena sizes, latencies.
//!
//! Every expected plan below was worked out by hand from the buffer rules in the compiler's
//! module docs; the comments give the derivation point by point ("p0" is before step 0).

mod common;

use common::*;
use rvoip_media_graph::{
    BufferCounts, BufferKind, BufferRef, GraphBuilder, NodeId, NodeSpec, PlanExecutor, PortSpec, Quantum, Step,
};

fn a8(i: u32) -> BufferRef {
    BufferRef::audio(i, 80)
}

fn node(n: u32, inputs: Vec<BufferRef>, outputs: Vec<BufferRef>) -> Step {
    Step::Node { node: NodeId(n), inputs, outputs }
}

fn counts(audio: usize, packet: usize, control: usize, audio_len: usize) -> BufferCounts {
    BufferCounts { audio, packet, control, audio_len, packet_burst: 1 }
}

/// Builds the graph and checks that the executor accepts the plan.
fn build(b: GraphBuilder) -> rvoip_media_graph::Plan {
    let g = b.build().expect("graph compiles");
    let plan = g.plan.clone();
    PlanExecutor::new(g).expect("executor accepts the plan");
    plan
}

#[test]
fn chain() {
    // in -> a -> b -> c -> out
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", A8);
    let a = dummy_lat(&mut b, "a", &[A8], &[A8], 1_000);
    let bb = dummy_lat(&mut b, "b", &[A8], &[A8], 2_000);
    let c = dummy_lat(&mut b, "c", &[A8], &[A8], 500);
    let o = b.add_output("out", A8);
    for (x, y) in [(i, a), (a, bb), (bb, c), (c, o)] {
        b.connect(x, 0, y, 0).unwrap();
    }
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4]));
    // p0: in=0. a: out=1, frees 0. b: out=0, frees 1. c: out=1, frees 0; 1 lives to the end.
    assert_eq!(
        plan.steps,
        vec![node(1, vec![a8(0)], vec![a8(1)]), node(2, vec![a8(1)], vec![a8(0)]), node(3, vec![a8(0)], vec![a8(1)])]
    );
    assert_eq!(plan.buffers, counts(2, 0, 0, 80));
    assert_eq!(plan.inputs[0].buffer, a8(0));
    assert_eq!((plan.outputs[0].buffer, plan.outputs[0].latency_ns), (a8(1), 3_500));
}

#[test]
fn fan_out_to_three_readers() {
    // src -> r1 -> o1, src -> r2 -> o2, src -> r3 -> o3
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let src = dummy(&mut b, "src", &[], &[A8]);
    let r: Vec<NodeId> = (1..=3).map(|k| dummy(&mut b, &format!("r{k}"), &[A8], &[A8])).collect();
    let o: Vec<NodeId> = (1..=3).map(|k| b.add_output(format!("o{k}"), A8)).collect();
    for k in 0..3 {
        b.connect(src, 0, r[k], 0).unwrap();
        b.connect(r[k], 0, o[k], 0).unwrap();
    }
    let plan = build(b);
    // Ready after src: r1 r2 r3 (ids 1-3) before the outputs (4-6).
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4, 5, 6]));
    // src=0 stays live until r3, its last reader; r1..r3 each take a new buffer and keep it
    // (graph outputs read them), so 4 buffers are live at r3.
    assert_eq!(
        plan.steps,
        vec![
            node(0, vec![], vec![a8(0)]),
            node(1, vec![a8(0)], vec![a8(1)]),
            node(2, vec![a8(0)], vec![a8(2)]),
            node(3, vec![a8(0)], vec![a8(3)]),
        ]
    );
    assert_eq!(plan.buffers, counts(4, 0, 0, 80));
    let outs: Vec<BufferRef> = plan.outputs.iter().map(|p| p.buffer).collect();
    assert_eq!(outs, vec![a8(1), a8(2), a8(3)]);
}

#[test]
fn fan_in_of_three_sources_is_a_sum_step() {
    // s1, s2, s3 -> m.in0 -> out
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let s: Vec<NodeId> = (1..=3).map(|k| dummy(&mut b, &format!("s{k}"), &[], &[A8])).collect();
    let m = dummy(&mut b, "m", &[A8], &[A8]);
    let o = b.add_output("out", A8);
    // Edge order s2, s3, s1: the sum lists its inputs in edge order.
    for k in [1, 2, 0] {
        b.connect(s[k], 0, m, 0).unwrap();
    }
    b.connect(m, 0, o, 0).unwrap();
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4]));
    // s1=0 s2=1 s3=2; the sum takes 3 before freeing 0-2; m takes 0 before freeing 3.
    assert_eq!(
        plan.steps,
        vec![
            node(0, vec![], vec![a8(0)]),
            node(1, vec![], vec![a8(1)]),
            node(2, vec![], vec![a8(2)]),
            Step::Sum { inputs: vec![a8(1), a8(2), a8(0)], output: a8(3) },
            node(3, vec![a8(3)], vec![a8(0)]),
        ]
    );
    assert_eq!(plan.buffers, counts(4, 0, 0, 80));
    assert_eq!(plan.outputs[0].buffer, a8(0));
    assert_eq!(plan.node_steps(), 4);
}

#[test]
fn diamond_into_two_ports() {
    // in -> a -> {b, c} -> d.{in0, in1} -> out
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", A8);
    let a = dummy_lat(&mut b, "a", &[A8], &[A8], 100);
    let bb = dummy_lat(&mut b, "b", &[A8], &[A8], 1_000);
    let c = dummy_lat(&mut b, "c", &[A8], &[A8], 10);
    let d = dummy_lat(&mut b, "d", &[A8, A8], &[A8], 1);
    let o = b.add_output("out", A8);
    b.connect(i, 0, a, 0).unwrap();
    b.connect(a, 0, bb, 0).unwrap();
    b.connect(a, 0, c, 0).unwrap();
    b.connect(bb, 0, d, 0).unwrap();
    b.connect(c, 0, d, 1).unwrap();
    b.connect(d, 0, o, 0).unwrap();
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4, 5]));
    // p0 in=0. a: 1, frees 0. b: 0. c: 2, frees 1 (a's last reader). d: 1, frees 0 and 2.
    assert_eq!(
        plan.steps,
        vec![
            node(1, vec![a8(0)], vec![a8(1)]),
            node(2, vec![a8(1)], vec![a8(0)]),
            node(3, vec![a8(1)], vec![a8(2)]),
            node(4, vec![a8(0), a8(2)], vec![a8(1)]),
        ]
    );
    assert_eq!(plan.buffers, counts(3, 0, 0, 80));
    // Slowest path: a (100) + b (1000) + d (1).
    assert_eq!((plan.outputs[0].buffer, plan.outputs[0].latency_ns), (a8(1), 1_101));
}

#[test]
fn diamond_into_one_port() {
    // in -> a -> {b, c} -> d.in0 (summed) -> out
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", A8);
    let a = dummy(&mut b, "a", &[A8], &[A8]);
    let bb = dummy(&mut b, "b", &[A8], &[A8]);
    let c = dummy(&mut b, "c", &[A8], &[A8]);
    let d = dummy(&mut b, "d", &[A8], &[A8]);
    let o = b.add_output("out", A8);
    for (x, y) in [(i, a), (a, bb), (a, c), (bb, d), (c, d), (d, o)] {
        b.connect(x, 0, y, 0).unwrap();
    }
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4, 5]));
    // As above up to c; the sum takes 1 and frees 0 and 2; d takes 0 and frees 1.
    assert_eq!(
        plan.steps,
        vec![
            node(1, vec![a8(0)], vec![a8(1)]),
            node(2, vec![a8(1)], vec![a8(0)]),
            node(3, vec![a8(1)], vec![a8(2)]),
            Step::Sum { inputs: vec![a8(0), a8(2)], output: a8(1) },
            node(4, vec![a8(1)], vec![a8(0)]),
        ]
    );
    assert_eq!(plan.buffers, counts(3, 0, 0, 80));
    assert_eq!(plan.outputs[0].buffer, a8(0));
}

#[test]
fn two_independent_partitions_interleave_by_id() {
    // in1 -> a1 -> out1 and in2 -> a2 -> out2, declared interleaved.
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let in1 = b.add_input("in1", A8);
    let in2 = b.add_input("in2", A16);
    let a1 = dummy_lat(&mut b, "a1", &[A8], &[A8], 5);
    let a2 = dummy_lat(&mut b, "a2", &[A16], &[A16], 7);
    let out1 = b.add_output("out1", A8);
    let out2 = b.add_output("out2", A16);
    for (x, y) in [(in1, a1), (a1, out1), (in2, a2), (a2, out2)] {
        b.connect(x, 0, y, 0).unwrap();
    }
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4, 5]));
    // p0: in1=0, in2=1 (declaration order). a1: 2, frees 0. a2: 0, frees 1. Buffers hold the
    // longest port (160 samples); each reference keeps its own length.
    let a16 = |i| BufferRef::audio(i, 160);
    assert_eq!(plan.steps, vec![node(2, vec![a8(0)], vec![a8(2)]), node(3, vec![a16(1)], vec![a16(0)])]);
    assert_eq!(plan.buffers, counts(3, 0, 0, 160));
    let ins: Vec<BufferRef> = plan.inputs.iter().map(|p| p.buffer).collect();
    let outs: Vec<(String, BufferRef, u64)> =
        plan.outputs.iter().map(|p| (p.name.clone(), p.buffer, p.latency_ns)).collect();
    assert_eq!(ins, vec![a8(0), a16(1)]);
    assert_eq!(outs, vec![("out1".into(), a8(2), 5), ("out2".into(), a16(0), 7)]);
}

#[test]
fn mixed_audio_packet_and_control_ports() {
    // pkt_in -> dec -> vad -> enc -> pkt_out ; vad.prob -> enc.in1 and -> prob_out
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let pin = b.add_input("pkt_in", PCMU);
    let dec = dummy(&mut b, "dec", &[PCMU], &[A16]);
    let vad = dummy(&mut b, "vad", &[A16], &[A16, CTL]);
    let enc = dummy(&mut b, "enc", &[A16, CTL], &[PCMU]);
    let pout = b.add_output("pkt_out", PCMU);
    let cout = b.add_output("prob_out", CTL);
    b.connect(pin, 0, dec, 0).unwrap();
    b.connect(dec, 0, vad, 0).unwrap();
    b.connect(vad, 0, enc, 0).unwrap();
    b.connect(vad, 1, enc, 1).unwrap();
    b.connect(vad, 1, cout, 0).unwrap();
    b.connect(enc, 0, pout, 0).unwrap();
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4, 5]));
    let a16 = |i| BufferRef::audio(i, 160);
    // p0: pkt_in = P0. dec: A0, frees P0. vad: A1 and C0, frees A0. enc: P0 (reused), frees
    // A1; C0 stays for prob_out.
    assert_eq!(
        plan.steps,
        vec![
            node(1, vec![BufferRef::packet(0)], vec![a16(0)]),
            node(2, vec![a16(0)], vec![a16(1), BufferRef::control(0)]),
            node(3, vec![a16(1), BufferRef::control(0)], vec![BufferRef::packet(0)]),
        ]
    );
    assert_eq!(plan.buffers, counts(2, 1, 1, 160));
    assert_eq!(plan.outputs[0].buffer, BufferRef::packet(0));
    assert_eq!(plan.outputs[1].buffer, BufferRef::control(0));
}

#[test]
fn optional_input_reads_silence_and_unread_outputs_are_scratch() {
    // in -> n1.in0 (n1.side unconnected, n1.out1 unread) ; n1.out0 -> n2 -> out (n2.out1 unread)
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", A8);
    let n1 = b.add_node(
        "n1",
        Box::new(Dummy(
            NodeSpec::new("two-out")
                .with_input(PortSpec::required("in", A8))
                .with_input(PortSpec::optional("side", CTL))
                .with_input(PortSpec::optional("aux", A8))
                .with_output(PortSpec::required("main", A8))
                .with_output(PortSpec::required("monitor", A8)),
        )),
    );
    let n2 = dummy(&mut b, "n2", &[A8], &[A8, A8]);
    let o = b.add_output("out", A8);
    b.connect(i, 0, n1, 0).unwrap();
    b.connect(n1, 0, n2, 0).unwrap();
    b.connect(n2, 0, o, 0).unwrap();
    let plan = build(b);
    assert_eq!(plan.order, ids(&[0, 1, 2, 3]));
    // p0: in=0. n1: main=1, monitor=2, then frees 0 (in) and 2 (unread). n2: out0=0,
    // out1=2 (the scratch again), frees 1 and 2.
    assert_eq!(
        plan.steps,
        vec![
            node(
                1,
                vec![a8(0), BufferRef::silence(BufferKind::Control, 1), BufferRef::silence(BufferKind::Audio, 80)],
                vec![a8(1), a8(2)]
            ),
            node(2, vec![a8(1)], vec![a8(0), a8(2)]),
        ]
    );
    assert_eq!(plan.buffers, counts(3, 0, 0, 80));
    assert_eq!(plan.outputs[0].buffer, a8(0));
}

#[test]
fn graph_output_fan_in_and_shared_output_buffers() {
    // in1 + in2 -> sum (graph output fan-in); in1 -> raw; g -> g_a and g_b
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let in1 = b.add_input("in1", A8);
    let in2 = b.add_input("in2", A8);
    let sum = b.add_output("sum", A8);
    let raw = b.add_output("raw", A8);
    let g = dummy(&mut b, "g", &[A8], &[A8]);
    let ga = b.add_output("g_a", A8);
    let gb = b.add_output("g_b", A8);
    b.connect(in1, 0, sum, 0).unwrap();
    b.connect(in2, 0, sum, 0).unwrap();
    b.connect(in1, 0, raw, 0).unwrap();
    b.connect(in2, 0, g, 0).unwrap();
    b.connect(g, 0, ga, 0).unwrap();
    b.connect(g, 0, gb, 0).unwrap();
    let plan = build(b);
    // Ready at start: 0, 1. After both: sum(2), raw(3), g(4) -> 2, 3, 4, then 5, 6.
    assert_eq!(plan.order, ids(&[0, 1, 2, 3, 4, 5, 6]));
    // p0: in1=0, in2=1. The output's sum takes 2 at its place in the order; in2 is still
    // read by g, in1 by the raw output to the end. g takes 3 and frees in2 (1).
    assert_eq!(
        plan.steps,
        vec![Step::Sum { inputs: vec![a8(0), a8(1)], output: a8(2) }, node(4, vec![a8(1)], vec![a8(3)])]
    );
    assert_eq!(plan.buffers, counts(4, 0, 0, 80));
    let outs: Vec<BufferRef> = plan.outputs.iter().map(|p| p.buffer).collect();
    assert_eq!(outs, vec![a8(2), a8(0), a8(3), a8(3)]);
}

#[test]
fn unread_graph_input_keeps_its_buffer() {
    // `spare` is never read; its buffer must not be handed to a step.
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let spare = b.add_input("spare", A8);
    let i = b.add_input("in", A8);
    let a = dummy(&mut b, "a", &[A8], &[A8]);
    let c = dummy(&mut b, "c", &[A8], &[A8]);
    let o = b.add_output("out", A8);
    for (x, y) in [(i, a), (a, c), (c, o)] {
        b.connect(x, 0, y, 0).unwrap();
    }
    let plan = build(b);
    assert_eq!(plan.inputs[0].node, spare);
    // p0: spare=0, in=1. a: 2, frees 1. c: 1, frees 2.
    assert_eq!(plan.steps, vec![node(2, vec![a8(1)], vec![a8(2)]), node(3, vec![a8(2)], vec![a8(1)])]);
    assert_eq!(plan.buffers, counts(3, 0, 0, 80));
}

#[test]
fn empty_graph_compiles_to_an_empty_plan() {
    let plan = build(GraphBuilder::new(Quantum::MS_20));
    assert!(plan.order.is_empty() && plan.steps.is_empty());
    assert_eq!(plan.buffers, counts(0, 0, 0, 0));
}

#[test]
fn plan_is_deterministic() {
    let make = || {
        let mut b = GraphBuilder::new(Quantum::MS_10);
        let i = b.add_input("in", A48S);
        let x = dummy(&mut b, "x", &[A48S], &[A48S, CTL]);
        let y = dummy(&mut b, "y", &[A48S, CTL], &[A48S]);
        let o = b.add_output("out", A48S);
        b.connect(i, 0, x, 0).unwrap();
        b.connect(x, 0, y, 0).unwrap();
        b.connect(x, 1, y, 1).unwrap();
        b.connect(i, 0, o, 0).unwrap();
        b.connect(y, 0, o, 0).unwrap();
        b.plan().unwrap()
    };
    let first = make();
    assert_eq!(first.buffers.audio_len, 960);
    for _ in 0..10 {
        assert_eq!(make(), first);
    }
}
