//! Real-time rule check for the codec model: `EncodeNode` and `DecodeNode` (every implemented
//! codec, several ptimes and quanta) make no allocation in `process` or `reset`, on speech,
//! silence (DTX), NaN / Inf input, lost, late, malformed and oversized packets.

use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Processor, Quantum};
use rvoip_media_nodes::codec::{CodecId, DecodeNode, EncodeNode};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

fn rate(id: CodecId) -> u32 {
    if id == CodecId::G722 {
        16_000
    } else {
        8000
    }
}

#[test]
fn encode_and_decode_nodes_do_not_allocate() {
    let cases = [
        (CodecId::Pcmu, false, 20_000, Quantum::MS_10),
        (CodecId::Pcma, false, 5_000, Quantum::MS_2_5),
        (CodecId::G722, false, 60_000, Quantum::MS_20),
        (CodecId::G729, false, 20_000, Quantum::MS_5),
        (CodecId::G729, true, 40_000, Quantum::MS_10),
    ];
    for (id, annexb, ptime, q) in cases {
        let enc: Box<dyn Processor> =
            Box::new(EncodeNode::new(id.encoder(rate(id), 1, annexb).unwrap(), ptime, q).unwrap());
        let dec: Box<dyn Processor> = Box::new(DecodeNode::new(id.decoder(rate(id), 1).unwrap(), q).unwrap());
        let mut e = NodeHarness::new(enc, q).unwrap();
        let mut d = NodeHarness::new(dec, q).unwrap();
        let bad = [
            Packet::from_payload(PacketMeta::default(), &[]).unwrap(),
            Packet::from_payload(PacketMeta { timestamp: 7, ..PacketMeta::default() }, &[0x55; 13]).unwrap(),
            Packet::from_payload(PacketMeta { timestamp: 1 << 30, ..PacketMeta::default() }, &[0x55; 1500]).unwrap(),
        ];
        let n = allocations(|| {
            for cycle in 0..120usize {
                let x = e.audio_in_mut(0);
                for (k, s) in x.iter_mut().enumerate() {
                    // Speech-like bursts and silent stretches (Annex B goes to DTX).
                    let on = (cycle / 20) % 2 == 0;
                    *s = if on { ((k + cycle * 7) as f32 * 0.05).sin() * 0.4 } else { 0.0 };
                }
                match cycle {
                    10 => x[0] = f32::NAN,
                    11 => x[1] = f32::NEG_INFINITY,
                    _ => {}
                }
                e.run();
                match (cycle % 13, e.packet_out(0)) {
                    (5, _) => d.packet_in_mut(0).clear(), // lost
                    (7, _) => d.packet_in_mut(0).put(&bad[cycle % 3]),
                    (_, Some(p)) => d.packet_in_mut(0).put(p),
                    (_, None) => d.packet_in_mut(0).clear(),
                }
                d.run();
                if cycle == 60 {
                    e.processor_mut().reset();
                    d.processor_mut().reset();
                }
            }
        });
        assert_eq!(n, 0, "{id} annexb={annexb}: {n} allocations");
    }
}
