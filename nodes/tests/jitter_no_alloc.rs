//! Real-time rule check for the jitter buffer: `JitterBufferNode` (G.711 and Opus behind
//! it) makes no allocation in `process`, `telemetry` or `reset`, with bursts of packets,
//! reordering, loss, duplicates, late and garbage packets, an SSRC change and a long gap.

use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder};
use rvoip_media_nodes::jitter::{JitterBufferNode, JitterConfig, JITTER_TELEMETRY};
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
