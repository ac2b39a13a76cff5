//! Arbitrary sequences of engine commands on a driven engine: partitions added and
//! removed, live edits (nodes, graph inputs and outputs, connections, messages) committed
//! or dropped, parameters, host audio and packets pushed, cycles run. Every refusal must be
//! a typed error; no node may panic on a worker (a panic would mark its partition
//! faulted); and the engine keeps running cycles whatever was refused before.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::codec::{DecodeNode, EncodeNode, G711CodecDecoder, G711CodecEncoder, SwitchEncoder};
use rvoip_media_nodes::mixer::{Mixer, MixerMembership};
use rvoip_media_nodes::{G711Law, Gain, LevelMeter, ToneSource};

const RATE: u32 = 8000;

#[derive(Arbitrary, Debug)]
enum NodeKind {
    Gain,
    Meter,
    Tone,
    Mixer(u8),
    Decode(bool),
    Encode(bool),
    AudioIn,
    AudioOut,
    PacketIn(bool),
    PacketOut(bool),
    ControlIn,
}

#[derive(Arbitrary, Debug)]
enum EditOp {
    Add(NodeKind),
    Remove(u8),
    Connect(u8, u8, u8, u8),
    Disconnect(u8, u8, u8, u8),
    Join(u8, u8),
    Leave(u8, u8),
    Switch(u8, bool),
    WrongMessage(u8),
}

#[derive(Arbitrary, Debug)]
enum Op {
    NewPartition,
    RemovePartition(u8),
    /// Edit a partition: the ops, then commit (or drop the edit unapplied).
    Edit(u8, Vec<EditOp>, bool),
    Param(u8, u8, u32, f32),
    PushAudio(u8, u8, f32),
    PushPacket(u8, u8, u16, u32, Vec<u8>),
    Cycles(u8),
}

struct Part {
    id: PartitionId,
    keys: Vec<NodeKey>,
    names: u32,
    /// Endpoints named in the current edit, taken from its `PartitionIo` at commit.
    new_ins: Vec<String>,
    new_outs: Vec<String>,
    audio_in: Vec<AudioIn>,
    packet_in: Vec<PacketIn>,
    audio_out: Vec<AudioOut>,
    packet_out: Vec<PacketOut>,
}

impl Part {
    fn new(id: PartitionId) -> Self {
        Part {
            id,
            keys: Vec::new(),
            names: 0,
            new_ins: Vec::new(),
            new_outs: Vec::new(),
            audio_in: Vec::new(),
            packet_in: Vec::new(),
            audio_out: Vec::new(),
            packet_out: Vec::new(),
        }
    }

    fn take(&mut self, io: &mut PartitionIo) {
        for n in std::mem::take(&mut self.new_ins) {
            self.audio_in.extend(io.take_audio_in(&n));
            self.packet_in.extend(io.take_packet_in(&n));
        }
        for n in std::mem::take(&mut self.new_outs) {
            self.audio_out.extend(io.take_audio_out(&n));
            self.packet_out.extend(io.take_packet_out(&n));
        }
    }

    fn drain(&mut self) {
        for o in &mut self.audio_out {
            while o.pop().is_some() {}
        }
        for o in &mut self.packet_out {
            while o.pop().is_some() {}
        }
    }
}

fn audio() -> PortKind {
    PortKind::Audio(AudioFormat::mono(RATE))
}

fn law(a: bool) -> G711Law {
    if a {
        G711Law::Alaw
    } else {
        G711Law::Ulaw
    }
}

fn pick<T: Copy>(v: &[T], i: u8) -> Option<T> {
    (!v.is_empty()).then(|| v[usize::from(i) % v.len()])
}

/// A tiny graph to start a partition from: tone -> out.
fn seed_graph() -> CompiledGraph {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let t = b.add_node("tone", Box::new(ToneSource::new(AudioFormat::mono(RATE), 440.0, 0.1).unwrap()));
    let o = b.add_output("seed.out", audio());
    b.connect(t, 0, o, 0).unwrap();
    b.build().unwrap()
}

fn apply(edit: &mut Edit<'_>, part: &mut Part, op: &EditOp) {
    let q = Quantum::MS_10;
    let name = format!("n{}", part.names);
    part.names += 1;
    match op {
        EditOp::Add(kind) => {
            let added = match kind {
                NodeKind::Gain => edit.add_node(name, Box::new(Gain::new(AudioFormat::mono(RATE)))),
                NodeKind::Meter => edit.add_node(name, Box::new(LevelMeter::new(AudioFormat::mono(RATE)))),
                NodeKind::Tone => match ToneSource::new(AudioFormat::mono(RATE), 300.0, 0.2) {
                    Ok(t) => edit.add_node(name, Box::new(t)),
                    Err(_) => return,
                },
                NodeKind::Mixer(n) => {
                    edit.add_node(name, Box::new(Mixer::with_capacity(usize::from(*n % 8), AudioFormat::mono(RATE))))
                }
                NodeKind::Decode(a) => {
                    let d = DecodeNode::new(Box::new(G711CodecDecoder::new(law(*a))), q).unwrap();
                    edit.add_node(name, Box::new(d))
                }
                NodeKind::Encode(a) => {
                    let e = EncodeNode::new(Box::new(G711CodecEncoder::new(law(*a))), 20_000, q).unwrap();
                    edit.add_node(name, Box::new(e))
                }
                NodeKind::AudioIn => {
                    part.new_ins.push(name.clone());
                    edit.add_input(name, audio())
                }
                NodeKind::AudioOut => {
                    part.new_outs.push(name.clone());
                    edit.add_output(name, audio())
                }
                NodeKind::PacketIn(a) => {
                    part.new_ins.push(name.clone());
                    edit.add_input(name, PortKind::Packet(law(*a).packet_format()))
                }
                NodeKind::PacketOut(a) => {
                    part.new_outs.push(name.clone());
                    edit.add_output(name, PortKind::Packet(law(*a).packet_format()))
                }
                NodeKind::ControlIn => edit.add_input(name, PortKind::Control),
            };
            if let Ok(k) = added {
                part.keys.push(k);
            }
        }
        EditOp::Remove(i) => {
            if let Some(k) = pick(&part.keys, *i) {
                let _ = edit.remove(k);
            }
        }
        EditOp::Connect(a, ap, b, bp) | EditOp::Disconnect(a, ap, b, bp) => {
            let (Some(from), Some(to)) = (pick(&part.keys, *a), pick(&part.keys, *b)) else { return };
            let (fp, tp) = (usize::from(*ap % 4), usize::from(*bp % 4));
            let _ = if matches!(op, EditOp::Connect(..)) {
                edit.connect(from, fp, to, tp)
            } else {
                edit.disconnect(from, fp, to, tp)
            };
        }
        EditOp::Join(i, p) | EditOp::Leave(i, p) => {
            if let Some(k) = pick(&part.keys, *i) {
                let p = usize::from(*p % 10);
                let m =
                    if matches!(op, EditOp::Join(..)) { MixerMembership::Join(p) } else { MixerMembership::Leave(p) };
                let _ = edit.message(k, m);
            }
        }
        EditOp::Switch(i, a) => {
            if let Some(k) = pick(&part.keys, *i) {
                let s = SwitchEncoder::new(Box::new(G711CodecEncoder::new(law(*a))), 20_000, q).unwrap();
                let _ = edit.message(k, s);
            }
        }
        EditOp::WrongMessage(i) => {
            if let Some(k) = pick(&part.keys, *i) {
                assert!(edit.message(k, "not a message anyone takes").is_err());
            }
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let cfg = EngineConfig {
        command_capacity: 16,
        ring_capacity: 4,
        packet_pool: 256,
        frame_pool: 256,
        ..Default::default()
    };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let mut parts: Vec<Part> = Vec::new();
    for op in ops.iter().take(64) {
        match op {
            Op::NewPartition => {
                if parts.len() < 4 {
                    if let Ok(mut h) = engine.add_partition(seed_graph()) {
                        let mut p = Part::new(h.id);
                        p.new_outs.push("seed.out".into());
                        p.take(&mut h.io);
                        parts.push(p);
                    }
                }
            }
            Op::RemovePartition(i) => {
                if !parts.is_empty() {
                    let p = parts.remove(usize::from(*i) % parts.len());
                    // Once its removal is accepted, edits of the partition are typed errors
                    // (a full command queue refuses the removal itself, and the partition stays).
                    if engine.remove_partition(p.id).is_ok() {
                        assert!(engine.edit(p.id).is_err(), "an edit of a removed partition was accepted");
                    } else {
                        parts.push(p);
                    }
                }
            }
            Op::Edit(i, edit_ops, commit) => {
                if parts.is_empty() {
                    continue;
                }
                let n = parts.len();
                let part = &mut parts[usize::from(*i) % n];
                let Ok(mut edit) = engine.edit(part.id) else { continue };
                for e in edit_ops.iter().take(16) {
                    apply(&mut edit, part, e);
                }
                if *commit {
                    if let Ok(mut done) = edit.commit() {
                        part.take(&mut done.io);
                    }
                }
                part.new_ins.clear();
                part.new_outs.clear();
            }
            Op::Param(i, node, id, v) => {
                if let Some(p) = pick(&parts.iter().map(|p| p.id).collect::<Vec<_>>(), *i) {
                    let part = parts.iter().find(|x| x.id == p).unwrap();
                    if let Some(k) = pick(&part.keys, *node) {
                        let _ = engine.set_param(p, k, *id % 4, *v);
                    }
                }
            }
            Op::PushAudio(i, k, v) => {
                let n = parts.len().max(1);
                if let Some(part) = parts.get_mut(usize::from(*i) % n) {
                    let n = part.audio_in.len();
                    if let Some(a) = part.audio_in.get_mut(usize::from(*k) % n.max(1)) {
                        let _ = a.push(&[*v; 80]);
                    }
                }
            }
            Op::PushPacket(i, k, seq, ts, payload) => {
                let n = parts.len().max(1);
                if let Some(part) = parts.get_mut(usize::from(*i) % n) {
                    let n = part.packet_in.len();
                    if let Some(p) = part.packet_in.get_mut(usize::from(*k) % n.max(1)) {
                        let meta = PacketMeta { sequence: *seq, timestamp: *ts, ..Default::default() };
                        let _ = p.push(meta, payload);
                    }
                }
            }
            Op::Cycles(n) => {
                for _ in 0..(n % 8) {
                    driver.process_cycle();
                    parts.iter_mut().for_each(Part::drain);
                }
                engine.poll();
            }
        }
        for p in &parts {
            if let Ok(st) = engine.partition_stats(p.id) {
                assert_eq!(st.faulted, 0, "a node panicked on the worker");
            }
        }
    }
    driver.process_cycle();
    engine.poll();
});
