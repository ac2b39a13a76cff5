//! Real-time rule check for the jitter buffer: `JitterBufferNode` (G.711 and Opus behind
//! it) makes no allocation in `process`, `telemetry` or `reset`, with bursts of packets,
//! reordering, loss, duplicates, late and garbage packets, an SSRC change and a long gap.

use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder};
use rvoip_media_nodes::jitter::{JitterBuffer, JitterBufferNode, JitterConfig, JITTER_TELEMETRY};
use rvoip_media_nodes::opus::{OpusCodecDecoder, OpusEncoderConfig};
use rvoip_media_nodes::G711Law;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[test]
fn the_jitter_buffer_node_does_not_allocate() {
    let q = Quantum::MS_10;
    // Opus packets made beforehand (the encoder allocates at construction only).
    let mut enc = OpusEncoderConfig::new(16_000, 1).inband_fec(true).packet_loss_percent(10).build().unwrap();
    let mut buf = [0u8; 1500];
    let opus: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            let pcm: Vec<f32> = (0..320).map(|k| ((i * 320 + k) as f32 * 0.07).sin() * 0.3).collect();
            let n = enc.encode(&pcm, &mut buf).unwrap().len;
            buf[..n].to_vec()
        })
        .collect();
    for use_opus in [false, true] {
        let (dec, pt, ticks): (Box<dyn Decoder>, u8, u32) = if use_opus {
            (Box::new(OpusCodecDecoder::new(16_000, 1, 20_000).unwrap()), 111, 960)
        } else {
            (Box::new(G711CodecDecoder::new(G711Law::Ulaw)), 0, 160)
        };
        let cfg = JitterConfig::default();
        let node = JitterBufferNode::new(dec, cfg, q).unwrap().with_payload_type(pt);
        let mut h = NodeHarness::new(Box::new(node), q).unwrap();
        let mut telemetry = vec![0.0; JITTER_TELEMETRY.len()];
        let packets: Vec<Packet> = (0..400u32)
            .map(|i| {
                let payload: &[u8] = if use_opus { &opus[i as usize % 100] } else { &[0x55; 160] };
                let meta = PacketMeta {
                    payload_type: pt,
                    sequence: i as u16,
                    timestamp: i * ticks,
                    ssrc: if i < 300 { 1 } else { 2 },
                    marker: false,
                    arrival_ns: 0,
                    audio_level: None,
                };
                Packet::from_payload(meta, payload).unwrap()
            })
            .collect();
        let garbage =
            Packet::from_payload(PacketMeta { payload_type: pt, sequence: 9, ..PacketMeta::default() }, &[0xff; 3])
                .unwrap();
        let n = allocations(|| {
            let mut next = 0usize;
            for cycle in 0..1000u64 {
                let slot = h.packet_in_mut(0);
                slot.clear();
                let now = cycle * 10_000_000;
                // Bursts: up to four packets per cycle, arrival stamped; reordering by
                // swapping pairs, a loss every 37th, a duplicate every 23rd, a long gap
                // (cycles 500..700), garbage every 50th cycle.
                while next < packets.len() && slot.packets().len() < 4 {
                    let due = next as u64 * 2 + if next >= 250 { 200 } else { 0 };
                    if due > cycle {
                        break;
                    }
                    let k = if next % 2 == 0 { next + 1 } else { next - 1 };
                    let mut p = packets[k.min(packets.len() - 1)].clone();
                    p.meta.arrival_ns = now;
                    if next % 37 != 0 {
                        let _ = slot.push(&p);
                    }
                    if next % 23 == 0 {
                        let _ = slot.push(&p);
                    }
                    next += 1;
                }
                if cycle % 50 == 0 {
                    let _ = h.packet_in_mut(0).push(&garbage);
                }
                h.run();
                h.processor_mut().telemetry(&mut telemetry);
                if cycle == 900 {
                    h.processor_mut().reset();
                }
            }
        });
        assert_eq!(n, 0, "opus={use_opus}: {n} allocations");
        assert!(telemetry[0] > 300.0, "packets were received: {telemetry:?}");
    }
}

/// A G.711 buffer that plays late packets in a wait's place (`play_held_late`) and then keeps
/// the next ones aside again allocates nothing: a PCMU tone at a 20 ms transit with a hold at
/// packet 100 whose first two packets arrive together 90 ms late and the four after them
/// 40 ms later still (the pattern of the buffer's own unit test: both late packets are
/// played), then one at packet 200, 130 ms late, whose packets are kept aside but come too
/// late to play. (Playing them once took the kept packets' vector, leaving it without
/// capacity: the second hold allocated.)
#[test]
fn playing_late_packets_in_a_waits_place_does_not_allocate() {
    let tone = |ts: u32| -> Vec<f32> {
        (0..160).map(|i| 0.3 * (2.0 * std::f32::consts::PI * 250.0 * (ts + i) as f32 / 8000.0).sin()).collect()
    };
    let mut packets: Vec<Packet> = (0..300u16)
        .map(|i| {
            let normal = 20.0 + f64::from(u32::from(i) * 7919 % 4);
            let sent = f64::from(i) * 20.0;
            let transit = [(100u16, 90.0, 40.0), (200, 130.0, 40.0)].iter().fold(normal, |t, &(at, first, rest)| {
                let held = f64::from(at) * 20.0 + 20.0 + first;
                match i.checked_sub(at) {
                    Some(0 | 1) => held - sent,
                    Some(2..=5) => (held + rest - sent).max(normal),
                    _ => t,
                }
            });
            let ts = u32::from(i) * 160;
            let mut payload = [0u8; 160];
            G711Law::Ulaw.encode_f32(&tone(ts), &mut payload);
            let meta = PacketMeta {
                payload_type: 0,
                sequence: i,
                timestamp: ts,
                ssrc: 1,
                marker: false,
                arrival_ns: ((sent + transit) * 1e6) as u64,
                audio_level: None,
            };
            Packet::from_payload(meta, &payload).unwrap()
        })
        .collect();
    packets.sort_by_key(|p| p.meta.arrival_ns);
    let mut jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
    let mut out = vec![0f32; 80];
    let mut next = 0;
    let n = allocations(|| {
        for tick in 0..600u64 {
            let now = tick * 10_000_000;
            while next < packets.len() && packets[next].meta.arrival_ns <= now {
                jb.insert(&packets[next]);
                next += 1;
            }
            jb.pull(now, &mut out);
        }
    });
    let s = jb.stats();
    // The first hold's two late packets played, the second hold's six late.
    assert!((1..=6).contains(&s.packets_late), "{s:?}");
    assert_eq!(n, 0, "{n} allocations");
}
