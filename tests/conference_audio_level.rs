//! RFC 6464 levels through conference rooms: legs whose packets say "silent" are not
//! decoded (counted exactly), and every packet a leg sends carries the level of the mix that
//! member hears. First on a driven engine with exact expectations (a room of nodes and a
//! kernel room), then over UDP through `BatchIo` with the extension on the wire both ways.

#[path = "support/ports.rs"]
mod ports;
#[path = "support/ulaw_quanta.rs"]
mod ulaw_quanta;

use ports::phones;
use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_core::rtp::{audio_level_of, write_rtp_with_audio_level, AudioLevel, HeaderExtensions};
use rvoip_media_core::transport::{BatchConfig, BatchIo};
use rvoip_media_nodes::level::{audio_level, mean_square};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use ulaw_quanta::{decoded, g711, LAW};

const LEGS: usize = 3;
/// Packets that say no voice at −100 dBov or quieter are not decoded.
const SKIP_AT: u8 = 100;

/// A 1 kHz sine of amplitude `amp`, one 10 ms quantum at 8 kHz (ten whole periods: every
/// quantum has the same mean square).
fn tone(amp: f32) -> [f32; 80] {
    std::array::from_fn(|k| amp * (2.0 * std::f32::consts::PI * (k % 8) as f32 / 8.0).sin())
}

/// What leg `i` sends in cycle `c`: a PCMU packet's RTP fields and the level it claims
/// (−23 dBov with V for the talker's tone, silence without V).
fn sent(c: usize, i: usize, voice: bool) -> (PacketMeta, AudioLevel) {
    let meta = PacketMeta {
        payload_type: 0,
        sequence: c as u16,
        timestamp: (c * 80) as u32,
        ssrc: i as u32,
        ..PacketMeta::default()
    };
    let level = if voice { AudioLevel { voice: true, level: 23 } } else { AudioLevel { voice: false, level: 127 } };
    (meta, level)
}

fn options() -> LegOptions {
    LegOptions { skip_silent_at: Some(SKIP_AT), audio_level: true, ..LegOptions::default() }
}

/// A room of nodes, or a kernel room (`RoomConfig::with_kernel`: its legs' decoders and
/// encoders run inside one node).
fn room(engine: &Engine, kernel: bool) -> (Room, Vec<PacketIn>, Vec<PacketOut>) {
    let config = RoomConfig::new(AudioFormat::mono(8000)).with_max_members(LEGS);
    let config = if kernel { config.with_kernel() } else { config };
    let mut room = Room::with_config(engine, config).unwrap();
    let (mut rx, mut tx) = (Vec::new(), Vec::new());
    for i in 0..LEGS {
        let name = format!("p{i}");
        let mut io = room.join_with(engine, &name, LegMedia::g711(LAW, 10_000, 100 + i as u32), options()).unwrap().io;
        rx.push(io.take_packet_in(&format!("{name}.rx")).unwrap());
        tx.push(io.take_packet_out(&format!("{name}.tx")).unwrap());
    }
    (room, rx, tx)
}

#[test]
fn silent_legs_skip_decoding_and_listeners_get_the_level_of_their_mix() {
    driven_room(false);
}

#[test]
fn a_kernel_room_does_the_same() {
    driven_room(true);
}

fn driven_room(kernel: bool) {
    let cfg = EngineConfig { telemetry_interval: 1, packet_pool: 256, ring_capacity: 16, ..EngineConfig::default() };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let (room, mut rx, mut tx) = room(&engine, kernel);
    let talk = g711(&tone(0.1));
    let silence = g711(&[0.0; 80]);
    // What p1 and p2 hear while p0 talks: p0's decoded tone (the other leg is silent).
    let heard = audio_level(mean_square(&decoded(&talk)));
    let rms_db = -20.0 * (0.1f64 / 2f64.sqrt()).log10();
    assert!((f64::from(heard) - rms_db).abs() <= 1.0, "{heard} vs {rms_db}");
    let (talking, quiet) = (40usize, 60usize);
    let mut out: Vec<Vec<Option<u8>>> = vec![Vec::new(); LEGS];
    for c in 0..talking + quiet {
        for (i, r) in rx.iter_mut().enumerate() {
            let voice = i == 0 && c < talking;
            let (meta, level) = sent(c, i, voice);
            let meta = PacketMeta { audio_level: Some(level.to_byte()), ..meta };
            r.push(meta, if voice { &talk } else { &silence }).unwrap();
        }
        driver.process_cycle();
        engine.poll();
        for (i, t) in tx.iter_mut().enumerate() {
            out[i].push(t.pop().and_then(|p| p.meta.audio_level));
        }
    }
    let stats = room.stats(&engine).unwrap();
    let skipped: Vec<u64> = stats.per_member.iter().map(|m| m.skipped_decodes).collect();
    assert_eq!(skipped, [quiet as u64, (talking + quiet) as u64, (talking + quiet) as u64], "{stats:?}");
    // Every packet carries a level. p0 hears silence throughout; p1 and p2 hear p0's tone
    // (after the cycle the decoder starts in) and then silence.
    for (i, levels) in out.iter().enumerate() {
        assert!(levels.iter().all(Option::is_some), "p{i}: {levels:?}");
        for (c, l) in levels.iter().enumerate() {
            let l = AudioLevel::from_byte(l.unwrap());
            let hears_tone = i != 0 && (2..talking).contains(&c);
            let hears_silence = i == 0 || c >= talking + 2;
            if hears_tone {
                assert_eq!(l, AudioLevel { voice: true, level: heard }, "p{i} cycle {c}");
            } else if hears_silence {
                assert_eq!(l, AudioLevel { voice: false, level: 127 }, "p{i} cycle {c}");
            }
        }
    }
}

#[test]
fn levels_cross_the_wire_through_batch_io() {
    let engine = Engine::start(EngineConfig { workers: 1, realtime: None, ..EngineConfig::default() }).unwrap();
    let (room, rx, tx) = room(&engine, false);
    let id = 4;
    let mut io = BatchIo::new(BatchConfig::default());
    let mut ports = Vec::new();
    for (r, t) in rx.into_iter().zip(tx) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        ports.push(sock.local_addr().unwrap().port());
        io.add_with_extensions(sock, r, t, HeaderExtensions { audio_level: Some(id), ..HeaderExtensions::default() })
            .unwrap();
    }
    let running = io.start().unwrap();
    let peers = phones(LEGS);
    let talk = g711(&tone(0.1));
    let silence = g711(&[0.0; 80]);
    let heard = audio_level(mean_square(&decoded(&talk)));
    let (talking, quiet) = (50usize, 50usize);
    let mut got: Vec<Vec<AudioLevel>> = vec![Vec::new(); LEGS];
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    for c in 0..talking + quiet + 10 {
        while start.elapsed() < Duration::from_millis(10 * c as u64) {
            std::thread::sleep(Duration::from_micros(500));
        }
        for (i, p) in peers.iter().enumerate() {
            if c < talking + quiet {
                let voice = i == 0 && c < talking;
                let (meta, level) = sent(c, i, voice);
                let n = write_rtp_with_audio_level(&meta, level, id, if voice { &talk } else { &silence }, &mut buf)
                    .unwrap();
                p.send_to(&buf[..n], ("127.0.0.1", ports[i])).unwrap();
            }
            while let Ok(n) = p.recv(&mut buf) {
                got[i].push(audio_level_of(&buf[..n], id).expect("the room's packets carry the level"));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let stats = room.stats(&engine).unwrap();
    let totals = running.stop().unwrap();
    assert_eq!(totals.delivered, (LEGS * (talking + quiet)) as u64, "{totals:?}");
    // Each silent packet that reached a decoder was skipped; the decoder takes packets as
    // they come (a packet it finds late is dropped, not skipped), so allow a few of those.
    let skipped: Vec<u64> = stats.per_member.iter().map(|m| m.skipped_decodes).collect();
    let want = [quiet as u64, (talking + quiet) as u64, (talking + quiet) as u64];
    for (s, w) in skipped.iter().zip(want) {
        assert!(*s <= w && *s + 3 >= w, "skipped {skipped:?}, sent silent {want:?}");
    }
    // p1 and p2 heard p0's tone at its level, then silence; p0 only silence.
    for (i, levels) in got.iter().enumerate() {
        assert!(levels.len() >= talking + quiet - 10, "p{i} got {} packets", levels.len());
        let tone = levels.iter().filter(|l| **l == AudioLevel { voice: true, level: heard }).count();
        let silent = levels.iter().filter(|l| **l == AudioLevel { voice: false, level: 127 }).count();
        if i == 0 {
            assert_eq!(silent, levels.len(), "p0 hears nobody: {levels:?}");
        } else {
            assert!(tone >= talking - 10 && silent >= quiet - 10, "p{i}: {levels:?}");
            assert!(tone + silent + 4 >= levels.len(), "p{i}: only edges differ: {levels:?}");
        }
    }
    engine.shutdown();
}
