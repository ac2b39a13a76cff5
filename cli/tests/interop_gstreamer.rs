//! Interop with GStreamer on loopback: `rvoip-media call` sends PCMU (a 1 kHz tone) to a
//! GStreamer `rtpbin` pipeline that decodes it to a WAV file and returns RTCP receiver
//! reports, which `call` parses: the peer's CNAME, its fraction lost and cumulative lost
//! about our stream, and (when a report follows one of our SRs) the round-trip time from
//! its LSR/DLSR.
//!
//! Skipped, with a message, when `gst-launch-1.0` or its `rtpbin` is not installed.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{free_pair, json_field as field, wait_or_kill};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn gstreamer_rtpbin_receives_and_reports() {
    let have = Command::new("gst-inspect-1.0").arg("rtpbin").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !have.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: GStreamer (gst-launch-1.0 with rtpbin) not installed; interop with rtpbin not tested");
        return;
    }
    let d = std::env::temp_dir().join(format!("rvoip-gst-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let tone = d.join("tone.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&tone, spec).unwrap();
    for i in 0..8000 * 9 {
        w.write_sample((12000.0 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 8000.0).sin()) as i16).unwrap();
    }
    w.finalize().unwrap();
    let (ours, theirs) = (free_pair(), free_pair());
    let got = d.join("gst.wav");
    let pipeline = format!(
        "rtpbin name=rtpbin \
         udpsrc port={theirs} caps=application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0 ! rtpbin.recv_rtp_sink_0 \
         rtpbin. ! rtppcmudepay ! mulawdec ! audioconvert ! wavenc ! filesink location={} \
         udpsrc port={} caps=application/x-rtcp ! rtpbin.recv_rtcp_sink_0 \
         rtpbin.send_rtcp_src_0 ! udpsink host=127.0.0.1 port={} sync=false async=false",
        got.display(),
        theirs + 1,
        ours + 1
    );
    let gst = Command::new("gst-launch-1.0")
        .arg("-q")
        .arg("-e")
        .args(pipeline.split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let stats = d.join("stats.json");
    let call = cli_support::bin()
        .args(["call", "--local", &format!("127.0.0.1:{ours}"), "--remote", &format!("127.0.0.1:{theirs}")])
        .args(["--codec", "pcmu", "--seconds", "9", "--play"])
        .arg(&tone)
        .arg("--stats-json")
        .arg(&stats)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let _ = Command::new("kill").args(["-INT", &gst.id().to_string()]).status();
    wait_or_kill(gst, 5);
    assert!(call.success());
    let json = std::fs::read_to_string(&stats).unwrap();
    eprintln!("{json}");
    let rtcp_received: f64 = field(&json, "received").parse().unwrap();
    assert!(rtcp_received >= 1.0, "GStreamer's receiver reports arrived: {json}");
    assert!(field(&json, "remoteCname").contains('@'), "GStreamer's CNAME user@host: {json}");
    assert_eq!(field(&json, "fractionLost"), "0.000000", "{json}");
    let lost: i64 = field(&json, "packetsLost").parse().unwrap();
    assert!((-1..=0).contains(&lost), "cumulative lost about our stream: {lost}");
    // An RTT needs a report sent after GStreamer got one of our SRs (both sides randomise
    // their intervals, so within 9 s there may be none); when there is one it is small.
    if let Ok(rtt) = field(&json, "roundTripTime").parse::<f64>() {
        assert!((0.0..0.1).contains(&rtt), "loopback RTT {rtt}");
    }
    // What GStreamer decoded holds the tone.
    let mut r = hound::WavReader::open(&got).unwrap();
    let rate = r.spec().sample_rate;
    let x: Vec<f64> = r.samples::<i16>().map(|s| f64::from(s.unwrap()) / 32768.0).collect();
    assert!(x.len() as u32 > 5 * rate, "{} samples", x.len());
    let mid = &x[(2 * rate) as usize..(3 * rate) as usize];
    let rms = (mid.iter().map(|v| v * v).sum::<f64>() / mid.len() as f64).sqrt();
    assert!((rms - 12000.0 / 32768.0 / 2f64.sqrt()).abs() < 0.03, "rms {rms}");
    let _ = std::fs::remove_dir_all(&d);
}
