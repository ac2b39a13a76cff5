//! Annex B comfort-noise generation in the decoder (B.4.4, B.4.5): SID parameter decoding, gain
//! smoothing and synthesis of the random excitation.

use super::basic_ops::*;
use super::lsp::{codeword_to_qlsf, qlsf_to_qlsp, MaMemory};
use super::pitch::adaptive_vector;
use super::tables::*;
use super::{LP_ORDER, L_FRAME, L_SUBFRAME};

/// Seed of the comfort-noise generator, reset on every active frame.
pub(crate) const CNG_SEED_INIT: u16 = 11111;

/// Initial SID qLSP (Q0.15).
const SID_QLSP_INIT: [i16; LP_ORDER] = [31441, 27566, 21458, 13612, 4663, -4663, -13612, -21458, -27566, -31441];

/// Decoder comfort-noise state.
#[derive(Clone, Debug)]
pub(crate) struct Cng {
    received_gain: i16,
    smoothed_gain: i16,
    /// qLSP of the last SID, Q0.15.
    pub(crate) qlsp: [i16; LP_ORDER],
}

impl Cng {
    pub(crate) fn new() -> Self {
        Self { received_gain: 0, smoothed_gain: 0, qlsp: SID_QLSP_INIT }
    }

    /// Decodes a 2-byte SID payload (if any) into the SID qLSP and gain; updates the smoothed gain.
    pub(crate) fn update(&mut self, sid: Option<&[u8]>, prev_active: bool, ma_mem: &mut MaMemory) {
        if let Some(b) = sid {
            let l0 = ((b[0] >> 7) & 1) as usize;
            let l1 = ((b[0] >> 2) & 0x1f) as usize;
            let l2 = (((b[0] & 3) << 2) | ((b[1] >> 6) & 3)) as usize;
            self.received_gain = SID_GAIN_CODEBOOK[((b[1] >> 1) & 0x1f) as usize];
            let row1 = &LSF_L1[SID_L1_SUBSET[l1] as usize];
            let row2 = &LSF_L2L3[SID_L2_SUBSET[l2] as usize];
            let row3 = &LSF_L2L3[SID_L3_SUBSET[l2] as usize];
            let mut q = [0i16; LP_ORDER];
            for i in 0..LP_ORDER / 2 {
                q[i] = add16(row1[i] as i32, row2[i] as i32);
            }
            for i in LP_ORDER / 2..LP_ORDER {
                q[i] = add16(row1[i] as i32, row3[i] as i32);
            }
            codeword_to_qlsf(&mut q, ma_mem, l0, &NOISE_MA_PREDICTOR, &NOISE_MA_PREDICTOR_SUM);
            qlsf_to_qlsp(&q, &mut self.qlsp);
        }
        if prev_active {
            self.smoothed_gain = self.received_gain;
        } else {
            self.smoothed_gain = sub16(self.smoothed_gain as i32, (self.smoothed_gain >> 3) as i32) as i16;
            self.smoothed_gain = add16(self.smoothed_gain as i32, (self.received_gain >> 3) as i32);
        }
    }

    /// Current (smoothed) target gain, Q3.
    pub(crate) fn gain(&self) -> i16 {
        self.smoothed_gain
    }
}

/// Generates one frame of comfort-noise excitation at `exc[pos..pos+80]` (past excitation before
/// `pos`) with target gain `gain` (Q3): random adaptive + Gaussian + pulse excitation (B.4.4).
pub(crate) fn comfort_noise_excitation(gain: i16, seed: &mut u16, exc: &mut [i16], pos: usize) {
    let gain = gain as i32;
    for sub in (0..L_FRAME).step_by(L_SUBFRAME) {
        let p0 = pos + sub;
        let mut r = pseudo_random(seed);
        let mut frac = (r & 3) as i32 - 1;
        if frac == 2 {
            frac = 0;
        }
        r >>= 2;
        let int_delay = (r & 0x3f) as i32 + 40;
        r >>= 6;
        let mut position = [0usize; 4];
        let mut sign = [0u16; 4];
        position[0] = (r & 7) as usize * 5;
        r >>= 3;
        sign[0] = r & 1;
        r >>= 1;
        position[1] = (r & 7) as usize * 5 + 1;
        r >>= 3;
        sign[1] = r & 1;
        r = pseudo_random(seed);
        position[2] = (r & 7) as usize * 5 + 2;
        r >>= 3;
        sign[2] = r & 1;
        r >>= 1;
        position[3] = (r & 1) as usize + 3;
        r >>= 1;
        position[3] += (r & 7) as usize * 5;
        r >>= 3;
        sign[3] = r & 1;
        let ga = ((pseudo_random(seed) & 0x1fff) << 1) as i32;
        let mut gauss = [0i16; L_SUBFRAME];
        let mut eg = 0i32;
        for g in gauss.iter_mut() {
            let mut t = 0i32;
            for _ in 0..12 {
                t = t.wrapping_add(pseudo_random(seed) as i16 as i32);
            }
            *g = (t >> 7) as i16;
            eg = mac16_16(eg, *g as i32, *g as i32);
        }
        let mut gg = mult16_32_q15(25905, inv_sqrt_q0_q31(eg));
        gg = mult16_32_q15(gain, gg);
        for g in gauss.iter_mut() {
            if *g < 0 {
                *g = (-saturate(pshr(mult16_32_q15(-(*g as i32), gg), 2), MAX16)) as i16;
            } else {
                *g = pshr(mult16_32_q15(*g as i32, gg), 2) as i16;
            }
        }
        adaptive_vector(exc, p0, frac, int_delay);
        for i in 0..L_SUBFRAME {
            exc[p0 + i] = saturate(mult16_16_p15(exc[p0 + i] as i32, ga), MAX16) as i16;
        }
        for i in 0..L_SUBFRAME {
            exc[p0 + i] = saturate(exc[p0 + i] as i32 + gauss[i] as i32, MAX16) as i16;
        }
        let mut ea = 0i32;
        for i in 0..L_SUBFRAME {
            ea = mac16_16(ea, exc[p0 + i] as i32, exc[p0 + i] as i32);
        }
        let pulse_sum = |exc: &[i16], mut ei: i32| {
            for i in 0..4 {
                let v = exc[position[i] + p0] as i32;
                ei = if sign[i] == 0 { ei.wrapping_sub(v) } else { ei.wrapping_add(v) };
            }
            ei
        };
        let mut ei = pulse_sum(exc, 0);
        let k = mult16_32(gain, shr(mult16_16(L_SUBFRAME as i32, gain), 3));
        let mut delta: i64 = (ei as i64 * ei as i64) + (((k as i64) - (((ea as i64) << 3) as i32 as i64)) >> 1);
        if delta < 0 {
            exc[p0..p0 + L_SUBFRAME].copy_from_slice(&gauss);
            ei = pulse_sum(exc, ei);
            delta = (ei as i64 * ei as i64) + mult16_32_p(24576, k, 15) as i64;
        }
        let mut scale = 0i32;
        while delta >= 0x8000_0000 {
            delta >>= 1;
            scale += 1;
        }
        if scale % 2 == 1 {
            delta >>= 1;
            scale += 1;
        }
        let root = sqrt_q0_q7(delta as u32);
        let ei = svshr32(ei, scale / 2 - 7);
        let mut gf = sub32(root, ei);
        let x2 = add32(root, ei).wrapping_neg();
        if x2.wrapping_abs() < gf.wrapping_abs() {
            gf = x2;
        }
        gf = vshr32(gf, 2 + 7 - scale / 2);
        for i in 0..4 {
            let idx = position[i] + p0;
            exc[idx] = if sign[i] == 0 { sub32(exc[idx] as i32, gf) } else { add32(exc[idx] as i32, gf) } as i16;
        }
    }
}
