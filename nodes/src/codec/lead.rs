//! [`LeadTrim`]: a plain decoder's lead kept from growing. A [`DecodeNode`](super::DecodeNode)
//! without a jitter buffer plays packets as they come; a packet later than the audio buffered
//! ahead of it is concealed and then taken, and the stream plays a quantum later from then
//! on. Each late spell (a sender's clock slower than ours, a scheduler's hiccup) adds a
//! quantum that nothing gives back, and a sender whose clock is faster than ours piles its
//! packets up ahead of the playout: over a long call the delay grows until the decoder's
//! memory is full and packets are dropped. The trim watches the audio left buffered after
//! each cycle; when it has not gone under two quanta for a whole window, one quantum is
//! more than the stream needed all that time, and the next quiet quantum (or, failing one, a
//! quantum after a few seconds) is skipped.
//!
//! The node keeps the per-cycle part (a countdown and a flag) in its hot fields and calls
//! [`LeadTrim::due`] only when the countdown ends: at a window's end, and every cycle while
//! a quantum is to be skipped.

use crate::level::mean_square;

/// Seconds over which the buffered audio is watched.
const WINDOW_US: u64 = 10_000_000;
/// Seconds the quantum's level is learned for before a quiet one is looked for ...
const LEARN_US: u64 = 500_000;
/// ... and after which a quantum is skipped whatever its level.
const WAIT_US: u64 = 3_000_000;
/// A quantum this far below the learned level (10 dB), or under −50 dBFS, is quiet.
const QUIET_RATIO: f32 = 0.1;
const QUIET_FLOOR: f32 = 1e-5;

/// The trim's state between its due cycles (a few words, no allocation).
#[derive(Clone, Debug)]
pub(crate) struct LeadTrim {
    window: u32,
    learn: u32,
    wait: u32,
    /// Cycles since a window found a quantum to spare (0: none found).
    armed: u32,
    /// The mean square learned while armed.
    level: f32,
    /// Samples per channel skipped (the node counts them; `removed_samples`).
    pub(crate) removed: u64,
}

impl LeadTrim {
    /// A trim for a graph whose quantum is `quantum_us` long.
    pub(crate) fn new(quantum_us: u32) -> Self {
        let cycles = |us: u64| (us / u64::from(quantum_us.max(1))).max(1) as u32;
        LeadTrim {
            window: cycles(WINDOW_US),
            learn: cycles(LEARN_US),
            wait: cycles(WAIT_US),
            armed: 0,
            level: 0.0,
            removed: 0,
        }
    }

    /// Cycles in a window: the node's countdown after a reset.
    pub(crate) fn window(&self) -> u32 {
        self.window
    }

    /// Forgets what was watched (the stream starts again).
    pub(crate) fn reset(&mut self) {
        (self.armed, self.level, self.removed) = (0, 0.0, 0);
    }

    /// The node's countdown ended. `thin`: less than two quanta were left buffered after a
    /// cycle since the last due cycle; the cycle played `out` with `spare` samples still
    /// buffered behind it (a quantum is `quantum` samples). Returns whether `out` is to be
    /// skipped (the caller plays the next quantum in its place: there is one, `spare` ≥
    /// `quantum`) and the next countdown (a window, or 1 while a quantum is to be skipped;
    /// a quantum to spare that is gone before a quiet one came waits for the next window).
    pub(crate) fn due(&mut self, thin: bool, out: &[f32], spare: usize, quantum: usize) -> (bool, u32) {
        if self.armed == 0 {
            // A window ended: a quantum to spare all along, or watch another window.
            if thin {
                return (false, self.window);
            }
            (self.armed, self.level) = (1, 0.0);
        }
        if spare < quantum {
            // The quantum to spare is gone (a late spell took it): the next window decides.
            self.armed = 0;
            return (false, self.window);
        }
        let ms = mean_square(out);
        let n = self.armed;
        self.armed += 1;
        if n <= self.learn {
            self.level += (ms - self.level) / n as f32;
            return (false, 1);
        }
        let quiet = ms < QUIET_FLOOR || ms < QUIET_RATIO * self.level || n > self.learn + self.wait;
        if !quiet {
            return (false, 1);
        }
        // Skipped; the next window starts from the trimmed lead.
        self.armed = 0;
        (true, self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::LeadTrim;

    const Q: usize = 80;

    /// A window with two quanta to spare arms the trim; after half a second of learning the
    /// level, the first quantum 10 dB under it is skipped and a new window starts.
    #[test]
    fn a_quiet_quantum_after_the_learning_is_skipped() {
        let mut t = LeadTrim::new(10_000);
        let (loud, quiet) = ([0.3f32; Q], [0.03f32; Q]);
        assert_eq!(t.due(false, &loud, 2 * Q, Q), (false, 1));
        for _ in 0..50 {
            assert_eq!(t.due(false, &loud, 2 * Q, Q), (false, 1));
        }
        assert_eq!(t.due(false, &quiet, 2 * Q, Q), (true, t.window()));
        // A window in which the lead went under two quanta does not arm it.
        assert_eq!(t.due(true, &quiet, 2 * Q, Q), (false, t.window()));
    }

    /// A quantum to spare that a late spell took before a quiet quantum came is not skipped
    /// later: the trim waits for a new window to find one again.
    #[test]
    fn a_spare_quantum_that_is_gone_is_not_skipped() {
        let mut t = LeadTrim::new(10_000);
        let quiet = [0.0f32; Q];
        assert_eq!(t.due(false, &[0.3; Q], 2 * Q, Q), (false, 1));
        assert_eq!(t.due(false, &quiet, 0, Q), (false, t.window()));
        assert_eq!(t.due(true, &quiet, Q, Q), (false, t.window()));
    }
}
