//! A progress bar on stderr for long file commands: only when stderr is a terminal, and only
//! once a run has lasted a second (short runs and pipes stay quiet).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Progress through the input audio. See the [module docs](self).
pub struct Progress {
    label: &'static str,
    total: u64,
    rate: u32,
    terminal: bool,
    start: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress through `total` samples at `rate` Hz (0 when unknown: a spinner).
    pub fn new(label: &'static str, total: u64, rate: u32) -> Self {
        Progress {
            label,
            total,
            rate: rate.max(1),
            terminal: std::io::stderr().is_terminal(),
            start: Instant::now(),
            bar: None,
        }
    }

    /// `done` samples of the input processed.
    pub fn set(&mut self, done: u64) {
        if !self.terminal {
            return;
        }
        if self.bar.is_none() {
            if self.start.elapsed() < Duration::from_secs(1) {
                return;
            }
            let secs = |n: u64| n / u64::from(self.rate);
            let bar = if self.total > 0 {
                let b = ProgressBar::new(secs(self.total));
                if let Ok(style) = ProgressStyle::with_template("{msg} [{wide_bar}] {pos}/{len} s of audio, ETA {eta}")
                {
                    b.set_style(style.progress_chars("=> "));
                }
                b
            } else {
                ProgressBar::new_spinner()
            };
            bar.set_message(self.label);
            self.bar = Some(bar);
        }
        if let Some(b) = &self.bar {
            b.set_position(done / u64::from(self.rate));
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
