//! Loudspeaker saturation model in front of the linear filters (a Hammerstein canceller).
//!
//! A small loudspeaker driven hard compresses its peaks, and a linear filter cannot cancel
//! the distortion: on the evaluation kit's generator (a `tanh` loudspeaker of drive 2.0–2.8)
//! the best linear fit of the loudspeaker's output leaves 15–19 dB, and the canceller's
//! linear ERLE there was 11–15 dB. A cubic term removes most of what is left (the best fit
//! `x + a·x³` leaves 25–31 dB on the same signals). The filters therefore see
//! `u = x + a·s`, `s = x³ − c·x` with `c = E[x⁴] / E[x²]` (the cubic made uncorrelated with
//! `x`, after Kuech and Kellermann's orthogonalised power filters, so `a` models the
//! distortion and not a gain the linear filter already has), and `a` is learnt from the
//! background filter's error: with `y_s` the background filter applied to `s`,
//! `∂e/∂a = −y_s`, and a normalised step `a += μ·Σ e·y_s / Σ y_s²` (smoothed sums).
//!
//! `a` is learnt only where it can be: once the linear (background) filter has converged —
//! its weights moved by less than −15 dB of their energy (`‖w − w₀‖² < 0.0316·‖w‖²`) over
//! 0.5 s of far-active blocks without near-end speech — and until a 0.5 s in which they move
//! by more than −10 dB (a path change the divergence test does not restart on). A converging
//! linear filter's misalignment correlates with `y_s` and moves `a` in linear rooms (kit
//! d30_r02 40.4 → 30.1 dB in the 5–10 s window with an earlier start; apm_aec's
//! linear room learnt `a = 0.154` and lost 1.4 dB with a fixed start at 4 s). Until session 23
//! the start was a fixed 8 s of far end since the (re)start, late in easy rooms; the test
//! reads the filter itself and passes after 3–4 s in easy rooms, later in hard ones (a start
//! at −20 dB let kit d30_r02 lose 5 dB and h3's white-noise room 6 dB). `a` is also learnt
//! only while the near-end detector is quiet, and while the cubic branch would take at least
//! 30 % of the error energy (`(Σ e·y_s)² / Σ y_s² ≥ 0.3·Σ e²`), so in a linear room `a` stays
//! at or near zero (22 of 23 linear scenarios of the kit and three held-out sets within 0.1 dB of the
//! canceller without the model; kit d30_r06_loudecho 37.4 → 36.3 dB after double talk).
//! It is also not learnt while the background filter's prediction fails to explain the
//! microphone (correlation under the divergence test's `MISPREDICTED_CORRELATION`, see
//! `Aec::capture_body`): on far blocks quieter than the moments `s ≈ −c·x`, and the linear
//! filter's misadjustment taught `a` a gain error (session 22: 0.05 → 5.1 in 23 blocks, then a
//! false restart).
//! For the same reason `a` learns only from loud blocks: those whose cubic-branch prediction
//! `y_s` holds at least twice its running mean energy (`LOUD_BLOCK`). A loudspeaker distorts
//! the far end's loud passages; in quiet ones `s` is nearly `−c·x` and its correlation with the
//! error is the linear filter's gain error. Before session 24 `a` overshot and fell back from
//! such blocks (kit `d120_r03_nl`: −1.43 at 6 s, −0.006 at 7 s, −0.37 when the double talk
//! began), and what it had not learnt by then it learnt only after the double talk, while the
//! same far end without near end learnt it through the double talk: 9.8 dB less ERLE after the
//! double talk than that run, 2.0 dB with the gate (`a` −1.2 from 7 s in both).
//! And `a` is never positive (`MAX_COEFFICIENT`): a loudspeaker compresses its peaks, and every
//! positive `a` seen was taught by a linear filter's error in a linear room (held-out h5
//! `d35_rq`: +1.25 at 4 s, unlearnt only slowly from loud blocks).

use super::filter::Weights;
use crate::apm::fft::{Cpx, RealFft};

/// Far-active blocks without near-end speech per step of the linear filter's stationarity
/// test (0.5 s).
const SEGMENT_BLOCKS: u32 = 50;
/// The background filter counts as converged once its weights changed by less than this share
/// of their energy over a segment (`‖w − w₀‖² < 0.0316·‖w‖²`, −15 dB).
const CONVERGED_CHANGE: f32 = 0.0316;
/// Once converged, the filter counts as re-adapting (and `a` pauses) when its weights change
/// by more than this share over a segment (−10 dB): a path change the divergence test does not
/// restart on. Pausing at −15 dB as well cost the sets 0.1–0.3 dB of ERLE (kit 38.09 → 37.76).
const MOVING_CHANGE: f32 = 0.1;
/// Share of the error energy the cubic branch must explain for `a` to move.
const MIN_SHARE: f32 = 0.3;
/// Normalised step of `a`.
const STEP: f32 = 0.035;
/// Weight of the past in the smoothed sums (about 100 ms).
const SMOOTH: f32 = 0.9;
/// Weights of the past and of the new block in the far end's moments (about 2 s of
/// far-active blocks), and in the running mean of the cubic branch's per-block energy.
const MOMENT_OLD: f32 = 0.995;
const MOMENT_NEW: f32 = 0.005;
/// `a` learns only from blocks whose cubic-branch prediction `y_s` holds at least this many
/// times its running mean energy (LOUD blocks): a loudspeaker compresses the far end's loud
/// passages, and in quiet ones `s = x³ − c·x` is nearly `−c·x`, a copy of the far end, whose
/// correlation with the error measures the linear filter's gain error, not the distortion.
/// Session 24: without it, kit `d120_r03_nl` learnt `a = −1.43` by 6 s and lost it again to
/// −0.006 by 7 s (−0.37 when the double talk began, −1.19 at that point in the run without
/// near end, which kept learning through the double talk: 9.8 dB more after it); with it,
/// `a` reaches −1.2 by 7 s in both. Held out, it also kept `a` at 0 in the linear kit room
/// `d30_r02`, where the run without near end had moved it to +0.09 at 25 s.
const LOUD_BLOCK: f32 = 2.0;
/// The largest coefficient: 0. A loudspeaker driven hard compresses its peaks (`a < 0`); a
/// positive `a` models an expanding one, and what taught it was a converging or misadjusted
/// linear filter's error, which correlates with the cubic branch. Session 24: linear rooms
/// learnt `a = +0.13` (kit `d120_r03`, 8 s), `+0.09` (kit `d30_r02` without near end, 25 s) and
/// `+1.25` (held-out h5 `d35_rq`, 4 s, unlearnt only slowly under LOUD_BLOCK: 8.5 dB less
/// ERLE after the double talk). Found on h5 after it was scored: see BENCHMARKS.md.
const MAX_COEFFICIENT: f32 = 0.0;

/// The saturation model: the coefficient, the far end's moments, and the spectra of the
/// cubic term `s` in a ring beside the far-end ring (the same slots).
pub(super) struct Saturation {
    a: f32,
    /// Smoothed `Σ x²`, `Σ x⁴` of far-active blocks.
    m2: f32,
    m4: f32,
    /// Smoothed `Σ y_s²`, `Σ e·y_s`, `Σ e²`.
    ryy: f32,
    rey: f32,
    ree: f32,
    /// Running mean (MOMENT_OLD) of the per-block `Σ y_s²` over learning blocks, from zero (so
    /// the first second of learning passes most blocks), for the LOUD_BLOCK test.
    ryy_mean: f32,
    prev: Vec<f32>,
    cur: Vec<f32>,
    frame: Vec<f32>,
    ring: Vec<Cpx>,
    spec: Vec<Cpx>,
    ys: Vec<f32>,
    /// The linear filter's convergence test: blocks in the current segment, the background
    /// weights at its start, and whether the filter has converged (false after a (re)start
    /// until a segment moved by less than CONVERGED_CHANGE, and again after one that moved by
    /// more than MOVING_CHANGE).
    seg_n: u32,
    snap: Vec<Cpx>,
    converged: bool,
}

impl Saturation {
    /// A model with `a = 0` for `hop`-sample blocks, a ring of `ring_len` spectra and the
    /// convergence test of a `parts`-partition background filter.
    pub(super) fn new(hop: usize, ring_len: usize, parts: usize) -> Self {
        let bins = hop + 1;
        Saturation {
            a: 0.0,
            m2: 0.0,
            m4: 0.0,
            ryy: 0.0,
            rey: 0.0,
            ree: 0.0,
            ryy_mean: 0.0,
            prev: vec![0.0; hop],
            cur: vec![0.0; hop],
            frame: vec![0.0; 2 * hop],
            ring: vec![Cpx::new(0.0, 0.0); ring_len * bins],
            spec: vec![Cpx::new(0.0, 0.0); bins],
            ys: vec![0.0; 2 * hop],
            seg_n: 0,
            snap: vec![Cpx::new(0.0, 0.0); parts * bins],
            converged: false,
        }
    }

    /// The current cubic coefficient `a`.
    pub(super) fn coefficient(&self) -> f32 {
        self.a
    }

    /// Replaces the far block `x` by `x + a·s` and stores the spectrum of `s`'s overlap-save
    /// frame in ring slot `slot`.
    #[inline(always)]
    pub(super) fn shape(&mut self, x: &mut [f32], fft: &mut RealFft, slot: usize) {
        let h = self.cur.len();
        let (mut m2, mut m4) = (0.0f32, 0.0f32);
        for &v in x.iter() {
            let v2 = v * v;
            m2 += v2;
            m4 += v2 * v2;
        }
        if m2 / h as f32 > 1e-7 {
            self.m2 = MOMENT_OLD * self.m2 + MOMENT_NEW * m2;
            self.m4 = MOMENT_OLD * self.m4 + MOMENT_NEW * m4;
        }
        let c = if self.m2 > 1e-12 { self.m4 / self.m2 } else { 0.0 };
        for (v, s) in x.iter_mut().zip(self.cur.iter_mut()) {
            *s = *v * *v * *v - c * *v;
            *v += self.a * *s;
        }
        self.frame[..h].copy_from_slice(&self.prev);
        self.frame[h..].copy_from_slice(&self.cur);
        let bins = h + 1;
        fft.forward(&self.frame, &mut self.ring[slot * bins..(slot + 1) * bins]);
        self.prev.copy_from_slice(&self.cur);
    }

    /// The model's shaping of `x` in place (`x + a·(x³ − c·x)` with the present `a` and `c`),
    /// without touching its moments or its ring: for far blocks recomputed from their samples.
    pub(super) fn apply(&self, x: &mut [f32]) {
        let c = if self.m2 > 1e-12 { self.m4 / self.m2 } else { 0.0 };
        for v in x.iter_mut() {
            *v += self.a * (*v * *v * *v - c * *v);
        }
    }

    /// One learning step of `a` from the background filter `w` and its error `e` (`hop`
    /// samples); `idx(k)` is where partition `k`'s spectrum starts in the ring (the far-end
    /// ring's index, which this ring shares).
    #[inline(always)]
    pub(super) fn learn(&mut self, w: &Weights, idx: impl Fn(usize) -> usize, e: &[f32], fft: &mut RealFft) {
        let bins = w.bins;
        let ring = &self.ring;
        w.filter(|k| &ring[idx(k)..idx(k) + bins], &mut self.spec);
        fft.inverse(&self.spec, &mut self.ys);
        let h = e.len();
        let (mut ryy, mut rey, mut ree) = (0.0f32, 0.0f32, 0.0f32);
        for (y, e) in self.ys[h..].iter().zip(e) {
            ryy += y * y;
            rey += e * y;
            ree += e * e;
        }
        // Only loud blocks teach `a` (LOUD_BLOCK).
        self.ryy_mean = MOMENT_OLD * self.ryy_mean + MOMENT_NEW * ryy;
        if ryy < LOUD_BLOCK * self.ryy_mean {
            return;
        }
        self.ryy = SMOOTH * self.ryy + (1.0 - SMOOTH) * ryy;
        self.rey = SMOOTH * self.rey + (1.0 - SMOOTH) * rey;
        self.ree = SMOOTH * self.ree + (1.0 - SMOOTH) * ree;
        let norm = self.ryy * 1.001 + 1e-20;
        if self.rey * self.rey / norm > MIN_SHARE * self.ree {
            let a = self.a + STEP * self.rey / norm;
            if a.is_finite() {
                // A loudspeaker compresses its peaks: `a ≤ 0` (see MAX_COEFFICIENT).
                self.a = a.min(MAX_COEFFICIENT);
            }
        }
    }

    /// One far-active block without near-end speech of the background filter `w`'s
    /// stationarity test: every SEGMENT_BLOCKS, whether its weights moved by less than
    /// CONVERGED_CHANGE of their energy since the last check (MOVING_CHANGE once converged).
    #[inline(always)]
    pub(super) fn observe(&mut self, w: &Weights) {
        self.seg_n += 1;
        if self.seg_n < SEGMENT_BLOCKS {
            return;
        }
        self.seg_n = 0;
        let (mut dw, mut ww) = (0.0f32, 0.0f32);
        for (a, b) in w.w.iter().zip(self.snap.iter_mut()) {
            dw += (*a - *b).norm_sqr();
            ww += a.norm_sqr();
            *b = *a;
        }
        let bound = if self.converged { MOVING_CHANGE } else { CONVERGED_CHANGE };
        self.converged = ww > 0.0 && dw < bound * ww;
    }

    /// Whether the background filter has converged (see `observe`), so `a` may learn.
    pub(super) fn ready(&self) -> bool {
        self.converged
    }

    /// The filters restarted from zero: the convergence test starts again (`a` is kept).
    pub(super) fn restart(&mut self) {
        self.seg_n = 0;
        self.snap.fill(Cpx::new(0.0, 0.0));
        self.converged = false;
    }

    /// Back to `a = 0` with empty history.
    pub(super) fn reset(&mut self) {
        self.restart();
        self.a = 0.0;
        self.m2 = 0.0;
        self.m4 = 0.0;
        self.ryy = 0.0;
        self.rey = 0.0;
        self.ree = 0.0;
        self.ryy_mean = 0.0;
        self.prev.fill(0.0);
        self.ring.fill(Cpx::new(0.0, 0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error the cubic branch explains with a positive sign (an expanding loudspeaker, or a
    /// linear filter's misadjustment) leaves `a` at 0 (MAX_COEFFICIENT); with a negative sign
    /// (a compressing one) `a` learns.
    #[test]
    fn the_coefficient_is_never_positive() {
        let hop = 160;
        let bins = hop + 1;
        for sign in [1.0f32, -1.0] {
            let mut sat = Saturation::new(hop, 2, 1);
            let mut fft = RealFft::new(2 * hop);
            let mut w = Weights::new(1, bins);
            w.w.fill(Cpx::new(1.0, 0.0));
            let (mut spec, mut ys) = (vec![Cpx::new(0.0, 0.0); bins], vec![0.0; 2 * hop]);
            for blk in 0..20 {
                let mut x: Vec<f32> = (0..hop).map(|i| 0.5 * ((blk * hop + i) as f32 * 0.05).sin()).collect();
                sat.shape(&mut x, &mut fft, 0);
                let ring = &sat.ring;
                w.filter(|_| &ring[..bins], &mut spec);
                fft.inverse(&spec, &mut ys);
                let e: Vec<f32> = ys[hop..].iter().map(|v| sign * v).collect();
                sat.learn(&w, |_| 0, &e, &mut fft);
            }
            let a = sat.coefficient();
            if sign > 0.0 {
                assert_eq!(a, 0.0);
            } else {
                assert!(a < -0.1, "{a}");
            }
        }
    }
}
