//! Noise suppression: measured noise attenuation and segmental SNR gain at every supported
//! rate, speech preservation, following a noise step, no harm on click noise, level
//! ordering, robustness, recurring clicks removed while isolated ones are left alone.

mod apm_common;

use apm_common::{energy, min_mean, set_active, speech, sweep, Noise};
use rvoip_media_graph::{NodeHarness, Quantum};
use rvoip_media_nodes::apm::{NoiseSuppressor, NsConfig, NsLevel, NsWindow, RnnoiseSuppressor};
use rvoip_media_nodes::resample::resample_whole;

/// Both analysis windows: every measured property below must hold for each.
const WINDOWS: [NsWindow; 2] = [NsWindow::Ms20, NsWindow::Ms30];

fn run_at(rate: u32, level: NsLevel, window: NsWindow, x: &[f32]) -> Vec<f32> {
    let mut ns = NoiseSuppressor::new(NsConfig::new(rate).with_level(level).with_window(window)).unwrap();
    let hop = ns.frame_len();
    assert_eq!(hop, rate as usize / 100);
    assert_eq!(ns.latency(), (window.hops() - 1) * hop);
    // Run the input followed by the latency's worth of silence, and drop that much from the
    // start: the output lines up with the input.
    let mut y = x.to_vec();
    y.resize(x.len() + ns.latency(), 0.0);
    for c in y.chunks_exact_mut(hop) {
        assert!(ns.process_frame(c));
    }
    y.drain(..ns.latency());
    y
}

fn run(level: NsLevel, window: NsWindow, x: &[f32]) -> Vec<f32> {
    run_at(16000, level, window, x)
}

/// Speech at `rate`: the bundled 8 or 16 kHz recording, resampled for 32 and 48 kHz.
fn speech_at(rate: u32) -> Vec<f32> {
    match rate {
        8000 | 16000 => speech(rate),
        r => resample_whole(&speech(16000), 16000, r, 1).unwrap(),
    }
}

/// Mean of 10·log10(out/clean) energy over 20 ms frames where the clean signal is within
/// 20 dB of its loudest frame: how much of the strong speech the suppressor keeps.
fn speech_level_change_db(clean: &[f32], out: &[f32], frame: usize) -> f64 {
    let fr: Vec<(f64, f64)> =
        clean.chunks_exact(frame).zip(out.chunks_exact(frame)).map(|(c, o)| (energy(c), energy(o))).collect();
    let peak = fr.iter().map(|f| f.0).fold(0.0, f64::max);
    let sel: Vec<f64> = fr.iter().filter(|f| f.0 > peak * 1e-2).map(|f| 10.0 * (f.1 / f.0).log10()).collect();
    sel.iter().sum::<f64>() / sel.len() as f64
}

/// Mean segmental SNR (20 ms frames, clamped to [-10, 35] dB) over frames where the clean
/// signal is within 40 dB of its loudest frame.
fn segsnr(clean: &[f32], test: &[f32]) -> f64 {
    segsnr_frames(clean, test, 320)
}

fn segsnr_frames(clean: &[f32], test: &[f32], frame: usize) -> f64 {
    segsnr_range(clean, test, frame, 1e-4)
}

/// Mean segmental SNR over frames whose clean energy exceeds `rel` times the loudest frame's.
fn segsnr_range(clean: &[f32], test: &[f32], frame: usize, rel: f64) -> f64 {
    let fr: Vec<(f64, f64)> = clean
        .chunks_exact(frame)
        .zip(test.chunks_exact(frame))
        .map(|(c, t)| (energy(c), c.iter().zip(t).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>()))
        .collect();
    let peak = fr.iter().map(|f| f.0).fold(0.0, f64::max);
    let act: Vec<f64> = fr
        .iter()
        .filter(|f| f.0 > peak * rel)
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
    let v = sweep(5, |_| {
        let mut pink_att = [0.0f64; 2];
        for (k, w) in WINDOWS.into_iter().enumerate() {
            for pink in [false, true] {
                for snr in [0.0, 10.0] {
                    let (clean, x) = noisy(snr, 5, pink);
                    let y = run(NsLevel::High, w, &x);
                    let att = 10.0 * (energy(&x[8000..32000]) / energy(&y[8000..32000])).log10();
                    let (si, so) = (segsnr(&clean[32000..], &x[32000..]), segsnr(&clean[32000..], &y[32000..]));
                    println!(
                        "{w:?} pink={pink} snr={snr}: noise attenuation {att:.1} dB, segSNR {si:.1} -> {so:.1} dB"
                    );
                    // This window (0.5–2 s) is the start-up, before the minimum search's first
                    // full window. Pink noise at 0 dB: 13.3 dB with the 20 ms window, 11.9 dB with
                    // the 30 ms one on the realisation the test was written on (settled, 4–8 s
                    // into pink noise alone, both 7.1–7.2 dB); over ten realisations (session
                    // 22) 6.2–14.5 and 5.7–14.3 dB, white noise 21.9–22.7 dB.
                    let min_att = if pink {
                        5.0
                    } else if w == NsWindow::Ms20 {
                        12.0
                    } else {
                        11.5
                    };
                    if pink {
                        pink_att[k] = att;
                    }
                    assert!(att > min_att, "{w:?} pink={pink} snr={snr}: {att:.1} dB");
                    assert!(so > si + 2.0, "{w:?} pink={pink} snr={snr}: segSNR {si:.1} -> {so:.1}");
                }
            }
        }
        pink_att
    });
    // Realisations 0-4 average 9.5 / 9.1 dB, 5-9 9.8 / 9.6 dB.
    let ((_, a20), (_, a30)) = (min_mean(v.iter().map(|a| a[0])), min_mean(v.iter().map(|a| a[1])));
    assert!(a20 > 8.5 && a30 > 8.3, "pink noise: mean {a20:.1} / {a30:.1} dB");
}

#[test]
fn stronger_levels_attenuate_more() {
    sweep(5, |_| {
        for w in WINDOWS {
            let (_, x) = noisy(5.0, 9, false);
            let mut last = 0.0;
            for l in [NsLevel::Low, NsLevel::Moderate, NsLevel::High, NsLevel::VeryHigh] {
                let y = run(l, w, &x);
                let att = 10.0 * (energy(&x[8000..32000]) / energy(&y[8000..32000])).log10();
                println!("{w:?} {l:?}: white noise attenuated {att:.1} dB");
                assert!(att > last + 2.0, "{w:?} {l:?}: {att:.1} dB after {last:.1}");
                // White noise is flat: its floor is up to 8 dB below the level's (module docs), and
                // once the flatness has settled (~1 s) it reaches beyond the level's floor.
                assert!(att < -l.floor_db() as f64 + 8.0 + 3.0, "{w:?} {l:?}: {att:.1} dB is beyond its floor");
                last = att;
            }
        }
    });
}

#[test]
fn flat_noise_gets_a_deeper_floor_than_coloured_noise() {
    sweep(5, |_| {
        for win in WINDOWS {
            // 6 s of noise alone; attenuation over the last 2 s, after the flatness has settled.
            let mut g = Noise::new(3);
            let white = g.white(16000 * 6);
            // Coloured: white noise through a one-pole low-pass at ~50 Hz (power falling 6 dB per
            // octave above it): spectral flatness over 0.1–7 kHz about 0.1, below the range where
            // the floor deepens.
            let mut acc = 0.0f32;
            let red: Vec<f32> = g
                .white(16000 * 6)
                .iter()
                .map(|v| {
                    acc = 0.98 * acc + v;
                    acc
                })
                .collect();
            let att = |x: &[f32]| {
                let k = 0.01 / (energy(x) / x.len() as f64).sqrt() as f32;
                let x: Vec<f32> = x.iter().map(|v| v * k).collect();
                let y = run(NsLevel::High, win, &x);
                10.0 * (energy(&x[64000..96000]) / energy(&y[64000..96000])).log10()
            };
            let (w, r) = (att(&white), att(&red));
            println!("{win:?} High: white noise attenuated {w:.1} dB, coloured {r:.1} dB");
            // The gain never goes below the floor, so attenuation beyond it is the flat-noise depth.
            let floor = -NsLevel::High.floor_db() as f64;
            assert!(w > floor + 2.0 && w < floor + 8.0 + 2.0, "{win:?} white {w:.1} dB");
            // Coloured: 9.2–13.2 dB over ten realisations (session 22).
            assert!(r < floor + 1.0 && r > floor - 9.5, "{win:?} coloured {r:.1} dB");
            assert!(w > r + 3.0, "{win:?} white {w:.1} dB, coloured {r:.1} dB");
        }
    });
}

#[test]
fn clean_speech_is_nearly_untouched() {
    sweep(5, |_| {
        for w in WINDOWS {
            let x = set_active(&speech(16000)[..16000 * 10], 16000, -26.0);
            let mut g = Noise::new(1);
            let x: Vec<f32> = x.iter().zip(g.white(x.len())).map(|(s, n)| s + 1e-4 * n).collect();
            let y = run(NsLevel::High, w, &x);
            let s = segsnr(&x[16000..], &y[16000..]);
            assert!(s > 15.0, "{w:?} segSNR of output vs input {s:.1} dB");
        }
    });
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

#[test]
fn every_rate_improves_snr_and_keeps_strong_speech() {
    sweep(5, |_| {
        for w in WINDOWS {
            for rate in [8000u32, 16000, 32000, 48000] {
                let r = rate as usize;
                let mut clean = vec![0.0f32; 2 * r];
                clean.extend(set_active(&speech_at(rate)[r * 5..r * 15], rate, -26.0));
                let n = Noise::new(3).white(clean.len());
                let k = 10f64.powf((-26.0 - 5.0) / 20.0) as f32;
                let x: Vec<f32> = clean.iter().zip(&n).map(|(s, v)| s + k * v).collect();
                let y = run_at(rate, NsLevel::High, w, &x);
                let f = r / 50;
                let att = 10.0 * (energy(&x[r / 2..2 * r]) / energy(&y[r / 2..2 * r])).log10();
                let (si, so) =
                    (segsnr_frames(&clean[2 * r..], &x[2 * r..], f), segsnr_frames(&clean[2 * r..], &y[2 * r..], f));
                // Speech alone (with a -80 dBFS floor) must come through at nearly its level.
                let quiet: Vec<f32> = clean.iter().zip(&n).map(|(s, v)| s + 1e-4 * v).collect();
                let q = run_at(rate, NsLevel::High, w, &quiet);
                let keep = speech_level_change_db(&clean[2 * r..], &q[2 * r..], f);
                println!("{w:?} {rate} Hz: noise attenuation {att:.1} dB, segSNR {si:.1} -> {so:.1} dB, strong speech {keep:+.2} dB");
                assert!(att > 14.0, "{w:?} {rate} Hz: noise attenuation {att:.1} dB");
                assert!(so > si + 4.0, "{w:?} {rate} Hz: segSNR {si:.1} -> {so:.1} dB");
                assert!(keep > -1.0, "{w:?} {rate} Hz: strong speech changed by {keep:.2} dB");
            }
        }
    });
}

#[test]
fn speech_in_moderate_noise_keeps_its_level() {
    sweep(5, |_| {
        for w in WINDOWS {
            // 20 dB SNR pink noise: the strong speech frames must lose less than 1 dB.
            let (clean, x) = noisy(20.0, 11, true);
            let y = run(NsLevel::High, w, &x);
            let keep = speech_level_change_db(&clean[32000..], &y[32000..], 320);
            println!("{w:?} strong speech at 20 dB SNR: {keep:+.2} dB");
            assert!(keep > -1.0 && keep < 0.5, "{w:?} {keep:.2} dB");
        }
    });
}

#[test]
fn a_noise_step_is_followed_within_two_seconds() {
    sweep(5, |_| {
        for w in WINDOWS {
            // White noise at -55 dBFS for 3 s, then 20 dB louder for 5 s, no speech.
            let mut g = Noise::new(21);
            let mut x: Vec<f32> = g.white(16000 * 8);
            for (i, v) in x.iter_mut().enumerate() {
                *v *= if i < 48000 { 10f32.powf(-55.0 / 20.0) } else { 10f32.powf(-35.0 / 20.0) };
            }
            let y = run(NsLevel::High, w, &x);
            let before = 10.0 * (energy(&x[16000..48000]) / energy(&y[16000..48000])).log10();
            let after = 10.0 * (energy(&x[80000..]) / energy(&y[80000..])).log10();
            let last = 10.0 * (energy(&x[112000..]) / energy(&y[112000..])).log10();
            println!(
                "{w:?} attenuation before the step {before:.1} dB, 2-5 s after it {after:.1} dB, 4-5 s after {last:.1} dB"
            );
            assert!(before > 15.0, "{w:?} {before:.1} dB");
            assert!(after > 10.0, "{w:?} {after:.1} dB");
            assert!(last > 14.0, "{w:?} {last:.1} dB");
        }
    });
}

#[test]
fn a_noise_step_up_is_attenuated_within_300_ms() {
    let v = sweep(5, |_| {
        // White and pink noise at -50 dBFS for 3 s, then 10 dB louder, no speech: the level-step
        // follower lifts the estimate within a few frames, where the minimum search alone holds
        // the old level for 0.75-1.5 s (0-3 dB removed).
        let mut steps = Vec::new();
        for w in WINDOWS {
            for pink in [false, true] {
                let mut g = Noise::new(33);
                let mut x: Vec<f32> = if pink { g.pink(16000 * 5) } else { g.white(16000 * 5) };
                let lv = |db: f32| 10f32.powf(db / 20.0) / (energy(&x[..16000]) / 16000.0).sqrt() as f32;
                let (lo, hi) = (lv(-50.0), lv(-40.0));
                for (i, v) in x.iter_mut().enumerate() {
                    *v *= if i < 48000 { lo } else { hi };
                }
                let y = run(NsLevel::High, w, &x);
                let att = |a: usize, b: usize| 10.0 * (energy(&x[a..b]) / energy(&y[a..b])).log10();
                let (before, early, late) = (att(32000, 48000), att(48000 + 4800, 48000 + 9600), att(64000, 80000));
                println!(
                    "{w:?} pink={pink}: before {before:.1} dB, 0.3-0.6 s after the step {early:.1} dB, 1-2 s {late:.1} dB"
                );
                // Pink noise gets the level's floor (white a deeper one): compare with the
                // attenuation of the same noise before the step.
                // Over ten realisations (session 22): before 6.6–23.0 dB, early 5.3–22.7 dB
                // (0.3-0.6 s, where the minimum search alone removes 0-3 dB), early - before
                // -4.2 to +12.5 dB (mean 0.8 dB over realisations 0-4, -0.9 dB over 5-9),
                // late - before at least -1.2 dB.
                assert!(before > 5.5, "{w:?} pink={pink}: {before:.1} dB");
                assert!(early > 4.5 && early > before - 5.0, "{w:?} pink={pink}: {early:.1} dB (before {before:.1})");
                steps.push(early - before);
                assert!(late > before - 1.5, "{w:?} pink={pink}: {late:.1} dB (before {before:.1})");
            }
        }
        steps
    });
    let (_, mean) = min_mean(v.into_iter().flatten());
    assert!(mean > -2.0, "0.3-0.6 s after the step: mean {mean:.1} dB against before");
}

/// Keyboard-like clicks: bursts of white noise decaying with a 2 ms time constant, 10 ms long,
/// amplitudes 0.3–1, one every `min_gap` plus up to `spread` samples (16 kHz).
fn click_train(len: usize, min_gap: usize, spread: f32, g: &mut Noise) -> Vec<f32> {
    let mut clicks = vec![0.0f32; len];
    let mut t = 1000usize;
    while t + 200 < len {
        let amp = 0.3 + 0.7 * g.uni().abs();
        g.add_burst(&mut clicks[t..t + 160], amp, 32.0);
        t += min_gap + (g.uni().abs() * spread) as usize;
    }
    clicks
}

/// Speech (after 2 s of silence) plus recurring clicks whose RMS is `snr_db` below the speech's
/// active level, over a faint white bed. Returns (clean, clicks alone, mix).
fn speech_with_clicks(snr_db: f64, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (clean, _) = noisy(10.0, 1, false);
    let mut g = Noise::new(seed);
    let bed = g.white(clean.len());
    let clicks = click_train(clean.len(), 1000, 3600.0, &mut g);
    let kc = 10f64.powf((-26.0 - snr_db) / 20.0) as f32 / (energy(&clicks) / clicks.len() as f64).sqrt() as f32;
    let clicks: Vec<f32> = clicks.iter().zip(&bed).map(|(c, b)| kc * c + 3e-4 * b).collect();
    let x = clean.iter().zip(&clicks).map(|(s, c)| s + c).collect();
    (clean, clicks, x)
}

#[test]
fn click_noise_keeps_speech_and_is_not_amplified() {
    sweep(5, |_| {
        for w in WINDOWS {
            // Clicks ~7 per second at 10 dB below the speech: the noise-only lead-in must come out
            // quieter than it went in, and the strong speech frames must keep their level.
            let (clean, _, x) = speech_with_clicks(10.0, 31);
            let y = run(NsLevel::High, w, &x);
            let lead = 10.0 * (energy(&y[8000..32000]) / energy(&x[8000..32000])).log10();
            let keep = speech_level_change_db(&clean[32000..], &y[32000..], 320);
            println!("{w:?} clicks: noise-only lead-in {lead:+.1} dB, strong speech {keep:+.2} dB");
            assert!(lead < 0.0, "{w:?} lead-in {lead:.2} dB");
            // The limiter caps every window that holds a click, and a 30 ms window holds each
            // click in three frames instead of two: the speech around the clicks loses more
            // (measured −0.9 dB with the 20 ms window, −1.4 dB with the 30 ms one).
            // Ms20 -0.73 to -1.00 dB over ten realisations (session 22).
            let min_keep = if w == NsWindow::Ms20 { -1.2 } else { -1.6 };
            assert!(keep > min_keep, "{w:?} {keep:.2} dB");
        }
    });
}

#[test]
fn recurring_clicks_are_removed_in_pauses_and_under_speech() {
    sweep(5, |_| {
        for w in WINDOWS {
            // Clicks 20 dB below the speech (the case where they were passed as speech): after the
            // first half second they must be attenuated by more than 15 dB in the lead-in, where they
            // stand out of the speech, the error (output minus clean) must drop by more than 6 dB, and the strong
            // speech frames must keep their level.
            let (clean, clicks, x) = speech_with_clicks(20.0, 7);
            let y = run(NsLevel::High, w, &x);
            let lead = 10.0 * (energy(&x[16000..32000]) / energy(&y[16000..32000])).log10();
            // Under speech: 5 ms frames where the clicks are at least 6 dB above the speech.
            let (mut e_in, mut e_out) = (0.0f64, 0.0f64);
            for i in (32000..x.len()).step_by(80) {
                let r = i..i + 80;
                if energy(&clicks[r.clone()]) > 4.0 * energy(&clean[r.clone()]) {
                    let err = |o: &[f32]| -> f64 {
                        o[r.clone()].iter().zip(&clean[r.clone()]).map(|(a, b)| f64::from(a - b).powi(2)).sum()
                    };
                    e_in += err(&x);
                    e_out += err(&y);
                }
            }
            let under = 10.0 * (e_in / e_out).log10();
            let keep = speech_level_change_db(&clean[32000..], &y[32000..], 320);
            let level = 10.0 * (energy(&clicks) / energy(&clean[32000..])).log10();
            println!("{w:?} clicks {level:.1} dB re speech: lead-in -{lead:.1} dB, under speech -{under:.1} dB, speech {keep:+.2} dB"
            );
            assert!(lead > 15.0, "{w:?} lead-in attenuation {lead:.1} dB");
            assert!(under > 6.0, "{w:?} noise under speech reduced by {under:.1} dB");
            assert!(keep > -1.0, "{w:?} strong speech {keep:.2} dB");
        }
    });
}

#[test]
fn recurring_clicks_are_removed_at_every_rate() {
    sweep(5, |_| {
        for w in WINDOWS {
            // The same mix resampled: the 1 ms detector blocks scale with the rate.
            let (_, _, x16) = speech_with_clicks(20.0, 7);
            for rate in [8000u32, 32000, 48000] {
                let x = resample_whole(&x16, 16000, rate, 1).unwrap();
                let y = run_at(rate, NsLevel::High, w, &x);
                let r = rate as usize;
                let lead = 10.0 * (energy(&x[r..2 * r]) / energy(&y[r..2 * r])).log10();
                println!("{w:?} {rate} Hz: clicks in the lead-in attenuated by {lead:.1} dB");
                assert!(lead > 15.0, "{w:?} {rate} Hz: {lead:.1} dB");
            }
        }
    });
}

#[test]
fn rare_isolated_clicks_are_left_alone() {
    sweep(5, |_| {
        for w in WINDOWS {
            // One click every 3 s is not impulsive noise worth gating (speech has isolated impulses of
            // its own): the limiter stays off, so the clicks keep most of their energy, as before.
            let mut g = Noise::new(17);
            let clicks = click_train(16000 * 12, 48000, 0.0, &mut g);
            let bed = g.white(clicks.len());
            let x: Vec<f32> = clicks.iter().zip(&bed).map(|(c, b)| 0.05 * c + 3e-4 * b).collect();
            let y = run(NsLevel::High, w, &x);
            let kept = 10.0 * (energy(&y[16000..]) / energy(&x[16000..])).log10();
            println!("{w:?} rare clicks keep {kept:+.1} dB");
            // The slower a-priori SNR above 2 kHz (0.99, session 10; was 0.97) takes about 0.6 dB
            // more off a lone click's onset (−2.7 → −3.3 dB); the limiter would take 15 dB or more.
            // -2.4 to -3.7 dB over ten realisations (session 22).
            assert!(kept > -4.0, "{w:?} {kept:.1} dB");
        }
    });
}

#[test]
fn nan_bursts_do_not_leak_and_the_suppressor_recovers() {
    sweep(5, |_| {
        let (_, x) = noisy(5.0, 41, false);
        let mut ns = NoiseSuppressor::new(NsConfig::new(16000)).unwrap();
        let mut out = Vec::with_capacity(x.len());
        for (i, c) in x.chunks_exact(160).enumerate() {
            let mut f = c.to_vec();
            if (200..205).contains(&i) {
                f[7] = f32::NAN;
                f[9] = f32::INFINITY;
                assert!(!ns.process_frame(&mut f));
            } else {
                assert!(ns.process_frame(&mut f));
            }
            assert!(f.iter().all(|v| v.is_finite()));
            out.extend_from_slice(&f);
        }
        // The noise-only lead-in after the burst is still attenuated.
        let att = 10.0 * (energy(&x[24000..32000]) / energy(&out[24160..32160])).log10();
        assert!(att > 12.0, "{att:.1} dB after a NaN burst");
    });
}

/// Runs the neural suppressor at `rate` and removes its reported latency.
fn run_rnnoise(rate: u32, x: &[f32]) -> Vec<f32> {
    run_rnnoise_limited(RnnoiseSuppressor::new(rate).unwrap(), x)
}

fn run_rnnoise_limited(mut ns: RnnoiseSuppressor, x: &[f32]) -> Vec<f32> {
    let hop = ns.frame_len();
    let mut y = x.to_vec();
    for c in y.chunks_exact_mut(hop) {
        assert!(ns.process_frame(c));
    }
    let lat = ns.latency();
    y.drain(..lat.min(y.len()));
    y.resize(x.len(), 0.0);
    y
}

/// Lag (samples, within ±`max`) at which `y` best matches `x`.
fn best_lag(x: &[f32], y: &[f32], max: usize) -> isize {
    let n = x.len().min(y.len());
    let mut best = (0isize, f64::MIN);
    for lag in -(max as isize)..=max as isize {
        let c: f64 = (max..n - max).map(|i| f64::from(x[i]) * f64::from(y[(i as isize + lag) as usize])).sum();
        if c > best.1 {
            best = (lag, c);
        }
    }
    best.0
}

#[test]
fn rnnoise_removes_noise_at_every_rate_with_its_reported_latency() {
    sweep(5, |_| {
        // The neural option at 8, 16 and 48 kHz (resampled to RNNoise's 48 kHz and back except
        // at 48 kHz): noise attenuated in the 2 s without speech, segmental SNR up, and the
        // output lined up with the input once the reported latency is removed.
        for rate in [8000u32, 16000, 48000] {
            let (clean, x) = noisy(5.0, 7, true);
            let (clean, x) = if rate == 16000 {
                (clean, x)
            } else {
                (resample_whole(&clean, 16000, rate, 1).unwrap(), resample_whole(&x, 16000, rate, 1).unwrap())
            };
            let y = run_rnnoise(rate, &x);
            let r = rate as usize;
            let att = 10.0 * (energy(&x[r / 2..2 * r]) / energy(&y[r / 2..2 * r]).max(1e-20)).log10();
            let frame = r / 50;
            let (si, so) = (
                segsnr_frames(&clean[2 * r..], &x[2 * r..], frame),
                segsnr_frames(&clean[2 * r..], &y[2 * r..], frame),
            );
            let lag = best_lag(&clean[2 * r..6 * r], &y[2 * r..6 * r], r / 200);
            println!(
                "rnnoise {rate} Hz: noise attenuation {att:.1} dB, segSNR {si:.1} -> {so:.1} dB, residual lag {lag}"
            );
            assert!(att > 15.0, "{rate} Hz: {att:.1} dB");
            assert!(so > si + 3.0, "{rate} Hz: segSNR {si:.1} -> {so:.1}");
            assert!(lag.abs() <= (r / 4000) as isize, "{rate} Hz: output {lag} samples off after the reported latency");
        }
    });
}

#[test]
fn rnnoise_attenuation_limit_sets_the_noise_depth() {
    sweep(5, |_| {
        // RNNoise alone (no classic stage after it): the default limit (20 dB) bounds how far the
        // noise goes down; with 100 dB RNNoise's own depth shows (measured 41.7 dB in pink noise
        // at 16 kHz). The default classic stage takes the limited output further (27.0 dB).
        let (_, x) = noisy(5.0, 7, true);
        let att = |y: &[f32]| 10.0 * (energy(&x[8000..32000]) / energy(&y[8000..32000]).max(1e-20)).log10();
        let alone = || RnnoiseSuppressor::new(16000).unwrap().with_post_suppressor(None).unwrap();
        let limited = att(&run_rnnoise_limited(alone(), &x));
        let open = att(&run_rnnoise_limited(alone().with_attenuation_limit_db(100.0).unwrap(), &x));
        let both = att(&run_rnnoise(16000, &x));
        println!("noise attenuation: RNNoise {limited:.1} dB with the default limit, {open:.1} dB without; {both:.1} dB with the classic stage");
        assert!((17.0..=21.0).contains(&limited), "{limited:.1} dB");
        assert!(open > 30.0, "{open:.1} dB");
        assert!(both > limited + 4.0, "{both:.1} dB with the classic stage");
        assert!(RnnoiseSuppressor::new(16000).unwrap().with_attenuation_limit_db(-1.0).is_err());
    });
}
