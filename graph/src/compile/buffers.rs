//! Pass 5: buffer assignment with reuse after the last reader.
//!
//! Time is counted in *points*: point 0 is before step 0 (the host has written the graph
//! inputs), point `i + 1` is step `i`, and point `steps + 1` is the end of the cycle (the
//! host reads the graph outputs). Every value lives over a closed range of points,
//! `[birth, death]`, and needs its own buffer over that range. At each point the values born
//! there are allocated first and the values dying there are released after, so two values
//! whose ranges share a point never share a buffer; in particular a step's outputs never
//! alias its inputs.

use super::schedule::{Operand, Schedule, VStep, ValueId};
use crate::format::BufferKind;
use crate::plan::BufferRef;
use std::collections::BTreeSet;

/// The closed range of points over which a value needs its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// The point that writes it: 0 for graph inputs, `i + 1` for step `i`.
    pub(crate) birth: usize,
    /// The last point that reads it: its last reader step, the end of the cycle for values
    /// graph outputs read and for graph inputs nobody reads, its birth for unread outputs.
    pub(crate) death: usize,
}

/// The lifetime of every value of `s`, indexed by [`ValueId`].
pub(crate) fn lifetimes(s: &Schedule) -> Vec<Lifetime> {
    let end = s.steps.len() + 1;
    let mut birth = vec![0; s.values.len()];
    let mut last_read: Vec<Option<usize>> = vec![None; s.values.len()];
    for (i, step) in s.steps.iter().enumerate() {
        let point = i + 1;
        let (reads, writes): (Vec<ValueId>, &[ValueId]) = match step {
            VStep::Node { inputs, outputs, .. } => (
                inputs.iter().filter_map(|op| if let Operand::Value(v) = op { Some(*v) } else { None }).collect(),
                outputs,
            ),
            VStep::Sum { inputs, output } => (inputs.clone(), std::slice::from_ref(output)),
        };
        for v in reads {
            last_read[v.0 as usize] = Some(point);
        }
        for v in writes {
            birth[v.0 as usize] = point;
        }
    }
    for (_, op) in &s.graph_outputs {
        if let Operand::Value(v) = op {
            last_read[v.0 as usize] = Some(end);
        }
    }
    // An input nobody reads stays reserved for the whole cycle: the host writes it.
    for &(_, v) in &s.graph_inputs {
        last_read[v.0 as usize].get_or_insert(end);
    }
    birth.iter().zip(last_read).map(|(&birth, last)| Lifetime { birth, death: last.unwrap_or(birth) }).collect()
}

/// Lowest-index-first allocator over the three arenas.
#[derive(Debug, Default)]
struct Allocator {
    /// Released indices per kind.
    free: [BTreeSet<u32>; 3],
    /// Indices handed out so far per kind: the arena size.
    count: [u32; 3],
}

impl Allocator {
    fn slot(kind: BufferKind) -> usize {
        match kind {
            BufferKind::Audio => 0,
            BufferKind::Packet => 1,
            BufferKind::Control => 2,
        }
    }

    /// The lowest free index of `kind`, growing the arena when none is free.
    fn alloc(&mut self, kind: BufferKind) -> u32 {
        let k = Self::slot(kind);
        self.free[k].pop_first().unwrap_or_else(|| {
            self.count[k] += 1;
            self.count[k] - 1
        })
    }

    fn release(&mut self, kind: BufferKind, index: u32) {
        self.free[Self::slot(kind)].insert(index);
    }
}

/// The buffer of every value and the arena sizes.
#[derive(Debug)]
pub(crate) struct Assignment {
    refs: Vec<BufferRef>,
    counts: [usize; 3],
}

impl Assignment {
    /// The buffer of `v`.
    pub(crate) fn buffer(&self, v: ValueId) -> BufferRef {
        self.refs[v.0 as usize]
    }

    /// Buffers needed per kind: audio, packet, control.
    pub(crate) fn counts(&self) -> [usize; 3] {
        self.counts
    }
}

/// Assigns buffers point by point: allocate the values born at the point (graph inputs in
/// declaration order, a step's outputs in port order), then release the values that die
/// there.
pub(crate) fn assign(s: &Schedule) -> Assignment {
    let life = lifetimes(s);
    let points = s.steps.len() + 2;
    let mut born: Vec<Vec<ValueId>> = vec![Vec::new(); points];
    let mut dying: Vec<Vec<ValueId>> = vec![Vec::new(); points];
    // Values are numbered in the order the schedule created them: graph inputs in
    // declaration order, then each step's outputs in port order.
    for (i, l) in life.iter().enumerate() {
        born[l.birth].push(ValueId(i as u32));
        dying[l.death].push(ValueId(i as u32));
    }
    let mut alloc = Allocator::default();
    let mut index = vec![0u32; s.values.len()];
    for point in 0..points {
        for &v in &born[point] {
            index[v.0 as usize] = alloc.alloc(s.shape(v).kind);
        }
        for &v in &dying[point] {
            alloc.release(s.shape(v).kind, index[v.0 as usize]);
        }
    }
    let refs = s
        .values
        .iter()
        .zip(&index)
        .map(|(shape, &index)| BufferRef { kind: shape.kind, index, len: shape.len })
        .collect();
    Assignment { refs, counts: alloc.count.map(|c| c as usize) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::schedule::Shape;
    use crate::node::NodeId;

    const AUDIO: Shape = Shape { kind: BufferKind::Audio, len: 80 };
    const CTRL: Shape = Shape { kind: BufferKind::Control, len: 1 };

    fn node(n: u32, inputs: &[u32], outputs: &[u32]) -> VStep {
        VStep::Node {
            node: NodeId(n),
            inputs: inputs.iter().map(|&v| Operand::Value(ValueId(v))).collect(),
            outputs: outputs.iter().map(|&v| ValueId(v)).collect(),
        }
    }

    fn indices(s: &Schedule) -> (Vec<u32>, [usize; 3]) {
        let a = assign(s);
        ((0..s.values.len() as u32).map(|v| a.buffer(ValueId(v)).index).collect(), a.counts())
    }

    #[test]
    fn chain_reuses_after_last_reader_but_never_in_place() {
        // v0 -> [v1] -> [v2] -> [v3]: each step needs its input and its output live.
        let s = Schedule {
            values: vec![AUDIO; 4],
            steps: vec![node(1, &[0], &[1]), node(2, &[1], &[2]), node(3, &[2], &[3])],
            graph_inputs: vec![(NodeId(0), ValueId(0))],
            graph_outputs: vec![(NodeId(4), Operand::Value(ValueId(3)))],
        };
        assert_eq!(
            lifetimes(&s),
            vec![
                Lifetime { birth: 0, death: 1 },
                Lifetime { birth: 1, death: 2 },
                Lifetime { birth: 2, death: 3 },
                Lifetime { birth: 3, death: 4 },
            ]
        );
        assert_eq!(indices(&s), (vec![0, 1, 0, 1], [2, 0, 0]));
    }

    #[test]
    fn unread_values_are_scratch_and_unread_inputs_are_kept() {
        // Input v0 is never read; step 0 writes v1 (unread) and v2; step 1 reads v2.
        let s = Schedule {
            values: vec![AUDIO; 4],
            steps: vec![node(1, &[], &[1, 2]), node(2, &[2], &[3])],
            graph_inputs: vec![(NodeId(0), ValueId(0))],
            graph_outputs: vec![],
        };
        let life = lifetimes(&s);
        assert_eq!(life[0], Lifetime { birth: 0, death: 3 });
        assert_eq!(life[1], Lifetime { birth: 1, death: 1 });
        assert_eq!(life[3], Lifetime { birth: 2, death: 2 });
        // v1 takes 1 and frees it after step 0; v3 reuses 1 while v2 (2) is read.
        assert_eq!(indices(&s), (vec![0, 1, 2, 1], [3, 0, 0]));
    }

    #[test]
    fn kinds_are_counted_separately() {
        let s = Schedule {
            values: vec![AUDIO, CTRL, AUDIO, CTRL],
            steps: vec![node(0, &[], &[0, 1]), node(1, &[0, 1], &[2, 3])],
            graph_inputs: vec![],
            graph_outputs: vec![],
        };
        assert_eq!(indices(&s), (vec![0, 0, 1, 1], [2, 0, 2]));
    }

    #[test]
    fn sum_output_differs_from_its_inputs_and_outlives_them() {
        let s = Schedule {
            values: vec![CTRL; 4],
            steps: vec![
                node(0, &[], &[0]),
                node(1, &[], &[1]),
                VStep::Sum { inputs: vec![ValueId(0), ValueId(1)], output: ValueId(2) },
                node(2, &[2], &[3]),
            ],
            graph_inputs: vec![],
            graph_outputs: vec![(NodeId(3), Operand::Value(ValueId(2)))],
        };
        // The sum (v2) feeds both node 2 and a graph output: it lives to the end.
        assert_eq!(lifetimes(&s)[2], Lifetime { birth: 3, death: 5 });
        assert_eq!(indices(&s), (vec![0, 1, 2, 0], [0, 0, 3]));
    }
}
