//! Pass 1: refuse graphs that cannot be scheduled, naming the nodes and ports at fault.
//!
//! The checks run in a fixed order and the first failure is returned, so one broken graph
//! always yields the same error. Cycles are found by the sort pass, which has the data to
//! name the nodes on one.

use crate::builder::{format_mismatch, BuilderNode, Edge, GraphBuilder};
use crate::error::GraphError;
use crate::format::{PortKind, Quantum};
use crate::node::PortSpec;
use std::collections::{HashMap, HashSet};

/// Runs every check: names, formats, edges, required inputs.
pub(crate) fn validate(g: &GraphBuilder) -> Result<(), GraphError> {
    unique_names(g)?;
    audio_formats(g)?;
    let fan_in = edges(g)?;
    required_inputs(g, &fan_in)
}

/// Node names identify nodes in every message and in [`crate::CompiledGraph::node_id`]:
/// they must be unique. The second node to reuse a name is reported.
fn unique_names(g: &GraphBuilder) -> Result<(), GraphError> {
    let mut seen = HashSet::with_capacity(g.nodes.len());
    match g.nodes.iter().find(|n| !seen.insert(n.name.as_str())) {
        Some(n) => Err(GraphError::DuplicateName(n.name.clone())),
        None => Ok(()),
    }
}

/// Every audio port, connected or not, must carry samples and hold a whole number of frames
/// per quantum (44.1 kHz divides 10 and 20 ms but not 2.5 or 5 ms), with a sample count a
/// [`crate::BufferRef`] can express.
fn audio_formats(g: &GraphBuilder) -> Result<(), GraphError> {
    for n in &g.nodes {
        for p in n.spec.inputs.iter().chain(&n.spec.outputs) {
            check_audio_port(&n.name, p, g.quantum)?;
        }
    }
    Ok(())
}

/// The audio-format check of one port of the node called `node` (a live edit checks the
/// ports of the nodes it adds with it).
pub(crate) fn check_audio_port(node: &str, p: &PortSpec, quantum: Quantum) -> Result<(), GraphError> {
    let PortKind::Audio(format) = p.kind else { return Ok(()) };
    let invalid =
        |reason| GraphError::InvalidAudioFormat { node: node.to_string(), port: p.name.to_string(), format, reason };
    if format.rate == 0 || format.channels == 0 {
        return Err(invalid("the rate and the channel count must not be 0"));
    }
    match format.samples_per_quantum(quantum) {
        None => Err(GraphError::QuantumMismatch {
            node: node.to_string(),
            port: p.name.to_string(),
            rate: format.rate,
            quantum_us: quantum.micros(),
        }),
        Some(len) if u32::try_from(len).is_err() => Err(invalid("too many samples per quantum")),
        Some(_) => Ok(()),
    }
}

/// Edges re-checked as [`GraphBuilder::connect`] checks them (ports exist, kinds and formats
/// equal, no duplicate, at most one edge into a packet input), so a plan never rests on
/// edges that bypassed `connect`. Returns the number of edges into every `(node, input port)`.
fn edges(g: &GraphBuilder) -> Result<HashMap<(usize, usize), usize>, GraphError> {
    let mut seen = HashSet::with_capacity(g.edges.len());
    let mut fan_in: HashMap<(usize, usize), usize> = HashMap::new();
    for e in &g.edges {
        let (src, sp, dst, dp) = edge_ends(g, e)?;
        if sp.kind != dp.kind {
            return Err(format_mismatch(src, sp, dst, dp));
        }
        if !seen.insert(*e) {
            return Err(GraphError::DuplicateEdge {
                from_node: src.name.clone(),
                from_port: sp.name.to_string(),
                to_node: dst.name.clone(),
                to_port: dp.name.to_string(),
            });
        }
        *fan_in.entry((e.to.index(), e.to_port)).or_default() += 1;
    }
    // Packets cannot be summed: report a packet input with several edges, with their count.
    let mut packet_fan_in: Vec<_> = fan_in
        .iter()
        .filter(|&(&(n, p), &count)| count > 1 && matches!(g.nodes[n].spec.inputs[p].kind, PortKind::Packet(_)))
        .collect();
    packet_fan_in.sort();
    if let Some(&(&(n, p), &edges)) = packet_fan_in.first() {
        let node = &g.nodes[n];
        return Err(GraphError::PacketFanIn {
            node: node.name.clone(),
            port: node.spec.inputs[p].name.to_string(),
            edges,
        });
    }
    Ok(fan_in)
}

/// The nodes and ports an edge joins, or the error naming the missing one.
fn edge_ends<'g>(
    g: &'g GraphBuilder,
    e: &Edge,
) -> Result<(&'g BuilderNode, &'g PortSpec, &'g BuilderNode, &'g PortSpec), GraphError> {
    let src = g.nodes.get(e.from.index()).ok_or(GraphError::NoSuchNode(e.from))?;
    let dst = g.nodes.get(e.to.index()).ok_or(GraphError::NoSuchNode(e.to))?;
    let no_port = |n: &BuilderNode, direction, port: usize| GraphError::NoSuchPort {
        node: n.name.clone(),
        direction,
        port: port.to_string(),
    };
    let sp = src.spec.outputs.get(e.from_port).ok_or_else(|| no_port(src, "output", e.from_port))?;
    let dp = dst.spec.inputs.get(e.to_port).ok_or_else(|| no_port(dst, "input", e.to_port))?;
    Ok((src, sp, dst, dp))
}

/// Every required input needs an edge (graph outputs' single input is required). The first
/// dangling port in node and port order is reported.
fn required_inputs(g: &GraphBuilder, fan_in: &HashMap<(usize, usize), usize>) -> Result<(), GraphError> {
    for (i, n) in g.nodes.iter().enumerate() {
        for (pi, p) in n.spec.inputs.iter().enumerate() {
            if p.required && !fan_in.contains_key(&(i, pi)) {
                return Err(GraphError::DanglingInput { node: n.name.clone(), port: p.name.to_string() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testing::*;
    use crate::format::AudioFormat;
    use crate::node::{NodeId, NodeSpec};

    fn raw_edge(b: &mut GraphBuilder, from: u32, from_port: usize, to: u32, to_port: usize) {
        b.edges.push(Edge { from: NodeId(from), from_port, to: NodeId(to), to_port });
    }

    #[test]
    fn duplicate_name_names_it() {
        let mut b = builder();
        node(&mut b, "x", 0, 1, A);
        node(&mut b, "y", 0, 1, A);
        node(&mut b, "x", 0, 1, A);
        assert_eq!(validate(&b), Err(GraphError::DuplicateName("x".into())));
    }

    #[test]
    fn audio_formats_must_divide_the_quantum_and_carry_samples() {
        let cd = PortKind::Audio(AudioFormat::mono(44_100));
        let mut b = GraphBuilder::new(Quantum::MS_2_5);
        let spec = NodeSpec::new("t").with_input(PortSpec::optional("ok", A)).with_output(PortSpec::required("cd", cd));
        b.add_node("n", Box::new(Dummy(spec.clone())));
        assert_eq!(
            validate(&b),
            Err(GraphError::QuantumMismatch { node: "n".into(), port: "cd".into(), rate: 44_100, quantum_us: 2_500 })
        );
        let mut b = GraphBuilder::new(Quantum::MS_10);
        b.add_node("n", Box::new(Dummy(spec)));
        assert_eq!(validate(&b), Ok(()));

        let silent = AudioFormat { rate: 8000, channels: 0 };
        b.add_input("zero", PortKind::Audio(silent));
        assert!(
            matches!(validate(&b), Err(GraphError::InvalidAudioFormat { ref node, format, .. }) if node == "zero" && format == silent)
        );

        let mut b = GraphBuilder::new(Quantum::MS_20);
        let huge = AudioFormat { rate: 4_000_000_000, channels: 60 };
        b.add_output("huge", PortKind::Audio(huge));
        let err = validate(&b).unwrap_err();
        assert!(err.to_string().contains("too many samples"), "{err}");
    }

    #[test]
    fn edges_bypassing_connect_are_rechecked() {
        let mut b = builder();
        let x = node(&mut b, "x", 0, 1, A);
        node(&mut b, "c", 1, 0, C);
        node(&mut b, "p", 1, 0, P);
        raw_edge(&mut b, x.0, 0, 1, 0);
        assert!(matches!(validate(&b), Err(GraphError::FormatMismatch(_))));

        let mut b = builder();
        node(&mut b, "x", 0, 1, A);
        raw_edge(&mut b, 0, 0, 7, 0);
        assert_eq!(validate(&b), Err(GraphError::NoSuchNode(NodeId(7))));
        b.edges.clear();
        raw_edge(&mut b, 0, 3, 0, 0);
        assert_eq!(
            validate(&b),
            Err(GraphError::NoSuchPort { node: "x".into(), direction: "output", port: "3".into() })
        );

        let mut b = builder();
        node(&mut b, "x", 0, 1, A);
        node(&mut b, "y", 1, 0, A);
        raw_edge(&mut b, 0, 0, 1, 0);
        raw_edge(&mut b, 0, 0, 1, 0);
        assert!(matches!(validate(&b), Err(GraphError::DuplicateEdge { .. })));

        let mut b = builder();
        for name in ["s1", "s2", "s3"] {
            node(&mut b, name, 0, 1, P);
        }
        node(&mut b, "dec", 1, 0, P);
        for s in 0..3 {
            raw_edge(&mut b, s, 0, 3, 0);
        }
        assert_eq!(validate(&b), Err(GraphError::PacketFanIn { node: "dec".into(), port: "p0".into(), edges: 3 }));
    }

    #[test]
    fn first_dangling_required_input_is_named() {
        let mut b = builder();
        let x = node(&mut b, "x", 0, 1, A);
        let y = node(&mut b, "y", 3, 0, A);
        b.connect(x, 0, y, 0).unwrap();
        assert_eq!(validate(&b), Err(GraphError::DanglingInput { node: "y".into(), port: "p1".into() }));
    }
}
