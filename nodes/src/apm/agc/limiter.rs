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
    n: u64,
    gain: f32,
    release: f32,
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
        // Sliding minimum over the last w needs.
        while self.dq_len > 0 {
            let back = (self.dq_head + self.dq_len - 1) % w;
            if self.dq_val[back] >= need {
                self.dq_len -= 1;
            } else {
                break;
            }
        }
        let slot = (self.dq_head + self.dq_len) % w;
        self.dq_idx[slot] = self.n;
        self.dq_val[slot] = need;
        self.dq_len += 1;
        while self.dq_len > 0 && self.dq_idx[self.dq_head] + (w as u64) <= self.n {
            self.dq_head = (self.dq_head + 1) % w;
            self.dq_len -= 1;
        }
        let m = self.dq_val[self.dq_head];
        self.n += 1;
        // Moving average of the minima.
        self.avg_sum += f64::from(m) - f64::from(self.avg_ring[self.avg_pos]);
        self.avg_ring[self.avg_pos] = m;
        self.avg_pos = (self.avg_pos + 1) % w;
        let avg = (self.avg_sum / w as f64) as f32;
        self.gain = if avg < self.gain { avg } else { self.gain + self.release * (avg - self.gain) };
        // Delay line.
        let out = self.delay[self.dpos];
        self.delay[self.dpos] = x;
        self.dpos = (self.dpos + 1) % self.delay.len();
        let y = if self.la == 0 { x * self.gain } else { out * self.gain };
        y.clamp(-self.ceiling, self.ceiling)
    }

    /// Limits a block in place. When the limiter is idle (no gain reduction pending in the
    /// look-ahead window) and the block stays below the ceiling, the block only passes the
    /// delay line — the same result as sample-by-sample processing, at a fraction of the cost.
    pub fn process(&mut self, x: &mut [f32]) {
        let w = self.la + 1;
        let idle = self.dq_len == 1 && self.dq_val[self.dq_head] == 1.0 && self.avg_sum == w as f64;
        let settled = 1.0 - self.gain < 1e-6;
        if idle && settled && !x.is_empty() && x.iter().all(|v| v.abs() <= self.ceiling) {
            self.gain = 1.0;
            if self.la > 0 {
                for v in x.iter_mut() {
                    let out = self.delay[self.dpos];
                    self.delay[self.dpos] = *v;
                    self.dpos = (self.dpos + 1) % self.delay.len();
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
        self.n = 0;
        self.gain = 1.0;
    }
}
