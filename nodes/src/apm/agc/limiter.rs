//! Look-ahead peak limiter: the gain needed by every sample is spread over the look-ahead
//! window (sliding minimum, then a moving average of the same length) so the gain is already
//! down when a peak arrives, with a smooth one-pole release afterwards. With zero look-ahead it
//! degenerates to a sample-exact clipper. Output magnitude never exceeds the ceiling.

/// Look-ahead peak limiter on one mono stream. No allocation after construction.
#[derive(Clone, Debug)]
pub struct Limiter {
    ceiling: f32,
    la: usize,
    delay: Vec<f32>,
    dpos: usize,
    // Monotonic deque of (index, need) for the sliding minimum, as a ring buffer.
    dq_idx: Vec<u64>,
    dq_val: Vec<f32>,
    dq_head: usize,
    dq_len: usize,
    // Moving average of the sliding minimum.
    avg_ring: Vec<f32>,
    avg_pos: usize,
    avg_sum: f64,
    /// Entries of `avg_ring` below 1 (when none, `avg_sum` is reset to exactly `w`, so
    /// rounding in the running sum cannot keep the block fast path away for good).
    avg_below: usize,
    n: u64,
    gain: f32,
    release: f32,
}

/// `i mod n` for `i < 2n` (ring indices advance by at most one slot): a compare instead of
/// an integer division in the per-sample path.
#[inline]
fn wrap(i: usize, n: usize) -> usize {
    if i >= n {
        i - n
    } else {
        i
    }
}

impl Limiter {
    /// A limiter at `rate` Hz with `lookahead_ms` (clamped to 0..=8 ms) and a ceiling in dBFS.
    pub fn new(rate: u32, lookahead_ms: f32, ceiling_dbfs: f32) -> Self {
        let la_ms = if lookahead_ms.is_finite() { lookahead_ms.clamp(0.0, 8.0) } else { 0.0 };
        let la = (la_ms * rate as f32 / 1000.0).round() as usize;
        let ceiling = 10f32.powf(ceiling_dbfs.clamp(-40.0, 0.0) / 20.0);
        let w = la + 1;
        Limiter {
            ceiling,
            la,
            delay: vec![0.0; la.max(1)],
            dpos: 0,
            dq_idx: vec![0; w],
            dq_val: vec![1.0; w],
            dq_head: 0,
            dq_len: 0,
            avg_ring: vec![1.0; w],
            avg_pos: 0,
            avg_sum: w as f64,
            avg_below: 0,
            n: 0,
            gain: 1.0,
            release: 1.0 - (-1.0 / (0.06 * rate.max(1) as f32)).exp(),
        }
    }

    /// Delay the limiter adds, in samples.
    pub fn latency(&self) -> usize {
        self.la
    }

    /// The linear ceiling.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }

    /// Current gain (1 = not limiting).
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Limits one sample, returning the sample from `latency()` samples ago.
    #[inline]
    pub fn tick(&mut self, x: f32) -> f32 {
        let x = if x.is_finite() { x } else { 0.0 };
        let a = x.abs();
        let need = if a > self.ceiling { self.ceiling / a } else { 1.0 };
        let w = self.la + 1;
        // Sliding minimum over the last w needs (monotonic deque). Entries that left the window
        // go first, so at most w - 1 remain and the new one always has a free slot.
        while self.dq_len > 0 && self.dq_idx[self.dq_head] + (w as u64) <= self.n {
            self.dq_head = wrap(self.dq_head + 1, w);
            self.dq_len -= 1;
        }
        while self.dq_len > 0 {
            let back = wrap(self.dq_head + self.dq_len - 1, w);
            if self.dq_val[back] >= need {
                self.dq_len -= 1;
            } else {
                break;
            }
        }
        let slot = wrap(self.dq_head + self.dq_len, w);
        self.dq_idx[slot] = self.n;
        self.dq_val[slot] = need;
        self.dq_len += 1;
        let m = self.dq_val[self.dq_head];
        self.n += 1;
        // Moving average of the minima.
        let old = self.avg_ring[self.avg_pos];
        self.avg_below = self.avg_below + usize::from(m < 1.0) - usize::from(old < 1.0);
        self.avg_sum = if self.avg_below == 0 { w as f64 } else { self.avg_sum + f64::from(m) - f64::from(old) };
        self.avg_ring[self.avg_pos] = m;
        self.avg_pos = wrap(self.avg_pos + 1, w);
        let avg = (self.avg_sum / w as f64) as f32;
        self.gain = if avg < self.gain { avg } else { self.gain + self.release * (avg - self.gain) };
        // Within 1e-4 (0.001 dB) of unity with nothing pending: snap to it, so the block
        // fast path resumes instead of waiting for the release to converge to 1e-6.
        if self.avg_below == 0 && 1.0 - self.gain < 1e-4 {
            self.gain = 1.0;
        }
        // Delay line.
        let out = self.delay[self.dpos];
        self.delay[self.dpos] = x;
        self.dpos = wrap(self.dpos + 1, self.delay.len());
        let y = if self.la == 0 { x * self.gain } else { out * self.gain };
        y.clamp(-self.ceiling, self.ceiling)
    }

    /// Limits a block in place. When the limiter is idle (no gain reduction pending in the
    /// look-ahead window) and the block stays below the ceiling, the block only passes the
    /// delay line — the same result as sample-by-sample processing, at a fraction of the cost.
    pub fn process(&mut self, x: &mut [f32]) {
        let w = self.la + 1;
        let idle = self.dq_len == 1 && self.dq_val[self.dq_head] == 1.0 && self.avg_below == 0;
        let settled = 1.0 - self.gain < 1e-6;
        if idle && settled && !x.is_empty() && x.iter().all(|v| v.abs() <= self.ceiling) {
            self.gain = 1.0;
            if self.la > 0 {
                for v in x.iter_mut() {
                    let out = self.delay[self.dpos];
                    self.delay[self.dpos] = *v;
                    self.dpos = wrap(self.dpos + 1, self.delay.len());
                    *v = out;
                }
            }
            self.n += x.len() as u64;
            self.dq_head = 0;
            self.dq_len = 1;
            self.dq_idx[0] = self.n - 1;
            self.dq_val[0] = 1.0;
            self.avg_pos = (self.avg_pos + x.len()) % w;
            return;
        }
        for v in x.iter_mut() {
            *v = self.tick(*v);
        }
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.delay.fill(0.0);
        self.dpos = 0;
        self.dq_head = 0;
        self.dq_len = 0;
        self.avg_ring.fill(1.0);
        self.avg_pos = 0;
        self.avg_sum = self.avg_ring.len() as f64;
        self.avg_below = 0;
        self.n = 0;
        self.gain = 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limiter against a direct evaluation of its definition (window minimum of the
    /// needed gains, their moving average, instant attack and exponential release), on a
    /// signal whose needed gain rises strictly for longer than the window — the case that
    /// fills the monotonic deque completely — and back to the idle block path afterwards.
    #[test]
    fn matches_a_direct_evaluation_when_the_deque_fills() {
        let (rate, la_ms) = (16_000u32, 8.0f32);
        let mut lim = Limiter::new(rate, la_ms, -6.0);
        let w = lim.latency() + 1;
        let c = lim.ceiling();
        // A 1 kHz-free "envelope": 1.0 decaying slowly to below the ceiling, so need rises
        // monotonically for ~600 samples, then noise-like alternating signs.
        let x: Vec<f32> = (0..12_000)
            .map(|n| {
                let s = if n % 2 == 0 { 1.0 } else { -1.0 };
                s * (-(n as f32) / 900.0).exp()
            })
            .collect();
        let need: Vec<f32> = x.iter().map(|v| if v.abs() > c { c / v.abs() } else { 1.0 }).collect();
        let mut m = Vec::new();
        let mut gain = 1.0f32;
        let mut ring = vec![1.0f32; w];
        let rel = 1.0 - (-1.0 / (0.06 * rate as f32)).exp();
        for n in 0..x.len() {
            let lo = (n + 1).saturating_sub(w);
            let mn = need[lo..=n].iter().cloned().fold(1.0f32, f32::min);
            m.push(mn);
            ring[n % w] = mn;
            let avg = ring.iter().map(|&v| f64::from(v)).sum::<f64>() as f32 / w as f32;
            gain = if avg < gain { avg } else { gain + rel * (avg - gain) };
            if ring.iter().all(|&v| v >= 1.0) && 1.0 - gain < 1e-4 {
                gain = 1.0;
            }
            let delayed = if n >= w - 1 { x[n + 1 - w] } else { 0.0 };
            let want = (delayed * gain).clamp(-c, c);
            let got = lim.tick(x[n]);
            assert!((got - want).abs() <= 1e-5, "sample {n}: {got} vs {want}");
        }
        // Long after the peak the limiter is exactly idle again: unity gain, and a quiet
        // block passes through the delay line unchanged.
        assert_eq!(lim.gain(), 1.0);
        let mut q = vec![0.25f32; 4 * w];
        lim.process(&mut q);
        assert!(q[w..].iter().all(|&v| v == 0.25));
    }
}
