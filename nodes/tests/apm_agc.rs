//! AGC: output loudness (BS.1770, checked against pyloudnorm in apm_loudness.rs) over input
//! levels, level jumps, limiter ceiling, multiband flatness, robustness.

mod apm_common;

use apm_common::{set_active, speech, sweep, Noise};
use rvoip_media_graph::{NodeHarness, Quantum};
use rvoip_media_nodes::apm::agc::{Crossover3, Limiter};
use rvoip_media_nodes::apm::loudness::integrated_loudness;
use rvoip_media_nodes::apm::{AdvancedAgcConfig, Agc};

fn run(cfg: AdvancedAgcConfig, x: &[f32]) -> Vec<f32> {
    let mut a = Agc::new(cfg).unwrap();
    let mut y = x.to_vec();
    for c in y.chunks_exact_mut(cfg.sample_rate as usize / 100) {
        a.process_frame(c, None);
    }
    y
}

#[test]
fn output_loudness_is_independent_of_input_level() {
    let src = &speech(16000)[16000 * 20..16000 * 40];
    let mut outs = Vec::new();
    for level in [-45.0, -36.0, -27.0, -18.0, -12.0, -6.0] {
        let x: Vec<f32> = set_active(src, 16000, level).iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        let y = run(AdvancedAgcConfig::new(16000), &x);
        let l = integrated_loudness(&y[16000 * 3..], 16000).unwrap();
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= 0.8913 + 1e-6, "level {level}: peak {peak}");
        outs.push(l);
    }
    let spread = outs.iter().cloned().fold(f64::MIN, f64::max) - outs.iter().cloned().fold(f64::MAX, f64::min);
    println!("output loudness {outs:?}, spread {spread:.2} LU");
    assert!(spread <= 1.0, "spread {spread:.2} LU: {outs:?}");
    for l in &outs {
        assert!((l + 23.0).abs() < 1.0, "{l}");
    }
}

/// Standard deviation of the short-term loudness (3 s windows, hop 0.5 s, from 3 s on), LU.
fn st_std(y: &[f32]) -> f64 {
    let mut v = Vec::new();
    let mut s = 16000 * 3;
    while s + 48000 <= y.len() {
        if let Some(l) = integrated_loudness(&y[s..s + 48000], 16000) {
            v.push(l);
        }
        s += 8000;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / v.len() as f64).sqrt()
}

/// 4 s blocks alternating between -10 and -30 dBFS active, as the evaluation kit's.
fn jumps(src: &[f32]) -> Vec<f32> {
    let src = set_active(src, 16000, -10.0);
    src.iter().enumerate().map(|(i, v)| if (i / 64000) % 2 == 1 { v * 0.1 } else { *v }).collect()
}

#[test]
fn level_jumps_of_other_talkers_are_followed() {
    // The other bundled speaker (8 kHz, upsampled) at three offsets (issue 13: on speech it
    // was not tuned on the output's short-term loudness spread approached the input's).
    // Measured: 3.30 LU at offset 0 before the fast step average; 2.79 / 2.54 / 2.01 LU with
    // it (input 8.9 / 8.5 / 8.0 LU).
    let up: Vec<f32> = speech(8000).iter().flat_map(|v| [*v, *v]).collect();
    for off in [0usize, 60, 120] {
        let x = jumps(&up[16000 * off..16000 * (off + 32)]);
        let y = run(AdvancedAgcConfig::new(16000), &x);
        let (si, so) = (st_std(&x), st_std(&y));
        println!("offset {off} s: short-term loudness std in {si:.2} LU, out {so:.2} LU");
        assert!(si > 7.0 && so <= 3.2, "offset {off} s: in {si:.2} LU, out {so:.2} LU");
    }
}

#[test]
fn level_jumps_are_followed() {
    let x = jumps(&speech(16000)[..16000 * 32]);
    let std_of = |y: &[f32]| {
        let mut v = Vec::new();
        let mut s = 16000 * 3;
        while s + 48000 <= y.len() {
            if let Some(l) = integrated_loudness(&y[s..s + 48000], 16000) {
                v.push(l);
            }
            s += 8000;
        }
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let y = run(AdvancedAgcConfig::new(16000), &x);
    let (si, so) = (std_of(&x), std_of(&y));
    println!("short-term loudness std: in {si:.2} LU, out {so:.2} LU");
    assert!(si > 7.0);
    assert!(so <= 4.0, "out {so:.2} LU");
}

#[test]
fn pauses_filled_with_breath_and_room_noise_do_not_pump_the_gain() {
    sweep(5, |_| {
        // Loud speech (−10 dBFS active) with two 2 s pauses holding unvoiced noise 28 dB below
        // the speech: a level-following AGC that trusts every frame above its noise floor raises
        // the gain through the pause and blasts the next words.
        let rate = 16000usize;
        let src = set_active(&speech(16000)[..rate * 24], 16000, -10.0);
        let mut n = Noise::new(41);
        let mut x = src.clone();
        for start in [8 * rate, 16 * rate] {
            let hiss = n.pink(2 * rate);
            for (v, h) in x[start..start + 2 * rate].iter_mut().zip(&hiss) {
                *v = 10f32.powf(-38.0 / 20.0) * h;
            }
        }
        let mut a = Agc::new(AdvancedAgcConfig::new(16000)).unwrap();
        let mut y = x.clone();
        let mut gain_in_pause = f32::MIN;
        for (i, c) in y.chunks_exact_mut(rate / 100).enumerate() {
            a.process_frame(c, None);
            let t = i * rate / 100;
            if (8 * rate..10 * rate).contains(&t) || (16 * rate..18 * rate).contains(&t) {
                gain_in_pause = gain_in_pause.max(a.gain_db());
            }
        }
        // The gain needed for speech is about −13 dB; it may drift a little in a pause, not climb.
        println!("largest gain in the pauses {gain_in_pause:.1} dB");
        assert!(gain_in_pause < -8.0, "gain rose to {gain_in_pause:.1} dB in a pause");
        // The second after each pause is at the target, not far above it.
        for start in [10 * rate, 18 * rate] {
            let l = integrated_loudness(&y[start..start + 2 * rate], 16000).unwrap();
            assert!(l < -20.0, "speech after a pause at {l:.1} LUFS");
        }
    });
}

#[test]
fn full_scale_square_wave_never_exceeds_the_ceiling() {
    for (la, multiband) in [(0.0, false), (5.0, false), (8.0, true)] {
        let mut cfg = AdvancedAgcConfig::new(16000).with_limiter(la, -1.0);
        if multiband {
            cfg = cfg.with_multiband(250.0, 4000.0);
        }
        let x: Vec<f32> = (0..16000 * 3).map(|i| if (i / 40) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let y = run(cfg, &x);
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak <= 0.8913 + 1e-6 && y.iter().all(|v| v.is_finite()), "la {la}: peak {peak}");
        let tail_rms = apm_common::rms(&y[16000 * 2..]);
        assert!(tail_rms > 0.02, "the square wave is attenuated, not muted: {tail_rms}");
    }
}

#[test]
fn limiter_with_lookahead_is_transparent_below_the_ceiling_and_catches_peaks() {
    let mut l = Limiter::new(16000, 5.0, -1.0);
    assert_eq!(l.latency(), 80);
    let x: Vec<f32> = (0..4000).map(|i| 0.3 * (i as f32 * 0.05).sin() + if i == 2000 { 1.5 } else { 0.0 }).collect();
    let y: Vec<f32> = x.iter().map(|v| l.tick(*v)).collect();
    // Before the peak's look-ahead window, the output is the input delayed by 80 samples.
    for i in 80..1900 {
        assert!((y[i] - x[i - 80]).abs() < 1e-6, "{i}");
    }
    assert!(y.iter().all(|v| v.abs() <= l.ceiling() + 1e-6));
    // The gain recovers after the peak (release ~60 ms).
    assert!((y[3999] - x[3999 - 80]).abs() < 0.02);
}

#[test]
fn crossover_bands_sum_to_flat_magnitude() {
    sweep(5, |_| {
        let mut x3 = Crossover3::new(16000, 250.0, 4000.0);
        let mut g = Noise::new(11);
        let x = g.white(16000 * 2);
        let y: Vec<f32> = x.iter().map(|v| x3.split(*v).iter().sum()).collect();
        // An all-pass keeps the energy of white noise.
        let (ex, ey) = (apm_common::energy(&x[1000..]), apm_common::energy(&y[1000..]));
        let d = 10.0 * (ey / ex).log10();
        assert!(d.abs() < 0.2, "{d} dB");
        // And each band holds what it should: a 100 Hz tone lands in the low band.
        let mut x3 = Crossover3::new(16000, 250.0, 4000.0);
        let mut e = [0.0f64; 3];
        for i in 0..16000 {
            let b = x3.split((i as f32 * 2.0 * std::f32::consts::PI * 100.0 / 16000.0).sin());
            for k in 0..3 {
                e[k] += f64::from(b[k] * b[k]);
            }
        }
        assert!(e[0] > 50.0 * (e[1] + e[2]), "{e:?}");
    });
}

#[test]
fn node_handles_bad_input_and_params() {
    let agc = Agc::new(AdvancedAgcConfig::new(48000)).unwrap();
    let mut h = NodeHarness::new(Box::new(agc), Quantum::MS_10).unwrap();
    h.audio_in_mut(0).fill(f32::NAN);
    assert_eq!(h.run(), 1);
    assert!(h.audio_out(0).iter().all(|v| v.is_finite()));
    h.audio_in_mut(0).fill(0.5);
    assert_eq!(h.run(), 0);
    assert!(h.audio_out(0).iter().all(|v| v.is_finite() && v.abs() <= 0.8914));
    assert!(h.processor_mut().set_param(Agc::PARAM_TARGET_LUFS, -18.0).is_ok());
    assert!(h.processor_mut().set_param(Agc::PARAM_TARGET_LUFS, 3.0).is_err());
    assert!(Agc::new(AdvancedAgcConfig::new(16000).with_limiter(9.0, -1.0)).is_err());
    assert!(Agc::new(AdvancedAgcConfig::new(16000).with_target_lufs(f32::NAN)).is_err());
}

#[test]
fn block_fast_path_equals_sample_processing() {
    sweep(5, |_| {
        let mut g = Noise::new(21);
        let x: Vec<f32> =
            g.white(16000).iter().enumerate().map(|(i, v)| v * if (i / 2000) % 3 == 0 { 0.6 } else { 0.05 }).collect();
        for la in [0.0, 2.0, 8.0] {
            let (mut a, mut b) = (Limiter::new(16000, la, -1.0), Limiter::new(16000, la, -1.0));
            let ya: Vec<f32> = x.iter().map(|v| a.tick(*v)).collect();
            let mut yb = x.clone();
            for c in yb.chunks_mut(160) {
                b.process(c);
            }
            for (i, (p, q)) in ya.iter().zip(&yb).enumerate() {
                assert!((p - q).abs() < 1e-5, "la {la}, sample {i}: {p} vs {q}");
            }
        }
    });
}
