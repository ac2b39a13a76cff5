//! Decoder post-filter of G.729 Annex A (A.4.2: long-term, short-term, tilt compensation,
//! adaptive gain control) and output high-pass post-processing (4.2.5).

use super::basic_ops::*;
use super::lpc::synthesis_filter;
use super::{LP_ORDER, L_FRAME, L_SUBFRAME, MAX_PITCH};

const GAMMA_N: [i32; LP_ORDER] = [18022, 9912, 5452, 2998, 1649, 907, 499, 274, 151, 83];
const GAMMA_D: [i32; LP_ORDER] = [22938, 16056, 11239, 7868, 5507, 3855, 2699, 1889, 1322, 926];
const GAMMA_T: i32 = 26214;

/// Post-filter memories.
#[derive(Clone, Debug)]
pub(crate) struct PostFilter {
    residual: [i16; MAX_PITCH + L_FRAME],
    scaled_residual: [i16; MAX_PITCH + L_FRAME],
    /// Long-term filter output with one sample of history at index 0.
    ltp_out: [i16; 1 + L_SUBFRAME],
    /// Short-term (1/A(z/gamma_d)) output with LP_ORDER samples of history.
    stp_out: [i16; LP_ORDER + L_SUBFRAME],
    prev_gain: i16,
}

impl PostFilter {
    pub(crate) fn new() -> Self {
        Self {
            residual: [0; MAX_PITCH + L_FRAME],
            scaled_residual: [0; MAX_PITCH + L_FRAME],
            ltp_out: [0; 1 + L_SUBFRAME],
            stp_out: [0; LP_ORDER + L_SUBFRAME],
            prev_gain: 4096,
        }
    }

    /// Filters one subframe of reconstructed speech `speech[start..start+40]` (with LP_ORDER past
    /// samples before `start`) using LP coefficients `lp` (Q12) and the decoded integer pitch delay.
    pub(crate) fn process(
        &mut self,
        lp: &[i16],
        speech: &[i16],
        start: usize,
        int_delay: i32,
        sub_index: usize,
        out: &mut [i16; L_SUBFRAME],
    ) {
        let mut a_n = [0i16; LP_ORDER];
        let mut a_d = [0i16; LP_ORDER];
        for i in 0..LP_ORDER {
            a_n[i] = mult16_16_p15(lp[i] as i32, GAMMA_N[i]) as i16;
        }
        // residual r(n) through A(z/gamma_n)
        let r0 = MAX_PITCH + sub_index;
        for i in 0..L_SUBFRAME {
            let mut acc = sshl(speech[start + i] as i32, 12);
            for j in 0..LP_ORDER {
                acc = mac16_16(acc, a_n[j] as i32, speech[start + i - j - 1] as i32);
            }
            let r = saturate(pshr(acc, 12), MAX16) as i16;
            self.residual[r0 + i] = r;
            self.scaled_residual[r0 + i] = pshr(r as i32, 2) as i16;
        }
        // long-term post-filter: best delay around the decoded one
        let t = int_delay.min(MAX_PITCH as i32 - 3);
        let mut corr_max = i32::MIN;
        let mut best = 0i32;
        for k in t - 3..=t + 3 {
            let mut c = 0i32;
            for j in 0..L_SUBFRAME {
                c = mac16_16(
                    c,
                    self.scaled_residual[(r0 as i32 + j as i32 - k) as usize] as i32,
                    self.scaled_residual[r0 + j] as i32,
                );
            }
            if c > corr_max {
                corr_max = c;
                best = k;
            }
        }
        if corr_max < 0 {
            corr_max = 0;
        }
        let mut energy = 0i32;
        let mut delayed_energy = 0i32;
        let d0 = (r0 as i32 - best) as usize;
        for i in 0..L_SUBFRAME {
            let s = self.scaled_residual[r0 + i] as i32;
            let d = self.scaled_residual[d0 + i] as i32;
            energy = mac16_16(energy, s, s);
            delayed_energy = mac16_16(delayed_energy, d, d);
        }
        let max3 = corr_max.max(energy).max(delayed_energy);
        let (mut c16, mut e16, mut de16) = (0i32, 0i32, 0i32);
        if max3 > 0 {
            let lz = norm_l(max3);
            if lz < 16 {
                c16 = shr(corr_max, 16 - lz) as i16 as i32;
                e16 = shr(energy, 16 - lz) as i16 as i32;
                de16 = shr(delayed_energy, 16 - lz) as i16 as i32;
            } else {
                c16 = corr_max as i16 as i32;
                e16 = energy as i16 as i32;
                de16 = delayed_energy as i16 as i32;
            }
        }
        if mult16_16(c16, c16) < shr(mult16_16(e16, de16), 1) || (c16 == 0 && de16 == 0) {
            self.ltp_out[1..].copy_from_slice(&self.residual[r0..r0 + L_SUBFRAME]);
        } else {
            let (g0, g1) = if corr_max > delayed_energy {
                (21845, 10923)
            } else {
                let g1 = div32(shl(c16, 15), add32(shl(de16, 1), c16)) as i16 as i32;
                (sub16(32767, g1) as i16 as i32, g1)
            };
            for i in 0..L_SUBFRAME {
                let v = add32(mult16_16(g0, self.residual[r0 + i] as i32), mult16_16(g1, self.residual[d0 + i] as i32));
                self.ltp_out[1 + i] = saturate(pshr(v, 15), MAX16) as i16;
            }
        }
        // tilt compensation from the impulse response of A(z/gn)/A(z/gd)
        for i in 0..LP_ORDER {
            a_d[i] = mult16_16_p15(lp[i] as i32, GAMMA_D[i]) as i16;
        }
        let mut hf = [0i16; 22];
        hf[0] = 4096;
        for i in 1..22 {
            let mut acc = if i < 11 { sshl(a_n[i - 1] as i32, 12) } else { 0 };
            for j in 0..LP_ORDER.min(i) {
                acc = msu16_16(acc, a_d[j] as i32, hf[i - j - 1] as i32);
            }
            hf[i] = saturate(pshr(acc, 12), MAX16) as i16;
        }
        let mut rh1 = mult16_16(hf[0] as i32, hf[1] as i32);
        for i in 1..21 {
            rh1 = mac16_16(rh1, hf[i] as i32, hf[i + 1] as i32);
        }
        let mut tilted = [0i16; L_SUBFRAME];
        if rh1 < 0 {
            tilted.copy_from_slice(&self.ltp_out[1..]);
        } else {
            let mut rh0 = mult16_16(hf[0] as i32, hf[0] as i32);
            for h in &hf[1..] {
                rh0 = mac16_16(rh0, *h as i32, *h as i32);
            }
            let rh1 = mult16_32_q15(GAMMA_T, rh1);
            let g = saturate(div32(rh1, pshr(rh0, 12)), MAX16);
            for i in 0..L_SUBFRAME {
                tilted[i] = sub32(self.ltp_out[1 + i] as i32, mult16_16_q(g, self.ltp_out[i] as i32, 12)) as i16;
            }
        }
        self.ltp_out[0] = self.ltp_out[L_SUBFRAME];
        // short-term post-filter 1/A(z/gamma_d)
        synthesis_filter(&tilted, &a_d, &mut self.stp_out, LP_ORDER);
        self.stp_out.copy_within(L_SUBFRAME..L_SUBFRAME + LP_ORDER, 0);
        let sf = &self.stp_out[LP_ORDER..];
        // adaptive gain control
        let mut sf_energy = 0u32;
        for &v in sf {
            sf_energy = sf_energy.wrapping_add(((v as i32 * v as i32) as u32) >> 4);
        }
        if sf_energy == 0 {
            self.prev_gain = 0;
            out.copy_from_slice(sf);
        } else {
            let mut s_energy = 0u32;
            for &v in &speech[start..start + L_SUBFRAME] {
                s_energy = s_energy.wrapping_add(((v as i32 * v as i32) as u32) >> 4);
            }
            let gain_factor = if s_energy == 0 {
                0
            } else {
                let ns = norm_u(s_energy);
                let num = s_energy.wrapping_shl(ns as u32);
                let den = ushift_right(sf_energy, 10 - ns);
                let frac = if den == 0 { ushift_right(udiv32(num, sf_energy), ns - 10) } else { udiv32(num, den) };
                let g = saturate(sqrt_q0_q7(frac), MAX16);
                mult16_16_p15(g, 3277)
            };
            let mut g = self.prev_gain as i32;
            for i in 0..L_SUBFRAME {
                g = add16(gain_factor, mult16_16_p15(g, 29491)) as i32;
                out[i] = mult16_16_q(g, sf[i] as i32, 12) as i16;
            }
            self.prev_gain = g as i16;
        }
        if sub_index > 0 {
            self.residual.copy_within(L_FRAME..L_FRAME + MAX_PITCH, 0);
            self.scaled_residual.copy_within(L_FRAME..L_FRAME + MAX_PITCH, 0);
        }
    }
}

/// Logical shift right of an unsigned value by `s` (left for negative `s`).
fn ushift_right(x: u32, s: i32) -> u32 {
    if s >= 32 || s <= -32 {
        0
    } else if s >= 0 {
        x >> s
    } else {
        x << -s
    }
}
