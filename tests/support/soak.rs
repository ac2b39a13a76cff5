//! The soak loop shared by `examples/soak.rs` (long runs) and `tests/soak.rs` (CI): a live
//! room of G.711 legs on a real-time worker, one leg leaving or joining per `edit_every`
//! through live edits, every leg sending a packet per 20 ms and its mix drained.
#![allow(dead_code)]

use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::engine::{PacketIn, PacketOut, RtPriority};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::G711Law;
use std::time::{Duration, Instant};

/// Resident set size in KiB (Linux `/proc/self/status`), 0 where unavailable.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Leg {
    name: String,
    rx: PacketIn,
    tx: PacketOut,
    sent: u32,
}

/// What a soak run measured.
#[derive(Debug)]
pub struct SoakReport {
    pub legs: usize,
    pub seconds: u64,
    pub edits: u64,
    pub joins: u32,
    pub priority: RtPriority,
    pub cycles: u64,
    pub worker_deadline_misses: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub push_failures: u64,
    pub room_drops: u64,
    pub room_errors: u64,
    pub room_edits: u64,
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    pub partitions_after: usize,
    pub frames_in_use_after: usize,
    pub packets_in_use_after: usize,
}

/// Runs the soak for `seconds` with `legs` legs, one edit per `edit_every`.
pub fn run(legs: usize, seconds: u64, edit_every: Duration) -> SoakReport {
    let cfg = EngineConfig { workers: 1, packet_pool: 16_384, ..Default::default() };
    let engine = Engine::start(cfg).expect("engine");
    let mut room = Room::new(&engine, AudioFormat::mono(8000), legs + 1).expect("room");
    let mut live: Vec<Leg> = Vec::new();
    let mut next_id = 0u32;
    let mut join = |room: &mut Room, live: &mut Vec<Leg>| {
        let name = format!("p{next_id}");
        let mut io = room.join(&engine, &name, LegMedia::g711(G711Law::Ulaw, 20_000, next_id)).expect("join").io;
        let rx = io.take_packet_in(&format!("{name}.rx")).expect("rx");
        let tx = io.take_packet_out(&format!("{name}.tx")).expect("tx");
        live.push(Leg { name, rx, tx, sent: 0 });
        next_id += 1;
    };
    for _ in 0..legs {
        join(&mut room, &mut live);
    }
    let start = Instant::now();
    let (mut packets_in, mut packets_out, mut push_failures, mut edits) = (0u64, 0u64, 0u64, 0u64);
    let mut rss_start = 0;
    let warm_up = Duration::from_secs(seconds.min(10)) / 2;
    let mut next_edit = edit_every;
    let mut next_tick = Duration::ZERO;
    let payload = [0x55u8; 160];
    while start.elapsed() < Duration::from_secs(seconds) {
        let now = start.elapsed();
        if now >= next_tick {
            next_tick += Duration::from_millis(20);
            for leg in live.iter_mut() {
                let meta = PacketMeta {
                    payload_type: 0,
                    sequence: leg.sent as u16,
                    timestamp: leg.sent * 160,
                    ..Default::default()
                };
                match leg.rx.push(meta, &payload) {
                    Ok(()) => packets_in += 1,
                    Err(_) => push_failures += 1,
                }
                leg.sent += 1;
                while leg.tx.pop().is_some() {
                    packets_out += 1;
                }
            }
        }
        if now >= next_edit {
            next_edit += edit_every;
            // Alternately: the oldest leaves, a new one joins.
            if edits % 2 == 0 {
                let leg = live.remove(0);
                room.leave(&engine, &leg.name).expect("leave");
            } else {
                join(&mut room, &mut live);
            }
            edits += 1;
            engine.poll();
            if rss_start == 0 && now >= warm_up {
                rss_start = rss_kib();
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let rss_end = rss_kib();
    let stats = engine.partition_stats(room.id()).expect("stats");
    let status = engine.status();
    let w = status.workers[0].clone();
    let t = engine.remove_partition(room.id()).expect("remove");
    engine.wait(t, Duration::from_secs(5)).expect("removed");
    drop(live);
    engine.poll();
    let after = engine.status();
    SoakReport {
        legs,
        seconds,
        edits,
        joins: next_id,
        priority: w.priority,
        cycles: w.stats.cycles,
        worker_deadline_misses: w.stats.deadline_misses,
        p50_us: w.stats.p50_ns as f64 / 1e3,
        p99_us: w.stats.p99_ns as f64 / 1e3,
        max_us: w.stats.max_ns as f64 / 1e3,
        packets_in,
        packets_out,
        push_failures,
        room_drops: stats.drops(),
        room_errors: stats.errors,
        room_edits: stats.edits,
        rss_start_kib: rss_start,
        rss_end_kib: rss_end,
        partitions_after: after.partitions,
        frames_in_use_after: after.frames_in_use.0,
        packets_in_use_after: engine.packet_pool().in_use(),
    }
}
