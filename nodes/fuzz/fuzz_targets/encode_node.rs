//! `EncodeNode` (G.711 μ/A-law, G.729 A and A+B, every allowed ptime and quantum) with
//! arbitrary `f32` input, NaN and Inf included. Packets must be well-formed: sizes that fit
//! the codec, contiguous timestamps, at most one packet per cycle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_graph::{NodeHarness, Quantum};
use rvoip_media_nodes::codec::{CodecId, EncodeNode};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (cfg, rest) = data.split_at(3);
    let q = Quantum::SUPPORTED[usize::from(cfg[0] & 3)];
    let (id, annexb) = match (cfg[0] >> 2) % 4 {
        0 => (CodecId::Pcmu, false),
        1 => (CodecId::Pcma, false),
        2 => (CodecId::G729, false),
        _ => (CodecId::G729, true),
    };
    let enc = id.encoder(8000, 1, annexb).unwrap();
    let ptimes = enc.info().ptimes_us;
    let ptime = ptimes[usize::from(cfg[1]) % ptimes.len()];
    let Ok(node) = EncodeNode::new(enc, ptime, q) else {
        assert!(ptime % q.micros() != 0, "valid ptime {ptime} refused for {q:?}");
        return;
    };
    let frame_bytes = if id == CodecId::G729 { 10 } else { 20 };
    let max_len = node.frames_per_packet() * frame_bytes;
    let mut h = NodeHarness::new(Box::new(node), q).unwrap();
    let mut samples = rest.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()));
    let scale = f32::from(cfg[2]) / 16.0;
    let mut last_ts: Option<u32> = None;
    'cycles: loop {
        for s in h.audio_in_mut(0).iter_mut() {
            match samples.next() {
                Some(v) => *s = v * scale,
                None => break 'cycles,
            }
        }
        h.run();
        if let Some(p) = h.packet_out(0) {
            assert!(!p.is_empty() && p.len() <= max_len, "packet of {} bytes", p.len());
            if id == CodecId::G729 {
                assert!(p.len() % 10 == 0 || p.len() % 10 == 2, "G.729 packet of {} bytes", p.len());
            }
            if let Some(t) = last_ts {
                assert!(p.meta.timestamp.wrapping_sub(t) as i32 > 0, "timestamps must advance");
            }
            last_ts = Some(p.meta.timestamp);
        }
    }
});
