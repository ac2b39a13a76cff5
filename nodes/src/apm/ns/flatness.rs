//! Spectral flatness of the noise estimate, and the extra gain-floor depth it allows.
//!
//! A flat (white-like) noise spreads its power evenly up to the top of the band, where speech
//! is weak, so its residual under the level's floor is heard over most of the spectrum; a
//! deeper floor there removes that residual and costs the speech little, because the
//! masking-based per-bin floor still keeps the bins that speech dominates. Coloured noise
//! (brown, speech-shaped babble) sits under the speech's own strong low-frequency harmonics,
//! where a deeper floor thins the speech out, so it keeps the level's floor.

use super::fastmath::{fast_exp, fast_ln};
use super::ln_amplitude;

/// Band over which the flatness is measured, Hz (the upper edge is clamped to the rate's
/// Nyquist bin).
const BAND_LO_HZ: f32 = 100.0;
const BAND_HI_HZ: f32 = 7000.0;
/// Smoothing of the flatness per 10 ms frame (~1 s).
const ALPHA: f32 = 0.99;
/// Flatness (geometric over arithmetic mean, 0–1) at which the extra depth starts, and at
/// which it is complete: pink noise measures about 0.4–0.5, white about 0.9, brown
/// noise about 0.05 and babble below 0.01.
const FROM: f32 = 0.2;
const TO: f32 = 0.6;
/// Extra floor depth for completely flat noise, dB.
const EXTRA_DB: f32 = 8.0;

/// Tracks the spectral flatness of the noise estimate over ~1 s.
#[derive(Clone, Debug)]
pub(crate) struct NoiseFlatness {
    lo: usize,
    hi: usize,
    avg: f32,
    /// Scratch: the band's logarithms.
    ln: Vec<f32>,
}

impl NoiseFlatness {
    /// For a spectrum of `bins` bins at `sample_rate` Hz (`bins ≥ 2`).
    pub(crate) fn new(bins: usize, sample_rate: u32) -> Self {
        let hz_per_bin = sample_rate as f32 / (2 * (bins - 1)) as f32;
        let hi = ((BAND_HI_HZ / hz_per_bin) as usize).min(bins - 1);
        let lo = ((BAND_LO_HZ / hz_per_bin) as usize).clamp(1, hi);
        NoiseFlatness { lo, hi, avg: 0.0, ln: vec![0.0; hi + 1 - lo] }
    }

    /// Updates with one frame's noise power estimate and returns the extra floor depth in
    /// nepers of amplitude (`ln` of the gain factor, ≥ 0).
    #[inline(always)]
    pub(crate) fn update(&mut self, noise: &[f32]) -> f32 {
        let band = &noise[self.lo.min(noise.len())..(self.hi + 1).min(noise.len())];
        if band.is_empty() {
            return 0.0;
        }
        // The logarithms in one vectorised pass, then both sums in bin order.
        let ln = &mut self.ln[..band.len()];
        for (l, &v) in ln.iter_mut().zip(band) {
            *l = fast_ln(v.max(1e-20));
        }
        let (mut sum_ln, mut sum) = (0.0f32, 0.0f32);
        for (&l, &v) in ln.iter().zip(band) {
            sum_ln += l;
            sum += v.max(1e-20);
        }
        let m = band.len() as f32;
        let flat = (fast_exp(sum_ln / m) / (sum / m)).clamp(0.0, 1.0);
        if flat.is_finite() {
            self.avg = ALPHA * self.avg + (1.0 - ALPHA) * flat;
        }
        self.extra()
    }

    /// The extra floor depth for the current smoothed flatness, nepers of amplitude.
    pub(crate) fn extra(&self) -> f32 {
        let t = ((self.avg - FROM) / (TO - FROM)).clamp(0.0, 1.0);
        ln_amplitude(t * EXTRA_DB)
    }

    /// The smoothed flatness (0–1).
    #[cfg(test)]
    pub(crate) fn flatness(&self) -> f32 {
        self.avg
    }

    pub(crate) fn reset(&mut self) {
        self.avg = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(shape: impl Fn(usize) -> f32) -> NoiseFlatness {
        let mut f = NoiseFlatness::new(161, 16_000);
        let noise: Vec<f32> = (0..161).map(shape).collect();
        for _ in 0..1000 {
            f.update(&noise);
        }
        f
    }

    #[test]
    fn white_gets_the_full_depth_brown_none() {
        let white = settle(|_| 1e-3);
        assert!((white.flatness() - 1.0).abs() < 1e-3, "{}", white.flatness());
        assert!((white.extra() - ln_amplitude(EXTRA_DB)).abs() < 1e-4);
        // Pink: power ∝ 1/f. Brown: ∝ 1/f².
        let pink = settle(|k| 1.0 / (k.max(1) as f32));
        assert!(pink.flatness() > 0.4 && pink.flatness() < 0.7, "{}", pink.flatness());
        assert!(pink.extra() > 0.0 && pink.extra() < white.extra());
        let brown = settle(|k| 1.0 / (k.max(1) as f32).powi(2));
        assert!(brown.flatness() < FROM, "{}", brown.flatness());
        assert_eq!(brown.extra(), 0.0);
    }

    #[test]
    fn bad_input_leaves_it_finite() {
        let mut f = NoiseFlatness::new(161, 16_000);
        let mut noise = vec![1e-3f32; 161];
        noise[20] = f32::NAN;
        noise[30] = 0.0;
        for _ in 0..10 {
            assert!(f.update(&noise).is_finite());
        }
        assert!(f.update(&[]) == 0.0);
        let mut tiny = NoiseFlatness::new(2, 8_000);
        assert!(tiny.update(&[1.0, 1.0]).is_finite());
    }
}
