//! RFC 6464 audio levels end to end between two media sessions on loopback, negotiated
//! through SDP (offer with `a=extmap`, answer, `MediaSessionParams::from_remote_sdp`): the
//! sender's packets carry the level of what it encodes and the receiver reads it; the levels
//! match the RMS of the tones sent (±1 dB) and the V bit flips at silence. A second test
//! captures the same stream with dumpcap and checks that tshark decodes the extension
//! element with our id and level bytes (skipped with a message without tshark/dumpcap).

use rvoip_media_core::engine::{AudioIn, AudioOut};
use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
use rvoip_media_core::rtp::AudioLevel;
use rvoip_media_core::sdp::{create_answer, create_offer, AUDIO_LEVEL_URI};
use rvoip_media_core::session::*;
#[path = "support/capture.rs"]
mod capture;
#[path = "support/ports.rs"]
mod ports;

use capture::Capture;
use ports::free_pair;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn engine() -> MediaEngine {
    let c = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None)
        .pin_workers(false)
        .codecs(&[CodecId::Pcmu])
        .audio_level(true)
        .rtcp_interval(Duration::from_millis(300))
        .build();
    MediaEngine::start(c).unwrap()
}

/// Sessions A (offerer, on `pa`) and B (answerer) negotiated through SDP text, RTCP on
/// port + 1 (no rtcp-mux, so a capture of A's RTP port holds RTP only); the audio level
/// offered with `id`.
fn negotiated_pair(engine: &MediaEngine, pa: u16, id: u8) -> (MediaSession, MediaSession) {
    let (a, b, _) = negotiated_pair_b_without_level(engine, pa, id, false);
    (a, b)
}

/// As [`negotiated_pair`]; with `b_without`, B is created as if its first answer had not
/// taken the level (its parameters with the level are returned for a later re-INVITE).
fn negotiated_pair_b_without_level(
    engine: &MediaEngine,
    pa: u16,
    id: u8,
    b_without: bool,
) -> (MediaSession, MediaSession, MediaSessionParams) {
    let pb = free_pair();
    let ip = "127.0.0.1".parse().unwrap();
    let mut offerer = engine.local_audio(ip, pa);
    offerer.audio_level_id = id;
    offerer.rtcp_mux = false;
    let offer = create_offer(&offerer);
    let answer = create_answer(&offer, &engine.local_audio(ip, pb));
    assert_eq!(answer.media[0].extmap(AUDIO_LEVEL_URI).map(|e| e.id), Some(id), "{answer}");
    let prefs = [LocalCodec::new(CodecId::Pcmu)];
    let local = |p: u16| format!("127.0.0.1:{p}").parse().unwrap();
    let pa_params = MediaSessionParams::from_remote_sdp(local(pa), &answer, &prefs).unwrap();
    let pb_params = MediaSessionParams::from_remote_sdp(local(pb), &offer, &prefs).unwrap();
    assert_eq!(
        pa_params.audio_level,
        Some(NegotiatedExtension { id, direction: rvoip_media_core::sdp::Direction::SendRecv })
    );
    let a = engine.create_media_session(DialogId::from("a"), pa_params).unwrap();
    let first =
        MediaSessionParams { audio_level: if b_without { None } else { pb_params.audio_level }, ..pb_params.clone() };
    let b = engine.create_media_session(DialogId::from("b"), first).unwrap();
    (a, b, pb_params)
}

/// What B sends, phase by phase: (amplitude of a 1 kHz sine, ms).
const PHASES: [(f32, u64); 3] = [(0.1, 600), (0.02, 600), (0.0, 600)];

/// The level a sine of amplitude `amp` should carry, computed here from its RMS in dB
/// (the sine sampled at 8 kHz, 160 samples per packet).
fn expected_db(amp: f32) -> f64 {
    let x: Vec<f64> =
        (0..160).map(|k| f64::from(amp) * (2.0 * std::f64::consts::PI * 1000.0 * k as f64 / 8000.0).sin()).collect();
    let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    -20.0 * rms.log10()
}

/// Pushes a 1 kHz tone of amplitude `amp` into `b_in` in real time for `ms` (one quantum
/// every 10 ms, kept three quanta ahead; each quantum ten whole periods), draining the
/// outputs and calling `each` every few ms.
fn push_tone(b_in: &mut AudioIn, outs: &mut [&mut AudioOut], amp: f32, ms: u64, mut each: impl FnMut()) {
    let start = Instant::now();
    let mut pushed = 0u64;
    while start.elapsed() < Duration::from_millis(ms) {
        let due = start.elapsed().as_millis() as u64 / 10 + 3;
        while pushed < due.min(ms / 10) {
            let frame: Vec<f32> =
                (0..80).map(|k| amp * (2.0 * std::f32::consts::PI * 1000.0 * (k % 8) as f32 / 8000.0).sin()).collect();
            let _ = b_in.push(&frame);
            pushed += 1;
        }
        for o in outs.iter_mut() {
            while o.pop().is_some() {}
        }
        each();
        std::thread::sleep(Duration::from_millis(3));
    }
}

/// Plays the phases into B, draining both outputs; samples A's last received level every
/// few ms. Returns (phase, level) samples.
fn play(a: &MediaSession, b_in: &mut AudioIn, outs: &mut [&mut AudioOut]) -> Vec<(usize, AudioLevel)> {
    let mut seen = Vec::new();
    for (p, &(amp, ms)) in PHASES.iter().enumerate() {
        push_tone(b_in, outs, amp, ms, || {
            if let Some(l) = a.rtp_statistics().last_audio_level {
                seen.push((p, l));
            }
        });
    }
    seen
}

#[test]
fn received_levels_follow_the_tone_and_the_v_bit_flips_at_silence() {
    let engine = engine();
    let (mut a, mut b) = negotiated_pair(&engine, free_pair(), 5);
    let (mut a_out, mut b_in, mut b_out) =
        (a.take_audio_out().unwrap(), b.take_audio_in().unwrap(), b.take_audio_out().unwrap());
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    let seen = play(&a, &mut b_in, &mut [&mut a_out, &mut b_out]);
    for (p, &(amp, _)) in PHASES.iter().enumerate() {
        let levels: Vec<AudioLevel> = seen.iter().filter(|(q, _)| *q == p).map(|(_, l)| *l).collect();
        // The second half of each phase: the pipeline (ring, worker, 20 ms packets) has
        // caught up with the change.
        let settled = &levels[levels.len() / 2..];
        assert!(settled.len() > 20, "phase {p}: {levels:?}");
        if amp == 0.0 {
            for l in settled {
                assert_eq!(*l, AudioLevel { voice: false, level: 127 }, "silence, phase {p}: {levels:?}");
            }
        } else {
            // A host thread starved for 30 ms on a loaded machine lets the worker encode a
            // quantum of silence into a packet (a lower level): at most one sample in ten.
            let want = expected_db(amp);
            let near = settled.iter().filter(|l| (f64::from(l.level) - want).abs() <= 1.0 && l.voice).count();
            assert!(
                near * 10 >= settled.len() * 9,
                "phase {p}: {near} of {} within 1 dB of {want:.2}: {levels:?}",
                settled.len()
            );
            assert!(settled.iter().all(|l| l.voice), "V set on a tone louder than -50 dBov: {levels:?}");
        }
    }
    b.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    // A's I/O thread reads the last packets (a loaded machine may take a while).
    let sb = b.rtp_statistics();
    let t = Instant::now();
    while a.rtp_statistics().received.packets < sb.packets_sent && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sa = a.rtp_statistics();
    // Every packet B sent carried a level, and A read every one it received.
    assert_eq!(sb.audio_levels_sent, sb.packets_sent, "{sb:?}");
    assert!(sb.packets_sent >= 80, "{sb:?}");
    assert_eq!(sa.audio_levels_received, sa.received.packets, "{sa:?}");
    assert_eq!(sa.audio_levels_received, sb.packets_sent, "loopback loses nothing");
    // Payload bytes exclude the 8 extension bytes: 160 bytes of PCMU per packet.
    assert_eq!(sb.payload_bytes_sent, 160 * sb.packets_sent);
    assert_eq!(sb.bytes_sent, (12 + 8 + 160) * sb.packets_sent);
    a.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
}

#[test]
fn tshark_decodes_our_level_extension() {
    let pa = free_pair();
    let Some(mut capture) = Capture::start("level", pa, "the level extension") else {
        return;
    };
    let engine = engine();
    let id = 11;
    let (mut a, mut b) = negotiated_pair(&engine, pa, id);
    let (mut a_out, mut b_in, mut b_out) =
        (a.take_audio_out().unwrap(), b.take_audio_in().unwrap(), b.take_audio_out().unwrap());
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    play(&a, &mut b_in, &mut [&mut a_out, &mut b_out]);
    b.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sent = b.rtp_statistics().packets_sent;
    a.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    capture.stop();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture.pcap)
        .args(["-d", &format!("udp.port=={pa},rtp"), "-Y", "rtp", "-T", "fields", "-E", "separator=;"])
        .args(["-e", "rtp.seq", "-e", "rtp.ext.profile", "-e", "rtp.ext.rfc5285.id", "-e", "rtp.ext.rfc5285.len"])
        .args(["-e", "rtp.ext.rfc5285.data"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(';').collect()).collect();
    assert_eq!(rows.len() as u64, sent, "every packet B sent was captured and decoded as RTP: {text}");
    let (mut voiced, mut silent) = (0, 0);
    let loud = expected_db(PHASES[0].0);
    let mut saw_loud = false;
    for r in &rows {
        assert_eq!(r.len(), 5, "{r:?}");
        assert_eq!(r[1], "0xbede", "one-byte header profile: {r:?}");
        assert_eq!(r[2], id.to_string(), "our negotiated id: {r:?}");
        assert_eq!(r[3], "1", "one byte of data: {r:?}");
        let byte = u8::from_str_radix(r[4], 16).unwrap_or_else(|_| panic!("{r:?}"));
        let l = AudioLevel::from_byte(byte);
        if l.voice {
            voiced += 1;
            saw_loud |= (f64::from(l.level) - loud).abs() <= 1.0;
        } else {
            assert_eq!(l.level, 127, "unvoiced packets here are the silence phase: {r:?}");
            silent += 1;
        }
    }
    eprintln!("tshark: {} packets, {voiced} voiced, {silent} silent, id {id}", rows.len());
    assert!(saw_loud, "the loud tone's level is on the wire");
    assert!(voiced >= 50 && silent >= 20, "{voiced} voiced, {silent} silent");
}

#[test]
fn a_reinvite_that_adds_the_level_makes_a_running_session_send_it() {
    let engine = engine();
    let (mut a, mut b, with_level) = negotiated_pair_b_without_level(&engine, free_pair(), 7, true);
    let (mut a_out, mut b_in, mut b_out) =
        (a.take_audio_out().unwrap(), b.take_audio_in().unwrap(), b.take_audio_out().unwrap());
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    push_tone(&mut b_in, &mut [&mut a_out, &mut b_out], 0.1, 400, || {});
    let before = b.rtp_statistics();
    assert!(before.packets_sent >= 10, "{before:?}");
    assert_eq!(before.audio_levels_sent, 0, "not negotiated yet: {before:?}");
    b.update(with_level).unwrap().wait(Duration::from_secs(2)).unwrap();
    push_tone(&mut b_in, &mut [&mut a_out, &mut b_out], 0.1, 600, || {});
    let after = b.rtp_statistics();
    assert!(after.audio_levels_sent >= 20, "sent after the update: {after:?}");
    assert!(after.packets_sent - after.audio_levels_sent >= before.packets_sent, "{after:?}");
    let l = a.rtp_statistics().last_audio_level.expect("A read a level");
    assert!(l.voice && (f64::from(l.level) - expected_db(0.1)).abs() <= 1.0, "{l:?}");
    b.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    a.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
}

/// Pushes `x` (8 kHz) into `b_in` in real time, one 10 ms quantum at a time kept three
/// ahead, draining the outputs and calling `each` every few ms.
fn push_samples(b_in: &mut AudioIn, outs: &mut [&mut AudioOut], x: &[f32], mut each: impl FnMut(usize)) {
    let start = Instant::now();
    let quanta: Vec<&[f32]> = x.chunks_exact(80).collect();
    let mut pushed = 0usize;
    while pushed < quanta.len() {
        let due = start.elapsed().as_millis() as usize / 10 + 3;
        while pushed < due.min(quanta.len()) {
            let _ = b_in.push(quanta[pushed]);
            pushed += 1;
        }
        for o in outs.iter_mut() {
            while o.pop().is_some() {}
        }
        each(start.elapsed().as_millis() as usize);
        std::thread::sleep(Duration::from_millis(3));
    }
}

#[test]
fn with_the_vad_on_v_follows_speech_and_not_noise_as_loud() {
    // B's VAD sets V: 4 s of speech, then 4 s of noise at the speech's RMS.
    let c = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None)
        .pin_workers(false)
        .codecs(&[CodecId::Pcmu])
        .audio_level(true)
        .processing(ProcessingDefaults { vad: true, ..ProcessingDefaults::default() })
        .build();
    let engine = MediaEngine::start(c).unwrap();
    let (mut a, mut b) = negotiated_pair(&engine, free_pair(), 3);
    let (mut a_out, mut b_in, mut b_out) =
        (a.take_audio_out().unwrap(), b.take_audio_in().unwrap(), b.take_audio_out().unwrap());
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_8k.wav");
    let mut r = hound::WavReader::open(path).unwrap();
    let speech: Vec<f32> = r.samples::<i16>().take(8000 * 4).map(|s| f32::from(s.unwrap()) / 32768.0).collect();
    let rms = |x: &[f32]| (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    // Brown-ish noise (white through a leaky integrator), scaled to the speech's RMS.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut acc = 0.0f32;
    let mut noise: Vec<f32> = (0..8000 * 4)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            acc = 0.9 * acc + ((seed >> 40) as f32 / 8_388_608.0 - 1.0);
            acc
        })
        .collect();
    let g = (rms(&speech) / rms(&noise)) as f32;
    noise.iter_mut().for_each(|v| *v *= g);
    let x: Vec<f32> = speech.iter().chain(&noise).copied().collect();
    let mut seen: Vec<(usize, AudioLevel)> = Vec::new();
    push_samples(&mut b_in, &mut [&mut a_out, &mut b_out], &x, |ms| {
        if let Some(l) = a.rtp_statistics().last_audio_level {
            seen.push((ms, l));
        }
    });
    let share = |from: usize, to: usize| {
        let v: Vec<&AudioLevel> = seen.iter().filter(|(t, _)| (from..to).contains(t)).map(|(_, l)| l).collect();
        let voiced = v.iter().filter(|l| l.voice).count() as f64 / v.len().max(1) as f64;
        let mut lv: Vec<u8> = v.iter().map(|l| l.level).collect();
        lv.sort_unstable();
        (voiced, lv.get(lv.len() / 2).copied().unwrap_or(127), v.len())
    };
    // Speech from its second second; noise from its third (the VAD's floor follows it).
    let (sv, sl, sn) = share(1000, 4000);
    let (nv, nl, nn) = share(6000, 8000);
    eprintln!("V on speech {sv:.2} (median −{sl} dBov, {sn} samples), on noise {nv:.2} (−{nl} dBov, {nn})");
    assert!(sn > 100 && nn > 100, "{sn} {nn}");
    assert!(nl <= sl + 3, "the noise is at least as loud as the speech: −{nl} vs −{sl} dBov");
    assert!(sv >= 0.6, "speech packets with V: {sv:.2}");
    assert!(nv <= 0.1, "noise packets with V: {nv:.2}");
    b.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    a.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
}
