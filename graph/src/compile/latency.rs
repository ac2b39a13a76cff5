//! Pass 6: latency of every node, hence of every graph output.

use super::topology::Topology;
use crate::builder::GraphBuilder;
use crate::node::NodeId;

/// For every node, the largest sum of [`crate::NodeSpec::latency_ns`] over the paths that end
/// in it, the node's own latency included. A graph output (latency 0 itself) therefore
/// reports the slowest path into it; nodes fed by nothing report their own latency.
///
/// One pass in topological order suffices: every predecessor is final before its readers.
/// Sums saturate at `u64::MAX` rather than wrap.
pub(crate) fn node_latencies(g: &GraphBuilder, topo: &Topology, order: &[NodeId]) -> Vec<u64> {
    let mut latency = vec![0u64; g.nodes.len()];
    for &n in order {
        let upstream = topo.all_sources(n).map(|s| latency[s.node.index()]).max().unwrap_or(0);
        latency[n.index()] = upstream.saturating_add(g.nodes[n.index()].spec.latency_ns);
    }
    latency
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::sort::topological_order;
    use crate::compile::testing::*;

    #[test]
    fn slowest_path_wins_and_sums_saturate() {
        // in -> a(5) -> c(1) -> out ; in -> b(7) -> c ; big(MAX) -> out2
        let mut b = builder();
        let i = b.add_input("in", A);
        let a = node_lat(&mut b, "a", 1, 1, A, 5);
        let bb = node_lat(&mut b, "b", 1, 1, A, 7);
        let c = node_lat(&mut b, "c", 2, 1, A, 1);
        let out = b.add_output("out", A);
        let big = node_lat(&mut b, "big", 0, 1, A, u64::MAX);
        let big2 = node_lat(&mut b, "big2", 1, 1, A, 3);
        let out2 = b.add_output("out2", A);
        b.connect(i, 0, a, 0).unwrap();
        b.connect(i, 0, bb, 0).unwrap();
        b.connect(a, 0, c, 0).unwrap();
        b.connect(bb, 0, c, 1).unwrap();
        b.connect(c, 0, out, 0).unwrap();
        b.connect(big, 0, big2, 0).unwrap();
        b.connect(big2, 0, out2, 0).unwrap();
        let t = Topology::new(&b);
        let lat = node_latencies(&b, &t, &topological_order(&b, &t).unwrap());
        assert_eq!(lat, vec![0, 5, 7, 8, 8, u64::MAX, u64::MAX, u64::MAX]);
    }
}
