//! Residual echo suppression (the post-filter after the linear filters) with comfort noise.
//!
//! See the [parent module docs](super) for the algorithm: echo envelope with a
//! reverberation tail, residual-echo ratio learnt in far-end single talk, near-end detector,
//! per-bin near-end evidence that holds the post-filter's double-talk mode (NEAR_EVIDENCE_EXCESS),
//! decision-directed Wiener gain with echo floors (deep in echo-only blocks, shallow
//! in double talk) and a noise floor — while the near talker is alone (no far end in the
//! filters' window) a speech-presence-weighted log-spectral-amplitude gain (OM-LSA) instead —,
//! comfort noise.

use super::pitch::{lag_correlation, PitchSearch};
use super::Aec;
use crate::apm::fft::Cpx;
use crate::apm::ns::fastmath::fast_ln;
use crate::apm::ns::omlsa::{lsa_presence, presence_weighted_gain};

/// While the post-filter is in double-talk mode, the residual-echo ratio `ρ(f)` learns only in
/// bins whose own microphone / echo-estimate coherence (`bin_coherence`) reaches this, above
/// LOW_BAND_HZ. The ratio is learnt in blocks the band-wide test calls far-end single talk
/// (coherence over 0.75, error under half the echo estimate), and in double talk under an echo
/// louder than the near talker that test passes: the talker's power in the error was learnt as
/// residual echo. Session 44 (issue 13) measured the estimate against the true residual (the
/// linear output minus the microphone plus the echo, from the generator's clean signals) in the
/// post-filter's own 20 ms cells with residual over noise, h6 means: `ρ × envelope` 4.3 dB over
/// it in far-end single talk before the double talk (5–10 s; the envelope's tail hold 1.9 dB of
/// it) and 4.8 dB after (23–28 s), 9.9 dB over in the double talk (15–22 s), where the mean `ρ`
/// stood 3–6 dB higher. On the cells the talker dominates (10 dB over residual echo and noise)
/// it stood 9.8–10.5 dB over on h6–h8 (kit 5.7), the estimated SNR 16–18 dB against a true
/// 23–24 dB, and the post-filter took −3.1…−3.2 dB from them. No learning at all in double-talk
/// mode gained more double talk (h6 / h7 / h8 / kit / h5 +0.067 / +0.020 / +0.055 / +0.022 /
/// +0.059) but lost up to 0.9 dB of mean ERLE (h6): a reverberant room's late residual (h6
/// `d310_rw`) is incoherent with the echo estimate, and the double-talk mode's hangover covers
/// blocks where `ρ` must follow it. At 0.8 (COH_HIGH) h6's ERLE fell 0.48 dB; at 0.5 (every bin)
/// every set's ERLE held within 0.2 dB and double talk rose +0.012…+0.054 on the kit and h1–h8,
/// but two `apm_aec` guards failed: the echo between a full-band talker's low harmonics
/// (100–200 Hz) 21.3 dB down (needs 22) and the weak direct path's 11.1 dB (needs more), and
/// still with the low band left to learn as before (21.7 dB). With the low band left out and
/// 0.3 both pass; double talk +0.001…+0.015 on every set (BENCHMARKS.md, session 44).
const RHO_DOUBLE_TALK_COHERENCE: f32 = 0.3;
/// While the post-filter is in double-talk mode and the near-end detector marked the last block
/// (its excess or coherence test, or the pitch test: a near talker now, not the hangover after
/// one), a bin at or above RHO_DOUBLE_TALK_RISE_HZ whose learning target (`|E|²` over the echo
/// envelope) stands RHO_DOUBLE_TALK_RISE_EXCESS times or more over its ratio as learnt outside
/// double-talk mode (`Aec::rho_single`) learns toward this times that ratio instead (+3 dB): an
/// error 10 dB over what the filter's single-talk residual explains is the near talker's power,
/// not residual echo, and learnt as residual echo it took the talker down for as long as the
/// ratio held it (session 44: the estimate ~10 dB over the true residual on the talker's cells).
/// Where the error rises less (a reverberant room's late residual, a misadjusting filter) and in
/// the blocks of the mode the detector does not mark (its hangover, per-bin evidence alone: a
/// distorting loudspeaker, the tail after double talk) the ratio learns as before.
///
/// Session 46 (issue 13), against main, quick scores (DT PESQ-WB 15–22 s): the bound in every
/// bin and at any excess (session 45's f1) gained h6 / h7 / h8 +0.060 / +0.031 / +0.015 but
/// failed two `apm_aec` guards, and no per-bin cue of the talker told the cells apart: in the
/// guards' scenes the cells it bounded under 400 Hz were the talker's (96 % near-dominated in the
/// low band of `double_talk_removes_the_echo_between_a_full_band_talkers_low_harmonics`), but
/// the gains' frequency smoothing carried the talker's higher gain onto the far talker's echo
/// between its harmonics (21.04 dB, needs 22; bounded from 400 Hz: main's 22.33); in
/// `weak_direct_path_in_a_reverberant_room_stays_in_the_window` (no near talker; the room's
/// false marks) a few cells at 400–600 Hz whose residual rose 4–10× over its single-talk ratio
/// took it under its bound (11.07 dB, needs 11.1), which the excess test leaves to learn (11.13,
/// main's). The comb of the
/// near talker's harmonics, the microphone's or the error's coherence with the echo estimate and
/// the filter's Kalman share each gained less or failed the guards (BENCHMARKS.md, session 46).
/// This rule: DT h6 / h7 / h8 / kit / h5 +0.028 / +0.023 / +0.006 / +0.005 / +0.026, h1–h4 and h10
/// −0.001…+0.025, mean ERLE within −0.04 dB; bounded only from 600 Hz, h6 gained +0.005.
const RHO_DOUBLE_TALK_RISE: f32 = 2.0;
/// See RHO_DOUBLE_TALK_RISE: a target this many times its single-talk ratio (10 dB) is the near
/// talker's (at 4× / 6× the weak direct path's room read 11.07 / 11.09 dB).
const RHO_DOUBLE_TALK_RISE_EXCESS: f32 = 10.0;
/// See RHO_DOUBLE_TALK_RISE: the lowest frequency (Hz) where the bound applies; under it the gain
/// smoothing spreads a talker's harmonic onto the echo between its harmonics (from 300 Hz the
/// low-harmonics guard read 22.11 dB at its first realisation, mean 23.79 against 23.9).
pub(super) const RHO_DOUBLE_TALK_RISE_HZ: u32 = 400;
/// Per-block decay of the reverberation tail model (0.7 dB per 10 ms: RT60 up to ~0.85 s).
const TAIL_DECAY: f32 = 0.85;
/// Blocks of far-end activity the filters need after a (re)start (4 s, the start-up step).
pub(super) const STARTUP_BLOCKS: u32 = 400;
/// Gain floor where residual echo dominates: an amplitude gain, 0.001 = −60 dB (the gains
/// here multiply the spectrum's amplitude; earlier docs called it −30 dB, reading it as a
/// power ratio).
const ECHO_FLOOR: f32 = 0.001;
/// Gain floor where residual echo dominates while the near-end detector sees near-end
/// speech (or the per-bin evidence of NEAR_EVIDENCE_EXCESS holds): an amplitude gain, 0.2 =
/// −14 dB (earlier docs called it −7 dB, reading it as a power ratio). The near end masks
/// what residual echo the floor lets through, while deeper
/// gains cut holes into its words (measured on the lab scenarios: 0.1 (−20 dB) against 0.001
/// (−60 dB), double-talk PESQ-WB 2.350 → 2.399; with the sustained hangover below, 0.2
/// against 0.1 on the kit and the own set: 2.60 → 2.60 and 2.34 → 2.43 with every detection
/// counted toward it; session 14: falling to 0.05 (−26 dB) in double talk lost 0.10–0.23 on
/// every set).
const DOUBLE_TALK_FLOOR: f32 = 0.2;
/// Gain floor, while the near end talks, in bins the echo explains: an amplitude gain, 0.1 =
/// −20 dB. A bin counts as echo-dominated when its echo envelope × its own measured depth
/// (the running geometric mean of the bin's error over its envelope in echo-only blocks, as the
/// detector's band-wide depth) plus the previous path's unexplained echo exceeds its error:
/// the near end adds nothing there, so the −14 dB floor and the double-talk scale would only
/// let the residual echo through beside the near talker's words. A per-bin decision instead of
/// one floor for the whole band (session 19, second round; mean ERLE dB / double-talk PESQ-WB /
/// near-end PESQ-WB, kit 37.40 / 2.704 / 3.797 → 37.63 / 2.731 / 3.799, held-out h1 32.88 /
/// 2.339 / 3.645 → 33.02 / 2.360 / 3.647, h2 31.50 / 2.368 / 3.563 → 31.73 / 2.374 / 3.559, h3
/// 30.75 / 2.423 / 3.563 → 31.01 / 2.444 / 3.558; 0.05: h2 double talk 2.368 → 2.356, 0.02:
/// −0.017…−0.041 on kit, h1 and h2; the echo-only over-subtraction and floor in those bins:
/// −0.04…−0.08 on every set). The bin's depth is measured only where its own coherence reaches
/// COH_HIGH: a near-end bin in a block the band-wide test passes (the near end's quiet
/// stretches, a restart's first seconds, when the previous path's term holds the detector's
/// first test under the error) measured the near end as residual and raised the depth, marking
/// near-end bins as echo-dominated (held-out h1 `d200_pathchange` after its restart: 14–41 % of
/// the near-dominated bins). Session 20, on top of the stale-prediction term: double-talk
/// PESQ-WB kit 2.737 → 2.744, h1 2.366 → 2.369, h2 2.410 → 2.418, h3 2.464 → 2.468 (mean of five
/// spans +0.006 / +0.001 / +0.008 / +0.003), ERLE within 0.04 dB, near-end PESQ-WB within 0.001.
const DOUBLE_TALK_ECHO_FLOOR: f32 = 0.1;
/// Weight of the previous block's clean estimate in the decision-directed a-priori SNR
/// (0.9: smoother gains, less musical noise; measured better than 0.8 on all three of
/// ERLE, double-talk and near-end PESQ).
const DD_WEIGHT: f32 = 0.9;
/// The decision-directed weight for a bin whose SNR rises (the instantaneous estimate
/// `post − 1` over the previous block's clean estimate) inside a near talker's region (see
/// SPEECH_REGION_EXCESS) while no far end is active now nor anywhere in the filters' window
/// (no echo can arrive; the canceller's `learn`). At DD_WEIGHT the a-priori SNR of a
/// speech component that follows noise takes several blocks to rise and settles under the
/// component's SNR: a 5 dB component is taken 12, 9 and 7 dB down in its first three blocks,
/// 3.5 dB in the end, where the Wiener gain of its true SNR is −1.2 dB. A recorded talker's
/// components above 1 kHz are short and weak, so they are in that lag most of the time:
/// session 36 measured the post-filter at −6.4…−7.8 dB in the cells 0–10 dB over noise above
/// 1 kHz (Wiener gain of the true SNR −2.2 dB), the largest part of the talker's distortion
/// in the near end's single talk (h6: taking the ideal gain in just those cells would give
/// +0.40 PESQ-WB). A faster weight everywhere lets noise peaks through as musical noise
/// (everywhere 0.8: h6 +0.08, kit −0.05; rising bins at 0.5: kit −0.20), hence the region
/// test. In every block, residual echo the estimate misses rose in the same bins (ERLE kit
/// −1.0 dB, h6 −0.8); with the far end silent in the current block only, its echo still
/// arriving in the pauses of long-delay rooms (one h5 case −2.5 dB after double talk); hence
/// the whole window.
const DD_ONSET_WEIGHT: f32 = 0.5;
/// In double talk (far end in the filters' window) the same onset weight for a rising bin in
/// the near talker's region (SPEECH_REGION_EXCESS) whose noise is at least this times its
/// residual echo estimate, in blocks where the near-end detector marks the near end now (not
/// its hangover) and the per-bin evidence holds (NEAR_EVIDENCE_BINS): a weak talker component
/// under noise lags the same way in double talk, while the bins the residual echo estimate
/// holds, and the hangover's blocks after the near end stopped, keep DD_WEIGHT (their residual
/// echo would rise with the estimate). Session 41, double-talk PESQ-WB (quick, 15–22 s) h6 /
/// h7 / h8 2.172 / 2.199 / 2.109 → 2.180 / 2.205 / 2.116, kit 2.855 → 2.867, h5 2.658 → 2.681;
/// near-end single talk (its first blocks after the far end stopped are double-talk blocks)
/// within −0.001…+0.009; mean ERLE −0.006…+0.004 dB, after the double talk −0.010…+0.002
/// dB. In every double-talk bin of the region (no noise test, any block): h6 +0.028, kit
/// +0.043 but h7 −0.034 (a loud-echo case −0.108) and mean ERLE −0.23…−0.52 dB; with the
/// noise test at 1 / 3 / 5 / 10 but in every double-talk block: h6–h8 +0.004 / +0.006 /
/// +0.008 / +0.007, ERLE after the double talk −0.09 / −0.05 / −0.04 / −0.04 dB on the worst
/// set; only in the comb's blocks (DT_PITCH_CORRELATION), without the noise test: −0.006 (its
/// gain is in unvoiced blocks).
const DT_ONSET_NOISE_RATIO: f32 = 5.0;
/// Double talk, the near talker's harmonic comb: a post-filter double-talk block (far end in the
/// filters' window) is voiced by the near talker when its error's normalised autocorrelation over
/// the last two blocks peaks above this at a lag of 2.5–10 ms (a fundamental of 100–400 Hz) …
///
/// In double talk the residual echo estimate of a bin is a band's statistic (the learnt ratio
/// times the echo envelope) and the near talker's cells that stand only a few dB over it are
/// taken down with the echo (the double-talk floors, −14 and −20 dB). After the linear filter
/// the error in double talk is mostly the near talker's voice, so its pitch is there to read,
/// and a voiced talker's energy under 4 kHz sits on the harmonics of that pitch (a recorded
/// talker's on-harmonic 50 Hz cells 9–13 dB over the cells between them under 1 kHz, 4–6 dB at
/// 1–3 kHz; h6, session 39): a bin on a harmonic is the near talker's, so its residual echo
/// estimate is scaled by DT_HARMONIC_SCALE and its floor is at least DT_HARMONIC_FLOOR, while
/// the bins between the harmonics keep the double-talk rules. Session 39, double-talk
/// PESQ-WB kit / h5 / h6 / h7 / h8: 2.844 / 2.657 / 2.149 / 2.174 / 2.099 → 2.855 / 2.671 /
/// 2.171 / 2.200 / 2.110, mean ERLE within 0.04 dB, near-end single talk (its first blocks
/// after the far end stopped are double-talk blocks) 3.902 / 3.505 / 3.345 / 3.568 / 3.312 →
/// 3.901 / 3.507 / 3.348 / 3.568 / 3.315. Pitch correlation 0.85 / 0.95: h6 double talk
/// 2.172 / 2.167 (quick PESQ-WB of 15–22 s), kit 2.856 / 2.851; the scale 0.3 / 0.7 / 1: h6
/// 2.173 / 2.168 / 2.164; the floor 0.25 / 0.35: 2.167 / 2.173, h5 2.670 / 2.658; the comb
/// to 3 / 5 kHz: 2.170 / 2.171; ±0.2 / ±0.3 of the spacing: 2.170 / 2.173 (0.25: 2.171);
/// harmonics of the near talker's pitch in its own single talk (the region test's
/// presence, SPEECH_REGION_EXCESS) did not help (h6 3.328–3.349, kit down to 3.882): there the
/// talker's cells between the harmonics above 2 kHz are only 4 dB under those on them at this
/// resolution (20 ms, 50 Hz bins), so the comb does not tell them from the noise.
const DT_PITCH_CORRELATION: f32 = 0.9;
/// … where the echo estimate's is under this at the same lag (the periodicity is the near
/// talker's, not the far talker's residual echo). The detector's stricter test (0.05 and no
/// periodicity in the echo estimate's last 170 ms, PITCH_ECHO_PAST_CORRELATION) halves the gain:
/// double-talk PESQ-WB h6 / h8 / kit 2.165 / 2.106 / 2.851 (quick, 15–22 s; 2.171 / 2.110 /
/// 2.855 with this test); the history alone at 0.3: h5 2.658 (2.672) …
const DT_PITCH_ECHO_CORRELATION: f32 = 0.3;
/// … and a bin under DT_COMB_TOP_HZ (above half the fundamental) within this share of the
/// harmonic spacing of a harmonic is on the comb …
const DT_COMB_WIDTH: f32 = 0.25;
/// … (where a talker's harmonics are resolved at 50 Hz bins; see DT_PITCH_CORRELATION) …
pub(super) const DT_COMB_TOP_HZ: u32 = 4000;
/// … and gets its residual echo estimate scaled by this …
const DT_HARMONIC_SCALE: f32 = 0.5;
/// … and a floor (amplitude gain) of at least this (−10.5 dB, over DOUBLE_TALK_FLOOR's −14 dB).
const DT_HARMONIC_FLOOR: f32 = 0.3;
/// Half-width of the region over which a bin's near-talker presence is judged (24 bins at
/// 50 Hz, at every rate).
pub(super) const SPEECH_REGION_HZ: u32 = 1200;
/// A bin is in a near talker's region when the a-posteriori SNR excess `|E|² / (residual
/// echo + noise) − 1` averaged over ±SPEECH_REGION_HZ exceeds this. Noise alone averages
/// about 0 there, its spread over the 49 (window-correlated) bins a few tenths, so its own
/// peaks do not pass; a voiced frame's harmonics and formants, or a fricative's band, do
/// (speech presence judged over a local region rather than per bin, as IMCRA's local and
/// global presence are). Session 36, near-end single-talk PESQ-WB on h6 before the far-end
/// condition was added: narrower regions and higher thresholds pass fewer of the talker's
/// weak components (±100 Hz at 4: +0.02; ±300 Hz at 1.5: +0.09; ±1.2 kHz at 0.7: +0.15); a
/// region of ±4 kHz also passes the noise between a talker's bands (kit −0.03, where
/// ±1.2 kHz gains +0.04).
const SPEECH_REGION_EXCESS: f32 = 0.7;
/// A block is a near talker's speech frame when the region excess (SPEECH_REGION_EXCESS's
/// ±SPEECH_REGION_HZ mean) averaged over SPEECH_FRAME_BAND_HZ exceeds this (a mean
/// a-posteriori SNR 3× over the residual echo and noise, 4.8 dB): the talker's first formant
/// region, where it stands over flat noise even when its components above 1 kHz do not. In
/// such a frame a bin under SPEECH_FRAME_TOP_HZ is in the talker's region already at
/// SPEECH_FRAME_REGION_EXCESS (a frame-level presence lowering the local evidence needed, as
/// IMCRA's frame presence does). Under white noise 15 dB under a recorded talker the ±1.2 kHz
/// mean passes 0.7 in only 22–31 % of the blocks at 2–4 kHz (h6 `d140_ru_nl_white47`), and a
/// bin outside the region takes the a-priori absence 0.5 and the slow decision-directed weight:
/// the talker's components 0–5 dB over the noise there were at −17 dB outside the region,
/// −7 dB inside it (all 2–4 kHz cells 0–5 dB over the noise: −10.4 dB, with this test −9.3;
/// noise-only cells −20.3 → −19.0 dB). Session 38, near-end single-talk PESQ-WB h6 / h8 / h7 /
/// kit / h5 against 3.328 / 3.306 / 3.568 / 3.895 / 3.493: 2 and 0.2 (kept) 3.345 / 3.312 /
/// 3.568 / 3.902 / 3.505 (h1–h4, never tuned on: +0.014 / +0.006 / +0.004 / +0.014; ERLE within
/// 0.02 dB and double talk within 0.005 on every set); frame excess 1.5 / 2.5 / 3: h6 3.343 /
/// 3.344 / 3.341, h8 3.313 / 3.314 / 3.314; region excess 0.1 / 0.25 / 0.3: h6 3.337 / 3.346 /
/// 3.342, kit 3.906 / 3.901 / 3.900; no frame test (0.3 under 4 kHz wherever the frame mean is
/// over 0): kit 3.880; the whole band under 4 kHz in region in a speech frame (frame excess 3):
/// h6 3.316, h7 3.542.
const SPEECH_FRAME_EXCESS: f32 = 2.0;
/// See SPEECH_FRAME_EXCESS.
pub(super) const SPEECH_FRAME_BAND_HZ: (u32, u32) = (300, 1000);
/// See SPEECH_FRAME_EXCESS.
const SPEECH_FRAME_REGION_EXCESS: f32 = 0.2;
/// See SPEECH_FRAME_EXCESS: the talker's voice band, where its weak components follow its
/// formants (the wider band's fricatives keep the per-bin region test).
pub(super) const SPEECH_FRAME_TOP_HZ: u32 = 4000;
/// A-priori odds of speech absence (`q / (1 − q)`, q = 0.5) of the post-filter's presence-
/// weighted gain while the near talker is alone ([`near_alone_gain`]), in a bin outside the
/// near talker's region …
const ABSENCE_ODDS: f32 = 1.0;
/// … and inside it (q = 0.1: the region test of SPEECH_REGION_EXCESS is the local presence
/// evidence, as IMCRA's local and global presence measures lower the absence probability
/// where the smoothed SNR is high). Session 37, near-end single-talk PESQ-WB h6 / h7 / kit, with
/// ABSENCE_FLOOR_SCALE 1: q 0.5 everywhere 3.260 / 3.512 / 3.846; in the region 0.1: 3.320 /
/// 3.534 / 3.883; 0.02: 3.294 / 3.493 / 3.872; 0.3: 3.309 / 3.543 / 3.872; outside 0.7 or 0.9
/// (inside 0.1): 3.315 / 3.536 / 3.891, 3.304 / 3.526 / 3.893; no presence weighting (the
/// plain LSA gain over the floor): 3.191 / 3.363 / 3.775 (the wider LSA gain lets the noise
/// between a talker's components through).
const REGION_ABSENCE_ODDS: f32 = 0.1 / 0.9;
/// The presence-weighted gain's floor `G_min` while the near talker is alone, as a share of the
/// post-filter's floor (0.5: 6 dB deeper; comfort noise fills the background back to its
/// level). Session 37, near-end single-talk PESQ-WB h6 / h7 / kit: 1: 3.320 / 3.534 / 3.883,
/// 0.5: 3.328 / 3.568 / 3.895, 0.25: 3.324 / 3.565 / 3.896, 0.1: 3.306 / 3.558 / 3.890.
const ABSENCE_FLOOR_SCALE: f32 = 0.5;
/// … and, for the noise's share of the floor, under NEAR_LOW_BAND_HZ (2: 6 dB shallower than
/// the post-filter's floor, −14 dB where it is −20; the residual echo's share keeps 0.5). A
/// recorded talker carries a quarter to three quarters of its energy there (see LOW_BAND_HZ),
/// and its weak stretches (the decays of its words, the room's tail of its voice) lie under the
/// background noise, which in recorded rooms is loudest there: at the deeper floor the
/// post-filter took them out with the noise, 6–12 dB under the clean talker in 0.5 s stretches
/// of held-out h8 `d120_pathchange`'s pauses (session 40: with the clean talker's cells put back
/// in the pauses under 300 Hz, near-end single-talk PESQ-WB +0.63 there and +0.56 in
/// `d30_r02`; taking the output's cells there down cost 0.02–0.16, raising them ×3 gained +0.30
/// / +0.13). The kit's talkers carry 5 % there, so the kit does not move. Session 40, near-end
/// single-talk PESQ-WB h8 / h6 / h7 / kit / h5 with the whole floor scaled, under 250 Hz: 0.5
/// (before) 3.316 / 3.348 / 3.568 / 3.901 / 3.507; 1.5: 3.342 / 3.367 / — / 3.906 / —; 2: 3.361 /
/// 3.368 / 3.591 / 3.900 / 3.534; 3: 3.396 / 3.384 / — / 3.894 / —; 4: 3.418 / 3.369 / 3.588 /
/// 3.881 / 3.539; 8: 3.405 / 3.278; under 300 Hz, 2: 3.370 / 3.367 / 3.593 / 3.903 / 3.539, 2.5:
/// 3.381 / 3.373 / 3.593 / 3.896 / 3.547; under 400 Hz, 4: 3.396 / 3.342. Kept (the noise's share,
/// `run.sh`): h8 3.315 → 3.368, h6 3.348 → 3.368, h7 3.568 → 3.590, kit 3.901 → 3.903, h5 3.507 →
/// 3.539; never-tuned h1–h4 +0.027…+0.068; mean ERLE within 0.02 dB, double-talk PESQ-WB within
/// 0.003 but h5 2.671 → 2.658 (one case's PESQ jump, BENCHMARKS.md).
const LOW_BAND_ABSENCE_FLOOR_SCALE: f32 = 2.0;
/// See LOW_BAND_ABSENCE_FLOOR_SCALE.
pub(super) const NEAR_LOW_BAND_HZ: u32 = 300;
/// Mic / echo-estimate coherence below which a bin is treated as possibly holding near-end
/// speech (no extra over-subtraction) …
const COH_LOW: f32 = 0.3;
/// … and above which it is treated as echo only (full extra over-subtraction).
const COH_HIGH: f32 = 0.8;
/// Extra over-subtraction of the residual echo estimate in echo-only bins of echo-only
/// blocks.
const COHERENT_OVERDRIVE: f32 = 8.0;
/// Near-end detector: error power over (residual echo estimate + noise) in the voice band
/// above which a block counts as holding near-end speech …
const NEAR_EXCESS: f32 = 4.0;
/// … or mean mic / echo-estimate coherence below which it does, provided the error is
/// NEAR_SIGNAL times above the background noise (in far-end pauses the coherence is low
/// too, but there is nothing above the noise) …
const NEAR_COHERENCE: f32 = 0.5;
/// Error over noise power (voice band) needed for the coherence criterion …
const NEAR_SIGNAL: f32 = 10.0;
/// … and error over (residual echo estimate + noise) needed for it too: near-end speech adds
/// power to what the residual estimate and the noise explain, so a block whose error is far
/// below them holds none, however incoherent the microphone is with the echo estimate. A
/// loudspeaker's distortion and loud white noise (the kit's and the held-out sets'
/// non-linear cells with −45…−48 dBFS white noise) hold that coherence under 0.5 in far-end
/// single talk, and each such block bought 200 ms of double-talk mode (−14 dB floor). Session
/// 17, 5-10 s of those cells: kit 27.8 → 31.9, h1 25.0 → 35.9, h2 22.9 → 33.2 dB; a margin of
/// 0.25 (6 dB) because the residual estimate runs high in double talk (at 1: double-talk
/// PESQ-WB −0.035 on the kit, at 0.25: −0.006).
const NEAR_COHERENCE_MIN_EXCESS: f32 = 0.25;
/// … and blocks (10 ms) after such a block before extra over-subtraction is allowed again …
const NEAR_HANG: u32 = 20;
/// … or after a block while the detector has fired in more than NEAR_SUSTAINED of the
/// recent blocks (its leaky average, NEAR_SCORE_DECAY per block, ≈ 200 ms): in a
/// conversation the pauses between a near talker's words are where the deep echo gains
/// would cut the starts of the next word, while an isolated false detection in far-end
/// single talk keeps the short hangover (double-talk PESQ-WB on the kit 2.57 → 2.60, own
/// set 1.98 → 2.24, a third set 2.02 → 2.30; ERLE −0.3 to −0.6 dB). Every detection by the
/// error-excess criterion counts toward it. Session 8 counted only those 8 dB above the
/// estimate, because a sustained false detection in a very reverberant room's far-end
/// single talk let the echo through (weak direct path at RT60 0.5–0.7 s: 21.2 / 23.9 / 21.7
/// / 31.6 → 18.1 / 21.5 / 17.2 / 28.1 dB with every detection counted); with the
/// coherence-weighted double-talk scale below, such a state keeps suppressing the bins that
/// follow the echo estimate (21.2 / 24.1 / 21.8 / 32.0 dB with every detection counted),
/// and near-end words only 6–8 dB above the residual estimate now keep the hangover
/// (session 11, own set / third set: double-talk PESQ-WB 2.30 → 2.40 / 2.34 → 2.42; kit
/// unchanged).
const NEAR_HANG_SUSTAINED: u32 = 80;
/// NEAR_HANG_SUSTAINED for the post-filter's double-talk mode while the tail can grow
/// (`max_tail_ms` above `tail_ms`, the default; module docs of `aec`, 3.): 400 ms. The far-end
/// single talk after a double talk is where a grown filter reaches 40–55 dB, and 800 ms of
/// double-talk mode after the near end stopped left it at 12–39 dB per 100 ms (session 26, guard
/// room RT60 0.7 s, second 22–23 s: 28 dB against 45 dB without the near end), 3–6 dB of a 10-s
/// late mean. 200 ms cost h3 double-talk PESQ-WB 2.518 → 2.502. The detector's own hangover
/// (`Aec::near_end_active`: the delay hold, the saturation model's gate, the depth measurement,
/// the tail's growth) stays NEAR_HANG_SUSTAINED (session 27; with 400 ms there too a quiet or
/// pitch-detected near talker had 362 of 504 and 450 of 555 blocks flagged, against ≥ 430 and
/// ≥ 455 in `nodes/tests/apm_aec.rs`; split, 442–450 and 466–546 over realisations 0–4).
/// Session 27, the room-sized tail by default, this against 800 ms: double-talk PESQ-WB kit /
/// h1–h4 2.850 / 2.532 / 2.553 / 2.547 / 2.774 against 2.854 / 2.593 / 2.608 / 2.568 / 2.782,
/// mean ERLE 38.17 / 34.58 / 34.91 / 33.01 / 32.19 against 38.10 / 34.56 / 34.75 / 32.88 / 32.14
/// dB, the twin count 34 of 40 either way, but the guard room of
/// `near_end_louder_than_the_echo_does_not_move_the_delay_estimate` at 41.3 dB after double
/// talk against 43.0 without the near end, 36.9 at 800 ms (37.7 at 600 ms). Its cost is the
/// quiet near end's level in the pauses of its words
/// (`quiet_near_end_beside_distorted_echo_is_detected_against_the_measured_depth`: −0.45 dB,
/// −4.53…−5.01 → −4.99…−5.45 dB over ten realisations).
const NEAR_HANG_SUSTAINED_GROWN: u32 = 40;
/// See NEAR_HANG_SUSTAINED.
const NEAR_SUSTAINED: f32 = 0.3;
/// Near-end detector, second excess test: voice-band error over what the filter's measured
/// depth predicts (echo envelope × the residual ratio measured in recent echo-only blocks, plus
/// noise and the previous path's unexplained echo) above which a block counts as holding
/// near-end speech (9 dB). The first test's residual estimate (`rho`, learnt per bin where the
/// microphone follows the echo estimate, an arithmetic mean) runs high beside distortion,
/// reverberation beyond the filter and loud echo, and near-end words under 4× it were taken
/// for echo and suppressed with the single-talk floor; the measured depth is a geometric mean
/// over every far-end block without near end. Session 19, mean ERLE dB / double-talk PESQ-WB /
/// near-end PESQ-WB, kit 37.41 / 2.693 / 3.797 → 37.40 / 2.704 / 3.797, held-out h1 32.89 /
/// 2.301 / 3.645 → 32.88 / 2.339 / 3.645, h2 31.54 / 2.350 / 3.563 → 31.50 / 2.368 / 3.563,
/// h3 30.76 / 2.375 / 3.563 → 30.75 / 2.423 / 3.563 (6×: −0.4 dB kit ERLE; 10–12×: kit
/// double talk 2.697).
const NEAR_DEPTH_EXCESS: f32 = 8.0;
/// Near-end evidence that holds the post-filter's double-talk mode (its floors and scales, not
/// the detector): a voice-band bin whose instantaneous error periodogram exceeds this many
/// times its residual echo estimate (`ρ` × echo envelope, plus the previous path's unexplained
/// echo) plus noise (13 dB) …
///
/// The detector's tests are band-wide and smoothed, and miss 27–58 % of a near talker's 10 ms
/// frames (session 25, four lab scenarios measured): a word's weaker stretches stay under 4×
/// the band's residual estimate, and after 200 ms without a mark the deep echo floor and the
/// 8× over-subtraction cut into the word. A near talker's harmonics stand far above the
/// residual estimate in a few bins even then: at 10× a voice-band bin passed in 7–44 % of the
/// bins of near-active double-talk frames and in at most 1 % elsewhere (near-silent double
/// talk, far-end single talk, the hangover after double talk; six lab scenarios, nonlinear and
/// white-noise cells included). At 20× and NEAR_EVIDENCE_BINS bins the evidence only holds the
/// post-filter in double-talk mode for NEAR_EVIDENCE_HOLD blocks; it does not mark the block
/// for the detector's other users (the delay hold, the saturation model's learning gate, the
/// depth measurement, the sustained hangover), whose false marks from distortion products
/// stopped the saturation model's learning in nonlinear rooms (as a full mark: held-out h3
/// `d140_rj_nl` ERLE −11.6 dB). Session 25, kit / held-out h1 / h2 / h3 / h4: double-talk
/// PESQ-WB 2.792 / 2.433 / 2.430 / 2.518 / 2.699 → 2.811 / 2.482 / 2.487 / 2.518 / 2.753,
/// mean ERLE 38.50 / 33.83 / 32.47 / 32.82 / 33.05 → 37.73 / 33.68 / 32.14 / 32.42 / 32.56 dB
/// (mostly in the 5–10 s far-end single talk of the nonlinear cells, kit `d120_r03_nl` 30.0 →
/// 24.3 dB, where false evidence lets residual echo through at the double-talk floors; 22–32
/// s at most −2.7 dB), near-end single-talk PESQ-WB up to +0.02, the 22–32 s twin test
/// unchanged (36 of 40); scored once on held-out h5: 2.562 → 2.612, 33.63 → 33.33 dB. At 30×
/// and 4 bins: 2.803 / 2.455 / 2.447 / 2.514 / 2.749 for 37.88 / 33.80 / 32.42 / 32.82 / 33.04
/// dB; counting only bins under COH_HIGH: h3 2.516, under the 2.518 without the evidence.
const NEAR_EVIDENCE_EXCESS: f32 = 20.0;
/// … in at least this many voice-band bins (50 Hz apart at every rate) …
const NEAR_EVIDENCE_BINS: u32 = 3;
/// … holds the post-filter's double-talk mode for this many blocks (200 ms, as NEAR_HANG).
const NEAR_EVIDENCE_HOLD: u32 = 20;
/// Per-block weight of the measured depth's running mean (≈ 1 s of echo-only blocks).
const DEPTH_RATE: f32 = 0.01;
/// Echo envelope over noise (voice band) needed to measure the depth in a block.
const DEPTH_MIN_ECHO: f32 = 4.0;

/// The near talker's fundamental, in bins of the post-filter's transform (`2·hop` points), when
/// the error of the last two blocks `e` is voiced at a lag of 2.5–10 ms and the echo estimate of
/// the same blocks (the end of its history `y_past`) is not periodic at it
/// (DT_PITCH_CORRELATION, DT_PITCH_ECHO_CORRELATION); 0 otherwise. The lag is refined by a
/// parabola through its neighbours' correlations. `pitch` is this block's search (it reuses the
/// lags the detector's pitch test computed).
#[inline(always)]
fn near_talker_pitch(e: &[f32], y_past: &[f32], hop: usize, pitch: &mut PitchSearch) -> f32 {
    let (lo, hi) = (hop / 4, hop);
    let (peak, lag) = pitch.best(e, hi);
    if peak <= DT_PITCH_CORRELATION
        || lag <= lo
        || lag >= hi
        || lag_correlation(&y_past[y_past.len() - 2 * hop..], lag) >= DT_PITCH_ECHO_CORRELATION
    {
        return 0.0;
    }
    let (a, b, c) = (pitch.correlation(lag - 1), pitch.correlation(lag), pitch.correlation(lag + 1));
    let den = a - 2.0 * b + c;
    let d = if den < 0.0 { (0.5 * (a - c) / den).clamp(-0.5, 0.5) } else { 0.0 };
    (2 * hop) as f32 / (lag as f32 + d)
}

/// Whether bin `f` lies on a harmonic of the fundamental `f0` (in bins): above half of it and
/// within DT_COMB_WIDTH of the harmonic spacing of a multiple of it.
#[inline]
fn on_harmonic(f: usize, f0: f32) -> bool {
    let x = f as f32 / f0;
    f as f32 > 0.5 * f0 && (x - x.round()).abs() < DT_COMB_WIDTH
}

/// One block's step of a near-end hangover counter (`Aec::near_hang`, `Aec::dt_hang`): a
/// detection (`near`) sets it to NEAR_HANG, or to `sustained_len` while the detector fires in a
/// sustained way (`sustained`, NEAR_SUSTAINED); a voiced block the detector missed (`voiced`,
/// PITCH_CORRELATION) holds it at least PITCH_HOLD; otherwise it counts down.
#[inline]
fn hang_step(hang: u32, near: bool, voiced: bool, sustained: bool, sustained_len: u32) -> u32 {
    if near {
        if sustained {
            sustained_len
        } else {
            NEAR_HANG
        }
    } else if voiced {
        hang.max(PITCH_HOLD)
    } else {
        hang.saturating_sub(1)
    }
}

/// One block's step of a measured depth (`Aec::depth_log`, `Aec::depth_bin`): the running
/// mean, at [`DEPTH_RATE`], of the log ratio of `error` to the echo `envelope`, capped at +2
/// (error 7.4× the envelope).
fn depth_step(depth: &mut f32, error: f32, envelope: f32) {
    let r = (error / envelope).max(1e-6).ln().min(2.0);
    *depth += DEPTH_RATE * (r - *depth);
}
/// See NEAR_HANG_SUSTAINED.
const NEAR_SCORE_DECAY: f32 = 0.95;
/// Near-end detector, pitch test, for blocks the other tests leave unmarked with the
/// voice-band error NEAR_SIGNAL over the noise and NEAR_COHERENCE_MIN_EXCESS of the residual
/// estimate: the error's normalised autocorrelation over the last two blocks peaks above this at
/// a lag of 2.5–8 ms (a voiced talker) …
const PITCH_CORRELATION: f32 = 0.85;
/// … where the echo estimate's is under this (the far end is not periodic at that lag, so the
/// periodicity is not its residual echo, linear or distorted) …
const PITCH_ECHO_CORRELATION: f32 = 0.05;
/// … nor at or above this in any two consecutive blocks of the echo estimate over the last
/// PITCH_ECHO_HISTORY + 1 blocks (≈ 170 ms at 10 ms blocks): the residual echo of reverberation
/// beyond the filter and of distortion is the far end's voice of up to that long ago, periodic
/// at the lags the far end had then. Then the block and the next PITCH_HOLD − 1 count as
/// holding near-end speech, without counting toward the sustained hangover. Under loud echo the
/// excess tests miss most of a near talker's words (held-out h1 `d60_rc_loudecho`, near end
/// −30, echo −22 dBFS: the detector fired in 5–44 % of the blocks whose near end is up to 5 dB
/// under the echo). Session 20, second round, with only the current echo estimate's check (at
/// 0.1) and the same lag within 3 % in the previous candidate block instead of this one: the
/// far end's single talk under loud echo still gave marks (kit `d30_r06_loudecho` 6, h2
/// `d380` 3 marked blocks); mean ERLE −0.02…−0.04 dB for double-talk PESQ-WB +0.026 on h1.
/// Session 20, third round (this check, no continuity condition, a 2-block hold, 0.05 above):
/// those marks gone, double-talk PESQ-WB kit 2.751 → 2.751, h1 2.397 → 2.406, h2 2.421 →
/// 2.421, h3 2.471 → 2.471; mean ERLE +0.04 / −0.00 / +0.01 / +0.02 dB; near-end PESQ-WB
/// +0.001…+0.005.
const PITCH_ECHO_PAST_CORRELATION: f32 = 0.7;
/// See PITCH_ECHO_PAST_CORRELATION (16 two-block windows).
pub(super) const PITCH_ECHO_HISTORY: usize = 16;
/// See PITCH_ECHO_PAST_CORRELATION.
const PITCH_HOLD: u32 = 2;
/// Scale of the residual echo estimate while the near end is present (−5 dB), in bins
/// incoherent with the echo estimate (below COH_LOW): near-end speech masks residual echo
/// there, while every dB taken from the near end is audible, so the post-filter
/// under-subtracts. Towards COH_HIGH the scale rises to 1 (the estimate as learnt): a bin
/// whose microphone follows the echo estimate holds no near end to mask it — the near
/// talker's pauses, the gaps between harmonics, the band above a narrowband talker — and a
/// uniform scale let the residual echo through there for the whole hangover (session 11,
/// kit / own set / third set: double-talk PESQ-WB 2.63 → 2.65 / 2.25 → 2.30 / 2.30 → 2.34,
/// ERLE +0.6 / +0.8 / +0.8 dB, most of it in false double-talk states after double talk).
///
/// The coherence that weighs the over-subtraction (echo-only blocks) and the double-talk scale
/// of each bin is that bin's own, smoothed over blocks only; it was pooled over the bin and its
/// two neighbours until session 18, which spread a near-end harmonic's incoherence onto the
/// echo-only bins beside it (50 Hz apart at 16 kHz) and an echo-only bin's coherence onto a
/// harmonic. Session 18, mean ERLE dB / double-talk PESQ-WB / near-end PESQ-WB, kit
/// 36.60 / 2.680 / 3.793 → 37.41 / 2.693 / 3.797, held-out h1 32.63 / 2.252 / 3.643 → 32.89 /
/// 2.301 / 3.645, h2 30.95 / 2.337 / 3.564 → 31.54 / 2.350 / 3.563, h3 30.45 / 2.354 / 3.556
/// → 30.76 / 2.375 / 3.563 (largest cell loss: kit d120_pathchange double talk 2.11 → 2.08).
const DOUBLE_TALK_SCALE: f32 = 0.3;
/// Upper edge (Hz) of the band where a talker's fundamental and first harmonics lie: in
/// double talk, a bin there whose microphone the echo estimate explains gets at most
/// LOW_BAND_ECHO_GAIN.
///
/// Recorded full-band talkers carry 25–78 % of their energy under 300 Hz (their fundamental:
/// female talkers 200–300 Hz, male 100–200 Hz), where the harmonics lie two to five 50 Hz bins
/// apart and the far talker's echo fills the bins between them. The evaluation kit's talkers
/// carry 5 % there, so the double-talk rules above were never asked to separate the two: in
/// double talk, cells of that band where the echo exceeds the near end by 6 dB came out only
/// 16–21 dB under the echo, 3–5 dB under the near end's own level (session 27, held-out set
/// h7: the kit's eight cases with recorded talkers; their per-bin depth test reads the band's
/// linear depth as −25 dB where it is 12–13 dB, and raising it does not reach those cells). The
/// test here is the block's own: the echo estimate's power at least LOW_BAND_ECHO_SHARE of the
/// microphone's in the bin, which a near-end harmonic holding the bin never passes.
pub(super) const LOW_BAND_HZ: u32 = 250;
/// Share of the microphone's power in a low-band bin the echo estimate must reach for the bin
/// to count as the echo's in double talk (see LOW_BAND_HZ).
const LOW_BAND_ECHO_SHARE: f32 = 0.3;
/// Largest gain (amplitude) of such a bin in double talk: 0.2, −14 dB, as DOUBLE_TALK_FLOOR.
/// Session 27, with the room-sized tail (the default), double-talk PESQ-WB without → with: the
/// recorded-talker sets h6 2.074 → 2.121 (scored, not tuned on), h7 2.060 → 2.173 (near-end
/// single talk 3.290 → 3.383), h8 (both ends of one sex) 2.046 → 2.081; kit 2.850 → 2.843, h1–h5
/// 2.532 / 2.553 / 2.547 / 2.774 / 2.660 → 2.530 / 2.537 / 2.558 / 2.787 / 2.643; mean ERLE +0.0
/// to +0.5 dB on every set. Up to 350 Hz and / or at 0.1 (−20 dB), measured with the fixed tail:
/// h7 +0.04…+0.10 but kit −0.02…−0.08.
const LOW_BAND_ECHO_GAIN: f32 = 0.2;

impl Aec {
    /// Echo the previous path predicts in bin `f` beyond the new foreground's estimate, while
    /// the previous path is kept after a restart: right after a restart the foreground's
    /// estimate is near zero, so without this term the residual estimate is too and the
    /// post-filter let the new path's echo through. Before the restart, while the foreground's
    /// prediction has stopped following the microphone (an echo-path change not yet acted
    /// on), the share `Aec::mispredicted` of its own estimate instead (see
    /// MISPREDICTED_CORRELATION in the parent module). 0 otherwise.
    #[inline]
    fn unexplained(&self, f: usize) -> f32 {
        (self.yprev_win[f] - self.sypow[f]).max(0.0) + self.mispredicted * self.sypow[f]
    }

    /// Coherence of the microphone and the echo estimate in bin `f` (the bin's own, smoothed
    /// over blocks only; see DOUBLE_TALK_SCALE).
    #[inline]
    fn bin_coherence(&self, f: usize) -> f32 {
        self.sdy[f].norm_sqr() / (self.sdd[f] * self.syy[f] + 1e-20)
    }

    /// Post-filters the foreground error `self.ef` (echo estimate `self.yf`) into `out`.
    #[inline(always)]
    pub(super) fn suppress(&mut self, out: &mut [f32], far_active: bool, far_in_window: bool) {
        let (h, bins) = (self.hop, self.bins);
        self.e_hist.copy_within(h.., 0);
        self.e_hist[h..].copy_from_slice(&self.ef);
        self.pitch.next_block();
        let past = self.y_past.len() - h;
        self.y_past.copy_within(h.., 0);
        self.y_past[past..].copy_from_slice(&self.yf);
        // The echo estimate's last two blocks: the end of its history.
        let y_now = self.y_past.len() - 2 * h;
        super::window(&mut self.tbuf[..2 * h], &self.e_hist[..2 * h], &self.win);
        self.fft.forward(&self.tbuf, &mut self.ew);
        super::window(&mut self.tbuf[..2 * h], &self.y_past[y_now..y_now + 2 * h], &self.win);
        self.fft.forward(&self.tbuf, &mut self.yw);
        for (p, c) in self.sepow[..bins].iter_mut().zip(&self.ew) {
            *p = c.norm_sqr() + 1e-12;
        }
        for (p, c) in self.sypow[..bins].iter_mut().zip(&self.yw) {
            *p = c.norm_sqr();
        }
        // Echo-dominance detector: mean coherence of microphone and echo estimate over the
        // voice band. High coherence = the microphone holds mostly echo (far-end single talk).
        let mut csum = 0.0f32;
        for f in 0..bins {
            let d = self.dw[f];
            let y = self.yw[f];
            self.sdy[f] = self.sdy[f] * 0.7 + d * y.conj() * 0.3;
            self.sdd[f] = 0.7 * self.sdd[f] + 0.3 * d.norm_sqr();
            self.syy[f] = 0.7 * self.syy[f] + 0.3 * self.sypow[f];
            self.see[f] = 0.7 * self.see[f] + 0.3 * self.sepow[f];
            if f >= self.band.0 && f < self.band.1 {
                csum += self.sdy[f].norm_sqr() / (self.sdd[f] * self.syy[f] + 1e-20);
            }
        }
        self.coherence = csum / (self.band.1 - self.band.0).max(1) as f32;
        self.noise.update(&self.sepow);
        let noise = self.noise.noise();
        let ysum: f32 = self.sypow.iter().sum();
        let nsum: f32 = noise.iter().sum();
        let esum: f32 = self.sepow.iter().sum();
        // Echo envelope: the (frequency-smoothed) echo estimate, extended by a reverberation
        // tail that decays at TAIL_DECAY per block.
        for f in 0..bins {
            let lo = self.sypow[f.saturating_sub(1)];
            let hi = self.sypow[(f + 1).min(bins - 1)];
            let ys = 0.5 * self.sypow[f] + 0.25 * (lo + hi);
            self.ytail[f] = ys.max(TAIL_DECAY * self.ytail[f]);
            self.stail[f] = 0.7 * self.stail[f] + 0.3 * self.ytail[f];
        }
        if far_active && self.coherence > 0.75 && ysum > 4.0 * nsum && esum < 0.5 * ysum {
            // Far-end single talk: learn per bin how much of the echo envelope is left in the
            // error (linear misadjustment, loudspeaker non-linearity, reverberation beyond the
            // filter). It is learnt against the same envelope it is applied to, so the
            // residual estimate is unbiased in single talk. While the post-filter is in
            // double-talk mode (the last block's state) a bin above the low band whose
            // microphone does not follow the echo estimate holds the near talker, not residual
            // echo, and learns nothing (RHO_DOUBLE_TALK_COHERENCE). Outside double-talk mode the
            // ratio learnt there is kept aside too; in blocks the near-end detector marked it
            // bounds what the near talker can add (RHO_DOUBLE_TALK_RISE).
            let double_talk = self.post_filter_double_talk();
            let bounded = double_talk && self.near_marked;
            for f in 0..bins {
                if double_talk && f >= self.low_band && self.bin_coherence(f) < RHO_DOUBLE_TALK_COHERENCE {
                    continue;
                }
                let mut r = (self.see[f] / (self.stail[f] + 1e-20)).min(4.0);
                if !double_talk {
                    self.rho_single[f] = 0.92 * self.rho_single[f] + 0.08 * r;
                } else if bounded && f >= self.rho_rise_from && r > RHO_DOUBLE_TALK_RISE_EXCESS * self.rho_single[f] {
                    r = RHO_DOUBLE_TALK_RISE * self.rho_single[f];
                }
                self.rho[f] = 0.92 * self.rho[f] + 0.08 * r;
            }
        }
        // Near-end detector: in echo-only blocks the error is about the residual estimate plus
        // noise; near-end speech makes it exceed them, or makes the microphone incoherent
        // with the echo estimate while holding more than noise. Extra over-subtraction is
        // allowed only after NEAR_HANG blocks without near end (NEAR_HANG_SUSTAINED while the
        // near end keeps talking) and NEAR_EVIDENCE_HOLD blocks without per-bin near-end
        // evidence; with it, the residual echo estimate is scaled down by DOUBLE_TALK_SCALE.
        let (b0, b1) = self.band;
        let (mut ex_e, mut ex_r, mut ex_n) = (0.0f32, 1e-20f32, 1e-20f32);
        let (mut ex_y, mut ex_u) = (1e-20f32, 0.0f32);
        // Voice-band bins whose instantaneous error stands NEAR_EVIDENCE_EXCESS over their
        // residual estimate and noise: near-end evidence for the post-filter's mode only.
        let mut evidence = 0u32;
        for f in b0..b1 {
            let u = self.unexplained(f);
            ex_e += self.see[f];
            ex_r += self.rho[f] * self.stail[f] + noise[f] + u;
            ex_n += noise[f];
            ex_y += self.stail[f];
            ex_u += u;
            evidence += u32::from(self.sepow[f] > NEAR_EVIDENCE_EXCESS * (self.rho[f] * self.ytail[f] + u + noise[f]));
        }
        // What the filter's measured depth predicts the error to be without a near end.
        let predicted = self.depth_log.exp() * ex_y + ex_n + ex_u;
        let residual_excess = ex_e > NEAR_EXCESS * ex_r;
        let excess = residual_excess || ex_e > NEAR_DEPTH_EXCESS * predicted;
        let incoherent = self.coherence < NEAR_COHERENCE && ex_e > NEAR_SIGNAL * ex_n;
        let near = excess || (incoherent && ex_e > NEAR_COHERENCE_MIN_EXCESS * ex_r);
        let mut voiced = false;
        if !near && ex_e > NEAR_SIGNAL * ex_n && ex_e > NEAR_COHERENCE_MIN_EXCESS * ex_r {
            // Pitch test (PITCH_CORRELATION): lags of 2.5–8 ms over the two blocks' error, at
            // which neither the echo estimate now nor in any two blocks of the last
            // PITCH_ECHO_HISTORY + 1 is periodic (the last two blocks' window is the first,
            // stricter test; the history's other windows the second).
            let (peak, lag) = self.pitch.best(&self.e_hist, h * 4 / 5);
            let y_now = self.y_past.len() - 2 * h;
            voiced = peak > PITCH_CORRELATION
                && lag_correlation(&self.y_past[y_now..], lag) < PITCH_ECHO_CORRELATION
                && !(0..PITCH_ECHO_HISTORY - 1)
                    .any(|j| lag_correlation(&self.y_past[j * h..(j + 2) * h], lag) >= PITCH_ECHO_PAST_CORRELATION);
        }
        if far_active && ex_y > DEPTH_MIN_ECHO * ex_n && !residual_excess && self.near_score <= NEAR_SUSTAINED {
            // Depth measured in far-end blocks the residual test does not hold for near end,
            // outside sustained double talk; a geometric mean (log ratio, capped at +2, i.e.
            // error 7.4× the envelope) so that missed near-end words and bursts do not pull it.
            depth_step(&mut self.depth_log, ex_e, ex_y);
            // A bin's own depth only where its microphone follows the echo estimate (coherence
            // COH_HIGH, as for the echo-only over-subtraction): in the near end's pauses between
            // words and the gaps between its harmonics the block can pass the band-wide test
            // while a near-end bin's error is its speech, not residual echo (see
            // DOUBLE_TALK_ECHO_FLOOR).
            for f in 0..bins {
                if self.stail[f] > DEPTH_MIN_ECHO * noise[f] && self.bin_coherence(f) >= COH_HIGH {
                    depth_step(&mut self.depth_bin[f], self.see[f], self.stail[f]);
                }
            }
        }
        self.near_marked = near || voiced;
        self.near_score = NEAR_SCORE_DECAY * self.near_score + if excess { 1.0 - NEAR_SCORE_DECAY } else { 0.0 };
        // The detector's hangover (`near_end_active`, read by the delay hold, the saturation
        // model's gate and the depth measurement) and the post-filter's own: one update, which
        // differs only in the sustained hangover, NEAR_HANG_SUSTAINED_GROWN in the post-filter
        // while the tail can grow.
        let sustained = self.near_score > NEAR_SUSTAINED;
        let dt_sustained =
            if self.cfg.max_tail_ms > self.cfg.tail_ms { NEAR_HANG_SUSTAINED_GROWN } else { NEAR_HANG_SUSTAINED };
        self.near_hang = hang_step(self.near_hang, near, voiced, sustained, NEAR_HANG_SUSTAINED);
        self.dt_hang = hang_step(self.dt_hang, near, voiced, sustained, dt_sustained);
        // The post-filter's double-talk mode: the detector's hangover, or NEAR_EVIDENCE_HOLD
        // blocks after per-bin evidence of a near end (see NEAR_EVIDENCE_EXCESS).
        self.evidence_hang =
            if evidence >= NEAR_EVIDENCE_BINS { NEAR_EVIDENCE_HOLD } else { self.evidence_hang.saturating_sub(1) };
        let echo_only = !self.post_filter_double_talk();
        if !self.cfg.suppression {
            self.gain.fill(1.0);
            self.comb_f0 = 0.0;
        } else {
            let ovr = self.cfg.overdrive;
            let gn = self.noise_floor_gain;
            // The near talker's regions (DD_ONSET_WEIGHT), judged only while the far end is
            // silent now and in the filters' whole window (no echo can arrive).
            let near_alone = !far_in_window;
            // In a double-talk block the detector marks now, with per-bin evidence, the near
            // talker's region as well (DT_ONSET_NOISE_RATIO).
            let dt_region = !echo_only && !near_alone && (near || voiced) && evidence >= NEAR_EVIDENCE_BINS;
            if near_alone || dt_region {
                for f in 0..bins {
                    let r = self.rho[f] * self.ytail[f] + self.unexplained(f) + 1e-12;
                    self.region_excess[f] = self.sepow[f] / (r + noise[f]) - 1.0;
                }
                region_mean(&mut self.region_excess, &mut self.region_prefix, self.region_half);
            }
            // A near talker's speech frame (SPEECH_FRAME_EXCESS): its voice band's region test
            // asks for less.
            let (f0, f1) = self.speech_frame_band;
            let speech_frame =
                near_alone && self.region_excess[f0..f1].iter().sum::<f32>() > SPEECH_FRAME_EXCESS * (f1 - f0) as f32;
            // The near talker's fundamental (in bins) in a voiced double-talk block, 0 otherwise
            // (DT_PITCH_CORRELATION).
            let comb_f0 = if echo_only || near_alone {
                0.0
            } else {
                near_talker_pitch(&self.e_hist, &self.y_past, h, &mut self.pitch)
            };
            self.comb_f0 = comb_f0;
            for f in 0..bins {
                // In echo-only blocks, echo-dominated bins (microphone coherent with the echo
                // estimate) get up to COHERENT_OVERDRIVE times the over-subtraction, incoherent
                // ones keep the configured value; with the near end present the estimate is
                // scaled by DOUBLE_TALK_SCALE in incoherent bins, by 1 in coherent ones. The
                // coherence is the bin's own (see DOUBLE_TALK_SCALE).
                let c = self.bin_coherence(f);
                let w = ((c - COH_LOW) / (COH_HIGH - COH_LOW)).clamp(0.0, 1.0);
                // In double talk a bin whose error the echo envelope × the bin's measured depth
                // (plus the previous path's unexplained echo) explains holds no near end to mask
                // its residual echo: it keeps the estimate as learnt and the deeper
                // DOUBLE_TALK_ECHO_FLOOR (see there).
                let echo_bin =
                    !echo_only && self.depth_bin[f].exp() * self.ytail[f] + self.unexplained(f) > self.see[f];
                // In a voiced double-talk block, a bin on the near talker's harmonics is its own
                // (DT_PITCH_CORRELATION).
                let harmonic = comb_f0 > 0.0 && f < self.comb_top && on_harmonic(f, comb_f0);
                let ovr = if echo_only {
                    ovr * (1.0 + (COHERENT_OVERDRIVE - 1.0) * w)
                } else if echo_bin {
                    ovr
                } else {
                    ovr * (DOUBLE_TALK_SCALE + (1.0 - DOUBLE_TALK_SCALE) * w)
                };
                let ovr = if harmonic { ovr * DT_HARMONIC_SCALE } else { ovr };
                let r = ovr * self.rho[f] * self.ytail[f] + self.unexplained(f) + 1e-12;
                let nz = if self.cfg.noise_suppression { noise[f] } else { 0.0 };
                let post = self.sepow[f] / (r + nz);
                let prior = self.prev_clean[f] / (r + nz);
                let region_threshold = if speech_frame && f < self.speech_frame_top {
                    SPEECH_FRAME_REGION_EXCESS
                } else {
                    SPEECH_REGION_EXCESS
                };
                let in_region = if near_alone {
                    self.region_excess[f] > region_threshold
                } else {
                    dt_region && self.region_excess[f] > SPEECH_REGION_EXCESS && nz > DT_ONSET_NOISE_RATIO * r
                };
                let onset = in_region && post - 1.0 > prior;
                let a = if onset { DD_ONSET_WEIGHT } else { DD_WEIGHT };
                let xi = (a * prior + (1.0 - a) * (post - 1.0).max(0.0)).max(1e-4);
                // Floor: deep where residual echo dominates, moderate where noise does.
                // While the near end talks the echo floor is DOUBLE_TALK_FLOOR instead.
                let ef = if echo_only {
                    ECHO_FLOOR
                } else if harmonic {
                    DT_HARMONIC_FLOOR
                } else if echo_bin {
                    DOUBLE_TALK_ECHO_FLOOR
                } else {
                    DOUBLE_TALK_FLOOR
                };
                let floor = (gn * nz + ef * r) / (nz + r);
                let mut g = if near_alone {
                    // Under NEAR_LOW_BAND_HZ the noise's share of the floor is shallower, the
                    // residual echo's (a reverberant tail after the far end stopped) as deep.
                    let gmin = if f < self.near_low_band {
                        (LOW_BAND_ABSENCE_FLOOR_SCALE * gn * nz + ABSENCE_FLOOR_SCALE * ef * r) / (nz + r)
                    } else {
                        ABSENCE_FLOOR_SCALE * floor
                    };
                    near_alone_gain(xi, post, gmin, in_region)
                } else {
                    (xi / (1.0 + xi)).max(floor)
                };
                // In double talk, a low-band bin the echo estimate explains is the echo's (see
                // LOW_BAND_HZ).
                if !echo_only && f < self.low_band && self.sypow[f] > LOW_BAND_ECHO_SHARE * self.dpow[f] {
                    g = g.min(LOW_BAND_ECHO_GAIN);
                }
                self.gain[f] = g;
                self.prev_clean[f] = g * g * self.sepow[f];
            }
        }
        if self.cfg.suppression {
            // Smooth the gains across frequency ([1 4 6 4 1]/16, two passes of [1 2 1]/4,
            // ~250 Hz at any rate): isolated deep or shallow bins are what makes musical
            // noise and holes in near-end harmonics.
            for _ in 0..2 {
                let mut prev = self.gain[0];
                for f in 1..bins - 1 {
                    let cur = self.gain[f];
                    self.gain[f] = 0.25 * prev + 0.5 * cur + 0.25 * self.gain[f + 1];
                    prev = cur;
                }
            }
        }
        let cn = self.cfg.comfort_noise_db.map_or(0.0, |d| 10f32.powf(d / 10.0));
        for f in 0..bins {
            let g = self.gain[f];
            let mut c = self.ew[f] * g;
            if cn > 0.0 && g < 1.0 {
                let need = cn * noise[f] - g * g * self.sepow[f];
                if need > 0.0 {
                    self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let ph = (self.rng >> 8) as f32 * (std::f32::consts::TAU / 16_777_216.0);
                    let a = need.sqrt();
                    c += Cpx::new(a * ph.cos(), a * ph.sin());
                }
            }
            self.ew[f] = c;
        }
        if let Some(ns) = self.ns.as_mut() {
            // Denoiser stage: noise-suppression gains from the post-filtered spectrum (residual
            // echo removed, comfort noise in), applied in the same transform.
            let g = ns.gains_for_spectrum(&self.ef, &self.ew);
            for (c, g) in self.ew.iter_mut().zip(g) {
                *c *= *g;
            }
        }
        self.fft.inverse(&self.ew, &mut self.out);
        let (first, second) = self.out.split_at(h);
        let (w1, w2) = self.win.split_at(h);
        for ((((o, ov), a), b), (wa, wb)) in
            out[..h].iter_mut().zip(&mut self.overlap).zip(first).zip(second).zip(w1.iter().zip(w2))
        {
            let v = *ov + a * wa;
            *o = if v.is_finite() { v } else { 0.0 };
            *ov = b * wb;
        }
    }
}

/// The post-filter's gain of a bin while the near talker is alone (no far end now nor anywhere
/// in the filters' window, so no echo can arrive): the OM-LSA gain (`ns::omlsa`) at the
/// a-priori SNR `xi` and a-posteriori SNR `post`, its speech presence judged with the a-priori
/// absence odds REGION_ABSENCE_ODDS inside the near talker's region (`in_region`, see
/// SPEECH_REGION_EXCESS) and ABSENCE_ODDS outside it, weighted against the floor `gmin`
/// (ABSENCE_FLOOR_SCALE × the bin's floor; see LOW_BAND_ABSENCE_FLOOR_SCALE). The Wiener gain `ξ / (1 + ξ)` it replaces there takes a weak talker
/// component down by its estimated SNR's bias at every block; the LSA gain under speech
/// presence is higher at low SNR (its `exp(E1(v) / 2)` factor), and the presence weight
/// takes the noise between the talker's components down instead (Cohen & Berdugo 2001).
/// In blocks that may hold echo the Wiener gain stays, so the suppression of residual echo,
/// double talk and the after-double-talk guards are as they were.
#[inline(always)]
fn near_alone_gain(xi: f32, post: f32, gmin: f32, in_region: bool) -> f32 {
    let odds = if in_region { REGION_ABSENCE_ODDS } else { ABSENCE_ODDS };
    let (ln_g_lsa, p) = lsa_presence(xi, post, odds);
    presence_weighted_gain(ln_g_lsa, p, fast_ln(gmin))
}

/// Replaces each of `values` by their mean over the `half` bins either side of it (fewer at
/// the band's ends); `prefix` (one longer than `values`) holds the running sums, in f64 so
/// that a loud bin does not swamp the differences of its quiet neighbours.
fn region_mean(values: &mut [f32], prefix: &mut [f64], half: usize) {
    let n = values.len();
    prefix[0] = 0.0;
    for (i, v) in values.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(*v);
    }
    for (f, v) in values.iter_mut().enumerate() {
        let (lo, hi) = (f.saturating_sub(half), (f + half + 1).min(n));
        *v = ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::{on_harmonic, region_mean};

    /// The comb of a 150 Hz fundamental at 50 Hz bins (3 bins): the harmonics' bins only; of a
    /// 125 Hz one (2.5 bins): the bins within a quarter of the spacing of 125·k Hz; of a 400 Hz
    /// one (8 bins): each harmonic's bin and its neighbours, nothing under half the fundamental.
    #[test]
    fn on_harmonic_marks_the_bins_of_the_harmonics() {
        let comb = |f0: f32| (0..16).filter(|&f| on_harmonic(f, f0)).collect::<Vec<_>>();
        assert_eq!(comb(3.0), [3, 6, 9, 12, 15]);
        assert_eq!(comb(2.5), [2, 3, 5, 7, 8, 10, 12, 13, 15]);
        assert_eq!(comb(8.0), [7, 8, 9, 15]);
    }

    /// The windowed mean at the band's edges and inside it, with a loud bin beside quiet ones.
    #[test]
    fn region_mean_averages_the_bins_either_side() {
        let mut v = [1e6f32, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0];
        let mut prefix = [0.0f64; 8];
        region_mean(&mut v, &mut prefix, 1);
        assert_eq!(v, [5e5, 1e6 / 3.0, 0.0, 0.0, 2.0 / 3.0, 2.0 / 3.0, 1.0]);
    }
}
