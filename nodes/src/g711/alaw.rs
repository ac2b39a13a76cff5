//! G.711 A-law (PCMA).
//!
//! ## Algorithm (ITU-T G.711 §3, as coded by the G.191 STL `alaw_compress`)
//! 1. Magnitude: `x` for non-negative inputs, the one's complement `!x` for negative ones;
//!    keep the top 12 bits (`>> 4`, a 13-bit signed value).
//! 2. Segment search: magnitudes below 32 are segment 0 (mantissa = magnitude >> 1 after
//!    the implicit step, i.e. linear); above, the segment `s` (1..=7) is found by halving
//!    until the value is below 32, and the mantissa is the low 4 bits of that value.
//! 3. The code is `sign | s << 4 | mantissa`, with `0x80` set for non-negative input, and
//!    the even bits inverted (`^ 0x55`) as G.711 transmits them.
//!
//! Decoding takes the middle of the interval: `(2 * m + 33) << (s - 1)` for `s > 0`,
//! `2 * m + 1` for `s = 0`, in 12-bit units, scaled to 16 bits.
//!
//! ## Fast paths
//! The code depends only on `x >> 4`, so the slice encoders use a 4 KiB table indexed by
//! `(x >> 4) + 2048`, built at compile time from [`encode_sample`]. Decoding uses 256-entry
//! tables of `i16` and `f32`.
//!
//! ```
//! use rvoip_media_nodes::g711::alaw;
//! let pcm = [0i16, 1000, -1000, 32767, -32768];
//! let mut codes = [0u8; 5];
//! alaw::encode(&pcm, &mut codes);
//! assert_eq!(codes, [0xD5, 0xFA, 0x7A, 0xAA, 0x2A]);
//! let mut back = [0i16; 5];
//! alaw::decode(&codes, &mut back);
//! assert_eq!(back, [8, 1008, -1008, 32256, -32256]);
//! ```

use super::tables::{encode_f32_via_i16, f32_bits_of_i16, map_into, table_builders};

/// Encodes one sample with the G.191 algorithm (segment search).
pub const fn encode_sample(x: i16) -> u8 {
    let (mut ix, sign) = if x < 0 { ((!x as i32) >> 4, 0x00) } else { ((x as i32) >> 4, 0x80) };
    if ix > 15 {
        // Segment search: halve until the value fits 5 bits (16..=31); the leading 1 is
        // implicit in the segment number.
        let mut seg = 1;
        while ix > 31 {
            ix >>= 1;
            seg += 1;
        }
        ix = (ix - 16) + (seg << 4);
    }
    ((ix | sign) ^ 0x55) as u8
}

/// Decodes one code with the G.191 algorithm.
pub const fn decode_sample(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let seg = ix >> 4;
    let mut mant = ix & 0xF;
    if seg > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 8;
    if seg > 1 {
        mant <<= seg - 1;
    }
    if code & 0x80 != 0 {
        mant as i16
    } else {
        -mant as i16
    }
}

table_builders!(encode: 4096, 4);

/// Encode table indexed by `(x >> 4) + 2048`.
static ENCODE: [u8; 4096] = build_encode_table();
/// Decode table, code -> 16-bit sample.
static DECODE: [i16; 256] = build_decode_table();
/// Decode table, code -> bit pattern of `sample / 32768` as `f32`.
static DECODE_F32: [u32; 256] = build_decode_f32_bits();

#[inline(always)]
fn enc(x: i16) -> u8 {
    // `(x >> 4) + 2048` for every i16: the top 12 bits of `x` as unsigned with the
    // sign bit flipped, always in 0..4096 (so the index needs no check).
    ENCODE[usize::from((x as u16 >> 4) ^ 2048)]
}

/// Encodes `min(input.len(), output.len())` samples; returns that count.
pub fn encode(input: &[i16], output: &mut [u8]) -> usize {
    encode_pcm(input, output)
}

#[inline(always)]
fn encode_pcm(input: &[i16], output: &mut [u8]) -> usize {
    map_into(input, output, enc)
}

/// Decodes `min(input.len(), output.len())` codes; returns that count.
pub fn decode(input: &[u8], output: &mut [i16]) -> usize {
    map_into(input, output, |c| DECODE[usize::from(c)])
}

/// Encodes `f32` samples (full scale ±1.0) after the exact `f32 -> i16` conversion of
/// [`crate::kernels::f32_to_i16`]. Returns the count.
///
/// ```
/// use rvoip_media_nodes::g711::alaw;
/// let mut codes = [0u8; 2];
/// alaw::encode_f32(&[0.0, 1000.0 / 32768.0], &mut codes);
/// assert_eq!(codes, [0xD5, 0xFA]);
/// ```
pub fn encode_f32(input: &[f32], output: &mut [u8]) -> usize {
    encode_f32_via_i16(input, output, encode_pcm)
}

/// Decodes to `f32` (`sample / 32768`). Returns the count.
pub fn decode_f32(input: &[u8], output: &mut [f32]) -> usize {
    map_into(input, output, |c| f32::from_bits(DECODE_F32[usize::from(c)]))
}
