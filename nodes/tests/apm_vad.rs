//! VAD: F1 against energy labels of the clean speech, false alarms on noise, robustness.

mod apm_common;

use apm_common::{labels, prf, set_active, speech, Noise};
use rvoip_media_graph::{NodeHarness, Quantum};
use rvoip_media_nodes::apm::{AdvancedVadConfig, Vad};

fn run(x: &[f32], rate: u32) -> Vec<bool> {
    let mut v = Vad::new(AdvancedVadConfig::new(rate)).unwrap();
    x.chunks_exact(rate as usize / 100).map(|c| v.process_frame(c).is_speech).collect()
}

fn f1_in_noise(pink: bool, snr_db: f64) -> (f64, f64, f64) {
    let clean = set_active(&speech(16000)[..16000 * 30], 16000, -26.0);
    let mut g = Noise::new(7);
    let n = if pink { g.pink(clean.len()) } else { g.white(clean.len()) };
    let gain = 10f64.powf((-26.0 - snr_db) / 20.0) as f32;
    let noisy: Vec<f32> = clean.iter().zip(&n).map(|(s, v)| s + gain * v).collect();
    let l = labels(&clean, 16000);
    let d = run(&noisy, 16000);
    prf(&d, &l)
}

#[test]
fn f1_on_speech_in_pink_and_white_noise() {
    for (pink, snr, min_f1) in [(true, 20.0, 0.90), (true, 5.0, 0.85), (false, 5.0, 0.85)] {
        let (p, r, f1) = f1_in_noise(pink, snr);
        println!("pink={pink} snr={snr}: P {p:.3} R {r:.3} F1 {f1:.3}");
        assert!(f1 >= min_f1, "pink={pink} snr={snr}: F1 {f1:.3} (P {p:.3}, R {r:.3})");
    }
}

#[test]
fn noise_alone_is_not_speech() {
    let mut g = Noise::new(3);
    for (name, x) in [("white", g.white(16000 * 10)), ("pink", g.pink(16000 * 10))] {
        let x: Vec<f32> = x.iter().map(|v| v * 0.03).collect();
        let d = run(&x, 16000);
        let fa = d[200..].iter().filter(|v| **v).count() as f64 / (d.len() - 200) as f64;
        assert!(fa < 0.03, "{name}: false alarm rate {fa:.3}");
    }
}

#[test]
fn silence_dc_and_square_waves_are_handled() {
    let mut v = Vad::new(AdvancedVadConfig::new(16000)).unwrap();
    for _ in 0..100 {
        let d = v.process_frame(&[0.0; 160]);
        assert!(!d.is_speech && d.probability < 0.05);
    }
    for _ in 0..300 {
        let d = v.process_frame(&[0.5; 160]);
        assert!(d.probability.is_finite());
    }
    assert!(!v.last().is_speech, "DC is not speech");
    let sq: Vec<f32> = (0..160).map(|i| if (i / 40) % 2 == 0 { 1.0 } else { -1.0 }).collect();
    for _ in 0..100 {
        let d = v.process_frame(&sq);
        assert!((0.0..=1.0).contains(&d.probability));
        assert!(d.features.energy_db.is_finite() && d.features.centroid_hz.is_finite());
    }
}

#[test]
fn every_rate_detects_speech_and_rejects_silence() {
    let s16 = set_active(&speech(16000)[..16000 * 10], 16000, -26.0);
    let s8 = set_active(&speech(8000)[..8000 * 10], 8000, -26.0);
    for (rate, x) in
        [(8000u32, s8.clone()), (16000, s16.clone()), (32000, upsample(&s16, 2)), (48000, upsample(&s16, 3))]
    {
        let l = labels(&x, rate);
        let d = run(&x, rate);
        let (_, r, f1) = prf(&d, &l);
        assert!(f1 > 0.85 && r > 0.85, "{rate} Hz: F1 {f1:.3} recall {r:.3}");
        let z = run(&vec![0.0; rate as usize * 2], rate);
        assert!(z.iter().all(|v| !v));
    }
}

/// Zero-order-hold upsampling followed by a short moving average: crude, but the VAD only
/// needs a speech-like signal at the higher rate.
fn upsample(x: &[f32], k: usize) -> Vec<f32> {
    let y: Vec<f32> = x.iter().flat_map(|v| std::iter::repeat(*v).take(k)).collect();
    (0..y.len()).map(|i| y[i.saturating_sub(k - 1)..=i].iter().sum::<f32>() / k as f32).collect()
}

#[test]
fn node_reports_non_finite_input_and_outputs_controls() {
    let vad = Vad::new(AdvancedVadConfig::new(16000)).unwrap();
    let mut h = NodeHarness::new(Box::new(vad), Quantum::MS_10).unwrap();
    let x = set_active(&speech(16000)[16000..16000 * 4], 16000, -20.0);
    let mut speech_frames = 0;
    for c in x.chunks_exact(160) {
        h.audio_in_mut(0).copy_from_slice(c);
        assert_eq!(h.run(), 0);
        let p = h.control_out(0);
        assert!((0.0..=1.0).contains(&p));
        if h.control_out(1) == 1.0 {
            speech_frames += 1;
        }
    }
    assert!(speech_frames > 100, "{speech_frames}");
    h.audio_in_mut(0).fill(f32::NAN);
    assert_eq!(h.run(), 1);
    assert!(h.control_out(0).is_finite());
    h.audio_in_mut(0).fill(f32::INFINITY);
    assert_eq!(h.run(), 1);
    assert!(h.control_out(0).is_finite());
    assert!(h.processor_mut().set_param(Vad::PARAM_THRESHOLD, 0.7).is_ok());
    assert!(h.processor_mut().set_param(Vad::PARAM_THRESHOLD, f32::NAN).is_err());
    assert!(h.processor_mut().set_param(99, 0.0).is_err());
}

#[test]
fn bad_configs_are_refused() {
    assert!(Vad::new(AdvancedVadConfig::new(44_123)).is_err());
    assert!(Vad::new(AdvancedVadConfig::new(0)).is_err());
    assert!(Vad::new(AdvancedVadConfig::new(16000).with_threshold(1.5)).is_err());
    assert!(Vad::new(AdvancedVadConfig::new(16000).with_band(3000.0, 3100.0)).is_err());
}

#[test]
fn fast_ln_matches_ln() {
    use rvoip_media_nodes::apm::vad::fast_ln;
    let mut x = 1e-30f32;
    while x < 1e30 {
        assert!((fast_ln(x) - x.ln()).abs() < 2e-4, "{x}");
        x *= 1.37;
    }
    assert_eq!(fast_ln(0.0), -87.3);
    assert_eq!(fast_ln(-1.0), -87.3);
    assert_eq!(fast_ln(f32::NAN), -87.3);
}
