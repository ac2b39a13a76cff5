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

use crate::level::mean_square;

/// Seconds over which the buffered audio's minimum is taken.
const WINDOW_US: u64 = 10_000_000;
/// Seconds the quantum's level is learned for before a quiet one is looked for ...
const LEARN_US: u64 = 500_000;
/// ... and after which a quantum is skipped whatever its level.
const WAIT_US: u64 = 3_000_000;
/// A quantum this far below the learned level (10 dB), or under −50 dBFS, is quiet.
const QUIET_RATIO: f32 = 0.1;
const QUIET_FLOOR: f32 = 1e-5;

/// The trim's state (a few words, no allocation).
#[derive(Clone, Debug)]
pub(crate) struct LeadTrim {
    window: u32,
    learn: u32,
    wait: u32,
    /// Cycles left in this window, and whether less than two quanta were left buffered
    /// after a cycle in it.
    left: u32,
    thin: bool,
    /// Cycles since the window found a quantum to spare (0: none found).
    armed: u32,
    /// The mean square learned while armed.
    level: f32,
}

impl LeadTrim {
    /// A trim for a graph whose quantum is `quantum_us` long.
    pub(crate) fn new(quantum_us: u32) -> Self {
        let cycles = |us: u64| (us / u64::from(quantum_us.max(1))).max(1) as u32;
        LeadTrim {
            window: cycles(WINDOW_US),
            learn: cycles(LEARN_US),
            wait: cycles(WAIT_US),
            left: cycles(WINDOW_US),
            thin: false,
            armed: 0,
            level: 0.0,
        }
    }

    /// Forgets what was watched (the stream starts again).
    pub(crate) fn reset(&mut self) {
        (self.left, self.thin, self.armed, self.level) = (self.window, false, 0, 0.0);
    }

    /// A cycle left less than two quanta buffered (`thin`) or not. True when the caller
    /// is to ask [`LeadTrim::skip`] (a window ended, or a quantum is to be skipped): the
    /// common cycle is these few instructions.
    #[inline]
    pub(crate) fn watch(&mut self, thin: bool) -> bool {
        self.thin |= thin;
        self.left -= 1;
        self.left == 0 || self.armed != 0
    }

    /// After [`LeadTrim::watch`] said so: the cycle played `out` with `spare` samples still
    /// buffered behind it (a quantum is `quantum` samples). True when `out` is to be
    /// skipped: the caller plays the next quantum in its place (there is one: `spare` ≥
    /// `quantum`).
    pub(crate) fn skip(&mut self, out: &[f32], spare: usize, quantum: usize) -> bool {
        if self.left == 0 {
            if !self.thin && self.armed == 0 {
                (self.armed, self.level) = (1, 0.0);
            }
            (self.left, self.thin) = (self.window, false);
        }
        if self.armed == 0 {
            return false;
        }
        let ms = mean_square(out);
        let n = self.armed;
        self.armed += 1;
        if n <= self.learn {
            self.level += (ms - self.level) / n as f32;
            return false;
        }
        let quiet = ms < QUIET_FLOOR || ms < QUIET_RATIO * self.level || n > self.learn + self.wait;
        if !quiet || spare < quantum {
            return false;
        }
        self.armed = 0;
        // The window starts again from the trimmed lead.
        (self.left, self.thin) = (self.window, false);
        true
    }
}
