//! Shared helpers of the G.729 conformance tests (vectors in tests/data/g729, see its README).
#![allow(dead_code)]

use std::path::PathBuf;

/// Path of a test-data file.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/g729").join(name)
}

/// Reads a file of the test-data directory.
pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(data_path(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

/// Reads raw little-endian 16-bit PCM.
pub fn read_pcm(name: &str) -> Vec<i16> {
    read(name).chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

/// A frame of a `.g729s` stream: `Some(bytes)` (10, 2 or 0 bytes) or `None` for an erased frame.
pub type Frame = Option<Vec<u8>>;

/// Parses a `.g729s` stream: per frame one length byte (0, 2, 10; 0xff = erased) then the bytes.
pub fn read_stream(name: &str) -> Vec<Frame> {
    let d = read(name);
    let mut out = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let n = d[i] as usize;
        i += 1;
        if n == 0xff {
            out.push(None);
        } else {
            out.push(Some(d[i..i + n].to_vec()));
            i += n;
        }
    }
    out
}

/// Per-frame FNV-1a 64 digests of the reference decoder output (80 samples, little endian).
pub fn read_digests(name: &str) -> Vec<u64> {
    read(name).chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect()
}

/// FNV-1a 64 of one frame of PCM as little-endian bytes.
pub fn fnv1a(frame: &[i16]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in frame {
        for b in s.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// Full-scale white noise from a 32-bit LCG for 320 frames, then the same noise 54 dB lower for
/// 80 frames (exercises the Annex B energy arithmetic at its overflow limits).
pub fn lcg_noise() -> Vec<i16> {
    let mut st: u32 = 13 * 7919 + 1;
    (0..32000)
        .map(|n| {
            st = st.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = (st >> 16) as u16 as i16;
            if n >= 320 * 80 {
                v >> 9
            } else {
                v
            }
        })
        .collect()
}

/// The input signals: the committed speech slice at normal level, x4 with clipping ("loud"),
/// -42 dB ("quiet"), and synthetic LCG noise ("noise").
pub fn input(level: &str) -> Vec<i16> {
    let pcm = read_pcm("speech_8k_slice.raw");
    match level {
        "normal" => pcm,
        "loud" => pcm.iter().map(|&x| (x as i32 * 4).clamp(-32768, 32767) as i16).collect(),
        "quiet" => pcm.iter().map(|&x| x >> 7).collect(),
        "noise" => lcg_noise(),
        _ => panic!("unknown level {level}"),
    }
}
