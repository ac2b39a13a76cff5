//! A plain decoder's lead trim (`DecodeNode::with_lead_trim`): a sender whose clock runs
//! fast piles its packets up ahead of the playout; without the trim the delay grows until
//! packets no longer fit and are dropped, with it the delay stays within a few quanta and
//! only quiet quanta are skipped. A stream that keeps its pace is never trimmed.

use rvoip_media_graph::{PacketMeta, Processor, Quantum};
use rvoip_media_nodes::codec::{CodecId, DecodeNode};

const Q: Quantum = Quantum::MS_10;
/// 20 ms PCMU packets, 10 minutes.
const PACKETS: usize = 30_000;

/// Packet `k`'s μ-law payload: a 400 Hz tone for 1 s, then 0.5 s of silence.
fn payload(k: usize) -> Vec<u8> {
    let mut pcm = [0f32; 160];
    let loud = k % 75 < 50;
    for (i, v) in pcm.iter_mut().enumerate() {
        let n = (k * 160 + i) as f32;
        *v = if loud { (n * 2.0 * std::f32::consts::PI * 400.0 / 8000.0).sin() * 0.3 } else { 0.0 };
    }
    let mut enc = CodecId::Pcmu.encoder(8000, 1, false).unwrap();
    let (frame, mut buf, mut out) = (enc.info().frame_samples, [0u8; 160], Vec::new());
    for f in pcm.chunks(frame) {
        let n = enc.encode(f, &mut buf).unwrap().len;
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Plays a sender `ppm` fast (packet `k` arrives in cycle ⌊2k(1 − ppm·10⁻⁶)⌋) and on until
/// its last packet has played: the node's telemetry when the last packet arrived, and the
/// loud quanta it played.
fn play(ppm: f64, trim: bool) -> ([f64; 8], usize) {
    let node = DecodeNode::new(CodecId::Pcmu.decoder(8000, 1).unwrap(), Q).unwrap();
    let mut node = if trim { node.with_lead_trim() } else { node };
    let payloads: Vec<Vec<u8>> = (0..75).map(payload).collect();
    let mut out = vec![0f32; 80];
    let (mut next, mut loud, mut t) = (0, 0, None);
    for c in 0..2 * PACKETS + 40 {
        let mut metas = Vec::new();
        while next < PACKETS && (next as f64 * 2.0 * (1.0 - ppm * 1e-6)).floor() as usize <= c {
            metas.push(PacketMeta { timestamp: next as u32 * 160, sequence: next as u16, ..PacketMeta::default() });
            next += 1;
        }
        node.decode_cycle(metas.iter().map(|m| (m, &payloads[m.sequence as usize % 75][..])), &mut out);
        loud += usize::from(out.iter().map(|v| v * v).sum::<f32>() / 80.0 > 1e-3);
        if next == PACKETS && t.is_none() {
            let mut v = [0.0; 8];
            node.telemetry(&mut v);
            t = Some(v);
        }
    }
    (t.unwrap(), loud)
}

#[test]
fn a_fast_senders_delay_is_trimmed_in_its_pauses() {
    let (plain, _) = play(300.0, false);
    let (trimmed, trimmed_loud) = play(300.0, true);
    // Without the trim the 180 ms the sender gains in 10 minutes fill the decoder's memory.
    assert!(plain[3] > 0.0, "packets dropped without the trim: {plain:?}");
    assert_eq!(plain[7], 0.0);
    // With it nothing is dropped or concealed, about that much is removed, and only quiet
    // quanta: every loud quantum sent is played.
    assert_eq!((trimmed[3], trimmed[2]), (0.0, 0.0), "{trimmed:?}");
    let removed_ms = trimmed[7] / 8.0;
    assert!((100.0..=200.0).contains(&removed_ms), "removed {removed_ms} ms");
    assert_eq!(trimmed_loud, PACKETS / 75 * 50 * 2, "loud quanta played");
}

#[test]
fn a_stream_that_keeps_its_pace_or_falls_behind_is_never_trimmed() {
    for ppm in [0.0, -300.0] {
        let (t, _) = play(ppm, true);
        assert_eq!(t[7], 0.0, "{ppm} ppm: {t:?}");
    }
}
