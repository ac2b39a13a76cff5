//! A `DecodeNode` around the G.711 codec decoder, fed arbitrary packets (any length up to
//! the packet capacity, any timestamp) at every graph quantum; a packet of exactly one
//! quantum gives finite audio within [-1, 1] whatever the packets (bit-exact decoding is
//! checked by the codec's own tests against the G.191 tables).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum, MAX_PAYLOAD};
use rvoip_media_nodes::codec::{CodecId, DecodeNode};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else { return };
    let q = Quantum::SUPPORTED[usize::from(cfg & 3)];
    let id = if cfg & 4 == 0 { CodecId::Pcmu } else { CodecId::Pcma };
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
        if present {
            codec.packet_in_mut(0).put(&p);
        } else {
            codec.packet_in_mut(0).clear();
        }
        codec.run();
        let out = codec.audio_out(0);
        assert!(out.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    }
});
