//! Noise suppression (classic and neural), gain control and voice activity detection on the
//! bundled speech (`examples/data`, MIT, Silero Team), printing what they measure.
//!
//! * NS: the 16 kHz speaker at −26 dBFS active with pink noise at 5 dB SNR (after 2 s of
//!   noise alone): segmental SNR in and out, noise attenuation, for the spectral suppressor
//!   and for RNNoise.
//! * AGC: the same speech at −45, −27 and −6 dBFS: output loudness (BS.1770) and its spread;
//!   then 20 dB level jumps every 4 s: short-term loudness spread in and out.
//! * VAD: F1 against energy labels of the clean speech, in pink noise at 10 dB SNR.
//! * The whole chain ([`AudioProcessor`]) and each module's time per 10 ms frame.
//!
//! ```text
//! cargo run --release --example processing_demo
//! ```

use rvoip_media_nodes::apm::loudness::integrated_loudness;
use rvoip_media_nodes::apm::{
    AdvancedAgcConfig, AdvancedVadConfig, Agc, AudioProcessingConfig, AudioProcessor, NoiseSuppressor, NsConfig,
    RnnoiseSuppressor, Vad,
};
use std::path::PathBuf;
use std::time::Instant;

const FS: usize = 16000;
const HOP: usize = FS / 100;

fn read(name: &str) -> Vec<f32> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data").join(name);
    let mut r = hound::WavReader::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    r.samples::<i16>().map(|s| f32::from(s.expect("16-bit PCM")) / 32768.0).collect()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

fn db(a: f64, b: f64) -> f64 {
    10.0 * (a / b.max(1e-20)).log10()
}

fn set_active(x: &[f32], dbfs: f64) -> Vec<f32> {
    let e: Vec<f64> = x.chunks_exact(HOP).map(|c| energy(c) / HOP as f64).collect();
    let peak = e.iter().cloned().fold(0.0, f64::max);
    let act: Vec<f64> = e.into_iter().filter(|v| *v > peak * 10f64.powf(-3.5)).collect();
    let level = 10.0 * (act.iter().sum::<f64>() / act.len() as f64).log10();
    let g = 10f64.powf((dbfs - level) / 20.0) as f32;
    x.iter().map(|v| v * g).collect()
}

/// Unit-RMS pink noise (Paul Kellet's economy filter on uniform white noise).
fn pink(n: usize, seed: u64) -> Vec<f32> {
    let mut s = rvoip_media_core::graph::SplitMix64::new(seed);
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let w = s.bipolar() * 1.73;
            b0 = 0.99765 * b0 + w * 0.099_046;
            b1 = 0.96300 * b1 + w * 0.296_516_4;
            b2 = 0.57000 * b2 + w * 1.052_691_3;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect();
    let r = (energy(&v) / n as f64).sqrt() as f32;
    v.into_iter().map(|x| x / r).collect()
}

fn mix(clean: &[f32], snr_db: f32, seed: u64) -> Vec<f32> {
    let k = 10f32.powf((-26.0 - snr_db) / 20.0);
    clean.iter().zip(pink(clean.len(), seed)).map(|(s, v)| s + k * v).collect()
}

/// Mean segmental SNR (20 ms, clamped to [-10, 35] dB) over frames within 40 dB of the loudest.
fn segsnr(clean: &[f32], test: &[f32]) -> f64 {
    let fr: Vec<(f64, f64)> = clean
        .chunks_exact(2 * HOP)
        .zip(test.chunks_exact(2 * HOP))
        .map(|(c, t)| (energy(c), c.iter().zip(t).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>()))
        .collect();
    let peak = fr.iter().map(|f| f.0).fold(0.0, f64::max);
    let v: Vec<f64> = fr.iter().filter(|f| f.0 > peak * 1e-4).map(|f| db(f.0, f.1).clamp(-10.0, 35.0)).collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Runs `f` on every 10 ms frame of `x`; returns the output and the time per frame in µs.
fn frames(x: &[f32], mut f: impl FnMut(&mut [f32])) -> (Vec<f32>, f64) {
    let mut y = x.to_vec();
    let t0 = Instant::now();
    for c in y.chunks_exact_mut(HOP) {
        f(c);
    }
    (y, t0.elapsed().as_secs_f64() * 1e6 / (x.len() / HOP) as f64)
}

fn align(mut y: Vec<f32>, latency: usize) -> Vec<f32> {
    let n = y.len();
    y.drain(..latency.min(n));
    y.resize(n, 0.0);
    y
}

fn main() {
    let speech = read("speech_en_16k.wav");
    let mut clean = vec![0.0f32; 2 * FS];
    clean.extend(set_active(&speech[5 * FS..35 * FS], -26.0));
    let noisy = mix(&clean, 5.0, 11);

    println!("Noise suppression: pink noise at 5 dB SNR, 30 s of speech");
    let seg_in = segsnr(&clean[2 * FS..], &noisy[2 * FS..]);
    let mut classic = NoiseSuppressor::new(NsConfig::new(16000)).expect("NS");
    let (y, us_ns) = frames(&noisy, |c| {
        classic.process_frame(c);
    });
    let y = align(y, HOP);
    let mut neural = RnnoiseSuppressor::new(16000).expect("RNNoise");
    let lat = neural.latency();
    let (z, us_rnn) = frames(&noisy, |c| {
        neural.process_frame(c);
    });
    let z = align(z, lat);
    for (name, out, us) in [("classic", &y, us_ns), ("rnnoise", &z, us_rnn)] {
        println!(
            "  {name:8} segSNR {seg_in:5.1} -> {:5.1} dB, noise down {:5.1} dB, {us:5.1} us per frame",
            segsnr(&clean[2 * FS..], &out[2 * FS..]),
            db(energy(&noisy[FS / 2..2 * FS]), energy(&out[FS / 2..2 * FS]))
        );
    }

    println!("Gain control: target -23 LUFS");
    let src = &speech[20 * FS..40 * FS];
    let mut outs = Vec::new();
    let mut us_agc = 0.0;
    for level in [-45.0, -27.0, -6.0] {
        let x: Vec<f32> = set_active(src, level).iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        let mut agc = Agc::new(AdvancedAgcConfig::new(16000)).expect("AGC");
        let (y, us) = frames(&x, |c| {
            agc.process_frame(c, None);
        });
        us_agc = us;
        let l = integrated_loudness(&y[3 * FS..], 16000).unwrap_or(f64::NAN);
        println!("  input {level:5.1} dBFS -> output {l:6.1} LUFS");
        outs.push(l);
    }
    let spread = outs.iter().cloned().fold(f64::MIN, f64::max) - outs.iter().cloned().fold(f64::MAX, f64::min);
    let jumps: Vec<f32> = set_active(&speech[..32 * FS], -10.0)
        .iter()
        .enumerate()
        .map(|(i, v)| if (i / (4 * FS)) % 2 == 1 { v * 0.1 } else { *v })
        .collect();
    let mut agc = Agc::new(AdvancedAgcConfig::new(16000)).expect("AGC");
    let (yj, _) = frames(&jumps, |c| {
        agc.process_frame(c, None);
    });
    let st_std = |s: &[f32]| {
        let v: Vec<f64> = (0..)
            .map(|k| 3 * FS + k * FS / 2)
            .take_while(|a| a + 3 * FS <= s.len())
            .filter_map(|a| integrated_loudness(&s[a..a + 3 * FS], 16000))
            .collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    println!(
        "  spread over input levels {spread:.2} LU; 20 dB jumps: short-term std {:.1} -> {:.1} LU",
        st_std(&jumps),
        st_std(&yj)
    );

    println!("Voice activity: pink noise at 10 dB SNR");
    let vclean = set_active(&speech[30 * FS..60 * FS], -26.0);
    let vnoisy = mix(&vclean, 10.0, 12);
    let e: Vec<f64> = vclean.chunks_exact(HOP).map(|c| 10.0 * (energy(c) / HOP as f64 + 1e-20).log10()).collect();
    let mut sorted = e.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let thr = (sorted[sorted.len() * 99 / 100] - 40.0).max(-65.0);
    let labels: Vec<bool> = e.iter().map(|v| *v > thr).collect();
    let mut vad = Vad::new(AdvancedVadConfig::new(16000)).expect("VAD");
    let t0 = Instant::now();
    let d: Vec<bool> = vnoisy.chunks_exact(HOP).map(|c| vad.process_frame(c).is_speech).collect();
    let us_vad = t0.elapsed().as_secs_f64() * 1e6 / d.len() as f64;
    let (mut tp, mut fp, mut fnn) = (0.0, 0.0, 0.0);
    for (p, l) in d.iter().zip(&labels) {
        match (p, l) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fnn += 1.0,
            _ => {}
        }
    }
    let (p, r) = (tp / (tp + fp), tp / (tp + fnn));
    println!("  F1 {:.3} (precision {p:.2}, recall {r:.2}), {us_vad:.2} us per frame", 2.0 * p * r / (p + r));

    let cfg = AudioProcessingConfig::new(16000).with_ns(true).with_agc(true).with_vad(true);
    let mut apm = AudioProcessor::new(cfg).expect("AudioProcessor");
    let (_, us_chain) = frames(&noisy, |c| {
        apm.process_capture_audio(c);
    });
    println!("Timing per 10 ms frame: NS {us_ns:.1} us, RNNoise {us_rnn:.1} us, AGC {us_agc:.1} us, VAD {us_vad:.2} us, NS+AGC+VAD chain {us_chain:.1} us");
}
