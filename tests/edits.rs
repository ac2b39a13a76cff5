//! Live edits, messages, telemetry, bursts and endpoint abandonment, in driven mode so
//! every cycle is known: what an edit keeps, what it refuses, and what the host sees.

mod common;

use common::{mono8k, Scale};
use rvoip_media_core::engine::{EndpointError, Refusal};
use rvoip_media_core::prelude::*;
use rvoip_media_graph::{MessageError, NodeKey};
use std::any::Any;

/// Counts cycles: output sample k of cycle n is `n`. Its state is the count, so a node that
/// is rebuilt (or runs a cycle twice, or misses one) shows at once. Takes a `u32` message
/// (a new count) and publishes `count`.
struct Counter {
    n: u32,
}

impl Processor for Counter {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("counter")
            .with_output(PortSpec::required("out", PortKind::Audio(mono8k())))
            .with_message::<u32>()
            .with_telemetry(&["count"])
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        io.audio_out(0).fill(self.n as f32);
        self.n += 1;
    }
    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let v = msg.downcast_mut::<u32>().ok_or(MessageError::WrongType)?;
        if *v == u32::MAX {
            return Err(MessageError::Invalid("no such count"));
        }
        std::mem::swap(&mut self.n, v);
        Ok(())
    }
    fn telemetry(&self, out: &mut [f64]) {
        out[0] = f64::from(self.n);
    }
}

/// Records the packets of each cycle: how many, their sequence numbers and arrival times.
struct Recorder;

impl Processor for Recorder {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("recorder")
            .with_input(PortSpec::required("in", PortKind::Packet(PCMU)))
            .with_output(PortSpec::required("out", PortKind::Audio(mono8k())))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let packets = io.packets_in(0);
        let out = io.audio_out(0);
        out.fill(-1.0);
        out[0] = packets.len() as f32;
        for (k, p) in packets.iter().enumerate() {
            out[1 + 2 * k] = f32::from(p.meta.sequence);
            out[2 + 2 * k] = p.meta.arrival_ns as f32;
        }
    }
}

const PCMU: PacketFormat = PacketFormat { encoding: "PCMU", clock_rate: 8000, channels: 1 };

fn engine() -> (Engine, Driver) {
    Engine::driven(EngineConfig { command_capacity: 8, telemetry_interval: 1, ..Default::default() }).unwrap()
}

/// counter -> out.
fn counter_graph() -> CompiledGraph {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let c = b.add_node("counter", Box::new(Counter { n: 0 }));
    let o = b.add_output("out", PortKind::Audio(mono8k()));
    b.connect(c, 0, o, 0).unwrap();
    b.build().unwrap()
}

fn value(out: &mut AudioOut) -> f32 {
    out.pop().expect("a frame every cycle").samples()[0]
}

#[test]
fn an_edit_keeps_untouched_nodes_and_loses_or_repeats_no_cycle() {
    let (engine, mut driver) = engine();
    let mut part = engine.add_partition(counter_graph()).unwrap();
    let mut out = part.io.take_audio_out("out").unwrap();
    for n in 0..5 {
        driver.process_cycle();
        assert_eq!(value(&mut out), n as f32);
    }
    // Add a gain branch to a new output while it runs.
    let mut edit = engine.edit(part.id).unwrap();
    let counter = edit.key("counter").unwrap();
    let gain = edit.add_node("gain", Box::new(Scale { format: mono8k(), gain: 2.0 })).unwrap();
    let doubled = edit.add_output("doubled", PortKind::Audio(mono8k())).unwrap();
    edit.connect(counter, 0, gain, 0).unwrap();
    edit.connect(gain, 0, doubled, 0).unwrap();
    let mut done = edit.commit().unwrap();
    let mut doubled_out = done.io.take_audio_out("doubled").unwrap();
    for n in 5..10 {
        driver.process_cycle();
        // The counter kept its state: no cycle lost, none repeated.
        assert_eq!(value(&mut out), n as f32);
        // The new branch runs from the cycle the edit applied.
        assert_eq!(value(&mut doubled_out), 2.0 * n as f32);
    }
    assert!(engine.is_done(done.ticket));
    assert_eq!(engine.outcome(done.ticket), Some(Ok(())));
    // Remove the branch again: its output is told, the counter goes on.
    let mut edit = engine.edit(part.id).unwrap();
    edit.remove(gain).unwrap();
    edit.remove_by_name("doubled").unwrap();
    edit.commit().unwrap();
    driver.process_cycle();
    assert_eq!(value(&mut out), 10.0);
    engine.poll();
    assert!(doubled_out.is_abandoned());
    assert!(doubled_out.pop().is_none());
    let st = engine.partition_stats(part.id).unwrap();
    assert_eq!((st.edits, st.cycles, st.errors), (2, 11, 0));
}

#[test]
fn bad_edits_are_typed_errors_and_leave_the_running_plan_untouched() {
    let (engine, mut driver) = engine();
    let mut part = engine.add_partition(counter_graph()).unwrap();
    let mut out = part.io.take_audio_out("out").unwrap();
    driver.process_cycle();
    assert_eq!(value(&mut out), 0.0);
    let counter = engine.node_key(part.id, "counter").unwrap();
    let a = PortKind::Audio(mono8k());

    // A missing port, a format mismatch, a duplicate name: refused at the step.
    let mut edit = engine.edit(part.id).unwrap();
    let s = edit.add_node("s", Box::new(Scale { format: mono8k(), gain: 1.0 })).unwrap();
    assert!(matches!(edit.connect(counter, 3, s, 0), Err(EngineError::Graph(GraphError::NoSuchPort { .. }))));
    let wide = edit.add_input("wide", PortKind::Audio(AudioFormat::mono(16_000))).unwrap();
    let e = edit.connect(wide, 0, s, 0).unwrap_err();
    assert!(e.to_string().contains("'wide.out' produces audio 16000 Hz x1 but 's.in' expects audio 8000 Hz x1"), "{e}");
    assert!(matches!(
        edit.add_node("counter", Box::new(Counter { n: 0 })),
        Err(EngineError::Graph(GraphError::DuplicateName(_)))
    ));
    // A cycle: refused at commit, with the nodes named; nothing was sent.
    let t = edit.add_node("t", Box::new(Scale { format: mono8k(), gain: 1.0 })).unwrap();
    edit.connect(s, 0, t, 0).unwrap();
    edit.connect(t, 0, s, 0).unwrap();
    let e = edit.commit().err().unwrap();
    assert!(matches!(&e, EngineError::Graph(GraphError::Cycle { nodes }) if nodes == &["s", "t"]), "{e}");
    // A dangling required input.
    let mut edit = engine.edit(part.id).unwrap();
    edit.add_node("lonely", Box::new(Scale { format: mono8k(), gain: 1.0 })).unwrap();
    assert!(matches!(edit.commit(), Err(EngineError::Graph(GraphError::DanglingInput { .. }))));
    // A key of a removed node, also after its slot is reused.
    let mut edit = engine.edit(part.id).unwrap();
    let gone = edit.add_node("gone", Box::new(Scale { format: mono8k(), gain: 1.0 })).unwrap();
    edit.remove(gone).unwrap();
    let again = edit.add_output("again", a).unwrap();
    assert_eq!(again.slot(), gone.slot());
    assert!(matches!(edit.connect(gone, 0, again, 0), Err(EngineError::Graph(GraphError::StaleKey(_)))));
    assert!(matches!(edit.remove(gone), Err(EngineError::Graph(GraphError::StaleKey(_)))));
    drop(edit);

    // Nothing of that reached the worker: same plan, same state.
    for n in 1..4 {
        driver.process_cycle();
        assert_eq!(value(&mut out), n as f32);
    }
    assert_eq!(engine.partition_stats(part.id).unwrap().edits, 0);

    // Two edits begun from the same state: the second to commit is refused.
    let mut first = engine.edit(part.id).unwrap();
    let mut second = engine.edit(part.id).unwrap();
    let x = first.add_output("x", a).unwrap();
    first.connect(counter, 0, x, 0).unwrap();
    let y = second.add_output("y", a).unwrap();
    second.connect(counter, 0, y, 0).unwrap();
    first.commit().unwrap();
    assert!(matches!(second.commit(), Err(EngineError::EditConflict(_))));

    // Edits and messages to a removed partition.
    engine.remove_partition(part.id).unwrap();
    assert!(matches!(engine.edit(part.id), Err(EngineError::UnknownPartition(_))));
    assert!(matches!(engine.send_message(part.id, counter, 5u32), Err(EngineError::UnknownPartition(_))));
    assert!(matches!(engine.telemetry(part.id, counter), Err(EngineError::UnknownPartition(_))));
}

#[test]
fn messages_are_type_checked_applied_at_a_cycle_boundary_and_return_what_was_replaced() {
    let (engine, mut driver) = engine();
    let mut part = engine.add_partition(counter_graph()).unwrap();
    let mut out = part.io.take_audio_out("out").unwrap();
    let counter = engine.node_key(part.id, "counter").unwrap();
    let output = engine.node_key(part.id, "out").unwrap();
    driver.process_cycle();
    assert_eq!(value(&mut out), 0.0);

    // The wrong type is refused here, naming what the node takes.
    let e = engine.send_message(part.id, counter, "hello").unwrap_err();
    assert!(e.to_string().contains("does not accept messages of type &str (it accepts: u32)"), "{e}");
    // A graph output has no processor to message.
    assert!(matches!(engine.send_message(part.id, output, 1u32), Err(EngineError::UnknownNode { .. })));

    let t = engine.send_message(part.id, counter, 100u32).unwrap();
    assert_eq!(engine.outcome(t), None, "not applied before the next cycle");
    driver.process_cycle();
    assert_eq!(value(&mut out), 100.0);
    assert_eq!(engine.outcome(t), Some(Ok(())));
    // Content the node refuses: the ticket says so.
    let t = engine.send_message(part.id, counter, u32::MAX).unwrap();
    driver.process_cycle();
    assert_eq!(value(&mut out), 101.0);
    assert_eq!(engine.outcome(t), Some(Err(Refusal::Message(MessageError::Invalid("no such count")))));
    assert_eq!(engine.partition_stats(part.id).unwrap().messages, 2);

    // Telemetry by key and by name.
    driver.process_cycle();
    assert_eq!(engine.telemetry(part.id, counter).unwrap().get("count"), Some(103.0));
    assert_eq!(engine.telemetry_value(part.id, "counter", "count").unwrap(), 103.0);
    let e = engine.telemetry_value(part.id, "counter", "volume").unwrap_err();
    assert!(e.to_string().contains("publishes no value 'volume' (it publishes: count)"), "{e}");

    // A full command queue is an error, never a silent drop.
    let mut sent = 0;
    let err = loop {
        match engine.send_message(part.id, counter, 1u32) {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(sent, 8);
    assert!(matches!(err, EngineError::CommandQueueFull { capacity: 8, .. }));
    let mut edit = engine.edit(part.id).unwrap();
    let late = edit.add_output("late", PortKind::Audio(mono8k())).unwrap();
    edit.connect(counter, 0, late, 0).unwrap();
    assert!(matches!(edit.commit(), Err(EngineError::CommandQueueFull { .. })));
}

#[test]
fn packet_inputs_carry_bursts_in_arrival_order_with_arrival_times() {
    let (engine, mut driver) = engine();
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let rx = b.add_input("rx", PortKind::Packet(PCMU));
    let r = b.add_node("rec", Box::new(Recorder));
    let o = b.add_output("out", PortKind::Audio(mono8k()));
    b.connect(rx, 0, r, 0).unwrap();
    b.connect(r, 0, o, 0).unwrap();
    let mut part = engine.add_partition(b.build().unwrap()).unwrap();
    let mut rx = part.io.take_packet_in("rx").unwrap();
    let mut out = part.io.take_audio_out("out").unwrap();
    // Six packets before one cycle: four (the engine's packets_per_cycle) in this cycle, in
    // order, with their arrival times; the other two in the next.
    for seq in 0..6u16 {
        let meta = PacketMeta { sequence: seq, arrival_ns: 1000 + u64::from(seq), ..Default::default() };
        rx.push(meta, &[0; 10]).unwrap();
    }
    driver.process_cycle();
    let f = out.pop().unwrap();
    assert_eq!(&f.samples()[..9], &[4.0, 0.0, 1000.0, 1.0, 1001.0, 2.0, 1002.0, 3.0, 1003.0]);
    driver.process_cycle();
    let f = out.pop().unwrap();
    assert_eq!(&f.samples()[..5], &[2.0, 4.0, 1004.0, 5.0, 1005.0]);
    driver.process_cycle();
    assert_eq!(out.pop().unwrap().samples()[0], 0.0);
    // A packet pushed without an arrival time is stamped with the monotonic clock.
    rx.push(PacketMeta::default(), &[0; 10]).unwrap();
    driver.process_cycle();
    assert!(out.pop().unwrap().samples()[2] > 0.0);
}

#[test]
fn removed_endpoints_tell_the_host() {
    let (engine, mut driver) = engine();
    let a = PortKind::Audio(mono8k());
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("mic", a);
    let o = b.add_output("spk", a);
    let ci = b.add_input("knob", PortKind::Control);
    let co = b.add_output("level", PortKind::Control);
    let p = b.add_input("rx", PortKind::Packet(PCMU));
    let r = b.add_node("rec", Box::new(Recorder));
    let po = b.add_output("rec_out", a);
    b.connect(i, 0, o, 0).unwrap();
    b.connect(ci, 0, co, 0).unwrap();
    b.connect(p, 0, r, 0).unwrap();
    b.connect(r, 0, po, 0).unwrap();
    let mut part = engine.add_partition(b.build().unwrap()).unwrap();
    let mut mic = part.io.take_audio_in("mic").unwrap();
    let spk = part.io.take_audio_out("spk").unwrap();
    let knob = part.io.control_in("knob").unwrap();
    let level = part.io.control_out("level").unwrap();
    let mut rx = part.io.take_packet_in("rx").unwrap();
    driver.process_cycle();
    knob.set(0.5);
    driver.process_cycle();
    assert_eq!(level.get(), 0.5);
    assert!(!mic.is_abandoned() && !spk.is_abandoned() && !knob.is_abandoned() && !level.is_abandoned());

    let mut edit = engine.edit(part.id).unwrap();
    for name in ["mic", "spk", "knob", "level", "rx", "rec", "rec_out"] {
        edit.remove_by_name(name).unwrap();
    }
    edit.commit().unwrap();
    driver.process_cycle();
    engine.poll(); // collects what the worker handed back
    assert!(mic.is_abandoned() && spk.is_abandoned() && knob.is_abandoned() && level.is_abandoned());
    assert_eq!(mic.push(&[0.0; 80]), Err(EndpointError::Abandoned));
    assert_eq!(rx.push(PacketMeta::default(), &[1]), Err(EndpointError::Abandoned));
    // So do the endpoints of a removed partition, and of an edit that never committed.
    let mut part = engine.add_partition(counter_graph()).unwrap();
    let out = part.io.take_audio_out("out").unwrap();
    let mut edit = engine.edit(part.id).unwrap();
    edit.add_input("never", a).unwrap();
    let never = edit.io().take_audio_in("never").unwrap();
    drop(edit);
    assert!(never.is_abandoned());
    engine.remove_partition(part.id).unwrap();
    driver.process_cycle();
    engine.poll();
    assert!(out.is_abandoned());
}

#[test]
fn stores_grow_under_a_running_partition_without_touching_its_nodes() {
    let (engine, mut driver) = engine();
    let mut part = engine.add_partition(counter_graph()).unwrap();
    let mut out = part.io.take_audio_out("out").unwrap();
    driver.process_cycle();
    assert_eq!(value(&mut out), 0.0);
    // 200 new nodes in one edit: far beyond the first store (16 slots).
    let mut edit = engine.edit(part.id).unwrap();
    let mut prev: NodeKey = edit.key("counter").unwrap();
    for k in 0..200 {
        let s = edit.add_node(format!("s{k}"), Box::new(Scale { format: mono8k(), gain: 1.0 })).unwrap();
        edit.connect(prev, 0, s, 0).unwrap();
        prev = s;
    }
    let tail = edit.add_output("tail", PortKind::Audio(mono8k())).unwrap();
    edit.connect(prev, 0, tail, 0).unwrap();
    let mut tail_out = edit.commit().unwrap().io.take_audio_out("tail").unwrap();
    for n in 1..4 {
        driver.process_cycle();
        assert_eq!(value(&mut out), n as f32);
        assert_eq!(value(&mut tail_out), n as f32);
    }
}

#[test]
fn a_room_grows_its_mixer_while_everyone_keeps_hearing_the_exact_mix() {
    use rvoip_media_core::conference::{LegMedia, Room};
    let (engine, mut driver) = engine();
    let mut room = Room::new(&engine, mono8k(), 1).unwrap();
    let mut legs = Vec::new();
    for (k, name) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        let mut io = room.join(&engine, name, LegMedia::Audio).unwrap().io;
        let input = io.take_audio_in(&format!("{name}.in")).unwrap();
        let output = io.take_audio_out(&format!("{name}.out")).unwrap();
        legs.push(((1u32 << k) as f32, input, output));
        // Everyone speaks a distinct power of two: each output must be the sum of the
        // others exactly, from the first cycle after each join.
        for _ in 0..2 {
            for (v, i, _) in legs.iter_mut() {
                i.push(&[*v; 80]).unwrap();
            }
            driver.process_cycle();
            let total: f32 = legs.iter().map(|(v, _, _)| *v).sum();
            for (v, _, o) in legs.iter_mut() {
                assert_eq!(o.pop().unwrap().samples()[0], total - *v);
            }
        }
    }
    assert_eq!(room.capacity(), 8, "1 -> 2 -> 4 -> 8 ports");
    assert_eq!(room.members().collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
    assert_eq!(engine.telemetry_value(room.id(), "mixer", "members").unwrap(), 5.0);
}

#[test]
fn levels_and_voice_activity_are_readable_as_telemetry() {
    use rvoip_media_nodes::apm::vad::{AdvancedVadConfig, Vad};
    use rvoip_media_nodes::{LevelMeter, ToneSource};
    let (engine, mut driver) = engine();
    let f = AudioFormat::mono(16_000);
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let tone = b.add_node("tone", Box::new(ToneSource::new(f, 1000.0, 0.5).unwrap()));
    let meter = b.add_node("meter", Box::new(LevelMeter::new(f)));
    let vad = b.add_node("vad", Box::new(Vad::new(AdvancedVadConfig::new(16_000)).unwrap()));
    b.connect(tone, 0, meter, 0).unwrap();
    b.connect(tone, 0, vad, 0).unwrap();
    let part = engine.add_partition(b.build().unwrap()).unwrap();
    for _ in 0..20 {
        driver.process_cycle();
    }
    // A -6 dBFS peak sine: -9.03 dBFS RMS, read without touching the worker.
    let rms = engine.telemetry_value(part.id, "meter", "rms_db").unwrap();
    assert!((rms + 9.03).abs() < 0.05, "{rms}");
    assert!((engine.telemetry_value(part.id, "meter", "peak_db").unwrap() + 6.02).abs() < 0.05);
    let p = engine.telemetry_value(part.id, "vad", "probability").unwrap();
    assert!((0.0..=1.0).contains(&p), "{p}");
    let speech = engine.telemetry_value(part.id, "vad", "speech").unwrap();
    assert!(speech == 0.0 || speech == 1.0);
}
