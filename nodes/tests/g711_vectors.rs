//! G.711 against the complete ITU-T G.191 rule tables in `tests/data/g711/` (see the README
//! there): every one of the 65536 inputs and 256 codes, through the per-sample algorithm,
//! the table-driven slice functions and the `f32` variants.

use rvoip_media_nodes::g711::{alaw, ulaw};

const PCMU_ENC: &[u8] = include_bytes!("data/g711/pcmu_enc.bin");
const PCMA_ENC: &[u8] = include_bytes!("data/g711/pcma_enc.bin");
const PCMU_DEC: &[u8] = include_bytes!("data/g711/pcmu_dec.bin");
const PCMA_DEC: &[u8] = include_bytes!("data/g711/pcma_dec.bin");

fn all_inputs() -> Vec<i16> {
    (i16::MIN..=i16::MAX).collect()
}

fn dec_table(bytes: &[u8]) -> Vec<i16> {
    assert_eq!(bytes.len(), 512);
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

struct Law {
    name: &'static str,
    enc_ref: &'static [u8],
    dec_ref: &'static [u8],
    encode_sample: fn(i16) -> u8,
    decode_sample: fn(u8) -> i16,
    encode: fn(&[i16], &mut [u8]) -> usize,
    decode: fn(&[u8], &mut [i16]) -> usize,
    encode_f32: fn(&[f32], &mut [u8]) -> usize,
    decode_f32: fn(&[u8], &mut [f32]) -> usize,
}

const LAWS: [Law; 2] = [
    Law {
        name: "mu-law",
        enc_ref: PCMU_ENC,
        dec_ref: PCMU_DEC,
        encode_sample: ulaw::encode_sample,
        decode_sample: ulaw::decode_sample,
        encode: ulaw::encode,
        decode: ulaw::decode,
        encode_f32: ulaw::encode_f32,
        decode_f32: ulaw::decode_f32,
    },
    Law {
        name: "A-law",
        enc_ref: PCMA_ENC,
        dec_ref: PCMA_DEC,
        encode_sample: alaw::encode_sample,
        decode_sample: alaw::decode_sample,
        encode: alaw::encode,
        decode: alaw::decode,
        encode_f32: alaw::encode_f32,
        decode_f32: alaw::decode_f32,
    },
];

#[test]
fn encode_matches_g191_for_all_65536_inputs() {
    let inputs = all_inputs();
    for law in &LAWS {
        assert_eq!(law.enc_ref.len(), 65536);
        // The algorithm, sample by sample.
        for (i, &x) in inputs.iter().enumerate() {
            assert_eq!((law.encode_sample)(x), law.enc_ref[i], "{} encode_sample({x})", law.name);
        }
        // The table-driven slice function.
        let mut out = vec![0u8; 65536];
        assert_eq!((law.encode)(&inputs, &mut out), 65536);
        for (i, &x) in inputs.iter().enumerate() {
            assert_eq!(out[i], law.enc_ref[i], "{} encode({x})", law.name);
        }
        // f32 input at the exact i16 values gives the same codes.
        let f: Vec<f32> = inputs.iter().map(|&x| f32::from(x) / 32768.0).collect();
        let mut out_f = vec![0u8; 65536];
        assert_eq!((law.encode_f32)(&f, &mut out_f), 65536);
        assert!(out_f == law.enc_ref, "{} encode_f32 differs", law.name);
    }
}

#[test]
fn decode_matches_g191_for_all_256_codes() {
    for law in &LAWS {
        let want = dec_table(law.dec_ref);
        let codes: Vec<u8> = (0..=255).collect();
        for &c in &codes {
            assert_eq!((law.decode_sample)(c), want[usize::from(c)], "{} decode_sample({c:#04x})", law.name);
        }
        let mut out = vec![0i16; 256];
        assert_eq!((law.decode)(&codes, &mut out), 256);
        assert_eq!(out, want, "{} decode", law.name);
        let mut out_f = vec![0f32; 256];
        assert_eq!((law.decode_f32)(&codes, &mut out_f), 256);
        for (c, (&f, &w)) in out_f.iter().zip(&want).enumerate() {
            assert_eq!(f, f32::from(w) / 32768.0, "{} decode_f32({c:#04x})", law.name);
        }
    }
}

#[test]
fn decode_then_encode_is_identity_on_codes() {
    // Every code except μ-law's negative zero (0x7F decodes to 0, which encodes as 0xFF)
    // survives a decode/encode round trip.
    for law in &LAWS {
        for c in 0..=255u8 {
            let back = (law.encode_sample)((law.decode_sample)(c));
            if law.name == "mu-law" && c == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "{} code {c:#04x}", law.name);
            }
        }
    }
}

#[test]
fn f32_edge_cases_and_lengths() {
    // NaN -> 0, ±Inf and out-of-range values clip, like the exact kernel.
    let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0, -3.0, 0.5 / 32768.0];
    let pcm = [0i16, 32767, -32768, 32767, -32768, 0];
    for law in &LAWS {
        let mut a = [0u8; 6];
        let mut b = [0u8; 6];
        (law.encode_f32)(&x, &mut a);
        (law.encode)(&pcm, &mut b);
        assert_eq!(a, b, "{}", law.name);
        // Mismatched lengths: the shorter one wins, nothing panics.
        let mut short = [0u8; 2];
        assert_eq!((law.encode)(&pcm, &mut short), 2);
        assert_eq!((law.encode_f32)(&x[..1], &mut a), 1);
        let mut o = [0i16; 3];
        assert_eq!((law.decode)(&[1, 2], &mut o), 2);
        // Longer than the internal f32 chunk (256).
        let long: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin()).collect();
        let long_pcm: Vec<i16> = long.iter().map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
        let (mut ca, mut cb) = (vec![0u8; 1000], vec![0u8; 1000]);
        (law.encode_f32)(&long, &mut ca);
        (law.encode)(&long_pcm, &mut cb);
        assert_eq!(ca, cb, "{}", law.name);
    }
}

#[test]
fn reference_tables_are_the_documented_g191_rule() {
    // Cross-check the data itself on known values from ITU-T G.711 tables 1 and 2.
    assert_eq!(PCMU_ENC[32768], 0xFF); // μ-law +0
    assert_eq!(PCMU_ENC[32767], 0x7F); // -1 encodes like +0 with the sign cleared
    assert_eq!(PCMA_ENC[32768], 0xD5); // A-law +0 (0x80 ^ 0x55)
    assert_eq!(dec_table(PCMU_DEC)[0x80], 32124);
    assert_eq!(dec_table(PCMA_DEC)[0xAA], 32256);
}
