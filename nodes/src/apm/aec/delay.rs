//! Far-end → microphone delay estimation at block (10 ms) resolution.
//!
//! Both signals are reduced per block to log band energies (24 bands between 300 Hz and
//! 3.8 kHz or 0.45·fs), high-passed in time (each band minus its slow running mean), and the
//! normalised cross-correlation of these envelope fluctuations is accumulated per candidate
//! lag with exponential forgetting while the far end is active or was, within the longest lag
//! (the echo of a word can reach the microphone after the far end has paused again: a sparse
//! far end with a long delay would otherwise never show its echo). The best lag is adopted once
//! its correlation is clearly ahead of the current one for a hold time, so the estimate follows
//! genuine path changes but ignores double-talk blips. When the canceller detects that the
//! echo path has changed, [`DelayEstimator::forget`] drops the old evidence so that a new
//! delay is adopted quickly (on a wider lead for the first half second of new evidence).
//!
//! A silent far end carries no envelope information: its blocks enter the history as zero
//! fluctuation and do not move the far end's running mean. Otherwise the far end's return
//! after a pause (digital silence is ~16 nepers below speech in every band) is a step that
//! outweighs seconds of ordinary envelope fluctuations, and a near-end onset in the
//! microphone a few blocks later (double talk) made a lag of 20 ms win over the true 500 ms:
//! the weights shifted out of the filter and the canceller lost 30 dB for the rest of the
//! call. (Bounding every fluctuation to ±3 nepers as well was tried: it biased the estimate
//! 20 ms late in reverberant rooms, where the onsets carry the direct path.)
//!
//! The canceller can [hold](DelayEstimator::set_hold) the estimate: evidence keeps
//! accumulating, but no new lag is adopted. It does so while the near-end detector sees
//! near-end speech after the filters have converged, or while a converged filter's restart is
//! relearnt and the new filter confirms the window (see the parent module).

/// Number of analysis bands.
pub const BANDS: usize = 24;

/// Blocks of evidence (0.5 s) after [`DelayEstimator::forget`] during which a lag must lead
/// the current estimate by THIN_EVIDENCE_MARGIN, not the usual 0.08, to be adopted.
const FORGET_MIN_EVIDENCE_BLOCKS: u32 = 50;
/// The normalised-correlation lead a lag needs over the current estimate while the evidence
/// since the last forget is thin (FORGET_MIN_EVIDENCE_BLOCKS). Right after a restart the
/// correlations hold a few blocks, mostly the near end's in double talk, and a lag that led by
/// 0.08 for the 25-block hold could win on chance: held-out h1 `d200_pathchange` (the room
/// changes inside double talk, the bulk delay stays at 200 ms) moved the window from 190 to
/// 230 ms 32 blocks after the restart with the Kalman update's far end (the sub-block delay
/// makes its envelopes differ slightly), and the filter then learnt the new room without its
/// direct path, about 35 ms before the window, for the rest of the file (late ERLE 29 → 6 dB,
/// double-talk PESQ-WB 1.89 → 1.27; session 31). A clear jump of the bulk delay leads by more
/// and is followed as before (`apm_aec` `echo_path_change_recovers`: holding every move for
/// the first 50 blocks instead left one realisation at 2.9 dB 1–3 s after a 110 → 260 ms jump).
const THIN_EVIDENCE_MARGIN: f32 = 0.15;

/// Block-resolution delay estimator.
#[derive(Clone, Debug)]
pub struct DelayEstimator {
    band_edges: [usize; BANDS + 1],
    far_hist: Vec<[f32; BANDS]>,
    hist_pos: usize,
    far_mean: [f32; BANDS],
    mic_mean: [f32; BANDS],
    corr: Vec<f32>,
    pfar: Vec<f32>,
    pmic: f32,
    current: Option<usize>,
    candidate: usize,
    cand_count: u32,
    updates: u32,
    far_seen: bool,
    /// Blocks since the far end was last active (saturating).
    far_quiet: usize,
    lambda: f32,
    /// While set, no new lag is adopted (evidence still accumulates).
    hold: bool,
    /// Blocks of evidence accumulated since the last [`DelayEstimator::forget`] (saturating;
    /// `u32::MAX` when never forgotten).
    since_forget: u32,
}

impl DelayEstimator {
    /// An estimator for spectra of `bins` bins at `rate` Hz, looking at lags `0..max_lag`
    /// blocks.
    pub fn new(rate: u32, bins: usize, max_lag: usize) -> Self {
        let hz_per_bin = rate as f32 / 2.0 / (bins - 1) as f32;
        let hi = 3800f32.min(0.45 * rate as f32);
        let mut band_edges = [0usize; BANDS + 1];
        for (b, e) in band_edges.iter_mut().enumerate() {
            let f = 300.0 + (hi - 300.0) * b as f32 / BANDS as f32;
            *e = ((f / hz_per_bin) as usize).clamp(1, bins - 1);
        }
        for b in 1..=BANDS {
            if band_edges[b] <= band_edges[b - 1] {
                band_edges[b] = (band_edges[b - 1] + 1).min(bins);
            }
        }
        let max_lag = max_lag.max(1);
        DelayEstimator {
            band_edges,
            far_hist: vec![[0.0; BANDS]; max_lag],
            hist_pos: 0,
            far_mean: [0.0; BANDS],
            mic_mean: [0.0; BANDS],
            corr: vec![0.0; max_lag],
            pfar: vec![1e-9; max_lag],
            pmic: 1e-9,
            current: None,
            candidate: 0,
            cand_count: 0,
            updates: 0,
            far_seen: false,
            far_quiet: usize::MAX,
            lambda: 0.995,
            hold: false,
            since_forget: u32::MAX,
        }
    }

    fn bands(&self, power: &[f32], out: &mut [f32; BANDS]) {
        for (b, o) in out.iter_mut().enumerate() {
            let (lo, hi) = (self.band_edges[b], self.band_edges[b + 1].max(self.band_edges[b] + 1));
            let s: f32 = power[lo..hi.min(power.len())].iter().sum();
            *o = (s + 1e-10).ln();
        }
    }

    /// Feeds one block: far and mic power spectra, and whether the far end is active.
    /// Returns the current delay estimate in blocks (None until one is established).
    #[inline(always)]
    pub fn update(&mut self, far_power: &[f32], mic_power: &[f32], far_active: bool) -> Option<usize> {
        let mut f = [0.0f32; BANDS];
        let mut m = [0.0f32; BANDS];
        self.bands(far_power, &mut f);
        self.bands(mic_power, &mut m);
        let a = 0.98;
        let first_far = far_active && !self.far_seen;
        self.far_seen |= far_active;
        for b in 0..BANDS {
            if self.updates == 0 {
                self.mic_mean[b] = m[b];
            }
            if first_far {
                self.far_mean[b] = f[b];
            }
            self.mic_mean[b] = a * self.mic_mean[b] + (1.0 - a) * m[b];
            m[b] -= self.mic_mean[b];
            if far_active {
                self.far_mean[b] = a * self.far_mean[b] + (1.0 - a) * f[b];
                f[b] -= self.far_mean[b];
            } else {
                f[b] = 0.0;
            }
        }
        let n = self.far_hist.len();
        self.far_hist[self.hist_pos] = f;
        self.updates = self.updates.saturating_add(1);
        self.far_quiet = if far_active { 0 } else { self.far_quiet.saturating_add(1) };
        // Evidence accumulates while some far-end block in the history can still be echoing:
        // with a sparse far end (words between pauses) and a long delay, the echo of a word
        // reaches the microphone while the far end is already quiet again.
        if self.far_quiet < n {
            let l = self.lambda;
            self.since_forget = self.since_forget.saturating_add(1);
            self.pmic = l * self.pmic + (1.0 - l) * m.iter().map(|v| v * v).sum::<f32>();
            for lag in 0..n {
                let h = &self.far_hist[(self.hist_pos + n - lag) % n];
                let mut c = 0.0;
                let mut p = 0.0;
                for b in 0..BANDS {
                    c += h[b] * m[b];
                    p += h[b] * h[b];
                }
                self.corr[lag] = l * self.corr[lag] + (1.0 - l) * c;
                self.pfar[lag] = l * self.pfar[lag] + (1.0 - l) * p;
            }
            let (mut best, mut best_rho) = (0usize, f32::MIN);
            for lag in 0..n {
                let rho = self.rho(lag);
                if rho > best_rho {
                    best_rho = rho;
                    best = lag;
                }
            }
            let cur_rho = self.current.map_or(0.0, |c| self.rho(c));
            let held = self.hold && self.current.is_some();
            // A wider margin on the thin evidence right after a forget (THIN_EVIDENCE_MARGIN).
            let margin = if self.since_forget < FORGET_MIN_EVIDENCE_BLOCKS { THIN_EVIDENCE_MARGIN } else { 0.08 };
            let better = !held && best_rho > 0.25 && Some(best) != self.current && best_rho > cur_rho + margin;
            if better {
                if best == self.candidate {
                    self.cand_count += 1;
                } else {
                    self.candidate = best;
                    self.cand_count = 1;
                }
                let hold = if self.current.is_none() { 10 } else { 25 };
                if self.cand_count >= hold {
                    self.current = Some(best);
                    self.cand_count = 0;
                }
            } else {
                self.cand_count = 0;
            }
        }
        self.hist_pos = (self.hist_pos + 1) % n;
        self.current
    }

    fn rho(&self, lag: usize) -> f32 {
        self.corr[lag] / (self.pfar[lag] * self.pmic).sqrt().max(1e-12)
    }

    /// Holds the current estimate (`true`) or lets it follow the evidence again (`false`).
    /// While held, correlations keep accumulating but no new lag is adopted; the first
    /// estimate is always adopted.
    ///
    /// ```
    /// use rvoip_media_nodes::apm::aec::DelayEstimator;
    /// let mut d = DelayEstimator::new(16_000, 161, 64);
    /// d.set_hold(true);
    /// assert_eq!(d.update(&[1.0; 161], &[1.0; 161], true), None);
    /// ```
    pub fn set_hold(&mut self, hold: bool) {
        self.hold = hold;
    }

    /// Whether the estimate is held (see [`DelayEstimator::set_hold`]).
    #[cfg(test)]
    pub(super) fn held(&self) -> bool {
        self.hold
    }

    /// The current estimate in blocks.
    pub fn delay(&self) -> Option<usize> {
        self.current
    }

    /// Normalised correlation at the current estimate (0 without one).
    pub fn confidence(&self) -> f32 {
        self.current.map_or(0.0, |c| self.rho(c))
    }

    /// Forgets the accumulated correlations but keeps the current estimate until a new one is
    /// established: called when the echo path is known to have changed, so that the new
    /// delay is found within a few hundred milliseconds instead of waiting for the old
    /// evidence to fade (a time constant of two seconds). For the first half second of new
    /// evidence a lag needs a wider lead to be adopted (a chance lead on a few blocks moved a
    /// correct window).
    pub fn forget(&mut self) {
        self.corr.fill(0.0);
        self.pfar.fill(1e-9);
        self.pmic = 1e-9;
        self.cand_count = 0;
        self.since_forget = 0;
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.far_hist.iter_mut().for_each(|h| *h = [0.0; BANDS]);
        self.hist_pos = 0;
        self.corr.fill(0.0);
        self.pfar.fill(1e-9);
        self.pmic = 1e-9;
        self.current = None;
        self.cand_count = 0;
        self.updates = 0;
        self.far_seen = false;
        self.far_quiet = usize::MAX;
        self.since_forget = u32::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks until the estimate is `delay` (± 1 block), for a far end of `word` active blocks
    /// in every 100 whose echo reaches the microphone `delay` blocks later; `None` if never
    /// within 30 s.
    fn blocks_to_lock(word: usize, delay: usize) -> Option<usize> {
        let bins = 161;
        let mut d = DelayEstimator::new(16_000, bins, 50);
        let mut far = far_spectra(0x1357_9bdf, 3000, bins);
        for t in 0..far.len() {
            let active = t % 100 < word;
            if !active {
                far[t].fill(0.0);
            }
            let mic: Vec<f32> = match t.checked_sub(delay) {
                Some(s) => far[s].iter().map(|p| 0.1 * p + 1e-6).collect(),
                None => vec![1e-6; bins],
            };
            if d.update(&far[t], &mic, active).is_some_and(|e| e.abs_diff(delay) <= 1) {
                return Some(t);
            }
        }
        None
    }

    #[test]
    fn a_sparse_far_end_with_a_delay_longer_than_its_words_is_found() {
        // Words of 300 ms, 700 ms pauses, 380 ms of delay: the echo of every word reaches the
        // microphone while the far end is quiet again.
        let t = blocks_to_lock(30, 38).expect("locks on the sparse far end");
        assert!(t < 600, "locked after {t} blocks");
        // A continuous far end locks as before.
        assert!(blocks_to_lock(100, 38).is_some_and(|t| t < 200));
    }

    /// Random far-end power spectra (`bins` bins, constant over groups of 8) for `blocks`
    /// blocks, from `seed`.
    fn far_spectra(mut seed: u32, blocks: usize, bins: usize) -> Vec<Vec<f32>> {
        (0..blocks)
            .map(|_| {
                (0..bins)
                    .map(|k| {
                        if k % 8 == 0 {
                            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        }
                        1.0 + 9.0 * (seed >> 8) as f32 / (1u32 << 24) as f32
                    })
                    .collect()
            })
            .collect()
    }

    /// Blocks after a `forget` (at 10 s of a 20-block delay) until the estimate moves to 26
    /// blocks, with the echo arriving `late` times as strong at 26 blocks as at 20 from then
    /// on; `None` if not within 4 s.
    fn blocks_to_move_after_forget(late: f32) -> Option<usize> {
        let (bins, first) = (161, 1000);
        let far = far_spectra(0x2468_ace1, first + 400, bins);
        let mut d = DelayEstimator::new(16_000, bins, 50);
        for t in 0..far.len() {
            let mic: Vec<f32> = (0..bins)
                .map(|k| {
                    let at = |l: usize| t.checked_sub(l).map_or(0.0, |s| far[s][k]);
                    let echo = if t < first { at(20) } else { at(20) + late * at(26) };
                    0.1 * echo + 1e-6
                })
                .collect();
            if t == first {
                assert_eq!(d.delay(), Some(20));
                d.forget();
            }
            if d.update(&far[t], &mic, true) == Some(26) {
                return Some(t - first);
            }
        }
        None
    }

    #[test]
    fn after_forget_a_thin_lead_does_not_move_the_estimate() {
        // Echo 1.6 times as strong at the new lag as at the old one: before session 31 it was
        // adopted after 40 blocks of evidence (a lead of 0.08 is enough there), now once the
        // thin-evidence margin has passed (FORGET_MIN_EVIDENCE_BLOCKS).
        let modest = blocks_to_move_after_forget(1.6).expect("adopted");
        assert!(modest >= FORGET_MIN_EVIDENCE_BLOCKS as usize, "adopted after {modest} blocks");
        // A clear lead (3 times as strong) is adopted as quickly as before (38 blocks).
        let clear = blocks_to_move_after_forget(3.0).expect("adopted");
        assert!(clear < 45, "adopted after {clear} blocks");
    }
}
