//! Annex B discontinuous transmission in the encoder (B.4.1-B.4.3): decision between SID and
//! untransmitted frames, SID parameter computation (averaged LP filter, quantised energy) and the
//! comfort-noise excitation that keeps the encoder's memories in step with the decoder.

use super::basic_ops::*;
use super::cng::{comfort_noise_excitation, CNG_SEED_INIT};
use super::lpc::levinson;
use super::lsp::{interpolate, lp_to_lsp, qlsp_to_lp, quantise_sid, MaMemory};
use super::tables::SID_GAIN_CODEBOOK;
use super::{LP_ORDER, PAST_EXCITATION};

const THRESHOLD1_Q20: i32 = 1260661;
const THRESHOLD3_Q20: i32 = 1176553;
const INV_LOG2_10_Q15: i32 = 9864;
const N_AUTOCORR: usize = LP_ORDER + 1;

/// What the DTX decided for a noise frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoiseFrame {
    /// A SID frame with the given 2 bytes.
    Sid([u8; 2]),
    /// Nothing is transmitted.
    Untransmitted,
}

/// DTX state.
#[derive(Clone, Debug)]
pub(crate) struct Dtx {
    autocorr: [[i32; N_AUTOCORR]; 7],
    autocorr_scale: [i32; 7],
    prev_voice: bool,
    prev_residual_energy: i32,
    prev_residual_scale: i32,
    prev_log_energy: i32,
    count_fr: u8,
    sid_filter_autocorr: [i32; N_AUTOCORR],
    current_gain: i16,
    smoothed_gain: i16,
    seed: u16,
    qlsp: [i16; LP_ORDER],
}

/// Sums `n` stored autocorrelation vectors brought to a common scale; returns the scale.
fn sum_autocorr(r: &[[i32; N_AUTOCORR]], scales: &[i32], out: &mut [i32; N_AUTOCORR]) -> i32 {
    let min_scale = *scales.iter().min().unwrap_or(&0);
    let mut sum = [0i64; N_AUTOCORR];
    for (row, &s) in r.iter().zip(scales) {
        // the shift count is taken modulo 32, as the reference's 32-bit shifts do on x86
        let k = ((s - min_scale) & 31) as u32;
        for i in 0..N_AUTOCORR {
            sum[i] += (row[i] >> k) as i64;
        }
    }
    let mut max = 0i64;
    for &v in &sum {
        max = max.max(v.wrapping_abs());
    }
    let mut shift = 0;
    if max > i32::MAX as i64 {
        while max > i32::MAX as i64 {
            max >>= 1;
            shift += 1;
        }
    }
    for i in 0..N_AUTOCORR {
        out[i] = (sum[i] >> shift) as i32;
    }
    min_scale - shift
}

/// Variable shift with the count taken modulo 32 (the reference's 32-bit shifts on x86).
fn vshr32_x86(a: i32, s: i32) -> i32 {
    if s > 0 {
        a >> (s & 31)
    } else {
        a.wrapping_shl(((-s) & 31) as u32)
    }
}

/// Quantises the residual energy (B.4.2.1): returns the 5-bit index and the decoded log energy.
fn quantise_energy(energy: i32, scale: i32) -> (u16, i32) {
    let mut acc = sub32(log2_q0_q16(energy), add32(479849, scale << 16));
    acc >>= 1;
    acc = mult16_32_q15(INV_LOG2_10_Q15, acc);
    if acc < -26214 {
        (0, -12)
    } else if acc < 45875 {
        acc += 19661;
        acc = if acc < 0 { 0 } else { mult16_32_q(20480, acc, 13) };
        let steps = (acc >> 15) as u8 as i32;
        ((1 + steps) as u16, -2 + 4 * steps)
    } else if acc < 216268 {
        acc -= 49152;
        acc = if acc < 0 { 0 } else { mult16_32_q(20480, acc, 12) };
        let steps = (acc >> 15) as u8 as i32;
        ((6 + steps) as u16, 16 + 2 * steps)
    } else {
        (31, 66)
    }
}

/// Autocorrelation of the LP coefficients (eq. B.13), Q20.
fn lp_autocorr(lp: &[i16; LP_ORDER], out: &mut [i32; N_AUTOCORR]) {
    out[0] = (4096 * 4096) >> 4;
    for k in 0..LP_ORDER {
        out[0] = add32(out[0], mult16_16_q(lp[k] as i32, lp[k] as i32, 4));
    }
    for j in 1..N_AUTOCORR {
        out[j] = shl(lp[j - 1] as i32, 9);
        for k in 0..LP_ORDER - j {
            out[j] = add32(out[j], mult16_16_q(lp[k] as i32, lp[k + j] as i32, 3));
        }
    }
}

/// Itakura-type filter distance test (eq. B.12): true if the filters differ.
fn filters_differ(ra: &[i32; N_AUTOCORR], r: &[i32; N_AUTOCORR], energy: i32, threshold: i32) -> bool {
    let mut acc = 0i64;
    for i in 0..N_AUTOCORR {
        acc = acc.wrapping_add(ra[i] as i64 * r[i] as i64);
    }
    acc >= energy as i64 * threshold as i64
}

impl Dtx {
    pub(crate) fn new() -> Self {
        let mut autocorr = [[0i32; N_AUTOCORR]; 7];
        for row in autocorr.iter_mut() {
            row[0] = 1 << 30;
        }
        Self {
            autocorr,
            autocorr_scale: [30; 7],
            prev_voice: true,
            prev_residual_energy: 0,
            prev_residual_scale: 0,
            prev_log_energy: 0,
            count_fr: 0,
            sid_filter_autocorr: [0; N_AUTOCORR],
            current_gain: 0,
            smoothed_gain: 0,
            seed: CNG_SEED_INIT,
            qlsp: [0; LP_ORDER],
        }
    }

    /// Stores the autocorrelations (before lag windowing) of the current frame.
    pub(crate) fn push_autocorr(&mut self, r: &[i32], scale: i32) {
        self.autocorr.copy_within(0..6, 1);
        self.autocorr_scale.copy_within(0..6, 1);
        self.autocorr[0].copy_from_slice(&r[..N_AUTOCORR]);
        self.autocorr_scale[0] = scale;
    }

    /// Notes an active (voice) frame.
    pub(crate) fn voice_frame(&mut self) {
        self.seed = CNG_SEED_INIT;
        self.prev_voice = true;
    }

    /// Encodes a noise frame: decides SID vs untransmitted, computes the SID parameters, writes
    /// the comfort-noise excitation at `exc[PAST_EXCITATION..]` and the LP filters of both
    /// subframes into `qlp` (Q12). `prev_lsp`/`prev_qlsp`/`ma_mem` are the encoder's memories.
    pub(crate) fn noise_frame(
        &mut self,
        prev_lsp: &mut [i16; LP_ORDER],
        prev_qlsp: &mut [i16; LP_ORDER],
        ma_mem: &mut MaMemory,
        exc: &mut [i16],
        qlp: &mut [i16; 2 * LP_ORDER],
    ) -> NoiseFrame {
        let mut summed = [0i32; N_AUTOCORR];
        let scale = sum_autocorr(&self.autocorr[..2], &self.autocorr_scale[..2], &mut summed);
        let mut lp = [0i16; LP_ORDER];
        let mut refl = [0i32; LP_ORDER];
        let energy = levinson(&summed, &mut lp, &mut refl);
        let (sid, q_energy, log_energy) = if self.prev_voice {
            let (q, l) = quantise_energy(energy, scale);
            (true, q, l)
        } else {
            let (mean, mean_scale) = if scale < self.prev_residual_scale {
                (add32(energy >> 1, vshr32_x86(self.prev_residual_energy, self.prev_residual_scale - scale + 1)), scale)
            } else {
                (
                    add32(vshr32_x86(energy, scale - self.prev_residual_scale + 1), self.prev_residual_energy >> 1),
                    // back to the signed 8-bit scale variable of the reference
                    self.prev_residual_scale as u8 as i8 as i32,
                )
            };
            let (q, l) = quantise_energy(mean, mean_scale);
            let mut changed = filters_differ(&self.sid_filter_autocorr, &summed, energy, THRESHOLD1_Q20);
            if (self.prev_log_energy - l).abs() > 2 {
                changed = true;
            }
            self.count_fr = self.count_fr.wrapping_add(1);
            let sid = if self.count_fr < 3 {
                false
            } else {
                self.count_fr = 3;
                changed
            };
            (sid, q, l)
        };
        let mut params = [0u16; 3];
        if sid {
            self.count_fr = 0;
            let mut past = [0i32; N_AUTOCORR];
            sum_autocorr(&self.autocorr[1..7], &self.autocorr_scale[1..7], &mut past);
            let mut past_lp = [0i16; LP_ORDER];
            let mut past_refl = [0i32; LP_ORDER];
            levinson(&past, &mut past_lp, &mut past_refl);
            lp_autocorr(&past_lp, &mut self.sid_filter_autocorr);
            let mut lsp = [0i16; LP_ORDER];
            let chosen = if !filters_differ(&self.sid_filter_autocorr, &summed, energy, THRESHOLD3_Q20) {
                past_lp
            } else {
                lp_autocorr(&lp, &mut self.sid_filter_autocorr);
                lp
            };
            if !lp_to_lsp(&chosen, &mut lsp) {
                lsp = *prev_qlsp;
            }
            *prev_lsp = lsp;
            params = quantise_sid(&lsp, ma_mem, &mut self.qlsp);
            self.prev_log_energy = log_energy;
            self.current_gain = SID_GAIN_CODEBOOK[q_energy as usize];
        }
        self.prev_residual_energy = energy;
        // stored on 8 unsigned bits in the reference
        self.prev_residual_scale = scale as u8 as i32;
        if self.prev_voice {
            self.smoothed_gain = self.current_gain;
        } else {
            self.smoothed_gain = sub16(self.smoothed_gain as i32, (self.smoothed_gain >> 3) as i32) as i16;
            self.smoothed_gain = add16(self.smoothed_gain as i32, (self.current_gain >> 3) as i32);
        }
        comfort_noise_excitation(self.smoothed_gain, &mut self.seed, exc, PAST_EXCITATION);
        let mut interp = [0i16; LP_ORDER];
        interpolate(prev_qlsp, &self.qlsp, &mut interp);
        *prev_qlsp = self.qlsp;
        qlsp_to_lp(&interp, &mut qlp[..LP_ORDER]);
        qlsp_to_lp(&self.qlsp, &mut qlp[LP_ORDER..]);
        self.prev_voice = false;
        if sid {
            // The reference packs the two high bits of L2 with `% 3` instead of `& 3`; kept for
            // bit-exactness with it (our decoder reads the same bits back).
            let b0 = (((params[0] & 1) << 7) | ((params[1] & 0x1f) << 2) | ((params[2] >> 2) % 3)) as u8;
            let b1 = (((params[2] & 3) << 6) | ((q_energy & 0x1f) << 1)) as u8;
            NoiseFrame::Sid([b0, b1])
        } else {
            NoiseFrame::Untransmitted
        }
    }
}
