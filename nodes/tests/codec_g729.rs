//! G.729 through the codec model: `EncodeNode` / `DecodeNode` against the committed bcg729
//! vectors (tests/data/g729, see its README), packetisation with Annex B, and concealment.

#[path = "g729_common/mod.rs"]
mod common;

use common::{fnv1a, input, read_digests, read_stream, Frame};
use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{CodecError, CodecId, DecodeNode, EncodeNode};
use rvoip_media_nodes::g729::G729Decoder;

fn to_f32(x: &[i16]) -> Vec<f32> {
    x.iter().map(|&v| f32::from(v) / 32768.0).collect()
}

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter().map(|&v| (v * 32768.0) as i16).collect()
}

/// Encodes `level` with an EncodeNode; returns every cycle's packet.
fn encode(level: &str, annexb: bool, ptime_us: u32) -> Vec<Option<Packet>> {
    let x = to_f32(&input(level));
    let node = EncodeNode::new(CodecId::G729.encoder(8000, 1, annexb).unwrap(), ptime_us, Quantum::MS_10).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
    x.chunks_exact(80)
        .map(|q| {
            h.audio_in_mut(0).copy_from_slice(q);
            assert_eq!(h.run(), 0);
            h.packet_out(0).cloned()
        })
        .collect()
}

#[test]
fn ten_ms_packets_are_the_bcg729_bitstream() {
    for (level, annexb) in [("normal", false), ("loud", false), ("normal", true), ("noise", true), ("quiet", true)] {
        let want = read_stream(&format!("{level}_{}.g729s", if annexb { "b" } else { "a" }));
        let got = encode(level, annexb, 10_000);
        assert_eq!(got.len(), want.len());
        let mut seq = 0u16;
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let w = w.as_ref().unwrap();
            match g {
                None => assert!(w.is_empty(), "{level}: frame {k} not sent but the reference has {} bytes", w.len()),
                Some(p) => {
                    assert_eq!(p.payload(), &w[..], "{level} annexb={annexb}: frame {k}");
                    assert_eq!((p.meta.payload_type, p.meta.sequence, p.meta.timestamp), (18, seq, 80 * k as u32));
                    // Talk-spurt start: speech after a SID or an untransmitted frame.
                    let spurt = w.len() == 10 && k > 0 && want[k - 1].as_ref().unwrap().len() != 10;
                    assert_eq!(p.meta.marker, seq == 0 || spurt, "{level}: marker of frame {k}");
                    seq += 1;
                }
            }
        }
        if annexb && level != "normal" {
            let untransmitted = want.iter().filter(|f| f.as_ref().unwrap().is_empty()).count();
            assert!(untransmitted > 50, "{level}: the stream must exercise DTX ({untransmitted})");
        }
    }
}

/// A packet's first frame index and bytes.
type Expected = (usize, Vec<u8>);

/// What a 20 ms packetiser fed one frame per cycle must send, cycle by cycle, by the rule of
/// `EncodeNode`: frames collect until the window ends (odd cycles), a SID is added, or an
/// untransmitted frame follows; then the packet leaves in that cycle, except the first one,
/// which waits for its window's end and is replaced if a frame follows. Returns per cycle the
/// (first frame, bytes) of the packet, and the frames replaced.
fn expected_packets(frames: &[Vec<u8>]) -> (Vec<Option<Expected>>, usize) {
    let mut out = vec![None; frames.len()];
    let mut pending: Option<Expected> = None;
    let (mut closed, mut sent, mut dropped) = (false, false, 0);
    for (k, f) in frames.iter().enumerate() {
        if !f.is_empty() {
            if closed {
                dropped += pending.take().map_or(0, |(_, b)| b.len().div_ceil(10));
                closed = false;
            }
            pending.get_or_insert((k, Vec::new())).1.extend_from_slice(f);
        }
        if (f.is_empty() || f.len() == 2) && pending.is_some() {
            if sent {
                out[k] = pending.take();
            } else {
                closed = true;
            }
        }
        if k % 2 == 1 && pending.is_some() {
            out[k] = pending.take();
            closed = false;
        }
        sent |= out[k].is_some();
    }
    (out, dropped)
}

#[test]
fn twenty_ms_packets_hold_two_frames_and_follow_the_dtx_rules() {
    let mut shapes = [0usize; 4]; // Annex B packets of [20 bytes, 12 (speech + SID), 10, 2]
    let mut early = 0; // packets leaving mid-window (a SID or a frame before a gap)
    for (level, annexb) in [("normal", false), ("normal", true), ("noise", true), ("quiet", true)] {
        let want = read_stream(&format!("{level}_{}.g729s", if annexb { "b" } else { "a" }));
        let want: Vec<Vec<u8>> = want.into_iter().map(Option::unwrap).collect();
        let (expected, dropped) = expected_packets(&want);
        let got = encode(level, annexb, 20_000);
        let mut seq = 0u16;
        let mut speech_pairs = 0;
        let mut rebuilt = vec![Vec::new(); want.len()];
        for (c, (g, e)) in got.iter().zip(&expected).enumerate() {
            match (g, e) {
                (None, None) => {}
                (Some(p), Some((first, bytes))) => {
                    assert_eq!(p.payload(), &bytes[..], "{level}: cycle {c}");
                    assert_eq!(p.meta.timestamp, 80 * *first as u32);
                    assert_eq!(p.meta.sequence, seq);
                    seq += 1;
                    early += usize::from(c % 2 == 0);
                    speech_pairs += usize::from(p.len() == 20);
                    for (i, chunk) in p.payload().chunks(10).enumerate() {
                        rebuilt[first + i] = chunk.to_vec();
                    }
                    match p.len() {
                        _ if !annexb => {}
                        20 => shapes[0] += 1,
                        12 => shapes[1] += 1,
                        10 => shapes[2] += 1,
                        2 => shapes[3] += 1,
                        n => panic!("{level}: packet of {n} bytes"),
                    }
                }
                (g, e) => panic!("{level}: cycle {c}: got {:?}, expected {:?}", g.as_ref().map(Packet::len), e),
            }
        }
        let missing = rebuilt.iter().zip(&want).filter(|(r, w)| r != w).count();
        assert_eq!(missing, dropped, "{level}: every frame the encoder produced is sent, in place");
        assert!(dropped <= 1, "{level}: at most a SID before the first speech is replaced");
        if !annexb {
            assert_eq!(speech_pairs, 200, "{level}: 200 packets of two speech frames");
        }
    }
    assert!(shapes.iter().all(|&n| n > 0), "every Annex B packet shape occurs: {shapes:?}");
    assert!(early > 0, "some packets must leave mid-window");
}

/// Decodes per-cycle packets with a DecodeNode and returns the output as i16.
fn decode(packets: &[Option<Packet>]) -> Vec<i16> {
    let node = DecodeNode::new(CodecId::G729.decoder(8000, 1).unwrap(), Quantum::MS_10).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
    let mut out = Vec::new();
    for p in packets {
        match p {
            Some(p) => h.packet_in_mut(0).put(p),
            None => h.packet_in_mut(0).clear(),
        }
        assert_eq!(h.run(), 0);
        out.extend(to_i16(h.audio_out(0)));
    }
    out
}

fn packet(ts: u32, bytes: &[u8]) -> Packet {
    Packet::from_payload(PacketMeta { payload_type: 18, timestamp: ts, ..PacketMeta::default() }, bytes).unwrap()
}

#[test]
fn decode_node_matches_bcg729_including_dtx_and_erasures() {
    for name in ["normal_a", "normal_b", "noise_b", "loud_a_erased", "normal_b_erased", "quiet_b_erased"] {
        let frames: Vec<Frame> = read_stream(&format!("{name}.g729s"));
        let digests = read_digests(&format!("{name}.dec.fnv"));
        // One packet per frame; erased and untransmitted frames: no packet.
        let packets: Vec<Option<Packet>> = frames
            .iter()
            .enumerate()
            .map(|(k, f)| f.as_ref().filter(|b| !b.is_empty()).map(|b| packet(80 * k as u32, b)))
            .collect();
        if name != "normal_a" {
            assert!(packets.iter().any(Option::is_none), "{name}: the stream must have gaps");
        }
        let out = decode(&packets);
        for (k, frame) in out.chunks_exact(80).enumerate() {
            assert_eq!(fnv1a(frame), digests[k], "{name}: frame {k}");
        }
    }
}

#[test]
fn twenty_ms_packets_decode_with_one_quantum_of_delay_and_conceal_gaps() {
    // Annex A, 20 ms: bit-exact with the reference after a 10 ms delay.
    let frames = read_stream("normal_a.g729s");
    let digests = read_digests("normal_a.dec.fnv");
    let packets: Vec<Option<Packet>> = (0..frames.len())
        .map(|c| {
            (c % 2 == 1).then(|| {
                let mut b = frames[c - 1].clone().unwrap();
                b.extend_from_slice(frames[c].as_ref().unwrap());
                packet(80 * (c - 1) as u32, &b)
            })
        })
        .collect();
    let out = decode(&packets);
    assert!(out[..80].iter().all(|&s| s == 0));
    for (k, frame) in out[80..].chunks_exact(80).enumerate() {
        assert_eq!(fnv1a(frame), digests[k], "frame {k}");
    }

    // Annex B, 20 ms, from the EncodeNode (packets leave mid-window after a SID, and start
    // mid-window after a gap): the node's output equals a G729Decoder fed each frame that was
    // sent (an untransmitted frame is `None`), i.e. gaps are concealed at the right time.
    let got = encode("quiet", true, 20_000);
    assert!(got.iter().flatten().any(|p| p.meta.timestamp % 160 == 80), "a packet must start mid-window");
    let mut per_frame: Vec<Option<Vec<u8>>> = vec![None; got.len()];
    for p in got.iter().flatten() {
        let first = (p.meta.timestamp / 80) as usize;
        let b = p.payload();
        for (i, chunk) in b.chunks(10).enumerate() {
            per_frame[first + i] = Some(chunk.to_vec());
        }
    }
    let mut reference = G729Decoder::new();
    let mut want = Vec::new();
    for f in &per_frame {
        let mut y = [0i16; 80];
        reference.decode(f.as_deref(), &mut y).unwrap();
        want.extend_from_slice(&y);
    }
    let out = decode(&got);
    let first_diff = out[80..].chunks(80).zip(want.chunks(80)).position(|(a, b)| a != b);
    if let Some(k) = first_diff {
        let lens: Vec<_> = per_frame[k.saturating_sub(4)..(k + 3).min(per_frame.len())]
            .iter()
            .map(|f| f.as_ref().map(Vec::len))
            .collect();
        let pk: Vec<_> = got[k.saturating_sub(4)..(k + 3).min(got.len())]
            .iter()
            .map(|p| p.as_ref().map(|p| (p.meta.timestamp / 80, p.len())))
            .collect();
        panic!("frame {k} differs; frames {lens:?}; packets {pk:?}");
    }
}

#[test]
fn bad_payloads_are_reported_and_concealed() {
    let node = DecodeNode::new(CodecId::G729.decoder(8000, 1).unwrap(), Quantum::MS_10).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
    let speech = read_stream("normal_a.g729s");
    for (k, f) in speech.iter().take(40).enumerate() {
        h.packet_in_mut(0).put(&packet(80 * k as u32, f.as_ref().unwrap()));
        assert_eq!(h.run(), 0);
    }
    for (k, len) in [(40u32, 7usize), (41, 0), (42, 13), (43, 21)] {
        h.packet_in_mut(0).put(&packet(80 * k, &vec![0x5a; len]));
        assert_eq!(h.run(), 1, "{len} bytes");
        assert!(h.audio_out(0).iter().any(|&s| s != 0.0), "concealment after {len} bytes");
    }
    // 12 bytes = speech + SID is valid.
    let mut twelve = speech[50].clone().unwrap();
    twelve.extend_from_slice(&[0x12, 0x34]);
    h.packet_in_mut(0).put(&packet(80 * 44, &twelve));
    assert_eq!(h.run(), 0);
    let e = CodecId::G729.decoder(8000, 1).unwrap().decode(Some(&[1, 2, 3]), &mut [0.0; 80]).unwrap_err();
    assert!(matches!(e, CodecError::BadPayload { codec: "G729", len: 3, .. }), "{e}");
}

#[test]
fn sub_frame_quanta_buffer_frames_across_cycles() {
    // 2.5 ms quanta: a G.729 frame spans four cycles, a 10 ms packet leaves every fourth.
    let x = to_f32(&input("normal"));
    let want = read_stream("normal_a.g729s");
    let node = EncodeNode::new(CodecId::G729.encoder(8000, 1, false).unwrap(), 10_000, Quantum::MS_2_5).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_2_5).unwrap();
    let dnode = DecodeNode::new(CodecId::G729.decoder(8000, 1).unwrap(), Quantum::MS_2_5).unwrap();
    let mut d = NodeHarness::new(Box::new(dnode), Quantum::MS_2_5).unwrap();
    let mut out = Vec::new();
    for (c, q) in x.chunks_exact(20).take(400).enumerate() {
        h.audio_in_mut(0).copy_from_slice(q);
        h.run();
        let p = h.packet_out(0).cloned();
        assert_eq!(p.is_some(), c % 4 == 3);
        if let Some(p) = &p {
            assert_eq!(p.payload(), &want[c / 4].as_ref().unwrap()[..]);
            d.packet_in_mut(0).put(p);
        } else {
            d.packet_in_mut(0).clear();
        }
        assert_eq!(d.run(), 0);
        out.extend(to_i16(d.audio_out(0)));
    }
    // Latency 7.5 ms (60 samples): then the reference decode of the same frames.
    let digests = read_digests("normal_a.dec.fnv");
    for (k, frame) in out[60..].chunks_exact(80).enumerate() {
        assert_eq!(fnv1a(frame), digests[k], "frame {k}");
    }
}
