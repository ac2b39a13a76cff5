//! Noise suppression: measured noise attenuation and segmental SNR gain, level ordering,
//! perfect reconstruction of a noise-free signal's timing, robustness.

mod apm_common;

use apm_common::{energy, set_active, speech, Noise};
use rvoip_media_graph::{NodeHarness, Quantum};
use rvoip_media_nodes::apm::{NoiseSuppressor, NsConfig, NsLevel};

fn run(level: NsLevel, x: &[f32]) -> Vec<f32> {
    let mut ns = NoiseSuppressor::new(NsConfig::new(16000).with_level(level)).unwrap();
    let mut y = x.to_vec();
    for c in y.chunks_exact_mut(160) {
        ns.process_frame(c);
    }
    // Undo the one-frame latency.
    y.drain(..160);
    y.extend(std::iter::repeat(0.0).take(160));
    y
}

/// Mean segmental SNR (20 ms frames, clamped to [-10, 35] dB) over frames where the clean
/// signal is within 40 dB of its loudest frame.
fn segsnr(clean: &[f32], test: &[f32]) -> f64 {
    let fr: Vec<(f64, f64)> = clean
        .chunks_exact(320)
        .zip(test.chunks_exact(320))
        .map(|(c, t)| (energy(c), c.iter().zip(t).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>()))
        .collect();
    let peak = fr.iter().map(|f| f.0).fold(0.0, f64::max);
    let act: Vec<f64> = fr
        .iter()
        .filter(|f| f.0 > peak * 1e-4)
        .map(|f| (10.0 * (f.0 / (f.1 + 1e-20)).log10()).clamp(-10.0, 35.0))
        .collect();
    act.iter().sum::<f64>() / act.len() as f64
}

fn noisy(snr_db: f64, seed: u64, pink: bool) -> (Vec<f32>, Vec<f32>) {
    // 2 s of noise alone, then 20 s of speech.
    let mut clean = vec![0.0f32; 32000];
    clean.extend(set_active(&speech(16000)[16000 * 5..16000 * 25], 16000, -26.0));
    let mut g = Noise::new(seed);
    let n = if pink { g.pink(clean.len()) } else { g.white(clean.len()) };
    let k = 10f64.powf((-26.0 - snr_db) / 20.0) as f32;
    let x = clean.iter().zip(&n).map(|(s, v)| s + k * v).collect();
    (clean, x)
}

#[test]
fn white_and_pink_noise_are_attenuated_and_speech_snr_improves() {
    for pink in [false, true] {
        for snr in [0.0, 10.0] {
            let (clean, x) = noisy(snr, 5, pink);
            let y = run(NsLevel::High, &x);
            let att = 10.0 * (energy(&x[8000..32000]) / energy(&y[8000..32000])).log10();
            let (si, so) = (segsnr(&clean[32000..], &x[32000..]), segsnr(&clean[32000..], &y[32000..]));
            println!("pink={pink} snr={snr}: noise attenuation {att:.1} dB, segSNR {si:.1} -> {so:.1} dB");
            assert!(att > 12.0, "pink={pink} snr={snr}: {att:.1} dB");
            assert!(so > si + 2.0, "pink={pink} snr={snr}: segSNR {si:.1} -> {so:.1}");
        }
    }
}

#[test]
fn stronger_levels_attenuate_more() {
    let (_, x) = noisy(5.0, 9, false);
    let mut last = 0.0;
    for l in [NsLevel::Low, NsLevel::Moderate, NsLevel::High, NsLevel::VeryHigh] {
        let y = run(l, &x);
        let att = 10.0 * (energy(&x[8000..32000]) / energy(&y[8000..32000])).log10();
        assert!(att > last + 2.0, "{l:?}: {att:.1} dB after {last:.1}");
        assert!(att < -l.floor_db() as f64 + 3.0, "{l:?}: {att:.1} dB is beyond its floor");
        last = att;
    }
}

#[test]
fn clean_speech_is_nearly_untouched() {
    let x = set_active(&speech(16000)[..16000 * 10], 16000, -26.0);
    let mut g = Noise::new(1);
    let x: Vec<f32> = x.iter().zip(g.white(x.len())).map(|(s, n)| s + 1e-4 * n).collect();
    let y = run(NsLevel::High, &x);
    let s = segsnr(&x[16000..], &y[16000..]);
    assert!(s > 15.0, "segSNR of output vs input {s:.1} dB");
}

#[test]
fn silence_square_waves_and_non_finite_input() {
    let mut ns = NoiseSuppressor::new(NsConfig::new(32000)).unwrap();
    let mut z = [0.0f32; 320];
    for _ in 0..50 {
        ns.process_frame(&mut z);
        assert!(z.iter().all(|v| *v == 0.0));
    }
    for _ in 0..100 {
        let mut sq: Vec<f32> = (0..320).map(|i| if (i / 80) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        ns.process_frame(&mut sq);
        assert!(sq.iter().all(|v| v.is_finite() && v.abs() < 2.0));
    }
    let node = NoiseSuppressor::new(NsConfig::new(8000)).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
    h.audio_in_mut(0).fill(f32::NAN);
    assert_eq!(h.run(), 1);
    assert!(h.audio_out(0).iter().all(|v| v.is_finite()));
    h.audio_in_mut(0).fill(f32::NEG_INFINITY);
    assert_eq!(h.run(), 1);
    h.audio_in_mut(0).fill(0.1);
    assert_eq!(h.run(), 0);
    assert!(h.audio_out(0).iter().all(|v| v.is_finite()));
    assert!(h.processor_mut().set_param(NoiseSuppressor::PARAM_LEVEL, 3.0).is_ok());
    assert!(h.processor_mut().set_param(NoiseSuppressor::PARAM_LEVEL, 4.0).is_err());
    assert_eq!("very-high".parse::<NsLevel>(), Ok(NsLevel::VeryHigh));
    assert!("loud".parse::<NsLevel>().is_err());
}
