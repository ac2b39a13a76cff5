//! Resampler quality, latency and streaming tests. Every figure is measured on the output
//! against analytic signals at the output rate.

use rvoip_media_graph::{NodeHarness, Processor, Quantum, SplitMix64};
use rvoip_media_nodes::resample::{resample_whole, Kernel, ResampleError, Resampler, ResamplerNode, SUPPORTED_RATES};
use std::f64::consts::PI;

/// All ordered pairs of distinct supported rates.
fn all_pairs() -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    for &a in &SUPPORTED_RATES {
        for &b in &SUPPORTED_RATES {
            if a != b {
                v.push((a, b));
            }
        }
    }
    v
}

struct Rng(SplitMix64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
}

/// A sum of sines: (frequency Hz, amplitude, phase) evaluated at `n / fs`.
fn tones_at(tones: &[(f64, f64, f64)], fs: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| tones.iter().map(|&(f, a, p)| a * (2.0 * PI * f * i as f64 / fs + p).sin()).sum()).collect()
}

/// `count` log-spaced tones from 100 Hz to 0.85 × the lower Nyquist frequency, -6 dBFS peak sum.
fn multitone(rate_in: u32, rate_out: u32, count: usize, seed: u64) -> Vec<(f64, f64, f64)> {
    let pe = 0.85 * f64::from(rate_in.min(rate_out)) / 2.0;
    let mut rng = Rng(SplitMix64::new(seed));
    let a = 0.5 / count as f64;
    (0..count)
        .map(|k| {
            let f = 100.0 * (pe / 100.0).powf(k as f64 / (count - 1) as f64);
            (f, a, rng.uniform() * 2.0 * PI)
        })
        .collect()
}

/// Streams `input` (mono) through `rs` in one call plus a flush; returns the raw output.
fn run_raw(rs: &mut Resampler, input: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; rs.output_len_for(input.len()) + (rs.latency() + 8) * rs.channels()];
    let (c, mut p) = rs.process(input, &mut out);
    assert_eq!(c, input.len());
    loop {
        let n = rs.flush(&mut out[p..]);
        if n == 0 {
            break;
        }
        p += n;
    }
    out.truncate(p);
    out
}

/// Signal-to-error ratio in dB of `y[n + delay]` against `ideal[n]` over the middle of the
/// signal (`margin` samples skipped at both ends).
fn snr_db(y: &[f32], ideal: &[f64], delay: usize, margin: usize) -> f64 {
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for n in margin..ideal.len() - margin {
        let v = f64::from(y[n + delay]);
        s += ideal[n] * ideal[n];
        e += (v - ideal[n]).powi(2);
    }
    10.0 * (s / e.max(1e-300)).log10()
}

/// Least-squares amplitude of each tone (sin/cos pair per frequency) in `y[start..end]`.
fn fit_amplitudes(y: &[f64], fs: f64, freqs: &[f64]) -> Vec<f64> {
    let k2 = 2 * freqs.len();
    let mut ata = vec![vec![0.0f64; k2]; k2];
    let mut atb = vec![0.0f64; k2];
    let mut row = vec![0.0f64; k2];
    for (n, &v) in y.iter().enumerate() {
        for (k, &f) in freqs.iter().enumerate() {
            let w = 2.0 * PI * f * n as f64 / fs;
            row[2 * k] = w.sin();
            row[2 * k + 1] = w.cos();
        }
        for i in 0..k2 {
            atb[i] += row[i] * v;
            for j in 0..k2 {
                ata[i][j] += row[i] * row[j];
            }
        }
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..k2 {
        let piv = (col..k2).max_by(|&a, &b| ata[a][col].abs().total_cmp(&ata[b][col].abs())).unwrap();
        ata.swap(col, piv);
        atb.swap(col, piv);
        let pivot_row = ata[col].clone();
        for r in col + 1..k2 {
            let f = ata[r][col] / pivot_row[col];
            for (v, p) in ata[r][col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            atb[r] -= f * atb[col];
        }
    }
    let mut x = vec![0.0f64; k2];
    for r in (0..k2).rev() {
        let s: f64 = (r + 1..k2).map(|c| ata[r][c] * x[c]).sum();
        x[r] = (atb[r] - s) / ata[r][r];
    }
    (0..freqs.len()).map(|k| x[2 * k].hypot(x[2 * k + 1])).collect()
}

/// Multitone SNR against analytic sines at the output rate, aligned by the *reported* latency:
/// a wrong latency figure by even one sample drops this to a few tens of dB.
#[test]
fn multitone_snr_above_100_db_all_pairs() {
    for (a, b) in all_pairs() {
        let mut rs = Resampler::new(a, b, 1).unwrap();
        let tones = multitone(a, b, 24, u64::from(a) * 7 + u64::from(b));
        let n_in = (a / 4) as usize; // 250 ms
        let x: Vec<f32> = tones_at(&tones, f64::from(a), n_in).iter().map(|&v| v as f32).collect();
        let y = run_raw(&mut rs, &x);
        let n_out = (n_in as u64 * u64::from(b) / u64::from(a)) as usize;
        let ideal = tones_at(&tones, f64::from(b), n_out);
        // Skip the start-up and the tail, where the filter sees the edges of the signal.
        let snr = snr_db(&y, &ideal, rs.latency(), (b / 40) as usize);
        assert!(snr >= 100.0, "{a}->{b}: multitone SNR {snr:.1} dB");
    }
}

/// The latency figure is exact: shifting the comparison by one output sample ruins the SNR.
#[test]
fn reported_latency_is_the_true_delay() {
    for (a, b) in [(8000, 48000), (48000, 8000), (44100, 48000), (48000, 44100), (12000, 44100)] {
        let mut rs = Resampler::new(a, b, 1).unwrap();
        let tones = multitone(a, b, 8, 99);
        let n_in = (a / 5) as usize;
        let x: Vec<f32> = tones_at(&tones, f64::from(a), n_in).iter().map(|&v| v as f32).collect();
        let y = run_raw(&mut rs, &x);
        let ideal = tones_at(&tones, f64::from(b), (n_in as u64 * u64::from(b) / u64::from(a)) as usize);
        let m = (b / 40) as usize;
        let d = rs.latency();
        let exact = snr_db(&y, &ideal, d, m);
        let early = snr_db(&y, &ideal, d - 1, m);
        let late = snr_db(&y, &ideal, d + 1, m);
        assert!(exact > 100.0 && early < 40.0 && late < 40.0, "{a}->{b}: {exact:.1} / {early:.1} / {late:.1}");
    }
}

/// Pass-band ripple up to 0.85 × the lower Nyquist frequency, from least-squares tone fits.
#[test]
fn passband_ripple_below_0_01_db() {
    for (a, b) in all_pairs() {
        let mut rs = Resampler::new(a, b, 1).unwrap();
        let tones = multitone(a, b, 12, 5);
        let n_in = (a / 4) as usize;
        let x: Vec<f32> = tones_at(&tones, f64::from(a), n_in).iter().map(|&v| v as f32).collect();
        let y = run_raw(&mut rs, &x);
        let start = rs.latency() + (b / 40) as usize;
        let seg: Vec<f64> = y[start..start + (b / 8) as usize].iter().map(|&v| f64::from(v)).collect();
        let freqs: Vec<f64> = tones.iter().map(|t| t.0).collect();
        let amps = fit_amplitudes(&seg, f64::from(b), &freqs);
        let gains: Vec<f64> = amps.iter().zip(&tones).map(|(g, t)| 20.0 * (g / t.1).log10()).collect();
        let (lo, hi) = gains.iter().fold((f64::MAX, f64::MIN), |(l, h), &g| (l.min(g), h.max(g)));
        assert!(hi - lo <= 0.01, "{a}->{b}: ripple {:.5} dB", hi - lo);
        assert!(lo.abs() < 0.01 && hi.abs() < 0.01, "{a}->{b}: gain {lo:.5}..{hi:.5} dB");
    }
}

/// Downsampling: tones between the output Nyquist frequency and 0.98 × the input Nyquist
/// frequency are attenuated by at least 100 dB.
#[test]
fn stopband_attenuation_above_100_db() {
    for (a, b) in all_pairs().into_iter().filter(|(a, b)| a > b) {
        let nyq_out = f64::from(b) / 2.0;
        let hi = 0.98 * f64::from(a) / 2.0;
        let mut worst = f64::MAX;
        for i in 0..6 {
            let f = nyq_out + (hi - nyq_out) * f64::from(i) / 5.0;
            let mut rs = Resampler::new(a, b, 1).unwrap();
            let n_in = (a / 10) as usize;
            let x: Vec<f32> = tones_at(&[(f, 0.5, 0.3)], f64::from(a), n_in).iter().map(|&v| v as f32).collect();
            let y = run_raw(&mut rs, &x);
            // Middle of the steady state.
            let s = rs.latency() + (b / 100) as usize;
            let e = rs.latency() + (n_in * b as usize / a as usize) - (b / 100) as usize;
            let rms_out = (y[s..e].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / (e - s) as f64).sqrt();
            let att = 20.0 * (0.5 / 2f64.sqrt() / rms_out.max(1e-300)).log10();
            worst = worst.min(att);
        }
        assert!(worst >= 100.0, "{a}->{b}: stop-band attenuation {worst:.1} dB");
    }
}

/// Upsampling: a single tone comes out as that tone only; everything else (images above the
/// input Nyquist frequency included) is at least 100 dB down.
#[test]
fn image_rejection_above_100_db() {
    for (a, b) in all_pairs().into_iter().filter(|(a, b)| a < b) {
        for frac in [0.05, 0.5, 0.85] {
            let f = frac * f64::from(a) / 2.0;
            let mut rs = Resampler::new(a, b, 1).unwrap();
            let n_in = (a / 10) as usize;
            let x: Vec<f32> = tones_at(&[(f, 0.5, 1.0)], f64::from(a), n_in).iter().map(|&v| v as f32).collect();
            let y = run_raw(&mut rs, &x);
            let n_out = n_in * b as usize / a as usize;
            let ideal = tones_at(&[(f, 0.5, 1.0)], f64::from(b), n_out);
            let snr = snr_db(&y, &ideal, rs.latency(), (b / 100) as usize);
            assert!(snr >= 100.0, "{a}->{b} tone {f} Hz: image/error rejection {snr:.1} dB");
        }
    }
}

/// Streaming in random input and output chunk sizes gives the one-shot output bit for bit.
#[test]
fn streaming_random_chunks_equals_one_shot() {
    let mut rng = Rng(SplitMix64::new(0x1234_5678));
    for (a, b, ch) in [(8000, 48000, 1), (48000, 8000, 2), (44100, 48000, 1), (48000, 44100, 2), (16000, 12000, 1)] {
        let frames = (a / 5) as usize;
        let x: Vec<f32> = (0..frames * ch).map(|_| (rng.uniform() * 2.0 - 1.0) as f32 * 0.7).collect();
        let mut one = Resampler::new(a, b, ch).unwrap();
        let want = run_raw(&mut one, &x);
        let mut rs = Resampler::new(a, b, ch).unwrap();
        let mut got = Vec::new();
        let mut scratch = vec![0.0f32; 10_000 * ch];
        let mut i = 0;
        while i < x.len() {
            let n_in = (rng.below(700) * ch).min(x.len() - i);
            let n_out = rng.below(900) * ch;
            let (c, p) = rs.process(&x[i..i + n_in], &mut scratch[..n_out]);
            assert_eq!(c % ch, 0);
            assert_eq!(p % ch, 0);
            got.extend_from_slice(&scratch[..p]);
            i += c;
        }
        loop {
            let n_out = rng.below(300) * ch + ch;
            let p = rs.flush(&mut scratch[..n_out]);
            if p == 0 {
                break;
            }
            got.extend_from_slice(&scratch[..p]);
        }
        assert_eq!(got.len(), want.len(), "{a}->{b} x{ch}");
        assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{a}->{b} x{ch}: outputs differ");
    }
}

/// Every SIMD kernel produces exactly the scalar twin's output, for every pair.
#[test]
fn simd_kernels_equal_scalar_on_every_pair() {
    let mut rng = Rng(SplitMix64::new(77));
    let kernels: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.is_available()).collect();
    assert!(kernels.len() >= 2, "no SIMD kernel available to compare");
    for (a, b) in all_pairs() {
        let x: Vec<f32> = (0..(a / 50) as usize * 2).map(|_| (rng.uniform() * 2.0 - 1.0) as f32).collect();
        let want = run_raw(&mut Resampler::with_kernel(a, b, 2, Kernel::Scalar).unwrap(), &x);
        for &k in &kernels[1..] {
            let got = run_raw(&mut Resampler::with_kernel(a, b, 2, k).unwrap(), &x);
            assert_eq!(got.len(), want.len());
            assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{a}->{b}: {k:?} != scalar");
        }
    }
}

/// `output_len_for` predicts exactly what `process` produces, from any state.
#[test]
fn output_len_for_is_exact() {
    let mut rng = Rng(SplitMix64::new(42));
    for (a, b) in [(8000, 44100), (44100, 8000), (48000, 16000), (24000, 32000)] {
        let mut rs = Resampler::new(a, b, 2).unwrap();
        let mut out = vec![0.0f32; 40_000];
        for _ in 0..40 {
            let n = rng.below(3000) * 2;
            let x = vec![0.1f32; n];
            let predicted = rs.output_len_for(n);
            let (c, p) = rs.process(&x, &mut out);
            assert_eq!((c, p), (n, predicted), "{a}->{b}");
        }
    }
}

/// Total output frames = latency + ceil(input frames · L / M).
#[test]
fn flush_drains_the_tail_exactly() {
    for (a, b) in all_pairs() {
        let mut rs = Resampler::new(a, b, 1).unwrap();
        let n = 1001usize;
        let y = run_raw(&mut rs, &vec![0.2f32; n]);
        let (l, m) = rs.ratio();
        assert_eq!(y.len(), rs.latency() + (n * l).div_ceil(m), "{a}->{b}");
        assert_eq!(rs.process(&[0.0; 10], &mut [0.0; 100]), (0, 0), "finished until reset");
        rs.reset();
        assert_eq!(rs.process(&[0.0; 10], &mut [0.0; 100]).0, 10);
    }
}

#[test]
fn resample_whole_is_time_aligned_with_rounded_length() {
    for (a, b) in all_pairs() {
        let n_in = 2345usize;
        let tones = [(0.3 * f64::from(a.min(b)) / 2.0, 0.4, 0.5)];
        let x: Vec<f32> = tones_at(&tones, f64::from(a), n_in).iter().map(|&v| v as f32).collect();
        let y = resample_whole(&x, a, b, 1).unwrap();
        let want = (n_in as f64 * f64::from(b) / f64::from(a)).round() as usize;
        assert_eq!(y.len(), want, "{a}->{b}");
        let ideal = tones_at(&tones, f64::from(b), want);
        let snr = snr_db(&y, &ideal, 0, want / 4);
        assert!(snr > 100.0, "{a}->{b}: aligned SNR {snr:.1} dB");
    }
    assert_eq!(resample_whole(&[0.0; 3], 8000, 16000, 2), Err(ResampleError::RaggedInput { len: 3, channels: 2 }));
}

#[test]
fn equal_rates_copy_exactly() {
    let mut rng = Rng(SplitMix64::new(9));
    let x: Vec<f32> = (0..1000).map(|_| (rng.uniform() * 2.0 - 1.0) as f32).collect();
    let mut rs = Resampler::new(16000, 16000, 1).unwrap();
    assert_eq!(rs.latency(), 0);
    let y = run_raw(&mut rs, &x);
    assert_eq!(y, x);
}

#[test]
fn bad_configurations_are_refused() {
    assert_eq!(Resampler::new(22000, 48000, 1).unwrap_err(), ResampleError::UnsupportedRate(22000));
    assert_eq!(Resampler::new(48000, 0, 1).unwrap_err(), ResampleError::UnsupportedRate(0));
    let msg = Resampler::new(192000, 48000, 1).unwrap_err().to_string();
    for r in SUPPORTED_RATES {
        assert!(msg.contains(&r.to_string()), "{msg}");
    }
    assert_eq!(Resampler::new(8000, 16000, 0).unwrap_err(), ResampleError::BadChannels(0));
    assert_eq!(Resampler::new(8000, 16000, 9).unwrap_err(), ResampleError::BadChannels(9));
}

#[test]
fn non_finite_input_never_reaches_the_output() {
    let mut rs = Resampler::new(8000, 48000, 1).unwrap();
    let mut x = vec![0.5f32; 400];
    x[10] = f32::NAN;
    x[11] = f32::INFINITY;
    x[12] = f32::NEG_INFINITY;
    x[13] = f32::MAX;
    x[14] = -f32::MAX;
    let y = run_raw(&mut rs, &x);
    assert!(y.iter().all(|v| v.is_finite()));
    assert_eq!(rs.nonfinite_count(), 3);
}

/// The node yields one output quantum per input quantum, reports its latency, and matches
/// the plain resampler sample for sample.
#[test]
fn node_matches_resampler_and_reports_latency() {
    let mut rng = Rng(SplitMix64::new(3));
    for (a, b, ch, q) in
        [(8000, 48000, 1u16, Quantum::MS_10), (48000, 16000, 2, Quantum::MS_20), (44100, 48000, 1, Quantum::MS_10)]
    {
        let node = ResamplerNode::new(a, b, ch).unwrap();
        let mut plain = Resampler::new(a, b, usize::from(ch)).unwrap();
        let lat = plain.latency() as f64 / f64::from(b) * 1e9;
        let mut h = NodeHarness::new(Box::new(node), q).unwrap();
        assert!((h.spec().latency_ns as f64 - lat).abs() <= 0.5, "{a}->{b}");
        let n_in = q.frames_at(a).unwrap() * usize::from(ch);
        let n_out = q.frames_at(b).unwrap() * usize::from(ch);
        let mut want = vec![0.0f32; n_out];
        for _ in 0..25 {
            let x: Vec<f32> = (0..n_in).map(|_| (rng.uniform() - 0.5) as f32).collect();
            h.audio_in_mut(0).copy_from_slice(&x);
            assert_eq!(h.run(), 0);
            assert_eq!(plain.process(&x, &mut want), (n_in, n_out));
            assert_eq!(h.audio_out(0), &want[..]);
        }
    }
}

#[test]
fn node_reports_and_silences_nan_input() {
    let mut h = NodeHarness::new(Box::new(ResamplerNode::new(48000, 8000, 1).unwrap()), Quantum::MS_10).unwrap();
    h.audio_in_mut(0).fill(0.25);
    h.audio_in_mut(0)[7] = f32::NAN;
    assert_eq!(h.run(), 1);
    assert!(h.audio_out(0).iter().all(|&v| v == 0.0), "silent quantum");
    h.audio_in_mut(0).fill(0.25);
    assert_eq!(h.run(), 0);
    assert!(h.audio_out(0).iter().all(|v| v.is_finite() && v.abs() < 0.3));
    h.processor_mut().reset();
    assert_eq!(h.run(), 0);
    assert_eq!(h.spec().type_name, "resample");
    let spec = ResamplerNode::new(44100, 16000, 2).unwrap().spec();
    assert_eq!(spec.inputs[0].name, "in");
    assert_eq!(spec.outputs[0].name, "out");
}
