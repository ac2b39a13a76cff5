//! The compiler: validate -> Kahn order -> schedule with fan-in sums -> buffer assignment ->
//! latency.

use crate::builder::{GraphBuilder, Role};
use crate::error::GraphError;
use crate::format::{BufferKind, PortKind};
use crate::node::NodeId;
use crate::plan::{BufferCounts, BufferRef, Plan, PlanPort, Step};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashSet};

pub(crate) fn compile(g: &GraphBuilder) -> Result<Plan, GraphError> {
    validate(g)?;
    let order = kahn(g)?;
    let (steps, buffers, inputs, outputs) = schedule(g, &order)?;
    Ok(Plan { quantum: g.quantum, order, steps, buffers, inputs, outputs })
}

fn validate(g: &GraphBuilder) -> Result<(), GraphError> {
    let mut names = HashSet::new();
    for n in &g.nodes {
        if !names.insert(n.name.as_str()) {
            return Err(GraphError::DuplicateName(n.name.clone()));
        }
        for p in n.spec.inputs.iter().chain(&n.spec.outputs) {
            if let PortKind::Audio(f) = p.kind {
                if f.samples_per_quantum(g.quantum).is_none() {
                    return Err(GraphError::QuantumMismatch {
                        node: n.name.clone(),
                        port: p.name.to_string(),
                        rate: f.rate,
                        quantum_us: g.quantum.micros(),
                    });
                }
            }
        }
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for (pi, p) in n.spec.inputs.iter().enumerate() {
            let connected = g.edges.iter().any(|e| e.to.index() == i && e.to_port == pi);
            if p.required && !connected {
                return Err(GraphError::DanglingInput { node: n.name.clone(), port: p.name.to_string() });
            }
        }
    }
    Ok(())
}

fn kahn(g: &GraphBuilder) -> Result<Vec<NodeId>, GraphError> {
    let n = g.nodes.len();
    let mut indeg = vec![0usize; n];
    for e in &g.edges {
        indeg[e.to.index()] += 1;
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| indeg[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(NodeId(i as u32));
        for e in g.edges.iter().filter(|e| e.from.index() == i) {
            indeg[e.to.index()] -= 1;
            if indeg[e.to.index()] == 0 {
                ready.push(Reverse(e.to.index()));
            }
        }
    }
    if order.len() < n {
        return Err(GraphError::Cycle { nodes: find_cycle(g, &indeg) });
    }
    Ok(order)
}

/// Names of the nodes of one cycle among the nodes Kahn could not order.
fn find_cycle(g: &GraphBuilder, indeg: &[usize]) -> Vec<String> {
    // Every unordered node has an unordered predecessor; walking predecessors must revisit.
    let start = indeg.iter().position(|&d| d > 0).unwrap_or(0);
    let mut path = vec![start];
    loop {
        let cur = *path.last().unwrap_or(&start);
        let pred = g.edges.iter().find(|e| e.to.index() == cur && indeg[e.from.index()] > 0).map(|e| e.from.index());
        let Some(p) = pred else { break };
        if let Some(pos) = path.iter().position(|&x| x == p) {
            let mut cyc: Vec<usize> = path[pos..].to_vec();
            cyc.reverse();
            return cyc.into_iter().map(|i| g.nodes[i].name.clone()).collect();
        }
        path.push(p);
    }
    vec![g.nodes[start].name.clone()]
}

type Schedule = (Vec<Step>, BufferCounts, Vec<PlanPort>, Vec<PlanPort>);

struct Allocator {
    free: [BTreeSet<u32>; 3],
    count: [u32; 3],
}

impl Allocator {
    fn slot(kind: BufferKind) -> usize {
        kind as usize
    }
    fn alloc(&mut self, kind: BufferKind) -> u32 {
        let k = Self::slot(kind);
        if let Some(&i) = self.free[k].iter().next() {
            self.free[k].remove(&i);
            i
        } else {
            self.count[k] += 1;
            self.count[k] - 1
        }
    }
    fn release(&mut self, kind: BufferKind, i: u32) {
        self.free[Self::slot(kind)].insert(i);
    }
}

fn buffer_ref(kind: PortKind, index: u32, g: &GraphBuilder) -> BufferRef {
    match kind {
        PortKind::Audio(f) => BufferRef::audio(index, f.samples_per_quantum(g.quantum).unwrap_or(0) as u32),
        PortKind::Packet(_) => BufferRef::packet(index),
        PortKind::Control => BufferRef::control(index),
    }
}

fn schedule(g: &GraphBuilder, order: &[NodeId]) -> Result<Schedule, GraphError> {
    let pos: Vec<usize> = {
        let mut p = vec![0; g.nodes.len()];
        for (i, id) in order.iter().enumerate() {
            p[id.index()] = i;
        }
        p
    };
    // Remaining readers of each (node, output port); graph outputs hold theirs to the end.
    let mut readers: Vec<Vec<usize>> = g.nodes.iter().map(|n| vec![0; n.spec.outputs.len()]).collect();
    for e in &g.edges {
        if g.nodes[e.to.index()].role != Role::Output {
            readers[e.from.index()][e.from_port] += 1;
        } else {
            readers[e.from.index()][e.from_port] += usize::MAX / 4;
        }
    }
    let _ = pos;
    let mut alloc = Allocator { free: Default::default(), count: [0; 3] };
    let mut out_buf: Vec<Vec<Option<BufferRef>>> = g.nodes.iter().map(|n| vec![None; n.spec.outputs.len()]).collect();
    let mut steps = Vec::new();
    let mut audio_len = 0usize;
    // Graph inputs are written before the cycle: their buffers come first.
    for (i, n) in g.nodes.iter().enumerate().filter(|(_, n)| n.role == Role::Input) {
        let kind = n.spec.outputs[0].kind;
        let r = buffer_ref(kind, alloc.alloc(kind.buffer_kind()), g);
        out_buf[i][0] = Some(r);
    }
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut latency = vec![0u64; g.nodes.len()];
    for &id in order {
        let i = id.index();
        let n = &g.nodes[i];
        for p in n.spec.inputs.iter().chain(&n.spec.outputs) {
            if let PortKind::Audio(f) = p.kind {
                audio_len = audio_len.max(f.samples_per_quantum(g.quantum).unwrap_or(0));
            }
        }
        let lat_in = g.edges.iter().filter(|e| e.to == id).map(|e| latency[e.from.index()]).max().unwrap_or(0);
        latency[i] = lat_in + n.spec.latency_ns;
        // Resolve inputs, inserting sums for fan-in.
        let mut in_refs = Vec::with_capacity(n.spec.inputs.len());
        let mut consumed: Vec<(usize, usize)> = Vec::new();
        for (pi, p) in n.spec.inputs.iter().enumerate() {
            let srcs: Vec<_> = g.edges.iter().filter(|e| e.to == id && e.to_port == pi).collect();
            let r = match srcs.len() {
                0 => BufferRef::silence(p.kind.buffer_kind(), buffer_ref(p.kind, 0, g).len),
                1 => out_buf[srcs[0].from.index()][srcs[0].from_port].expect("source scheduled earlier"),
                _ => {
                    let sum_in: Vec<BufferRef> =
                        srcs.iter().map(|e| out_buf[e.from.index()][e.from_port].expect("scheduled")).collect();
                    let out = buffer_ref(p.kind, alloc.alloc(p.kind.buffer_kind()), g);
                    steps.push(Step::Sum { inputs: sum_in, output: out });
                    for e in &srcs {
                        release_reader(&mut readers, &out_buf, &mut alloc, e.from.index(), e.from_port);
                    }
                    if n.role != Role::Output {
                        consumed.push((usize::MAX, out.index as usize));
                    }
                    out
                }
            };
            if srcs.len() == 1 {
                consumed.push((srcs[0].from.index(), srcs[0].from_port));
            }
            in_refs.push(r);
        }
        match n.role {
            Role::Input => {
                let r = out_buf[i][0].expect("allocated above");
                inputs.push(PlanPort {
                    name: n.name.clone(),
                    node: id,
                    kind: n.spec.outputs[0].kind,
                    buffer: r,
                    latency_ns: 0,
                });
                if readers[i][0] == 0 {
                    // Unread input: keep its buffer reserved for the whole cycle.
                }
            }
            Role::Output => {
                outputs.push(PlanPort {
                    name: n.name.clone(),
                    node: id,
                    kind: n.spec.inputs[0].kind,
                    buffer: in_refs[0],
                    latency_ns: latency[i],
                });
            }
            Role::Process => {
                let mut out_refs = Vec::with_capacity(n.spec.outputs.len());
                for p in &n.spec.outputs {
                    out_refs.push(buffer_ref(p.kind, alloc.alloc(p.kind.buffer_kind()), g));
                }
                for (pi, r) in out_refs.iter().enumerate() {
                    out_buf[i][pi] = Some(*r);
                }
                steps.push(Step::Node { node: id, inputs: in_refs.clone(), outputs: out_refs.clone() });
                for (from, port) in consumed {
                    if from == usize::MAX {
                        // A fan-in sum buffer read only by this step.
                        let r = in_refs.iter().find(|r| r.index as usize == port && !r.is_silence()).copied();
                        if let Some(r) = r {
                            alloc.release(r.kind, r.index);
                        }
                    } else {
                        release_reader(&mut readers, &out_buf, &mut alloc, from, port);
                    }
                }
                for (pi, r) in out_refs.iter().enumerate() {
                    if readers[i][pi] == 0 {
                        alloc.release(r.kind, r.index);
                    }
                }
            }
        }
    }
    inputs.sort_by_key(|p| p.node);
    outputs.sort_by_key(|p| p.node);
    let buffers = BufferCounts {
        audio: alloc.count[0] as usize,
        packet: alloc.count[1] as usize,
        control: alloc.count[2] as usize,
        audio_len,
    };
    Ok((steps, buffers, inputs, outputs))
}

fn release_reader(
    readers: &mut [Vec<usize>],
    out_buf: &[Vec<Option<BufferRef>>],
    alloc: &mut Allocator,
    node: usize,
    port: usize,
) {
    let left = &mut readers[node][port];
    *left = left.saturating_sub(1);
    if *left == 0 {
        if let Some(r) = out_buf[node][port] {
            alloc.release(r.kind, r.index);
        }
    }
}
