//! A room of mixed codecs and rates (PCMU 8 kHz, G.722 16 kHz, Opus 48 kHz) on a driven
//! engine: each leg's tone is heard by the others at its frequency and level (measured after
//! a decode on the far side), no leg hears itself, per-leg codec figures, a packet of a codec
//! not negotiated is dropped and counted, and RFC 6464 silent packets are not decoded.

use rvoip_media_core::conference::{mix_rate_for, LegMedia, LegOptions, Room, RoomConfig};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::codec::{CodecId, Decoder, Encoder};

/// The legs: name, codec, the tone each sends (Hz).
const LEGS: [(&str, CodecId, f32); 3] =
    [("u", CodecId::Pcmu, 500.0), ("g", CodecId::G722, 1100.0), ("o", CodecId::Opus, 2300.0)];
const AMP: f32 = 0.25;
const PTIME: u32 = 20_000;

struct Leg {
    rate: u32,
    tone: f32,
    enc: Box<dyn Encoder>,
    dec: Box<dyn Decoder>,
    rx: PacketIn,
    tx: PacketOut,
    sent: u32,
    heard: Vec<f32>,
}

struct Mixed {
    engine: Engine,
    driver: Driver,
    room: Room,
    legs: Vec<Leg>,
    cycle: usize,
}

impl Mixed {
    fn new(options: impl Fn(usize) -> LegOptions) -> Mixed {
        let cfg =
            EngineConfig { telemetry_interval: 1, packet_pool: 1024, ring_capacity: 64, ..EngineConfig::default() };
        let (engine, driver) = Engine::driven(cfg).unwrap();
        let rates = LEGS.map(|(_, c, _)| c.capability().sample_rates.iter().copied().max().unwrap());
        let mut room = Room::with_config(&engine, RoomConfig::for_codec_rates(rates)).unwrap();
        assert_eq!(room.config().format.rate, 48_000, "an Opus member makes it a 48 kHz room");
        let mut legs = Vec::new();
        for (i, (name, codec, tone)) in LEGS.into_iter().enumerate() {
            let media = LegMedia::codec(codec, PTIME, 100 + i as u32).unwrap();
            let mut io = room.join_with(&engine, name, media, options(i)).unwrap().io;
            let rate = rates[i];
            legs.push(Leg {
                rate,
                tone,
                enc: codec.encoder(rate, 1, false).unwrap(),
                dec: codec.decoder(rate, 1).unwrap(),
                rx: io.take_packet_in(&format!("{name}.rx")).unwrap(),
                tx: io.take_packet_out(&format!("{name}.tx")).unwrap(),
                sent: 0,
                heard: Vec::new(),
            });
        }
        Mixed { engine, driver, room, legs, cycle: 0 }
    }

    /// One 10 ms cycle: every 20 ms each leg sends a packet of its tone (`level` gives the
    /// RFC 6464 byte per leg and packet, `pt` may replace the payload type); every leg's
    /// received packets are decoded into `heard`.
    fn cycle(&mut self, level: impl Fn(usize, u32) -> Option<u8>, pt: impl Fn(usize, u32) -> Option<u8>) {
        if self.cycle % 2 == 0 {
            for (i, l) in self.legs.iter_mut().enumerate() {
                let n = (l.rate / 50) as usize;
                let start = l.sent as usize * n;
                let pcm: Vec<f32> = (0..n)
                    .map(|k| AMP * (2.0 * std::f32::consts::PI * l.tone * (start + k) as f32 / l.rate as f32).sin())
                    .collect();
                let mut payload = vec![0u8; 1500];
                let mut len = 0;
                let frame = l.enc.info().frame_len();
                for f in pcm.chunks(frame) {
                    len += l.enc.encode(f, &mut payload[len..]).unwrap().len;
                }
                let info = l.enc.info();
                let meta = PacketMeta {
                    payload_type: pt(i, l.sent).unwrap_or(info.payload_type),
                    sequence: l.sent as u16,
                    timestamp: l.sent * info.rtp_ticks(n),
                    ssrc: i as u32,
                    audio_level: level(i, l.sent),
                    ..PacketMeta::default()
                };
                l.rx.push(meta, &payload[..len]).unwrap();
                l.sent += 1;
            }
        }
        self.driver.process_cycle();
        self.engine.poll();
        self.cycle += 1;
        for l in &mut self.legs {
            while let Some(p) = l.tx.pop() {
                let mut out = vec![0.0; 4096];
                let n = l.dec.decode(Some(p.payload()), &mut out).unwrap();
                l.heard.extend_from_slice(&out[..n]);
            }
        }
    }
}

/// Amplitude of the `f` Hz component of `x` at `rate` (a single-bin DFT over whole periods
/// of a 10 Hz grid: the tones are multiples of 100 Hz).
fn amplitude(x: &[f32], f: f32, rate: u32) -> f32 {
    let n = x.len() - x.len() % (rate as usize / 10);
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (k, &v) in x[..n].iter().enumerate() {
        let ph = 2.0 * std::f64::consts::PI * f as f64 * k as f64 / rate as f64;
        re += v as f64 * ph.cos();
        im += v as f64 * ph.sin();
    }
    (2.0 * (re * re + im * im).sqrt() / n as f64) as f32
}

fn db(a: f32, b: f32) -> f32 {
    20.0 * (a / b).log10()
}

#[test]
fn each_leg_hears_the_others_tones_at_their_level_and_not_itself() {
    let mut m = Mixed::new(|_| LegOptions::default());
    for _ in 0..200 {
        m.cycle(|_, _| None, |_, _| None);
    }
    for (i, l) in m.legs.iter().enumerate() {
        // The last second: every codec, resampler and the mix are past their start-up.
        let x = &l.heard[l.heard.len() - l.rate as usize..];
        for (j, o) in m.legs.iter().enumerate() {
            let a = amplitude(x, o.tone, l.rate);
            eprintln!("leg {i} hears leg {j}'s {} Hz at {:.2} dB", o.tone, db(a, AMP));
            if i == j {
                assert!(db(a, AMP) < -40.0, "leg {i} hears itself at {:.1} dB", db(a, AMP));
            } else {
                assert!(db(a, AMP).abs() < 0.5, "leg {i} hears leg {j}'s {} Hz at {:.2} dB", o.tone, db(a, AMP));
            }
        }
        // Nothing else: the heard signal's power is the two tones' (within 1 dB).
        let power: f32 = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
        assert!(
            db(power.sqrt(), AMP).abs() < 1.0,
            "leg {i}: rms {:.2} dB against one tone's peak",
            db(power.sqrt(), AMP)
        );
    }
    let s = m.room.stats(&m.engine).unwrap();
    let by_name = |n: &str| s.per_member.iter().find(|p| p.name == n).unwrap();
    for (i, (name, codec, _)) in LEGS.into_iter().enumerate() {
        let p = by_name(name);
        assert_eq!(p.codec, Some(codec.capability().encoding));
        assert_eq!(p.codec_rate, m.legs[i].rate);
        assert_eq!(p.packets_in, 100, "{name}");
        assert_eq!((p.concealed_frames, p.bad_packets, p.foreign_packets, p.skipped_decodes), (0, 0, 0, 0), "{name}");
        assert!(p.packets_out >= 98, "{name}: {} packets out", p.packets_out);
    }
    assert_eq!(mix_rate_for([8000, 16_000]), 16_000);
}

#[test]
fn a_codec_not_negotiated_is_dropped_and_counted() {
    let mut m = Mixed::new(|_| LegOptions::default());
    // Leg u sends 5 of its packets as PCMA (payload type 8): not decoded as μ-law noise.
    let foreign = |i: usize, n: u32| (i == 0 && (50..55).contains(&n)).then_some(8);
    for _ in 0..200 {
        m.cycle(|_, _| None, foreign);
    }
    let s = m.room.stats(&m.engine).unwrap();
    let u = s.per_member.iter().find(|p| p.name == "u").unwrap();
    assert_eq!((u.foreign_packets, u.packets_in), (5, 95));
    for p in s.per_member.iter().filter(|p| p.name != "u") {
        assert_eq!((p.foreign_packets, p.concealed_frames), (0, 0), "{}", p.name);
    }
}

#[test]
fn rfc6464_silent_packets_are_not_decoded() {
    // Every leg skips packets whose level says no voice at -50 dBov or quieter. Leg o says
    // "silent" (V = 0, -90 dBov) for its first 60 packets and "voice" (V = 1, -12 dBov)
    // after; the others always say voice.
    let mut m = Mixed::new(|_| LegOptions { skip_silent_at: Some(50), ..LegOptions::default() });
    let level = |i: usize, n: u32| Some(if i == 2 && n < 60 { 90 } else { 0x80 | 12 });
    for _ in 0..240 {
        m.cycle(level, |_, _| None);
    }
    let s = m.room.stats(&m.engine).unwrap();
    let o = s.per_member.iter().find(|p| p.name == "o").unwrap();
    // Skipped packets count as received (the stream's accounting is whole: nothing concealed).
    assert_eq!((o.skipped_decodes, o.packets_in, o.concealed_frames), (60, 120, 0));
    for p in s.per_member.iter().filter(|p| p.name != "o") {
        assert_eq!(p.skipped_decodes, 0, "{}", p.name);
    }
    // While o's packets said silence, u heard only g; after, o's tone too.
    let u = &m.legs[0];
    let (early, late) = (&u.heard[8000 / 2..8000], &u.heard[u.heard.len() - 8000..]);
    assert!(db(amplitude(early, 2300.0, 8000), AMP) < -40.0, "o was decoded while silent");
    assert!(db(amplitude(late, 2300.0, 8000), AMP).abs() < 1.0);
    assert!(db(amplitude(early, 1100.0, 8000), AMP).abs() < 1.0);
}
