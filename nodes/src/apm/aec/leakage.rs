//! Leakage estimation for the adaptive step size (after Valin 2007).

/// Leakage estimator (Valin 2007): covariance of error and echo-estimate power fluctuations
/// over the variance of the echo-estimate power.
#[derive(Clone, Debug)]
pub(super) struct Leak {
    eavg: Vec<f32>,
    yavg: Vec<f32>,
    pey: f32,
    pyy: f32,
    pub(super) leak: f32,
}

impl Leak {
    pub(super) fn new(bins: usize) -> Self {
        Leak { eavg: vec![0.0; bins], yavg: vec![0.0; bins], pey: 0.0, pyy: 0.0, leak: 0.5 }
    }
    /// `alpha` is scaled by the echo-estimate-to-error energy ratio (faster when the echo
    /// dominates) and capped at 0.005 per block.
    #[inline(always)]
    pub(super) fn update(&mut self, e: &[f32], y: &[f32], alpha: f32) -> f32 {
        let (see, syy_e): (f32, f32) = (e.iter().sum(), y.iter().sum());
        let alpha = (alpha * syy_e / (see + 1e-20)).min(0.005);
        let (mut sey, mut syy) = (0.0f32, 0.0f32);
        for f in 0..e.len() {
            let eh = e[f] - self.eavg[f];
            let yh = y[f] - self.yavg[f];
            sey += eh * yh;
            syy += yh * yh;
            self.eavg[f] = 0.99 * self.eavg[f] + 0.01 * e[f];
            self.yavg[f] = 0.99 * self.yavg[f] + 0.01 * y[f];
        }
        if alpha > 0.0 && sey.is_finite() && syy.is_finite() {
            self.pey = (1.0 - alpha) * self.pey + alpha * sey;
            self.pyy = (1.0 - alpha) * self.pyy + alpha * syy;
            self.pey = self.pey.max(0.005 * self.pyy);
            if self.pyy > 1e-20 {
                self.leak = (self.pey / self.pyy).clamp(0.0, 1.0);
            }
        }
        self.leak
    }
    pub(super) fn reset(&mut self) {
        self.eavg.fill(0.0);
        self.yavg.fill(0.0);
        self.pey = 0.0;
        self.pyy = 0.0;
        self.leak = 0.5;
    }
}
