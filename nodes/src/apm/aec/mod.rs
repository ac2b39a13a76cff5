//! Acoustic echo cancellation: delay estimation, a two-path partitioned-block
//! frequency-domain adaptive filter, and residual echo suppression with comfort noise.
//!
//! Per 10 ms block:
//! 1. The far-end block passes a loudspeaker saturation model (`x + a·(x³ − c·x)`, the
//!    `saturation` submodule: `a` is learnt from the background filter's error once that
//!    filter has converged (its weights moved by under −15 dB over 0.5 s; until session 23
//!    after a fixed 8 s of far end), only from loud far-end blocks (session 24: in quiet ones
//!    the cubic term is nearly a copy of the far end and taught `a` the linear filter's gain
//!    error), never above 0 (a loudspeaker compresses), and only while the cubic term
//!    explains 30 % of the error, so in linear rooms it stays at or near 0: 22 of 23 linear
//!    scenarios of the kit and the held-out sets h1–h3 within 0.1 dB, one 1.1 dB lower;
//!    with the kit's nonlinear loudspeakers the 22–32 s window went 27.9 → 31.5 and 33.5 →
//!    38.5 dB, on h1–h3 18.6–32.1 → 23.9–39.6 dB); its spectrum (overlap-save, `2N` points)
//!    enters a history ring.
//! 2. [`DelayEstimator`] correlates far and microphone band envelopes over lags up to
//!    `max_delay_ms`; the filter reads the far history from the estimated delay minus a 20 ms
//!    margin, so a `tail_ms` filter covers the room response after any bulk delay. When the
//!    estimate changes, the weights are shifted by whole partitions instead of being reset.
//!    While the near-end detector sees near-end speech and the filters have had 4 s of far
//!    end since their last (re)start, the estimate is held: near-end speech louder than the
//!    echo fills the microphone's band envelopes with fluctuations the far end does not
//!    explain, and in a held-out room (RT60 0.7 s, 40 ms, near end 3 dB above the echo) a
//!    lag 40 ms late won there after 3.7 s of double talk, shifting the converged weights
//!    out of the window (ERLE after double talk 15.2 dB instead of 24.1). A real path change
//!    restarts the filters, which lifts the hold — except while the restart of converged
//!    filters is relearnt (the 4 s the previous path is kept, step 3) and the new filter
//!    already confirms the window (`Aec::relearnt_at_window`): a path change moves the room's
//!    response more often than the bulk delay, and the estimator's evidence, dropped at the
//!    restart, is mostly the near end's in double talk. Without this the window moved +30,
//!    −20 and −20 ms during the relearning in a held-out path change inside double talk (h1
//!    `d200_pathchange`, bulk delay unchanged; session 21: double-talk PESQ-WB 1.68 → 1.78,
//!    no other scenario of the kit and four held-out sets changed). Holding whenever the
//!    detector fired during the relearning kept the old delay after real jumps (100 → 250,
//!    100 → 500, and 100 → 150 ms inside double talk: four `apm_aec` tests failed): the
//!    unexplained echo of a window the delay has left also reads as near end. In the near
//!    end's pauses the estimate still moves, and a restart before convergence does not hold
//!    it.
//!    In reverberant rooms the envelope correlation peaks up to 30 ms after the direct path,
//!    so once the filter has converged its own weights refine the window: while the first
//!    partition is the strongest, the window moves 20 ms earlier (at most 40 ms in all).
//! 3. Two filters run on the aligned far end (the "shadow filter" scheme). The background
//!    filter adapts every block where the far end is active now or was in a block inside the
//!    filters' window, whose echo may still be arriving; the exchange and divergence tests
//!    below run in the same blocks, and they count as far-end activity (the 4 s of start-up,
//!    relearning). With a sparse far end and a long delay (words between pauses, 380 ms)
//!    the echo of a word arrives after the far end has paused again, and the filters learnt
//!    from almost none of it (held-out h4, session 22: mean ERLE 29.7 → 32.5 dB, the two
//!    sparse cells 17.1 / 15.4 → 28.0 / 25.9 dB; the four continuous-speech sets moved by
//!    −0.03…+0.09 dB and −0.005…0.000 in double-talk PESQ-WB). The leakage estimate still
//!    learns only while the far end is active now: when the far end stops as a near talker
//!    starts, the decaying echo estimate and the near end's onset correlated and raised it
//!    sixfold within 30 ms (so the step stayed too large in the double talk after). For the
//!    first 4 s of far-end activity from a cold start its step is
//!    `0.5·min(1, far energy / error energy)`, the far energy being the current block's or,
//!    while the far end is silent now, the newest active block's in the window (whose echo is
//!    the one arriving);
//!    afterwards it is set per bin as `μ(f) = 0.7·min(0.7, η·|Ŷ(f)|²/|E(f)|²) + 0.3·RER`, where `η` is the leakage (the
//!    share of the echo estimate still present in the error, estimated from the covariance
//!    of their power spectra, after Valin 2007) and RER a global residual-to-error ratio,
//!    but never under the share `ρ(f)` a Kalman filter's gain would take ([`StepVariance`]:
//!    one state error variance per bin, spread over the partitions like the proportionate
//!    step, against the observation noise of the error). The Valin-style step underestimates
//!    the residual echo of a filter that is still converging, and with it alone the filter
//!    stayed 3–5 dB shallower than the Kalman update's before and through double talk, which
//!    was the whole of that update's double-talk lead: the post-filter took as much of the
//!    near talker with either update and left more residual echo after the shallower one
//!    (session 43: with the bound, double-talk PESQ-WB +0.008…+0.079 on the kit and h1–h8).
//!    Near-end speech makes `|E|²` (and Ψ) large and so slows adaptation without an explicit
//!    double-talk detector. The step is spread over the partitions proportionately to their
//!    weight norms (IPNLMS with α = 0, [`Weights::proportionate_steps`]) and normalised per
//!    bin by the far power weighted with the same factors (`Σ_k g_k·|X_{t−k}(f)|²`, the
//!    block form of PNLMS's `xᵀGx`, which keeps it stable). Room responses are sparse across
//!    partitions (direct path and early reflections hold most of the energy), so the strong
//!    partitions adapt several times faster than with a uniform step (measured on a sparse
//!    250 ms path in white noise: 20.6 dB echo reduction after 0.4–0.6 s vs 8.6 dB uniform). The foreground filter, which produces the output, takes the
//!    background weights when the background error is clearly smaller and gives them back
//!    when the background diverges; when both make the signal worse than doing nothing
//!    (an echo-path change), both restart from zero and the delay estimator drops its old
//!    evidence, so a new bulk delay is found quickly. "Worse than nothing" is tested twice:
//!    both errors above twice the microphone power (gross divergence), or, for 200 ms,
//!    `Σ d·ŷ < ¼ Σ ŷ²` for both predictions `ŷ` — then `Σ e² > Σ d² + ½ Σ ŷ²`, and unlike the
//!    error-to-microphone ratio this is not diluted by near-end speech, which is uncorrelated
//!    with `ŷ` (a path change during double talk is found in ~0.3 s instead of not at all).
//!    Only blocks whose predictions hold at least a quarter of the microphone power count
//!    toward those 200 ms: under that, `Σ d·ŷ` is mostly the noise's chance correlation.
//!    For 4 s of far-end activity after a restart the old foreground weights are kept, relative
//!    to the bulk delay, as a model of the previous path, and the step is
//!    `0.7·min(0.7, max(η·|Ŷ|², |Ŷ_prev|² − |Ŷ|²)/|E|²) + 0.3·RER`: the optimal NLMS step is the
//!    residual-echo-to-error ratio, and right after a restart the residual is the echo that the
//!    previous path predicts and the new filter does not yet explain (rooms change their
//!    response far more than their gain). With a fixed start-up step instead, near-end speech
//!    during the restart keeps the misadjustment near the near-end level (lab path change in
//!    double talk: PESQ-WB 1.55 → 1.96). During those 4 s the foreground takes the
//!    background's weights every block: both restarted from zero, and the `0.7` ratio test is
//!    diluted by near-end speech (near end and residual both in `e²`), so in double talk it held
//!    the foreground near zero while the background had learnt 1–2.5 dB more of the new path
//!    (session 16, kit and held-out path changes inside double talk).
//!
//!    Room-sized tail ([`AdvancedAecConfig::max_tail_ms`] above `tail_ms`; 320 ms by
//!    default since session 27, see below): the filters
//!    start at `tail_ms` (160 ms), which converges fastest, and grow to the room once
//!    converged. Every 250 ms of far end after 6 s of it since the last
//!    (re)start, each partition's share of the echo estimate (its weights' power weighted by
//!    the far end's power spectrum over the window) is compared with the strongest's; while the
//!    last two still hold within −25 dB of it, the room is longer than the filter and both
//!    filters grow (zero partitions, allocated up front) up to `max_tail_ms`: where the tail
//!    decays by at least 0.3 dB per 10 ms from the middle partitions to the last two, in one
//!    step to the length at which that decay, extrapolated, reaches −25 dB (`TAIL_JUMP_DB`,
//!    `TAIL_JUMP_MIN_SLOPE_DB`; in 40-ms steps the growth stalled in double talk), else by
//!    40 ms (a flat floor of gradient noise would extrapolate to the cap). A restart goes
//!    back to `tail_ms`. While the near-end detector fires, the grown partitions
//!    take a tenth of their step (`TAIL_GROWN_DOUBLE_TALK_STEP`), and the tail does not grow
//!    (the near end's gradient noise in the weights looks like a long room). With the tail fixed at
//!    160 ms, reverberation beyond it is left to the post-filter's tail model, whose
//!    suppression then follows the far end's content second by second: in a held-out room
//!    with RT60 0.69 s (h2 `d40_rh`) the linear filter removes 11–14 dB of the echo, ERLE
//!    swings 17–47 dB per second over 22–32 s and averages 24.1 dB there against 35.9 dB over
//!    5–10 s; grown (to 280 ms), 38.4 dB. Session 26 with `max_tail_ms` 320, mean ERLE /
//!    double-talk / near-end PESQ-WB, kit 37.73 / 2.811 / 3.810 → 38.19 / 2.847 / 3.814, h1
//!    33.68 / 2.482 / 3.655 → 34.64 / 2.598 / 3.673, h2 32.14 / 2.487 / 3.566 → 34.45 / 2.599 /
//!    3.569, h3 32.42 / 2.518 / 3.592 → 32.89 / 2.555 / 3.594, h4 32.56 / 2.753 / 3.894 → 32.38
//!    / 2.800 / 3.896 (growing by 40 ms only); after double talk it fell further short of the
//!    same scenario without a near end (twin count 36 → 35 of 40; in two of nine synthetic
//!    rooms at RT60 0.7 s, `near_end_louder_than_the_echo_does_not_move_the_delay_estimate`,
//!    the gap reached 3.2–4.8 dB). With the one-step growth and the post-filter's sustained
//!    hangover at 400 ms (session 26, opt-in): kit 38.22 /
//!    2.849 / 3.819, h1 34.59 / 2.545 / 3.676, h2 35.01 / 2.543 / 3.585, h3 33.27 / 2.562 /
//!    3.598, h4 32.31 / 2.772 / 3.897; the nine rooms within 2.3 dB of their twins; literal
//!    late-within-3-dB-of-early count 28 → 31 of 40; but the twin count 36 → 34 of 40 (kit
//!    `d250_r04` −5.0 dB, h2 `d110_rh_nl` −6.5, `d40_rh` −10.4, `d300_pathchange` −3.3, h4
//!    `d100_ro_nl_white47` −4.0: the longer filter's 1–2 dB of misadjustment after double
//!    talk trips the near-end detector where the twin reaches 40–55 dB). Session 27 made it the
//!    default (`max_tail_ms` 320) with the tail held while the near-end detector's hangover
//!    runs (in double talk the weights hold the near end's gradient noise, which the growth
//!    test took for a long room: a 150 ms room grown to 280 ms), and the 400 ms hangover
//!    only in the post-filter's double-talk mode (`NEAR_HANG_SUSTAINED_GROWN`; the detector's
//!    other users keep 800 ms): against the fixed tail (main), kit 37.73 / 2.811 / 3.810 →
//!    38.17 / 2.850 / 3.819, h1 33.68 / 2.482 / 3.655 → 34.58 / 2.532 / 3.678, h2 32.14 / 2.487 /
//!    3.566 → 34.91 / 2.553 / 3.587, h3 32.42 / 2.518 / 3.592 → 33.01 / 2.547 / 3.598, h4 32.56 /
//!    2.753 / 3.894 → 32.19 / 2.774 / 3.897; twin count 36 → 34 of 40, literal count 28 → 31
//!    (BENCHMARKS.md, session 27). `with_max_tail_ms(160)` keeps the fixed tail. A fixed longer tail from the
//!    start converged slower and scored lower (250 ms: kit 35.1 dB and double-talk PESQ-WB
//!    2.70, h4 28.5 dB with one room at 4.6 dB over 5–10 s; 320 and 400 ms lower still).
//! 4. A post-filter removes what the linear filter leaves.
//!    * Echo envelope: the echo estimate's power (smoothed over three bins), extended by an
//!      exponentially decaying reverberation tail (0.7 dB per block, RT60 up to ~0.85 s) for
//!      the reverberation beyond the linear filter's tail (160 ms; with `max_tail_ms` grown to
//!      the room once converged, 3.). A fixed longer filter from the start scores lower
//!      (session 26: 250 ms, kit mean ERLE 37.7 → 35.1 dB, double-talk PESQ-WB 2.81 → 2.70), as
//!      its extra partitions slow the convergence and add gradient noise.
//!    * For 4 s of far end after a restart, the echo the previous path predicts beyond the
//!      foreground's estimate (`max(0, |Ŷ_prev|² − |Ŷ|²)` in the post-filter's windowed
//!      transform) is added to the residual estimate, in the gain and the near-end detector:
//!      right after a restart the foreground's estimate is near zero, so the residual estimate
//!      was too and the new path's echo went through (path change inside double talk,
//!      double-talk PESQ-WB of the kit's and the held-out sets' path-change scenarios
//!      2.01 / 1.38 / 1.59 / 2.04 / 1.91 → 2.10 / 1.54 / 1.90 / 1.97 / 1.99 with the exchange
//!      above).
//!    * Between an echo-path change and the restart it leads to (80–1030 ms on the kit's and
//!      the held-out sets' path changes inside double talk), the foreground still predicts the
//!      old path's echo, and the residual estimate and the per-bin depth are the old path's:
//!      the new echo was read as near end and went through. While the foreground's prediction
//!      correlation `c = Σ d·ŷ / Σ ŷ²` is under 0.75 (a converged filter's is near 1), `2·(1 − c)`
//!      of its estimate counts as unexplained echo, as the previous path's prediction does after
//!      the restart (`MISPREDICTED_CORRELATION`; session 20: double-talk PESQ-WB of five of
//!      the six path-change scenarios of the kit and the held-out sets +0.05…+0.44; the sixth
//!      scores 0.3 lower because an echo burst in the near end's silence before its first word
//!      is now removed, which moves PESQ's alignment: its outputs differ nowhere else). The
//!      smoothed `c` needs 30–50 ms to fall that far, so the same correlation over about the
//!      last two blocks counts too when it is under 0.5 (`MISPREDICTED_FAST_CORRELATION`).
//!    * Residual echo = `ρ(f)` × envelope. Whenever the microphone is dominated by echo (mean
//!      mic/echo-estimate coherence > 0.75 over 300–3800 Hz and the error well below the
//!      echo estimate), `ρ(f)` learns the ratio of error power to the (smoothed) envelope,
//!      i.e. against the same quantity it multiplies, so the estimate is unbiased in far-end
//!      single talk.
//!    * Near-end detector: a block holds near-end speech when the voice-band error power
//!      exceeds 4× (residual estimate + noise) or 8× what the filter's measured depth
//!      predicts (echo envelope × the error/envelope ratio of recent echo-only blocks, a
//!      geometric mean, plus noise), or when the mic/echo coherence drops below
//!      0.5 while the error is 10 dB above the noise and at least a quarter of the residual
//!      estimate plus noise (distortion and loud white noise lower the coherence in far-end
//!      single talk too, but near-end speech adds power). A block none of these marks counts
//!      too, with the next block, when the same guards hold and the error is voiced (normalised
//!      autocorrelation over 0.85 at a 2.5–8 ms lag) at a lag where the echo estimate is not
//!      periodic (under 0.05) now nor (0.7) in any two blocks of the last 170 ms, without
//!      feeding the sustained hangover: under loud echo the excess tests miss most of a near
//!      talker's words.
//!    * Near-end evidence for the post-filter alone: a block in which at least 3 voice-band
//!      bins of the instantaneous error exceed 20× their residual estimate plus noise keeps the
//!      post-filter in double-talk mode (its floors and scales below) for 200 ms, without
//!      marking the block for the detector's other users (delay hold, saturation model,
//!      measured depth, sustained hangover). The detector's band-wide tests miss 27–58 % of a
//!      near talker's frames in a word's weaker stretches, where its harmonics still stand
//!      far above the residual estimate in a few bins (session 25: double-talk PESQ-WB
//!      +0.000…+0.057 on the kit and four held-out sets, mean ERLE −0.15…−0.77 dB;
//!      `Aec::post_filter_double_talk`).
//!    * Only after 200 ms without near end (detector or evidence; 800 ms after a detection
//!      while the detector has fired in a sustained way, `NEAR_HANG_SUSTAINED`; 400 ms while
//!      the tail can grow, the default, `NEAR_HANG_SUSTAINED_GROWN`, for the post-filter only),
//!      bins whose own coherence shows echo alone get up to 8× over-subtraction
//!      (this is what brings far-end single talk to 30+ dB ERLE); while the near end is
//!      present the residual estimate is scaled by 0.3 instead in bins incoherent with the
//!      echo estimate: near-end speech masks residual echo there, but every dB taken from
//!      the near end is heard (measured: PESQ in double talk rises as this scale falls from 1
//!      to ~0.3). The scale rises with the same per-bin coherence to 1 in bins that follow
//!      the echo estimate (the near talker's pauses, the gaps between its harmonics, the band
//!      above a narrowband talker), where nothing masks the residual echo. The coherence is
//!      each bin's own (smoothed over blocks only): pooled over three bins, a near-end
//!      harmonic's incoherence spread onto the echo-only bins beside it (session 18).
//!    * Background noise: a minimum-statistics floor over ~4–5 s with a 3 dB/s rise limit
//!      ([`NoiseFloor`]) that does not learn continuous near-end talk or residual echo.
//!    * Gain: decision-directed (weight 0.9; 0.5 for a bin that rises inside the near
//!      talker's region while no far end is active in the filters' window, session 36; in a
//!      block whose 300–1000 Hz region stands well over the noise, the region test asks for
//!      less under 4 kHz, session 38, `postfilter::SPEECH_FRAME_EXCESS`)
//!      Wiener gain against residual echo plus noise (while no far end is active in the
//!      filters' window, so only the near talker and noise can be there: the OM-LSA gain,
//!      `G_H1^p · G_min^(1−p)`, the MMSE log-spectral-amplitude gain weighted by each bin's
//!      speech presence — a-priori absence 0.1 inside the near talker's region, 0.5 outside
//!      — against a floor 6 dB under the one below, session 37; `ns::omlsa`, shared with the
//!      denoiser; in a double-talk block whose error is voiced at a pitch the echo estimate
//!      does not have, the bins under 4 kHz on that pitch's harmonics are the near talker's:
//!      half the residual echo estimate and a floor of −10.5 dB, session 39,
//!      `postfilter::DT_PITCH_CORRELATION`),
//!      floored (amplitude gains) where echo dominates at −60 dB, or at −14 dB while the
//!      near-end detector or the per-bin evidence sees near-end speech (the near end masks the residual echo the
//!      shallower floor lets through, while deeper gains cut holes into its words: measured
//!      double-talk PESQ-WB 2.350 → 2.399 for −20 dB against −60 dB, ERLE 34.2 → 34.0 dB),
//!      and at the comfort level (−20 dB) where noise
//!      does. In double talk a bin under 250 Hz (a talker's fundamental) whose microphone the
//!      echo estimate explains (its power ≥ 0.3 of the microphone's in the bin) gets at most
//!      −14 dB: recorded full-band talkers put their low harmonics there with the far talker's
//!      echo between them, which the evaluation kit's talkers (5 % of their energy under
//!      300 Hz) never did (session 27, `postfilter::LOW_BAND_HZ`). The gains are then
//!      smoothed across frequency ([1 4 6 4 1]/16) against musical noise; comfort
//!      noise at the comfort level fills what the deep floor removes, so the background
//!      stays steady.
//!    * Denoiser stage ([`AdvancedAecConfig::denoise`], on by default at
//!      [`NsLevel::High`]): the [`NoiseSuppressor`]'s gains (speech-presence noise tracking,
//!      MMSE-LSA gain, masking floor) are computed from the post-filtered spectrum — residual
//!      echo removed, comfort noise in — and applied in the same transform, so it adds
//!      neither latency nor an FFT. The post-filter's own noise term only attenuates
//!      stationary noise where echo and noise meet; the denoiser also removes the noise
//!      between the near end's harmonics. Measured on the lab scenarios: double-talk PESQ-WB
//!      2.450 → 2.566, near-end single talk 3.44 → 3.73, ERLE 34.1 → 35.0 dB. (Gains from
//!      the unfiltered error combined by minimum or product with the echo gain scored
//!      2.42–2.44: the denoiser then fights the residual echo instead of the noise.)
//!
//! The linear filter's output alone — the microphone minus the foreground's echo estimate, the
//! post-filter's input, aligned with the output — is [`Aec::linear_output`] after each frame
//! (and the node's `"linear"` port with [`AdvancedAecConfig::linear_output`]), for tuning and
//! analysis as WebRTC's `export_linear_aec_output`.
//!
//! Submodules: `saturation` (loudspeaker saturation model), `delay` (bulk delay), `filter`
//! (PBFDAF weights, proportionate NLMS step),
//! `leakage` (Valin's leakage estimate for the step size), `postfilter` (residual echo
//! suppression, near-end detector, comfort noise), `noise_floor` (background noise).
//!
//! ```
//! use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
//! let mut aec = Aec::new(AdvancedAecConfig::new(16_000)).unwrap();
//! let far = [0.0f32; 160];
//! let mut mic = [0.0f32; 160];
//! aec.process_render_frame(&far);
//! aec.process_capture_frame(&mut mic);
//! assert!(mic.iter().all(|v| v.is_finite()));
//! ```

mod delay;
mod filter;
mod leakage;
mod noise_floor;
mod pitch;
mod postfilter;
mod saturation;

pub use delay::DelayEstimator;
pub use filter::{Adapter, FilterUpdate, Kalman, StepVariance, Weights, KALMAN_P0, STEP_VARIANCE_Q};
pub use noise_floor::NoiseFloor;

use leakage::Leak;
use saturation::Saturation;

use super::fft::{sqrt_hann, Cpx, RealFft};
use super::{check_rate, ApmError, NoiseSuppressor, NsConfig, NsLevel};
use crate::resample::Kernel;
use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};

/// Far-active blocks after a restart during which the previous echo path steers the step
/// size (4 s, as long as the start-up step would run).
const PREV_PATH_BLOCKS: u32 = postfilter::STARTUP_BLOCKS;

/// Divergence test: a prediction `ŷ` is worse than none when `Σ d·ŷ < ¼ Σ ŷ²` (then
/// `Σ e² > Σ d² + ½ Σ ŷ²`) …
const USELESS_CORRELATION: f32 = 0.25;
/// … for this many consecutive far-active blocks (200 ms) in both filters (a restart
/// otherwise only follows when both errors exceed twice the microphone power) …
const USELESS_BLOCKS: u32 = 20;
/// … counting only blocks whose prediction holds at least this share of the microphone
/// power (`Σ ŷ² > ¼ Σ d²`, smoothed): a prediction far under the noise (a far end fallen to a
/// recording's background) makes `Σ d·ŷ` the noise's chance correlation with `ŷ`, which
/// stayed below `¼ Σ ŷ²` for 200 ms often enough to restart converged filters in far-end
/// single talk (a held-out scenario: 25.5 dB before, 17.7 dB after such a restart at 28.7 s,
/// 25.6 dB without it). Other blocks neither count nor reset the count, so a path change
/// during loud near-end speech is still found in the near end's pauses.
const USELESS_MIN_SHARE: f32 = 0.25;
/// The divergence test's slower tier: both predictions merely worse than none
/// (`Σ d·ŷ < ½ Σ ŷ²`, so `Σ e² > Σ d²`) for this many counted blocks (300 ms). A new path
/// that partly resembles the old one (the old prediction's correlation 0.2-0.35 with the new
/// echo, found over ten synthetic room pairs) kept the faster tier's count from running out
/// and delayed the restart to 1.7 s after the change, against 0.75-0.85 s elsewhere.
const WORSE_CORRELATION: f32 = 0.5;
/// See [`WORSE_CORRELATION`].
const WORSE_BLOCKS: u32 = 30;

/// Post-filter between an echo-path change and the restart it leads to: while the foreground's
/// prediction correlation `c = Σ d·ŷ / Σ ŷ²` (smoothed as for the divergence test, over blocks
/// whose prediction holds at least USELESS_MIN_SHARE of the microphone power) is below this,
/// its echo estimate is taken to have stopped explaining the microphone, and `2·(1 − c)` of
/// its power counts as unexplained echo (as the previous path's prediction does after the
/// restart). Near-end speech and noise are uncorrelated with `ŷ`, so `Σ d·ŷ` is the echo's
/// `Σ y·ŷ`, and the residual `y − ŷ` holds `Σ y² − 2·c·Σ ŷ² + Σ ŷ²`, which is `2·(1 − c)·Σ ŷ²`
/// when the new path has the old one's gain (rooms change their response far more than their
/// gain). A converged filter's `c` is near 1: in far-end blocks outside path changes, its 5th
/// percentile on the kit and the held-out sets was 0.77–0.98 per scenario (the lowest in
/// distorted rooms with loud white noise), while after a path change it fell under 0.75 within
/// 30–50 ms, 30 ms to 1 s before the restart (session 20). Without this term the residual
/// estimate and the per-bin echo-dominance test used the old path's depth until the restart,
/// and the new path's echo went through: −1 to −2 dB of gain where it dominated (held-out h1
/// `d200_pathchange`, restart 270 ms after the change; −8 to −13 dB with it).
const MISPREDICTED_CORRELATION: f32 = 0.75;
/// … or while the same correlation over about the last two blocks (`Aec::cf_fast`, weight
/// MISPREDICTED_FAST_WEIGHT on the previous value, the same ¼-power guard) is under this: the
/// smoothed correlation needs 30–50 ms to fall under MISPREDICTED_CORRELATION after a path
/// change, and that echo onset went through (session 20, second round: double-talk PESQ-WB of
/// the path changes inside double talk +0.04…+0.07 in three of six scenarios, the others within
/// 0.01; mean over the kit and the held-out sets +0.001…+0.007). Lower than
/// MISPREDICTED_CORRELATION because two blocks of near-end speech correlate with `ŷ` by chance:
/// at 0.75 false marks in converged double talk cost up to 0.04 there (at 0.5 up to 0.026).
const MISPREDICTED_FAST_CORRELATION: f32 = 0.5;
/// See MISPREDICTED_FAST_CORRELATION.
const MISPREDICTED_FAST_WEIGHT: f32 = 0.5;

/// [`FilterUpdate::Kalman`]: the stale-prediction test raises the state error variance to `P₀`
/// only once it has held for this many consecutive blocks (80 ms). Its false marks in double
/// talk last 1–5 blocks, and each raise there let the near end into the weights (kit
/// `d120_r03`: 3 blocks at 18.3 s took the background from 29 to 11–15 dB for 4 s); after the
/// path changes of the kit and h7 it held for 26–34 blocks (session 30).
const KALMAN_RAISE_BLOCKS: u32 = 8;
/// [`FilterUpdate::Kalman`]: `P₀` is at least [`KALMAN_P0`] and at least this share of the
/// echo path's power gain, measured as the microphone's power over the far end's in far-active
/// blocks (smoothed, KALMAN_GAIN_SMOOTHING): on the scale of a partition's `|W|²` for
/// the lab sets' ERL of about 10 dB, larger for loud echo paths (session 30).
const KALMAN_P0_PER_GAIN: f32 = 0.1;
/// [`Aec::align_direct_path`] leaves a strongest tap this close (samples) to a partition's
/// start or end where it is.
const ALIGN_MIN_SAMPLES: usize = 4;
/// Smoothing of the echo-path gain measurement (weight of the previous value per block).
const KALMAN_GAIN_SMOOTHING: f32 = 0.99;
/// The largest `P₀` the echo-path gain sets.
const KALMAN_P0_MAX: f32 = 10.0;

/// While relearning after a restart, the new filter confirms the window
/// (`Aec::relearnt_at_window`) when its strongest partition is among the first this many (plus
/// the lead): the delay estimator's 2-block margin, the estimate's block and one more. A bulk
/// delay that moved with the echo path puts the new response's peak later in the window or
/// outside it.
const RELEARN_PEAK_PARTITIONS: usize = 4;

/// Filter-based delay refinement: every this many far-active blocks, once the filter has
/// had LEAD_AFTER_BLOCKS of them, the foreground weights' partition energies are checked …
const LEAD_CHECK_BLOCKS: u32 = 25;
const LEAD_AFTER_BLOCKS: u32 = 200;
/// … and when the first partition is the strongest (the response starts at or before the
/// window: its direct path may be cut off) the window moves LEAD_STEP blocks earlier
/// (a looser test, first partition ≥ 0.5 or 0.6 of the strongest, also fired on responses
/// that merely start at the window and cost up to 7 dB there) …
const LEAD_STEP: usize = 2;
/// … up to this many blocks ahead of the delay estimator's margin.
const MAX_LEAD: usize = 4;

/// Room-sized tail (module docs, 3.): the tail-growth test runs every LEAD_CHECK_BLOCKS
/// far-active blocks once the filters have had this many (6 s) since their last (re)start and
/// are not relearning one. Measured against 4 s and 8–10 s on the kit and the held-out sets
/// h1–h4 (without TAIL_GROWN_DOUBLE_TALK_STEP): 4 s cost h4 0.3 dB of mean ERLE, 10 s gave up
/// most of the gain (session 26).
const TAIL_GROW_AFTER_BLOCKS: u32 = 600;
/// … and grows the filters by this many partitions (40 ms) …
const TAIL_GROW_PARTS: usize = 4;
/// … when the mean echo share of their last two partitions (weights' power weighted by the far
/// end's power spectrum over the window) is within −25 dB of the strongest partition's. The
/// unweighted weight power also grew the filters of rooms with a distorting loudspeaker and
/// loud white noise, whose late partitions hold a flat floor of gradient noise in the bins the
/// far end leaves empty (held-out h3 `d280_ri_nl_white50`: late ERLE 28.3 → 21.9 dB); weighted,
/// that floor sits at −31 dB there while slowly decaying rooms stay at −10…−18 dB. −20 and
/// −15 dB grew fewer rooms and gained less (growth after 8 s: h2 mean ERLE 34.24 / 33.81 /
/// 33.32 dB at −25 / −20 / −15 dB).
const TAIL_GROW_SHARE: f32 = 0.003_162_278;
/// Step factor of the grown partitions (beyond `tail_ms`) while the near-end detector fires: the
/// near end's gradient noise spread over the late partitions of a long filter cost up to 4 dB
/// of ERLE after double talk where the twin without a near end gained (session 26: twin count
/// 33 → 35 of 40 with a tenth of the step, 34 with none).
const TAIL_GROWN_DOUBLE_TALK_STEP: f32 = 0.1;
/// Where the tail decays (TAIL_JUMP_MIN_SLOPE_DB), a growth step goes at once to the length at
/// which the tail, extrapolated at the decay from the filter's middle partitions to its last
/// two, falls this far (dB) under the strongest partition's share — the growth test's −25 dB —,
/// in whole TAIL_GROW_PARTS, up to `max_parts`. In 40-ms steps the growth stalled in double
/// talk: each step waits for the newest (zero) partitions to learn the tail to −25 dB, which at
/// a tenth of their step (TAIL_GROWN_DOUBLE_TALK_STEP) waits for the near end to stop (guard
/// room RT60 0.7 s, 40 ms: 280 ms reached at 27.0 s against 23.0 s without a near end; late ERLE
/// 26.1 against 29.3 dB). Session 26, with the sustained hangover at 400 ms
/// (NEAR_HANG_SUSTAINED_GROWN): all nine rooms of
/// `near_end_louder_than_the_echo_does_not_move_the_delay_estimate` within 2.3 dB of their
/// twins (−3.2 and −4.8 dB with 40-ms steps); capped at 80 ms, two rooms −4.4 and −6.7 dB;
/// to −20 dB instead, the literal late-within-3-dB-of-early count 31 → 28 of 40.
const TAIL_JUMP_DB: f32 = 25.0;
/// … but only where the tail decays by at least this much per partition (dB per 10 ms); a
/// flatter tail grows by TAIL_GROW_PARTS. A flat floor of gradient noise (distorting
/// loudspeaker, loud white noise: 0.03–0.15 dB per 10 ms in h4 `d100_ro_nl_white47`, h3
/// `d280_ri_nl_white50`, against 0.76–1.18 in the long rooms) extrapolates to the cap, and
/// growing there at once overgrew it (uncapped jump: h4 mean ERLE 32.38 → 31.44 dB, guard rooms
/// −5.7 and −4.9 dB from their twins).
const TAIL_JUMP_MIN_SLOPE_DB: f32 = 0.3;

/// `dst[i] = src[i] · win[i]` (over the shortest of the three): a block under its analysis
/// window. Slices, not indices, so that the loop vectorises in the AVX build.
#[inline(always)]
fn window(dst: &mut [f32], src: &[f32], win: &[f32]) {
    for ((d, s), w) in dst.iter_mut().zip(src).zip(win) {
        *d = s * w;
    }
}

/// Where partition `k` of the filters' window starts in the far-end ring (`ring_len` blocks of
/// `bins` values, `t` the newest block, the window `off` blocks behind it): the one index the
/// filters, their adaptation and the tail-growth test read the far end by.
fn window_index(ring_len: usize, t: usize, off: usize, bins: usize) -> impl Fn(usize) -> usize + Copy {
    move |k| ((t + ring_len - (off + k) % ring_len) % ring_len) * bins
}

/// Configuration of [`Aec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdvancedAecConfig {
    /// Sample rate in Hz (8000, 16000, 32000, 48000, …).
    pub sample_rate: u32,
    /// Echo tail the adaptive filter covers after the bulk delay from a (re)start, ms
    /// (50..=1000); see `max_tail_ms` for how it grows in longer rooms.
    pub tail_ms: u32,
    /// Longest tail the filter may grow to, ms (at most 1000; default 320, measured best in
    /// reverberant rooms, module docs 3.; `tail_ms` or less keeps the tail at `tail_ms`).
    /// With it above `tail_ms` the post-filter's sustained near-end hangover is 400 ms instead
    /// of 800 ms ([`Aec::post_filter_double_talk`]; [`Aec::near_end_active`] keeps 800 ms).
    /// Once the filters have converged, a filter whose last
    /// partitions still hold a share of the echo estimate within −25 dB of its strongest is
    /// shorter than the room, and grows up to this (module docs, 3.): where its tail decays,
    /// at once to the length the decay extrapolates to −25 dB, else by 40 ms at a time; a
    /// restart after an echo-path change goes back to `tail_ms`; it does not grow while the
    /// near-end detector's hangover runs. The weights and far-end history are allocated
    /// for this length up front, so growing allocates nothing.
    pub max_tail_ms: u32,
    /// Largest bulk delay the estimator searches, ms (0..=2000; 0 disables estimation).
    pub max_delay_ms: u32,
    /// Residual echo suppression after the linear filter.
    pub suppression: bool,
    /// Over-subtraction of the residual echo estimate (1..=8).
    pub overdrive: f32,
    /// Comfort noise level relative to the tracked background noise, dB (`None` = off).
    pub comfort_noise_db: Option<f32>,
    /// Also attenuate stationary background noise in the post-filter (by `comfort_noise_db`,
    /// or 20 dB when comfort noise is off), as SpeexDSP's echo post-filter does.
    pub noise_suppression: bool,
    /// Denoiser stage at the end of the post-filter (`None` = off; needs `suppression`): a
    /// [`NoiseSuppressor`] at this level computes its gains from the post-filtered spectrum of
    /// the same transform, so it adds no latency and no FFT. SpeexDSP likewise runs its
    /// denoiser with its residual echo suppressor. [`AudioProcessor`](super::AudioProcessor)
    /// uses its NS level here instead of running a separate suppressor after the canceller.
    pub denoise: Option<NsLevel>,
    /// Give the [`Processor`] node a second audio output, `"linear"`: the linear filter's
    /// output alone ([`Aec::linear_output`]), aligned with `"out"` (default off: the node has
    /// the one output `"out"`). [`Aec::linear_output`] is there either way; this only adds
    /// the port and its copy, for graphs that want the signal.
    pub linear_output: bool,
    /// How the background (adaptive) filter updates ([`FilterUpdate`]; default
    /// [`FilterUpdate::Nlms`]). [`FilterUpdate::Kalman`] is experimental (session 29): the
    /// frequency-domain Kalman filter, whose state error variance is raised again when the
    /// stale-prediction test or a restart finds an echo-path change.
    pub filter_update: FilterUpdate,
}

impl AdvancedAecConfig {
    /// Defaults: 160 ms linear filter after the bulk delay, grown up to 320 ms in longer rooms
    /// (`max_tail_ms`; reverberation beyond the filter is left to the post-filter's tail model;
    /// module docs, 3. and 4.), delays up to 640 ms, suppression on (over-subtraction 1),
    /// background noise attenuated by 20 dB with comfort noise at that level. (SpeexDSP's
    /// nominal −15 dB ends up about 20 dB below the input in pauses, because its gain also
    /// falls with the speech-presence probability; −20 dB here gives the same pauses and
    /// measured +0.09 PESQ-WB in near-end single talk over −15 dB on the lab scenarios.)
    pub fn new(sample_rate: u32) -> Self {
        AdvancedAecConfig {
            sample_rate,
            tail_ms: 160,
            max_tail_ms: 320,
            max_delay_ms: 640,
            suppression: true,
            overdrive: 1.0,
            comfort_noise_db: Some(-20.0),
            noise_suppression: true,
            denoise: Some(NsLevel::High),
            linear_output: false,
            filter_update: FilterUpdate::Nlms,
        }
    }
    /// Sets the background filter's update ([`AdvancedAecConfig::filter_update`]).
    ///
    /// ```
    /// use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec, FilterUpdate};
    /// let cfg = AdvancedAecConfig::new(16_000).with_filter_update(FilterUpdate::Kalman);
    /// assert_eq!(cfg.filter_update, FilterUpdate::Kalman);
    /// assert!(Aec::new(cfg).is_ok());
    /// ```
    pub fn with_filter_update(mut self, update: FilterUpdate) -> Self {
        self.filter_update = update;
        self
    }
    /// Sets the denoiser stage of the post-filter (`None` = off).
    pub fn with_denoise(mut self, level: Option<NsLevel>) -> Self {
        self.denoise = level;
        self
    }
    /// Sets the tail length.
    pub fn with_tail_ms(mut self, ms: u32) -> Self {
        self.tail_ms = ms;
        self
    }
    /// Sets the longest tail the filter may grow to ([`AdvancedAecConfig::max_tail_ms`];
    /// `tail_ms` or less keeps the tail fixed).
    ///
    /// ```
    /// use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
    /// let fixed = AdvancedAecConfig::new(16_000).with_max_tail_ms(160);
    /// assert_eq!(Aec::new(fixed).unwrap().filter_tail_ms(), 160);
    /// // Longer than 1000 ms is refused.
    /// assert!(Aec::new(AdvancedAecConfig::new(16_000).with_max_tail_ms(1200)).is_err());
    /// ```
    pub fn with_max_tail_ms(mut self, ms: u32) -> Self {
        self.max_tail_ms = ms;
        self
    }
    /// Sets the largest searched delay.
    pub fn with_max_delay_ms(mut self, ms: u32) -> Self {
        self.max_delay_ms = ms;
        self
    }
    /// Switches residual suppression.
    pub fn with_suppression(mut self, on: bool, overdrive: f32) -> Self {
        self.suppression = on;
        self.overdrive = overdrive;
        self
    }
    /// Switches the post-filter's noise attenuation.
    pub fn with_noise_suppression(mut self, on: bool) -> Self {
        self.noise_suppression = on;
        self
    }
    /// Sets the comfort noise level (`None` = off).
    pub fn with_comfort_noise_db(mut self, db: Option<f32>) -> Self {
        self.comfort_noise_db = db;
        self
    }
    /// Adds the node's `"linear"` output ([`AdvancedAecConfig::linear_output`]).
    ///
    /// ```
    /// use rvoip_media_graph::Processor;
    /// use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
    /// let plain = Aec::new(AdvancedAecConfig::new(16_000)).unwrap();
    /// assert_eq!(plain.spec().outputs.len(), 1);
    /// let aec = Aec::new(AdvancedAecConfig::new(16_000).with_linear_output(true)).unwrap();
    /// let names: Vec<_> = aec.spec().outputs.iter().map(|p| p.name).collect();
    /// assert_eq!(names, ["out", "linear"]);
    /// ```
    pub fn with_linear_output(mut self, on: bool) -> Self {
        self.linear_output = on;
        self
    }
}

/// The echo canceller. See the [module docs](self).
pub struct Aec {
    cfg: AdvancedAecConfig,
    hop: usize,
    bins: usize,
    /// Partitions the filters use now: `base_parts` (`tail_ms`) until the converged filter
    /// shows a room longer than that, then up to `max_parts` (`max_tail_ms`; module docs, 3.).
    parts: usize,
    base_parts: usize,
    max_parts: usize,
    /// The far end's power per bin summed over the filters' window (the tail-growth test's
    /// weighting; scratch).
    xbar: Vec<f32>,
    max_lag: usize,
    ring_len: usize,
    fft: RealFft,
    adapter: Adapter,
    // Far end.
    far_pending: Vec<f32>,
    far_prev: Vec<f32>,
    /// [`FilterUpdate::Kalman`] only: the far end's sub-block delay in samples (0..hop), set by
    /// [`Aec::align_direct_path`]; each block is delayed from `far_hist` ([`delayed_block`]).
    frac: usize,
    /// [`FilterUpdate::Kalman`] only: the raw far end of every ring block (before the sub-block
    /// delay), `ring_len` blocks, from which [`Aec::align_direct_path`] recomputes the ring.
    far_hist: Vec<f32>,
    /// Scratch for [`Aec::align_direct_path`]: the filter's impulse response, `max_parts` blocks
    /// ([`FilterUpdate::Kalman`] only).
    ir: Vec<f32>,
    /// Whether [`Aec::align_direct_path`] has run since the last (re)start.
    aligned: bool,
    tbuf: Vec<f32>,
    xring: Vec<Cpx>,
    xpow: Vec<f32>,
    /// Whether the far end was active in each block of the ring (indexed like `xring`).
    far_on: Vec<bool>,
    t: usize,
    // Microphone and filters.
    delay: DelayEstimator,
    offset: usize,
    /// Blocks the filter window starts ahead of the delay estimate's 2-block margin, found
    /// from the weights (the estimator's envelope correlation peaks late in reverberant rooms).
    lead: usize,
    wf: Weights,
    wb: Weights,
    /// The background's Kalman state ([`FilterUpdate::Kalman`] only).
    kalman: Option<Kalman>,
    /// [`FilterUpdate::Nlms`]: the Kalman gain's view of the background, the step's lower
    /// bound (module docs, 3.).
    steps: StepVariance,
    /// Smoothed microphone and far-end power over far-active blocks, for the `P₀` of the
    /// Kalman filter and of `steps` ([`KALMAN_P0_PER_GAIN`]).
    path_gain: (f32, f32),
    /// Consecutive blocks the stale-prediction test has held ([`KALMAN_RAISE_BLOCKS`]).
    mispredicted_run: u32,
    /// Foreground weights from before the last restart (the previous echo path, relative to
    /// the bulk delay: not shifted when the delay estimate moves), used for
    /// `PREV_PATH_BLOCKS` far-active blocks after it.
    w_prev: Weights,
    prev_left: u32,
    /// The last restart followed a converged filter (module docs, 2.): while `prev_left > 0`
    /// and `relearnt_at_window`, near-end speech holds the delay estimate as it does over a
    /// converged filter.
    relearn_hold: bool,
    /// Power of the previous path's echo prediction (overlap-save domain).
    yprev: Vec<f32>,
    /// The previous path's prediction over the last two blocks (time domain) and the power
    /// of its windowed spectrum (the post-filter's transform), for the post-filter while
    /// `prev_left > 0`; zero otherwise.
    yprev_hist: Vec<f32>,
    yprev_win: Vec<f32>,
    yspec: Vec<Cpx>,
    espec: Vec<Cpx>,
    ytime: Vec<f32>,
    ef: Vec<f32>,
    eb: Vec<f32>,
    yf: Vec<f32>,
    mu_p: Vec<f32>,
    prop: Vec<f32>,
    pxsum: Vec<f32>,
    epow: Vec<f32>,
    ypow: Vec<f32>,
    leak_b: Leak,
    sdy: Vec<Cpx>,
    sdd: Vec<f32>,
    syy: Vec<f32>,
    see: Vec<f32>,
    rho: Vec<f32>,
    /// The residual-echo ratio as learnt outside the post-filter's double-talk mode only: the
    /// bound of `rho`'s rise in the blocks the near-end detector marks
    /// (`postfilter::RHO_DOUBLE_TALK_RISE`).
    rho_single: Vec<f32>,
    band: (usize, usize),
    /// Bins under `postfilter::LOW_BAND_HZ` (the near talker's fundamental).
    low_band: usize,
    /// The first bin at or above `postfilter::RHO_DOUBLE_TALK_RISE_HZ`.
    rho_rise_from: usize,
    /// Bins under `postfilter::NEAR_LOW_BAND_HZ` (the near talker's own single talk keeps
    /// more of them).
    near_low_band: usize,
    coherence: f32,
    noise_floor_gain: f32,
    sf: f32,
    sb: f32,
    smic: f32,
    /// Smoothed `(Σ d·ŷ, Σ ŷ²)` of the foreground and background filters.
    cf: (f32, f32),
    cb: (f32, f32),
    /// Consecutive far-active blocks in which both predictions were worse than none (blocks
    /// with a prediction under `USELESS_MIN_SHARE` of the microphone power are skipped).
    useless_blocks: u32,
    /// Counted blocks in which both predictions were worse than none ([`WORSE_CORRELATION`]).
    worse_blocks: u32,
    restarts: u32,
    far_blocks: u32,
    /// Loudspeaker saturation model in front of the filters.
    saturation: Saturation,
    // Suppressor.
    win: Vec<f32>,
    e_hist: Vec<f32>,
    d_hist: Vec<f32>,
    ew: Vec<Cpx>,
    yw: Vec<Cpx>,
    dw: Vec<Cpx>,
    dpow: Vec<f32>,
    sepow: Vec<f32>,
    sypow: Vec<f32>,
    ytail: Vec<f32>,
    stail: Vec<f32>,
    near_hang: u32,
    /// Blocks the post-filter stays in double-talk mode after per-bin near-end evidence
    /// (`postfilter::NEAR_EVIDENCE_HOLD`), beside the detector's `near_hang`.
    evidence_hang: u32,
    /// The near-end detector marked the last block (its excess or coherence test, or the pitch
    /// test): `postfilter::RHO_DOUBLE_TALK_RISE`.
    near_marked: bool,
    /// The post-filter's own copy of `near_hang`: the same update (`postfilter::hang_step`)
    /// but for the sustained hangover, which is `postfilter::NEAR_HANG_SUSTAINED_GROWN` while
    /// the tail can grow.
    dt_hang: u32,
    /// Share of recent blocks (≈ 200 ms) in which the near-end detector fired.
    near_score: f32,
    /// The echo estimate over the last PITCH_ECHO_HISTORY + 1 blocks (at least two): its last
    /// two are the post-filter's transform of the echo estimate, all of them the pitch test's
    /// check of the far end's recent periodicity (see PITCH_ECHO_PAST_CORRELATION).
    y_past: Vec<f32>,
    /// The error's periodicity at pitch lags, shared by the detector's pitch test and the
    /// near talker's comb (computed once per block).
    pitch: pitch::PitchSearch,
    /// Share of the foreground's echo estimate (power) that the post-filter counts as
    /// unexplained echo: `2·(1 − c)` while its prediction correlation `c` is under
    /// MISPREDICTED_CORRELATION after convergence, else 0.
    mispredicted: f32,
    /// `cf` over about the last two blocks (MISPREDICTED_FAST_WEIGHT), for the stale-prediction
    /// test only.
    cf_fast: (f32, f32),
    /// The filter's measured residual depth: running mean (over echo-only blocks) of the log
    /// ratio of the voice-band error to the echo envelope (0 = no depth).
    depth_log: f32,
    /// The measured depth per bin: running mean (over the same blocks as `depth_log`) of the
    /// log ratio of the bin's error to its echo envelope, where the envelope is over the noise.
    depth_bin: Vec<f32>,
    gain: Vec<f32>,
    prev_clean: Vec<f32>,
    /// Per bin, the a-posteriori SNR excess averaged over ±`region_half` bins (the near
    /// talker's regions, `postfilter::SPEECH_REGION_EXCESS`); `region_prefix` is its running
    /// sum.
    region_excess: Vec<f32>,
    region_prefix: Vec<f64>,
    region_half: usize,
    /// The bins of `postfilter::SPEECH_FRAME_BAND_HZ` (a near talker's speech frame) …
    speech_frame_band: (usize, usize),
    /// … and the first bin above `postfilter::SPEECH_FRAME_TOP_HZ`.
    speech_frame_top: usize,
    /// The first bin above `postfilter::DT_COMB_TOP_HZ` (the near talker's harmonic comb in
    /// double talk).
    comb_top: usize,
    /// The near talker's fundamental (in bins) the comb used in the last block, 0 if none.
    comb_f0: f32,
    noise: NoiseFloor,
    /// The denoiser stage of the post-filter ([`AdvancedAecConfig::denoise`]).
    ns: Option<NoiseSuppressor>,
    overlap: Vec<f32>,
    out: Vec<f32>,
    rng: u32,
    /// The capture path's code: [`Kernel::Avx`] runs the same code compiled with AVX enabled
    /// (bit-identical output); any other kernel the baseline build.
    kernel: Kernel,
}

/// Block `j` of the raw far-end history `hist` (a ring of `h`-sample blocks) delayed by
/// `frac` samples (0..h) into `out`: the last `frac` samples of block `j − 1`, then block
/// `j`'s first `h − frac`.
fn delayed_block(hist: &[f32], h: usize, frac: usize, j: usize, out: &mut [f32]) {
    let prev = (j + hist.len() / h - 1) % (hist.len() / h);
    out[..frac].copy_from_slice(&hist[(prev + 1) * h - frac..(prev + 1) * h]);
    out[frac..h].copy_from_slice(&hist[j * h..(j + 1) * h - frac]);
}

impl Aec {
    /// A canceller; fails on an unsupported rate or out-of-range settings.
    pub fn new(cfg: AdvancedAecConfig) -> Result<Self, ApmError> {
        let hop = check_rate(cfg.sample_rate)?;
        if !(50..=1000).contains(&cfg.tail_ms)
            || cfg.max_tail_ms > 1000
            || cfg.max_delay_ms > 2000
            || !(1.0..=8.0).contains(&cfg.overdrive)
            || cfg.comfort_noise_db.is_some_and(|d| !(-60.0..=0.0).contains(&d))
        {
            return Err(ApmError::Config("AEC parameter out of range"));
        }
        let n2 = 2 * hop;
        let bins = hop + 1;
        let parts = (cfg.tail_ms as usize).div_ceil(10);
        let max_parts = (cfg.max_tail_ms.max(cfg.tail_ms) as usize).div_ceil(10);
        let max_lag = (cfg.max_delay_ms as usize / 10).max(1);
        let ring_len = max_lag + max_parts + 2;
        // Weights for the longest tail, using `parts` of them (the others stay zero).
        let weights = || {
            let mut w = Weights::new(max_parts, bins);
            w.parts = parts;
            w
        };
        Ok(Aec {
            cfg,
            hop,
            bins,
            parts,
            base_parts: parts,
            max_parts,
            xbar: vec![0.0; bins],
            max_lag,
            ring_len,
            fft: RealFft::new(n2),
            adapter: Adapter::new(n2, 4),
            far_pending: vec![0.0; hop],
            far_prev: vec![0.0; hop],
            frac: 0,
            far_hist: vec![0.0; if cfg.filter_update == FilterUpdate::Kalman { ring_len * hop } else { 0 }],
            ir: vec![0.0; if cfg.filter_update == FilterUpdate::Kalman { max_parts * hop } else { 0 }],
            aligned: false,
            tbuf: vec![0.0; n2],
            xring: vec![Cpx::new(0.0, 0.0); ring_len * bins],
            xpow: vec![0.0; ring_len * bins],
            far_on: vec![false; ring_len],
            t: 0,
            delay: DelayEstimator::new(cfg.sample_rate, bins, max_lag),
            offset: 0,
            lead: 0,
            wf: weights(),
            wb: weights(),
            kalman: (cfg.filter_update == FilterUpdate::Kalman).then(|| Kalman::new(max_parts, bins)),
            steps: StepVariance::new(bins),
            path_gain: (0.0, 0.0),
            mispredicted_run: 0,
            w_prev: weights(),
            prev_left: 0,
            relearn_hold: false,
            yprev: vec![0.0; bins],
            yprev_hist: vec![0.0; n2],
            yprev_win: vec![0.0; bins],
            yspec: vec![Cpx::new(0.0, 0.0); bins],
            espec: vec![Cpx::new(0.0, 0.0); bins],
            ytime: vec![0.0; n2],
            ef: vec![0.0; hop],
            eb: vec![0.0; hop],
            yf: vec![0.0; hop],
            mu_p: vec![0.0; bins],
            prop: vec![1.0; max_parts],
            pxsum: vec![0.0; bins],
            epow: vec![0.0; bins],
            ypow: vec![0.0; bins],
            leak_b: Leak::new(bins),
            sdy: vec![Cpx::new(0.0, 0.0); bins],
            sdd: vec![0.0; bins],
            syy: vec![0.0; bins],
            see: vec![0.0; bins],
            rho: vec![1.0; bins],
            rho_single: vec![1.0; bins],
            band: (
                (300 * n2 as u32 / cfg.sample_rate) as usize,
                ((3800f32.min(0.45 * cfg.sample_rate as f32)) as u32 * n2 as u32 / cfg.sample_rate) as usize,
            ),
            low_band: (postfilter::LOW_BAND_HZ * n2 as u32 / cfg.sample_rate) as usize,
            rho_rise_from: (postfilter::RHO_DOUBLE_TALK_RISE_HZ * n2 as u32 / cfg.sample_rate) as usize,
            near_low_band: (postfilter::NEAR_LOW_BAND_HZ * n2 as u32 / cfg.sample_rate) as usize,
            coherence: 0.0,
            noise_floor_gain: 10f32.powf(cfg.comfort_noise_db.unwrap_or(-20.0) / 20.0),
            sf: 0.0,
            sb: 0.0,
            smic: 0.0,
            cf: (0.0, 0.0),
            cb: (0.0, 0.0),
            useless_blocks: 0,
            worse_blocks: 0,
            restarts: 0,
            far_blocks: 0,
            saturation: Saturation::new(hop, ring_len, max_parts),
            win: sqrt_hann(n2),
            e_hist: vec![0.0; n2],
            d_hist: vec![0.0; n2],
            ew: vec![Cpx::new(0.0, 0.0); bins],
            yw: vec![Cpx::new(0.0, 0.0); bins],
            dw: vec![Cpx::new(0.0, 0.0); bins],
            dpow: vec![0.0; bins],
            sepow: vec![0.0; bins],
            sypow: vec![0.0; bins],
            ytail: vec![0.0; bins],
            stail: vec![0.0; bins],
            near_hang: 0,
            evidence_hang: 0,
            near_marked: false,
            dt_hang: 0,
            near_score: 0.0,
            y_past: vec![0.0; hop * (postfilter::PITCH_ECHO_HISTORY + 1)],
            pitch: pitch::PitchSearch::new(hop, Kernel::detect()),
            mispredicted: 0.0,
            cf_fast: (0.0, 0.0),
            depth_log: 0.0,
            depth_bin: vec![0.0; bins],
            gain: vec![1.0; bins],
            prev_clean: vec![0.0; bins],
            region_excess: vec![0.0; bins],
            region_prefix: vec![0.0; bins + 1],
            region_half: (postfilter::SPEECH_REGION_HZ * n2 as u32 / cfg.sample_rate) as usize,
            speech_frame_band: (
                (postfilter::SPEECH_FRAME_BAND_HZ.0 * n2 as u32 / cfg.sample_rate) as usize,
                (postfilter::SPEECH_FRAME_BAND_HZ.1 * n2 as u32 / cfg.sample_rate) as usize,
            ),
            speech_frame_top: (postfilter::SPEECH_FRAME_TOP_HZ * n2 as u32 / cfg.sample_rate) as usize,
            comb_top: (postfilter::DT_COMB_TOP_HZ * n2 as u32 / cfg.sample_rate) as usize,
            comb_f0: 0.0,
            noise: NoiseFloor::new(bins),
            ns: match cfg.denoise {
                Some(level) if cfg.suppression => {
                    Some(NoiseSuppressor::new(NsConfig::new(cfg.sample_rate).with_level(level))?)
                }
                _ => None,
            },
            overlap: vec![0.0; hop],
            out: vec![0.0; n2],
            rng: 0x1234_5678,
            kernel: Kernel::detect(),
        })
    }

    /// Samples per frame (10 ms).
    pub fn frame_len(&self) -> usize {
        self.hop
    }

    /// Delay from microphone input to output, samples (one frame, from the suppressor's
    /// overlap-add).
    pub fn latency(&self) -> usize {
        self.hop
    }

    /// The estimated bulk delay of the echo, ms (None before an estimate exists).
    pub fn estimated_delay_ms(&self) -> Option<u32> {
        self.delay.delay().map(|d| d as u32 * 10)
    }

    /// The tail the adaptive filter covers now, ms: `tail_ms` until the converged filter shows
    /// a longer room, then up to `max_tail_ms` ([`AdvancedAecConfig::max_tail_ms`]).
    ///
    /// ```
    /// use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
    /// let aec = Aec::new(AdvancedAecConfig::new(16_000)).unwrap();
    /// assert_eq!(aec.filter_tail_ms(), 160);
    /// ```
    pub fn filter_tail_ms(&self) -> u32 {
        self.parts as u32 * 10
    }

    /// The current leakage estimate of the adaptive filter (residual echo / echo estimate).
    pub fn leakage(&self) -> f32 {
        self.leak_b.leak
    }

    /// The loudspeaker saturation model's cubic coefficient `a` (module docs, 1.): 0 until
    /// learnt, and 0 in a linear room; negative for a loudspeaker that compresses its peaks.
    pub fn saturation_coefficient(&self) -> f32 {
        self.saturation.coefficient()
    }

    /// How often the filters were restarted after a detected divergence (echo-path change).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Mean coherence of microphone and echo estimate over the voice band in the last block
    /// (near 1: the microphone holds mostly echo).
    pub fn echo_coherence(&self) -> f32 {
        self.coherence
    }

    /// The linear filter's output for the last capture frame: the microphone minus the
    /// foreground filter's echo estimate (module docs, 3.), before the post-filter (residual
    /// echo suppression, comfort noise, denoiser; 4.), aligned sample for sample with what
    /// [`Aec::process_capture_frame`] just wrote (both are the microphone frame before it,
    /// [`Aec::latency`]). WebRTC's APM offers the same (`export_linear_aec_output`): it is what
    /// the linear filter alone achieves, the post-filter's input, for tuning and analysis —
    /// `linear − mic + echo` is the filter's residual echo when the echo is known.
    ///
    /// [`Aec::frame_len`] samples; zeros before the first frame and after [`Aec::reset`]. A
    /// frame refused for its length leaves it as it was. Reading it costs nothing and
    /// allocates nothing (the post-filter keeps these samples anyway).
    ///
    /// ```
    /// use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
    /// let mut aec = Aec::new(AdvancedAecConfig::new(16_000)).unwrap();
    /// let h = aec.frame_len();
    /// // Without a far end there is no echo estimate: the linear output is the microphone,
    /// // one frame late.
    /// let frames: Vec<Vec<f32>> = (0..3).map(|k| (0..h).map(|i| ((k * h + i) as f32 * 0.05).sin() * 0.1).collect()).collect();
    /// for (k, frame) in frames.iter().enumerate() {
    ///     aec.process_render_frame(&vec![0.0; h]);
    ///     let mut out = frame.clone();
    ///     aec.process_capture_frame(&mut out);
    ///     let want = if k == 0 { vec![0.0; h] } else { frames[k - 1].clone() };
    ///     assert_eq!(aec.linear_output(), &want[..]);
    /// }
    /// ```
    pub fn linear_output(&self) -> &[f32] {
        &self.e_hist[..self.hop]
    }

    /// The near talker's fundamental (Hz) on whose harmonics the post-filter kept more of the
    /// near end in the last block: a double-talk block voiced at a pitch the echo estimate does
    /// not have (`postfilter::DT_PITCH_CORRELATION`); `None` in any other block.
    pub fn near_talker_pitch_hz(&self) -> Option<f32> {
        (self.comb_f0 > 0.0).then(|| self.comb_f0 * self.cfg.sample_rate as f32 / (2 * self.hop) as f32)
    }

    /// Whether the near-end detector saw near-end speech within the last 200 ms (the
    /// post-filter then protects the near end instead of over-subtracting residual echo; it
    /// also does on its own per-bin evidence, see [`Aec::post_filter_double_talk`]).
    pub fn near_end_active(&self) -> bool {
        self.near_hang > 0
    }

    /// Whether the post-filter treated the last block as double talk (shallow echo floors, the
    /// residual estimate scaled down where the near end masks it): while
    /// [`Aec::near_end_active`], and for 200 ms after a block in which at least three
    /// voice-band bins of the error stood 13 dB over their residual echo estimate plus noise —
    /// a near talker's harmonics, which the detector's band-wide tests miss in a word's weaker
    /// stretches. That evidence steers only the post-filter; the delay hold and the
    /// loudspeaker model's learning follow [`Aec::near_end_active`].
    ///
    /// ```
    /// use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
    /// let mut aec = Aec::new(AdvancedAecConfig::new(16_000)).unwrap();
    /// aec.process_render_frame(&[0.0; 160]);
    /// aec.process_capture_frame(&mut [0.0; 160]);
    /// // Silence holds no near end, by either test.
    /// assert!(!aec.near_end_active() && !aec.post_filter_double_talk());
    /// ```
    pub fn post_filter_double_talk(&self) -> bool {
        self.dt_hang > 0 || self.evidence_hang > 0
    }

    /// Hands the next 10 ms of far-end (loudspeaker) signal to the canceller. Call once
    /// before each [`Aec::process_capture_frame`]. Returns `false` when it held non-finite
    /// samples (read as zero) or had the wrong length (zero-padded / truncated).
    pub fn process_render_frame(&mut self, far: &[f32]) -> bool {
        let mut ok = far.len() == self.hop;
        for (i, d) in self.far_pending.iter_mut().enumerate() {
            let v = far.get(i).copied().unwrap_or(0.0);
            *d = if v.is_finite() {
                v.clamp(-4.0, 4.0)
            } else {
                ok = false;
                0.0
            };
        }
        ok
    }

    avx_dispatch!(
        /// Cancels the echo in one 10 ms microphone frame, in place (output delayed by
        /// [`Aec::latency`]). Returns `false` when the frame held non-finite samples (read as
        /// zero) or had the wrong length (then it is zeroed).
        pub fn process_capture_frame(&mut self, mic: &mut [f32]) -> bool,
        avx: capture_avx,
        body: capture_body
    );

    /// The body of [`Aec::process_capture_frame`], inlined into each code path.
    #[inline(always)]
    fn capture_body(&mut self, mic: &mut [f32]) -> bool {
        let (h, bins) = (self.hop, self.bins);
        if mic.len() != h {
            mic.fill(0.0);
            return false;
        }
        let mut ok = true;
        for v in mic.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
                ok = false;
            } else {
                *v = v.clamp(-4.0, 4.0);
            }
        }
        // 1. Far spectrum into the ring, through the loudspeaker saturation model.
        self.t = (self.t + 1) % self.ring_len;
        if self.kalman.is_some() {
            // The far end's sub-block delay (Aec::align_direct_path).
            self.far_hist[self.t * h..(self.t + 1) * h].copy_from_slice(&self.far_pending);
            delayed_block(&self.far_hist, h, self.frac, self.t, &mut self.far_pending);
        }
        self.saturation.shape(&mut self.far_pending, &mut self.fft, self.t);
        self.tbuf[..h].copy_from_slice(&self.far_prev);
        self.tbuf[h..].copy_from_slice(&self.far_pending);
        self.far_prev.copy_from_slice(&self.far_pending);
        let far_ms: f32 = self.far_pending.iter().map(|v| v * v).sum::<f32>() / h as f32;
        self.far_pending.fill(0.0);
        let s = self.t * bins;
        self.fft.forward(&self.tbuf, &mut self.xring[s..s + bins]);
        for (p, c) in self.xpow[s..s + bins].iter_mut().zip(&self.xring[s..s + bins]) {
            *p = c.norm_sqr();
        }
        let far_active = far_ms > 1e-7;
        self.far_on[self.t] = far_active;
        if far_active {
            // The echo path's power gain sets P₀ (KALMAN_P0_PER_GAIN).
            let mic_ms: f32 = mic.iter().map(|v| v * v).sum::<f32>() / h as f32;
            let a = KALMAN_GAIN_SMOOTHING;
            self.path_gain = (a * self.path_gain.0 + (1.0 - a) * mic_ms, a * self.path_gain.1 + (1.0 - a) * far_ms);
            let p0 = (KALMAN_P0_PER_GAIN * self.path_gain.0 / self.path_gain.1).clamp(KALMAN_P0, KALMAN_P0_MAX);
            match &mut self.kalman {
                Some(k) => k.set_p0(p0),
                None => self.steps.set_p0(p0),
            }
        }
        // 2. Windowed microphone spectrum; delay estimation.
        self.d_hist.copy_within(h.., 0);
        self.d_hist[h..].copy_from_slice(mic);
        window(&mut self.tbuf[..2 * h], &self.d_hist[..2 * h], &self.win);
        self.fft.forward(&self.tbuf, &mut self.dw);
        for (p, c) in self.dpow.iter_mut().zip(&self.dw) {
            *p = c.norm_sqr();
        }
        if self.cfg.max_delay_ms > 0 {
            let (xp, dp) = (&self.xpow[s..s + bins], &self.dpow);
            // Near-end speech over a converged filter: hold the estimate (module docs, 2.).
            // … and while relearning after the restart of a converged filter (module docs, 2.).
            let converged = self.far_blocks >= postfilter::STARTUP_BLOCKS;
            self.delay.set_hold(self.near_hang > 0 && (converged || self.relearnt_at_window()));
            if let Some(d) = self.delay.update(xp, dp, far_active) {
                let new_off = d.saturating_sub(2 + self.lead).min(self.max_lag);
                if new_off != self.offset {
                    let delta = new_off as isize - self.offset as isize;
                    self.wf.shift(delta);
                    self.wb.shift(delta);
                    if let Some(k) = &mut self.kalman {
                        // The window moved: what the weights learnt before is uncertain again
                        // (before the first estimate they learnt a misaligned far end, and at
                        // their shrunken P the aligned echo took seconds to learn: kit
                        // `d120_r03` 5–10 s 19.5 dB against 26.1 with the window fixed at the
                        // estimate from the start; session 30).
                        k.shift(delta, self.parts);
                        k.raise();
                    }
                    self.steps.raise();
                    self.offset = new_off;
                }
            }
        }
        // 3. Filters.
        let idx = window_index(self.ring_len, self.t, self.offset, bins);
        // The newest far block inside the filters' window that was active (module docs, 3.):
        // the filters learn while it exists, not only while the far end is active now.
        let window_far = (0..self.parts).find(|&k| self.far_on[idx(k) / bins]);
        let learn = far_active || window_far.is_some();
        {
            let xr = &self.xring;
            self.wf.filter(|k| &xr[idx(k)..idx(k) + bins], &mut self.yspec);
        }
        self.fft.inverse(&self.yspec, &mut self.ytime);
        for (((y, e), t), m) in self.yf[..h].iter_mut().zip(&mut self.ef[..h]).zip(&self.ytime[h..]).zip(mic.iter()) {
            *y = *t;
            *e = *m - t;
        }
        {
            let xr = &self.xring;
            self.wb.filter(|k| &xr[idx(k)..idx(k) + bins], &mut self.yspec);
        }
        for (p, c) in self.ypow.iter_mut().zip(&self.yspec) {
            *p = c.norm_sqr();
        }
        self.fft.inverse(&self.yspec, &mut self.ytime);
        for ((e, t), m) in self.eb[..h].iter_mut().zip(&self.ytime[h..]).zip(mic.iter()) {
            *e = *m - t;
        }
        if self.prev_left > 0 {
            // After a restart: what the previous echo path would make of this far end.
            let xr = &self.xring;
            self.w_prev.filter(|k| &xr[idx(k)..idx(k) + bins], &mut self.yspec);
            for (p, c) in self.yprev.iter_mut().zip(&self.yspec) {
                *p = c.norm_sqr();
            }
            // The same prediction in the post-filter's windowed transform.
            self.fft.inverse(&self.yspec, &mut self.ytime);
            self.yprev_hist.copy_within(h.., 0);
            self.yprev_hist[h..].copy_from_slice(&self.ytime[h..]);
            window(&mut self.tbuf[..2 * h], &self.yprev_hist[..2 * h], &self.win);
            self.fft.forward(&self.tbuf, &mut self.yspec);
            for (p, c) in self.yprev_win.iter_mut().zip(&self.yspec) {
                *p = c.norm_sqr();
            }
        } else {
            self.yprev_hist.fill(0.0);
            self.yprev_win.fill(0.0);
        }
        // The saturation model refines a linear filter that explains the echo: while the
        // background's prediction correlation is under MISPREDICTED_CORRELATION, its error is
        // its own misadjustment (a transient or a path change), which correlates with the cubic
        // branch. On far blocks quieter than the far end's moments the cubic term `x³ − c·x` is
        // nearly `−c·x`, a copy of the far end, so `a` learnt a gain error: a 320 ms room
        // (apm_aec realisation 1) over-predicted by 5 dB for 100 ms at 27 s, `a` went from 0.05
        // to 5.1 in 23 blocks, the far end's loudest passage then made both filters predict
        // 3-5 times the microphone and restarted them (40 dB before, 1-8 dB for 2 s after).
        let explained = self.cb.0 >= MISPREDICTED_CORRELATION * self.cb.1;
        if far_active && self.saturation.ready() && self.near_hang == 0 && explained {
            self.saturation.learn(&self.wb, idx, &self.eb, &mut self.fft);
        }
        self.tbuf[..h].fill(0.0);
        self.tbuf[h..].copy_from_slice(&self.eb);
        self.fft.forward(&self.tbuf, &mut self.espec);
        for (p, c) in self.epow.iter_mut().zip(&self.espec) {
            *p = c.norm_sqr();
        }
        // 4. Background adaptation.
        if learn {
            self.far_blocks = self.far_blocks.saturating_add(1);
            self.prev_left = self.prev_left.saturating_sub(1);
        }
        // The leakage estimate learns only while the far end is active now (module docs, 3.).
        let leak = self.leak_b.update(&self.epow, &self.ypow, if far_active { 0.02 } else { 0.0 });
        if let (true, Some(kal)) = (learn, &mut self.kalman) {
            let (xr, xp) = (&self.xring, &self.xpow);
            kal.adapt(
                &mut self.adapter,
                &mut self.wb,
                |k| &xr[idx(k)..idx(k) + bins],
                |k| &xp[idx(k)..idx(k) + bins],
                &self.espec,
            );
        } else if learn {
            // Proportionate step factors, and the far power they weight (PNLMS normalises by
            // xᵀGx, so the update stays stable however the factors are distributed).
            self.wb.proportionate_steps(&mut self.prop);
            if self.near_hang > 0 {
                // Partitions grown for a long room take TAIL_GROWN_DOUBLE_TALK_STEP of their step
                // while the near-end detector fires (and as little of the normalisation below).
                for g in &mut self.prop[self.base_parts..self.parts] {
                    *g *= TAIL_GROWN_DOUBLE_TALK_STEP;
                }
            }
            self.pxsum.fill(0.0);
            for k in 0..self.parts {
                let (o, gk) = (idx(k), self.prop[k]);
                for (p, x) in self.pxsum.iter_mut().zip(&self.xpow[o..o + bins]) {
                    *p += gk * x;
                }
            }
            // The start-up step is used for the first 4 s of far-end activity (after a restart
            // the previous path steers the step instead, see below).
            let adapted = self.far_blocks > postfilter::STARTUP_BLOCKS;
            // Residual-to-error ratio (global), and the step before the leakage estimate is
            // trustworthy: large while the far end dominates the error.
            let (syy, see): (f32, f32) = (self.ypow.iter().sum(), self.epow.iter().sum::<f32>() + 1e-12);
            let sxx: f32 = self.xpow[s..s + bins].iter().sum();
            let rer = ((0.0001 * sxx + 3.0 * leak * syy) / see).clamp(0.001, 0.5);
            // The start-up step's far power: the current block's, or while the far end is
            // silent now, that of the newest active block in the window (whose echo this is).
            let sx_start = match window_far {
                Some(k) if !far_active => self.xpow[idx(k)..idx(k) + bins].iter().sum(),
                _ => sxx,
            };
            let init_rate = (0.5 * sx_start / see).min(0.5);
            let n2 = (2 * h) as f32;
            let delta = n2 * h as f32 * 1e-7;
            let xp = &self.xpow;
            self.steps.update(&self.pxsum, &self.epow, &self.prop, |k| &xp[idx(k)..idx(k) + bins], &self.wb);
            for f in 0..bins {
                let mu = if self.prev_left > 0 {
                    // After a restart: the residual echo is at least the part of the echo the
                    // previous path predicts and the new filter does not yet explain.
                    let unexplained = (self.yprev[f] - self.ypow[f]).max(0.0);
                    let r = (leak * self.ypow[f]).max(unexplained) / (self.epow[f] + 1e-12);
                    (0.7 * r.min(0.7) + 0.3 * rer).min(0.8)
                } else if adapted {
                    // At least the Kalman gain's share (StepVariance, module docs, 3.).
                    let valin = (0.7 * (leak * self.ypow[f] / (self.epow[f] + 1e-12)).min(0.7) + 0.3 * rer).min(0.8);
                    valin.max(self.steps.ratio[f])
                } else {
                    init_rate
                };
                self.mu_p[f] = mu / (self.pxsum[f] + delta);
            }
            let xr = &self.xring;
            self.adapter.adapt(&mut self.wb, |k| &xr[idx(k)..idx(k) + bins], &self.espec, &self.mu_p, &self.prop);
        }
        if learn {
            if !self.wb.is_finite() {
                self.wb.w.copy_from_slice(&self.wf.w);
                if let Some(k) = &mut self.kalman {
                    k.reset();
                }
            }
            // 5. Foreground / background exchange.
            let ef2: f32 = self.ef.iter().map(|v| v * v).sum();
            let eb2: f32 = self.eb.iter().map(|v| v * v).sum();
            self.sf = 0.9 * self.sf + 0.1 * ef2;
            self.sb = 0.9 * self.sb + 0.1 * eb2;
            let d2: f32 = mic.iter().map(|v| v * v).sum();
            self.smic = 0.9 * self.smic + 0.1 * d2;
            if far_active && self.near_hang == 0 {
                self.saturation.observe(&self.wb);
            }
            let (mut dyf, mut yyf, mut dyb, mut yyb) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            for i in 0..h {
                let yb = mic[i] - self.eb[i];
                dyf += mic[i] * self.yf[i];
                yyf += self.yf[i] * self.yf[i];
                dyb += mic[i] * yb;
                yyb += yb * yb;
            }
            self.cf = (0.9 * self.cf.0 + 0.1 * dyf, 0.9 * self.cf.1 + 0.1 * yyf);
            self.cb = (0.9 * self.cb.0 + 0.1 * dyb, 0.9 * self.cb.1 + 0.1 * yyb);
            // Both predictions worse than none: e² − d² = ŷ² − 2·d·ŷ, so the error exceeds the
            // microphone by more than ŷ²/2 when d·ŷ < ŷ²/4. Near-end speech is uncorrelated
            // with ŷ and does not dilute this test (it does dilute e² against d²).
            let useless = |c: (f32, f32)| c.0 < USELESS_CORRELATION * c.1;
            let sig = USELESS_MIN_SHARE * self.smic + 1e-9;
            // A stale prediction (module docs, 4.): the share of it the post-filter counts as
            // unexplained echo until the restart.
            let wf = MISPREDICTED_FAST_WEIGHT;
            self.cf_fast = (wf * self.cf_fast.0 + (1.0 - wf) * dyf, wf * self.cf_fast.1 + (1.0 - wf) * yyf);
            self.mispredicted = 0.0;
            if self.filters_converged() && self.cf.1 > sig {
                let mut c = (self.cf.0 / self.cf.1).clamp(0.0, 1.0);
                if self.cf_fast.1 > sig {
                    // The first 30–50 ms of a path change (MISPREDICTED_FAST_CORRELATION).
                    let fast = (self.cf_fast.0 / self.cf_fast.1).clamp(0.0, 1.0);
                    if fast < MISPREDICTED_FAST_CORRELATION {
                        c = c.min(fast);
                    }
                }
                if c < MISPREDICTED_CORRELATION {
                    self.mispredicted = 2.0 * (1.0 - c);
                    // The Kalman filter's confidence goes with a prediction that stays stale:
                    // follow the path (KALMAN_RAISE_BLOCKS).
                    self.mispredicted_run = self.mispredicted_run.saturating_add(1);
                    if let (true, Some(k)) = (self.mispredicted_run >= KALMAN_RAISE_BLOCKS, &mut self.kalman) {
                        k.raise();
                    }
                }
            }
            if self.mispredicted == 0.0 {
                self.mispredicted_run = 0;
            }
            if self.cf.1 > sig && self.cb.1 > sig {
                self.useless_blocks = if useless(self.cf) && useless(self.cb) { self.useless_blocks + 1 } else { 0 };
                self.count_worse_blocks();
            }
            let gross = self.sf > 2.0 * self.smic + 1e-9 && self.sb > 2.0 * self.smic + 1e-9;
            if gross || self.useless_blocks >= USELESS_BLOCKS || self.worse_blocks >= WORSE_BLOCKS {
                // Both filters make the echo worse than doing nothing: the echo path has
                // changed beyond what adaptation can follow quickly. Restart from zero.
                self.relearn_hold = self.filters_converged() || (self.prev_left > 0 && self.relearn_hold);
                if self.prev_left == 0 {
                    // Keep the path that held until now (not an unconverged restart's).
                    self.w_prev.w.copy_from_slice(&self.wf.w);
                    self.w_prev.parts = self.wf.parts;
                }
                self.prev_left = PREV_PATH_BLOCKS;
                self.wf.clear();
                self.wb.clear();
                if let Some(k) = &mut self.kalman {
                    k.reset();
                }
                self.steps.reset();
                // The new path's room is measured again (module docs, 3.).
                self.set_parts(self.base_parts);
                self.far_blocks = 0;
                self.saturation.restart();
                self.leak_b.reset();
                self.rho.fill(1.0);
                self.rho_single.fill(1.0);
                self.depth_log = 0.0;
                self.depth_bin.fill(0.0);
                self.delay.forget();
                self.sf = self.smic;
                self.sb = self.smic;
                self.cf = (0.0, 0.0);
                self.cb = (0.0, 0.0);
                self.useless_blocks = 0;
                self.worse_blocks = 0;
                self.restarts = self.restarts.saturating_add(1);
                self.mispredicted = 0.0;
                self.cf_fast = (0.0, 0.0);
                self.lead = 0;
                self.aligned = false;
            } else if self.prev_left > 0 || self.sb < 0.7 * self.sf {
                // After a restart the foreground follows the background every block: both
                // started from zero, and the ratio test is diluted by near-end speech, so in
                // double talk it held the foreground near zero while the background had
                // learnt 2-3 dB more of the new path (module docs, 3.).
                self.wf.w.copy_from_slice(&self.wb.w);
                self.sf = self.sb;
                self.cf = self.cb;
            } else if self.sb > 4.0 * self.sf + 1e-9 && self.kalman.is_none() {
                // The NLMS background diverged: it takes the foreground back. The Kalman
                // background keeps its own weights: the copied ones are not what its P
                // describes, and a copy 0.5 s into the start-up (before the first delay
                // estimate) cost kit `d120_r03` 4 dB over 5–10 s (25.5 → 21.2; session 30).
                self.wb.w.copy_from_slice(&self.wf.w);
                self.sb = self.sf;
                self.cb = self.cf;
            }
        }
        // The direct path onto a partition's start (Aec::align_direct_path), once per (re)start.
        if far_active
            && !self.aligned
            && self.kalman.is_some()
            && self.far_blocks >= LEAD_AFTER_BLOCKS
            && self.prev_left == 0
        {
            self.aligned = true;
            self.align_direct_path();
        }
        // 6. Filter-based delay refinement: a response whose energy starts in the first
        // partition may begin before the window (the delay estimator's correlation peak lies
        // late in reverberant rooms, e.g. 30 ms after the direct path at RT60 0.55 s, more
        // than the 20 ms margin), and a direct path outside the window cannot be cancelled.
        if far_active
            && self.far_blocks >= LEAD_AFTER_BLOCKS
            && self.far_blocks % LEAD_CHECK_BLOCKS == 0
            && self.lead < MAX_LEAD
            && self.offset >= LEAD_STEP
        {
            let (peak, energy) = self.wf.peak_partition();
            if energy > 0.0 && peak == 0 {
                self.offset -= LEAD_STEP;
                self.lead += LEAD_STEP;
                self.wf.shift(-(LEAD_STEP as isize));
                self.wb.shift(-(LEAD_STEP as isize));
                if let Some(k) = &mut self.kalman {
                    k.shift(-(LEAD_STEP as isize), self.parts);
                }
            }
        }
        // 7. Room-sized tail (module docs, 3.). Not while the near-end detector's hangover runs:
        // the weights then hold the near end's gradient noise, which the share test takes for a
        // long room (apm_aec `echo_path_change_during_double_talk_is_deep_again_after_it`,
        // realisation 4, a 150 ms room: grown to 280 ms 1.3 s before the near end stopped, 15.05
        // dB over the 6 s after it against 15.76 with the fixed tail; with this 240 ms at 24.2 s,
        // 15.36 dB).
        if far_active
            && self.parts < self.max_parts
            && self.near_hang == 0
            && self.far_blocks >= TAIL_GROW_AFTER_BLOCKS
            && self.far_blocks % LEAD_CHECK_BLOCKS == 0
            && self.filters_converged()
        {
            self.grow_tail();
        }
        // 8. Residual echo suppression.
        self.suppress(mic, far_active, learn);
        ok
    }

    /// [`FilterUpdate::Kalman`] only, once per (re)start after LEAD_AFTER_BLOCKS of far end: the
    /// far end is delayed by a sub-block amount (`frac`, 0..hop samples, before the saturation
    /// model and the far FFT) so that the foreground's strongest tap falls on the first sample
    /// of a partition. Both filters' impulse responses move with it (the window, in whole
    /// blocks, is unchanged), the far spectra of the ring are recomputed at the new delay from
    /// the raw far end (`far_hist`), and the state error variance is raised to P₀. Without the
    /// recomputation the window's oldest blocks kept the old delay for `offset + parts` blocks
    /// and both filters mispredicted for up to a second (h7 `d120_pathchange`, aligned again
    /// after its restarts: 5–10 s 19.4 → 6.9 dB). The saturation model's own ring is left as
    /// it is.
    ///
    /// Why: the block-frequency-domain filter is markedly deeper with the direct path at a
    /// partition's start than in its middle. Offline (aec_fdkf.py, 16 partitions), kit
    /// `d250_r04` 5–10 s gives 27.2 / 17.9 / 25.6 / 25.5 / 17.0 dB with the direct path 160 /
    /// 240 / 320 / 480 / 560 samples into the window. The canceller's window moves in whole
    /// blocks, so its direct path fell anywhere. Session 30: kit / h7 linear depth 21.9 / 25.0 /
    /// 27.6 and 24.2 / 25.6 / 28.0 → 25.6 / 27.8 / 29.7 and 25.6 / 26.1 / 29.6; double-talk
    /// PESQ-WB kit 2.904 → 3.033, h7 2.218 → 2.301 (BENCHMARKS.md).
    fn align_direct_path(&mut self) {
        let h = self.hop;
        let (k, e) = self.wf.peak_partition();
        if e <= 0.0 {
            return;
        }
        self.fft.inverse(self.wf.part(k), &mut self.ytime);
        let r = (0..h).max_by(|&a, &b| self.ytime[a].abs().total_cmp(&self.ytime[b].abs())).unwrap_or(0);
        if r < ALIGN_MIN_SAMPLES || r > h - ALIGN_MIN_SAMPLES {
            return;
        }
        // The far end r samples later: the taps move r earlier, or, where the delay wraps past a
        // block (frac + r ≥ hop), hop − r later.
        let shift: isize = if self.frac + r < h { -(r as isize) } else { (h - r) as isize };
        self.frac = (self.frac + r) % h;
        let (parts, bins) = (self.parts, self.bins);
        let n = parts * h;
        for w in [&mut self.wf, &mut self.wb] {
            for k in 0..parts {
                self.fft.inverse(&w.w[k * bins..(k + 1) * bins], &mut self.ytime);
                self.ir[k * h..(k + 1) * h].copy_from_slice(&self.ytime[..h]);
            }
            let d = shift.unsigned_abs();
            if shift < 0 {
                self.ir.copy_within(d..n, 0);
                self.ir[n - d..n].fill(0.0);
            } else {
                self.ir.copy_within(0..n - d, d);
                self.ir[..d].fill(0.0);
            }
            for k in 0..parts {
                self.tbuf[..h].copy_from_slice(&self.ir[k * h..(k + 1) * h]);
                self.tbuf[h..].fill(0.0);
                self.fft.forward(&self.tbuf, &mut w.w[k * bins..(k + 1) * bins]);
            }
        }
        // The far spectra in the ring at the new delay, from the raw far end (the window's
        // oldest blocks would otherwise hold the old delay for `offset + parts` blocks, and both
        // filters mispredicted for up to a second).
        let ring = self.ring_len;
        for back in 0..ring - 2 {
            let j = (self.t + ring - back) % ring;
            let (lo, hi) = self.tbuf.split_at_mut(h);
            delayed_block(&self.far_hist, h, self.frac, (j + ring - 1) % ring, lo);
            delayed_block(&self.far_hist, h, self.frac, j, hi);
            self.saturation.apply(&mut self.tbuf);
            if back == 0 {
                self.far_prev.copy_from_slice(&self.tbuf[h..]);
            }
            self.fft.forward(&self.tbuf, &mut self.xring[j * bins..(j + 1) * bins]);
            for f in 0..bins {
                self.xpow[j * bins + f] = self.xring[j * bins + f].norm_sqr();
            }
        }
        if let Some(k) = &mut self.kalman {
            k.raise();
        }
    }

    /// The divergence test's slower tier ([`WORSE_CORRELATION`]): counts a block in which both
    /// predictions of converged filters are worse than none, resets the count otherwise.
    /// Filters still converging (the start-up, or relearning after a restart) are left to the
    /// faster tier: a reverberant room's filters were worse than none for 300 ms 2.3 s into
    /// the start-up and restarted (21.5 dB over 5-20 s without the restart, 13.0 dB with it).
    fn count_worse_blocks(&mut self) {
        let worse = |c: (f32, f32)| c.0 < WORSE_CORRELATION * c.1;
        self.worse_blocks =
            if self.filters_converged() && worse(self.cf) && worse(self.cb) { self.worse_blocks + 1 } else { 0 };
    }

    /// The tail-growth test (module docs, 3.; TAIL_GROW_SHARE): each partition's share of the
    /// echo estimate is its weights' power weighted by the far end's power spectrum over the
    /// window; when the last two partitions' mean share is within TAIL_GROW_SHARE of the
    /// strongest's, the room is longer than the filter and TAIL_GROW_PARTS partitions (zero,
    /// already allocated) are added, up to `max_parts`.
    fn grow_tail(&mut self) {
        let bins = self.bins;
        let idx = window_index(self.ring_len, self.t, self.offset, bins);
        self.xbar.fill(0.0);
        for k in 0..self.parts {
            let o = idx(k);
            for (x, p) in self.xbar.iter_mut().zip(&self.xpow[o..o + bins]) {
                *x += p;
            }
        }
        let (wf, xbar) = (&self.wf, &self.xbar);
        let share = |k: usize| -> f32 { wf.part(k).iter().zip(xbar).map(|(c, x)| c.norm_sqr() * x).sum() };
        let peak = (0..self.parts).map(share).fold(0.0f32, f32::max);
        let tail = 0.5 * (share(self.parts - 1) + share(self.parts - 2));
        if peak > 0.0 && tail.is_finite() && tail > TAIL_GROW_SHARE * peak {
            let n = self.parts;
            let mut grow = TAIL_GROW_PARTS;
            // The decay from the middle partitions to the last two, dB per partition (10 ms),
            // extrapolated to where the tail falls to TAIL_JUMP_DB under the strongest share.
            let m = n / 2;
            let mid = 0.5 * (share(m - 1) + share(m));
            if mid > tail && tail > 0.0 {
                let slope_db = 10.0 * (mid / tail).log10() / (n - 1 - m) as f32;
                if slope_db >= TAIL_JUMP_MIN_SLOPE_DB {
                    let need_db = 10.0 * (tail / peak).log10() + TAIL_JUMP_DB;
                    let more = (need_db / slope_db).ceil().max(0.0) as usize;
                    grow = more.div_ceil(TAIL_GROW_PARTS).max(1) * TAIL_GROW_PARTS;
                }
            }
            self.set_parts((n + grow).min(self.max_parts));
        }
    }

    /// Sets the partitions both filters use; those beyond stay zero (cleared on a restart,
    /// never adapted).
    fn set_parts(&mut self, parts: usize) {
        if let Some(k) = &mut self.kalman {
            k.grow(self.parts, parts);
        }
        self.parts = parts;
        self.wf.parts = parts;
        self.wb.parts = parts;
    }

    /// Past the start-up and not relearning a restart: the filters model the present path.
    fn filters_converged(&self) -> bool {
        self.prev_left == 0 && self.far_blocks >= postfilter::STARTUP_BLOCKS
    }

    /// While relearning after the restart of converged filters (module docs, 2.): whether the
    /// new filter confirms the present window — its prediction holds at least USELESS_MIN_SHARE
    /// of the microphone power, is not worse than none (USELESS_CORRELATION), and its strongest
    /// partition is among the first RELEARN_PEAK_PARTITIONS (plus the lead). A bulk delay that
    /// moved with the path leaves the echo outside the window or late in it, and the estimate
    /// stays free to follow it (the near-end detector also fires on such unexplained echo).
    fn relearnt_at_window(&self) -> bool {
        if self.prev_left == 0 || !self.relearn_hold {
            return false;
        }
        let (dy, yy) = self.cb;
        if yy <= USELESS_MIN_SHARE * self.smic || dy <= USELESS_CORRELATION * yy {
            return false;
        }
        let (peak, energy) = self.wb.peak_partition();
        energy > 0.0 && peak < RELEARN_PEAK_PARTITIONS + self.lead
    }

    /// Forgets all state (filters, delay estimate, noise estimate).
    pub fn reset(&mut self) {
        if let Some(k) = &mut self.kalman {
            k.set_p0(KALMAN_P0);
            k.reset();
        }
        self.steps.set_p0(KALMAN_P0);
        self.steps.reset();
        self.path_gain = (0.0, 0.0);
        self.mispredicted_run = 0;
        self.far_pending.fill(0.0);
        self.far_prev.fill(0.0);
        self.far_hist.fill(0.0);
        self.frac = 0;
        self.aligned = false;
        self.xring.fill(Cpx::new(0.0, 0.0));
        self.xpow.fill(0.0);
        self.far_on.fill(false);
        self.delay.reset();
        self.offset = 0;
        self.lead = 0;
        self.wf.clear();
        self.wb.clear();
        self.w_prev.clear();
        self.w_prev.parts = self.base_parts;
        self.set_parts(self.base_parts);
        self.prev_left = 0;
        self.relearn_hold = false;
        self.yprev.fill(0.0);
        self.yprev_hist.fill(0.0);
        self.yprev_win.fill(0.0);
        self.leak_b.reset();
        self.sdy.fill(Cpx::new(0.0, 0.0));
        self.sdd.fill(0.0);
        self.syy.fill(0.0);
        self.see.fill(0.0);
        self.rho.fill(1.0);
        self.rho_single.fill(1.0);
        self.coherence = 0.0;
        self.sf = 0.0;
        self.sb = 0.0;
        self.cf = (0.0, 0.0);
        self.cb = (0.0, 0.0);
        self.useless_blocks = 0;
        self.worse_blocks = 0;
        self.smic = 0.0;
        self.far_blocks = 0;
        self.saturation.reset();
        self.e_hist.fill(0.0);
        self.d_hist.fill(0.0);
        self.ytail.fill(0.0);
        self.stail.fill(0.0);
        self.near_hang = 0;
        self.evidence_hang = 0;
        self.near_marked = false;
        self.dt_hang = 0;
        self.near_score = 0.0;
        self.y_past.fill(0.0);
        self.mispredicted = 0.0;
        self.cf_fast = (0.0, 0.0);
        self.depth_log = 0.0;
        self.depth_bin.fill(0.0);
        self.gain.fill(1.0);
        self.prev_clean.fill(0.0);
        self.region_excess.fill(0.0);
        self.comb_f0 = 0.0;
        self.noise.reset();
        if let Some(ns) = self.ns.as_mut() {
            ns.reset();
        }
        self.overlap.fill(0.0);
    }
}

impl Processor for Aec {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(AudioFormat::mono(self.cfg.sample_rate));
        let mut spec = NodeSpec::new("aec")
            .with_input(PortSpec::required("mic", a))
            .with_input(PortSpec::required("far", a))
            .with_output(PortSpec::required("out", a));
        if self.cfg.linear_output {
            spec = spec.with_output(PortSpec::required("linear", a));
        }
        spec.with_latency_ns(10_000_000)
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let mic = io.audio_in(0);
        let far = io.audio_in(1);
        let (hop, lin) = (self.hop, self.cfg.linear_output);
        io.audio_out(0).copy_from_slice(mic);
        if lin {
            io.audio_out(1).fill(0.0);
        }
        let mut ok = mic.len() % hop == 0;
        if ok {
            for (k, fr) in far.chunks(hop).take(mic.len() / hop).enumerate() {
                let r = k * hop..(k + 1) * hop;
                ok &= self.process_render_frame(fr);
                ok &= self.process_capture_frame(&mut io.audio_out(0)[r.clone()]);
                if lin {
                    // The "linear" port: the frame's linear output, where "out" has its output.
                    io.audio_out(1)[r].copy_from_slice(self.linear_output());
                }
            }
        } else {
            io.audio_out(0).fill(0.0);
        }
        if !ok {
            io.report_error();
        }
    }

    fn reset(&mut self) {
        Aec::reset(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight seconds: a pulse-train far end through a 12 ms decaying echo path with a
    /// loudspeaker's soft clipping, and near-end bursts from 4 s (so the filters adapt, the
    /// delay estimator locks, the near-end detector and the post-filter both act).
    fn signals(rate: u32) -> (Vec<f32>, Vec<f32>) {
        let n = rate as usize * 8;
        let (mut seed, mut far) = (0x2468_ace0u32, Vec::with_capacity(n));
        for i in 0..n {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / rate as f32;
            let on = (t % 1.3) < 0.9;
            let pulse = if i % (rate as usize / 110) == 0 { 0.8 } else { 0.0 };
            far.push(if on { 0.2 * white + pulse } else { 0.0 });
        }
        let taps = rate as usize * 12 / 1000;
        let delay = rate as usize * 30 / 1000;
        let mic = (0..n)
            .map(|i| {
                let echo = echo_at(&far, i, delay, taps, 0.5);
                let t = i as f32 / rate as f32;
                let near =
                    if t > 4.0 && (t % 1.0) < 0.4 { 0.1 * (2.0 * std::f32::consts::PI * 220.0 * t).sin() } else { 0.0 };
                (echo * 1.5).tanh() / 1.5 + near + 1e-4 * (i % 7) as f32
            })
            .collect();
        (far, mic)
    }

    /// The echo at sample `i` of `far` through a `taps`-long exponentially decaying response
    /// of peak `gain`, `delay` samples late.
    fn echo_at(far: &[f32], i: usize, delay: usize, taps: usize, gain: f32) -> f32 {
        (0..taps)
            .filter(|&k| i >= delay + k)
            .map(|k| gain * (-(k as f32) / taps as f32 * 4.0).exp() * far[i - delay - k])
            .sum()
    }

    /// Every output sample of one canceller over the signals, as bits.
    fn outputs(mut aec: Aec, far: &[f32], mic: &[f32]) -> Vec<u32> {
        let h = aec.frame_len();
        let mut bits = Vec::with_capacity(mic.len());
        for (f, m) in far.chunks_exact(h).zip(mic.chunks_exact(h)) {
            assert!(aec.process_render_frame(f));
            let mut y = m.to_vec();
            assert!(aec.process_capture_frame(&mut y));
            bits.extend(y.iter().map(|v| v.to_bits()));
        }
        bits
    }

    #[test]
    fn near_end_holds_the_delay_estimate_while_relearning_after_a_converged_restart() {
        // 20 s at 16 kHz: the pulse-train far end through a 30 ms echo path whose response
        // flips sign at 10 s (an echo-path change the divergence test restarts on), with a
        // near end from 9 to 16 s. Until session 21 the restart zeroed the far-end count that
        // the hold waits for, so near-end speech could move the estimate while the new path
        // was relearnt in double talk (held-out h1 d200_pathchange: the filter window moved
        // +30, −20 and −20 ms there while the bulk delay stayed).
        let rate = 16000usize;
        let (far, _) = signals(rate as u32);
        let far: Vec<f32> = far.iter().chain(&far).chain(&far[..rate * 4]).copied().collect();
        let (taps, delay) = (rate * 12 / 1000, rate * 30 / 1000);
        let mic: Vec<f32> = (0..far.len())
            .map(|i| {
                let sign = if i < rate * 10 { 0.5 } else { -0.5 };
                let echo = echo_at(&far, i, delay, taps, sign);
                let t = i as f32 / rate as f32;
                let near = if (9.0..16.0).contains(&t) && (t % 0.5) < 0.4 {
                    0.1 * (2.0 * std::f32::consts::PI * 180.0 * t).sin()
                } else {
                    0.0
                };
                echo + near + 1e-4 * (i % 7) as f32
            })
            .collect();
        let mut aec = Aec::new(AdvancedAecConfig::new(rate as u32)).unwrap();
        let (mut relearning_near, mut held) = (0, 0);
        for (f, m) in far.chunks_exact(160).zip(mic.chunks_exact(160)) {
            // The hold is set from the state the block starts with.
            let (restarted, relearning, near) = (aec.restarts() > 0, aec.prev_left > 0, aec.near_hang > 0);
            aec.process_render_frame(f);
            let mut y = m.to_vec();
            aec.process_capture_frame(&mut y);
            if restarted && relearning && near {
                relearning_near += 1;
                held += usize::from(aec.delay.held());
            }
        }
        println!("restarts {}, held in {held} of {relearning_near} near-end blocks while relearning", aec.restarts());
        assert_eq!(aec.restarts(), 1);
        assert!(relearning_near > 100, "{relearning_near} near-end blocks while relearning");
        assert!(held * 4 > relearning_near * 3, "estimate held in {held} of {relearning_near} blocks");
    }

    #[test]
    fn every_kernel_gives_the_same_outputs_bit_for_bit() {
        for rate in [8000, 16000, 48000] {
            let (far, mic) = signals(rate);
            for denoise in [None, Some(NsLevel::High)] {
                let aec = || Aec::new(AdvancedAecConfig::new(rate).with_denoise(denoise)).unwrap();
                let want = outputs(aec().with_kernel(Kernel::Scalar), &far, &mic);
                // The canceller must act, or equality would prove little: the echo-only
                // second 2–3 s comes out at least 10 dB down.
                let lat = aec().latency();
                let (a, b) = (2 * rate as usize, 3 * rate as usize);
                let out: f32 = want[a + lat..b + lat].iter().map(|&v| f32::from_bits(v).powi(2)).sum();
                let inp: f32 = mic[a..b].iter().map(|v| v * v).sum();
                let db = 10.0 * (out / inp).log10();
                assert!(db < -10.0, "rate {rate}, denoise {denoise:?}: echo {db:.1} dB");
                for kernel in Kernel::ALL.into_iter().filter(|k| k.is_available()) {
                    let got = outputs(aec().with_kernel(kernel), &far, &mic);
                    assert!(got == want, "rate {rate}, denoise {denoise:?}, {kernel:?}");
                }
            }
        }
    }
}
