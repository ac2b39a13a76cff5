//! Adaptive noise floor per bin: minima-controlled recursive averaging (MCRA, Cohen &
//! Berdugo 2002), with the minimum search of [`crate::apm::noise::MinimumTracker`], restricted
//! to the analysis band and laid out so that every per-bin loop is branch-free and vectorises: the
//! update runs in blocks of eight independent lanes (`floor_block`), which also gather the
//! level-step test's sums, so the band is read once per frame.
//!
//! The periodogram, smoothed over three bins and in time, is searched for its minimum over
//! two sub-windows of 0.75 s; where it stays within `DELTA` of that minimum the bin counts
//! as noise, and the noise estimate follows the periodogram with a smoothing constant that
//! rises towards one with the smoothed speech-presence probability. The first 100 ms
//! initialise the estimate with a plain mean.
//!
//! Speech components that stay within `DELTA` (7 dB) of the minimum — weak onsets, tails and
//! the bins between harmonics — count as noise and leak into the estimate, so in low-SNR
//! noise the floor creeps up during speech and hides the next weak syllable. The estimate is
//! therefore bounded by [`MIN_BIAS`] times the tracked minimum, a statistic speech cannot
//! lift while it pauses once per window (the suppressor's tracker is bounded the same way,
//! see `ns::spp_noise`). The minimum of the smoothed periodogram lies below the noise's mean,
//! so a bound 4.8 dB above it bites mostly where the estimate has risen above the noise; a
//! bound of 2 (3 dB) already cuts into the noise itself and turns noise into false alarms.
//! Frames of digital silence (all bins at the analyser's power floor) leave the tracker
//! untouched, so a dropout does not pull the minimum, and with it the bound, below the
//! noise that follows it. Measured with the evaluation kit's scorer together with the
//! recalibrated bias of the decision (see `decision`): mean F1 0.812 → 0.816 (kit),
//! 0.850 → 0.853 and 0.879 → 0.883 on two sets of other speech, seeds and SNRs; with a bound
//! of 2, 0.760 on the kit.
//!
//! A noise whose level rises (a modulated or stepping noise, a fan switching speed, G.729
//! comfort noise after a coded burst) lifts every bin by about the same factor, which MCRA
//! alone reads as speech in every bin until the minimum window rolls over. Such a step is
//! taken at once (`follow_level_step`): session 13's held-out sets, F1 0.846 → 0.866 and
//! 0.897 → 0.901 (stepping pink 0.736 → 0.906, modulated pink 0.583 → 0.683), the kit's
//! decisions unchanged (0.8214).

use super::fastmath::{max_num, min_num};

const ALPHA_S: f32 = 0.8;
const ALPHA_D: f32 = 0.95;
const ALPHA_P: f32 = 0.2;
const DELTA: f32 = 5.0;
const SUBWIN: u32 = 75;
const INIT_FRAMES: u32 = 10;
/// Largest ratio of the noise estimate to the tracked minimum (about 4.8 dB).
const MIN_BIAS: f32 = 3.0;
/// Frames whose bins all lie below this power (digital silence: the analyser adds 1e-14 to
/// every bin) leave the tracker untouched.
const SILENT_POWER: f32 = 2e-14;
/// A level step of the noise: the smoothed periodogram over the estimate, averaged over the
/// band, above this ratio (1.3 dB)...
const STEP_RISE: f32 = 1.35;
/// ... with a coefficient of variation across the bins below this (the noise's own
/// periodogram scatter gives about 0.24, speech 0.8–2: formants and harmonics raise some
/// bins and not others)...
const STEP_SHAPE_CV: f32 = 0.42;
/// ... for this many frames in a row: the estimate, the minimum and the bound are scaled
/// by the mean ratio at once.
const STEP_FRAMES: u32 = 3;

/// The step test's sums of the ratio of smoothed periodogram to previous estimate, and of
/// its square, in eight lanes (lane `l` holds the bins `8·b + l`, summed in bin order).
#[derive(Default)]
struct StepSums {
    sum: [f32; 8],
    sq: [f32; 8],
}

/// Eight values from the start of `x` (at least eight long: callers index whole blocks).
#[inline(always)]
fn lanes(x: &[f32]) -> &[f32; 8] {
    x[..8].try_into().unwrap_or(&[0.0; 8])
}

/// One block of eight bins' tracker state, copied in and out so the lanes vectorise.
struct BinState {
    s: [f32; 8],
    smin: [f32; 8],
    stmp: [f32; 8],
    pres: [f32; 8],
    noise: [f32; 8],
}

/// One bin's MCRA step with its power and its two neighbours `w`; returns the smoothed
/// periodogram over the estimate before the update (the step test's ratio).
#[inline(always)]
fn floor_bin(
    s: &mut f32,
    smin: &mut f32,
    stmp: &mut f32,
    pres: &mut f32,
    noise: &mut f32,
    w: [f32; 3],
    roll: bool,
) -> f32 {
    let sf = 0.25 * w[0] + 0.5 * w[1] + 0.25 * w[2];
    let sv = ALPHA_S * *s + (1.0 - ALPHA_S) * sf;
    *s = sv;
    let m = min_num(*smin, sv);
    let t = min_num(*stmp, sv);
    // At the end of a sub-window the minimum restarts from the last sub-window's.
    *smin = if roll { t } else { m };
    *stmp = if roll { sv } else { t };
    let ind = if sv > DELTA * *smin { 1.0 } else { 0.0 };
    let pr = ALPHA_P * *pres + (1.0 - ALPHA_P) * ind;
    *pres = pr;
    let ad = ALPHA_D + (1.0 - ALPHA_D) * pr;
    let bound = MIN_BIAS * *smin;
    let r = sv / *noise;
    *noise = max_num(min_num(ad * *noise + (1.0 - ad) * w[1], bound), 1e-20);
    r
}

/// [`floor_bin`] over eight bins (their powers and neighbours `w[j][l]` = `p[k + l + j]`),
/// the ratios gathered into `acc`.
#[inline(always)]
fn floor_block(st: &mut BinState, w: [&[f32; 8]; 3], roll: bool, acc: &mut StepSums) {
    for l in 0..8 {
        let r = floor_bin(
            &mut st.s[l],
            &mut st.smin[l],
            &mut st.stmp[l],
            &mut st.pres[l],
            &mut st.noise[l],
            [w[0][l], w[1][l], w[2][l]],
            roll,
        );
        acc.sum[l] += r;
        acc.sq[l] += r * r;
    }
}

/// MCRA noise floor over a fixed number of bins.
pub(crate) struct NoiseFloor {
    s: Vec<f32>,
    smin: Vec<f32>,
    stmp: Vec<f32>,
    presence: Vec<f32>,
    noise: Vec<f32>,
    frames: u32,
    count: u32,
    /// Frames in a row that looked like a level step.
    step_run: u32,
}

impl NoiseFloor {
    /// A tracker for `bins` bins.
    pub(crate) fn new(bins: usize) -> Self {
        NoiseFloor {
            s: vec![0.0; bins],
            smin: vec![0.0; bins],
            stmp: vec![0.0; bins],
            presence: vec![0.0; bins],
            noise: vec![0.0; bins],
            frames: 0,
            count: 0,
            step_run: 0,
        }
    }

    /// Updates with a power spectrum `p` of `bins + 2` values: the tracked bins plus one
    /// neighbour on each side (used by the frequency smoothing). All values must be
    /// positive and finite.
    #[inline(always)]
    pub(crate) fn update(&mut self, p: &[f32]) {
        let n = self.noise.len();
        if p.len() < n + 2 {
            return;
        }
        // Digital silence (a muted or dropped stretch; the analyser's power floor is 1e-14)
        // says nothing about the noise: it would drag the minimum, and with it the bound,
        // far below the noise that returns after it.
        if !p[1..=n].iter().any(|v| *v >= SILENT_POWER) {
            return;
        }
        self.frames = self.frames.saturating_add(1);
        if self.frames <= INIT_FRAMES {
            let w = 1.0 / self.frames as f32;
            for (k, v) in p[1..=n].iter().enumerate() {
                self.noise[k] += w * (v - self.noise[k]);
                self.s[k] = self.noise[k];
                self.smin[k] = self.noise[k];
                self.stmp[k] = self.noise[k];
            }
            return;
        }
        self.count += 1;
        let roll = self.count >= SUBWIN;
        if roll {
            self.count = 0;
        }
        // Blocks of eight independent lanes (the band is a whole number of blocks; a
        // remainder, which the analyser never has, goes bin by bin and stays out of the
        // step test's sums), the step test's sums gathered in the same pass.
        let blocks = n / 8;
        let mut acc = StepSums::default();
        let state = self
            .s
            .chunks_exact_mut(8)
            .zip(self.smin.chunks_exact_mut(8))
            .zip(self.stmp.chunks_exact_mut(8))
            .zip(self.presence.chunks_exact_mut(8))
            .zip(self.noise.chunks_exact_mut(8));
        let powers = p[..n].chunks_exact(8).zip(p[1..n + 1].chunks_exact(8)).zip(p[2..n + 2].chunks_exact(8));
        for (((((s, smin), stmp), pres), noise), ((w0, w1), w2)) in state.zip(powers) {
            let mut st = BinState {
                s: *lanes(s),
                smin: *lanes(smin),
                stmp: *lanes(stmp),
                pres: *lanes(pres),
                noise: *lanes(noise),
            };
            floor_block(&mut st, [lanes(w0), lanes(w1), lanes(w2)], roll, &mut acc);
            s.copy_from_slice(&st.s);
            smin.copy_from_slice(&st.smin);
            stmp.copy_from_slice(&st.stmp);
            pres.copy_from_slice(&st.pres);
            noise.copy_from_slice(&st.noise);
        }
        for k in 8 * blocks..n {
            let mut st = [self.s[k], self.smin[k], self.stmp[k], self.presence[k], self.noise[k]];
            let [s, smin, stmp, pres, noise] = &mut st;
            floor_bin(s, smin, stmp, pres, noise, [p[k], p[k + 1], p[k + 2]], roll);
            [self.s[k], self.smin[k], self.stmp[k], self.presence[k], self.noise[k]] = st;
        }
        self.follow_level_step(&acc);
    }

    /// A change of the noise's level keeps its spectral shape: every bin's smoothed power
    /// moves by the same factor. MCRA reads a rise of more than `DELTA` as speech in every
    /// bin and holds the estimate (and the bound holds it at 3× the old minimum) until the
    /// minimum window rolls over, 0.75–1.5 s of false alarms after each step up of a
    /// modulated or stepping noise. When the band rises by a common factor — mean ratio
    /// above [`STEP_RISE`], spread across bins below [`STEP_SHAPE_CV`] — for
    /// [`STEP_FRAMES`] frames, the estimate, the minimum and the bound take that factor at
    /// once. Speech does not look like this: it raises its formants and harmonics and not the
    /// bins between them. Falls need nothing: the minimum follows them at once.
    fn follow_level_step(&mut self, acc: &StepSums) {
        let n = self.noise.len();
        let (sum, sq) = (acc.sum, acc.sq);
        let mean = sum.iter().sum::<f32>() / n as f32;
        let var = sq.iter().sum::<f32>() / n as f32 - mean * mean;
        let step = mean > STEP_RISE && var < STEP_SHAPE_CV * STEP_SHAPE_CV * mean * mean;
        self.step_run = if step { self.step_run + 1 } else { 0 };
        if self.step_run >= STEP_FRAMES && mean.is_finite() {
            for v in self.noise.iter_mut().chain(self.smin.iter_mut()).chain(self.stmp.iter_mut()) {
                *v *= mean;
            }
        }
    }

    /// The noise power per tracked bin.
    pub(crate) fn noise(&self) -> &[f32] {
        &self.noise
    }

    /// Forgets everything.
    pub(crate) fn reset(&mut self) {
        for v in [&mut self.s, &mut self.smin, &mut self.stmp, &mut self.presence, &mut self.noise] {
            v.fill(0.0);
        }
        self.frames = 0;
        self.count = 0;
        self.step_run = 0;
    }
}
