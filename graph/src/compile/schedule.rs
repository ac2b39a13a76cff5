//! Pass 4: the step list, with buffers still named by value.
//!
//! A *value* is what one output port or one sum step produces in a cycle. Naming values
//! instead of buffers keeps this pass about order only; [`super::buffers`] maps values to
//! arena indices afterwards.

use super::port_len;
use super::topology::{Source, Topology};
use crate::builder::{GraphBuilder, Role};
use crate::format::{BufferKind, PortKind};
use crate::node::NodeId;

/// A value produced once per cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ValueId(pub(crate) u32);

impl ValueId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// What buffer a value needs: its arena and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Which arena.
    pub(crate) kind: BufferKind,
    /// Samples per quantum for audio, 1 otherwise.
    pub(crate) len: u32,
}

/// What an input port reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    /// A value written earlier in the cycle.
    Value(ValueId),
    /// The silent slot (an unconnected optional input).
    Silence(Shape),
}

/// A step over values; mirrors [`crate::Step`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum VStep {
    /// Run a node.
    Node {
        /// The node.
        node: NodeId,
        /// One operand per input port.
        inputs: Vec<Operand>,
        /// One fresh value per output port.
        outputs: Vec<ValueId>,
    },
    /// Sum several values into a fresh one.
    Sum {
        /// The summed values, in edge order.
        inputs: Vec<ValueId>,
        /// The sum.
        output: ValueId,
    },
}

/// The schedule of one graph.
#[derive(Debug)]
pub(crate) struct Schedule {
    /// Shape of every value, indexed by [`ValueId`].
    pub(crate) values: Vec<Shape>,
    /// The steps in execution order.
    pub(crate) steps: Vec<VStep>,
    /// Values the host writes before step 0, in declaration order.
    pub(crate) graph_inputs: Vec<(NodeId, ValueId)>,
    /// What the host reads after the last step, in declaration order.
    pub(crate) graph_outputs: Vec<(NodeId, Operand)>,
}

impl Schedule {
    fn new_value(&mut self, shape: Shape) -> ValueId {
        self.values.push(shape);
        ValueId(self.values.len() as u32 - 1)
    }

    /// The shape of `v`.
    pub(crate) fn shape(&self, v: ValueId) -> Shape {
        self.values[v.index()]
    }
}

/// Builds the step list for `order` (a topological order of `g`).
///
/// * Graph inputs get their values first, in declaration (id) order; they emit no step.
/// * A processing node emits, for each input port in index order with more than one edge, a
///   [`VStep::Sum`] of the sources in edge order, then one [`VStep::Node`] reading, per
///   port, the sum, the single source, or silence.
/// * A graph output emits only the sum for its fan-in, if any, at its place in the order.
pub(crate) fn schedule(g: &GraphBuilder, topo: &Topology, order: &[NodeId]) -> Schedule {
    let mut s = Schedule { values: Vec::new(), steps: Vec::new(), graph_inputs: Vec::new(), graph_outputs: Vec::new() };
    // produced[n][p]: the value of output port p of node n, once n is scheduled.
    let mut produced: Vec<Vec<Option<ValueId>>> = g.nodes.iter().map(|n| vec![None; n.spec.outputs.len()]).collect();
    let shape = |kind: PortKind| Shape { kind: kind.buffer_kind(), len: port_len(kind, g.quantum) };

    for (i, n) in g.nodes.iter().enumerate().filter(|(_, n)| n.role == Role::Input) {
        let v = s.new_value(shape(n.spec.outputs[0].kind));
        produced[i][0] = Some(v);
        s.graph_inputs.push((NodeId(i as u32), v));
    }

    for &id in order {
        let n = &g.nodes[id.index()];
        if n.role == Role::Input {
            continue;
        }
        let inputs: Vec<Operand> = n
            .spec
            .inputs
            .iter()
            .zip(&topo.sources[id.index()])
            .map(|(port, sources)| {
                // Sources precede `id` in a topological order, so their values exist.
                let value =
                    |src: &Source| produced[src.node.index()][src.port].expect("source scheduled before reader");
                match sources.as_slice() {
                    [] => Operand::Silence(shape(port.kind)),
                    [one] => Operand::Value(value(one)),
                    many => {
                        let sum = s.new_value(shape(port.kind));
                        s.steps.push(VStep::Sum { inputs: many.iter().map(value).collect(), output: sum });
                        Operand::Value(sum)
                    }
                }
            })
            .collect();
        match n.role {
            Role::Output => s.graph_outputs.push((id, inputs[0])),
            Role::Process => {
                let outputs: Vec<ValueId> = n.spec.outputs.iter().map(|p| s.new_value(shape(p.kind))).collect();
                for (slot, &v) in produced[id.index()].iter_mut().zip(&outputs) {
                    *slot = Some(v);
                }
                s.steps.push(VStep::Node { node: id, inputs, outputs });
            }
            Role::Input => {}
        }
    }
    s.graph_outputs.sort_by_key(|&(node, _)| node);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::sort::topological_order;
    use crate::compile::testing::*;

    fn sched(b: &GraphBuilder) -> Schedule {
        let t = Topology::new(b);
        let order = topological_order(b, &t).unwrap();
        schedule(b, &t, &order)
    }

    fn v(i: u32) -> Operand {
        Operand::Value(ValueId(i))
    }

    #[test]
    fn fan_in_becomes_a_sum_right_before_its_reader() {
        // x, y, z -> m.p0 ; z -> m.p1 (single edge, no sum).
        let mut b = builder();
        let x = node(&mut b, "x", 0, 1, A);
        let y = node(&mut b, "y", 0, 1, A);
        let z = node(&mut b, "z", 0, 1, A);
        let m = node(&mut b, "m", 2, 1, A);
        for src in [y, x, z] {
            b.connect(src, 0, m, 0).unwrap();
        }
        b.connect(z, 0, m, 1).unwrap();
        let s = sched(&b);
        let (vx, vy, vz) = (ValueId(0), ValueId(1), ValueId(2));
        assert_eq!(
            s.steps,
            vec![
                VStep::Node { node: x, inputs: vec![], outputs: vec![vx] },
                VStep::Node { node: y, inputs: vec![], outputs: vec![vy] },
                VStep::Node { node: z, inputs: vec![], outputs: vec![vz] },
                // Edge order, not id order.
                VStep::Sum { inputs: vec![vy, vx, vz], output: ValueId(3) },
                VStep::Node { node: m, inputs: vec![v(3), v(2)], outputs: vec![ValueId(4)] },
            ]
        );
        assert_eq!(s.shape(ValueId(3)), Shape { kind: BufferKind::Audio, len: 80 });
    }

    #[test]
    fn graph_ports_emit_no_steps_except_output_sums() {
        let mut b = builder();
        let out = b.add_output("out", C);
        let i = b.add_input("in", C);
        let g1 = node(&mut b, "g1", 1, 1, C);
        b.connect(i, 0, g1, 0).unwrap();
        b.connect(i, 0, out, 0).unwrap();
        b.connect(g1, 0, out, 0).unwrap();
        let s = sched(&b);
        assert_eq!(s.graph_inputs, vec![(i, ValueId(0))]);
        assert_eq!(
            s.steps,
            vec![
                VStep::Node { node: g1, inputs: vec![v(0)], outputs: vec![ValueId(1)] },
                VStep::Sum { inputs: vec![ValueId(0), ValueId(1)], output: ValueId(2) },
            ]
        );
        assert_eq!(s.graph_outputs, vec![(out, v(2))]);
    }

    #[test]
    fn unconnected_optional_input_reads_silence() {
        let mut b = builder();
        let spec = crate::NodeSpec::new("opt")
            .with_input(crate::PortSpec::optional("side", P))
            .with_output(crate::PortSpec::required("o", C));
        let n = b.add_node("n", Box::new(Dummy(spec)));
        let s = sched(&b);
        assert_eq!(
            s.steps,
            vec![VStep::Node {
                node: n,
                inputs: vec![Operand::Silence(Shape { kind: BufferKind::Packet, len: 1 })],
                outputs: vec![ValueId(0)]
            }]
        );
    }
}
