//! Three-band Linkwitz–Riley (LR4) crossover: each split is two cascaded Butterworth biquads,
//! and the low band passes through the upper split's all-pass so the three bands sum to an
//! all-pass of flat magnitude response.

use crate::apm::loudness::Biquad;

fn butter(rate: u32, fc: f32, high: bool) -> Biquad {
    let w0 = 2.0 * std::f64::consts::PI * f64::from(fc) / f64::from(rate);
    let (c, s) = (w0.cos(), w0.sin());
    let al = s / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
    let a0 = 1.0 + al;
    let (b0, b1) = if high { ((1.0 + c) / 2.0, -(1.0 + c)) } else { ((1.0 - c) / 2.0, 1.0 - c) };
    Biquad::new([b0 / a0, b1 / a0, b0 / a0], [-2.0 * c / a0, (1.0 - al) / a0])
}

#[derive(Clone, Copy, Debug)]
struct Lr4 {
    lp: [Biquad; 2],
    hp: [Biquad; 2],
}

impl Lr4 {
    fn new(rate: u32, fc: f32) -> Self {
        Lr4 { lp: [butter(rate, fc, false); 2], hp: [butter(rate, fc, true); 2] }
    }
    #[inline]
    fn split(&mut self, x: f64) -> (f64, f64) {
        let l0 = self.lp[0].tick(x);
        let l = self.lp[1].tick(l0);
        let h0 = self.hp[0].tick(x);
        let h = self.hp[1].tick(h0);
        (l, h)
    }
    fn reset(&mut self) {
        for b in self.lp.iter_mut().chain(self.hp.iter_mut()) {
            b.reset();
        }
    }
}

/// LR4 three-band splitter at `f1 < f2`.
#[derive(Clone, Copy, Debug)]
pub struct Crossover3 {
    s1: Lr4,
    s2: Lr4,
    ap: Lr4,
}

impl Crossover3 {
    /// A splitter at `rate` Hz with crossovers `f1` and `f2` (clamped below Nyquist).
    pub fn new(rate: u32, f1: f32, f2: f32) -> Self {
        let ny = 0.45 * rate as f32;
        let f2 = f2.clamp(100.0, ny);
        let f1 = f1.clamp(20.0, f2 * 0.5);
        Crossover3 { s1: Lr4::new(rate, f1), s2: Lr4::new(rate, f2), ap: Lr4::new(rate, f2) }
    }

    /// Splits one sample into (low, mid, high).
    #[inline]
    pub fn split(&mut self, x: f32) -> [f32; 3] {
        let (low, rest) = self.s1.split(f64::from(x));
        let (mid, high) = self.s2.split(rest);
        let (a, b) = self.ap.split(low);
        let out = [(a + b) as f32, mid as f32, high as f32];
        if out.iter().all(|v| v.is_finite()) {
            out
        } else {
            self.reset();
            [0.0; 3]
        }
    }

    /// Clears the filter state.
    pub fn reset(&mut self) {
        self.s1.reset();
        self.s2.reset();
        self.ap.reset();
    }
}
