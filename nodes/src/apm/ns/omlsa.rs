//! The optimally-modified log-spectral-amplitude gain (OM-LSA, Cohen & Berdugo 2001), shared by
//! the denoiser and the canceller's post-filter: the MMSE log-spectral-amplitude gain under
//! speech presence (Ephraim & Malah 1985), weighted by the bin's speech presence probability
//! against a floor, `G = G_H1^p · G_min^(1−p)`. Branch-free, so the per-bin loops vectorise.

use super::fastmath::{fast_e1, fast_exp, fast_ln};

/// The natural log of the MMSE-LSA gain and the speech presence probability of one bin, from
/// its a-priori SNR `xi`, its a-posteriori SNR `gamma` and the a-priori odds of speech absence
/// `absence_odds` (`q / (1 − q)`): with `v = γ·ξ / (1 + ξ)`, `G_H1 = ξ / (1 + ξ) · exp(E1(v) / 2)`
/// (not above 1) and `p = 1 / (1 + odds · (1 + ξ) · exp(−v))`.
#[inline(always)]
pub(crate) fn lsa_presence(xi: f32, gamma: f32, absence_odds: f32) -> (f32, f32) {
    let v = (gamma * xi / (1.0 + xi)).min(80.0);
    let ln_g_lsa = (fast_ln(xi / (1.0 + xi)) + 0.5 * fast_e1(v)).min(0.0);
    let p = 1.0 / (1.0 + absence_odds * (1.0 + xi) * fast_exp(-v));
    (ln_g_lsa, p)
}

/// `G_H1^p · G_min^(1−p)` from [`lsa_presence`]'s log gain and presence, in the log domain,
/// never below the floor `G_min` (its natural log `ln_gmin`) nor above 1.
#[inline(always)]
pub(crate) fn presence_weighted_gain(ln_g_lsa: f32, p: f32, ln_gmin: f32) -> f32 {
    fast_exp((p * ln_g_lsa + (1.0 - p) * ln_gmin).max(ln_gmin)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::{lsa_presence, presence_weighted_gain};
    use crate::apm::ns::fastmath::expint_e1;

    /// The LSA gain against the formula in f64 (within the fast functions' error), never under
    /// the Wiener gain; the presence falls with the absence odds; the weighted gain is G_H1 at
    /// p = 1 and the floor at p = 0.
    #[test]
    fn lsa_gain_and_presence_follow_the_formulas() {
        for &(xi, gamma) in &[(0.1f32, 0.5f32), (0.5, 2.0), (3.0, 4.0), (30.0, 40.0)] {
            let (ln_g, p) = lsa_presence(xi, gamma, 1.0);
            let v = f64::from(gamma * xi / (1.0 + xi));
            let want = (f64::from(xi) / (1.0 + f64::from(xi))).ln() + 0.5 * f64::from(expint_e1(v as f32));
            assert!((f64::from(ln_g) - want.min(0.0)).abs() < 1e-3, "xi {xi} gamma {gamma}: {ln_g} against {want}");
            assert!(ln_g >= (xi / (1.0 + xi)).ln() - 1e-5, "under the Wiener gain at xi {xi}");
            let p_want = 1.0 / (1.0 + (1.0 + f64::from(xi)) * (-v).exp());
            assert!((f64::from(p) - p_want).abs() < 1e-4, "presence {p} against {p_want}");
            let p_low_odds = lsa_presence(xi, gamma, 0.1).1;
            assert!(p_low_odds > p || p > 0.9999, "lower absence odds, higher presence: {p_low_odds} against {p}");
            let ln_floor = 0.1f32.ln();
            assert!((presence_weighted_gain(ln_g, 1.0, ln_floor) - ln_g.exp().max(0.1)).abs() < 1e-4);
            assert!((presence_weighted_gain(ln_g, 0.0, ln_floor) - 0.1).abs() < 1e-5);
        }
    }
}
