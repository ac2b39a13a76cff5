//! Impulsive-noise (click) suppression ahead of the stationary noise suppressor.
//!
//! Keyboard clicks, taps and similar impulses are broadband bursts of a few milliseconds that
//! rise within a millisecond from the background and decay as fast. A stationary noise
//! estimator cannot follow them, and the speech-presence gain takes them for speech, so they
//! pass at full level — and they are what dominates the perceived quality of such a
//! recording.
//!
//! **Detection** works on the time envelope inside the analysis window, at 1 ms resolution:
//! the energy of the first difference of the input (which weights the high frequencies, where
//! impulses stand out from voiced speech) is summed per 1 ms block. A block is an impulse
//! onset when it is both
//!
//! * *isolated*: above (6–12 dB, soft) the largest block of the 2–15 ms before it.
//!   Voiced speech is itself a train of glottal pulses, but each pulse is preceded by a
//!   similar one one pitch period (≤ 14 ms) earlier, so it is not isolated; sustained sounds
//!   and stationary noise are not either; and
//! * *concentrated*: 2–4 times (soft) the mean block energy of the analysis window (20 or
//!   30 ms), i.e. one event that dominates the window rather than the first pulse of a voiced
//!   onset that the rest of the window continues.
//!
//! The frame's impulse strength `d ∈ [0, 1]` is the largest product of the two soft scores
//! over the blocks of the window and the 6 ms before it (an impulse whose onset fell just
//! before the window still fills its start). No lookahead beyond the window is needed: every
//! impulse lies in two (or, with a 30 ms window, three) consecutive windows and is found in
//! each.
//!
//! **Activity gate**: speech has isolated impulses of its own — plosive bursts, the first
//! glottal pulse of a word after silence, lip and tongue clicks — and removing those is
//! audible. What sets impulsive *noise* apart is that it recurs. The limiter is therefore
//! enabled only while impulses have been recurring: rising edges of the strength are
//! counted with a 2 s leak, and the strength is scaled by a ramp from 2 to 4 counted
//! impulses (1–2 per second). Only *clear* impulses count: those that also decay back into
//! the background, i.e. whose continuation 3–12 ms later is not both within 6–12 dB of the
//! onset and 4–10 dB above the level before it (which is what a starting sound looks like).
//! Isolated words spoken in a quiet room leave the gate closed; typing opens it within about
//! half a second. Only *broadband* impulses count either: a click spreads its energy up to the
//! top of the band, while a talker's own bursts — plosives, lip clicks, the first glottal pulse —
//! hold theirs under 2–3 kHz. The onset block's centroid is read from the ratio of its
//! first-difference energy to its energy (`4·sin²(π·f/fs)` for a component at `f`: +3 dB for
//! white noise, −2.3 dB at 2 kHz at 16 kHz), and it counts fully from `BROAD_HI_HZ` up, not
//! at all under `BROAD_LO_HZ`. Recorded talkers close to the microphone (the echo canceller's
//! near end at 25–30 dB SNR) produce 1–2 such bursts a second, which opened the gate and let
//! the limiter cut their onsets to the background; their bursts' median ratio is −4.7 dB against
//! +2.1 dB for keyboard clicks (session 35). A clear impulse a little under that ramp (between
//! `DECAYING_BROAD_LO_HZ` and `DECAYING_BROAD_HI_HZ`) still counts, late, if it is not followed by
//! sound: when the loudest 1 ms block 15–80 ms after its onset stays under the onset block
//! (`DECAY_LO_DB`…`DECAY_HI_DB`). A keystroke is over by then; a plosive or a lip click leads into
//! the word it starts. The count arrives 80 ms late, which the 2 s gate does not notice, and it
//! lets a keyboard whose first strokes are a little darker (a click over speech, a softer key)
//! open the gate sooner.
//!
//! **Suppression** caps the spectrum at the recent spectrum: each bin's power (smoothed over
//! three bins) is limited to [`MARGIN`] times a fast recursive average (~25 ms) of the capped
//! spectra of the previous frames, with the gain raised to the power of the gated strength
//! so that weak detections act weakly. In a pause the impulse is brought down to the
//! background, which the noise suppressor then attenuates like the rest; under speech only the
//! bins where the impulse exceeds the speech are touched, and only down to the speech's own
//! level. The noise tracker and the decision-directed SNR downstream see the capped spectrum,
//! so the impulses do not leak into them either.

use super::fastmath::{fast_exp, fast_ln};

/// Blocks (1 ms) of history needed before a block for its isolation.
const HIST: usize = 15;
/// Blocks before the analysis window searched for an impulse onset.
const BACK: usize = 6;
/// Ring size for the block energies (power of two ≥ HIST + BACK + the longest window, 40
/// blocks, + SUSTAIN_TO, and > DECAY_TO + a frame's blocks, 10, for the decay test).
const RING: usize = 128;
/// Isolation score ramp, dB above the largest block of the preceding 2–15 ms.
const ISO_LO_DB: f32 = 6.0;
const ISO_HI_DB: f32 = 12.0;
/// Concentration score ramp, block energy over the window's mean block energy.
const CONC_LO: f32 = 2.0;
const CONC_HI: f32 = 4.0;
/// Blocks after an onset searched for its continuation (3..=12 ms).
const SUSTAIN_FROM: usize = 3;
const SUSTAIN_TO: usize = 12;
/// Sustain ramps: the continuation's level relative to the onset block and relative to the
/// level before the onset, dB.
const SUS_PEAK_LO_DB: f32 = -12.0;
const SUS_PEAK_HI_DB: f32 = -6.0;
const SUS_BG_LO_DB: f32 = 4.0;
const SUS_BG_HI_DB: f32 = 10.0;
/// Leak of the impulse count per 10 ms frame (time constant 2 s).
const ACTIVITY_DECAY: f32 = 0.995;
/// Impulse-count ramp (clear impulses within ~2 s) over which the limiter is enabled.
const ACTIVITY_LO: f32 = 2.0;
const ACTIVITY_HI: f32 = 4.0;
/// Broadband ramp of a clear impulse (module docs): the onset block's spectral centroid, as
/// its first-difference energy over its energy reads it, from which the impulse counts not at
/// all (Hz at 16 kHz and above; scaled with the rate below 16 kHz, where white noise's
/// centroid, a quarter of the rate, falls under it) …
const BROAD_LO_HZ: f32 = 2100.0;
/// … to where it counts fully.
const BROAD_HI_HZ: f32 = 2700.0;
/// The lower broadband ramp of a clear impulse that is not followed by sound (module docs):
/// counts not at all under …
const DECAYING_BROAD_LO_HZ: f32 = 1500.0;
/// … fully from.
const DECAYING_BROAD_HI_HZ: f32 = 2000.0;
/// Blocks after an onset searched for the sound that follows it (15..=80 ms).
const DECAY_FROM: usize = 15;
const DECAY_TO: usize = 80;
/// Decay ramp: the loudest block 15–80 ms after the onset against the onset block, dB, from
/// which the late count is 0 …
const DECAY_HI_DB: f32 = 3.0;
/// … to where it is 1.
const DECAY_LO_DB: f32 = 0.0;
/// Onsets awaiting their decay test at most (one per rising edge, so one per two frames at most:
/// 80 ms hold at most 5).
const PENDING: usize = 8;
/// Recursive averaging of the reference spectrum per 10 ms frame.
const REF_ALPHA: f32 = 0.6;
/// How far above the reference spectrum a frame with an impulse may go (power ratio).
pub(crate) const MARGIN: f32 = 1.0;

/// The first-difference-over-energy ratio of a component at `hz` (`4·sin²(π·hz/rate)`), dB.
fn difference_gain_db(hz: f32, rate: f32) -> f32 {
    let s = (std::f32::consts::PI * hz / rate).sin();
    10.0 * (4.0 * s * s).max(1e-10).log10()
}

/// A broadband ramp's ends `(lo, hi)` (Hz at 16 kHz) in that ratio at `rate`, scaled with the rate
/// below 16 kHz.
fn broadband_ends_db(lo: f32, hi: f32, rate: f32) -> (f32, f32) {
    let scale = (rate / 16_000.0).min(1.0);
    (difference_gain_db(lo * scale, rate), difference_gain_db(hi * scale, rate))
}

/// 0 below `lo`, 1 above `hi`, linear between.
#[inline]
fn ramp(x: f32, lo: f32, hi: f32) -> f32 {
    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// Detector and spectral limiter for impulsive noise. See the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct TransientSuppressor {
    /// Samples per 1 ms block.
    block: usize,
    /// Blocks per frame (10).
    per_frame: usize,
    /// Frames per analysis window.
    window_frames: usize,
    /// Block energies of the first difference, ring indexed by the absolute block number.
    energy: [f32; RING],
    /// Isolation of each block, dB, same ring.
    iso_db: [f32; RING],
    /// The input's energy of each block, same ring (`energy` over it: [`Self::diff_db`]).
    level: [f32; RING],
    /// The broadband ramp's ends in that ratio at this rate (see BROAD_LO_HZ), dB.
    broad_db: (f32, f32),
    /// The lower ramp's ends for impulses not followed by sound (see DECAYING_BROAD_LO_HZ), dB.
    decaying_db: (f32, f32),
    /// Onset blocks of clear impulses under the broadband ramp but over the lower one, awaiting
    /// their decay test; `pending_len` of them are valid.
    pending: [usize; PENDING],
    pending_len: usize,
    /// Blocks seen so far.
    blocks: usize,
    /// Last input sample of the previous frame (for the difference).
    last: f32,
    /// Reference (recent capped) power spectrum, smoothed over three bins.
    reference: Vec<f32>,
    /// Smoothed power of the current frame.
    smooth: Vec<f32>,
    /// Gated impulse strength of the last frame.
    strength: f32,
    /// Clear-impulse strength of the last frame (the gate's evidence).
    clear: f32,
    /// The same with the lower broadband ramp (the evidence awaiting the decay test).
    decaying: f32,
    /// Clear impulses counted over the last ~2 s (leaky).
    activity: f32,
    frames: u32,
}

impl TransientSuppressor {
    /// A suppressor for frames of `hop` samples (10 ms), analysis windows of `window_frames`
    /// frames and `bins` spectrum bins.
    pub(crate) fn new(hop: usize, bins: usize, window_frames: usize) -> Self {
        let block = (hop / 10).max(1);
        let rate = (hop * 100) as f32;
        TransientSuppressor {
            block,
            per_frame: hop / block,
            window_frames: window_frames.max(1),
            energy: [0.0; RING],
            iso_db: [0.0; RING],
            level: [0.0; RING],
            broad_db: broadband_ends_db(BROAD_LO_HZ, BROAD_HI_HZ, rate),
            decaying_db: broadband_ends_db(DECAYING_BROAD_LO_HZ, DECAYING_BROAD_HI_HZ, rate),
            pending: [0; PENDING],
            pending_len: 0,
            blocks: 0,
            last: 0.0,
            reference: vec![0.0; bins],
            smooth: vec![0.0; bins],
            strength: 0.0,
            clear: 0.0,
            decaying: 0.0,
            activity: 0.0,
            frames: 0,
        }
    }

    /// Gated impulse strength of the last frame, 0 (none) … 1 (a clear impulse).
    pub(crate) fn strength(&self) -> f32 {
        self.strength
    }

    /// Analyses the newest `hop` input samples (finite) and returns the frame's gated impulse
    /// strength; the analysis window is those samples and the `window_frames − 1` hops before
    /// them.
    pub(crate) fn detect(&mut self, new: &[f32]) -> f32 {
        let mut prev = self.last;
        for blk in new.chunks_exact(self.block) {
            let (mut e, mut raw) = (1e-10f32, 1e-10f32);
            for &v in blk {
                let d = v - prev;
                e += d * d;
                raw += v * v;
                prev = v;
            }
            let b = self.blocks;
            self.energy[b % RING] = e;
            self.level[b % RING] = raw;
            // Isolation against the largest block 2..=HIST blocks back (the ring index wraps
            // consistently because RING divides 2^64).
            let mut before = 1e-10f32;
            for j in 2..=HIST {
                before = before.max(self.energy[b.wrapping_sub(j) % RING]);
            }
            self.iso_db[b % RING] = if b >= HIST { 10.0 * (e / before).log10() } else { 0.0 };
            self.blocks += 1;
        }
        self.last = prev;
        // The window: the last `window_frames` frames' blocks; onsets searched from BACK blocks
        // earlier.
        let win = self.window_frames * self.per_frame;
        let end = self.blocks;
        if end < win + BACK + HIST {
            self.strength = 0.0;
            return 0.0;
        }
        let mean = (end - win..end).map(|b| self.energy[b % RING]).sum::<f32>() / win as f32;
        // `d`: impulse strength; `clear`: the same for impulses that also pass the sustain
        // and broadband tests (the evidence counted by the activity gate); `decaying`: the same
        // with the lower broadband ramp (counted once its decay test passes), at block
        // `decaying_at`. `decaying ≥ clear`, so skipping the blocks with `s ≤ clear` loses no
        // candidate for either.
        let (mut d, mut clear, mut decaying, mut decaying_at) = (0.0f32, 0.0f32, 0.0f32, 0usize);
        for b in end - win - BACK..end {
            let e = self.energy[b % RING];
            let iso_db = self.iso_db[b % RING];
            let s = ramp(iso_db, ISO_LO_DB, ISO_HI_DB) * ramp(e / mean, CONC_LO, CONC_HI);
            if s <= clear {
                continue;
            }
            d = d.max(s);
            // Sustain: an onset whose continuation stays near its peak and well above the
            // level before it is a sound starting (a voiced onset, a plosive), not an impulse
            // that decays back into the background.
            let (a, z) = (b + SUSTAIN_FROM, (b + SUSTAIN_TO).min(end - 1));
            if a <= z {
                let after = (a..=z).map(|j| self.energy[j % RING]).fold(0.0f32, f32::max);
                let vs_peak = 10.0 * (after / e).log10();
                let vs_before = vs_peak + iso_db;
                let starting =
                    ramp(vs_peak, SUS_PEAK_LO_DB, SUS_PEAK_HI_DB) * ramp(vs_before, SUS_BG_LO_DB, SUS_BG_HI_DB);
                let diff_db = self.diff_db(b);
                let clean = s * (1.0 - starting);
                clear = clear.max(clean * ramp(diff_db, self.broad_db.0, self.broad_db.1));
                let lower = clean * ramp(diff_db, self.decaying_db.0, self.decaying_db.1);
                if lower > decaying {
                    (decaying, decaying_at) = (lower, b);
                }
            }
        }
        // Impulse activity: rising edges of the clear-impulse strength, counted over ~2 s; a
        // rising edge of the lower-ramp strength alone counts once its decay test is done.
        self.activity *= ACTIVITY_DECAY;
        if clear > 0.5 && self.clear <= 0.5 {
            self.activity += 1.0;
        } else if clear <= 0.5 && decaying > 0.5 && self.decaying <= 0.5 && self.pending_len < PENDING {
            self.pending[self.pending_len] = decaying_at;
            self.pending_len += 1;
        }
        self.activity += self.decayed_onsets();
        self.clear = clear;
        self.decaying = decaying;
        self.strength = d * ramp(self.activity, ACTIVITY_LO, ACTIVITY_HI);
        self.strength
    }

    /// Block `b`'s first-difference energy over its energy, dB (the broadband ramps' reading of
    /// its spectral centroid; module docs).
    fn diff_db(&self, b: usize) -> f32 {
        10.0 * (self.energy[b % RING] / self.level[b % RING]).log10()
    }

    /// Removes the pending onsets whose decay window (DECAY_FROM..=DECAY_TO blocks on) has been
    /// seen and returns their counts: each by the decay ramp on the loudest block of that window
    /// against the onset block.
    fn decayed_onsets(&mut self) -> f32 {
        let mut count = 0.0;
        let mut kept = 0;
        for i in 0..self.pending_len {
            let b = self.pending[i];
            if b + DECAY_TO < self.blocks {
                let after = (b + DECAY_FROM..=b + DECAY_TO).map(|j| self.level[j % RING]).fold(0.0f32, f32::max);
                let follow_db = 10.0 * (after / self.level[b % RING]).log10();
                count += ramp(follow_db, DECAY_HI_DB, DECAY_LO_DB);
            } else {
                self.pending[kept] = b;
                kept += 1;
            }
        }
        self.pending_len = kept;
        count
    }

    /// Limits `power` to the reference spectrum according to the strength found by
    /// [`detect`](Self::detect): writes the amplitude gains to `gain` (all 1 without an
    /// impulse), scales `power` by their squares and updates the reference.
    #[inline(always)]
    pub(crate) fn limit(&mut self, power: &mut [f32], gain: &mut [f32]) {
        let bins = power.len().min(gain.len()).min(self.smooth.len());
        if bins < 2 {
            gain.fill(1.0);
            return;
        }
        let power = &mut power[..bins];
        let smooth = &mut self.smooth[..bins];
        smooth[0] = 0.75 * power[0] + 0.25 * power[1];
        for k in 1..bins - 1 {
            smooth[k] = 0.25 * power[k - 1] + 0.5 * power[k] + 0.25 * power[k + 1];
        }
        smooth[bins - 1] = 0.25 * power[bins - 2] + 0.75 * power[bins - 1];
        self.frames = self.frames.saturating_add(1);
        let reference = &mut self.reference[..bins];
        let gain = &mut gain[..bins];
        if self.frames == 1 {
            reference.copy_from_slice(smooth);
        }
        let d = self.strength;
        if d > 0.0 {
            let ln_margin = MARGIN.ln();
            for ((g, &s), &r) in gain.iter_mut().zip(smooth.iter()).zip(reference.iter()) {
                // min(1, sqrt(MARGIN·ref/power))^d, in the log domain.
                *g = fast_exp(0.5 * d * (ln_margin + fast_ln(r + 1e-30) - fast_ln(s + 1e-30)).min(0.0));
            }
            for ((p, s), &g) in power.iter_mut().zip(smooth.iter_mut()).zip(gain.iter()) {
                let g2 = g * g;
                *p *= g2;
                *s *= g2;
            }
        } else {
            gain.fill(1.0);
        }
        for (r, &s) in reference.iter_mut().zip(smooth.iter()) {
            *r = REF_ALPHA * *r + (1.0 - REF_ALPHA) * s;
        }
    }

    /// Forgets all state.
    pub(crate) fn reset(&mut self) {
        self.energy = [0.0; RING];
        self.iso_db = [0.0; RING];
        self.level = [0.0; RING];
        self.pending_len = 0;
        self.blocks = 0;
        self.last = 0.0;
        self.reference.fill(0.0);
        self.smooth.fill(0.0);
        self.strength = 0.0;
        self.clear = 0.0;
        self.decaying = 0.0;
        self.activity = 0.0;
        self.frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::SplitMix64;

    /// Strength per 10 ms frame (16 kHz) of a signal.
    fn strengths(x: &[f32]) -> Vec<f32> {
        let mut t = TransientSuppressor::new(160, 161, 2);
        x.chunks_exact(160).map(|c| t.detect(c)).collect()
    }

    #[test]
    fn voiced_pulse_trains_are_not_impulses() {
        // A 125 Hz train of damped 700 Hz resonances (a crude vowel) over faint noise, with a
        // silent lead-in so that its onset is also seen: never gated in.
        let mut s = SplitMix64::new(1);
        let x: Vec<f32> = (0..48_000)
            .map(|n| {
                let k = n % 128;
                let v = if n >= 16_000 {
                    0.3 * (-(k as f32) / 32.0).exp() * (2.0 * std::f32::consts::PI * 700.0 * k as f32 / 16_000.0).sin()
                } else {
                    0.0
                };
                v + 1e-4 * s.bipolar()
            })
            .collect();
        let d = strengths(&x);
        assert!(d.iter().all(|v| *v == 0.0), "max {}", d.iter().fold(0.0f32, |a, b| a.max(*b)));
    }

    #[test]
    fn recurring_clicks_open_the_gate_and_only_their_frames_are_limited() {
        let mut s = SplitMix64::new(7);
        let mut x: Vec<f32> = (0..48_000).map(|_| 1e-4 * s.bipolar()).collect();
        // About seven clicks per second.
        let onsets: Vec<usize> = (0..14).map(|i| 1000 + i * 2200).collect();
        for &o in &onsets {
            for i in 0..160 {
                x[o + i] += 0.5 * s.bipolar() * (-(i as f32) / 32.0).exp();
            }
        }
        let d = strengths(&x);
        // The first click is not gated in (no activity yet)...
        assert!(d[..(onsets[0] + 320) / 160].iter().all(|v| *v == 0.0));
        // ...but from the sixth on (0.7 s) every click is limited at full strength.
        for &o in &onsets[5..] {
            let f = o / 160;
            let m = d[f..f + 3].iter().fold(0.0f32, |a, b| a.max(*b));
            assert!(m > 0.9, "click at {o}: strength {m}");
        }
        // Frames without a click in their window (and the 6 ms before) are untouched.
        for (f, v) in d.iter().enumerate() {
            let near = onsets.iter().any(|&o| o + 160 + 96 >= f * 160 && o < (f + 1) * 160 + 1);
            assert!(near || *v == 0.0, "frame {f}: {v}");
        }
    }

    /// Recurring bursts whose energy lies under ~1 kHz (white noise through two one-pole
    /// low-passes, decaying as the clicks below: a talker's plosives and lip clicks, not a
    /// keyboard's) are isolated, concentrated and decay, but never open the gate. Without the
    /// broadband test they did from the third burst on.
    #[test]
    fn recurring_low_band_bursts_do_not_open_the_gate() {
        let mut s = SplitMix64::new(7);
        let mut x: Vec<f32> = (0..48_000).map(|_| 1e-4 * s.bipolar()).collect();
        let onsets: Vec<usize> = (0..14).map(|i| 1000 + i * 2200).collect();
        for &o in &onsets {
            let (mut a, mut b) = (0.0f32, 0.0f32);
            for i in 0..160 {
                a = 0.8 * a + 0.2 * s.bipolar();
                b = 0.8 * b + 0.2 * a;
                x[o + i] += 4.0 * b * (-(i as f32) / 32.0).exp();
            }
        }
        let d = strengths(&x);
        assert!(d.iter().all(|v| *v == 0.0), "max {}", d.iter().fold(0.0f32, |a, b| a.max(*b)));
    }

    /// Recurring decaying clicks a little darker than the broadband ramp (damped 1.9 kHz
    /// resonances, ratio −2.7 dB: a keystroke over speech or a softer key), seven a second, with
    /// `vowel_after` a 100 ms vowel from 30 ms after each (a plosive leading into its word).
    fn dark_clicks(vowel_after: bool) -> (Vec<f32>, Vec<usize>) {
        let mut s = SplitMix64::new(7);
        let mut x: Vec<f32> = (0..48_000).map(|_| 1e-4 * s.bipolar()).collect();
        let onsets: Vec<usize> = (0..14).map(|i| 1000 + i * 2200).collect();
        let tau = 2.0 * std::f32::consts::PI / 16_000.0;
        for &o in &onsets {
            for i in 0..160 {
                x[o + i] += 0.5 * (-(i as f32) / 32.0).exp() * (tau * 1900.0 * i as f32).sin();
            }
            if vowel_after {
                for i in 0..1600 {
                    let k = (i % 128) as f32;
                    x[o + 480 + i] += 0.5 * (-k / 32.0).exp() * (tau * 700.0 * k).sin();
                }
            }
        }
        (x, onsets)
    }

    /// Such clicks count once nothing follows them: the gate opens, and from the sixth click on
    /// they are limited at full strength. Without the decay test they never opened it.
    #[test]
    fn recurring_dark_clicks_open_the_gate_once_nothing_follows_them() {
        let (x, onsets) = dark_clicks(false);
        let d = strengths(&x);
        for &o in &onsets[5..] {
            let f = o / 160;
            let m = d[f..f + 3].iter().fold(0.0f32, |a, b| a.max(*b));
            assert!(m > 0.9, "click at {o}: strength {m}");
        }
    }

    /// The same onsets followed by a vowel do not count: the gate stays closed.
    #[test]
    fn dark_onsets_that_lead_into_a_vowel_do_not_open_the_gate() {
        let (x, _) = dark_clicks(true);
        let d = strengths(&x);
        assert!(d.iter().all(|v| *v == 0.0), "max {}", d.iter().fold(0.0f32, |a, b| a.max(*b)));
    }

    /// The broadband ramp's ends: white noise (+3 dB) is above them at 8, 16 and 48 kHz.
    #[test]
    fn white_noise_is_broadband_at_every_rate() {
        for hop in [80usize, 160, 480] {
            let t = TransientSuppressor::new(hop, hop + 1, 2);
            assert!(t.broad_db.0 < t.broad_db.1 && t.broad_db.1 < 2.5, "hop {hop}: {:?}", t.broad_db);
        }
    }

    #[test]
    fn the_limiter_caps_at_the_reference_and_passes_otherwise() {
        let mut t = TransientSuppressor::new(160, 8, 2);
        let mut g = [0.0f32; 8];
        let mut p = [1.0f32; 8];
        t.limit(&mut p, &mut g);
        assert_eq!(g, [1.0; 8]);
        assert_eq!(p, [1.0; 8]);
        // A gated impulse 100 times the reference is brought to MARGIN times it.
        t.strength = 1.0;
        let mut p = [100.0f32; 8];
        t.limit(&mut p, &mut g);
        for (pk, gk) in p.iter().zip(&g) {
            assert!((pk - MARGIN).abs() < 1e-3 * MARGIN, "{pk}");
            assert!((gk * gk * 100.0 - MARGIN).abs() < 1e-3 * MARGIN, "{gk}");
        }
    }
}
