//! Pass 2: adjacency lists, built once from the validated edge list.

use crate::builder::GraphBuilder;
use crate::node::NodeId;

/// One end of an edge: an output port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Source {
    /// The producing node.
    pub(crate) node: NodeId,
    /// Its output port.
    pub(crate) port: usize,
}

/// Who feeds whom, indexed by node.
#[derive(Debug)]
pub(crate) struct Topology {
    /// `sources[n][p]`: the outputs connected to input port `p` of node `n`, in the order the
    /// edges were added (which is the order a sum step lists them in).
    pub(crate) sources: Vec<Vec<Vec<Source>>>,
    /// `successors[n]`: the destination node of every edge leaving `n`, once per edge, in the
    /// order the edges were added.
    pub(crate) successors: Vec<Vec<NodeId>>,
}

impl Topology {
    /// Builds the lists. `g` must have passed validation (every edge names existing ports).
    pub(crate) fn new(g: &GraphBuilder) -> Self {
        let mut sources: Vec<Vec<Vec<Source>>> =
            g.nodes.iter().map(|n| vec![Vec::new(); n.spec.inputs.len()]).collect();
        let mut successors = vec![Vec::new(); g.nodes.len()];
        for e in &g.edges {
            sources[e.to.index()][e.to_port].push(Source { node: e.from, port: e.from_port });
            successors[e.from.index()].push(e.to);
        }
        Topology { sources, successors }
    }

    /// Number of incoming edges of every node.
    pub(crate) fn in_degrees(&self) -> Vec<usize> {
        self.sources.iter().map(|ports| ports.iter().map(Vec::len).sum()).collect()
    }

    /// Every source feeding any input port of `node`, port by port.
    pub(crate) fn all_sources(&self, node: NodeId) -> impl Iterator<Item = Source> + '_ {
        self.sources[node.index()].iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testing::*;

    #[test]
    fn lists_sources_per_port_and_successors_per_edge() {
        let mut b = builder();
        let x = node(&mut b, "x", 0, 2, A);
        let y = node(&mut b, "y", 2, 1, A);
        b.connect(x, 1, y, 0).unwrap();
        b.connect(x, 0, y, 0).unwrap();
        b.connect(x, 0, y, 1).unwrap();
        let t = Topology::new(&b);
        assert_eq!(t.sources[y.index()][0], vec![Source { node: x, port: 1 }, Source { node: x, port: 0 }]);
        assert_eq!(t.sources[y.index()][1], vec![Source { node: x, port: 0 }]);
        assert!(t.sources[x.index()].is_empty());
        assert_eq!(t.successors[x.index()], vec![y, y, y]);
        assert_eq!(t.in_degrees(), vec![0, 3]);
        assert_eq!(t.all_sources(y).count(), 3);
    }
}
