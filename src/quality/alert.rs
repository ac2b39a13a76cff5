//! [`AlertState`]: quality alerts with hysteresis. A stream is *degraded* once its MOS has
//! stayed below a threshold for a hold time, and *recovered* once it has stayed above the
//! threshold plus a margin for the hold time; in between nothing changes, so a MOS hovering
//! around the threshold does not flap. An unknown MOS (too little data) changes nothing and
//! restarts the timing. Sans-clock: the caller passes the time.

/// Thresholds and hold time of [`AlertState`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertConfig {
    /// Degraded below this MOS (G.107 Annex B: 3.6 is "many users dissatisfied").
    pub threshold: f64,
    /// Recovered above `threshold + margin`.
    pub margin: f64,
    /// How long the MOS must stay beyond a bound before the state changes, ms.
    pub hold_ms: u64,
}

impl Default for AlertConfig {
    /// MOS 3.6, margin 0.2, held 3 s.
    fn default() -> Self {
        AlertConfig { threshold: 3.6, margin: 0.2, hold_ms: 3000 }
    }
}

/// The alert state of one stream.
///
/// ```
/// use rvoip_media_core::quality::alert::{AlertConfig, AlertState};
/// let mut a = AlertState::new(AlertConfig { threshold: 3.6, margin: 0.2, hold_ms: 2000 });
/// assert_eq!(a.update(0, Some(3.0)), None); // below, not for long enough yet
/// assert_eq!(a.update(2000, Some(3.1)), Some(true)); // below for 2 s: degraded
/// assert_eq!(a.update(3000, Some(3.7)), None); // above the threshold, not above 3.8
/// assert_eq!(a.update(4000, Some(3.9)), None); // above 3.8 since now
/// assert_eq!(a.update(6000, Some(4.0)), Some(false)); // held 2 s: recovered
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertState {
    cfg: AlertConfig,
    degraded: bool,
    /// Since when the MOS has been beyond the bound that would change the state, ms.
    beyond_since: Option<u64>,
}

impl AlertState {
    /// Not degraded, nothing seen.
    pub fn new(cfg: AlertConfig) -> Self {
        AlertState { cfg, degraded: false, beyond_since: None }
    }

    /// Whether the stream is degraded now.
    pub fn degraded(&self) -> bool {
        self.degraded
    }

    /// Takes the MOS at `now_ms` (`None`: unknown). Returns the new state when it changed:
    /// `Some(true)` degraded, `Some(false)` recovered.
    pub fn update(&mut self, now_ms: u64, mos: Option<f64>) -> Option<bool> {
        let Some(mos) = mos else {
            self.beyond_since = None;
            return None;
        };
        let beyond = if self.degraded { mos > self.cfg.threshold + self.cfg.margin } else { mos < self.cfg.threshold };
        if !beyond {
            self.beyond_since = None;
            return None;
        }
        let since = *self.beyond_since.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= self.cfg.hold_ms {
            self.degraded = !self.degraded;
            self.beyond_since = None;
            return Some(self.degraded);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hovering_around_the_threshold_does_not_flap() {
        let mut a = AlertState::new(AlertConfig::default());
        let mut changes = Vec::new();
        // 60 s sampled every 500 ms: MOS alternating 3.55 / 3.65 (around 3.6) never stays
        // below for 3 s, so no alert.
        for k in 0..120u64 {
            let mos = if k % 2 == 0 { 3.55 } else { 3.65 };
            if let Some(c) = a.update(k * 500, Some(mos)) {
                changes.push((k, c));
            }
        }
        assert!(changes.is_empty(), "{changes:?}");
        // Below for good: raised exactly after the hold (3 s after the first sample below).
        for k in 120..140u64 {
            if let Some(c) = a.update(k * 500, Some(3.2)) {
                changes.push((k, c));
            }
        }
        assert_eq!(changes, vec![(126, true)]);
        // 3.7 (above the threshold, below threshold + margin) for 10 s: still degraded.
        for k in 140..160u64 {
            assert_eq!(a.update(k * 500, Some(3.7)), None);
        }
        assert!(a.degraded());
        // Unknown in the middle restarts the hold.
        assert_eq!(a.update(80_000, Some(4.0)), None);
        assert_eq!(a.update(81_000, None), None);
        assert_eq!(a.update(83_500, Some(4.0)), None);
        assert_eq!(a.update(86_000, Some(4.0)), None);
        assert_eq!(a.update(86_500, Some(4.0)), Some(false));
    }
}
