//! The delay manager: the playout offset the buffer aims for, from a quantile of the
//! packets' relative transit delays with exponential forgetting.
//!
//! Each packet's *transit offset* is `d = arrival − timestamp` (both in µs, the timestamp
//! converted from the RTP clock); a packet is on time when the playout offset `O` (the
//! time a timestamp is played minus that timestamp) is at least its `d`. The manager keeps
//! a histogram of `d` in 1 ms buckets relative to a base that follows the stream, every
//! packet's weight decaying by the forgetting factor per later packet.
//!
//! The target offset `O*` minimises `O + λ·P(d > O)`: each millisecond of delay against
//! the fraction of packets that would come too late, weighted by `λ` (the *loss weight*,
//! ms of delay worth losing every packet), and never exceeds the `quantile` of the
//! distribution. For a long exponential tail (heavy queueing jitter) the optimum sits far
//! out in the tail; for rare long spikes (a route change, a stalled link, whose packets
//! then arrive in a burst) waiting costs more than concealing the spike, and the target
//! stays with the bulk of the packets. A burst of late packets moves the target up within
//! a few packets (each carries `1 − forget` of the weight), while a return to calm brings
//! it down only once their weight has decayed (hundreds of packets): it rises fast and
//! decays slowly. A sender clock off by a few hundred ppm makes `d` drift slowly, and the
//! histogram follows it through the same forgetting.

/// Buckets of the histogram (1 ms each).
const BUCKETS: usize = 2048;
/// Where the base puts the first packet's offset (ms from the histogram's low end).
const CENTRE: i64 = 400;

/// The target-offset estimator (see the [module docs](self)). No allocation after
/// construction.
///
/// ```
/// use rvoip_media_nodes::jitter::DelayManager;
///
/// let mut dm = DelayManager::new(0.95, 0.99, 10_000.0);
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
    loss_weight_ms: f64,
    hist: Box<[f64]>,
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
}

impl DelayManager {
    /// A manager whose target is at most the `quantile` (0.5..1) of transit offsets,
    /// with the loss weight `loss_weight_ms` (ms of delay worth losing every packet; see
    /// the [module docs](self)), forgetting by `forget` (0.9..1) per packet. Out-of-range
    /// values are clamped.
    pub fn new(quantile: f64, forget: f64, loss_weight_ms: f64) -> Self {
        DelayManager {
            quantile: if quantile.is_finite() { quantile.clamp(0.5, 0.9999) } else { 0.95 },
            forget: if forget.is_finite() { forget.clamp(0.9, 0.99999) } else { 0.995 },
            loss_weight_ms: if loss_weight_ms.is_finite() { loss_weight_ms.clamp(0.0, 1e9) } else { 1e9 },
            target: None,
            hist: vec![0.0; BUCKETS].into_boxed_slice(),
            inc: 1.0,
            total: 0.0,
            base_us: 0,
            packets: 0,
            min_us: 0,
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.hist.fill(0.0);
        self.inc = 1.0;
        self.total = 0.0;
        self.packets = 0;
        self.target = None;
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
        self.min_us = self.min_us.min(d_us);
        let mut b = (d_us - self.base_us).div_euclid(1000);
        if !(0..BUCKETS as i64).contains(&b) {
            // The stream's offsets moved out of range (a long drift, a timestamp jump that
            // was not reset): move the base so the new offset sits at the centre.
            self.rebase(b - CENTRE);
            b = CENTRE;
        }
        self.hist[b as usize] += self.inc;
        self.total += self.inc;
        self.inc /= self.forget;
        if self.inc > 1e200 {
            let s = 1.0 / self.inc;
            self.hist.iter_mut().for_each(|h| *h *= s);
            self.total *= s;
            self.inc = 1.0;
        }
        self.target = self.compute_target();
    }

    /// Shifts the histogram's base by `by` buckets (mass that falls off the ends goes to
    /// the end buckets).
    fn rebase(&mut self, by: i64) {
        let n = BUCKETS as i64;
        if by > 0 {
            let k = by.min(n) as usize;
            let spill: f64 = self.hist[..k].iter().sum();
            self.hist.copy_within(k.., 0);
            self.hist[BUCKETS - k..].fill(0.0);
            self.hist[0] += spill;
        } else if by < 0 {
            let k = (-by).min(n) as usize;
            let spill: f64 = self.hist[BUCKETS - k..].iter().sum();
            self.hist.copy_within(..BUCKETS - k, k);
            self.hist[..k].fill(0.0);
            self.hist[BUCKETS - 1] += spill;
        }
        self.base_us += by * 1000;
    }

    /// The target playout offset (µs, on the same scale as the offsets given to
    /// [`DelayManager::update`]): the upper edge of the bucket minimising delay plus
    /// weighted lateness, at most the quantile. `None` before any packet.
    pub fn target_us(&self) -> Option<i64> {
        self.target
    }

    fn compute_target(&self) -> Option<i64> {
        if self.packets == 0 || self.total <= 0.0 {
            return None;
        }
        let limit = (1.0 - self.quantile) * self.total;
        // Walk down from the top: `above` is the mass strictly above bucket i.
        let mut above = 0.0;
        let mut q_bucket = None;
        let mut best = (f64::INFINITY, 0usize);
        for (i, h) in self.hist.iter().enumerate().rev() {
            if q_bucket.is_none() && above + h > limit {
                q_bucket = Some(i);
            }
            if q_bucket.is_some() {
                let cost = (i + 1) as f64 + self.loss_weight_ms * above / self.total;
                if cost <= best.0 {
                    best = (cost, i);
                }
            }
            above += h;
        }
        Some(self.base_us + (best.1 as i64 + 1) * 1000)
    }

    /// The smallest offset seen since the last reset (µs): the fastest packet's transit.
    pub fn min_us(&self) -> Option<i64> {
        (self.packets > 0).then_some(self.min_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_within_a_few_packets_and_decays_slowly() {
        let mut dm = DelayManager::new(0.95, 0.995, 1e9);
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
    fn offsets_far_outside_the_range_move_the_base() {
        let mut dm = DelayManager::new(0.9, 0.99, 1e9);
        dm.update(0);
        dm.update(10_000_000); // 10 s later: out of the 2 s range
        for _ in 0..500 {
            dm.update(10_000_000);
        }
        assert_eq!(dm.target_us(), Some(10_001_000));
        assert_eq!(dm.min_us(), Some(0));
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
        let mut cheap = DelayManager::new(0.995, 0.999, 2000.0);
        feed(&mut cheap);
        assert_eq!(cheap.target_us(), Some(21_000));
        let mut dear = DelayManager::new(0.995, 0.999, 8000.0);
        feed(&mut dear);
        let t = dear.target_us().unwrap();
        assert!(t > 380_000, "{t}");
    }
}
