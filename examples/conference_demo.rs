//! The conference half of the controller API, as a SIP stack's conference focus calls it:
//! a room per conference, participants joining and leaving while it runs, mute, and the
//! room's events and statistics.
//!
//! `cargo run --example conference_demo`
//!
//! Four participants each "say" a tone of their own (alice 300 Hz, bob 500 Hz, carol 700 Hz,
//! dave 900 Hz), loud in their own one-second turn (alice, bob, carol, dave, …) and quiet (−26
//! dB) otherwise, so the room has a dominant speaker to name. Alice, bob and carol fed by the
//! host through `process_conference_audio`, dave an RTP leg whose G.711 packets the host pushes
//! into the room's packet endpoints as a transport would. Carol joins at 2 s, bob is muted from
//! 3 s to 4 s and dave leaves at 4 s. Once a second the example measures which tones each
//! host-fed participant hears (a Goertzel filter per tone over what came back) and prints the
//! room's events and stats.

use rvoip_media_core::conference::{LegMedia, LegOptions, RoomConfig};
use rvoip_media_core::prelude::*;
use rvoip_media_core::session::{
    ConferenceId, ConferenceLimits, DialogId, MediaEngine, MediaEngineConfig, MediaSessionController,
};
use rvoip_media_nodes::mixer::{MemberSettings, TalkerPolicy};
use rvoip_media_nodes::G711Law;
use std::time::{Duration, Instant};

/// Who says which tone.
const TONES: [(&str, f32); 4] = [("alice", 300.0), ("bob", 500.0), ("carol", 700.0), ("dave", 900.0)];
const RATE: f32 = 8000.0;

/// Power of `freq` in `x` relative to a full-scale sine, dB (Goertzel).
fn tone_db(x: &[f32], freq: f32) -> f32 {
    let w = 2.0 * std::f32::consts::PI * freq / RATE;
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &v in x {
        let s0 = v + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let n = x.len() as f32;
    10.0 * (4.0 * p / (n * n)).max(1e-12).log10()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).build())?;
    let calls = MediaSessionController::new(engine).with_conference_support(ConferenceLimits::default());
    let room = ConferenceId::from("standup");
    // Every member may be heard (up to four at once), with talk events and a dominant speaker.
    let policy = TalkerPolicy { max_talkers: 4, ..TalkerPolicy::default() };
    calls.create_conference(room.clone(), RoomConfig::new(AudioFormat::mono(8000)).with_policy(policy))?;
    for who in ["alice", "bob"] {
        calls.add_to_conference(&room, DialogId::from(who), LegMedia::Audio, LegOptions::default())?;
    }
    // Dave is an RTP leg: the host's transport takes its packet endpoints.
    let law = G711Law::Ulaw;
    let mut dave_io = calls.add_to_conference(
        &room,
        DialogId::from("dave"),
        LegMedia::g711(law, 10_000, 4),
        LegOptions::default(),
    )?;
    let mut dave_rx = dave_io.take_packet_in("dave.rx").ok_or("dave has no rx")?;
    let mut dave_tx = dave_io.take_packet_out("dave.tx").ok_or("dave has no tx")?;

    let start = Instant::now();
    let mut heard: Vec<Vec<f32>> = vec![Vec::new(); 3];
    let (mut input, mut output, mut payload) = ([0f32; 80], [0f32; 80], [0u8; 80]);
    let (mut carol_in, mut bob_muted, mut dave_in) = (false, false, true);
    for tick in 0..600u32 {
        let due = start + Duration::from_millis(10 * u64::from(tick));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let t = tick as f32 / 100.0;
        if t >= 2.0 && !carol_in {
            calls.add_to_conference(&room, DialogId::from("carol"), LegMedia::Audio, LegOptions::default())?;
            carol_in = true;
            println!("t={t:.1}s carol joins");
        }
        if (3.0..4.0).contains(&t) != bob_muted {
            bob_muted = !bob_muted;
            let settings = MemberSettings { muted: bob_muted, ..MemberSettings::default() };
            calls.set_conference_member(&room, &DialogId::from("bob"), settings)?;
            println!("t={t:.1}s bob {}", if bob_muted { "muted" } else { "unmuted" });
        }
        if t >= 4.0 && dave_in {
            calls.remove_from_conference(&room, &DialogId::from("dave"))?;
            dave_in = false;
            println!("t={t:.1}s dave leaves");
        }
        let turn = (tick / 100) as usize % TONES.len();
        let amplitude = |k: usize| if k == turn { 0.25 } else { 0.0125 };
        // Each host-fed participant says 10 ms of its tone and takes 10 ms of what it hears.
        for (k, (who, freq)) in TONES.iter().enumerate().take(3) {
            if *who == "carol" && !carol_in {
                continue;
            }
            for (i, v) in input.iter_mut().enumerate() {
                let n = tick as f32 * 80.0 + i as f32;
                *v = amplitude(k) * (2.0 * std::f32::consts::PI * freq * n / RATE).sin();
            }
            if calls.process_conference_audio(&room, &DialogId::from(*who), &input, &mut output)? {
                heard[k].extend_from_slice(&output);
            }
        }
        if dave_in {
            for (i, v) in input.iter_mut().enumerate() {
                let n = tick as f32 * 80.0 + i as f32;
                *v = amplitude(3) * (2.0 * std::f32::consts::PI * TONES[3].1 * n / RATE).sin();
            }
            law.encode_f32(&input, &mut payload);
            let meta = PacketMeta {
                payload_type: law.payload_type(),
                sequence: tick as u16,
                timestamp: tick * 80,
                ssrc: 0xDA7E,
                marker: tick == 0,
                ..PacketMeta::default()
            };
            dave_rx.push(meta, &payload)?;
            while dave_tx.pop().is_some() {} // what dave hears goes back over RTP
        }
        if tick % 100 == 99 {
            println!("--- second {} ---", tick / 100 + 1);
            for (k, got) in heard.iter_mut().enumerate() {
                if got.is_empty() {
                    continue;
                }
                let levels: Vec<String> = TONES.iter().map(|(w, f)| format!("{w} {:>6.1}", tone_db(got, *f))).collect();
                println!("  {:<5} hears (dBFS): {}", TONES[k].0, levels.join("  "));
                got.clear();
            }
            for e in calls.conference_events(&room)? {
                println!("  event at cycle {}: {:?}", e.cycle, e.kind);
            }
            let s = calls.get_conference_stats(&room)?;
            println!("  members {}, talking {}, heard {}, dominant {:?}", s.members, s.talking, s.heard, s.dominant);
        }
    }
    calls.destroy_conference(&room)?;
    Ok(())
}
