//! Shared signal helpers for the apm_* tests: the bundled speech recordings
//! (`examples/data`, MIT, Silero Team — see examples/data/README.md), deterministic noise,
//! resampling-free filters and small metrics.
#![allow(dead_code)]

use std::path::PathBuf;

/// The 16 kHz or 8 kHz bundled speech, as f32 in [-1, 1).
pub fn speech(rate: u32) -> Vec<f32> {
    let name = if rate == 8000 { "speech_en_8k.wav" } else { "speech_en_16k.wav" };
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/data").join(name);
    let mut r = hound::WavReader::open(&p).unwrap();
    r.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect()
}

/// xorshift-based Gaussian-ish white noise (sum of 4 uniforms), unit variance.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn uni(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
    pub fn next(&mut self) -> f32 {
        (self.uni() + self.uni() + self.uni() + self.uni()) * 1.732
    }
    pub fn white(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
    /// Pink-ish noise (Paul Kellet's economy filter), normalised to unit RMS.
    pub fn pink(&mut self, n: usize) -> Vec<f32> {
        let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                let w = self.next();
                b0 = 0.99765 * b0 + w * 0.0990460;
                b1 = 0.96300 * b1 + w * 0.2965164;
                b2 = 0.57000 * b2 + w * 1.0526913;
                b0 + b1 + b2 + w * 0.1848
            })
            .collect();
        let r = rms(&v);
        v.iter_mut().for_each(|x| *x /= r);
        v
    }
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len().max(1) as f64).sqrt() as f32
}

pub fn db(p: f64) -> f64 {
    10.0 * (p + 1e-20).log10()
}

pub fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

/// Active level as the lab defines it: RMS over 10 ms frames within 35 dB of the 99th
/// percentile frame energy, in dBFS.
pub fn active_dbfs(x: &[f32], rate: u32) -> f64 {
    let f = rate as usize / 100;
    let mut e: Vec<f64> = x.chunks_exact(f).map(|c| energy(c) / f as f64).collect();
    let mut s = e.clone();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p99 = s[(s.len() as f64 * 0.99) as usize];
    let thr = p99 * 10f64.powf(-3.5);
    e.retain(|v| *v > thr);
    db(e.iter().sum::<f64>() / e.len() as f64)
}

/// Scales `x` to an active level of `dbfs`.
pub fn set_active(x: &[f32], rate: u32, dbfs: f64) -> Vec<f32> {
    let g = 10f64.powf((dbfs - active_dbfs(x, rate)) / 20.0) as f32;
    x.iter().map(|v| v * g).collect()
}

/// Energy-based speech labels from the clean signal (frames within 40 dB of the P99 frame,
/// gaps up to 5 frames closed), like the evaluation lab's.
pub fn labels(clean: &[f32], rate: u32) -> Vec<bool> {
    let f = rate as usize / 100;
    let e: Vec<f64> = clean.chunks_exact(f).map(|c| db(energy(c) / f as f64)).collect();
    let mut s = e.clone();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let thr = (s[(s.len() as f64 * 0.99) as usize] - 40.0).max(-65.0);
    let mut l: Vec<bool> = e.iter().map(|v| *v > thr).collect();
    let idx: Vec<usize> = (0..l.len()).filter(|&i| l[i]).collect();
    for w in idx.windows(2) {
        if w[1] - w[0] > 1 && w[1] - w[0] <= 6 {
            l[w[0]..w[1]].iter_mut().for_each(|v| *v = true);
        }
    }
    l
}

/// (precision, recall, F1).
pub fn prf(decisions: &[bool], labels: &[bool]) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fnn) = (0.0f64, 0.0f64, 0.0f64);
    for (d, l) in decisions.iter().zip(labels) {
        match (d, l) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fnn += 1.0,
            _ => {}
        }
    }
    let p = tp / (tp + fp).max(1.0);
    let r = tp / (tp + fnn).max(1.0);
    (p, r, 2.0 * p * r / (p + r).max(1e-9))
}

/// Deterministic synthetic room impulse response: `delay` samples of bulk delay, a direct
/// path, then 400 sparse reflections with an exponentially decaying envelope (given RT60)
/// over `len_s` seconds. Sparse so direct convolution stays cheap in debug builds.
pub fn rir(rate: u32, delay: usize, rt60_s: f32, len_s: f32, seed: u64) -> Vec<f32> {
    let n = (len_s * rate as f32) as usize;
    let mut g = Noise::new(seed);
    let mut h = vec![0.0f32; delay + n];
    h[delay] = 1.0;
    for _ in 0..400 {
        let t = ((g.uni() + 0.5) * n as f32) as usize;
        let env = (-6.91 * t as f32 / (rt60_s * rate as f32)).exp();
        h[delay + t.min(n - 1)] += 0.25 * env * g.next();
    }
    h
}

/// Direct convolution (FIR), output as long as `x`.
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let nz: Vec<(usize, f32)> = h.iter().copied().enumerate().filter(|(_, v)| *v != 0.0).collect();
    let mut y = vec![0.0f32; x.len()];
    for (k, hv) in nz {
        for i in k..x.len() {
            y[i] += hv * x[i - k];
        }
    }
    y
}
