//! G.711 μ-law (PCMU).
//!
//! ## Algorithm (ITU-T G.711 §2, as coded by the G.191 STL `ulaw_compress`)
//! 1. Magnitude: a non-negative input `x` uses `x`; a negative input uses its one's complement
//!    `!x` (= `-x - 1`), so that `-1` encodes like `0`. This is the G.191 rule; Python's
//!    audioop and spandsp negate instead and differ on some negative inputs.
//! 2. Keep the top 14 bits (`>> 2`) and add the bias 33, saturating at `0x1FFF`.
//! 3. Segment search: the segment `s` (0..=7) is the number of significant bits of
//!    `biased >> 6`; the 4-bit mantissa is `(biased >> (s + 1)) & 0xF`.
//! 4. The code is `sign | !(s << 4 | mantissa) & 0x7F`, with the sign bit `0x80` set for
//!    non-negative inputs (μ-law transmits the magnitude bits inverted).
//!
//! Decoding inverts this: the reconstruction is the middle of the quantisation interval,
//! `((2 * m + 33) << s) - 33` in 14-bit units, scaled back to 16 bits.
//!
//! ## Fast paths
//! The slice encoders compute the segment and mantissa from the `f32` bit pattern of the
//! biased magnitude (exponent and top mantissa bits; no loop, no table, so they vectorise
//! and a room's passes over thousands of legs do not miss on a table evicted between
//! legs); they equal [`encode_sample`] on all 65536 inputs. The decoders use 256-entry
//! tables of `i16` and of `f32` (`value / 32768`). `f32` input is encoded by
//! [`crate::kernels::f32_to_ulaw`]: the exact [`crate::kernels::f32_to_i16`] conversion and
//! this encoder's arithmetic in one pass over 32-bit lanes.
//!
//! ```
//! use rvoip_media_nodes::g711::ulaw;
//! let pcm = [0i16, 1000, -1000, 32767, -32768];
//! let mut codes = [0u8; 5];
//! assert_eq!(ulaw::encode(&pcm, &mut codes), 5);
//! assert_eq!(codes, [0xFF, 0xCE, 0x4E, 0x80, 0x00]);
//! let mut back = [0i16; 5];
//! ulaw::decode(&codes, &mut back);
//! assert_eq!(back, [0, 988, -988, 32124, -32124]);
//! ```

use super::tables::{exponent_and_top4, f32_bits_of_i16, map_into, table_builders};

/// Added to the 14-bit magnitude.
pub(crate) const BIAS: i32 = 33;
/// The largest biased magnitude.
pub(crate) const CLIP: i32 = 0x1FFF;
/// [`exponent_and_top4`] of the biased magnitude minus this is `segment << 4 | mantissa`:
/// the exponent field of 2^5 (the bottom of segment 0), shifted as there.
pub(crate) const TOP_OFFSET: i32 = (5 + 127) << 4;

/// Encodes one sample with the G.191 algorithm (segment search). The slice functions use
/// tables built from this function.
pub const fn encode_sample(x: i16) -> u8 {
    let (mag, sign) = if x < 0 { (!x as i32, 0x00) } else { (x as i32, 0x80) };
    let mut biased = (mag >> 2) + BIAS;
    if biased > CLIP {
        biased = CLIP;
    }
    // Segment search: the segment is the bit length of `biased >> 6` (0..=7).
    let mut seg = 0;
    while seg < 8 && (biased >> (6 + seg)) != 0 {
        seg += 1;
    }
    let mantissa = (biased >> (seg + 1)) & 0xF;
    (sign | (!((seg << 4) | mantissa) & 0x7F)) as u8
}

/// Decodes one code with the G.191 algorithm.
pub const fn decode_sample(code: u8) -> i16 {
    let inv = !code;
    let seg = ((inv >> 4) & 0x7) as i32;
    let mantissa = (inv & 0xF) as i32;
    // Middle of the interval in 14-bit units, minus the bias, scaled to 16 bits.
    let mag = ((((2 * mantissa + BIAS) << seg) - BIAS) << 2) as i16;
    if code & 0x80 != 0 {
        mag
    } else {
        -mag
    }
}

table_builders!();

/// Decode table, code -> 16-bit sample.
static DECODE: [i16; 256] = build_decode_table();
/// Decode table, code -> bit pattern of `sample / 32768` as `f32`.
static DECODE_F32: [u32; 256] = build_decode_f32_bits();

/// [`encode_sample`] without a loop or a table: `biased` is 33..=0x1FFF, so its bit length
/// is 6..=13 and the segment is `floor(log2 biased) - 5` with the mantissa the 4 bits
/// after the leading one (for segment 0, `biased` is 33..=63: `(biased >> 1) & 0xF` is
/// those bits too).
#[inline(always)]
pub(crate) fn enc(x: i16) -> u8 {
    let x = i32::from(x);
    let negative = x >> 31; // -1 or 0
    let biased = (((x ^ negative) >> 2) + BIAS).min(CLIP);
    // (floor(log2 biased) + 127) << 4 | mantissa, minus (5 + 127) << 4: segment << 4 | mantissa.
    let seg_mantissa = exponent_and_top4(biased) - TOP_OFFSET;
    ((!negative & 0x80) | (!seg_mantissa & 0x7F)) as u8
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
/// [`crate::kernels::f32_to_i16`] (NaN -> 0, clamp, ties to even). Returns the count.
///
/// ```
/// use rvoip_media_nodes::g711::ulaw;
/// let mut codes = [0u8; 2];
/// ulaw::encode_f32(&[0.0, 1000.0 / 32768.0], &mut codes);
/// assert_eq!(codes, [0xFF, 0xCE]);
/// ```
pub fn encode_f32(input: &[f32], output: &mut [u8]) -> usize {
    // In one pass on 32-bit lanes: the i16 round trip cost a room's G.711 leg more than the
    // encoding (BENCHMARKS.md, conference "session 14").
    crate::kernels::f32_to_ulaw(output, input)
}

/// Decodes to `f32` (`sample / 32768`). Returns the count.
pub fn decode_f32(input: &[u8], output: &mut [f32]) -> usize {
    map_into(input, output, |c| f32::from_bits(DECODE_F32[usize::from(c)]))
}
