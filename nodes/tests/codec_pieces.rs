//! A packet of several quanta decoded a quantum at a time (`Decoder::piece_bytes`: its first
//! quantum straight into the output, the rest of its bytes kept undecoded for the next
//! cycles) plays sample for sample as the same packet decoded whole through the FIFO, in
//! every codec that splits, through losses, reorders, bursts, duplicates, silence-level
//! packets, a timestamp jump and a switch of codec.

use rvoip_media_graph::{PacketMeta, Processor, Quantum};
use rvoip_media_nodes::codec::{CodecError, CodecId, CodecInfo, DecodeNode, Decoder, SwitchDecoder};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const Q: Quantum = Quantum::MS_10;

/// The decoder under test, split where it can be (`split`) or never (the reference, decoded
/// whole), counting its decodes of less than a packet of `packet_len` bytes (`pieces`) and of
/// exactly one packet (`whole`).
struct Probe {
    dec: Box<dyn Decoder>,
    split: bool,
    pieces: Arc<AtomicUsize>,
    whole: Arc<AtomicUsize>,
    packet_len: usize,
}

impl Decoder for Probe {
    fn info(&self) -> &CodecInfo {
        self.dec.info()
    }
    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, CodecError> {
        match payload.map(|p| p.len().cmp(&self.packet_len)) {
            Some(std::cmp::Ordering::Less) => self.pieces.fetch_add(1, Ordering::Relaxed),
            Some(std::cmp::Ordering::Equal) => self.whole.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        self.dec.decode(payload, out)
    }
    fn reset(&mut self) {
        self.dec.reset()
    }
    fn samples_in(&self, payload: &[u8]) -> Result<usize, CodecError> {
        self.dec.samples_in(payload)
    }
    fn conceal_toward(&mut self, next: &[u8], samples: usize) {
        self.dec.conceal_toward(next, samples)
    }
    fn piece_bytes(&self, payload: &[u8], frames: usize) -> Option<usize> {
        self.split.then(|| self.dec.piece_bytes(payload, frames)).flatten()
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A tone encoded in `ptime_ms` packets of `codec`.
fn packets(codec: CodecId, ptime_ms: usize, count: usize) -> Vec<Vec<u8>> {
    let rate = codec.native_rate() as usize;
    let mut enc = codec.encoder(rate as u32, 1, false).unwrap();
    let frame = enc.info().frame_samples;
    let per_packet = rate * ptime_ms / 1000;
    let mut buf = vec![0u8; 4096];
    (0..count)
        .map(|p| {
            let pcm: Vec<f32> = (0..per_packet)
                .map(|k| {
                    (((p * per_packet + k) as f32) * 0.07).sin() * 0.4
                        + (((p * per_packet + k) as f32) * 0.013).sin() * 0.2
                })
                .collect();
            let mut out = Vec::new();
            for f in pcm.chunks(frame) {
                let n = enc.encode(f, &mut buf).unwrap().len;
                out.extend_from_slice(&buf[..n]);
            }
            out
        })
        .collect()
}

/// What the network does to the stream, cycle by cycle: for each cycle the packets (index
/// into the stream, RTP timestamp, RFC 6464 level) that arrive in it.
fn schedule(seed: u64, count: usize, quanta: usize, ticks: u32) -> Vec<Vec<(usize, u32, Option<u8>)>> {
    let mut rng = Rng(seed);
    let mut cycles: Vec<Vec<(usize, u32, Option<u8>)>> = vec![Vec::new(); count * quanta + 64];
    let mut jump = 0u32;
    for p in 0..count {
        if p == count / 2 {
            // A timestamp jump (a new talk spurt after a pause, a sender's restart).
            jump = 48_000;
        }
        let mut at = p * quanta + (p % quanta);
        if rng.chance(8) {
            continue; // lost
        }
        if rng.chance(6) {
            at += quanta; // late: arrives with the next one (a burst, or after it: a reorder)
        }
        if rng.chance(4) {
            at = at.saturating_sub(quanta); // early: two packets in one cycle
        }
        let level = if rng.chance(5) { Some(127) } else { Some(0x80 | 20) };
        let ts = (p as u32).wrapping_mul(ticks).wrapping_add(jump).wrapping_add(0xFFFF_0000);
        cycles[at].push((p, ts, level));
        if rng.chance(3) {
            cycles[at + 1].push((p, ts, level)); // duplicate
        }
    }
    cycles
}

/// The output of a decode node fed `cycles`, with `switch_at` a cycle at which a switch to
/// `switch`'s decoder (same payload type) arrives.
fn play(
    mut node: DecodeNode,
    payloads: &[Vec<u8>],
    cycles: &[Vec<(usize, u32, Option<u8>)>],
    pt: u8,
    mut switch: Option<(usize, SwitchDecoder)>,
) -> Vec<f32> {
    let mut out = vec![0.0f32; Q.frames_at(node.info().sample_rate).unwrap()];
    let mut all = Vec::new();
    for (c, arrivals) in cycles.iter().enumerate() {
        if let Some((at, msg)) = switch.as_mut() {
            if *at == c {
                node.message(msg).unwrap();
            }
        }
        let metas: Vec<(PacketMeta, &[u8])> = arrivals
            .iter()
            .map(|&(p, ts, level)| {
                let meta = PacketMeta {
                    payload_type: pt,
                    sequence: p as u16,
                    timestamp: ts,
                    audio_level: level,
                    ..PacketMeta::default()
                };
                (meta, &payloads[p][..])
            })
            .collect();
        node.decode_cycle(metas.iter().map(|(m, p)| (m, *p)), &mut out);
        all.extend_from_slice(&out);
    }
    all
}

/// Every splitting codec, several packet times, 24 network schedules each (with and without
/// silence skipping, and with a codec switch mid-stream): both ways give the same bits, and
/// the split way did decode pieces.
#[test]
fn a_packet_decoded_a_quantum_at_a_time_plays_as_the_whole_packet() {
    for (codec, ptimes) in [
        (CodecId::Pcmu, &[20, 30, 40, 60][..]),
        (CodecId::Pcma, &[20, 40][..]),
        (CodecId::G722, &[20, 30, 40][..]),
        (CodecId::G729, &[20, 30, 40][..]),
    ] {
        let rate = codec.native_rate();
        for &ptime in ptimes {
            let quanta = ptime / 10;
            let payloads = packets(codec, ptime, 150);
            let dec = || codec.decoder(rate, 1).unwrap();
            let ticks = dec().info().rtp_ticks(rate as usize * ptime / 1000);
            let pt = dec().info().payload_type;
            let pieces = Arc::new(AtomicUsize::new(0));
            for seed in 1..=24u64 {
                let cycles = schedule(seed * 7919 + ptime as u64, payloads.len(), quanta, ticks);
                let skip = seed % 3 == 0;
                let switch_at = (seed % 4 == 0).then_some(cycles.len() / 3 + seed as usize % quanta);
                let node = |d: Box<dyn Decoder>| {
                    let n = DecodeNode::new(d, Q).unwrap();
                    if skip {
                        n.with_silence_skip(50)
                    } else {
                        n
                    }
                };
                let switch = |d: Box<dyn Decoder>| switch_at.map(|at| (at, SwitchDecoder::new(d, Q).unwrap()));
                let len = payloads[0].len();
                let probe = |split: bool, pieces: &Arc<AtomicUsize>| {
                    Box::new(Probe {
                        dec: dec(),
                        split,
                        pieces: pieces.clone(),
                        whole: Arc::default(),
                        packet_len: len,
                    })
                };
                let unsplit = Arc::new(AtomicUsize::new(0));
                let whole = play(node(probe(false, &unsplit)), &payloads, &cycles, pt, switch(probe(false, &unsplit)));
                let split = play(node(probe(true, &pieces)), &payloads, &cycles, pt, switch(probe(true, &pieces)));
                assert_eq!(unsplit.load(Ordering::Relaxed), 0, "{codec:?} {ptime} ms: the reference split");
                assert_eq!(whole.len(), split.len());
                if let Some(k) = whole.iter().zip(&split).position(|(a, b)| a.to_bits() != b.to_bits()) {
                    panic!(
                        "{codec:?} {ptime} ms, seed {seed}: sample {k} differs: {} whole, {} split",
                        whole[k], split[k]
                    );
                }
            }
            assert!(pieces.load(Ordering::Relaxed) > 100, "{codec:?} {ptime} ms: the packets were decoded whole");
        }
    }
}

/// Packets that arrive a cycle off their grid (early, beside the rest of the one before; late,
/// where the first late one follows a quantum of concealment and the stream plays a quantum
/// later from then on) stay in pieces: only the packet that ends the concealment (and one that
/// comes with it) is decoded whole, where without the rest's bytes taking the packets that
/// follow, every packet after it would be.
#[test]
fn packets_off_the_cycle_grid_stay_in_pieces() {
    for codec in [CodecId::Pcmu, CodecId::G722, CodecId::G729] {
        let rate = codec.native_rate();
        let payloads = packets(codec, 20, 200);
        let dec = || codec.decoder(rate, 1).unwrap();
        let ticks = dec().info().rtp_ticks(rate as usize / 50);
        let mut rng = Rng(4242);
        let mut cycles = vec![Vec::new(); 2 * payloads.len() + 4];
        let mut late = 0;
        for p in 0..payloads.len() {
            let at = match rng.next() % 10 {
                _ if p == 0 => 0,
                0 => 2 * p - 1,
                1 => {
                    late += 1;
                    2 * p + 1
                }
                _ => 2 * p,
            };
            cycles[at].push((p, (p as u32).wrapping_mul(ticks), None));
        }
        let (pieces, whole) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let probe = |split: bool| Probe {
            dec: dec(),
            split,
            pieces: pieces.clone(),
            whole: whole.clone(),
            packet_len: payloads[0].len(),
        };
        let pt = dec().info().payload_type;
        let want = play(DecodeNode::new(Box::new(probe(false)), Q).unwrap(), &payloads, &cycles, pt, None);
        whole.store(0, Ordering::Relaxed);
        let node = DecodeNode::new(Box::new(probe(true)), Q).unwrap();
        let got = play(node, &payloads, &cycles, pt, None);
        assert!(want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "{codec:?}: not the same audio");
        let whole = whole.load(Ordering::Relaxed);
        assert!(late > 10 && (1..=2).contains(&whole), "{codec:?}: {whole} packets decoded whole, {late} late");
        assert!(pieces.load(Ordering::Relaxed) >= 2 * (payloads.len() - 2), "{codec:?}: too few pieces");
    }
}

/// Opus's frames are coded together: never split.
#[test]
fn opus_packets_are_not_split() {
    let dec = CodecId::Opus.decoder(48_000, 1).unwrap();
    let payloads = packets(CodecId::Opus, 20, 2);
    assert_eq!(dec.piece_bytes(&payloads[0], 480), None);
}
