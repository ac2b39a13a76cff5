//! G.711 through the codec model: `EncodeNode` / `DecodeNode` against the committed G.191
//! tables, packet timing, concealment and malformed input.

use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{CodecError, CodecId, Concealment, DecodeNode, EncodeNode, G711CodecDecoder};
use rvoip_media_nodes::g711::G711Law;

const PCMU_ENC: &[u8] = include_bytes!("data/g711/pcmu_enc.bin");
const PCMU_DEC: &[u8] = include_bytes!("data/g711/pcmu_dec.bin");
const PCMA_ENC: &[u8] = include_bytes!("data/g711/pcma_enc.bin");
const PCMA_DEC: &[u8] = include_bytes!("data/g711/pcma_dec.bin");

fn tables(id: CodecId) -> (&'static [u8], &'static [u8]) {
    match id {
        CodecId::Pcmu => (PCMU_ENC, PCMU_DEC),
        _ => (PCMA_ENC, PCMA_DEC),
    }
}

fn dec_value(table: &[u8], code: u8) -> f32 {
    f32::from(i16::from_le_bytes([table[2 * code as usize], table[2 * code as usize + 1]])) / 32768.0
}

fn encoder(id: CodecId, ptime_us: u32, q: Quantum) -> NodeHarness {
    let node = EncodeNode::new(id.encoder(8000, 1, false).unwrap(), ptime_us, q).unwrap();
    NodeHarness::new(Box::new(node), q).unwrap()
}

fn decoder(id: CodecId, q: Quantum) -> NodeHarness {
    NodeHarness::new(Box::new(DecodeNode::new(id.decoder(8000, 1).unwrap(), q).unwrap()), q).unwrap()
}

/// The 65536-sample ramp of every 16-bit value, as exact f32.
fn ramp() -> Vec<f32> {
    (i16::MIN..=i16::MAX).map(|v| f32::from(v) / 32768.0).collect()
}

#[test]
fn ramp_through_20ms_packets_matches_g191_tables_with_exact_timing() {
    for id in [CodecId::Pcmu, CodecId::Pcma] {
        let (enc_table, dec_table) = tables(id);
        let x = ramp();
        let mut enc = encoder(id, 20_000, Quantum::MS_10);
        let mut dec = decoder(id, Quantum::MS_10);
        assert_eq!(enc.spec().latency_ns, 10_000_000, "20 ms packets from 10 ms quanta delay by 10 ms");
        let cycles = x.len().div_ceil(80) + 1;
        let (mut payload, mut out, mut packets) = (Vec::new(), Vec::new(), 0u32);
        for c in 0..cycles {
            for (k, s) in enc.audio_in_mut(0).iter_mut().enumerate() {
                *s = x.get(c * 80 + k).copied().unwrap_or(0.0);
            }
            assert_eq!(enc.run(), 0);
            let p = enc.packet_out(0).cloned();
            assert_eq!(p.is_some(), c % 2 == 1, "{id}: a packet every second cycle (cycle {c})");
            match &p {
                Some(p) => {
                    assert_eq!(p.len(), 160);
                    assert_eq!(p.meta.payload_type, if id == CodecId::Pcmu { 0 } else { 8 });
                    assert_eq!(p.meta.sequence, packets as u16);
                    assert_eq!(p.meta.timestamp, packets * 160);
                    assert_eq!(p.meta.marker, packets == 0);
                    payload.extend_from_slice(p.payload());
                    packets += 1;
                    dec.packet_in_mut(0).put(p);
                }
                None => dec.packet_in_mut(0).clear(),
            }
            assert_eq!(dec.run(), 0);
            out.extend_from_slice(dec.audio_out(0));
        }
        assert_eq!(packets as usize, x.len().div_ceil(160));
        let diff = payload[..65536].iter().zip(enc_table).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{id}: {diff} codes differ from the G.191 table");
        // Output lags by one 10 ms quantum (silence before the first packet).
        assert!(out[..80].iter().all(|&s| s == 0.0));
        for (k, &code) in payload[..65536].iter().enumerate() {
            assert_eq!(out[80 + k], dec_value(dec_table, code), "{id}: decoded sample {k}");
        }
    }
}

#[test]
fn small_quanta_and_long_packets_work_and_bad_ptimes_are_refused() {
    // 2.5 ms quanta, 5 ms packets: a packet every second cycle of 40 bytes.
    let mut enc = encoder(CodecId::Pcma, 5_000, Quantum::MS_2_5);
    let mut got = 0;
    for c in 0..8 {
        enc.audio_in_mut(0).fill(0.1);
        enc.run();
        if let Some(p) = enc.packet_out(0) {
            assert_eq!((c % 2, p.len(), p.meta.timestamp), (1, 40, got * 40));
            got += 1;
        }
    }
    assert_eq!(got, 4);
    // 20 ms quanta, 60 ms packets: every third cycle, 480 bytes.
    let mut enc = encoder(CodecId::Pcmu, 60_000, Quantum::MS_20);
    let sizes: Vec<Option<usize>> = (0..6).map(|_| (enc.run(), enc.packet_out(0).map(Packet::len)).1).collect();
    assert_eq!(sizes, [None, None, Some(480), None, None, Some(480)]);

    let e = EncodeNode::new(CodecId::Pcmu.encoder(8000, 1, false).unwrap(), 10_000, Quantum::MS_20).err().unwrap();
    assert_eq!(e, CodecError::QuantumMismatch { codec: "PCMU", quantum_us: 20_000, ptime_us: 10_000 });
    let e = EncodeNode::new(CodecId::Pcmu.encoder(8000, 1, false).unwrap(), 25_000, Quantum::MS_5).err().unwrap();
    assert!(matches!(e, CodecError::UnsupportedPtime { got_us: 25_000, .. }), "{e}");
    assert!(e.to_string().contains("2.5, 5, 10, 20, 30, 40, 50, 60 ms"), "{e}");
    let e = CodecId::Pcmu.encoder(16_000, 1, false).err().unwrap();
    assert_eq!(e.to_string(), "PCMU does not support a sample rate of 16000 Hz (supported: 8000 Hz)");
    let e = CodecId::Pcma.decoder(8000, 2).err().unwrap();
    assert_eq!(e.to_string(), "PCMA does not support 2 channel(s) (supported: 1)");
}

fn tone(n0: usize, n: usize) -> Vec<f32> {
    (n0..n0 + n).map(|k| (0.3 * (2.0 * std::f64::consts::PI * 200.0 * k as f64 / 8000.0).sin()) as f32).collect()
}

/// Runs a 200 Hz tone through 20 ms packets, dropping packets `lost`; returns the decoder's
/// output (one quantum of lag) and the per-cycle error counts.
fn run_with_loss(decoder_node: DecodeNode, lost: &[u16], cycles: usize) -> (Vec<f32>, u32) {
    let mut enc = encoder(CodecId::Pcmu, 20_000, Quantum::MS_10);
    let mut dec = NodeHarness::new(Box::new(decoder_node), Quantum::MS_10).unwrap();
    let (mut out, mut errors) = (Vec::new(), 0);
    for c in 0..cycles {
        enc.audio_in_mut(0).copy_from_slice(&tone(c * 80, 80));
        enc.run();
        match enc.packet_out(0).cloned() {
            Some(p) if !lost.contains(&p.meta.sequence) => dec.packet_in_mut(0).put(&p),
            _ => dec.packet_in_mut(0).clear(),
        }
        errors += dec.run();
        out.extend_from_slice(dec.audio_out(0));
    }
    (out, errors)
}

fn snr_db(want: &[f32], got: &[f32]) -> f64 {
    let sig: f64 = want.iter().map(|&v| f64::from(v).powi(2)).sum();
    let err: f64 = want.iter().zip(got).map(|(&a, &b)| f64::from(a - b).powi(2)).sum();
    10.0 * (sig / err.max(1e-30)).log10()
}

#[test]
fn a_lost_packet_is_concealed_by_pitch_repetition_then_decoding_resumes() {
    let node = || DecodeNode::new(CodecId::Pcmu.decoder(8000, 1).unwrap(), Quantum::MS_10).unwrap();
    let (clean, e0) = run_with_loss(node(), &[], 20);
    let (lossy, e1) = run_with_loss(node(), &[5], 20);
    assert_eq!((e0, e1), (0, 0), "a loss is not an input error");
    // Packet 5 covers samples 800..960, played at output positions 880..1040.
    assert_eq!(clean[..880], lossy[..880]);
    let truth = tone(800, 160);
    let concealed = &lossy[880..1040];
    assert!(concealed.iter().any(|&s| s != 0.0));
    // The 200 Hz tone has a 40-sample period, which the concealment repeats.
    let snr = snr_db(&truth[..80], &concealed[..80]);
    assert!(snr > 25.0, "first 10 ms of concealment: {snr:.1} dB");
    // After the 20-sample cross-fade the output is the exact decode again.
    assert_eq!(clean[1060..], lossy[1060..]);

    // With silence as concealment the gap is zeros.
    let silent = DecodeNode::new(
        Box::new(G711CodecDecoder::with_concealment(G711Law::Ulaw, Concealment::Silence)),
        Quantum::MS_10,
    )
    .unwrap();
    let (lossy, _) = run_with_loss(silent, &[5], 20);
    assert!(lossy[880..1040].iter().all(|&s| s == 0.0));
    assert_eq!(clean[1040..], lossy[1040..]);
}

#[test]
fn timestamps_place_packets_duplicates_are_dropped_and_bad_payloads_reported() {
    let mut dec = decoder(CodecId::Pcmu, Quantum::MS_10);
    let codes: Vec<u8> = (0..160u32).map(|i| (i * 7 % 256) as u8).collect();
    let pkt = |ts: u32, data: &[u8]| {
        Packet::from_payload(PacketMeta { timestamp: ts, ..PacketMeta::default() }, data).unwrap()
    };
    let want = |data: &[u8]| -> Vec<f32> { data.iter().map(|&c| dec_value(PCMU_DEC, c)).collect() };
    dec.packet_in_mut(0).put(&pkt(1000, &codes));
    assert_eq!(dec.run(), 0);
    assert_eq!(dec.audio_out(0), &want(&codes[..80])[..]);
    // The same packet again (duplicate): dropped, the FIFO continues.
    dec.packet_in_mut(0).put(&pkt(1000, &codes));
    assert_eq!(dec.run(), 0);
    assert_eq!(dec.audio_out(0), &want(&codes[80..])[..]);
    // Next packet starts 80 samples late (ts 1240 instead of 1160): 80 samples concealed first.
    dec.packet_in_mut(0).put(&pkt(1240, &codes[..80]));
    assert_eq!(dec.run(), 0);
    let concealed = dec.audio_out(0).to_vec();
    assert!(concealed.iter().any(|&s| s != 0.0));
    dec.packet_in_mut(0).clear();
    assert_eq!(dec.run(), 0);
    let after = dec.audio_out(0).to_vec();
    // Cross-fade over the first 20 samples, exact after.
    assert_eq!(after[20..], want(&codes[20..80])[..]);
    // Empty payload: reported, concealed.
    dec.packet_in_mut(0).put(&pkt(1320, &[]));
    assert_eq!(dec.run(), 1);
    // A payload longer than the longest ptime (60 ms): reported, not decoded.
    dec.packet_in_mut(0).put(&pkt(1400, &[0u8; 481]));
    assert_eq!(dec.run(), 1);
    assert!(dec.audio_out(0).iter().all(|s| s.is_finite()));
}

#[test]
fn encoder_reports_non_finite_input_and_wrong_quantum_gives_no_packet() {
    let mut enc = encoder(CodecId::Pcma, 10_000, Quantum::MS_10);
    enc.audio_in_mut(0).fill(f32::NAN);
    assert_eq!(enc.run(), 1);
    let p = enc.packet_out(0).unwrap();
    assert!(p.payload().iter().all(|&c| c == PCMA_ENC[32768]), "NaN encodes as 0");
    // The node was built for 10 ms quanta; a 20 ms harness feeds the wrong length.
    let node = EncodeNode::new(CodecId::Pcma.encoder(8000, 1, false).unwrap(), 20_000, Quantum::MS_10).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_20).unwrap();
    assert_eq!(h.run(), 1);
    assert!(h.packet_out(0).is_none());
}

#[test]
fn reset_restarts_rtp_fields_and_the_packet_window() {
    let node = EncodeNode::new(CodecId::Pcmu.encoder(8000, 1, false).unwrap(), 20_000, Quantum::MS_10)
        .unwrap()
        .with_payload_type(96)
        .with_ssrc(7)
        .with_start(65_535, u32::MAX - 159);
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
    let mut metas = Vec::new();
    for _ in 0..5 {
        h.run();
        metas.extend(h.packet_out(0).map(|p| p.meta));
    }
    assert_eq!(metas.len(), 2);
    assert_eq!(
        (metas[0].sequence, metas[0].timestamp, metas[0].marker, metas[0].ssrc),
        (65_535, u32::MAX - 159, true, 7)
    );
    assert_eq!((metas[1].sequence, metas[1].timestamp, metas[1].marker, metas[1].payload_type), (0, 0, false, 96));
    h.processor_mut().reset();
    h.run();
    assert!(h.packet_out(0).is_none(), "the window restarts: first packet after two quanta");
    h.run();
    let m = h.packet_out(0).unwrap().meta;
    assert_eq!((m.sequence, m.timestamp, m.marker), (65_535, u32::MAX - 159, true));
}

/// Every packet `EncodeNode` sends for `x` with packets of `ptime_us` in a graph at `q`.
fn packets_of(x: &[f32], ptime_us: u32, q: Quantum) -> Vec<(PacketMeta, Vec<u8>)> {
    let mut enc = encoder(CodecId::Pcmu, ptime_us, q);
    let n = enc.audio_in_mut(0).len();
    let mut out = Vec::new();
    for chunk in x.chunks_exact(n) {
        enc.audio_in_mut(0).copy_from_slice(chunk);
        assert_eq!(enc.run(), 0);
        out.extend(enc.packet_out(0).map(|p| (p.meta, p.payload().to_vec())));
    }
    out
}

#[test]
fn the_packet_stream_is_the_same_whatever_the_quantum() {
    // Encoded straight into the output (ptime = quantum), frame runs into the node's
    // packet, and quanta split into frames must all give the same packets.
    let x = tone(0, 8000);
    for ptime in [10_000, 20_000, 40_000] {
        let quanta = [Quantum::MS_2_5, Quantum::MS_5, Quantum::MS_10, Quantum::MS_20];
        let streams: Vec<_> =
            quanta.iter().filter(|q| ptime % q.micros() == 0).map(|&q| (q, packets_of(&x, ptime, q))).collect();
        let (q0, first) = &streams[0];
        assert_eq!(first.len(), 1_000_000 / ptime as usize, "{ptime} µs at {q0:?}");
        assert!(first[0].0.marker && first[1..].iter().all(|(m, _)| !m.marker));
        for (q, s) in &streams[1..] {
            assert_eq!(s, first, "{ptime} µs packets at {q:?} differ from those at {q0:?}");
        }
    }
}

/// A pause in packets (a DTMF event took their place, or hold) during which the decoder
/// concealed, followed by packets slightly behind the concealment clock: they are taken
/// (re-synchronising), not dropped as late one after another; a duplicate of audio already
/// decoded is still dropped.
#[test]
fn packets_late_only_against_concealment_resynchronise() {
    use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
    use rvoip_media_nodes::codec::{DecodeNode, G711CodecDecoder};
    use rvoip_media_nodes::G711Law;
    let q = Quantum::MS_10;
    let node = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), q).unwrap();
    let mut h = NodeHarness::new(Box::new(node), q).unwrap();
    // 80-sample packets (one quantum each), payload 0x80 (a constant, not silence).
    let packet = |seq: u16, ts: u32| {
        Packet::from_payload(
            PacketMeta { payload_type: 0, sequence: seq, timestamp: ts, ..Default::default() },
            &[0x80; 80],
        )
        .unwrap()
    };
    let mut run = |p: Option<Packet>| {
        let slot = h.packet_in_mut(0);
        slot.clear();
        if let Some(p) = p {
            slot.push(&p).unwrap();
        }
        h.run();
        h.audio_out(0).to_vec()
    };
    for i in 0..5u16 {
        run(Some(packet(i, u32::from(i) * 80)));
    }
    // 10 cycles without packets: concealment runs the clock on to ts 1200.
    for _ in 0..10 {
        run(None);
    }
    // The stream resumes 1 cycle behind that clock (ts 1120), then on time after it.
    let decoded = (0..5u16).map(|k| run(Some(packet(20 + k, 1120 + u32::from(k) * 80)))).collect::<Vec<_>>();
    let mut expect = [0f32; 1];
    G711Law::Ulaw.decode_f32(&[0x80], &mut expect);
    let first_sample = expect[0];
    assert!(first_sample.abs() > 0.5);
    // The first resumed quantum fades in from the concealment, then the packets play as sent.
    assert!((decoded[0][79] - first_sample).abs() < 1e-6, "{:?}", &decoded[0][..]);
    assert!(decoded[1..].iter().all(|q| q.iter().all(|s| (*s - first_sample).abs() < 1e-6)), "packets play");
    // A duplicate of audio already decoded is dropped as late.
    let out = run(Some(packet(22, 1120 + 2 * 80)));
    assert!(out.iter().all(|s| s.abs() < 1.0));
    let tel = {
        let mut v = [0f64; 5];
        h.processor_mut().telemetry(&mut v);
        v
    };
    assert_eq!(tel[1], 1.0, "one late packet (the duplicate), none of the resumed stream");
}
