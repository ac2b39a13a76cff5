//! A live codec switch that changes the audio rate (issue 11): two sessions call each
//! other with PCMU (8 kHz), switch to G.722 (16 kHz audio, 8000 Hz RTP clock) or Opus
//! (48 kHz audio and RTP clock) and back, as two re-INVITEs would. A relay between them
//! records every RTP packet A sends. After each switch each side hears the other's tone at
//! the level it was sent; A's stream keeps its SSRC, its sequence numbers run on by one and
//! its timestamps by one packet (20 ms in the clock of the packet before) from packet to
//! packet across both switches; B's jitter buffer switched decoder twice and lost nothing.

use rvoip_media_core::engine::{AudioIn, AudioOut};
use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::rtp::{is_rtcp, parse_rtp};
use rvoip_media_core::session::*;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 10 ms at 8 kHz (both sessions' host rate: the rate of the codec they start with).
const Q: usize = 80;
/// The tone's amplitude, and the RMS it has.
const AMPLITUDE: f32 = 0.5;

/// (payload type, sequence, timestamp, SSRC) of each RTP packet the relay forwarded.
type Log = Arc<Mutex<Vec<(u8, u16, u32, u32)>>>;

/// Forwards datagrams arriving at its socket to `to`, logging the RTP ones. Returns its
/// address and the log; the thread ends with the test process.
fn recording_relay(to: std::net::SocketAddr) -> (std::net::SocketAddr, Log) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let log: Log = Arc::default();
    let keep = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok(n) = socket.recv(&mut buf) {
            if !is_rtcp(&buf[..n]) {
                if let Ok((m, _)) = parse_rtp(&buf[..n], 0) {
                    keep.lock().unwrap().push((m.payload_type, m.sequence, m.timestamp, m.ssrc));
                }
            }
            let _ = socket.send_to(&buf[..n], to);
        }
    });
    (addr, log)
}

struct Side {
    input: AudioIn,
    output: AudioOut,
    phase: usize,
    pushed: u64,
    heard: Vec<f32>,
}

impl Side {
    fn new(s: &mut MediaSession) -> Side {
        Side {
            input: s.take_audio_in().unwrap(),
            output: s.take_audio_out().unwrap(),
            phase: 0,
            pushed: 0,
            heard: Vec::new(),
        }
    }

    /// Keeps about 3 quanta of a 1 kHz tone queued ahead of `due` quanta, collects what
    /// arrived.
    fn pump(&mut self, due: u64) {
        let mut frame = [0f32; Q];
        while self.pushed < due {
            for s in frame.iter_mut() {
                *s = AMPLITUDE * (2.0 * std::f32::consts::PI * 1000.0 * self.phase as f32 / 8000.0).sin();
                self.phase += 1;
            }
            let _ = self.input.push(&frame);
            self.pushed += 1;
        }
        while let Some(f) = self.output.pop() {
            self.heard.extend_from_slice(f.samples());
        }
    }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Runs both sides for `ms` of real time; returns the RMS each heard over the last 400 ms.
fn talk(a: &mut Side, b: &mut Side, start: Instant, ms: u64) -> (f32, f32) {
    a.heard.clear();
    b.heard.clear();
    let until = start.elapsed() + Duration::from_millis(ms);
    while start.elapsed() < until {
        let due = start.elapsed().as_millis() as u64 / 10 + 3;
        a.pump(due);
        b.pump(due);
        std::thread::sleep(Duration::from_millis(2));
    }
    let tail = |x: &[f32]| rms(&x[x.len().saturating_sub(3200)..]);
    (tail(&a.heard), tail(&b.heard))
}

/// Packet ticks of 20 ms of `codec`'s RTP clock.
fn ticks(codec: CodecId) -> u32 {
    rvoip_media_core::rtp::clock_rate(codec) / 50
}

/// A call that starts with PCMU, switches both sides to `other` and back; checks the
/// tone's level after each switch and A's stream as the relay saw it.
fn pcmu_to_and_back(other: CodecId) {
    let config = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None)
        .pin_workers(false)
        .rtcp_interval(Duration::from_millis(200))
        .build();
    let engine = MediaEngine::start(config).unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let wait = Duration::from_secs(2);
    // A sends to B through the relay; B sends to A directly.
    let mut b = engine
        .create_media_session(DialogId::from("b"), MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap())
        .unwrap();
    let (relay, log) = recording_relay(b.local_addr());
    let mut a = engine
        .create_media_session(DialogId::from("a"), MediaSessionParams::new(any, Some(relay), CodecId::Pcmu).unwrap())
        .unwrap();
    let mut p = b.params().clone();
    p.remote = rvoip_media_core::transport::Remote::Fixed(a.local_addr());
    b.update(p).unwrap().wait(wait).unwrap();
    let (mut sa, mut sb) = (Side::new(&mut a), Side::new(&mut b));
    a.start().unwrap().wait(wait).unwrap();
    b.start().unwrap().wait(wait).unwrap();
    let start = Instant::now();
    let sent = AMPLITUDE / 2f32.sqrt();
    let within = |heard: f32| (20.0 * (heard / sent).log10()).abs() < 1.0;

    let mut phases = Vec::new();
    let mut pts = Vec::new();
    for codec in [CodecId::Pcmu, other, CodecId::Pcmu] {
        let n = negotiated(codec, None).unwrap();
        pts.push(n.payload_type);
        if codec != a.params().codec.codec {
            a.set_codec(n.clone(), 20).unwrap().wait(wait).unwrap();
            b.set_codec(n, 20).unwrap().wait(wait).unwrap();
        }
        let (heard_by_a, heard_by_b) = talk(&mut sa, &mut sb, start, 1500);
        println!("{codec}: A hears {heard_by_a:.4}, B hears {heard_by_b:.4} (sent {sent:.4})");
        phases.push((codec, heard_by_a, heard_by_b));
    }
    for &(codec, heard_by_a, heard_by_b) in &phases {
        assert!(within(heard_by_a) && within(heard_by_b), "{codec}: tone within 1 dB both ways: {phases:?}");
    }

    // A's stream across both switches: each packet's timestamp is the previous one's plus
    // the previous packet's 20 ms in the previous packet's clock.
    let log = log.lock().unwrap().clone();
    println!("A's packets through the relay: {}", log.len());
    assert!(log.len() >= 180, "packets relayed: {}", log.len());
    let runs: Vec<u8> = log.iter().map(|p| p.0).fold(Vec::new(), |mut v, pt| {
        if v.last() != Some(&pt) {
            v.push(pt);
        }
        v
    });
    assert_eq!(runs, pts, "payload types in order: PCMU, {other}, PCMU");
    let step = |pt: u8| if pt == pts[1] { ticks(other) } else { ticks(CodecId::Pcmu) };
    for w in log.windows(2) {
        let ((p0, s0, t0, x0), (pt, s1, t1, x1)) = (w[0], w[1]);
        assert_eq!(x1, x0, "same SSRC");
        assert_eq!(s1, s0.wrapping_add(1), "sequence continues (packet of type {pt})");
        assert_eq!(t1, t0.wrapping_add(step(p0)), "timestamp continues by one 20 ms packet ({p0} -> {pt})");
    }
    let rx = b.statistics().receive.stats;
    assert_eq!(rx.codec_switches, 2, "B's buffer switched decoder twice");
    assert_eq!((rx.packets_lost, b.rtp_statistics().received.restarts), (0, 0), "nothing lost, no restart");
    a.stop().unwrap().wait(wait).unwrap();
    b.stop().unwrap().wait(wait).unwrap();
}

#[test]
fn pcmu_to_g722_and_back_keeps_the_stream_and_the_level() {
    pcmu_to_and_back(CodecId::G722);
}

/// Opus also changes the RTP clock (48000 Hz): the sender's timestamps step by 960 while
/// it sends Opus, and B's transport maps them into its buffer's 8000 Hz timeline.
#[test]
fn pcmu_to_opus_and_back_keeps_the_stream_and_the_level() {
    pcmu_to_and_back(CodecId::Opus);
}
