//! Prototype low-pass design: a Kaiser-windowed sinc computed in `f64`, split into a
//! polyphase table stored in `f32`.
//!
//! The prototype runs at the "high" rate `L · rate_in` (= `M · rate_out`), where `L/M` is
//! `rate_out/rate_in` in lowest terms. Its pass band ends at [`PASS_EDGE`] and its stop band
//! starts at [`STOP_EDGE`], both as fractions of the *lower* of the two Nyquist frequencies, so
//! nothing above the lower Nyquist frequency survives (no aliasing when decimating, no images
//! when interpolating).

/// Pass-band edge as a fraction of the lower Nyquist frequency (ripple is specified up to here).
pub const PASS_EDGE: f64 = 0.85;
/// Stop-band edge as a fraction of the lower Nyquist frequency.
pub const STOP_EDGE: f64 = 1.0;
/// Minimum stop-band attenuation the filter length is chosen for, in dB. The actual filter
/// uses every tap the padded polyphase rows allow, so it usually reaches a few dB more.
pub const MIN_ATTENUATION_DB: f64 = 112.0;
/// Cap on the attenuation the Kaiser window is designed for (f32 storage limits the benefit).
const MAX_ATTENUATION_DB: f64 = 140.0;
/// Polyphase rows are padded to a multiple of this many taps (the SIMD lane structure).
pub const TAP_MULTIPLE: usize = 8;

/// A designed polyphase filter bank.
#[derive(Clone, Debug)]
pub(crate) struct PolyphaseBank {
    /// Interpolation factor L (number of phases).
    pub l: usize,
    /// Decimation factor M.
    pub m: usize,
    /// Taps per phase (multiple of [`TAP_MULTIPLE`]).
    pub taps: usize,
    /// `l * taps` coefficients; row `p` holds phase `p` in *reversed* order so that it is
    /// dotted with the input window in ascending time order.
    pub coefs: Vec<f32>,
    /// Group delay of the prototype in output samples (an integer by construction).
    pub delay: usize,
    /// Stop-band attenuation the Kaiser window was designed for, in dB.
    pub attenuation_db: f64,
}

/// Greatest common divisor.
pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Zeroth-order modified Bessel function of the first kind (power series, f64).
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    loop {
        term *= q / (k * k);
        sum += term;
        if term < sum * 1e-17 {
            return sum;
        }
        k += 1.0;
    }
}

/// Kaiser's beta for a stop-band attenuation of `a` dB.
pub(crate) fn kaiser_beta(a: f64) -> f64 {
    if a > 50.0 {
        0.1102 * (a - 8.7)
    } else if a >= 21.0 {
        0.5842 * (a - 21.0).powf(0.4) + 0.07886 * (a - 21.0)
    } else {
        0.0
    }
}

/// `sin(pi x) / (pi x)`.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Designs the bank for `rate_in -> rate_out`. Equal rates give the identity (one tap, no delay).
pub(crate) fn design(rate_in: u32, rate_out: u32) -> PolyphaseBank {
    let g = gcd(u64::from(rate_in), u64::from(rate_out));
    let l = (u64::from(rate_out) / g) as usize;
    let m = (u64::from(rate_in) / g) as usize;
    if l == 1 && m == 1 {
        let mut coefs = vec![0.0f32; TAP_MULTIPLE];
        coefs[TAP_MULTIPLE - 1] = 1.0;
        return PolyphaseBank { l, m, taps: TAP_MULTIPLE, coefs, delay: 0, attenuation_db: f64::INFINITY };
    }
    let fs_low = f64::from(rate_in.min(rate_out));
    let fs_high = f64::from(rate_in) * l as f64; // = rate_out * m

    // Transition width relative to the high rate, and the Kaiser length estimate
    // N = (A - 7.95) / (14.36 * dF) (filter order N, N + 1 taps).
    let df = (STOP_EDGE - PASS_EDGE) * 0.5 * fs_low / fs_high;
    let order_min = ((MIN_ATTENUATION_DB - 7.95) / (14.36 * df)).ceil() as usize;
    // Centre of the symmetric prototype: c = D * M high-rate samples, so the delay is an
    // integer number D of output samples. Length Kp = 2c + 1.
    let mut delay = order_min.div_ceil(2 * m);
    let taps = (2 * delay * m + 1).div_ceil(l).next_multiple_of(TAP_MULTIPLE);
    // Use every tap the padded rows hold.
    delay = (taps * l - 1) / (2 * m);
    let centre = delay * m;
    let len = 2 * centre + 1;
    let attenuation_db = (14.36 * df * (len - 1) as f64 + 7.95).min(MAX_ATTENUATION_DB);
    let beta = kaiser_beta(attenuation_db);
    // Cut-off (-6 dB point) halfway through the transition band, relative to the high rate.
    let fc = 0.5 * (PASS_EDGE + STOP_EDGE) * 0.5 * fs_low / fs_high;
    let i0_beta = bessel_i0(beta);
    let mut h = vec![0.0f64; taps * l];
    let c = centre as f64;
    for (k, hk) in h.iter_mut().enumerate().take(len) {
        let t = k as f64 - c;
        let r = t / c;
        let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
        *hk = 2.0 * fc * sinc(2.0 * fc * t) * w;
    }
    // Normalise to an average DC gain of exactly 1 per phase (total gain L).
    let sum: f64 = h.iter().sum();
    let scale = l as f64 / sum;
    let mut coefs = vec![0.0f32; taps * l];
    for p in 0..l {
        let row = &mut coefs[p * taps..(p + 1) * taps];
        for (j, cj) in row.iter_mut().enumerate() {
            // Tap j of the reversed row multiplies x[i_max - (taps - 1 - j)], i.e. h[p + (taps-1-j) L].
            *cj = (h[p + (taps - 1 - j) * l] * scale) as f32;
        }
    }
    PolyphaseBank { l, m, taps, coefs, delay, attenuation_db }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |H(f)| of the prototype (f32 coefficients re-assembled) at `f` Hz, normalised to DC gain 1.
    fn response(bank: &PolyphaseBank, fs_high: f64, f: f64) -> f64 {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for p in 0..bank.l {
            for j in 0..bank.taps {
                let k = p + (bank.taps - 1 - j) * bank.l;
                let c = f64::from(bank.coefs[p * bank.taps + j]);
                let w = -2.0 * std::f64::consts::PI * f * k as f64 / fs_high;
                re += c * w.cos();
                im += c * w.sin();
            }
        }
        (re * re + im * im).sqrt() / bank.l as f64
    }

    #[test]
    fn bessel_matches_known_values() {
        // I0(1) and I0(10) from Abramowitz & Stegun table 9.8.
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-14);
        assert!((bessel_i0(10.0) / 2_815.716_628_466_254 - 1.0).abs() < 1e-13);
    }

    #[test]
    fn prototype_meets_spec_8k_to_48k() {
        let b = design(8000, 48000);
        assert_eq!((b.l, b.m), (6, 1));
        let fs_high = 48000.0;
        let mut worst_pass: f64 = 0.0;
        for i in 0..=60 {
            let f = 3400.0 * f64::from(i) / 60.0;
            worst_pass = worst_pass.max((20.0 * response(&b, fs_high, f).log10()).abs());
        }
        assert!(worst_pass < 0.001, "pass-band deviation {worst_pass} dB");
        let mut worst_stop: f64 = 0.0;
        for i in 0..=200 {
            let f = 4000.0 + 20000.0 * f64::from(i) / 200.0;
            worst_stop = worst_stop.max(response(&b, fs_high, f));
        }
        let att = -20.0 * worst_stop.log10();
        assert!(att > 110.0, "stop-band attenuation {att} dB");
    }

    #[test]
    fn delay_is_centre_of_prototype() {
        for (a, b) in [(8000, 48000), (48000, 8000), (44100, 48000), (48000, 44100), (8000, 44100)] {
            let bank = design(a, b);
            // The largest coefficient sits at the centre tap c = delay * M.
            let c = bank.delay * bank.m;
            let (p, m) = (c % bank.l, c / bank.l);
            let j = bank.taps - 1 - m;
            let centre = bank.coefs[p * bank.taps + j];
            let max = bank.coefs.iter().fold(0.0f32, |acc, v| acc.max(v.abs()));
            assert_eq!(centre, max, "{a}->{b}");
        }
    }
}
