//! The last stage before an output file: an optional soft look-ahead limiter, and a count of
//! the samples beyond full scale (which a 16-bit file clips).

use rvoip_media_nodes::apm::agc::Limiter;

/// Look-ahead of `--limit`, ms.
pub const LIMIT_LOOKAHEAD_MS: f32 = 5.0;
/// Ceiling of `--limit`, dBFS.
pub const LIMIT_CEILING_DBFS: f32 = -1.0;

/// Limits (with `--limit`) and counts clipping on one output stream, keeping it time-aligned:
/// the limiter's look-ahead delay is removed, so the output has as many samples as went in.
pub struct OutputStage {
    limiter: Option<Limiter>,
    /// Leading limiter output still to drop (its delay).
    skip: usize,
    clipped: u64,
    buf: Vec<f32>,
}

impl OutputStage {
    /// A stage at `rate`; `limit` switches the limiter on.
    pub fn new(rate: u32, limit: bool) -> Self {
        let limiter = limit.then(|| Limiter::new(rate, LIMIT_LOOKAHEAD_MS, LIMIT_CEILING_DBFS));
        let skip = limiter.as_ref().map_or(0, Limiter::latency);
        OutputStage { limiter, skip, clipped: 0, buf: Vec::new() }
    }

    fn count(&mut self, from: usize) {
        self.clipped += self.buf[from..].iter().filter(|v| v.abs() > 1.0).count() as u64;
    }

    /// Takes the next input block; returns the samples to write (fewer at first, while the
    /// limiter fills its look-ahead).
    pub fn process(&mut self, x: &[f32]) -> &[f32] {
        self.buf.clear();
        self.buf.extend_from_slice(x);
        let mut start = 0;
        if let Some(l) = &mut self.limiter {
            l.process(&mut self.buf);
            start = self.skip.min(self.buf.len());
            self.skip -= start;
        }
        self.count(start);
        &self.buf[start..]
    }

    /// Ends the stream: the samples still inside the limiter (none without it).
    pub fn finish(&mut self) -> &[f32] {
        self.buf.clear();
        if let Some(l) = &mut self.limiter {
            // Only what was delayed comes out: the look-ahead minus what was never filled.
            let pending = l.latency() - self.skip;
            self.buf.resize(l.latency(), 0.0);
            l.process(&mut self.buf);
            let start = self.buf.len() - pending;
            self.buf.drain(..start);
        }
        self.count(0);
        &self.buf
    }

    /// Samples written beyond full scale (|x| > 1): clipped in a 16-bit file.
    pub fn clipped(&self) -> u64 {
        self.clipped
    }
}

/// Says on stderr how many samples of `name` were clipped, if any.
pub fn report_clipping(name: &std::path::Path, clipped: u64, total: u64) {
    if clipped > 0 {
        eprintln!(
            "rvoip-media: {}: {clipped} of {total} samples ({:.3} %) beyond full scale, clipped; --limit avoids it",
            name.display(),
            100.0 * clipped as f64 / total.max(1) as f64
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_stage_is_time_aligned_and_stays_under_the_ceiling() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin() * if i > 500 { 3.0 } else { 0.25 }).collect();
        let mut st = OutputStage::new(8000, true);
        let mut y = Vec::new();
        for c in x.chunks(77) {
            y.extend_from_slice(st.process(c));
        }
        y.extend_from_slice(st.finish());
        assert_eq!(y.len(), x.len());
        // Quiet part: delayed exactly by the look-ahead, then undone.
        for i in 0..400 {
            assert!((y[i] - x[i]).abs() < 1e-6, "{i}: {} vs {}", y[i], x[i]);
        }
        let ceiling = 10f32.powf(LIMIT_CEILING_DBFS / 20.0);
        assert!(y.iter().all(|v| v.abs() <= ceiling + 1e-6));
        assert_eq!(st.clipped(), 0);

        let mut plain = OutputStage::new(8000, false);
        assert_eq!(plain.process(&x), &x[..]);
        assert!(plain.finish().is_empty());
        assert_eq!(plain.clipped(), x.iter().filter(|v| v.abs() > 1.0).count() as u64);
        // A stream shorter than the look-ahead.
        let mut st = OutputStage::new(8000, true);
        let head = st.process(&[0.5; 10]).len();
        assert_eq!(head + st.finish().len(), 10);
    }
}
