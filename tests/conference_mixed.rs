//! A room of mixed codecs and rates (PCMU, PCMA and G.729 at 8 kHz, G.722 16 kHz, Opus 48 kHz) on a driven
//! engine: each leg's tone is heard by the others at its frequency and level (measured after
//! a decode on the far side), no leg hears itself, per-leg codec figures, a packet of a codec
//! not negotiated is dropped and counted, and RFC 6464 silent packets are not decoded.

use rvoip_media_core::conference::{mix_rate_for, LegMedia, LegOptions, MemberStats, Room, RoomConfig, RoomStats};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::codec::{CodecId, Decoder, Encoder};
use rvoip_media_nodes::jitter::JitterConfig;
use rvoip_media_nodes::mixer::TalkerPolicy;

/// The legs: name, codec, the tone each sends (Hz).
const LEGS: [(&str, CodecId, f32); 5] = [
    ("u", CodecId::Pcmu, 500.0),
    ("g", CodecId::G722, 1100.0),
    ("o", CodecId::Opus, 2300.0),
    ("a", CodecId::Pcma, 700.0),
    ("t", CodecId::G729, 1500.0),
];
/// Each tone's amplitude: four heard at once stay below full scale.
const AMP: f32 = 0.15;
const PTIME: u32 = 20_000;

struct Leg {
    rate: u32,
    amp: f32,
    tone: f32,
    enc: Box<dyn Encoder>,
    dec: Box<dyn Decoder>,
    rx: PacketIn,
    tx: PacketOut,
    sent: u32,
    heard: Vec<f32>,
    /// Keep every received payload and marker bit.
    tx_log: bool,
    payloads: Vec<Vec<u8>>,
    markers: Vec<bool>,
}

struct Mixed {
    engine: Engine,
    driver: Driver,
    room: Room,
    legs: Vec<Leg>,
    cycle: usize,
    /// Cycles per 20 ms packet.
    per_packet: usize,
}

impl Mixed {
    fn new(options: impl Fn(usize) -> LegOptions) -> Mixed {
        let rates = LEGS.map(|(_, c, _)| c.native_rate());
        let m = Mixed::with(&LEGS, RoomConfig::for_codec_rates(rates), Quantum::MS_10, options);
        assert_eq!(m.room.config().format.rate, 48_000, "an Opus member makes it a 48 kHz room");
        m
    }

    /// A room of `config` at `quantum` with `specs`' legs, 20 ms packets.
    fn with(
        specs: &[(&str, CodecId, f32)],
        config: RoomConfig,
        quantum: Quantum,
        options: impl Fn(usize) -> LegOptions,
    ) -> Mixed {
        let cfg = EngineConfig {
            quantum,
            telemetry_interval: 1,
            packet_pool: 1024,
            ring_capacity: 64,
            ..EngineConfig::default()
        };
        let (engine, driver) = Engine::driven(cfg).unwrap();
        let mut room = Room::with_config(&engine, config).unwrap();
        let mut legs = Vec::new();
        for (i, &(name, codec, tone)) in specs.iter().enumerate() {
            let media = LegMedia::codec(codec, PTIME, 100 + i as u32).unwrap();
            let mut io = room.join_with(&engine, name, media, options(i)).unwrap().io;
            let rate = codec.native_rate();
            legs.push(Leg {
                rate,
                amp: AMP,
                tone,
                enc: codec.encoder(rate, 1, false).unwrap(),
                dec: codec.decoder(rate, 1).unwrap(),
                rx: io.take_packet_in(&format!("{name}.rx")).unwrap(),
                tx: io.take_packet_out(&format!("{name}.tx")).unwrap(),
                sent: 0,
                heard: Vec::new(),
                tx_log: false,
                payloads: Vec::new(),
                markers: Vec::new(),
            });
        }
        let per_packet = (PTIME / quantum.micros()) as usize;
        Mixed { engine, driver, room, legs, cycle: 0, per_packet }
    }

    /// One cycle: every 20 ms each leg sends a packet of its tone (at its `amp`; `level` gives the
    /// RFC 6464 byte per leg and packet, `pt` may replace the payload type); every leg's
    /// received packets are decoded into `heard`.
    fn cycle(&mut self, level: impl Fn(usize, u32) -> Option<u8>, pt: impl Fn(usize, u32) -> Option<u8>) {
        if self.cycle % self.per_packet == 0 {
            for (i, l) in self.legs.iter_mut().enumerate() {
                let n = (l.rate / 50) as usize;
                let start = l.sent as usize * n;
                let pcm: Vec<f32> = (0..n)
                    .map(|k| l.amp * (2.0 * std::f32::consts::PI * l.tone * (start + k) as f32 / l.rate as f32).sin())
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
                if l.tx_log {
                    l.payloads.push(p.payload().to_vec());
                    l.markers.push(p.meta.marker);
                }
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
                // What is there is the codec's noise (the mix leaves the leg out exactly);
                // G.729's at 8 kbit/s is higher.
                let floor = if LEGS[i].1 == CodecId::G729 { -30.0 } else { -40.0 };
                assert!(db(a, AMP) < floor, "leg {i} hears itself at {:.1} dB", db(a, AMP));
            } else {
                // G.729 (CELP, 8 kbit/s) reproduces a tone's level less closely than the others.
                let g729 = LEGS[i].1 == CodecId::G729 || LEGS[j].1 == CodecId::G729;
                let tolerance = if g729 { 1.5 } else { 0.5 };
                assert!(db(a, AMP).abs() < tolerance, "leg {i} hears leg {j}'s {} Hz at {:.2} dB", o.tone, db(a, AMP));
            }
        }
        // Nothing else: the heard signal's power is the other tones' (within 1 dB).
        let power: f32 = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32 / (LEGS.len() - 1) as f32 * 2.0;
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
        assert_eq!((p.concealed_samples, p.bad_packets, p.foreign_packets, p.skipped_decodes), (0, 0, 0, 0), "{name}");
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
        assert_eq!((p.foreign_packets, p.concealed_samples), (0, 0), "{}", p.name);
    }
}

#[test]
fn rfc6464_silent_packets_are_not_decoded() {
    rfc6464(None);
}

#[test]
fn rfc6464_silent_packets_are_not_decoded_behind_a_jitter_buffer() {
    rfc6464(Some(JitterConfig::default()));
}

/// Every leg (through `jitter`, or a plain decoder) skips packets whose level says no voice
/// at -50 dBov or quieter. Leg o says "silent" (V = 0, -90 dBov) for its first 60 packets
/// and "voice" (V = 1, -12 dBov) after; the others always say voice.
fn rfc6464(jitter: Option<JitterConfig>) {
    let mut m = Mixed::new(|_| LegOptions { skip_silent_at: Some(50), jitter, ..LegOptions::default() });
    let level = |i: usize, n: u32| Some(if i == 2 && n < 60 { 90 } else { 0x80 | 12 });
    for _ in 0..240 {
        m.cycle(level, |_, _| None);
    }
    let s = m.room.stats(&m.engine).unwrap();
    let o = s.per_member.iter().find(|p| p.name == "o").unwrap();
    assert_eq!(o.skipped_decodes, 60);
    for p in s.per_member.iter().filter(|p| p.name != "o") {
        assert_eq!(p.skipped_decodes, 0, "{}", p.name);
    }
    // Skipped packets count as received and played: nothing lost, discarded or concealed.
    let t = m.engine.telemetry(m.room.id(), m.room.decoder_of("o").unwrap()).unwrap();
    if jitter.is_some() {
        let v = |n: &str| t.get(n).unwrap();
        assert_eq!((v("packetsReceived"), v("packetsLost"), v("packetsDiscarded")), (120.0, 0.0, 0.0));
        assert_eq!((v("missedPackets"), v("latePackets")), (0.0, 0.0));
        // The member's figures are the buffer's: packets received, samples concealed.
        let r = o.jitter.expect("a leg with a jitter buffer reports its figures");
        assert_eq!((o.packets_in, r.stats.packets_received, r.stats.skipped_decodes), (120, 120, 60));
        assert!(s.per_member.iter().all(|p| p.jitter.is_some_and(|r| r.stats.packets_received == 120)));
    } else {
        assert_eq!((o.packets_in, o.concealed_samples), (120, 0));
        assert!(s.per_member.iter().all(|p| p.jitter.is_none()));
    }
    // While o's packets said silence, u heard only the others; after, o's tone too.
    let u = &m.legs[0];
    let (early, late) = (&u.heard[8000 / 2..8000], &u.heard[u.heard.len() - 8000..]);
    assert!(db(amplitude(early, 2300.0, 8000), AMP) < -40.0, "o was decoded while silent");
    assert!(db(amplitude(late, 2300.0, 8000), AMP).abs() < 1.0);
    assert!(db(amplitude(early, 1100.0, 8000), AMP).abs() < 1.0);
}

/// Shared encodes beyond G.711: a 48 kHz policy room at a 20 ms quantum with two legs each of
/// PCMU, G.722 and Opus (20 ms frames). Two talkers (a PCMU and a G.722 leg): per cycle 2
/// own encodes (the talkers' N-1 mixes) and 3 shared ones (one per codec), the 4 listeners
/// splice; every listener of a codec gets the same payload, and hears both talkers' tones at
/// their level. Then an Opus listener starts talking and the PCMU talker stops: the Opus leg
/// hands its stream over once (resuming its own encoder, the packet marked).
#[test]
fn stateful_codecs_share_one_encode_per_variant() {
    const SPECS: [(&str, CodecId, f32); 6] = [
        ("u0", CodecId::Pcmu, 500.0),
        ("u1", CodecId::Pcmu, 700.0),
        ("g0", CodecId::G722, 1100.0),
        ("g1", CodecId::G722, 1300.0),
        ("o0", CodecId::Opus, 2300.0),
        ("o1", CodecId::Opus, 2500.0),
    ];
    let policy = TalkerPolicy { max_talkers: 3, comfort_noise_dbfs: None, ..TalkerPolicy::default() };
    let config =
        RoomConfig::for_codec_rates(SPECS.map(|(_, c, _)| c.native_rate())).with_policy(policy).with_shared_encodes();
    let mut m = Mixed::with(&SPECS, config.with_max_members(6), Quantum::MS_20, |_| LegOptions::default());
    for (i, l) in m.legs.iter_mut().enumerate() {
        l.amp = if i == 0 || i == 2 { AMP } else { 0.0 };
    }
    assert_eq!(m.room.shared_encodes(), 3);
    for l in &mut m.legs {
        l.tx_log = true;
    }
    for _ in 0..50 {
        m.cycle(|_, _| None, |_, _| None);
    }
    let before = m.room.stats(&m.engine).unwrap();
    let payloads_before: Vec<usize> = m.legs.iter().map(|l| l.payloads.len()).collect();
    const C: u64 = 50;
    for _ in 0..C {
        m.cycle(|_, _| None, |_, _| None);
    }
    let after = m.room.stats(&m.engine).unwrap();
    let delta = |name: &str, f: fn(&MemberStats) -> u64| {
        let get = |s: &RoomStats| f(s.per_member.iter().find(|p| p.name == name).unwrap());
        get(&after) - get(&before)
    };
    let own: u64 = SPECS.iter().map(|(n, ..)| delta(n, |p| p.own_quanta)).sum();
    let spliced: u64 = SPECS.iter().map(|(n, ..)| delta(n, |p| p.shared_quanta)).sum();
    assert_eq!((own, spliced), (2 * C, 4 * C), "own encodes and splices over {C} cycles");
    assert_eq!(after.shared_encoder_quanta - before.shared_encoder_quanta, 3 * C);
    assert_eq!((delta("u0", |p| p.own_quanta), delta("g0", |p| p.own_quanta)), (C, C));
    // The two listeners of each codec got the same payload every cycle.
    for pair in [(1usize, 0usize), (3, 2), (5, 4)] {
        let (a, b) = pair;
        let (pa, pb) = (&m.legs[a].payloads[payloads_before[a]..], &m.legs[b].payloads[payloads_before[b]..]);
        if b == 4 {
            assert_eq!(pa, pb, "the Opus listeners share");
        } else {
            // The other leg of the pair is a talker: its payloads are its own.
            assert_ne!(pa, pb);
        }
    }
    // The Opus listeners hear both talkers at their level and nothing of their own.
    for l in &m.legs[4..] {
        let x = &l.heard[l.heard.len() - l.rate as usize..];
        for t in [500.0, 1100.0] {
            let a = db(amplitude(x, t, l.rate), AMP);
            eprintln!("an Opus listener hears {t} Hz at {a:.2} dB");
            assert!(a.abs() < 0.5, "{t} Hz at {a:.2} dB");
        }
        assert!(db(amplitude(x, 2300.0, l.rate), AMP) < -40.0);
    }
    assert!(after.per_member.iter().all(|p| p.handoffs == 0));

    // o0 starts talking, u0 stops.
    m.legs[4].amp = AMP;
    m.legs[0].amp = 0.0;
    let marked_from = m.legs[4].markers.len();
    for _ in 0..60 {
        m.cycle(|_, _| None, |_, _| None);
    }
    let end = m.room.stats(&m.engine).unwrap();
    let o0 = end.per_member.iter().find(|p| p.name == "o0").unwrap();
    assert_eq!(o0.handoffs, 1, "o0 took its stream back once");
    assert_eq!(m.legs[4].markers[marked_from..].iter().filter(|&&b| b).count(), 1, "one marked packet");
    let u0 = end.per_member.iter().find(|p| p.name == "u0").unwrap();
    assert_eq!(u0.handoffs, 0, "G.711 has nothing to hand over");
    assert!(u0.shared_quanta > 0, "u0 listens again");
    // o0 is heard at once; u0 stays heard for its 300 ms hangover (15 cycles: 3 own encodes
    // then), after which the talkers are o0 and g0: 2 own encodes per cycle again.
    let own_now: u64 = end.per_member.iter().map(|p| p.own_quanta).sum::<u64>()
        - after.per_member.iter().map(|p| p.own_quanta).sum::<u64>();
    eprintln!("{own_now} own encodes in the 60 cycles after the change");
    assert_eq!(own_now, 2 * 60 + 15, "own encodes in 60 cycles");
}
