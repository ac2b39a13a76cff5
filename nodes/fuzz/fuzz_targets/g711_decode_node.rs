//! The `G711Decoder` node and a `DecodeNode` around the G.711 codec decoder, fed arbitrary
//! packets (any length up to the packet capacity, any timestamp) at every graph quantum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum, MAX_PAYLOAD};
use rvoip_media_nodes::codec::{CodecId, DecodeNode};
use rvoip_media_nodes::g711::{alaw, ulaw, G711Decoder, G711Law};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else { return };
    let q = Quantum::SUPPORTED[usize::from(cfg & 3)];
    let (law, id) = if cfg & 4 == 0 { (G711Law::Ulaw, CodecId::Pcmu) } else { (G711Law::Alaw, CodecId::Pcma) };
    let mut plain = NodeHarness::new(Box::new(G711Decoder::new(law)), q).unwrap();
    let node = DecodeNode::new(id.decoder(8000, 1).unwrap(), q).unwrap();
    let mut codec = NodeHarness::new(Box::new(node), q).unwrap();
    let mut ts = 0u32;
    while rest.len() >= 3 {
        let (hdr, tail) = rest.split_at(3);
        rest = tail;
        let len = (usize::from(u16::from_le_bytes([hdr[0], hdr[1]])) % (MAX_PAYLOAD + 1)).min(rest.len());
        let (payload, tail) = rest.split_at(len);
        rest = tail;
        ts = match hdr[2] & 3 {
            0 => ts.wrapping_add(len as u32),
            1 => ts.wrapping_sub(u32::from(hdr[2])),
            2 => ts.wrapping_add(u32::from(hdr[2]) * 80),
            _ => u32::from(hdr[2]).wrapping_mul(0x0101_0101),
        };
        let present = hdr[2] & 4 == 0;
        let p = Packet::from_payload(PacketMeta { timestamp: ts, ..PacketMeta::default() }, payload).unwrap();
        for h in [&mut plain, &mut codec] {
            if present {
                h.packet_in_mut(0).put(&p);
            } else {
                h.packet_in_mut(0).clear();
            }
            h.run();
            assert!(h.audio_out(0).iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        }
        // The plain node decodes exactly what fits.
        if present {
            let out = plain.audio_out(0);
            for (k, &c) in payload.iter().take(out.len()).enumerate() {
                let want = match law {
                    G711Law::Ulaw => ulaw::decode_sample(c),
                    G711Law::Alaw => alaw::decode_sample(c),
                };
                assert_eq!(out[k], f32::from(want) / 32768.0);
            }
        }
    }
});
