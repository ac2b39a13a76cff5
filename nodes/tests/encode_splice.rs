//! A listener's stream spliced from a shared encode (`EncodeNode::encode_cycle_shared`) is the
//! stream its own encoder would have sent: G.711 is stateless, so splicing every quantum of
//! the shared encode's packets must give the same packets — sequence numbers, timestamps,
//! markers and payloads — as encoding the same audio itself, whether a packet is one quantum
//! (spliced straight into the output slot) or several (gathered in the packet buffer); and a
//! stretch of hearing nothing leaves a gap in the timeline, closed by a marker.

use rvoip_media_graph::{Packet, PacketSlot, Quantum};
use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
use rvoip_media_nodes::mixer::Hear;
use rvoip_media_nodes::G711Law;

/// A node encoding PCMU at `ptime_us` on `quantum` as SSRC `ssrc`.
fn node(ptime_us: u32, quantum: Quantum, ssrc: u32) -> EncodeNode {
    EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), ptime_us, quantum).unwrap().with_ssrc(ssrc)
}

/// Quantum `c` of a tone (`len` samples).
fn tone(c: usize, len: usize) -> Vec<f32> {
    (0..len).map(|k| 0.3 * ((c * len + k) as f32 * 0.07).sin()).collect()
}

/// The packets a listener sends over `cycles` quanta hearing `hear(c)`, the shared encode
/// (another SSRC) encoding the same tone.
fn spliced(ptime_us: u32, quantum: Quantum, cycles: usize, hear: impl Fn(usize) -> Hear) -> Vec<Packet> {
    let len = 8 * quantum.micros() as usize / 1000;
    let mut shared = node(ptime_us, quantum, 99);
    let mut listener = node(ptime_us, quantum, 7).with_shared_input().unwrap();
    let (mut s, mut out) = (PacketSlot::new(), PacketSlot::new());
    let mut sent = Vec::new();
    for c in 0..cycles {
        let x = tone(c, len);
        assert_eq!(shared.encode_cycle(&x, &mut s), 0);
        assert_eq!(listener.encode_cycle_shared(&x, hear(c), s.get(), &mut out), 0);
        sent.extend(out.get().cloned());
    }
    sent
}

/// The packets the listener's own encoder sends for the same tone.
fn own(ptime_us: u32, quantum: Quantum, cycles: usize) -> Vec<Packet> {
    let len = 8 * quantum.micros() as usize / 1000;
    let mut enc = node(ptime_us, quantum, 7);
    let mut out = PacketSlot::new();
    (0..cycles)
        .filter_map(|c| {
            assert_eq!(enc.encode_cycle(&tone(c, len), &mut out), 0);
            out.get().cloned()
        })
        .collect()
}

#[test]
fn a_spliced_stream_is_the_stream_its_own_encoder_sends() {
    for (ptime_us, quantum) in [(10_000, Quantum::MS_10), (20_000, Quantum::MS_20), (20_000, Quantum::MS_10)] {
        let (a, b) = (spliced(ptime_us, quantum, 40, |_| Hear::Shared), own(ptime_us, quantum, 40));
        assert_eq!(a.len(), 40 * quantum.micros() as usize / ptime_us as usize);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.meta, x.payload()), (y.meta, y.payload()), "ptime {ptime_us} µs, quantum {quantum:?}");
        }
        assert!(a[0].meta.marker && a[1..].iter().all(|p| !p.meta.marker));
    }
}

#[test]
fn hearing_nothing_leaves_a_gap_closed_by_a_marker() {
    // One-quantum packets, spliced straight into the slot: 10 shared, 5 deaf, 10 shared.
    let hear = |c: usize| if (10..15).contains(&c) { Hear::Nothing } else { Hear::Shared };
    let sent = spliced(20_000, Quantum::MS_20, 25, hear);
    assert_eq!(sent.len(), 20);
    let seq: Vec<u16> = sent.iter().map(|p| p.meta.sequence).collect();
    assert_eq!(seq, (0..20).collect::<Vec<u16>>(), "no sequence gap: nothing was sent in between");
    assert_eq!(sent[10].meta.timestamp - sent[9].meta.timestamp, 6 * 160, "the timeline ran on through the gap");
    let markers: Vec<usize> = (0..20).filter(|&i| sent[i].meta.marker).collect();
    assert_eq!(markers, [0, 10]);
}
