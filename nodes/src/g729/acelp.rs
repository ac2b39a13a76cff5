//! Algebraic (fixed) codebook: 17-bit, 4-pulse ACELP structure of 3.8 with the pitch sharpening of
//! eq. 48; decoding here, the depth-first search of A.3.8 on the encoder side.

use super::basic_ops::*;
use super::L_SUBFRAME;

/// Pulse positions m0..m3 from the 13-bit position index (eq. 62 / table 7).
pub(crate) fn pulse_positions(positions: u16) -> [usize; 4] {
    let mut p = positions;
    let m0 = (p & 7) as usize * 5;
    p >>= 3;
    let m1 = (p & 7) as usize * 5 + 1;
    p >>= 3;
    let m2 = (p & 7) as usize * 5 + 2;
    p >>= 3;
    let jx = (p & 1) as usize;
    p >>= 1;
    let m3 = (p & 7) as usize * 5 + 3 + jx;
    [m0, m1, m2, m3]
}

/// Builds the fixed codebook vector (Q1.13) from signs and positions, then applies the pitch
/// sharpening `c(n) += beta * c(n - T)` for `T < 40` (eq. 48, beta = bounded pitch gain, Q14).
pub(crate) fn decode_fixed_vector(signs: u16, positions: u16, int_delay: i32, beta: i16, out: &mut [i16; L_SUBFRAME]) {
    *out = [0; L_SUBFRAME];
    let pos = pulse_positions(positions);
    let mut s = signs;
    for &m in &pos {
        out[m] = if s & 1 != 0 { 8192 } else { -8192 };
        s >>= 1;
    }
    sharpen(out, int_delay, beta);
}

/// Pitch sharpening of a fixed codebook vector or impulse response (eq. 48).
pub(crate) fn sharpen(v: &mut [i16; L_SUBFRAME], int_delay: i32, beta: i16) {
    let start = int_delay.max(0) as usize;
    for i in start..L_SUBFRAME {
        v[i] = add16(v[i] as i32, mult16_16_p(v[i - start] as i32, beta as i32, 14));
    }
}

/// Result of the fixed codebook search of one subframe.
pub(crate) struct FixedCodebook {
    /// 13-bit position index.
    pub(crate) positions: u16,
    /// 4-bit sign index.
    pub(crate) signs: u16,
    /// Fixed codebook vector with pitch sharpening, Q13.
    pub(crate) vector: [i16; L_SUBFRAME],
    /// Vector filtered by the (sharpened) weighted synthesis filter, Q12.
    pub(crate) filtered: [i16; L_SUBFRAME],
}

/// Correlation matrix Phi (eq. 51, 56, 57) of the impulse response, with the signs of the
/// backward-filtered target folded in; only the entries used by the search are filled.
fn correlation_matrix(
    h: &[i16; L_SUBFRAME],
    d: &mut [i16; L_SUBFRAME],
    sign: &mut [i32; L_SUBFRAME],
    phi: &mut [[i32; L_SUBFRAME]; L_SUBFRAME],
) {
    let mut acc = 0i32;
    for i in 0..L_SUBFRAME {
        acc = mac16_16(acc, h[i] as i32, h[i] as i32);
        phi[L_SUBFRAME - 1 - i][L_SUBFRAME - 1 - i] = acc >> 1;
    }
    let mut scaling = 0i32;
    if phi[0][0] > 0x0666_6666 {
        scaling = 3 - norm_l(add32(phi[0][0] << 1, 0x0333_3333));
        for i in 0..L_SUBFRAME {
            phi[i][i] = shr(phi[i][i], scaling);
        }
    }
    // signs of the backward-filtered target (eq. 56); d becomes |d|
    for i in 0..L_SUBFRAME {
        if d[i] >= 0 {
            sign[i] = 1;
        } else {
            sign[i] = -1;
            d[i] = d[i].wrapping_neg();
        }
    }
    // off-diagonals needed by the search (all but those joining two positions of one track),
    // with the signs folded in and mirrored to the upper triangle
    for blk in 0..8 {
        for off in 0..4 {
            let start = 5 * blk + off;
            // diagonal from Phi(39, start) down to Phi(39 - start, 0)
            let mut acc = 0i32;
            for k in 0..=start {
                acc = mac16_16(acc, h[k] as i32, h[L_SUBFRAME - 1 - start + k] as i32);
                let (i, j) = (L_SUBFRAME - 1 - k, start - k);
                let v = shr(acc, scaling).wrapping_mul(sign[i] * sign[j]);
                phi[i][j] = v;
                phi[j][i] = v;
            }
        }
    }
}

/// Depth-first algebraic codebook search of A.3.8.
///
/// `target` is the pitch target x(n), `h` the impulse response of the weighted synthesis filter
/// (Q12, sharpened in place), `y` the filtered adaptive vector and `gp` its gain (Q14).
pub(crate) fn search(
    target: &[i16],
    h: &mut [i16; L_SUBFRAME],
    int_delay: i32,
    beta: i16,
    y: &[i16],
    gp: i16,
) -> FixedCodebook {
    let mut x2 = [0i16; L_SUBFRAME];
    for i in 0..L_SUBFRAME {
        x2[i] = sub32(target[i] as i32, mult16_16_q(y[i] as i32, gp as i32, 14)) as i16;
    }
    let t = int_delay.max(0) as usize;
    for i in t..L_SUBFRAME {
        h[i] = add32(h[i] as i32, mult16_16_q(h[i - t] as i32, beta as i32, 14)) as i16;
    }
    let mut d32 = [0i32; L_SUBFRAME];
    let mut dmax = 0i32;
    for n in 0..L_SUBFRAME {
        let mut c = 0i32;
        for (x, y) in x2[n..].iter().zip(h.iter()) {
            c = mac16_16(c, *x as i32, *y as i32);
        }
        d32[n] = c;
        let a = c.wrapping_abs();
        if a > dmax {
            dmax = a;
        }
    }
    let norm = norm_l(dmax);
    let mut d = [0i16; L_SUBFRAME];
    for i in 0..L_SUBFRAME {
        d[i] = if norm < 18 { shr(d32[i], 18 - norm) as i16 } else { d32[i] as i16 };
    }
    let mut phi = [[0i32; L_SUBFRAME]; L_SUBFRAME];
    let mut sign = [0i32; L_SUBFRAME];
    correlation_matrix(h, &mut d, &mut sign, &mut phi);

    let mut best_c2 = -1i32;
    let mut best_e = 1i32;
    let (mut i0, mut i1, mut i2, mut i3) = (0usize, 0usize, 0usize, 0usize);
    let (mut m0, mut m1, mut m2, mut m3) = (0usize, 0usize, 0usize, 0usize);
    let mut tracks = [[2usize, 3, 0, 1], [3, 0, 1, 2]];
    let mut jx = 0u16;
    for m3_base in 3..5 {
        for (mi, tr) in tracks.iter().enumerate() {
            let mut track_c2 = -1i32;
            let mut track_e = 1i32;
            let mut first_m2 = 0usize;
            let mut c23_best = 0i16;
            for _ in 0..2 {
                let mut c2 = -1i16;
                let mut cur = 0usize;
                for j in (tr[0]..L_SUBFRAME).step_by(5) {
                    if d[j] > c2 && j != first_m2 {
                        cur = j;
                        c2 = d[j];
                    }
                }
                first_m2 = cur;
                let e2 = phi[cur][cur];
                for j in (tr[1]..L_SUBFRAME).step_by(5) {
                    let c23 = add16(c2 as i32, d[j] as i32);
                    let e23 = add32(e2, add32(phi[cur][j], phi[j][j]));
                    let sq = mult16_16(c23 as i32, c23 as i32);
                    if (track_e as i64) * (sq as i64) > (e23 as i64) * (track_c2 as i64) {
                        track_c2 = sq;
                        track_e = e23;
                        c23_best = c23;
                        m3 = j;
                        m2 = cur;
                    }
                }
            }
            let e23_best = track_e;
            track_c2 = -1;
            track_e = 1;
            for i in (tr[2]..L_SUBFRAME).step_by(5) {
                let c230 = add16(c23_best as i32, d[i] as i32);
                let e230 = add32(e23_best, add32(phi[i][i], add32(phi[i][m2], phi[i][m3])));
                for j in (tr[3]..L_SUBFRAME).step_by(5) {
                    let c = add16(c230 as i32, d[j] as i32);
                    let e = add32(e230, add32(phi[j][i], add32(phi[j][j], add32(phi[j][m2], phi[j][m3]))));
                    let sq = mult16_16(c as i32, c as i32);
                    if (track_e as i64) * (sq as i64) > (e as i64) * (track_c2 as i64) {
                        track_c2 = sq;
                        track_e = e;
                        m1 = j;
                        m0 = i;
                    }
                }
            }
            if (best_e as i64) * (track_c2 as i64) > (track_e as i64) * (best_c2 as i64) {
                best_c2 = track_c2;
                best_e = track_e;
                (i0, i1, i2, i3) = if mi == 0 { (m0, m1, m2, m3) } else { (m3, m0, m1, m2) };
                jx = m3_base - 3;
            }
        }
        tracks[0][1] += 1;
        tracks[1][0] += 1;
    }
    let mut vector = [0i16; L_SUBFRAME];
    for &p in &[i0, i1, i2, i3] {
        vector[p] = sshl(sign[p] as i16 as i32, 13) as i16;
    }
    for i in t..L_SUBFRAME {
        vector[i] = add32(vector[i] as i32, mult16_16_q(vector[i - t] as i32, beta as i32, 14)) as i16;
    }
    let q = |i: usize| mult16_16_q15(i as i16 as i32, 6554) as u16;
    let positions = q(i0) + (q(i1) << 3) + (q(i2) << 6) + (((q(i3) << 1) + jx) << 9);
    let bit = |i: usize| ((sign[i] + 1) >> 1) as u16;
    let signs = bit(i0) | (bit(i1) << 1) | (bit(i2) << 2) | (bit(i3) << 3);
    let mut filtered = [0i16; L_SUBFRAME];
    for (k, &p) in [i0, i1, i2, i3].iter().enumerate() {
        for (i, j) in (p..L_SUBFRAME).zip(0..) {
            filtered[i] = if k == 0 {
                if sign[p] > 0 {
                    h[j]
                } else {
                    h[j].wrapping_neg()
                }
            } else if sign[p] > 0 {
                add16(filtered[i] as i32, h[j] as i32)
            } else {
                sub16(filtered[i] as i32, h[j] as i32) as i16
            };
        }
    }
    FixedCodebook { positions, signs, vector, filtered }
}
