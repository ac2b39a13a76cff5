//! Two media sessions talking to each other over UDP on loopback, on a running engine:
//! symmetric RTP latching, audio through both codecs, mute keeping RTP flowing, hold
//! stopping media while RTCP continues, a live codec switch keeping the SSRC and sequence,
//! stop with RTCP BYE; and a raw socket feeding garbage, unknown payload types and valid
//! packets.

use rvoip_media_core::engine::{AudioIn, AudioOut};
use rvoip_media_core::graph::PacketMeta;
use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::rtp::write_rtp;
use rvoip_media_core::session::*;
use rvoip_media_core::transport::Remote;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn engine() -> MediaEngine {
    let c = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None)
        .pin_workers(false)
        .rtcp_interval(Duration::from_millis(200))
        .build();
    MediaEngine::start(c).unwrap()
}

const Q: usize = 80; // 10 ms at 8 kHz

/// Runs `ms` of real time: pushes a 1 kHz tone (or silence) into `input` every quantum and
/// collects what `output` received. Returns the received samples.
fn pump(input: &mut AudioIn, output: &mut AudioOut, ms: u64, tone: bool, phase: &mut usize) -> Vec<f32> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut frame = [0f32; Q];
    let mut pushed = 0u64;
    while start.elapsed() < Duration::from_millis(ms) {
        // Keep about 3 quanta queued ahead of the worker.
        let due = start.elapsed().as_millis() as u64 / 10 + 3;
        while pushed < due {
            for s in frame.iter_mut() {
                *s =
                    if tone { 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * *phase as f32 / 8000.0).sin() } else { 0.0 };
                *phase += 1;
            }
            let _ = input.push(&frame);
            pushed += 1;
        }
        while let Some(f) = output.pop() {
            got.extend_from_slice(f.samples());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    got
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

#[test]
fn two_sessions_talk_mute_hold_switch_stop() {
    let engine = engine();
    let any = "127.0.0.1:0".parse().unwrap();
    // A latches onto whoever talks to it first; B sends to A.
    let mut a = engine
        .create_media_session(DialogId::from("a"), MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap())
        .unwrap();
    let b_params = MediaSessionParams::new(any, Some(a.local_addr()), CodecId::Pcmu).unwrap();
    let mut b = engine.create_media_session(DialogId::from("b"), b_params).unwrap();
    let (mut a_in, mut a_out) = (a.take_audio_in().unwrap(), a.take_audio_out().unwrap());
    let (mut b_in, mut b_out) = (b.take_audio_in().unwrap(), b.take_audio_out().unwrap());
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    let (mut pa, mut pb) = (0, 0);

    // B talks (tone), A is silent: A hears the tone; A latches onto B and sends back.
    for _ in 0..60 {
        let got = pump(&mut b_in, &mut b_out, 10, true, &mut pb);
        let _ = got;
        let heard = pump(&mut a_in, &mut a_out, 10, false, &mut pa);
        let _ = heard;
    }
    let heard = {
        // Both directions at once for 400 ms: B's tone into A.
        let t = Instant::now();
        let mut heard = Vec::new();
        while t.elapsed() < Duration::from_millis(400) {
            pump(&mut b_in, &mut b_out, 20, true, &mut pb);
            heard.extend(pump(&mut a_in, &mut a_out, 20, false, &mut pa));
        }
        heard
    };
    assert!(rms(&heard[heard.len() / 2..]) > 0.2, "A hears B's tone: rms {}", rms(&heard));
    let sa = a.rtp_statistics();
    let sb = b.rtp_statistics();
    assert_eq!(sa.remote, Some(b.local_addr()), "A latched onto B");
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(events.contains(&SessionEvent::RemoteLatched(b.local_addr())), "{events:?}");
    assert!(events.contains(&SessionEvent::TalkingStarted), "B's tone: {events:?}");
    assert!(sb.packets_sent >= 30, "B sent {}", sb.packets_sent);
    assert!(sa.received.received >= 30, "A received {:?}", sa.received);
    assert_eq!(sa.received.lost, 0, "no loss on loopback");
    assert_eq!(sa.received.ssrc, b.ssrc());
    assert!(sb.received.received > 0, "B hears A once A latched");
    assert!(sa.rtcp_received > 0 && sb.rtcp_received > 0, "RTCP both ways: {} {}", sa.rtcp_received, sb.rtcp_received);

    // Mute B: RTP keeps flowing (sequence continuing, nothing lost), A hears silence.
    b.set_muted(true).unwrap().wait(Duration::from_secs(2)).unwrap();
    assert!(b.is_muted());
    let before = a.rtp_statistics().received;
    let mut heard = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(400) {
        pump(&mut b_in, &mut b_out, 20, true, &mut pb);
        heard.extend(pump(&mut a_in, &mut a_out, 20, false, &mut pa));
    }
    let after = a.rtp_statistics().received;
    assert!(after.received >= before.received + 15, "RTP flows while muted: {} -> {}", before.received, after.received);
    assert_eq!(after.lost, 0);
    assert_eq!(after.restarts, 0, "same SSRC, sequence continuing");
    assert!(rms(&heard[heard.len() / 2..]) < 0.01, "A hears silence: {}", rms(&heard[heard.len() / 2..]));
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(events.contains(&SessionEvent::TalkingStopped), "B muted: {events:?}");
    b.set_muted(false).unwrap().wait(Duration::from_secs(2)).unwrap();

    // Codec switch on both sides (a re-INVITE to PCMA): SSRC kept, no restart, tone again.
    let pcma = negotiated(CodecId::Pcma, None).unwrap();
    b.set_codec(pcma.clone(), 20).unwrap().wait(Duration::from_secs(2)).unwrap();
    a.set_codec(pcma, 20).unwrap().wait(Duration::from_secs(2)).unwrap();
    let mut heard = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(400) {
        pump(&mut b_in, &mut b_out, 20, true, &mut pb);
        heard.extend(pump(&mut a_in, &mut a_out, 20, false, &mut pa));
    }
    let s = a.rtp_statistics();
    assert_eq!((s.received.restarts, s.received.ssrc, s.unknown_payload_type), (0, b.ssrc(), 0));
    assert_eq!(s.received.lost, 0);
    assert!(rms(&heard[heard.len() / 2..]) > 0.2, "tone through PCMA: {}", rms(&heard));
    assert_eq!(a.statistics().codec, CodecId::Pcma);

    // Hold on B: media stops, RTCP continues.
    b.pause().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (sent, rtcp) = (b.rtp_statistics().packets_sent, b.rtp_statistics().rtcp_sent);
    pump(&mut b_in, &mut b_out, 600, true, &mut pb);
    let s = b.rtp_statistics();
    assert_eq!(s.packets_sent, sent, "no media on hold");
    assert!(s.packets_not_sent > 0);
    assert!(s.rtcp_sent > rtcp, "RTCP continues on hold: {} -> {}", rtcp, s.rtcp_sent);
    b.resume().unwrap();

    let m = a.statistics();
    assert!(m.receive.stats.packets_received > 50 && m.packets_encoded > 50, "{m:?}");
    // Clean loopback: once enough packets are in, G.711 with a LAN's buffer delay rates
    // above MOS 4.0 (R > 80) on the narrowband scale.
    let q = m.quality.expect("quality known after 100 packets");
    assert!(!q.wideband && q.r > 80.0 && q.mos_cq > 4.0 && q.loss_percent < 1.0, "{q:?}");

    // Stop B: A gets its BYE.
    b.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    assert!(
        b_in.is_abandoned() || {
            engine.engine().poll();
            b_in.is_abandoned()
        }
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(std::iter::from_fn(|| a.poll_event()).any(|e| matches!(e, SessionEvent::RemoteBye { .. })));
    assert!(matches!(b.start(), Err(Error::InvalidState { state: SessionState::Stopped, .. })));
    a.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
}

#[test]
fn raw_peer_garbage_unknown_pt_and_valid_packets() {
    let engine = engine();
    let any = "127.0.0.1:0".parse().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut params = MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap();
    params.remote = Remote::Latch { initial: None };
    let mut s = engine.create_media_session(DialogId::from("raw"), params).unwrap();
    s.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    let to = s.local_addr();
    let mut buf = [0u8; 300];
    // Garbage: short, wrong version, lying extension length.
    peer.send_to(&[0x80, 0], to).unwrap();
    peer.send_to(&[0x40; 20], to).unwrap();
    peer.send_to(&[0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9], to).unwrap();
    // Unknown payload type 99.
    let n =
        write_rtp(&PacketMeta { payload_type: 99, sequence: 1, ssrc: 5, ..Default::default() }, &[0; 160], &mut buf)
            .unwrap();
    peer.send_to(&buf[..n], to).unwrap();
    // RTCP garbage on the RTCP port.
    let rtcp = std::net::SocketAddr::new(to.ip(), to.port() + 1);
    peer.send_to(&[0x80, 201, 0, 9, 1, 2], rtcp).unwrap();
    // 10 valid PCMU packets, one lost (seq 105).
    for seq in (100u16..111).filter(|s| *s != 105) {
        let meta = PacketMeta {
            payload_type: 0,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0xfeed,
            ..Default::default()
        };
        let n = write_rtp(&meta, &[0xff; 160], &mut buf).unwrap();
        peer.send_to(&buf[..n], to).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let st = s.rtp_statistics();
    assert_eq!(st.malformed, 3, "{st:?}");
    assert_eq!(st.unknown_payload_type, 1);
    assert_eq!(st.rtcp_malformed, 1);
    assert_eq!(st.received.packets, 10);
    // The first packet is on probation (RFC 3550 A.1); the second confirms it and both
    // are handed on: none of the 10 is lost to the validation.
    assert_eq!(st.not_valid, 0, "{st:?}");
    assert_eq!(s.statistics().receive.stats.packets_received, 10);
    // Base is seq 101: expected 101..=110 = 10, received 9, lost 1.
    assert_eq!((st.received.expected, st.received.received, st.received.lost), (10, 9, 1));
    assert_eq!(st.remote, Some(peer.local_addr().unwrap()), "latched onto the raw peer");
    // 10 packets are too few to rate: the quality is unknown (no default score) and no
    // alert is raised on it (tests/session_impaired.rs has the alerts).
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(!events.iter().any(|e| matches!(e, SessionEvent::QualityAlert { .. })), "{events:?}");
    assert_eq!(s.statistics().quality, None);
    // Our packets now go to the peer.
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    let (meta, payload) = rvoip_media_core::rtp::parse_rtp(&buf[..n], 0).unwrap();
    assert_eq!((meta.payload_type, meta.ssrc, payload.len()), (0, s.ssrc(), 160));
    s.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
}

#[test]
fn dtmf_both_ways() {
    let engine = engine();
    let any = "127.0.0.1:0".parse().unwrap();
    let mut pa = MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap();
    pa.telephone_event = Some(101);
    let mut a = engine.create_media_session(DialogId::from("a"), pa).unwrap();
    let mut pb = MediaSessionParams::new(any, Some(a.local_addr()), CodecId::Pcmu).unwrap();
    pb.telephone_event = Some(101);
    let mut b = engine.create_media_session(DialogId::from("b"), pb).unwrap();
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    std::thread::sleep(Duration::from_millis(200)); // A latches onto B
    b.send_dtmf("1#", 100).unwrap();
    a.send_dtmf("5", 60).unwrap();
    assert!(matches!(a.send_dtmf("1x", 100), Err(Error::InvalidDigit('x'))));
    std::thread::sleep(Duration::from_millis(600));
    let digits = |s: &mut MediaSession| -> Vec<(Option<char>, u32)> {
        std::iter::from_fn(|| s.poll_event())
            .filter_map(|e| match e {
                SessionEvent::Dtmf { digit, duration_ms, .. } => Some((digit, duration_ms)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(digits(&mut a), [(Some('1'), 100), (Some('#'), 100)]);
    assert_eq!(digits(&mut b), [(Some('5'), 60)]);
    let (sa, sb) = (a.rtp_statistics(), b.rtp_statistics());
    // 100 ms at 20 ms packets: 5 packets, the last with the end bit, and 2 more ends.
    assert_eq!(sb.dtmf_packets_sent, 14);
    assert_eq!(sa.dtmf_packets_received, 14);
    assert_eq!(sa.dtmf_packets_sent, 5); // 60 ms: 3 + 2
                                         // Events took the place of audio packets: the sequence stayed continuous.
    assert_eq!((sa.received.lost, sb.received.lost), (0, 0));
    assert_eq!((sa.received.restarts, sb.received.restarts), (0, 0));
    let mut plain = engine
        .create_media_session(DialogId::from("c"), MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap())
        .unwrap();
    plain.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    assert!(matches!(plain.send_dtmf("1", 100), Err(Error::NoDtmf)));
}

#[test]
fn reinvite_hold_unhold_and_codec() {
    let engine = engine();
    let any = "127.0.0.1:0".parse().unwrap();
    let mut a = engine
        .create_media_session(DialogId::from("a"), MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap())
        .unwrap();
    let pb = MediaSessionParams::new(any, Some(a.local_addr()), CodecId::Pcmu).unwrap();
    let mut b = engine.create_media_session(DialogId::from("b"), pb.clone()).unwrap();
    a.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    b.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The peer puts us on hold (its sendonly): our answer is recvonly, we stop sending.
    let hold = MediaSessionParams { direction: rvoip_media_core::sdp::Direction::RecvOnly, ..pb.clone() };
    b.update(hold).unwrap().wait(Duration::from_secs(2)).unwrap();
    assert_eq!(b.state(), SessionState::Paused);
    std::thread::sleep(Duration::from_millis(100));
    let (sent, rtcp) = (b.rtp_statistics().packets_sent, b.rtp_statistics().rtcp_sent);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.rtp_statistics().packets_sent, sent, "no media on hold");
    assert!(b.rtp_statistics().rtcp_sent > rtcp, "RTCP continues");
    // Unhold with a codec change (PCMA) in the same re-INVITE; A follows.
    let resume = MediaSessionParams { codec: negotiated(CodecId::Pcma, None).unwrap(), ..pb };
    b.update(resume).unwrap().wait(Duration::from_secs(2)).unwrap();
    a.set_codec(negotiated(CodecId::Pcma, None).unwrap(), 20).unwrap().wait(Duration::from_secs(2)).unwrap();
    assert_eq!(b.state(), SessionState::Running);
    let before = a.rtp_statistics().received;
    std::thread::sleep(Duration::from_millis(400));
    let after = a.rtp_statistics();
    assert!(after.received.received >= before.received + 15, "{before:?} -> {:?}", after.received);
    assert_eq!(after.received.restarts, 0, "same SSRC");
    assert_eq!(after.received.lost, 0, "hold leaves no gap in the sequence");
    assert_eq!(after.unknown_payload_type, 0);
    assert_eq!(b.statistics().codec, CodecId::Pcma);
    let events: Vec<_> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(events.contains(&SessionEvent::Paused) && events.contains(&SessionEvent::Resumed), "{events:?}");
    assert!(events.contains(&SessionEvent::CodecChanged { codec: CodecId::Pcma, payload_type: 8 }));
}
