//! Voice processing in media sessions, over UDP on loopback: A talks (the bundled speech) to
//! B. B's microphone picks up what B plays (an echo 50 ms later at half the level) and B's
//! own talker (over the echo, or alone and far too quietly). What A hears back is measured
//! with B's processing off and on: the echo canceller removes the echo and keeps B's
//! talker, the gain control lifts the quiet talker.
//!
//! B's microphone is fed by this test's thread, frame by frame as B plays, so the echo path
//! the canceller sees is 50 ms plus however long the ring toward B's worker holds the
//! frames. That ring starts with [`MIC_SLACK`] frames of silence, as a sound card's capture
//! buffer does: without it, every time this (not real-time) thread came more than one
//! quantum late the worker read silence instead and the echo path grew by 10 ms for the
//! rest of the call — under load (average 18 on two cores) three such steps in the
//! measured seconds left 9 dB of echo removed instead of 35–75, a failure of the test's
//! timing, not of the canceller.

use rvoip_media_core::engine::{AudioIn, AudioOut};
use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const SPEECH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_8k.wav");
/// 10 ms at 8 kHz.
const Q: usize = 80;
/// Echo path: 5 quanta (50 ms) late, half the level.
const ECHO_FRAMES: usize = 5;
const ECHO_GAIN: f32 = 0.5;
const SECONDS: usize = 8;
/// Frames of silence B's microphone ring starts with: the test thread may come this many
/// quanta late before the worker finds the ring empty (it holds 16).
const MIC_SLACK: usize = 8;

fn speech(skip_s: usize) -> Vec<f32> {
    let mut r = hound::WavReader::open(SPEECH).unwrap();
    assert_eq!(r.spec().sample_rate, 8000);
    r.samples::<i16>().skip(skip_s * 8000).take(SECONDS * 8000).map(|s| f32::from(s.unwrap()) / 32768.0).collect()
}

fn rms_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-20).log10()
}

/// What A receives while A sends `a_talk` and B's microphone is `b_talk` (B's own talker)
/// plus the echo of what B plays, with B's voice processing `p`; and how often B's worker
/// found the microphone's ring empty after the call started (each time, the echo path grew
/// by a quantum).
fn a_hears(p: ProcessingDefaults, a_talk: &[f32], b_talk: &[f32]) -> (Vec<f32>, u64) {
    let c = MediaEngineConfig::builder().workers(1).realtime(None).pin_workers(false).build();
    let engine = MediaEngine::start(c).unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let mut a = engine
        .create_media_session(DialogId::from("a"), MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap())
        .unwrap();
    let mut bp = MediaSessionParams::new(any, Some(a.local_addr()), CodecId::Pcmu).unwrap();
    bp.processing = Some(p);
    let mut b = engine.create_media_session(DialogId::from("b"), bp).unwrap();
    let (mut a_in, mut a_out): (AudioIn, AudioOut) = (a.take_audio_in().unwrap(), a.take_audio_out().unwrap());
    let (mut b_in, mut b_out) = (b.take_audio_in().unwrap(), b.take_audio_out().unwrap());
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    let frames = a_talk.len() / Q;
    for _ in 0..MIC_SLACK {
        b_in.push(&[0.0; Q]).unwrap();
    }
    let dry_before = b.statistics().graph.underruns;
    // B's microphone follows what B plays, frame by frame (both run on the worker's clock).
    let mut echo: VecDeque<[f32; Q]> = (0..ECHO_FRAMES).map(|_| [0.0; Q]).collect();
    let (mut heard, mut pushed, mut b_frames) = (Vec::new(), 0usize, 0usize);
    let start = Instant::now();
    // Time enough for a machine that runs the workers late (they catch up).
    while heard.len() < frames * Q && start.elapsed() < Duration::from_secs(4 * SECONDS as u64 + 10) {
        let due = (start.elapsed().as_millis() as usize / 10 + 3).min(frames);
        while pushed < due {
            if a_in.push(&a_talk[pushed * Q..(pushed + 1) * Q]).is_err() {
                break;
            }
            pushed += 1;
        }
        while let Some(f) = b_out.pop() {
            let mut played = [0f32; Q];
            played.copy_from_slice(f.samples());
            echo.push_back(played);
            let late = echo.pop_front().unwrap();
            let mut mic = [0f32; Q];
            for (k, m) in mic.iter_mut().enumerate() {
                *m = ECHO_GAIN * late[k] + b_talk.get(b_frames * Q + k).copied().unwrap_or(0.0);
            }
            let _ = b_in.push(&mic);
            b_frames += 1;
        }
        while let Some(f) = a_out.pop() {
            heard.extend_from_slice(f.samples());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let dry = b.statistics().graph.underruns - dry_before;
    a.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    assert!(heard.len() >= frames * Q, "A heard {} of {frames} frames in {:?}", heard.len() / Q, start.elapsed());
    (heard, dry)
}

#[test]
fn the_echo_canceller_removes_the_echo_and_keeps_the_near_talker() {
    let talk = speech(0);
    // B's own talker (other speech) from 6 s on, over the echo: double talk.
    let near: Vec<f32> =
        speech(16).iter().enumerate().map(|(i, v)| if i >= 6 * 8000 { 0.5 * v } else { 0.0 }).collect();
    let (off, _) = a_hears(ProcessingDefaults::default(), &talk, &near);
    let (on, dry) = a_hears(ProcessingDefaults { aec: true, ..Default::default() }, &talk, &near);
    // Echo alone from 3 to 6 s (the canceller has had 3 s of far-end speech), then the near
    // talker with the echo from 6.5 s to the end. What A hears starts about 40 ms late.
    let echo = |x: &[f32]| rms_db(&x[3 * 8000..6 * 8000]);
    let double = |x: &[f32]| rms_db(&x[6 * 8000 + 4000..(SECONDS * 8000).min(x.len())]);
    let near_level = rms_db(&near[6 * 8000 + 4000..]);
    eprintln!(
        "A hears: echo alone {:.1} dBFS without the canceller, {:.1} with it; B's talker over the echo {:.1} / {:.1} (alone {near_level:.1}); B's microphone ring empty {dry} times",
        echo(&off),
        echo(&on),
        double(&off),
        double(&on)
    );
    assert!(echo(&off) > rms_db(&talk) - 12.0, "without processing the echo comes back ({:.1} dBFS)", echo(&off));
    assert!(
        echo(&off) - echo(&on) >= 20.0,
        "the canceller removed only {:.1} dB of echo (the echo path grew by a quantum {dry} times)",
        echo(&off) - echo(&on)
    );
    assert!(
        (double(&on) - near_level).abs() <= 6.0,
        "B's talker through the canceller: {:.1} vs {near_level:.1} dBFS",
        double(&on)
    );
}

#[test]
fn the_gain_control_lifts_a_quiet_talker() {
    let silent = vec![0.0; SECONDS * 8000];
    // B's talker at -40 dB (other speech than A's, with A silent: no echo).
    let quiet: Vec<f32> = speech(8).iter().map(|v| v * 0.01).collect();
    let (off, _) = a_hears(ProcessingDefaults::default(), &silent, &quiet);
    let (on, _) = a_hears(ProcessingDefaults { agc: true, ..Default::default() }, &silent, &quiet);
    let tail = |x: &[f32]| x[x.len().saturating_sub(4 * 8000)..].to_vec();
    let (l_off, l_on) = (rms_db(&tail(&off)), rms_db(&tail(&on)));
    eprintln!("B's quiet talker heard at A: {l_off:.1} dBFS without gain control, {l_on:.1} dBFS with it");
    assert!(l_on - l_off >= 15.0, "the gain control lifted the talker by {:.1} dB only", l_on - l_off);
}
