//! The delay manager: the playout offset the buffer aims for, from a quantile of the
//! packets' relative transit delays with exponential forgetting.
//!
//! Each packet's *transit offset* is `d = arrival − timestamp` (both in µs, the timestamp
//! converted from the RTP clock); a packet is on time when the playout offset `O` (the
//! time a timestamp is played minus that timestamp) is at least its `d`. The manager keeps
//! a histogram of `d` in 1 ms buckets relative to a base that follows the stream, every
//! packet's weight decaying by the forgetting factor per later packet.
//!
//! The target offset `O*` minimises a [`TargetCost`] of the buffer delay against the
//! fraction `P` of packets that would come too late, and never exceeds the `quantile` of
//! the distribution. The default cost is the E-model's (ITU-T G.107, simplified as by Cole
//! and Rosenbluth): `Id(Ta) + Ie,eff(P)` with `Id = 0.024·Ta + 0.11·(Ta − 177.3)` above
//! 177.3 ms and `Ie,eff = 95·P / (P + Bpl)` (P in %): the first late packets cost most,
//! so a thin tail is waited for, while waiting for a long rare spike costs more delay
//! impairment than concealing it. For a long exponential tail (heavy queueing jitter) the optimum sits far
//! out in the tail; for rare long spikes (a route change, a stalled link, whose packets
//! then arrive in a burst) waiting costs more than concealing the spike, and the target
//! stays with the bulk of the packets. A burst of late packets moves the target up within
//! a few packets (each carries `1 − forget` of the weight), while a return to calm brings
//! it down only once their weight has decayed (hundreds of packets): it rises fast and
//! decays slowly. A sender clock off by a few hundred ppm makes `d` drift slowly, and the
//! histogram follows it through the same forgetting.

/// What the target trades off (see [`DelayManager`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TargetCost {
    /// `delay_ms + loss_weight_ms × P` (P as a fraction).
    Linear {
        /// Delay worth losing every packet, ms.
        loss_weight_ms: f64,
    },
    /// E-model impairments `Id(Ta) + Ie,eff(P)`.
    EModel {
        /// Packet-loss robustness factor Bpl of the codec with its concealment (G.113
        /// Appendix I: G.711 with PLC 25.1).
        bpl: f64,
        /// Mouth-to-ear delay besides the buffer (network, packetisation, codec), ms.
        other_delay_ms: f64,
    },
}

impl TargetCost {
    /// The cost of a buffer delay of `delay_ms` with a fraction `late` of packets late.
    ///
    /// ```
    /// use rvoip_media_nodes::jitter::TargetCost;
    /// let c = TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 };
    /// // Ta = 100 ms: Id = 2.4; 1 % late: Ie,eff = 95 / 26.1.
    /// assert!((c.cost(60.0, 0.01) - (2.4 + 95.0 / 26.1)).abs() < 1e-9);
    /// assert_eq!(TargetCost::Linear { loss_weight_ms: 1000.0 }.cost(30.0, 0.02), 50.0);
    /// ```
    pub fn cost(&self, delay_ms: f64, late: f64) -> f64 {
        match *self {
            TargetCost::Linear { loss_weight_ms } => delay_ms + loss_weight_ms * late,
            TargetCost::EModel { bpl, other_delay_ms } => {
                let ta = delay_ms + other_delay_ms;
                let id = 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
                let p = 100.0 * late;
                id + 95.0 * p / (p + bpl.max(1e-3))
            }
        }
    }
}

/// Buckets of the histogram (1 ms each), at most.
const BUCKETS: usize = 2048;
/// Room above a max delay the histogram keeps, ms (see [`DelayManager::with_max_delay`]).
const ABOVE_MAX_MS: usize = 100;
/// Where the base puts the first packet's offset (ms from the histogram's low end).
const CENTRE: i64 = 400;

/// The fastest packets' bucket is the lowest that still holds this fraction of the weight
/// with the buckets below it ([`DelayManager::min_us`], [`QuantileWindow`]).
const MIN_WEIGHT: f64 = 1e-3;

/// Buckets of a [`QuantileWindow`] (1 ms each): 256 bytes of weights.
const WINDOW_BUCKETS: usize = 64;
/// Buckets a [`QuantileWindow`] keeps below its fastest packets' bucket.
const WINDOW_FLOOR: usize = 4;

/// A packet this far above both its predecessor's offset and the target starts a spike, µs.
const SPIKE_JUMP_US: i64 = 100_000;
/// A spike's drain may rise this far above the spike's first offset (the network's jitter
/// on top of the queue's drain), µs.
const DRAIN_RISE_US: i64 = 20_000;
/// A drain packet may fall at most this far below its predecessor (the queue empties at
/// the link's rate, plus jitter), µs.
const DRAIN_FALL_US: i64 = 40_000;
/// Packet `k` of a drain must be at least `k` times this below the spike's first offset
/// (plus [`DRAIN_RISE_US`]): a queue drains, a route change stays up. A step up in the base
/// delay fails this after about ten packets and is then counted in full, µs.
const DRAIN_SLOPE_US: i64 = 2_000;

/// The delay manager: the playout offset the buffer aims for, from a quantile of the
/// packets' relative transit delays with exponential forgetting.
///
/// Each packet's *transit offset* is `d = arrival − timestamp` (both in µs, the timestamp
/// converted from the RTP clock); a packet is on time when the playout offset `O` (the
/// time a timestamp is played minus that timestamp) is at least its `d`. The manager keeps
/// a histogram of `d` in 1 ms buckets relative to a base that follows the stream, every
/// packet's weight decaying by the forgetting factor per later packet.
///
/// The target offset `O*` minimises a [`TargetCost`] of the buffer delay against the
/// fraction `P` of packets that would come too late, and never exceeds the `quantile` of
/// the distribution. The default cost is the E-model's (ITU-T G.107, simplified as by Cole
/// and Rosenbluth): `Id(Ta) + Ie,eff(P)` with `Id = 0.024·Ta + 0.11·(Ta − 177.3)` above
/// 177.3 ms and `Ie,eff = 95·P / (P + Bpl)` (P in %): the first late packets cost most,
/// so a thin tail is waited for, while waiting for a long rare spike costs more delay
/// impairment than concealing it. For a long exponential tail (heavy queueing jitter) the optimum sits far
/// out in the tail; for rare long spikes (a route change, a stalled link, whose packets
/// then arrive in a burst) waiting costs more than concealing the spike, and the target
/// stays with the bulk of the packets. A burst of late packets moves the target up within
/// a few packets (each carries `1 − forget` of the weight), while a return to calm brings
/// it down only once their weight has decayed (hundreds of packets): it rises fast and
/// decays slowly. A sender clock off by a few hundred ppm makes `d` drift slowly, and the
/// histogram follows it through the same forgetting.
///
/// No allocation after construction.
///
/// ```
/// use rvoip_media_nodes::jitter::{DelayManager, TargetCost};
///
/// let mut dm = DelayManager::new(0.95, 0.99, TargetCost::Linear { loss_weight_ms: 1e9 });
/// // Packets every 20 ms; transit 50 ms, every 10th one 30 ms later.
/// for i in 0..500i64 {
///     let extra = if i % 10 == 0 { 30_000 } else { 0 };
///     dm.update(i * 20_000 + 50_000 + extra - i * 20_000);
/// }
/// // 10 % of packets are late by 30 ms: the 95 % quantile covers them.
/// let t = dm.target_us().unwrap();
/// assert!((79_000..=81_000).contains(&t), "{t}");
/// ```
#[derive(Clone, Debug)]
pub struct DelayManager {
    quantile: f64,
    forget: f64,
    cost: TargetCost,
    /// Bucket weights (f32: relative precision far finer than the forgetting's; the sums
    /// and the total are kept in f64).
    hist: Box<[f32]>,
    /// Every bucket below `lo` or above `hi` is empty (`lo > hi`: all are): the target's
    /// walks skip what cannot matter.
    lo: usize,
    hi: usize,
    /// Target computed after the last update.
    target: Option<i64>,
    /// Weight the next packet adds (grows by 1/forget per packet instead of decaying all
    /// buckets; everything is rescaled when it gets large).
    inc: f64,
    total: f64,
    /// Offset (µs) of bucket 0's low edge.
    base_us: i64,
    packets: u64,
    /// Smallest offset seen recently (decays upward slowly), µs.
    min_us: i64,
    /// Weight of a spike's drain packets relative to others (see
    /// [`DelayManager::with_spike_tail_weight`]).
    tail_weight: f64,
    /// The last packet's offset, µs.
    prev_us: Option<i64>,
    /// The current spike: its first offset and the drain packets seen since.
    spike: Option<(i64, i64)>,
    /// Packets counted at the tail weight since the last reset.
    drain_packets: u64,
    /// The next packet, if it starts a spike, starts one counted in full.
    full_next: bool,
    /// Cost of raising the target, per ms (see [`DelayManager::with_rise_cost`]).
    rise_cost: f64,
    /// The quantile's bucket after the last update: its upper edge (µs) and the weight
    /// strictly above it, as a fraction of the total (see [`DelayManager::quantile_us`]).
    quantile_at: Option<(i64, f64)>,
}

impl DelayManager {
    /// A manager whose target minimises `cost` and is at most the `quantile` (0.5..1) of
    /// transit offsets, forgetting by `forget` (0.9..1) per packet. Out-of-range values
    /// are clamped.
    pub fn new(quantile: f64, forget: f64, cost: TargetCost) -> Self {
        DelayManager {
            quantile: clamp_quantile(quantile),
            forget: clamp_forget(forget),
            cost,
            target: None,
            hist: vec![0.0; BUCKETS].into_boxed_slice(),
            lo: BUCKETS,
            hi: 0,
            inc: 1.0,
            total: 0.0,
            base_us: 0,
            packets: 0,
            min_us: 0,
            tail_weight: 1.0,
            prev_us: None,
            spike: None,
            drain_packets: 0,
            full_next: false,
            rise_cost: 0.0,
            quantile_at: None,
        }
    }

    /// With a cost of `per_ms` (in the [`TargetCost`]'s units, ≥ 0; 0, the default, is
    /// none) for every ms a candidate target lies above the current one. Raising the target
    /// moves the playout timeline, which the buffer does by stretching the audio (and a
    /// higher target later gives the delay back by compressing it): the cost makes the
    /// target rise only when the late packets the higher target saves outweigh the move.
    /// Lowering the target costs nothing more than before (it decays slowly anyway).
    ///
    /// ```
    /// use rvoip_media_nodes::jitter::{DelayManager, TargetCost};
    /// let cost = TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 };
    /// let mut free = DelayManager::new(0.9999, 0.999, cost);
    /// let mut priced = DelayManager::new(0.9999, 0.999, cost).with_rise_cost(0.02);
    /// for i in 0..3000i64 {
    ///     // 20 ms transit; from packet 1000 on, one packet in 150 is 80 ms later.
    ///     let d = 20_000 + if i >= 1000 && i % 150 == 0 { 80_000 } else { 0 };
    ///     free.update(d);
    ///     priced.update(d);
    /// }
    /// assert_eq!(free.target_us(), Some(101_000));
    /// assert_eq!(priced.target_us(), Some(21_000));
    /// ```
    pub fn with_rise_cost(mut self, per_ms: f64) -> Self {
        self.rise_cost = if per_ms.is_finite() { per_ms.max(0.0) } else { 0.0 };
        self
    }

    /// With a delay spike's drain counted at `weight` (0..=1; 1, the default, counts every
    /// packet alike). A *spike* is a packet at least 100 ms above both its predecessor and
    /// the target (a stalled link, a queue filling); the packets that follow it from the
    /// same queue arrive in a burst, each a little less late than the one before, and are
    /// its *drain*: above the target, at most 20 ms above the spike's first offset, at most
    /// 40 ms below their predecessor and, the `k`-th of them, at least `2·k` ms below the
    /// first offset plus those 20 ms. The spike's first packet always counts in full. With
    /// weight 0 the target does not wait for the lower part of rare spikes, which the
    /// E-model cost would otherwise buy at the drain's mass (for G.711, whose concealment
    /// cannot rebuild a burst, that delay bought no quality: BENCHMARKS, jitter buffer,
    /// session 17). A lasting step up in the base delay (a route change) falls by less than
    /// 2 ms a packet and is counted in full after about ten packets.
    ///
    /// ```
    /// use rvoip_media_nodes::jitter::{DelayManager, TargetCost};
    /// let cost = TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 };
    /// let mut dm = DelayManager::new(0.995, 0.999, cost).with_spike_tail_weight(0.0);
    /// for i in 0..2000i64 {
    ///     // Every 10 s (from 2 s on) a 400 ms spike that drains over 1 s.
    ///     let t = i % 500 - 100;
    ///     dm.update(20_000 + if (0..50).contains(&t) { 400_000 - t * 8_000 } else { 0 });
    /// }
    /// assert_eq!(dm.drain_packets(), 4 * 49);
    /// assert!(dm.target_us().unwrap() < 60_000);
    /// ```
    pub fn with_spike_tail_weight(mut self, weight: f64) -> Self {
        self.tail_weight = if weight.is_finite() { weight.clamp(0.0, 1.0) } else { 1.0 };
        self
    }

    /// The next packet, if it starts a spike, starts one whose drain counts in full: the
    /// caller waited for the stalled stream as long as it would, so the spike is taller than
    /// its wait and the target is to catch what it can of the drain, as at weight 1.
    pub fn count_next_spike_in_full(&mut self) {
        self.full_next = true;
    }

    /// Packets counted as a spike's drain (at the tail weight) since the last reset.
    pub fn drain_packets(&self) -> u64 {
        self.drain_packets
    }

    /// The weight of a packet at offset `d_us` (1, or the tail weight in a spike's drain),
    /// and the spike state after it.
    fn spike_weight(&mut self, d_us: i64) -> f64 {
        let prev = self.prev_us.replace(d_us);
        let full = std::mem::take(&mut self.full_next);
        if self.tail_weight >= 1.0 {
            return 1.0;
        }
        let Some(target) = self.target else { return 1.0 };
        if let Some((first, k)) = self.spike {
            let k = k + 1;
            let drains = d_us > target
                && d_us <= first + DRAIN_RISE_US - k * DRAIN_SLOPE_US
                && prev.is_some_and(|p| d_us >= p - DRAIN_FALL_US);
            if drains {
                self.spike = Some((first, k));
                self.drain_packets += 1;
                return self.tail_weight;
            }
            self.spike = None;
        }
        if !full && prev.is_some_and(|p| d_us >= p + SPIKE_JUMP_US) && d_us >= target + SPIKE_JUMP_US {
            self.spike = Some((d_us, 0));
        }
        1.0
    }

    /// With a histogram only as wide as a target of at most `max_delay_ms` needs: the
    /// room below the first packet's offset, the max delay above it and 100 ms, rounded up
    /// to a power of two, at most 2048 buckets (1 ms each; the default). Offsets beyond the
    /// span move its base, as they always do. Allocates: call it when building.
    ///
    /// ```
    /// use rvoip_media_nodes::jitter::{DelayManager, TargetCost};
    /// let dm = DelayManager::new(0.95, 0.99, TargetCost::Linear { loss_weight_ms: 1e9 });
    /// assert_eq!(dm.buckets(), 2048);
    /// assert_eq!(dm.with_max_delay(500).buckets(), 1024);
    /// ```
    pub fn with_max_delay(mut self, max_delay_ms: u32) -> Self {
        let span = CENTRE as usize + max_delay_ms as usize + ABOVE_MAX_MS;
        self.hist = vec![0.0; span.next_power_of_two().min(BUCKETS)].into_boxed_slice();
        self.reset();
        self
    }

    /// Buckets of the histogram (1 ms each).
    pub fn buckets(&self) -> usize {
        self.hist.len()
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.hist.fill(0.0);
        (self.lo, self.hi) = (self.hist.len(), 0);
        self.inc = 1.0;
        self.total = 0.0;
        self.packets = 0;
        self.target = None;
        self.prev_us = None;
        self.spike = None;
        self.drain_packets = 0;
        self.full_next = false;
        self.quantile_at = None;
    }

    /// Packets seen since the last reset.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Records one packet's transit offset `d_us` (arrival − timestamp, µs).
    pub fn update(&mut self, d_us: i64) {
        if self.packets == 0 {
            self.base_us = d_us - CENTRE * 1000;
            self.min_us = d_us;
        }
        self.packets += 1;
        let mut b = (d_us - self.base_us).div_euclid(1000);
        if !(0..self.hist.len() as i64).contains(&b) {
            // The stream's offsets moved out of range (a long drift, a timestamp jump that
            // was not reset): move the base so the new offset sits at the centre.
            self.rebase(b - CENTRE);
            b = CENTRE;
        }
        let w = self.inc * self.spike_weight(d_us);
        self.hist[b as usize] += w as f32;
        (self.lo, self.hi) = (self.lo.min(b as usize), self.hi.max(b as usize));
        self.total += w;
        if let Some(s) = advance_weight(&mut self.inc, self.forget, &mut self.hist) {
            self.total *= s;
        }
        self.target = self.compute_target();
    }

    /// Shifts the histogram's base by `by` buckets (mass that falls off the ends goes to
    /// the end buckets).
    fn rebase(&mut self, by: i64) {
        shift(&mut self.hist, by);
        self.base_us += by * 1000;
        let used = |h: &f32| *h != 0.0;
        self.lo = self.hist.iter().position(used).unwrap_or(self.hist.len());
        self.hi = self.hist.iter().rposition(used).unwrap_or(0);
    }

    /// The target playout offset (µs, on the same scale as the offsets given to
    /// [`DelayManager::update`]): the upper edge of the bucket minimising delay plus
    /// weighted lateness, at most the quantile. `None` before any packet.
    pub fn target_us(&self) -> Option<i64> {
        self.target
    }

    /// The target after an update. Only the buckets that hold weight (and bucket 0) are
    /// candidates: below an empty bucket the same packets are late at less delay, and every
    /// [`TargetCost`] and the rise cost grow with the delay, so the empty bucket is never
    /// the lowest of the cheapest (the full walk, `tests::target_by_full_walk`, picks the
    /// same bucket).
    fn compute_target(&mut self) -> Option<i64> {
        if self.packets == 0 || self.total <= 0.0 {
            return None;
        }
        let used = self.hist.get(self.lo..=self.hi).unwrap_or(&[]);
        let low = fastest_bucket(used, 0.0, self.total);
        self.min_us = self.base_us + low.map_or(0, |i| self.lo + i) as i64 * 1000;
        let limit = (1.0 - self.quantile) * self.total;
        // Walk down from the top: `above` is the mass strictly above bucket i.
        let mut above = 0.0;
        let mut q_bucket = None;
        let mut best = (f64::INFINITY, 0usize);
        let current = self.target.filter(|_| self.rise_cost > 0.0);
        let cost_at = |i: usize, above: f64| {
            let offset = self.base_us + (i as i64 + 1) * 1000;
            let delay_ms = ((offset - self.min_us) as f64 / 1000.0).max(0.0);
            let mut cost = self.cost.cost(delay_ms, above / self.total);
            if let Some(t) = current.filter(|&t| offset > t) {
                cost += self.rise_cost * ((offset - t) as f64 / 1000.0);
            }
            cost
        };
        for (i, h) in used.iter().map(|&h| f64::from(h)).enumerate().rev() {
            if h == 0.0 {
                continue;
            }
            if q_bucket.is_none() && above + h > limit {
                q_bucket = Some((i, above));
            }
            if q_bucket.is_some() {
                let cost = cost_at(self.lo + i, above);
                if cost <= best.0 {
                    best = (cost, self.lo + i);
                }
            }
            above += h;
        }
        if q_bucket.is_some() && self.hist[0] == 0.0 && cost_at(0, above) <= best.0 {
            best.1 = 0;
        }
        self.quantile_at =
            q_bucket.map(|(i, q_above)| (self.base_us + (self.lo + i) as i64 * 1000 + 1000, q_above / self.total));
        Some(self.base_us + (best.1 as i64 + 1) * 1000)
    }

    /// The `quantile` of the offsets (µs, the upper edge of its bucket, as
    /// [`DelayManager::target_us`]) and the weight strictly above that bucket as a fraction
    /// of the total (0 when the quantile's bucket is the histogram's top). `None` before any
    /// packet. The target is at most this edge; the cost may put it lower.
    pub fn quantile_us(&self) -> Option<(i64, f64)> {
        self.quantile_at
    }

    /// The fastest recent packet's transit offset (µs): the lowest bucket that still holds
    /// a thousandth of the (forgetting) weight, so it follows a drifting clock.
    pub fn min_us(&self) -> Option<i64> {
        (self.packets > 0).then_some(self.min_us)
    }
}

/// The `quantile` of recent transit offsets, as a [`DelayManager`] fed the same offsets
/// (at full weight) finds it, from a window of 64 of its 1 ms buckets that follows the
/// fastest packets instead of a histogram of the whole range: 256 bytes of weights where a
/// [`DelayManager`] with a 500 ms max delay keeps 4 KiB.
///
/// The buckets are a [`DelayManager`]'s — 1 ms wide, their edges at the first offset's
/// phase, every packet's weight decaying by the forgetting factor per later packet — and the
/// window keeps the fastest packets' bucket (the lowest holding, with those below it, a
/// thousandth of the weight) 4 buckets above its bottom: it slides with them, a new
/// offset under the window moves it down at once. Weight that leaves the window, or comes
/// above it, is kept as a sum below or above it, so the total is the whole histogram's.
/// Where the quantile lies in the window it is a [`DelayManager`]'s (bucket for bucket,
/// up to the rounding of the sums); where more than `1 − quantile` of the weight lies
/// above the window it is not known (`None`). Weight kept above the window while it slid
/// up is counted above every bucket, so an unknown tail can only raise the quantile. For
/// a tail within 59 ms of the fastest packets: the jitter buffer's raw transits on light
/// jitter ([`crate::jitter::JitterBuffer`]'s pull-grid margin).
///
/// No allocation.
///
/// ```
/// use rvoip_media_nodes::jitter::{DelayManager, QuantileWindow, TargetCost};
/// let mut full = DelayManager::new(0.995, 0.999, TargetCost::Linear { loss_weight_ms: 1e9 });
/// let mut win = QuantileWindow::new(0.995, 0.999);
/// for i in 0..3000i64 {
///     // 20 ms transit, 0–9 ms of jitter, and 1 % of the packets 30 ms slower.
///     let d = 20_300 + (i * 7919 % 10) * 1000 + if i % 100 == 0 { 30_000 } else { 0 };
///     full.update(d);
///     win.update(d);
/// }
/// assert_eq!(win.quantile_us(), Some(full.quantile_us().unwrap().0));
/// assert_eq!(win.quantile_us(), Some(51_300));
/// // A tail far above the fastest packets is beyond the window: not known.
/// for _ in 0..100 {
///     win.update(200_000);
/// }
/// assert_eq!(win.quantile_us(), None);
/// ```
#[derive(Clone, Debug)]
pub struct QuantileWindow {
    quantile: f64,
    forget: f64,
    /// Bucket weights (f32, as a [`DelayManager`]'s).
    hist: [f32; WINDOW_BUCKETS],
    /// Weight below bucket 0 and above the top bucket.
    below: f64,
    above: f64,
    /// Offset (µs) of bucket 0's low edge.
    base_us: i64,
    /// Weight the next packet adds (see [`DelayManager`]'s `inc`).
    inc: f64,
    /// The weight of every packet so far (0: none yet).
    total: f64,
}

impl QuantileWindow {
    /// A window whose quantile is the `quantile` (0.5..1) of the offsets, forgetting by
    /// `forget` (0.9..1) per packet; out-of-range values are clamped as [`DelayManager::new`]
    /// clamps them.
    pub fn new(quantile: f64, forget: f64) -> Self {
        QuantileWindow {
            quantile: clamp_quantile(quantile),
            forget: clamp_forget(forget),
            hist: [0.0; WINDOW_BUCKETS],
            below: 0.0,
            above: 0.0,
            base_us: 0,
            inc: 1.0,
            total: 0.0,
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = QuantileWindow::new(self.quantile, self.forget);
    }

    /// Records one packet's transit offset `d_us` (µs).
    pub fn update(&mut self, d_us: i64) {
        if self.total == 0.0 {
            self.base_us = d_us - WINDOW_FLOOR as i64 * 1000;
        }
        let mut b = (d_us - self.base_us).div_euclid(1000);
        // Under the window, or above it with the fastest packets above it too (the weight
        // in and under the window forgotten): the window moves to this packet.
        if b < 0 || (b >= WINDOW_BUCKETS as i64 && self.floor_bucket().is_none()) {
            self.slide(b - WINDOW_FLOOR as i64);
            b = WINDOW_FLOOR as i64;
        }
        let w = self.inc;
        match self.hist.get_mut(b as usize) {
            Some(h) => *h += w as f32,
            None => self.above += w,
        }
        self.total += w;
        if let Some(s) = advance_weight(&mut self.inc, self.forget, &mut self.hist) {
            (self.below, self.above, self.total) = (self.below * s, self.above * s, self.total * s);
        }
        if let Some(floor) = self.floor_bucket().filter(|&f| f != WINDOW_FLOOR) {
            self.slide(floor as i64 - WINDOW_FLOOR as i64);
        }
    }

    /// The `quantile` of the offsets (µs, the upper edge of its bucket, as
    /// [`DelayManager::quantile_us`]: the highest bucket with more than `1 − quantile` of the
    /// weight at or above it); `None` before any packet or where more than `1 − quantile` of
    /// the weight lies above the window. A walk down the window, done when it is read, not
    /// on every update.
    pub fn quantile_us(&self) -> Option<i64> {
        let limit = (1.0 - self.quantile) * self.total;
        let mut above = self.above;
        if self.total == 0.0 || above > limit {
            return None;
        }
        for (i, &h) in self.hist.iter().enumerate().rev() {
            let h = f64::from(h);
            if h != 0.0 && above + h > limit {
                return Some(self.base_us + (i as i64 + 1) * 1000);
            }
            above += h;
        }
        None
    }

    /// The fastest packets' bucket: the lowest that holds, with the weight below it (at
    /// most the threshold itself), more than [`MIN_WEIGHT`] of the total; `None` where the
    /// window and the weight under it hold less (the fastest packets are above it).
    fn floor_bucket(&self) -> Option<usize> {
        fastest_bucket(&self.hist, self.below.min(MIN_WEIGHT * self.total), self.total)
    }

    /// Moves the window up by `by` buckets (down if negative); the weight of the buckets
    /// that leave it goes to the sum below or above it.
    fn slide(&mut self, by: i64) {
        let k = by.unsigned_abs().min(WINDOW_BUCKETS as u64) as usize;
        if by > 0 {
            self.below += self.hist[..k].iter().map(|&h| f64::from(h)).sum::<f64>();
            self.hist.copy_within(k.., 0);
            self.hist[WINDOW_BUCKETS - k..].fill(0.0);
        } else if by < 0 {
            self.above += self.hist[WINDOW_BUCKETS - k..].iter().map(|&h| f64::from(h)).sum::<f64>();
            self.hist.copy_within(..WINDOW_BUCKETS - k, k);
            self.hist[..k].fill(0.0);
        }
        self.base_us += by * 1000;
    }
}

/// The fastest packets' bucket of `weights` (of a histogram whose weights sum to `total`,
/// `below` of it under `weights`' first bucket): the first at which the weight up to it
/// passes [`MIN_WEIGHT`] of the total.
fn fastest_bucket(weights: &[f32], mut below: f64, total: f64) -> Option<usize> {
    let floor = MIN_WEIGHT * total;
    weights.iter().position(|&h| {
        below += f64::from(h);
        below > floor
    })
}

/// Ages a forgetting histogram by one packet: rather than every stored weight decaying by
/// `forget`, the next packet's weight `inc` grows by 1 / `forget`. When it passes 1e30 the
/// bucket weights `hist` are scaled back (f32 buckets reach about inc / (1 − forget) ≤
/// 1e5 · inc: rescaled well below 3e38), `inc` restarts at 1, and the factor is returned for
/// the histogram's other sums.
fn advance_weight(inc: &mut f64, forget: f64, hist: &mut [f32]) -> Option<f64> {
    *inc /= forget;
    if *inc <= 1e30 {
        return None;
    }
    let s = 1.0 / *inc;
    hist.iter_mut().for_each(|h| *h *= s as f32);
    *inc = 1.0;
    Some(s)
}

/// A quantile in 0.5..0.9999 (0.95 if not finite).
fn clamp_quantile(quantile: f64) -> f64 {
    if quantile.is_finite() {
        quantile.clamp(0.5, 0.9999)
    } else {
        0.95
    }
}

/// A forgetting factor per packet in 0.9..0.99999 (0.995 if not finite).
fn clamp_forget(forget: f64) -> f64 {
    if forget.is_finite() {
        forget.clamp(0.9, 0.99999)
    } else {
        0.995
    }
}

/// Shifts a histogram down by `by` buckets (up if negative); mass that falls off the
/// ends goes to the end buckets.
fn shift(hist: &mut [f32], by: i64) {
    let len = hist.len();
    let n = len as i64;
    if by > 0 {
        let k = by.min(n) as usize;
        let spill: f32 = hist[..k].iter().sum();
        hist.copy_within(k.., 0);
        hist[len - k..].fill(0.0);
        hist[0] += spill;
    } else if by < 0 {
        let k = (-by).min(n) as usize;
        let spill: f32 = hist[len - k..].iter().sum();
        hist.copy_within(..len - k, k);
        hist[..k].fill(0.0);
        hist[len - 1] += spill;
    }
}

/// Blocks of the skew estimator (one per second of RTP time).
const SKEW_BLOCKS: usize = 32;
/// Length of one block, µs of RTP time.
const SKEW_BLOCK_US: i64 = 1_000_000;
/// Blocks needed before a skew is reported.
const SKEW_MIN_BLOCKS: usize = 8;
/// Pairs of blocks closer than this are not used (their slope is mostly jitter).
const SKEW_MIN_SEPARATION: usize = 4;
/// Largest skew believed to be a clock (ppm); a steeper slope of the minima is a route
/// change or congestion building up, which the delay histogram handles.
const SKEW_MAX_PPM: f64 = 1000.0;

/// Estimates the sender's clock skew against the receiver's: the slope of the transit
/// offset `d = arrival − timestamp` over the timestamp.
///
/// A sender clock off by `s` ppm makes every `d` drift by `−s` µs per second. The slope
/// is taken from the *lower envelope*: the smallest `d` of each second of RTP time (the
/// packets that met no queue), and fitted robustly (Theil–Sen: the median of the slopes
/// between pairs of these minima at least 4 s apart) over the last 32 s. Queueing jitter
/// and delay spikes raise a few minima and leave the median slope alone; a least-squares
/// fit of all offsets would tilt by thousands of ppm after a single 400 ms spike.
/// Slopes beyond ±1000 ppm are not taken for a clock (0 is reported).
///
/// No allocation.
///
/// ```
/// use rvoip_media_nodes::jitter::SkewEstimator;
/// let mut sk = SkewEstimator::new();
/// // Sender 300 ppm fast: its timestamps run ahead, d falls by 0.3 ms per second.
/// for i in 0..1500i64 {
///     let ts_us = i * 20_000;
///     let jitter = (i * 7919 % 13) * 1000;
///     sk.update(ts_us, 30_000 - ts_us * 3 / 10_000 + jitter);
/// }
/// let s = sk.slope();
/// assert!((s + 3e-4).abs() < 2e-5, "{s}");
/// ```
#[derive(Clone, Debug)]
pub struct SkewEstimator {
    /// Block index and its smallest offset, a ring of the last blocks.
    mins: [(i64, i64); SKEW_BLOCKS],
    len: usize,
    head: usize,
    anchor_us: Option<i64>,
    cur_block: i64,
    cur_min: i64,
    slope: f64,
}

impl Default for SkewEstimator {
    fn default() -> Self {
        Self::new()
    }
}

impl SkewEstimator {
    /// An estimator that has seen nothing (slope 0).
    pub fn new() -> Self {
        SkewEstimator {
            mins: [(0, 0); SKEW_BLOCKS],
            len: 0,
            head: 0,
            anchor_us: None,
            cur_block: 0,
            cur_min: i64::MAX,
            slope: 0.0,
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The skew: µs of transit offset per µs of timestamp (−3e−4 for a sender 300 ppm
    /// fast); 0 until 8 s of stream were seen.
    pub fn slope(&self) -> f64 {
        self.slope
    }

    /// Seconds of RTP time whose smallest transit offsets the slope is fitted over (at
    /// most the last 32): how much evidence [`SkewEstimator::slope`] rests on.
    pub fn seconds(&self) -> usize {
        self.len
    }

    /// Records a packet with timestamp `ts_us` (µs of RTP time, any origin) and transit
    /// offset `d_us`. Packets of seconds already closed (reordered) are ignored.
    pub fn update(&mut self, ts_us: i64, d_us: i64) {
        let anchor = *self.anchor_us.get_or_insert(ts_us);
        let block = (ts_us - anchor).div_euclid(SKEW_BLOCK_US);
        if block == self.cur_block {
            self.cur_min = self.cur_min.min(d_us);
            return;
        }
        if block < self.cur_block {
            return;
        }
        if self.cur_min != i64::MAX {
            self.mins[self.head] = (self.cur_block, self.cur_min);
            self.head = (self.head + 1) % SKEW_BLOCKS;
            self.len = (self.len + 1).min(SKEW_BLOCKS);
            self.fit();
        }
        self.cur_block = block;
        self.cur_min = d_us;
    }

    fn fit(&mut self) {
        if self.len < SKEW_MIN_BLOCKS {
            return;
        }
        let mut slopes = [0f64; SKEW_BLOCKS * (SKEW_BLOCKS - 1) / 2];
        let mut n = 0;
        for a in 0..self.len {
            for b in 0..self.len {
                let (ba, da) = self.mins[a];
                let (bb, db) = self.mins[b];
                if bb - ba >= SKEW_MIN_SEPARATION as i64 {
                    slopes[n] = (db - da) as f64 / ((bb - ba) * SKEW_BLOCK_US) as f64;
                    n += 1;
                }
            }
        }
        if n == 0 {
            return;
        }
        let s = &mut slopes[..n];
        let (_, m, _) = s.select_nth_unstable_by(n / 2, f64::total_cmp);
        let m = *m;
        self.slope = if m.abs() <= SKEW_MAX_PPM * 1e-6 { m } else { 0.0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_within_a_few_packets_and_decays_slowly() {
        let mut dm = DelayManager::new(0.95, 0.995, TargetCost::Linear { loss_weight_ms: 1e9 });
        for _ in 0..1000 {
            dm.update(20_000);
        }
        assert_eq!(dm.target_us(), Some(21_000));
        // A spike: 15 packets 200 ms late. 15 × 0.005 ≈ 7 % of the weight > 5 %.
        let mut rose_after = None;
        for i in 0..15 {
            dm.update(220_000);
            if rose_after.is_none() && dm.target_us().unwrap() > 200_000 {
                rose_after = Some(i + 1);
            }
        }
        let n = rose_after.expect("the target follows the spike");
        assert!((10..=12).contains(&n), "rose after {n} packets");
        // Calm again: the spike's weight must fall below 5 % before the target drops:
        // 0.0724 × 0.995^k < 0.05  =>  k ≈ 75.
        let mut fell_after = None;
        for i in 0..1000 {
            dm.update(20_000);
            if fell_after.is_none() && dm.target_us().unwrap() < 100_000 {
                fell_after = Some(i + 1);
            }
        }
        let k = fell_after.unwrap();
        assert!((60..=90).contains(&k), "fell after {k} packets");
    }

    #[test]
    fn the_quantile_and_the_weight_above_its_bucket() {
        let mut dm = DelayManager::new(0.995, 0.999, TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 });
        assert_eq!(dm.quantile_us(), None);
        // 2 % of the packets 20 ms slower: the 99.5 % quantile is theirs, the top bucket.
        for i in 0..1000i64 {
            dm.update(if i % 50 == 0 { 40_000 } else { 20_000 });
        }
        assert_eq!(dm.quantile_us(), Some((41_000, 0.0)));
        // One packet far above: the quantile stays, the weight above it is that packet's.
        dm.update(90_000);
        let (q, above) = dm.quantile_us().unwrap();
        assert_eq!(q, 41_000);
        assert!(above > 1e-3 && above < 2e-3, "{above}");
    }

    #[test]
    fn the_window_finds_the_full_histograms_quantile_near_the_fastest_packets() {
        // Streams of light and heavier jitter with a drifting clock, a step down and a step
        // up of the base delay, and rare spikes: after every packet, where the full
        // histogram's quantile lies within 50 ms of its fastest packets the window finds
        // the same bucket edge, and it never reads a quantile under the full one's.
        let mut rng = rvoip_media_graph::SplitMix64::new(36);
        let (mut same, mut near, mut unknown) = (0, 0, 0);
        for (k, scale) in [2_000.0, 5_000.0, 20_000.0].into_iter().enumerate() {
            let mut full = DelayManager::new(0.995, 0.999, TargetCost::Linear { loss_weight_ms: 1e9 });
            let mut win = QuantileWindow::new(0.995, 0.999);
            for i in 0..8000i64 {
                let jitter = -(1.0 - rng.unit()).ln() * scale;
                let spike = if i % 1500 == 700 { 250_000 } else { 0 };
                let drift = i * 2 * (k as i64 - 1); // −100, 0, +100 ppm of 20 ms packets
                let step = match i {
                    3000..=4999 => -40_000,
                    5000.. => 90_000,
                    _ => 0,
                };
                let d = 1_000_000_123 + jitter as i64 + spike + drift + step;
                full.update(d);
                win.update(d);
                let (q, _) = full.quantile_us().unwrap();
                match win.quantile_us() {
                    Some(w) => {
                        assert!(w >= q, "packet {i}, scale {scale}: {w} under {q}");
                        same += usize::from(w == q);
                    }
                    None => unknown += 1,
                }
                if q - full.min_us().unwrap() <= 50_000 {
                    assert_eq!(win.quantile_us(), Some(q), "packet {i}, scale {scale}");
                    near += 1;
                }
            }
        }
        // Of 24,000 packets: after the step up (3 × 3,000) the fastest packets are still the
        // old ones (for 6,900 packets), the new ones above the window; the heaviest
        // jitter's tail is mostly beyond it.
        // 6,011 packets are near, 8,426 the same, 15,574 unknown.
        assert!(near > 5_000 && same >= near && unknown > 0, "{near} {same} {unknown}");
        let mut win = QuantileWindow::new(0.995, 0.999);
        win.update(20_000);
        assert_eq!(win.quantile_us(), Some(21_000));
        win.reset();
        assert_eq!(win.quantile_us(), None);
    }

    #[test]
    fn offsets_far_outside_the_range_move_the_base() {
        let mut dm = DelayManager::new(0.9, 0.99, TargetCost::Linear { loss_weight_ms: 1e9 });
        dm.update(0);
        dm.update(10_000_000); // 10 s later: out of the 2 s range
        for _ in 0..500 {
            dm.update(10_000_000);
        }
        assert_eq!(dm.target_us(), Some(10_001_000));
        // The early packet's weight (0.99^501) is below a thousandth: forgotten.
        assert_eq!(dm.min_us(), Some(10_000_000));
        dm.reset();
        assert_eq!(dm.target_us(), None);
    }

    #[test]
    fn the_loss_weight_trades_a_rare_long_spike_against_delay() {
        // 90 % of packets at 20 ms, 10 % spread evenly over 20..420 ms (a draining spike).
        let feed = |dm: &mut DelayManager| {
            for i in 0..2000i64 {
                let d = if i % 10 == 0 { 20_000 + (i / 10 % 40) * 10_000 } else { 20_000 };
                dm.update(d);
            }
        };
        // Cost of waiting to b: b + λ·0.1·(420 − b)/400: with λ = 2000 ms the slope is
        // 1 − 0.5 > 0, so the target stays at the bulk; with λ = 8000 it is 1 − 2 < 0, so
        // the target covers the spike (up to the 99.5 % quantile).
        let mut cheap = DelayManager::new(0.995, 0.999, TargetCost::Linear { loss_weight_ms: 2000.0 });
        feed(&mut cheap);
        assert_eq!(cheap.target_us(), Some(21_000));
        let mut dear = DelayManager::new(0.995, 0.999, TargetCost::Linear { loss_weight_ms: 8000.0 });
        feed(&mut dear);
        let t = dear.target_us().unwrap();
        assert!(t > 380_000, "{t}");
        // The E-model cost: waiting out the whole spike (Id ≈ 0.024·460 + 0.11·283 ≈ 42)
        // costs more than concealing it (P ≈ 10 %: Ie,eff ≈ 27); its concave Ie,eff
        // makes catching the spike's lower third worth it (at 151 ms: P ≈ 6.7 %,
        // Ie,eff ≈ 20, Id ≈ 4.1).
        let mut em = DelayManager::new(0.995, 0.999, TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 });
        feed(&mut em);
        assert_eq!(em.target_us(), Some(151_000));
    }

    /// Packets of 20 ms on a network 20 ms away with a little jitter, and every 10 s a
    /// 400 ms spike that drains over 1 s (a FIFO queue: the held packets come in a burst);
    /// from packet `step_at` on the base delay is 150 ms higher.
    fn spiky(dm: &mut DelayManager, n: i64, step_at: i64) {
        for i in 0..n {
            let t = i % 500;
            let spike = if (100..150).contains(&t) { 400_000 - (t - 100) * 8_000 } else { 0 };
            let step = if i >= step_at { 150_000 } else { 0 };
            dm.update(20_000 + (i * 7919 % 7) * 1000 + spike + step);
        }
    }

    #[test]
    fn a_spikes_drain_counts_at_the_tail_weight_and_a_route_change_in_full() {
        let cost = TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 };
        // In full, the E-model cost catches the lower part of the drains (as in
        // the_loss_weight_trades_a_rare_long_spike_against_delay).
        let mut full = DelayManager::new(0.995, 0.999, cost);
        spiky(&mut full, 2500, i64::MAX);
        let t_full = full.target_us().unwrap();
        assert!(t_full > 100_000, "{t_full}");
        assert_eq!(full.drain_packets(), 0);
        // At weight 0 each spike is one packet: the target stays with the bulk (0..6 ms
        // of jitter above 20 ms).
        let mut tail0 = DelayManager::new(0.995, 0.999, cost).with_spike_tail_weight(0.0);
        spiky(&mut tail0, 2500, i64::MAX);
        assert_eq!(tail0.target_us(), Some(27_000));
        assert_eq!(tail0.drain_packets(), 5 * 49);
        // A step up of 150 ms (no drain) is followed within a dozen packets.
        let mut step = DelayManager::new(0.995, 0.999, cost).with_spike_tail_weight(0.0);
        spiky(&mut step, 2200, 2200);
        let mut rose_after = None;
        for k in 0..40i64 {
            let i = 2200 + k;
            step.update(170_000 + (i * 7919 % 7) * 1000);
            if rose_after.is_none() && step.target_us().unwrap() > 170_000 {
                rose_after = Some(k + 1);
            }
        }
        let k = rose_after.expect("the target follows a route change");
        assert!(k <= 25, "rose after {k} packets");
        // Five spikes' drains and at most the step's first ten packets.
        assert!(step.drain_packets() <= 5 * 49 + 10, "{}", step.drain_packets());
        tail0.reset();
        assert_eq!(tail0.drain_packets(), 0);
    }

    #[test]
    fn skew_ignores_delay_spikes_and_reordering() {
        // No skew; every 10 s a 400 ms spike draining over 1 s, packets of the spike
        // arriving in a burst; and every 7th packet 30 ms late (reordered).
        let mut sk = SkewEstimator::new();
        for i in 0..3000i64 {
            let ts = i * 20_000;
            let t = ts % 10_000_000;
            let spike = if t < 1_000_000 { 400_000 - t * 2 / 5 } else { 0 };
            let late = if i % 7 == 0 { 30_000 } else { 0 };
            sk.update(ts, 20_000 + spike + late + (i * 7919 % 5) * 1000);
        }
        assert!(sk.slope().abs() < 2e-5, "{}", sk.slope());
        // −300 ppm with the same spikes.
        let mut sk = SkewEstimator::new();
        for i in 0..3000i64 {
            let ts = i * 20_000;
            let t = ts % 10_000_000;
            let spike = if t < 1_000_000 { 400_000 - t * 2 / 5 } else { 0 };
            sk.update(ts, 20_000 + ts * 3 / 10_000 + spike);
        }
        assert!((sk.slope() - 3e-4).abs() < 2e-5, "{}", sk.slope());
        sk.reset();
        assert_eq!(sk.slope(), 0.0);
    }

    #[test]
    fn the_emodel_cost_waits_for_an_exponential_tail() {
        // Exponential extra delay with a 40 ms mean (deterministic quantiles): the optimum
        // of Id + Ie,eff is near 170 ms (worked out in the module docs' terms).
        let mut em = DelayManager::new(0.9999, 0.9999, TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 });
        for i in 0..20_000i64 {
            let u = (i * 7919 % 20_000) as f64 / 20_000.0 + 0.5 / 20_000.0;
            em.update((-(1.0 - u).ln() * 40_000.0) as i64);
        }
        let t = em.target_us().unwrap();
        assert!((150_000..=190_000).contains(&t), "{t}");
    }

    /// The target as a walk over every bucket finds it (the module's first form): `prev` is
    /// the target before the update that filled `dm`'s histogram.
    fn target_by_full_walk(dm: &DelayManager, prev: Option<i64>) -> Option<i64> {
        let hist: Vec<f64> = dm.hist.iter().map(|&h| f64::from(h)).collect();
        let mut below = 0.0;
        let low = hist.iter().position(|&h| {
            below += h;
            below > 1e-3 * dm.total
        });
        let min_us = dm.base_us + low.unwrap_or(0) as i64 * 1000;
        let limit = (1.0 - dm.quantile) * dm.total;
        let (mut above, mut q_found, mut best) = (0.0, false, (f64::INFINITY, 0usize));
        let current = prev.filter(|_| dm.rise_cost > 0.0);
        for (i, &h) in hist.iter().enumerate().rev() {
            q_found |= above + h > limit;
            if q_found {
                let offset = dm.base_us + (i as i64 + 1) * 1000;
                let delay_ms = ((offset - min_us) as f64 / 1000.0).max(0.0);
                let mut cost = dm.cost.cost(delay_ms, above / dm.total);
                if let Some(t) = current.filter(|&t| offset > t) {
                    cost += dm.rise_cost * ((offset - t) as f64 / 1000.0);
                }
                if cost <= best.0 {
                    best = (cost, i);
                }
            }
            above += h;
        }
        (dm.packets > 0).then_some(dm.base_us + (best.1 as i64 + 1) * 1000)
    }

    #[test]
    fn the_sparse_walk_picks_the_full_walks_target() {
        // Streams that spread over the histogram, with spikes, drains, rebases (a drifting
        // clock and a jump) and both costs, with and without a rise cost: after every
        // packet the target is the one the walk over every bucket finds.
        let costs = [
            TargetCost::EModel { bpl: 25.1, other_delay_ms: 40.0 },
            TargetCost::EModel { bpl: 4.3, other_delay_ms: 25.0 },
            TargetCost::Linear { loss_weight_ms: 2000.0 },
        ];
        let mut rng = rvoip_media_graph::SplitMix64::new(19);
        let mut checked = 0;
        for (k, cost) in costs.into_iter().enumerate() {
            for (rise, tail) in [(0.0, 1.0), (0.02, 0.0), (0.1, 0.5)] {
                let mut dm = DelayManager::new(0.995, 0.99 + 0.004 * k as f64, cost)
                    .with_rise_cost(rise)
                    .with_spike_tail_weight(tail);
                for i in 0..6000i64 {
                    let jitter = -(1.0 - rng.unit()).ln() * if i % 2000 < 1000 { 8_000.0 } else { 40_000.0 };
                    let spike = if i % 700 < 12 { 300_000 - (i % 700) * 20_000 } else { 0 };
                    let drift = i * 3; // 150 ppm of 20 ms packets
                    let jump = if i >= 4000 { 2_500_000 } else { 0 };
                    let prev = dm.target_us();
                    dm.update(50_000 + jitter as i64 + spike + drift + jump);
                    assert_eq!(dm.target_us(), target_by_full_walk(&dm, prev), "packet {i}, cost {k}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 9 * 6000);
    }
}
