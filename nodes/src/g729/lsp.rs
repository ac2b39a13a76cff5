//! Line spectral pairs: decoding of the quantised LSF (G.729 3.2.4), erasure recovery (4.4.1),
//! interpolation (3.2.5) and conversion to LP coefficients (3.2.6).

use super::basic_ops::*;
use super::tables::*;
use super::{LP_ORDER, MA_ORDER};

/// Initial MA predictor memory: LSF codewords at pi/11 steps, Q2.13.
pub(crate) const LSF_INIT: [i16; LP_ORDER] = [2339, 4679, 7018, 9358, 11698, 14037, 16377, 18717, 21056, 23396];

/// Initial quantised LSP of the decoder and encoder, Q0.15.
pub(crate) const QLSP_INIT: [i16; LP_ORDER] = [30000, 26000, 21000, 15000, 8000, 0, -8000, -15000, -21000, -26000];

/// MA predictor memory: the last four codewords, most recent first.
pub(crate) type MaMemory = [[i16; LP_ORDER]; MA_ORDER];

/// Gap values (Q13) used by the codeword rearrangement.
pub(crate) const GAP1: i32 = 10;
pub(crate) const GAP2: i32 = 5;
const QLSF_MIN: i16 = 40;
const QLSF_MAX: i16 = 25681;
const MIN_QLSF_DISTANCE: i32 = 321;

/// Enforces a minimum distance `j` (Q13) between consecutive codeword coefficients (3.2.4).
pub(crate) fn rearrange(q: &mut [i16; LP_ORDER], j: i32) {
    for i in 1..LP_ORDER {
        let delta = add16(sub16(q[i - 1] as i32, q[i] as i32), j) as i32 / 2;
        if delta > 0 {
            q[i - 1] = sub16(q[i - 1] as i32, delta) as i16;
            q[i] = add16(q[i] as i32, delta);
        }
    }
}

/// Turns a codeword (Q2.13) into the quantised LSF (Q2.13) with the switched MA predictor
/// (eq. 20) and the stability checks; updates the predictor memory.
pub(crate) fn codeword_to_qlsf(
    cw: &mut [i16; LP_ORDER],
    mem: &mut MaMemory,
    l0: usize,
    pred: &[[[i16; LP_ORDER]; MA_ORDER]; 2],
    pred_sum: &[[i16; LP_ORDER]; 2],
) {
    rearrange(cw, GAP1);
    rearrange(cw, GAP2);
    for i in 0..LP_ORDER {
        let mut acc = mult16_16(pred_sum[l0][i] as i32, cw[i] as i32);
        for j in (0..MA_ORDER).rev() {
            acc = mac16_16(acc, pred[l0][j][i] as i32, mem[j][i] as i32);
            mem[j][i] = if j > 0 { mem[j - 1][i] } else { cw[i] };
        }
        cw[i] = pshr(acc, 15) as i16;
    }
    stabilise_qlsf(cw, 0);
}

/// Sorts the LSF and enforces the bounds and minimum distance of 3.2.4. The lower bound is
/// applied to coefficient `low` — 0 per the standard (decoder path); the reference encoder
/// applies it to coefficient 1, and bit-exactness keeps that (see `finish_quantisation`).
pub(crate) fn stabilise_qlsf(q: &mut [i16; LP_ORDER], low: usize) {
    // insertion sort, as the order of equal elements does not matter for i16 values
    for i in 1..LP_ORDER {
        let v = q[i];
        let mut j = i;
        while j > 0 && q[j - 1] > v {
            q[j] = q[j - 1];
            j -= 1;
        }
        q[j] = v;
    }
    if q[low] < QLSF_MIN {
        q[low] = QLSF_MIN;
    }
    for i in 0..LP_ORDER - 1 {
        if sub16(q[i + 1] as i32, q[i] as i32) < MIN_QLSF_DISTANCE {
            q[i + 1] = (q[i] as i32 + MIN_QLSF_DISTANCE) as i16;
        }
    }
    if q[LP_ORDER - 1] > QLSF_MAX {
        q[LP_ORDER - 1] = QLSF_MAX;
    }
}

/// Decoder-side LSP state.
#[derive(Clone, Debug)]
pub(crate) struct LspDecoder {
    /// MA predictor memory (codewords), Q2.13.
    pub(crate) mem: MaMemory,
    /// qLSF of the last good frame, Q2.13.
    last_qlsf: [i16; LP_ORDER],
    /// L0 of the last good frame.
    last_l0: usize,
}

impl LspDecoder {
    pub(crate) fn new() -> Self {
        Self { mem: [LSF_INIT; MA_ORDER], last_qlsf: LSF_INIT, last_l0: 0 }
    }

    /// Decodes the LSP indices `l = [L0, L1, L2, L3]` into qLSP (Q0.15); on an erased frame
    /// repeats the last good qLSF and rebuilds the predictor memory (4.4.1).
    pub(crate) fn decode(&mut self, l: [u16; 4], erased: bool, qlsp: &mut [i16; LP_ORDER]) {
        let mut q = [0i16; LP_ORDER];
        if !erased {
            let l1 = &LSF_L1[l[1] as usize & 127];
            let l2 = &LSF_L2L3[l[2] as usize & 31];
            let l3 = &LSF_L2L3[l[3] as usize & 31];
            for i in 0..LP_ORDER / 2 {
                q[i] = add16(l1[i] as i32, l2[i] as i32);
            }
            for i in LP_ORDER / 2..LP_ORDER {
                q[i] = add16(l1[i] as i32, l3[i] as i32);
            }
            let l0 = (l[0] & 1) as usize;
            codeword_to_qlsf(&mut q, &mut self.mem, l0, &MA_PREDICTOR, &MA_PREDICTOR_SUM);
            self.last_qlsf = q;
            self.last_l0 = l0;
        } else {
            q = self.last_qlsf;
            let l0 = self.last_l0;
            for i in 0..LP_ORDER {
                let mut acc = shl(self.last_qlsf[i] as i32, 15);
                for j in 0..MA_ORDER {
                    acc = msu16_16(acc, MA_PREDICTOR[l0][j][i] as i32, self.mem[j][i] as i32);
                }
                acc = mult16_32_q(INV_MA_PREDICTOR_SUM[l0][i] as i32, acc, 12);
                for j in (1..MA_ORDER).rev() {
                    self.mem[j][i] = self.mem[j - 1][i];
                }
                self.mem[0][i] = pshr(acc, 15) as i16;
            }
        }
        qlsf_to_qlsp(&q, qlsp);
    }
}

/// qLSP = cos(qLSF).
pub(crate) fn qlsf_to_qlsp(qlsf: &[i16; LP_ORDER], qlsp: &mut [i16; LP_ORDER]) {
    for i in 0..LP_ORDER {
        qlsp[i] = cos_q13_q15(qlsf[i]);
    }
}

/// Mean of previous and current qLSP (first subframe, 3.2.5).
pub(crate) fn interpolate(prev: &[i16; LP_ORDER], cur: &[i16; LP_ORDER], out: &mut [i16; LP_ORDER]) {
    for i in 0..LP_ORDER {
        out[i] = pshr(prev[i] as i32 + cur[i] as i32, 1) as i16;
    }
}

/// Polynomial F1 or F2 (Q24) from every other LSP starting at `q[0]`.
fn lsp_polynomial(q: &[i16], f: &mut [i32; 6]) {
    f[0] = 1 << 24;
    f[1] = mult16_16(q[0] as i32, -1024);
    for i in 2..6 {
        let qi = q[2 * i - 2] as i32;
        f[i] = sshl(sub32(f[i - 2], mult16_32_p(qi, f[i - 1], 15)), 1);
        for j in (2..i).rev() {
            f[j] = add32(f[j], sub32(f[j - 2], mult16_32_p(qi, f[j - 1], 14)));
        }
        f[1] = sub32(f[1], sshl(qi, 10));
    }
}

/// Converts qLSP (Q0.15) to LP coefficients a1..a10 (Q12) as in 3.2.6.
pub(crate) fn qlsp_to_lp(q: &[i16; LP_ORDER], lp: &mut [i16]) {
    let mut f1 = [0i32; 6];
    let mut f2 = [0i32; 6];
    lsp_polynomial(&q[..], &mut f1);
    lsp_polynomial(&q[1..], &mut f2);
    for i in (1..6).rev() {
        f1[i] = add32(f1[i], f1[i - 1]);
        f2[i] = sub32(f2[i], f2[i - 1]);
    }
    for i in 0..5 {
        lp[i] = pshr(add32(f1[i + 1], f2[i + 1]), 13) as i16;
        lp[9 - i] = pshr(sub32(f1[i + 1], f2[i + 1]), 13) as i16;
    }
}

/// cos(w) on a 51-point grid over [0, pi] (Annex A root search grid), Q15.
const COS_GRID: [i16; 51] = [
    32760, 32703, 32509, 32187, 31738, 31164, 30466, 29649, 28714, 27666, 26509, 25248, 23886, 22431, 20887, 19260,
    17557, 15786, 13951, 12062, 10125, 8149, 6140, 4106, 2057, 0, -2057, -4106, -6140, -8149, -10125, -12062, -13951,
    -15786, -17557, -19260, -20887, -22431, -23886, -25248, -26509, -27666, -28714, -29649, -30466, -31164, -31738,
    -32187, -32509, -32703, -32760,
];

/// Evaluates the Chebyshev series of F1 or F2 at x (Q15); coefficients f[1..6] in Q15.
fn chebyshev(x: i16, f: &[i32; 6]) -> i32 {
    let x = x as i32;
    let mut b1 = add32(sshl(x, 1), f[1]);
    let mut b2 = 1 << 15;
    for k in (1..=3).rev() {
        let b = sub32(add32(sshl(mult16_32_q15(x, b1), 1), f[5 - k]), b2);
        b2 = b1;
        b1 = b;
    }
    sub32(add32(mult16_32_q15(x, b1), f[5] >> 1), b2)
}

/// LP (Q12) to LSP (Q15) conversion by root search of F1/F2 on the Chebyshev grid with two
/// bisections and a linear interpolation (3.2.3, A.3.2.3). Returns false if fewer than 10 roots.
pub(crate) fn lp_to_lsp(lp: &[i16; LP_ORDER], lsp: &mut [i16; LP_ORDER]) -> bool {
    let mut f1 = [0i32; 6];
    let mut f2 = [0i32; 6];
    f1[0] = 4096;
    f2[0] = 4096;
    for i in 0..5 {
        f1[i + 1] = add32(lp[i] as i32, sub32(lp[9 - i] as i32, f1[i]));
        f2[i + 1] = add32(f2[i], sub32(lp[i] as i32, lp[9 - i] as i32));
    }
    for i in 1..6 {
        f1[i] = sshl(f1[i], 3);
        f2[i] = sshl(f2[i], 3);
    }
    let mut use_f2 = false;
    let mut found = 0usize;
    let poly = |use_f2: bool| if use_f2 { f2 } else { f1 };
    let mut prev = chebyshev(COS_GRID[0], &f1);
    for i in 1..COS_GRID.len() {
        let f = poly(use_f2);
        let mut cx = chebyshev(COS_GRID[i], &f);
        if (prev ^ cx) & 0x1000_0000 != 0 {
            let mut lo = COS_GRID[i - 1] as i32;
            let mut hi = COS_GRID[i] as i32;
            for _ in 0..2 {
                let mid = ((lo + hi) >> 1) as i16;
                let m = chebyshev(mid, &f);
                if (prev ^ m) & 0x1000_0000 != 0 {
                    hi = mid as i32;
                    cx = m;
                } else {
                    lo = mid as i32;
                    prev = m;
                }
            }
            use_f2 = !use_f2;
            let q = div32(sshl(saturate(prev, 0xffff), 14), sub32(cx, prev) >> 1);
            let x = sub32(lo, mult16_32_q15(hi - lo, q)) as i16;
            prev = chebyshev(x, &poly(use_f2));
            lsp[found] = x;
            found += 1;
            if found == LP_ORDER {
                break;
            }
        }
    }
    found == LP_ORDER
}

/// Rearrangement of a quantiser candidate with minimum distance `gap` over `range` (A.3.2.4).
fn rearrange_candidate(q: &mut [i16; LP_ORDER], range: std::ops::Range<usize>, gap: i32) {
    for i in range {
        if (q[i - 1] as i32) > sub16(q[i] as i32, gap) {
            q[i - 1] = pshr(sub16(add16(q[i] as i32, q[i - 1] as i32) as i32, gap), 1) as i16;
            q[i] = pshr(add16(add16(q[i] as i32, q[i - 1] as i32) as i32, gap) as i32, 1) as i16;
        }
    }
}

/// LSF weights of eq. 22 (Q11; coefficients 5 and 6 scaled by 1.2), from LSF in Q13.
fn lsf_weights(lsf: &[i16; LP_ORDER]) -> [i32; LP_ORDER] {
    let mut th = [0i16; LP_ORDER];
    th[0] = sub16(lsf[1] as i32, 9221) as i16;
    for i in 1..LP_ORDER - 1 {
        th[i] = sub16(sub16(lsf[i + 1] as i32, lsf[i - 1] as i32), 8192) as i16;
    }
    th[LP_ORDER - 1] = sub16(15485, lsf[LP_ORDER - 2] as i32) as i16;
    let mut w = [0i32; LP_ORDER];
    for i in 0..LP_ORDER {
        w[i] = if th[i] > 0 {
            2048
        } else {
            let t = mult16_16_q(th[i] as i32, th[i] as i32, 13);
            saturate(add32(pshr(mult16_16(t, 10), 2), 2048), MAX16) as i16 as u16 as i32
        };
    }
    w[4] = mult16_16_q(w[4], 19661, 14) as u16 as i32;
    w[5] = mult16_16_q(w[5], 19661, 14) as u16 as i32;
    w
}

/// Target vector of eq. 23: (lsf - MA prediction) / (1 - sum of predictor), Q13.
fn quantiser_target(
    lsf: &[i16; LP_ORDER],
    mem: &MaMemory,
    pred: &[[i16; LP_ORDER]; MA_ORDER],
    inv_sum: &[i16; LP_ORDER],
) -> [i16; LP_ORDER] {
    let mut t = [0i16; LP_ORDER];
    for i in 0..LP_ORDER {
        let mut acc = shl(lsf[i] as i32, 15);
        for j in 0..MA_ORDER {
            acc = msu16_16(acc, mem[j][i] as i32, pred[j][i] as i32);
        }
        t[i] = mult16_16_q(pshr(acc, 15) as i16 as i32, inv_sum[i] as i32, 12) as i16;
    }
    t
}

/// Unweighted squared distance between the target and a first-stage codeword.
#[inline]
fn l1_distance(t: &[i16; LP_ORDER], row: &[i16; LP_ORDER]) -> i32 {
    let mut acc = 0i32;
    for (a, b) in t.iter().zip(row) {
        let d = (*a as i32 - *b as i32).clamp(-32768, 32767);
        acc = acc.wrapping_add(d * d);
    }
    acc
}

/// Weighted error of a quantiser candidate (eq. 21).
fn weighted_error(t: &[i16; LP_ORDER], q: &[i16; LP_ORDER], sum: &[i16; LP_ORDER], w: &[i32; LP_ORDER]) -> u32 {
    let mut e = 0u32;
    for i in 0..LP_ORDER {
        let d = mult16_16_q15(sub32(t[i] as i32, q[i] as i32), sum[i] as i32).wrapping_abs().min(0xffff);
        e = e.wrapping_add((d as u32).wrapping_mul(mult16_16_q(d, w[i], 11) as u32));
    }
    e
}

/// Weighted partial error of an L2 or L3 candidate over coefficients `range`.
fn split_error(
    t: &[i16; LP_ORDER],
    l1: &[i16; LP_ORDER],
    l23: &[i16; LP_ORDER],
    sum: &[i16; LP_ORDER],
    w: &[i32; LP_ORDER],
    range: std::ops::Range<usize>,
) -> i32 {
    let mut acc = 0i32;
    for j in range {
        let d = saturate(mult16_16_q15(sub32(sub32(t[j] as i32, l1[j] as i32), l23[j] as i32), sum[j] as i32), MAX16)
            as i16 as i32;
        acc = mac16_16(acc, d, mult16_16_q(d, w[j], 11));
    }
    acc
}

/// Final qLSF from the chosen codeword (eq. 19-20) with the encoder's stability check; updates the
/// MA memory and returns qLSP (Q15).
fn finish_quantisation(
    cw: &[i16; LP_ORDER],
    mem: &mut MaMemory,
    pred: &[[i16; LP_ORDER]; MA_ORDER],
    sum: &[i16; LP_ORDER],
    qlsp: &mut [i16; LP_ORDER],
) {
    let mut out = *cw;
    rearrange(&mut out, GAP1);
    rearrange(&mut out, GAP2);
    let mut q = [0i16; LP_ORDER];
    for i in 0..LP_ORDER {
        let mut acc = mult16_16(sum[i] as i32, out[i] as i32);
        for j in 0..MA_ORDER {
            acc = mac16_16(acc, pred[j][i] as i32, mem[j][i] as i32);
        }
        q[i] = pshr(acc, 15) as i16;
    }
    mem.copy_within(0..MA_ORDER - 1, 1);
    mem[0] = out;
    // Sort and bound; the low bound applies to the second coefficient, as in the reference.
    stabilise_qlsf(&mut q, 1);
    qlsf_to_qlsp(&q, qlsp);
}

/// LSF of an LSP vector, Q13.
pub(crate) fn lsp_to_lsf(lsp: &[i16; LP_ORDER]) -> [i16; LP_ORDER] {
    let mut lsf = [0i16; LP_ORDER];
    for i in 0..LP_ORDER {
        lsf[i] = acos_q15_q13(lsp[i]);
    }
    lsf
}

/// Two-stage switched-MA vector quantisation of the LSP (3.2.4): returns [L0, L1, L2, L3] and the
/// quantised LSP (Q15); updates the MA memory.
pub(crate) fn quantise(lsp: &[i16; LP_ORDER], mem: &mut MaMemory, qlsp: &mut [i16; LP_ORDER]) -> [u16; 4] {
    let lsf = lsp_to_lsf(lsp);
    let w = lsf_weights(&lsf);
    let mut best = [[0usize; 3]; 2];
    let mut err = [0u32; 2];
    for l0 in 0..2 {
        let t = quantiser_target(&lsf, mem, &MA_PREDICTOR[l0], &INV_MA_PREDICTOR_SUM[l0]);
        let sum = &MA_PREDICTOR_SUM[l0];
        let mut min = i32::MAX;
        let mut l1 = 0;
        for (i, row) in LSF_L1.iter().enumerate() {
            let acc = l1_distance(&t, row);
            if acc < min {
                min = acc;
                l1 = i;
            }
        }
        let (mut l2, mut l3) = (0, 0);
        min = i32::MAX;
        for (i, row) in LSF_L2L3.iter().enumerate() {
            let acc = split_error(&t, &LSF_L1[l1], row, sum, &w, 0..LP_ORDER / 2);
            if acc < min {
                min = acc;
                l2 = i;
            }
        }
        min = i32::MAX;
        for (i, row) in LSF_L2L3.iter().enumerate() {
            let acc = split_error(&t, &LSF_L1[l1], row, sum, &w, LP_ORDER / 2..LP_ORDER);
            if acc < min {
                min = acc;
                l3 = i;
            }
        }
        let mut q = [0i16; LP_ORDER];
        for i in 0..LP_ORDER {
            let second = if i < LP_ORDER / 2 { LSF_L2L3[l2][i] } else { LSF_L2L3[l3][i] };
            q[i] = add16(LSF_L1[l1][i] as i32, second as i32);
        }
        rearrange_candidate(&mut q, 1..LP_ORDER / 2, GAP1);
        rearrange_candidate(&mut q, LP_ORDER / 2 + 1..LP_ORDER, GAP1);
        rearrange_candidate(&mut q, 1..LP_ORDER, GAP2);
        err[l0] = weighted_error(&t, &q, sum, &w);
        best[l0] = [l1, l2, l3];
    }
    let l0 = if err[0] < err[1] { 0 } else { 1 };
    let [l1, l2, l3] = best[l0];
    let mut cw = [0i16; LP_ORDER];
    for i in 0..LP_ORDER {
        let second = if i < LP_ORDER / 2 { LSF_L2L3[l2][i] } else { LSF_L2L3[l3][i] };
        cw[i] = add16(LSF_L1[l1][i] as i32, second as i32);
    }
    finish_quantisation(&cw, mem, &MA_PREDICTOR[l0], &MA_PREDICTOR_SUM[l0], qlsp);
    [l0 as u16, l1 as u16, l2 as u16, l3 as u16]
}

/// Annex B SID quantisation of the LSP (B.4.2.1) with the reduced codebooks and the noise MA
/// predictor: returns [L0, L1, L2] and the quantised LSP; updates the MA memory.
pub(crate) fn quantise_sid(lsp: &[i16; LP_ORDER], mem: &mut MaMemory, qlsp: &mut [i16; LP_ORDER]) -> [u16; 3] {
    let lsf = lsp_to_lsf(lsp);
    let w = lsf_weights(&lsf);
    let mut best = [[0usize; 2]; 2];
    let mut err = [0u32; 2];
    for l0 in 0..2 {
        let t = quantiser_target(&lsf, mem, &NOISE_MA_PREDICTOR[l0], &INV_NOISE_MA_PREDICTOR_SUM[l0]);
        let sum = &NOISE_MA_PREDICTOR_SUM[l0];
        let mut min = i32::MAX;
        let mut l1 = 0;
        for i in 0..SID_L1_SUBSET.len() {
            let acc = l1_distance(&t, &LSF_L1[SID_L1_SUBSET[i] as usize]);
            if acc < min {
                min = acc;
                l1 = i;
            }
        }
        let row1 = &LSF_L1[SID_L1_SUBSET[l1] as usize];
        min = i32::MAX;
        let mut l2 = 0;
        for i in 0..SID_L2_SUBSET.len() {
            let acc =
                split_error(&t, row1, &LSF_L2L3[SID_L2_SUBSET[i] as usize], sum, &w, 0..LP_ORDER / 2).wrapping_add(
                    split_error(&t, row1, &LSF_L2L3[SID_L3_SUBSET[i] as usize], sum, &w, LP_ORDER / 2..LP_ORDER),
                );
            if acc < min {
                min = acc;
                l2 = i;
            }
        }
        let mut q = [0i16; LP_ORDER];
        for i in 0..LP_ORDER / 2 {
            q[i] = add16(row1[i] as i32, LSF_L2L3[SID_L2_SUBSET[l2] as usize][i] as i32);
        }
        // the reference takes the upper half of the candidate from L1 indexed without the subset
        for i in LP_ORDER / 2..LP_ORDER {
            q[i] = add16(LSF_L1[l1][i] as i32, LSF_L2L3[SID_L3_SUBSET[l2] as usize][i] as i32);
        }
        rearrange_candidate(&mut q, 1..LP_ORDER / 2, GAP1);
        rearrange_candidate(&mut q, LP_ORDER / 2 + 1..LP_ORDER, GAP1);
        rearrange_candidate(&mut q, 1..LP_ORDER, GAP2);
        err[l0] = weighted_error(&t, &q, sum, &w);
        best[l0] = [l1, l2];
    }
    let l0 = if err[0] < err[1] { 0 } else { 1 };
    let [l1, l2] = best[l0];
    let mut cw = [0i16; LP_ORDER];
    for i in 0..LP_ORDER {
        let sub = if i < LP_ORDER / 2 { SID_L2_SUBSET[l2] } else { SID_L3_SUBSET[l2] };
        cw[i] = add16(LSF_L1[SID_L1_SUBSET[l1] as usize][i] as i32, LSF_L2L3[sub as usize][i] as i32);
    }
    finish_quantisation(&cw, mem, &NOISE_MA_PREDICTOR[l0], &NOISE_MA_PREDICTOR_SUM[l0], qlsp);
    [l0 as u16, l1 as u16, l2 as u16]
}
