//! Interop with ffmpeg on loopback: ffmpeg sends PCMU, G.722 and Opus RTP to `rvoip-media
//! call`, which records it; `call` sends to ffmpeg, which opens the SDP `call --sdp-out`
//! wrote. Each side's recording must hold the 1 kHz tone the other sent, and our RFC 3550
//! counters must show no loss on loopback.
//!
//! Skipped, with a message, when `ffmpeg` is not installed (`.ci/run` installs it).

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, call_between, ffmpeg_command, free_pair, json_number, read_wav, tmp, wait_or_kill};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: ffmpeg is not installed; interop with ffmpeg not tested");
    }
    ok
}

/// Share of the signal's power at `freq` (Goertzel over `x`): ~1 for a pure tone.
fn tone_share(x: &[f32], rate: u32, freq: f64) -> f64 {
    let n = x.len() as f64;
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let energy: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    2.0 * power / (n * energy)
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn tone_wav(d: &Path, rate: u32) -> PathBuf {
    let p = d.join(format!("tone{rate}.wav"));
    let st = ffmpeg_command()
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=1000:sample_rate={rate}:duration=4"))
        .args(["-af", "volume=4", "-ac", "1"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    p
}

struct Case {
    name: &'static str,
    codec: &'static str,
    rate: u32,
    ffmpeg_codec: &'static [&'static str],
    pt: u8,
    /// Least share of the 1 kHz tone in what `call` records from ffmpeg. ffmpeg paces with
    /// its own timer (5.1 sends G.722 every 20.5 ms, measured on loopback), so packets drift
    /// against our worker's cycles; the decoder re-synchronises on packets late only against
    /// its concealment, so the tone comes through whole.
    min_share: f64,
}

const CASES: [Case; 3] = [
    Case { name: "pcmu", codec: "pcmu", rate: 8000, ffmpeg_codec: &["-c:a", "pcm_mulaw"], pt: 0, min_share: 0.9 },
    Case { name: "g722", codec: "g722", rate: 16000, ffmpeg_codec: &["-c:a", "g722"], pt: 9, min_share: 0.9 },
    Case {
        name: "opus",
        codec: "opus",
        rate: 48000,
        ffmpeg_codec: &["-c:a", "libopus", "-b:a", "48k", "-frame_duration", "20", "-application", "audio"],
        pt: 111,
        min_share: 0.9,
    },
];

#[test]
fn ffmpeg_sends_to_call() {
    if !ffmpeg() {
        return;
    }
    for case in &CASES {
        let d = tmp(&format!("tx-{}", case.name));
        let port = free_pair();
        let rec = d.join("rec.wav");
        let stats = d.join("stats.json");
        let call = bin()
            .args(["call", "--local", &format!("127.0.0.1:{port}"), "--remote", &format!("127.0.0.1:{}", free_pair())])
            .args(["--codec", case.codec, "--pt", &case.pt.to_string(), "--seconds", "3.5"])
            .arg("--record")
            .arg(&rec)
            .arg("--stats-json")
            .arg(&stats)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let frame = case.rate / 50;
        let ff = ffmpeg_command()
            .args(["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=1000:sample_rate={}:duration=2.5:samples_per_frame={frame}", case.rate))
            .args(["-af", "volume=4", "-ac", "1"])
            .args(case.ffmpeg_codec)
            .args(["-payload_type", &case.pt.to_string(), "-f", "rtp"])
            .arg(format!("rtp://127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ff.success(), "{}: ffmpeg failed", case.name);
        let out = call.wait_with_output().unwrap();
        assert!(out.status.success(), "{}: call failed", case.name);
        let json = std::fs::read_to_string(&stats).unwrap();
        let received = json_number(&json, "packetsReceived");
        let lost = json_number(&json, "packetsLost");
        let (x, rate) = read_wav(&rec);
        assert_eq!(rate, case.rate, "{}", case.name);
        // The tone plays from ~0.4 s to ~2.7 s: judge 1.0 .. 2.0 s.
        let mid = &x[rate as usize..2 * rate as usize];
        let share = tone_share(mid, rate, 1000.0);
        let (late, concealed) = (json_number(&json, "packetsDiscarded"), json_number(&json, "concealedSamples"));
        eprintln!(
            "{}: ffmpeg -> call: {received} packets, lost {lost}, discarded {late}, concealed samples {concealed}, rms {:.3}, 1 kHz share {share:.3}",
            case.name,
            rms(mid)
        );
        assert!(received >= 100.0, "{}: {json}", case.name);
        assert_eq!(lost, 0.0, "{}: {json}", case.name);
        assert!(rms(mid) > 0.25, "{}: rms {}", case.name, rms(mid));
        assert!(late <= 3.0, "{}: packets discarded by the receive path: {late}", case.name);
        assert!(share > case.min_share, "{}: the 1 kHz tone holds {share} of the power", case.name);
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn ffmpeg_receives_from_call() {
    if !ffmpeg() {
        return;
    }
    for case in &CASES {
        let d = tmp(&format!("rx-{}", case.name));
        let tone = tone_wav(&d, case.rate);
        let (ours, theirs) = (free_pair(), free_pair());
        let sdp = d.join("call.sdp");
        let call = || call_between(ours, theirs, case.codec, case.pt);
        // A short first run writes the SDP (outputs appear when a run completes).
        let st = call().args(["--seconds", "0.05", "--sdp-out"]).arg(&sdp).stderr(Stdio::null()).status().unwrap();
        assert!(st.success());
        let text = std::fs::read_to_string(&sdp).unwrap();
        assert!(text.contains(&format!("m=audio {theirs} RTP/AVP {}", case.pt)), "{text}");
        let got = d.join("ffmpeg.wav");
        let ff = ffmpeg_command()
            .args(["-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp", "-i"])
            .arg(&sdp)
            .args(["-t", "2", "-ac", "1", "-y"])
            .arg(&got)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let st = call().args(["--seconds", "3.5", "--play"]).arg(&tone).stderr(Stdio::null()).status().unwrap();
        assert!(st.success());
        assert!(wait_or_kill(ff, 5), "{}: ffmpeg did not finish", case.name);
        let (x, rate) = read_wav(&got);
        assert!(x.len() as u32 >= rate, "{}: ffmpeg wrote {} samples", case.name, x.len());
        let mid = &x[(rate / 2) as usize..(rate + rate / 2) as usize];
        let share = tone_share(mid, rate, 1000.0);
        eprintln!(
            "{}: call -> ffmpeg: {} samples at {rate} Hz, rms {:.3}, 1 kHz share {share:.3}",
            case.name,
            x.len(),
            rms(mid)
        );
        assert!(rms(mid) > 0.25, "{}: rms {}", case.name, rms(mid));
        assert!(share > 0.9, "{}: the 1 kHz tone holds {share} of the power", case.name);
        let _ = std::fs::remove_dir_all(&d);
    }
}
