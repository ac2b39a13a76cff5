//! A kernel room (`RoomConfig::with_kernel`) against a room of nodes: the same legs, packets,
//! losses, settings, joins, leaves, growth and codec switch must give the same packets out,
//! byte for byte and field for field (arrival stamps aside), and the same member statistics.
//! G.711 decodes to multiples of 2^-15, so every sum in either room is exact whatever the
//! order the legs are added in (gains here are powers of two), except while a leg conceals;
//! the losses happen while both rooms still add the legs in the same order.

use rvoip_media_core::conference::{LegMedia, Room, RoomConfig};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::codec::{G711CodecDecoder, G711CodecEncoder};
use rvoip_media_nodes::mixer::MemberSettings;
use rvoip_media_nodes::G711Law;
use std::collections::BTreeMap;

const CYCLES: u32 = 90;

/// One room and its host side.
struct Side {
    engine: Engine,
    driver: Driver,
    room: Room,
    legs: BTreeMap<u32, (PacketIn, PacketOut)>,
}

/// What a leg sent in one cycle: RTP fields and payload.
type Sent = Vec<(u32, u8, u16, u32, bool, Vec<u8>)>;

impl Side {
    fn new(kernel: bool) -> Side {
        let cfg = EngineConfig { telemetry_interval: 1, packet_pool: 512, ..EngineConfig::default() };
        let (engine, driver) = Engine::driven(cfg).unwrap();
        // Capacity 2: both rooms grow while legs join.
        let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(2);
        let room = Room::with_config(&engine, if kernel { config.with_kernel() } else { config }).unwrap();
        Side { engine, driver, room, legs: BTreeMap::new() }
    }

    fn join(&mut self, ssrc: u32, ptime_us: u32) {
        let name = format!("p{ssrc}");
        let mut io = self.room.join(&self.engine, &name, LegMedia::g711(G711Law::Ulaw, ptime_us, ssrc)).unwrap().io;
        let rx = io.take_packet_in(&format!("{name}.rx")).unwrap();
        let tx = io.take_packet_out(&format!("{name}.tx")).unwrap();
        self.legs.insert(ssrc, (rx, tx));
    }

    fn set(&mut self, ssrc: u32, settings: MemberSettings) {
        self.room.set_member(&self.engine, &format!("p{ssrc}"), settings).unwrap();
    }

    /// Runs one cycle and returns what every leg sent.
    fn cycle(&mut self) -> Sent {
        self.driver.process_cycle();
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
/// reusing the port, a codec switch, a foreign payload type.
fn step(s: &mut Side, c: u32) {
    let d = MemberSettings::default();
    match c {
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
        // p2 loses three packets early on (concealed); p3 sends 20 ms packets.
        if ssrc == 2 && (10..=12).contains(&c) || ssrc == 3 && c % 2 == 1 {
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
    let (mut nodes, mut kernel) = (Side::new(false), Side::new(true));
    let (mut packets, mut loud) = (0, 0);
    for c in 0..CYCLES {
        step(&mut nodes, c);
        step(&mut kernel, c);
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
    assert_eq!((p2.concealed_frames, p2.foreign_packets), (3 * 4 + 4, 1), "{p2:?}");
    assert_eq!(p2.packets_in, u64::from(CYCLES) - 3 - 1);
    assert_eq!(a.members, b.members);
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
    let policy = rvoip_media_nodes::mixer::TalkerPolicy::default();
    let with_policy = RoomConfig::new(AudioFormat::mono(8000)).with_policy(policy).with_kernel();
    assert!(matches!(Room::with_config(&engine, with_policy), Err(EngineError::NodeSetup { .. })));
}
