//! VAD: F1 against energy labels of the clean speech, synthetic voiced syllables in noise
//! (recall, false alarms, onset latency, hangover length), stationary-noise rejection, every
//! rate, non-finite input.

mod apm_common;

use apm_common::{labels, min_mean, prf, set_active, speech, sweep, Noise};
use rvoip_media_graph::{NodeHarness, Quantum, SplitMix64};
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
    sweep(5, |_| {
        for (pink, snr, min_f1) in [(true, 20.0, 0.90), (true, 5.0, 0.85), (false, 5.0, 0.85)] {
            let (p, r, f1) = f1_in_noise(pink, snr);
            println!("pink={pink} snr={snr}: P {p:.3} R {r:.3} F1 {f1:.3}");
            assert!(f1 >= min_f1, "pink={pink} snr={snr}: F1 {f1:.3} (P {p:.3}, R {r:.3})");
        }
    });
}

#[test]
fn noise_alone_is_not_speech() {
    sweep(5, |_| {
        let mut g = Noise::new(3);
        for (name, x) in [("white", g.white(16000 * 10)), ("pink", g.pink(16000 * 10))] {
            let x: Vec<f32> = x.iter().map(|v| v * 0.03).collect();
            let d = run(&x, 16000);
            let fa = d[200..].iter().filter(|v| **v).count() as f64 / (d.len() - 200) as f64;
            assert!(fa < 0.03, "{name}: false alarm rate {fa:.3}");
        }
    });
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
    assert!(Vad::new(AdvancedVadConfig::new(44_100)).is_ok());
    // Extreme but valid bands work (the analysis widens a band narrower than 16 bins).
    let (x, _) = voiced(16000, 2.0, 250, 250);
    for (lo, hi) in [(0.0, 250.0), (3500.0, 3750.0), (100.0, 8000.0)] {
        let mut v = Vad::new(AdvancedVadConfig::new(16000).with_band(lo, hi)).unwrap();
        for c in x.chunks_exact(160) {
            let d = v.process_frame(c);
            assert!((0.0..=1.0).contains(&d.probability) && d.features.llr.is_finite(), "{lo}-{hi} Hz: {d:?}");
        }
    }
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

/// Synthetic voiced "syllables": a harmonic series (f0 gliding 120 → 170 Hz, harmonics up
/// to 3.5 kHz with a 1/k roll-off shaped by formant-like peaks at 700 and 1200 Hz), on for
/// `on_ms`, off for `off_ms`, with 10 ms raised-cosine edges, at −26 dBFS while on.
/// Returns the signal and, per 10 ms frame, whether the syllable is on in that frame.
fn voiced(rate: u32, secs: f32, on_ms: usize, off_ms: usize) -> (Vec<f32>, Vec<bool>) {
    let n = (rate as f32 * secs) as usize;
    let per = rate as usize / 1000;
    let (on, period) = (on_ms * per, (on_ms + off_ms) * per);
    let ramp = 10 * per;
    let mut x = vec![0.0f32; n];
    let mut phase = 0.0f64;
    for (i, v) in x.iter_mut().enumerate() {
        let t = i % period;
        if t >= on {
            continue;
        }
        let f0 = 120.0 + 50.0 * t as f64 / on as f64;
        phase += 2.0 * std::f64::consts::PI * f0 / f64::from(rate);
        let mut s = 0.0;
        let mut k = 1;
        while k as f64 * f0 < 3500.0 {
            let f = k as f64 * f0;
            let formant =
                1.0 + 3.0 * (-((f - 700.0) / 200.0).powi(2)).exp() + 2.0 * (-((f - 1200.0) / 250.0).powi(2)).exp();
            s += formant / k as f64 * (k as f64 * phase).sin();
            k += 1;
        }
        let edge = (t.min(on - 1 - t) as f64 / ramp as f64).min(1.0);
        *v = (s * (0.5 - 0.5 * (std::f64::consts::PI * edge).cos())) as f32;
    }
    let x = set_active(&x, rate, -26.0);
    let hop = rate as usize / 100;
    let mask = (0..n / hop).map(|k| (k * hop) % period < on).collect();
    (x, mask)
}

fn add_noise(x: &[f32], noise: &[f32], snr_db: f64) -> Vec<f32> {
    let g = 10f64.powf((-26.0 - snr_db) / 20.0) as f32;
    x.iter().zip(noise).map(|(s, v)| s + g * v).collect()
}

/// Recall on syllable frames (the first frame of each syllable excluded: it may start
/// anywhere in the frame) and false-alarm rate on gap frames more than 150 ms after a
/// syllable (beyond any hangover), skipping the first 2 s (noise-floor start-up).
fn recall_and_false_alarms(d: &[bool], mask: &[bool]) -> (f64, f64) {
    let (mut hit, mut on, mut fa, mut off) = (0, 0, 0, 0);
    let mut since_on = usize::MAX / 2;
    for k in 200..d.len().min(mask.len()) {
        if mask[k] {
            since_on = 0;
            if mask[k - 1] {
                on += 1;
                hit += usize::from(d[k]);
            }
        } else {
            since_on += 1;
            if since_on > 15 {
                off += 1;
                fa += usize::from(d[k]);
            }
        }
    }
    (hit as f64 / on.max(1) as f64, fa as f64 / off.max(1) as f64)
}

#[test]
fn voiced_syllables_are_detected_in_noise() {
    sweep(5, |_| {
        // (noise, SNR dB, least recall, most false alarms)
        for (kind, snr, min_recall, max_fa) in [
            ("white", 10.0, 0.95, 0.02),
            ("pink", 10.0, 0.95, 0.02),
            ("pink", 0.0, 0.85, 0.05),
            ("brown", 5.0, 0.9, 0.05),
        ] {
            let (x, mask) = voiced(16000, 20.0, 250, 350);
            let mut g = Noise::new(11);
            let n = match kind {
                "white" => g.white(x.len()),
                "pink" => g.pink(x.len()),
                _ => brown(&mut g, x.len()),
            };
            let d = run(&add_noise(&x, &n, snr), 16000);
            let (r, fa) = recall_and_false_alarms(&d, &mask);
            println!("{kind} {snr} dB: recall {r:.3}, false alarms {fa:.3}");
            assert!(r >= min_recall && fa <= max_fa, "{kind} {snr} dB: recall {r:.3}, false alarms {fa:.3}");
        }
    });
}

/// Brown (random-walk, leaky) noise at unit RMS.
fn brown(g: &mut Noise, n: usize) -> Vec<f32> {
    let mut s = 0.0f32;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = 0.995 * s + 0.1 * g.next();
            s
        })
        .collect();
    let r = apm_common::rms(&v);
    v.iter().map(|x| x / r).collect()
}

#[test]
fn stationary_noises_are_rejected() {
    sweep(5, |_| {
        let mut g = Noise::new(5);
        let n = 16000 * 12;
        let hum: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f32 / 16000.0;
                (1..8).map(|k| (2.0 * std::f32::consts::PI * 50.0 * k as f32 * t).sin() / k as f32).sum::<f32>()
            })
            .collect();
        let pink = g.pink(n);
        for (name, x) in [
            ("brown", brown(&mut g, n)),
            ("hum + pink", hum.iter().zip(&pink).map(|(h, p)| 0.02 * h + 0.01 * p).collect()),
            ("loud white", g.white(n).iter().map(|v| 0.3 * v).collect()),
        ] {
            for rate_x in [16000u32, 48000] {
                let x = if rate_x == 16000 { x.clone() } else { upsample(&x, 3) };
                let d = run(&x, rate_x);
                let fa = d[200..].iter().filter(|v| **v).count() as f64 / (d.len() - 200) as f64;
                assert!(fa < 0.02, "{name} at {rate_x} Hz: false alarm rate {fa:.3}");
            }
        }
    });
}

/// Index of the first frame at or after `from` that is speech.
fn first_speech(d: &[bool], from: usize) -> Option<usize> {
    (from..d.len()).find(|&k| d[k])
}

#[test]
fn onset_latency_is_at_most_one_frame() {
    sweep(5, |_| {
        for (kind, snr) in [("white", 20.0), ("pink", 10.0)] {
            let (v, _) = voiced(16000, 0.5, 400, 100);
            let mut x = vec![0.0f32; 16000 * 3];
            x.extend_from_slice(&v);
            let mut g = Noise::new(2);
            let n = if kind == "white" { g.white(x.len()) } else { g.pink(x.len()) };
            let d = run(&add_noise(&x, &n, snr), 16000);
            let onset = 300;
            assert!(d[200..onset].iter().all(|v| !v), "{kind}: false alarm before the onset");
            let first = first_speech(&d, onset).expect("syllable detected");
            println!("{kind} {snr} dB: onset latency {} frames", first - onset);
            assert!(first - onset <= 1, "{kind} {snr} dB: onset latency {} frames", first - onset);
        }
    });
}

/// Frames marked speech by the hangover alone after the last frame whose probability is
/// above the threshold, for a long syllable at `snr_db` followed by noise.
fn hangover_after_offset(snr_db: f64, max_hang: u32) -> u32 {
    let (v, _) = voiced(16000, 1.0, 1000, 0);
    let mut x = vec![0.0f32; 16000 * 3];
    x.extend_from_slice(&v);
    x.extend(std::iter::repeat(0.0).take(16000));
    let mut g = Noise::new(9);
    let n = g.white(x.len());
    let x = add_noise(&x, &n, snr_db);
    let cfg = AdvancedVadConfig::new(16000).with_hangover_frames(max_hang);
    let mut vad = Vad::new(cfg).unwrap();
    let d: Vec<_> = x.chunks_exact(160).map(|c| vad.process_frame(c)).collect();
    // The syllable ends at frame 400; the probability falls below the threshold within
    // a few frames of it.
    let last_above = (395..d.len()).find(|&k| d[k].probability <= cfg.threshold).unwrap() - 1;
    assert!(last_above < 405, "offset at frame 400, probability fell at {last_above}");
    d[last_above + 1..].iter().take_while(|r| r.is_speech && r.probability <= cfg.threshold).count() as u32
}

#[test]
fn hangover_shortens_with_snr() {
    sweep(5, |_| {
        // Low SNR: the full configured hangover; 40 dB: none (the tail is as visible as the word).
        assert_eq!(hangover_after_offset(0.0, 10), 10);
        assert_eq!(hangover_after_offset(0.0, 25), 25);
        assert_eq!(hangover_after_offset(40.0, 10), 0);
        assert_eq!(hangover_after_offset(40.0, 25), 0);
        assert_eq!(hangover_after_offset(40.0, 0), 0);
    });
}

#[test]
fn a_click_gets_at_most_three_hangover_frames_per_detected_frame() {
    sweep(5, |_| {
        let mut g = Noise::new(4);
        let mut x: Vec<f32> = g.pink(16000 * 4).iter().map(|v| 0.001 * v).collect();
        g.add_burst(&mut x[16000 * 3..16000 * 3 + 80], 0.5, 20.0);
        let mut vad = Vad::new(AdvancedVadConfig::new(16000).with_hangover_frames(30)).unwrap();
        let d: Vec<_> = x.chunks_exact(160).map(|c| vad.process_frame(c)).collect();
        let above = d.iter().filter(|r| r.probability > 0.5).count();
        let speech = d.iter().filter(|r| r.is_speech).count();
        assert!(speech - above <= 3 * above, "{above} frames above threshold, {speech} speech frames");
        assert!(above <= 4, "{above} frames above threshold for one click");
    });
}

/// A fricative after a vowel that is not clearly voiced (a breathy vowel: white noise through
/// two broad resonances at 700 and 1200 Hz, harmonicity mostly 0.15–0.4, under the 0.5 that
/// lifts the click / hiss cap), as in digits like "six" at 20–30 dB SNR where the vowel's
/// harmonicity stays at 0.15–0.3. Before session 42 the cap took most of the fricative after such a vowel (share
/// of its frames speech 0.511 / 0.222 / 0.156 / 0.289 / 0.644 over five realisations); now
/// the cap no longer applies in a burst that has lasted three frames (1.000 in all five).
#[test]
fn a_fricative_after_a_breathy_vowel_is_speech() {
    sweep(5, |_| {
        let mut g = Noise::new(31);
        let resonate = |x: &[f32], f: f32, r: f32| {
            let w = 2.0 * std::f32::consts::PI * f / 16000.0;
            let (mut y1, mut y2) = (0.0f32, 0.0f32);
            x.iter()
                .map(|v| {
                    let y = v + 2.0 * r * w.cos() * y1 - r * r * y2;
                    (y2, y1) = (y1, y);
                    y
                })
                .collect::<Vec<f32>>()
        };
        let w = g.white(2400);
        let a = resonate(&w, 700.0, 0.9);
        let b = resonate(&w, 1200.0, 0.9);
        let vowel: Vec<f32> = a.iter().zip(&b).map(|(a, b)| a + 0.7 * b).collect();
        let vowel = set_active(&vowel, 16000, -26.0);
        let hiss = {
            let w = g.white(1600 + 2);
            let h: Vec<f32> = w.windows(2).map(|s| s[1] - s[0]).collect();
            set_active(&h, 16000, -26.0)
        };
        let mut x = Vec::new();
        let mut frames = Vec::new();
        for second in 0..12 {
            x.extend_from_slice(&vowel);
            x.extend_from_slice(&hiss);
            x.extend(std::iter::repeat_n(0.0f32, 16000 - 4000));
            // Past the noise floor's start-up, the fricative's frames but its first.
            if second >= 2 {
                frames.extend(100 * second + 16..100 * second + 25);
            }
        }
        let d = run(&add_noise(&x, &g.pink(x.len()), 30.0), 16000);
        let share = frames.iter().filter(|&&k| d[k]).count() as f64 / frames.len() as f64;
        let vowel_share = (2..12).flat_map(|s| 100 * s + 2..100 * s + 15).filter(|&k| d[k]).count() as f64 / 130.0;
        println!("breathy vowel {vowel_share:.3}, fricative after it {share:.3}");
        assert!(vowel_share > 0.9 && share > 0.9, "breathy vowel {vowel_share:.3}, fricative after it {share:.3}");
    });
}

/// Keyboard-like clicks as the evaluation kit makes them: bursts of 4–12 ms of white noise
/// decaying with a 2 ms time constant through a band-pass about 2.2 kHz (a biquad spanning
/// roughly 800–6000 Hz), at random instants seven a second on average, over a pink bed 30 dB
/// under the clicks' RMS; unit RMS.
fn keyboard(g: &mut Noise, n: usize) -> Vec<f32> {
    let mut x = vec![0.0f32; n];
    let mut t = 0.0f32;
    loop {
        t += -(0.5 + g.uni()).max(1e-6).ln() / 7.0;
        let k = (t * 16000.0) as usize;
        if k >= n {
            break;
        }
        let len = (16000.0 * (0.008 + 0.008 * g.uni())) as usize;
        let gain = 0.65 + 0.7 * g.uni();
        g.add_burst(&mut x[k..(k + len).min(n)], gain, 32.0);
    }
    // RBJ band-pass (0 dB peak), f0 2190 Hz, Q 0.42.
    let w0 = 2.0 * std::f32::consts::PI * 2190.0 / 16000.0;
    let alpha = w0.sin() / (2.0 * 0.42);
    let a0 = 1.0 + alpha;
    let (b0, a1, a2) = (alpha / a0, -2.0 * w0.cos() / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for v in x.iter_mut() {
        let y = b0 * (*v - x2) - a1 * y1 - a2 * y2;
        (x2, x1, y2, y1) = (x1, *v, y1, y);
        *v = y;
    }
    let r = apm_common::rms(&x);
    let bed = g.pink(n);
    x.iter().zip(&bed).map(|(c, b)| (c / r + 0.0316 * b) / 1.0005).collect()
}

/// The analysis window (32 ms) sees a click for three or four frames, the click's own 10 ms
/// frame for one: the frames after it, back at the bed's level, must not be taken for speech
/// on the window's evidence. Voiced syllables among clicks 10 dB under them (the kit's
/// `digits_keyboard_snr10`): false alarms in the gaps over five realisations 0.062 / 0.075 /
/// 0.068 / 0.028 / 0.045 (mean 0.056) before session 42, 0.040 / 0.058 / 0.045 / 0.010 /
/// 0.030 (mean 0.037) with the passed-transient cap, 0.040 / 0.058 / 0.050 / 0.013 / 0.030
/// (mean 0.038) with the click / hiss cap also lifted after three frames of a burst; recall
/// 1.000 in all.
#[test]
fn frames_after_a_click_are_not_speech() {
    let fa = sweep(5, |_| {
        let mut g = Noise::new(23);
        let (x, mask) = voiced(16000, 14.0, 250, 350);
        let d = run(&add_noise(&x, &keyboard(&mut g, x.len()), 10.0), 16000);
        let (recall, fa) = recall_and_false_alarms(&d, &mask);
        println!("syllables among clicks: recall {recall:.3}, false alarms {fa:.3}");
        assert!(recall > 0.95, "syllables among clicks: recall {recall:.3}");
        fa
    });
    let (_, mean) = min_mean(fa);
    assert!(mean < 0.045, "false alarms among clicks: mean {mean:.3} over five realisations");
}

#[test]
fn non_finite_input_gives_defined_decisions_and_does_not_poison_state() {
    sweep(5, |_| {
        let (v, mask) = voiced(16000, 6.0, 300, 300);
        let mut g = Noise::new(6);
        let n = g.white(v.len());
        let x = add_noise(&v, &n, 10.0);
        let mut vad = Vad::new(AdvancedVadConfig::new(16000)).unwrap();
        for c in x[..16000 * 2].chunks_exact(160) {
            vad.process_frame(c);
        }
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for _ in 0..3 {
                let r = vad.process_frame(&[bad; 160]);
                assert!((0.0..=1.0).contains(&r.probability), "{bad}: {r:?}");
                let f = r.features;
                for v in [
                    f.energy_db,
                    f.zcr,
                    f.centroid_hz,
                    f.rolloff_hz,
                    f.flux,
                    f.harmonicity,
                    f.pitch_hz,
                    f.llr,
                    f.snr_db,
                ] {
                    assert!(v.is_finite(), "{bad}: {f:?}");
                }
            }
        }
        let mut half = [0.0f32; 160];
        half[..80].fill(f32::NAN);
        assert!(vad.process_frame(&half).probability.is_finite());
        let d: Vec<bool> = x[16000 * 2..].chunks_exact(160).map(|c| vad.process_frame(c).is_speech).collect();
        let (r, fa) = recall_and_false_alarms(
            &[vec![false; 200], d].concat(),
            &[vec![false; 200], mask[200..].to_vec()].concat(),
        );
        assert!(r > 0.9 && fa < 0.05, "after non-finite input: recall {r:.3}, false alarms {fa:.3}");
    });
}

#[test]
fn every_rate_detects_voiced_syllables() {
    sweep(5, |_| {
        for rate in [8000u32, 16000, 24000, 32000, 44100, 48000] {
            let (x, mask) = voiced(rate, 10.0, 250, 350);
            let mut g = Noise::new(3);
            let n = g.pink(x.len());
            let d = run(&add_noise(&x, &n, 10.0), rate);
            let (r, fa) = recall_and_false_alarms(&d, &mask);
            assert!(r >= 0.95 && fa <= 0.02, "{rate} Hz: recall {r:.3}, false alarms {fa:.3}");
        }
    });
}

/// Uniform white noise in [−1, 1), the CLI test's kind that first showed start-up false alarms.
fn uniform_noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = SplitMix64::new(seed);
    (0..n).map(|_| s.bipolar()).collect()
}

/// Rounds to 16-bit PCM and back, as a WAV file round trip does.
fn quantise_i16(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) / 32768.0).collect()
}

#[test]
fn stationary_noise_at_start_up_is_not_speech() {
    sweep(5, |_| {
        // One second of stationary noise from the very first sample, then speech: while the
        // noise floors are still young, the noise must not be taken for speech (at most 2 % of
        // the first second), and the speech after it must still be found.
        for rate in [16000u32, 8000] {
            let hop = rate as usize / 100;
            let talk = set_active(&speech(rate)[..rate as usize * 4], rate, -26.0);
            let mut g = Noise::new(11);
            let pink = g.pink(rate as usize * 5);
            let white = uniform_noise(rate as usize * 5, 9);
            let mut cases: Vec<(String, Vec<f32>)> = Vec::new();
            for amp in [0.001f32, 0.01, 0.1] {
                // Uniform noise of peak `amp` (RMS amp/√3): −65, −45 and −25 dBFS.
                cases.push((format!("white peak {amp}"), white.iter().map(|v| amp * v).collect()));
            }
            for rms in [0.0005f32, 0.005, 0.05] {
                cases.push((format!("pink rms {rms}"), pink.iter().map(|v| rms * v).collect()));
            }
            for (name, noise) in cases {
                let mut x = vec![0.0f32; rate as usize];
                x.extend(&talk);
                let x: Vec<f32> = x.iter().zip(&noise).map(|(s, n)| s + n).collect();
                let d = run(&quantise_i16(&x), rate);
                let lead = d[..100].iter().filter(|v| **v).count();
                let idx: Vec<usize> = (0..100).filter(|&k| d[k]).collect();
                assert!(lead <= 2, "{name} at {rate} Hz: {lead} of the first 100 frames marked speech: {idx:?}");
                let share =
                    d[100..100 + talk.len() / hop].iter().filter(|v| **v).count() as f64 / (talk.len() / hop) as f64;
                assert!(share >= 0.5, "{name} at {rate} Hz: only {share:.2} of the speech part marked speech");
            }
        }
    });
}

/// Speech frames after the first second of `x` at 8 kHz.
fn false_frames(x: &[f32]) -> usize {
    run(x, 8000)[100..].iter().filter(|v| **v).count()
}

/// `x` (8 kHz) through our G.729 encoder and decoder, with or without Annex B DTX.
fn g729_round_trip(x: &[f32], annex_b: bool) -> Vec<f32> {
    use rvoip_media_nodes::g729::{G729Decoder, G729Encoder, FRAME_SAMPLES};
    let (mut enc, mut dec) = (G729Encoder::new(annex_b), G729Decoder::new());
    let (mut bits, mut pcm) = ([0u8; 10], [0i16; FRAME_SAMPLES]);
    let mut out = Vec::with_capacity(x.len());
    for f in x.chunks_exact(FRAME_SAMPLES) {
        let frame: Vec<i16> = f.iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
        let kind = enc.encode(frame.as_slice().try_into().unwrap(), &mut bits);
        dec.decode(Some(&bits[..kind.len()]), &mut pcm).unwrap();
        out.extend(pcm.iter().map(|&s| f32::from(s) / 32768.0));
    }
    out
}

/// Background noise on a G.729 leg: white noise at −50 and −60 dBFS, 20 s each, through our
/// G.729 codec. Uncoded, the detector marks at most a frame of it as speech. Coded it marks
/// more, and this test counts them (the issue-13 false alarms of the room's demo):
/// * Annex A alone: 36 and 32 of 1,900 frames (1.9 % and 1.7 %), isolated frames whose
///   LLR (0.03–0.09 nats) and harmonicity (0.2–0.3) are just above the noise's usual;
/// * Annex B (DTX): 298 and 20 (15.7 % and 1.1 %; 176 at −60 dBFS before the floor followed
///   level steps, session 13). The comfort noise is regenerated at the input's energy,
///   but the CELP-coded active frames of white noise come out 4.5 dB quieter, so the level
///   steps down for each short active burst and back up after it. The MCRA minimum follows
///   the dip at once; when the level returns every bin sits more than `DELTA` above that
///   minimum, so the floor is held as if speech were present until the minimum window rolls
///   (about 1.1 s of false alarms after each burst). Since session 13 the floor takes a
///   step at once when every bin rises by the same factor; at −50 dBFS the coded bursts
///   also change the noise's spectral shape, so the step is not taken there. See
///   BENCHMARKS.md (issue 13, sessions 11 and 13).
///
/// The limits are the measured counts with a fifth of headroom: the test fails when a change
/// makes coded noise look more like speech.
#[test]
fn g729_coded_background_noise_false_alarms_are_counted() {
    sweep(5, |_| {
        let mut g = Noise::new(29);
        // Over ten realisations (session 22) the counts vary far more than the headroom
        // allowed for: G.729 16-66 / 11-29 frames, Annex B 24-253 / 17-324 frames at -50 / -60
        // dBFS; the limits are the largest of them with a fifth of headroom.
        for (dbfs, max_a, max_b) in [(-50.0f64, 80usize, 358usize), (-60.0, 38, 390)] {
            let gain = 10f64.powf(dbfs / 20.0) as f32;
            let x: Vec<f32> = g.white(8000 * 20).iter().map(|v| v * gain).collect();
            let plain = false_frames(&quantise_i16(&x));
            let coded_a = false_frames(&g729_round_trip(&x, false));
            let coded_b = false_frames(&g729_round_trip(&x, true));
            println!("white {dbfs} dBFS: uncoded {plain}, G.729 {coded_a}, G.729 Annex B {coded_b} of 1900 frames");
            assert!(plain <= 1, "uncoded white noise at {dbfs} dBFS: {plain} frames marked speech");
            assert!(coded_a <= max_a, "G.729 white noise at {dbfs} dBFS: {coded_a} frames marked speech");
            assert!(coded_b <= max_b, "G.729 Annex B white noise at {dbfs} dBFS: {coded_b} frames marked speech");
        }
    });
}

/// Pink noise whose level alternates between `low_db` and `low_db + step_db` (dB re unit
/// RMS) every `block_s` seconds with 10 ms ramps (`smooth`: a raised-cosine swing over the
/// whole block instead, like a slowly modulated noise).
fn stepping_pink(
    g: &mut Noise,
    n: usize,
    rate: usize,
    block_s: f32,
    low_db: f32,
    step_db: f32,
    smooth: bool,
) -> Vec<f32> {
    let block = (block_s * rate as f32) as usize;
    let ramp = rate / 100;
    g.pink(n)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (b, t) = (i / block, i % block);
            let frac = if smooth {
                0.5 - 0.5 * (std::f32::consts::PI * t as f32 / block as f32).cos()
            } else {
                (t as f32 / ramp as f32).min(1.0)
            };
            // Rising in odd blocks, falling in even ones (after the first).
            let up = if b % 2 == 1 {
                frac
            } else if b == 0 {
                0.0
            } else {
                1.0 - frac
            };
            v * 10f32.powf((low_db + step_db * up) / 20.0)
        })
        .collect()
}

/// A noise whose level steps up keeps its spectral shape: the floor follows it within a few
/// frames instead of holding the old level until the minimum window rolls over (0.75–1.5 s of
/// false alarms after each step before session 13). Pink noise stepping by 10 dB every 2.5 s
/// and swinging 20 dB over 2 s, alone and under voiced syllables at 10 dB SNR against the
/// louder level. Before: false alarms in 29.7 % (steps) and 53.1 % (swing) of the noise
/// frames after the first second; with syllables recall 1.000 / 1.000, false alarms 0.327 /
/// 0.463. After: 3.1 % and 17.6 %; recall 1.000 / 1.000, false alarms 0.057 / 0.120 (a slow
/// swing is followed only once it has opened a 1.3 dB gap, which the LLR can still see).
#[test]
fn a_noise_that_changes_level_is_followed() {
    sweep(5, |_| {
        let mut g = Noise::new(41);
        for (name, smooth, step, max_fa, max_fa_syll) in
            [("steps", false, 10.0f32, 0.05, 0.09), ("swing", true, 20.0, 0.25, 0.18)]
        {
            let n = 16000 * 20;
            let noise = stepping_pink(&mut g, n, 16000, if smooth { 2.0 } else { 2.5 }, -55.0, step, smooth);
            let d = run(&noise, 16000);
            let fa = d[100..].iter().filter(|v| **v).count() as f64 / (d.len() - 100) as f64;
            let (x, mask) = voiced(16000, 20.0, 250, 350);
            let gain = 10f32.powf((-26.0 + 55.0 - step - 10.0) / 20.0);
            let noisy: Vec<f32> = x.iter().zip(&noise).map(|(s, v)| s + gain * v).collect();
            let (r, fa_syll) = recall_and_false_alarms(&run(&noisy, 16000), &mask);
            println!("{name}: noise alone {fa:.3} false alarms; syllables recall {r:.3}, false alarms {fa_syll:.3}");
            assert!(fa <= max_fa, "{name}: noise alone, false alarm rate {fa:.3}");
            assert!(r >= 0.95 && fa_syll <= max_fa_syll, "{name}: recall {r:.3}, false alarms {fa_syll:.3}");
        }
    });
}

/// Share of the frames from `from` on where `mask` is `want` that are marked speech.
fn speech_share(d: &[bool], mask: &[bool], from: usize, want: bool) -> f64 {
    let (mut n, mut s) = (0, 0);
    for k in from..d.len().min(mask.len()) {
        if mask[k] == want {
            n += 1;
            s += usize::from(d[k]);
        }
    }
    s as f64 / n.max(1) as f64
}

/// In running speech the pauses between words are bridged: once the last seconds are mostly
/// speech the hangover is at least twice the configured one, whatever the SNR. At 40 dB
/// the SNR-scaled hangover alone is short, so without the rule the 150 ms pauses between
/// 400 ms syllables are mostly not (share 0.667 from the ninth second on, and 0.975 of the
/// syllable frames); with it they are (1.000 and 1.000). Isolated syllables (250 ms every second) keep the SNR-scaled hangover: their pauses
/// stay non-speech.
#[test]
fn pauses_in_running_speech_are_bridged() {
    sweep(5, |_| {
        let mut g = Noise::new(13);
        let (x, mask) = voiced(16000, 14.0, 400, 150);
        let d = run(&add_noise(&x, &g.white(x.len()), 40.0), 16000);
        let (on, pauses) = (speech_share(&d, &mask, 900, true), speech_share(&d, &mask, 900, false));
        println!("running speech: syllables {on:.3}, pauses {pauses:.3}");
        assert!(on > 0.98 && pauses > 0.9, "running speech: syllables {on:.3}, pauses {pauses:.3} speech");
        let (x, mask) = voiced(16000, 14.0, 250, 750);
        let d = run(&add_noise(&x, &g.white(x.len()), 40.0), 16000);
        let (on, pauses) = (speech_share(&d, &mask, 900, true), speech_share(&d, &mask, 900, false));
        println!("isolated syllables: syllables {on:.3}, pauses {pauses:.3}");
        assert!(on > 0.98 && pauses < 0.03, "isolated syllables: syllables {on:.3}, pauses {pauses:.3} speech");
    });
}

/// Unvoiced sounds inside a word (a fricative between two voiced stretches) are speech, and
/// the same sound alone is no more speech than it was. The click / hiss cap (centroid above
/// 1.8 kHz, harmonicity below 0.35) no longer applies within a burst that holds a clearly
/// voiced frame (harmonicity 0.5 or more). Share of the fricative's frames marked speech over
/// the five realisations, main before session 41 → now: inside a word 0.167–0.856 → 1.000
/// (the cap cut words into pieces); alone 0.167 / 0.233 / 0.311 / 0.378 / 0.633 on both (this
/// hiss's harmonicity hovers about the cap's 0.35, and frames that escape the cap start short
/// bursts as they always did — a burst without a voiced frame stays under the cap; lifting the
/// cap for every burst gave up to 0.678). Since session 42 the cap also ends once a burst has
/// lasted three frames: alone 0.178 / 0.267 / 0.411 / 0.478 / 0.633 (a lift after two frames
/// gave up to 0.644, a lift after a run of capped frames 0.667–1.000).
#[test]
fn a_fricative_inside_a_word_is_speech_and_alone_is_not() {
    sweep(5, |_| {
        let mut g = Noise::new(17);
        // Every second: 150 ms voiced, 100 ms fricative (white noise differenced twice, at the
        // level of the voiced part), 150 ms voiced, 350 ms pause, the fricative alone, 150 ms.
        let (v, _) = voiced(16000, 0.15, 150, 0);
        let hiss = {
            let w = g.white(1600 + 2);
            let h: Vec<f32> = w.windows(3).map(|s| s[2] - 2.0 * s[1] + s[0]).collect();
            set_active(&h, 16000, -26.0)
        };
        let silence = |ms: usize| vec![0.0f32; 16 * ms];
        let mut x = Vec::new();
        let (mut inside, mut alone) = (Vec::new(), Vec::new());
        for second in 0..12 {
            let t = 100 * second;
            for part in [&v, &hiss, &v, &silence(350), &hiss, &silence(150)] {
                x.extend_from_slice(part);
            }
            // Past the noise floor's start-up, the frames of each fricative but its first.
            if second >= 2 {
                inside.extend(t + 16..t + 25);
                alone.extend(t + 76..t + 85);
            }
        }
        let xx = add_noise(&x, &g.pink(x.len()), 30.0);
        let d = run(&xx, 16000);
        let share = |frames: &[usize]| frames.iter().filter(|&&k| d[k]).count() as f64 / frames.len() as f64;
        let (fin, fal) = (share(&inside), share(&alone));
        println!("fricative inside a word {fin:.3}, alone {fal:.3}");
        assert!(fin > 0.9 && fal < 0.65, "fricative inside a word {fin:.3}, alone {fal:.3} speech");
    });
}
