//! A kernel room (`RoomConfig::with_kernel`) against a room of nodes: the same legs, packets,
//! losses, settings, joins, leaves, growth and codec switch must give the same packets out,
//! byte for byte and field for field (arrival stamps aside), and the same member statistics.
//! G.711 decodes to multiples of 2^-15, so every sum in either room is exact whatever the
//! order the legs are added in (gains here are powers of two), except while a leg conceals;
//! the losses happen while both rooms still add the legs in the same order.
//!
//! A kernel room spread over several workers (`RoomConfig::with_kernel_workers`) runs the
//! same script on a driven engine of as many workers, the drivers side by side on their own
//! threads each cycle: it must send what the one-worker kernel room sends. Each shard sums
//! its own legs and the room's total is the shards' partial totals added in shard order, so
//! where the sums are exact (G.711 rows, gains that are powers of two) that is the one-worker
//! room's total bit for bit; where they round (other gains, concealment after the legs'
//! order changed) it may differ in its last bits, which moves a G.711 code word at most to
//! its neighbour.

use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder, G711CodecEncoder};
use rvoip_media_nodes::jitter::JitterConfig;
use rvoip_media_nodes::mixer::MemberSettings;
use rvoip_media_nodes::G711Law;
use std::collections::BTreeMap;
use std::time::Duration;

const CYCLES: u32 = 90;

/// One room and its host side.
struct Side {
    engine: Engine,
    drivers: Vec<Driver>,
    room: Room,
    legs: BTreeMap<u32, (PacketIn, PacketOut)>,
}

/// Which room a side runs.
#[derive(Clone, Copy)]
enum Kind {
    Nodes,
    Kernel,
    /// A kernel room spread over this many workers.
    Spread(usize),
}

/// What a leg sent in one cycle: RTP fields and payload.
type Sent = Vec<(u32, u8, u16, u32, bool, Vec<u8>)>;

impl Side {
    fn new(kind: Kind) -> Side {
        let cfg = EngineConfig { telemetry_interval: 1, packet_pool: 512, ..EngineConfig::default() };
        let workers = if let Kind::Spread(w) = kind { w } else { 1 };
        let (engine, drivers) = Engine::driven_workers(cfg, workers).unwrap();
        // Capacity 2: the rooms on one worker grow while legs join. A spread room starts
        // with 3 ports (at least one per shard; not a multiple of two workers, so a grown
        // shard's new ports start at another offset) and grows too; its shards wait for
        // each other as long as a loaded test machine may need.
        let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(2);
        let config = match kind {
            Kind::Nodes => config,
            Kind::Kernel => config.with_kernel(),
            Kind::Spread(w) => config.with_capacity(3).with_kernel_workers(w).with_kernel_wait(Duration::from_secs(5)),
        };
        let room = Room::with_config(&engine, config).unwrap();
        Side { engine, drivers, room, legs: BTreeMap::new() }
    }

    /// Workers `which`'s cycle, the drivers side by side on their own threads; worker
    /// `late.0` starts `late.1` after the others.
    fn run_workers(&mut self, which: &[usize], late: (usize, Duration)) {
        if let [only] = which {
            self.drivers[*only].process_cycle();
            return;
        }
        // The late worker spins (a sleep may oversleep by milliseconds on a loaded machine).
        let start = std::time::Instant::now();
        std::thread::scope(|s| {
            for (i, d) in self.drivers.iter_mut().enumerate() {
                if which.contains(&i) {
                    s.spawn(move || {
                        while i == late.0 && start.elapsed() < late.1 {
                            std::thread::yield_now();
                        }
                        d.process_cycle()
                    });
                }
            }
        });
    }

    fn join(&mut self, ssrc: u32, ptime_us: u32) {
        let name = format!("p{ssrc}");
        let mut io = self.room.join(&self.engine, &name, LegMedia::g711(G711Law::Ulaw, ptime_us, ssrc)).unwrap().io;
        let rx = io.take_packet_in(&format!("{name}.rx")).unwrap();
        let tx = io.take_packet_out(&format!("{name}.tx")).unwrap();
        self.legs.insert(ssrc, (rx, tx));
    }

    /// A leg with a jitter buffer (a session's, [`JitterConfig::for_stream`]).
    fn join_buffered(&mut self, ssrc: u32) {
        let name = format!("p{ssrc}");
        let info = *G711CodecDecoder::new(G711Law::Ulaw).info();
        let options =
            LegOptions { jitter: Some(JitterConfig::for_stream(&info, Quantum::MS_10)), ..LegOptions::default() };
        let media = LegMedia::g711(G711Law::Ulaw, 10_000, ssrc);
        let mut io = self.room.join_with(&self.engine, &name, media, options).unwrap().io;
        let rx = io.take_packet_in(&format!("{name}.rx")).unwrap();
        let tx = io.take_packet_out(&format!("{name}.tx")).unwrap();
        self.legs.insert(ssrc, (rx, tx));
    }

    fn set(&mut self, ssrc: u32, settings: MemberSettings) {
        self.room.set_member(&self.engine, &format!("p{ssrc}"), settings).unwrap();
    }

    /// Runs one cycle and returns what every leg sent.
    fn cycle(&mut self) -> Sent {
        let all: Vec<usize> = (0..self.drivers.len()).collect();
        self.cycle_of(&all)
    }

    /// Runs one cycle of workers `which` and returns what every leg sent.
    fn cycle_of(&mut self, which: &[usize]) -> Sent {
        self.cycle_late(which, (0, Duration::ZERO))
    }

    /// Runs one cycle of workers `which`, worker `late.0` starting `late.1` after the others,
    /// and returns what every leg sent.
    fn cycle_late(&mut self, which: &[usize], late: (usize, Duration)) -> Sent {
        self.run_workers(which, late);
        self.engine.poll();
        let mut sent = Vec::new();
        for (&ssrc, (_, tx)) in self.legs.iter_mut() {
            while let Some(p) = tx.pop() {
                let m = p.meta;
                sent.push((ssrc, m.payload_type, m.sequence, m.timestamp, m.marker, p.payload().to_vec()));
            }
        }
        sent
    }
}

/// Leg `ssrc`'s tone for the quantum starting at `sample`, `n` samples, in `law`.
fn tone(law: G711Law, ssrc: u32, sample: u32, n: usize) -> Vec<u8> {
    let pcm: Vec<f32> = (0..n)
        .map(|k| (((sample as usize + k) as f32) * (0.03 + 0.011 * ssrc as f32)).sin() * (0.1 + 0.05 * ssrc as f32))
        .collect();
    let mut out = vec![0u8; n];
    law.encode_f32(&pcm, &mut out);
    out
}

/// The script, run the same way on both sides: joins, losses, settings, a leave, a join
/// reusing the port, a codec switch, a foreign payload type. With `rounding`, gains that are
/// not powers of two and losses after the leave, so the sums round and their order shows.
fn step(s: &mut Side, c: u32, rounding: bool) {
    let d = MemberSettings::default();
    match c {
        35 if rounding => s.set(3, MemberSettings { input_gain: 0.3, output_gain: 1.7, ..d }),
        65 if rounding => s.set(4, MemberSettings { input_gain: 0.7, ..d }),
        0 => (0..3).for_each(|i| s.join(i, 10_000)),
        5 => s.join(3, 20_000),
        20 => s.set(0, MemberSettings { muted: true, ..d }),
        30 => {
            s.set(0, d);
            s.set(1, MemberSettings { deaf: true, ..d });
        }
        35 => s.set(3, MemberSettings { input_gain: 0.5, output_gain: 2.0, ..d }),
        40 => {
            s.room.leave(&s.engine, "p1").unwrap();
            s.legs.remove(&1);
        }
        45 => s.join(4, 10_000),
        50 => {
            // Every branch of who hears what: an output gain alone, a muted leg with one.
            s.set(4, MemberSettings { output_gain: 2.0, ..d });
            s.set(2, MemberSettings { muted: true, output_gain: 0.5, ..d });
        }
        55 => s.set(2, d),
        60 => {
            let (e, dec) = (G711CodecEncoder::new(G711Law::Alaw), G711CodecDecoder::new(G711Law::Alaw));
            s.room.switch_codec(&s.engine, "p0", Box::new(e), Box::new(dec), 10_000).unwrap();
        }
        _ => {}
    }
    for (&ssrc, (rx, _)) in s.legs.iter_mut() {
        // p2 loses three packets early on (concealed); p3 sends 20 ms packets; with
        // `rounding`, p4 loses two after the leave.
        if ssrc == 2 && (10..=12).contains(&c)
            || ssrc == 3 && c % 2 == 1
            || rounding && ssrc == 4 && (75..77).contains(&c)
        {
            continue;
        }
        let law = if ssrc == 0 && c >= 60 { G711Law::Alaw } else { G711Law::Ulaw };
        let n = if ssrc == 3 { 160 } else { 80 };
        let mut meta = PacketMeta {
            payload_type: law.payload_type(),
            sequence: c as u16,
            timestamp: c * 80,
            ssrc: 100 + ssrc,
            ..PacketMeta::default()
        };
        if ssrc == 2 && c == 70 {
            meta.payload_type = 18; // not negotiated: dropped and counted
        }
        rx.push(meta, &tone(law, ssrc, c * 80, n)).unwrap();
    }
}

#[test]
fn a_kernel_room_sends_what_a_room_of_nodes_sends() {
    let (mut nodes, mut kernel) = (Side::new(Kind::Nodes), Side::new(Kind::Kernel));
    let (mut packets, mut loud) = (0, 0);
    for c in 0..CYCLES {
        step(&mut nodes, c, false);
        step(&mut kernel, c, false);
        let (a, b) = (nodes.cycle(), kernel.cycle());
        assert_eq!(a, b, "cycle {c}");
        packets += a.len();
        loud += a.iter().filter(|p| p.5.iter().any(|&b| b & 0x7f < 0x70)).count();
    }
    // Every leg sent for every quantum it was in the room: p0 and p2 90, p1 40 (until it
    // left), p3 42 (20 ms packets from cycle 5), p4 45 (from cycle 45); most carry sound.
    assert_eq!(packets, 90 + 40 + 90 + 42 + 45, "packets sent");
    assert!(loud > packets / 2, "{loud} of {packets} packets carry sound");
    for side in [&nodes, &kernel] {
        assert_eq!(side.room.capacity(), 4, "grew 2 -> 4");
        let stats = side.engine.partition_stats(side.room.id()).unwrap();
        assert_eq!((stats.drops(), stats.faulted), (0, 0), "{stats:?}");
    }
    let (a, b) = (nodes.room.stats(&nodes.engine).unwrap(), kernel.room.stats(&kernel.engine).unwrap());
    assert_eq!(a.per_member, b.per_member);
    let p2 = b.per_member.iter().find(|m| m.name == "p2").unwrap();
    // Three lost packets and the foreign one: four quanta concealed.
    assert_eq!((p2.concealed_samples, p2.foreign_packets), (4 * 80, 1), "{p2:?}");
    assert_eq!(p2.packets_in, u64::from(CYCLES) - 3 - 1);
    assert_eq!(a.members, b.members);
}

/// Legs 0 and 1 behind jitter buffers, leg 2 plain; leg 0's every fourth packet comes
/// three cycles late (after the next three), leg 1's every seventh is lost, each packet
/// stamped with the cycle it is pushed in.
fn step_jittery(s: &mut Side, c: u32, held: &mut Vec<(u32, u32)>) {
    if c == 0 {
        s.join_buffered(0);
        s.join_buffered(1);
        s.join(2, 10_000);
    }
    let now = u64::from(c) * 10_000_000 + 1;
    let push = |s: &mut Side, ssrc: u32, k: u32| {
        let meta = PacketMeta {
            payload_type: 0,
            sequence: k as u16,
            timestamp: k * 80,
            ssrc: 100 + ssrc,
            arrival_ns: now,
            ..PacketMeta::default()
        };
        s.legs.get_mut(&ssrc).unwrap().0.push(meta, &tone(G711Law::Ulaw, ssrc, k * 80, 80)).unwrap();
    };
    for (ssrc, k) in std::mem::take(held) {
        if k + 3 <= c {
            push(s, ssrc, k);
        } else {
            held.push((ssrc, k));
        }
    }
    if c % 4 == 1 {
        held.push((0, c));
    } else {
        push(s, 0, c);
    }
    if c % 7 != 3 {
        push(s, 1, c);
    }
    if c == 100 {
        // A payload type leg 1 did not negotiate: dropped and counted as foreign, as a plain
        // leg does. Then an empty payload of its own type: a bad packet, an engine error.
        let meta = PacketMeta {
            payload_type: 18,
            sequence: 900,
            timestamp: 7,
            ssrc: 101,
            arrival_ns: now,
            ..PacketMeta::default()
        };
        s.legs.get_mut(&1).unwrap().0.push(meta, &[0x55; 10]).unwrap();
        let empty = PacketMeta { payload_type: 0, sequence: 901, ..meta };
        s.legs.get_mut(&1).unwrap().0.push(empty, &[]).unwrap();
    }
    push(s, 2, c);
}

#[test]
fn a_kernel_room_with_jitter_buffers_sends_what_a_room_of_nodes_sends() {
    let (mut nodes, mut kernel) = (Side::new(Kind::Nodes), Side::new(Kind::Kernel));
    let (mut held_n, mut held_k) = (Vec::new(), Vec::new());
    let mut packets = 0;
    for c in 0..150 {
        step_jittery(&mut nodes, c, &mut held_n);
        step_jittery(&mut kernel, c, &mut held_k);
        let (a, b) = (nodes.cycle(), kernel.cycle());
        assert_eq!(a, b, "cycle {c}");
        packets += a.len();
    }
    assert!(packets > 3 * 140, "{packets} packets sent");
    let (a, b) = (nodes.room.stats(&nodes.engine).unwrap(), kernel.room.stats(&kernel.engine).unwrap());
    assert_eq!(a.per_member, b.per_member);
    let by = |n: &str| b.per_member.iter().find(|m| m.name == n).unwrap().clone();
    let (p0, p1, p2) = (by("p0"), by("p1"), by("p2"));
    assert!(p2.jitter.is_none());
    let (r0, r1) = (p0.jitter.expect("buffered"), p1.jitter.expect("buffered"));
    // Leg 0's late packets are waited for (its target rose over the 30 ms): few were late,
    // and its delay is above the lateness. Leg 1's losses are concealed.
    assert!(r0.stats.packets_received >= 145, "{r0:?}");
    assert!(r0.stats.packets_late <= 2, "{r0:?}");
    assert!(r0.stats.target_delay_ms >= 30.0, "{r0:?}");
    assert_eq!(r1.stats.packets_lost, 21, "{r1:?}");
    assert!(r1.stats.concealed_samples >= 20 * 80, "{r1:?}");
    // A buffered member's figures are its buffer's; its foreign packet is counted as a plain
    // leg counts one (no error), its bad packet is the room's one error.
    assert_eq!(
        (p1.concealed_samples, p1.bad_packets, p1.foreign_packets, p1.packets_in),
        (r1.stats.concealed_samples, 1, 1, r1.stats.packets_received)
    );
    assert_eq!((r1.stats.packets_foreign, r1.stats.packets_bad), (1, 1));
    for side in [&nodes, &kernel] {
        assert_eq!(side.engine.partition_stats(side.room.id()).unwrap().errors, 1);
    }
}

#[test]
fn a_room_spread_over_two_workers_sends_what_a_kernel_room_on_one_sends() {
    let (mut one, mut two) = (Side::new(Kind::Kernel), Side::new(Kind::Spread(2)));
    let mut packets = 0;
    for c in 0..CYCLES {
        step(&mut one, c, false);
        step(&mut two, c, false);
        let (a, b) = (one.cycle(), two.cycle());
        assert_eq!(a, b, "cycle {c}");
        packets += a.len();
    }
    assert_eq!(packets, 90 + 40 + 90 + 42 + 45, "packets sent");
    // The fourth join grew the room (3 -> 6 ports) while its legs ran.
    assert_eq!(two.room.capacity(), 6);
    // Both shards ran legs, and neither ever went without the other's rows.
    assert_eq!(two.room.shards().len(), 2);
    for id in two.room.shards() {
        let stats = two.engine.partition_stats(id).unwrap();
        assert_eq!((stats.drops(), stats.faulted, stats.cycles), (0, 0, u64::from(CYCLES)), "{stats:?}");
        for name in ["late_partners", "unpublished_rows"] {
            assert_eq!(two.engine.telemetry_value(id, "kernel", name).unwrap(), 0.0, "{id} {name}");
        }
        assert!(two.engine.telemetry_value(id, "kernel", "members").unwrap() >= 1.0, "{id} ran no legs");
    }
    let (a, b) = (one.room.stats(&one.engine).unwrap(), two.room.stats(&two.engine).unwrap());
    assert_eq!(a.per_member, b.per_member);
    assert_eq!((a.members, a.bad_inputs), (b.members, b.bad_inputs));
}

/// `law`'s linear value of each code word of `bytes`.
fn decode(law: G711Law, bytes: &[u8]) -> Vec<f32> {
    let mut out = vec![0.0; bytes.len()];
    law.decode_f32(bytes, &mut out);
    out
}

#[test]
fn rooms_spread_over_two_and_three_workers_send_the_one_worker_mix_where_sums_round() {
    let mut sides = [Side::new(Kind::Kernel), Side::new(Kind::Spread(2)), Side::new(Kind::Spread(3))];
    let (mut packets, mut words, mut moved) = (0, 0, 0);
    for c in 0..CYCLES {
        sides.iter_mut().for_each(|s| step(s, c, true));
        let [one, two, three] = sides.each_mut().map(|s| s.cycle());
        for spread in [two, three] {
            assert_eq!(spread.len(), one.len(), "cycle {c}");
            for (a, b) in one.iter().zip(&spread) {
                // The same packet (leg, payload type, sequence, timestamp, marker, length) ...
                assert_eq!((a.0, a.1, a.2, a.3, a.4, a.5.len()), (b.0, b.1, b.2, b.3, b.4, b.5.len()), "cycle {c}");
                // ... whose samples are the same code words or their neighbours: one step of
                // G.711 is at most a sixteenth of the value (plus the finest steps near 0).
                let law = if a.1 == G711Law::Alaw.payload_type() { G711Law::Alaw } else { G711Law::Ulaw };
                for (x, y) in decode(law, &a.5).into_iter().zip(decode(law, &b.5)) {
                    assert!((x - y).abs() <= x.abs().max(y.abs()) / 16.0 + 1e-3, "cycle {c}: {x} vs {y}");
                    moved += usize::from(x != y);
                }
                words += a.5.len();
            }
        }
        packets += one.len();
    }
    // A leg that loses packets still hears the room: every leg sends as before.
    assert_eq!(packets, 90 + 40 + 90 + 42 + 45, "packets sent");
    // Last-bit differences move few code words (none at all in most runs of this script).
    assert!(moved * 100 <= words, "{moved} of {words} code words moved");
}

#[test]
fn a_partner_later_than_a_quarter_quantum_is_still_in_the_mix() {
    // The default deadline (no `with_kernel_wait`) at a 20 ms quantum: the quantum less the
    // shard's pass 2 (microseconds here) and a margin, ~19.6 ms. Worker 1 starts every cycle
    // 6 ms after worker 0, past the quarter quantum (5 ms) that was the wait until session
    // 16: with that wait 73 of 90 cycles were late in a run like this (load 4.5).
    let side = |workers: usize| {
        let cfg = EngineConfig {
            quantum: Quantum::MS_20,
            telemetry_interval: 1,
            packet_pool: 512,
            ..EngineConfig::default()
        };
        let (engine, drivers) = Engine::driven_workers(cfg, workers).unwrap();
        let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(6).with_kernel_workers(workers);
        let room = Room::with_config(&engine, config).unwrap();
        let mut s = Side { engine, drivers, room, legs: BTreeMap::new() };
        (0..6).for_each(|i| s.join(i, 20_000));
        s
    };
    let (mut one, mut two) = (side(1), side(2));
    let push = |s: &mut Side, c: u32| {
        for (&ssrc, (rx, _)) in s.legs.iter_mut() {
            let meta =
                PacketMeta { payload_type: 0, sequence: c as u16, timestamp: c * 160, ssrc, ..PacketMeta::default() };
            rx.push(meta, &tone(G711Law::Ulaw, ssrc, c * 160, 160)).unwrap();
        }
    };
    let late = |s: &Side| {
        let shard = |&id| s.engine.telemetry_value(id, "kernel", "late_partners").unwrap();
        s.room.shards().iter().map(shard).sum::<f64>()
    };
    let (mut same, mut late_cycles) = (0, 0);
    for c in 0..CYCLES {
        push(&mut one, c);
        push(&mut two, c);
        let before = late(&two);
        let b = two.cycle_late(&[0, 1], (1, Duration::from_millis(6)));
        let a = one.cycle();
        if late(&two) == before {
            // Every leg heard everybody: what the one-worker room sent, bit for bit.
            assert_eq!(a, b, "cycle {c}");
            assert_eq!(a.len(), 6, "cycle {c}");
            same += 1;
        } else {
            late_cycles += 1;
        }
    }
    // A loaded test machine may start worker 1 later still now and then (at a load of 5 from
    // other processes, up to ~a third of the cycles); not in most of them.
    assert!(late_cycles <= CYCLES / 2, "{late_cycles} of {CYCLES} cycles mixed without a partner");
    assert_eq!(same + late_cycles, CYCLES);
}

#[test]
fn a_late_worker_leaves_its_legs_out_of_the_mix_and_nobody_hangs() {
    let cfg = EngineConfig { telemetry_interval: 1, packet_pool: 512, ..EngineConfig::default() };
    let (engine, drivers) = Engine::driven_workers(cfg, 2).unwrap();
    let config = RoomConfig::new(AudioFormat::mono(8000))
        .with_capacity(4)
        .with_kernel_workers(2)
        .with_kernel_wait(Duration::from_millis(200));
    let room = Room::with_config(&engine, config).unwrap();
    let mut s = Side { engine, drivers, room, legs: BTreeMap::new() };
    (0..4).for_each(|i| s.join(i, 10_000));
    let push = |s: &mut Side, c: u32| {
        for (&ssrc, (rx, _)) in s.legs.iter_mut() {
            let meta =
                PacketMeta { payload_type: 0, sequence: c as u16, timestamp: c * 80, ssrc, ..PacketMeta::default() };
            rx.push(meta, &tone(G711Law::Ulaw, ssrc, c * 80, 80)).unwrap();
        }
    };
    let late =
        |s: &Side, shard: usize| s.engine.telemetry_value(s.room.shards()[shard], "kernel", "late_partners").unwrap();
    let unpublished = |s: &Side, shard: usize| {
        s.engine.telemetry_value(s.room.shards()[shard], "kernel", "unpublished_rows").unwrap()
    };
    let senders = |sent: &Sent| sent.iter().map(|p| p.0).collect::<std::collections::BTreeSet<u32>>();
    for c in 0..3 {
        push(&mut s, c);
        assert_eq!(senders(&s.cycle()).len(), 4, "cycle {c}");
    }
    assert_eq!((late(&s, 0), late(&s, 1)), (0.0, 0.0));
    // Worker 1 stops: worker 0 waits 200 ms a cycle, then mixes its own legs and sends.
    for c in 3..6 {
        push(&mut s, c);
        let t = std::time::Instant::now();
        let sent = s.cycle_of(&[0]);
        assert!(t.elapsed() < Duration::from_secs(2), "cycle {c} took {:?}", t.elapsed());
        // Ports 0 and 2 (p0, p2) are shard 0's.
        assert_eq!(senders(&sent), [0, 2].into(), "cycle {c}");
    }
    assert_eq!((late(&s, 0), late(&s, 1)), (3.0, 0.0));
    // Worker 0 published its rows of cycles 4 and 5; for cycle 6 it would overwrite cycle
    // 4's, which worker 1 (its last cycle 3) has not said it will not read: a spare instead.
    assert_eq!((unpublished(&s, 0), unpublished(&s, 1)), (1.0, 0.0));
    // Worker 1 comes back: its first cycle jumps to worker 0's (its legs' queued packets
    // are taken as a burst). In that cycle worker 0 may not yet know that worker 1 has
    // stopped reading the buffer worker 0 wrote before the gap (then it keeps its rows to
    // itself once, and worker 1 counts it late); from the next both mix everybody again.
    for c in 6..10 {
        push(&mut s, c);
        let sent = s.cycle();
        assert_eq!(senders(&sent), [0, 1, 2, 3].into(), "cycle {c}");
    }
    assert_eq!(late(&s, 0), 3.0, "worker 0 waited in vain after worker 1 was back");
    assert!(late(&s, 1) <= 1.0 && late(&s, 1) == unpublished(&s, 0) - 1.0, "{} {}", late(&s, 1), unpublished(&s, 0));
    let (l1, u0) = (late(&s, 1), unpublished(&s, 0));
    for c in 10..14 {
        push(&mut s, c);
        assert_eq!(senders(&s.cycle()).len(), 4);
    }
    assert_eq!((late(&s, 0), late(&s, 1), unpublished(&s, 0)), (3.0, l1, u0), "both on time again");
    assert_eq!(unpublished(&s, 1), 0.0);
    for id in s.room.shards() {
        assert_eq!(s.engine.partition_stats(id).unwrap().faulted, 0);
    }
}

#[test]
fn a_spread_room_grows_under_traffic_without_a_gap_for_anyone() {
    // Both rooms start with 2 ports and grow to 64 while a leg joins every other cycle and
    // every leg sends a packet every cycle: the spread room must send what the one-worker
    // room sends, cycle by cycle (G.711 rows at gain 1: exact sums), and every leg's
    // packets must run on without a gap in sequence numbers or timestamps.
    let side = |kind: Kind| {
        let mut s = Side::new(kind);
        let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(2);
        let config = match kind {
            Kind::Spread(w) => config.with_kernel_workers(w).with_kernel_wait(Duration::from_secs(5)),
            _ => config.with_kernel(),
        };
        s.room = Room::with_config(&s.engine, config).unwrap();
        s
    };
    let (mut one, mut two) = (side(Kind::Kernel), side(Kind::Spread(2)));
    const LEGS: u32 = 40;
    let mut last: BTreeMap<u32, (u16, u32)> = BTreeMap::new();
    let mut packets = 0;
    for c in 0..2 * LEGS + 20 {
        for s in [&mut one, &mut two] {
            if c % 2 == 0 && c / 2 < LEGS {
                s.join(c / 2, 10_000);
            }
            for (&ssrc, (rx, _)) in s.legs.iter_mut() {
                let meta = PacketMeta {
                    payload_type: 0,
                    sequence: c as u16,
                    timestamp: c * 80,
                    ssrc,
                    ..PacketMeta::default()
                };
                rx.push(meta, &tone(G711Law::Ulaw, ssrc % 7, c * 80, 80)).unwrap();
            }
        }
        let (a, b) = (one.cycle(), two.cycle());
        assert_eq!(a, b, "cycle {c}");
        for p in &b {
            if let Some(&(seq, ts)) = last.get(&p.0) {
                assert_eq!((p.2, p.3), (seq.wrapping_add(1), ts.wrapping_add(80)), "leg {} cycle {c}", p.0);
            }
            last.insert(p.0, (p.2, p.3));
        }
        packets += b.len();
    }
    // Leg i joined at cycle 2i and sent in every cycle from then on.
    let expected: u32 = (0..LEGS).map(|i| 2 * LEGS + 20 - 2 * i).sum();
    assert_eq!(packets, expected as usize);
    assert_eq!((one.room.capacity(), two.room.capacity()), (64, 64), "grown 2 -> 64 five times");
    for id in two.room.shards() {
        let stats = two.engine.partition_stats(id).unwrap();
        assert_eq!((stats.drops(), stats.faulted), (0, 0), "{stats:?}");
        assert_eq!(two.engine.telemetry_value(id, "kernel", "members").unwrap(), f64::from(LEGS / 2), "{id}");
        assert_eq!(two.engine.telemetry_value(id, "kernel", "late_partners").unwrap(), 0.0, "{id}");
    }
}

/// A batch of legs joins a spread room in runs, one per shard (`join_many`): a caller builds
/// its legs' codecs in their order, and each shard's then lie together in memory in the order
/// its worker runs them (dealt out in turn they were every other codec, and a shard's leg cost
/// about a fifth more; BENCHMARKS.md, session 44). Each shard still takes as many as joining one by
/// one gives it, and a leg joining alone goes to the shard with the fewest legs.
#[test]
fn a_batch_joins_a_spread_room_in_one_run_per_shard() {
    let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_kernel_workers(2);
    let mut room = Room::with_config(&engine, config).unwrap();
    let leg = |ssrc: u32| (format!("p{ssrc}"), LegMedia::g711(G711Law::Ulaw, 10_000, ssrc));
    room.join_many(&engine, (0..5).map(leg)).unwrap();
    let shards: Vec<usize> = (0..5).map(|i| room.shard_of(&format!("p{i}")).unwrap()).collect();
    assert_eq!(shards, [0, 0, 0, 1, 1]);
    // Each at its shard's lowest free port (shard k holds the ports p % 2 == k); the room grew.
    let ports: Vec<usize> = (0..5).map(|i| room.port_of(&format!("p{i}")).unwrap()).collect();
    assert_eq!(ports, [0, 2, 4, 1, 3]);
    room.join(&engine, "p5", LegMedia::g711(G711Law::Ulaw, 10_000, 5)).unwrap();
    assert_eq!(room.shard_of("p5"), Some(1), "the shard with the fewest legs");
    // A batch after leaves: shard 0 lost two legs, so it takes the first three of four.
    room.leave(&engine, "p0").unwrap();
    room.leave(&engine, "p1").unwrap();
    room.join_many(&engine, (6..10).map(leg)).unwrap();
    let shards: Vec<usize> = (6..10).map(|i| room.shard_of(&format!("p{i}")).unwrap()).collect();
    assert_eq!(shards, [0, 0, 0, 1]);
}

#[test]
fn a_spread_room_refuses_more_workers_than_the_engine_has() {
    let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    let config = RoomConfig::new(AudioFormat::mono(8000)).with_kernel_workers(4);
    let e = Room::with_config(&engine, config);
    assert!(matches!(e, Err(EngineError::TooFewWorkers { asked: 4, workers: 2 })), "{:?}", e.err());
    let mut room = Room::with_config(&engine, config.with_kernel_workers(2).with_max_members(2)).unwrap();
    room.join(&engine, "a", LegMedia::g711(G711Law::Ulaw, 10_000, 1)).unwrap();
    assert!(matches!(room.join(&engine, "b", LegMedia::Audio), Err(EngineError::NodeSetup { .. })));
    room.join(&engine, "c", LegMedia::g711(G711Law::Ulaw, 10_000, 3)).unwrap();
    let full = room.join(&engine, "d", LegMedia::g711(G711Law::Ulaw, 10_000, 4));
    assert!(matches!(full, Err(EngineError::RoomFull { limit: 2, .. })), "{:?}", full.err());
    assert_eq!((room.port_of("a"), room.port_of("c")), (Some(0), Some(1)), "one leg per shard");
    room.leave(&engine, "a").unwrap();
    // A batch that does not fit is refused whole, before the room makes room for it.
    let batch = (4..6).map(|i| (format!("e{i}"), LegMedia::g711(G711Law::Ulaw, 10_000, i)));
    let full = room.join_many(&engine, batch);
    assert!(matches!(full, Err(EngineError::RoomFull { limit: 2, .. })), "{:?}", full.err());
    assert_eq!((room.port_of("e4"), room.port_of("e5"), room.capacity()), (None, None, 2));
    room.join(&engine, "d", LegMedia::g711(G711Law::Ulaw, 10_000, 4)).unwrap();
    assert_eq!((room.port_of("d"), room.capacity()), (Some(0), 2));
    // Shards exchange their candidates with their rows each cycle: a spread room hears at
    // most 8 talkers, and not "every talker" (max_talkers 0).
    for max_talkers in [0, 9] {
        let policy = rvoip_media_nodes::mixer::TalkerPolicy { max_talkers, ..Default::default() };
        let spread_policy = RoomConfig::new(AudioFormat::mono(8000)).with_policy(policy).with_kernel_workers(2);
        let e = Room::with_config(&engine, spread_policy);
        assert!(matches!(e, Err(EngineError::NodeSetup { .. })), "{max_talkers}: {:?}", e.err());
    }
}

#[test]
fn a_kernel_room_refuses_what_it_does_not_run() {
    let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
    let mut room = Room::with_config(&engine, RoomConfig::new(AudioFormat::mono(16_000)).with_kernel()).unwrap();
    // PCMU at 8 kHz in a 16 kHz room would need resamplers.
    let e = room.join(&engine, "a", LegMedia::g711(G711Law::Ulaw, 20_000, 1));
    assert!(matches!(e, Err(EngineError::NodeSetup { .. })), "{:?}", e.err());
    assert!(matches!(room.record_mix(&engine, "/nonexistent/x.wav"), Err(EngineError::NodeSetup { .. })));
    assert_eq!(room.members().count(), 0);
}

/// Leg `ssrc` of the policy script: whether it talks in cycle `c`, and how loud at most
/// (its level rises and falls four times a second, as syllables do).
fn talk(ssrc: u32, c: u32) -> Option<f32> {
    match ssrc {
        // Two talkers from cycle 10; p0 stops at 250, p1 leaves at 200.
        0 if (10..250).contains(&c) => Some(0.1),
        1 if c >= 10 => Some(0.15),
        // A louder one from 30 takes the quietest place after the hold, then is muted at 150.
        4 if c >= 30 => Some(0.5),
        // p2 talks alone at the end: the lone heard talker hears comfort noise.
        2 if c >= 280 => Some(0.2),
        _ => None,
    }
}

/// The policy script: five legs; nobody talks, then two, then a louder third, a mute, a
/// leave, one talker alone.
fn step_policy(s: &mut Side, c: u32) {
    let d = MemberSettings::default();
    match c {
        0 => (0..5).for_each(|i| s.join(i, 10_000)),
        100 => s.set(3, MemberSettings { deaf: true, ..d }),
        120 => s.set(3, d),
        150 => s.set(4, MemberSettings { muted: true, ..d }),
        200 => {
            s.room.leave(&s.engine, "p1").unwrap();
            s.legs.remove(&1);
        }
        _ => {}
    }
    for (&ssrc, (rx, _)) in s.legs.iter_mut() {
        let pcm: Vec<f32> = (0..80)
            .map(|k| {
                let syllable = 0.5 + 0.5 * (c as f32 * 0.25 + ssrc as f32).sin();
                talk(ssrc, c).map_or(0.0, |a| ((c * 80 + k) as f32 * (0.03 + 0.011 * ssrc as f32)).sin() * a * syllable)
            })
            .collect();
        let mut payload = vec![0u8; 80];
        G711Law::Ulaw.encode_f32(&pcm, &mut payload);
        let meta = PacketMeta {
            payload_type: 0,
            sequence: c as u16,
            timestamp: c * 80,
            ssrc: 100 + ssrc,
            ..PacketMeta::default()
        };
        rx.push(meta, &payload).unwrap();
    }
}

#[test]
fn a_kernel_room_with_a_talker_policy_sends_and_tells_what_a_room_of_nodes_does() {
    // The same talker policy (two places, 100 ms hold, comfort noise, dominant speaker) in a
    // room of nodes and in a kernel room: the same packets, cycle by cycle, and the same
    // talking and dominant-speaker events. G.711 rows at gain 1: exact sums.
    policy_rooms_agree(false);
}

#[test]
fn a_kernel_room_shares_its_listeners_encode_as_a_room_of_nodes_does() {
    // The same with shared encodes: listeners who hear the shared mix splice one encode's
    // frames into their own streams (a deaf leg sends nothing) — the same packets as the
    // room of nodes, and one encode a cycle for them all.
    policy_rooms_agree(true);
}

/// The policy script's room of `kind` (two places, 100 ms hold, comfort noise, the dominant
/// speaker), publishing whom it heard on a heard board, with `shared` encodes or not.
fn policy_side(kind: Kind, shared: bool) -> Side {
    let policy = rvoip_media_nodes::mixer::TalkerPolicy {
        max_talkers: 2,
        hold_ms: 100,
        ..rvoip_media_nodes::mixer::TalkerPolicy::default()
    };
    let mut s = Side::new(kind);
    let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(8).with_policy(policy).with_heard_board();
    let config = if shared { config.with_shared_encodes() } else { config };
    let config = match kind {
        Kind::Nodes => config,
        Kind::Kernel => config.with_kernel(),
        Kind::Spread(w) => config.with_kernel_workers(w).with_kernel_wait(Duration::from_secs(5)),
    };
    s.room = Room::with_config(&s.engine, config).unwrap();
    s
}

/// Whom a policy room mixed last cycle, by its heard board, in port order.
fn heard_list(s: &Side) -> Vec<(u32, u8)> {
    let mut list = [(0, 0); rvoip_media_nodes::mixer::MAX_HEARD];
    let n = s.room.heard_board().unwrap().read(&mut list).unwrap();
    let mut list = list[..n].to_vec();
    list.sort_unstable();
    list
}

/// The policy script in a room of nodes and a kernel room, with or without `shared`
/// encodes: packets and events must agree cycle by cycle.
fn policy_rooms_agree(shared: bool) {
    let (mut nodes, mut kernel) = (policy_side(Kind::Nodes, shared), policy_side(Kind::Kernel, shared));
    let value = |s: &Side, name: &str| s.engine.telemetry_value(s.room.id(), "kernel", name).unwrap();
    let events = |s: &mut Side| std::iter::from_fn(|| s.room.poll_event()).collect::<Vec<_>>();
    let (mut packets, mut most_talking, mut most_heard) = (0, 0.0f64, 0.0f64);
    let (mut told, mut most_listed, mut levels) = (Vec::new(), 0, Vec::new());
    for c in 0..350 {
        step_policy(&mut nodes, c);
        step_policy(&mut kernel, c);
        let (a, b) = (nodes.cycle(), kernel.cycle());
        assert_eq!(a, b, "cycle {c}");
        packets += a.len();
        let (a, b) = (events(&mut nodes), events(&mut kernel));
        assert_eq!(a, b, "cycle {c}");
        told.extend(b);
        // Who each room mixed, with levels, as the RFC 6465 lists are written from.
        let listed = heard_list(&kernel);
        assert_eq!(heard_list(&nodes), listed, "cycle {c}");
        most_listed = most_listed.max(listed.len());
        levels.extend(listed.iter().map(|&(_, l)| l));
        most_talking = most_talking.max(value(&kernel, "talking"));
        most_heard = most_heard.max(value(&kernel, "heard"));
        if c == 45 {
            // p4 (the loudest) and p1 heard; p0 talks but is not: the listeners' packets
            // are the two heard talkers' mix, not three.
            assert_eq!((value(&kernel, "talking"), value(&kernel, "heard")), (3.0, 2.0));
        }
    }
    // With shared encodes p3 is deaf from cycle 100 to 120: it sends nothing then.
    let deaf = if shared { 20 } else { 0 };
    assert_eq!(packets, 5 * 350 - 150 - deaf, "every leg sent every quantum until it left");
    let (a, b) = (nodes.room.stats(&nodes.engine).unwrap(), kernel.room.stats(&kernel.engine).unwrap());
    for (x, y) in a.per_member.iter().zip(&b.per_member) {
        let counts = |m: &rvoip_media_core::conference::MemberStats| {
            (m.packets_out, m.own_quanta, m.shared_quanta, m.skipped_quanta, m.handoffs)
        };
        assert_eq!(counts(x), counts(y), "{}", x.name);
    }
    assert_eq!((a.shared_encodes, a.shared_encoder_quanta), (b.shared_encodes, b.shared_encoder_quanta));
    if shared {
        // p0, p2, p3, p4 remain: the silent ones spliced most of their quanta.
        let spliced: u64 = b.per_member.iter().map(|m| m.shared_quanta).sum();
        assert!(spliced > 700, "{spliced} quanta spliced");
        assert_eq!(b.shared_encodes, 1);
        assert_eq!(b.shared_encoder_quanta, 350);
    }
    assert_eq!((most_talking, most_heard), (3.0, 2.0));
    // The lists named the two heard talkers, at the levels of their syllables (127: a
    // syllable's silent trough).
    assert_eq!(most_listed, 2);
    levels.sort_unstable();
    levels.dedup();
    assert!(levels.iter().filter(|&&l| l < 127).count() >= 20, "{levels:?}");
    use rvoip_media_core::conference::RoomEventKind::*;
    let kinds: Vec<_> = told.iter().map(|e| e.kind.clone()).collect();
    for who in ["p0", "p1", "p4", "p2"] {
        assert!(kinds.contains(&TalkingStarted(who.into())), "{who}: {kinds:?}");
    }
    assert!(kinds.contains(&TalkingStopped("p0".into())), "{kinds:?}");
    assert!(kinds.iter().any(|k| matches!(k, DominantSpeaker(Some(_)))), "{kinds:?}");
}

#[test]
fn a_policy_room_spread_over_workers_hears_and_tells_what_one_worker_does() {
    // The policy script (two places, 100 ms hold, comfort noise) in a kernel room on one
    // worker and spread over two and three: each shard observes its own legs, publishes
    // those that may be heard with their rows, and every shard chooses from all claims.
    // Heard talkers' G.711 rows at gain 1 sum exactly in any order: the same packets,
    // cycle by cycle, the same talking events, the same count of heard talkers and the same
    // heard board (the first shard's).
    spread_policy_rooms_agree(false);
}

#[test]
fn a_spread_policy_room_shares_each_shards_listeners_encode() {
    // The same with shared encodes: each shard runs one encode of the shared mix for its
    // listeners, who splice its frames — the same packets as one worker's room, each
    // member's quanta counted alike, one shared encode per shard.
    spread_policy_rooms_agree(true);
}

/// The policy script on one worker and spread over two and three, with `shared` encodes
/// or not: packets, talking events, heard counts and boards must agree cycle by cycle.
fn spread_policy_rooms_agree(shared: bool) {
    use rvoip_media_core::conference::RoomEventKind::DominantSpeaker;
    let side = |kind| policy_side(kind, shared);
    let mut sides = [side(Kind::Kernel), side(Kind::Spread(2)), side(Kind::Spread(3))];
    // The talking events, sorted; the dominant speaker's changes apart, in order.
    let mut dominant: [Vec<(u64, Option<String>)>; 3] = Default::default();
    let mut talk = |k: usize, s: &mut Side| {
        let mut told = Vec::new();
        while let Some(e) = s.room.poll_event() {
            match e.kind {
                DominantSpeaker(who) => dominant[k].push((e.cycle, who)),
                kind => told.push(format!("{} {kind:?}", e.cycle)),
            }
        }
        told.sort();
        told
    };
    let heard = |s: &Side| s.engine.telemetry_value(s.room.id(), "kernel", "heard").unwrap();
    let (mut packets, mut told, mut most_heard) = (0, 0, 0.0f64);
    for c in 0..350 {
        sides.iter_mut().for_each(|s| step_policy(s, c));
        let sent: Vec<Sent> = sides.iter_mut().map(Side::cycle).collect();
        let events: Vec<Vec<String>> = sides.iter_mut().enumerate().map(|(k, s)| talk(k, s)).collect();
        for k in 1..3 {
            assert_eq!(sent[k], sent[0], "cycle {c}, {} workers", k + 1);
            assert_eq!(events[k], events[0], "cycle {c}, {} workers", k + 1);
            assert_eq!(heard(&sides[k]), heard(&sides[0]), "cycle {c}, {} workers", k + 1);
            assert_eq!(heard_list(&sides[k]), heard_list(&sides[0]), "cycle {c}, {} workers", k + 1);
            // Talking, as the room counts it over its shards.
            let talking = |s: &Side| s.room.talking_count(&s.engine).unwrap();
            assert_eq!(talking(&sides[k]), talking(&sides[0]), "cycle {c}, {} workers", k + 1);
            assert_eq!(sides[k].room.stats(&sides[k].engine).unwrap().talking, talking(&sides[0]), "cycle {c}");
        }
        packets += sent[0].len();
        told += events[0].len();
        most_heard = most_heard.max(heard(&sides[0]));
    }
    // With shared encodes p3 is deaf from cycle 100 to 120: it sends nothing then.
    let deaf = if shared { 20 } else { 0 };
    assert_eq!(packets, 5 * 350 - 150 - deaf, "every leg sent every quantum until it left");
    assert_eq!(most_heard, 2.0);
    assert!(told >= 5, "{told} talking events");
    let stats: Vec<_> = sides.iter().map(|s| s.room.stats(&s.engine).unwrap()).collect();
    for (w, b) in stats.iter().enumerate().skip(1) {
        for (x, y) in stats[0].per_member.iter().zip(&b.per_member) {
            let counts = |m: &rvoip_media_core::conference::MemberStats| {
                (m.packets_out, m.own_quanta, m.shared_quanta, m.skipped_quanta, m.handoffs)
            };
            assert_eq!(counts(x), counts(y), "{}, {} workers", x.name, w + 1);
        }
        // p0, p2, p3, p4 remain, on every shard of both: one encode each, every cycle.
        let encodes = if shared { w + 1 } else { 0 };
        assert_eq!((b.shared_encodes, b.shared_encoder_quanta), (encodes, encodes as u64 * 350), "{} workers", w + 1);
    }
    if shared {
        let spliced: u64 = stats[2].per_member.iter().map(|m| m.shared_quanta).sum();
        assert!(spliced > 700, "{spliced} quanta spliced");
    }
    // The first shard chooses the dominant speaker one worker's room chooses, in the cycle
    // after the decision point (the challengers are tested against the dominant speaker's
    // scores in the next exchange), and the others follow it; when the dominant p1 leaves,
    // its shard says so and nobody dominates from the same cycle as on one worker.
    assert!(dominant[0].contains(&(200, None)), "{:?}", dominant[0]);
    assert!(dominant[0].iter().filter(|(_, who)| who.is_some()).count() >= 3, "{:?}", dominant[0]);
    for k in 1..3 {
        let later: Vec<_> = dominant[0].iter().map(|(c, who)| (c + u64::from(who.is_some()), who.clone())).collect();
        assert_eq!(dominant[k], later, "{} workers", k + 1);
        let named = |s: &Side| s.room.stats(&s.engine).unwrap().dominant;
        assert_eq!(named(&sides[k]), named(&sides[0]), "{} workers", k + 1);
        for &shard in &sides[k].room.shards() {
            let d = |s: &Side, part| s.engine.telemetry_value(part, "kernel", "dominant").unwrap();
            assert_eq!(d(&sides[k], shard), d(&sides[0], sides[0].room.id()), "{} workers", k + 1);
        }
    }
    for s in &sides[1..] {
        for (k, &shard) in s.room.shards().iter().enumerate() {
            let late = s.engine.telemetry_value(shard, "kernel", "late_partners").unwrap();
            assert_eq!(late, 0.0, "shard {k}");
        }
    }
}
