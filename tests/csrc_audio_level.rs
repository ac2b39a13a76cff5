//! RFC 6465 mixer-to-client levels at a session: negotiated through SDP (kept in the answer
//! only when both sides do it), read from a mixer's packets into the session's RTP
//! statistics; and what we write is what tshark decodes (the CSRC list and the extension
//! element's id and bytes; skipped with a message without tshark/dumpcap).

use rvoip_media_core::graph::PacketMeta;
use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
use rvoip_media_core::rtp::{write_rtp_with_csrc_levels, CsrcLevels};
use rvoip_media_core::sdp::{create_answer, create_offer, CSRC_AUDIO_LEVEL_URI};
use rvoip_media_core::session::*;
#[path = "support/capture.rs"]
mod capture;
#[path = "support/ports.rs"]
mod ports;

use capture::Capture;
use ports::free_pair;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn engine(csrc: bool) -> MediaEngine {
    let c = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None)
        .pin_workers(false)
        .codecs(&[CodecId::Pcmu])
        .csrc_audio_level(csrc)
        .build();
    MediaEngine::start(c).unwrap()
}

/// The talkers of packet `k`: one to three of four sources, levels moving.
fn talkers(k: u16) -> CsrcLevels {
    let mut l = CsrcLevels::new();
    for s in 0..=(k % 3) {
        l.push(0x5000_0000 + u32::from(s), ((k + 7 * s) % 128) as u8);
    }
    l
}

/// A session on `port` that answered a mixer's offer of the levels as `id`; the mixer's
/// socket sends it 50 PCMU packets carrying [`talkers`]. Returns the session (stopped
/// after the packets arrived) and the packets sent.
fn mixer_sends_to_a_session(port: u16, id: u8) -> (MediaSession, u16) {
    let engine = engine(true);
    let mixer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ip = "127.0.0.1".parse().unwrap();
    let mut offer_side = engine.local_audio(ip, mixer.local_addr().unwrap().port());
    offer_side.csrc_audio_level_id = id;
    let offer = create_offer(&offer_side);
    let answer = create_answer(&offer, &engine.local_audio(ip, port));
    assert_eq!(answer.media[0].extmap(CSRC_AUDIO_LEVEL_URI).map(|e| e.id), Some(id), "{answer}");
    let local = format!("127.0.0.1:{port}").parse().unwrap();
    let params = MediaSessionParams::from_remote_sdp(local, &offer, &[LocalCodec::new(CodecId::Pcmu)]).unwrap();
    assert_eq!(params.csrc_audio_level.map(|e| e.id), Some(id));
    let mut s = engine.create_media_session(DialogId::from("client"), params).unwrap();
    let mut out = s.take_audio_out().unwrap();
    s.start().unwrap().wait(Duration::from_secs(2)).unwrap();
    let mut buf = [0u8; 256];
    let n = 50u16;
    for k in 0..n {
        let meta = PacketMeta { sequence: k, timestamp: u32::from(k) * 160, ssrc: 0x77, ..PacketMeta::default() };
        let len = write_rtp_with_csrc_levels(&meta, &talkers(k), id, &[0xff; 160], &mut buf).unwrap();
        mixer.send_to(&buf[..len], local).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        while out.pop().is_some() {}
    }
    let t = Instant::now();
    while s.rtp_statistics().received.packets < u64::from(n) && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    s.stop().unwrap().wait(Duration::from_secs(2)).unwrap();
    (s, n)
}

#[test]
fn the_answer_keeps_the_levels_only_when_both_sides_do_them() {
    let ip = "127.0.0.1".parse().unwrap();
    let (with, without) = (engine(true), engine(false));
    let offer = create_offer(&with.local_audio(ip, 5000));
    assert!(offer.to_string().contains("a=extmap:2 urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"), "{offer}");
    assert_eq!(create_answer(&offer, &without.local_audio(ip, 6000)).media[0].extmap(CSRC_AUDIO_LEVEL_URI), None);
    assert!(create_offer(&without.local_audio(ip, 5000)).media[0].extmap(CSRC_AUDIO_LEVEL_URI).is_none());
    // Our parameters from an SDP without it: not read.
    let plain = create_offer(&without.local_audio(ip, 5000));
    let p =
        MediaSessionParams::from_remote_sdp("127.0.0.1:0".parse().unwrap(), &plain, &[LocalCodec::new(CodecId::Pcmu)])
            .unwrap();
    assert_eq!(p.csrc_audio_level, None);
}

#[test]
fn a_session_reads_a_mixers_talkers_and_levels() {
    let (s, n) = mixer_sends_to_a_session(free_pair(), 6);
    let st = s.rtp_statistics();
    assert_eq!(st.received.packets, u64::from(n), "{st:?}");
    assert_eq!(st.csrc_levels_received, u64::from(n), "{st:?}");
    assert_eq!(st.last_csrc_levels, Some(talkers(n - 1)));
    assert_eq!(st.payload_bytes_received, 160 * u64::from(n), "the CSRCs and extension are not payload");
}

#[test]
fn tshark_decodes_the_csrc_list_and_the_level_element() {
    let port = free_pair();
    let Some(mut capture) = Capture::start("csrc-level", port, "the csrc-audio-level extension") else {
        return;
    };
    let id = 13;
    let (_s, n) = mixer_sends_to_a_session(port, id);
    std::thread::sleep(Duration::from_millis(300));
    capture.stop();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture.pcap)
        .args(["-d", &format!("udp.port=={port},rtp"), "-Y", "rtp && !rtcp", "-T", "fields", "-E", "separator=;"])
        .args(["-e", "rtp.seq", "-e", "rtp.cc", "-e", "rtp.csrc.item", "-e", "rtp.ext.rfc5285.id"])
        .args(["-e", "rtp.ext.rfc5285.len", "-e", "rtp.ext.rfc5285.data"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(';').collect()).collect();
    assert_eq!(rows.len(), usize::from(n), "every packet captured and decoded as RTP: {text}");
    for r in &rows {
        assert_eq!(r.len(), 6, "{r:?}");
        let k: u16 = r[0].parse().unwrap();
        let want = talkers(k);
        assert_eq!(r[1], want.len().to_string(), "CSRC count: {r:?}");
        let csrcs: Vec<u32> =
            r[2].split(',').map(|c| u32::from_str_radix(c.trim_start_matches("0x"), 16).unwrap()).collect();
        assert_eq!(csrcs, want.csrcs(), "{r:?}");
        assert_eq!(r[3], id.to_string(), "{r:?}");
        assert_eq!(r[4], want.len().to_string(), "one level byte per CSRC: {r:?}");
        let data: String = want.levels().iter().map(|l| format!("{l:02x}")).collect();
        assert_eq!(r[5], data, "{r:?}");
    }
    eprintln!("tshark: {} packets with CSRC lists and their levels, id {id}", rows.len());
}
