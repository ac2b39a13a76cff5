//! `JitterBuffer` (G.711 μ-law with a PCMA codec switch, or Opus with in-band FEC) with
//! arbitrary packet sequences and arrival times: sequence numbers and timestamps that step,
//! jump, repeat and wrap, payload types of either codec, comfort noise and unknown ones,
//! payloads of any length and content, SSRC changes, arrival times that go backwards or leap
//! ahead, floods between two playout ticks, resets. Every pulled sample must be finite and
//! within [-1, 1], and the counters must add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_graph::{Packet, PacketMeta};
use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder};
use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig, CN_PAYLOAD_TYPE};
use rvoip_media_nodes::opus::OpusCodecDecoder;
use rvoip_media_nodes::G711Law;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else { return };
    let opus = cfg & 1 != 0;
    let (dec, rate, frame, pts): (Box<dyn Decoder>, usize, u32, [u8; 2]) = if opus {
        (Box::new(OpusCodecDecoder::new(16_000, 1, 20_000).unwrap()), 16_000, 960, [111, 112])
    } else {
        (Box::new(G711CodecDecoder::new(G711Law::Ulaw)), 8000, 160, [0, 8])
    };
    let Ok(jb) = JitterBuffer::new(dec, JitterConfig { track_skew: cfg & 2 != 0, ..JitterConfig::default() }) else {
        return;
    };
    let mut jb = jb.with_payload_type(pts[0]);
    if cfg & 4 != 0 {
        let mut alt: Option<Box<dyn Decoder>> = if opus {
            Some(Box::new(OpusCodecDecoder::new(16_000, 1, 20_000).unwrap()))
        } else {
            Some(Box::new(G711CodecDecoder::new(G711Law::Alaw)))
        };
        jb.set_alternate(&mut alt, pts[1]).unwrap();
    }
    let tick = rate / 100;
    let mut out = vec![0f32; tick * if cfg & 8 != 0 { 2 } else { 1 }];
    let (mut seq, mut ts, mut ssrc, mut now, mut arrival) = (0u16, 0u32, 1u32, 0u64, 0u64);
    let mut inserted = 0u64;
    while rest.len() >= 4 {
        let (rec, tail) = rest.split_at(4);
        rest = tail;
        let (op, a, b, c) = (rec[0], rec[1], rec[2], rec[3]);
        match op & 7 {
            // A packet: sequence and timestamp step (mostly by one frame), arrival jitter.
            0..=4 => {
                seq = seq.wrapping_add(u16::from(a & 7)).wrapping_sub(2);
                ts = match b >> 6 {
                    0 => ts.wrapping_add(frame),
                    1 => ts.wrapping_add(frame * u32::from(b & 7)).wrapping_sub(2 * frame),
                    2 => ts.wrapping_add(u32::from(b) << (c & 31)),
                    _ => ts,
                };
                arrival = match op >> 6 {
                    0 => now + u64::from(c) * 200_000,
                    1 => now.saturating_sub(u64::from(c) * 1_000_000),
                    2 => now + u64::from(c) * 50_000_000,
                    _ => arrival,
                };
                let pt = match (op >> 3) & 7 {
                    0..=3 => pts[0],
                    4 | 5 => pts[1],
                    6 => CN_PAYLOAD_TYPE,
                    _ => a,
                };
                let len = (usize::from(b & 0x3f) * 8 + usize::from(a >> 5)).min(rest.len());
                let (payload, tail) = rest.split_at(len);
                rest = tail;
                let meta = PacketMeta { payload_type: pt, sequence: seq, timestamp: ts, ssrc, arrival_ns: arrival, ..PacketMeta::default() };
                jb.insert(&Packet::from_payload(meta, payload).unwrap());
                inserted += 1;
            }
            // Playout ticks.
            5 => {
                for _ in 0..=(a & 15) {
                    jb.pull(now, &mut out);
                    now += 10_000_000 * (out.len() / tick) as u64;
                    assert!(out.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
                }
            }
            6 => ssrc = ssrc.wrapping_add(u32::from(a) + 1),
            _ => jb.reset(),
        }
        let s = jb.stats();
        assert_eq!(s.packets_received, inserted);
        assert!(s.packets_discarded <= s.packets_received);
        assert!(s.concealed_samples <= s.total_samples_received);
        assert!(s.silent_concealed_samples <= s.concealed_samples);
        assert!(s.jitter.is_finite() && s.jitter >= 0.0);
    }
});
