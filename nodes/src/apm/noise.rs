//! Minimum statistics of the smoothed periodogram: the search of minima-controlled recursive
//! averaging (MCRA, Cohen & Berdugo 2002). The noise suppressor bounds its speech-presence
//! noise tracker by this minimum (`ns::spp_noise`); the VAD runs a band-limited MCRA tracker
//! of its own with the same search (`vad/noise_floor.rs`), and the echo canceller a slower
//! minimum-statistics floor (`aec/noise_floor.rs`) that does not learn continuous near-end talk.
//!
//! The periodogram is smoothed over three bins and in time (`S`); its minimum is searched over
//! a window of two sub-windows of `subwin` frames each (about 0.75 s apiece): a running minimum
//! of the current sub-window is kept, and when a sub-window ends the window's minimum becomes
//! that of the sub-window just ended. The first 100 ms initialise `S` and the minimum with the
//! plain mean of the periodograms. All buffers are allocated in [`MinimumTracker::new`]; the
//! per-bin loops are branch-free and vectorise.
//!
//! ```
//! use rvoip_media_nodes::apm::noise::MinimumTracker;
//! let mut t = MinimumTracker::new(4, 10.0);
//! for _ in 0..20 {
//!     t.update(&[1.0, 2.0, 3.0, 4.0]);
//! }
//! t.update(&[100.0; 4]); // a loud frame lifts the smoothed periodogram, not its minimum
//! assert!(t.minimum().iter().all(|&m| m <= 4.0));
//! ```

/// Minimum search over the smoothed periodogram of `bins` frequency bins. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct MinimumTracker {
    /// Smoothed periodogram (during initialisation: the running mean).
    s: Vec<f32>,
    /// The window's minimum.
    smin: Vec<f32>,
    /// The current sub-window's minimum.
    stmp: Vec<f32>,
    frames: u32,
    subwin: u32,
    count: u32,
    /// Frames used for the initial estimate (simple mean).
    init_frames: u32,
}

/// Smoothing of the periodogram per frame.
const ALPHA_S: f32 = 0.8;

impl MinimumTracker {
    /// A tracker for `bins` bins and frames of `frame_ms` milliseconds. The minimum search
    /// spans about 1.5 s.
    pub fn new(bins: usize, frame_ms: f32) -> Self {
        let subwin = ((750.0 / frame_ms.max(1.0)) as u32).max(4);
        MinimumTracker {
            s: vec![0.0; bins],
            smin: vec![0.0; bins],
            stmp: vec![0.0; bins],
            frames: 0,
            subwin,
            count: 0,
            init_frames: (100.0 / frame_ms.max(1.0)) as u32,
        }
    }

    /// Updates the search with one power spectrum `p` (`bins` values, non-negative; a shorter
    /// spectrum updates only its bins).
    #[inline(always)]
    pub fn update(&mut self, p: &[f32]) {
        let n = self.s.len().min(p.len());
        self.frames = self.frames.saturating_add(1);
        let (p, s, smin, stmp) = (&p[..n], &mut self.s[..n], &mut self.smin[..n], &mut self.stmp[..n]);
        if self.frames <= self.init_frames.max(1) {
            let w = 1.0 / self.frames as f32;
            for (((&p, s), smin), stmp) in p.iter().zip(s.iter_mut()).zip(smin.iter_mut()).zip(stmp.iter_mut()) {
                *s += w * (p.max(1e-20) - *s);
                *smin = *s;
                *stmp = *s;
            }
            return;
        }
        if n == 0 {
            return;
        }
        // Frequency smoothing over three bins (the edges repeat their own bin), then time
        // smoothing; the ends are done apart so the loop below is branch-free.
        let smooth =
            |lo: f32, mid: f32, hi: f32, s: f32| ALPHA_S * s + (1.0 - ALPHA_S) * (0.25 * lo + 0.5 * mid + 0.25 * hi);
        let last = n - 1;
        let (first_new, last_new) =
            (smooth(p[0], p[0], p[1.min(last)], s[0]), smooth(p[last.saturating_sub(1)], p[last], p[last], s[last]));
        if n > 2 {
            for (k, s) in s[1..last].iter_mut().enumerate() {
                *s = smooth(p[k], p[k + 1], p[k + 2], *s);
            }
        }
        s[0] = first_new;
        s[last] = last_new;
        self.count += 1;
        if self.count >= self.subwin {
            // The sub-window ends: the window's minimum is the one just ended (with this frame).
            self.count = 0;
            for ((&s, smin), stmp) in s.iter().zip(smin.iter_mut()).zip(stmp.iter_mut()) {
                *smin = stmp.min(s);
                *stmp = s;
            }
        } else {
            for ((&s, smin), stmp) in s.iter().zip(smin.iter_mut()).zip(stmp.iter_mut()) {
                *smin = smin.min(s);
                *stmp = stmp.min(s);
            }
        }
    }

    /// The tracked minimum of the smoothed periodogram per bin (the minimum over the last one
    /// to two search sub-windows, about 0.75–1.5 s). It is a biased-low estimate of the mean
    /// noise power (Martin 2001), and an upper bound on it that speech cannot lift as long
    /// as speech pauses at least once per search window.
    pub fn minimum(&self) -> &[f32] {
        &self.smin
    }

    /// The smoothed periodogram per bin (over three bins and ~50 ms), whose minimum is tracked.
    pub fn smoothed(&self) -> &[f32] {
        &self.s
    }

    /// Scales the tracked minimum (the window's and the current sub-window's) by `factor`:
    /// how a caller that has recognised a step of the noise's level takes it at once instead
    /// of waiting for the search window to pass it. A non-finite or non-positive factor is
    /// ignored.
    pub fn scale(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            for v in self.smin.iter_mut().chain(self.stmp.iter_mut()) {
                *v *= factor;
            }
        }
    }

    /// Frames seen since construction or reset.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        for v in [&mut self.s, &mut self.smin, &mut self.stmp] {
            v.fill(0.0);
        }
        self.frames = 0;
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames until every bin's minimum exceeds `level` after the input steps to `to`.
    fn frames_to_rise(t: &mut MinimumTracker, to: f32, level: f32) -> usize {
        (1..1000)
            .find(|_| {
                t.update(&[to; 8]);
                t.minimum().iter().all(|&m| m > level)
            })
            .unwrap_or(1000)
    }

    #[test]
    fn the_minimum_falls_at_once_and_rises_after_one_to_two_sub_windows() {
        let mut t = MinimumTracker::new(8, 10.0);
        for _ in 0..200 {
            t.update(&[1.0; 8]);
        }
        assert!(t.minimum().iter().all(|&m| (m - 1.0).abs() < 1e-6));
        // A step down by 20 dB: the smoothed periodogram (0.8 per frame) is within 1 % of it
        // after 42 frames, and the minimum with it.
        for _ in 0..42 {
            t.update(&[0.01; 8]);
        }
        assert!(t.minimum().iter().all(|&m| m < 0.0102), "{:?}", t.minimum());
        // Back up: the minimum holds the low value for one to two 75-frame sub-windows.
        let n = frames_to_rise(&mut t, 1.0, 0.5);
        assert!((75..=150 + 5).contains(&n), "rose after {n} frames");
        assert_eq!(t.frames(), 200 + 42 + n as u32);
        t.reset();
        assert!(t.minimum().iter().all(|&m| m == 0.0) && t.frames() == 0);
    }

    #[test]
    fn the_edges_and_short_spectra_are_handled() {
        // One bin, two bins, and a spectrum shorter than the tracker.
        for bins in [1, 2, 5] {
            let mut t = MinimumTracker::new(bins, 10.0);
            for i in 0..300 {
                t.update(&[1.0 + (i % 3) as f32, 2.0][..bins.min(2)]);
            }
            assert!(
                t.minimum()[..bins.min(2)].iter().all(|&m| m.is_finite() && m > 0.5 && m < 3.0),
                "{:?}",
                t.minimum()
            );
        }
    }
}
