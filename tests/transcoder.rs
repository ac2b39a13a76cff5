//! Any-to-any transcoding of real speech between PCMU, PCMA, G.722, G.729 and Opus.

use rvoip_media_core::transcoder::Transcoder;
use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Quantum};
use rvoip_media_nodes::codec::{CodecId, DecodeNode, EncodeNode};
use rvoip_media_nodes::resample::resample_whole;
use rvoip_media_nodes::wav::WavSource;

const CODECS: [CodecId; 5] = [CodecId::Pcmu, CodecId::Pcma, CodecId::G722, CodecId::G729, CodecId::Opus];
const Q: Quantum = Quantum::MS_10;

/// The rate `Transcoder::between` runs each codec at: its widest.
fn rate(c: CodecId) -> u32 {
    match c {
        CodecId::G722 => 16_000,
        CodecId::Opus => 48_000,
        _ => 8_000,
    }
}

/// 3 s of the bundled 16 kHz speech, from 2 s in, at `r` Hz.
fn speech(r: u32) -> Vec<f32> {
    let src = WavSource::open(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_16k.wav")).unwrap();
    let x = &src.samples()[32_000..80_000];
    if r == 16_000 {
        x.to_vec()
    } else {
        resample_whole(x, 16_000, r, 1).unwrap()
    }
}

/// Best normalised correlation of `y` against `x` delayed by 0..max_lag samples: a coarse
/// search on 1 ms energy envelopes, refined sample by sample.
fn aligned_correlation(x: &[f32], y: &[f32], r: u32, max_lag: usize) -> (f64, usize) {
    let block = (r / 1000) as usize;
    let env = |s: &[f32]| -> Vec<f64> { s.chunks(block).map(|c| c.iter().map(|v| f64::from(v.abs())).sum()).collect() };
    let (ex, ey) = (env(x), env(y));
    let corr = |a: &[f64], b: &[f64], lag: usize| -> f64 {
        let n = a.len().min(b.len().saturating_sub(lag));
        (0..n).map(|i| a[i] * b[i + lag]).sum::<f64>()
    };
    let coarse = (0..max_lag / block).max_by(|&p, &q| corr(&ex, &ey, p).total_cmp(&corr(&ex, &ey, q))).unwrap_or(0);
    let ncc = |lag: usize| -> f64 {
        let n = x.len().min(y.len().saturating_sub(lag));
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (a, b) = (f64::from(x[i]), f64::from(y[i + lag]));
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        xy / (xx * yy).sqrt().max(1e-12)
    };
    let lo = (coarse * block).saturating_sub(2 * block);
    (lo..coarse * block + 2 * block).map(|l| (ncc(l), l)).max_by(|a, b| a.0.total_cmp(&b.0)).unwrap_or((0.0, 0))
}

fn transcode_speech(from: CodecId, to: CodecId) -> (f64, usize, rvoip_media_core::transcoder::TranscodeStats) {
    let x = speech(rate(from));
    let enc = EncodeNode::new(from.encoder(rate(from), 1, false).unwrap(), 20_000, Q).unwrap();
    let mut source = NodeHarness::new(Box::new(enc), Q).unwrap();
    let mut t = Transcoder::between(from, to, 20_000, Q).unwrap();
    let dec = DecodeNode::new(to.decoder(rate(to), 1).unwrap(), Q).unwrap();
    let mut sink = NodeHarness::new(Box::new(dec), Q).unwrap();
    let per = Q.frames_at(rate(from)).unwrap();
    let mut y = Vec::new();
    let cycles = x.len() / per + 30;
    for c in 0..cycles {
        let frame = source.audio_in_mut(0);
        for (k, s) in frame.iter_mut().enumerate() {
            *s = x.get(c * per + k).copied().unwrap_or(0.0);
        }
        source.run();
        let produced: Option<Packet> = source.packet_out(0).cloned();
        let out = t.process(produced.as_ref()).cloned();
        match out {
            Some(p) => sink.packet_in_mut(0).put(&p),
            None => sink.packet_in_mut(0).clear(),
        }
        sink.run();
        y.extend_from_slice(sink.audio_out(0));
    }
    let reference = speech(rate(to));
    let (ncc, lag) = aligned_correlation(&reference, &y, rate(to), rate(to) as usize / 5);
    (ncc, lag, t.stats())
}

#[test]
fn every_pair_transcodes_speech_intelligibly() {
    let mut report = Vec::new();
    for from in CODECS {
        for to in CODECS {
            let (ncc, lag, st) = transcode_speech(from, to);
            report.push(format!("{from:?}->{to:?}: correlation {ncc:.3} at lag {lag}, {st:?}"));
            // Waveform codecs keep the waveform; G.729 (CELP) and Opus (perceptual) match it
            // more loosely. A broken chain (silence, wrong rate, garbage) correlates near 0.
            let perceptual = |c| matches!(c, CodecId::G729 | CodecId::Opus);
            let floor = if perceptual(from) || perceptual(to) { 0.55 } else { 0.95 };
            assert!(ncc >= floor, "{from:?}->{to:?}: correlation {ncc:.3} < {floor}\n{}", report.join("\n"));
            assert_eq!(st.packets_in, st.packets_out.max(st.packets_in), "{st:?}");
            assert!(st.packets_out + 2 >= st.packets_in, "{st:?}");
            assert_eq!(st.errors, 0, "{from:?}->{to:?}");
            assert!(st.max_latency_us >= st.avg_latency_us && st.avg_latency_us > 0.0);
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
fn malformed_packets_are_counted_and_concealed() {
    let mut t = Transcoder::between(CodecId::G729, CodecId::Pcmu, 20_000, Q).unwrap();
    let bad = Packet::from_payload(PacketMeta::default(), &[0x5a; 13]).unwrap(); // not n x 10 bytes
    let good = Packet::from_payload(PacketMeta::default(), &[0u8; 20]).unwrap();
    let mut outs = 0;
    for c in 0..20 {
        let p = if c % 2 == 1 {
            None
        } else if c % 4 == 0 {
            Some(&bad)
        } else {
            Some(&good)
        };
        if let Some(out) = t.process(p) {
            assert_eq!(out.len(), 160);
            outs += 1;
        }
    }
    let st = t.stats();
    assert_eq!(st.packets_in, 10);
    assert_eq!(st.errors, 5, "{st:?}");
    assert!(outs >= 9, "output keeps flowing through bad input: {outs}");
}

#[test]
fn mismatched_ptime_is_an_error_naming_what_is_supported() {
    let err = Transcoder::between(CodecId::Pcmu, CodecId::G729, 25_000, Q).err().unwrap();
    assert!(err.to_string().contains("ptime") || err.to_string().contains("25"), "{err}");
}
