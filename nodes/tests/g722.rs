//! G.722 bit-exactness against spandsp 0.0.6 reference vectors (tests/data/g722/README.md).

use rvoip_media_nodes::g722::{
    rtp_timestamp_increment, G722Decoder, G722Encoder, G722Kernel, PACKET_FORMAT, RTP_CLOCK_RATE,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/g722").join(name)
}

fn read_bytes(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn read_s16(name: &str) -> Vec<i16> {
    read_bytes(name).chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

fn speech() -> Vec<i16> {
    let r = hound::WavReader::open(data("speech_16k_2s.wav")).unwrap();
    assert_eq!(r.spec().sample_rate, 16000);
    r.into_samples::<i16>().map(Result::unwrap).collect()
}

fn fnv1a(x: &[i16]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for v in x {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

struct XorShift32(u32);
impl XorShift32 {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// name -> (bytes, decoded samples, hash of the reference decoding).
fn manifest() -> HashMap<String, (usize, usize, u64)> {
    let text = String::from_utf8(read_bytes("vectors.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), (f[1].parse().unwrap(), f[2].parse().unwrap(), u64::from_str_radix(f[3], 16).unwrap()))
        })
        .collect()
}

/// The reference inputs, built exactly as the generator did.
fn inputs() -> Vec<(&'static str, Vec<i16>)> {
    let sp = speech();
    let loud = sp.iter().map(|&v| (i32::from(v) * 8).clamp(-32768, 32767) as i16).collect();
    let quiet = sp.iter().map(|&v| v >> 7).collect();
    let mut rng = XorShift32(0x1234_5678);
    let noise = (0..16000).map(|_| (rng.next() >> 16) as u16 as i16).collect();
    vec![
        ("speech", sp),
        ("speech_loud", loud),
        ("speech_quiet", quiet),
        ("sweep", read_s16("sweep_input.s16")),
        ("noise", noise),
    ]
}

const KERNELS: [G722Kernel; 2] = [G722Kernel::Scalar, G722Kernel::Simd];

fn encode_in_chunks(x: &[i16], chunk: usize) -> Vec<u8> {
    encode_with(x, chunk, G722Kernel::detect())
}

fn encode_with(x: &[i16], chunk: usize, kernel: G722Kernel) -> Vec<u8> {
    let mut enc = G722Encoder::new().with_kernel(kernel);
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk / 2 + 1];
    for c in x.chunks(chunk) {
        let n = enc.encode(c, &mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn decode_in_chunks(b: &[u8], chunk: usize) -> Vec<i16> {
    decode_with(b, chunk, G722Kernel::detect())
}

fn decode_with(b: &[u8], chunk: usize, kernel: G722Kernel) -> Vec<i16> {
    let mut dec = G722Decoder::new().with_kernel(kernel);
    let mut out = Vec::new();
    let mut buf = vec![0i16; chunk * 2];
    for c in b.chunks(chunk) {
        let n = dec.decode(c, &mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn encoder_bitstream_equals_spandsp() {
    let m = manifest();
    for (name, x) in inputs() {
        let want = read_bytes(&format!("{name}.g722"));
        assert_eq!(want.len(), m[name].0);
        for kernel in KERNELS {
            let got = encode_with(&x, 320, kernel);
            assert_eq!(got.len(), want.len(), "{name}");
            let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
            assert_eq!(first_diff, None, "{name} {kernel:?}: first differing byte");
        }
    }
}

#[test]
fn decoder_output_equals_spandsp() {
    let m = manifest();
    for (name, _) in inputs() {
        let bits = read_bytes(&format!("{name}.g722"));
        for kernel in KERNELS {
            let got = decode_with(&bits, 160, kernel);
            assert_eq!(got.len(), m[name].1, "{name}");
            assert_eq!(fnv1a(&got), m[name].2, "{name} {kernel:?}: decoded PCM differs from spandsp");
        }
    }
    // Full sample-by-sample comparison for the speech stream.
    let want = read_s16("speech.dec.s16");
    let got = decode_in_chunks(&read_bytes("speech.g722"), 160);
    assert_eq!(got.len(), want.len());
    assert_eq!(got.iter().zip(&want).position(|(a, b)| a != b), None, "first differing sample");
}

#[test]
fn decoder_accepts_arbitrary_bytes_like_spandsp() {
    let m = manifest();
    let mut rng = XorShift32(0xdead_beef);
    let bytes: Vec<u8> = (0..8000).map(|_| (rng.next() >> 24) as u8).collect();
    for kernel in KERNELS {
        let got = decode_with(&bytes, 160, kernel);
        assert_eq!(got.len(), m["random_bytes"].1);
        assert_eq!(fnv1a(&got), m["random_bytes"].2, "{kernel:?}");
    }
}

#[test]
fn chunking_does_not_change_the_bitstream() {
    let x = speech();
    let want = read_bytes("speech.g722");
    for chunk in [1, 2, 3, 7, 160, 319, 321, 4001] {
        assert_eq!(encode_in_chunks(&x, chunk), want, "encode chunk {chunk}");
    }
    let dec = read_s16("speech.dec.s16");
    for chunk in [1, 3, 77, 1000] {
        assert_eq!(decode_in_chunks(&want, chunk), dec, "decode chunk {chunk}");
    }
}

#[test]
fn odd_sample_is_held_until_the_next_call() {
    let mut enc = G722Encoder::new();
    let mut out = [0u8; 4];
    assert_eq!(enc.encode(&[100, 200, 300], &mut out), 1);
    assert_eq!(enc.pending(), Some(300));
    assert_eq!(enc.encode(&[], &mut out), 0);
    assert_eq!(enc.pending(), Some(300));
    assert_eq!(enc.encode(&[400], &mut out), 1);
    assert_eq!(enc.pending(), None);
    let mut whole = G722Encoder::new();
    let mut w = [0u8; 2];
    assert_eq!(whole.encode(&[100, 200, 300, 400], &mut w), 2);
    assert_eq!(enc, whole);
    enc.reset();
    assert_eq!(enc, G722Encoder::new());
}

#[test]
fn short_output_buffers_limit_the_work() {
    let x = speech();
    let mut enc = G722Encoder::new();
    let mut out = [0u8; 10];
    assert_eq!(enc.encode(&x[..100], &mut out), 10);
    assert_eq!(enc.pending(), None);
    let mut dec = G722Decoder::new();
    let mut pcm = [0i16; 7];
    assert_eq!(dec.decode(&out, &mut pcm), 6);
    let mut fresh = G722Decoder::new();
    let mut all = [0i16; 20];
    assert_eq!(fresh.decode(&out, &mut all), 20);
    assert_eq!(&pcm[..6], &all[..6]);
    dec.reset();
    assert_eq!(dec, G722Decoder::new());
}

#[test]
fn rtp_clock_rate_is_8000() {
    assert_eq!(RTP_CLOCK_RATE, 8000);
    assert_eq!(PACKET_FORMAT.clock_rate, 8000);
    assert_eq!(PACKET_FORMAT.encoding, "G722");
    assert_eq!(rtp_timestamp_increment(320), 160);
}

#[test]
fn saturating_decoder_differs_only_where_spandsp_wraps() {
    // On the clipped speech, spandsp 0.0.6 (and `new()`) wraps the receive QMF output around;
    // `new_saturating()` clips it instead. Everywhere else the two decoders agree exactly.
    let bits = read_bytes("speech_loud.g722");
    let wrapping = decode_in_chunks(&bits, 160);
    let mut sat = G722Decoder::new_saturating();
    let mut clipped = vec![0i16; wrapping.len()];
    assert_eq!(sat.decode(&bits, &mut clipped), clipped.len());
    let mut differ = 0;
    for (&w, &c) in wrapping.iter().zip(&clipped) {
        if w != c {
            differ += 1;
            // A wrapped sample has the opposite sign of the clipped full-scale value.
            assert!(c == i16::MAX && w < 0 || c == i16::MIN && w > 0, "wrapped {w} vs clipped {c}");
        }
    }
    assert!(differ > 0, "the clipped stream should overflow somewhere");
    assert!(differ < wrapping.len() / 20, "{differ} samples differ");
    // On normal speech there is no overflow: identical output.
    let bits = read_bytes("speech.g722");
    let mut sat = G722Decoder::new_saturating();
    let mut out = vec![0i16; bits.len() * 2];
    sat.decode(&bits, &mut out);
    assert_eq!(out, read_s16("speech.dec.s16"));
}

#[test]
fn round_trip_of_a_tone_is_clean() {
    // Codec sanity beyond bit-exactness: a 1 kHz tone comes back with > 30 dB SNR after the
    // codec's 22-sample QMF delay.
    let x: Vec<i16> =
        (0..16000).map(|n| ((n as f64 * 2.0 * std::f64::consts::PI / 16.0).sin() * 10000.0) as i16).collect();
    let y = decode_in_chunks(&encode_in_chunks(&x, 320), 160);
    let delay = 22;
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for n in 4000..15000 {
        let (a, b) = (f64::from(x[n]), f64::from(y[n + delay]));
        s += a * a;
        e += (a - b) * (a - b);
    }
    let snr = 10.0 * (s / e).log10();
    assert!(snr > 30.0, "round-trip SNR {snr:.1} dB");
}
