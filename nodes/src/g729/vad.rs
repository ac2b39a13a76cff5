//! Annex B voice activity detector (B.3): energy, low-band energy, zero-crossing and spectral
//! distortion features against running background-noise averages, multi-boundary initial decision
//! and the hysteresis/smoothing stages of Appendix II.

use super::basic_ops::*;
use super::tables::LOW_BAND_FILTER;
use super::{LP_ORDER, L_FRAME};

/// Frames of the initialisation period.
const NI: u32 = 32;
/// Length of the energy history used for the long-term minimum.
const N0: usize = 128;
const LOG2_240_Q16: i32 = 518186;
const INV_LOG2_10_Q15: i32 = 9864;

/// VAD state.
#[derive(Clone, Debug)]
pub(crate) struct Vad {
    init_ef_sum: i32,
    init_zc_sum: i32,
    init_lsf_sum: [i32; LP_ORDER],
    valid_init_frames: u8,
    mean_zc: i16,
    mean_ef: i16,
    mean_el: i16,
    mean_lsf: [i16; LP_ORDER],
    frame_count: u32,
    update_count: u32,
    ef_history: [i16; N0],
    svd_m1: bool,
    svd_m2: bool,
    count_inert: u32,
    second_stage_flag: bool,
    smoothing_counter: u32,
    prev_ef: i16,
    noise_continuity: i32,
}

/// Multi-boundary initial decision (B.3.5): true for voice.
fn initial_decision(ds: i32, d_ef: i16, d_el: i16, d_zc: i16) -> bool {
    let ef = mult16_16(10, d_ef as i32);
    let el = mult16_16(10, d_el as i32);
    let zc = d_zc as i32;
    let ds = mult16_32(830, ds);
    ds > add32(mult16_32_q(zc, 58720, 12), 228170)
        || ds > add32(mult16_32_q(zc, -152520, 12), 311141)
        || ef < add32(mult16_32_q15(zc, -51200), -10240)
        || ef < add32(mult16_32_q15(zc, 40960), -12288)
        || ef < -9626
        || ef < add32(mult16_32_q(275, ds, 12), -24986)
        || ds > 241592
        || ef < add32(mult16_32_q15(zc, 51200), -14336)
        || ef < add32(mult16_32_q15(zc, -59578), -9868)
        || ef < -10854
        || el < add32(mult16_32_q(875, ds, 13), -31744)
        || el > add32(mult16_32_q15(30427, el), 2341)
        || el < add32(mult16_32_q(-24576, el, 14), -18432)
        || el < add32(mult16_32_q15(23406, el), -4389)
}

/// log2(x / 240) / log2(10) scaled as energy/10 in Q11, for a normalised autocorrelation term.
fn energy_db10(x: i32, scale: i32) -> i16 {
    let mut acc = sub32(log2_q0_q16(x), scale << 16);
    acc = shr(sub32(acc, LOG2_240_Q16), 1);
    acc = mult16_32_q15(INV_LOG2_10_Q15, acc);
    pshr(acc, 4) as i16
}

impl Vad {
    pub(crate) fn new() -> Self {
        Self {
            init_ef_sum: 0,
            init_zc_sum: 0,
            init_lsf_sum: [0; LP_ORDER],
            valid_init_frames: 0,
            mean_zc: 0,
            mean_ef: 0,
            mean_el: 0,
            mean_lsf: [0; LP_ORDER],
            frame_count: 0,
            update_count: 0,
            ef_history: [i16::MAX; N0],
            svd_m1: true,
            svd_m2: true,
            count_inert: 0,
            second_stage_flag: true,
            smoothing_counter: 0,
            prev_ef: 0,
            noise_continuity: 0,
        }
    }

    fn end_frame(&mut self, ef: i16, voice: bool) -> bool {
        self.frame_count += 1;
        self.prev_ef = ef;
        self.svd_m2 = self.svd_m1;
        self.svd_m1 = voice;
        voice
    }

    /// Decides whether the frame is voice (true) or noise.
    ///
    /// `k2` is the second reflection coefficient (Q31), `lsf` the unquantised LSF (Q13), `r` the
    /// lag-windowed autocorrelations (13 terms) with their `scale`, and `signal[1..81]` the current
    /// pre-processed frame preceded by one past sample.
    pub(crate) fn detect(&mut self, k2: i32, lsf: &[i16; LP_ORDER], r: &[i32; 13], scale: i32, signal: &[i16]) -> bool {
        let ef = energy_db10(r[0].wrapping_add(1), scale);
        self.ef_history[self.frame_count as usize % N0] = ef;
        let mut acc = mult16_32_q15(LOW_BAND_FILTER[0] as i32, r[0]);
        for i in 1..LP_ORDER + 3 {
            acc = add32(acc, mult16_32_q(LOW_BAND_FILTER[i] as i32, r[i], 14));
        }
        if acc <= 0 {
            acc = 1;
        }
        let el = energy_db10(acc, scale);
        let mut zc = 0i16;
        for i in 1..=L_FRAME {
            if mult16_16(signal[i - 1] as i32, signal[i] as i32) < 0 {
                zc = add16(zc as i32, 410);
            }
        }
        if self.frame_count == NI {
            if self.valid_init_frames > 0 {
                let n = self.valid_init_frames as i32;
                let mean_en = div32(self.init_ef_sum, n) as i16;
                self.mean_zc = div32(self.init_zc_sum, n) as i16;
                for i in 0..LP_ORDER {
                    self.mean_lsf[i] = div32(self.init_lsf_sum[i], n) as i16;
                }
                self.mean_ef = sub16(mean_en as i32, 2048) as i16;
                self.mean_el = sub16(mean_en as i32, 2458) as i16;
            } else {
                self.frame_count = 0;
            }
        }
        if self.frame_count < NI {
            let voice = ef >= 3072;
            if voice {
                self.valid_init_frames = self.valid_init_frames.wrapping_add(1);
                self.init_ef_sum = add32(self.init_ef_sum, ef as i32);
                self.init_zc_sum = add32(self.init_zc_sum, zc as i32);
                for i in 0..LP_ORDER {
                    self.init_lsf_sum[i] = add32(self.init_lsf_sum[i], lsf[i] as i32);
                }
            }
            return self.end_frame(ef, voice);
        }
        let e_min = *self.ef_history.iter().min().unwrap_or(&i16::MAX);
        let mut ds = 0i32;
        for i in 0..LP_ORDER {
            let d = sub16(lsf[i] as i32, self.mean_lsf[i] as i32) as i16 as i32;
            ds = add32(ds, mult16_16_q(d, d, 13));
        }
        let d_ef = sub16(self.mean_ef as i32, ef as i32) as i16;
        let d_el = sub16(self.mean_el as i32, el as i32) as i16;
        let d_zc = sub16(self.mean_zc as i32, zc as i32) as i16;
        let mut voice = if ef < 3072 { false } else { initial_decision(ds, d_ef, d_el, d_zc) };
        if voice {
            self.count_inert = 0;
        }
        if !voice && self.count_inert < 6 {
            self.count_inert += 1;
            voice = true;
        }
        if !voice && self.svd_m1 && d_ef > 410 && ef > 3072 {
            voice = true;
        }
        if self.second_stage_flag
            && !voice
            && self.svd_m1
            && self.svd_m2
            && sub16(ef as i32, self.prev_ef as i32).abs() <= 614
        {
            voice = true;
            self.smoothing_counter += 1;
            if self.smoothing_counter <= 4 {
                self.second_stage_flag = true;
            } else {
                self.second_stage_flag = false;
                self.smoothing_counter = 0;
            }
        } else {
            self.second_stage_flag = true;
        }
        if !voice {
            self.noise_continuity += 1;
        }
        if voice && self.noise_continuity > 10 && sub16(ef as i32, self.prev_ef as i32) <= 614 {
            voice = false;
            self.noise_continuity = 0;
            self.count_inert = 6;
        }
        if voice {
            self.noise_continuity = 0;
        }
        if sub16(ef as i32, 614) < self.mean_ef as i32 && k2 < 1_610_612_736 {
            self.update_count += 1;
            let (be, bec, bz, bzc, bl, blc) = match self.update_count {
                0..=19 => (24576, 8192, 26214, 6554, 19661, 13107),
                20..=29 => (31130, 1638, 30147, 2621, 21299, 11469),
                30..=39 => (31785, 983, 30802, 1966, 22938, 9830),
                40..=49 => (32440, 328, 31457, 1311, 24756, 8192),
                50..=59 => (32604, 164, 32440, 328, 24576, 8192),
                _ => (32702, 66, 32604, 164, 24576, 8192),
            };
            let upd = |m: i16, v: i16, b: i32, c: i32| add16(mult16_16_q15(m as i32, b), mult16_16_q15(v as i32, c));
            self.mean_ef = upd(self.mean_ef, ef, be, bec);
            self.mean_el = upd(self.mean_el, el, be, bec);
            self.mean_zc = upd(self.mean_zc, zc, bz, bzc);
            for i in 0..LP_ORDER {
                self.mean_lsf[i] = upd(self.mean_lsf[i], lsf[i], bl, blc);
            }
        }
        if self.frame_count > N0 as u32
            && ((self.mean_ef < e_min && ds < 819) || self.mean_ef > add16(e_min as i32, 2048))
        {
            self.mean_ef = e_min;
            self.update_count = 0;
        }
        self.end_frame(ef, voice)
    }
}
