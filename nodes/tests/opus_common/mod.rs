//! Shared helpers of the Opus tests: speech loading, resampling, whole-signal encode /
//! decode, delay alignment and distortion measures.
#![allow(dead_code)]

use rvoip_media_nodes::opus::{OpusDecoder, OpusEncoder, MAX_PACKET_BYTES};
use rvoip_media_nodes::resample::Resampler;

/// Reads one of the bundled speech files (examples/data, MIT, see its README) as mono f32.
pub fn speech(name: &str) -> (Vec<f32>, u32) {
    let path = format!("{}/../examples/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let spec = r.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16));
    let x = r.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect();
    (x, spec.sample_rate)
}

/// The 16 kHz speech converted to `rate` with the crate's resampler (the converted signal is
/// the reference of the tests at that rate), limited to `seconds`.
pub fn speech_at(rate: u32, seconds: f32) -> Vec<f32> {
    let (x, fs) = speech("speech_en_16k.wav");
    let x = &x[..((seconds * fs as f32) as usize).min(x.len())];
    if rate == fs {
        return x.to_vec();
    }
    let mut r = Resampler::new(fs, rate, 1).unwrap();
    let mut out = vec![0.0; r.output_len_for(x.len()) + 64];
    let mut pos = 0;
    let mut produced = 0;
    while pos < x.len() {
        let (c, p) = r.process(&x[pos..], &mut out[produced..]);
        pos += c;
        produced += p;
        assert!(c > 0 || p > 0, "resampler stalled");
    }
    out.truncate(produced);
    out
}

/// Encodes `x` (interleaved) frame by frame (the tail that does not fill a frame is
/// dropped), returning the packets.
pub fn encode_all(enc: &mut OpusEncoder, x: &[f32]) -> Vec<Vec<u8>> {
    let mut buf = [0u8; MAX_PACKET_BYTES];
    x.chunks_exact(enc.frame_len())
        .map(|f| {
            let p = enc.encode(f, &mut buf).unwrap();
            buf[..p.len].to_vec()
        })
        .collect()
}

/// Decodes every packet in order, concatenating the output.
pub fn decode_all(dec: &mut OpusDecoder, packets: &[Vec<u8>]) -> Vec<f32> {
    let mut out = vec![0.0; dec.max_output_len()];
    let mut y = Vec::new();
    for p in packets {
        let n = dec.decode(Some(p), &mut out).unwrap();
        y.extend_from_slice(&out[..n * usize::from(dec.channels())]);
    }
    y
}

/// SNR in dB of `y` delayed by `delay` against `x` over `x[from..to]`.
pub fn snr_db(x: &[f32], y: &[f32], delay: usize, from: usize, to: usize) -> f64 {
    let (mut s, mut n) = (0f64, 0f64);
    for i in from..to {
        let a = f64::from(x[i]);
        let b = f64::from(y[i + delay]);
        s += a * a;
        n += (a - b) * (a - b);
    }
    10.0 * (s / n.max(1e-20)).log10()
}

/// Lag in `0..max_lag` maximising the normalised cross-correlation of `x` and `y` (`y`
/// lagging) over `x[from..to]`.
pub fn best_lag(x: &[f32], y: &[f32], max_lag: usize, from: usize, to: usize) -> usize {
    (0..max_lag).max_by(|&a, &b| xcorr(x, y, a, from, to).total_cmp(&xcorr(x, y, b, from, to))).unwrap()
}

fn xcorr(x: &[f32], y: &[f32], lag: usize, from: usize, to: usize) -> f64 {
    let (mut xy, mut yy) = (0f64, 0f64);
    for i in from..to {
        let b = f64::from(y[i + lag]);
        xy += f64::from(x[i]) * b;
        yy += b * b;
    }
    xy / yy.max(1e-20).sqrt()
}

/// Mean log-spectral distance in dB between `x` and `y` delayed by `delay`, over 32 ms
/// Hann-windowed frames (hop 16 ms) of `x[from..to]` whose energy is within 40 dB of the
/// loudest (silent frames excluded); DFT bins from 100 Hz up to `max_hz`.
pub fn log_spectral_distance(
    x: &[f32],
    y: &[f32],
    delay: usize,
    rate: u32,
    from: usize,
    to: usize,
    max_hz: f64,
) -> f64 {
    let n = (rate as usize * 32) / 1000;
    let hop = n / 2;
    let w: Vec<f64> = (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).collect();
    let lo = ((100.0 / rate as f64) * n as f64).ceil() as usize;
    let hi = ((max_hz / rate as f64) * n as f64) as usize;
    let fft = realfft::RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut inp = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut power = |s: &[f32]| -> Vec<f64> {
        for ((d, &v), &wi) in inp.iter_mut().zip(s).zip(&w) {
            *d = f64::from(v) * wi;
        }
        fft.process(&mut inp, &mut spec).unwrap();
        spec[lo..hi].iter().map(|c| c.norm_sqr()).collect()
    };
    let mut frames = Vec::new();
    let mut start = from;
    while start + n <= to {
        frames.push((start, energy(&x[start..start + n])));
        start += hop;
    }
    let emax = frames.iter().map(|f| f.1).fold(0.0, f64::max);
    let floor = emax * 1e-7;
    let (mut total, mut count) = (0.0, 0);
    for &(s, e) in &frames {
        if e < emax * 1e-4 {
            continue;
        }
        let px = power(&x[s..s + n]);
        let py = power(&y[s + delay..s + delay + n]);
        let d: f64 = px.iter().zip(&py).map(|(a, b)| (10.0 * ((a + floor) / (b + floor)).log10()).powi(2)).sum::<f64>()
            / px.len() as f64;
        total += d.sqrt();
        count += 1;
    }
    total / f64::from(count)
}

/// Energy of `x`.
pub fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}
