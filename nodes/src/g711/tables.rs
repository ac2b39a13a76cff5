//! Helpers shared by the μ-law and A-law tables.

use crate::kernels;

/// Bit pattern of the `f32` value `v / 32768`, computed with integer arithmetic so it can
/// run in a `const` initialiser.
pub(super) const fn f32_bits_of_i16(v: i16) -> u32 {
    if v == 0 {
        return 0;
    }
    let sign = if v < 0 { 1u32 << 31 } else { 0 };
    let a = (v as i32).unsigned_abs(); // 1..=32768
    let p = 31 - a.leading_zeros(); // floor(log2 a)
                                    // a * 2^-15 = 1.f * 2^(p - 15); the mantissa holds the bits below the leading one.
    let exp = (p + 127 - 15) << 23;
    let mant = (a << (23 - p)) & 0x007F_FFFF;
    sign | exp | mant
}

/// `(e + 127) << 4 | m` for `v` in `1..2^24`, where `e = floor(log2 v)` and `m` is the 4 bits
/// after `v`'s leading one: the top of `v`'s `f32` bit pattern (exact below 2^24). μ-law's
/// segment and mantissa come out of it with constant shifts only, so its encoder
/// vectorises (SSE2 has no per-lane variable shift or leading-zero count) and reads no
/// table: its 16 KiB lookup table was evicted by a room's streaming passes and missed on
/// most samples (BENCHMARKS.md, session 10).
#[inline(always)]
pub(super) fn exponent_and_top4(v: i32) -> i32 {
    ((v as f32).to_bits() >> 19) as i32
}

/// Applies `f` to `min(input.len(), output.len())` elements; returns that count. The slice
/// API of both laws is this loop over a per-sample function (a table lookup or arithmetic).
#[inline(always)]
pub(super) fn map_into<A: Copy, B>(input: &[A], output: &mut [B], f: impl Fn(A) -> B) -> usize {
    let n = input.len().min(output.len());
    for (o, &x) in output[..n].iter_mut().zip(&input[..n]) {
        *o = f(x);
    }
    n
}

/// Defines the `const fn`s that build a law's tables from its per-sample functions:
/// `build_decode_table` (code -> i16) and `build_decode_f32_bits` (code -> bits of
/// `sample / 32768`), and with `encode: $len, $shift`, `build_encode_table` (indexed by
/// `(x >> $shift) + $len / 2`; A-law's 4 KiB, μ-law computes its codes instead).
macro_rules! table_builders {
    (encode: $len:literal, $shift:literal) => {
        const fn build_encode_table() -> [u8; $len] {
            let mut t = [0u8; $len];
            let mut i = 0;
            while i < $len {
                t[i] = encode_sample(((i as i32 - $len / 2) << $shift) as i16);
                i += 1;
            }
            t
        }

        table_builders!();
    };
    () => {
        const fn build_decode_table() -> [i16; 256] {
            let mut t = [0i16; 256];
            let mut i = 0;
            while i < 256 {
                t[i] = decode_sample(i as u8);
                i += 1;
            }
            t
        }

        const fn build_decode_f32_bits() -> [u32; 256] {
            let mut t = [0u32; 256];
            let mut i = 0;
            while i < 256 {
                t[i] = f32_bits_of_i16(decode_sample(i as u8));
                i += 1;
            }
            t
        }
    };
}
pub(super) use table_builders;

/// Converts `f32` to `i16` in stack chunks, then encodes with `encode`.
///
/// The chunk is 128 samples: the zeroing of its 256 bytes is inlined as a few vector
/// stores. At 512 bytes it was a `memset` call per encode, which cost a room kernel's G.711
/// leg more than the encoding itself (perf, BENCHMARKS.md "session 12").
#[inline(always)]
pub(super) fn encode_f32_via_i16(
    input: &[f32],
    output: &mut [u8],
    encode: impl Fn(&[i16], &mut [u8]) -> usize,
) -> usize {
    const CHUNK: usize = 128;
    let n = input.len().min(output.len());
    let mut pcm = [0i16; CHUNK];
    for (i, o) in input[..n].chunks(CHUNK).zip(output[..n].chunks_mut(CHUNK)) {
        let pcm = &mut pcm[..i.len()];
        kernels::f32_to_i16(pcm, i);
        encode(pcm, o);
    }
    n
}

#[cfg(test)]
mod tests {
    #[test]
    fn f32_bits_match_division() {
        for v in i16::MIN..=i16::MAX {
            assert_eq!(f32::from_bits(super::f32_bits_of_i16(v)), f32::from(v) / 32768.0, "{v}");
        }
    }
}
