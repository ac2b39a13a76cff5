//! `DecodeNode` (G.711 μ/A-law with either concealment, G.729) with arbitrary packet
//! sequences: payloads of any length, timestamps with gaps, jumps, duplicates and wrap-around,
//! missing packets, resets. Output must stay finite and within [-1, 1]; the node must never
//! panic or report more than one error per cycle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{CodecId, Concealment, DecodeNode, Decoder, G711CodecDecoder};
use rvoip_media_nodes::g711::G711Law;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else { return };
    let q = Quantum::SUPPORTED[usize::from(cfg & 3)];
    let dec: Box<dyn Decoder> = match (cfg >> 2) % 4 {
        0 => CodecId::Pcmu.decoder(8000, 1).unwrap(),
        1 => Box::new(G711CodecDecoder::with_concealment(G711Law::Alaw, Concealment::Silence)),
        _ => CodecId::G729.decoder(8000, 1).unwrap(),
    };
    let node = DecodeNode::new(dec, q).unwrap();
    let mut h = NodeHarness::new(Box::new(node), q).unwrap();
    let mut ts = u32::from(cfg).wrapping_mul(0x0100_0193);
    while let Some((&ctl, tail)) = rest.split_first() {
        rest = tail;
        let len = match ctl & 3 {
            0 => 10 * usize::from(ctl >> 5) + usize::from(ctl & 4 != 0) * 2,
            1 => usize::from(ctl >> 2) * 20,
            2 => usize::from(ctl >> 2),
            _ => 0,
        }
        .min(rest.len());
        let (payload, tail) = rest.split_at(len);
        rest = tail;
        let step = rest.first().copied().unwrap_or(0);
        ts = match (ctl >> 3) & 3 {
            0 => ts.wrapping_add(80 * u32::from(step & 7)),
            1 => ts.wrapping_sub(80 * u32::from(step & 7)),
            2 => ts.wrapping_add(u32::from(step) << (step & 31)),
            _ => ts,
        };
        match ctl & 3 {
            3 if ctl & 0x80 != 0 => {
                h.processor_mut().reset();
                h.packet_in_mut(0).clear();
            }
            3 => h.packet_in_mut(0).clear(),
            _ => {
                let p = Packet::from_payload(PacketMeta { timestamp: ts, ..PacketMeta::default() }, payload).unwrap();
                h.packet_in_mut(0).put(&p);
            }
        }
        let errors = h.run();
        assert!(errors <= 1, "{errors} errors in one cycle");
        assert!(h.audio_out(0).iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    }
});
