//! Our RFC 3550 receiver statistics against Wireshark's: a paced RTP stream with known gaps
//! and timing jitter goes to `rvoip-media call` on loopback while `dumpcap` captures it;
//! `tshark -z rtp,streams` on the capture must give the same loss (exactly) and a mean
//! jitter within 0.5 ms of ours; and `rvoip-media jitter` replays dumpcap's pcapng file with
//! the same packet and loss counts. And the headers the packet-ring backend writes itself
//! (`bridge --io packet-ring`) pass Wireshark's IPv4 and UDP checksum checks.
//!
//! Skipped, with a message, when `tshark` or `dumpcap` is not installed (`.ci/run`
//! installs tshark), or when capturing on the loopback interface is not permitted.

#[path = "support/cli.rs"]
mod cli_support;

#[path = "../../tests/support/capture.rs"]
mod capture;

use capture::Capture;
use cli_support::{free_pair, json_number};
use rvoip_media_core::graph::PacketMeta;
use rvoip_media_core::rtp::write_rtp;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn loss_and_jitter_agree_with_tshark() {
    let port = free_pair();
    let Some(mut capture) = Capture::start("tshark", port, "statistics") else {
        return;
    };
    let stats = capture.pcap.with_file_name("stats.json");
    let call = cli_support::bin()
        .args(["call", "--local", &format!("127.0.0.1:{port}"), "--remote", &format!("127.0.0.1:{}", free_pair())])
        .args(["--codec", "pcmu", "--seconds", "4.5", "--stats-json"])
        .arg(&stats)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    // 160 packets of 20 ms; 7 never sent; each delayed by 0..6 ms (deterministic).
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let skip = [20u16, 45, 46, 80, 100, 101, 102];
    let mut x: u32 = 12345;
    let start = Instant::now();
    let mut buf = [0u8; 200];
    for i in 0..160u16 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let delay_us = u64::from((x >> 16) % 6000);
        let due = Duration::from_micros(u64::from(i) * 20_000 + delay_us);
        while start.elapsed() < due {
            std::thread::sleep(Duration::from_micros(200));
        }
        if skip.contains(&i) {
            continue;
        }
        let meta = PacketMeta {
            payload_type: 0,
            sequence: 1000 + i,
            timestamp: 50_000 + u32::from(i) * 160,
            ssrc: 0x5151_5151,
            ..Default::default()
        };
        let n = write_rtp(&meta, &[0xff; 160], &mut buf).unwrap();
        sock.send_to(&buf[..n], ("127.0.0.1", port)).unwrap();
    }
    assert!(call.wait_with_output().unwrap().status.success());
    std::thread::sleep(Duration::from_millis(300));
    capture.stop();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture.pcap)
        .args(["-d", &format!("udp.port=={port},rtp"), "-q", "-z", "rtp,streams"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.contains("0x51515151")).unwrap_or_else(|| panic!("no stream in {text}"));
    // ... SSRC Payload Pkts Lost (pct) MinDelta MeanDelta MaxDelta MinJitter MeanJitter MaxJitter
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = f.iter().position(|t| *t == "0x51515151").unwrap();
    let pkts: f64 = f[at + 2].parse().unwrap();
    let lost: f64 = f[at + 3].parse().unwrap();
    let mean_jitter_ms: f64 = f[at + 9].parse().unwrap();
    let max_jitter_ms: f64 = f[at + 10].parse().unwrap();
    let json = std::fs::read_to_string(&stats).unwrap();
    let our_lost = json_number(&json, "packetsLost");
    let our_mean = json_number(&json, "jitterMean") * 1000.0;
    let our_max = json_number(&json, "jitterMax") * 1000.0;
    eprintln!(
        "tshark: {pkts} packets, lost {lost}, mean jitter {mean_jitter_ms} ms, max {max_jitter_ms} ms; \
         ours: lost {our_lost}, mean jitter {our_mean:.3} ms, max {our_max:.3} ms"
    );
    assert_eq!(pkts, 153.0, "{text}");
    assert_eq!(lost, 7.0, "{text}");
    assert_eq!(our_lost, lost, "loss agrees exactly");
    assert!((our_mean - mean_jitter_ms).abs() < 0.5, "mean jitter: ours {our_mean} vs tshark {mean_jitter_ms}");

    // dumpcap's file is pcapng: `rvoip-media jitter` replays it as it is.
    let replay = capture.pcap.with_file_name("replay.json");
    let out = cli_support::bin()
        .args(["jitter", "--codec", "pcmu", "--pcap"])
        .arg(&capture.pcap)
        .arg("--out")
        .arg(capture.pcap.with_file_name("replay.wav"))
        .arg("--stats")
        .arg(&replay)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = std::fs::read_to_string(&replay).unwrap();
    assert_eq!(json_number(&json, "packetsReceived"), pkts, "{json}");
    assert_eq!(json_number(&json, "packetsLost"), lost, "{json}");
}

/// The packet-ring backend writes the IPv4 and UDP headers of what the bridge sends itself:
/// Wireshark must find both checksums good, the source port the leg's own (symmetric RTP)
/// and RTP inside. Skipped, with a message, where the packet ring or a capture is not
/// available.
#[test]
fn the_packet_rings_own_headers_pass_wiresharks_checksums() {
    if let Err(e) = rvoip_media_core::transport::batch::packet_ring_support() {
        eprintln!("SKIPPED: packet ring unavailable here ({e})");
        return;
    }
    let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let phone_port = phone.local_addr().unwrap().port();
    let Some(mut capture) = Capture::start("packet-ring", phone_port, "the packet ring's headers") else {
        return;
    };
    let port0 = free_pair();
    let mut bridge = cli_support::bin()
        .args(["bridge", "--legs", "2", "--codec", "pcmu", "--listen", &format!("127.0.0.1:{port0}")])
        .args(["--io", "packet-ring", "--seconds", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(bridge.stdout.take().unwrap()));
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.contains("ready") && ready.contains("io=packet_ring"), "{ready}");
    let mut buf = [0u8; 200];
    for i in 0..50u16 {
        for (s, port, ssrc) in [(&phone, port0, 1), (&other, port0 + 1, 2)] {
            let meta =
                PacketMeta { payload_type: 0, sequence: i, timestamp: u32::from(i) * 160, ssrc, ..Default::default() };
            let n = write_rtp(&meta, &[0xff; 160], &mut buf).unwrap();
            s.send_to(&buf[..n], ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(bridge.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    capture.stop();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture.pcap)
        .args(["-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"])
        .args(["-d", &format!("udp.port=={phone_port},rtp"), "-T", "fields"])
        .args(["-e", "udp.srcport", "-e", "udp.checksum.status", "-e", "ip.checksum.status", "-e", "rtp.p_type"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let sent = rest.iter().find(|l| l.starts_with("done")).map_or(0.0, |d| json_number(d, "sent"));
    eprintln!("tshark: {} datagrams from the bridge to leg 0 ({sent} sent to both legs)", rows.len());
    assert!(rows.len() >= 50, "{text}");
    // Checksum status 1 = good (Wireshark's PROTO_CHECKSUM_E_GOOD).
    let want = [port0.to_string(), "1".into(), "1".into(), "0".into()];
    for r in &rows {
        assert_eq!(r, &want, "{text}");
    }
}
