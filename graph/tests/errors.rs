//! Refused graphs: every error names the nodes, ports and formats at fault.

mod common;

use common::*;
use rvoip_media_graph::{AudioFormat, GraphBuilder, GraphError, NodeId, NodeSpec, PortKind, PortSpec, Quantum};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cycle_of_three_names_exactly_its_nodes_in_edge_order() {
    // src -> a -> b -> c -> a, c -> out: src and out are not on the cycle.
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let src = b.add_input("src", A8);
    let a = dummy(&mut b, "a", &[A8], &[A8]);
    let bb = dummy(&mut b, "b", &[A8], &[A8]);
    let c = dummy(&mut b, "c", &[A8], &[A8]);
    let out = b.add_output("out", A8);
    for (x, y) in [(src, a), (a, bb), (bb, c), (c, a), (c, out)] {
        b.connect(x, 0, y, 0).unwrap();
    }
    let err = b.build().unwrap_err();
    assert_eq!(err, GraphError::Cycle { nodes: names(&["a", "b", "c"]) });
    assert_eq!(err.to_string(), "cycle through nodes a -> b -> c");
}

#[test]
fn cycle_starts_at_its_smallest_id_and_follows_edges() {
    // Declared z, x, y; edges x -> y -> z -> x. z has the smallest id: z -> x -> y.
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let z = dummy(&mut b, "z", &[CTL], &[CTL]);
    let x = dummy(&mut b, "x", &[CTL], &[CTL]);
    let y = dummy(&mut b, "y", &[CTL], &[CTL]);
    for (p, q) in [(x, y), (y, z), (z, x)] {
        b.connect(p, 0, q, 0).unwrap();
    }
    assert_eq!(b.plan().unwrap_err(), GraphError::Cycle { nodes: names(&["z", "x", "y"]) });
}

#[test]
fn cycle_is_found_among_two_cycles_and_a_blocked_tail() {
    // a <-> b, and c -> d -> e -> c fed by b; f hangs behind e. Only a -> b is reported:
    // the smallest unplaced node is a, and the walk from it stays on its cycle.
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let n: Vec<NodeId> = ["a", "b", "c", "d", "e", "f"].iter().map(|s| dummy(&mut b, s, &[A8], &[A8])).collect();
    for (p, q) in [(0, 1), (1, 0), (1, 2), (2, 3), (3, 4), (4, 2), (4, 5)] {
        b.connect(n[p], 0, n[q], 0).unwrap();
    }
    assert_eq!(b.plan().unwrap_err(), GraphError::Cycle { nodes: names(&["a", "b"]) });
}

#[test]
fn dangling_required_input_names_node_and_port() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("mic", A8);
    let enc = b.add_node(
        "enc",
        Box::new(Dummy(
            NodeSpec::new("encoder")
                .with_input(PortSpec::required("pcm", A8))
                .with_input(PortSpec::required("vad", CTL))
                .with_output(PortSpec::required("rtp", PCMU)),
        )),
    );
    let o = b.add_output("rtp", PCMU);
    b.connect_named(i, "out", enc, "pcm").unwrap();
    b.connect(enc, 0, o, 0).unwrap();
    let err = b.build().unwrap_err();
    assert_eq!(err, GraphError::DanglingInput { node: "enc".into(), port: "vad".into() });
    assert_eq!(err.to_string(), "required input 'enc.vad' is not connected");
}

#[test]
fn unconnected_graph_output_is_dangling() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    b.add_output("spk", A8);
    assert_eq!(b.plan().unwrap_err(), GraphError::DanglingInput { node: "spk".into(), port: "in".into() });
}

#[test]
fn format_mismatch_names_both_ends_and_both_formats() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let mic = b.add_input("mic", A8);
    let aec = dummy(&mut b, "aec", &[A16], &[A16]);
    let err = b.connect(mic, 0, aec, 0).unwrap_err();
    let GraphError::FormatMismatch(m) = &err else { panic!("{err:?}") };
    assert_eq!(
        (m.from_node.as_str(), m.from_port.as_str(), m.from_format),
        ("mic", "out", A8),
        "the producing end and its format"
    );
    assert_eq!((m.to_node.as_str(), m.to_port.as_str(), m.to_format), ("aec", "in0", A16), "the reading end");

    assert_eq!(
        err.to_string(),
        "format mismatch: 'mic.out' produces audio 8000 Hz x1 but 'aec.in0' expects audio 16000 Hz x1"
    );
    // Kinds differ too: packet into control.
    let pkt = b.add_input("rtp", PCMU);
    let gate = dummy(&mut b, "gate", &[CTL], &[]);
    let msg = b.connect(pkt, 0, gate, 0).unwrap_err().to_string();
    assert_eq!(msg, "format mismatch: 'rtp.out' produces packet PCMU/8000 but 'gate.in0' expects control");
    // Channel count is part of the format.
    let stereo = PortKind::Audio(AudioFormat { rate: 8000, channels: 2 });
    let st = dummy(&mut b, "st", &[stereo], &[]);
    assert!(b.connect(mic, 0, st, 0).unwrap_err().to_string().contains("expects audio 8000 Hz x2"));
}

#[test]
fn quantum_mismatch_44k1_at_2_5_ms() {
    let cd = PortKind::Audio(AudioFormat::mono(44_100));
    let make = |q| {
        let mut b = GraphBuilder::new(q);
        let i = b.add_input("cd", cd);
        let o = b.add_output("out", cd);
        b.connect(i, 0, o, 0).unwrap();
        b
    };
    let err = make(Quantum::MS_2_5).build().unwrap_err();
    assert_eq!(
        err,
        GraphError::QuantumMismatch { node: "cd".into(), port: "out".into(), rate: 44_100, quantum_us: 2_500 }
    );
    assert_eq!(err.to_string(), "'cd.out' runs at 44100 Hz, which does not divide into 2500 us quanta");
    assert!(make(Quantum::MS_5).build().is_err());
    assert_eq!(make(Quantum::MS_10).build().unwrap().plan.buffers.audio_len, 441);
    assert_eq!(make(Quantum::MS_20).build().unwrap().plan.buffers.audio_len, 882);
}

#[test]
fn duplicate_name_is_refused() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("leg", A8);
    let o = b.add_output("leg", A8);
    b.connect(i, 0, o, 0).unwrap();
    let err = b.build().unwrap_err();
    assert_eq!(err, GraphError::DuplicateName("leg".into()));
    assert_eq!(err.to_string(), "two nodes are named 'leg'");
}

#[test]
fn packet_fan_in_is_refused_at_connect() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let r1 = b.add_input("rtp1", PCMU);
    let r2 = b.add_input("rtp2", PCMU);
    let dec = dummy(&mut b, "dec", &[PCMU], &[A8]);
    let o = b.add_output("pcm", A8);
    b.connect(r1, 0, dec, 0).unwrap();
    let err = b.connect(r2, 0, dec, 0).unwrap_err();
    assert_eq!(err, GraphError::PacketFanIn { node: "dec".into(), port: "in0".into(), edges: 2 });
    assert_eq!(err.to_string(), "packet input 'dec.in0' has 2 incoming edges; packets cannot be mixed");
    // The refused edge was not kept: the graph builds with the first one.
    b.connect(dec, 0, o, 0).unwrap();
    let plan = b.build().unwrap().plan;
    assert_eq!(plan.node_steps(), 1);
    assert!(plan.steps.iter().all(|s| matches!(s, rvoip_media_graph::Step::Node { .. })));
}

#[test]
fn bad_ports_and_nodes_and_duplicate_edges() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", A8);
    let o = b.add_output("out", A8);
    assert_eq!(b.connect(i, 0, NodeId(9), 0), Err(GraphError::NoSuchNode(NodeId(9))));
    assert_eq!(
        b.connect(i, 1, o, 0),
        Err(GraphError::NoSuchPort { node: "in".into(), direction: "output", port: "1".into() })
    );
    assert_eq!(
        b.connect_named(i, "out", o, "nope"),
        Err(GraphError::NoSuchPort { node: "out".into(), direction: "input", port: "nope".into() })
    );
    b.connect(i, 0, o, 0).unwrap();
    assert_eq!(
        b.connect(i, 0, o, 0),
        Err(GraphError::DuplicateEdge {
            from_node: "in".into(),
            from_port: "out".into(),
            to_node: "out".into(),
            to_port: "in".into()
        })
    );
    assert_eq!(b.input_port(o, "in"), Ok(0));
    assert_eq!(b.output_port(i, "out"), Ok(0));
    assert_eq!(b.node_count(), 2);
}

#[test]
fn zero_channel_audio_is_refused() {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    b.add_input("void", PortKind::Audio(AudioFormat { rate: 8000, channels: 0 }));
    let err = b.plan().unwrap_err();
    assert!(
        matches!(err, GraphError::InvalidAudioFormat { ref node, ref port, .. } if node == "void" && port == "out")
    );
}
