//! Time-scale modification by pitch-synchronous overlap-add (WSOLA-style): *accelerate*
//! removes one pitch period from a block of decoded speech, *preemptive expand* inserts
//! one, each with a cross-fade over the period so the waveform stays continuous. The period
//! is the lag maximising the normalised cross-correlation of two adjacent segments; the
//! operation is refused on speech that is not periodic enough (it would be audible), but
//! always allowed on near-silence. No allocation: the caller passes the buffers.

/// Outcome of a time-scale modification attempt.
///
/// ```
/// use rvoip_media_nodes::jitter::{accelerate, Stretch};
/// let mut short = [0.5f32; 30];
/// assert_eq!(accelerate(&mut short, 30, 20, 120), Stretch::None); // shorter than two periods
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stretch {
    /// Nothing done (not periodic enough, or the block is too short).
    None,
    /// That many samples were removed (accelerate) or inserted (preemptive expand).
    Samples(usize),
}

/// Energy per sample below which a block counts as silence (about −55 dBFS).
const SILENCE_POWER: f32 = 3e-6;
/// Normalised correlation a voiced block must reach to be stretched.
const MIN_CORRELATION: f32 = 0.85;

/// Best lag in `min_lag..=max_lag` for `x`: NCC of `x[0..lag]` with `x[lag..2 lag]`
/// (over at least `min_lag` samples). Returns (lag, correlation, mean power).
fn best_period(x: &[f32], min_lag: usize, max_lag: usize) -> Option<(usize, f32, f32)> {
    let max_lag = max_lag.min(x.len() / 2);
    if max_lag < min_lag || min_lag == 0 {
        return None;
    }
    let mut best = (min_lag, f32::NEG_INFINITY);
    for lag in min_lag..=max_lag {
        let (a, b) = (&x[..lag], &x[lag..2 * lag]);
        let (mut c, mut ea, mut eb) = (0.0f32, 1e-12f32, 1e-12f32);
        for (p, q) in a.iter().zip(b) {
            c += p * q;
            ea += p * p;
            eb += q * q;
        }
        let ncc = c / (ea * eb).sqrt();
        if ncc > best.1 {
            best = (lag, ncc);
        }
    }
    let power = x[..2 * best.0].iter().map(|v| v * v).sum::<f32>() / (2 * best.0) as f32;
    Some((best.0, best.1, power))
}

/// Removes one pitch period (between `min_lag` and `max_lag` samples) from the start of
/// `x[..len]` in place: the first two periods are replaced by one cross-faded period.
/// Returns the new length through [`Stretch`]. `x` must hold `len` valid samples.
///
/// ```
/// use rvoip_media_nodes::jitter::{accelerate, Stretch};
/// // A 100 Hz tone at 8 kHz: period 80 samples.
/// let mut x: Vec<f32> = (0..320).map(|i| (i as f32 * 2.0 * std::f32::consts::PI / 80.0).sin() * 0.5).collect();
/// assert_eq!(accelerate(&mut x, 320, 40, 120), Stretch::Samples(80));
/// // Still the same tone, one period shorter, without a seam.
/// assert!((x[100] - (100.0f32 * 2.0 * std::f32::consts::PI / 80.0).sin() * 0.5).abs() < 1e-4);
/// ```
pub fn accelerate(x: &mut [f32], len: usize, min_lag: usize, max_lag: usize) -> Stretch {
    let len = len.min(x.len());
    let Some((lag, ncc, power)) = best_period(&x[..len], min_lag, max_lag) else { return Stretch::None };
    if ncc < MIN_CORRELATION && power > SILENCE_POWER {
        return Stretch::None;
    }
    for i in 0..lag {
        let w = (i as f32 + 0.5) / lag as f32;
        x[i] = (1.0 - w) * x[i] + w * x[i + lag];
    }
    x.copy_within(2 * lag..len, lag);
    Stretch::Samples(lag)
}

/// Inserts one pitch period into `x[..len]` in place (`x` must have room for `len +
/// max_lag` samples): after the first period comes a cross-fade from the second period
/// into a repeat of the first, then the rest. Returns the samples inserted.
///
/// ```
/// use rvoip_media_nodes::jitter::{preemptive_expand, Stretch};
/// let tone = |i: usize| (i as f32 * 2.0 * std::f32::consts::PI / 80.0).sin() * 0.5;
/// let mut x: Vec<f32> = (0..320).map(tone).collect();
/// x.resize(320 + 120, 0.0);
/// assert_eq!(preemptive_expand(&mut x, 320, 40, 120), Stretch::Samples(80));
/// assert!((0..400).all(|i| (x[i] - tone(i)).abs() < 1e-4)); // one period longer
/// ```
pub fn preemptive_expand(x: &mut [f32], len: usize, min_lag: usize, max_lag: usize) -> Stretch {
    let len = len.min(x.len());
    let Some((lag, ncc, power)) = best_period(&x[..len], min_lag, max_lag) else { return Stretch::None };
    if (ncc < MIN_CORRELATION && power > SILENCE_POWER) || len + lag > x.len() {
        return Stretch::None;
    }
    // x = A B rest  ->  A (B fading into A) B rest
    x.copy_within(lag..len, 2 * lag);
    for i in 0..lag {
        let w = (i as f32 + 0.5) / lag as f32;
        // x[2 lag + i] is B[i] now; x[i] is A[i].
        x[lag + i] = (1.0 - w) * x[2 * lag + i] + w * x[i];
    }
    Stretch::Samples(lag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = rvoip_media_graph::SplitMix64::new(u64::from(seed));
        (0..n).map(|_| 0.5 * s.bipolar()).collect()
    }

    #[test]
    fn loud_aperiodic_blocks_are_not_stretched_but_silence_is() {
        let mut x = noise(320, 1);
        let orig = x.clone();
        assert_eq!(accelerate(&mut x, 320, 40, 120), Stretch::None);
        assert_eq!(x, orig);
        x.resize(440, 0.0);
        assert_eq!(preemptive_expand(&mut x, 320, 40, 120), Stretch::None);
        let mut quiet: Vec<f32> = noise(320, 2).iter().map(|v| v * 1e-3).collect();
        assert!(matches!(accelerate(&mut quiet, 320, 40, 120), Stretch::Samples(40..=120)));
    }

    #[test]
    fn a_short_block_is_refused() {
        let mut x = vec![0.1f32; 60];
        assert_eq!(accelerate(&mut x, 60, 40, 120), Stretch::None);
    }

    #[test]
    fn accelerate_keeps_a_sum_of_tones_continuous() {
        // Period 64 (125 Hz + 250 Hz): the output is the same signal shifted by 64.
        let f = |i: usize| {
            let t = i as f32 / 8000.0;
            0.3 * (2.0 * std::f32::consts::PI * 125.0 * t).sin() + 0.2 * (2.0 * std::f32::consts::PI * 250.0 * t).cos()
        };
        let mut x: Vec<f32> = (0..320).map(f).collect();
        let Stretch::Samples(p) = accelerate(&mut x, 320, 40, 120) else { panic!("not accelerated") };
        assert_eq!(p % 64, 0);
        // After the cross-faded period, the signal continues one period later.
        for (i, v) in x.iter().enumerate().take(320 - p).skip(p) {
            assert!((v - f(i + p)).abs() < 1e-5, "{i}");
        }
    }
}
