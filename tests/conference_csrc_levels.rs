//! RFC 6465 mixer-to-client levels from a live policy room over UDP (`BatchIo::with_heard`):
//! every packet a listener receives lists, as its CSRCs, the members mixed into what it
//! hears (itself left out) by the SSRCs they send with, each with its level. Two talkers,
//! then one of them hands over to a third.

#[path = "support/ports.rs"]
mod ports;
#[path = "support/ulaw_quanta.rs"]
mod ulaw_quanta;

use ports::phones;
use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig};
use rvoip_media_core::prelude::*;
use rvoip_media_core::rtp::{csrc_levels_of, write_rtp, CsrcLevels, HeaderExtensions};
use rvoip_media_core::transport::{BatchConfig, BatchIo};
use rvoip_media_nodes::level::{audio_level, mean_square};
use rvoip_media_nodes::mixer::TalkerPolicy;
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use ulaw_quanta::{decoded, g711, LAW};

const LEGS: usize = 4;
const ID: u8 = 5;
/// Cycles (10 ms) of each phase.
const PHASE: usize = 150;

fn tone(amp: f32) -> [f32; 80] {
    std::array::from_fn(|k| amp * (2.0 * std::f32::consts::PI * (k % 8) as f32 / 8.0).sin())
}

/// The SSRC leg `i` sends with.
fn ssrc(i: usize) -> u32 {
    0x5eed_0000 + i as u32
}

/// The tone amplitude of leg `i` in phase `phase` (0: legs 0 and 1 talk; 1: legs 0 and 2).
fn amplitude(phase: usize, i: usize) -> Option<f32> {
    match (phase, i) {
        (_, 0) => Some(0.2),
        (0, 1) | (1, 2) => Some(0.05),
        _ => None,
    }
}

#[test]
fn every_listener_gets_the_talkers_mixed_into_its_mix() {
    listeners_get_their_talkers(false);
}

#[test]
fn every_listener_of_a_kernel_room_gets_the_talkers_mixed_into_its_mix() {
    listeners_get_their_talkers(true);
}

/// The two phases in a room of nodes or a kernel room.
fn listeners_get_their_talkers(kernel: bool) {
    let engine = Engine::start(EngineConfig { workers: 1, realtime: None, ..EngineConfig::default() }).unwrap();
    let policy = TalkerPolicy { max_talkers: 2, ..TalkerPolicy::default() };
    let config = RoomConfig::new(AudioFormat::mono(8000)).with_max_members(LEGS).with_policy(policy).with_heard_board();
    let config = if kernel { config.with_kernel() } else { config };
    let mut room = Room::with_config(&engine, config).unwrap();
    let mut io = BatchIo::new(BatchConfig::default()).with_heard(room.heard_board().unwrap());
    let mut ports = Vec::new();
    for i in 0..LEGS {
        let name = format!("p{i}");
        let mut leg =
            room.join_with(&engine, &name, LegMedia::g711(LAW, 10_000, 100 + i as u32), LegOptions::default());
        let leg = leg.as_mut().unwrap();
        let (r, t) = (
            leg.io.take_packet_in(&format!("{name}.rx")).unwrap(),
            leg.io.take_packet_out(&format!("{name}.tx")).unwrap(),
        );
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        ports.push(sock.local_addr().unwrap().port());
        let ext = HeaderExtensions { csrc_audio_level: Some(ID), ..HeaderExtensions::default() };
        let index = io.add_with_extensions(sock, r, t, ext).unwrap();
        // Legs that joined in order sit at ports 0, 1, ...; said explicitly, as the bridge does.
        assert!(io.set_mixer_port(index, room.port_of(&name).unwrap()));
    }
    let running = io.start().unwrap();
    let peers = phones(LEGS);
    // What each listener received: (phase, cycle within it, its CSRC list).
    let mut got: Vec<Vec<(usize, usize, CsrcLevels)>> = vec![Vec::new(); LEGS];
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    for c in 0..2 * PHASE + 10 {
        while start.elapsed() < Duration::from_millis(10 * c as u64) {
            std::thread::sleep(Duration::from_micros(500));
        }
        let phase = (c / PHASE).min(1);
        for (i, p) in peers.iter().enumerate() {
            if c < 2 * PHASE {
                let payload = g711(&tone(amplitude(phase, i).unwrap_or(0.0)));
                let meta = PacketMeta {
                    payload_type: 0,
                    sequence: c as u16,
                    timestamp: (c * 80) as u32,
                    ssrc: ssrc(i),
                    ..PacketMeta::default()
                };
                let n = write_rtp(&meta, &payload, &mut buf).unwrap();
                p.send_to(&buf[..n], ("127.0.0.1", ports[i])).unwrap();
            }
            while let Ok(n) = p.recv(&mut buf) {
                got[i].push((phase, c % PHASE, csrc_levels_of(&buf[..n], ID).unwrap_or_default()));
            }
        }
    }
    running.stop().unwrap();
    engine.shutdown();
    // In the second half of each phase (the talker policy settled): each listener's list is
    // exactly the phase's talkers but itself, in port order, at their tones' levels (±1 dB).
    for (i, lists) in got.iter().enumerate() {
        for phase in 0..2 {
            let want: Vec<(u32, u8)> = (0..LEGS)
                .filter(|&t| t != i)
                .filter_map(|t| {
                    amplitude(phase, t).map(|a| (ssrc(t), audio_level(mean_square(&decoded(&g711(&tone(a)))))))
                })
                .collect();
            let settled: Vec<&CsrcLevels> =
                lists.iter().filter(|(p, c, _)| *p == phase && *c >= PHASE / 2).map(|(_, _, l)| l).collect();
            assert!(settled.len() >= PHASE / 2 - 10, "p{i} phase {phase}: {} packets", settled.len());
            let exact = settled
                .iter()
                .filter(|l| {
                    l.csrcs() == want.iter().map(|w| w.0).collect::<Vec<_>>()
                        && l.levels().iter().zip(&want).all(|(a, w)| a.abs_diff(w.1) <= 1)
                })
                .count();
            assert!(
                exact * 10 >= settled.len() * 9,
                "p{i} phase {phase}: {exact} of {} lists are {want:?}; e.g. {:?}",
                settled.len(),
                settled.iter().take(5).map(|l| l.iter().collect::<Vec<_>>()).collect::<Vec<_>>()
            );
        }
    }
}
