//! Anti-aliased decimation of the input to the analysis rate (8 kHz for multiples of 8 kHz).
//!
//! All spectral features live below 4 kHz, so the analysis runs at 8 kHz whatever the input
//! rate: a 32 ms window is then 256 samples instead of 512 (16 kHz) or 1536 (48 kHz). The
//! low-pass is a Hamming-windowed sinc of `8·D + 1` taps (`D` the decimation factor) with its
//! cut-off at half the output rate; for `D = 2` it is a half-band filter whose even taps vanish, and zero
//! taps are skipped. The filter runs in polyphase form: the input is split into its `D`
//! phases, each kept with eight samples of history, and every tap becomes one contiguous
//! multiply-add over the output frame, computing only the retained samples. The passband
//! droop near 4 kHz does not matter: the detector's main cue is a per-bin signal-to-noise
//! ratio, from which a fixed gain per bin cancels.

/// History per phase, in output samples (the filter spans `8·D + 1` input samples).
const HIST: usize = 8;

/// Decimator by an integer factor with its input history.
pub(crate) struct Decimator {
    factor: usize,
    /// (offset of the tap's first input in `phases`, coefficient) of the non-zero taps.
    taps: Vec<(usize, f32)>,
    /// `factor` phase buffers of `HIST + out_len` samples each, phase-major.
    phases: Vec<f32>,
    out_len: usize,
}

impl Decimator {
    /// A decimator by `factor` (≥ 1) for frames of `frame` input samples (a multiple of
    /// `factor`).
    pub(crate) fn new(factor: usize, frame: usize) -> Self {
        let d = factor.max(1);
        let len = 8 * d + 1;
        let out_len = frame / d;
        let pi = std::f64::consts::PI;
        let mut h: Vec<f64> = (0..len)
            .map(|j| {
                let m = j as f64 - (len - 1) as f64 / 2.0;
                let x = m / d as f64;
                let sinc = if m == 0.0 { 1.0 } else { (pi * x).sin() / (pi * x) };
                sinc * (0.54 - 0.46 * (2.0 * pi * j as f64 / (len - 1) as f64).cos())
            })
            .collect();
        if d == 1 {
            h = (0..len).map(|j| if j == 0 { 1.0 } else { 0.0 }).collect();
        }
        let s: f64 = h.iter().sum();
        // Output m sits at input sample m·d + d − 1 of the frame; tap j reads the sample j
        // before it, i.e. history-extended index HIST·d + m·d + d − 1 − j.
        let taps = h
            .iter()
            .enumerate()
            .filter(|(_, v)| (*v / s).abs() > 1e-9)
            .map(|(j, v)| {
                let o = HIST * d + d - 1 - j;
                ((o % d) * (HIST + out_len) + o / d, (*v / s) as f32)
            })
            .collect();
        Decimator { factor: d, taps, phases: vec![0.0; d * (HIST + out_len)], out_len }
    }

    /// True for factor 1, where [`Self::process`] only copies (callers at the analysis rate
    /// skip it).
    pub(crate) fn is_identity(&self) -> bool {
        self.factor == 1
    }

    /// Decimates one frame (the `frame` length given at construction) into `out`
    /// (`frame / factor` samples).
    #[inline(always)]
    pub(crate) fn process(&mut self, frame: &[f32], out: &mut [f32]) {
        let (d, m) = (self.factor, self.out_len);
        let plen = HIST + m;
        for r in 0..d {
            self.phases[r * plen..(r + 1) * plen].copy_within(m.., 0);
        }
        // Split the frame into its phases (a short frame reads as zeros); by two in one
        // pass over the pairs.
        if frame.len() >= m * d {
            if d == 2 {
                let (p0, p1) = self.phases.split_at_mut(plen);
                let pairs = p0[HIST..].iter_mut().zip(p1[HIST..].iter_mut()).zip(frame.chunks_exact(2));
                for ((a, b), c) in pairs {
                    (*a, *b) = (c[0], c[1]);
                }
            } else {
                for (r, ph) in self.phases.chunks_exact_mut(plen).enumerate() {
                    for (v, c) in ph[HIST..].iter_mut().zip(frame.chunks_exact(d)) {
                        *v = c[r];
                    }
                }
            }
        } else {
            for r in 0..d {
                for (i, v) in self.phases[r * plen + HIST..(r + 1) * plen].iter_mut().enumerate() {
                    *v = frame.get(i * d + r).copied().unwrap_or(0.0);
                }
            }
        }
        // One multiply-add pass over the output frame per tap, in tap order from zero (every
        // output's sum in tap order, as a direct convolution gives it); each pass vectorises.
        let k = m.min(out.len());
        let out = &mut out[..k];
        out.fill(0.0);
        for &(at, h) in &self.taps {
            for (y, x) in out.iter_mut().zip(&self.phases[at..at + k]) {
                *y += h * x;
            }
        }
    }

    /// Clears the history.
    pub(crate) fn reset(&mut self) {
        self.phases.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gain of the decimator for a sine at `f` Hz (input rate `8000·d`), measured after the
    /// transient.
    fn gain(d: usize, f: f32) -> f32 {
        let fs = 8000.0 * d as f32;
        let hop = 80 * d;
        let mut dec = Decimator::new(d, hop);
        let mut out = vec![0.0; 80];
        let (mut ei, mut eo) = (0.0f32, 0.0f32);
        for k in 0..50 {
            let x: Vec<f32> =
                (0..hop).map(|i| (2.0 * std::f32::consts::PI * f * (k * hop + i) as f32 / fs).sin()).collect();
            dec.process(&x, &mut out);
            if k >= 5 {
                ei += x.iter().map(|v| v * v).sum::<f32>() / d as f32;
                eo += out.iter().map(|v| v * v).sum::<f32>();
            }
        }
        (eo / ei).sqrt()
    }

    #[test]
    fn passes_speech_band_and_rejects_aliases() {
        for d in [1usize, 2, 4, 6] {
            for f in [200.0, 1000.0] {
                let g = gain(d, f);
                assert!((g - 1.0).abs() < 0.05, "d {d} f {f}: gain {g}");
            }
            if d > 1 {
                // 6 kHz would alias to 2 kHz: at least 30 dB down.
                let g = gain(d, 6000.0);
                assert!(g < 0.032, "d {d}: alias gain {g}");
            }
        }
    }

    #[test]
    fn identity_at_8k() {
        let mut dec = Decimator::new(1, 80);
        let x: Vec<f32> = (0..80).map(|i| i as f32).collect();
        let mut y = vec![0.0; 80];
        dec.process(&x, &mut y);
        assert_eq!(x, y);
    }
}
