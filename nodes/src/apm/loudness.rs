//! ITU-R BS.1770-4 loudness: K-weighting, momentary (400 ms) / short-term (3 s) loudness and
//! gated integrated loudness.
//!
//! The K-weighting filter is the two-stage biquad of BS.1770 (a +4 dB high shelf around 1.5 kHz
//! followed by a 38 Hz high-pass), derived for any sample rate from its analog prototype the
//! same way `pyloudnorm` does, so results agree with it at every rate, not only at 48 kHz.
//! Integrated loudness uses 400 ms blocks with 75 % overlap, the −70 LUFS absolute gate and
//! the −10 LU relative gate. The streaming [`LoudnessMeter`] keeps a fixed histogram of block
//! loudness (0.05 LU bins) so it never allocates after construction, whatever the duration.
//!
//! ```
//! use rvoip_media_nodes::apm::loudness::integrated_loudness;
//! // A 1 kHz sine at 0 dBFS peak reads about −3.0 LUFS.
//! let x: Vec<f32> = (0..48_000 * 3).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin()).collect();
//! let l = integrated_loudness(&x, 48_000).unwrap();
//! assert!((l + 3.01).abs() < 0.1, "{l}");
//! ```

/// Loudness of a mean-square value `z` of the K-weighted signal: `−0.691 + 10·log10(z)`.
pub fn loudness_of_power(z: f64) -> f64 {
    -0.691 + 10.0 * z.max(1e-30).log10()
}

/// Direct-form-II-transposed biquad in f64 (K-weighting needs the precision at low cutoffs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    s: [f64; 2],
}

impl Biquad {
    /// A biquad from normalised coefficients (`a0 == 1`).
    pub fn new(b: [f64; 3], a: [f64; 2]) -> Self {
        Biquad { b, a, s: [0.0; 2] }
    }

    /// Filters one sample.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.s[0];
        self.s[0] = self.b[1] * x - self.a[0] * y + self.s[1];
        self.s[1] = self.b[2] * x - self.a[1] * y;
        y
    }

    /// Clears the state; also used when the state became non-finite.
    pub fn reset(&mut self) {
        self.s = [0.0; 2];
    }

    /// Whether the state is finite.
    pub fn is_finite(&self) -> bool {
        self.s[0].is_finite() && self.s[1].is_finite()
    }
}

/// The BS.1770 K-weighting pre-filter (shelf + high-pass) at a given rate.
#[derive(Clone, Copy, Debug)]
pub struct KWeighting {
    shelf: Biquad,
    hp: Biquad,
}

impl KWeighting {
    /// K-weighting for `rate` Hz.
    pub fn new(rate: u32) -> Self {
        let fs = f64::from(rate.max(1000));
        // Stage 1: high shelf (G = +4 dB, Q = 1/√2, fc = 1500 Hz); at 48 kHz these reproduce the
        // coefficients tabulated in BS.1770-4 to five decimals.
        let (g, q, fc) = (4.0, std::f64::consts::FRAC_1_SQRT_2, 1_500.0);
        let a = 10f64.powf(g / 40.0);
        let w0 = 2.0 * std::f64::consts::PI * fc / fs;
        let (c, al) = (w0.cos(), w0.sin() / (2.0 * q));
        let sa = a.sqrt();
        let b0 = a * ((a + 1.0) + (a - 1.0) * c + 2.0 * sa * al);
        let b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * c);
        let b2 = a * ((a + 1.0) + (a - 1.0) * c - 2.0 * sa * al);
        let a0 = (a + 1.0) - (a - 1.0) * c + 2.0 * sa * al;
        let a1 = 2.0 * ((a - 1.0) - (a + 1.0) * c);
        let a2 = (a + 1.0) - (a - 1.0) * c - 2.0 * sa * al;
        let shelf = Biquad::new([b0 / a0, b1 / a0, b2 / a0], [a1 / a0, a2 / a0]);
        // Stage 2: high-pass (Q = 0.5, fc = 38 Hz).
        let (q, fc) = (0.5, 38.0);
        let w0 = 2.0 * std::f64::consts::PI * fc / fs;
        let (c, al) = (w0.cos(), w0.sin() / (2.0 * q));
        let a0 = 1.0 + al;
        let hp = Biquad::new(
            [(1.0 + c) / 2.0 / a0, -(1.0 + c) / a0, (1.0 + c) / 2.0 / a0],
            [-2.0 * c / a0, (1.0 - al) / a0],
        );
        KWeighting { shelf, hp }
    }

    /// Filters one sample.
    #[inline]
    pub fn tick(&mut self, x: f32) -> f64 {
        self.hp.tick(self.shelf.tick(f64::from(x)))
    }

    /// Sum of squares of the K-weighted `x` (state carried across calls). A non-finite state
    /// is cleared and the block counts as silence.
    pub fn block_energy(&mut self, x: &[f32]) -> f64 {
        let mut e = 0.0;
        for &v in x {
            let y = self.tick(if v.is_finite() { v } else { 0.0 });
            e += y * y;
        }
        if !e.is_finite() || !self.shelf.is_finite() || !self.hp.is_finite() {
            self.reset();
            return 0.0;
        }
        e
    }

    /// Clears the filter state.
    pub fn reset(&mut self) {
        self.shelf.reset();
        self.hp.reset();
    }
}

const HIST_MIN: f64 = -70.0;
const HIST_STEP: f64 = 0.05;
const HIST_BINS: usize = 1600; // -70 .. +10 LUFS

/// Streaming BS.1770 meter of one mono signal: feed any block lengths, read momentary,
/// short-term and integrated loudness at any time. No allocation after construction.
#[derive(Clone, Debug)]
pub struct LoudnessMeter {
    k: KWeighting,
    sub_len: usize,
    sub_fill: usize,
    sub_acc: f64,
    /// Energies of the last 30 sub-blocks (100 ms each), newest at `sub_pos - 1`.
    subs: [f64; 30],
    sub_pos: usize,
    subs_seen: u64,
    hist_count: Vec<u32>,
    hist_energy: Vec<f64>,
}

impl LoudnessMeter {
    /// A meter for `rate` Hz.
    pub fn new(rate: u32) -> Self {
        LoudnessMeter {
            k: KWeighting::new(rate),
            sub_len: (rate as usize / 10).max(1),
            sub_fill: 0,
            sub_acc: 0.0,
            subs: [0.0; 30],
            sub_pos: 0,
            subs_seen: 0,
            hist_count: vec![0; HIST_BINS],
            hist_energy: vec![0.0; HIST_BINS],
        }
    }

    /// Feeds samples.
    pub fn push(&mut self, x: &[f32]) {
        for &v in x {
            let y = self.k.tick(if v.is_finite() { v } else { 0.0 });
            self.sub_acc += y * y;
            self.sub_fill += 1;
            if self.sub_fill == self.sub_len {
                if !self.sub_acc.is_finite() {
                    self.sub_acc = 0.0;
                    self.k.reset();
                }
                self.subs[self.sub_pos] = self.sub_acc;
                self.sub_pos = (self.sub_pos + 1) % self.subs.len();
                self.subs_seen += 1;
                self.sub_acc = 0.0;
                self.sub_fill = 0;
                if self.subs_seen >= 4 {
                    let z = self.window_power(4);
                    let l = loudness_of_power(z);
                    if l > HIST_MIN {
                        let i = (((l - HIST_MIN) / HIST_STEP) as usize).min(HIST_BINS - 1);
                        self.hist_count[i] = self.hist_count[i].saturating_add(1);
                        self.hist_energy[i] += z;
                    }
                }
            }
        }
    }

    fn window_power(&self, n_subs: usize) -> f64 {
        let n = n_subs.min(self.subs_seen as usize).max(1);
        let mut e = 0.0;
        for j in 0..n {
            e += self.subs[(self.sub_pos + self.subs.len() - 1 - j) % self.subs.len()];
        }
        e / (n_subs as f64 * self.sub_len as f64)
    }

    /// Momentary loudness (last 400 ms), LUFS.
    pub fn momentary(&self) -> f64 {
        loudness_of_power(self.window_power(4))
    }

    /// Short-term loudness (last 3 s), LUFS.
    pub fn short_term(&self) -> f64 {
        loudness_of_power(self.window_power(30))
    }

    /// Gated integrated loudness since construction or [`LoudnessMeter::reset`], or `None`
    /// when no block passed the absolute gate.
    pub fn integrated(&self) -> Option<f64> {
        let (mut n, mut e) = (0u64, 0.0);
        for (c, s) in self.hist_count.iter().zip(&self.hist_energy) {
            n += u64::from(*c);
            e += s;
        }
        if n == 0 {
            return None;
        }
        let rel = loudness_of_power(e / n as f64) - 10.0;
        let (mut n2, mut e2) = (0u64, 0.0);
        for (i, (c, s)) in self.hist_count.iter().zip(&self.hist_energy).enumerate() {
            if *c == 0 {
                continue;
            }
            // A bin straddling the gate is split by its mean loudness.
            let mean_l = loudness_of_power(s / f64::from(*c));
            let upper = HIST_MIN + (i + 1) as f64 * HIST_STEP;
            if upper > rel && mean_l > rel {
                n2 += u64::from(*c);
                e2 += s;
            }
        }
        (n2 > 0).then(|| loudness_of_power(e2 / n2 as f64))
    }

    /// Clears everything.
    pub fn reset(&mut self) {
        self.k.reset();
        self.sub_fill = 0;
        self.sub_acc = 0.0;
        self.subs = [0.0; 30];
        self.sub_pos = 0;
        self.subs_seen = 0;
        self.hist_count.fill(0);
        self.hist_energy.fill(0.0);
    }
}

/// Integrated loudness of a whole mono signal, exactly as BS.1770-4 / `pyloudnorm` compute it
/// (block grid anchored at the first sample). `None` for silence or signals shorter than a
/// block. Allocates; for offline use.
pub fn integrated_loudness(x: &[f32], rate: u32) -> Option<f64> {
    let mut k = KWeighting::new(rate);
    let y: Vec<f64> = x.iter().map(|&v| k.tick(if v.is_finite() { v } else { 0.0 })).collect();
    let fs = f64::from(rate);
    let tg = 0.4;
    let dur = x.len() as f64 / fs;
    if dur < tg {
        return None;
    }
    let nblocks = (((dur - tg) / (tg * 0.25)).round_ties_even_compat() as usize) + 1;
    let mut z = Vec::with_capacity(nblocks);
    for j in 0..nblocks {
        let l = (tg * (j as f64 * 0.25) * fs) as usize;
        let u = ((tg * (j as f64 * 0.25 + 1.0) * fs) as usize).min(y.len());
        let e: f64 = y[l.min(u)..u].iter().map(|v| v * v).sum();
        z.push(e / (tg * fs));
    }
    let abs: Vec<f64> = z.iter().copied().filter(|&p| loudness_of_power(p) >= -70.0).collect();
    if abs.is_empty() {
        return None;
    }
    let rel = loudness_of_power(abs.iter().sum::<f64>() / abs.len() as f64) - 10.0;
    let g: Vec<f64> = abs.into_iter().filter(|&p| loudness_of_power(p) > rel).collect();
    if g.is_empty() {
        return None;
    }
    Some(loudness_of_power(g.iter().sum::<f64>() / g.len() as f64))
}

trait RoundEven {
    fn round_ties_even_compat(self) -> f64;
}

impl RoundEven for f64 {
    fn round_ties_even_compat(self) -> f64 {
        let r = self.round();
        if (self - self.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
            r - self.signum()
        } else {
            r
        }
    }
}
