//! Shared signal helpers for the apm_* tests: the bundled speech recordings
//! (`examples/data`, MIT, Silero Team — see examples/data/README.md), deterministic noise,
//! resampling-free filters and small metrics.
#![allow(dead_code)]

use rvoip_media_graph::SplitMix64;
use std::cell::Cell;
use std::path::PathBuf;

/// The 16 kHz or 8 kHz bundled speech, as f32 in [-1, 1).
pub fn speech(rate: u32) -> Vec<f32> {
    let name = if rate == 8000 { "speech_en_8k.wav" } else { "speech_en_16k.wav" };
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/data").join(name);
    let mut r = hound::WavReader::open(&p).unwrap();
    r.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect()
}

thread_local! {
    static REALISATION: Cell<u64> = Cell::new(env_realisation());
}

/// `APM_REALISATION=n` shifts every realisation of a test run by `n`: the tests' scenes are
/// then drawn from rooms and noise they were not written on (the CI runs with it unset).
fn env_realisation() -> u64 {
    std::env::var("APM_REALISATION").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Runs `f` with the scene's random draws (every [`Noise`] and so every [`rir`]) taken from
/// realisation `r` of the same distribution: realisation 0 is `Noise::new(seed)` as written,
/// realisation `r` salts every seed with `r`. A test sweeping `0..k` holds for `k` rooms and
/// backgrounds, not only for the one it was written on.
pub fn in_realisation<T>(r: u64, f: impl FnOnce() -> T) -> T {
    let base = REALISATION.with(|c| c.get());
    REALISATION.with(|c| c.set(env_realisation() + r));
    let v = f();
    REALISATION.with(|c| c.set(base));
    v
}

/// Runs `f` in realisations `0..k` (see [`in_realisation`]) and returns what it measured in
/// each, in order.
pub fn sweep<T>(k: u64, mut f: impl FnMut(u64) -> T) -> Vec<T> {
    (0..k)
        .map(|r| {
            println!("realisation {}", env_realisation() + r);
            in_realisation(r, || f(r))
        })
        .collect()
}

/// (minimum, mean) of `v`.
pub fn min_mean(v: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = v.into_iter().collect();
    (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().sum::<f64>() / v.len().max(1) as f64)
}

/// The realisation the scenes are drawn from now (see [`in_realisation`]).
pub fn realisation() -> u64 {
    REALISATION.with(|c| c.get())
}

/// Gaussian-ish white noise (sum of 4 uniforms from [`SplitMix64`]), unit variance; the draws
/// depend on the seed and the current [`realisation`].
pub struct Noise(SplitMix64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        let salt = realisation().wrapping_mul(0xD1B5_4A32_D192_ED03);
        Noise(SplitMix64::new(seed ^ salt))
    }
    /// Uniform in [-0.5, 0.5).
    pub fn uni(&mut self) -> f32 {
        0.5 * self.0.bipolar()
    }
    pub fn next(&mut self) -> f32 {
        (self.uni() + self.uni() + self.uni() + self.uni()) * 1.732
    }
    pub fn white(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
    /// Adds a burst of this noise to `dst`, `amp` at its start and decaying with a time
    /// constant of `tau` samples (a click: 32 samples, 2 ms at 16 kHz).
    pub fn add_burst(&mut self, dst: &mut [f32], amp: f32, tau: f32) {
        for (i, v) in dst.iter_mut().enumerate() {
            *v += amp * self.next() * (-(i as f32) / tau).exp();
        }
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

/// Runs the canceller `a` over `mic` and `far` block by block (its `frame_len`), calling
/// `each(i, a)` after block `i`; returns the output aligned with the input (the canceller's
/// latency removed, zero-padded to `mic`'s length).
pub fn run_aec(
    a: &mut rvoip_media_nodes::apm::Aec,
    mic: &[f32],
    far: &[f32],
    mut each: impl FnMut(usize, &rvoip_media_nodes::apm::Aec),
) -> Vec<f32> {
    let hop = a.frame_len();
    let mut out = Vec::with_capacity(mic.len());
    for (i, (m, f)) in mic.chunks_exact(hop).zip(far.chunks_exact(hop)).enumerate() {
        let mut b = m.to_vec();
        assert!(a.process_render_frame(f));
        assert!(a.process_capture_frame(&mut b));
        out.extend_from_slice(&b);
        each(i, a);
    }
    out.drain(..a.latency());
    out.resize(mic.len(), 0.0);
    out
}
