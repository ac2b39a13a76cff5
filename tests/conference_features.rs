//! Conference rooms as bridge users expect them, on a driven engine with exact expectations:
//! listeners share one encode and hear the talkers' exact mix, talkers hear each other,
//! mute and deaf change live, talk and dominant-speaker events carry names, an idle room
//! encodes once per cycle, and recordings hold exactly what was mixed.

#[path = "support/ulaw_quanta.rs"]
mod ulaw_quanta;

use rvoip_media_core::conference::{LegMedia, Room, RoomConfig, RoomEventKind};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::mixer::{MemberSettings, TalkerPolicy};
use ulaw_quanta::{decoded, g711, LAW};

const N: usize = 8;

struct Bridge {
    engine: Engine,
    driver: Driver,
    room: Room,
    rx: Vec<PacketIn>,
    tx: Vec<PacketOut>,
    cycle: usize,
}

/// What leg `i` sends in cycle `c`: the `talkers` talk (sines of their amplitude and a
/// pitch of their own, in 150 ms "syllables" with 50 ms pauses at -63 dBFS background
/// noise, leg i's pauses 100 ms after leg i-1's), the others send digital silence.
fn signal(i: usize, c: usize, talkers: &[(usize, f32)]) -> [f32; 80] {
    let mut x = [0.0; 80];
    if let Some(&(_, amp)) = talkers.iter().find(|(t, _)| *t == i) {
        let amp = if (c + 10 * i) % 20 < 15 { amp } else { 0.001 };
        for (k, v) in x.iter_mut().enumerate() {
            *v = amp * ((c * 80 + k) as f32 * 0.05 * (i + 1) as f32).sin();
        }
    }
    x
}

impl Bridge {
    fn new(policy: TalkerPolicy) -> Bridge {
        let config = RoomConfig::new(AudioFormat::mono(8000)).with_max_members(N + 1).with_policy(policy);
        Bridge::with(config.with_shared_encodes(), N)
    }

    /// A room of `config` whose N legs join `per_join` at a time.
    fn with(config: RoomConfig, per_join: usize) -> Bridge {
        // Rings of 64 quanta: the recording writer drains every 5 ms while a driven engine runs
        // cycles much faster than real time.
        let cfg =
            EngineConfig { telemetry_interval: 1, packet_pool: 1024, ring_capacity: 64, ..EngineConfig::default() };
        let (engine, driver) = Engine::driven(cfg).unwrap();
        let mut room = Room::with_config(&engine, config).unwrap();
        let (mut rx, mut tx) = (Vec::new(), Vec::new());
        for first in (0..N).step_by(per_join) {
            let end = N.min(first + per_join);
            let legs = (first..end).map(|i| (format!("p{i}"), LegMedia::g711(LAW, 10_000, 100 + i as u32)));
            let mut io = room.join_many(&engine, legs).unwrap().io;
            for i in first..end {
                rx.push(io.take_packet_in(&format!("p{i}.rx")).unwrap());
                tx.push(io.take_packet_out(&format!("p{i}.tx")).unwrap());
            }
        }
        Bridge { engine, driver, room, rx, tx, cycle: 0 }
    }

    /// One cycle: every leg sends its packet; returns what each leg received (`None`:
    /// nothing) and what each sent, decoded.
    fn cycle(&mut self, talkers: &[(usize, f32)]) -> (Vec<Option<Packet>>, Vec<[f32; 80]>) {
        let c = self.cycle;
        let mut sent = Vec::new();
        for (i, r) in self.rx.iter_mut().enumerate() {
            let p = g711(&signal(i, c, talkers));
            sent.push(decoded(&p));
            let meta = PacketMeta {
                payload_type: 0,
                sequence: c as u16,
                timestamp: (c * 80) as u32,
                ssrc: i as u32,
                ..PacketMeta::default()
            };
            r.push(meta, &p).unwrap();
        }
        self.driver.process_cycle();
        self.engine.poll();
        self.cycle += 1;
        let got = self.tx.iter_mut().map(|t| t.pop().map(|p| (*p).clone())).collect();
        (got, sent)
    }
}

fn sum(a: &[f32; 80], b: &[f32; 80]) -> [f32; 80] {
    std::array::from_fn(|k| 0.0 + a[k] + b[k])
}

fn minus(t: &[f32; 80], own: &[f32; 80]) -> [f32; 80] {
    std::array::from_fn(|k| t[k] - own[k])
}

#[test]
fn listeners_share_one_encode_and_hear_the_talkers_exact_mix() {
    let policy = TalkerPolicy { max_talkers: 2, comfort_noise_dbfs: None, ..TalkerPolicy::default() };
    let mut b = Bridge::new(policy);
    let talkers = [(0, 0.3f32), (1, 0.1f32)];
    let mut seq = [None::<u16>; N];
    for c in 0..60 {
        let (got, sent) = b.cycle(&talkers);
        let total = sum(&sent[0], &sent[1]);
        let shared = g711(&total);
        for (i, p) in got.iter().enumerate() {
            let p = p.as_ref().unwrap_or_else(|| panic!("cycle {c}: leg {i} got nothing"));
            let want = match i {
                0 => g711(&minus(&total, &sent[0])),
                1 => g711(&minus(&total, &sent[1])),
                _ => shared,
            };
            assert_eq!(p.payload(), &want[..], "cycle {c} leg {i}");
            // Each leg's own RTP stream: its SSRC, its sequence, +1 per packet.
            assert_eq!(p.meta.ssrc, 100 + i as u32);
            if let Some(s) = seq[i] {
                assert_eq!(p.meta.sequence, s.wrapping_add(1));
            }
            seq[i] = Some(p.meta.sequence);
        }
    }
    // Encodes from telemetry: the two talkers' own mixes and one shared encode per cycle.
    let s = b.room.stats(&b.engine).unwrap();
    assert_eq!(s.shared_encodes, 1);
    assert_eq!(s.shared_encoder_quanta, 60);
    let own: u64 = s.per_member.iter().map(|m| m.own_quanta).sum();
    let spliced: u64 = s.per_member.iter().map(|m| m.shared_quanta).sum();
    assert_eq!((own, spliced), (2 * 60, (N as u64 - 2) * 60));
    assert_eq!((s.talking, s.heard), (2, 2));
    // Names in the events: both started talking in cycle 0; at the first decision (300 ms)
    // p0 has talked through the last 100 ms and p1 paused: p0 dominates, and keeps the
    // floor at the next decision although p0 is the one pausing then (p1's lead over 100 ms
    // is not enough on the medium scale).
    let mut events = Vec::new();
    while let Some(e) = b.room.poll_event() {
        events.push((e.cycle, e.kind));
    }
    assert_eq!(
        events,
        vec![
            (0, RoomEventKind::TalkingStarted("p0".into())),
            (0, RoomEventKind::TalkingStarted("p1".into())),
            (29, RoomEventKind::DominantSpeaker(Some("p0".into()))),
        ]
    );
    assert_eq!(b.room.dominant_speaker(), Some("p0"));
    assert_eq!(b.room.talking().collect::<Vec<_>>(), vec!["p0", "p1"]);

    // An idle room: after the 300 ms hangover nobody is heard, and the only encode left is
    // the shared one (silence for everybody).
    for _ in 0..40 {
        b.cycle(&[]);
    }
    let before = b.room.stats(&b.engine).unwrap();
    for _ in 0..10 {
        let (got, _) = b.cycle(&[]);
        assert!(got.iter().all(|p| p.as_ref().unwrap().payload() == &g711(&[0.0; 80])[..]));
    }
    let after = b.room.stats(&b.engine).unwrap();
    let own = |s: &rvoip_media_core::conference::RoomStats| s.per_member.iter().map(|m| m.own_quanta).sum::<u64>();
    assert_eq!(own(&after) - own(&before), 0);
    assert_eq!(after.shared_encoder_quanta - before.shared_encoder_quanta, 10);
    assert_eq!(after.talking, 0);
}

/// A room that grows its mixer (2 ports, then 4, then 8) while legs join one by one keeps
/// every wire of the policy: talkers' own mixes, the shared encode, the hear marks.
#[test]
fn a_policy_room_keeps_its_wiring_when_the_mixer_grows() {
    let policy = TalkerPolicy { max_talkers: 2, comfort_noise_dbfs: None, ..TalkerPolicy::default() };
    let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(2).with_policy(policy).with_shared_encodes();
    let mut b = Bridge::with(config, 1);
    assert_eq!(b.room.capacity(), 8);
    let talkers = [(0, 0.3f32), (1, 0.1f32)];
    for c in 0..20 {
        let (got, sent) = b.cycle(&talkers);
        let total = sum(&sent[0], &sent[1]);
        assert_eq!(got[0].as_ref().unwrap().payload(), &g711(&minus(&total, &sent[0]))[..], "cycle {c}");
        for p in &got[2..] {
            assert_eq!(p.as_ref().unwrap().payload(), &g711(&total)[..], "cycle {c}");
        }
    }
    let s = b.room.stats(&b.engine).unwrap();
    assert_eq!((s.shared_encodes, s.per_member[5].shared_quanta, s.per_member[5].own_quanta), (1, 20, 0));
}

#[test]
fn mute_and_deaf_change_live() {
    let policy = TalkerPolicy { max_talkers: 3, comfort_noise_dbfs: None, ..TalkerPolicy::default() };
    let mut b = Bridge::new(policy);
    let talkers = [(0, 0.3f32), (1, 0.1f32)];
    for _ in 0..5 {
        b.cycle(&talkers);
    }
    // p0 muted: nobody hears it, it hears p1 (the shared mix); p2 deaf: gets nothing, and its
    // leg sends nothing while it is.
    let d = MemberSettings::default();
    b.room.set_member(&b.engine, "p0", MemberSettings { muted: true, ..d }).unwrap();
    b.room.set_member(&b.engine, "p2", MemberSettings { deaf: true, ..d }).unwrap();
    let skipped_before = b.room.stats(&b.engine).unwrap().per_member[2].skipped_quanta;
    for c in 0..10 {
        let (got, sent) = b.cycle(&talkers);
        let total = sum(&[0.0; 80], &sent[1]);
        assert_eq!(got[0].as_ref().unwrap().payload(), &g711(&total)[..], "cycle {c}");
        assert_eq!(got[3].as_ref().unwrap().payload(), &g711(&total)[..]);
        assert_eq!(got[1].as_ref().unwrap().payload(), &g711(&minus(&total, &sent[1]))[..]);
        assert!(got[2].is_none(), "cycle {c}: a deaf member got a packet");
    }
    assert_eq!(b.room.stats(&b.engine).unwrap().per_member[2].skipped_quanta - skipped_before, 10);
    // Both back: p2's stream resumes with the marker bit and the next sequence number.
    b.room.set_member(&b.engine, "p0", d).unwrap();
    b.room.set_member(&b.engine, "p2", d).unwrap();
    let (got, sent) = b.cycle(&talkers);
    let total = sum(&sent[0], &sent[1]);
    let p2 = got[2].as_ref().unwrap();
    assert_eq!(p2.payload(), &g711(&total)[..]);
    assert!(p2.meta.marker);
    // An unknown member and a bad gain are refused.
    assert!(matches!(b.room.set_member(&b.engine, "zed", d), Err(EngineError::UnknownNodeName { .. })));
    let t = b.room.set_member(&b.engine, "p1", MemberSettings { input_gain: f32::INFINITY, ..d }).unwrap();
    b.cycle(&talkers);
    assert!(matches!(b.engine.outcome(t), Some(Err(_))), "{:?}", b.engine.outcome(t));
}

#[test]
fn recordings_hold_what_was_sent_and_mixed() {
    let dir = std::env::temp_dir().join(format!("rvoip-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = TalkerPolicy { max_talkers: 2, comfort_noise_dbfs: None, ..TalkerPolicy::default() };
    let mut b = Bridge::new(policy);
    let talkers = [(0, 0.3f32), (1, 0.1f32)];
    let member = b.room.record_member(&b.engine, "p1", dir.join("p1.wav")).unwrap();
    let mix = b.room.record_mix(&b.engine, dir.join("mix.wav")).unwrap();
    let mut sent_p1 = Vec::new();
    let mut mixed = Vec::new();
    for _ in 0..30 {
        let (_, sent) = b.cycle(&talkers);
        sent_p1.extend_from_slice(&sent[1]);
        mixed.extend_from_slice(&sum(&sent[0], &sent[1]));
    }
    b.room.stop_recording(&b.engine, &member).unwrap();
    b.room.stop_recording(&b.engine, &mix).unwrap();
    b.cycle(&talkers);
    b.engine.poll();
    assert_eq!(member.finish().unwrap(), 30);
    assert_eq!(mix.finish().unwrap(), 30);
    let read = |name: &str| -> Vec<i16> {
        hound::WavReader::open(dir.join(name)).unwrap().into_samples::<i16>().map(Result::unwrap).collect()
    };
    let pcm = |x: &[f32]| -> Vec<i16> {
        let mut v = vec![0i16; x.len()];
        rvoip_media_nodes::kernels::f32_to_i16(&mut v, x);
        v
    };
    assert_eq!(read("p1.wav"), pcm(&sent_p1));
    assert_eq!(read("mix.wav"), pcm(&mixed));
    // The recorder is gone from the room.
    assert_eq!(b.room.members().count(), N);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_room_is_a_typed_error() {
    let mut b = Bridge::new(TalkerPolicy::default());
    b.room.join(&b.engine, "ninth", LegMedia::Audio).unwrap();
    let e = b.room.join(&b.engine, "tenth", LegMedia::Audio).err().unwrap();
    assert!(matches!(e, EngineError::RoomFull { limit: 9, .. }), "{e}");
    // Leaving makes room.
    b.room.leave(&b.engine, "p3").unwrap();
    b.room.join(&b.engine, "tenth", LegMedia::Audio).unwrap();
    assert_eq!(b.room.members().count(), 9);
}
