//! The jitter buffer on streams outside the evaluation kit's families (session 26,
//! `scripts/jitter_families.py`): packet times other than the codec's default.

use rvoip_media_graph::{Packet, PacketMeta};
use rvoip_media_nodes::codec::G711CodecDecoder;
use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig};
use rvoip_media_nodes::G711Law;

/// A G.711 stream in 60 ms packets, one lost: the RFC 3611 burst / gap durations count 60 ms
/// per packet (they counted the codec's default 20 ms, a third of the time).
#[test]
fn burst_and_gap_durations_count_the_streams_packet_time() {
    let mut jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
    let mut out = [0f32; 80];
    let packets = 100u16;
    for k in 0..(u64::from(packets) * 6 + 100) {
        let now = k * 10_000_000;
        if k % 6 == 0 && k / 6 < u64::from(packets) && k / 6 != 50 {
            let i = (k / 6) as u16;
            let mut p = Packet::new();
            p.meta = PacketMeta {
                sequence: i,
                timestamp: u32::from(i) * 480,
                arrival_ns: now + 3_000_000,
                ..Default::default()
            };
            p.set_payload(&[0x55; 480]).unwrap();
            jb.insert(&p);
        }
        jb.pull(now + 5_000_000, &mut out);
    }
    assert_eq!(jb.packet_ms(), 60.0);
    let r = jb.burst_gap();
    assert_eq!(r.lost, 1);
    // One gap (an isolated loss is a gap's) of every packet counted: 60 ms each.
    assert_eq!(r.gaps, 1);
    assert!((r.gap_duration_ms - r.gap_packets as f64 * 60.0).abs() < 1e-9, "{r:?}");
    assert!(r.gap_packets >= 98, "{r:?}");
}
