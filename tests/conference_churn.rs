//! Join/leave under load, short: a 200-leg G.711 room on a driven engine where one leg
//! leaves and one joins in every 10 ms cycle (100 joins and 100 leaves per second) for 200
//! cycles, every live leg fed one packet per cycle and drained. Nothing may be lost: every
//! leg sends exactly one packet for each cycle it was in the room, with its own SSRC and
//! sequence numbers without a gap, and the room counts no drop or error. Nothing may leak:
//! once everyone has left, no packet or frame is in use and no leg's endpoint or node is
//! left in the graph. The timing of the same churn at 1,000 legs is `rvoip-media bench
//! conference --legs 1000 --churn 100` (BENCHMARKS.md).

use rvoip_media_core::conference::{LegMedia, Room, RoomConfig};
use rvoip_media_core::engine::{PacketIn, PacketOut, Ticket};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::G711Law;
use std::collections::VecDeque;

const LEGS: u32 = 200;
const CYCLES: u32 = 200;

struct Leg {
    ssrc: u32,
    rx: PacketIn,
    tx: PacketOut,
    /// Cycles this leg has been in the room, and packets it sent.
    live: u32,
    sent: u32,
    next_sequence: Option<u16>,
}

impl Leg {
    fn drain(&mut self) {
        while let Some(p) = self.tx.pop() {
            assert_eq!(p.meta.ssrc, self.ssrc, "a packet of another leg on p{}", self.ssrc);
            if let Some(want) = self.next_sequence {
                assert_eq!(p.meta.sequence, want, "p{}: a gap in its sequence numbers", self.ssrc);
            }
            self.next_sequence = Some(p.meta.sequence.wrapping_add(1));
            self.sent += 1;
        }
    }
}

fn join(room: &mut Room, engine: &Engine, ssrcs: impl IntoIterator<Item = u32>) -> Vec<Leg> {
    let ssrcs: Vec<u32> = ssrcs.into_iter().collect();
    let legs = ssrcs.iter().map(|&i| (format!("p{i}"), LegMedia::g711(G711Law::Ulaw, 10_000, i)));
    let mut io = room.join_many(engine, legs).unwrap().io;
    ssrcs
        .into_iter()
        .map(|i| Leg {
            ssrc: i,
            rx: io.take_packet_in(&format!("p{i}.rx")).unwrap(),
            tx: io.take_packet_out(&format!("p{i}.tx")).unwrap(),
            live: 0,
            sent: 0,
            next_sequence: None,
        })
        .collect()
}

#[test]
fn a_leg_joins_and_a_leg_leaves_every_cycle_without_loss_or_leak() {
    churn(RoomConfig::new(AudioFormat::mono(8000)).with_capacity(LEGS as usize));
}

/// The same churn in a kernel room (legs run by one node, joins and leaves as messages):
/// the same accounting, the kernel's recycled packets back in the pool at the end.
#[test]
fn a_kernel_room_churns_without_loss_or_leak() {
    churn(RoomConfig::new(AudioFormat::mono(8000)).with_capacity(LEGS as usize).with_kernel());
}

fn churn(config: RoomConfig) {
    let cfg = EngineConfig { packet_pool: 4096, ring_capacity: 4, ..EngineConfig::default() };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let mut room = Room::with_config(&engine, config).unwrap();
    let mut live: VecDeque<Leg> = join(&mut room, &engine, 0..LEGS).into();
    let mut gone: Vec<Leg> = Vec::new();
    let payload = [0x55u8; 80];
    for c in 0..CYCLES {
        let mut leaving = live.pop_front().unwrap();
        room.leave(&engine, &format!("p{}", leaving.ssrc)).unwrap();
        leaving.drain();
        gone.push(leaving);
        live.extend(join(&mut room, &engine, [LEGS + c]));
        for leg in live.iter_mut() {
            let meta = PacketMeta {
                payload_type: 0,
                sequence: c as u16,
                timestamp: c * 80,
                ssrc: leg.ssrc,
                ..PacketMeta::default()
            };
            leg.rx.push(meta, &payload).unwrap();
            leg.live += 1;
        }
        driver.process_cycle();
        for leg in live.iter_mut() {
            leg.drain();
        }
        engine.poll();
        assert_eq!(room.members().count(), LEGS as usize);
    }
    let stats = engine.partition_stats(room.id()).unwrap();
    assert_eq!((stats.drops(), stats.errors, stats.faulted), (0, 0, 0), "{stats:?}");
    assert_eq!(stats.edits, 1 + 2 * u64::from(CYCLES), "one edit per join and per leave: {stats:?}");
    // Each of those edits was compiled incrementally (no full compile after the room's
    // first), on schedules the worker handed back.
    let plan = engine.plan_stats(room.id()).unwrap();
    assert!(plan.incremental >= 2 * u64::from(CYCLES), "{plan:?}");
    assert!(plan.layouts <= 2 && plan.recycled >= 2 * u64::from(CYCLES) - 4, "{plan:?}");
    // Everyone leaves (a worker applies a bounded number of commands per cycle, so this
    // takes a few cycles: a leg still in the room runs on, concealing, and sends for it).
    let tickets: Vec<Ticket> = live.iter().map(|leg| room.leave(&engine, &format!("p{}", leg.ssrc)).unwrap()).collect();
    let mut extra = 0;
    while !tickets.iter().all(|&t| engine.is_done(t)) {
        extra += 1;
        assert!(extra < 100, "the leaves were never applied");
        driver.process_cycle();
        engine.poll();
        for (leg, &t) in live.iter_mut().zip(&tickets) {
            leg.live += u32::from(!engine.is_done(t));
        }
    }
    for mut leg in live.drain(..) {
        leg.drain();
        gone.push(leg);
    }
    assert_eq!(gone.len(), (LEGS + CYCLES) as usize);
    for leg in &gone {
        assert_eq!(leg.sent, leg.live, "p{}: packets sent against cycles in the room", leg.ssrc);
        assert!(leg.rx.is_abandoned() && leg.tx.is_abandoned(), "p{}: endpoints still attached", leg.ssrc);
        let name = format!("p{}.encode", leg.ssrc);
        assert!(engine.node_key(room.id(), &name).is_err(), "{name} still in the graph");
    }
    // LEGS legs in the room in every fed cycle.
    assert!(gone.iter().map(|l| l.sent).sum::<u32>() >= LEGS * CYCLES);
    assert_eq!(room.members().count(), 0);
    assert_eq!((engine.packet_pool().in_use(), engine.frame_pool().in_use()), (0, 0));
}
