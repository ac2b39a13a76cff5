//! Gains: MA prediction of the fixed codebook gain (3.9.1), conjugate-structure gain codebook
//! decoding (3.9.2), erasure attenuation (4.4.2) and, on the encoder side, gain quantisation (A.3.9).

use super::basic_ops::*;
use super::tables::*;
use super::L_SUBFRAME;

/// Initial value of the past quantised prediction errors: -14 dB in Q10.
pub(crate) const GAIN_PRED_INIT: [i16; 4] = [-14336; 4];

/// Predicted fixed codebook gain g'c (Q16) from the past prediction errors (Q10) and the energy
/// of the fixed codebook vector (Q1.13), eq. 66-71.
pub(crate) fn predict_code_gain(past: &[i16; 4], code: &[i16; L_SUBFRAME]) -> i32 {
    let mut energy = 0i32;
    for &c in code {
        if c != 0 {
            energy = mac16_16(energy, c as i32, c as i32);
        }
    }
    let mut acc = add32(8145364, mult16_32_q(-24660, log2_q0_q16(energy), 13));
    acc = shl(acc, 8);
    for i in 0..4 {
        acc = mac16_16(acc, past[i] as i32, GAIN_MA_PREDICTION[i] as i32);
    }
    acc = shr(acc, 2);
    acc = mult16_32_q15(5442, acc);
    acc = pshr(acc, 11);
    exp2_q11_q16(acc as i16)
}

/// Pushes the prediction error 20 log10(gamma) (gamma in Q3.12) into the memory (eq. 72).
pub(crate) fn push_prediction_error(gamma: i16, past: &mut [i16; 4]) {
    let e = sub32(log2_q0_q16(gamma as i32), 786432);
    let e = pshr(mult16_32_q(24660, e, 12), 6);
    past.copy_within(0..3, 1);
    past[0] = e as i16;
}

/// Decoder gain state.
#[derive(Clone, Debug)]
pub(crate) struct GainDecoder {
    pub(crate) past_error: [i16; 4],
}

impl GainDecoder {
    pub(crate) fn new() -> Self {
        Self { past_error: GAIN_PRED_INIT }
    }

    /// Decodes (or, on erasure, attenuates) the pitch gain (Q14) and code gain (Q14.1) in place.
    pub(crate) fn decode(
        &mut self,
        ga: u16,
        gb: u16,
        code: &[i16; L_SUBFRAME],
        erased: bool,
        pitch_gain: &mut i16,
        code_gain: &mut i16,
    ) {
        if erased {
            *pitch_gain = if *pitch_gain < 16384 { mult16_16_q15(*pitch_gain as i32, 29491) as i16 } else { 14746 };
            *code_gain = mult16_16_q15(*code_gain as i32, 32113) as i16;
            let mut sum = 0i32;
            for &e in &self.past_error {
                sum += e as i32;
            }
            let mut e = pshr(sum, 2);
            e = if e < -10240 { -14336 } else { e - 4096 };
            self.past_error.copy_within(0..3, 1);
            self.past_error[0] = e as i16;
            return;
        }
        let ga = GA_INDEX_TO_ROW[ga as usize & 7] as usize;
        let gb = GB_INDEX_TO_ROW[gb as usize & 15] as usize;
        *pitch_gain = add16(GA_CODEBOOK[ga][0] as i32, GB_CODEBOOK[gb][0] as i32);
        let predicted = predict_code_gain(&self.past_error, code);
        let gamma = add16(GA_CODEBOOK[ga][1] as i32, GB_CODEBOOK[gb][1] as i32);
        *code_gain = pshr(mult16_32_q(gamma as i32, predicted, 12), 15) as i16;
        push_prediction_error(gamma, &mut self.past_error);
    }
}

/// Unquantised adaptive codebook gain (3.7.3, Q14, bounded to 1.2) and the correlations
/// <x, y> and <y, y> reused by the gain quantiser.
pub(crate) fn adaptive_gain(x: &[i16], y: &[i16]) -> (i16, i64, i64) {
    let mut xy: i64 = 0;
    let mut yy: i64 = 0;
    for i in 0..L_SUBFRAME {
        xy += x[i] as i64 * y[i] as i64;
        yy += y[i] as i64 * y[i] as i64;
    }
    if xy <= 0 {
        return (0, xy, yy);
    }
    let g = (div64(xy << 14, yy) as i32).min(19661);
    (g as i16, xy, yy)
}

/// Encoder gain state.
#[derive(Clone, Debug)]
pub(crate) struct GainQuantiser {
    pub(crate) past_error: [i16; 4],
}

/// Quantised gains and their indices.
pub(crate) struct QuantisedGains {
    /// Pitch gain, Q14.
    pub(crate) pitch: i16,
    /// Code gain, Q1.
    pub(crate) code: i16,
    /// Transmitted GA index.
    pub(crate) ga: u16,
    /// Transmitted GB index.
    pub(crate) gb: u16,
}

/// `numerator / denominator` scaled by 2^q with the reference's overflow handling.
fn scaled_ratio(num: i64, den: i64, q: i32) -> i32 {
    let hi = ((num >> 32) as i32).wrapping_abs();
    let norm = norm_l(hi);
    if norm >= q {
        div64(super::lpc::sshl64(num, q as u32), den) as i32
    } else {
        let sd = den >> (q - norm);
        if sd > 0 {
            div64(num << norm, sd) as i32
        } else {
            shl(div64(num << norm, den) as i32, q - norm)
        }
    }
}

impl GainQuantiser {
    pub(crate) fn new() -> Self {
        Self { past_error: GAIN_PRED_INIT }
    }

    /// Conjugate-structure gain quantisation with pre-selection (3.9.2, A.3.9).
    /// `x` target, `y` filtered adaptive vector, `z` filtered fixed vector (Q12), `code` fixed
    /// vector (Q13); `xy64`/`yy64` from [`adaptive_gain`].
    pub(crate) fn quantise(
        &mut self,
        x: &[i16],
        y: &[i16],
        z: &[i16; L_SUBFRAME],
        code: &[i16; L_SUBFRAME],
        xy64: i64,
        yy64: i64,
    ) -> QuantisedGains {
        let (mut xz64, mut yz64, mut zz64) = (0i64, 0i64, 0i64);
        for i in 0..L_SUBFRAME {
            xz64 += x[i] as i64 * z[i] as i64;
            yz64 += y[i] as i64 * z[i] as i64;
            zz64 += z[i] as i64 * z[i] as i64;
        }
        let mut min_norm = 31;
        for v in [
            (xy64.wrapping_abs() >> 30) as i32,
            (xz64.wrapping_abs() >> 30) as i32,
            (yz64.wrapping_abs() >> 30) as i32,
            (yy64 >> 31) as i32,
            (zz64 >> 31) as i32,
        ] {
            min_norm = min_norm.min(norm_l(v));
        }
        let (xy, yy, xz, yz, zz) = if min_norm < 31 {
            let s = 31 - min_norm;
            ((xy64 >> s) as i32, (yy64 >> s) as i32, (xz64 >> s) as i32, (yz64 >> s) as i32, (zz64 >> s) as i32)
        } else {
            (xy64 as i32, yy64 as i32, xz64 as i32, yz64 as i32, zz64 as i32)
        };
        let den = (yy as i64 * zz as i64).wrapping_add(-(yz as i64) * yz as i64);
        let num_p = (zz as i64 * xy as i64).wrapping_add((xz.wrapping_neg()) as i64 * yz as i64);
        let num_c = (yy as i64 * xz as i64).wrapping_add((xy.wrapping_neg()) as i64 * yz as i64);
        let (best_p, best_c) = if den == 0 {
            ((num_p >> 15) as i32, (num_c >> 10) as i32)
        } else {
            (scaled_ratio(num_p, den, 9), scaled_ratio(num_c, den, 14))
        };
        let predicted = (predict_code_gain(&self.past_error, code) >> 12) as i16 as i32;
        let mut base_a = 0usize;
        while base_a < 6 && best_c > mult16_16_q(GA_CODEBOOK[base_a][1] as i32, predicted, 14) {
            base_a += 1;
        }
        base_a = base_a.saturating_sub(2);
        let mut base_b = 0usize;
        while base_b < 12 && best_p > (GB_CODEBOOK[base_b][0] as i32 >> 5) {
            base_b += 1;
        }
        base_b = base_b.saturating_sub(4);
        let xy = sshl(xy, 1).wrapping_neg();
        let xz = sshl(xz, 1).wrapping_neg();
        let yz = sshl(yz, 1);
        let mut dmin = i64::MAX;
        let (mut ia, mut ib) = (0usize, 0usize);
        let mut out = QuantisedGains { pitch: 0, code: 0, ga: 0, gb: 0 };
        for i in 0..4 {
            for j in 0..8 {
                let ra = &GA_CODEBOOK[i + base_a];
                let rb = &GB_CODEBOOK[j + base_b];
                let gp = add16(ra[0] as i32, rb[0] as i32) as i32;
                let gamma = add16(ra[1] as i32, rb[1] as i32) as i32;
                let gc = mult16_16_q(gamma, predicted, 14);
                let mut acc = mult16_16(gp, gp) as i64 * yy as i64;
                acc = acc.wrapping_add(mult16_16(gc, gc) as i64 * zz as i64);
                acc = acc.wrapping_add(shl(gp, 14) as i64 * xy as i64);
                acc = acc.wrapping_add(shl(gc, 14) as i64 * xz as i64);
                acc = acc.wrapping_add(mult16_16(gp, gc) as i64 * yz as i64);
                if acc < dmin {
                    dmin = acc;
                    ia = i + base_a;
                    ib = j + base_b;
                    out.pitch = gp as i16;
                    out.code = (gc >> 1) as i16;
                }
            }
        }
        push_prediction_error(add16(GA_CODEBOOK[ia][1] as i32, GB_CODEBOOK[ib][1] as i32), &mut self.past_error);
        out.ga = GA_ROW_TO_INDEX[ia];
        out.gb = GB_ROW_TO_INDEX[ib];
        out
    }
}
