//! LP filtering and analysis: synthesis filter 1/A(z) (4.1.6), and on the encoder side
//! windowing, autocorrelation, lag windowing and Levinson-Durbin recursion (3.2.1-3.2.2).

use super::basic_ops::*;
use super::tables::{LAG_WINDOW, LP_WINDOW};
use super::{LP_ORDER, L_SUBFRAME};

/// Synthesis filter 1/A(z) over one subframe: `out[start+n] = in[n] - sum a[j] out[start+n-j-1]`,
/// with `out[start-10..start]` as filter memory; a in Q12, saturated 16-bit output.
pub(crate) fn synthesis_filter(input: &[i16], a: &[i16], out: &mut [i16], start: usize) {
    let a: &[i16; LP_ORDER] = a[..LP_ORDER].try_into().expect("LP_ORDER coefficients");
    for (i, &x) in input[..L_SUBFRAME].iter().enumerate() {
        let past: &[i16; LP_ORDER] = out[start + i - LP_ORDER..start + i].try_into().expect("filter memory");
        let mut acc = sshl(x as i32, 12);
        for j in 0..LP_ORDER {
            acc = msu16_16(acc, a[j] as i32, past[LP_ORDER - 1 - j] as i32);
        }
        out[start + i] = saturate(pshr(acc, 12), MAX16) as i16;
    }
}

/// Second-order pole/zero high-pass filter with the structure shared by the encoder's
/// pre-processing (3.1, 140 Hz, gain 1/2, coefficients Q12) and the decoder's post-processing
/// (4.2.5, 100 Hz, gain 2, coefficients Q13). The state keeps the last two inputs and outputs.
#[derive(Clone, Debug, Default)]
pub(crate) struct HighPass {
    x0: i16,
    x1: i16,
    y1: i32,
    y2: i32,
}

impl HighPass {
    /// Encoder pre-processing: 140 Hz high-pass with a gain of 1/2 (3.1), `out[i]` from `input[i]`.
    pub(crate) fn pre_process(&mut self, input: &[i16], out: &mut [i16]) {
        const A1: i32 = 7807;
        const A2: i32 = -3733;
        const B0: i32 = 1899;
        const B1: i32 = -3798;
        const B2: i32 = 1899;
        for (o, &s) in out.iter_mut().zip(input) {
            let x2 = self.x1;
            self.x1 = self.x0;
            self.x0 = s;
            let mut acc = mult16_32_q(A1, self.y1, 12);
            acc = add32(acc, mult16_32_q(A2, self.y2, 12));
            acc = mac16_16(acc, self.x0 as i32, B0);
            acc = mac16_16(acc, self.x1 as i32, B1);
            acc = mac16_16(acc, x2 as i32, B2);
            acc = saturate(acc, 0x07ff_ffff);
            *o = pshr(acc, 12) as i16;
            self.y2 = self.y1;
            self.y1 = acc;
        }
    }

    /// Decoder post-processing: 100 Hz high-pass with a gain of 2 (4.2.5), in place.
    pub(crate) fn post_process(&mut self, sig: &mut [i16]) {
        const A1: i32 = 15836;
        const A2: i32 = -7667;
        const B0: i32 = 7699;
        const B1: i32 = -15398;
        const B2: i32 = 7699;
        for s in sig.iter_mut() {
            let x2 = self.x1;
            self.x1 = self.x0;
            self.x0 = *s;
            let mut acc = mult16_32_q(A1, self.y1, 13);
            acc = add32(acc, mult16_32_q(A2, self.y2, 13));
            acc = mac16_16(acc, self.x0 as i32, B0);
            acc = mac16_16(acc, self.x1 as i32, B1);
            acc = saturate(mac16_16(acc, x2 as i32, B2), 0x0fff_ffff);
            *s = saturate(pshr(acc, 12), MAX16) as i16;
            self.y2 = self.y1;
            self.y1 = acc;
        }
    }
}

/// Output of the LP analysis of one frame.
#[derive(Clone, Debug, Default)]
pub(crate) struct LpAnalysis {
    /// LP coefficients a1..a10, Q12.
    pub(crate) lp: [i16; LP_ORDER],
    /// Reflection coefficients k1..k10, Q31.
    pub(crate) reflection: [i32; LP_ORDER],
    /// Lag-windowed, normalised autocorrelations r(0..13).
    pub(crate) autocorr: [i32; LP_ORDER + 3],
    /// Normalised autocorrelations before lag windowing.
    pub(crate) autocorr_no_lag: [i32; LP_ORDER + 3],
    /// Normalisation: r = true autocorrelation * 2^scale.
    pub(crate) scale: i32,
}

/// Levinson-Durbin recursion (3.2.2) on normalised autocorrelations (Q31): LP coefficients (Q12),
/// reflection coefficients (Q31); returns the prediction error energy (Q31).
pub(crate) fn levinson(r: &[i32], lp: &mut [i16; LP_ORDER], refl: &mut [i32; LP_ORDER]) -> i32 {
    let mut a = [0i32; LP_ORDER + 1];
    let mut prev = [0i32; LP_ORDER + 1];
    a[0] = 1 << 27;
    a[1] = (-div64((r[1] as i64) << 27, r[0] as i64)) as i32;
    refl[0] = sshl(a[1], 4);
    let mut e = mult32_32_q(r[0], sub32(i32::MAX, mult32_32_q(a[1], a[1], 23)), 31);
    for i in 2..=LP_ORDER {
        prev[1..i].copy_from_slice(&a[1..i]);
        let mut sum = 0i32;
        for j in 1..i {
            sum = add32(sum, mult32_32_q(a[j], r[i - j], 31));
        }
        sum = add32(sshl(sum, 4), r[i]);
        a[i] = (-div64(sshl64(sum as i64, 31), e as i64)) as i32;
        refl[i - 1] = a[i];
        for j in 1..i {
            a[j] = add32(a[j], mult32_32_q(a[i], prev[i - j], 31));
        }
        e = mult32_32_q(e, sub32(i32::MAX, mult32_32_q(a[i], a[i], 31)), 31);
        a[i] >>= 4;
    }
    for i in 0..LP_ORDER {
        lp[i] = saturate(pshr(a[i + 1], 15), MAX16) as i16;
    }
    e
}

/// Sign-symmetric 64-bit left shift.
#[inline(always)]
pub(crate) fn sshl64(a: i64, s: u32) -> i64 {
    if a < 0 {
        (a.wrapping_neg() << s).wrapping_neg()
    } else {
        a << s
    }
}

/// LP analysis of the 240-sample window (3.2.1): windowing, autocorrelation with normalisation,
/// lag window and Levinson-Durbin. `n_corr` autocorrelations are computed (11, or 13 for Annex B).
pub(crate) fn analyse(signal: &[i16; 240], n_corr: usize, out: &mut LpAnalysis) {
    let mut w = [0i16; 240];
    for i in 0..240 {
        w[i] = mult16_16_p15(signal[i] as i32, LP_WINDOW[i] as i32) as i16;
    }
    let mut acc64: i64 = 0;
    for &v in &w {
        acc64 += v as i64 * v as i64;
    }
    if acc64 == 0 {
        acc64 = 1;
    }
    let mut shift = 0i32;
    let r = &mut out.autocorr;
    if acc64 > i32::MAX as i64 {
        while acc64 > i32::MAX as i64 {
            acc64 >>= 1;
            shift += 1;
        }
        r[0] = acc64 as i32;
    } else {
        shift = -norm_l(acc64 as i32);
        r[0] = sshl(acc64 as i32, -shift);
    }
    out.scale = -shift;
    if shift > 0 {
        for i in 1..n_corr {
            let mut a: i64 = 0;
            for j in i..240 {
                a += (w[j] as i32 * w[j - i] as i32) as i64;
            }
            r[i] = (a >> shift) as i32;
        }
    } else {
        for i in 1..n_corr {
            let mut a = 0i32;
            for j in i..240 {
                a = mac16_16(a, w[j] as i32, w[j - i] as i32);
            }
            r[i] = sshl(a, -shift);
        }
    }
    out.autocorr_no_lag[..n_corr].copy_from_slice(&r[..n_corr]);
    for i in 1..n_corr {
        r[i] = mult16_32_p(LAG_WINDOW[i] as i32, r[i], 15);
    }
    let r = out.autocorr;
    levinson(&r, &mut out.lp, &mut out.reflection);
}
