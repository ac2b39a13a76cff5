//! [`JitterBuffer`]: the packet buffer, delay manager, decision logic and decoder of one
//! stream, driven by the caller's clock (sans I/O).

use super::delay::{DelayManager, QuantileWindow, SkewEstimator, TargetCost};
use super::packet_buffer::{Inserted, PacketBuffer};
use super::stats::{BurstGapReport, BurstGapStats, RtpReceiveStats};
use super::tsm::{accelerate, preemptive_expand, Stretch};
use crate::codec::{CodecError, CodecInfo, Decoder};
use crate::kernels;
use rvoip_media_graph::{Packet, PacketMeta, Quantum};

/// Mean power below which a decoded block counts as a pause (about −50 dBFS).
const QUIET_POWER: f32 = 1e-5;

/// How long a pause must have lasted before its quiet blocks are shortened (accelerated),
/// ms. The first blocks after a talkspurt hold the last word's decaying tail (quieter than
/// [`QUIET_POWER`] but part of the utterance): the start-up delay's excess (the initial
/// delay over the target: ~60 ms on a paced stream before such streams started early, now
/// where the first packets disagree and the target turns out lower), given back there,
/// cost G.722 call → call 0.08 PESQ; given back 300 ms into the pause, 0.00–0.03
/// (BENCHMARKS.md, sessions, session 12). Pauses shorter than this keep their length. Only
/// during the warm-up ([`WARM_PACKETS`]), where that excess comes from: later pauses are
/// shortened at once.
const QUIET_HOLD_MS: i64 = 300;

/// In the stream's leading silence the playout offset is brought down to within this of
/// [`JitterBuffer::start_bound_us`], µs.
const LEAD_BAND_US: i64 = 2000;

/// Smallest phase past the pull grid that a pause gives back, µs (see
/// [`JitterBuffer::give_back_grid_phase`]): a block's playout point a millisecond or two past
/// a pull is left there (removing so little takes a whole pitch period or nothing).
const GRID_PHASE_MIN_US: i64 = 2000;
/// The fast sender's drift followed in pauses is counted up to this, µs (the pauses' band).
const DRIFT_MAX_US: f64 = 20_000.0;

/// A sender clock is taken for fast (see [`JitterBuffer::owe_fast_step`]) once the skew
/// estimator's slope is below this (200 ppm fast: the issue's ±300 ppm with a margin, and
/// above what jitter alone reads — on the kit's and two held-out sets' streams without drift
/// the slope stays within −125…+40 ppm from 12 s, and reads down to −243 ppm only in its
/// first seconds, from 8 s) ...
const FAST_SENDER_SLOPE: f64 = -2e-4;

/// ... fitted over at least this many seconds of transit minima.
const FAST_SENDER_SECONDS: usize = 10;

/// A sender clock is taken for slow (see [`JitterBuffer::deep_pause_band`]) once the skew
/// estimator's slope is above this over [`FAST_SENDER_SECONDS`] (200 ppm slow, the fast
/// side's threshold mirrored; jitter alone reads up to +40 ppm from 12 s on the kit's and two
/// held-out sets' streams without drift).
const SLOW_SENDER_SLOPE: f64 = 2e-4;

/// Packets before the start bound is trusted in the leading silence (its Student's t
/// factor is 6.5 at 4 packets, 3.4 at 10). Not a knife edge on a LAN any more: since the
/// give-back stops at the bound ([`JitterBuffer::lead_stretch`]), 6, 8, 10 and 15 all
/// give the LAN gain on the kit's three sets (before that, 6, 8 and 15 each lost an Opus
/// LAN 0.5–2.2 R). Below 6 a spike scenario that looks steady for its first packets lost
/// 1.3–3.0 R (pcmu_spikes, 3 to 5 packets); 10 keeps its distance from that edge
/// (BENCHMARKS, jitter buffer, session 19, second round).
const LEAD_PACKETS: u32 = 10;

/// How long a pause must have lasted before a decoder without in-band FEC stretches it by a
/// single pull up to the target, ms (see [`JitterBuffer::deep_pause_band`]).
const DEEP_PAUSE_MS: i64 = 900;

/// ... how long no packet may have been discarded as late before it, ms ...
const LATE_FREE_MS: i64 = 5000;

/// ... and the largest buffer delay (the target above the fastest packet) it applies at, ms.
const DEEP_PAUSE_MAX_BUFFER_MS: i64 = 120;

/// Packets until the delay histogram's target is trusted on its own (5 s of 20 ms).
const WARM_PACKETS: u32 = 250;

/// A decoder without in-band FEC leaves a packet out of the warm-up floor's statistics
/// when its transit offset is this far above that floor (mean + 3 standard deviations of
/// the offsets counted so far), µs: a delay spike and its drain, which the histogram's
/// own target weighs (see [`JitterBuffer::warm_outlier`]).
const WARM_OUTLIER_US: f64 = 100_000.0;

/// A delay spike left out of the warm-up floor ([`WARM_OUTLIER_US`]) among the first this
/// many packets keeps a decoder without in-band FEC from stretching its pauses above the
/// floor for the rest of the warm-up (see [`JitterBuffer::floor_lift_us`]; with in-band FEC
/// the window is the quantile's packets, [`JitterBuffer::quantile_packets`]) ...
const EARLY_SPIKE_PACKETS: u32 = 50;

/// ... once at least this many of those packets were left out: a spike holds the packets
/// queued behind it, and its first few arrive together, all far above the floor; heavy
/// jitter's single reordered straggler (a 208 ms packet among 0–120 ms ones) is not one.
const EARLY_SPIKE_OUTLIERS: u32 = 2;

/// Late packets a decoder without in-band FEC keeps aside while it conceals in speech, at
/// most this many in sequence, each at most [`HELD_LATE_US`] late (see
/// [`JitterBuffer::play_held_late`]).
const HELD_LATE_PACKETS: usize = 4;

/// ... how late such a packet may be when it arrives, µs.
const HELD_LATE_US: i64 = 80_000;

/// ... and room for this many payload bytes per packet kept aside (30 ms of G.711; longer
/// packets are not kept): a session's heap stays within issue 11's 64 KiB.
const HELD_LATE_BYTES: usize = 240;

/// A stream that has not paused since it started stretches its sound toward the target in
/// the warm-up once this many separate late discards came (see [`JitterBuffer::stretch`]):
/// without a pause the warm-up has nowhere else to move.
const UNPAUSED_LATE_EVENTS: u32 = 3;

/// Late discards this close to the previous one are the same event (a spike's packets
/// arrive together), µs.
const LATE_EVENT_GAP_US: i64 = 40_000;

/// A network whose margin (three times its RFC 3550 jitter) is at most this is steady, µs:
/// its target is trusted from few packets (see [`JitterBuffer::steady`]).
const STEADY_MARGIN_US: i64 = 5000;

/// The margin above the target's quantile is this many times the network's jitter (at
/// most [`JitterConfig::margin_ms`], at least 1 ms).
const MARGIN_PER_JITTER: f64 = 3.0;

/// The delay histogram's bucket, µs (a target is a bucket's upper edge).
const DELAY_BUCKET_US: i64 = 1000;

/// Packets the delay histogram must have seen before the grid's slack is trusted (10 s of
/// 20 ms: half its memory; see [`JitterBuffer::grid_slack_us`]).
const GRID_SLACK_PACKETS: u64 = 500;

/// The largest sender clock skew (µs per µs: 150 ppm) the grid's slack is trusted at. A
/// drifting clock slides the transits through the pull grid (300 ppm: 6 ms over the delay
/// histogram's 20 s memory), so the slack its quantiles show is not the slack now: the
/// slack rule on a 300 ppm fast sender under light jitter left the delay to climb 22 ms
/// where it otherwise moved within 16 (`a_fast_sender_clock_is_followed_in_pauses_without_a_step`).
/// Jitter alone reads up to 125 ppm (see [`FAST_SENDER_SLOPE`]).
const GRID_SLACK_MAX_SKEW: f64 = 1.5e-4;

/// The most weight above the usable quantile's bucket (a fraction of the delay histogram's)
/// for that bucket to hold the stream's slowest packets (see [`JitterBuffer::grid_slack_us`]).
const GRID_TOP_WEIGHT: f64 = 1e-3;

/// Light jitter for the grid's slack: the usable quantile at most this many pulls above the
/// fastest packets (jb_lan34b lan4 / lan6: one or two; moderate jitter five or more).
const GRID_SLACK_PULLS: i64 = 2;

/// Where the raw quantile and the margin stay under the next pull-grid step, the margin is
/// at most a pull less this, µs (see [`JitterBuffer::grid_margin_us`]).
const GRID_STEP_KEEP_US: i64 = 2000;

/// Packets after which RFC 3550's interarrival jitter (gain 1/16) has settled; before, the
/// margin takes the standard deviation of the transits seen.
const JITTER_SETTLED_PACKETS: u32 = 16;

/// One-sided 99.5 % quantiles of Student's t with 1..=16 degrees of freedom.
const T995: [f64; 16] =
    [63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169, 3.106, 3.055, 3.012, 2.977, 2.947, 2.921];

/// How many standard deviations above the mean of `n` transit offsets a new packet's may
/// reach (the 99.5 % prediction bound of a normal sample: `t(n−1)·√(1 + 1/n)`), at least 3.
fn warm_sd_factor(n: u32) -> f64 {
    let t = T995.get(n.saturating_sub(2) as usize).copied().unwrap_or(2.576);
    (t * (1.0 + 1.0 / f64::from(n.max(1))).sqrt()).max(3.0)
}

/// Mean + 3 standard deviations of Welford statistics (at least two values), µs.
fn floor_of((n, mean, m2): (u32, f64, f64)) -> f64 {
    mean + 3.0 * (m2 / f64::from(n.max(2) - 1)).sqrt()
}

/// One more sample `x` in Welford's running (count, mean, sum of squared deviations).
fn welford((n, mean, m2): (u32, f64, f64), x: f64) -> (u32, f64, f64) {
    let n = n + 1;
    let delta = x - mean;
    let mean = mean + delta / f64::from(n);
    (n, mean, m2 + delta * (x - mean))
}

/// A decoder without in-band FEC's [`JitterConfig::target_rise_cost`], E-model R per ms:
/// about the delay impairment's own slope (0.024 per ms below 177 ms), so a rise must save
/// late packets worth twice its delay (BENCHMARKS, jitter buffer, session 18 third round).
const TARGET_RISE_COST: f64 = 0.02;

/// How long the buffer must have run dry in speech, concealing as a loss, before it waits
/// for the stream (see [`JitterConfig::spike_wait_ms`]), ms: a packet in the target's tail
/// (a few ms late) is concealed as before, instead of turning into a step in the delay.
const SPIKE_GRACE_MS: i64 = 40;

/// How long the buffer must have run dry, concealing as a loss, before late packets that
/// end the dry run make it a *stalled stream* (a delay spike whose drain is arriving), ms:
/// the gap left before the drain's first packet in time is then a pause, and the rise of
/// a target the drain lifted is waited there (see [`JitterBuffer::stalled_by_spike`]).
/// Past 200 ms the codec's concealment has faded to silence (G.711: 210 ms), and a
/// 60 ms burst loss (the kit's mean) is far below it.
const STALL_DRY_MS: i64 = 200;

/// How long a young histogram's target must have held a level one pull step lower before a
/// decoder with in-band FEC (Opus) accelerates toward it, ms (see [`JitterBuffer::in_dip`]).
const DIP_HOLD_MS: i64 = 1000;

/// What a fall of the target may exceed a pull by and still be one step of the pull grid,
/// µs (the margin moves the target by a millisecond or so besides the grid's steps).
const DIP_STEP_SLACK_US: i64 = 2000;

/// A packet whose transit offset is this far above the delay histogram's target when it
/// arrives is a delay spike's, µs (see [`JitterBuffer::speech_wait_slack_us`]): far beyond
/// any moderate network's tail (gamma jitter of mean 15 ms reaches 60–80 ms), the height of
/// a stalled link's or a queue's spike.
const SPIKE_SEEN_US: i64 = 100_000;

/// How far short of its aim preemptive expand stops, µs (its periods come whole, so the
/// last one may overshoot the aim; see [`JitterBuffer::stretch`]). An owed rise with
/// in-band FEC goes all the way (see [`JitterBuffer::deep_pause_band`]).
const EXPAND_SHORT_US: i64 = 2000;

/// [`JitterConfig::rewind_ms`] of a decoder with in-band FEC (Opus), ms; a decoder without
/// it (G.711, G.722, G.729) never rewinds unless configured to.
///
/// ```
/// use rvoip_media_nodes::jitter::{JitterConfig, REWIND_FEC_MS};
/// assert_eq!(JitterConfig::default().rewind_ms, None); // the codec's
/// let opus_like = JitterConfig { rewind_ms: Some(REWIND_FEC_MS), ..JitterConfig::default() };
/// assert!(opus_like.validate().is_ok());
/// ```
pub const REWIND_FEC_MS: u32 = 60;

/// RTP payload type of RFC 3389 comfort noise at 8 kHz.
pub const CN_PAYLOAD_TYPE: u8 = 13;

/// Settings of a [`JitterBuffer`]. [`JitterConfig::default`] is tuned for speech.
///
/// ```
/// use rvoip_media_nodes::jitter::JitterConfig;
/// let c = JitterConfig { quantile: 0.99, ..JitterConfig::default() };
/// assert!(c.validate().is_ok());
/// assert!(JitterConfig { capacity: 0, ..c }.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterConfig {
    /// The target delay never exceeds this quantile of the packets' transit (0.5..1).
    pub quantile: f64,
    /// What the target delay trades off (see [`DelayManager`](super::DelayManager)).
    pub cost: TargetCost,
    /// Per-packet forgetting factor of the delay histogram (0.9..1; 0.995 ≈ a 4 s memory
    /// at 50 packets/s). Not much above the default 0.999: the target is an upper
    /// quantile, so under clock drift it lags the drift by the memory (0.9998 let the
    /// delay grow 110 ms in 600 s at 300 ppm).
    pub forget: f64,
    /// Largest margin above the quantile, ms (the offset may sit below the target by the
    /// stretch band; the tick granularity is in the transits already). The margin is three
    /// times the network's jitter (RFC 3550 interarrival jitter; before it settles, the
    /// standard deviation of the first transits), at least 1 ms and at most this, and it
    /// never shrinks within a stream (a smaller margin would give delay back by a timeline
    /// move): a steady network (a LAN, loopback) plays 1–3 ms above its quantile instead of
    /// 10 ms (BENCHMARKS, jitter buffer, session 14).
    pub margin_ms: u32,
    /// Smallest margin above the quantile, ms (0 by default: only the jitter's, at least
    /// 1 ms). A caller that pulls on a fixed grid sets its pull length: a packet is usable
    /// at the first pull after it arrived, so on a steady stream whose packets arrive just
    /// before a pull a fraction of a millisecond of delay makes one a whole pull later,
    /// which a margin of three times the jitter does not cover (a session's loopback call
    /// then lost a packet in speech; BENCHMARKS.md, sessions, session 16). It does not
    /// make a network unsteady ([`JitterConfig::margin_ms`] and the steady test use the
    /// jitter's margin).
    pub min_margin_ms: u32,
    /// Delay before the first packet plays, above its own transit, ms (until the
    /// histogram knows better).
    pub initial_delay_ms: u32,
    /// Largest buffer delay the target may reach, ms.
    pub max_delay_ms: u32,
    /// In a quiet block (pauses), accelerate when the playout offset is this far above
    /// the target, ms.
    pub accelerate_quiet_ms: u32,
    /// In a quiet block, stretch (preemptive expand) when the offset is this far below the
    /// target, ms. 20 by default (a packet): the timeline moves less often, and every move,
    /// even in a pause, costs PESQ where speech follows within a couple of seconds (with 10:
    /// R 0.10 lower on the evaluation kit and 0.14 on the held-out set; BENCHMARKS, session 12).
    /// A decoder without in-band FEC narrows it to one pull in a deep pause (900 ms, no late
    /// packet for 5 s, a buffer of at most 120 ms; BENCHMARKS, jitter buffer, session 26).
    pub expand_quiet_ms: u32,
    /// In speech, accelerate only when the offset is this far above the target, ms (time
    /// scaling speech is audible; pauses come every few seconds).
    pub accelerate_speech_ms: u32,
    /// In speech, stretch only when the offset is this far below the target, ms; for a
    /// decoder without in-band FEC (G.711, G.722, G.729) only after the warm-up (250
    /// packets): before it a target that jumped with one delay spike falls back within
    /// seconds, so its rise waits for a pause (BENCHMARKS, jitter buffer, session 27).
    pub expand_speech_ms: u32,
    /// Packet slots (memory bound: a full buffer evicts its oldest packet).
    pub capacity: usize,
    /// Longest wait for a missing packet while later ones are there, ms.
    pub max_wait_ms: u32,
    /// With nothing to play, stretch time (wait for the late packet) only while the
    /// offset is less than this above the target, ms; beyond it the gap is concealed as a
    /// loss and the packets it covers count as late.
    pub stretch_budget_ms: u32,
    /// A late packet that continues the sequence (the next one after the last played,
    /// the start of a talk spurt) while the buffer conceals in a pause is still played if
    /// it is at most this late, ms: the concealment so far becomes a stretch (a step up in
    /// the delay). `None`, the default: the codec's — [`REWIND_FEC_MS`] (60) for a decoder
    /// with in-band FEC (Opus), 0 (never) for one without (G.711, G.722, G.729), chosen
    /// when the buffer is built like [`JitterConfig::target_rise_cost`]. Without FEC the
    /// rewinds' timeline moves cost more PESQ than the late packets they save: on seven
    /// jitter sets (119 traces) PCMU heavy jitter +3.6 R, regime +1.1, and no PCMU
    /// condition lower, while Opus lost on sender drift −300 ppm (kit −2.0; BENCHMARKS,
    /// jitter buffer, session 24).
    pub rewind_ms: Option<u32>,
    /// Payload bytes a packet may have (1..=1500); longer packets are refused as bad.
    pub max_payload_bytes: usize,
    /// The longest packet decoded, ms (10..=120; 120, the default, is the longest Opus
    /// packet). It sizes the decode scratch and the playout buffer's room for a stretched
    /// packet: a session sets its codec's longest ptime (60 ms for G.711). Longer packets
    /// decode to more than fits and are refused as bad.
    pub max_packet_ms: u32,
    /// Payload bytes all packet slots share (0, the default: `capacity ×
    /// max_payload_bytes`, room for every slot's longest packet; else at least
    /// `max_payload_bytes`). When a packet finds no room the oldest packets are evicted, as
    /// when every slot is used. A session sizes it for its codec's bytes over the buffer's
    /// delay and one longest packet (≈ 4.5 KB for G.711 at 500 ms) instead of slots × the
    /// longest packet.
    pub payload_arena_bytes: usize,
    /// Track the sender's clock skew (off by default: on the evaluation sets it did not
    /// flatten the delay, whose swings under drift come from the stretch bands) ([`SkewEstimator`](super::SkewEstimator)) and keep
    /// the delay histogram free of its trend, so a drifting clock neither smears the
    /// distribution nor lets the target lag behind it.
    pub track_skew: bool,
    /// Weight of a delay spike's drain in the delay histogram, 0..=1 (see
    /// [`DelayManager::with_spike_tail_weight`](super::DelayManager::with_spike_tail_weight)),
    /// 1 by default for every codec: the target catches the lower part of a drain, and the
    /// codec's concealment (with Opus, its FEC too) bridges the rest. G.711, G.722 and G.729
    /// had 0 with a 400 ms [`JitterConfig::spike_wait_ms`] from session 17 to 22, chosen on
    /// one spike trace per set; on 20 PCMU spike traces that lost 2.4 R on average to this
    /// default and 1.3 R to a fixed 120 ms buffer (BENCHMARKS, jitter buffer, session 23).
    pub spike_tail_weight: f64,
    /// With nothing to play (no packet there at all: a delay spike has stalled the stream,
    /// or a burst was lost) for 40 ms, wait for the next packet up to this far above the
    /// target, ms, concealing without moving the playout point, before concealing the gap
    /// as a loss. A spike's packets then play late instead of being discarded, and the
    /// excess is given back by accelerating (in speech beyond its band, in the next pause
    /// all of it); a loss is found out when a later packet arrives, and what was waited
    /// becomes part of its concealment. A spike taller than the wait counts its drain in
    /// the target's histogram in full. 0, the default, for every codec: the target catches
    /// part of a spike instead (see [`JitterConfig::spike_tail_weight`]).
    pub spike_wait_ms: u32,
    /// Cost of raising the target delay, per ms of the rise, in the cost's units (E-model R
    /// points for [`TargetCost::EModel`]; see
    /// [`DelayManager::with_rise_cost`](super::DelayManager::with_rise_cost)): the target
    /// rises only when the late packets it saves outweigh the stretch that moves the
    /// timeline. `None`, the default: the codec's — 0.02 for a decoder without in-band FEC
    /// (G.711, G.722, G.729), 0 for one with it (Opus, whose target catches part of a
    /// spike's drain for FEC to bridge the rest; on the evaluation sets a rise cost lost
    /// there; BENCHMARKS, jitter buffer, session 18 third round). Chosen when the buffer is
    /// built, like [`JitterConfig::spike_tail_weight`].
    pub target_rise_cost: Option<f64>,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            quantile: 0.995,
            cost: TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 },
            forget: 0.999,
            margin_ms: 10,
            min_margin_ms: 0,
            initial_delay_ms: 80,
            max_delay_ms: 1000,
            accelerate_quiet_ms: 20,
            expand_quiet_ms: 20,
            accelerate_speech_ms: 50,
            expand_speech_ms: 50,
            capacity: 100,
            max_wait_ms: 60,
            stretch_budget_ms: 0,
            rewind_ms: None,
            max_payload_bytes: rvoip_media_graph::MAX_PAYLOAD,
            payload_arena_bytes: 0,
            max_packet_ms: 120,
            track_skew: false,
            spike_tail_weight: 1.0,
            spike_wait_ms: 0,
            target_rise_cost: None,
        }
    }
}

/// Why a [`JitterBuffer`] could not be built.
///
/// ```
/// use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig, JitterError};
/// use rvoip_media_nodes::opus::OpusCodecDecoder;
///
/// let bad = JitterConfig { quantile: 1.5, ..JitterConfig::default() };
/// assert_eq!(bad.validate(), Err(JitterError::Config("quantile must be in 0.5..1")));
/// let stereo = Box::new(OpusCodecDecoder::new(48_000, 2, 20_000).unwrap());
/// assert!(matches!(JitterBuffer::new(stereo, JitterConfig::default()), Err(JitterError::Decoder(_))));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JitterError {
    /// A setting is outside its range (names it).
    #[error("jitter buffer setting out of range: {0}")]
    Config(&'static str),
    /// The decoder is not mono or its rate is not a multiple of 100 Hz.
    #[error("jitter buffer: {0}")]
    Decoder(&'static str),
    /// The decoder refused (its error).
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Delay a live stream's buffer ([`JitterConfig::for_stream`]) holds at most, ms.
pub const LIVE_MAX_DELAY_MS: u32 = 500;

impl JitterConfig {
    /// The buffer of a live stream receiving `info`'s codec on a graph whose cycle is
    /// `quantum` (what sessions and conference legs use): the tuned defaults with at most
    /// [`LIVE_MAX_DELAY_MS`] of delay and 50 packet slots (500 ms of 10 ms packets, 1 s of
    /// 20 ms ones) instead of 1 s and 100 — half a second is already far past a
    /// conversation's delay budget. Packets may be as long as the codec's longest ptime (60
    /// ms for G.711, G.722 and G.729, 120 ms for Opus), at the codec's densest rate and at
    /// least 64 kbit/s (G.711's and G.722's, the densest a live switch can bring at 8 or 16
    /// kHz); the slots share the bytes of the max delay and one longest packet at that
    /// rate, ≈ 4.5 KB for G.711, instead of 50 × the longest packet (at most that, for
    /// Opus, whose longest frames are dense). The margin above the delay quantile is at
    /// least the graph's quantum ([`JitterConfig::min_margin_ms`]: the buffer is pulled
    /// once a cycle, so a packet that just misses one is a cycle later).
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder};
    /// use rvoip_media_nodes::jitter::JitterConfig;
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let info = *G711CodecDecoder::new(G711Law::Ulaw).info();
    /// let c = JitterConfig::for_stream(&info, Quantum::MS_20);
    /// assert_eq!((c.max_delay_ms, c.capacity, c.max_packet_ms, c.min_margin_ms), (500, 50, 60, 20));
    /// assert_eq!((c.max_payload_bytes, c.payload_arena_bytes), (480, 4480));
    /// assert!(c.validate().is_ok());
    /// ```
    pub fn for_stream(info: &CodecInfo, quantum: Quantum) -> JitterConfig {
        let max_packet_ms = info.ptimes_us.iter().copied().max().unwrap_or(info.default_ptime_us).div_ceil(1000);
        let max_packet_ms = max_packet_ms.clamp(10, 120);
        let frame_us = (info.frame_samples.max(1) as u64 * 1_000_000).div_ceil(u64::from(info.sample_rate.max(1)));
        let bytes_per_ms = (info.max_frame_bytes as u64 * 1000).div_ceil(frame_us).max(8) as usize;
        let max_payload_bytes = (bytes_per_ms * max_packet_ms as usize).min(rvoip_media_graph::MAX_PAYLOAD);
        let capacity = 50;
        let held_ms = (LIVE_MAX_DELAY_MS + max_packet_ms) as usize;
        let payload_arena_bytes = (bytes_per_ms * held_ms).clamp(max_payload_bytes, capacity * max_payload_bytes);
        JitterConfig {
            max_delay_ms: LIVE_MAX_DELAY_MS,
            capacity,
            max_payload_bytes,
            payload_arena_bytes,
            max_packet_ms,
            min_margin_ms: quantum.micros().div_ceil(1000),
            ..JitterConfig::default()
        }
    }

    /// Checks every setting's range.
    ///
    /// # Errors
    /// [`JitterError::Config`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), JitterError> {
        if !(0.5..1.0).contains(&self.quantile) {
            return Err(JitterError::Config("quantile must be in 0.5..1"));
        }
        let cost_ok = match self.cost {
            TargetCost::Linear { loss_weight_ms } => (0.0..=1e9).contains(&loss_weight_ms),
            TargetCost::EModel { bpl, other_delay_ms } => {
                bpl > 0.0 && bpl < 1e3 && (0.0..1e4).contains(&other_delay_ms)
            }
        };
        if !cost_ok {
            return Err(JitterError::Config("cost parameters out of range"));
        }
        if self.target_rise_cost.is_some_and(|c| !(0.0..=100.0).contains(&c)) {
            return Err(JitterError::Config("target_rise_cost must be in 0..=100"));
        }
        if !(0.0..=1.0).contains(&self.spike_tail_weight) {
            return Err(JitterError::Config("spike_tail_weight must be in 0..=1"));
        }
        if !(0.9..1.0).contains(&self.forget) {
            return Err(JitterError::Config("forget must be in 0.9..1"));
        }
        if self.max_payload_bytes == 0 || self.max_payload_bytes > rvoip_media_graph::MAX_PAYLOAD {
            return Err(JitterError::Config("max_payload_bytes must be 1..=1500"));
        }
        let arena = self.payload_arena_bytes;
        if arena != 0 && (arena < self.max_payload_bytes || arena > 4096 * rvoip_media_graph::MAX_PAYLOAD) {
            return Err(JitterError::Config("payload_arena_bytes must be 0 or max_payload_bytes..=6144000"));
        }
        if !(10..=120).contains(&self.max_packet_ms) {
            return Err(JitterError::Config("max_packet_ms must be 10..=120"));
        }
        if self.capacity == 0 || self.capacity > 4096 {
            return Err(JitterError::Config("capacity must be 1..=4096 packets"));
        }
        if self.min_margin_ms > self.max_delay_ms {
            return Err(JitterError::Config("min_margin_ms must be at most max_delay_ms"));
        }
        if self.max_delay_ms == 0 || self.max_delay_ms > 10_000 || self.initial_delay_ms > self.max_delay_ms {
            return Err(JitterError::Config("max_delay_ms must be 1..=10000 and at least initial_delay_ms"));
        }
        Ok(())
    }
}

/// Counters of one stream, with the W3C `RTCInboundRtpStreamStats` meanings (times in
/// seconds, sums over samples as the W3C defines them). The mean buffer delay is
/// `jitter_buffer_delay / jitter_buffer_emitted_count`.
///
/// ```
/// use rvoip_media_nodes::codec::G711CodecDecoder;
/// use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig};
/// use rvoip_media_nodes::G711Law;
///
/// let jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
/// let s = jb.stats();
/// assert_eq!((s.packets_received, s.packets_lost, s.concealed_samples), (0, 0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JitterStats {
    /// RTP packets received (duplicates included, comfort noise included).
    pub packets_received: u64,
    /// RFC 3550 cumulative loss: expected − received (signed).
    pub packets_lost: i64,
    /// Packets received but not played: late, duplicate, evicted, undecodable.
    pub packets_discarded: u64,
    /// Of those, late ones.
    pub packets_late: u64,
    /// Of those, duplicates.
    pub packets_duplicate: u64,
    /// Undecodable payloads (refused by the decoder, empty or too long).
    pub packets_bad: u64,
    /// Packets of a payload type the stream did not negotiate (neither the codec's, an
    /// alternate's, nor comfort noise): dropped unread, as a plain decoder node drops them
    /// (`foreign_packets`); neither bad nor discarded.
    pub packets_foreign: u64,
    /// Packets played as silence without being decoded: their RFC 6464 level said silence
    /// ([`JitterBuffer::with_silence_skip`]).
    pub skipped_decodes: u64,
    /// RFC 3550 interarrival jitter, s.
    pub jitter: f64,
    /// Sum over emitted samples of their time in the buffer, s.
    pub jitter_buffer_delay: f64,
    /// Sum over emitted samples of the target delay when they were emitted, s.
    pub jitter_buffer_target_delay: f64,
    /// Same with the minimum delay the network alone asks for, s.
    pub jitter_buffer_minimum_delay: f64,
    /// Samples emitted from decoded packets.
    pub jitter_buffer_emitted_count: u64,
    /// Samples produced: decoded plus concealed.
    pub total_samples_received: u64,
    /// Samples concealed (codec concealment, comfort noise, silence while waiting).
    pub concealed_samples: u64,
    /// Concealed samples that were (near) silent.
    pub silent_concealed_samples: u64,
    /// Concealment runs started.
    pub concealment_events: u64,
    /// Samples inserted by preemptive expand.
    pub inserted_samples_for_deceleration: u64,
    /// Samples removed by accelerate.
    pub removed_samples_for_acceleration: u64,
    /// Lost packets rebuilt from the next packet's in-band FEC.
    pub fec_recovered: u64,
    /// Stream restarts (SSRC change, timestamp jump).
    pub resets: u64,
    /// Live codec switches (a packet of the alternate decoder's payload type played).
    pub codec_switches: u64,
    /// Current playout offset above the fastest packet's transit, ms.
    pub current_delay_ms: f64,
    /// Current target of the same, ms.
    pub target_delay_ms: f64,
}

/// A late packet kept aside (see [`JitterBuffer::play_held_late`]): its header facts and
/// where its payload lies in the buffer's `held_bytes`.
#[derive(Clone, Copy, Debug)]
struct HeldLate {
    meta: PacketMeta,
    ts: i64,
    seq: i64,
    arrival_us: i64,
    ticks: u32,
    at: usize,
    len: usize,
}

/// An adaptive jitter buffer with its decoder, for one mono stream (see the
/// [module docs](super)).
///
/// The caller inserts packets with their arrival time in [`PacketMeta::arrival_ns`] and
/// pulls audio at its playout ticks, giving the tick's time; nothing reads a clock, and
/// nothing allocates after construction.
///
/// [`PacketMeta::arrival_ns`]: rvoip_media_graph::PacketMeta::arrival_ns
///
/// ```
/// use rvoip_media_graph::{Packet, PacketMeta};
/// use rvoip_media_nodes::codec::G711CodecDecoder;
/// use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig};
/// use rvoip_media_nodes::G711Law;
///
/// let dec = Box::new(G711CodecDecoder::new(G711Law::Ulaw));
/// let mut jb = JitterBuffer::new(dec, JitterConfig::default()).unwrap();
/// let mut out = [0f32; 80]; // 10 ms at 8 kHz
/// for k in 0..100u64 {
///     let now = k * 10_000_000;
///     if k % 2 == 0 {
///         // A 20 ms packet every other tick, arriving 5 ms after it was sent.
///         let seq = (k / 2) as u16;
///         let meta = PacketMeta { sequence: seq, timestamp: u32::from(seq) * 160, arrival_ns: now, ..Default::default() };
///         jb.insert(&Packet::from_payload(meta, &[0x7f; 160]).unwrap());
///     }
///     jb.pull(now, &mut out);
/// }
/// let s = jb.stats();
/// assert_eq!((s.packets_received, s.packets_lost, s.packets_discarded), (50, 0, 0));
/// assert!(s.current_delay_ms < 60.0);
/// ```
pub struct JitterBuffer {
    dec: Box<dyn Decoder>,
    info: CodecInfo,
    /// The other decoder of a live codec switch (see [`JitterBuffer::set_alternate`]).
    alternate: Option<Alternate>,
    cfg: JitterConfig,
    fs: i64,
    clock: i64,
    payload_type: u8,
    /// RFC 6464 silence threshold, −dBov (`u8::MAX`: decode everything).
    skip_at: u8,
    /// The last packet played was skipped (the decoder was reset at the first of the run).
    skipping: bool,
    buf: PacketBuffer,
    delay: DelayManager,
    /// The quantile of the raw transit offsets (arrival − timestamp, the clock-skew trend
    /// removed) beside `delay`'s usable ones, for decoders without in-band FEC: how far the
    /// raw tail sits under the pull-grid point the usable quantile rounds up to (see
    /// [`JitterBuffer::grid_slack_us`]). A window near the fastest packets, not a second
    /// histogram: the slack is only read on light jitter.
    raw_tail: QuantileWindow,
    /// The sender's clock skew; the delay histogram holds offsets with its trend removed.
    skew: SkewEstimator,
    /// Packets, mean and sum of squared deviations (Welford) of the transit offsets since
    /// the stream began, for the warm-up floor of the target.
    warm: (u32, f64, f64),
    /// The same of the raw transit offsets (arrival − timestamp), for the early start.
    warm_raw: (u32, f64, f64),
    /// The same as `warm` without a delay spike's offsets (see
    /// [`JitterBuffer::warm_outlier`]): the bulk's floor. Without in-band FEC `warm` itself
    /// leaves them out, and the two agree.
    bulk: (u32, f64, f64),
    /// Packets left out of the bulk's floor among the first [`EARLY_SPIKE_PACKETS`] (with
    /// in-band FEC, the first [`JitterBuffer::quantile_packets`]): a delay spike once
    /// [`EARLY_SPIKE_OUTLIERS`] (see [`JitterBuffer::floor_lift_us`]).
    early_outliers: u32,
    /// Late packets kept aside in sequence, the first continuing the last one played (see
    /// [`JitterBuffer::play_held_late`]); their payloads are in `held_bytes`.
    held: Vec<HeldLate>,
    held_bytes: Vec<u8>,
    /// The margin above the target's quantile so far (µs; see [`JitterConfig::margin_ms`]).
    margin: i64,
    rtp: RtpReceiveStats,
    bursts: BurstGapStats,
    stats: JitterStats,
    /// Decoded samples waiting to be played, `sync[..sync_len]`, as 16-bit PCM (the
    /// buffer's largest store: the max delay or a stretched packet, and a quantum).
    sync: Box<[i16]>,
    sync_len: usize,
    /// Decoder output scratch (one packet + room to stretch it).
    scratch: Box<[f32]>,
    /// Longest packet accepted, samples.
    max_packet: usize,
    conceal_frame: usize,
    min_lag: usize,
    max_lag: usize,
    // Timeline.
    started: bool,
    /// Extended RTP timestamp of the first sample not yet decoded.
    playout_ts: i64,
    now_us: i64,
    /// Time of the last pull and its length (µs): a packet inserted after a pull is
    /// usable at the next one, which sets its effective transit (see [`JitterBuffer::insert`]).
    last_pull: Option<(i64, i64)>,
    // Unwrapping.
    ssrc: u32,
    ts_ref: u32,
    ts_ref_ext: i64,
    seq_ref: u16,
    seq_ref_ext: i64,
    have_ref: bool,
    last_seq: Option<i64>,
    // Concealment state.
    concealing: bool,
    /// Samples concealed in the current run.
    conceal_run: usize,
    /// Samples expanded (no timeline advance) while waiting for the current missing packet.
    waited: usize,
    /// The longest lateness of a packet still played by a rewind, µs (see
    /// [`JitterConfig::rewind_ms`]; the codec's unless configured).
    rewind_us: i64,
    /// What waiting for a stalled stream put above the target (µs), given back in the next
    /// pause below the usual band (see [`JitterConfig::spike_wait_ms`]).
    owed_us: i64,
    /// What a fast sender's clock has lowered the transits by since the playout offset was
    /// last set, µs (see [`JitterBuffer::follow_drift`]).
    drift_us: f64,
    /// Time the buffer has been dry, concealing as a loss, µs.
    dry_us: i64,
    /// The current wait is for a stalled stream (above the target).
    stalled: bool,
    /// The playout point was set back to a late packet (a rewind) that is yet to be decoded.
    rewound: bool,
    /// The target's level as last noted (µs; moves of at least half a pull), and when a
    /// young histogram's target last fell from it by one pull step (the caller's clock,
    /// µs): see [`JitterBuffer::in_dip`].
    target_level: Option<i64>,
    target_fell_us: Option<i64>,
    /// A packet of the stream (since it (re)started) arrived [`SPIKE_SEEN_US`] above the
    /// target: a delay spike (see [`JitterBuffer::speech_wait_slack_us`]).
    spike_seen: bool,
    /// An empty buffer in speech concealed a late packet as a loss with the offset under the
    /// target instead of waiting for it ([`JitterBuffer::speech_wait_slack_us`]), and no
    /// wait or stretch has raised the offset since: the next deep pause takes the rise (see
    /// [`JitterBuffer::deep_pause_band`]).
    rise_owed: bool,
    cn_amplitude: f32,
    rng: u32,
    /// The last decoded block was a pause (time may be stretched inaudibly).
    last_quiet: bool,
    /// Samples of quiet blocks played in a row before the current one (the pause so far).
    quiet_run: usize,
    /// When a packet was last discarded as late (the caller's clock at the last pull, µs).
    last_late_us: Option<i64>,
    /// A block above [`QUIET_POWER`] has been played since the stream (re)started: before
    /// it, a pause is the stream's leading silence (see [`JitterBuffer::start_bound_us`]).
    spoken: bool,
    /// Separate late discards (at least [`LATE_EVENT_GAP_US`] apart) since the stream
    /// (re)started and when the last of them was (the caller's clock, µs); `None` once a
    /// quiet block has been played.
    late_events: Option<(u32, i64)>,
    /// The decoder rebuilds lost packets from the next one's FEC data.
    has_fec: bool,
    /// Recent fraction of packets lost in the network.
    loss_avg: f64,
    /// Duration of the last packet played, RTP ticks.
    last_ticks: i64,
    /// Expected and received packet counts at the start of the loss window.
    loss_mark: (u64, u64),
}

/// The decoder a codec switch brought, waiting for its payload type (or the one it
/// replaced, for packets of the old codec still in flight).
struct Alternate {
    dec: Box<dyn Decoder>,
    info: CodecInfo,
    payload_type: u8,
    has_fec: bool,
}

/// Whether `decoder` rebuilds lost packets from FEC: probed with an empty payload, which is
/// refused before any state changes.
fn probe_fec(decoder: &mut dyn Decoder) -> bool {
    let frame = decoder.info().frame_samples;
    decoder.decode_fec(&[], frame, &mut [0.0; 0]).is_some()
}

fn dbov_to_amplitude(level: u8) -> f32 {
    // RFC 3389: level in -dBov, 0..127; a full-scale sine is 0 dBov (RMS 1/sqrt 2).
    let rms = 10f32.powf(-f32::from(level.min(127)) / 20.0) * std::f32::consts::FRAC_1_SQRT_2;
    rms * 3f32.sqrt() // uniform noise in [-a, a] has RMS a / sqrt 3
}

impl JitterBuffer {
    /// A buffer in front of `decoder` (mono, at a rate that is a multiple of 100 Hz).
    ///
    /// # Errors
    /// [`JitterError::Config`] for a bad setting, [`JitterError::Decoder`] for a decoder
    /// this buffer cannot drive.
    pub fn new(decoder: Box<dyn Decoder>, cfg: JitterConfig) -> Result<Self, JitterError> {
        cfg.validate()?;
        let mut decoder = decoder;
        let info = *decoder.info();
        let has_fec = probe_fec(&mut *decoder);
        if info.channels != 1 {
            return Err(JitterError::Decoder("only mono decoders are supported"));
        }
        if info.sample_rate % 100 != 0 || info.sample_rate == 0 || info.rtp_clock_rate == 0 {
            return Err(JitterError::Decoder("the decoder's rate must be a multiple of 100 Hz"));
        }
        let fs = info.sample_rate as usize;
        let max_packet = fs * cfg.max_packet_ms as usize / 1000;
        if info.frame_samples > max_packet {
            return Err(JitterError::Decoder("the decoder's frames are longer than max_packet_ms"));
        }
        let conceal_frame = info.frame_samples.max(1);
        let max_lag = fs * 15 / 1000;
        // What a pull leaves (under a quantum of up to 20 ms) and what one step adds to it:
        // the lead or a concealed gap (at most the max delay) or a stretched packet.
        let add = (fs * cfg.max_delay_ms as usize / 1000).max(2 * max_packet);
        let sync_cap = add + fs / 50 + 2 * conceal_frame;
        let packet_ms = f64::from(info.default_ptime_us) / 1000.0;
        Ok(JitterBuffer {
            dec: decoder,
            alternate: None,
            cfg,
            fs: fs as i64,
            clock: i64::from(info.rtp_clock_rate),
            payload_type: info.payload_type,
            skip_at: u8::MAX,
            skipping: false,
            buf: PacketBuffer::new(cfg.capacity, cfg.max_payload_bytes, cfg.payload_arena_bytes),
            delay: DelayManager::new(cfg.quantile, cfg.forget, cfg.cost)
                .with_max_delay(cfg.max_delay_ms)
                .with_spike_tail_weight(cfg.spike_tail_weight)
                .with_rise_cost(cfg.target_rise_cost.unwrap_or(if has_fec { 0.0 } else { TARGET_RISE_COST })),
            raw_tail: QuantileWindow::new(cfg.quantile, cfg.forget),
            skew: SkewEstimator::new(),
            warm: (0, 0.0, 0.0),
            warm_raw: (0, 0.0, 0.0),
            bulk: (0, 0.0, 0.0),
            early_outliers: 0,
            // Kept only without FEC (see `hold_late`).
            held: Vec::with_capacity(if has_fec { 0 } else { HELD_LATE_PACKETS }),
            held_bytes: Vec::with_capacity(if has_fec {
                0
            } else {
                HELD_LATE_PACKETS * cfg.max_payload_bytes.min(HELD_LATE_BYTES)
            }),
            margin: 0,
            rtp: RtpReceiveStats::new(info.rtp_clock_rate),
            bursts: BurstGapStats::new(16, packet_ms),
            stats: JitterStats::default(),
            sync: vec![0; sync_cap].into_boxed_slice(),
            sync_len: 0,
            scratch: vec![0.0; 2 * max_packet + max_lag + conceal_frame].into_boxed_slice(),
            max_packet,
            conceal_frame,
            min_lag: fs / 400,
            max_lag,
            started: false,
            playout_ts: 0,
            now_us: 0,
            last_pull: None,
            ssrc: 0,
            ts_ref: 0,
            ts_ref_ext: 0,
            seq_ref: 0,
            seq_ref_ext: 0,
            have_ref: false,
            last_seq: None,
            concealing: false,
            conceal_run: 0,
            waited: 0,
            owed_us: 0,
            drift_us: 0.0,
            dry_us: 0,
            stalled: false,
            rewound: false,
            target_level: None,
            target_fell_us: None,
            spike_seen: false,
            rise_owed: false,
            rewind_us: i64::from(cfg.rewind_ms.unwrap_or(if has_fec { REWIND_FEC_MS } else { 0 })) * 1000,
            cn_amplitude: 0.0,
            rng: 0x1234_5678,
            last_quiet: true,
            quiet_run: 0,
            last_late_us: None,
            spoken: false,
            late_events: Some((0, i64::MIN)),
            has_fec,
            loss_avg: 0.0,
            last_ticks: 0,
            loss_mark: (0, 0),
            info,
        })
    }

    /// With a negotiated payload type (by default the codec's).
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.payload_type = pt & 0x7f;
        self
    }

    /// RFC 6464 silent-leg skip: a packet whose audio level
    /// ([`PacketMeta::audio_level`](rvoip_media_graph::PacketMeta::audio_level)) has V = 0
    /// and a level of `level` −dBov or quieter (0..=127) is played, in its turn, as silence
    /// of its duration without being decoded (`skipped_decodes`); the buffer's sequence,
    /// loss and delay accounting treat it as played. The first packet of a skipped run resets
    /// the decoder, so concealment after the run (the sender stops) is silence, not the
    /// speech before it.
    pub fn with_silence_skip(mut self, level: u8) -> Self {
        self.skip_at = level.min(127);
        self
    }

    /// Hands the buffer a second decoder for `payload_type` (a live codec switch, a
    /// re-INVITE): packets choose — the first one played with the new payload type makes it
    /// the current decoder, and a packet of the old type still in flight switches back. With
    /// the payload type of the current decoder the switch happens at once. The decoder must
    /// be mono with the current one's audio rate and RTP clock (the timeline carries over).
    ///
    /// `decoder` is taken from its slot, which then holds the alternate it replaced (if
    /// any), so nothing is freed here: real-time safe.
    ///
    /// ```
    /// use rvoip_media_graph::{Packet, PacketMeta};
    /// use rvoip_media_nodes::codec::{Decoder, G711CodecDecoder};
    /// use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig, JitterError};
    /// use rvoip_media_nodes::opus::OpusCodecDecoder;
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let mut jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
    /// let mut slot: Option<Box<dyn Decoder>> = Some(Box::new(G711CodecDecoder::new(G711Law::Alaw)));
    /// jb.set_alternate(&mut slot, 8).unwrap();
    /// assert!(slot.is_none()); // there was no alternate before
    /// let mut out = [0f32; 80];
    /// for k in 0..20u16 {
    ///     // PCMU until packet 10, PCMA (payload type 8) after: one stream, one timeline.
    ///     let pt = if k < 10 { 0 } else { 8 };
    ///     let meta = PacketMeta { payload_type: pt, sequence: k, timestamp: u32::from(k) * 160, arrival_ns: u64::from(k) * 20_000_000, ..Default::default() };
    ///     jb.insert(&Packet::from_payload(meta, &[if pt == 0 { 0xff } else { 0xd5 }; 160]).unwrap());
    ///     jb.pull(u64::from(k) * 20_000_000, &mut out);
    ///     jb.pull(u64::from(k) * 20_000_000 + 10_000_000, &mut out);
    /// }
    /// assert_eq!((jb.stats().packets_bad, jb.stats().codec_switches), (0, 1));
    /// // Another rate cannot share the timeline.
    /// let mut opus: Option<Box<dyn Decoder>> = Some(Box::new(OpusCodecDecoder::new(48_000, 1, 20_000).unwrap()));
    /// assert!(matches!(jb.set_alternate(&mut opus, 111), Err(JitterError::Decoder(_))));
    /// assert!(opus.is_some()); // refused: the caller keeps it
    /// ```
    ///
    /// # Errors
    /// [`JitterError::Decoder`] for an empty slot or a decoder of another rate, clock or
    /// channel count (the slot is left as it was).
    pub fn set_alternate(
        &mut self,
        decoder: &mut Option<Box<dyn Decoder>>,
        payload_type: u8,
    ) -> Result<(), JitterError> {
        let Some(new) = decoder.as_deref() else { return Err(JitterError::Decoder("no decoder to switch to")) };
        let info = *new.info();
        if info.channels != 1
            || info.sample_rate != self.info.sample_rate
            || info.rtp_clock_rate != self.info.rtp_clock_rate
            || info.frame_samples > self.max_packet
        {
            return Err(JitterError::Decoder("a switched decoder must be mono at the same rate and RTP clock"));
        }
        let Some(mut dec) = decoder.take() else { return Err(JitterError::Decoder("no decoder to switch to")) };
        let has_fec = probe_fec(&mut *dec);
        let payload_type = payload_type & 0x7f;
        let old = self.alternate.replace(Alternate { dec, info, payload_type, has_fec });
        *decoder = old.map(|a| a.dec);
        if payload_type == self.payload_type {
            // No packet could tell them apart: switch now.
            self.swap_decoder();
        }
        Ok(())
    }

    /// Makes the alternate decoder the current one (and the current the alternate).
    fn swap_decoder(&mut self) {
        let Some(a) = self.alternate.as_mut() else { return };
        std::mem::swap(&mut self.dec, &mut a.dec);
        std::mem::swap(&mut self.info, &mut a.info);
        std::mem::swap(&mut self.payload_type, &mut a.payload_type);
        std::mem::swap(&mut self.has_fec, &mut a.has_fec);
        self.conceal_frame = self.info.frame_samples.max(1);
        self.stats.codec_switches += 1;
    }

    /// Whether packets of `pt` are the alternate decoder's.
    fn is_alternate(&self, pt: u8) -> bool {
        self.alternate.as_ref().is_some_and(|a| a.payload_type == pt)
    }

    /// The decoder's facts.
    pub fn info(&self) -> &CodecInfo {
        &self.info
    }

    /// Output sample rate, Hz.
    pub fn sample_rate(&self) -> u32 {
        self.info.sample_rate
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        s.packets_lost = self.rtp.cumulative_lost();
        s.jitter = self.rtp.jitter_seconds();
        if let (Some(min), true) = (self.min_us(), self.started) {
            s.current_delay_ms = (self.offset_us() - min) as f64 / 1000.0;
            s.target_delay_ms = (self.target_us() - min) as f64 / 1000.0;
        }
        s
    }

    /// [`JitterStats::packets_bad`] alone (what [`JitterBuffer::stats`] computes besides
    /// is not for every cycle).
    pub(super) fn packets_bad(&self) -> u64 {
        self.stats.packets_bad
    }

    /// Duration of the last packet played, ms (the stream's packet time); the codec's
    /// default packet time before the first.
    ///
    /// ```
    /// use rvoip_media_graph::{Packet, PacketMeta};
    /// use rvoip_media_nodes::codec::G711CodecDecoder;
    /// use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig};
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let mut jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
    /// assert_eq!(jb.packet_ms(), 20.0);
    /// let mut out = [0f32; 80];
    /// for k in 0..40u16 {
    ///     // 60 ms packets (480 samples at 8 kHz), one every six ticks.
    ///     if k % 6 == 0 {
    ///         let mut p = Packet::new();
    ///         p.meta = PacketMeta { sequence: k / 6, timestamp: u32::from(k / 6) * 480, arrival_ns: u64::from(k) * 10_000_000, ..Default::default() };
    ///         p.set_payload(&[0xff; 480]).unwrap();
    ///         jb.insert(&p);
    ///     }
    ///     jb.pull(u64::from(k) * 10_000_000, &mut out);
    /// }
    /// assert_eq!(jb.packet_ms(), 60.0);
    /// ```
    pub fn packet_ms(&self) -> f64 {
        if self.last_ticks > 0 {
            self.ticks_to_us(self.last_ticks) as f64 / 1000.0
        } else {
            f64::from(self.info.default_ptime_us) / 1000.0
        }
    }

    /// RFC 3611 burst / gap metrics of the played stream (Gmin 16).
    pub fn burst_gap(&self) -> BurstGapReport {
        self.bursts.report()
    }

    /// Forgets the stream (packets, timeline, statistics of the delay) but keeps the
    /// counters. Real-time safe.
    pub fn reset(&mut self) {
        self.forget_timeline();
        self.dec.reset();
        self.skipping = false;
        self.sync_len = 0;
        self.concealing = false;
        self.conceal_run = 0;
    }

    fn ticks_to_us(&self, ticks: i64) -> i64 {
        ticks.saturating_mul(1_000_000) / self.clock
    }

    fn ticks_to_samples(&self, ticks: i64) -> i64 {
        ticks.saturating_mul(self.fs) / self.clock
    }

    fn samples_to_us(&self, n: usize) -> i64 {
        n as i64 * 1_000_000 / self.fs
    }

    fn us_to_samples(&self, us: i64) -> i64 {
        us.saturating_mul(self.fs) / 1_000_000
    }

    /// The playout offset now: when the next undecoded timestamp will play, minus it (µs).
    fn offset_us(&self) -> i64 {
        self.now_us + self.samples_to_us(self.sync_len) - self.ticks_to_us(self.playout_ts)
    }

    /// The clock-skew trend of the transit offset at extended timestamp `ts` (µs): what
    /// the sender's clock drift has added to every packet's offset since the stream began.
    fn trend_us(&self, ts: i64) -> i64 {
        if !self.cfg.track_skew {
            return 0;
        }
        (self.skew.slope() * self.ticks_to_us(ts) as f64) as i64
    }

    /// The fastest recent packet's transit offset, at the playout point (µs).
    fn min_us(&self) -> Option<i64> {
        self.delay.min_us().map(|m| m + self.trend_us(self.playout_ts))
    }

    /// The target offset (µs): delay quantile plus margin, within the configured bounds,
    /// with the clock-skew trend at the playout point added back.
    fn target_us(&self) -> i64 {
        self.target_floored_us(true)
    }

    /// [`JitterBuffer::target_us`], with the warm-up floor (`warm_floor`) or without it
    /// (the delay histogram's target, margin and FEC packet alone).
    fn target_floored_us(&self, warm_floor: bool) -> i64 {
        let Some(q) = self.delay.target_us() else { return self.offset_us() };
        let mut q = q + self.trend_us(self.playout_ts);
        let min = self.min_us().unwrap_or(q);
        // Warm-up: a 99.5 % quantile cannot be observed in fewer than a few hundred
        // packets (the histogram's tail is still empty and its target too low, so the
        // buffer would accelerate into late packets). Until then the target is at least
        // mean + 3 standard deviations of the offsets seen, which a light tail (a LAN)
        // brings down within a few packets and a long one keeps up (without FEC, a delay
        // spike's offsets are left out of it: see `warm_outlier`).
        if warm_floor && (2..WARM_PACKETS).contains(&self.warm.0) {
            q = q.max(self.warm_floor_us() as i64);
        }
        // With in-band FEC and a loss rate above 1 %, hold one packet more so the packet
        // after a loss is there to rebuild it from.
        let fec = if self.has_fec && self.loss_avg > 0.02 { self.ticks_to_us(self.last_ticks) } else { 0 };
        let margin = self.grid_margin_us(self.target_margin_us());
        (q + margin + fec).min(min + i64::from(self.cfg.max_delay_ms) * 1000)
    }

    /// The margin `margin` (µs) a target adds, for a decoder on the pull grid
    /// ([`JitterBuffer::grid_pull_us`]): where the raw transits' quantile plus the margin
    /// stays under the next grid step above the step the usable quantile asks for, the
    /// margin is capped [`GRID_STEP_KEEP_US`] under a pull, so the target asks for the
    /// usable quantile's step, not one more; else `margin` itself.
    ///
    /// The usable transits the delay histogram learns sit on the pull grid, so its
    /// quantile is already rounded up to a grid step, and a margin added on top of it asks
    /// for the next step wherever the margin reaches it (three times the jitter, 9–10 ms on
    /// light jitter). There the raw tail can sit well under the step (jb_lan34b lan6_k4: the
    /// 20 ms step holds the slowest packets, raw transits at most 15.9 ms above the first
    /// packet's), and the margin bought a whole pull no packet needed. The grid's slack (the
    /// raw quantile's distance under the step, [`JitterBuffer::grid_slack_us`]) is spent
    /// first. The cap keeps the margin's part within the step: a target brought down to
    /// the bucket's edge let the pauses' give-back land under the step (the kit's pcmu_lan
    /// lost 18 packets, −5.1 R: BENCHMARKS, jitter buffer, session 35).
    fn grid_margin_us(&self, margin: i64) -> i64 {
        match (self.grid_pull_us(), self.grid_slack_us()) {
            (Some(pull), Some(slack)) if slack > 0 && margin - slack < pull - DELAY_BUCKET_US => {
                margin.min(pull - GRID_STEP_KEEP_US)
            }
            _ => margin,
        }
    }

    /// How far the raw transits' quantile sits under the usable one (µs: the pull-grid
    /// slack the usable quantile's rounding up added) where that slack is trusted: for a
    /// decoder on the pull grid, once the delay histogram has seen [`GRID_SLACK_PACKETS`]
    /// packets and no packet of the stream has come too late, at a sender clock skew under
    /// [`GRID_SLACK_MAX_SKEW`], while its target is the
    /// quantile itself (the cost did not put it lower), at most [`GRID_TOP_WEIGHT`] of the
    /// weight lies above the quantile's bucket (the stream's slowest packets fit in its
    /// step) and the quantile is at most [`GRID_SLACK_PULLS`] pulls above the fastest
    /// packets (light jitter). `None` elsewhere, where the margin keeps protecting against
    /// what it is for: a young histogram's quantile error, a moderate network's tail
    /// (without the light-jitter test the kit's pcmu_drift_p300 lost 0.9 R), a delay spike
    /// (from 250 packets, before the first spike, held-out pcmu_spikes lost 0.44 R: the
    /// calm between spikes is light jitter; BENCHMARKS, jitter buffer, session 35).
    fn grid_slack_us(&self) -> Option<i64> {
        let pull = self.grid_pull_us()?;
        if self.delay.packets() < GRID_SLACK_PACKETS
            || self.last_late_us.is_some()
            || self.skew.slope().abs() >= GRID_SLACK_MAX_SKEW
        {
            return None;
        }
        let (q_use, above) = self.delay.quantile_us()?;
        let top = self.delay.target_us() == Some(q_use) && above <= GRID_TOP_WEIGHT;
        // `q_use` is a bucket's upper edge, the minimum a bucket's lower one.
        let light = q_use - self.delay.min_us()? <= GRID_SLACK_PULLS * pull + DELAY_BUCKET_US;
        if !(top && light) {
            return None;
        }
        // Read last: the window's quantile is a walk down its buckets.
        Some((q_use - self.raw_tail.quantile_us()?).max(0))
    }

    /// Packets the delay histogram needs before one of them is expected above its quantile
    /// (200 for the 99.5 % quantile), at most the warm-up's: until then the start's excess
    /// over the target is kept, since the target from fewer packets has not seen the tail
    /// (under jitter it climbed by 15–35 ms in the next seconds after an early give-back, and
    /// the buffer then stretched speech or lost packets: BENCHMARKS, session 14).
    fn quantile_packets(&self) -> u32 {
        (1.0 / (1.0 - self.cfg.quantile)).round().min(f64::from(WARM_PACKETS)) as u32
    }

    /// Whether a packet whose usable transit offset is `d_us` is a delay spike's, left out
    /// of the bulk's floor (`bulk`): from the third packet on, an offset more than
    /// [`WARM_OUTLIER_US`] above that floor (mean + 3 standard deviations of the offsets
    /// counted so far). For a decoder without in-band FEC (G.711, G.722, G.729) it stays
    /// out of the warm-up floor's statistics ([`JitterBuffer::target_us`]) too. The floor
    /// assumes a light, roughly normal tail; one delay spike in
    /// the first seconds (a heavy-tailed network: Pareto jitter, a packet held 300–500 ms
    /// and the packets queued behind it) made its standard deviation explode, and the
    /// floor took the target to 300–560 ms for the rest of the warm-up. The buffer
    /// stretched up to it and, once the floor ended, accelerated back down to the
    /// histogram's target (~140 ms): two timeline moves and seconds of excess delay
    /// (BENCHMARKS, jitter buffer, session 27: Pareto PCMU +5.4 R on one trace). The
    /// spike still counts in the delay histogram, whose E-model target weighs it. With FEC
    /// (Opus) it stays in the warm-up floor: there the floor's wait for a spike in the
    /// warm-up kept the packets after it (a held-out spike trace lost 4.4 R without it);
    /// only preemptive expand aims lower after an early one
    /// ([`JitterBuffer::floor_lift_us`]).
    fn warm_outlier(&self, d_us: i64) -> bool {
        self.bulk.0 >= 3 && d_us as f64 > floor_of(self.bulk) + WARM_OUTLIER_US
    }

    /// The warm-up floor, µs: mean + 3 standard deviations of the offsets counted in
    /// `warm` (at least two of them).
    fn warm_floor_us(&self) -> f64 {
        floor_of(self.warm)
    }

    /// The target the bulk's floor alone would give (µs, as [`JitterBuffer::target_us`]):
    /// the floor of the offsets without a delay spike's (`bulk`; without in-band FEC the
    /// warm-up floor, [`JitterBuffer::warm_floor_us`]) with the clock-skew trend and the
    /// margin added, without the delay histogram's target.
    fn warm_floor_target_us(&self) -> i64 {
        floor_of(self.bulk) as i64 + self.trend_us(self.playout_ts) + self.target_margin_us()
    }

    /// Whether the network is steady: three packets have shown its jitter, and three times
    /// it (the margin) is at most [`STEADY_MARGIN_US`]. Its target is trusted from few
    /// packets, so the start's excess is given back before the [`quantile_packets`]
    /// (held-out opus_lan kept 10–20 ms for 4 s without this: BENCHMARKS, session 15).
    ///
    /// [`quantile_packets`]: JitterBuffer::quantile_packets
    fn steady(&self) -> bool {
        self.warm_raw.0 >= 3 && self.margin <= STEADY_MARGIN_US
    }

    /// Whether the stream may start before the initial delay is up: with at least three
    /// packets seen, once the playout offset of the first packet (`ts`), were it played now,
    /// covers the 99.5 % prediction bound of their raw transit offsets (mean +
    /// `t·√(1 + 1/n)` standard deviations, Student's t for the few packets seen), a pull
    /// (a packet arriving just after one waits for the next) and the margin. A steady
    /// network (a LAN, loopback) starts 30–40 ms after the first packet instead of the
    /// initial delay, whose excess over the target it would later give back by moving the
    /// timeline; a jittery one shows a spread that keeps the bound above the initial delay.
    fn early_start_ok(&self, ts: i64) -> bool {
        self.start_bound_us().is_some_and(|bound| self.now_us - self.ticks_to_us(ts) >= bound)
    }

    /// An upper bound on where the target is going (µs, as [`target_us`]) from the packets
    /// seen so far, `None` before three: the 99.5 % prediction bound of their raw transit
    /// offsets (mean + `t·√(1 + 1/n)` standard deviations, the factor shrinking as packets
    /// come), a pull (a packet arriving just after one is usable at the next: the
    /// histogram's offsets step by a pull where the raw ones cross the pull grid) and the
    /// margin. The stream starts once its first packet's offset covers it
    /// ([`early_start_ok`]), from three packets, so the start sits 20–45 ms above where the
    /// bound ends up after the ~15 packets of a stream's leading silence; in that silence
    /// the playout offset is brought down to this bound (never below the target), not to
    /// the target itself, on a steady network and from [`LEAD_PACKETS`] on: a target from
    /// so few packets climbed by 10–20 ms in the next seconds where the bound did not
    /// (held-out opus_lan), and on a jittery network even the bound was too low (its
    /// spikes and moderate jitter lost up to 4.7 R: BENCHMARKS, jitter buffer, session 19).
    ///
    /// [`target_us`]: JitterBuffer::target_us
    /// [`early_start_ok`]: JitterBuffer::early_start_ok
    fn start_bound_us(&self) -> Option<i64> {
        let (n, mean, m2) = self.warm_raw;
        if n < 3 {
            return None;
        }
        let sd = (m2 / f64::from(n - 1)).sqrt();
        let pull = self.pull_us();
        Some((mean + warm_sd_factor(n) * sd) as i64 + pull + self.margin_us())
    }

    /// The margin above the target's quantile (µs): the configured one until three packets
    /// have shown the network's jitter.
    fn margin_us(&self) -> i64 {
        if self.warm_raw.0 < 3 {
            i64::from(self.cfg.margin_ms) * 1000
        } else {
            self.margin
        }
    }

    /// The margin a target adds ([`JitterBuffer::target_us`],
    /// [`JitterBuffer::warm_floor_target_us`]), µs: [`JitterBuffer::margin_us`], at least the
    /// configured minimum.
    fn target_margin_us(&self) -> i64 {
        self.margin_us().max(i64::from(self.cfg.min_margin_ms) * 1000)
    }

    /// Raises the margin to three times the network's jitter if that is more (see
    /// [`JitterConfig::margin_ms`]).
    fn update_margin(&mut self) {
        let (n, _, m2) = self.warm_raw;
        if n < 3 {
            return;
        }
        let jitter_us =
            if n < JITTER_SETTLED_PACKETS { (m2 / f64::from(n - 1)).sqrt() } else { self.rtp.jitter_seconds() * 1e6 };
        let cap = i64::from(self.cfg.margin_ms) * 1000;
        let m = ((MARGIN_PER_JITTER * jitter_us) as i64).max(1000).min(cap);
        self.margin = self.margin.max(m);
    }

    fn unwrap(&mut self, seq: u16, ts: u32) -> (i64, i64) {
        if !self.have_ref {
            self.have_ref = true;
            self.ts_ref = ts;
            self.ts_ref_ext = 0;
            self.seq_ref = seq;
            self.seq_ref_ext = 0;
        }
        let ext_ts = self.ts_ref_ext + i64::from(ts.wrapping_sub(self.ts_ref) as i32);
        let ext_seq = self.seq_ref_ext + i64::from(seq.wrapping_sub(self.seq_ref) as i16);
        if ext_ts > self.ts_ref_ext {
            self.ts_ref = ts;
            self.ts_ref_ext = ext_ts;
        }
        if ext_seq > self.seq_ref_ext {
            self.seq_ref = seq;
            self.seq_ref_ext = ext_seq;
        }
        (ext_ts, ext_seq)
    }

    /// Restarts the timeline for a new stream (SSRC change, timestamp jump).
    fn restart(&mut self) {
        self.stats.resets += 1;
        self.forget_timeline();
    }

    /// Forgets the packets, the timeline and the delay statistics: what both a
    /// [`reset`](Self::reset) and a [`restart`](Self::restart) start again from. The decoder,
    /// its samples waiting to be played and a concealment in progress are not touched here,
    /// so that a restart's audio goes on from where the old stream's ended.
    fn forget_timeline(&mut self) {
        self.buf.clear();
        self.delay.reset();
        self.raw_tail.reset();
        self.skew.reset();
        self.warm = (0, 0.0, 0.0);
        self.warm_raw = (0, 0.0, 0.0);
        self.bulk = (0, 0.0, 0.0);
        self.early_outliers = 0;
        self.margin = 0;
        self.spoken = false;
        self.late_events = Some((0, i64::MIN));
        self.started = false;
        self.have_ref = false;
        self.last_seq = None;
        self.waited = 0;
        self.owed_us = 0;
        self.drift_us = 0.0;
        self.dry_us = 0;
        self.stalled = false;
        self.rewound = false;
        self.target_level = None;
        self.target_fell_us = None;
        self.spike_seen = false;
        self.rise_owed = false;
        self.last_late_us = None;
        self.drop_held();
    }

    /// Takes one received packet (its arrival time in `meta.arrival_ns`). Packets of
    /// another payload type, undecodable, duplicate or late ones are counted and dropped.
    pub fn insert(&mut self, p: &Packet) {
        self.insert_parts(&p.meta, p.payload());
    }

    /// [`JitterBuffer::insert`] for a packet given as its header facts and payload (a
    /// packet read in place from a ring slot).
    pub fn insert_parts(&mut self, m: &PacketMeta, payload: &[u8]) {
        let arrival_us = (m.arrival_ns / 1000).min(i64::MAX as u64) as i64;
        self.stats.packets_received += 1;
        if self.have_ref && m.ssrc != self.ssrc {
            self.restart();
        }
        self.ssrc = m.ssrc;
        if m.payload_type == CN_PAYLOAD_TYPE {
            self.rtp.update(m.sequence, m.timestamp, arrival_us);
            if let Some(&level) = payload.first() {
                self.cn_amplitude = dbov_to_amplitude(level);
            }
            return;
        }
        let dec = match self.alternate.as_mut() {
            _ if m.payload_type == self.payload_type => &mut self.dec,
            Some(a) if a.payload_type == m.payload_type => &mut a.dec,
            _ => {
                self.stats.packets_foreign += 1;
                return;
            }
        };
        let samples = match dec.samples_in(payload) {
            Ok(n) if n > 0 && n <= self.max_packet => n,
            _ => {
                self.stats.packets_bad += 1;
                self.stats.packets_discarded += 1;
                return;
            }
        };
        let (mut ts, mut seq) = self.unwrap(m.sequence, m.timestamp);
        // A timestamp more than 10 s away from the playout point is a new stream.
        if self.started && (ts - self.playout_ts).abs() > 10 * self.clock {
            self.restart();
            self.ssrc = m.ssrc;
            (ts, seq) = self.unwrap(m.sequence, m.timestamp);
        }
        self.rtp.update(m.sequence, m.timestamp, arrival_us);
        let ticks = self.info.rtp_ticks(samples);
        let ts_us = self.ticks_to_us(ts);
        let d = arrival_us - ts_us;
        self.skew.update(ts_us, d);
        // The delay statistics take the time the packet can first be played: the next
        // pull (pulls come every quantum), not its arrival between two pulls. A packet
        // whose first sample falls in the block a pull writes must be there at that pull,
        // so this transit, not the raw one, is what the playout offset must cover.
        let usable_us = match self.last_pull {
            Some((at, len)) => arrival_us.max(at.saturating_add(len)),
            None => arrival_us,
        };
        let mut d_use = usable_us - ts_us;
        // With in-band FEC, a packet overtaken by its successor (already here) can be
        // rebuilt from the successor's FEC data when it is due: for the target it was
        // there when the successor came, so the target need not wait for it.
        if self.has_fec {
            if let Some(j) = self.buf.find_ts(ts + i64::from(ticks)) {
                let next = self.buf.get(j);
                if next.payload_type == m.payload_type {
                    d_use = d_use.min(next.arrival_us - ts_us);
                }
            }
        }
        let d_hist = d_use - self.trend_us(ts);
        self.spike_seen |= self.delay.target_us().is_some_and(|t| d_hist > t + SPIKE_SEEN_US);
        self.delay.update(d_hist);
        if !self.has_fec {
            self.raw_tail.update(d - self.trend_us(ts));
        }
        let outlier = self.warm.0 < WARM_PACKETS && self.warm_outlier(d_use);
        let window = if self.has_fec { self.quantile_packets() } else { EARLY_SPIKE_PACKETS };
        if outlier && self.warm.0 < window {
            self.early_outliers += 1;
        }
        if self.warm.0 < WARM_PACKETS && !outlier {
            self.bulk = welford(self.bulk, d_use as f64);
        }
        if self.warm.0 < WARM_PACKETS && (!outlier || self.has_fec) {
            self.warm = welford(self.warm, d_use as f64);
            self.warm_raw = welford(self.warm_raw, d as f64);
        }
        self.update_margin();
        if self.started && ts < self.playout_ts {
            // Late. If it continues the sequence while we conceal in a pause (a late
            // packet after waiting ran out, the first packet of a talk spurt) and is only a
            // little late, play it anyway: the concealment so far becomes a stretch. Only
            // with in-band FEC by default (`rewind_us` 0 otherwise: see `rewind_ms`).
            let rewind = self.concealing
                && self.last_quiet
                && self.last_seq.is_some_and(|l| seq == l + 1)
                && self.ticks_to_us(self.playout_ts - ts) <= self.rewind_us;
            if !rewind {
                self.last_late_us = Some(self.now_us);
                if let Some((n, at)) = self.late_events.as_mut() {
                    if self.now_us.saturating_sub(*at) >= LATE_EVENT_GAP_US {
                        (*n, *at) = (*n + 1, self.now_us);
                    }
                }
                self.stats.packets_late += 1;
                self.stats.packets_discarded += 1;
                if !self.has_fec {
                    self.hold_late(m, payload, (ts, seq, arrival_us, ticks));
                }
                return;
            }
            self.playout_ts = ts;
            self.buf.drop_before(ts);
            self.rewound = true;
        }
        match self.buf.insert(m, payload, ts, seq, arrival_us, ticks) {
            Inserted::Stored => {}
            Inserted::Evicted => self.stats.packets_discarded += 1,
            Inserted::TooLarge => {
                self.stats.packets_bad += 1;
                self.stats.packets_discarded += 1;
            }
            Inserted::Duplicate => {
                self.stats.packets_duplicate += 1;
                self.stats.packets_discarded += 1;
            }
        }
    }

    /// Appends `src` to the playout buffer (as much as fits), as 16-bit PCM
    /// ([`kernels::f32_to_i16`]: ties to even; decoders fed garbage may overshoot, and what
    /// is stored stays in range, NaN as 0).
    fn push_sync(sync: &mut [i16], sync_len: &mut usize, src: &[f32]) -> usize {
        let n = src.len().min(sync.len() - *sync_len);
        kernels::f32_to_i16(&mut sync[*sync_len..*sync_len + n], &src[..n]);
        *sync_len += n;
        n
    }

    fn next_noise(&mut self) -> f32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        (self.rng >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }

    /// Conceals `n` samples (codec concealment, then comfort noise or silence) onto the
    /// playout buffer. `advance`: the samples stand for missing timestamps (a loss), else
    /// they stretch time (waiting).
    fn conceal(&mut self, n: usize) {
        let n = n.min(self.sync.len() - self.sync_len);
        if n == 0 {
            return;
        }
        if !self.concealing {
            self.concealing = true;
            self.conceal_run = 0;
            self.stats.concealment_events += 1;
        }
        let mut done = 0;
        while done < n {
            let want = (n - done).min(self.conceal_frame);
            let got = match self.dec.decode(None, &mut self.scratch) {
                Ok(g) if g > 0 && g <= self.scratch.len() => g,
                _ => {
                    self.scratch[..want].fill(0.0);
                    want
                }
            };
            let take = want.min(got);
            // Comfort noise under a faded concealment (RFC 3389 level, flat spectrum).
            let fade_done = self.conceal_run > self.fs as usize * 60 / 1000;
            let mut energy = 0.0f32;
            for i in 0..take {
                let mut v = self.scratch[i];
                if fade_done && self.cn_amplitude > 0.0 {
                    v += self.cn_amplitude * self.next_noise();
                }
                self.scratch[i] = v;
                energy += v * v;
            }
            Self::push_sync(&mut self.sync, &mut self.sync_len, &self.scratch[..take]);
            if energy / (take as f32) < 1e-8 {
                self.stats.silent_concealed_samples += take as u64;
            }
            self.stats.concealed_samples += take as u64;
            self.stats.total_samples_received += take as u64;
            self.conceal_run += take;
            done += take;
        }
    }

    /// Decodes the packet at slot `i` (whose timestamp is the playout point) with
    /// time-scale modification toward the target.
    fn decode_slot(&mut self, i: usize) {
        let (ts, seq, arrival, ticks) = {
            let s = self.buf.get(i);
            (s.ts, s.seq, s.arrival_us, i64::from(s.ticks))
        };
        let (pt, level) = (self.buf.get(i).payload_type, self.buf.get(i).audio_level);
        if pt != self.payload_type && self.is_alternate(pt) {
            self.swap_decoder();
        }
        let silent = crate::level::says_silence(level, self.skip_at);
        if silent && !self.skipping {
            self.dec.reset();
        }
        self.skipping = silent;
        let res = if silent {
            // Its time as silence, not decoded (RFC 6464 said so).
            let n = self.ticks_to_samples(ticks).max(0) as usize * usize::from(self.info.channels.max(1));
            match self.scratch.get_mut(..n) {
                Some(out) => {
                    out.fill(0.0);
                    self.stats.skipped_decodes += 1;
                    Ok(n)
                }
                None => Err(crate::codec::CodecError::BufferSize { needed: n, got: self.scratch.len() }),
            }
        } else {
            self.dec.decode(Some(self.buf.payload(i)), &mut self.scratch)
        };
        self.buf.remove(i);
        // Packets skipped since the last one played: lost or discarded (RFC 3611 counts
        // both), also the loss rate that decides whether waiting for FEC pays. Their
        // durations are this packet's (the stream's packet time, not the codec's default).
        self.bursts.set_packet_ms(self.ticks_to_us(ticks) as f64 / 1000.0);
        let skipped = self.last_seq.map_or(0, |l| (seq - l - 1).clamp(0, 64));
        for _ in 0..skipped {
            self.bursts.packet(false);
        }
        // Network loss (RFC 3550: expected − received, so late packets do not count) over
        // windows of 50 packets, smoothed.
        let (exp, rec) = (self.rtp.expected(), self.rtp.received());
        if exp >= self.loss_mark.0 + 50 {
            let de = (exp - self.loss_mark.0) as f64;
            let lost = (de - rec.saturating_sub(self.loss_mark.1) as f64).max(0.0);
            self.loss_avg = 0.5 * self.loss_avg + 0.5 * lost / de;
            self.loss_mark = (exp, rec);
        }
        self.last_seq = Some(seq);
        self.last_ticks = ticks;
        let n = match res {
            Ok(n) if n > 0 && n + self.max_lag <= self.scratch.len() => n,
            _ => {
                self.stats.packets_bad += 1;
                self.stats.packets_discarded += 1;
                self.bursts.packet(false);
                let n = self.ticks_to_samples(ticks).max(1) as usize;
                self.conceal(n);
                self.playout_ts = ts + ticks;
                return;
            }
        };
        self.bursts.packet(true);
        self.concealing = false;
        if self.stalled {
            // Played after waiting for a stalled stream: what the wait put above the target
            // beyond the quiet band is owed.
            let excess = self.offset_us() - self.target_us();
            if excess > i64::from(self.cfg.accelerate_quiet_ms) * 1000 {
                self.owed_us = self.owed_us.max(excess);
            }
        }
        if self.waited > 0 || self.rewound {
            self.owe_fast_step();
        }
        self.rewound = false;
        self.stalled = false;
        self.dry_us = 0;
        self.waited = 0;
        let play_us = self.now_us + self.samples_to_us(self.sync_len);
        let target = self.target_us();
        let min = self.min_us().unwrap_or(target);
        self.stats.jitter_buffer_delay += (play_us - arrival).max(0) as f64 * 1e-6 * n as f64;
        let target_s = (target - min).max(0) as f64 * 1e-6 * n as f64;
        self.stats.jitter_buffer_target_delay += target_s;
        self.stats.jitter_buffer_minimum_delay += target_s;
        self.stats.jitter_buffer_emitted_count += n as u64;
        self.stats.total_samples_received += n as u64;
        self.playout_ts = ts + ticks;
        self.note_target(target);
        // Offset after this packet, if played as is.
        let err = self.offset_us() + self.samples_to_us(n) - target;
        let len = self.stretch(n, err);
        Self::push_sync(&mut self.sync, &mut self.sync_len, &self.scratch[..len]);
    }

    /// The pull length (µs) when the buffer's pause decisions see the pull grid: for a
    /// decoder without in-band FEC (G.711, G.722, G.729), once a pull has been made.
    ///
    /// The caller pulls every `pull` µs and a packet is usable from the first pull after
    /// it arrives, so what makes a packet late or not is only *which* pull its playout
    /// point falls at or after: the transits the delay histogram learns (pull time −
    /// timestamp) all sit on the pull grid, and so does the target (a bucket's upper edge
    /// and the margin). A playout point `x` µs past a pull is delay that saves no packet.
    /// Over the kit's three sets (BENCHMARKS, jitter buffer, session 20) that phase was
    /// most of moderate jitter's gap to a fixed 60 ms buffer (kit pcmu_moderate: a pause's
    /// give-back landed 8.7 ms past a pull, 76.8 ms against fixed60's 66.6).
    ///
    /// Not with FEC (Opus): its target rises freely (no rise cost) and it waits in 20 ms
    /// concealment frames, so an offset brought down to the grid was waited up again at the
    /// next rise (kit opus_heavy −3.77 R, seeds 2000+ opus_drift_m300 −2.12).
    fn grid_pull_us(&self) -> Option<i64> {
        let pull = self.pull_us();
        (pull > 0 && !self.has_fec).then_some(pull)
    }

    /// The caller's pull length (µs, the block its last pull asked for), 0 before the first.
    fn pull_us(&self) -> i64 {
        self.last_pull.map_or(0, |(_, len)| len)
    }

    /// A pause's accelerate band (µs) where the network's jitter is small against the pull,
    /// for decoders without FEC: just under one pull on a steady network
    /// ([`JitterBuffer::steady`]), just under two while the margin (three times the jitter)
    /// is under one pull. A pause's band tests are in whole pulls
    /// ([`JitterBuffer::grid_err`]), so that much excess over the step the target asks for
    /// is given back in the next settled pause. `None` elsewhere (the band stays
    /// [`JitterConfig::accelerate_quiet_ms`] or a fifth of the buffer, which keeps up to two
    /// pulls).
    ///
    /// The pauses' 20 ms band is there for a noisy target: narrower for every stream, it
    /// lost on moderate jitter (a pull: seeds 5000+ pcmu_moderate −1.58 R; two pulls:
    /// jb_drift32a moderate streams down to −1.84, BENCHMARKS, jitter buffer, session 34).
    /// A target whose margin is under a pull moves by less than a pull, and the band kept
    /// what the start left above it for the whole call: on a steady network the leading
    /// silence brings the offset down to the target of its first dozen packets (about a
    /// pull above the histogram's later one; the kit's pcmu_lan played 21 ms where a fixed
    /// 10 ms buffer loses no packet), and under light jitter (3–4 ms mean) the start stayed
    /// two pulls above the step (40 ms where a fixed 20 ms buffer loses none).
    fn quiet_pull_band(&self, quiet: bool) -> Option<i64> {
        let pull = self.grid_pull_us()?;
        if !quiet || self.warm_raw.0 < 3 {
            return None;
        }
        if self.steady() {
            Some(pull - 1)
        } else if self.margin < pull {
            Some(2 * pull - 1)
        } else {
            None
        }
    }

    /// `err` (the offset − the target, µs) in whole pulls as lateness sees it, the
    /// playout point in question `ahead_us` after the current pull: the offset less its
    /// phase past the pull grid, minus the target, rounded up to a whole pull (the target
    /// is a grid step plus a millisecond or so of margin, and an offset on the step it
    /// asks for makes no packet later: with the offset's phase taken off but the target
    /// left off the grid, every test looked up to a pull more eager and G.711 lost on two
    /// sets of three, held-out R −0.037, seeds 2000+ −0.062). `err` itself without the
    /// grid ([`JitterBuffer::grid_pull_us`]).
    fn grid_err(&self, err: i64, ahead_us: i64) -> i64 {
        let Some(pull) = self.grid_pull_us() else { return err };
        let phase = ahead_us.rem_euclid(pull);
        pull.saturating_mul(-phase.saturating_sub(err).div_euclid(pull))
    }

    /// Time-scale modification of the decoded block `scratch[..n]` toward the target,
    /// `err` µs above it: in quiet blocks freely (several periods, up to half the block
    /// removed or the block doubled), in speech one period and only for a large error.
    /// Returns the new length.
    ///
    /// A quiet block's band tests compare offset and target in whole pulls
    /// ([`JitterBuffer::grid_err`]; for decoders without FEC), and inside the bands its
    /// offset's phase past the pull grid is given back
    /// ([`JitterBuffer::give_back_grid_phase`]); how much is removed or inserted, the
    /// owed give-back and speech's tests stay on the offset itself: amounts in whole pulls
    /// stopped a spike wait's give-back up to a pull above the target (held-out
    /// pcmu_spikes 66.7 ms against 63.1 on the offset), and speech's accelerate band in
    /// whole pulls cost held-out pcmu_spikes 1.52 R. Together (BENCHMARKS, jitter buffer,
    /// session 20, rule e6) mean R +0.073 / +0.042 / +0.052 on the kit / held-out / seeds
    /// 2000+ sets.
    fn stretch(&mut self, n: usize, err: i64) -> usize {
        let power = self.scratch[..n].iter().map(|v| v * v).sum::<f32>() / n.max(1) as f32;
        let quiet = power < QUIET_POWER;
        self.last_quiet = quiet;
        // A sender clock `s` ppm fast lowers every transit by `s` µs per second of media
        // (followed for decoders without in-band FEC only: see `follow_drift`).
        if !self.has_fec {
            self.drift_us = (self.drift_us - self.skew.slope() * self.samples_to_us(n) as f64).clamp(0.0, DRIFT_MAX_US);
        }
        // Accelerate speech only once the target is trusted (after the warm-up): before
        // that an excess over it is mostly the initial delay, harmless to keep until the
        // next pause, while a stretch in speech is audible. That excess is given back in a
        // pause only once the pause has lasted QUIET_HOLD_MS (past the last word's tail), and
        // only once the histogram has seen enough packets for its quantile's tail.
        // On a steady network the target is trusted from few packets (see `steady`).
        let warming = self.warm.0 < WARM_PACKETS;
        let tail_seen = self.warm.0 >= self.quantile_packets() || self.steady();
        let settled = !warming || (tail_seen && self.samples_to_us(self.quiet_run) >= QUIET_HOLD_MS * 1000);
        let pause_us = self.samples_to_us(self.quiet_run);
        self.quiet_run = if quiet { (self.quiet_run + n).min(self.fs as usize) } else { 0 };
        // The stream's leading silence (no word's tail to keep, no timeline a listener
        // has heard): the start's excess over the start bound goes there, all of it.
        let leading = quiet && !self.spoken && warming;
        self.spoken |= !quiet;
        // A stream that has sounded without a single pause since it started (a tone, music
        // on hold) gives the warm-up nowhere to move: once its packets kept coming too late
        // — separate late discards, not one spike's packets arriving together — it is
        // stretched toward the target as after the warm-up, in the pause's band. (Speech
        // starts with a pause; within speech, stretching in the warm-up lost on the jitter
        // sets: BENCHMARKS, jitter buffer, session 29.)
        if quiet {
            self.late_events = None;
        }
        let unpaused_and_late = !self.has_fec && self.late_events.is_some_and(|(n, _)| n >= UNPAUSED_LATE_EVENTS);
        // Above max(bound, target): the excess over that floor (µs), in the leading silence
        // of a steady network from `LEAD_PACKETS` on; such a block is left to this rule.
        let lead_err = match self.start_bound_us() {
            Some(bound) if leading && self.steady() && self.warm_raw.0 >= LEAD_PACKETS => {
                Some(err - (bound - self.target_us()).max(0))
            }
            _ => None,
        };
        if let Some(lead_err) = lead_err {
            return self.lead_stretch(n, lead_err);
        }
        let (acc, exp) = if quiet {
            (self.cfg.accelerate_quiet_ms, self.cfg.expand_quiet_ms)
        } else {
            (self.cfg.accelerate_speech_ms, self.cfg.expand_speech_ms)
        };
        // Bands widen with the buffer delay (a long tail's target is noisier): at least a
        // fifth of it above, a tenth below.
        let buffer_us = (self.target_us() - self.min_us().unwrap_or(0)).max(0);
        let acc = (i64::from(acc) * 1000).max(buffer_us / 5);
        let acc = self.quiet_pull_band(quiet).map_or(acc, |band| acc.min(band));
        let wide = (i64::from(exp) * 1000).max(buffer_us / 10);
        let exp = if quiet && !warming { self.deep_pause_band(wide, pause_us, buffer_us) } else { wide };
        // An owed rise (see `speech_wait_slack_us`) is taken in a deep pause so that the
        // next tail packet finds the offset at the target: it goes all the way.
        let short = if self.has_fec && exp < wide && self.rise_owed { 0 } else { EXPAND_SHORT_US };
        // Packets that keep coming too late say the offset is too low by more than speech's
        // wide band allows for: such sound takes the pause's band.
        let exp =
            if unpaused_and_late { (i64::from(self.cfg.expand_quiet_ms) * 1000).max(buffer_us / 10) } else { exp };
        // A pause's bands are tested in whole pulls (the next packet plays after this
        // block); speech's on the offset itself.
        let band_err = if quiet { self.grid_err(err, self.samples_to_us(self.sync_len + n)) } else { err };
        // A wait's excess is given back in pauses however small (it is not the target's
        // noise the bands are for).
        self.owed_us = self.owed_us.min(err).max(0);
        let owed = quiet && settled && self.owed_us > 2000;
        // A young target's one-step dip is not accelerated toward (see `in_dip`).
        let over = band_err > acc && !self.in_dip();
        let goal = if owed && !over { self.owed_us } else { err };
        // What of the target the preemptive expand below does not aim at (see
        // `floor_lift_us`).
        let lift = self.floor_lift_us(warming);
        let mut len = n;
        if (over || owed) && ((quiet && settled) || (!quiet && !warming)) {
            let limit = if quiet { n / 2 } else { self.max_lag };
            let removed;
            (len, removed) = self.remove_periods(len, limit, goal - 2000, usize::MAX, !quiet);
            self.owed_us = (self.owed_us - self.samples_to_us(removed)).max(0);
            if removed > 0 && band_err > acc {
                // Down to the target: the drift so far went with it.
                self.drift_us = 0.0;
            }
        } else if band_err + lift < -exp && (quiet || !warming || self.has_fec || unpaused_and_late) {
            // Without FEC, speech is stretched toward the target only once it is trusted:
            // in the warm-up a target that jumped with one delay spike (a heavy tail
            // showing itself in a histogram of a few dozen packets) falls back within
            // seconds, and the periods inserted in speech to follow it were timeline
            // moves in talk spurts; the next pause takes the rise instead. Opus keeps
            // them (heavy jitter in 40 ms and 2×20 ms packets lost 0.6–1.1 R without
            // them, and its Pareto traces gained nothing: BENCHMARKS, session 27).
            let limit = if quiet { n } else { self.max_lag };
            len = self.insert_periods(len, limit, -(err + lift) - short, !quiet);
            if len > n {
                self.drift_us = 0.0;
                self.rise_owed = false;
            }
        } else if quiet && settled {
            len = self.give_back_grid_phase(len, err);
            len = self.follow_drift(len, err + self.samples_to_us(len) - self.samples_to_us(n));
        }
        len
    }

    /// How far the target lies above what preemptive expand stretches the offset up to
    /// while `warming` (the first [`WARM_PACKETS`]), µs; 0 after the warm-up. With in-band
    /// FEC (Opus), how far the warm-up floor lifts the target above the delay histogram's
    /// own (once a delay spike came among the first [`JitterBuffer::quantile_packets`],
    /// above the bulk floor's own if that is lower); without it (G.711, G.722, G.729), once
    /// a delay spike came among the first
    /// [`EARLY_SPIKE_PACKETS`] ([`EARLY_SPIKE_OUTLIERS`] of them left out of the floor),
    /// how far the target lies above the warm-up floor's own
    /// ([`JitterBuffer::warm_floor_target_us`]); else 0.
    ///
    /// Without FEC the spike is left out of the floor ([`JitterBuffer::warm_outlier`]), and
    /// the histogram's E-model target weighs it: a spike among a histogram's first dozens
    /// of packets (its packet and those queued behind it, a third of them late) lifted that
    /// target 100–160 ms above the floor (jb_fam28d: 31 → 191 ms at packet 14, floor 145),
    /// and it fell back within seconds as packets came (131 ms by 3 s). The leading silence
    /// and the first pauses were stretched up to it (speech is not stretched in the warm-up),
    /// and after the warm-up the excess was accelerated out again, partly in speech: two
    /// moves in the scorer's first 10 s and 40–50 ms of delay meanwhile. Stretched only up
    /// to the floor (mean + 3 standard deviations of the packets without the spike), the
    /// offset takes the bulk's tail; the target itself is not lowered, so nothing is
    /// accelerated toward the floor and an empty buffer still waits up to the target. Over
    /// 22 PCMU Pareto traces R 77.45 → 78.24 (jb_fam28a +7.0, jb_fam28d +10.5, the other 20
    /// byte-identical); a spike later in the warm-up is left to the target (on all 22
    /// traces it gained +0.86 with one trace −0.95), and so is a target above the floor
    /// without a spike (+0.90 with three traces down to −1.62). One packet left out is not
    /// a spike: heavy jitter in 40 ms packets (one reordered packet at 208 ms, then
    /// 100–120 ms ones the floor does not cover) lost 8.8 R taking it for one (BENCHMARKS,
    /// jitter buffer, session 28, early spike).
    ///
    /// With FEC a delay spike's offsets stay in the warm-up floor (mean + 3 standard
    /// deviations), so one tall spike in the first
    /// seconds (a heavy-tailed network: a packet held 300–500 ms, and those queued behind it
    /// arriving with it, all late) lifts the floor toward the spike's height for the rest of
    /// the warm-up, while the histogram's E-model target falls back within a few dozen
    /// packets. The buffer stretched up to the floor, in pauses and in speech: on Pareto
    /// traces 50–350 ms of pitch periods in the first seconds (jb_fam28c: 351 ms, the offset
    /// up to 418 ms), taken out again after the warm-up, every period a timeline move in the
    /// scorer's first 10 s and the delay far past the E-model's knee meanwhile. The floor
    /// still holds where it was meant to: the buffer is not accelerated below it, and an empty
    /// buffer waits for the stream up to it (a spike whose drain is still arriving keeps its
    /// packets so: held-out opus_spikes). Over 22 Opus Pareto traces R +0.69 (65.64 → 66.33),
    /// none lower; family Opus bloat +4.6, Wi-Fi +1.4 (BENCHMARKS, jitter buffer, session 28).
    ///
    /// With FEC the histogram's own target is no better while it is young: a spike among its
    /// first packets (a packet held 100–450 ms and the 5–20 queued behind it, all late) is
    /// a tenth to a quarter of the few dozen packets it has seen, and its E-model target
    /// jumped with them (jb_fam27i: 51 → 331 ms at packet 46, back to 131 by packet 106;
    /// jb_fam28l: 71 → 181 ms at packet 65). The buffer stretched 115–160 ms up to it, in
    /// speech and pauses, and held the excess through the warm-up (the floor stops
    /// accelerate). So once [`EARLY_SPIKE_OUTLIERS`] packets among the first
    /// [`JitterBuffer::quantile_packets`] (those a 99.5 % quantile needs) were a spike's,
    /// more than [`WARM_OUTLIER_US`] above the bulk's floor (mean + 3 standard deviations of
    /// the offsets without them), preemptive expand in the rest of the warm-up aims at that
    /// floor's target if it is the lower, as without FEC; the floor and the target are not
    /// changed, so an empty buffer still waits for a spike's drain. Over 22 Opus Pareto
    /// traces R +0.92 (66.33 → 67.25, 7 up, jb_fam28j −0.70), on 16 fresh ones +0.09 (2
    /// up, 2 down by up to 1.27); every kit-style set byte-identical (BENCHMARKS, jitter
    /// buffer, session 30).
    fn floor_lift_us(&self, warming: bool) -> i64 {
        if !warming {
            return 0;
        }
        let spike = self.early_outliers >= EARLY_SPIKE_OUTLIERS;
        if !self.has_fec {
            return if spike { (self.target_us() - self.warm_floor_target_us()).max(0) } else { 0 };
        }
        let aim = self.target_floored_us(false);
        self.target_us() - if spike { aim.min(self.warm_floor_target_us()) } else { aim }
    }

    /// Notes the target `target` (µs) of the packet being played, for decoders with in-band
    /// FEC: its level moves when it differs from the last noted one by half a pull or more,
    /// and a move down by at most a pull (and [`DIP_STEP_SLACK_US`]) while the delay
    /// histogram is young (has seen fewer packets than its memory, `1 / (1 − forget)`: 20 s
    /// of 20 ms packets by default) is a dip, timed for [`JitterBuffer::in_dip`].
    fn note_target(&mut self, target: i64) {
        if !self.has_fec {
            return;
        }
        let pull = self.pull_us();
        let level = *self.target_level.get_or_insert(target);
        if (target - level).abs() < pull / 2 {
            return;
        }
        let memory = (1.0 / (1.0 - self.cfg.forget)).round() as u64;
        let young = self.delay.packets() < memory;
        if young && target < level && level - target <= pull + DIP_STEP_SLACK_US {
            self.target_fell_us = Some(self.now_us);
        }
        self.target_level = Some(target);
    }

    /// Whether the target is in a dip: a young histogram's target fell one pull step less
    /// than [`DIP_HOLD_MS`] ago ([`JitterBuffer::note_target`]; decoders with in-band FEC
    /// only). Its bands' accelerate waits until the lower level has held that long; an owed
    /// give-back does not.
    ///
    /// The transits the delay histogram learns sit on the pull grid, so its target moves in
    /// pull steps, and a young histogram's (a few hundred packets, its tail a handful of
    /// them) crosses between two of them as single tail packets come and decay: on moderate
    /// jitter it fell a step for 0.4 s and came back (jb_drift32a opus_moderate_k1: 61 → 51
    /// → 61 ms at 7.5–7.9 s). A pause accelerated the offset down to the dip (73 → 60 ms),
    /// 1.5 s later a packet 1–2 ms later than that ran the buffer dry in speech, and the
    /// wait's 20 ms concealment put the offset up to 80 ms, where the pauses' band kept it
    /// for the rest of the stream: two timeline moves, each costing Opus's PESQ-WB in its
    /// segment more than the delay it saved (3.49 against 4.23 in the first 10 s). A fixed
    /// 60 ms buffer beat Opus on 14 of 16 moderate streams of two fresh drift sets
    /// (BENCHMARKS, jitter buffer, session 32, the lead). A step that holds a second is
    /// followed as before; a fall of more than a step (a spike's decay, the warm-up floor's
    /// end) and an old histogram's steps (a drifting clock's) are followed at once: holding
    /// back those (a peak-held target, or a hold on every fall) lost on the Pareto traces
    /// and the drift +300 streams, whose moves it only shifted (BENCHMARKS, session 33).
    fn in_dip(&self) -> bool {
        self.target_fell_us.is_some_and(|at| self.now_us - at < DIP_HOLD_MS * 1000)
    }

    /// The pause's expand band `exp` (µs), narrowed to a single pull in a deep pause: for a
    /// decoder without in-band FEC (G.711, G.722, G.729; see
    /// [`JitterBuffer::grid_pull_us`]), once the pause (`pause_us` of quiet blocks before
    /// this one) has lasted [`DEEP_PAUSE_MS`], no packet has been discarded as late for
    /// [`LATE_FREE_MS`] and the buffer delay `buffer_us` is at most
    /// [`DEEP_PAUSE_MAX_BUFFER_MS`], an offset a whole pull below the target is stretched
    /// up to it there.
    ///
    /// Without it, a target that rose by one pull (a hold of the link longer than those
    /// before) left the offset a pull under it, where the pause band (20 ms,
    /// [`JitterConfig::expand_quiet_ms`]) never fired, and the next such hold ran the buffer
    /// dry in speech and stepped the timeline up by a concealed pull there (Wi-Fi-like
    /// holds, a route step; BENCHMARKS, jitter buffer, session 26, timeline steps). Taken
    /// in a second of silence the step costs less. Every move still costs the scorer's
    /// 10 s PESQ segment something (its 2 s chunks take one lag each), so the band is
    /// narrowed only where a dry step is likely to follow: not where packets are late
    /// anyway (heavy jitter, a regime's jittery phase, spikes: the target already concedes
    /// its tail; jb_s1000 pcmu_regime −5.9 R without that condition), not after a shorter
    /// pause (600 ms: kit pcmu_spikes −0.3), and not on a long buffer (heavy jitter in 30 ms
    /// packets at ~175 ms: a pause's move cost its segment 0.74 PESQ and no dry step came).
    ///
    /// With in-band FEC (Opus, no pull grid) narrowed to half a packet for a slow sender
    /// ([`JitterBuffer::slow_sender`]): the target does not follow the climbing transits, and
    /// an offset 11 ms under it (inside the 20 ms band) stayed there until the buffer ran dry
    /// in speech twice, two 20 ms concealed steps in talk spurts (s8100 opus_drift_m300,
    /// 77.69 → 79.70 R stretched in the deep pause instead; no other stream of the 16
    /// development sets moves; a 3 ms band lost s5000's −0.21: BENCHMARKS, jitter buffer,
    /// session 43, helper s43drm). The same for a rise owed since a late packet in speech
    /// was concealed rather than waited for ([`JitterBuffer::speech_wait_slack_us`]), and that
    /// rise goes all the way up to the target, not [`EXPAND_SHORT_US`] short of it (d46
    /// opus_moderate_k0: stopped 1.4 ms short, the next tail packet ran the buffer dry at
    /// 29.5 s, −0.81 R where the full rise gains +0.48; the slow sender's stretch keeps its
    /// 2 ms, or its guard test's seed 6 rises 24.8 ms, past the 18 that tells a stretch from
    /// a whole packet's step; BENCHMARKS, jitter buffer, session 46).
    fn deep_pause_band(&self, exp: i64, pause_us: i64, buffer_us: i64) -> i64 {
        if buffer_us > DEEP_PAUSE_MAX_BUFFER_MS * 1000 {
            return exp;
        }
        let calm = self.last_late_us.map_or(true, |t| self.now_us - t >= LATE_FREE_MS * 1000);
        if pause_us < DEEP_PAUSE_MS * 1000 || !calm {
            return exp;
        }
        match self.grid_pull_us() {
            Some(pull) => exp.min(pull - 1),
            None if self.has_fec && (self.slow_sender() || self.rise_owed) => {
                exp.min(self.ticks_to_us(self.last_ticks) / 2)
            }
            None => exp,
        }
    }

    /// The sender's clock is slow ([`SLOW_SENDER_SLOPE`] over [`FAST_SENDER_SECONDS`]): its
    /// transits climb, so a delay histogram without the skew's trend
    /// ([`JitterConfig::track_skew`] off) holds a target that lags behind them.
    fn slow_sender(&self) -> bool {
        self.skew.seconds() >= FAST_SENDER_SECONDS && self.skew.slope() > SLOW_SENDER_SLOPE
    }

    /// Follows a fast sender's clock in a pause of a decoder without in-band FEC (G.711,
    /// G.722, G.729), the offset `err` µs above the target: once what the skew
    /// ([`SkewEstimator`]) has lowered the transits by since the offset was last set
    /// ([`JitterBuffer::drift_us`]) spans a pitch period, it is removed, in periods no
    /// longer than it, never past the target, once the pause has lasted
    /// [`QUIET_HOLD_MS`] (past the last word's tail). The target follows the drift through
    /// the histogram's forgetting, and the offset would stay put until its excess reached
    /// the pauses' 20 ms band and was cut in one step (kit pcmu_drift_p300: 81 → 88 ms in
    /// 25 s; 8 of 8 other seeds climb 0.3 ms/s, 16–18 ms in 60 s): given back as it accrues,
    /// the delay moves by pitch periods in pauses instead, and by a pull where the target,
    /// learnt on the pull grid, steps down under the offset. With the offset at or below the
    /// target, the drift brings it up to the target by itself, and what accrued is dropped.
    ///
    /// Not with FEC (Opus): every move of the timeline costs PESQ-WB in its 10 s segment
    /// about as much as a 20 ms one (the scorer aligns 2 s chunks; seeds 7000+
    /// opus_drift_p300 −0.56 R with the rule, 5 ms less delay), and G.711's PESQ sits
    /// above what the E-model can use (R 93.2), so its delay is what counts (BENCHMARKS,
    /// jitter buffer, session 23). Returns the new length.
    fn follow_drift(&mut self, len: usize, err: i64) -> usize {
        let period = self.samples_to_us(self.min_lag);
        let drift = self.drift_us as i64;
        if self.has_fec || drift < period || self.samples_to_us(self.quiet_run) < QUIET_HOLD_MS * 1000 {
            return len;
        }
        if err <= 0 {
            self.drift_us = 0.0;
            return len;
        }
        let goal = drift.min(err);
        let room = usize::try_from(self.us_to_samples(goal)).unwrap_or(0);
        let (new_len, removed) = self.remove_periods(len, len / 2, goal, room, false);
        self.drift_us -= self.samples_to_us(removed) as f64;
        new_len
    }

    /// After a step up of the playout offset to play a packet (a rewind, or a wait for the
    /// stream), owes the offset's whole excess over the target
    /// ([`JitterBuffer::owed_us`], given back in the next settled pause by pitch periods, in
    /// the band as a stalled wait's excess is) while the sender's clock is measured fast
    /// ([`FAST_SENDER_SLOPE`] over [`FAST_SENDER_SECONDS`]), for decoders with in-band FEC
    /// (Opus).
    ///
    /// A fast sender's transits fall (0.3 ms/s at 300 ppm), so a step taken for one late
    /// packet — the jitter tail at a talk spurt's start, not a trend — is never needed by
    /// the packets after it; left in the pauses' band (20 ms) it stayed until the target
    /// stepped down under it (kit opus_drift_p300: a 20 ms rewind at 13.6 s, 9.4 ms of it
    /// kept until 29 s, the played delay 16 ms above a fixed 60 ms buffer's meanwhile).
    /// Given back in the same pause, the rewind and its give-back fall in one scorer chunk,
    /// one move where there were two, and the whole excess goes with them (one move
    /// costs Opus's PESQ-WB about the same whatever its size: session 23). Not for a slow
    /// or an unmeasured clock: owing every wait's or rewind's excess lost where the transits
    /// climb after it (drift −300 ppm −4.10 R on the kit, regime −2.23, spikes −0.38…−0.86:
    /// BENCHMARKS, jitter buffer, session 31), and G.711 follows a fast clock in its pauses
    /// already ([`JitterBuffer::follow_drift`]).
    fn owe_fast_step(&mut self) {
        let fast = self.skew.seconds() >= FAST_SENDER_SECONDS && self.skew.slope() < FAST_SENDER_SLOPE;
        if self.has_fec && fast {
            self.owed_us = self.owed_us.max(self.offset_us() - self.target_us());
        }
    }

    /// Gives back, in a pause, the playout point's phase past the pull grid (see
    /// [`JitterBuffer::grid_pull_us`]; decoders without FEC): the next packet, playing
    /// after `scratch[..len]`, must reach the pull at or before its playout point and
    /// plays `x` µs after it; removing up to `x` (more than [`GRID_PHASE_MIN_US`]) leaves
    /// every packet exactly as late as before and lowers the delay. Never below the
    /// target (the offset `err` µs above it): the phase is also a cushion the bands and
    /// the empty buffer's wait compare with the target, and below it a jitter onset met a
    /// lower offset and its expands fell elsewhere (held-out pcmu_regime −0.33 R, seeds
    /// 2000+ −2.58). Kit pcmu_moderate: 76.8 → 70.0 ms, R +0.16. Returns the new length.
    fn give_back_grid_phase(&mut self, len: usize, err: i64) -> usize {
        let Some(pull) = self.grid_pull_us() else { return len };
        let phase = self.samples_to_us(self.sync_len + len).rem_euclid(pull);
        if phase <= GRID_PHASE_MIN_US || err - phase < 0 {
            return len;
        }
        let room = usize::try_from(self.us_to_samples(phase)).unwrap_or(0);
        self.remove_periods(len, len / 2, phase, room, false).0
    }

    /// Takes pitch periods out of `scratch[..len]` (accelerate) while fewer than `limit`
    /// samples are gone and they span less than `goal_us`, never a period longer than what
    /// is left of `room` samples, only one when `once`; counts them. Returns the new length
    /// and the samples removed.
    fn remove_periods(
        &mut self,
        mut len: usize,
        limit: usize,
        goal_us: i64,
        room: usize,
        once: bool,
    ) -> (usize, usize) {
        let mut removed = 0;
        while removed < limit && self.samples_to_us(removed) < goal_us {
            let max_lag = self.max_lag.min(room.saturating_sub(removed));
            if max_lag < self.min_lag {
                break;
            }
            match accelerate(&mut self.scratch, len, self.min_lag, max_lag) {
                Stretch::Samples(k) => {
                    len -= k;
                    removed += k;
                }
                Stretch::None => break,
            }
            if once {
                break;
            }
        }
        self.stats.removed_samples_for_acceleration += removed as u64;
        (len, removed)
    }

    /// Puts pitch periods into `scratch[..len]` (preemptive expand) while fewer than `limit`
    /// samples are added and they span less than `goal_us`, only one when `once`; counts
    /// them. Returns the new length.
    fn insert_periods(&mut self, mut len: usize, limit: usize, goal_us: i64, once: bool) -> usize {
        let mut inserted = 0;
        while inserted < limit && self.samples_to_us(inserted) < goal_us {
            match preemptive_expand(&mut self.scratch, len, self.min_lag, self.max_lag) {
                Stretch::Samples(k) => {
                    len += k;
                    inserted += k;
                }
                Stretch::None => break,
            }
            if once {
                break;
            }
        }
        self.stats.inserted_samples_for_deceleration += inserted as u64;
        len
    }

    /// The playout offset and the leading silence's floor (max of the start bound and the
    /// target), µs, for tests.
    #[cfg(test)]
    pub(super) fn lead_floor(&self) -> (i64, Option<i64>) {
        (self.offset_us(), self.start_bound_us().map(|b| b.max(self.target_us())))
    }

    /// The leading silence's stretch of `scratch[..n]` (see [`start_bound_us`]), the offset
    /// `lead_err` µs above its floor (the start bound, or the target if that is higher):
    /// above [`LEAD_BAND_US`], pitch periods are removed (up to half the block) but never one
    /// that would take the offset below the floor, since a period removed past it ran the
    /// buffer dry once and moved the timeline a packet (BENCHMARKS, jitter buffer, session
    /// 19, second round); more than [`LEAD_BAND_US`] below it (the bound rose with a later
    /// packet), periods are inserted until the floor is reached. Returns the new length.
    ///
    /// [`start_bound_us`]: JitterBuffer::start_bound_us
    fn lead_stretch(&mut self, n: usize, lead_err: i64) -> usize {
        if lead_err > LEAD_BAND_US {
            let room = usize::try_from(self.us_to_samples(lead_err)).unwrap_or(0);
            self.remove_periods(n, n / 2, lead_err - LEAD_BAND_US, room, false).0
        } else if lead_err < -LEAD_BAND_US {
            self.insert_periods(n, n, -lead_err, false)
        } else {
            n
        }
    }

    /// Keeps a late packet (`at`: extended timestamp, sequence number, arrival µs, ticks)
    /// aside if it continues the sequence of the last packet played (or of those kept
    /// already) and is at most [`HELD_LATE_US`] late; see [`JitterBuffer::play_held_late`].
    fn hold_late(&mut self, m: &PacketMeta, payload: &[u8], at: (i64, i64, i64, u32)) {
        let Some(last) = self.last_seq else { return };
        if self.held.first().is_some_and(|h| h.seq != last + 1) {
            self.drop_held();
        }
        let (ts, seq, arrival_us, ticks) = at;
        let fits = self.held_bytes.len() + payload.len() <= self.held_bytes.capacity();
        if self.held.len() < HELD_LATE_PACKETS
            && fits
            && seq == last + 1 + self.held.len() as i64
            && self.ticks_to_us(self.playout_ts - ts) <= HELD_LATE_US
        {
            self.held.push(HeldLate {
                meta: *m,
                ts,
                seq,
                arrival_us,
                ticks,
                at: self.held_bytes.len(),
                len: payload.len(),
            });
            self.held_bytes.extend_from_slice(payload);
        }
    }

    /// Forgets the late packets kept aside.
    fn drop_held(&mut self) {
        self.held.clear();
        self.held_bytes.clear();
    }

    /// With nothing to play in speech and the offset below the target (the buffer is about
    /// to wait, concealing without moving the playout point, by `tick` samples), plays the
    /// late packets kept aside instead ([`JitterBuffer::hold_late`], decoders without in-band
    /// FEC): the playout point goes back to the first of them, so what was concealed since
    /// its time becomes the wait's stretch, and they are played, no longer late. Only when
    /// the wait would reach that far (the step is at most the offset's distance below the
    /// target and one tick). Returns whether it did.
    ///
    /// The case is a delay spike in speech: the buffer runs dry at its target and conceals
    /// as a loss, the spike's first packets then arrive 10–40 ms late and are discarded,
    /// the target jumps with them, and the buffer still empty waits up to it — 20–40 ms of
    /// concealment as a stretch in a talk spurt, after the same time concealed as a loss
    /// (jb_fam28b at 1.98 s: 30 ms moved, two packets late, 40 ms waited). Played, the
    /// two packets take the wait's place: the same step in the delay, two packets less
    /// concealed (jb_fam28b +1.1 R). A rewind for every late packet continuing the
    /// sequence in speech (no wait to replace) lost 1.5 R over 22 PCMU Pareto traces
    /// (each rewind a timeline step where the loss alone was cheaper); rewinding when the
    /// packet arrives with the target already the step above the offset and nothing else
    /// buffered gained 0.18 there but lost 5.5 on jb_fam28h, whose next packet came before
    /// any wait. Concealing as a loss instead of waiting after a late packet lost 2.3 R on
    /// jb_fam28b (the spike's next packets were late too; BENCHMARKS, jitter buffer,
    /// session 29).
    fn play_held_late(&mut self, tick: usize) -> bool {
        let Some(first) = self.held.first() else { return false };
        if self.last_seq != Some(first.seq - 1) {
            self.drop_held();
            return false;
        }
        let back = self.ticks_to_us(self.playout_ts - first.ts);
        if back > self.target_us() - self.offset_us() + self.samples_to_us(tick) {
            return false;
        }
        self.playout_ts = first.ts;
        // By index, not `mem::take`: the vectors keep their capacity (no allocation when
        // the next late packet is kept, on a worker thread).
        for k in 0..self.held.len() {
            let h = self.held[k];
            let payload = &self.held_bytes[h.at..h.at + h.len];
            if let Inserted::Stored = self.buf.insert(&h.meta, payload, h.ts, h.seq, h.arrival_us, h.ticks) {
                self.stats.packets_late -= 1;
                self.stats.packets_discarded -= 1;
            }
        }
        self.drop_held();
        match self.buf.find_ts(self.playout_ts) {
            Some(i) => {
                self.decode_slot(i);
                true
            }
            None => false,
        }
    }

    /// Whether the buffer ran dry for [`STALL_DRY_MS`] and the packets that end the dry run
    /// came late: a delay spike stalled the stream and its drain is arriving. Its gap up to
    /// the drain's first packet in time is then waited toward the target as a pause's gap
    /// is, without [`JitterConfig::max_wait_ms`]'s bound (the wait stops at the target), and
    /// the wait stays in the delay: a target that the drain lifted is reached inside the
    /// spike, whose speech is concealed (faded to silence) anyway, instead of by stretches
    /// in the pauses of the seconds after it, each a timeline move between stretches of
    /// speech (kit-scorer 2 s chunks misaligned around it; BENCHMARKS, jitter buffer,
    /// session 42). A burst loss (no late packets) is not a stall.
    fn stalled_by_spike(&self) -> bool {
        self.dry_us >= STALL_DRY_MS * 1000 && self.last_late_us.is_some_and(|t| self.now_us - t <= self.dry_us)
    }

    /// How far under the target (µs) an empty buffer in speech may be and still not wait,
    /// `tick` samples being its wait's step: for a decoder with in-band FEC (Opus, which
    /// waits in whole 20 ms concealment frames) after the warm-up ([`WARM_PACKETS`]) on a
    /// stream without a delay spike ([`SPIKE_SEEN_US`]) whose packets are no longer than the
    /// step, half the step, so it waits only where the step lands nearer the target than the
    /// offset is; 0 elsewhere (every deficit waited for). A longer packet concealed as a loss
    /// costs more than the step's wait (fam46 opus_ptime60_moderate: a 60 ms packet
    /// concealed at 29.7 s instead of a 20 ms wait, −0.50 R).
    ///
    /// On moderate jitter the offset sits a millisecond or two under the target for long
    /// stretches (the target is a bucket's upper edge and a margin, the offset where the
    /// start or the last move left it), and the first packet of the tail beyond the offset
    /// ran the buffer dry in speech: the wait concealed a whole frame as a stretch and put
    /// the offset 18–19 ms over the target, which the pauses' 20 ms band then kept for the
    /// rest of the call (s9700 opus_moderate at 28.4 s: 3.86 against a fixed 120 ms
    /// buffer's 4.26 PESQ-WB in that 10 s segment; BENCHMARKS, jitter buffer, session 46).
    /// The packet is concealed as a loss instead; if its lateness lifts the target over the
    /// offset, the rise is owed ([`JitterBuffer::rise_owed`]) and taken in the next deep
    /// pause ([`JitterBuffer::deep_pause_band`]). In the warm-up the wait stays: the start
    /// was placed from a few packets, the young target climbs, and a packet concealed there
    /// left the offset under a target that its wait then reached in speech all the same
    /// (d47 opus_drift_m300_k3 −1.13 R). After a delay spike it stays too: there the step
    /// is the held delay that catches the next spike's drain (kit opus_spikes −1.17 R).
    fn speech_wait_slack_us(&self, tick: usize) -> i64 {
        let whole_packet = self.ticks_to_samples(self.last_ticks) <= tick as i64;
        if self.has_fec && whole_packet && !self.spike_seen && self.warm.0 >= WARM_PACKETS {
            self.samples_to_us(tick) / 2
        } else {
            0
        }
    }

    /// One decision: adds at least one sample to the playout buffer.
    fn step(&mut self) {
        let late = self.buf.drop_before(self.playout_ts);
        if late > 0 {
            self.last_late_us = Some(self.now_us);
        }
        self.stats.packets_late += late as u64;
        self.stats.packets_discarded += late as u64;
        if let Some(i) = self.buf.find_ts(self.playout_ts) {
            self.decode_slot(i);
            return;
        }
        let tick = self.conceal_frame.max(self.fs as usize / 100);
        let Some(i) = self.buf.next_after(self.playout_ts) else {
            // Nothing to play: stretch time with concealment (the offset grows) while
            // within the budget above the target; beyond it, conceal as a loss and move
            // the playout point on (what arrives for that time is late).
            // A stalled stream (a delay spike; the packets will come in a burst) is waited
            // for, once the buffer has been dry for a grace time, up to the spike wait.
            let wait = if self.dry_us >= SPIKE_GRACE_MS * 1000 { self.cfg.spike_wait_ms } else { 0 };
            let budget = if self.last_quiet { self.cfg.stretch_budget_ms.max(wait) } else { wait };
            // Offset and target compared in whole pulls (see `grid_err`): a wait that
            // only moved the playout point within a pull would make no packet less late.
            let target = self.target_us();
            let offset = target + self.grid_err(self.offset_us() - target, self.samples_to_us(self.sync_len));
            // In a pause (a DTX gap, a stream that paused), a target at most one pull above
            // the offset is not waited for: the transits it is learned from are rounded up
            // to the pulls, so it steps by a pull with a few packets, and every step the
            // pause takes up was a timeline move (the next step down a second one).
            // In speech, a decoder with in-band FEC waits only where a whole tick of waiting
            // lands nearer the target (see `speech_wait_slack_us`).
            let slack = match (budget, self.last_quiet) {
                (0, true) => self.pull_us(),
                (0, false) => self.speech_wait_slack_us(tick),
                _ => 0,
            };
            let stretch = offset < target + i64::from(budget) * 1000 - slack;
            if stretch {
                self.rise_owed = false;
            } else if offset < target && !self.last_quiet {
                self.rise_owed = true;
            }
            if stretch && !self.last_quiet && self.play_held_late(tick) {
                return;
            }
            self.conceal(tick);
            if stretch {
                self.waited += tick;
                self.stalled |= offset >= target;
            } else {
                self.playout_ts += (tick as i64 * self.clock) / self.fs;
                self.dry_us += self.samples_to_us(tick);
                if wait > 0 {
                    // Waited as long as it may: a spike taller than the wait, whose drain
                    // the target is to catch in part after all.
                    self.delay.count_next_spike_in_full();
                }
            }
            return;
        };
        let (p_ts, p_seq, p_arrival, p_ticks) = {
            let s = self.buf.get(i);
            (s.ts, s.seq, s.arrival_us, i64::from(s.ticks))
        };
        let gap_ticks = p_ts - self.playout_ts;
        let missing = match self.last_seq {
            Some(l) => (p_seq - l - 1).clamp(0, 1000),
            None => 0,
        };
        let target = self.target_us();
        let offset = self.offset_us();
        // After a delay spike's stall the gap is a pause: its speech was lost in the spike.
        let stall = self.stalled_by_spike();
        let quiet = self.last_quiet || stall;
        let max_wait = if stall { usize::MAX } else { self.fs as usize * self.cfg.max_wait_ms as usize / 1000 };
        if missing > 0 && quiet && offset < target - 2000 && self.waited < max_wait {
            // A packet is missing but may still come: wait (stretch) toward the target.
            self.conceal(tick);
            self.waited += tick;
            return;
        }
        // Give up on the gap: fill it (partly, if waiting already stretched time) and
        // continue at the next packet.
        let d_p = p_arrival - self.ticks_to_us(p_ts);
        let want_offset = target.max(d_p);
        let fill_us = want_offset - (self.now_us + self.samples_to_us(self.sync_len) - self.ticks_to_us(p_ts));
        let gap_samples = self.ticks_to_samples(gap_ticks).max(0);
        let mut fill = self.us_to_samples(fill_us).clamp(0, gap_samples) as usize;
        // A loss in speech is concealed for its whole duration (shortening it would be a
        // splice), unless the offset is beyond the speech band above the target.
        let band = i64::from(self.cfg.accelerate_speech_ms) * 1000;
        // What was concealed while waiting for the stream (an empty buffer) was the gap's
        // start, and the offset it added is the gap's, not an excess over the target.
        let waited_us = self.samples_to_us(self.waited);
        if missing > 0 && !quiet && offset - waited_us - target < band {
            fill = (gap_samples as usize).saturating_sub(self.waited);
        }
        // Lost packets and the next one here: conceal all but the last lost packet, and
        // rebuild that one from the next packet's FEC data (if its time is still ahead).
        let frame = self.ticks_to_samples(p_ticks).max(0) as usize;
        let whole_frames = p_ticks > 0 && gap_ticks % p_ticks == 0;
        let same_codec = self.buf.get(i).payload_type == self.payload_type;
        let fec_ok =
            missing >= 1 && whole_frames && same_codec && frame > 0 && frame <= self.max_packet && fill >= frame;
        if fill > 0 && same_codec {
            // The rest of the gap leads into this packet: the decoder may conceal toward it.
            self.dec.conceal_toward(self.buf.payload(i), fill);
        }
        if fec_ok {
            // The earlier lost packets first, so the decoder runs in timestamp order.
            self.conceal(fill - frame);
        }
        let fec_done = fec_ok && {
            let payload = self.buf.payload(i);
            match self.dec.decode_fec(payload, frame, &mut self.scratch[self.max_packet..]) {
                Some(Ok(n)) if n == frame => {
                    let start = self.max_packet;
                    Self::push_sync(&mut self.sync, &mut self.sync_len, &self.scratch[start..start + n]);
                    self.stats.fec_recovered += 1;
                    self.stats.total_samples_received += n as u64;
                    true
                }
                _ => false,
            }
        };
        if fec_ok && !fec_done {
            self.conceal(frame);
        } else if !fec_ok {
            self.conceal(fill);
        }
        self.playout_ts = p_ts;
        self.waited = 0;
        self.stalled = false;
        self.dry_us = 0;
        if fill == 0 {
            // Nothing added: decode the packet now so the step makes progress.
            if let Some(j) = self.buf.find_ts(p_ts) {
                self.decode_slot(j);
            }
        }
    }

    /// Writes the audio of the playout tick at `now_ns` (as many samples as `out` holds,
    /// normally one quantum) using the packets inserted so far.
    pub fn pull(&mut self, now_ns: u64, out: &mut [f32]) {
        self.now_us = (now_ns / 1000).min(i64::MAX as u64) as i64;
        let need = out.len().min(self.sync.len() / 2);
        self.last_pull = Some((self.now_us, self.samples_to_us(out.len())));
        if !self.started {
            let Some(i) = self.buf.oldest() else {
                out.fill(0.0);
                return;
            };
            let (ts, arrival) = {
                let s = self.buf.get(i);
                (s.ts, s.arrival_us)
            };
            // The first packet plays the initial delay after it arrived (or later, if the
            // target asks more). Deciding only then puts every packet that arrived
            // meanwhile in the warm-up statistics: a sender that starts with a burst shows
            // its spread before the delay is set, instead of making the buffer stretch
            // speech while the target catches up. It plays earlier when the packets so far
            // agree closely enough that the earlier delay covers what they predict (a
            // steady network: no start-up excess to give back later by moving the timeline).
            let early = self.early_start_ok(ts);
            if !early && self.now_us < arrival.saturating_add(i64::from(self.cfg.initial_delay_ms) * 1000) {
                out.fill(0.0);
                return;
            }
            self.started = true;
            self.playout_ts = ts;
            self.sync_len = 0;
            let d = arrival - self.ticks_to_us(ts);
            let initial = d + i64::from(self.cfg.initial_delay_ms) * 1000;
            let want = if early { self.target_us().max(self.offset_us()) } else { self.target_us().max(initial) };
            // At most the max delay: the rest of the playout buffer is room for what follows.
            let room = self.fs as usize * self.cfg.max_delay_ms as usize / 1000;
            let lead = self.us_to_samples(want - self.offset_us()).clamp(0, room as i64) as usize;
            self.sync[..lead].fill(0);
            self.sync_len = lead;
        }
        let mut guard = 0;
        while self.sync_len < need && guard < 10_000 {
            self.step();
            guard += 1;
        }
        let m = need.min(self.sync_len);
        for (o, &v) in out[..m].iter_mut().zip(&self.sync[..m]) {
            *o = f32::from(v) / 32768.0;
        }
        out[m..].fill(0.0);
        self.sync.copy_within(m..self.sync_len, 0);
        self.sync_len -= m;
    }
}
