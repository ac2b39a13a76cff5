//! Pass 3: Kahn's topological sort with a deterministic tie-break, and cycle reporting.

use super::topology::Topology;
use crate::builder::GraphBuilder;
use crate::error::GraphError;
use crate::node::NodeId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Every node in an order where each edge goes forward.
///
/// Kahn's algorithm: a node becomes *ready* when all its incoming edges come from nodes
/// already placed. Among ready nodes the smallest id is placed next (a min-heap), so two
/// independent chains interleave by id, not by edge insertion order. Graph inputs and outputs
/// are nodes like the others.
///
/// When ready nodes run out before every node is placed, the rest all sit on or behind a
/// cycle, and the error names one cycle (see [`find_cycle`]).
pub(crate) fn topological_order(g: &GraphBuilder, topo: &Topology) -> Result<Vec<NodeId>, GraphError> {
    let mut pending = topo.in_degrees();
    let mut ready: BinaryHeap<Reverse<NodeId>> =
        (0..g.nodes.len()).filter(|&i| pending[i] == 0).map(|i| Reverse(NodeId(i as u32))).collect();
    let mut order = Vec::with_capacity(g.nodes.len());
    while let Some(Reverse(n)) = ready.pop() {
        order.push(n);
        // One decrement per edge: a node fed twice by `n` is ready only after both.
        for &s in &topo.successors[n.index()] {
            pending[s.index()] -= 1;
            if pending[s.index()] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    if order.len() == g.nodes.len() {
        return Ok(order);
    }
    let placed: Vec<bool> = pending.iter().map(|&p| p == 0).collect();
    let cycle = find_cycle(topo, &placed);
    Err(GraphError::Cycle { nodes: cycle.iter().map(|n| g.nodes[n.index()].name.clone()).collect() })
}

/// One cycle among the nodes Kahn's algorithm could not place, in edge order, starting from
/// its smallest id.
///
/// Every unplaced node still has an incoming edge from an unplaced node (otherwise it would
/// have become ready), so walking from any unplaced node to such a predecessor, again and
/// again, must revisit a node; the walk between the two visits, reversed, is a cycle.
fn find_cycle(topo: &Topology, placed: &[bool]) -> Vec<NodeId> {
    let unplaced_pred = |n: NodeId| topo.all_sources(n).map(|s| s.node).find(|p| !placed[p.index()]);
    let Some(start) = placed.iter().position(|&p| !p) else { return Vec::new() };
    let mut walk = vec![NodeId(start as u32)];
    let mut on_walk = vec![usize::MAX; placed.len()];
    on_walk[start] = 0;
    loop {
        let cur = walk[walk.len() - 1];
        // Cannot be `None` by the argument above; stop defensively if it ever is.
        let Some(pred) = unplaced_pred(cur) else { return walk };
        if on_walk[pred.index()] != usize::MAX {
            // `walk[k..]` follows edges backwards: reverse it into edge order.
            let mut cycle = walk.split_off(on_walk[pred.index()]);
            cycle.reverse();
            let first = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map_or(0, |(i, _)| i);
            cycle.rotate_left(first);
            return cycle;
        }
        on_walk[pred.index()] = walk.len();
        walk.push(pred);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testing::*;

    fn order(b: &GraphBuilder) -> Result<Vec<u32>, GraphError> {
        topological_order(b, &Topology::new(b)).map(|o| o.into_iter().map(|n| n.0).collect())
    }

    #[test]
    fn independent_nodes_come_in_id_order() {
        let mut b = builder();
        for name in ["a", "b", "c"] {
            node(&mut b, name, 0, 1, A);
        }
        assert_eq!(order(&b).unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn smallest_ready_id_first_not_edge_order() {
        // 0 -> 3, 1 -> 2; edges added "backwards". Ready at start: 0, 1. Pop 0 -> 3 ready;
        // ready {1, 3}: pop 1 -> 2 ready; ready {2, 3}: 2, then 3.
        let mut b = builder();
        let n0 = node(&mut b, "n0", 0, 1, A);
        let n1 = node(&mut b, "n1", 0, 1, A);
        let n2 = node(&mut b, "n2", 1, 0, A);
        let n3 = node(&mut b, "n3", 1, 0, A);
        b.connect(n1, 0, n2, 0).unwrap();
        b.connect(n0, 0, n3, 0).unwrap();
        assert_eq!(order(&b).unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_node_waits_for_all_its_edges() {
        // 2 -> 0 and 2 -> 0 (two ports), 1 -> 0: node 0 comes last although it has the
        // smallest id.
        let mut b = builder();
        let n0 = node(&mut b, "n0", 2, 0, A);
        let n1 = node(&mut b, "n1", 0, 1, A);
        let n2 = node(&mut b, "n2", 0, 1, A);
        b.connect(n2, 0, n0, 0).unwrap();
        b.connect(n2, 0, n0, 1).unwrap();
        b.connect(n1, 0, n0, 0).unwrap();
        assert_eq!(order(&b).unwrap(), vec![1, 2, 0]);
    }

    #[test]
    fn cycle_is_named_in_edge_order_from_smallest_id() {
        // src -> c -> a -> b -> c, plus a sink hanging off b that is blocked but not on
        // the cycle.
        let mut b = builder();
        let src = node(&mut b, "src", 0, 1, A);
        let a = node(&mut b, "a", 1, 1, A);
        let bb = node(&mut b, "b", 1, 2, A);
        let c = node(&mut b, "c", 1, 1, A);
        let sink = node(&mut b, "sink", 1, 0, A);
        b.connect(src, 0, c, 0).unwrap();
        b.connect(c, 0, a, 0).unwrap();
        b.connect(a, 0, bb, 0).unwrap();
        b.connect(bb, 0, c, 0).unwrap();
        b.connect(bb, 1, sink, 0).unwrap();
        assert_eq!(order(&b).unwrap_err(), GraphError::Cycle { nodes: vec!["a".into(), "b".into(), "c".into()] });
    }

    #[test]
    fn self_loop_is_a_cycle_of_one() {
        let mut b = builder();
        let a = node(&mut b, "a", 1, 1, A);
        b.connect(a, 0, a, 0).unwrap();
        assert_eq!(order(&b).unwrap_err(), GraphError::Cycle { nodes: vec!["a".into()] });
    }

    #[test]
    fn walk_starting_behind_a_cycle_reports_only_the_cycle() {
        // 0 (sink, smallest id, unplaced) <- 1 <- 2 <- 1: the walk starts at 0, which is not
        // on the cycle.
        let mut b = builder();
        let n0 = node(&mut b, "sink", 1, 0, A);
        let n1 = node(&mut b, "x", 1, 1, A);
        let n2 = node(&mut b, "y", 1, 1, A);
        b.connect(n1, 0, n0, 0).unwrap();
        b.connect(n2, 0, n1, 0).unwrap();
        b.connect(n1, 0, n2, 0).unwrap();
        assert_eq!(order(&b).unwrap_err(), GraphError::Cycle { nodes: vec!["x".into(), "y".into()] });
    }
}
