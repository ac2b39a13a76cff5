//! `rvoip-media call`: two calls talk over loopback (one plays a tone, the other records
//! it, both write statistics and SDP), and bad flags are refused in the user's terms
//! without leaving partial outputs.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, free_pair, json_number, tmp};
use std::process::{Output, Stdio};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn fails(args: &[&str]) -> String {
    let o = bin().args(args).output().unwrap();
    assert!(!o.status.success(), "{args:?} must fail; stderr: {}", stderr(&o));
    stderr(&o)
}

#[test]
fn call_to_call_on_loopback() {
    let d = tmp("call_to_call");
    let tone = d.join("tone.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&tone, spec).unwrap();
    for i in 0..20000 {
        w.write_sample((12000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0).sin()) as i16).unwrap();
    }
    w.finalize().unwrap();
    let (a, b) = (free_pair(), free_pair());
    let (rec, sa, sb, sdp) = (d.join("rec.wav"), d.join("a.json"), d.join("b.json"), d.join("a.sdp"));
    let listener = bin()
        .args(["call", "--local", &format!("127.0.0.1:{b}"), "--remote", &format!("127.0.0.1:{a}"), "--codec", "pcma"])
        .args(["--seconds", "2.5", "--record", rec.to_str().unwrap(), "--stats-json", sb.to_str().unwrap()])
        .args(["--audio-level", "3"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let talker = bin()
        .args(["call", "--local", &format!("127.0.0.1:{a}"), "--remote", &format!("127.0.0.1:{b}"), "--codec", "pcma"])
        .args(["--play", tone.to_str().unwrap(), "--seconds", "2.5", "--stats-json", sa.to_str().unwrap()])
        .args(["--sdp-out", sdp.to_str().unwrap(), "--dtmf", "12#", "--audio-level", "3"])
        .output()
        .unwrap();
    assert!(talker.status.success(), "{}", stderr(&talker));
    let out = listener.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (ja, jb) = (std::fs::read_to_string(&sa).unwrap(), std::fs::read_to_string(&sb).unwrap());
    // 2.5 s of 20 ms packets each way.
    assert_eq!(json_number(&ja, "packetsSent"), 125.0, "{ja}");
    assert!(json_number(&jb, "packetsReceived") >= 110.0, "{jb}");
    assert_eq!(json_number(&jb, "packetsLost"), 0.0, "{jb}");
    assert!(json_number(&jb, "jitter") < 0.02, "{jb}");
    // Played through the jitter buffer: its W3C counters are there, with a mean buffer
    // delay (jitterBufferDelay / jitterBufferEmittedCount) of a LAN's.
    let emitted = json_number(&jb, "jitterBufferEmittedCount");
    let mean_delay = json_number(&jb, "jitterBufferDelay") / emitted;
    assert!(emitted >= 80.0 * 160.0 && mean_delay > 0.0 && mean_delay < 0.15, "{jb}");
    assert!(json_number(&jb, "concealedSamples") >= 0.0 && json_number(&jb, "latePackets") <= 2.0, "{jb}");
    assert!(jb.contains("\"codec\": \"PCMA\"") && jb.contains("\"payloadType\": 8"), "{jb}");
    assert!(jb.contains("\"dtmfReceived\": \"12#\""), "RFC 4733 digits arrive once each: {jb}");
    assert!(ja.contains("\"dtmfReceived\": \"\""), "{ja}");
    // The recording: 2.5 s at 8 kHz, holding the tone after the digits (which took the place
    // of audio packets from 1 s to about 1.45 s).
    let mut r = hound::WavReader::open(&rec).unwrap();
    let x: Vec<f64> = r.samples::<i16>().map(|s| f64::from(s.unwrap()) / 32768.0).collect();
    assert_eq!(x.len(), 20000);
    let mid = &x[13600..17600];
    let rms = (mid.iter().map(|v| v * v).sum::<f64>() / mid.len() as f64).sqrt();
    assert!((rms - 12000.0 / 32768.0 / 2f64.sqrt()).abs() < 0.02, "rms {rms}");
    // The SDP describes the stream the talker sends: to b, PCMA.
    let text = std::fs::read_to_string(&sdp).unwrap();
    assert!(text.contains(&format!("m=audio {b} RTP/AVP 8\r\n")) && text.contains("a=rtpmap:8 PCMA/8000"), "{text}");
    // RFC 6464 levels: in the SDP, on every audio packet the talker sent (the DTMF event
    // packets, about 0.45 s of them, carry none), and read by the listener.
    assert!(text.contains("a=extmap:3 urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n"), "{text}");
    let levels_sent = json_number(&ja, "audioLevelsSent");
    assert!((95.0..=110.0).contains(&levels_sent), "{ja}");
    let levels_received = json_number(&jb, "audioLevelsReceived");
    assert!(levels_received <= levels_sent && levels_received >= levels_sent - 5.0, "{jb}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_flags_are_refused() {
    let d = tmp("call_bad");
    let stats = d.join("s.json");
    let s = stats.to_str().unwrap();
    let e = fails(&[
        "call",
        "--local",
        "127.0.0.1:0",
        "--remote",
        "127.0.0.1:9",
        "--codec",
        "pcmu",
        "--ptime",
        "15",
        "--stats-json",
        s,
    ]);
    assert!(e.contains("--ptime 15: must be a positive multiple of 10 ms"), "{e}");
    let e = fails(&["call", "--local", "127.0.0.1:0", "--remote", "127.0.0.1:9", "--codec", "pcmu", "--seconds", "0"]);
    assert!(e.contains("--seconds 0"), "{e}");
    let e = fails(&["call", "--local", "127.0.0.1:0", "--codec", "pcmu"]);
    assert!(e.contains("--remote"), "{e}");
    let e = fails(&["call", "--local", "127.0.0.1:0", "--remote", "127.0.0.1:9", "--codec", "pcmu", "--dtmf", "12x"]);
    assert!(e.contains("'x' is not a DTMF digit"), "{e}");
    let e =
        fails(&["call", "--local", "127.0.0.1:0", "--remote", "127.0.0.1:9", "--codec", "pcmu", "--audio-level", "15"]);
    assert!(e.contains("--audio-level 15: a one-byte header extension id is 1..=14"), "{e}");
    let e = fails(&["call", "--local", "127.0.0.1:0", "--remote", "127.0.0.1:9", "--codec", "pcmu", "--pt", "200"]);
    assert!(e.contains("0..=127"), "{e}");
    let e = fails(&[
        "call",
        "--local",
        "127.0.0.1:0",
        "--remote",
        "127.0.0.1:9",
        "--codec",
        "g722",
        "--ptime",
        "250",
        "--seconds",
        "0.1",
        "--stats-json",
        s,
    ]);
    assert!(e.contains("G722 does not support a ptime of 250 ms"), "{e}");
    let bad_sdp = d.join("bad.sdp");
    std::fs::write(&bad_sdp, "v=0\r\nm=audio x\r\n").unwrap();
    let e = fails(&["call", "--local", "127.0.0.1:0", "--sdp-in", bad_sdp.to_str().unwrap(), "--stats-json", s]);
    assert!(e.contains("bad.sdp"), "{e}");
    assert!(!stats.exists(), "no partial output");
    assert_eq!(
        std::fs::read_dir(&d)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("partial"))
            .count(),
        0
    );
    let _ = std::fs::remove_dir_all(&d);
}
