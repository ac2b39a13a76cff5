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

/// Converts `f32` to `i16` in stack chunks, then encodes with `encode`.
pub(super) fn encode_f32_via_i16(input: &[f32], output: &mut [u8], encode: fn(&[i16], &mut [u8]) -> usize) -> usize {
    const CHUNK: usize = 256;
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
